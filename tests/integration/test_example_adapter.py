"""The example adapter of docs/adapters.md, taken from the page itself: it passes the conformance
suite with the page's own test code, and registered through an entry point as the page says, the
real `campaign` publishes through it."""

from __future__ import annotations

import re
import sys
import tomllib
import types
from datetime import timedelta
from pathlib import Path
from typing import Any

from scheduler.channels.base import Channel
from tests.fakes import notes_server
from tests.fakes.notes_server import FakeNotes
from tests.integration.daemon_helpers import campaign, now, states, write

DOCS = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"


def block(first_line: str) -> str:
    """The code block of docs/adapters.md that begins with `first_line`."""
    found = re.search(rf"```(?:python|toml)\n({re.escape(first_line)}\n.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert found is not None, f"docs/adapters.md has no code block beginning with {first_line!r}"
    return found.group(1)


def module(name: str, source: str, **names: Any) -> types.ModuleType:
    made = types.ModuleType(name)
    made.__dict__.update(names)
    exec(compile(source, f"docs/adapters.md ({name})", "exec"), made.__dict__)
    return made


ADAPTER_SOURCE = block("# notes_channel.py")
notes_channel = module("notes_channel", ADAPTER_SOURCE)
NotesChannel: type[Channel] = notes_channel.NotesChannel
# The page's test imports the adapter and its server by the names an author would have.
sys.modules.setdefault("notes_channel", notes_channel)
sys.modules.setdefault("tests.fake_notes", notes_server)
TestNotes = module("test_notes_conformance", block("# tests/test_notes_conformance.py")).TestNotes


def test_the_example_registered_by_entry_point_publishes_through_the_real_daemon(tmp_path: Path) -> None:
    # An installed distribution, as `pip install ./campaign-notes` leaves one: its module and its
    # dist-info with the entry point the page shows.
    site = tmp_path / "site"
    info = site / "campaign_notes-0.1.dist-info"
    info.mkdir(parents=True)
    (site / "notes_channel.py").write_text(ADAPTER_SOURCE, encoding="utf-8")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: campaign-notes\nVersion: 0.1\n", encoding="utf-8")
    points = tomllib.loads(block('[project.entry-points."campaign_scheduler.channels"]'))["project"]["entry-points"]
    lines = [f"{name} = {value}" for name, value in points["campaign_scheduler.channels"].items()]
    (info / "entry_points.txt").write_text(
        "[campaign_scheduler.channels]\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    root = tmp_path / "campaign"
    with FakeNotes(token="notes-secret-0c4f") as server:
        write(
            root,
            {"p": (now() - timedelta(minutes=1), "Praat erover.")},
            channels=f'channels:\n  notes-nl: {{type: notes, api: "{server.url}", token: "${{NOTES_TOKEN}}"}}\n',
            default_channels="[notes-nl]",
        )
        env = {"NOTES_TOKEN": "notes-secret-0c4f", "PYTHONPATH": str(site)}
        checked = campaign(root, "validate", env=env)
        run = campaign(root, "run", "--once", env=env)
        check = campaign(root, "channels", "check", env=env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert run.returncode == 0, run.stderr
        assert check.returncode == 0 and "posts as campagne" in check.stdout, check.stdout + check.stderr
        assert [note["text"] for note in server.notes] == ["Praat erover."]
    assert states(root) == {("p", "notes-nl"): "published"}
    for output in (run.stdout, run.stderr, check.stdout, check.stderr):
        assert "notes-secret-0c4f" not in output


def test_an_installed_adapter_that_cannot_be_imported_is_named_not_a_traceback(tmp_path: Path) -> None:
    # A plug-in whose entry point names a module that is gone (a half-uninstalled package).
    site = tmp_path / "site"
    info = site / "campaign_gone-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: campaign-gone\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[campaign_scheduler.channels]\ngone = gone_channel:GoneChannel\n")
    root = tmp_path / "campaign"
    write(
        root,
        {"p": (now() + timedelta(days=1), "Praat erover.")},
        channels="channels:\n  weg: {type: gone}\n",
        default_channels="[weg]",
    )
    checked = campaign(root, "validate", env={"PYTHONPATH": str(site)})
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stderr
    assert "'gone'" in checked.stdout + checked.stderr and "gone_channel:GoneChannel" in checked.stdout + checked.stderr
