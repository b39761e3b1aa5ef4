"""The dashboard's words by key, in the campaign's language (the catalogs of scheduler.words)."""
# ruff: noqa: E501  (a table of messages: one line each, as a translator reads them)

from __future__ import annotations

from functools import cache

from scheduler.words import N_, translator

MESSAGES = {
    "now": N_("Now"),
    "calendar": N_("Calendar"),
    "subscribe": N_("In your calendar app"),
    "subscribe_help": N_(
        "Subscribe to this address to see every send in Outlook, Google or Apple Calendar. It is yours alone: anyone who has it sees the calendar (nothing else). Changing your password ends it."
    ),
    "download_ics": N_("Download (.ics)"),
    "log_in": N_("Log in"),
    "log_out": N_("Log out"),
    "username": N_("Name"),
    "password": N_("Password"),
    "wrong_login": N_("Wrong name or password."),
    "throttled": N_("Too many failed logins. Try again in {minutes} minutes."),
    "signed_in_as": N_("Signed in as"),
    "viewer": N_("viewer"),
    "operator": N_("operator"),
    "sending": N_("Sending as planned."),
    "pause_everything": N_("Pause everything"),
    "pause_what": N_("What to pause"),
    "everything": N_("everything"),
    "reason": N_("Reason (required)"),
    "reason_optional": N_("Reason (kept in the history)"),
    "confirm_pause": N_("Yes, pause now"),
    "resume": N_("Resume"),
    "resume_everything": N_("Resume everything"),
    "needs_a_person": N_("Needs a person"),
    "nothing_needs_a_person": N_("Nothing needs a person."),
    "next_sends": N_("Next sends"),
    "nothing_next": N_("Nothing is planned in the ledger (a running daemon puts the posts of the files there)."),
    "out_today": N_("Out today"),
    "nothing_today": N_("Nothing went out today yet."),
    "recent_actions": N_("Done by hand"),
    "no_actions": N_("Nothing done by hand yet."),
    "retry": N_("Send again now"),
    "resolve_published": N_("It is out: its URL"),
    "mark_published": N_("Mark as published"),
    "mark_not_published": N_("It is not out"),
    "fix_file": N_("Settled by fixing the file, or by the text changing; then it goes at its time."),
    "in_doubt_help": N_("It may be out: check the account, then say so."),
    "failed_help": N_("Send it again once the cause is fixed."),
    "missed_help": N_("Its time passed while nothing could send it."),
    "in_doubt_help_viewer": N_("It may be out: an operator checks the account and says so here."),
    "failed_help_viewer": N_("An operator can send it again once the cause is fixed."),
    "missed_help_viewer": N_("Its time passed while nothing could send it; an operator can send it now."),
    "as_recorded": N_("As recorded"),
    "confirm_resume": N_("Yes, resume now"),
    "state_pending": N_("pending"),
    "state_sending": N_("sending"),
    "state_retry": N_("retrying"),
    "state_published": N_("sent"),
    "state_failed": N_("failed"),
    "state_in_doubt": N_("in doubt"),
    "state_missed": N_("missed"),
    "state_held": N_("held"),
    "state_cancelled": N_("cancelled"),
    "post": N_("Post"),
    "channel": N_("Channel"),
    "attempts": N_("Attempts"),
    "no_attempts": N_("No attempts yet."),
    "as_it_goes_out": N_("As it goes out"),
    "not_in_plan": N_("This post is not in the files (any more)."),
    "unknown_post": N_("No post with that name."),
    "done_pause": N_("Paused {what}."),
    "done_resume": N_("Resumed {what}."),
    "nothing_paused": N_("Nothing was paused."),
    "done_retry": N_("{post} is due now on {channels}."),
    "no_retry": N_("{post} has no failed or missed send there."),
    "done_resolve": N_("{post} on {channel} is settled."),
    "no_resolve": N_("{post} on {channel} is not in doubt."),
    "need_reason": N_("A pause needs a reason."),
    "unknown_channel": N_("There is no channel {channel}."),
    "bad_url": N_("Give the post's address on the network (https://…)."),
    "forbidden": N_("Viewers may look, not act: ask an operator."),
    "refused": N_("This form had expired or came from elsewhere. Reload the page and try again."),
    "not_found": N_("There is no such page."),
    "times_in": N_("Times in"),
    "months": N_("Months"),
    "live_lost": N_("The page lost its connection; reload it."),
    "accounts_broken": N_("The accounts file cannot be read, so nobody can log in; the server's log says which line."),
    "ledger_away": N_(
        "The ledger (the database) cannot be reached just now. Nothing was changed; try again in a minute."
    ),
    "plan_pending": N_(
        "The calendar is being prepared from the files; reload this page in a few seconds. Now and the pause button work meanwhile."
    ),
    "changed_after_publishing": N_("changed after publishing"),
    "changed_help": N_(
        "Its file changed after it went out; it is never sent again. Edit the post on the network if it must change."
    ),
    "broken_file": N_("broken file"),
    "broken_help": N_(
        "The sends it touches are held, nothing is cancelled; fixing the file releases them at their time."
    ),
    "cannot_be_planned": N_("cannot be planned"),
    "unplanned_help": N_("It is not sent. Fix the file and it goes out at its time."),
    "unplanned_at": N_("held at"),
    "unplanned_no_time": N_("no time or channel can be read from it"),
    "waiting_signoff": N_("Waiting for sign-off"),
    "signoff_help": N_(
        "Each goes out only once everyone named approved its exact text; `campaign signoff request POST --for NAME` makes the link to send them."
    ),
    "signoff_title": N_("Approval"),
    "signoff_intro": N_(
        "{person}, this is the post exactly as it will go out, on each network. It goes out only with your approval; if anything in it changes, you are asked again."
    ),
    "signoff_approve": N_("Approve"),
    "signoff_decline": N_("Not like this"),
    "signoff_note": N_("Not like this: what should be different?"),
    "signoff_thanks": N_("Thank you: your approval of this text is recorded."),
    "signoff_noted": N_("Thank you: the team has your note. This text does not go out."),
    "signoff_need_note": N_("Write what should be different, then press Not like this again."),
    "signoff_changed_meanwhile": N_("The text changed while this page was open. Read it again below, then answer."),
    "signoff_was_approved": N_("You approved this text on {when}."),
    "signoff_was_changed": N_(
        "The text changed since you approved it on {when}. Read it again: it goes out only once you approve this version."
    ),
    "signoff_was_declined": N_("On {when} you wrote: {note}"),
    "signoff_what_changed": N_("What changed since you approved it"),
    "signoff_gone": N_("This link does not work (any more). Ask the person who sent it for a new one."),
    "signoff_nothing": N_("There is nothing to approve with this link just now. Ask the person who sent it."),
    "signoff_throttled": N_("Too many requests from here. Try again in a quarter of an hour."),
}


@cache
def words(language: str) -> dict[str, str]:
    """Key → the words in `language` (English where its catalog has none)."""
    gettext = translator(language).gettext
    return {key: gettext(message) for key, message in MESSAGES.items()}
