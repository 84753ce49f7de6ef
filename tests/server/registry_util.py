"""Helpers for the model registry tests against real server processes: model artifacts
committed by runs, links, and the registry's routes as one key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from fwtrack import _core

from .artifact_util import ArtifactClient

REG = "/registry"


def run_log(
    root: Path,
    project: str,
    run_id: str,
    *,
    metrics: Sequence[Mapping[str, Any]] = ({"loss": 1.0},),
    used: Sequence[dict[str, Any]] = (),
) -> bytes:
    """A finished run log with `metrics` (one step each) and `ArtifactUsed` records."""
    run_dir = root / project / run_id
    info = {"id": run_id, "project": project, "name": f"name-{run_id}", "created_at": time.time()}
    warnings: list[str] = []
    writer = _core.RunWriter(
        str(run_dir), json.dumps(info), converter=lambda _k, _v: None, warn=warnings.append
    )
    for row in metrics:
        writer.log(dict(row))
    for body in used:
        writer.log_artifact_record("used", json.dumps(body))
    writer.finish(0)
    assert warnings == []
    return (run_dir / "run.fwlog").read_bytes()


class RegistryClient(ArtifactClient):
    """ArtifactClient with the registry's routes."""

    def as_(self, key: str) -> RegistryClient:
        return RegistryClient(self.server, key)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.http.put(path, json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(path)

    def model_path(self, model: str, entity: str = "admin") -> str:
        return f"{REG}/{entity}/models/{model}"

    def model_version(
        self,
        project: str,
        run_id: str,
        name: str,
        content: bytes,
        entity: str = "admin",
    ) -> dict[str, Any]:
        """Commit `content` as a version of model artifact `name`; its VersionJSON."""
        r = self.commit(project, run_id, name, {"model.bin": content}, type="model", entity=entity)
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def link(
        self,
        model: str,
        artifact: Mapping[str, Any],
        *,
        ref: str | None = None,
        aliases: Sequence[str] = (),
        run: Mapping[str, str] | None = None,
        entity: str = "admin",
    ) -> httpx.Response:
        body = {
            "artifact": {
                "entity": artifact["entity"],
                "project": artifact["project"],
                "name": artifact["name"],
                "ref": ref or artifact["version"],
            },
            "aliases": list(aliases),
            "run": dict(run) if run is not None else None,
        }
        return self.post(f"{self.model_path(model, entity)}/links", body)

    def move(
        self, model: str, alias: str, version: str, entity: str = "admin", **extra: Any
    ) -> httpx.Response:
        return self.put(
            f"{self.model_path(model, entity)}/aliases/{alias}", {"version": version, **extra}
        )

    def audit(self, model: str, entity: str = "admin", **params: Any) -> list[dict[str, Any]]:
        r = self.get(f"{self.model_path(model, entity)}/audit", params=params)
        assert r.status_code == 200, r.text
        out: list[dict[str, Any]] = r.json()
        return out


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
