"""The one place where an adapter gets the bytes of an image: its rendition for the network, never the file."""

from __future__ import annotations

from scheduler.errors import Rejected, RetryLater
from scheduler.media.renditions import CacheUnwritable, DoesNotFit, Rendition, rendition
from scheduler.posts import MediaItem, MediaRules


def fitted(item: MediaItem, rules: MediaRules, network: str) -> Rendition:
    """The rendition of `item` for `network`, made to fit `rules` (read from the cache: the plan made it
    before the send); Rejected when the file cannot be read or made to fit. Only for images (is_image)."""
    try:
        return rendition(item.path, rules)
    except DoesNotFit as exc:
        raise Rejected(f"{item.path.name} cannot go to {network}: {exc.reason}") from None
    except CacheUnwritable as exc:  # nothing was sent: once the folder is fixed, the send goes
        raise RetryLater(str(exc)) from None
    except OSError as exc:
        raise Rejected(f"cannot read {item.path.name}: {exc.strerror}") from None


def upload_name(item: MediaItem, made: Rendition) -> str:
    """The file name an upload carries: the source's, with the rendition's kind (a flattened PNG is a .jpg)."""
    return item.path.stem + made.path.suffix
