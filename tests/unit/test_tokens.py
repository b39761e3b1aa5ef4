"""How a token stands at a moment (scheduler.channels.tokens): the boundaries of the 14-day warning and of
the 14/3/1-day alert marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.channels.tokens import Level, TokenHealth, mark, standing

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def ending_in(left: timedelta) -> TokenHealth:
    return TokenHealth(posts_as="Page 1", renew="make a new token", expires=NOW + left)


@pytest.mark.parametrize(
    ("left", "level", "days"),
    [
        (timedelta(days=14, seconds=1), Level.OK, None),
        (timedelta(days=14), Level.WARNING, 14),
        (timedelta(days=3, hours=5), Level.WARNING, 14),
        (timedelta(days=3), Level.WARNING, 3),
        (timedelta(hours=23), Level.WARNING, 1),
        (timedelta(0), Level.ERROR, None),
        (timedelta(days=-2), Level.ERROR, None),
    ],
)
def test_the_warning_and_the_alert_marks_at_their_edges(left: timedelta, level: Level, days: int | None) -> None:
    health = ending_in(left)
    assert standing(health, NOW)[0] == level
    assert mark(health, NOW) == days


def test_a_warning_or_an_error_says_the_step_to_renew_and_ok_does_not_need_to() -> None:
    assert standing(ending_in(timedelta(days=5)), NOW)[1].endswith("; make a new token")
    assert standing(ending_in(timedelta(days=-1)), NOW) == (
        Level.ERROR,
        "token expired on 2026-12-06 09:00 UTC; make a new token",
    )
    assert standing(ending_in(timedelta(days=40)), NOW) == (
        Level.OK,
        "token expires on 2027-01-16 09:00 UTC, in 40 days",
    )


def test_revoked_is_an_error_and_unknown_is_said_as_unknown_not_as_fine() -> None:
    revoked = TokenHealth(posts_as="Page 1", renew="reconnect", revoked=True, note="LinkedIn says revoked")
    assert standing(revoked, NOW) == (Level.ERROR, "token expired or revoked (LinkedIn says revoked); reconnect")
    assert mark(revoked, NOW) is None
    assert standing(TokenHealth(posts_as="x", renew="y"), NOW) == (Level.OK, "token expiry not known")
    assert standing(TokenHealth(posts_as="x", renew="y", never=True), NOW) == (Level.OK, "token does not expire")
