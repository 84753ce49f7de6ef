"""`ModelRegistry`: the public face of the model registry, `fwtrack.Api().registry`
(docs/registry.md). It reads and changes a local directory's registry (`local.LocalModels`)
or a server's (`remote.RemoteModels`) through the same methods and objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from fwtrack.artifacts.registry import LATEST, check_aliases
from fwtrack.errors import ArtifactError, RegistryRequestError
from fwtrack.registry.models import AuditEntry, ModelVersion, RegisteredModel
from fwtrack.registry.refs import (
    ModelRef,
    check_model_alias,
    parse_model_name,
    parse_model_ref,
    version_index,
)

if TYPE_CHECKING:
    from fwtrack.artifacts.artifact import Artifact
    from fwtrack.artifacts.registry import Registry

__all__ = ["ModelRegistry", "Models"]


class Models(Protocol):
    """What `ModelRegistry` needs of a registry (both answer the server's JSON shapes)."""

    artifacts: Any

    @property
    def where(self) -> str: ...

    def default_entity(self) -> str | None: ...

    def models(self, entity: str | None, tag: str | None = None) -> list[dict[str, Any]]: ...

    def model(self, entity: str | None, name: str) -> dict[str, Any]: ...

    def versions(self, entity: str | None, name: str) -> list[dict[str, Any]]: ...

    def version(self, entity: str | None, name: str, ref: str) -> dict[str, Any]: ...

    def card(self, entity: str | None, name: str, ref: str) -> dict[str, Any]: ...

    def audit(
        self, entity: str | None, name: str, limit: int = 200, before: int | None = None
    ) -> list[dict[str, Any]]: ...

    def create(
        self,
        entity: str | None,
        name: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]: ...

    def update(self, entity: str | None, name: str, fields: dict[str, Any]) -> dict[str, Any]: ...

    def delete(self, entity: str | None, name: str) -> dict[str, Any]: ...

    def link(
        self,
        entity: str | None,
        name: str,
        artifact: dict[str, Any],
        aliases: list[str],
        run: dict[str, Any] | None,
    ) -> dict[str, Any]: ...

    def set_alias(
        self, entity: str | None, name: str, alias: str, version: str, expect: str | None = None
    ) -> dict[str, Any]: ...

    def remove_alias(self, entity: str | None, name: str, alias: str) -> dict[str, Any]: ...


class ModelRegistry:
    """Registered models and their versions (W&B's model registry).

    Names: `"mnist-cnn"`, `"registry/mnist-cnn"` or `"<entity>/registry/mnist-cnn"` (a
    local directory has no entities; on a server the default entity is the key's user).
    Versions: `"registry/mnist-cnn:production"`, `"mnist-cnn@staging"`, `"mnist-cnn:v3"`,
    `"mnist-cnn"` (= `:latest`).
    """

    def __init__(self, models: Models) -> None:
        self._models = models

    def __repr__(self) -> str:
        return f"ModelRegistry({self._models.where!r})"

    @property
    def _artifacts(self) -> Registry:
        registry: Registry = self._models.artifacts
        return registry

    def _name(self, name: str, entity: str | None = None) -> ModelRef:
        ref = parse_model_name(name)
        if entity is not None and ref.entity is not None and entity != ref.entity:
            raise ValueError(
                f"{name!r} names entity {ref.entity!r} but entity={entity!r} was given; "
                "give it once"
            )
        return ModelRef(entity or ref.entity, ref.model, None)

    def _version(self, obj: dict[str, Any]) -> ModelVersion:
        return ModelVersion.from_json(obj, self._artifacts)

    # -- reading -----------------------------------------------------------------------------

    def models(self, entity: str | None = None, *, tag: str | None = None) -> list[RegisteredModel]:
        """The registered models (of `entity`; with `tag`, those tagged so), sorted by name."""
        rows = self._models.models(entity, tag)
        return sorted((RegisteredModel.from_json(r) for r in rows), key=lambda m: m.name)

    def model(self, name: str, entity: str | None = None) -> RegisteredModel:
        """One registered model; ModelNotFoundError lists those that exist."""
        ref = self._name(name, entity)
        return RegisteredModel.from_json(self._models.model(ref.entity, ref.model))

    def versions(self, name: str, entity: str | None = None) -> list[ModelVersion]:
        """The versions of a model, newest first."""
        ref = self._name(name, entity)
        return [self._version(v) for v in self._models.versions(ref.entity, ref.model)]

    def version(self, ref: str) -> ModelVersion:
        """The model version `ref` names (`"registry/m:production"`, `"m:v2"`, `"m@staging"`,
        `"m"` = latest); ModelNotFoundError lists the versions and aliases that exist."""
        parsed = parse_model_ref(ref)
        return self._version(self._models.version(parsed.entity, parsed.model, parsed.version_ref))

    def aliases(self, name: str) -> dict[str, str]:
        """`{alias: "vN"}` of a model (`latest` included)."""
        model = self.model(name)
        out = dict(model.aliases)
        if model.latest is not None:
            out[LATEST] = model.latest
        return dict(sorted(out.items()))

    def audit(self, name: str, limit: int = 200) -> list[AuditEntry]:
        """The model's changes, newest first (at most `limit`)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit must be a positive int, got {limit!r}")
        ref = self._name(name)
        return [AuditEntry.from_json(a) for a in self._models.audit(ref.entity, ref.model, limit)]

    def card(self, ref: str) -> dict[str, Any]:
        """The model card of a version: `{"model", "version", "run", "datasets",
        "evaluation"}` (the run that logged the artifact, the artifact versions it used, its
        numeric summary values)."""
        parsed = parse_model_ref(ref)
        return self._models.card(parsed.entity, parsed.model, parsed.version_ref)

    # -- changing ----------------------------------------------------------------------------

    def create(
        self,
        name: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: Sequence[str] | None = None,
    ) -> RegisteredModel:
        """Create an empty registered model (a link creates one too);
        RegistryConflictError when it exists."""
        ref = self._name(name)
        return RegisteredModel.from_json(
            self._models.create(
                ref.entity,
                ref.model,
                _description(description),
                _metadata(metadata),
                _tags(tags),
            )
        )

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        maintainers: Sequence[str] | None = None,
    ) -> RegisteredModel:
        """Change the description (markdown), metadata, tags or maintainers (user names who
        may move protected aliases; entity admins only) of a model; None leaves one as is."""
        ref = self._name(name)
        fields: dict[str, Any] = {}
        if description is not None:
            fields["description"] = _description(description)
        if metadata is not None:
            fields["metadata"] = _metadata(metadata)
        if tags is not None:
            fields["tags"] = _tags(tags)
        if maintainers is not None:
            fields["maintainers"] = _tags(maintainers, what="maintainers")
        return RegisteredModel.from_json(self._models.update(ref.entity, ref.model, fields))

    def protect(self, name: str, alias: str, protected: bool = True) -> RegisteredModel:
        """Protect `alias` of a model (only entity admins and maintainers may move or remove
        it then), or lift the protection; recorded in the audit trail."""
        alias = check_model_alias(alias)
        ref = self._name(name)
        current = set(self.model(name).protected_aliases)
        wanted = current | {alias} if protected else current - {alias}
        return RegisteredModel.from_json(
            self._models.update(ref.entity, ref.model, {"protected_aliases": sorted(wanted)})
        )

    def delete(self, name: str) -> None:
        """Delete a registered model (its versions' artifacts stay)."""
        ref = self._name(name)
        self._models.delete(ref.entity, ref.model)

    def move_alias(
        self, name: str, alias: str, version: str, expect: str | None = None
    ) -> ModelVersion:
        """Point `alias` at `version` (`vN`) of a model, atomically; with `expect="vM"` only
        when the alias names `vM` now (RegistryConflictError otherwise; `expect=""` would
        never match, use None to move unconditionally). RegistryPermissionError for a
        protected alias the user may not move."""
        alias = check_model_alias(alias)
        if not isinstance(version, str) or version_index(version) is None:
            raise ValueError(f"version must be 'v<N>' like 'v3', got {version!r}")
        if expect is not None and version_index(expect) is None:
            raise ValueError(f"expect must be 'v<N>' like 'v2' or None, got {expect!r}")
        ref = self._name(name)
        return self._version(self._models.set_alias(ref.entity, ref.model, alias, version, expect))

    def remove_alias(self, name: str, alias: str) -> str | None:
        """Remove `alias` from a model; returns the version it named."""
        alias = check_model_alias(alias)
        ref = self._name(name)
        answer = self._models.remove_alias(ref.entity, ref.model, alias)
        found = answer.get("from")
        return None if found is None else str(found)

    def link(
        self, artifact: Artifact, name: str, aliases: Sequence[str] | None = None
    ) -> ModelVersion:
        """Link a committed artifact version of type `model` as a version of model `name`
        (created when missing) and point `aliases` at it. Linking a version linked already
        gives its model version (with the aliases added)."""
        from fwtrack.artifacts.artifact import Artifact

        if not isinstance(artifact, Artifact):
            raise TypeError(f"link() takes an fwtrack.Artifact, got {type(artifact).__name__}")
        wanted = check_aliases(aliases)
        ref = self._name(name)
        try:
            version = artifact._need_committed("link()")
        except ArtifactError as exc:
            raise RegistryRequestError(str(exc)) from None
        if version.get("type") != "model":
            raise RegistryRequestError(
                f"artifact {artifact.qualified_name!r} is of type {version.get('type')!r}, not "
                "'model'; only models can be linked\nhint: log it with type='model'"
            )
        target = {
            "entity": version.get("entity"),
            "project": version["project"],
            "name": version["name"],
            "ref": version["digest"],
        }
        run = version.get("run")
        run_ref = None if not run else {"project": run["project"], "id": run["id"]}
        return self._version(self._models.link(ref.entity, ref.model, target, wanted, run_ref))


def _description(value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"description must be a str (markdown), got {type(value).__name__}")
    return value


def _metadata(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"metadata must be a dict, got {type(value).__name__}")
    import json

    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON (str keys, finite numbers): {exc}") from None
    return dict(value)


def _tags(value: object, what: str = "tags") -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | set | frozenset):
        raise TypeError(f"{what} must be a list of str, got {value!r}")
    out = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise TypeError(f"{what} must be non-empty str, got {item!r}")
        out.append(item)
    return sorted(set(out))
