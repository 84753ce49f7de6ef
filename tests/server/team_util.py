"""Helpers for the team tests (roles, invitations, audit) against the in-process app: a client
acting as one user's key, and a team `lab` with an admin, a member and a viewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from .apputil import make_run, open_client, upload

TEAM = "lab"
PROJECT = "proj"
RUN = "run1"


class As:
    """Requests to `/api/v1` with one API key (None: no Authorization header)."""

    def __init__(self, client: TestClient, key: str | None, name: str = "") -> None:
        self.client = client
        self.key = key
        self.name = name

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}" if self.key else ""}
        if content is not None:
            headers["Content-Type"] = "application/octet-stream"
        return self.client.request(
            method,
            "/api/v1" + path,
            json=json if content is None else None,
            content=content,
            params=params,
            headers=headers,
        )

    def get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None) -> httpx.Response:
        return self.request("POST", path, json)

    def patch(self, path: str, json: Any) -> httpx.Response:
        return self.request("PATCH", path, json)

    def put(self, path: str, json: Any) -> httpx.Response:
        return self.request("PUT", path, json)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)


def new_user(admin: As, name: str, password: str | None = None) -> As:
    """Create `name` as the server admin; a client acting as its first key."""
    body: dict[str, Any] = {"name": name}
    if password is not None:
        body["password"] = password
    r = admin.post("/users", body)
    assert r.status_code == 200, r.text
    return As(admin.client, r.json()["api_key"], name)


class Lab:
    """Team `lab`: `lead` (its admin, who made it), `mem` (member), `vie` (viewer) and
    `other` (member); `outsider` is in no team. `mem` uploaded run `run1` into `lab/proj`."""

    def __init__(self, client: TestClient, runs_dir: Path) -> None:
        self.client = client
        self.admin = As(client, client.headers["Authorization"].split()[1], "admin")
        self.lead = new_user(self.admin, "lead")
        self.mem = new_user(self.admin, "mem")
        self.vie = new_user(self.admin, "vie")
        self.other = new_user(self.admin, "other")
        self.outsider = new_user(self.admin, "outsider")
        r = self.lead.post("/teams", {"name": TEAM})
        assert r.status_code == 200, r.text
        for who, role in ((self.mem, "member"), (self.vie, "viewer"), (self.other, "member")):
            r = self.lead.post(f"/teams/{TEAM}/members", {"user": who.name, "role": role})
            assert r.status_code == 200, r.text
        log = make_run(runs_dir, PROJECT, RUN, steps=5).read_bytes()
        client.headers["Authorization"] = f"Bearer {self.mem.key}"
        try:
            upload(client, TEAM, PROJECT, RUN, log, chunks=1)
        finally:
            client.headers["Authorization"] = f"Bearer {self.admin.key}"

    def role_of(self, name: str) -> str:
        r = self.lead.get(f"/teams/{TEAM}")
        assert r.status_code == 200, r.text
        role: str = r.json()["roles"][name]
        return role


def lab_client(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> Iterator[Lab]:
    """A fresh app on `backend` with the team `lab` made."""
    for client in open_client(request, tmp_path, backend):
        yield Lab(client, tmp_path / "client")
