"""`campaign validate --check-links`: every link of the plan, fetched once, as problems.

A dead, failing or refused (an address inside this network) link is an error on the line where it
is written (a warning for a post with `link_check: warn`); a link that ends on another site is a
warning; `link_check: off` is not looked at. Drafts are checked too: they are posts, and validate
checks everything else of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.content.drafts import Draft
from scheduler.content.plan import Plan
from scheduler.content.problems import Problem, error, sort_problems, warning
from scheduler.links.checker import Checker, Kind
from scheduler.links.found import Places, urls_of

BUDGET = 120.0  # seconds for every link of a campaign together
TIMEOUT = 10.0  # seconds for one link, its redirects included


@dataclass(frozen=True)
class Checked:
    problems: list[Problem]
    links: int  # distinct URLs looked at
    bad: int  # of which dead or failing


def check_plan(plan: Plan, checker: Checker, budget: float = BUDGET) -> Checked:
    """Fetch every distinct link of `plan` once; the problems, with the file and line of each."""
    users: dict[str, dict[tuple[str, str], tuple[Draft, str]]] = {}
    for entry in plan.entries:
        post = entry.post
        if post is None or post.link_check == "off":
            continue
        for url in urls_of(post):
            users.setdefault(url, {})[(entry.draft.path, post.link_check)] = (entry.draft, post.link_check)
    results = checker.check(users, budget=budget)
    places = Places(plan.campaign.root)
    found: set[Problem] = set()
    bad = 0
    for url, result in results.items():
        if result.kind is Kind.OK:
            continue
        bad += result.kind in (Kind.DEAD, Kind.FAILING, Kind.REFUSED)
        for draft, mode in users[url].values():
            path, line = places.of(draft, url)
            serious = result.kind is not Kind.REDIRECTED and mode == "hold"
            found.add((error if serious else warning)(path, line, result.describe()))
    return Checked(sort_problems(found), len(results), bad)
