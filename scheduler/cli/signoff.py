"""`campaign signoff`: ask a person to approve a post's exact text (a link), end links, and list where
each post that needs sign-off stands and what happened to it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from scheduler.cli.app import (
    Context,
    campaign_zone,
    current_actor,
    main,
    make_publisher,
    now,
    open_ledger,
    pass_context,
)
from scheduler.terminal import in_json, shown
from scheduler.times import local_time

if TYPE_CHECKING:
    from datetime import datetime, tzinfo

    from scheduler.content.drafts import Draft
    from scheduler.content.plan import Plan
    from scheduler.publish.ledger import Ledger


@main.group()
def signoff() -> None:
    """Sign-off: a post with `signoff:` goes out only once the people it names approved its exact text."""


def _draft(plan: Plan, post: str) -> Draft:
    from scheduler.content.problems import did_you_mean

    found = next((d for d in plan.drafts if d.id == post), None)
    if found is None:
        known = sorted({d.id for d in plan.drafts})
        raise click.ClickException(f"no post {post!r}{did_you_mean(post, known)}; `campaign preview` lists the posts")
    if not found.signoff:
        raise click.ClickException(
            f"{found.path} has no `signoff:`, so it needs no approval; add `signoff: [NAME]` to its front matter first"
        )
    return found


def link(token: str) -> str:
    """The sign-off page's address for `token` (CAMPAIGN_PUBLIC_URL), or its path alone."""
    from scheduler import settings

    base = settings.get("CAMPAIGN_PUBLIC_URL").rstrip("/")
    return f"{base}/signoff/{token}"


@signoff.command("request")
@click.argument("post")
@click.option("--for", "person", required=True, metavar="NAME", help="Who approves: a name the post's signoff: has.")
@click.option("--expires", default="14 days", show_default=True, help="How long the link works (e.g. 14d, 3 days).")
@pass_context
def request(obj: Context, post: str, person: str, expires: str) -> None:
    """Make a link for NAME to approve POST's exact text; print it (send it yourself: mail, chat)."""
    from scheduler import settings
    from scheduler.content.fields import TEAM

    try:
        lasts = settings.parse_duration(_days(expires))
    except ValueError:
        raise click.ClickException(f"--expires {expires}: use a duration such as 14d, 3 days or 12 hours") from None
    plan = obj.plan()
    draft = _draft(plan, post)
    if draft.signoff == (TEAM,):
        _operator(draft.path, person)
    elif person not in draft.signoff:
        raise click.ClickException(
            f"{draft.path} asks sign-off of {', '.join(draft.signoff)}, not of {person!r}; "
            "add the name to its `signoff:` first"
        )
    ledger = open_ledger(obj.root)
    _, publisher = make_publisher(obj, ledger)
    at = publisher.clock.now()
    publisher.sync(plan, at)  # the page shows what the ledger would send: the files as they are now
    token, made = ledger.signoffs.request(draft.id, person, at, at + lasts, current_actor().who)
    zone = plan.campaign.settings.timezone
    click.echo(f"a link for {person} to approve {draft.id} ({draft.path}), until {local_time(made.expires_at, zone)}:")
    click.echo(link(token))
    if not settings.get("CAMPAIGN_PUBLIC_URL"):
        click.echo(
            "note: CAMPAIGN_PUBLIC_URL is not set, so the link has no address in front; set it to the "
            "dashboard's address (https://...) as people reach it, and put that in front of the path",
            err=True,
        )
    click.echo("anyone with the link can approve this post as that person: send it to them alone", err=True)


def _operator(path: str, person: str) -> None:
    """`signoff: team` is approved by an operator of the dashboard: `person` must be one."""
    from scheduler.errors import ConfigError
    from scheduler.web.users import Users

    try:
        found = Users.from_env().get(person)
    except ConfigError as exc:
        raise click.ClickException(f"{path} asks sign-off of an operator (signoff: team), but {exc}") from None
    if found is None or not found.may_act:
        raise click.ClickException(
            f"{path} asks sign-off of an operator (signoff: team); {person!r} is not an operator's account "
            "(`campaign users list` shows them)"
        )


def _days(value: str) -> str:
    """`14d` as `14 days` (and `12h`, `30m`), for the settings' duration reader."""
    value = value.strip()
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    if value[:-1].isdigit() and value[-1:] in units:
        return f"{value[:-1]} {units[value[-1]]}"
    return value


@signoff.command("revoke")
@click.argument("post")
@click.option("--for", "person", metavar="NAME", help="Only NAME's links (default: every link of the post).")
@pass_context
def revoke(obj: Context, post: str, person: str | None) -> None:
    """End POST's sign-off links at once (an approval already given stands)."""
    ledger = open_ledger(obj.root)
    ended = ledger.signoffs.revoke(post, person, now())
    whose = f" for {person}" if person else ""
    click.echo(f"{ended} link(s) of {post}{whose} ended" if ended else f"no working link of {post}{whose} to end")


@signoff.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@pass_context
def status(obj: Context, fmt: str) -> None:
    """Every post that needs sign-off: approved, or why it waits (for whom since when, changed, declined)."""
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    standings = ledger.signoffs.standings()
    if fmt == "json":
        records = [
            {
                "post": s.post,
                "path": s.path,
                "due": s.due.astimezone(zone).isoformat(),
                "needs": list(s.needs),
                "approved": s.reason is None,
                "approved_by": list(s.approved_by),
                "reason": s.reason,
                "fingerprint": s.fingerprint,
                "state": s.state.state,  # approved | waiting | changed | declined
                "people": s.state.record()["people"],  # each person's answer (preview --format json has the same)
            }
            for s in standings
        ]
        click.echo(in_json(json.dumps(records, ensure_ascii=False, indent=2)))
        return
    if not standings:
        click.echo("no post waits for sign-off (the daemon or `campaign signoff request` brings new ones in)")
    for s in standings:
        click.echo(f"{local_time(s.due, zone)}  {s.post}  {shown(str(s.state.said(zone, s.post)))}")


@signoff.command("history")
@click.argument("post")
@pass_context
def history(obj: Context, post: str) -> None:
    """Every link, approval, decline and void of POST, oldest first."""
    zone = campaign_zone(obj)
    ledger = open_ledger(obj.root)
    found = events(ledger, post, zone)
    if not found:
        click.echo(f"no sign-off of {post} yet")
    for at, line in found:
        click.echo(f"{local_time(at, zone)}  {line}")


def events(ledger: Ledger, post: str, zone: tzinfo) -> list[tuple[datetime, str]]:
    """Every link made and revoked, approval, decline (with its note) and void of `post`, oldest first, as
    lines for people (also in `campaign history POST`)."""
    from scheduler.signoff.fingerprint import short

    found = []
    for r in ledger.signoffs.requests_of(post):
        found.append((r.made_at, f"link for {r.person} made by {r.made_by}, until {local_time(r.expires_at, zone)}"))
        if r.revoked_at is not None:
            found.append((r.revoked_at, f"link for {r.person} revoked"))
    for d in ledger.signoffs.decisions_of(post):
        if d.decision == "voided":
            found.append((d.at, f"approval by {d.person} voided: what goes out changed ({d.note})"))
            continue
        note = f": {shown(d.note)}" if d.note else ""
        found.append((d.at, f"{d.decision} by {d.person} (text {short(d.fingerprint)}){note}"))
    return sorted(found, key=lambda e: e[0])
