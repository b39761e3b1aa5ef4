"""The previews' words by key, in the campaign's language (the catalogs of scheduler.words).
# ruff: noqa: E501  (a table of messages: one line each, as a translator reads them)
The unit names are those of scheduler.text.LengthRule.unit."""

from __future__ import annotations

from functools import cache

from babel.numbers import format_decimal

from scheduler.words import N_, translator

LABELS = {
    "schedule": N_("schedule"),
    "times_in": N_("Times in"),
    "problems": N_("Problems"),
    "unplaced": N_("Cannot be placed on the calendar"),
    "error": N_("Error"),
    "warning": N_("Warning"),
    "months": N_("Months"),
    "month": N_("Month"),
    "week": N_("Week"),
    "draft": N_("Draft"),
    "thread": N_("Thread"),
    "no_limit": N_("no limit"),
    "over": N_("over"),
    "more": N_("more"),
    "legend": N_("Dots: the network."),
    "legend_error": N_("has an error"),
    "alt": N_("Alt text"),
    "too_large": N_("not embedded: too large"),
    "video": N_("Video"),
    "captions": N_("captions"),
    "no_captions": N_("no captions"),
    "not_rendered": N_("Could not be rendered; see the problems below."),
    "no_posts": N_("No posts"),
    "index": N_("Overview"),
    "skip": N_("Skip to the calendar"),
    "characters": N_("characters"),
    "graphemes": N_("characters"),
    "weighted characters": N_("weighted characters"),
    "UTF-16 units": N_("UTF-16 units"),
}


@cache
def labels(language: str) -> dict[str, str]:
    """Key → the words in `language` (English where its catalog has none)."""
    gettext = translator(language).gettext
    return {key: gettext(message) for key, message in LABELS.items()}


def count(number: int, word: str, language: str) -> str:
    """A number and its noun in `language`, with the plural form its catalog gives: "1 bericht", "3 berichten"."""
    ngettext = translator(language).ngettext
    forms = {
        "sends": ngettext("{n} send", "{n} sends", number),
        "posts": ngettext("{n} post", "{n} posts", number),
        "channels": ngettext("{n} channel", "{n} channels", number),
        "errors": ngettext("{n} error", "{n} errors", number),
        "warnings": ngettext("{n} warning", "{n} warnings", number),
    }
    return forms[word].format(n=format_decimal(number, locale=language))


def clock(seconds: float) -> str:
    """A video's length as a player shows it: 0:02, 2:20, 1:02:03."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
