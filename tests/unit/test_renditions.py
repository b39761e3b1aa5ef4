"""The rendition of an image for a network profile: the same bytes for the same input, a cache several
processes can share, animations kept, no metadata in any case (scheduler.media.renditions)."""

from __future__ import annotations

import io
import json
import multiprocessing
from pathlib import Path

import pytest
from PIL import Image

from scheduler.media.renditions import DoesNotFit, rendition
from scheduler.posts import MediaRules
from tests.fakes.images import photo, traces

BLUESKY = MediaRules(max_items=4, max_bytes=1_000_000, max_side=2000, transparency=False)
STRIP_ONLY = MediaRules()


def test_the_same_image_and_profile_give_the_same_bytes(tmp_path: Path) -> None:
    source = photo(tmp_path / "foto.jpg", (2400, 1600), noise=True)
    first = rendition(source, BLUESKY, cache=tmp_path / "one")
    second = rendition(source, BLUESKY, cache=tmp_path / "two")
    assert first.read_bytes() == second.read_bytes()
    assert first.path.name == second.path.name  # named by content, source and profile


def test_stripping_alone_changes_neither_pixels_count_nor_kind(tmp_path: Path) -> None:
    source = photo(tmp_path / "foto.png", (5000, 300))
    made = rendition(source, STRIP_ONLY, cache=tmp_path / "cache")
    assert (made.width, made.height, made.mime) == (5000, 300, "image/png")
    assert traces(made.read_bytes()) == []


def test_an_animation_stays_an_animation_without_its_comment(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (120, 80), colour) for colour in ("red", "green", "blue")]
    source = tmp_path / "knipper.gif"
    frames[0].save(
        source, save_all=True, append_images=frames[1:], duration=200, loop=0, comment=b"thuis, Dorpsstraat 1"
    )
    made = rendition(source, MediaRules(max_bytes=1_000_000), cache=tmp_path / "cache")
    with Image.open(io.BytesIO(made.read_bytes())) as image:
        assert (image.format, getattr(image, "n_frames", 1)) == ("GIF", 3)
        assert "comment" not in image.info
    assert b"Dorpsstraat" not in made.read_bytes()


def test_no_pixel_limit_scales_an_image_that_is_too_long_for_telegram(tmp_path: Path) -> None:
    source = photo(tmp_path / "streep.jpg", (2100, 100))
    with pytest.raises(DoesNotFit) as caught:
        rendition(source, MediaRules(max_side_sum=10_000, max_ratio=20), cache=tmp_path / "cache")
    assert "20 to 1" in caught.value.reason


def _make(arguments: tuple[str, str]) -> bytes:
    source, cache = arguments
    return rendition(Path(source), BLUESKY, cache=Path(cache)).read_bytes()


def test_several_processes_making_the_same_rendition_agree_and_leave_no_half_file(tmp_path: Path) -> None:
    source = photo(tmp_path / "foto.jpg", (2400, 1600), noise=True)
    cache = tmp_path / "cache"
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        made = pool.map(_make, [(str(source), str(cache))] * 6)
    assert len(set(made)) == 1 and len(made[0]) <= 1_000_000
    assert sorted(path.suffix for path in cache.rglob("*") if path.is_file()) == [".jpg", ".json"]


def test_an_image_the_pixel_limits_would_squash_to_a_sliver_does_not_fit_and_says_which_limit(tmp_path: Path) -> None:
    source = photo(tmp_path / "banier.png", (20_000, 50))
    with pytest.raises(DoesNotFit) as caught:
        rendition(source, BLUESKY, cache=tmp_path / "cache")
    assert caught.value.reason == (
        "it is 20000×50; within the network's limit of 2,000 px on the longest side it would be 2000×5"
    )


def test_why_an_image_does_not_fit_is_kept_in_words_each_reader_gets_in_their_language(tmp_path: Path) -> None:
    source = tmp_path / "kapot.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    cache = tmp_path / "cache"
    with pytest.raises(DoesNotFit):
        rendition(source, MediaRules(), cache=cache)
    [meta] = cache.rglob("*.json")
    meta.write_text(json.dumps({"error": "in English only"}))  # as an earlier build of this branch kept it

    with pytest.raises(DoesNotFit) as caught:  # made again, and found again in the cache, as its words
        rendition(source, MediaRules(), cache=cache)
    with pytest.raises(DoesNotFit) as again:
        rendition(source, MediaRules(), cache=cache)

    assert caught.value.said == again.value.said
    assert caught.value.said.msgid == "it is not an image that can be read (JPEG, PNG, GIF, WebP, ...)"
    assert caught.value.said.said_in("nl") != caught.value.reason == str(caught.value.said)
