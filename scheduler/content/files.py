"""Reading the campaign's own files: inside the campaign, of a sane size, UTF-8 text.

Every file the plan reads (posts, `_defaults.yml`, `hashtags.yml`, `channels.yml`) comes through
here, so a link out of the campaign, a huge file or binary junk is one clear problem with its
file and line, never a crash or a hang.
"""

from __future__ import annotations

import errno
from pathlib import Path, PurePosixPath, PureWindowsPath

from scheduler.content import yamlfile
from scheduler.content.problems import Problem, error
from scheduler.words import N_, Said

MAX_BYTES = 1_000_000  # a post or a settings file; far above any real one
_A_MAPPING = Said.of(N_("expected a mapping of keys to values"))


def read_text(root: Path, path: Path, relative: str) -> tuple[str | None, Problem | None]:
    """The file's text with \\n line ends, or the problem that prevents reading it."""
    try:
        if path.is_symlink() and not path.resolve().is_relative_to(root.resolve()):
            return None, error(relative, 0, Said.of(N_("is a link to a file outside the campaign")))
        if path.exists() and not path.is_file():  # a folder, or a FIFO that would block the read
            return None, error(relative, 0, Said.of(N_("is not a regular file")))
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)  # never more: the file may be a device or still growing
    except (OSError, RuntimeError) as exc:  # a dangling link, a link loop (RuntimeError), unreadable
        return None, error(relative, 0, Said.of(N_("cannot be read: {why}"), why=_why(path, exc)))
    if len(raw) > MAX_BYTES:
        return None, error(
            relative, 0, Said.of(N_("is over {size} bytes, the most a campaign file may be"), size=f"{MAX_BYTES:,}")
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, error(relative, raw[: exc.start].count(b"\n") + 1, Said.of(N_("is not valid UTF-8 text")))
    if "\x00" in text:
        return None, error(
            relative, text[: text.index("\x00")].count("\n") + 1, Said.of(N_("contains a NUL character"))
        )
    return text.replace("\r\n", "\n").replace("\r", "\n"), None


def _why(path: Path, exc: OSError | RuntimeError) -> Said:
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return Said.of(N_("it is a link that leads back to itself"))
    if isinstance(exc, FileNotFoundError):
        if path.is_symlink():
            return Said.of(N_("it is a link to a file that does not exist"))
        return Said.of(N_("it does not exist"))
    if isinstance(exc, PermissionError):
        return Said.of(N_("this user may not read it (check its permissions)"))
    # rare: passed on as the system words it
    return Said.of(N_("the system says {words}"), words=exc.strerror or exc.__class__.__name__)


def read_yaml_mapping(
    root: Path, relative: str, expected: Said = _A_MAPPING
) -> tuple[yamlfile.LineDict, list[Problem]]:
    """A YAML file that must hold a mapping; a missing or empty file gives an empty one."""
    path = root / relative
    if not path.exists() and not path.is_symlink():
        return yamlfile.LineDict(), []
    text, problem = read_text(root, path, relative)
    if text is None:
        return yamlfile.LineDict(), [problem] if problem else []
    try:
        data = yamlfile.load(text)
    except yamlfile.YamlError as exc:
        return yamlfile.LineDict(), [error(relative, exc.line, exc.said)]
    if data is None:
        return yamlfile.LineDict(), []
    if not isinstance(data, yamlfile.LineDict):
        return yamlfile.LineDict(), [error(relative, 1, expected)]
    return data, []


def resolve_media(root: Path, written: str) -> tuple[Path | None, int, Said | None]:
    """The file a post's `media:` path names (inside the campaign), its size, or why it cannot be used."""
    relative = PurePosixPath(written)
    if (
        not written.strip()
        or relative.is_absolute()
        or PureWindowsPath(written).drive
        or written.startswith(("\\", "~"))
    ):
        return None, 0, Said.of(N_("media path {path} must be relative to the campaign root"), path=repr(written))
    if ".." in relative.parts:
        return None, 0, Said.of(N_("media path {path} must not contain .."), path=repr(written))
    full = root.joinpath(*relative.parts)
    try:
        resolved = full.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # ValueError: a NUL in the path
        if len(relative.parts) == 1:  # the name of a file beside the post: the path starts at the campaign's folder
            hint = N_(
                "media file {path} does not exist (a media path starts at the campaign's folder, as in media/{name})"
            )
            return None, 0, Said.of(hint, path=written, name=relative.name)
        return None, 0, Said.of(N_("media file {path} does not exist"), path=written)
    if not resolved.is_relative_to(root.resolve()):
        return None, 0, Said.of(N_("media path {path} leads outside the campaign root"), path=repr(written))
    if not resolved.is_file():
        return None, 0, Said.of(N_("media path {path} is not a file"), path=repr(written))
    return resolved, resolved.stat().st_size, None
