"""anonymous."""
