"""A network's rules live in its adapter (or, without one, in the one table of such networks), and
a dry-run channel's `like:` is checked where it is written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from scheduler.channels.registry import adapter_class
from scheduler.cli.main import main
from scheduler.content import networks
from tests.builders import post, write_campaign


def validate(root: Path) -> list[str]:
    return CliRunner().invoke(main, ["--root", str(root), "validate"]).stdout.splitlines()


def test_a_misspelt_like_is_an_error_on_its_own_line_with_a_suggestion(tmp_path: Path) -> None:
    channels = "channels:\n  mastodon:\n    type: dryrun\n    like: mastodn\n"
    write_campaign(tmp_path, {"a.md": post(publish_at="2027-11-15 09:00")}, channels=channels)
    [problem] = validate(tmp_path)
    assert problem.startswith("channels.yml:4: error: like: unknown channel type 'mastodn'; did you mean 'mastodon'?")


def test_a_misspelt_type_is_an_error_on_its_line_with_a_suggestion(tmp_path: Path) -> None:
    channels = "channels:\n  mastodon:\n    type: mastodn\n"
    write_campaign(tmp_path, {"a.md": post(publish_at="2027-11-15 09:00")}, channels=channels)
    [problem] = validate(tmp_path)
    assert problem.startswith("channels.yml:3: error: unknown channel type 'mastodn'; did you mean 'mastodon'?")


def test_like_may_name_a_network_without_an_adapter_and_takes_its_rules(tmp_path: Path) -> None:
    channels = "channels:\n  mastodon: {type: dryrun, like: x}\n"
    write_campaign(tmp_path, {"a.md": post("a" * 281, publish_at="2027-11-15 09:00")}, channels=channels)
    [problem] = validate(tmp_path)
    assert problem.startswith("posts/a.md:4: error: mastodon: text is 281 weighted characters, over the limit of 280;")


def test_every_installed_adapter_owns_its_limits_and_no_table_repeats_them() -> None:
    settings = {"max_characters": 1000}
    for type_name in networks.publishing_types():
        limits = networks.limits_for(type_name, settings)
        assert limits.network == type_name
        assert replace(limits, network="") == adapter_class(type_name).limits(settings)
    assert networks.limits_for("dryrun", {"like": "telegram"}).network == "telegram"  # the preview shows it so
    # When an adapter for X or Facebook lands, its entry in the table of networks without one goes.
    assert not set(networks.WITHOUT_ADAPTER) & networks.publishing_types()
