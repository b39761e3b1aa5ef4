"""A token given to a channel appears nowhere: not in logs, errors, status, history or the database,
even when the network echoes it back in an error."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from tests.fakes.bluesky_server import FakePDS
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.telegram_server import FakeTelegram
from tests.fakes.webhook_server import FakeWebhook
from tests.integration.daemon_helpers import campaign, now, states, write

SENTINEL = "SENTINEL-TOKEN-9f3a77c1"


def test_sentinel_token_never_leaves_the_process_even_when_servers_echo_it(tmp_path: Path) -> None:
    with (
        FakeMastodon(token="the-right-token") as masto,
        FakeTelegram(token="123:right") as telegram,
        FakeWebhook(flavor="json", secret="other-secret") as hook,
        FakePDS(password="right-pass") as pds,
    ):
        channels = (
            "channels:\n"
            f"  masto: {{type: mastodon, instance: '{masto.url}', token: '${{MASTO_TOKEN}}'}}\n"
            f"  tg: {{type: telegram, api: '{telegram.url}', token: '${{TG_TOKEN}}', chat_id: '@campagne'}}\n"
            f"  hook: {{type: webhook, format: json, url: '{hook.url}', secret: '${{HOOK_SECRET}}'}}\n"
            f"  sky: {{type: bluesky, pds: '{pds.url}', handle: campagne.test, app_password: '${{SKY_PASSWORD}}'}}\n"
        )
        write(
            tmp_path,
            {"p": (now() - timedelta(minutes=1), "Een bericht.")},
            channels=channels,
            default_channels="[masto, tg, hook, sky]",
        )
        secrets = {
            "MASTO_TOKEN": SENTINEL,
            "TG_TOKEN": f"999:{SENTINEL}",
            "HOOK_SECRET": SENTINEL,
            "SKY_PASSWORD": SENTINEL,
        }
        run = campaign(tmp_path, "run", "--once", "--log-level", "DEBUG", env=secrets)
        check = campaign(tmp_path, "channels", "check", env=secrets)
        status = campaign(tmp_path, "status", "--format", "json")
        text_status = campaign(tmp_path, "status")
        history = campaign(tmp_path, "history")
    assert run.returncode == 0, run.stderr
    assert set(states(tmp_path).values()) == {"failed"}  # every server refused the credentials
    assert check.returncode == 1 and "token rejected" in check.stdout
    dump = "\n".join(sqlite3.connect(tmp_path / "campaign.db").iterdump())
    for output in (
        run.stdout,
        run.stderr,
        check.stdout,
        check.stderr,
        status.stdout,
        text_status.stdout,
        history.stdout,
        dump,
    ):
        assert SENTINEL not in output
    assert "HTTP 401" in dump  # the networks' answers are kept, without the secret
