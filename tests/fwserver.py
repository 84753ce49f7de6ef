"""A real `python -m fwtrack server` subprocess for the client-side tests (online runs,
`fwtrack sync`, `fwtrack login`): a free 127.0.0.1 port, a seeded admin key, ready once
`/api/v1/health` answers; plus a helper that runs the `fwtrack` CLI in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def new_key() -> str:
    """A key in the server's format: `fwk_` and 40 base62 characters."""
    alphabet = string.ascii_letters + string.digits
    return "fwk_" + "".join(secrets.choice(alphabet) for _ in range(40))


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: no `FWTRACK_*` from ours, the repo's package."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`python -m fwtrack ARGS` in a fresh interpreter; a hang fails via TimeoutExpired."""
    return subprocess.run(
        [sys.executable, "-m", "fwtrack", *args],
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Server:
    """One server process on a fixed port and data directory (so it can be restarted)."""

    def __init__(self, data: Path, port: int | None = None) -> None:
        self.data = data
        self.port = port or free_port()
        self.key = new_key()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data.parent / f"{data.name}-server.log"

    def start(self) -> Server:
        """Start the process and wait until it answers `/api/v1/health`."""
        self.data.mkdir(parents=True, exist_ok=True)
        env = child_env(FWTRACK_SERVER_ADMIN_KEY=self.key)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "fwtrack",
                    "server",
                    "--port",
                    str(self.port),
                    "--data",
                    str(self.data),
                ],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server exited at start:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.kill()
        raise AssertionError(
            f"the server did not answer within {START_TIMEOUT} s:\n{self.output()}"
        )

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """`kill -9` the server (no clean shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    # -- the API, as a test reads it back -------------------------------------------------

    def request(self, path: str, **params: Any) -> tuple[int, bytes]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        req = urllib.request.Request(
            f"{self.url}/api/v1{path}{query}", headers={"Authorization": f"Bearer {self.key}"}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.read()

    def get(self, path: str, **params: Any) -> Any:
        status, body = self.request(path, **params)
        assert status == 200, (status, body)
        return json.loads(body)

    def stored_log(self, entity: str, project: str, run_id: str) -> bytes:
        status, body = self.request(f"/runs/{entity}/{project}/{run_id}/log")
        return body if status == 200 else b""
