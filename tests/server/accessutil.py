"""Helpers for the access tests against a real server process: an HTTP client acting as one
key (or none), users with passwords, logins from a chosen client address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .apputil import db_url
from .conftest import ServerFactory
from .harness import ServerProcess


class Http:
    """JSON calls to `<server>/api/v1` as one API key (None: no Authorization header).

    `address` is sent as `X-Forwarded-For`, which the server (uvicorn) trusts from 127.0.0.1:
    it is how a test logs in "from" another client address."""

    def __init__(self, server: ServerProcess, key: str | None = None) -> None:
        self.server = server
        self.key = key
        # No keep-alive: each request is a new connection, so several workers share the load.
        self._client = httpx.Client(
            base_url=f"{server.url}/api/v1",
            timeout=60,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def as_(self, key: str | None) -> Http:
        """The same server, another key."""
        return Http(self.server, key)

    def request(
        self, method: str, path: str, json: Any = None, address: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if address is not None:
            headers["X-Forwarded-For"] = address
        return self._client.request(method, path, json=json, headers=headers)

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, json: Any = None, address: str | None = None) -> httpx.Response:
        return self.request("POST", path, json=json, address=address)

    def patch(self, path: str, json: Any) -> httpx.Response:
        return self.request("PATCH", path, json=json)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)

    def upload(self, entity: str, project: str, run_id: str, log: bytes) -> None:
        """Upload a whole run log in one request."""
        r = self._client.post(
            f"/runs/{entity}/{project}/{run_id}/log",
            params={"offset": 0},
            content=log,
            headers={
                "Authorization": f"Bearer {self.key}",
                "Content-Type": "application/octet-stream",
            },
        )
        assert r.status_code == 200, r.text

    def new_user(self, name: str, password: str | None = None) -> str:
        """Create a user as this (admin) key; returns its first API key."""
        body: dict[str, Any] = {"name": name}
        if password is not None:
            body["password"] = password
        r = self.post("/users", body)
        assert r.status_code == 200, r.text
        key: str = r.json()["api_key"]
        return key

    def login(self, username: str, password: str, address: str | None = None) -> httpx.Response:
        return self.as_(None).post(
            "/login", {"username": username, "password": password}, address=address
        )


def start_server(
    request: pytest.FixtureRequest,
    server_factory: ServerFactory,
    backend: str,
    *args: str,
    workers: int = 1,
) -> ServerProcess:
    """A server process on SQLite or a fresh PostgreSQL database, with extra arguments."""
    return server_factory(db_url=db_url(request, backend), workers=workers, extra_args=list(args))


def admin_http(server: ServerProcess) -> Iterator[Http]:
    http = Http(server, server.admin_key)
    try:
        yield http
    finally:
        http.close()
