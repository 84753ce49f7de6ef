"""A real `python -m fwtrack server` subprocess for the client-side tests (online runs,
`fwtrack sync`, `fwtrack login`): a free 127.0.0.1 port, a seeded admin key, ready once
`/api/v1/health` answers; plus helpers that run the `fwtrack` CLI, or a training program, in
a fresh interpreter.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from seaweed import Seaweed
from server.harness import ServerProcess, StoreChoice, child_env, free_port
from server.harness import new_api_key as new_key

__all__ = ["Server", "child_env", "client_env", "free_port", "new_key", "run_cli", "run_program"]

START_TIMEOUT = 90.0


def client_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """`child_env` for a client under `tmp_path`, as the `client_dirs` fixture sets ours: runs
    in `<tmp_path>/fwtrack`, credentials in `<tmp_path>/config`."""
    return child_env(
        FWTRACK_DIR=str(tmp_path / "fwtrack"), FWTRACK_CONFIG_DIR=str(tmp_path / "config"), **extra
    )


def _python(
    *argv: str, env: dict[str, str], cwd: Path | None, stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """`python -m fwtrack ARGS` in a fresh interpreter; a hang fails via TimeoutExpired."""
    return _python("-m", "fwtrack", *args, env=env, cwd=None, stdin=stdin, timeout=timeout)


def run_program(*argv: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> dict[str, Any]:
    """`python ARGV` in `cwd`, which must succeed; the JSON object of its last stdout line
    (the programs print what they made, e.g. `{"dir": run.dir, "id": run.id}`)."""
    proc = _python(*argv, env=env, cwd=cwd, stdin=None, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


class Server(ServerProcess):
    """One server process on a fixed port and data directory (so it can be restarted), with
    the admin key as `key` and the reads a client test checks its uploads with. `store` and
    `seaweed` choose where it keeps its bytes, as for `ServerProcess` ("s3": a fresh bucket)."""

    def __init__(
        self,
        data: Path,
        port: int | None = None,
        *,
        store: str | StoreChoice = "directory",
        seaweed: Seaweed | None = None,
    ) -> None:
        super().__init__(data, port=port, start_timeout=START_TIMEOUT, store=store, seaweed=seaweed)

    @property
    def key(self) -> str:
        """The admin's API key (seeded through `FWTRACK_SERVER_ADMIN_KEY`)."""
        return self.admin_key

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
