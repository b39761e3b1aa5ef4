"""What operators do from the dashboard: pause, resume, retry, resolve. Each is a POST with a CSRF token
(checked by Flask-WTF before any of this runs), refused with 403 for viewers, and done through the same
ledger methods as the CLI's commands, recorded with the web user's name."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, request
from flask.typing import ResponseReturnValue

from scheduler.web.site import local_path, operator_only, site, user
from scheduler.web.words import words

blueprint = Blueprint("actions", __name__)
MAX_REASON = 500


def _back() -> ResponseReturnValue:
    return redirect(local_path(request.form.get("next")), code=303)


def _say(key: str, good: bool = True, **values: str) -> None:
    flash(words(g.campaign.settings.language)[key].format(**values), "ok" if good else "error")


def _reason() -> str | None:
    reason = " ".join(request.form.get("reason", "").split())[:MAX_REASON]
    return reason or None


def _channel() -> str | None:
    """The form's channel: None for everything; "" when it names no channel of channels.yml."""
    channel = request.form.get("channel", "").strip()
    if channel in ("", "*"):
        return None
    return channel if channel in g.campaign.channels else ""


@blueprint.route("/pause", methods=["POST"])
@operator_only
def pause() -> ResponseReturnValue:
    channel, reason = _channel(), _reason()
    if channel == "":
        _say("unknown_channel", False, channel=request.form.get("channel", ""))
    elif reason is None:
        _say("need_reason", False)
    else:
        ledger = site().ledger
        ledger.operators.pause(channel or "*", reason, ledger.clock(), site().actor(user()))
        _say("done_pause", what=channel or words(g.campaign.settings.language)["everything"])
    return _back()


@blueprint.route("/resume", methods=["POST"])
@operator_only
def resume() -> ResponseReturnValue:
    channel = request.form.get("channel", "").strip() or None
    ledger = site().ledger
    lifted = ledger.operators.resume(channel, ledger.clock(), site().actor(user()), _reason())
    if lifted:
        everything = words(g.campaign.settings.language)["everything"]
        _say("done_resume", what=", ".join(everything if p.scope == "*" else p.scope for p in lifted))
    else:
        _say("nothing_paused", False)
    return _back()


@blueprint.route("/retry", methods=["POST"])
@operator_only
def retry() -> ResponseReturnValue:
    post = request.form.get("post", "").strip()
    channel = request.form.get("channel", "").strip() or None
    ledger = site().ledger
    done = ledger.operators.retry_now(post, channel, ledger.clock(), site().actor(user()), _reason())
    if done:
        _say("done_retry", post=post, channels=", ".join(done))
    else:
        _say("no_retry", False, post=post)
    return _back()


@blueprint.route("/resolve", methods=["POST"])
@operator_only
def resolve() -> ResponseReturnValue:
    post, channel = request.form.get("post", "").strip(), request.form.get("channel", "").strip()
    url = request.form.get("url", "").strip() if request.form.get("outcome") == "published" else None
    if url is not None and not url.startswith(("https://", "http://")):
        _say("bad_url", False)
        return _back()
    ledger = site().ledger
    if ledger.operators.resolve(post, channel, url, ledger.clock(), site().actor(user()), _reason()):
        _say("done_resolve", post=post, channel=channel)
    else:
        _say("no_resolve", False, post=post, channel=channel)
    return _back()
