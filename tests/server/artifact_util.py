"""Helpers for the artifact tests against real server processes: manifests in their canonical
form, blobs sent through the blob routes, versions committed through the commit route."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from fwtrack import _core
from fwtrack.server.pack import encode_pack

from .apputil import database, split, store_choice
from .harness import ServerProcess

PACK = {"Content-Type": "application/x-fwtrack-blobs"}
PRESIGN_THRESHOLD = 100_000
"""The module servers' `--presign-threshold`: a larger file on S3 is answered 307."""


def canonical(obj: Any) -> bytes:
    """The canonical form of a manifest (docs/artifacts.md)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_of(
    files: Mapping[str, bytes], refs: Mapping[str, dict[str, Any]] | None = None
) -> tuple[bytes, str, dict[str, bytes]]:
    """`(manifest bytes, digest, {address: bytes})` of an artifact holding `files` (and
    reference entries `refs`)."""
    entries: dict[str, dict[str, Any]] = {}
    blobs: dict[str, bytes] = {}
    for path, data in files.items():
        address = _core.hash_bytes(data)
        entries[path] = {"address": address, "size": len(data)}
        blobs[address] = data
    for path, ref in (refs or {}).items():
        entries[path] = dict(ref)
    raw = canonical({"version": 1, "entries": entries})
    return raw, _core.hash_bytes(raw), blobs


def new_id() -> str:
    return uuid.uuid4().hex


def lineage_log(
    root: Path,
    project: str,
    run_id: str,
    *,
    used: Sequence[dict[str, Any]] = (),
    logged: Sequence[dict[str, Any]] = (),
) -> bytes:
    """A finished run log holding `ArtifactUsed` then `ArtifactLogged` records (bodies as
    docs/format.md has them), written by the core's writer."""
    run_dir = root / project / run_id
    info = {"id": run_id, "project": project, "name": f"name-{run_id}", "created_at": time.time()}
    warnings: list[str] = []
    writer = _core.RunWriter(
        str(run_dir), json.dumps(info), converter=lambda _k, _v: None, warn=warnings.append
    )
    writer.log({"loss": 1.0})
    for body in used:
        writer.log_artifact_record("used", json.dumps(body))
    for body in logged:
        writer.log_artifact_record("logged", json.dumps(body))
    writer.finish(0)
    assert warnings == []
    return (run_dir / "run.fwlog").read_bytes()


def record_of(version: Mapping[str, Any], ref: str | None = None) -> dict[str, Any]:
    """The body of an `ArtifactLogged` (or, with `ref`, `ArtifactUsed`) record of a version."""
    body: dict[str, Any] = {
        "ts": time.time(),
        "project": version["project"],
        "name": version["name"],
        "type": version["type"],
        "digest": version["digest"],
    }
    if ref is None:
        body.update(id=version["id"], size=version["size"], files=version["files"])
    else:
        body.update(entity=version.get("entity"), version=version["version"], ref=ref)
    return body


class ArtifactClient:
    """JSON calls to a real server as one key, with helpers to log and commit versions."""

    def __init__(self, server: ServerProcess, key: str | None = None) -> None:
        self.server = server
        self.key = key or server.admin_key
        self.http = httpx.Client(
            base_url=f"{server.url}/api/v1",
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=120,
        )

    def close(self) -> None:
        self.http.close()

    def as_(self, key: str) -> ArtifactClient:
        return ArtifactClient(self.server, key)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.http.patch(path, json=body)

    def new_run(self, log: bytes, project: str, run_id: str, entity: str = "admin") -> None:
        r = self.http.post(
            f"/runs/{entity}/{project}/{run_id}/log",
            params={"offset": 0},
            content=log,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.status_code == 200, r.text

    def send_blobs(
        self, project: str, run_id: str, blobs: Mapping[str, bytes], entity: str = "admin"
    ) -> None:
        if not blobs:
            return
        r = self.http.post(
            f"/runs/{entity}/{project}/{run_id}/blobs",
            content=encode_pack(list(blobs.items())),
            headers=PACK,
        )
        assert r.status_code == 200, r.text

    def commit(
        self,
        project: str,
        run_id: str,
        name: str,
        files: Mapping[str, bytes],
        *,
        type: str = "dataset",
        aliases: Sequence[str] = (),
        metadata: dict[str, Any] | None = None,
        description: str | None = None,
        refs: Mapping[str, dict[str, Any]] | None = None,
        call_id: str | None = None,
        send: bool = True,
        entity: str = "admin",
        artifact_project: str | None = None,
    ) -> httpx.Response:
        """Send the blobs and the manifest (unless `send` is false), then POST the commit."""
        raw, digest, blobs = manifest_of(files, refs)
        if send:
            self.send_blobs(project, run_id, {**blobs, digest: raw}, entity)
        body = {
            "id": call_id or new_id(),
            "project": artifact_project or project,
            "name": name,
            "type": type,
            "digest": digest,
            "aliases": list(aliases),
            "description": description,
            "metadata": metadata or {},
            "created_at": 1765000000.0,
        }
        return self.post(f"/runs/{entity}/{project}/{run_id}/artifacts", body)

    def version(self, project: str, name: str, ref: str, entity: str = "admin") -> httpx.Response:
        return self.get(f"/artifacts/{entity}/{project}/collections/{name}/versions/{ref}")


def module_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, combination: str
) -> Iterator[ServerProcess]:
    """A server process on `combination` (`<store>-<backend>`) for a whole module."""
    store, backend = split(combination)
    with database(request, backend) as url:
        data: Path = tmp_path_factory.mktemp("artifacts") / "data"
        server = ServerProcess(
            data,
            db_url=url,
            store=store_choice(request, store),
            extra_args=["--presign-threshold", str(PRESIGN_THRESHOLD)],
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
