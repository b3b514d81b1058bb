"""gridworks."""
