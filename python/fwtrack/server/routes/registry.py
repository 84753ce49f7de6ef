"""The model registry of an entity: models, their versions (links to artifact versions of
type `model`), aliases, the audit trail and a version's card (docs/server.md "Model
registry"; the logic is in `fwtrack.server.registry`).

A key reaching the entity reads its registry, links artifacts (of entities it reaches too),
creates models and moves unprotected aliases; protected aliases, maintainers and deleting a
model take an entity admin or a maintainer (403, nothing recorded). `fwtrack ui` serves the
local registry read-only: every write answers 405.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from fwtrack.server import registry, webhooks
from fwtrack.server.auth import Viewer, require_entity
from fwtrack.server.context import AppContext
from fwtrack.server.errors import ApiError, check_project, check_run_id
from fwtrack.server.jsonutil import JsonResponse
from fwtrack.server.routes.artifacts import VersionOut
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, reach

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["registry"])

MODELS = "/registry/{entity}/models"
MODEL = MODELS + "/{model}"

_READ_ONLY = error(405, "This server (`fwtrack ui`) serves the local registry read-only")
_CONFLICT = error(409, "The model exists already, or the alias moved meanwhile (`expect`)")

ModelName = Annotated[str, Path(min_length=1, max_length=128)]
Ref = Annotated[str, Path(min_length=1, max_length=200)]
Alias = Annotated[str, Path(min_length=1, max_length=128)]
_Alias = Annotated[str, Field(max_length=128)]
_Tag = Annotated[str, Field(max_length=256)]


# -- models (the answers' shapes, for the OpenAPI document) ------------------------------------


class RunLink(BaseModel):
    entity: str
    project: str
    id: str


class Stages(BaseModel):
    staging: str | None
    production: str | None
    archived: str | None


class ModelOut(BaseModel):
    entity: str
    name: str
    description: str | None = Field(description="Markdown")
    metadata: dict[str, Any]
    tags: list[str]
    protected_aliases: list[str] = Field(description="Sorted")
    maintainers: list[str] = Field(description="User names, sorted")
    versions: int
    latest: str | None = Field(description="`v<N>` of the newest version")
    aliases: dict[str, str] = Field(description="alias → `v<N>` (`latest` not included)")
    stages: Stages = Field(description="The standard stages' versions")
    created_at: float
    updated_at: float
    created_by: str | None


class ModelVersionOut(BaseModel):
    entity: str
    model: str
    version: str = Field(description="`v<index>`")
    index: int
    aliases: list[str] = Field(description="Sorted; holds `latest` when it is the newest")
    linked_at: float
    linked_by: str | None
    run: RunLink | None = Field(description="The run that linked it")
    artifact: VersionOut | None = Field(description="The artifact version it links to")


class ModelDetailOut(ModelOut):
    versions_list: list[ModelVersionOut] = Field(description="Every version, newest first")


class AuditOut(BaseModel):
    id: int
    at: float
    user: str | None
    action: str = Field(description=", ".join(registry.AUDIT_ACTIONS))
    alias: str | None
    from_version: str | None
    to_version: str | None
    detail: dict[str, Any] | None


class CardRun(BaseModel):
    entity: str
    project: str
    id: str
    name: str
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]


class CardOut(BaseModel):
    model: ModelOut
    version: ModelVersionOut
    run: CardRun | None = Field(description="The run that logged the artifact version")
    datasets: list[VersionOut] = Field(description="Artifact versions that run used")
    evaluation: dict[str, float] = Field(description="That run's numeric summary (`a/b` keys)")


class DeletedOut(BaseModel):
    deleted: str


class AliasRemovedOut(BaseModel):
    alias: str
    from_: str = Field(alias="from")


class ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(None, max_length=65536)
    metadata: dict[str, Any] | None = None
    tags: list[_Tag] | None = Field(None, max_length=256)


class ModelPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(None, max_length=65536)
    metadata: dict[str, Any] | None = None
    tags: list[_Tag] | None = Field(None, max_length=256)
    protected_aliases: list[_Alias] | None = Field(None, max_length=256)
    maintainers: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=256)


class ArtifactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity: str = Field(min_length=1, max_length=64)
    project: str = Field(min_length=1, max_length=128)
    name: str = Field(min_length=1, max_length=128)
    ref: str = Field(
        "latest",
        min_length=1,
        max_length=200,
        description="`v<N>`, an alias, `latest` or the version's digest",
    )


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    entity: str | None = Field(None, max_length=64, description="Default: the artifact's")
    project: str = Field(min_length=1, max_length=128)
    id: str = Field(min_length=1, max_length=64)


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    artifact: ArtifactIn
    aliases: list[_Alias] = Field(default_factory=list, max_length=64)
    run: RunIn | None = None


class AliasIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1, max_length=200, description="`v<N>`, an alias or `latest`")
    expect: str | None = Field(
        None,
        max_length=200,
        description="When sent: 409 unless the alias names this version now (null: unset)",
    )


# -- helpers -----------------------------------------------------------------------------------


def _writable(ctx: AppContext) -> None:
    if ctx.config.ui_scan_dir is not None:
        raise ApiError(405, "`fwtrack ui` serves the local registry read-only")


def _entity(user: Viewer, entity: str, model: str | None = None, *, write: bool = False) -> None:
    """400 for a bad name, 403 unless the viewer reaches the entity (`write`: with a role
    that writes; a team's viewers read the registry but change nothing in it)."""
    reach(user, entity, write=write)
    if model is not None:
        registry.check_model_name(model)


# -- models ------------------------------------------------------------------------------------


@router.get(MODELS, response_model=list[ModelOut])
def registry_models(
    entity: str,
    user: CurrentViewer,
    ctx: Ctx,
    tag: Annotated[str | None, Query(max_length=256)] = None,
) -> JsonResponse:
    """The entity's registered models, by name (`tag`: those with that tag)."""
    _entity(user, entity)
    with ctx.db.read() as session:
        return JsonResponse(registry.models(session, entity, tag))


@router.post(
    MODELS, response_model=ModelOut, status_code=201, responses={**_CONFLICT, **_READ_ONLY}
)
def registry_model_create(
    entity: str, body: ModelIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Create a model (409 when the entity has one of that name)."""
    _entity(user, entity, body.name, write=True)
    _writable(ctx)
    out = registry.create_model(
        ctx.db, user, entity, body.name, body.description, body.metadata, body.tags
    )
    return JsonResponse(out, status_code=201)


@router.get(MODEL, response_model=ModelDetailOut)
def registry_model(entity: str, model: ModelName, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """One model with every version, newest first (`versions_list`)."""
    _entity(user, entity, model)
    with ctx.db.read() as session:
        return JsonResponse(
            registry.model_detail(session, registry.find_model(session, entity, model))
        )


@router.patch(MODEL, response_model=ModelDetailOut, responses=_READ_ONLY)
def registry_model_edit(
    entity: str, model: ModelName, body: ModelPatchIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Edit the description, metadata or tags (audit `update`), the protected aliases (audit
    `protect`/`unprotect`) or the maintainers (audit `maintainers`; these two take an entity
    admin or a maintainer: 403 otherwise, nothing changed)."""
    _entity(user, entity, model, write=True)
    _writable(ctx)
    sent = body.model_dump(exclude_unset=True)
    changes = registry.Changes(**sent, sent=set(sent))
    return JsonResponse(registry.update_model(ctx.db, user, entity, model, changes))


@router.delete(MODEL, response_model=DeletedOut, responses=_READ_ONLY)
def registry_model_delete(
    entity: str, model: ModelName, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Delete a model, its versions, aliases and audit trail (entity admins and maintainers;
    the artifact versions stay)."""
    _entity(user, entity, model, write=True)
    _writable(ctx)
    return JsonResponse(registry.delete_model(ctx.db, user, entity, model))


# -- versions ----------------------------------------------------------------------------------


@router.post(MODEL + "/links", response_model=ModelVersionOut, responses=_READ_ONLY)
def registry_link(
    entity: str, model: ModelName, body: LinkIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Link an artifact version of type `model` (400 for another type) as the model's next
    version (the model is created when missing) and move `aliases` onto it. A version linked
    already answers its model version (the aliases moved onto it). The viewer must reach the
    artifact's entity too (reading it is enough)."""
    _entity(user, entity, model, write=True)
    art = body.artifact
    reach(user, art.entity, art.project)
    if body.run is not None:
        check_project(body.run.project)
        check_run_id(body.run.id)
    _writable(ctx)
    run = None
    if body.run is not None:
        run = {"entity": body.run.entity or art.entity, "project": body.run.project}
        run["id"] = body.run.id
        require_entity(user, run["entity"])
    out = registry.link(
        ctx.db,
        user,
        entity,
        model,
        registry.ArtifactRef(art.entity, art.project, art.name, art.ref),
        body.aliases,
        run,
    )
    webhooks.wake(ctx)
    return JsonResponse(out)


@router.get(MODEL + "/versions", response_model=list[ModelVersionOut])
def registry_versions(entity: str, model: ModelName, user: CurrentViewer, ctx: Ctx) -> JsonResponse:
    """Every version of the model, newest first."""
    _entity(user, entity, model)
    with ctx.db.read() as session:
        return JsonResponse(registry.versions(session, entity, model))


@router.get(MODEL + "/versions/{ref}", response_model=ModelVersionOut)
def registry_version(
    entity: str, model: ModelName, ref: Ref, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """One version: `ref` is `v<N>`, an alias or `latest` (404 naming what exists)."""
    _entity(user, entity, model)
    with ctx.db.read() as session:
        return JsonResponse(registry.version(session, entity, model, ref))


@router.get(MODEL + "/versions/{ref}/card", response_model=CardOut)
def registry_card(
    entity: str, model: ModelName, ref: Ref, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """A version's card: the model, the version, the run that logged its artifact version
    (its config and summary), the datasets that run used and its numeric summary."""
    _entity(user, entity, model)
    with ctx.db.read() as session:
        return JsonResponse(registry.card(session, user, entity, model, ref))


# -- aliases and audit -------------------------------------------------------------------------


@router.put(
    MODEL + "/aliases/{alias}",
    response_model=ModelVersionOut,
    responses={**_CONFLICT, **_READ_ONLY},
)
def registry_alias_set(
    entity: str, model: ModelName, alias: Alias, body: AliasIn, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Point `alias` at `version` (atomic; audit `alias.set` from → to, nothing when it named
    that version already). `expect` makes it a compare-and-set (409 when the alias names
    another version now). `latest` and `v<N>` are refused (400); a protected alias takes an
    entity admin or a maintainer (403)."""
    _entity(user, entity, model, write=True)
    _writable(ctx)
    out = registry.move_alias(
        ctx.db,
        user,
        entity,
        model,
        alias,
        body.version,
        body.expect,
        "expect" in body.model_fields_set,
    )
    webhooks.wake(ctx)
    return JsonResponse(out)


@router.delete(MODEL + "/aliases/{alias}", response_model=AliasRemovedOut, responses=_READ_ONLY)
def registry_alias_remove(
    entity: str, model: ModelName, alias: Alias, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Remove `alias` (audit `alias.remove`); a protected alias takes an entity admin or a
    maintainer (403)."""
    _entity(user, entity, model, write=True)
    _writable(ctx)
    out = registry.remove_alias(ctx.db, user, entity, model, alias)
    webhooks.wake(ctx)
    return JsonResponse(out)


@router.get(MODEL + "/audit", response_model=list[AuditOut])
def registry_audit(
    entity: str,
    model: ModelName,
    user: CurrentViewer,
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=registry.MAX_AUDIT_PAGE)] = 200,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> JsonResponse:
    """The model's audit trail, newest first; `before` (an id) pages back."""
    _entity(user, entity, model)
    with ctx.db.read() as session:
        return JsonResponse(registry.audit(session, entity, model, limit, before))
