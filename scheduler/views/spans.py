"""A post's text as a card shows it: plain stretches, and the links, hashtags and mentions in it (as Bluesky
finds them), so the HTML preview marks them as the networks do."""

from __future__ import annotations

from scheduler.channels.bluesky_richtext import find_spans


def parts(text: str) -> tuple[tuple[str, str], ...]:
    """The text cut into plain stretches and links, hashtags and mentions, as Bluesky finds them."""
    raw = text.encode("utf-8")
    parts: list[tuple[str, str]] = []
    last = 0
    for span in find_spans(text):
        if span.start > last:
            parts.append(("", raw[last : span.start].decode("utf-8")))
        parts.append((span.kind, raw[span.start : span.end].decode("utf-8")))
        last = span.end
    if last < len(raw):
        parts.append(("", raw[last:].decode("utf-8")))
    return tuple(parts)
