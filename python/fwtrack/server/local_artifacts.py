"""`fwtrack ui`: the local artifact registry (`<dir>/.artifacts`, docs/artifacts.md "The local
layout") imported into the artifact tables, so that the routes serving a server's artifacts
serve the local ones (read-only; their bytes are read from `<dir>/.artifacts/blobs`).

The scanner calls `LocalArtifacts.scan()` every cycle. A collection is read again only when
its `versions/` folder, `aliases.json` or `collection.json` changed (size or mtime), so a
cycle with nothing new costs a few `stat`s. Versions are immutable: a version file already
imported is not read again; a version (or collection, or project folder) that disappeared is
dropped. Symbolic links are not followed, as for runs; names the API cannot address are
skipped, and a version file or manifest that cannot be read is named once in the ui's output
and tried again when its collection changes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fwtrack import path_names
from fwtrack.server.artifacts import parse_manifest
from fwtrack.server.db import (
    ArtifactAlias,
    ArtifactCollection,
    ArtifactManifest,
    ArtifactVersion,
    Database,
    Project,
    Run,
    now,
)
from fwtrack.server.ingest import get_or_create_project

__all__ = ["ARTIFACTS_DIR", "REGISTRY_DIR", "LocalArtifacts", "is_dir", "number", "read_json"]

log = logging.getLogger("fwtrack.server")

ARTIFACTS_DIR = ".artifacts"
REGISTRY_DIR = "registry"
"""The local model registry's folder in `.artifacts` (`fwtrack.server.local_models`): not a
project."""
_VERSION_FILE = re.compile(r"^v(\d{1,9})\.json$")
_HEX = re.compile(r"^blake3:([0-9a-f]{64})$")
_CLIENT_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_JSON = 1 << 20
_MAX_MANIFEST = 64 << 20

_Stamp = tuple[int, ...]


def is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # a link is not a folder here
    except OSError:
        return False


def _stamp(*paths: Path) -> _Stamp:
    out: list[int] = []
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            out += [-1, -1]
            continue
        out += [st.st_size, st.st_mtime_ns]
    return tuple(out)


def _read(path: Path, limit: int = _MAX_JSON) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path} is larger than {limit} bytes")
    return data


def read_json(path: Path) -> Any:
    return json.loads(_read(path))


def _valid(name: str) -> bool:
    try:
        path_names.check_project(name)
    except ValueError:
        return False
    return not name.startswith(".")


def number(value: Any, default: float = 0.0) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
        return float(value)
    return default


class LocalArtifacts:
    """Imports `<runs_dir>/.artifacts` into the ui's database (entity `entity`)."""

    def __init__(self, db: Database, runs_dir: Path, entity: str) -> None:
        self.db = db
        self.root = runs_dir / ARTIFACTS_DIR
        self.blobs = self.root / "blobs"
        self.entity = entity
        self._stamps: dict[tuple[str, str], _Stamp] = {}
        self._warned: set[str] = set()

    def _warn(self, what: str, exc: BaseException | str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("local artifacts: cannot import %s: %s", what, exc)

    def scan(self) -> None:
        """One pass over the registry."""
        seen: dict[str, set[str]] = {}
        if is_dir(self.root):
            for project_dir in sorted(self.root.iterdir()):
                if project_dir.name in ("blobs", REGISTRY_DIR) or not _valid(project_dir.name):
                    continue
                if not is_dir(project_dir):
                    continue
                names = seen.setdefault(project_dir.name, set())
                for coll_dir in sorted(project_dir.iterdir()):
                    if not _valid(coll_dir.name) or not is_dir(coll_dir):
                        continue
                    names.add(coll_dir.name)
                    key = (project_dir.name, coll_dir.name)
                    stamp = _stamp(
                        coll_dir / "versions",
                        coll_dir / "aliases.json",
                        coll_dir / "collection.json",
                    )
                    if self._stamps.get(key) == stamp:
                        continue
                    try:
                        self._import(project_dir.name, coll_dir)
                    except (OSError, ValueError) as exc:
                        self._warn(str(coll_dir), exc)
                        continue
                    self._stamps[key] = stamp
        self._drop_missing(seen)

    def _import(self, project_name: str, coll_dir: Path) -> None:
        info = read_json(coll_dir / "collection.json")
        if not isinstance(info, dict):
            raise ValueError("collection.json is not a JSON object")
        type_ = str(info.get("type") or "")
        description = info.get("description") if isinstance(info.get("description"), str) else None
        created = number(info.get("created_at"), now())
        files: dict[int, Path] = {}
        versions_dir = coll_dir / "versions"
        if is_dir(versions_dir):
            for entry in versions_dir.iterdir():
                m = _VERSION_FILE.fullmatch(entry.name)
                if m is not None:
                    files[int(m.group(1))] = entry
        aliases_raw: Any = {}
        with contextlib.suppress(FileNotFoundError):
            aliases_raw = read_json(coll_dir / "aliases.json")
        aliases = {
            a: int(v[1:])
            for a, v in (aliases_raw.items() if isinstance(aliases_raw, dict) else [])
            if isinstance(a, str) and isinstance(v, str) and re.fullmatch(r"v\d{1,9}", v)
        }
        project = get_or_create_project(self.db, self.entity, project_name)
        with self.db.write() as session:
            coll = session.scalar(
                sa.select(ArtifactCollection).where(
                    ArtifactCollection.project_id == project.id,
                    ArtifactCollection.name == coll_dir.name,
                )
            )
            if coll is None:
                coll = ArtifactCollection(
                    project_id=project.id,
                    name=coll_dir.name,
                    type=type_ or "unknown",
                    description=description,
                    created_at=created,
                    updated_at=created,
                )
                session.add(coll)
                session.flush()
            else:
                coll.type = type_ or coll.type
                coll.description = description
            known = {
                v.index: v
                for v in session.scalars(
                    sa.select(ArtifactVersion).where(ArtifactVersion.collection_id == coll.id)
                )
            }
            for index in sorted(set(known) - set(files)):
                session.delete(known.pop(index))
            for index in sorted(set(files) - set(known)):
                version = self._version(session, project, coll, index, files[index])
                if version is not None:
                    known[index] = version
                    coll.updated_at = max(coll.updated_at, version.created_at)
            session.execute(sa.delete(ArtifactAlias).where(ArtifactAlias.collection_id == coll.id))
            session.flush()
            for alias, index in sorted(aliases.items()):
                if index in known and alias != "latest":
                    session.add(
                        ArtifactAlias(
                            collection_id=coll.id, alias=alias, version_id=known[index].id
                        )
                    )

    def _version(
        self,
        session: Session,
        project: Project,
        coll: ArtifactCollection,
        index: int,
        path: Path,
    ) -> ArtifactVersion | None:
        try:
            doc = read_json(path)
            if not isinstance(doc, dict):
                raise ValueError("not a JSON object")
            digest = str(doc.get("digest") or "")
            m = _HEX.fullmatch(digest)
            if m is None:
                raise ValueError(f"digest {digest[:80]!r} is not a blake3: address")
            manifest_path = self.blobs / m.group(1)[:2] / m.group(1)
            data = _read(manifest_path, _MAX_MANIFEST)
            entries = parse_manifest(data).to_json()["entries"]
        except (OSError, ValueError) as exc:
            self._warn(str(path), exc)
            return None
        client_id = str(doc.get("id") or "")
        if _CLIENT_ID.fullmatch(client_id) is None or session.scalar(
            sa.select(ArtifactVersion.id).where(ArtifactVersion.client_id == client_id)
        ):
            client_id = f"local-{coll.id}-{index}"  # unique all the same
        run_pk = None
        run_ref = doc.get("run")
        if isinstance(run_ref, dict) and isinstance(run_ref.get("id"), str):
            run_project = run_ref.get("project") or project.name
            run_pk = session.scalar(
                sa.select(Run.id)
                .join(Project, Project.id == Run.project_id)
                .where(
                    Project.entity == self.entity,
                    Project.name == run_project,
                    Run.run_id == run_ref["id"],
                )
            )
        metadata = doc.get("metadata")
        description = doc.get("description")
        version = ArtifactVersion(
            collection_id=coll.id,
            index=index,
            digest=digest,
            client_id=client_id,
            size=int(number(doc.get("size"))),
            files=int(number(doc.get("files"), len(entries))),
            meta=metadata if isinstance(metadata, dict) else {},
            description=description if isinstance(description, str) else None,
            run_pk=run_pk,
            created_by=None,
            created_at=number(doc.get("created_at"), now()),
        )
        session.add(version)
        session.flush()
        session.add(
            ArtifactManifest(
                version_id=version.id, address=digest, entries=entries, nbytes=len(data)
            )
        )
        return version

    def _drop_missing(self, seen: dict[str, set[str]]) -> None:
        with self.db.read() as session:
            rows = session.execute(
                sa.select(ArtifactCollection.id, Project.name, ArtifactCollection.name)
                .join(Project, Project.id == ArtifactCollection.project_id)
                .where(Project.entity == self.entity)
            ).all()
        gone = [(cid, p, n) for cid, p, n in rows if n not in seen.get(p, set())]
        if not gone:
            return
        with self.db.write() as session:
            session.execute(
                sa.delete(ArtifactCollection).where(
                    ArtifactCollection.id.in_([cid for cid, _, _ in gone])
                )
            )
        for _, p, n in gone:
            self._stamps.pop((p, n), None)
