"""files → plan: reading the campaign's files and planning every send."""
