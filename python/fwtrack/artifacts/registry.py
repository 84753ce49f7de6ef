"""The `Registry` protocol both registries implement (the local one under `<root>/.artifacts`,
`local.LocalRegistry`; the server's, `remote.RemoteRegistry`), and the rules for names,
aliases and references (`"name:alias"`, `"project/name:vN"`, `"entity/project/name:alias"`).
The server checks the names, types and aliases it is sent with these same rules.

Versions cross this protocol as VersionJSON dicts (docs/artifacts.md, "Versions"):
`{"id", "entity", "project", "name", "type", "version", "index", "digest", "size", "files",
"aliases", "description", "metadata", "created_at", "created_by", "run"}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fwtrack import path_names
from fwtrack.artifacts.manifest import Manifest, ManifestEntry

__all__ = [
    "ALIAS_RE",
    "ArtifactRef",
    "Registry",
    "check_alias",
    "check_aliases",
    "check_name",
    "check_type",
    "parse_ref",
]

LATEST = "latest"
MAX_ALIAS = 128
ALIAS_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
"""What an alias looks like (`fullmatch`); `check_alias` also refuses `latest` and `v<N>`."""
_VERSION_RE = re.compile(r"v(\d+)")


class Registry(Protocol):
    """What the Python API needs of a place that holds artifact versions."""

    def resolve(self, project: str, name: str, ref: str) -> dict[str, Any]:
        """The VersionJSON of `name:ref` (`ref` = `vN`, an alias, `latest` or a `blake3:`
        digest); `ArtifactNotFoundError` naming what was asked and what exists."""
        ...

    def manifest(self, version: dict[str, Any]) -> Manifest:
        """The manifest of a version."""
        ...

    def materialize(
        self, version: dict[str, Any], entries: list[ManifestEntry], root: Path
    ) -> None:
        """Write the bytes of those (stored, not reference) entries under `root`, verified
        as they are written (`root/<entry path>`; existing files are replaced)."""
        ...

    def versions(
        self, project: str, *, name: str | None = None, type: str | None = None
    ) -> list[dict[str, Any]]:
        """VersionJSON of every version in `project` (of one collection / type), newest first."""
        ...

    def collections(self, project: str, *, type: str | None = None) -> list[dict[str, Any]]:
        """CollectionJSON of the collections in `project`, sorted by name."""
        ...

    def types(self, project: str) -> list[dict[str, Any]]:
        """`[{"type", "collections", "versions"}]` of `project`, sorted by type."""
        ...

    def set_aliases(self, version: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
        """Make `aliases` the full alias set of `version` (moving them from other versions);
        the new VersionJSON."""
        ...

    def used_by(self, version: dict[str, Any]) -> list[dict[str, Any]]:
        """The runs that used `version`: `[{"entity", "project", "run_id", ...}]`."""
        ...

    def lineage(self, version: dict[str, Any], depth: int = 2) -> dict[str, Any]:
        """`{"nodes": [...], "edges": [...]}` around `version`, `depth` hops (1-5)."""
        ...


def check_name(name: object) -> str:
    """An artifact (collection) name: the rule of project names."""
    if not isinstance(name, str):
        raise TypeError(f"an artifact name must be a str, got {type(name).__name__}")
    try:
        return path_names._check("artifact name", name, path_names.MAX_PROJECT)
    except ValueError as exc:
        raise ValueError(f"{exc}, e.g. 'mnist-train'") from None


def check_type(type: object) -> str:
    """An artifact type (`dataset`, `model`, ...): the rule of project names."""
    if not isinstance(type, str):
        raise TypeError(f"an artifact type must be a str like 'dataset', got {type!r}")
    try:
        return path_names._check("artifact type", type, path_names.MAX_PROJECT)
    except ValueError as exc:
        raise ValueError(f"{exc}, e.g. 'dataset' or 'model'") from None


def check_alias(alias: object) -> str:
    """An alias a user may set: 1-128 of `A-Z a-z 0-9 _ . -`, not `latest`, not `v<digits>`."""
    if not isinstance(alias, str):
        raise TypeError(f"an alias must be a str like 'best', got {type(alias).__name__}")
    if ALIAS_RE.fullmatch(alias) is None:
        raise ValueError(
            f"invalid alias {alias[:80]!r}: use 1-{MAX_ALIAS} characters of A-Z, a-z, 0-9, "
            "'_', '.', '-', e.g. 'best' or 'production'"
        )
    if alias == LATEST or _VERSION_RE.fullmatch(alias):
        raise ValueError(
            f"invalid alias {alias!r}: 'latest' and 'v<N>' are given by fwtrack (latest moves "
            "to every new version, vN names version N); choose another name, e.g. 'best'"
        )
    return alias


def check_aliases(aliases: object) -> list[str]:
    """A list of user aliases, each checked, duplicates dropped, sorted."""
    if aliases is None:
        return []
    if isinstance(aliases, str):
        raise TypeError(f"aliases must be a list of str (did you mean [{aliases!r}]?)")
    try:
        items = list(aliases)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"aliases must be a list of str, got {type(aliases).__name__}") from None
    out = {check_alias(a) for a in items if a != LATEST}
    return sorted(out)


def version_index(ref: str) -> int | None:
    """N of `vN`, else None."""
    m = _VERSION_RE.fullmatch(ref)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class ArtifactRef:
    """A parsed `[[entity/]project/]name[:ref]`."""

    entity: str | None
    project: str | None
    name: str
    ref: str

    def __str__(self) -> str:
        head = "/".join(p for p in (self.entity, self.project) if p)
        return f"{head + '/' if head else ''}{self.name}:{self.ref}"


def parse_ref(spec: object) -> ArtifactRef:
    """`"name"`, `"name:alias"`, `"name:vN"`, `"name:blake3:<hex>"`, `"project/name:ref"`,
    `"entity/project/name:ref"`; the ref defaults to `latest`."""
    if not isinstance(spec, str):
        raise TypeError(
            f"an artifact reference must be a str like 'mnist-train:latest', got {spec!r}"
        )
    path, sep, ref = spec.partition(":")
    if not sep:
        ref = LATEST
    parts = path.split("/")
    hint = (
        "use 'name:alias', 'name:vN', 'project/name:alias' or 'entity/project/name:alias', "
        "e.g. 'mnist-train:latest'"
    )
    if len(parts) > 3 or not ref:
        raise ValueError(f"invalid artifact reference {spec!r}: {hint}")
    try:
        name = check_name(parts[-1])
        project = path_names.check_project(parts[-2]) if len(parts) >= 2 else None
        entity = path_names.check_entity(parts[-3]) if len(parts) == 3 else None
        if not ref.startswith("blake3:") and ALIAS_RE.fullmatch(ref) is None:
            raise ValueError(f"invalid alias or version {ref!r}")
    except ValueError as exc:
        raise ValueError(f"invalid artifact reference {spec!r} ({exc}): {hint}") from None
    return ArtifactRef(entity, project, name, ref)
