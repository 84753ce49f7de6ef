"""Test harness for the tracking server: real processes, a real PostgreSQL, a fault proxy.

- `PostgresCluster`: a throw-away PostgreSQL cluster (Debian's binaries, `initdb` + `pg_ctl`)
  in a temp dir on a free 127.0.0.1 port.
- `ServerProcess`: `python -m fwtrack server` in its own process group, with `kill9()` and
  `restart()` on the same port and data dir, on the directory store or in a fresh bucket of a
  real S3-compatible store (`StoreChoice`).
- `FaultProxy`: an HTTP/1.1-aware TCP proxy in a background thread that, by seeded random
  choice per request, passes through, delays, drops the connection before or after forwarding,
  resets it, or answers `500`/`429` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import string
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seaweed import Seaweed

REPO = Path(__file__).resolve().parents[2]

_BASE62 = string.ascii_letters + string.digits


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def new_api_key() -> str:
    """A fresh key in the server's format: `fwk_` and 40 base62 characters."""
    return "fwk_" + "".join(secrets.choice(_BASE62) for _ in range(40))


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process: no `FWTRACK_*` leaks, the repo's package first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "python"), os.environ.get("PYTHONPATH")) if p
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def stop_process_group(
    proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20.0
) -> None:
    """Send `sig` to the process group `proc` leads (started with `start_new_session=True`),
    then SIGKILL it if `proc` has not exited within `timeout`; nothing if it already exited."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return text if len(text) <= limit else "...\n" + text[-limit:]


# --------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_bin_dir() -> Path:
    """The newest Debian PostgreSQL `bin` dir; fails with a hint when PostgreSQL is missing."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL's initdb was not found under /usr/lib/postgresql/*/bin\n"
            "hint: run `make pg` (installs Debian's postgresql package)"
        )
    return Path(found[-1]).parent


class PostgresCluster:
    """A throw-away PostgreSQL cluster: `initdb` in a temp dir, `pg_ctl` on a free port.

    When running as root, the server binaries run as the `postgres` OS user (`runuser`), since
    PostgreSQL refuses to run as root. Connections are trusted (no password) and only on
    127.0.0.1 and a unix socket inside the temp dir. Durability settings are off: the cluster
    lives for one test session.
    """

    def __init__(self) -> None:
        self.bin_dir = postgres_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="fwtrack-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        self._started = False
        self._template: str | None = None

    def _cmd(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", "postgres", "--", *cmd] if self._as_postgres else cmd

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run(
            self._cmd(tool, *args),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited with {proc.returncode}\n"
                f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n"
                f"--- {self.log}\n{_tail(self.log)}"
            )

    def start(self) -> None:
        """initdb + pg_ctl start; waits until the server accepts connections."""
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        last_error: Exception | None = None
        for _ in range(5):  # the free port may be taken between free_port() and bind
            self.port = free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {self.root}",
                    "-c listen_addresses=127.0.0.1",
                    "-c max_connections=300",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                    "-o", options, "start",
                )  # fmt: skip
            except RuntimeError as exc:
                last_error = exc
                continue
            self._started = True
            return
        raise RuntimeError(f"PostgreSQL did not start\n{last_error}")

    @property
    def admin_url(self) -> str:
        """URL of the `postgres` maintenance database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        """URL of `database` in this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str | None = None, *, migrated: bool = False) -> str:
        """Create a database (a unique name unless given); returns its URL. Empty, or with
        `migrated` a copy of a template the migrations brought to the newest revision once
        per cluster: what a server would make of an empty one, without running them again."""
        name = name or f"fwtrack_{uuid.uuid4().hex[:16]}"
        if migrated:
            self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._migrated_template()}"')
        else:
            self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _migrated_template(self) -> str:
        if self._template is None:
            from fwtrack.server.db import Database

            name = f"fwtrack_template_{uuid.uuid4().hex[:8]}"
            self.execute(f'CREATE DATABASE "{name}"')
            db = Database(self.url(name))
            try:
                db.migrate()
            finally:
                db.dispose()  # a template must have no connections when it is copied
            self._template = name
        return self._template

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """pg_ctl stop -m fast, then remove the temp dir (also after a failed start)."""
        try:
            if self._started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
                self._started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Where a server keeps its bytes

STORES = ("directory", "s3")
"""The stores a test server runs on: `directory` (the default, `<data dir>/store`) and `s3`
(a fresh bucket of a SeaweedFS, `tests/seaweed.py`)."""

S3_PREFIX = "fwtrack"
"""The key prefix a test server's bucket is used under (`s3://<bucket>/fwtrack`): a server
must keep to its prefix, so tests never use the bucket's root."""


class StoreChoice:
    """Where a test server keeps its bytes, and how a test looks at them afterwards.

    `StoreChoice("directory")` is the directory store under the server's data dir;
    `StoreChoice("s3", seaweed)` takes a fresh bucket of `seaweed` and gives the server
    `--store s3://<bucket>/fwtrack` and the AWS variables of `seaweed.env()`. A choice that
    cannot be made (an unknown kind, `s3` without a `Seaweed`) raises: a parametrized test
    that cannot run on its store fails, it is never skipped.

    `keys(data_dir, under)` lists the stored objects by their key relative to the store's root
    (`blobs/<entity>/<hex[:2]>/<algorithm>-<hex>`, `runs/...`) the same way on both stores, and
    `read(data_dir, key)` returns one; `run_log(...)` reads a run's stored log back from the
    bytes the store holds (the directory store's file, or the chain of S3 log segments).
    """

    def __init__(self, kind: str = "directory", seaweed: Seaweed | None = None) -> None:
        if kind not in STORES:
            raise ValueError(f"unknown store {kind!r}; hint: use one of {STORES}")
        if kind == "s3" and seaweed is None:
            raise ValueError("store 's3' needs a Seaweed (the `seaweed` fixture)")
        self.kind = kind
        self.seaweed = seaweed if kind == "s3" else None
        self.bucket = seaweed.new_bucket() if seaweed is not None and kind == "s3" else None
        self._client: Any = None

    def __repr__(self) -> str:
        return f"StoreChoice({self.kind!r}{f', bucket={self.bucket!r}' if self.bucket else ''})"

    @property
    def is_s3(self) -> bool:
        return self.kind == "s3"

    @property
    def url(self) -> str | None:
        """The `--store` URL (None: the default directory store)."""
        return f"s3://{self.bucket}/{S3_PREFIX}" if self.is_s3 else None

    def args(self) -> list[str]:
        """Command-line arguments of `fwtrack server` for this store."""
        return ["--store", self.url] if self.url else []

    def env(self) -> dict[str, str]:
        """Environment variables a server on this store needs (the AWS ones for S3)."""
        return self.seaweed.env() if self.seaweed is not None else {}

    def config(self) -> dict[str, Any]:
        """`ServerConfig` keyword arguments for an in-process app on this store (the AWS
        credentials come from the environment: see `env()`)."""
        if not self.is_s3:
            return {}
        assert self.seaweed is not None
        return {"store_url": self.url, "s3_endpoint": self.seaweed.endpoint}

    def client(self) -> Any:
        """A boto3 client of the bucket (S3 only)."""
        if self.seaweed is None:
            raise RuntimeError("the directory store has no S3 client")
        if self._client is None:
            self._client = self.seaweed.client()
        return self._client

    def staging_dir(self, data_dir: Path) -> Path:
        """Where the server stages uploads (empty between requests)."""
        return data_dir / ("cache" if self.is_s3 else "store") / "tmp"

    def keys(self, data_dir: Path, under: str = "") -> list[str]:
        """Every stored object whose key (relative to the store's root) starts with `under`,
        sorted. Temporary files of the directory store (`tmp/`) are not objects."""
        if self.is_s3:
            prefix = f"{S3_PREFIX}/"
            assert self.seaweed is not None
            assert self.bucket is not None
            return [k[len(prefix) :] for k in self.seaweed.keys(self.bucket, prefix + under)]
        root = data_dir / "store"
        if not root.exists():
            return []
        found = (
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith("tmp/")
        )
        return sorted(k for k in found if k.startswith(under))

    def read(self, data_dir: Path, key: str) -> bytes:
        """The bytes of one stored object (a key as `keys()` lists it)."""
        if self.is_s3:
            client = self.client()
            try:
                got = client.get_object(Bucket=self.bucket, Key=f"{S3_PREFIX}/{key}")
            except client.exceptions.NoSuchKey as exc:
                raise FileNotFoundError(key) from exc
            with contextlib.closing(got["Body"]) as body:
                data: bytes = body.read()
            return data
        return (data_dir / "store" / key).read_bytes()

    def blobs(self, data_dir: Path, entity: str = "") -> dict[str, bytes]:
        """The stored blobs (of `entity`, or all) by address (`blake3:<hex>`)."""
        out: dict[str, bytes] = {}
        for key in self.keys(data_dir, f"blobs/{entity}/" if entity else "blobs/"):
            algorithm, _, hex_ = key.rsplit("/", 1)[-1].partition("-")
            try:
                out[f"{algorithm}:{hex_}"] = self.read(data_dir, key)
            except FileNotFoundError:
                continue  # removed (by the collector) between the listing and the read
        return out

    def blob_names(self, data_dir: Path, entity: str = "") -> list[str]:
        """The stored blobs' object names (`<algorithm>-<hex>`), sorted, one per object."""
        under = f"blobs/{entity}/" if entity else "blobs/"
        return sorted(k.rsplit("/", 1)[-1] for k in self.keys(data_dir, under))

    def run_log(self, data_dir: Path, project_id: int, run_id: str, pk: int) -> bytes:
        """A run's stored log as the store holds it: the directory store's
        `runs/<project id>/<run id>/run.fwlog`, or on S3 the chain of immutable segments
        `runs/<pk>/log/<start:016x>-<end:016x>` from offset 0 (at each offset the segment
        reaching furthest; docs/server.md). b"" when nothing is stored."""
        if not self.is_s3:
            path = data_dir / "store" / "runs" / str(project_id) / run_id / "run.fwlog"
            return path.read_bytes() if path.exists() else b""
        reach: dict[int, tuple[int, str]] = {}
        for key in self.keys(data_dir, f"runs/{pk}/log/"):
            start_hex, _, end_hex = key.rsplit("/", 1)[-1].partition("-")
            start, end = int(start_hex, 16), int(end_hex, 16)
            if end > reach.get(start, (-1, ""))[0]:
                reach[start] = (end, key)
        out = bytearray()
        while len(out) in reach:
            end, key = reach[len(out)]
            out += self.read(data_dir, key)
            assert len(out) == end, f"segment {key} holds {len(out)} bytes up to its end"
        return bytes(out)

    def put_log_segment(self, pk: int, start: int, data: bytes) -> None:
        """Store one log segment behind the server's back (S3 only): what a server that died
        after storing an append, before recording it in SQL, leaves."""
        key = f"{S3_PREFIX}/runs/{pk}/log/{start:016x}-{start + len(data):016x}"
        self.client().put_object(Bucket=self.bucket, Key=key, Body=data)


# --------------------------------------------------------------------------------------------
# Server processes


class ServerProcess:
    """`python -m fwtrack server` as a real process on 127.0.0.1.

    The process runs in its own process group, so `kill9()` also kills uvicorn's worker
    processes. Output goes to `log_path` (appended across restarts); a failed start shows it.
    `store` is where it keeps its bytes: "directory" (the default), "s3" (with `seaweed`: a
    fresh bucket of it) or a `StoreChoice`; `stored_keys()`, `stored_blobs()` and
    `staging_dir` look at them the same way on every store.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        db_url: str | None = None,
        port: int | None = None,
        workers: int = 1,
        admin_key: str | None = None,
        *,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        store: str | StoreChoice = "directory",
        seaweed: Seaweed | None = None,
    ) -> None:
        self.store = store if isinstance(store, StoreChoice) else StoreChoice(store, seaweed)
        self.data_dir = Path(data_dir)
        self.db_url = db_url
        self.port = port or free_port()
        self.workers = workers
        self.admin_key = admin_key or new_api_key()
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.start_timeout = start_timeout
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:8123` (the API lives under `/api/v1`)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """`Authorization` header with the admin key."""
        return {"Authorization": f"Bearer {self.admin_key}"}

    def command(self) -> list[str]:
        """The command line that starts this server."""
        cmd = [
            sys.executable, "-m", "fwtrack", "server",
            "--host", "127.0.0.1", "--port", str(self.port), "--data", str(self.data_dir),
        ]  # fmt: skip
        if self.db_url:
            cmd += ["--db", self.db_url]
        if self.workers != 1:
            cmd += ["--workers", str(self.workers)]
        return cmd + self.store.args() + self.extra_args

    def log_text(self) -> str:
        """The server's output so far (all starts)."""
        return _tail(self.log_path, limit=1_000_000)

    def start(self) -> ServerProcess:
        """Start the process and wait until `GET /api/v1/health` answers 200."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError(f"server on port {self.port} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start #{self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env(
                    **{
                        **self.store.env(),
                        **self.env,
                        "FWTRACK_SERVER_ADMIN_KEY": self.admin_key,
                    }
                ),
                cwd=self.data_dir.parent,
                start_new_session=True,
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"server exited with {code} during start\n--- {self.log_path}\n"
                    f"{_tail(self.log_path)}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                try:
                    conn.request("GET", "/api/v1/health")
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status == 200:
                        return
                    last = f"HTTP {resp.status}"
                finally:
                    conn.close()
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.05)
        self._killpg(signal.SIGKILL)
        raise RuntimeError(
            f"server did not answer GET /api/v1/health within {self.start_timeout:.0f} s "
            f"(last: {last})\n--- {self.log_path}\n{_tail(self.log_path)}"
        )

    def _killpg(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill9(self) -> None:
        """`kill -9` the server and its workers; returns when the main process is reaped."""
        if self.proc is None:
            return
        self._killpg(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._wait_port_free()

    def _wait_port_free(self, timeout: float = 10.0) -> None:
        """Orphaned workers die a moment after the group kill; wait until nothing listens."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.05)

    def restart(self) -> ServerProcess:
        """Start again on the same port and data dir (after `kill9()` or `stop()`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (graceful), then SIGKILL after `timeout`; idempotent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._killpg(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._killpg(signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._killpg(signal.SIGKILL)  # leftover workers, if any
        self._wait_port_free()

    # -- the stored bytes, on whichever store ----------------------------------------------

    def stored_keys(self, under: str = "") -> list[str]:
        """The store's objects under `under` (keys relative to its root; `StoreChoice.keys`)."""
        return self.store.keys(self.data_dir, under)

    def stored_blobs(self, entity: str = "") -> dict[str, bytes]:
        """The stored blobs (of `entity`, or all) by address."""
        return self.store.blobs(self.data_dir, entity)

    def stored_blob_names(self, entity: str = "") -> list[str]:
        """The stored blobs' object names (`<algorithm>-<hex>`), one per object, sorted."""
        return self.store.blob_names(self.data_dir, entity)

    @property
    def staging_dir(self) -> Path:
        """Where the server stages uploads (empty between requests)."""
        return self.store.staging_dir(self.data_dir)

    @property
    def running(self) -> bool:
        """Whether the main process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Fault proxy

PASS = "pass"
DELAY = "delay"
DROP_BEFORE = "drop_before"
DROP_AFTER = "drop_after"
RESET = "reset"
ERROR_500 = "error_500"
THROTTLE_429 = "throttle_429"
FAULTS = (DELAY, DROP_BEFORE, DROP_AFTER, RESET, ERROR_500, THROTTLE_429)

DEFAULT_RATES: dict[str, float] = {
    DELAY: 0.10,
    DROP_BEFORE: 0.05,
    DROP_AFTER: 0.08,
    RESET: 0.05,
    ERROR_500: 0.05,
    THROTTLE_429: 0.05,
}


class _Closed(Exception):
    """The peer closed the connection (or sent something that is not HTTP)."""


_MAX_HEAD = 64 * 1024


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise _Closed from exc
    if len(head) > _MAX_HEAD:
        raise _Closed
    return head


def _headers(head: bytes) -> list[tuple[str, str]]:
    lines = head.decode("latin-1").split("\r\n")[1:]
    out = []
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            out.append((name.strip().lower(), value.strip()))
    return out


async def _read_body(reader: asyncio.StreamReader, headers: list[tuple[str, str]]) -> bytes:
    """Raw body bytes as framed on the wire (Content-Length or chunked)."""
    hmap = dict(headers)
    try:
        if "chunked" in hmap.get("transfer-encoding", "").lower():
            parts = []
            while True:
                line = await reader.readuntil(b"\r\n")
                parts.append(line)
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:  # trailers up to the blank line
                        trailer = await reader.readuntil(b"\r\n")
                        parts.append(trailer)
                        if trailer == b"\r\n":
                            return b"".join(parts)
                parts.append(await reader.readexactly(size + 2))
        length = int(hmap.get("content-length", "0") or 0)
        return await reader.readexactly(length) if length else b""
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as exc:
        raise _Closed from exc
    except ValueError as exc:
        raise _Closed from exc


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[bytes, bool]:
    """One whole response (skipping `1xx`); returns (bytes, upstream keeps the connection)."""
    while True:
        head = await _read_head(reader)
        status_line = head.split(b"\r\n", 1)[0].split()
        status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        if 100 <= status < 200:
            continue
        break
    headers = _headers(head)
    hmap = dict(headers)
    keep = hmap.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (204, 304):
        return head, keep
    if "transfer-encoding" in hmap or "content-length" in hmap:
        return head + await _read_body(reader, headers), keep
    # No framing: the body runs until the server closes.
    try:
        rest = await reader.read()
    except ConnectionError as exc:
        raise _Closed from exc
    return head + rest, False


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER on, timeout 0) instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """An HTTP/1.1 proxy between `listen_port` and `upstream_port` that injects faults.

    For each request it draws, from `random.Random(seed)`, one of `pass`, `delay` (sleep up to
    `max_delay` s, then pass), `drop_before` (close without forwarding), `drop_after` (forward,
    read the server's answer, close without sending it: the server did the work, the client
    never learns), `reset` (RST, before or after forwarding), `error_500` / `throttle_429`
    (answer `500` / `429` with `Retry-After: 1` itself, without forwarding). `rates` maps these
    names to probabilities; whatever is left passes through. `counts` tallies what happened,
    plus `requests`, `connections` and `upstream_error` (server unreachable: the client's
    connection is closed). Keep-alive is honoured; each client connection gets its own
    upstream connection.
    """

    def __init__(
        self,
        upstream_port: int,
        *,
        listen_port: int = 0,
        seed: int = 0,
        rates: Mapping[str, float] | None = None,
        max_delay: float = 1.0,
        upstream_host: str = "127.0.0.1",
    ) -> None:
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = listen_port
        self.max_delay = max_delay
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rates: dict[str, float] = {}
        self._faulty = True
        self.set_rates(DEFAULT_RATES if rates is None else rates)
        self._counts: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- configuration ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL clients use instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """Replace the fault probabilities (names from `FAULTS`; the rest passes through)."""
        unknown = set(rates) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown fault(s) {sorted(unknown)}; hint: use {FAULTS}")
        if any(r < 0 for r in rates.values()) or sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"fault rates must be >= 0 and sum to <= 1, got {dict(rates)}")
        with self._lock:
            self._rates = dict(rates)

    def set_mode(self, mode: str) -> None:
        """`"pass"`: forward everything untouched; `"faults"`: inject faults at `rates`."""
        if mode not in ("pass", "faults"):
            raise ValueError(f"unknown mode {mode!r}; hint: use 'pass' or 'faults'")
        with self._lock:
            self._faulty = mode == "faults"

    @property
    def counts(self) -> dict[str, int]:
        """A snapshot of what the proxy did so far."""
        with self._lock:
            return dict(self._counts)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _choose(self) -> tuple[str, float, bool]:
        """(action, delay seconds, reset-after-forwarding), drawn under the lock."""
        with self._lock:
            if not self._faulty:
                return PASS, 0.0, False
            x = self._rng.random()
            delay = self._rng.random() * self.max_delay
            after = self._rng.random() < 0.5
            acc = 0.0
            for name in FAULTS:
                acc += self._rates.get(name, 0.0)
                if x < acc:
                    return name, delay, after
            return PASS, 0.0, False

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Start listening (background thread); returns when the port is bound."""
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("fault proxy did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"fault proxy failed to start: {self._error!r}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(
                    self._handle, "127.0.0.1", self.port, limit=2 * _MAX_HEAD, reuse_address=True
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def stop(self) -> None:
        """Stop listening, cut every open connection, join the thread; idempotent."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return

        def _shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in list(self._tasks):
                task.cancel()
            loop.call_later(0.05, loop.stop)

        loop.call_soon_threadsafe(_shutdown)
        thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the proxy ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._count("connections")
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                try:
                    head = await _read_head(reader)
                    headers = _headers(head)
                    hmap = dict(headers)
                    if hmap.get("expect", "").lower() == "100-continue":
                        # Answer it here and strip it: the upstream sees a plain request.
                        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                        head = (
                            b"".join(
                                line + b"\r\n"
                                for line in head[:-4].split(b"\r\n")
                                if not line.lower().startswith(b"expect:")
                            )
                            + b"\r\n"
                        )
                    body = await _read_body(reader, headers)
                except (_Closed, OSError):
                    return
                self._count("requests")
                method = head.split(b" ", 1)[0].decode("latin-1").upper()
                client_keep = hmap.get("connection", "").lower() != "close"

                action, delay, after = self._choose()
                self._count(action)
                if action == DELAY:
                    await asyncio.sleep(delay)
                elif action == DROP_BEFORE:
                    return
                elif action == RESET and not after:
                    _reset(writer)
                    return
                elif action in (ERROR_500, THROTTLE_429):
                    await self._answer(writer, action)
                    if not client_keep:
                        return
                    continue

                try:
                    if upstream is None:
                        upstream = await asyncio.open_connection(
                            self.upstream_host, self.upstream_port, limit=2 * _MAX_HEAD
                        )
                    up_reader, up_writer = upstream
                    up_writer.write(head + body)
                    await up_writer.drain()
                    response, up_keep = await _read_response(up_reader, method)
                except (OSError, _Closed):
                    self._count("upstream_error")
                    if upstream is not None:
                        upstream[1].transport.abort()
                    return
                if not up_keep:
                    upstream[1].close()
                    upstream = None

                if action == DROP_AFTER:
                    return
                if action == RESET:
                    _reset(writer)
                    return
                try:
                    writer.write(response)
                    await writer.drain()
                except OSError:
                    return
                if not client_keep:
                    return
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            if upstream is not None:
                upstream[1].transport.abort()
            if not writer.transport.is_closing():
                writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, action: str) -> None:
        if action == ERROR_500:
            body = b'{"detail": "fault proxy: injected 500"}'
            head = b"HTTP/1.1 500 Internal Server Error\r\n"
        else:
            body = b'{"detail": "fault proxy: injected 429, retry after 1 s"}'
            head = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
        writer.write(
            head
            + b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()


UI_DEADLINE = 60.0
"""Seconds `Ui.wait_for` waits."""


def spawn_ui(
    runs_dir: Path,
    port: int,
    out: Path,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`python -m fwtrack ui --dir runs_dir --port port *args` in a process group of its own,
    its stdout and stderr in `out`; `env` is added to `child_env()`."""
    command = [sys.executable, "-m", "fwtrack", "ui", "--dir", str(runs_dir), "--port", str(port)]
    with open(out, "wb") as fh:
        return subprocess.Popen(
            [*command, *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=child_env(**(env or {})),
            start_new_session=True,
        )


class Ui:
    """A real `fwtrack ui` process over `runs_dir` (no auth, read-only, in place)."""

    def __init__(self, tmp_path: Path, runs_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.out = tmp_path / "ui.out"
        self.proc = spawn_ui(runs_dir, self.port, self.out)

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def wait_for(self, what: str, check: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + UI_DEADLINE
        last: Any = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"ui exited:\n{self.out.read_text()}")
            try:
                last = check()
            except (OSError, KeyError, IndexError, AssertionError) as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(
            f"timed out waiting for {what}; last: {last!r}\n{self.out.read_text()}"
        )

    def stop(self) -> None:
        stop_process_group(self.proc, signal.SIGINT)


_SQLITE_TEMPLATE: list[Path] = []


def seed_migrated_sqlite(data_dir: Path) -> None:
    """Give a new server data dir the SQLite database the migrations would create in it
    (`fwtrack.db`, 0600), copied from a template migrated once per process: the server's
    start-up then finds it at the newest revision. A dir that has a database is left alone."""
    import sqlite3

    from fwtrack.server.db import Database
    from fwtrack.server.filemodes import private_dir, private_file

    target = data_dir / "fwtrack.db"
    if target.exists():
        return
    if not _SQLITE_TEMPLATE:
        where = Path(tempfile.mkdtemp(prefix="fwtrack-sqlite-template-"))
        db = Database(f"sqlite:///{where / 'fwtrack.db'}")
        try:
            db.migrate()
        finally:
            db.dispose()
        _SQLITE_TEMPLATE.append(where / "fwtrack.db")
    private_dir(data_dir)
    private_file(target)
    source, copy = sqlite3.connect(_SQLITE_TEMPLATE[0]), sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
