"""The starter's stand-in values that must not go out: `campaign new` writes a made-up helpline so
the example posts render; a post about to be planned that still carries it is warned about, where
the value was written (the post itself, or the `vars:` it came from)."""

from __future__ import annotations

from scheduler.content.drafts import Draft
from scheduler.content.problems import Problem, warning
from scheduler.words import N_, Said

STARTER_HELPLINE = "0800-0000"  # not a real number in the Netherlands or the UK


def placeholder_warnings(draft: Draft, source: str, where: tuple[str, int], text: str) -> list[Problem]:
    """A warning if the rendered `text` still has the starter's helpline; `where` is the body's
    file and first line, used when the number is written in the post itself."""
    if draft.draft or STARTER_HELPLINE not in text:  # a draft is not planned: it may keep it for now
        return []
    if STARTER_HELPLINE not in source and any(STARTER_HELPLINE in str(v) for v in draft.vars.values()):
        where = draft.line_of("vars")
    message = Said.of(
        N_(
            "the helpline {number} is the starter's placeholder, not a real number; "
            "write your own in vars: helpline in posts/_defaults.yml before this post goes out"
        ),
        number=STARTER_HELPLINE,
    )
    return [warning(where[0], where[1], message)]
