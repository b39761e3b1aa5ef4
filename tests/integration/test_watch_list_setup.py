"""Issue #16, item 6: the safety net for a reply like "ik word geslagen" is there from `campaign new`
on, and a campaign whose replies are read without a watch list is told so once: a warning in
`validate` and `status`, one log line of the daemon (not one every 30 seconds)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.builders import run_campaign
from tests.fakes.mastodon_server import TOKEN, FakeMastodon
from tests.integration.daemon_helpers import campaign, daemon, ledger, soon, wait_for, write

REPO = Path(__file__).resolve().parents[2]
REAL_MASTODON = """\
  mastodon:
    type: mastodon
    instance: https://mastodon.example
    token: ${MASTODON_TOKEN}
"""


def new(folder: Path, language: str) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "scheduler", "new", str(folder), "--language", language, "--week", "2028-11-13"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert "wrote watchlist.yml" in made.stdout
    defaults = folder / "posts" / "_defaults.yml"  # the team's own helpline instead of the starter's placeholder
    defaults.write_text(defaults.read_text(encoding="utf-8").replace("0800-0000", "0800-2000"), encoding="utf-8")


def on_a_real_network(root: Path) -> None:
    """channels.yml with its Mastodon channel connected: from then on its replies are read."""
    path = root / "channels.yml"
    text = path.read_text(encoding="utf-8")
    dry = "  mastodon:\n    type: dryrun\n    like: mastodon\n"
    assert dry in text
    path.write_text(text.replace(dry, REAL_MASTODON, 1), encoding="utf-8")


def phrases(path: Path) -> list[str]:
    return list(yaml.safe_load(path.read_text(encoding="utf-8"))["phrases"])


def warnings_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": warning: " in line]


def test_campaign_new_writes_a_watch_list_in_the_campaign_s_language(tmp_path: Path) -> None:
    new(tmp_path / "nl", "nl")
    new(tmp_path / "de", "de")
    dutch = phrases(tmp_path / "nl" / "watchlist.yml")
    assert dutch == phrases(REPO / "watchlist.yml") and "ik word*" in dutch  # the sample's list
    english = phrases(tmp_path / "de" / "watchlist.yml")  # other languages: the English one
    assert "help" in english and "i am scared" in english and "ik word*" not in english

    root = tmp_path / "nl"
    on_a_real_network(root)
    checked = run_campaign(root, "validate")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert warnings_of(checked) == []  # the list is there: nothing to warn about
    assert "0 warnings" in checked.stderr


def test_a_missing_or_empty_watch_list_is_one_warning_in_validate_and_status(tmp_path: Path) -> None:
    root = tmp_path / "c"
    new(root, "nl")
    (root / "watchlist.yml").unlink()
    assert warnings_of(run_campaign(root, "validate")) == []  # dry-run channels read no replies

    on_a_real_network(root)
    checked = run_campaign(root, "validate")
    assert checked.returncode == 0
    [said] = warnings_of(checked)
    assert said.startswith("watchlist.yml:0: warning: there is no watch list: ")
    assert "none raises an alert" in said and "`phrases:`" in said

    (root / "watchlist.yml").write_text("phrases: []\n", encoding="utf-8")
    [said] = warnings_of(run_campaign(root, "validate"))
    assert said.startswith("watchlist.yml:0: warning: the watch list has no phrases: ")

    status = campaign(root, "status")
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("watch list: watchlist.yml:0: warning: the watch list has no phrases") == 1


def test_the_daemon_says_a_missing_watch_list_once_not_at_every_read(tmp_path: Path) -> None:
    with FakeMastodon() as masto:
        channels = f"channels:\n  masto: {{type: mastodon, instance: '{masto.url}', token: '${{MASTODON_TOKEN}}'}}\n"
        write(tmp_path, {"p": (soon(1), "Doorbreek de stilte.")}, channels=channels, default_channels="[masto]")
        env = {
            "MASTODON_TOKEN": TOKEN,
            "CAMPAIGN_RESULT_AGES": "1 second, 2 seconds, 3 seconds, 4 seconds",
            "CAMPAIGN_COLLECT_EVERY": "1 second",
        }
        proc = daemon(tmp_path, **env)
        try:
            assert wait_for(lambda: bool(masto.statuses), timeout=30)  # published: the ledger is there
            book = ledger(tmp_path)
            try:  # four counts at four ages: the collector has made at least four passes
                assert wait_for(lambda: len(book.results.snapshots()) >= 4, timeout=60)
            finally:
                book.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    said = [line for line in err.splitlines() if "watchlist.yml" in line]
    assert len(said) == 1, said
    assert "there is no watch list" in said[0]


def test_a_rehearsed_year_without_a_watch_list_says_so_once(tmp_path: Path) -> None:
    root = tmp_path / "c"
    new(root, "nl")
    on_a_real_network(root)
    (root / "watchlist.yml").unlink()
    rehearsed = run_campaign(root, "rehearse", "--from", "2028-11-01")
    assert rehearsed.returncode == 0, rehearsed.stderr
    said = [line for line in rehearsed.stderr.splitlines() if "watchlist.yml" in line]
    assert len(said) == 1, said  # the plan's warning, once; the collector's passes add none
    assert "there is no watch list" in said[0]
