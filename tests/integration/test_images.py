"""Images made to fit every network, without a trace of where they were taken (issue #21, "Images that fit").

Every network's local server parses each image it receives and looks for EXIF, XMP, comments and the
GPS coordinates' bytes (tests.fakes.images); the images are made here with Pillow, never downloaded."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from PIL import Image

from scheduler.channels.bluesky import BlueskyChannel
from scheduler.channels.dryrun import DryRunChannel
from scheduler.channels.facebook.channel import FacebookChannel
from scheduler.channels.linkedin.channel import LinkedInChannel
from scheduler.channels.mastodon import MastodonChannel
from scheduler.channels.telegram import TelegramChannel
from scheduler.channels.x import XChannel
from scheduler.posts import MediaItem, RenderedPost
from scheduler.secrets import resolve
from scheduler.words import translator
from tests.builders import run_campaign, write_campaign
from tests.fakes import facebook_server, linkedin_server, mastodon_server, telegram_server, x_server
from tests.fakes.bluesky_server import FakePDS
from tests.fakes.facebook_server import FakeGraph
from tests.fakes.images import LATITUDE, photo, traces
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.x_server import FakeX
from tests.integration.daemon_helpers import at, campaign, now, states, write

ALT = "Een kind aan de keukentafel."


class Network(Protocol):
    @property
    def images(self) -> list[bytes]: ...

    @property
    def image_traces(self) -> list[str]: ...


def post(*items: MediaItem, channel: str = "c") -> RenderedPost:
    return RenderedPost(post="2027/foto", channel=channel, text="Praat erover.", media=items)


# -- one local server per network, and an adapter that speaks to it -------------------------------


class _Bluesky:
    """FakePDS keeps its blobs, not `images`: the same view as the FakeServer-based fakes."""

    def __init__(self, pds: FakePDS) -> None:
        self.pds = pds

    @property
    def images(self) -> list[bytes]:
        return [data for data, _ in self.pds.blobs.values()]

    @property
    def image_traces(self) -> list[str]:
        return self.pds.image_traces


def bluesky(stack: ExitStack) -> tuple[Any, Network]:
    pds = stack.enter_context(FakePDS(password="pw-1"))
    raw = {"handle": "campagne.test", "app_password": "${BSKY_APP_PASSWORD}", "pds": pds.url}
    return BlueskyChannel("bluesky", resolve(raw, env={"BSKY_APP_PASSWORD": "pw-1"})), _Bluesky(pds)


def x(stack: ExitStack) -> tuple[Any, Network]:
    server = stack.enter_context(FakeX())
    settings = {
        "api": server.url,
        "consumer_key": x_server.CONSUMER_KEY,
        "consumer_secret": x_server.CONSUMER_SECRET,
        "access_token": x_server.ACCESS_TOKEN,
        "access_token_secret": x_server.ACCESS_TOKEN_SECRET,
    }
    return XChannel("x", settings), server


def mastodon(stack: ExitStack, **fake: Any) -> tuple[Any, Network]:
    server = stack.enter_context(FakeMastodon(**fake))
    return MastodonChannel("mastodon", {"instance": server.url, "token": mastodon_server.TOKEN}), server


def facebook(stack: ExitStack) -> tuple[Any, Network]:
    graph = stack.enter_context(FakeGraph())
    settings = {"page_id": facebook_server.PAGE_ID, "token": facebook_server.TOKEN, "graph": graph.url}
    return FacebookChannel("facebook", settings), graph


def telegram(stack: ExitStack) -> tuple[Any, Network]:
    server = stack.enter_context(FakeTelegram())
    settings = {"token": telegram_server.TOKEN, "chat_id": "@campagne", "api": server.url}
    return TelegramChannel("telegram", settings), server


def linkedin(stack: ExitStack) -> tuple[Any, Network]:
    server = stack.enter_context(FakeLinkedIn())
    settings = {"author": linkedin_server.ORGANIZATION, "token": server.token, "version": linkedin_server.VERSION}
    channel = LinkedInChannel("linkedin", {**settings, "api": server.url})
    stack.callback(channel.close)
    return channel, server


NETWORKS: dict[str, Callable[[ExitStack], tuple[Any, Network]]] = {
    "bluesky": bluesky,
    "x": x,
    "mastodon": mastodon,
    "facebook": facebook,
    "telegram": telegram,
    "linkedin": linkedin,
}


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as opened:
        yield opened


def received(network: Network) -> list[Image.Image]:
    return [Image.open(io.BytesIO(data)) for data in network.images]


# -- no trace of where a photo was taken --------------------------------------------------------


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("kind", [".jpg", ".png"])
def test_a_photo_with_gps_reaches_every_network_without_exif_xmp_or_gps(
    name: str, kind: str, stack: ExitStack, tmp_path: Path
) -> None:
    source = photo(tmp_path / f"keuken{kind}")
    assert traces(source.read_bytes())  # the source has them all: GPS EXIF, XMP, a comment, IPTC (JPEG)
    gps = [LATITUDE.to_bytes(4, order) for order in ("little", "big")]  # EXIF is written either way
    assert any(coordinate in source.read_bytes() for coordinate in gps)
    channel, network = NETWORKS[name](stack)

    channel.publish(post(MediaItem(source, ALT), channel=name), "k-gps")

    assert len(network.images) == 1
    assert network.image_traces == []
    assert not any(coordinate in network.images[0] for coordinate in gps)


# -- scaled only as far as the network requires -----------------------------------------------------


def test_a_three_megabyte_photo_reaches_bluesky_under_its_limit_and_no_bigger_than_it_was(
    stack: ExitStack, tmp_path: Path
) -> None:
    source = photo(tmp_path / "groot.jpg", (2000, 1500), noise=True, quality=98)
    assert source.stat().st_size > 3_000_000
    channel, network = bluesky(stack)

    channel.publish(post(MediaItem(source, ALT), channel="bluesky"), "k-big")

    [data] = network.images
    assert len(data) <= 1_000_000
    [image] = received(network)
    assert image.width < 2000 and image.height < 1500  # shrunk, never up
    assert abs(image.width / image.height - 4 / 3) < 0.01  # the same shape
    assert network.image_traces == []


def test_an_image_over_the_size_an_instance_says_is_made_to_fit_that_instance(stack: ExitStack, tmp_path: Path) -> None:
    source = photo(tmp_path / "groot.jpg", (1000, 800), noise=True)
    assert source.stat().st_size > 300_000
    channel, network = mastodon(stack, image_size_limit=300_000)

    channel.publish(post(MediaItem(source, ALT), channel="mastodon"), "k-instance")

    [data] = network.images
    assert len(data) <= 300_000
    assert network.image_traces == []


@pytest.mark.parametrize("name", list(NETWORKS))
def test_a_small_image_keeps_its_size(name: str, stack: ExitStack, tmp_path: Path) -> None:
    source = photo(tmp_path / "klein.png", (320, 200))
    channel, network = NETWORKS[name](stack)

    channel.publish(post(MediaItem(source, ALT), channel=name), "k-small")

    assert [image.size for image in received(network)] == [(320, 200)]


def test_transparency_is_kept_where_the_network_keeps_it_and_flattened_on_white_elsewhere(
    stack: ExitStack, tmp_path: Path
) -> None:
    source = photo(tmp_path / "logo.png", (200, 100), alpha=True)  # its right half is transparent
    kept, kept_network = mastodon(stack)
    flat, flat_network = bluesky(stack)

    kept.publish(post(MediaItem(source, ALT), channel="mastodon"), "k-alpha")
    flat.publish(post(MediaItem(source, ALT), channel="bluesky"), "k-flat")

    [with_alpha] = received(kept_network)
    assert with_alpha.format == "PNG" and with_alpha.mode == "RGBA"
    assert with_alpha.getpixel((150, 50))[3] == 0  # type: ignore[index]
    [flattened] = received(flat_network)
    assert "A" not in flattened.getbands()
    assert flattened.convert("RGB").getpixel((150, 50)) == (255, 255, 255)


def test_a_photo_taken_sideways_arrives_upright(stack: ExitStack, tmp_path: Path) -> None:
    # Stored 400×300 with its top-left quarter red; EXIF orientation 6: turn it 90° clockwise to show it.
    source = photo(tmp_path / "gedraaid.jpg", (400, 300), orientation=6)
    channel, network = mastodon(stack)

    channel.publish(post(MediaItem(source, ALT), channel="mastodon"), "k-upright")

    [image] = received(network)
    assert image.size == (300, 400)
    red, blue = image.convert("RGB").getpixel((290, 10)), image.convert("RGB").getpixel((10, 10))
    assert red[0] > 200 and red[2] < 60  # type: ignore[index]  # the red quarter is now top right
    assert blue[2] > 200 and blue[0] < 60  # type: ignore[index]
    assert not image.getexif()  # and no orientation left to turn it again


def test_the_dry_run_records_the_rendition_that_would_go_out(tmp_path: Path) -> None:
    source = photo(tmp_path / "groot.png", (3000, 1000))
    outbox = tmp_path / "outbox.jsonl"
    channel = DryRunChannel("bluesky", {"like": "bluesky", "outbox": str(outbox)})

    channel.publish(post(MediaItem(source, ALT), channel="bluesky"), "k-dry")

    [record] = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    [media] = record["media"]
    assert media["path"] == str(source)
    rendition = media["rendition"]
    assert (rendition["width"], rendition["height"]) == (2000, 666)
    assert Path(rendition["path"]).stat().st_size == rendition["bytes"]
    assert traces(Path(rendition["path"]).read_bytes()) == []


# -- validate and preview make the renditions too -----------------------------------------------------

CHANNELS = (
    "channels:\n"
    "  bluesky: {type: dryrun, like: bluesky}\n"
    "  mastodon: {type: dryrun, like: mastodon}\n"
    "  telegram: {type: dryrun, like: telegram}\n"
)


def with_image(root: Path, name: str, channels: str = "[bluesky, mastodon, telegram]") -> Path:
    front = f"---\npublish_at: 2027-11-15 09:00\nchannels: {channels}\nmedia:\n  - {{path: media/{name}, alt: {ALT}}}\n"
    return write_campaign(root, {"a.md": front + "---\nPraat erover.\n"}, channels=CHANNELS)


def test_an_image_no_network_can_take_is_a_validate_error_naming_file_network_and_limit(tmp_path: Path) -> None:
    root = with_image(tmp_path, "streep.png")
    (root / "media").mkdir()
    photo(root / "media" / "streep.png", (2100, 100))  # 21 to 1: Telegram takes at most 20 to 1

    result = run_campaign(root, "validate")

    assert result.returncode == 1
    errors = [line for line in result.stdout.splitlines() + result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        "posts/a.md:5: error: media/streep.png cannot go to telegram: it is 2100×100, sides 21.0 to 1; "
        "the most is 20 to 1"
    ]


def test_a_file_that_is_not_an_image_is_a_validate_error_on_each_network(tmp_path: Path) -> None:
    root = with_image(tmp_path, "kapot.jpg", "[bluesky, mastodon]")
    (root / "media").mkdir()
    (root / "media" / "kapot.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")

    result = run_campaign(root, "validate")

    assert result.returncode == 1
    output = result.stdout + result.stderr
    for network in ("bluesky", "mastodon"):
        assert f"posts/a.md:5: error: media/kapot.jpg cannot go to {network}: it is not an image" in output


def test_the_preview_shows_what_goes_out_per_network_and_warns_where_it_shrinks_visibly(tmp_path: Path) -> None:
    root = with_image(tmp_path, "breed.png", "[bluesky, mastodon]")
    (root / "media").mkdir()
    photo(root / "media" / "breed.png", (4400, 1100))  # Bluesky: 2000 px, 45% of its longest side

    result = run_campaign(root, "preview", "--format", "text")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    images = [line.strip(" │") for line in lines if "[image]" in line]
    assert len(images) == 2
    assert any(line.startswith("[image] breed.png (2000×500, ") for line in images)
    assert any(line.startswith("[image] breed.png (4400×1100, ") for line in images)
    warnings = {line.strip() for line in lines if "warning" in line and "breed.png" in line}
    assert warnings  # under the send, and in the list of problems
    assert all("media/breed.png goes to bluesky at 2000×500, 45% of its 4400×1100" in line for line in warnings)


def test_the_html_preview_shows_each_network_the_image_it_gets(tmp_path: Path) -> None:
    root = with_image(tmp_path, "breed.png", "[bluesky, mastodon]")
    (root / "media").mkdir()
    photo(root / "media" / "breed.png", (4400, 1100))

    page = run_campaign(root, "preview", "--format", "html", "-o", "-").stdout

    assert "2000×500, " in page and "4400×1100, " in page
    shown = [base64.b64decode(uri) for uri in re.findall(r'src="data:image/[a-z]+;base64,([^"]+)"', page)]
    assert sorted(Image.open(io.BytesIO(data)).size for data in shown) == [(2000, 500), (4400, 1100)]
    assert [traces(data) for data in shown] == [[], []]


def test_renditions_are_made_once_and_found_again_by_the_next_run(tmp_path: Path) -> None:
    root = with_image(tmp_path / "campaign", "foto.jpg")
    (root / "media").mkdir()
    photo(root / "media" / "foto.jpg", (2400, 1600))
    cache = tmp_path / "cache"

    assert run_campaign(root, "validate", CAMPAIGN_CACHE_DIR=str(cache)).returncode == 0
    made = {path: path.stat().st_mtime_ns for path in cache.rglob("*") if path.is_file()}
    assert run_campaign(root, "validate", CAMPAIGN_CACHE_DIR=str(cache)).returncode == 0

    assert len([path for path in made if path.suffix == ".jpg"]) == 3  # one per network profile
    assert {path: path.stat().st_mtime_ns for path in cache.rglob("*") if path.is_file()} == made
    assert not list(cache.rglob(".part-*"))


def test_a_cache_folder_that_cannot_be_written_is_an_error_that_says_which_setting_to_change(tmp_path: Path) -> None:
    root = with_image(tmp_path / "campaign", "foto.jpg", "[mastodon]")
    (root / "media").mkdir()
    photo(root / "media" / "foto.jpg")
    (tmp_path / "a-file").write_text("not a folder")

    result = run_campaign(root, "validate", CAMPAIGN_CACHE_DIR=str(tmp_path / "a-file" / "cache"))

    assert result.returncode == 1
    assert "posts/a.md:5: error: media/foto.jpg: cannot write the image cache" in result.stdout + result.stderr
    assert "set CAMPAIGN_CACHE_DIR to a folder this user can write" in result.stdout + result.stderr


# -- the daemon: a file that cannot be made to fit holds the send before its time ----------------------


def test_the_daemon_holds_a_post_whose_image_cannot_be_made_to_fit(tmp_path: Path) -> None:
    write(tmp_path, {})
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "kapot.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    media = f"media:\n  - {{path: media/kapot.png, alt: {ALT}}}\n"
    when = at(now() + timedelta(days=1))
    (tmp_path / "posts" / "foto.md").write_text(f"---\npublish_at: {when}\n{media}---\nPraat erover.\n")

    assert campaign(tmp_path, "run", "--once").returncode == 0
    assert states(tmp_path) == {("foto", "mastodon"): "held"}  # a day before its time
    status = campaign(tmp_path, "status").stdout
    words = translator("nl").gettext  # the campaign is Dutch: so is the reason a person reads
    reason = words("{path} cannot go to {channel}: {reason}").format(
        path="media/kapot.png",
        channel="mastodon",
        reason=words("it is not an image that can be read (JPEG, PNG, GIF, WebP, ...)"),
    )
    assert reason in status


def test_the_daemon_makes_the_renditions_when_it_plans_a_day_before_the_send(tmp_path: Path) -> None:
    write(tmp_path / "campaign", {})
    root = tmp_path / "campaign"
    (root / "media").mkdir()
    photo(root / "media" / "foto.jpg", (2400, 1600))
    media = f"media:\n  - {{path: media/foto.jpg, alt: {ALT}}}\n"
    when = at(now() + timedelta(days=1))
    (root / "posts" / "foto.md").write_text(f"---\npublish_at: {when}\nchannels: [bluesky]\n{media}---\nPraat.\n")
    cache = tmp_path / "cache"

    assert campaign(root, "run", "--once", CAMPAIGN_CACHE_DIR=str(cache)).returncode == 0

    assert states(root) == {("foto", "bluesky"): "pending"}
    [made] = list(cache.rglob("*.jpg"))
    with Image.open(made) as image:
        assert image.size == (2000, 1333)  # ready in the cache: the send will only read it
