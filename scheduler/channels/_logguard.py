"""Keep secrets out of urllib3's own log records.

urllib3 logs every request line at DEBUG, path and query included; for a webhook whose URL is
the secret (Slack, Discord) that line is the secret. A filter on a logger only sees records made
on that very logger, so it goes on each urllib3 logger that writes URLs.
"""

from __future__ import annotations

import logging

from scheduler.secrets import RedactingFilter

_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


def guard_urllib3_logs() -> None:
    """Add the redacting filter to urllib3's loggers (once)."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
            logger.addFilter(RedactingFilter())
