"""pyinfra facts of wheelfleet: what is really on a host, never what we hope is there."""
