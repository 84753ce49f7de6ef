"""The local registry: artifact versions under `<root>/.artifacts` (docs/artifacts.md, "The
local layout"), for offline runs and `fwtrack.Api()` on a run directory::

    <root>/.artifacts/
        blobs/<hh>/<hex>                          every file's bytes + the manifests
        <project>/<name>/
            .lock                                 flock(2): held to claim a version, move aliases
            collection.json                       {"type", "description", "created_at"}
            versions/v<N>.json                    VersionJSON (aliases merged on read)
            aliases.json                          {"alias": "vN", ...} ("latest" is computed)
            used/<digest hex>/<project>~<run id>  empty: that run used that version

A commit stores (and syncs) the blobs and the manifest first and writes `v<N>.json` last,
through a temporary file renamed into place: a process killed at any moment leaves the whole
version or none of it. The `.lock` makes two committers take two numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fwtrack import _core, path_names
from fwtrack._fsutil import locked, write_atomic
from fwtrack.artifacts.manifest import Manifest, ManifestEntry, digest_hex
from fwtrack.artifacts.registry import (
    LATEST,
    check_alias,
    check_aliases,
    check_name,
    version_index,
)
from fwtrack.errors import ArtifactError, ArtifactNotFoundError

__all__ = ["ARTIFACTS_DIR", "LocalRegistry"]

ARTIFACTS_DIR = ".artifacts"
_COPY_THREADS = 8


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, sort_keys=True, indent=1).encode()


def _read_json(path: Path) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


class LocalRegistry:
    """Artifact versions under `<root>/.artifacts`, where `root` is the run directory root
    (`FWTRACK_DIR`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(os.fspath(root)))
        self.base = self.root / ARTIFACTS_DIR
        self.blob_dir = self.base / "blobs"

    def __repr__(self) -> str:
        return f"LocalRegistry({str(self.root)!r})"

    # -- paths -----------------------------------------------------------------------------

    def blob_path(self, address: str) -> Path:
        hexpart = digest_hex(_core.check_address(address))
        return self.blob_dir / hexpart[:2] / hexpart

    def has_blob(self, address: str) -> bool:
        return self.blob_path(address).is_file()

    def _collection_dir(self, project: str, name: str) -> Path:
        return self.base / path_names.check_project(project) / check_name(name)

    # -- reading -----------------------------------------------------------------------------

    def _version_files(self, cdir: Path) -> dict[int, Path]:
        out: dict[int, Path] = {}
        try:
            names = os.listdir(cdir / "versions")
        except FileNotFoundError:
            return out
        for filename in names:
            if filename.endswith(".json"):
                index = version_index(filename[:-5])
                if index is not None:
                    out[index] = cdir / "versions" / filename
        return out

    def _aliases(self, cdir: Path) -> dict[str, str]:
        try:
            data = _read_json(cdir / "aliases.json")
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _collection_info(self, cdir: Path) -> dict[str, Any]:
        try:
            data = _read_json(cdir / "collection.json")
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def _load(self, path: Path, aliases: dict[str, str], latest: int | None) -> dict[str, Any]:
        version = _read_json(path)
        name = version["version"]
        merged = {a for a, v in aliases.items() if v == name}
        if latest is not None and version.get("index") == latest:
            merged.add(LATEST)
        version["aliases"] = sorted(merged)
        return dict(version)

    def _collection_versions(self, cdir: Path) -> list[dict[str, Any]]:
        """Every version of a collection, newest first."""
        files = self._version_files(cdir)
        if not files:
            return []
        aliases = self._aliases(cdir)
        latest = max(files)
        return [self._load(files[i], aliases, latest) for i in sorted(files, reverse=True)]

    def resolve(self, project: str, name: str, ref: str) -> dict[str, Any]:
        cdir = self._collection_dir(project, name)
        files = self._version_files(cdir)
        asked = f"{project}/{name}:{ref}"
        if not files:
            raise ArtifactNotFoundError(self._not_found(project, name, asked))
        aliases = self._aliases(cdir)
        latest = max(files)
        index: int | None
        if ref == LATEST:
            index = latest
        elif ref.startswith("blake3:"):
            for v in self._collection_versions(cdir):
                if v["digest"] == ref:
                    return v
            index = None
        else:
            index = version_index(ref)
            if index is None and ref in aliases:
                index = version_index(aliases[ref])
        if index is None or index not in files:
            known = [f"v{i}" for i in sorted(files)] + sorted(
                f"{a} (→ {v})" for a, v in aliases.items()
            )
            raise ArtifactNotFoundError(
                f"artifact {asked!r} does not exist: {project}/{name} has versions and aliases "
                f"{', '.join(known)}, latest"
            )
        return self._load(files[index], aliases, latest)

    def _not_found(self, project: str, name: str, asked: str) -> str:
        collections = (
            [c["name"] for c in self.collections(project)] if self._has_project(project) else []
        )
        if collections:
            where = f"project {project!r} has artifacts {', '.join(collections)}"
        else:
            projects = self.projects()
            where = f"project {project!r} has no artifacts" + (
                f" (projects with artifacts: {', '.join(projects)})" if projects else ""
            )
        return (
            f"artifact {asked!r} does not exist in {self.base}: {where}\n"
            "hint: log it with run.log_artifact(...), or check the name (e.g. "
            "'project/name:latest')"
        )

    def _has_project(self, project: str) -> bool:
        return (self.base / path_names.check_project(project)).is_dir()

    def projects(self) -> list[str]:
        """Projects that hold artifacts."""
        try:
            return sorted(
                e.name
                for e in os.scandir(self.base)
                if e.is_dir() and e.name != "blobs" and not e.name.startswith(".")
            )
        except FileNotFoundError:
            return []

    def _collection_dirs(self, project: str) -> list[Path]:
        pdir = self.base / path_names.check_project(project)
        try:
            return sorted(Path(e.path) for e in os.scandir(pdir) if e.is_dir())
        except FileNotFoundError:
            return []

    def manifest(self, version: dict[str, Any]) -> Manifest:
        path = self.blob_path(str(version["digest"]))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ArtifactError(
                f"the manifest of {version.get('project')}/{version.get('name')}:"
                f"{version.get('version')} is missing from {self.blob_dir} ({path.name})"
            ) from None
        if _core.hash_bytes(data) != version["digest"]:
            raise ArtifactError(
                f"the stored manifest {path} of {version.get('name')}:{version.get('version')} "
                "is corrupt (its bytes do not hash to the digest)"
            )
        return Manifest.from_bytes(data)

    def materialize(
        self, version: dict[str, Any], entries: list[ManifestEntry], root: Path
    ) -> None:
        """Copy the entries' blobs to `root/<path>`, each verified (hashed after the copy,
        renamed into place only when it matches)."""
        jobs: list[tuple[ManifestEntry, Path, Path]] = []
        for entry in entries:
            if entry.address is None:
                continue
            dest = root.joinpath(*entry.path.split("/"))
            dest.parent.mkdir(parents=True, exist_ok=True)
            jobs.append(
                (entry, dest, dest.parent / f".{dest.name}.fwtrack-{uuid.uuid4().hex[:12]}")
            )

        def copy(job: tuple[ManifestEntry, Path, Path]) -> None:
            entry, _dest, tmp = job
            assert entry.address is not None
            src = self.blob_path(entry.address)
            try:
                shutil.copyfile(src, tmp)
            except FileNotFoundError:
                raise ArtifactError(
                    f"{entry.path} of {version.get('name')}:{version.get('version')} is missing "
                    f"from the local blob store ({src})"
                ) from None

        try:
            with ThreadPoolExecutor(_COPY_THREADS) as pool:
                list(pool.map(copy, jobs))
            hashed = _core.hash_files([str(t) for _, _, t in jobs]) if jobs else []
            for (entry, dest, tmp), result in zip(jobs, hashed, strict=True):
                if result is None or result[0] != entry.address:
                    raise ArtifactError(
                        f"the stored bytes of {entry.path} ({self.blob_path(str(entry.address))}) "
                        f"are corrupt: they hash to {result[0] if result else '?'}, not "
                        f"{entry.address}"
                    )
                os.replace(tmp, dest)
        finally:
            for _, _, tmp in jobs:
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def versions(
        self, project: str, *, name: str | None = None, type: str | None = None
    ) -> list[dict[str, Any]]:
        cdirs = (
            [self._collection_dir(project, name)]
            if name is not None
            else self._collection_dirs(project)
        )
        out: list[dict[str, Any]] = []
        for cdir in cdirs:
            for v in self._collection_versions(cdir):
                if type is None or v.get("type") == type:
                    out.append(v)
        out.sort(key=lambda v: (v.get("created_at") or 0.0, v.get("index") or 0), reverse=True)
        return out

    def collections(self, project: str, *, type: str | None = None) -> list[dict[str, Any]]:
        out = []
        for cdir in self._collection_dirs(project):
            versions = self._collection_versions(cdir)
            if not versions:
                continue
            info = self._collection_info(cdir)
            ctype = info.get("type") or versions[0].get("type")
            if type is not None and ctype != type:
                continue
            latest = versions[0]
            out.append(
                {
                    "project": project,
                    "name": cdir.name,
                    "type": ctype,
                    "description": info.get("description"),
                    "versions": len(versions),
                    "latest": latest["version"],
                    "aliases": dict(sorted(self._aliases(cdir).items())),
                    "size": latest.get("size", 0),
                    "created_at": info.get("created_at") or versions[-1].get("created_at"),
                    "updated_at": latest.get("created_at"),
                }
            )
        return out

    def types(self, project: str) -> list[dict[str, Any]]:
        counts: dict[str, list[int]] = {}
        for c in self.collections(project):
            row = counts.setdefault(str(c["type"]), [0, 0])
            row[0] += 1
            row[1] += int(c["versions"])
        return [
            {"type": t, "collections": n, "versions": v} for t, (n, v) in sorted(counts.items())
        ]

    # -- writing -----------------------------------------------------------------------------

    def commit(
        self,
        *,
        project: str,
        name: str,
        type: str,
        digest: str,
        size: int,
        files: int,
        aliases: list[str],
        log_id: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        created_at: float | None = None,
        run: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Record a version whose blobs and manifest are stored already: the existing version
        with the same digest (its aliases extended), else the next `v<N>`. Returns VersionJSON."""
        aliases = check_aliases(aliases)
        if not self.blob_path(digest).is_file():
            raise ArtifactError(f"cannot commit {project}/{name}: manifest {digest} is not stored")
        cdir = self._collection_dir(project, name)
        now = time.time() if created_at is None else created_at
        with locked(cdir / ".lock"):
            info = self._collection_info(cdir)
            if info and info.get("type") != type:
                raise ArtifactError(
                    f"artifact {project}/{name} is of type {info.get('type')!r}, not {type!r}; "
                    "use the type it has, or another name"
                )
            if not info:
                (cdir / "versions").mkdir(parents=True, exist_ok=True)
                write_atomic(
                    cdir / "collection.json",
                    _dumps({"type": type, "description": description, "created_at": now}),
                )
            files_by_index = self._version_files(cdir)
            found: dict[str, Any] | None = None
            for index in sorted(files_by_index, reverse=True):
                v = _read_json(files_by_index[index])
                if v.get("digest") == digest or v.get("id") == log_id:
                    found = v
                    break
            if found is None:
                index = max(files_by_index, default=-1) + 1
                found = {
                    "id": log_id,
                    "entity": None,
                    "project": project,
                    "name": name,
                    "type": type,
                    "version": f"v{index}",
                    "index": index,
                    "digest": digest,
                    "size": int(size),
                    "files": int(files),
                    "aliases": [],
                    "description": description,
                    "metadata": dict(metadata or {}),
                    "created_at": now,
                    "created_by": None,
                    "run": run,
                }
                (cdir / "versions").mkdir(parents=True, exist_ok=True)
                write_atomic(cdir / "versions" / f"v{index}.json", _dumps(found))
            if aliases:
                current = self._aliases(cdir)
                for alias in aliases:
                    current[alias] = str(found["version"])
                write_atomic(cdir / "aliases.json", _dumps(current))
            files_by_index = self._version_files(cdir)
            return self._load(
                files_by_index[int(found["index"])], self._aliases(cdir), max(files_by_index)
            )

    def set_aliases(self, version: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
        wanted = [check_alias(a) for a in aliases if a != LATEST]
        cdir = self._collection_dir(str(version["project"]), str(version["name"]))
        name = str(version["version"])
        with locked(cdir / ".lock"):
            current = {a: v for a, v in self._aliases(cdir).items() if v != name}
            for alias in wanted:
                current[alias] = name
            write_atomic(cdir / "aliases.json", _dumps(current))
        return self.resolve(str(version["project"]), str(version["name"]), name)

    def mark_used(self, version: dict[str, Any], project: str, run_id: str) -> None:
        """Record that run `project/run_id` used `version` (an empty marker file)."""
        cdir = self._collection_dir(str(version["project"]), str(version["name"]))
        folder = cdir / "used" / digest_hex(str(version["digest"]))
        folder.mkdir(parents=True, exist_ok=True)
        marker = folder / f"{path_names.check_project(project)}~{path_names.check_run_id(run_id)}"
        marker.touch()

    # -- lineage -----------------------------------------------------------------------------

    def _used_markers(self, version: dict[str, Any]) -> list[tuple[str, str, float]]:
        cdir = self._collection_dir(str(version["project"]), str(version["name"]))
        folder = cdir / "used" / digest_hex(str(version["digest"]))
        out = []
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return []
        for e in entries:
            project, sep, run_id = e.name.partition("~")
            if sep:
                out.append((project, run_id, e.stat().st_mtime))
        return sorted(out, key=lambda t: t[2])

    def run_info(self, project: str, run_id: str) -> dict[str, Any]:
        info: dict[str, Any] = {"entity": None, "project": project, "run_id": run_id}
        run_dir = self.root / project / run_id
        try:
            from fwtrack.api import Run as ApiRun

            run = ApiRun(run_dir, project=project)
            info["name"] = run.name
            info["state"] = run.state
        except Exception:
            info["name"] = None
            info["state"] = None
        return info

    def used_by(self, version: dict[str, Any]) -> list[dict[str, Any]]:
        out = []
        for project, run_id, used_at in self._used_markers(version):
            info = self.run_info(project, run_id)
            info["used_at"] = used_at
            out.append(info)
        return out

    def lineage(self, version: dict[str, Any], depth: int = 2) -> dict[str, Any]:
        """Runs and versions around `version`, `depth` hops: producer run → version (logged),
        version → consumer runs (used), and so on from each run found."""
        all_versions = [v for p in self.projects() for v in self.versions(p)]
        logged_by_run: dict[tuple[str, str], list[dict[str, Any]]] = {}
        used_by_run: dict[tuple[str, str], list[dict[str, Any]]] = {}
        consumers: dict[str, list[tuple[str, str]]] = {}
        for v in all_versions:
            run = v.get("run")
            if run:
                logged_by_run.setdefault((run["project"], run["id"]), []).append(v)
            key = _artifact_id(v)
            for project, run_id, _ in self._used_markers(v):
                used_by_run.setdefault((project, run_id), []).append(v)
                consumers.setdefault(key, []).append((project, run_id))
        nodes: dict[str, dict[str, Any]] = {}
        edges: set[tuple[str, str]] = set()

        def artifact_node(v: dict[str, Any]) -> str:
            key = _artifact_id(v)
            nodes.setdefault(
                key,
                {
                    "id": key,
                    "kind": "artifact",
                    "project": v["project"],
                    "name": v["name"],
                    "version": v["version"],
                    "type": v.get("type"),
                    "digest": v["digest"],
                },
            )
            return key

        def run_node(project: str, run_id: str) -> str:
            key = f"run:{project}/{run_id}"
            if key not in nodes:
                info = self.run_info(project, run_id)
                nodes[key] = {"id": key, "kind": "run", **info}
            return key

        start = artifact_node(version)
        frontier: deque[tuple[str, Any, int]] = deque([("artifact", version, 0)])
        seen = {start}
        while frontier:
            kind, item, hops = frontier.popleft()
            if hops >= depth:
                continue
            found: list[tuple[str, Any]] = []
            if kind == "artifact":
                key = artifact_node(item)
                run = item.get("run")
                if run:
                    rk = run_node(run["project"], run["id"])
                    edges.add((rk, key))
                    found.append((rk, ("run", (run["project"], run["id"]))))
                for project, run_id in consumers.get(key, []):
                    rk = run_node(project, run_id)
                    edges.add((key, rk))
                    found.append((rk, ("run", (project, run_id))))
            else:
                project, run_id = item
                rk = run_node(project, run_id)
                for v in logged_by_run.get((project, run_id), []):
                    ak = artifact_node(v)
                    edges.add((rk, ak))
                    found.append((ak, ("artifact", v)))
                for v in used_by_run.get((project, run_id), []):
                    ak = artifact_node(v)
                    edges.add((ak, rk))
                    found.append((ak, ("artifact", v)))
            for key, (k, it) in found:
                if key not in seen:
                    seen.add(key)
                    frontier.append((k, it, hops + 1))
        return {
            "nodes": list(nodes.values()),
            "edges": [{"from": a, "to": b} for a, b in sorted(edges)],
        }


def _artifact_id(v: dict[str, Any]) -> str:
    return f"artifact:{v['project']}/{v['name']}:{v['version']}"
