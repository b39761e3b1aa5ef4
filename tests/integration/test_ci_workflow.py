"""The shell steps of .github/workflows/campaign-preview.yml, run as GitHub runs them, on a pull request."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders import post, write_campaign

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "campaign-preview.yml"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.org",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def steps() -> dict[str, dict[str, Any]]:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return {step.get("name") or step["uses"]: step for step in workflow["jobs"]["preview"]["steps"]}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A clone on a pull-request branch that adds a broken post to a campaign in a subfolder."""
    origin = tmp_path / "origin"
    campaign = origin / "campagnes" / "wtk"
    campaign.mkdir(parents=True)
    git(origin, "init", "-q", "-b", "main")
    write_campaign(campaign, {"goed.md": post("Goed.", publish_at="2027-11-15 09:00", channels="[nergens]")})
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "base, with a problem the pull request does not touch")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "-b", "pr")
    new = clone / "campagnes" / "wtk" / "posts" / "nieuw, met komma.md"
    new.write_text(post("Nieuw.", publish_at="2027-11-16 09:00", channels="[nergens]"), encoding="utf-8")
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "a new post")
    return clone


def run_step(name: str, checkout: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    step = steps()[name]
    workflow_env = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["env"]
    env = {
        **os.environ,
        **GIT_ENV,
        **workflow_env,
        "CAMPAIGN_ROOT": "campagnes/wtk",
        "GITHUB_BASE_REF": "main",
        "GITHUB_WORKSPACE": str(checkout),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "RUNNER_TEMP": str(tmp_path),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=checkout, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_annotations_only_for_changed_files_with_paths_from_the_repository_root(checkout: Path, tmp_path: Path) -> None:
    result = run_step("Validate (annotations on the files this pull request changes)", checkout, tmp_path)

    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith("::")] == [
        "::error file=campagnes/wtk/posts/nieuw%2C met komma.md,line=3,title=campaign validate::"
        "unknown channel 'nergens' (channels.yml has bluesky, mastodon)"
    ]
    assert "error: file=posts/goed.md,line=3,title=campaign validate::unknown channel 'nergens'" in result.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_summaries_and_the_calendar_artifact(checkout: Path, tmp_path: Path) -> None:
    for name in ("Schedule on the job summary", "Schedule changes on the job summary", "HTML calendar"):
        result = run_step(name, checkout, tmp_path)
        assert result.returncode == 0, (name, result.stderr)

    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## Test: 0 verzendingen")  # both posts have errors, so nothing would go out
    assert "\n\n### Wijzigingen in de planning: `origin/main (" in summary
    assert (checkout / "campaign-preview" / "preview.html").is_file()
    assert steps()["actions/upload-artifact@v4"]["with"]["path"] == "campaign-preview/"
