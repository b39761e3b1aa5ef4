"""What a change does to the schedule: the plan at one git revision against the plan at another.

Each revision's campaign folder is taken out of git with `git archive` into a temporary folder
and planned with `scheduler.content.plan.build`, exactly as `preview` would plan it; HEAD may also be the
working tree. Sends are matched by (post id, channel): a file renamed without changing its
post's identity (its `id:`) matches itself. Output views are in scheduler.views.diff_report.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from scheduler.content.plan import Entry, Plan, build
from scheduler.content.problems import Problem

WORKING_TREE = "working tree"


class GitError(Exception):
    """git could not give what was asked (not a repository, unknown revision); the message says why."""


@dataclass(frozen=True)
class Side:
    """One end of the comparison."""

    revision: str  # as given, or WORKING_TREE
    commit: str | None  # full hash; None for the working tree
    plan: Plan | None  # None when the revision has no campaign at this path


@dataclass(frozen=True)
class Change:
    """One send that differs: added, removed, or changed in `aspects` (time, text, media, draft)."""

    post: str
    channel: str
    kind: str  # "added" | "removed" | "changed"
    aspects: tuple[str, ...]
    old: Entry | None
    new: Entry | None

    @property
    def entry(self) -> Entry:
        """The entry to describe it by: the new one, unless it was removed."""
        found = self.new or self.old
        assert found is not None
        return found


@dataclass(frozen=True)
class Diff:
    base: Side
    head: Side
    changes: tuple[Change, ...]  # sorted by time (the new time when both), channel, post
    unchanged: int
    new_problems: tuple[Problem, ...]  # in HEAD but not in BASE (lines may differ)
    fixed_problems: tuple[Problem, ...]  # in BASE but no longer in HEAD
    remaining_errors: tuple[Problem, ...]  # errors in both

    def count(self, kind: str, aspect: str | None = None) -> int:
        return sum(c.kind == kind and (aspect is None or aspect in c.aspects) for c in self.changes)


def compare(root: Path, base: str, head: str | None = None, *, drafts: bool = False, parallel: bool = False) -> Diff:
    """The schedule at revision `base` against `head` (default: the working tree) for the campaign at `root`.

    `root` may be any folder of the repository; the same folder is read from each revision.
    Raises GitError when `root` is not in a git repository or a revision does not exist.
    `parallel` as for scheduler.content.plan.build.
    """
    top, prefix = _repository(root)
    with tempfile.TemporaryDirectory(prefix="campaign-diff-") as temp:
        old = _side(top, prefix, base, Path(temp) / "base", parallel)
        if head is None:
            new = Side(WORKING_TREE, None, build(root, parallel=parallel))
        else:
            new = _side(top, prefix, head, Path(temp) / "head", parallel)
    return _diff(old, new, drafts)


def _git(top: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(["git", "-C", str(top), *args], capture_output=True, check=False, timeout=300)
    except FileNotFoundError:
        raise GitError("git is not installed") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {args[0]} failed")
    return done.stdout


def _repository(root: Path) -> tuple[Path, str]:
    """The repository's top folder, and `root` relative to it ("" or "campaigns/wtk/")."""
    try:
        lines = _git(root, "rev-parse", "--show-toplevel", "--show-prefix").decode("utf-8").splitlines()
    except GitError as exc:
        raise GitError(f"{root} is not in a git repository ({exc})") from None
    return Path(lines[0]), lines[1] if len(lines) > 1 else ""


def _side(top: Path, prefix: str, revision: str, into: Path, parallel: bool) -> Side:
    try:
        if revision.startswith("-"):
            raise GitError("looks like an option")
        commit = _git(top, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    except GitError:
        raise GitError(f"{revision!r} is not a commit in {top}") from None
    commit_id = commit.decode("ascii").strip()
    try:
        kind = _git(top, "cat-file", "-t", f"{commit_id}:{prefix}posts").decode("ascii").strip()
    except GitError:
        kind = ""
    if kind != "tree":
        return Side(revision, commit_id, None)
    archive = _git(top, "archive", "--format=tar", f"--prefix={top.name}/", commit_id, *([prefix] if prefix else []))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter=_inside)
        else:  # Python before 3.11.4: plain files and folders only
            tar.extractall(into, members=[m for m in tar if (m.isfile() or m.isdir()) and ".." not in m.name])
    return Side(revision, commit_id, build(into / top.name / prefix, parallel=parallel))


def _inside(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    """Leave out what would land outside the folder (links out of it); keep everything else."""
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        return None


def _entries(side: Side, drafts: bool) -> dict[tuple[str, str], Entry]:
    if side.plan is None:
        return {}
    return {(e.draft.id, e.channel.name): e for e in side.plan.select(drafts=drafts)}


def _aspects(old: Entry, new: Entry) -> tuple[str, ...]:
    found = []
    if old.due != new.due:
        found.append("time")
    if (old.post and old.post.thread) != (new.post and new.post.thread):
        found.append("text")
    if [(m.path, m.alt) for m in old.draft.media] != [(m.path, m.alt) for m in new.draft.media]:
        found.append("media")
    if old.draft.draft != new.draft.draft:
        found.append("draft")
    return tuple(found)


def _diff(base: Side, head: Side, drafts: bool) -> Diff:
    before, after = _entries(base, drafts), _entries(head, drafts)
    changes, unchanged = [], 0
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            changes.append(Change(key[0], key[1], "added" if old is None else "removed", (), old, new))
        elif aspects := _aspects(old, new):
            changes.append(Change(key[0], key[1], "changed", aspects, old, new))
        else:
            unchanged += 1
    changes.sort(key=lambda c: (c.entry.due, c.channel, c.post))
    old_problems = base.plan.problems if base.plan else ()
    new_problems = head.plan.problems if head.plan else ()
    old_keys, new_keys = _keys(old_problems), _keys(new_problems)
    return Diff(
        base,
        head,
        tuple(changes),
        unchanged,
        tuple(p for p in new_problems if _key(p) not in old_keys),
        tuple(p for p in old_problems if _key(p) not in new_keys),
        tuple(p for p in new_problems if p.is_error and _key(p) in old_keys),
    )


def _key(problem: Problem) -> tuple[str, str, str]:
    return (problem.path, problem.severity.value, problem.message)  # lines move when text above moves


def _keys(problems: Iterable[Problem]) -> set[tuple[str, str, str]]:
    return {_key(p) for p in problems}
