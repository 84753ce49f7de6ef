"""The local model registry: one JSON file per registered model under
`<FWTRACK_DIR>/.artifacts/registry/<model>.json` (docs/registry.md, "Local and server")::

    {"format": 1, "name", "description", "metadata", "tags", "protected_aliases",
     "maintainers", "created_at", "updated_at", "created_by",
     "versions": [{"index", "artifact": {"project", "name", "version", "digest"},
                   "linked_at", "linked_by", "run": {"project", "id"} | null}],
     "aliases": {alias: index},
     "audit": [{"id", "at", "user", "action", "alias", "from_version", "to_version",
                "detail"}]}

Each change holds the model's lock file (`.<model>.lock`, `fwtrack._fsutil.locked`) and
replaces the file whole (`write_atomic`): a reader sees the model before or after a change.
The local user (`getpass.getuser()`) is an admin of everything here: protected aliases are
recorded and shown, not enforced. There are no entities (`entity` is None).

The methods answer the server's JSON shapes (ModelOut, ModelDetailOut, ModelVersionOut,
AuditOut, CardOut), so `ModelRegistry` reads both registries the same way.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from fwtrack._fsutil import locked, write_atomic
from fwtrack.artifacts.local import ARTIFACTS_DIR, LocalRegistry
from fwtrack.artifacts.registry import LATEST, check_aliases, check_name
from fwtrack.errors import (
    ArtifactNotFoundError,
    ModelNotFoundError,
    RegistryConflictError,
    RegistryError,
    RegistryRequestError,
)
from fwtrack.registry.refs import STAGES, check_model_alias, version_index

__all__ = ["REGISTRY_DIR", "LocalModels"]

REGISTRY_DIR = "registry"
FORMAT = 1
MODEL_TYPE = "model"


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, sort_keys=True, indent=1).encode()


def _vname(index: int | None) -> str | None:
    return None if index is None else f"v{index}"


class LocalModels:
    """The registered models of a run directory root (`FWTRACK_DIR`)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.artifacts = LocalRegistry(root)
        self.dir = self.artifacts.base / REGISTRY_DIR

    def __repr__(self) -> str:
        return f"LocalModels({str(self.artifacts.root)!r})"

    @property
    def where(self) -> str:
        return str(self.dir)

    def default_entity(self) -> str | None:
        return None

    # -- files -------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.dir / f"{check_name(name)}.json"

    def _lock(self, name: str) -> Path:
        return self.dir / f".{check_name(name)}.lock"

    def _read(self, name: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(name).read_bytes())
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise RegistryError(f"{self._path(name)} is not valid JSON ({exc})") from None
        if not isinstance(data, dict):
            raise RegistryError(f"{self._path(name)} does not hold a JSON object")
        return data

    def _write(self, doc: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(self._path(str(doc["name"])), _dumps(doc))

    def _names(self) -> list[str]:
        try:
            entries = os.listdir(self.dir)
        except FileNotFoundError:
            return []
        return sorted(e[:-5] for e in entries if e.endswith(".json") and not e.startswith("."))

    def _need(self, entity: str | None, name: str) -> dict[str, Any]:
        _no_entity(entity)
        doc = self._read(name)
        if doc is None:
            raise ModelNotFoundError(self._not_found(name))
        return doc

    def _not_found(self, name: str) -> str:
        names = self._names()
        have = f"the models are {', '.join(names)}" if names else "there are no models yet"
        return (
            f"registered model {name!r} does not exist in {self.dir}: {have}\n"
            "hint: link a model version to it with run.link_artifact(artifact, "
            f"'registry/{name}') or run.link_model(path, {name!r})"
        )

    @staticmethod
    def _new(name: str, description: str | None, metadata: Any, tags: Any) -> dict[str, Any]:
        now = time.time()
        return {
            "format": FORMAT,
            "name": name,
            "description": description,
            "metadata": dict(metadata or {}),
            "tags": sorted(set(tags or [])),
            "protected_aliases": [],
            "maintainers": [],
            "created_at": now,
            "updated_at": now,
            "created_by": _user(),
            "versions": [],
            "aliases": {},
            "audit": [],
        }

    @staticmethod
    def _audit(doc: dict[str, Any], action: str, **fields: Any) -> None:
        audit = doc.setdefault("audit", [])
        entry = {
            "id": max((int(a["id"]) for a in audit), default=0) + 1,
            "at": time.time(),
            "user": _user(),
            "action": action,
            "alias": fields.get("alias"),
            "from_version": fields.get("from_version"),
            "to_version": fields.get("to_version"),
            "detail": fields.get("detail"),
        }
        audit.append(entry)
        doc["updated_at"] = entry["at"]

    # -- JSON shapes -------------------------------------------------------------------------

    def _model_out(self, doc: dict[str, Any]) -> dict[str, Any]:
        versions = doc.get("versions") or []
        aliases = {a: f"v{i}" for a, i in sorted((doc.get("aliases") or {}).items())}
        latest = max((int(v["index"]) for v in versions), default=None)
        return {
            "entity": None,
            "name": doc["name"],
            "description": doc.get("description"),
            "metadata": dict(doc.get("metadata") or {}),
            "tags": list(doc.get("tags") or []),
            "protected_aliases": sorted(doc.get("protected_aliases") or []),
            "maintainers": sorted(doc.get("maintainers") or []),
            "versions": len(versions),
            "latest": _vname(latest),
            "aliases": aliases,
            "stages": {s: aliases.get(s) for s in STAGES},
            "created_at": doc.get("created_at"),
            "updated_at": doc.get("updated_at"),
            "created_by": doc.get("created_by"),
        }

    def _version_out(self, doc: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        index = int(row["index"])
        latest = max(int(v["index"]) for v in doc["versions"])
        aliases = {a for a, i in (doc.get("aliases") or {}).items() if int(i) == index}
        if index == latest:
            aliases.add(LATEST)
        art = row["artifact"]
        try:
            version = self.artifacts.resolve(str(art["project"]), str(art["name"]), art["digest"])
        except ArtifactNotFoundError:  # removed from the artifact registry since
            version = {**art, "entity": None, "type": MODEL_TYPE}
        run = row.get("run")
        return {
            "entity": None,
            "model": doc["name"],
            "version": f"v{index}",
            "index": index,
            "aliases": sorted(aliases),
            "linked_at": row.get("linked_at"),
            "linked_by": row.get("linked_by"),
            "run": None if not run else {"entity": None, **_run_ref(run)},
            "artifact": version,
        }

    def _row(self, doc: dict[str, Any], ref: str) -> dict[str, Any]:
        versions = doc.get("versions") or []
        aliases = doc.get("aliases") or {}
        index: int | None
        if ref == LATEST:
            index = max((int(v["index"]) for v in versions), default=None)
        else:
            index = version_index(ref)
            if index is None and ref in aliases:
                index = int(aliases[ref])
        for row in versions:
            if index is not None and int(row["index"]) == index:
                return dict(row)
        known = [f"v{int(v['index'])}" for v in versions] + [
            f"{a} (→ v{i})" for a, i in sorted(aliases.items())
        ]
        have = f"it has {', '.join(known)}, latest" if known else "it has no versions"
        raise ModelNotFoundError(
            f"registered model {doc['name']!r} has no version {ref!r}: {have}\n"
            "hint: list them with Api().registry.versions(name)"
        )

    # -- reading -----------------------------------------------------------------------------

    def models(self, entity: str | None, tag: str | None = None) -> list[dict[str, Any]]:
        _no_entity(entity)
        out = []
        for name in self._names():
            doc = self._read(name)
            if doc is not None and (tag is None or tag in (doc.get("tags") or [])):
                out.append(self._model_out(doc))
        return out

    def model(self, entity: str | None, name: str) -> dict[str, Any]:
        doc = self._need(entity, name)
        detail = self._model_out(doc)
        detail["versions_list"] = self._versions(doc)
        return detail

    def _versions(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        rows = sorted(doc.get("versions") or [], key=lambda r: -int(r["index"]))
        return [self._version_out(doc, r) for r in rows]

    def versions(self, entity: str | None, name: str) -> list[dict[str, Any]]:
        return self._versions(self._need(entity, name))

    def version(self, entity: str | None, name: str, ref: str) -> dict[str, Any]:
        doc = self._need(entity, name)
        return self._version_out(doc, self._row(doc, ref))

    def audit(
        self, entity: str | None, name: str, limit: int = 200, before: int | None = None
    ) -> list[dict[str, Any]]:
        doc = self._need(entity, name)
        rows = sorted(doc.get("audit") or [], key=lambda a: -int(a["id"]))
        if before is not None:
            rows = [a for a in rows if int(a["id"]) < before]
        return [dict(a) for a in rows[:limit]]

    def card(self, entity: str | None, name: str, ref: str) -> dict[str, Any]:
        doc = self._need(entity, name)
        version = self._version_out(doc, self._row(doc, ref))
        logged_by = version["artifact"].get("run")
        run_info: dict[str, Any] | None = None
        datasets: list[dict[str, Any]] = []
        evaluation: dict[str, float] = {}
        if logged_by:
            from fwtrack.api import Run as ApiRun

            run_dir = self.artifacts.root / str(logged_by["project"]) / str(logged_by["id"])
            if (run_dir / "run.fwlog").is_file():
                run = ApiRun(run_dir, project=str(logged_by["project"]))
                summary = run.summary
                run_info = {
                    "entity": None,
                    "project": run.project,
                    "id": run.id,
                    "name": run.name,
                    "state": run.state,
                    "config": run.config,
                    "summary": summary,
                }
                for art in run.used_artifacts():
                    if art._version is not None:
                        datasets.append(dict(art._version))
                evaluation = flatten_numbers(summary)
        return {
            "model": self._model_out(doc),
            "version": version,
            "run": run_info,
            "datasets": datasets,
            "evaluation": evaluation,
        }

    # -- writing -----------------------------------------------------------------------------

    def create(
        self,
        entity: str | None,
        name: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        _no_entity(entity)
        name = check_name(name)
        with locked(self._lock(name)):
            if self._read(name) is not None:
                raise RegistryConflictError(
                    f"registered model {name!r} exists already in {self.dir}\n"
                    "hint: change it with update(), or choose another name"
                )
            doc = self._new(name, description, metadata, tags)
            self._write(doc)
        return self._model_out(doc)

    def update(self, entity: str | None, name: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._need(entity, name)
        with locked(self._lock(name)):
            doc = self._need(entity, name)
            changed = {}
            for key in ("description", "metadata", "tags"):
                if key in fields and fields[key] != doc.get(key):
                    doc[key] = fields[key]
                    changed[key] = fields[key]
            if changed:
                self._audit(doc, "update", detail=changed)
            if "protected_aliases" in fields:
                old = set(doc.get("protected_aliases") or [])
                new = set(fields["protected_aliases"])
                for alias in sorted(new - old):
                    self._audit(doc, "protect", alias=alias)
                for alias in sorted(old - new):
                    self._audit(doc, "unprotect", alias=alias)
                doc["protected_aliases"] = sorted(new)
            if "maintainers" in fields:
                new_m = sorted(set(fields["maintainers"]))
                if new_m != sorted(doc.get("maintainers") or []):
                    doc["maintainers"] = new_m
                    self._audit(doc, "maintainers", detail={"maintainers": new_m})
            self._write(doc)
        return self.model(entity, name)

    def delete(self, entity: str | None, name: str) -> dict[str, Any]:
        self._need(entity, name)
        with locked(self._lock(name)):
            self._path(name).unlink(missing_ok=True)
        return {"deleted": name}

    def link(
        self,
        entity: str | None,
        name: str,
        artifact: dict[str, Any],
        aliases: list[str],
        run: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Link artifact version `artifact` (`{"project", "name", "ref"}`) as a version of
        model `name` (created when missing), then point `aliases` at it."""
        _no_entity(entity)
        name = check_name(name)
        aliases = check_aliases(aliases)
        version = self.artifacts.resolve(
            str(artifact["project"]), str(artifact["name"]), str(artifact.get("ref") or LATEST)
        )
        if version.get("type") != MODEL_TYPE:
            raise RegistryRequestError(
                f"artifact {version['project']}/{version['name']}:{version['version']} is of "
                f"type {version.get('type')!r}, not 'model'; only models can be linked to the "
                "registry\nhint: log it with type='model' (run.log_artifact(path, "
                "type='model'), or run.link_model(path, name))"
            )
        with locked(self._lock(name)):
            doc = self._read(name) or self._new(name, None, None, None)
            rows = doc["versions"]
            row = next(
                (
                    r
                    for r in rows
                    if r["artifact"]["digest"] == version["digest"]
                    and r["artifact"]["project"] == version["project"]
                    and r["artifact"]["name"] == version["name"]
                ),
                None,
            )
            if row is None:
                index = max((int(r["index"]) for r in rows), default=-1) + 1
                row = {
                    "index": index,
                    "artifact": {
                        "project": version["project"],
                        "name": version["name"],
                        "version": version["version"],
                        "digest": version["digest"],
                    },
                    "linked_at": time.time(),
                    "linked_by": _user(),
                    "run": None if not run else {"project": run["project"], "id": run["id"]},
                }
                rows.append(row)
                self._audit(doc, "link", to_version=f"v{index}")
            self._move(doc, aliases, int(row["index"]))
            self._write(doc)
        return self._version_out(doc, row)

    def _move(self, doc: dict[str, Any], aliases: list[str], index: int) -> None:
        current = doc.setdefault("aliases", {})
        for alias in aliases:
            old = current.get(alias)
            if old is not None and int(old) == index:
                continue
            current[alias] = index
            self._audit(
                doc, "alias.set", alias=alias, from_version=_vname(old), to_version=f"v{index}"
            )

    def set_alias(
        self, entity: str | None, name: str, alias: str, version: str, expect: str | None = None
    ) -> dict[str, Any]:
        alias = check_model_alias(alias)
        self._need(entity, name)
        with locked(self._lock(name)):
            doc = self._need(entity, name)
            row = self._row(doc, version)
            current = _vname((doc.get("aliases") or {}).get(alias))
            if expect is not None and current != expect:
                raise RegistryConflictError(
                    f"alias {alias!r} of model {name!r} names {current or 'no version'}, not "
                    f"{expect}; it was moved meanwhile\nhint: read it again and decide"
                )
            self._move(doc, [alias], int(row["index"]))
            self._write(doc)
        return self._version_out(doc, row)

    def remove_alias(self, entity: str | None, name: str, alias: str) -> dict[str, Any]:
        self._need(entity, name)
        with locked(self._lock(name)):
            doc = self._need(entity, name)
            aliases = doc.get("aliases") or {}
            if alias not in aliases:
                have = ", ".join(sorted(aliases)) or "none"
                raise ModelNotFoundError(
                    f"registered model {name!r} has no alias {alias!r} (its aliases: {have})"
                )
            old = aliases.pop(alias)
            self._audit(doc, "alias.remove", alias=alias, from_version=_vname(old))
            self._write(doc)
        return {"alias": alias, "from": _vname(old)}


def _run_ref(run: dict[str, Any]) -> dict[str, Any]:
    return {"project": run["project"], "id": run["id"]}


def _no_entity(entity: str | None) -> None:
    if entity is not None:
        raise ValueError(
            f"entity {entity!r}: a local directory has no entities; name the model alone "
            "(e.g. 'registry/mnist-cnn'), or use Api(base_url=...) for a server's registry"
        )


def flatten_numbers(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The finite numbers of a (nested) summary, keys joined with `/` (`eval/accuracy`)."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_numbers(value, full + "/"))
        elif (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(float(value))
        ):
            out[full] = value
    return dict(sorted(out.items()))


def registry_root(base: Path) -> Path:
    """The folder of the local registry under a root (`<root>/.artifacts/registry`)."""
    return base / ARTIFACTS_DIR / REGISTRY_DIR
