"""Sign-off's pieces that no process shows on its own: the log filter that keeps a link's token out of
every line (whatever logs the path: Flask's "Exception on ...", waitress's "Exception while serving ..."),
and the fingerprint's independence of order."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from scheduler.signoff.fingerprint import fingerprint
from scheduler.signoff.tokens import new_token, token_hash
from scheduler.web.signoff import guard_logs


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


def test_no_log_line_carries_a_sign_off_token(captured: io.StringIO) -> None:
    token = new_token()
    guard_logs()
    logging.getLogger("waitress").error("Exception while serving %s", f"/signoff/{token}")
    logging.getLogger("scheduler.web.app").error(f"Exception on /signoff/{token} [POST]")
    try:
        raise RuntimeError(f"while reading /signoff/{token}?x=1")
    except RuntimeError:
        logging.getLogger("flask.app").exception("failed")
    text = captured.getvalue()
    assert "Exception while serving /signoff/" in text and "Exception on /signoff/" in text
    assert "Traceback" in text and token not in text


def test_the_fingerprint_is_of_the_sends_not_their_order_and_the_token_is_kept_as_a_hash() -> None:
    sends = [("mastodon", "a" * 64), ("bluesky", "b" * 64)]
    assert fingerprint(sends) == fingerprint(reversed(sends))
    assert fingerprint(sends) != fingerprint([("mastodon", "a" * 64), ("bluesky", "c" * 64)])
    token = new_token()
    assert len(token) >= 43 and token not in token_hash(token)


def test_a_sign_off_holds_recorded_english_begins_with_the_code_the_ledger_finds_it_by_in_any_language() -> None:
    from datetime import UTC, datetime

    from scheduler.publish.holds import is_signoff_hold
    from scheduler.signoff.state import WAITING, Person, State

    held = State(("verteller",), (Person("verteller", WAITING, datetime(2027, 11, 1, 9, 0, tzinfo=UTC)),)).held()
    assert held is not None
    assert is_signoff_hold(str(held))  # what the ledger records, and what an approval looks for
    assert str(held) == "held for sign-off: waiting for sign-off by verteller since 2027-11-01 09:00 UTC"
    assert not is_signoff_hold(held.said_in("nl"))  # a translation is for people only: never recorded
    # the time as the campaign's language writes it (Babel's words, not asserted)
    assert held.said_in("nl").startswith("tegengehouden tot er akkoord is: wacht op akkoord van verteller sinds ")


def test_a_posts_state_is_its_worst_persons() -> None:
    from scheduler.signoff.state import APPROVED, CHANGED, DECLINED, WAITING, Person, State, unknown

    people = [Person("a", APPROVED), Person("b", WAITING), Person("c", CHANGED), Person("d", DECLINED, note="nee")]
    assert State(("a", "b", "c", "d"), tuple(people)).state == DECLINED
    assert State(("a", "b", "c"), tuple(people[:3])).state == CHANGED
    assert State(("a", "b"), tuple(people[:2])).state == WAITING
    assert State(("a",), tuple(people[:1])).state == APPROVED
    assert unknown(["a"]).state == "unknown" and unknown(["a"]).record() == {"needs": ["a"], "state": "unknown"}
