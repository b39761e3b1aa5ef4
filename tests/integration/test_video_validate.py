"""`campaign validate` on posts with video, as a user runs it: captions required like alt text, each
video's container read and held against each of its channels' documented limits, captions checked."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from tests.builders import run_campaign, write_campaign
from tests.videos import make_video, write_vtt

CHANNELS = """\
channels:
  mastodon: {type: dryrun, like: mastodon}
  telegram: {type: dryrun, like: telegram}
  x: {type: dryrun, like: x}
  bluesky: {type: dryrun, like: bluesky}
"""


def video_post(media: str, channels: str = "[mastodon, telegram]", day: int = 15) -> str:
    return f"---\npublish_at: 2030-11-{day} 09:00\nchannels: {channels}\nmedia:\n{media}---\nTip {day} van Team Kim.\n"


def campaign(root: Path, media: str, channels: str = "[mastodon, telegram]") -> Path:
    write_campaign(root, {"tips/tip1.md": video_post(media, channels)}, channels=CHANNELS)
    make_video(root / "media" / "tip1.mp4", seconds=2.0)
    return root


def test_a_good_video_with_captions_validates(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: tip1.nl.vtt}\n")
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.900", "Vertrouw op je gevoel."))
    result = run_campaign(root, "validate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_captions_beside_the_post_and_no_captions_with_a_reason_validate(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: beside.vtt}\n")
    write_vtt(root / "posts" / "tips" / "beside.vtt", ("00:00:00.500", "00:00:02.000", "Hallo."))
    (root / "posts" / "tips" / "bos.md").write_text(
        video_post('  - path: media/tip1.mp4\n    alt: Een bos.\n    captions: {none: "no speech"}\n', day=16),
        encoding="utf-8",
    )
    result = run_campaign(root, "validate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_video_without_captions_is_an_error_on_its_line_saying_what_to_write(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n")
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "captions are missing" in line)
    assert line.startswith("posts/tips/tip1.md:5: error: media/tip1.mp4")
    assert "captions: {nl: tip1.nl.vtt}" in line and "captions: {none:" in line


def test_a_cue_after_the_end_of_the_video_is_an_error_at_the_cue(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: tip1.nl.vtt}\n")
    write_vtt(
        root / "media" / "tip1.nl.vtt",
        ("00:00:00.000", "00:00:01.000", "Vertrouw op je gevoel."),
        ("00:00:01.000", "00:00:04.500", "Bel de hulplijn."),
    )
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if "ends after the video" in line)
    assert line.startswith("media/tip1.nl.vtt:6: error: tip1.nl.vtt: cue 0:01.000 --> 0:04.500")


def test_captions_that_do_not_parse_and_a_missing_captions_file_are_errors(tmp_path: Path) -> None:
    root = campaign(
        tmp_path,
        "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: tip1.nl.vtt, en: tip1.en.srt}\n",
    )
    (root / "media" / "tip1.nl.vtt").write_text("Dit is geen WebVTT\n\n1 -> 2\n", encoding="utf-8")
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    assert "media/tip1.nl.vtt:1: error: tip1.nl.vtt is not a WebVTT file" in result.stdout
    assert "posts/tips/tip1.md:5: error: media/tip1.mp4: captions file tip1.en.srt not found" in result.stdout


def test_a_video_over_a_network_limit_names_the_network_and_the_limit(tmp_path: Path) -> None:
    root = campaign(
        tmp_path,
        "  - path: media/long.mp4\n    alt: Kim legt uit.\n    captions: {none: geen spraak}\n",
        channels="[mastodon, x]",
    )
    make_video(root / "media" / "long.mp4", seconds=141.0, width=32, height=32, fps=1, audio=False)
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() if line.startswith("posts/tips/tip1.md:5: error: x:")]
    assert any("141.0 seconds long; X takes videos up to 140 seconds" in line for line in errors), result.stdout
    assert not any(line.startswith("posts/tips/tip1.md:5: error: mastodon:") for line in result.stdout.splitlines())


def test_a_file_that_is_not_a_video_is_an_error_not_a_crash(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/fake.mp4\n    alt: Kim.\n    captions: {none: geen spraak}\n")
    (root / "media" / "fake.mp4").write_bytes(b"this is no video" * 64)
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    assert "posts/tips/tip1.md:5: error: fake.mp4 cannot be read as a video" in result.stdout


def test_telegram_takes_a_video_up_to_its_50_mb_bot_upload(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.webm\n    alt: Kim.\n    captions: {none: geen spraak}\n")
    make_video(root / "media" / "tip1.webm", seconds=1.0)
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    assert "error: telegram: Telegram does not take .webm video (media/tip1.webm)" in result.stdout
    assert "error: mastodon:" not in result.stdout


def test_the_html_preview_shows_a_videos_first_frame_length_and_captions(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: tip1.nl.vtt}\n")
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.900", "Vertrouw op je gevoel."))
    page = tmp_path / "preview.html"
    assert run_campaign(root, "preview", "--format", "html", "-o", str(page)).returncode == 0
    html = page.read_text(encoding="utf-8")
    poster = re.search(r'<img src="data:image/png;base64,([^"]+)" alt="Kim legt uit.">', html)
    assert poster is not None
    assert base64.b64decode(poster.group(1)).startswith(b"\x89PNG\r\n\x1a\n")
    assert "0:02" in html and "nl" in html.split(poster.group(0), 1)[1].split("</figure>", 1)[0]


def test_the_markdown_preview_lists_a_video_with_alt_text_and_captions(tmp_path: Path) -> None:
    root = campaign(
        tmp_path,
        "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: tip1.nl.vtt, en: tip1.en.vtt}\n",
        channels="[mastodon]",
    )
    for language in ("nl", "en"):
        write_vtt(root / "media" / f"tip1.{language}.vtt", ("00:00:00.000", "00:00:01.900", "Hallo."))
    result = run_campaign(root, "preview", "--format", "markdown", "--drafts")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "tip1.mp4" in line)
    assert "`tip1.mp4` (0:02)" in row and "Kim legt uit." in row and "nl, en" in row


def test_the_text_preview_lists_a_video_with_its_length_and_captions(tmp_path: Path) -> None:
    root = campaign(
        tmp_path,
        "  - path: media/tip1.mp4\n    alt: Kim legt uit.\n    captions: {nl: tip1.nl.vtt}\n",
        channels="[mastodon]",
    )
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.900", "Hallo."))
    result = run_campaign(root, "preview", "--drafts")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "tip1.mp4" in line)
    assert "[video] tip1.mp4 (0:02, captions: nl): Kim legt uit." in row, row


def test_a_video_goes_alone_in_a_post(tmp_path: Path) -> None:
    root = campaign(
        tmp_path,
        "  - path: media/tip1.mp4\n    alt: Kim.\n    captions: {none: geen spraak}\n"
        "  - path: media/tip1.mp4\n    alt: Kim weer.\n    captions: {none: geen spraak}\n",
        channels="[mastodon]",
    )
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    assert "posts/tips/tip1.md:4: error: mastodon: a video goes alone in a post on Mastodon" in result.stdout


def test_the_json_preview_gives_a_videos_captions(tmp_path: Path) -> None:
    root = campaign(tmp_path, "  - path: media/tip1.mp4\n    alt: Kim.\n    captions: {nl: tip1.nl.vtt}\n")
    write_vtt(root / "media" / "tip1.nl.vtt", ("00:00:00.000", "00:00:01.000", "Hallo."))
    result = run_campaign(root, "preview", "--format", "json")
    assert result.returncode == 0, result.stderr
    sends = json.loads(result.stdout)["sends"]
    assert {json.dumps(s["media"]) for s in sends} == {
        json.dumps([{"path": "media/tip1.mp4", "alt": "Kim.", "captions": {"nl": "tip1.nl.vtt"}}])
    }


def test_a_cue_that_does_not_read_is_an_error_on_its_line_in_vtt_and_srt(tmp_path: Path) -> None:
    root = campaign(
        tmp_path, "  - path: media/tip1.mp4\n    alt: Kim.\n    captions: {nl: tip1.nl.vtt, en: tip1.en.srt}\n"
    )
    vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nHallo.\n\n00:00:01.000 --> 00:00:0x.000\nDag.\n"
    (root / "media" / "tip1.nl.vtt").write_text(vtt, encoding="utf-8")
    srt = "1\n00:00:00,000 --> 00:00:01,000\nHello.\n\n2\n00:00:0x,000 --> 00:00:02,000\nBye.\n"
    (root / "media" / "tip1.en.srt").write_text(srt, encoding="utf-8")
    result = run_campaign(root, "validate")
    assert result.returncode == 1
    assert "media/tip1.nl.vtt:6: error: tip1.nl.vtt has a cue that does not read" in result.stdout
    assert "media/tip1.en.srt:5: error: tip1.en.srt is not an SRT file from here on" in result.stdout
