"""The error tree. Each error is named for what the caller should do next.

    CampaignError                 base of everything this package raises on purpose
    ├── ConfigError               a setting or configuration file is wrong: fix it, then run again
    ├── SecretMissing             a ${NAME} reference has no value in the environment or secret files
    ├── LedgerError               the database is unusable (too old, not migrated, unreachable)
    │   └── LedgerUnavailable     it cannot be reached right now (down, locked, disk full): try again
    └── ChannelError              raised by channel adapters (scheduler.channels.base)
        ├── RetryLater            nothing was published; try again after `after` seconds
        ├── Rejected              the network refused the post; sending it again will not help
        │   └── NotPermitted      the account's plan does not include this read: asking again will not help
        └── InDoubt               the post may or may not be out; never resend it blindly

Problems found in campaign files are not exceptions: they are `Problem` values
(scheduler.content.problems) so that one broken file never hides the others.
"""

from __future__ import annotations

from scheduler.words import Said


class CampaignError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(CampaignError):
    """A setting or configuration is wrong: fix it and run again.

    `key` names the setting the message is about, where there is one, so that it is reported on its line;
    `said` keeps a message given as `Said` for the pages that show it in the campaign's language.
    """

    def __init__(self, message: str | Said, *, key: str | None = None) -> None:
        super().__init__(str(message))
        self.key = key
        self.said = message if isinstance(message, Said) else None


class SecretMissing(ConfigError):
    """A `${NAME}` secret reference could not be resolved."""


class LedgerError(CampaignError):
    """The ledger database cannot be used as it is."""


class LedgerUnavailable(LedgerError):
    """The database cannot be reached right now (stopped, failing over, locked, disk full): try again."""


class ChannelError(CampaignError):
    """A channel adapter failed; the subclass says what to do next."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RetryLater(ChannelError):
    """Nothing was published. Try again after `after` seconds (None: use the backoff).

    `for_a_person`: what stops it is the team's to fix (media not deployed where the network fetches
    them), not the network's weather: the team is alerted at the first attempt, not only when it is
    too late."""

    for_a_person = False

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Rejected(ChannelError):
    """The network refused the post (its own message in `reason`); do not retry as is."""


class TokenRejected(Rejected):
    """The network refused the channel's credentials (expired, revoked): every send on the channel fails
    the same way until a person renews them, so the daemon alerts once per channel, not once per post."""


class NotPermitted(Rejected):
    """The account's plan or access level does not include this (a read such as X's search): the
    collector stops asking and says so once, rather than backing off and asking again forever."""


class InDoubt(ChannelError):
    """The request may have reached the network; settle by lookup or by a person."""
