"""The `campaign` command."""
