"""The report's words by key, in the campaign's language (the catalogs of scheduler.words)."""
# ruff: noqa: E501  (a table of messages: one line each, as a translator reads them)

from __future__ import annotations

from functools import cache

from babel.numbers import format_decimal

from scheduler.words import N_, translator

LABELS = {
    "title": N_("results"),
    "sends": N_("sends"),
    "times_in": N_("times in"),
    "period": N_("Period"),
    "generated": N_("Made"),
    "no_counts": N_("No counts on these channels (their network has none)"),
    "per_day": N_("Per day"),
    "per_channel": N_("Per channel"),
    "per_series": N_("Per series"),
    "per_hashtag": N_("Per hashtag"),
    "top": N_("Top posts"),
    "on": N_("on"),
    "engagement": N_("engagements"),
    "at": N_("at"),
    "measured_at": N_("measured at"),
    "chart_day": N_("Engagement per day"),
    "chart_channel": N_("Engagement per channel"),
    "likes": N_("likes"),
    "reposts": N_("reposts or shares"),
    "no_series": N_("(no series)"),
    "counts_key": N_("likes / reposts or shares / replies"),
    "replies": N_("replies"),
    "quotes": N_("quotes"),
    "all_sends": N_("Every send"),
    "post": N_("Post"),
    "channel": N_("Channel"),
    "published": N_("Published"),
    "nothing": N_("Nothing measured yet."),
    "made_up": N_("Rehearsal: these counts are made up (dry-run channels), to show what the report will look like."),
    "legend": N_(
        "Engagement = likes + reposts (shares on Facebook, boosts on Mastodon) + replies + quotes, at the age after publishing shown; (n/m): n of the m sends with counts were measured at that age."
    ),
}


@cache
def labels(language: str) -> dict[str, str]:
    """Key → the words in `language` (English where its catalog has none)."""
    gettext = translator(language).gettext
    return {key: gettext(message) for key, message in LABELS.items()}


def count(number: int, word: str, language: str) -> str:
    """A number and its noun in `language`, in the plural form its catalog gives: "1 reactie", "2 reacties".
    `word` "reposts" says what the network calls them (`network`: shares on Facebook, boosts on Mastodon)."""
    ngettext = translator(language).ngettext
    forms = {
        "sends": lambda: ngettext("{n} send", "{n} sends", number),
        "engagement": lambda: ngettext("{n} engagement", "{n} engagements", number),
        "likes": lambda: ngettext("{n} like", "{n} likes", number),
        "replies": lambda: ngettext("{n} reply", "{n} replies", number),
        "reposts": lambda: ngettext("{n} repost", "{n} reposts", number),
        "reposts:facebook": lambda: ngettext("{n} share", "{n} shares", number),
        "reposts:mastodon": lambda: ngettext("{n} boost", "{n} boosts", number),
    }
    return forms.get(word, forms[word.partition(":")[0]])().format(n=format_decimal(number, locale=language))
