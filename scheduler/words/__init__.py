"""What people read (the dashboard, the HTML and Markdown previews, the report) in the campaign's language.

The words are gettext catalogs: `locale/<language>/LC_MESSAGES/messages.po`, with English text as the
message ids, so a campaign in a language without a catalog reads English, and a volunteer translates with
the usual tools (Poedit, Weblate, `pybabel update`; docs/translating.md). The `.po` files are the only
source: they are compiled in memory (Babel's pofile/mofile) the first time a language is asked for, so no
compiled `.mo` file can fall behind its `.po`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from io import BytesIO

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "messages"
SOURCE = "en"  # the language of the message ids: it needs no catalog


def N_(message: str) -> str:
    """Marks `message` for `pybabel extract` where it is looked up later (a table of words by key)."""
    return message


def catalog_file(language: str) -> Traversable:
    return resources.files(__name__).joinpath("locale", language, "LC_MESSAGES", f"{DOMAIN}.po")


def languages() -> list[str]:
    """The languages with a catalog, besides English."""
    folder = resources.files(__name__).joinpath("locale")
    return sorted(entry.name for entry in folder.iterdir() if catalog_file(entry.name).is_file())


def base_language(language: str) -> str:
    """'nl' of 'nl_BE' or 'nl-NL'; English for a language Babel does not know."""
    try:
        return Locale.parse(language.replace("-", "_")).language
    except (ValueError, UnknownLocaleError):
        return SOURCE


@cache
def translator(language: str) -> NullTranslations:
    """gettext, ngettext and pgettext in `language` (a campaign's `language`); English where it has no
    catalog, and for any message its catalog lacks."""
    base = base_language(language)
    source = catalog_file(base)
    if base == SOURCE or not source.is_file():
        return NullTranslations()
    with source.open("rb") as po:
        catalog = read_po(po, locale=base, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@dataclass(frozen=True)
class Said:
    """A message kept as its catalog id and its values, so each reader gets it in their own language:
    English on the command line and in logs, the campaign's language on the pages people read.

    `Said.of(N_("{path} has no {key}"), path=..., key=...)`; with a plural form,
    `Said.ngettext("{n} post", "{n} posts", n=3)`. A value may itself be a `Said` (a hint added to a
    message), translated with it."""

    msgid: str
    values: tuple[tuple[str, object], ...] = ()
    plural: str | None = None

    @classmethod
    def of(cls, message: str, /, **values: object) -> Said:
        return cls(message, tuple(values.items()))

    @classmethod
    def ngettext(cls, singular: str, plural: str, **values: object) -> Said:
        """A message whose words follow the count `n` among `values` ("1 post", "3 posts"). Named as gettext's
        own so that `pybabel extract` (keyword ngettext) makes the pair one plural entry in the catalogs, as
        two `N_` marks would not."""
        return cls(singular, tuple(values.items()), plural)

    def said_in(self, language: str) -> str:
        """The message in `language` (English where its catalog lacks it), its values filled in."""
        words = translator(language)
        values = {k: v.said_in(language) if isinstance(v, Said) else v for k, v in self.values}
        if self.plural is not None:
            count = values.get("n", 1)
            text = words.ngettext(self.msgid, self.plural, count if isinstance(count, int) else 1)
        else:
            text = words.gettext(self.msgid)
        # Only a message with values is a format string: one without may hold a literal "{{ x }}".
        return text.format(**values) if self.values else text

    def __str__(self) -> str:
        return self.said_in(SOURCE)
