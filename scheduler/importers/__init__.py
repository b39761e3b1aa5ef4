"""`campaign import`: spreadsheets of posts (CSV, .xlsx) → post files in posts/.

sheet (the file → rows of cells) → cells (a date, a time, a list as people write them) →
rows (one row → one post's front matter and text, or what to fix) → writer (stable file names,
never over an existing file). A row with the id of a post is compared with the row that post exports
as now (exported) and changes only what differs in its file (update).
"""
