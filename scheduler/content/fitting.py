"""Whether each image of a post can be made to fit a channel's network: the rendition is made here, at plan
time (validate, preview and the daemon's plan), so a send only reads it from the cache and a file that
cannot be made to fit is a problem of the plan, which holds the send before its time."""

from __future__ import annotations

from pathlib import Path

from scheduler.content.campaign import ChannelConfig
from scheduler.content.files import _why
from scheduler.content.problems import Problem, error, warning
from scheduler.media.renditions import CacheUnwritable, DoesNotFit, is_image, rendition
from scheduler.words import N_, Said

#: Below this share of its longest side an image is shrunk visibly: the preview says so.
VISIBLE_SHRINK = 0.5


def image_problems(written: str, path: Path, file: str, line: int, channel: ChannelConfig) -> list[Problem] | None:
    """Problems of the image at `path` (written as `written` on `file`:`line`) going to `channel`; None for a
    file that is no image (its bytes go as they are, so its size is checked as it is)."""
    if not is_image(path):
        return None
    network = channel.limits.network or channel.type
    where = channel.name if channel.name == network else f"{channel.name} ({network})"
    try:
        made = rendition(path, channel.limits.media)
    except DoesNotFit as exc:
        said = Said.of(N_("{path} cannot go to {channel}: {reason}"), path=written, channel=where, reason=exc.said)
        return [error(file, line, said)]
    except CacheUnwritable as exc:
        return [error(file, line, Said.of(N_("{path}: {problem}"), path=written, problem=exc.said or str(exc)))]
    except OSError as exc:
        return [error(file, line, Said.of(N_("{path} cannot be read: {why}"), path=written, why=_why(path, exc)))]
    if made.shrunk < VISIBLE_SHRINK:
        return [
            warning(
                file,
                line,
                Said.of(
                    N_(
                        "{path} goes to {channel} at {width}×{height}, {share} of its {source}: "
                        "crop it, or make it smaller yourself, to choose what stays"
                    ),
                    path=written,
                    channel=where,
                    width=made.width,
                    height=made.height,
                    share=f"{made.shrunk:.0%}",
                    source=f"{made.source_width}×{made.source_height}",
                ),
            )
        ]
    return []
