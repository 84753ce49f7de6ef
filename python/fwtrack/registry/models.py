"""The public objects of the model registry: `RegisteredModel`, `ModelVersion` and
`AuditEntry`, built from the JSON shapes the server answers (ModelOut, ModelVersionOut,
AuditOut; docs/registry.md) and the local registry writes the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwtrack.registry.refs import REGISTRY, STAGES

if TYPE_CHECKING:
    from fwtrack.artifacts.artifact import Artifact, RunRef
    from fwtrack.artifacts.registry import Registry

__all__ = ["AuditEntry", "ModelVersion", "RegisteredModel"]


@dataclass(frozen=True)
class AuditEntry:
    """One change of a registered model: `action` is `link`, `alias.set`, `alias.remove`,
    `protect`, `unprotect`, `maintainers` or `update`; `from_version`/`to_version` are `vN`
    (or None) for links and alias moves; `at` is a unix time; `user` who made it."""

    id: int
    at: float
    user: str | None
    action: str
    alias: str | None
    from_version: str | None
    to_version: str | None
    detail: Any

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> AuditEntry:
        return cls(
            id=int(obj["id"]),
            at=float(obj["at"]),
            user=obj.get("user"),
            action=str(obj["action"]),
            alias=obj.get("alias"),
            from_version=obj.get("from_version"),
            to_version=obj.get("to_version"),
            detail=obj.get("detail"),
        )


@dataclass(frozen=True)
class RegisteredModel:
    """A registered model: its versions (`version_count`, `latest` = `vN`), its aliases
    (`{alias: "vN"}`, `latest` left out), the standard stages (`{"staging": "vN" | None,
    "production": ..., "archived": ...}`), the aliases only admins and maintainers may move
    (`protected_aliases`), `maintainers` (user names), and its description, metadata and
    tags. `entity` is None in a local directory."""

    entity: str | None
    name: str
    description: str | None
    metadata: dict[str, Any]
    tags: list[str]
    protected_aliases: list[str]
    maintainers: list[str]
    version_count: int
    latest: str | None
    aliases: dict[str, str]
    stages: dict[str, str | None]
    created_at: float | None
    updated_at: float | None
    created_by: str | None

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RegisteredModel:
        aliases = {str(k): str(v) for k, v in (obj.get("aliases") or {}).items()}
        stages = obj.get("stages") or {s: aliases.get(s) for s in STAGES}
        return cls(
            entity=obj.get("entity"),
            name=str(obj["name"]),
            description=obj.get("description"),
            metadata=dict(obj.get("metadata") or {}),
            tags=list(obj.get("tags") or []),
            protected_aliases=sorted(obj.get("protected_aliases") or []),
            maintainers=sorted(obj.get("maintainers") or []),
            version_count=int(obj.get("versions") or 0),
            latest=obj.get("latest"),
            aliases=dict(sorted(aliases.items())),
            stages={s: stages.get(s) for s in STAGES},
            created_at=_float(obj.get("created_at")),
            updated_at=_float(obj.get("updated_at")),
            created_by=obj.get("created_by"),
        )

    @property
    def path(self) -> str:
        """`registry/<name>` (`<entity>/registry/<name>` on a server)."""
        head = f"{self.entity}/{REGISTRY}" if self.entity else REGISTRY
        return f"{head}/{self.name}"


@dataclass(frozen=True)
class ModelVersion:
    """A version `vN` of a registered model: a link to one artifact version of type `model`
    (`artifact`, an `fwtrack.Artifact`). `aliases` include `latest` on the newest version;
    `run` is the run that made the link (None when made outside a run); `linked_by` the user.
    `download()` fetches the model's files, verified."""

    entity: str | None
    model: str
    version: str
    index: int
    aliases: list[str]
    linked_at: float | None
    linked_by: str | None
    run: RunRef | None
    artifact_version: dict[str, Any] = field(repr=False)
    """The artifact version as the registry answered it (VersionJSON)."""
    _artifacts: Registry | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any], artifacts: Registry | None) -> ModelVersion:
        from fwtrack.artifacts.artifact import RunRef

        run = obj.get("run")
        return cls(
            entity=obj.get("entity"),
            model=str(obj["model"]),
            version=str(obj["version"]),
            index=int(obj["index"]),
            aliases=sorted(obj.get("aliases") or []),
            linked_at=_float(obj.get("linked_at")),
            linked_by=obj.get("linked_by"),
            run=RunRef.from_json(run) if isinstance(run, dict) else None,
            artifact_version=dict(obj.get("artifact") or {}),
            _artifacts=artifacts,
        )

    @property
    def ref(self) -> str:
        """`registry/<model>:vN` (with the entity on a server), as `version()` takes it."""
        head = f"{self.entity}/{REGISTRY}" if self.entity else REGISTRY
        return f"{head}/{self.model}:{self.version}"

    @property
    def artifact(self) -> Artifact:
        """The artifact version this model version links to."""
        from fwtrack.artifacts.artifact import Artifact
        from fwtrack.errors import RegistryError

        if self._artifacts is None:
            raise RegistryError(f"{self.ref}: no artifact registry to read the artifact from")
        return Artifact._from_version(self.artifact_version, self._artifacts)

    def download(self, root: str | os.PathLike[str] | None = None) -> Path:
        """Download the model's files to `root` (default: the artifact's download directory,
        `./artifacts/<name>:<version>`) and return it. Every file is verified: one already
        there with the right bytes is kept, a missing or changed one is fetched again."""
        return Path(self.artifact.download(root))


def _float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        from datetime import datetime

        return datetime.fromisoformat(str(value)).timestamp()
