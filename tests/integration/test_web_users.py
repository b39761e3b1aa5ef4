"""`campaign users` and `campaign serve`'s refusals, as a person runs them (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.builders import write_campaign

PASSWORD = "een lang genoeg wachtwoord"


def run(tmp_path: Path, *args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_") and k != "DATABASE_URL"}
    env.update(CAMPAIGN_ROOT=str(write_campaign(tmp_path / "campaign", {})), **settings)
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
    )


def test_users_add_list_and_remove_keep_only_hashes(tmp_path: Path) -> None:
    users = tmp_path / "users"
    file = {"CAMPAIGN_USERS_FILE": str(users)}
    added = run(
        tmp_path, "users", "add", "anna", "--role", "operator", "--password-stdin", stdin=PASSWORD + "\n", **file
    )
    assert added.returncode == 0, added.stderr
    assert (
        run(tmp_path, "users", "add", "vera", "--role", "viewer", "--password-stdin", stdin=PASSWORD, **file).returncode
        == 0
    )
    text = users.read_text(encoding="utf-8")
    assert PASSWORD not in text and text.count("$argon2id$") == 2
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    listed = run(tmp_path, "users", "list", **file).stdout
    assert listed.split() == ["anna", "operator", "vera", "viewer"]
    assert run(tmp_path, "users", "remove", "vera", **file).returncode == 0
    assert run(tmp_path, "users", "list", **file).stdout.split() == ["anna", "operator"]
    missing = run(tmp_path, "users", "remove", "kees", **file)
    assert missing.returncode == 1 and "no account 'kees'" in missing.stderr and "anna" in missing.stderr


def test_users_add_refuses_a_short_password_and_a_bad_name(tmp_path: Path) -> None:
    file = {"CAMPAIGN_USERS_FILE": str(tmp_path / "users")}
    short = run(tmp_path, "users", "add", "anna", "--role", "operator", "--password-stdin", stdin="kort\n", **file)
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    bad = run(tmp_path, "users", "add", "an na", "--role", "operator", "--password-stdin", stdin=PASSWORD, **file)
    assert bad.returncode == 1 and "is not a user name" in bad.stderr
    assert not (tmp_path / "users").exists()


def test_without_a_users_file_add_prints_the_line_for_campaign_users(tmp_path: Path) -> None:
    added = run(tmp_path, "users", "add", "anna", "--role", "operator", "--password-stdin", stdin=PASSWORD)
    assert added.returncode == 0
    line = added.stdout.strip()
    assert line.startswith("anna:operator:$argon2id$") and PASSWORD not in line
    assert "CAMPAIGN_USERS" in added.stderr
    assert run(tmp_path, "users", "list", CAMPAIGN_USERS=line).stdout.split() == ["anna", "operator"]


def test_serve_refuses_to_start_without_a_secret_or_an_operator(tmp_path: Path) -> None:
    no_secret = run(tmp_path, "serve", CAMPAIGN_USERS_FILE=str(tmp_path / "users"))
    assert no_secret.returncode == 1 and "CAMPAIGN_SESSION_SECRET is not set" in no_secret.stderr
    short = run(tmp_path, "serve", CAMPAIGN_SESSION_SECRET="geheim")
    assert short.returncode == 1 and "too short" in short.stderr
    no_accounts = run(tmp_path, "serve", CAMPAIGN_SESSION_SECRET="x" * 40)
    assert no_accounts.returncode == 1 and "CAMPAIGN_USERS_FILE" in no_accounts.stderr
    no_operator = run(tmp_path, "serve", CAMPAIGN_SESSION_SECRET="x" * 40, CAMPAIGN_USERS_FILE=str(tmp_path / "none"))
    assert no_operator.returncode == 1 and "campaign users add NAME --role operator" in no_operator.stderr


def test_a_broken_users_file_is_named_with_its_line(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("# accounts\nanna:admin:$argon2id$x\n", encoding="utf-8")
    broken = run(tmp_path, "users", "list", CAMPAIGN_USERS_FILE=str(users))
    assert broken.returncode == 1 and f"{users}:2:" in broken.stderr
