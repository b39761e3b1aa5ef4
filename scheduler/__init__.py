"""campaign-scheduler: social-media campaigns from Markdown files in git.

Data flows one way: files → plan → ledger → channel.
"""

__version__ = "0.1.0"
