"""The web dashboard's commands: `serve`, and `users add|remove|list` for its accounts."""

from __future__ import annotations

import errno
import signal
import sys

import click

from scheduler.cli.app import Context, campaign_zone, main, open_ledger, pass_context, setup_logging

SECRET_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", type=int, help="Port to listen on (default: $PORT, else 8000).")
@click.option("--threads", default=8, show_default=True, help="Requests served at the same time.")
@click.option(
    "--trust-proxy",
    is_flag=False,
    flag_value="loopback",
    default=None,
    metavar="[ADDRESSES]",
    help="Believe X-Forwarded-For/-Proto/-Host from the proxy in front: alone, one on this host; else its "
    "addresses or networks, comma-separated (10.0.0.0/8). Default: $CAMPAIGN_TRUST_PROXY, else nobody.",
)
@pass_context
def serve(obj: Context, host: str, port: int | None, threads: int, trust_proxy: str | None) -> None:
    """The web dashboard: what is happening now, the calendar, and the crisis switch.

    Needs CAMPAIGN_SESSION_SECRET and at least one account (`campaign users add`).
    """
    from waitress import create_server

    from scheduler import settings
    from scheduler.errors import ConfigError
    from scheduler.web.app import MIN_SECRET, create_app
    from scheduler.web.proxy import describe, trusted_networks
    from scheduler.web.site import Site
    from scheduler.web.users import Users

    secret = settings.get("CAMPAIGN_SESSION_SECRET")
    if not secret:
        raise click.ClickException(
            "CAMPAIGN_SESSION_SECRET is not set: the dashboard signs its login cookies with it, so it will not "
            f"start without one. Make one with `{SECRET_HINT}` and keep it in the platform's secret settings."
        )
    if len(secret) < MIN_SECRET:
        raise click.ClickException(
            f"CAMPAIGN_SESSION_SECRET is too short to be safe ({len(secret)} characters; at least {MIN_SECRET}). "
            f"Make one with `{SECRET_HINT}`."
        )
    try:
        users = Users.from_env()
        if not any(u.may_act for u in users.all().values()):
            raise ConfigError(
                "no operator account yet: create the first one with `campaign users add NAME --role operator`"
            )
        hours = settings.get_int("CAMPAIGN_SESSION_HOURS")
        proxies = trusted_networks(trust_proxy if trust_proxy is not None else settings.get("CAMPAIGN_TRUST_PROXY"))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    setup_logging(None, None, campaign_zone(obj))  # times in the campaign's zone, as the daemon logs them
    from scheduler.web.signoff import guard_logs

    guard_logs()  # no sign-off link's token in any log line, the server's included
    port = port or settings.get_int("PORT")
    ledger = open_ledger(obj.root)
    app = create_app(Site(obj.root, ledger, users), secret, trust_proxy=proxies, session_hours=hours)
    try:
        # waitress: a production WSGI server in pure Python, with threads (the page polls every second).
        # It leaves forwarded headers to the app (scheduler.web.proxy decides whom to believe).
        server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="campaign",
            expose_tracebacks=False,
            clear_untrusted_proxy_headers=False,
        )
    except OSError as exc:
        ledger.close()
        taken = exc.errno == errno.EADDRINUSE
        raise click.ClickException(
            f"cannot listen on {host} port {port}: "
            + ("another program is using that port" if taken else (exc.strerror or str(exc)))
            + "; choose another with --port (or $PORT)"
            + ("" if taken else ", or another address with --host")
        ) from None
    # Only now, with the port bound: the address printed is this dashboard's.
    listening = f"http://{'[' + host + ']' if ':' in host else host}:{server.effective_port}/"
    click.echo(
        f"dashboard on {listening} (campaign {obj.root}); forwarded headers believed from: {describe(proxies)}",
        err=True,
    )
    # SIGTERM (a platform's stop) as Ctrl-C: waitress then lets the requests in flight finish.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    finally:
        ledger.close()


@main.group()
def users() -> None:
    """The web dashboard's accounts ($CAMPAIGN_USERS_FILE)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first: str = click.prompt("Password", hide_input=True)
    again: str = click.prompt("Again", hide_input=True)
    if first != again:
        raise click.ClickException("the two passwords differ; nothing was changed")
    return first


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "viewer"]), required=True, help="operator: may also act.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Add an account, or give an existing one a new password and role (it is logged out).

    The password: at least 12 characters (a few words in a row are easier to remember than
    symbols); asked twice, or read with --password-stdin. Only its argon2id hash is kept.
    """
    from scheduler import settings
    from scheduler.errors import ConfigError
    from scheduler.web.users import Role, User, Users, check_name, check_password, hash_password

    try:
        check_name(name)
        password = _read_password(password_stdin)
        check_password(password)
        new = User(name, Role(role), hash_password(password))
        if not settings.get("CAMPAIGN_USERS_FILE"):
            # A platform without a disk: the line goes into CAMPAIGN_USERS by hand.
            click.echo(new.line())
            click.echo("CAMPAIGN_USERS_FILE is not set: add the line above to CAMPAIGN_USERS", err=True)
            return
        accounts = Users.from_env()
        existing = accounts.all()
        known = name in existing
        existing[name] = new
        accounts.save(existing)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'changed' if known else 'added'} {name} ({role}) in {accounts.path}")


@users.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Remove an account; its sessions end at their next request."""
    from scheduler.errors import ConfigError
    from scheduler.web.users import Users

    try:
        accounts = Users.from_env()
        existing = accounts.all()
        if name not in existing:
            raise ConfigError(f"no account {name!r} (the accounts: {', '.join(sorted(existing)) or 'none'})")
        del existing[name]
        accounts.save(existing)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"removed {name} from {accounts.path}")


@users.command("list")
def users_list() -> None:
    """Every account and its role (never a password or hash)."""
    from scheduler.errors import ConfigError
    from scheduler.web.users import Users

    try:
        found = Users.from_env().all()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for user in sorted(found.values(), key=lambda u: u.name):
        click.echo(f"{user.name:<24} {user.role}")
    if not found:
        click.echo("no accounts yet: `campaign users add NAME --role operator`", err=True)
