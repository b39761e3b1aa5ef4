"""Whether each image of a post can be made to fit a channel's network: the rendition is made here, at plan
time (validate, preview and the daemon's plan), so a send only reads it from the cache and a file that
cannot be made to fit is a problem of the plan, which holds the send before its time."""

from __future__ import annotations

from pathlib import Path

from scheduler.content.campaign import ChannelConfig
from scheduler.content.problems import Problem, error, warning
from scheduler.media.renditions import CacheUnwritable, DoesNotFit, is_image, rendition

#: Below this share of its longest side an image is shrunk visibly: the preview says so.
VISIBLE_SHRINK = 0.5


def image_problems(written: str, path: Path, file: str, line: int, channel: ChannelConfig) -> list[Problem]:
    """Problems of the image at `path` (written as `written` on `file`:`line`) going to `channel`."""
    if not is_image(path):
        return []
    network = channel.limits.network or channel.type
    where = channel.name if channel.name == network else f"{channel.name} ({network})"
    try:
        made = rendition(path, channel.limits.media)
    except DoesNotFit as exc:
        return [error(file, line, f"{written} cannot go to {where}: {exc.reason}")]
    except CacheUnwritable as exc:
        return [error(file, line, f"{written}: {exc}")]
    except OSError as exc:
        return [error(file, line, f"{written} cannot be read: {exc.strerror}")]
    if made.shrunk < VISIBLE_SHRINK:
        return [
            warning(
                file,
                line,
                f"{written} goes to {where} at {made.width}×{made.height}, "
                f"{made.shrunk:.0%} of its {made.source_width}×{made.source_height}: "
                "crop it, or make it smaller yourself, to choose what stays",
            )
        ]
    return []
