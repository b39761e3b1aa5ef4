"""An image made to fit one network: upright, without a trace of where or with what it was taken, and
no bigger than the network takes. Made once per content and profile, kept in the cache directory.

Every rendition is re-encoded from its pixels alone, so no EXIF (GPS above all), XMP, IPTC, comment or
colour profile of the source survives, whether or not the image needed scaling. It is scaled down only
as far as the network's pixel and byte limits require, never up, and quality steps come before pixels.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import math
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageCms, ImageOps, ImageSequence

from scheduler import settings
from scheduler.errors import ConfigError
from scheduler.posts import MediaRules
from scheduler.words import N_, Said

#: Part of every cache key: raise it when the same source and profile should give other bytes.
FORMAT_VERSION = 1
JPEG_QUALITIES = (90, 85, 80, 75, 70)  # tried in turn before the pixels shrink
SMALLEST_SIDE = 64  # an image that only fits smaller than this does not fit
_MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif"}
_LOSSLESS = {"PNG", "GIF", "BMP", "TIFF"}  # sources whose opaque pixels stay PNG while that fits
#: Files taken for images (a video or other attachment goes as it is).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".heif", ".avif", ".bmp", ".tif", ".tiff"}
)


class DoesNotFit(ValueError):
    """The image cannot be made to fit the profile (or cannot be read at all): `said` says which limit, in
    words each reader gets in their own language; `reason` is its English."""

    def __init__(self, said: Said) -> None:
        super().__init__(str(said))
        self.said = said
        self.reason = str(said)


class CacheUnwritable(ConfigError):
    """The cache directory cannot be written: a setting to fix (CAMPAIGN_CACHE_DIR), not a problem of the image."""


@dataclass(frozen=True)
class Rendition:
    """What goes out for one source image on one network."""

    path: Path  # the file in the cache
    mime: str
    size: int  # bytes
    width: int
    height: int
    source_width: int  # upright
    source_height: int

    @property
    def shrunk(self) -> float:
        """Longest side of the rendition / longest side of the (upright) source: 1.0 when not scaled."""
        return max(self.width, self.height) / max(self.source_width, self.source_height, 1)

    def read_bytes(self) -> bytes:
        return self.path.read_bytes()

    def describe(self) -> str:
        return f"{self.width}×{self.height}, {self.size:,} bytes"


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def cache_dir(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """CAMPAIGN_CACHE_DIR, else the user's cache directory (XDG_CACHE_HOME or ~/.cache)."""
    env = os.environ if env is None else env
    chosen = settings.get("CAMPAIGN_CACHE_DIR", env)
    if chosen:
        return Path(chosen).expanduser()
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "campaign-scheduler"


def rendition(source: Path, rules: MediaRules, cache: Path | None = None) -> Rendition:
    """The rendition of `source` for a network with `rules`, from the cache when it was made before.

    DoesNotFit when the file cannot be read as an image or cannot be made to fit; OSError when the file
    itself cannot be read."""
    digest = _source_digest(source)
    key = hashlib.sha256(f"{FORMAT_VERSION}\0{_profile(rules)}\0{digest}".encode()).hexdigest()
    folder = (cache or cache_dir()) / "renditions" / key[:2]
    meta_path = folder / f"{key}.json"
    known = _read_meta(meta_path)
    if known is not None and "error" in known and not isinstance(known["error"], dict):
        known = None  # an error kept in English only, before errors were kept as their words: made again
    if known is None:
        known = _make(source, digest, rules)
        try:
            if "format" in known:
                _write_atomically(folder / (key + _SUFFIX[known["format"]]), known.pop("data"))
            _write_atomically(meta_path, json.dumps(known, sort_keys=True).encode())
        except OSError as exc:
            why = (
                Said.of(N_("this user may not write there"))
                if isinstance(exc, PermissionError)
                else Said.of(N_("the system says {words}"), words=exc.strerror or exc.__class__.__name__)
            )
            raise CacheUnwritable(
                Said.of(
                    N_(
                        "cannot write the image cache {folder}: {why}; "
                        "set CAMPAIGN_CACHE_DIR to a folder this user can write"
                    ),
                    folder=str(folder.parent),
                    why=why,
                ),
                key="CAMPAIGN_CACHE_DIR",
            ) from None
    if "error" in known:
        raise DoesNotFit(_said_from(known["error"]))
    path = folder / (key + _SUFFIX[known["format"]])
    if not path.exists():  # someone emptied the cache under us: make it again
        meta_path.unlink(missing_ok=True)
        return rendition(source, rules, cache)
    return Rendition(
        path=path,
        mime=_MIME[known["format"]],
        size=int(known["size"]),
        width=int(known["width"]),
        height=int(known["height"]),
        source_width=int(known["source_width"]),
        source_height=int(known["source_height"]),
    )


def shown(source: Path, rules: MediaRules) -> Rendition | None:
    """The rendition for a preview: None for a file that is no image, or that cannot be made to fit (the plan
    has said why)."""
    if not is_image(source):
        return None
    try:
        return rendition(source, rules)
    except (DoesNotFit, OSError, CacheUnwritable):
        return None


# -- the cache ------------------------------------------------------------------------------

_digests: dict[tuple[str, int, int, int, int], str] = {}
_digests_lock = threading.Lock()


def _source_digest(source: Path) -> str:
    """SHA-256 of the file's bytes, read once per (file, size, mtime) in this process: a cache hit is a stat."""
    stat = source.stat()
    stamp = (str(source), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _digests_lock:
        known = _digests.get(stamp)
    if known is None:
        known = hashlib.sha256(source.read_bytes()).hexdigest()
        with _digests_lock:
            _digests[stamp] = known
    return known


def _profile(rules: MediaRules) -> str:
    return json.dumps(
        [
            rules.max_bytes,
            rules.max_side,
            rules.max_pixels,
            rules.max_side_sum,
            rules.max_ratio,
            rules.transparency,
            sorted(_formats(rules)),
        ]
    )


def _kept(said: Said) -> dict[str, Any]:
    """A `Said` as the cache keeps it (JSON): its catalog id and values, a value that is a `Said` kept alike."""
    return {"msgid": said.msgid, "values": {k: _kept(v) if isinstance(v, Said) else v for k, v in said.values}}


def _said_from(kept: dict[str, Any]) -> Said:
    values = {k: _said_from(v) if isinstance(v, dict) else v for k, v in dict(kept.get("values") or {}).items()}
    return Said.of(str(kept.get("msgid", "")), **values)


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _write_atomically(path: Path, data: bytes) -> None:
    """Written under a temporary name and renamed: another process sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- the image work -------------------------------------------------------------------------


def _formats(rules: MediaRules) -> set[str]:
    kinds = rules.kinds
    return {"JPEG"} | ({"PNG"} if ".png" in kinds else set()) | ({"GIF"} if ".gif" in kinds else set())


#: The last image read, by content: a post's channels want renditions of the same source one after another.
_last_read: tuple[str, str, list[tuple[Image.Image, int]]] | None = None
_read_lock = threading.Lock()
#: Its encodings so far, by (size, flattened, format, quality): networks with the same need share the work.
_Encoded = dict[tuple[tuple[int, int], bool, str, int], bytes]
_last_encoded: tuple[str, _Encoded] = ("", {})


def _read(source: Path, digest: str) -> tuple[str, list[tuple[Image.Image, int]]]:
    """The source's format and clean frames (decoded once for all the networks that want it)."""
    global _last_read
    with _read_lock:
        if _last_read is not None and _last_read[0] == digest:  # copies: saving marks an image (encoderinfo)
            return _last_read[1], [(image.copy(), duration) for image, duration in _last_read[2]]
        with Image.open(source) as opened:
            kind = opened.format or ""
            frames = _clean_frames(opened)
        _last_read = (digest, kind, frames)
        return kind, frames


def _make(source: Path, digest: str, rules: MediaRules) -> dict[str, Any]:
    """The rendition's bytes and facts, or {"error": reason}."""
    try:
        kind, frames = _read(source, digest)
    except Image.DecompressionBombError:
        return {"error": _kept(Said.of(N_("it has too many pixels to open safely")))}
    except (OSError, ValueError, SyntaxError, EOFError):  # Pillow's ways of saying "not an image I can read"
        return {"error": _kept(Said.of(N_("it is not an image that can be read (JPEG, PNG, GIF, WebP, ...)")))}
    global _last_encoded
    if _last_encoded[0] != digest:
        _last_encoded = (digest, {})
    first = frames[0][0]
    width, height = first.size
    try:
        data, kind_out, size = _fit(frames, kind, rules, _last_encoded[1])
    except DoesNotFit as exc:
        return {"error": _kept(exc.said)}
    return {
        "format": kind_out,
        "data": data,
        "size": len(data),
        "width": size[0],
        "height": size[1],
        "source_width": width,
        "source_height": height,
    }


def _clean_frames(opened: Image.Image) -> list[tuple[Image.Image, int]]:
    """Every frame upright, as bare pixels (RGB or RGBA) with nothing of the source's metadata; with its duration."""
    frames = []
    many = getattr(opened, "n_frames", 1) > 1
    for frame in ImageSequence.Iterator(opened) if many else [opened]:
        upright = ImageOps.exif_transpose(frame) if not many else frame.copy()
        upright = _to_srgb(upright)
        mode = "RGBA" if _has_alpha(upright) else "RGB"
        pixels = upright.convert(mode)
        frames.append((Image.frombytes(mode, pixels.size, pixels.tobytes()), int(frame.info.get("duration", 100))))
    return frames


def _to_srgb(image: Image.Image) -> Image.Image:
    """Colours as the source's ICC profile meant them, in sRGB, so the profile itself need not go along."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode=image.mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if converted is not None else image


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
        low = alpha.getextrema()[0]
        return isinstance(low, int | float) and low < 255
    return False


def _fit(
    frames: list[tuple[Image.Image, int]], kind: str, rules: MediaRules, memo: _Encoded
) -> tuple[bytes, str, tuple[int, int]]:
    first = frames[0][0]
    width, height = first.size
    longest, shortest = max(width, height), max(min(width, height), 1)
    if rules.max_ratio is not None and longest / shortest > rules.max_ratio:
        raise DoesNotFit(
            Said.of(
                N_("it is {width}×{height}, sides {ratio} to 1; the most is {most} to 1"),
                width=width,
                height=height,
                ratio=f"{longest / shortest:.1f}",
                most=f"{rules.max_ratio:g}",
            )
        )
    scale = _pixel_scale(width, height, rules)
    for_bytes = False
    while True:
        size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
        if min(size) < min(SMALLEST_SIDE, shortest):
            raise DoesNotFit(
                Said.of(
                    N_("it is over the limit of {most} bytes even at {width}×{height} pixels"),
                    most=f"{rules.max_bytes:,}",
                    width=size[0],
                    height=size[1],
                )
                if for_bytes and rules.max_bytes is not None
                else Said.of(
                    N_("it is {width}×{height}; within the network's limit of {limit} it would be {small}"),
                    width=width,
                    height=height,
                    limit=_pixel_limits(rules),
                    small=f"{size[0]}×{size[1]}",
                )
            )
        smallest = 0
        for data, kind_out in _encodings(frames, size, kind, rules, memo):
            if rules.max_bytes is None or len(data) <= rules.max_bytes:
                return data, kind_out, size
            smallest = min(smallest or len(data), len(data))
        assert rules.max_bytes is not None
        # Bytes go roughly with pixels: aim just under the limit, and always shrink by at least a tenth.
        scale *= min(0.9, math.sqrt(rules.max_bytes / smallest) * 0.95)
        for_bytes = True


def _pixel_limits(rules: MediaRules) -> Said:
    limits = [
        Said.of(N_("{n} px on the longest side"), n=f"{rules.max_side:,}") if rules.max_side else None,
        Said.of(N_("{n} pixels"), n=f"{rules.max_pixels:,}") if rules.max_pixels else None,
        Said.of(N_("{n} px width + height"), n=f"{rules.max_side_sum:,}") if rules.max_side_sum else None,
    ]
    said = [limit for limit in limits if limit is not None]
    assert said, "only a pixel limit shrinks an image without a byte limit"
    return functools.reduce(lambda one, other: Said.of(N_("{one} and {other}"), one=one, other=other), said)


def _pixel_scale(width: int, height: int, rules: MediaRules) -> float:
    """The largest scale, at most 1, at which the image meets the pixel limits."""
    scale = 1.0
    if rules.max_side is not None:
        scale = min(scale, rules.max_side / max(width, height))
    if rules.max_pixels is not None:
        scale = min(scale, math.sqrt(rules.max_pixels / (width * height)))
    if rules.max_side_sum is not None:
        scale = min(scale, rules.max_side_sum / (width + height))
    return scale


def _encodings(
    frames: list[tuple[Image.Image, int]], size: tuple[int, int], kind: str, rules: MediaRules, memo: _Encoded
) -> Iterator[tuple[bytes, str]]:
    """The ways to write the image at `size`, best first (each made once per source, see _last_encoded)."""
    formats = _formats(rules)
    sized: list[tuple[Image.Image, int]] = []

    def at_size() -> list[tuple[Image.Image, int]]:
        if not sized:
            sized.extend((im if im.size == size else im.resize(size, Image.Resampling.LANCZOS), d) for im, d in frames)
        return sized

    def made(flat: bool, kind_out: str, quality: int = 0) -> bytes:
        key = (size, flat, kind_out, quality)
        if key not in memo:
            image = at_size()[0][0]
            if flat and image.mode == "RGBA":
                image = _flattened(image)
            options = {"quality": quality, "optimize": True} if kind_out == "JPEG" else {"optimize": True}
            memo[key] = _save_gif(at_size()) if kind_out == "GIF" else _save(image, kind_out, **options)
        return memo[key]

    if len(frames) > 1 and "GIF" in formats:  # an animation stays one
        yield made(False, "GIF"), "GIF"
        return
    alpha = frames[0][0].mode == "RGBA"
    if alpha and rules.transparency and "PNG" in formats:
        yield made(False, "PNG"), "PNG"
        return
    if kind in _LOSSLESS and "PNG" in formats:
        yield made(alpha, "PNG"), "PNG"
    for quality in JPEG_QUALITIES:
        yield made(alpha, "JPEG", quality), "JPEG"


def _flattened(image: Image.Image) -> Image.Image:
    """On white, for networks that show no transparency."""
    flat = Image.new("RGB", image.size, "white")
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def _save(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def _save_gif(frames: list[tuple[Image.Image, int]]) -> bytes:
    out = io.BytesIO()
    first, *rest = (image for image, _ in frames)
    durations = [d for _, d in frames]
    first.save(out, "GIF", save_all=True, append_images=rest, duration=durations, loop=0, disposal=2)
    return out.getvalue()
