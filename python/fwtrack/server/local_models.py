"""`fwtrack ui`: the local model registry (`<dir>/.artifacts/registry/<model>.json`, one JSON
file per model, docs/registry.md "Local and server") imported into the registry's tables, so
that the routes serving a server's registry serve the local one (read-only, entity `local`).

The scanner calls `LocalModels.scan()` every cycle, after the local artifacts: a model file is
read again only when it changed (size or mtime) or the artifact versions did. A model file
replaces the model's rows whole (versions, aliases, maintainers, audit trail); a version whose
artifact version is not in the ui's tables (yet) is left out.
A model file that disappeared drops the model. Symbolic links are not followed; names the API
cannot address are skipped; a file that cannot be read is named once in the ui's output.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fwtrack.artifacts import registry as rules
from fwtrack.server.db import (
    ArtifactCollection,
    ArtifactVersion,
    Database,
    Project,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelMaintainer,
    RegisteredModelVersion,
    RegistryAudit,
    Run,
    User,
    now,
)
from fwtrack.server.local_artifacts import ARTIFACTS_DIR, REGISTRY_DIR, is_dir, number, read_json
from fwtrack.server.registry import AUDIT_ACTIONS

__all__ = ["LocalModels"]

log = logging.getLogger("fwtrack.server")

_VERSION = re.compile(r"^v\d{1,9}$")
_Stamp = tuple[Any, ...]


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class LocalModels:
    """Imports `<runs_dir>/.artifacts/registry` into the ui's database (entity `entity`)."""

    def __init__(self, db: Database, runs_dir: Path, entity: str) -> None:
        self.db = db
        self.root = runs_dir / ARTIFACTS_DIR / REGISTRY_DIR
        self.entity = entity
        self._stamps: dict[str, _Stamp] = {}
        self._warned: set[str] = set()

    def _warn(self, what: str, exc: BaseException | str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning("local model registry: cannot import %s: %s", what, exc)

    def _generation(self) -> tuple[int, int]:
        """Changes when artifact versions come or go (a model missing one reads again)."""
        with self.db.read() as session:
            count, top = session.execute(
                sa.select(sa.func.count(), sa.func.max(ArtifactVersion.id))
            ).one()
        return int(count), int(top or 0)

    def scan(self) -> None:
        """One pass over the local registry."""
        seen: set[str] = set()
        if is_dir(self.root):
            generation = self._generation()
            for path in sorted(self.root.iterdir()):
                name = path.name[: -len(".json")]
                if not path.name.endswith(".json") or path.name.startswith("."):
                    continue
                try:
                    rules.check_name(name)
                    st = os.lstat(path)
                except (OSError, ValueError):
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                seen.add(name)
                # The artifact versions' generation too: a version the model links may come
                # later, or go (and its model version with it).
                stamp: _Stamp = (st.st_size, st.st_mtime_ns, generation)
                if self._stamps.get(name) == stamp:
                    continue
                try:
                    self._import(name, path)
                except (OSError, ValueError) as exc:
                    self._warn(str(path), exc)
                    continue
                self._stamps[name] = stamp
        self._drop_missing(seen)

    def _import(self, name: str, path: Path) -> None:
        """Replace the model's rows with the file's (versions whose artifact version is not
        there are left out)."""
        doc = read_json(path)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        t = now()
        metadata = doc.get("metadata")
        with self.db.write() as session:
            model = session.scalar(
                sa.select(RegisteredModel).where(
                    RegisteredModel.entity == self.entity, RegisteredModel.name == name
                )
            )
            if model is None:
                model = RegisteredModel(entity=self.entity, name=name)
                session.add(model)
            model.description = _text(doc.get("description"), 1 << 20)
            model.meta = metadata if isinstance(metadata, dict) else {}
            model.tags = _strings(doc.get("tags"))
            model.protected_aliases = sorted(set(_strings(doc.get("protected_aliases"))))
            model.created_at = number(doc.get("created_at"), t)
            model.updated_at = number(doc.get("updated_at"), model.created_at)
            model.created_by = None
            session.flush()
            for table in (RegisteredModelVersion, RegisteredModelMaintainer, RegistryAudit):
                session.execute(sa.delete(table).where(table.model_id == model.id))
            session.flush()
            by_index: dict[int, int] = {}
            for row in doc.get("versions") or []:
                version = self._version(session, model, row)
                if version is not None:
                    by_index[version.index] = version.id
            aliases = doc.get("aliases")
            for alias, index in sorted(aliases.items() if isinstance(aliases, dict) else []):
                if isinstance(alias, str) and alias != rules.LATEST and index in by_index:
                    session.add(
                        RegisteredModelAlias(
                            model_id=model.id, alias=alias[:128], version_id=by_index[index]
                        )
                    )
            names = _strings(doc.get("maintainers"))
            if names:
                for uid in session.scalars(sa.select(User.id).where(User.name.in_(names))):
                    session.add(RegisteredModelMaintainer(model_id=model.id, user_id=uid))
            self._audit(session, model, doc.get("audit"))

    def _version(
        self, session: Session, model: RegisteredModel, row: Any
    ) -> RegisteredModelVersion | None:
        if not isinstance(row, dict) or not isinstance(row.get("artifact"), dict):
            return None
        index = row.get("index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            return None
        art = row["artifact"]
        query = (
            sa.select(ArtifactVersion.id)
            .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id)
            .join(Project, Project.id == ArtifactCollection.project_id)
            .where(
                Project.entity == self.entity,
                Project.name == art.get("project"),
                ArtifactCollection.name == art.get("name"),
            )
        )
        if isinstance(art.get("digest"), str):
            query = query.where(ArtifactVersion.digest == art["digest"])
        elif isinstance(art.get("version"), str) and _VERSION.fullmatch(art["version"]):
            query = query.where(ArtifactVersion.index == int(art["version"][1:]))
        else:
            return None
        artifact_version_id = session.scalar(query)
        if artifact_version_id is None:
            return None
        run_pk = None
        run = row.get("run")
        if isinstance(run, dict) and isinstance(run.get("id"), str):
            run_pk = session.scalar(
                sa.select(Run.id)
                .join(Project, Project.id == Run.project_id)
                .where(
                    Project.entity == self.entity,
                    Project.name == run.get("project"),
                    Run.run_id == run["id"],
                )
            )
        version = RegisteredModelVersion(
            model_id=model.id,
            index=index,
            artifact_version_id=artifact_version_id,
            linked_at=number(row.get("linked_at"), model.created_at),
            linked_by=None,
            run_pk=run_pk,
        )
        session.add(version)
        try:
            session.flush()
        except IntegrityError:  # the same index or artifact version twice
            raise ValueError(f"version v{index} is there twice") from None
        return version

    def _audit(self, session: Session, model: RegisteredModel, rows: Any) -> None:
        entries = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
        entries.sort(key=lambda r: number(r.get("id"), 0))
        for row in entries:
            action = row.get("action")
            if action not in AUDIT_ACTIONS:
                continue
            detail = row.get("detail")
            session.add(
                RegistryAudit(
                    model_id=model.id,
                    at=number(row.get("at"), model.created_at),
                    user=_text(row.get("user"), 64),
                    action=action,
                    alias=_text(row.get("alias"), 128),
                    from_version=_text(row.get("from_version"), 16),
                    to_version=_text(row.get("to_version"), 16),
                    detail=detail if isinstance(detail, dict) else None,
                )
            )
            session.flush()  # ids in the file's order

    def _drop_missing(self, seen: set[str]) -> None:
        with self.db.read() as session:
            rows = session.execute(
                sa.select(RegisteredModel.id, RegisteredModel.name).where(
                    RegisteredModel.entity == self.entity
                )
            ).all()
        gone = [(mid, name) for mid, name in rows if name not in seen]
        if not gone:
            return
        with self.db.write() as session:
            session.execute(
                sa.delete(RegisteredModel).where(RegisteredModel.id.in_([m for m, _ in gone]))
            )
        for _, name in gone:
            self._stamps.pop(name, None)
