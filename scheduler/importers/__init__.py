"""`campaign import`: spreadsheets of posts (CSV, .xlsx) → post files in posts/.

sheet (the file → rows of cells) → cells (a date, a time, a list as people write them) →
rows (one row → one post's front matter and text, or what to fix) → writer (stable file names,
never over an existing file).
"""
