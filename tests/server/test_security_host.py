"""`fwtrack ui` answers only this machine's host names (no DNS rebinding), and asks for its
per-start access token when it listens beyond loopback."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from .apputil import make_run
from .harness import child_env, free_port, spawn_ui, stop_process_group

START_TIMEOUT = 60.0
URL_LINE = re.compile(r"^fwtrack ui (http://\S+)", re.MULTILINE)


class UiProcess:
    """A real `fwtrack ui` with extra arguments; its output kept for the printed URL."""

    def __init__(
        self, tmp_path: Path, runs_dir: Path, args: Sequence[str], env: Mapping[str, str]
    ) -> None:
        self.port = free_port()
        # Where to connect: the --host address when it is one, else 127.0.0.1.
        host = args[args.index("--host") + 1] if "--host" in args else "127.0.0.1"
        self.address = "127.0.0.1" if host == "0.0.0.0" else host
        self.out = tmp_path / f"ui-{self.port}.out"
        self.proc = spawn_ui(runs_dir, self.port, self.out, args, env)
        deadline = time.monotonic() + START_TIMEOUT
        while self.request("GET", "/api/v1/health")[0] != 200:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the ui did not start:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def request(
        self,
        method: str,
        path: str,
        *,
        host: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, lower-case headers, body) of one request with `Host: host` (default
        `<address>:<port>`); status 0 while nothing listens."""
        conn = http.client.HTTPConnection(self.address, self.port, timeout=10)
        try:
            sent = {"Host": host or f"{self.address}:{self.port}", **(headers or {})}
            conn.request(method, path, headers=sent)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        except OSError:
            return 0, {}, b""
        finally:
            conn.close()

    def json(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        status, _, body = self.request(method, path, **kwargs)
        return status, json.loads(body)

    def stop(self) -> None:
        stop_process_group(self.proc)


@pytest.fixture
def start_ui(tmp_path: Path) -> Iterator[Any]:
    """`start_ui(*args, env={})` runs `fwtrack ui` over `<tmp_path>/fwtrack` holding one
    finished run `local/proj/r1`; every ui is stopped at teardown."""
    runs_dir = tmp_path / "fwtrack"
    make_run(runs_dir, "proj", "r1", steps=5)
    made: list[UiProcess] = []

    def start(*args: str, env: Mapping[str, str] | None = None) -> UiProcess:
        ui = UiProcess(tmp_path, runs_dir, args, env or {})
        made.append(ui)
        return ui

    try:
        yield start
    finally:
        for ui in made:
            ui.stop()


def wait_for_run(ui: UiProcess, headers: Mapping[str, str] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        status, body = ui.json("GET", "/api/v1/runs/local/proj", headers=headers)
        if status == 200 and body["total"] == 1:
            return
        time.sleep(0.1)
    raise AssertionError(f"the ui did not index the run:\n{ui.output()}")


def test_another_host_name_is_refused_and_deletes_nothing(start_ui: Any, tmp_path: Path) -> None:
    ui = start_ui()
    wait_for_run(ui)
    for method, path in (
        ("GET", "/api/v1/runs/local/proj"),
        ("GET", "/api/v1/runs/local/proj/r1"),
        ("GET", "/"),
        ("DELETE", "/api/v1/runs/local/proj/r1"),
    ):
        status, body = ui.json(method, path, host=f"attacker.example:{ui.port}")
        assert status == 421, (method, path, body)
        assert "attacker.example" in body["detail"]
        assert "--host" in body["detail"]
    # The DELETE did nothing: the run and its log are still there.
    assert (tmp_path / "fwtrack" / "proj" / "r1" / "run.fwlog").is_file()
    status, run = ui.json("GET", "/api/v1/runs/local/proj/r1")
    assert status == 200
    assert run["id"] == "r1"


def test_loopback_names_are_answered(start_ui: Any) -> None:
    ui = start_ui()
    wait_for_run(ui)
    for host in ("127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "localhost", "LOCALHOST."):
        status, body = ui.json("GET", "/api/v1/runs/local/proj", host=host.format(port=ui.port))
        assert status == 200, (host, body)
        assert [r["id"] for r in body["runs"]] == ["r1"]


def test_the_host_option_names_an_accepted_host(start_ui: Any) -> None:
    ui = start_ui("--host", "127.0.0.2")
    assert f"fwtrack ui http://127.0.0.2:{ui.port}  " in ui.output()  # loopback: no token
    for host in (f"127.0.0.2:{ui.port}", "127.0.0.2", f"localhost:{ui.port}"):
        status, body = ui.json("GET", "/api/v1/projects", host=host)
        assert status == 200, (host, body)
    status, body = ui.json("GET", "/api/v1/projects", host="evil.example")
    assert status == 421
    assert "127.0.0.2" in body["detail"]  # the names it answers


def printed_url(ui: UiProcess) -> str:
    match = URL_LINE.search(ui.output())
    assert match, ui.output()
    return match.group(1)


def test_bound_beyond_loopback_the_ui_asks_for_the_printed_token(start_ui: Any) -> None:
    ui = start_ui("--host", "0.0.0.0")
    url = urllib.parse.urlsplit(printed_url(ui))
    assert (url.hostname, url.port, url.path) == ("127.0.0.1", ui.port, "/")
    token = urllib.parse.parse_qs(url.query)["token"][0]
    assert re.fullmatch(r"[A-Za-z0-9_\-]{32,}", token)
    assert "warning" in ui.output()
    assert "0.0.0.0" in ui.output()

    # Without the token: 401, saying what to open.
    for method, path in (
        ("GET", "/"),
        ("GET", "/api/v1/projects"),
        ("DELETE", "/api/v1/runs/local/proj/r1"),
    ):
        status, headers, body = ui.request(method, path)
        assert status == 401, (method, path, body)
        assert "token" in json.loads(body)["detail"]
    assert ui.json("GET", "/?token=not-the-token-at-all")[0] == 401

    # The printed URL signs the browser in: an HttpOnly, SameSite=Strict cookie, and a reload
    # of the page without the token in its address.
    status, headers, body = ui.request("GET", f"/?{url.query}")
    assert status == 200, body
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"fwtrack_ui_{ui.port}={token};")
    assert "httponly" in cookie.lower()
    assert "samesite=strict" in cookie.lower()
    assert headers["refresh"] == "0; url=/"
    assert token not in body.decode()
    jar = {"Cookie": f"fwtrack_ui_{ui.port}={token}"}

    # The cookie (what the dashboard's same-origin requests carry) and a bearer token work.
    wait_for_run(ui, jar)
    status, headers, page = ui.request("GET", "/", headers=jar)
    assert status == 200
    assert b"<html" in page.lower()
    bearer = {"Authorization": f"Bearer {token}"}
    status, body = ui.json("GET", "/api/v1/runs/local/proj/r1", headers=bearer)
    assert status == 200
    assert body["id"] == "r1"
    status, _ = ui.json("GET", "/api/v1/projects", headers={"Authorization": "Bearer wrong"})
    assert status == 401

    # A name that could be rebound is still refused, token or not.
    status, body = ui.json("GET", "/api/v1/projects", host="attacker.example", headers=jar)
    assert status == 421


def test_the_sign_in_page_keeps_the_path_and_other_parameters(start_ui: Any) -> None:
    ui = start_ui("--host", "0.0.0.0")
    query = urllib.parse.urlsplit(printed_url(ui)).query
    status, headers, _ = ui.request("GET", f"//evil.example/x?a=1&{query}")
    assert status == 200
    assert headers["refresh"] == "0; url=/evil.example/x?a=1"  # never protocol-relative


def test_a_fixed_token_from_the_environment_is_asked_for_on_loopback(start_ui: Any) -> None:
    token = "fixed-token-for-the-ui-0123456789"
    ui = start_ui(env={"FWTRACK_UI_TOKEN": token})
    assert printed_url(ui) == f"http://127.0.0.1:{ui.port}/?token={token}"
    assert ui.json("GET", "/api/v1/projects")[0] == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert ui.json("GET", "/api/v1/projects", headers=bearer)[0] == 200


def test_a_malformed_token_is_refused_at_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fwtrack", "ui", "--dir", str(tmp_path), "--token", "short"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert "token" in proc.stderr
    assert "hint:" in proc.stderr
