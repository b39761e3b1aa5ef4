"""Keep secrets out of urllib3's log records and out of exception chains.

urllib3 logs every request line at DEBUG, path and query included; for a webhook whose URL is
the secret (Slack, Discord) that line is the secret. A filter on a logger only sees records made
on that very logger, so it goes on each urllib3 logger that writes URLs.

`raise ... from None` only hides the original exception from tracebacks: it stays reachable as
`__context__`, and requests' exceptions name the URL. Error reporters walk that chain.
"""

from __future__ import annotations

import logging

from scheduler.errors import ChannelError
from scheduler.secrets import RedactingFilter

_URL_LOGGERS = (
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


def guard_urllib3_logs() -> None:
    """Add the redacting filter to urllib3's loggers (once)."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactingFilter) for existing in logger.filters):
            logger.addFilter(RedactingFilter())


def detached(error: ChannelError) -> ChannelError:
    """`error` without the exceptions it was raised from; raise it outside any except block."""
    error.__cause__ = None
    error.__context__ = None
    return error
