"""The plan for people: text/JSON/Markdown/HTML previews and the schedule diff."""
