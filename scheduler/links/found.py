"""The links of a post as it goes out, and where a person wrote them.

A link is an http(s) URL as the networks find it in the text (scheduler.content.text.urls), in
every part of a thread. Its place is the first line of the post file that has it, else of a
`_defaults.yml` the post takes a value from (a URL in `vars`), else the post's first body line
(a URL put together by the template).
"""

from __future__ import annotations

from pathlib import Path

from scheduler.content.drafts import Draft
from scheduler.content.text import urls
from scheduler.content.utm import untagged
from scheduler.posts import RenderedPost


def urls_of(post: RenderedPost) -> list[str]:
    """Every link in `post`, in order of first appearance, each once."""
    found: dict[str, None] = {}
    for text in post.thread:
        for _start, _end, url in urls(text):
            found.setdefault(url, None)
    return list(found)


class Places:
    """Finds the file and line of a link; reads each file once."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lines: dict[str, list[str]] = {}

    def of(self, draft: Draft, url: str) -> tuple[str, int]:
        """(file, line) where `url` of `draft` is written, as near as can be told."""
        files = [draft.path, *sorted({o.path for o in draft.origins.values()} - {draft.path})]
        written = untagged(url)  # as the writer wrote it, before the campaign's UTM parameters
        bare = written.split("://", 1)[-1]
        for needle in dict.fromkeys((url, written, bare)):
            for path in files:
                for number, line in enumerate(self._read(path), start=1):
                    if needle in line:
                        return path, number
        blank = draft.body[: len(draft.body) - len(draft.body.lstrip())].count("\n")  # lines before the text
        return draft.path, draft.body_line + blank

    def _read(self, path: str) -> list[str]:
        if path not in self._lines:
            try:
                self._lines[path] = (self.root / path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                self._lines[path] = []
        return self._lines[path]
