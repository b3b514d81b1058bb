"""partners."""
