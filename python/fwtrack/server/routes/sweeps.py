"""Sweeps of a project: create, list, read and control them, their trials and parameter
importance, and the agents' calls (register, next trial, heartbeat, finish a trial)
(docs/server.md "Sweeps"; the logic is in `fwtrack.sweeps.controller`).

A key reaching the entity reads its sweeps and, as for uploading a run, writes them: creates
(the project is created on the first sweep, as on the first upload), controls them and runs
agents. A sweep named under another entity or project is a 404. `fwtrack ui` answers the same
routes from the local sweep store (`<dir>/.sweeps/sweeps.db`, entity `local`), controls
included: it is the user's own directory.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from fwtrack.errors import SweepConfigError, SweepError, SweepNotFoundError, SweepStateError
from fwtrack.server.auth import Viewer, entity_exists, require_entity
from fwtrack.server.context import LOCAL_USER, AppContext
from fwtrack.server.db import Project, Run
from fwtrack.server.errors import ApiError
from fwtrack.server.ingest import get_or_create_project
from fwtrack.server.jsonutil import JsonResponse
from fwtrack.server.queries import state_of
from fwtrack.server.routes.deps import ERRORS, Ctx, CurrentViewer, error, reach

if TYPE_CHECKING:
    from fwtrack.sweeps.controller import Controller

__all__ = ["router"]

router = APIRouter(responses=ERRORS, tags=["sweeps"])

SWEEPS = "/sweeps/{entity}/{project}"
SWEEP = SWEEPS + "/{sweep_id}"
AGENT = SWEEP + "/agents/{agent_id}"

SweepId = Annotated[str, Path(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9]+$")]
AgentId = Annotated[int, Path(ge=1, le=2**62)]
TrialId = Annotated[int, Path(ge=1, le=2**62)]

_CONFLICT = error(409, "The sweep's state does not allow this (e.g. resuming a cancelled sweep)")
_BAD_CONFIG = error(400, "The sweep config names an unknown key or holds an invalid value")
_RUN_LOOKUP_CHUNK = 500
MAX_HISTORY = 100_000


# -- bodies ------------------------------------------------------------------------------------


class SweepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any] = Field(description="The sweep config: W&B's keys (docs/sweeps.md)")
    seed: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Seeds every suggestion (default: config, random)"
    )


class ControlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["pause", "resume", "stop", "cancel"]


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = Field(max_length=256, pattern=r"^[^\x00]*$", description="No NUL characters")
    pid: int = Field(ge=0, le=2**31 - 1)


class TrialReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1, le=2**62)
    history: list[float] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description="The metric's values logged since `offset`",
    )
    offset: int = Field(0, ge=0, le=2**62, description="How many values were sent before")


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trials: list[TrialReport] = Field(default_factory=list, max_length=1024)


class FinishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_id: int = Field(ge=1, le=2**62)
    state: Literal["finished", "failed", "stopped"]
    value: float | None = Field(None, description="The metric's summary value (null: never)")
    history: list[float] = Field(default_factory=list, max_length=MAX_HISTORY)
    offset: int = Field(0, ge=0, le=2**62)


MAX_NAME = 256
"""The longest sweep name (`sweeps.name`)."""


def _check_text(config: dict[str, Any]) -> None:
    """400 for what the database cannot store: a NUL character in any key or string (the
    name and description go to text columns) or a name over `MAX_NAME` characters."""

    def walk(value: Any, where: str, depth: int) -> None:
        if depth > 64:
            raise ApiError(400, f"the sweep config nests deeper than 64 levels at {where}")
        if isinstance(value, str) and "\x00" in value:
            raise ApiError(
                400, f"the sweep config's {where} holds a NUL character; hint: remove it"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key, f"{where}.{key}" if where != "config" else key, depth + 1)
                walk(item, f"{where}.{key}" if where != "config" else key, depth + 1)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]", depth + 1)

    walk(config, "config", 0)
    name = config.get("name")
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise ApiError(
            400,
            f"the sweep config's name is {len(name)} characters long: at most {MAX_NAME} are "
            "allowed; hint: shorten it (a longer text goes in `description`)",
        )


# -- the controller behind the routes ------------------------------------------------------------

_lock = threading.Lock()


def _local_store_exists(ctx: AppContext) -> bool:
    from fwtrack.sweeps.local import local_database

    assert ctx.config.ui_scan_dir is not None
    return local_database(ctx.config.ui_scan_dir).is_file()


def _controller(request: Request, ctx: AppContext, *, write: bool) -> Controller | None:
    """The app's controller: on the server's database, or in `fwtrack ui` the local store
    (opened once it exists; a write creates it). None when a ui has no local store yet."""
    state = request.app.state
    found: Controller | None = getattr(state, "sweep_controller", None)
    if found is not None:
        return found
    if ctx.config.ui_scan_dir is not None and not write and not _local_store_exists(ctx):
        return None
    with _lock:
        found = getattr(state, "sweep_controller", None)
        if found is None:
            found = _open_controller(ctx)
            state.sweep_controller = found
    return found


def _open_controller(ctx: AppContext) -> Controller:
    try:
        from fwtrack.sweeps.controller import Controller
        from fwtrack.sweeps.local import open_local
    except ModuleNotFoundError as exc:
        raise ApiError(
            501,
            f"this server cannot run sweeps: {exc}; hint: pip install 'fwtrack[server]'",
        ) from exc
    if ctx.config.ui_scan_dir is not None:
        return open_local(ctx.config.ui_scan_dir)
    return Controller(ctx.db, heartbeat_interval=ctx.config.sweep_heartbeat)


@contextlib.contextmanager
def _answers() -> Iterator[None]:
    """The controller's errors as HTTP answers: 400 config, 404 not found, 409 state."""
    try:
        yield
    except SweepConfigError as exc:
        raise ApiError(400, str(exc)) from exc
    except SweepNotFoundError as exc:
        raise ApiError(404, str(exc)) from exc
    except SweepStateError as exc:
        raise ApiError(409, str(exc)) from exc
    except SweepError as exc:
        raise ApiError(400, str(exc)) from exc


def _check_names(
    ctx: AppContext, viewer: Viewer, entity: str, project: str, *, write: bool = False
) -> None:
    """400 for bad names, 403 for an entity out of reach (`write`: also for a team's
    viewers); in `fwtrack ui` entity `local`."""
    reach(viewer, entity, project, write=write)
    if ctx.config.ui_scan_dir is not None and entity != LOCAL_USER:
        raise ApiError(
            404,
            f"no entity {entity!r} here: `fwtrack ui` serves the local sweeps as entity "
            f"{LOCAL_USER!r}; hint: GET /api/v1/sweeps/{LOCAL_USER}/{project}",
        )


def _no_sweep(sweep_id: str, entity: str, project: str) -> ApiError:
    return ApiError(
        404,
        f"no sweep {sweep_id!r} in project {entity}/{project}; hint: GET "
        f"/api/v1/sweeps/{entity}/{project} lists its sweeps, GET /api/v1/sweep-ids/{sweep_id} "
        "names the project of a sweep",
    )


def _sweep(
    request: Request,
    ctx: AppContext,
    viewer: Viewer,
    entity: str,
    project: str,
    sweep_id: str,
    *,
    write: bool,
) -> Controller:
    """The controller, once `sweep_id` is known to be a sweep of `entity/project` (else 404);
    `write`: a change (refused to a team's viewers, 403)."""
    _check_names(ctx, viewer, entity, project, write=write)
    ctrl = _controller(request, ctx, write=write)
    if ctrl is None:
        raise _no_sweep(sweep_id, entity, project)
    try:
        where = ctrl.locate(sweep_id)
    except SweepNotFoundError:
        raise _no_sweep(sweep_id, entity, project) from None
    if tuple(where) != (entity, project):
        raise _no_sweep(sweep_id, entity, project)
    return ctrl


def _runs_of(
    ctx: AppContext, entity: str, project: str, run_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """`{"name", "state", "summary"}` of the project's runs among `run_ids`, by run id."""
    out: dict[str, dict[str, Any]] = {}
    wanted = sorted(set(run_ids))
    with ctx.db.read() as session:
        project_id = session.scalar(
            sa.select(Project.id).where(Project.entity == entity, Project.name == project)
        )
        if project_id is None:
            return out
        for start in range(0, len(wanted), _RUN_LOOKUP_CHUNK):
            chunk = wanted[start : start + _RUN_LOOKUP_CHUNK]
            for run in session.scalars(
                sa.select(Run).where(Run.project_id == project_id, Run.run_id.in_(chunk))
            ):
                out[run.run_id] = {
                    "name": run.name,
                    "state": state_of(run, ctx.stale_after),
                    "summary": run.summary or {},
                }
    return out


# -- routes --------------------------------------------------------------------------------------


@router.post(SWEEPS, status_code=201, responses={**_BAD_CONFIG})
def create_sweep(
    entity: str, project: str, body: SweepIn, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Create a sweep from a config (W&B's keys; the URL's entity and project win over the
    config's). 201 with the sweep; 400 naming the bad key and value."""
    _check_names(ctx, user, entity, project, write=True)
    from fwtrack.sweeps.config import load_config

    _check_text(body.config)
    with _answers():
        config = load_config(body.config)
    if ctx.config.ui_scan_dir is None:
        with ctx.db.read() as session:
            known = session.scalar(
                sa.select(Project.id).where(Project.entity == entity, Project.name == project)
            )
            if known is None and not entity_exists(session, entity):
                raise ApiError(
                    404,
                    f"no user or team named {entity!r}; hint: an admin creates it with "
                    "POST /api/v1/users or POST /api/v1/teams",
                )
        get_or_create_project(ctx.db, entity, project)
    ctrl = _controller(request, ctx, write=True)
    assert ctrl is not None
    with _answers():
        out = ctrl.create(entity, project, config, created_by=user.name, seed=body.seed)
    return JsonResponse(out, status_code=201)


@router.get(SWEEPS)
def list_sweeps(
    entity: str, project: str, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The project's sweeps, newest first: `{"sweeps": [sweep]}`."""
    _check_names(ctx, user, entity, project)
    ctrl = _controller(request, ctx, write=False)
    if ctrl is None:
        return JsonResponse({"sweeps": []})
    with _answers():
        sweeps = ctrl.list(entity, project)
    return JsonResponse({"sweeps": sweeps})


@router.get(SWEEP)
def get_sweep(
    entity: str, project: str, sweep_id: SweepId, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The sweep: state, config, counts of trials by state, the best trial, agents, parameters."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=False)
    with _answers():
        return JsonResponse(ctrl.get(sweep_id))


@router.patch(SWEEP, responses={**_CONFLICT})
def control_sweep(
    entity: str,
    project: str,
    sweep_id: SweepId,
    body: ControlIn,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """Pause (running → paused), resume (paused → running), stop (no new trials; running
    ones finish) or cancel (running trials are stopped too). 409 when the state does not
    allow it."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=True)
    with _answers():
        return JsonResponse(ctrl.control(sweep_id, body.action))


@router.get(SWEEP + "/trials")
def list_trials(
    entity: str, project: str, sweep_id: SweepId, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """The sweep's trials in number order, each with `"run": {"name", "state", "summary"}` of
    its run (null until the run is uploaded)."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=False)
    with _answers():
        trials = ctrl.trials(sweep_id)
    runs = _runs_of(ctx, entity, project, [t["run_id"] for t in trials])
    return JsonResponse({"trials": [{**t, "run": runs.get(t["run_id"])} for t in trials]})


@router.get(SWEEP + "/importance")
def importance(
    entity: str, project: str, sweep_id: SweepId, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Each parameter's importance (a random forest fitted on the finished trials) and its
    correlation with the metric; nulls and a `detail` while fewer than 3 trials finished."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=False)
    with _answers():
        return JsonResponse(ctrl.importance(sweep_id))


@router.post(SWEEP + "/agents", status_code=201)
def register_agent(
    entity: str,
    project: str,
    sweep_id: SweepId,
    body: AgentIn,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """Register an agent (its host and process id): 201 `{"agent_id", "heartbeat_interval"}`."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=True)
    with _answers():
        out = ctrl.register_agent(sweep_id, body.host, body.pid)
    return JsonResponse(out, status_code=201)


@router.post(AGENT + "/next")
def next_trial(
    entity: str,
    project: str,
    sweep_id: SweepId,
    agent_id: AgentId,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """The agent's next trial: `{"trial": T}`, `{"wait": seconds}` (paused, or trials still
    running may be queued again) or `{"done": reason}`."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=True)
    with _answers():
        return JsonResponse(ctrl.next_trial(sweep_id, agent_id))


@router.post(AGENT + "/heartbeat")
def heartbeat(
    entity: str,
    project: str,
    sweep_id: SweepId,
    agent_id: AgentId,
    body: HeartbeatIn,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """The agent is alive; its trials' new metric values (idempotent by offset). Answers
    `{"stop": [trial ids to stop], "state": sweep state}`."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=True)
    reports = [r.model_dump() for r in body.trials]
    with _answers():
        return JsonResponse(ctrl.heartbeat(sweep_id, agent_id, reports))


@router.post(SWEEP + "/trials/{trial_id}/finish")
def finish_trial(
    entity: str,
    project: str,
    sweep_id: SweepId,
    trial_id: TrialId,
    body: FinishIn,
    request: Request,
    user: CurrentViewer,
    ctx: Ctx,
) -> JsonResponse:
    """A trial ended (`finished`, `failed` or `stopped`) with the metric's summary value and
    its last values; idempotent. Answers the trial."""
    ctrl = _sweep(request, ctx, user, entity, project, sweep_id, write=True)
    with _answers():
        out = ctrl.finish_trial(
            sweep_id, body.agent_id, trial_id, body.state, body.value, body.history, body.offset
        )
    return JsonResponse(out)


@router.get("/sweep-ids/{sweep_id}")
def locate_sweep(
    sweep_id: SweepId, request: Request, user: CurrentViewer, ctx: Ctx
) -> JsonResponse:
    """Where a sweep lives: `{"entity", "project", "id"}` (403 when its entity is out of
    reach)."""
    ctrl = _controller(request, ctx, write=False)
    hint = "hint: check the id `fwtrack sweep` printed"
    if ctrl is None:
        raise ApiError(404, f"no sweep {sweep_id!r}; {hint}")
    try:
        entity, project = ctrl.locate(sweep_id)
    except SweepNotFoundError:
        raise ApiError(404, f"no sweep {sweep_id!r}; {hint}") from None
    require_entity(user, entity)
    return JsonResponse({"entity": entity, "project": project, "id": sweep_id})
