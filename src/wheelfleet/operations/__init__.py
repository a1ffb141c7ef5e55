"""pyinfra operations of wheelfleet (generators yielding only what is still needed)."""
