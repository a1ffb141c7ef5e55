"""pyinfra connectors shipped with wheelfleet (registered as entry points, see pyproject)."""
