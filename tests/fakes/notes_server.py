"""A fake "Notes" network: the made-up API of the example adapter in docs/adapters.md.

- POST /v1/notes  {"text", "key"} with `Authorization: Bearer <token>` → 201 {"id", "url"};
                  a text over 500 characters → 422 {"error": "..."}
- GET  /v1/notes?key=K → {"notes": [...]}: the notes sent with that key (none: an empty list)
- GET  /v1/me     → {"name"}
- a wrong token → 401 {"error"} that repeats the Authorization header, as careless servers do
Knobs (FakeServer): `fail` and `drop_after_processing`.
"""

from __future__ import annotations

import itertools
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

TOKEN = "fake-notes-token"
LIMIT = 500


class FakeNotes(FakeServer):
    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.notes: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def handle(self, request: Request) -> Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": f"unknown token in {request.headers.get('authorization')}"})
        with self.lock:
            if (request.method, request.path) == ("GET", "/v1/me"):
                return Reply(200, {"name": "campagne"})
            if (request.method, request.path) == ("GET", "/v1/notes"):
                key = request.value("key")
                return Reply(200, {"notes": [note for note in self.notes if note["key"] == key]})
            if (request.method, request.path) == ("POST", "/v1/notes"):
                text, key = request.value("text") or "", request.value("key") or ""
                if len(text) > LIMIT:
                    return Reply(422, {"error": f"text is over {LIMIT} characters"})
                number = next(self._ids)
                note = {"id": number, "key": key, "text": text, "url": f"{self.url}/n/{number}"}
                self.notes.append(note)
                return Reply(201, {"id": note["id"], "url": note["url"]})
        return Reply(404, {"error": "no such endpoint"})
