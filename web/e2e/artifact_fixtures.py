"""Artifacts with lineage over three runs, for `artifacts.spec.ts`.

artifact_fixtures.py server --url URL --key KEY --work DIR --out expected.json
    seeds project `admin/artifacts` of the server at URL through its HTTP routes, as KEY:
    run `prep` logs the dataset `mnist-data` twice (v0 with the alias `stable`, then v1:
    files added, removed and changed, metadata changed); run `train` uses `mnist-data:v1`
    and logs the model `mnist-model` v0; run `eval` uses `mnist-model:latest` and logs the
    evaluation `eval-report` v0. Each run's log is written by the core's writer (with its
    `ArtifactUsed` and `ArtifactLogged` records, as `run.use_artifact`/`run.log_artifact`
    write them) and uploaded; each version's blobs and manifest are sent to the run's blob
    routes, then committed (`POST RUN/artifacts`). Writes what was seeded as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time
import urllib.request
import uuid
import zlib
from pathlib import Path
from typing import Any

from fwtrack import _core

ENTITY = "admin"
PROJECT = "artifacts"


def canonical(obj: Any) -> bytes:
    """A manifest's canonical bytes (docs/artifacts.md)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def png(width: int, height: int, seed: int) -> bytes:
    """A small RGB PNG: a gradient and a bright square that moves with `seed`."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            inside = seed * 3 <= x < seed * 3 + 6 and 4 <= y < 10
            row += bytes(
                (255, 255, 255) if inside else (x * 255 // width, 40 * seed, y * 255 // height)
            )
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


class Server:
    def __init__(self, url: str, key: str) -> None:
        self.api = f"{url}/api/v1"
        self.key = key

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> Any:
        req = urllib.request.Request(
            self.api + path,
            data=body,
            method=method,
            headers={"Authorization": f"Bearer {self.key}", "Content-Type": content_type},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def upload_run(self, log: bytes, run_id: str) -> None:
        self.call(
            "POST",
            f"/runs/{ENTITY}/{PROJECT}/{run_id}/log?offset=0",
            log,
            "application/octet-stream",
        )

    def put_blob(self, run_id: str, address: str, data: bytes) -> None:
        self.call(
            "PUT",
            f"/runs/{ENTITY}/{PROJECT}/{run_id}/blobs/{address}",
            data,
            "application/octet-stream",
        )


class Version:
    """A version to commit: its files, manifest and digest, computed before any run logs it."""

    def __init__(
        self,
        name: str,
        type_: str,
        files: dict[str, bytes],
        *,
        aliases: list[str],
        metadata: dict[str, Any],
        description: str | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        self.name = name
        self.type = type_
        self.files = files
        self.aliases = aliases
        self.metadata = metadata
        self.description = description
        self.blobs: dict[str, bytes] = {}
        entries: dict[str, dict[str, Any]] = {}
        for path, data in files.items():
            address = _core.hash_bytes(data)
            entries[path] = {"address": address, "size": len(data)}
            self.blobs[address] = data
        self.manifest = canonical({"version": 1, "entries": entries})
        self.digest = _core.hash_bytes(self.manifest)
        self.size = sum(len(d) for d in files.values())

    def logged_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": time.time(),
            "project": PROJECT,
            "name": self.name,
            "type": self.type,
            "digest": self.digest,
            "size": self.size,
            "files": len(self.files),
            "aliases": self.aliases,
            "version": None,
            "description": self.description,
            "metadata": self.metadata,
        }

    def used_record(self, version: str, ref: str) -> dict[str, Any]:
        return {
            "ts": time.time(),
            "entity": ENTITY,
            "project": PROJECT,
            "name": self.name,
            "type": self.type,
            "digest": self.digest,
            "version": version,
            "ref": ref,
        }

    def commit(self, server: Server, run_id: str) -> dict[str, Any]:
        for address, data in {**self.blobs, self.digest: self.manifest}.items():
            server.put_blob(run_id, address, data)
        body = {
            "id": self.id,
            "project": PROJECT,
            "name": self.name,
            "type": self.type,
            "digest": self.digest,
            "aliases": self.aliases,
            "description": self.description,
            "metadata": self.metadata,
        }
        answer: dict[str, Any] = server.call(
            "POST", f"/runs/{ENTITY}/{PROJECT}/{run_id}/artifacts", json.dumps(body).encode()
        )
        return answer


def run_log(
    root: Path,
    run_id: str,
    name: str,
    *,
    used: list[dict[str, Any]],
    logged: list[dict[str, Any]],
    steps: int,
) -> bytes:
    """A finished run log with metrics and its artifact records, by the core's writer."""
    run_dir = root / PROJECT / run_id
    info = {
        "id": run_id,
        "project": PROJECT,
        "name": name,
        "created_at": time.time(),
        "config": {"job": name},
    }
    warnings: list[str] = []
    writer = _core.RunWriter(
        str(run_dir), json.dumps(info), converter=lambda _k, _v: None, warn=warnings.append
    )
    for body in used:
        writer.log_artifact_record("used", json.dumps(body))
    for i in range(steps):
        writer.log({"train/loss": 1.0 / (i + 1)}, step=i)
    for body in logged:
        writer.log_artifact_record("logged", json.dumps(body))
    writer.finish(0)
    if warnings:
        raise RuntimeError(f"the run writer warned: {warnings}")
    return (run_dir / "run.fwlog").read_bytes()


def csv_rows(n: int) -> bytes:
    lines = ["id,label,pixels"] + [f'{i},{i % 10},"{i}, {i + 1}, {i + 2}"' for i in range(n)]
    return ("\n".join(lines) + "\n").encode()


def cmd_server(args: argparse.Namespace) -> int:
    server = Server(args.url, args.key)
    root = Path(args.work) / "runs"

    readme = b"# MNIST (a tiny synthetic copy)\n\nRows of digits for the browser tests.\n"
    data_v0 = Version(
        "mnist-data",
        "dataset",
        {
            "train.csv": csv_rows(3),
            "README.md": readme,
            "images/digit-0.png": png(24, 16, 0),
            "stats.json": json.dumps({"rows": 3, "mean": 0.5}).encode(),
            "old.txt": b"dropped in v1\n",
        },
        aliases=["stable"],
        metadata={"rows": 3, "source": "synthetic"},
        description="Digits, first cut",
    )
    data_v1 = Version(
        "mnist-data",
        "dataset",
        {
            "train.csv": csv_rows(5),
            "README.md": readme,
            "images/digit-0.png": png(24, 16, 0),
            "images/digit-1.png": png(24, 16, 1),
            "labels/classes.json": json.dumps({"classes": list(range(10))}).encode(),
            "stats.json": json.dumps({"rows": 5, "mean": 0.45}).encode(),
        },
        aliases=[],
        metadata={"rows": 5, "source": "synthetic", "split": "train"},
    )
    model = Version(
        "mnist-model",
        "model",
        {
            "model.bin": bytes(range(256)) * 8,
            "config.json": json.dumps({"layers": 2, "hidden": 64}).encode(),
        },
        aliases=["candidate"],
        metadata={"epochs": 3, "accuracy": 0.93},
    )
    report = Version(
        "eval-report",
        "evaluation",
        {
            "report.json": json.dumps({"accuracy": 0.91, "f1": 0.9}).encode(),
            "confusion.csv": b"label,correct,wrong\n0,9,1\n1,8,2\n",
        },
        aliases=[],
        metadata={"split": "test"},
    )

    # prep: logs the dataset twice
    server.upload_run(
        run_log(
            root,
            "prep",
            "prepare-data",
            used=[],
            logged=[data_v0.logged_record(), data_v1.logged_record()],
            steps=3,
        ),
        "prep",
    )
    committed = {
        "mnist-data:v0": data_v0.commit(server, "prep"),
        "mnist-data:v1": data_v1.commit(server, "prep"),
    }
    # train: uses the dataset's v1, logs the model
    used = [data_v1.used_record(committed["mnist-data:v1"]["version"], "mnist-data:v1")]
    server.upload_run(
        run_log(root, "train", "train-model", used=used, logged=[model.logged_record()], steps=10),
        "train",
    )
    committed["mnist-model:v0"] = model.commit(server, "train")
    # eval: uses the model's latest, logs the report
    used = [model.used_record(committed["mnist-model:v0"]["version"], "mnist-model:latest")]
    server.upload_run(
        run_log(root, "eval", "evaluate", used=used, logged=[report.logged_record()], steps=2),
        "eval",
    )
    committed["eval-report:v0"] = report.commit(server, "eval")

    for key, version in committed.items():
        expected_version = key.split(":")[1]
        if version.get("version") != expected_version:
            raise RuntimeError(f"{key} was committed as {version.get('version')!r}")
    expected = {
        "entity": ENTITY,
        "project": PROJECT,
        "versions": {
            k: {
                "digest": v["digest"],
                "size": v["size"],
                "files": v["files"],
                "aliases": v["aliases"],
            }
            for k, v in committed.items()
        },
        "readme": readme.decode(),
        "csv_rows": 5,
        "runs": {"prep": "prepare-data", "train": "train-model", "eval": "evaluate"},
    }
    Path(args.out).write_text(json.dumps(expected, indent=1))
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    import fwtrack

    os.environ.pop("FWTRACK_BASE_URL", None)
    os.environ["FWTRACK_MODE"] = "offline"
    root = Path(args.dir)
    source = root.parent / "local-art-files"
    source.mkdir(parents=True, exist_ok=True)
    (source / "notes.txt").write_text("kept on this machine\n")
    run = fwtrack.init(project="local-art", id="maker", name="maker", dir=root)
    art = fwtrack.Artifact("notes", type="dataset", metadata={"where": "local"})
    art.add_dir(str(source))
    run.log_artifact(art, aliases=["best"]).wait()
    run.finish()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    server = sub.add_parser("server")
    server.add_argument("--url", required=True)
    server.add_argument("--key", required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--out", required=True)
    local = sub.add_parser("local")
    local.add_argument("--dir", required=True)
    args = parser.parse_args()
    return {"server": cmd_server, "local": cmd_local}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
