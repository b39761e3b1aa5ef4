"""Which sends go to the upload lane (scheduler/publish/lane.py), and what its close does with the sends
still waiting in it. Ordered by events (a gate the test opens), never by durations."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.posts import MediaItem, RenderedPost
from scheduler.publish.lane import HEAVY, Lane, is_heavy
from scheduler.publish.policy import Outcome
from scheduler.publish.states import State
from scheduler.publish.store.sends import Claim


def post(*media: MediaItem) -> RenderedPost:
    return RenderedPost("tip", "mastodon", "Praat erover.", media=media)


def sized(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        out.truncate(size)  # sparse: no disk written
    return path


def test_a_video_or_heavy_media_go_to_the_lane_small_images_and_text_do_not(tmp_path: Path) -> None:
    assert is_heavy(post(MediaItem(sized(tmp_path / "tip.mp4", 1000), "Kim legt uit.", "video")))
    assert is_heavy(post(MediaItem(sized(tmp_path / "big.png", HEAVY), "Een poster.")))
    assert is_heavy(post(*(MediaItem(sized(tmp_path / f"{n}.png", HEAVY // 2), "Een poster.") for n in range(2))))
    assert not is_heavy(post(MediaItem(sized(tmp_path / "small.png", HEAVY - 1), "Een poster.")))
    assert not is_heavy(post(MediaItem(tmp_path / "gone.png", "Weg.")))
    assert not is_heavy(post())


def claim(number: int) -> Claim:
    when = datetime(2027, 3, 15, 9, 0, tzinfo=UTC)
    return Claim(
        id=number,
        attempt_id=number,
        post=f"v{number}",
        channel="mastodon",
        key=f"key-{number}",
        version="1",
        payload="{}",
        due=when,
        max_late=timedelta(hours=1),
        attempts=1,
        text_hash="",
        allow_repeat=False,
        claimed_at=when,
        claimed_by="test",
    )


def test_closing_the_lane_puts_back_the_sends_waiting_in_it_and_lets_the_one_uploading_end() -> None:
    started, gate = threading.Event(), threading.Event()
    sent: list[str] = []
    put_back: list[str] = []

    def send(c: Claim) -> Outcome:
        started.set()
        assert gate.wait(60)
        sent.append(c.post)
        return Outcome(c.post, c.channel, State.PUBLISHED, "", c.claimed_at, c.due)

    def release(c: Claim) -> Outcome:
        put_back.append(c.post)
        return Outcome(c.post, c.channel, State.PENDING, "", c.claimed_at, c.due)

    lane = Lane(1, send, release)
    lane.submit(claim(1))
    assert started.wait(60)
    lane.submit(claim(2))  # waits behind v1: one upload at a time
    assert lane.busy == 2
    lane.close()
    assert put_back == ["v2"] and sent == []
    lane.submit(claim(3))  # claimed by a drain that had not seen the stop yet
    assert put_back == ["v2", "v3"]
    gate.set()
    assert lane.wait(60)
    assert sent == ["v1"]
    assert sorted(o.post for o in lane.harvest()) == ["v1", "v2", "v3"]
