"""The model registry of an entity (a team or a user): registered models, their versions
(links to committed artifact versions of type `model`), aliases, maintainers and the audit
trail (tables `registered_*` and `registry_audit`, docs/server.md "Model registry"). The HTTP
routes are in `routes/registry.py`.

Every change of a model happens under its row lock (`SELECT ... FOR UPDATE` on PostgreSQL;
on SQLite every write transaction holds the database's write lock): a new version's index,
an alias's move and the audit record of that move are decided together, so two racing moves
end with one version per alias and an audit trail whose from → to chain has no gap.

Who may do what: anyone reaching the entity reads its registry, links, creates models and
edits descriptions, metadata, tags and unprotected aliases; moving or removing a protected
alias, changing the protected aliases or the maintainers, and deleting a model take an
entity admin (`is_entity_admin`) or a maintainer of the model. A refused change records
nothing.

Webhook events (`registry.version_linked`, `registry.alias_moved`) are queued in the same
transaction as the change (`fwtrack.server.webhooks.enqueue`); the route wakes the delivery
worker once it committed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from fwtrack.artifacts import registry as rules
from fwtrack.server import artifacts, webhooks
from fwtrack.server.auth import Viewer
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
    Team,
    TeamMember,
    User,
    now,
)
from fwtrack.server.errors import ApiError
from fwtrack.server.jsonutil import json_safe

__all__ = [
    "AUDIT_ACTIONS",
    "MODEL_TYPE",
    "STAGES",
    "ArtifactRef",
    "Changes",
    "audit",
    "card",
    "check_model_name",
    "create_model",
    "delete_model",
    "find_model",
    "is_entity_admin",
    "link",
    "model_detail",
    "models",
    "models_json",
    "move_alias",
    "remove_alias",
    "update_model",
    "version",
    "versions",
]

STAGES = ("staging", "production", "archived")
"""The standard stages: aliases like any other, shown apart (`stages` of a ModelOut)."""
MODEL_TYPE = "model"
"""The artifact type a model version links to."""
AUDIT_ACTIONS = (
    "link",
    "alias.set",
    "alias.remove",
    "protect",
    "unprotect",
    "maintainers",
    "update",
)
MAX_AUDIT_PAGE = 1000
_VERSION_REF = re.compile(r"^v(\d{1,9})$")
_EVAL_DEPTH = 8


def _checked(rule: Any, value: object) -> str:
    try:
        out: str = rule(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, str(exc)) from None
    return out


def check_model_name(name: object) -> str:
    """A registered model's name: the rules of an artifact name; 400 naming them."""
    return _checked(rules.check_name, name)


def check_alias(alias: object) -> str:
    """An alias a user may set (not `latest`, not `v<N>`); 400 naming the rule."""
    return _checked(rules.check_alias, alias)


def _insert(dialect: str, table: Any) -> Any:
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


# -- who may ----------------------------------------------------------------------------------


def is_entity_admin(session: Session, viewer: Viewer, entity: str) -> bool:
    """True when `viewer` administers `entity`: a server admin, the user `entity` itself, or
    a member of team `entity` with role admin."""
    if viewer.is_admin or viewer.name == entity:
        return True
    if entity not in viewer.teams:
        return False
    role = session.scalar(
        sa.select(TeamMember.role)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.name == entity, TeamMember.user_id == viewer.id)
    )
    return role == "admin"


def _maintainers(session: Session, model_ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in model_ids}
    if out:
        for mid, name in session.execute(
            sa.select(RegisteredModelMaintainer.model_id, User.name)
            .join(User, User.id == RegisteredModelMaintainer.user_id)
            .where(RegisteredModelMaintainer.model_id.in_(list(out)))
            .order_by(User.name)
        ):
            out[mid].append(name)
    return out


def _may_guard(session: Session, viewer: Viewer, model: RegisteredModel) -> bool:
    """An entity admin or a maintainer of the model."""
    if is_entity_admin(session, viewer, model.entity):
        return True
    return session.get(RegisteredModelMaintainer, (model.id, viewer.id)) is not None


def _require_guard(session: Session, viewer: Viewer, model: RegisteredModel, what: str) -> None:
    """403 unless the viewer may guard `model`; `what` completes "... may <what>"."""
    if _may_guard(session, viewer, model):
        return
    names = _maintainers(session, [model.id])[model.id]
    who = ", ".join(names) if names else "none"
    raise ApiError(
        403,
        f"user {viewer.name!r} may not {what} of model {model.entity}/{model.name}: only the "
        f"admins of {model.entity!r} and the model's maintainers ({who}) may; hint: ask one "
        "of them",
    )


def _require_alias(
    session: Session, viewer: Viewer, model: RegisteredModel, alias: str, verb: str = "move"
) -> None:
    """403 when `alias` is protected and the viewer may not guard the model."""
    if alias in (model.protected_aliases or []):
        _require_guard(session, viewer, model, f"{verb} the protected alias {alias!r}")


# -- lookups ----------------------------------------------------------------------------------


def find_model(session: Session, entity: str, name: str, *, lock: bool = False) -> RegisteredModel:
    """The model `entity/name` (locked for this transaction with `lock`), or 404 naming it and
    the models that exist."""
    query = sa.select(RegisteredModel).where(
        RegisteredModel.entity == entity, RegisteredModel.name == name
    )
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        names = session.scalars(
            sa.select(RegisteredModel.name)
            .where(RegisteredModel.entity == entity)
            .order_by(RegisteredModel.name)
            .limit(20)
        ).all()
        have = ", ".join(names) if names else "none"
        raise ApiError(
            404,
            f"no model {name!r} in the registry of {entity!r} (its models: {have}); hint: "
            f"GET /api/v1/registry/{entity}/models lists them",
        )
    return row


def _aliases(session: Session, model_id: int) -> dict[str, int]:
    """alias → model version id."""
    return {
        alias: vid
        for alias, vid in session.execute(
            sa.select(RegisteredModelAlias.alias, RegisteredModelAlias.version_id).where(
                RegisteredModelAlias.model_id == model_id
            )
        )
    }


def _resolve(session: Session, model: RegisteredModel, ref: str) -> RegisteredModelVersion:
    """The model version `ref` names: `v<N>`, an alias or `latest`; 404 naming what exists."""
    query = sa.select(RegisteredModelVersion).where(RegisteredModelVersion.model_id == model.id)
    found: RegisteredModelVersion | None = None
    numbered = _VERSION_REF.fullmatch(ref)
    if numbered is not None:
        found = session.scalar(query.where(RegisteredModelVersion.index == int(numbered.group(1))))
    elif ref == rules.LATEST:
        found = session.scalar(query.order_by(RegisteredModelVersion.index.desc()).limit(1))
    elif rules.ALIAS_RE.fullmatch(ref) is not None:
        found = session.scalar(
            query.join(
                RegisteredModelAlias, RegisteredModelAlias.version_id == RegisteredModelVersion.id
            ).where(RegisteredModelAlias.model_id == model.id, RegisteredModelAlias.alias == ref)
        )
    if found is None:
        top = _top(session, model.id)
        names = sorted(_aliases(session, model.id))
        have = (
            "no versions"
            if top is None
            else f"versions v0..v{top}, aliases {', '.join(['latest', *names])}"
        )
        raise ApiError(
            404,
            f"no version {ref[:100]!r} of model {model.entity}/{model.name} (it has {have}); "
            "hint: use v<N>, an alias or 'latest'",
        )
    return found


def _top(session: Session, model_id: int) -> int | None:
    top: int | None = session.scalar(
        sa.select(sa.func.max(RegisteredModelVersion.index)).where(
            RegisteredModelVersion.model_id == model_id
        )
    )
    return top


# -- answers ----------------------------------------------------------------------------------


def _user_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    return {
        uid: name
        for uid, name in session.execute(sa.select(User.id, User.name).where(User.id.in_(wanted)))
    }


def models_json(session: Session, rows: Sequence[RegisteredModel]) -> list[dict[str, Any]]:
    """ModelOut of each of `rows` (a few queries for all of them)."""
    ids = [m.id for m in rows]
    counts: dict[int, int] = {}
    tops: dict[int, int] = {}
    aliases: dict[int, dict[str, str]] = {i: {} for i in ids}
    if ids:
        for mid, count, top in session.execute(
            sa.select(
                RegisteredModelVersion.model_id,
                sa.func.count(),
                sa.func.max(RegisteredModelVersion.index),
            )
            .where(RegisteredModelVersion.model_id.in_(ids))
            .group_by(RegisteredModelVersion.model_id)
        ):
            counts[mid], tops[mid] = count, top
        for mid, alias, index in session.execute(
            sa.select(
                RegisteredModelAlias.model_id,
                RegisteredModelAlias.alias,
                RegisteredModelVersion.index,
            )
            .join(
                RegisteredModelVersion,
                RegisteredModelVersion.id == RegisteredModelAlias.version_id,
            )
            .where(RegisteredModelAlias.model_id.in_(ids))
        ):
            aliases[mid][alias] = f"v{index}"
    maintainers = _maintainers(session, ids)
    users = _user_names(session, (m.created_by for m in rows))
    out = []
    for m in rows:
        named = dict(sorted(aliases[m.id].items()))
        newest = tops.get(m.id)
        out.append(
            {
                "entity": m.entity,
                "name": m.name,
                "description": m.description,
                "metadata": m.meta or {},
                "tags": list(m.tags or []),
                "protected_aliases": sorted(m.protected_aliases or []),
                "maintainers": maintainers[m.id],
                "versions": counts.get(m.id, 0),
                "latest": None if newest is None else f"v{newest}",
                "aliases": named,
                "stages": {stage: named.get(stage) for stage in STAGES},
                "created_at": m.created_at,
                "updated_at": m.updated_at,
                "created_by": users.get(m.created_by) if m.created_by is not None else None,
            }
        )
    return out


def _found_of(session: Session, artifact_version_ids: Sequence[int]) -> dict[int, artifacts.Found]:
    out: dict[int, artifacts.Found] = {}
    ids = sorted(set(artifact_version_ids))
    for start in range(0, len(ids), 500):
        for v, c, p in session.execute(
            sa.select(ArtifactVersion, ArtifactCollection, Project)
            .join(ArtifactCollection, ArtifactCollection.id == ArtifactVersion.collection_id)
            .join(Project, Project.id == ArtifactCollection.project_id)
            .where(ArtifactVersion.id.in_(ids[start : start + 500]))
        ):
            out[v.id] = artifacts.Found(v, c, p)
    return out


def versions_json(
    session: Session, model: RegisteredModel, rows: Sequence[RegisteredModelVersion]
) -> list[dict[str, Any]]:
    """ModelVersionOut of each of `rows` (versions of `model`)."""
    if not rows:
        return []
    by_version: dict[int, list[str]] = {r.id: [] for r in rows}
    for alias, vid in _aliases(session, model.id).items():
        if vid in by_version:
            by_version[vid].append(alias)
    top = _top(session, model.id)
    found = _found_of(session, [r.artifact_version_id for r in rows])
    ordered = [found[r.artifact_version_id] for r in rows if r.artifact_version_id in found]
    as_json = dict(
        zip(
            [f.version.id for f in ordered],
            artifacts.versions_json(session, ordered),
            strict=True,
        )
    )
    runs: dict[int, dict[str, Any]] = {}
    run_pks = sorted({r.run_pk for r in rows if r.run_pk is not None})
    if run_pks:
        for pk, run_id, entity, project in session.execute(
            sa.select(Run.id, Run.run_id, Project.entity, Project.name)
            .join(Project, Project.id == Run.project_id)
            .where(Run.id.in_(run_pks))
        ):
            runs[pk] = {"entity": entity, "project": project, "id": run_id}
    users = _user_names(session, (r.linked_by for r in rows))
    out = []
    for r in rows:
        names = set(by_version[r.id])
        if r.index == top:
            names.add(rules.LATEST)
        out.append(
            {
                "entity": model.entity,
                "model": model.name,
                "version": f"v{r.index}",
                "index": r.index,
                "aliases": sorted(names),
                "linked_at": r.linked_at,
                "linked_by": users.get(r.linked_by) if r.linked_by is not None else None,
                "run": runs.get(r.run_pk) if r.run_pk is not None else None,
                "artifact": as_json.get(r.artifact_version_id),
            }
        )
    return out


def _version_rows(session: Session, model_id: int) -> list[RegisteredModelVersion]:
    """Every version of the model, newest first."""
    return list(
        session.scalars(
            sa.select(RegisteredModelVersion)
            .where(RegisteredModelVersion.model_id == model_id)
            .order_by(RegisteredModelVersion.index.desc())
        )
    )


def models(session: Session, entity: str, tag: str | None = None) -> list[dict[str, Any]]:
    """ModelOut of the entity's models, by name (with `tag` among their tags)."""
    rows = list(
        session.scalars(
            sa.select(RegisteredModel)
            .where(RegisteredModel.entity == entity)
            .order_by(RegisteredModel.name)
        )
    )
    if tag is not None:
        rows = [m for m in rows if tag in (m.tags or [])]
    return models_json(session, rows)


def model_detail(session: Session, model: RegisteredModel) -> dict[str, Any]:
    """ModelDetailOut: ModelOut with every version, newest first."""
    out = models_json(session, [model])[0]
    out["versions_list"] = versions_json(session, model, _version_rows(session, model.id))
    return out


def versions(session: Session, entity: str, name: str) -> list[dict[str, Any]]:
    model = find_model(session, entity, name)
    return versions_json(session, model, _version_rows(session, model.id))


def version(session: Session, entity: str, name: str, ref: str) -> dict[str, Any]:
    model = find_model(session, entity, name)
    return versions_json(session, model, [_resolve(session, model, ref)])[0]


def _audit_json(row: RegistryAudit) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": row.at,
        "user": row.user,
        "action": row.action,
        "alias": row.alias,
        "from_version": row.from_version,
        "to_version": row.to_version,
        "detail": row.detail,
    }


def audit(
    session: Session, entity: str, name: str, limit: int = 200, before: int | None = None
) -> list[dict[str, Any]]:
    """The model's audit trail, newest first (`before`: ids below it, for the next page)."""
    model = find_model(session, entity, name)
    query = sa.select(RegistryAudit).where(RegistryAudit.model_id == model.id)
    if before is not None:
        query = query.where(RegistryAudit.id < before)
    query = query.order_by(RegistryAudit.id.desc()).limit(max(1, min(limit, MAX_AUDIT_PAGE)))
    return [_audit_json(r) for r in session.scalars(query)]


def _numbers(doc: Mapping[str, Any], prefix: str = "", depth: int = 0) -> dict[str, float]:
    """The finite numbers of `doc`, nested objects flattened with `/` (`eval/acc`); keys
    starting with `_` (the tracker's own) are left out."""
    out: dict[str, float] = {}
    for key, value in doc.items():
        if not isinstance(key, str) or (not prefix and key.startswith("_")):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and depth < _EVAL_DEPTH:
            out.update(_numbers(value, name + "/", depth + 1))
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[name] = value
    return out


def card(session: Session, viewer: Viewer, entity: str, name: str, ref: str) -> dict[str, Any]:
    """CardOut: the model, the version, the run that logged its artifact version, the
    datasets that run used (its input edges that resolve to committed versions) and that
    run's numeric summary. Runs and datasets of entities the viewer does not reach are left
    out."""
    model = find_model(session, entity, name)
    row = _resolve(session, model, ref)
    out: dict[str, Any] = {
        "model": models_json(session, [model])[0],
        "version": versions_json(session, model, [row])[0],
        "run": None,
        "datasets": [],
        "evaluation": {},
    }
    art = session.get(ArtifactVersion, row.artifact_version_id)
    run_row = None if art is None or art.run_pk is None else session.get(Run, art.run_pk)
    if run_row is None:
        return out
    project = session.get(Project, run_row.project_id)
    if project is None or not viewer.reaches(project.entity):
        return out
    summary = run_row.summary if isinstance(run_row.summary, dict) else {}
    out["run"] = {
        "entity": project.entity,
        "project": project.name,
        "id": run_row.run_id,
        "name": run_row.name,
        "state": run_row.state,
        "config": run_row.config or {},
        "summary": summary,
    }
    used = artifacts.run_artifacts(session, run_row.id, viewer.reaches)["used"]
    out["datasets"] = [
        {k: v for k, v in item.items() if k != "ref"} for item in used if item.get("version")
    ]
    out["evaluation"] = _numbers(summary)
    return json_safe(out)  # type: ignore[no-any-return]


# -- writes -----------------------------------------------------------------------------------


def _record(
    session: Session,
    model: RegisteredModel,
    viewer: Viewer,
    action: str,
    *,
    alias: str | None = None,
    from_version: str | None = None,
    to_version: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        RegistryAudit(
            model_id=model.id,
            at=now(),
            user=viewer.name,
            action=action,
            alias=alias,
            from_version=from_version,
            to_version=to_version,
            detail=detail,
        )
    )


def _alias_moved(
    session: Session,
    model: RegisteredModel,
    viewer: Viewer,
    alias: str,
    from_version: str | None,
    to_version: str | None,
) -> None:
    """Audit the move of `alias` and queue its webhook event."""
    _record(
        session,
        model,
        viewer,
        "alias.set" if to_version is not None else "alias.remove",
        alias=alias,
        from_version=from_version,
        to_version=to_version,
    )
    webhooks.enqueue(
        session,
        model.entity,
        "registry.alias_moved",
        {
            "entity": model.entity,
            "model": model.name,
            "alias": alias,
            "from": from_version,
            "to": to_version,
            "user": viewer.name,
        },
    )


def _index_of(session: Session, version_id: int) -> int:
    index = session.scalar(
        sa.select(RegisteredModelVersion.index).where(RegisteredModelVersion.id == version_id)
    )
    assert index is not None
    return int(index)


def _set_alias(
    session: Session,
    dialect: str,
    model: RegisteredModel,
    viewer: Viewer,
    alias: str,
    target: RegisteredModelVersion,
    current: dict[str, int],
) -> bool:
    """Point `alias` at `target` (the model is locked; `current`: alias → version id, kept
    up to date); audit and event when it moved. False when it named `target` already."""
    held = current.get(alias)
    if held == target.id:
        return False
    session.execute(
        _insert(dialect, RegisteredModelAlias)
        .values(model_id=model.id, alias=alias, version_id=target.id)
        .on_conflict_do_update(index_elements=["model_id", "alias"], set_={"version_id": target.id})
    )
    current[alias] = target.id
    before = None if held is None else f"v{_index_of(session, held)}"
    _alias_moved(session, model, viewer, alias, before, f"v{target.index}")
    return True


def create_model(
    db: Database,
    viewer: Viewer,
    entity: str,
    name: str,
    description: str | None,
    metadata: dict[str, Any] | None,
    tags: list[str] | None,
) -> dict[str, Any]:
    """A new model (409 when the entity has one of that name); its ModelOut."""
    check_model_name(name)
    t = now()
    with db.write() as session:
        created = session.execute(
            _insert(db.dialect, RegisteredModel)
            .values(
                entity=entity,
                name=name,
                description=description,
                meta=json_safe(metadata or {}),
                tags=_tags(tags),
                protected_aliases=[],
                created_at=t,
                updated_at=t,
                created_by=viewer.id,
            )
            .on_conflict_do_nothing(index_elements=["entity", "name"])
            .returning(RegisteredModel.id)
        ).scalar()
        if created is None:
            raise ApiError(
                409,
                f"the registry of {entity!r} has a model named {name!r} already; hint: PATCH "
                f"/api/v1/registry/{entity}/models/{name} edits it",
            )
        return models_json(session, [find_model(session, entity, name)])[0]


def _tags(tags: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for tag in tags or []:
        if not isinstance(tag, str) or not tag.strip() or len(tag) > 256:
            raise ApiError(400, f"invalid tag {str(tag)[:80]!r}: use 1-256 characters")
        if tag not in out:
            out.append(tag)
    return out


@dataclass
class Changes:
    """A PATCH of a model: the fields that were sent."""

    description: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    protected_aliases: list[str] | None = None
    maintainers: list[str] | None = None
    sent: set[str] = field(default_factory=set)


def update_model(
    db: Database, viewer: Viewer, entity: str, name: str, changes: Changes
) -> dict[str, Any]:
    """Edit a model; audit `update` (description, metadata, tags), `protect`/`unprotect` per
    alias and `maintainers`. The last two take an entity admin or a maintainer (403, nothing
    changed). Its ModelDetailOut."""
    with db.write() as session:
        model = find_model(session, entity, name, lock=True)
        guarded = {"protected_aliases", "maintainers"} & changes.sent
        if guarded:
            _require_guard(session, viewer, model, "change the " + " and ".join(sorted(guarded)))
        edited: dict[str, list[Any]] = {}
        if "description" in changes.sent and changes.description != model.description:
            edited["description"] = [model.description, changes.description]
            model.description = changes.description
        if "metadata" in changes.sent:
            meta = json_safe(changes.metadata or {})
            if meta != (model.meta or {}):
                edited["metadata"] = [model.meta or {}, meta]
                model.meta = meta
        if "tags" in changes.sent:
            tags = _tags(changes.tags)
            if tags != list(model.tags or []):
                edited["tags"] = [list(model.tags or []), tags]
                model.tags = tags
        if edited:
            _record(session, model, viewer, "update", detail={"changed": edited})
        if "protected_aliases" in changes.sent:
            wanted = sorted({check_alias(a) for a in changes.protected_aliases or []})
            had = set(model.protected_aliases or [])
            for alias in wanted:
                if alias not in had:
                    _record(session, model, viewer, "protect", alias=alias)
            for alias in sorted(had - set(wanted)):
                _record(session, model, viewer, "unprotect", alias=alias)
            model.protected_aliases = wanted
        if "maintainers" in changes.sent:
            _set_maintainers(session, viewer, model, changes.maintainers or [])
        model.updated_at = now()
        session.flush()
        return model_detail(session, model)


def _set_maintainers(
    session: Session, viewer: Viewer, model: RegisteredModel, names: list[str]
) -> None:
    wanted = sorted(set(names))
    users = {
        n: uid
        for uid, n in session.execute(sa.select(User.id, User.name).where(User.name.in_(wanted)))
    }
    unknown = [n for n in wanted if n not in users]
    if unknown:
        raise ApiError(
            404,
            f"no user named {unknown[0][:64]!r}; hint: maintainers are user names "
            "(GET /api/v1/users lists them)",
        )
    had = _maintainers(session, [model.id])[model.id]
    if had == wanted:
        return
    session.execute(
        sa.delete(RegisteredModelMaintainer).where(RegisteredModelMaintainer.model_id == model.id)
    )
    for n in wanted:
        session.add(RegisteredModelMaintainer(model_id=model.id, user_id=users[n]))
    _record(
        session,
        model,
        viewer,
        "maintainers",
        detail={
            "from": had,
            "to": wanted,
            "added": [n for n in wanted if n not in had],
            "removed": [n for n in had if n not in wanted],
        },
    )


def delete_model(db: Database, viewer: Viewer, entity: str, name: str) -> dict[str, Any]:
    """Delete a model with its versions, aliases and audit trail (the artifact versions
    stay); entity admins and maintainers only."""
    with db.write() as session:
        model = find_model(session, entity, name, lock=True)
        _require_guard(session, viewer, model, "delete it")
        session.delete(model)
    return {"deleted": name}


@dataclass(frozen=True)
class ArtifactRef:
    """The artifact version a link names: `entity/project/name` at `ref` (`v<N>`, an alias,
    `latest` or a digest)."""

    entity: str
    project: str
    name: str
    ref: str


def _artifact(session: Session, ref: ArtifactRef) -> artifacts.Found:
    project = session.scalar(
        sa.select(Project).where(Project.entity == ref.entity, Project.name == ref.project)
    )
    if project is None:
        raise ApiError(
            404,
            f"no project {ref.entity}/{ref.project}; hint: log the artifact first, or check "
            "its entity and project",
        )
    artifacts.check_artifact_name(ref.name)
    collection = artifacts.find_collection(session, project, ref.name)
    found = artifacts.resolve(session, project, collection, ref.ref)
    if collection.type != MODEL_TYPE:
        raise ApiError(
            400,
            f"artifact {ref.entity}/{ref.project}/{ref.name} is of type {collection.type!r}, "
            f"not {MODEL_TYPE!r}: only model artifacts can be linked to the registry; hint: "
            f"log it with type={MODEL_TYPE!r}",
        )
    return found


def _run_pk(session: Session, run: Mapping[str, str] | None, default_entity: str) -> int | None:
    """The id of the run `{"entity"?, "project", "id"}` (entity: the artifact's), or None
    when it is not on the server."""
    if not run:
        return None
    pk: int | None = session.scalar(
        sa.select(Run.id)
        .join(Project, Project.id == Run.project_id)
        .where(
            Project.entity == run.get("entity", default_entity),
            Project.name == run.get("project"),
            Run.run_id == run.get("id"),
        )
    )
    return pk


def link(
    db: Database,
    viewer: Viewer,
    entity: str,
    name: str,
    target: ArtifactRef,
    aliases: list[str],
    run: Mapping[str, str] | None,
) -> dict[str, Any]:
    """Link an artifact version of type `model` to model `entity/name` (created when
    missing) as its next version, and move `aliases` onto it. Linking a version that is
    linked already answers its model version (the aliases moved onto it). Audit `link` and
    `alias.set` per move; webhook events `registry.version_linked` and
    `registry.alias_moved`. Its ModelVersionOut."""
    check_model_name(name)
    wanted = sorted({check_alias(a) for a in aliases if a != rules.LATEST})
    t = now()
    with db.write() as session:
        found = _artifact(session, target)
        session.execute(
            _insert(db.dialect, RegisteredModel)
            .values(
                entity=entity,
                name=name,
                meta={},
                tags=[],
                protected_aliases=[],
                created_at=t,
                updated_at=t,
                created_by=viewer.id,
            )
            .on_conflict_do_nothing(index_elements=["entity", "name"])
        )
        model = find_model(session, entity, name, lock=True)
        for alias in wanted:
            _require_alias(session, viewer, model, alias, "set")
        row = session.scalar(
            sa.select(RegisteredModelVersion).where(
                RegisteredModelVersion.model_id == model.id,
                RegisteredModelVersion.artifact_version_id == found.version.id,
            )
        )
        new = row is None
        if row is None:
            top = _top(session, model.id)
            row = RegisteredModelVersion(
                model_id=model.id,
                index=0 if top is None else top + 1,
                artifact_version_id=found.version.id,
                linked_at=t,
                linked_by=viewer.id,
                run_pk=_run_pk(session, run, found.project.entity),
            )
            session.add(row)
            session.flush()
            _record(session, model, viewer, "link", to_version=f"v{row.index}")
        current = _aliases(session, model.id)
        for alias in wanted:
            _set_alias(session, db.dialect, model, viewer, alias, row, current)
        model.updated_at = t
        session.flush()
        out = versions_json(session, model, [row])[0]
        if new:
            webhooks.enqueue(
                session,
                model.entity,
                "registry.version_linked",
                {
                    "entity": model.entity,
                    "model": model.name,
                    "version": out["version"],
                    "aliases": out["aliases"],
                    "artifact": {
                        "entity": found.project.entity,
                        "project": found.project.name,
                        "name": found.collection.name,
                        "version": f"v{found.version.index}",
                        "digest": found.version.digest,
                    },
                    "user": viewer.name,
                },
            )
        return out


def _reserved(alias: str) -> str:
    if alias == rules.LATEST or _VERSION_REF.fullmatch(alias):
        raise ApiError(
            400,
            f"{alias!r} cannot be set: 'latest' is always the newest version and v<N> names "
            "version N; hint: choose another alias, e.g. 'production'",
        )
    return check_alias(alias)


def move_alias(
    db: Database,
    viewer: Viewer,
    entity: str,
    name: str,
    alias: str,
    to: str,
    expect: str | None,
    expect_set: bool,
) -> dict[str, Any]:
    """Point `alias` at version `to` (`v<N>`, an alias or `latest`). With `expect` sent, 409
    unless the alias names that version now (null: unset) — compare-and-set. No audit when it
    named `to` already. The target's ModelVersionOut."""
    _reserved(alias)
    with db.write() as session:
        model = find_model(session, entity, name, lock=True)
        _require_alias(session, viewer, model, alias)
        target = _resolve(session, model, to)
        current = _aliases(session, model.id)
        held = current.get(alias)
        now_names = None if held is None else f"v{_index_of(session, held)}"
        if expect_set and expect != now_names:
            raise ApiError(
                409,
                f"alias {alias!r} of model {entity}/{name} names {now_names or 'no version'}, "
                f"not {expect or 'no version'}: it moved meanwhile; hint: read it again and "
                "decide",
                extra={"current": now_names},
            )
        if _set_alias(session, db.dialect, model, viewer, alias, target, current):
            model.updated_at = now()
        session.flush()
        return versions_json(session, model, [target])[0]


def remove_alias(
    db: Database, viewer: Viewer, entity: str, name: str, alias: str
) -> dict[str, Any]:
    """Remove `alias` from the model; audit `alias.remove`. `{"alias", "from"}`."""
    _reserved(alias)
    with db.write() as session:
        model = find_model(session, entity, name, lock=True)
        _require_alias(session, viewer, model, alias, "remove")
        held = _aliases(session, model.id).get(alias)
        if held is None:
            raise ApiError(
                404,
                f"model {entity}/{name} has no alias {alias!r}; hint: GET "
                f".../models/{name} lists its aliases",
            )
        was = f"v{_index_of(session, held)}"
        session.execute(
            sa.delete(RegisteredModelAlias).where(
                RegisteredModelAlias.model_id == model.id, RegisteredModelAlias.alias == alias
            )
        )
        _alias_moved(session, model, viewer, alias, was, None)
        model.updated_at = now()
    return {"alias": alias, "from": was}
