"""The daemon's look at a send's links just before it goes out.

It never delays a send by more than `budget` seconds (a few): a link not answered by then, or
that fails for a reason that says nothing about the page (a timeout, a name that does not
resolve, TLS, a 5xx, a bot wall, an address inside this network that is not fetched), is noted
and the send goes out: a slow network must not stop a campaign. A dead link (404, 410, most 4xx)
holds the send under `link_check: hold` (the default) and goes out with an alert under
`link_check: warn`; `link_check: off` fetches nothing. Results are remembered for a minute, so a
thread or one post on four channels is fetched once.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.links.checker import Checker, Kind
from scheduler.links.found import urls_of
from scheduler.posts import RenderedPost

BUDGET = 3.0  # seconds: the most a check may delay a send
REMEMBER = 60.0  # seconds a URL's result is kept


@dataclass(frozen=True)
class Verdict:
    """What the links of one send mean for it."""

    hold: str | None = None  # why it must wait for a person (its dead links)
    alert: str | None = None  # it goes out, but a person should know (dead links under `warn`)
    notes: tuple[str, ...] = ()  # to log: links that could not be checked, or lead elsewhere


class Gate:
    """Checks sends' links with one `Checker` (shared by the daemon's send threads)."""

    def __init__(self, checker: Checker | None = None, budget: float = BUDGET) -> None:
        self.checker = checker or Checker(timeout=budget, remember=REMEMBER)
        self.budget = budget

    def before_send(self, post: RenderedPost) -> Verdict:
        if post.link_check == "off":
            return Verdict()
        links = urls_of(post)
        if not links:
            return Verdict()
        results = self.checker.check(links, budget=self.budget)
        dead = [r.describe() for r in results.values() if r.kind is Kind.DEAD]
        notes = tuple(
            f"{r.describe()}; it goes out anyway" if r.kind in (Kind.FAILING, Kind.REFUSED) else r.describe()
            for r in results.values()
            if r.kind in (Kind.FAILING, Kind.REFUSED, Kind.REDIRECTED)
        )
        if not dead:
            return Verdict(notes=notes)
        if post.link_check == "warn":
            return Verdict(alert="; ".join(dead) + "; it goes out anyway (link_check: warn)", notes=notes)
        return Verdict(hold="; ".join(dead), notes=notes)

    def close(self) -> None:
        self.checker.close()
