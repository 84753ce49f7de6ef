"""The sweep controller: sweeps, their agents and trials in SQL (the server's database, or the
local store of `fwtrack.sweeps.local`), and the decisions agents ask for.

Every call that changes something is one write transaction that first locks the sweep's row
(`SELECT ... FOR NO KEY UPDATE` on PostgreSQL; on SQLite a write session starts `BEGIN
IMMEDIATE`, which already serializes writers), so the calls on one sweep happen one after the
other, whichever server process or agent makes them. On top of that, a grid point is claimed
by inserting a trial with `grid_key` = the point's canonical key, which is unique per sweep:
even with the locking wrong, a grid point cannot run twice.

Agents: `register_agent`, then `next_trial` (a trial, `wait` some seconds, or `done` with a
reason), `heartbeat` with the metric's new values of its running trials (answers the trials
to stop: hyperband's decisions, or all of them once the sweep is cancelled), and
`finish_trial`. An agent silent for two heartbeat intervals is `lost`: its running trials are
queued again with a new run id (`attempt` + 1) until `max_attempts` runs, then `crashed`.
`run_cap` counts trials: a trial queued again runs as a new run of the same trial.
"""

from __future__ import annotations

import builtins
import copy
import itertools
import math
import secrets
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from fwtrack.errors import SweepNotFoundError, SweepStateError
from fwtrack.server.db import Database, Sweep, SweepAgent, SweepTrial
from fwtrack.sweeps.config import SweepConfig, load_config

if TYPE_CHECKING:
    from fwtrack.sweeps.bayes import Observation
    from fwtrack.sweeps.hyperband import Curve

__all__ = [
    "HISTORY_CAP",
    "SWEEP_STATES",
    "TRIAL_STATES",
    "Controller",
]

SWEEP_STATES = ("running", "paused", "stopped", "cancelled", "finished")
TRIAL_STATES = ("queued", "running", "finished", "failed", "stopped", "crashed")
HISTORY_CAP = 100_000
"""The most values of the metric kept per trial (the first ones: hyperband judges early)."""

_ALPHABET = string.ascii_lowercase + string.digits
_AGENT_FINISH_STATES = ("finished", "failed", "stopped")
_ENDED = ("finished", "failed", "stopped", "crashed")
_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "stop": (("running", "paused"), "stopped"),
    "cancel": (("running", "paused", "stopped"), "cancelled"),
}
_MAX_INSERT_TRIES = 8
_CACHED_SWEEPS = 16
_ObsState = Literal["finished", "running", "failed", "stopped", "crashed"]


def _random_id() -> str:
    """8 random base36 characters (sweep ids and run ids)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


class Controller:
    """The sweeps of one database; safe to share between threads, and any number of processes
    (server workers, local agents) may each have their own on the same database."""

    def __init__(
        self,
        db: Database,
        *,
        heartbeat_interval: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < heartbeat_interval < math.inf:
            raise ValueError(
                f"heartbeat_interval={heartbeat_interval!r} is not valid: allowed values are "
                "seconds > 0, e.g. 10"
            )
        self.db = db
        self.heartbeat_interval = float(heartbeat_interval)
        self._clock = clock
        self._configs: dict[str, SweepConfig] = {}
        self._configs_lock = threading.Lock()
        # Per sweep (the last few used): the trials' parameters, which never change once a
        # trial exists, the last importance computed with the trial values it came from, and
        # the metric's values of ended trials (hyperband).
        self._params: OrderedDict[str, dict[int, dict[str, Any]]] = OrderedDict()
        self._importance: OrderedDict[str, tuple[Any, dict[str, Any]]] = OrderedDict()
        self._curves: OrderedDict[str, dict[int, builtins.list[float]]] = OrderedDict()

    # -- sweeps ---------------------------------------------------------------------------

    def create(
        self,
        entity: str,
        project: str,
        config: SweepConfig,
        *,
        created_by: str | None = None,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """Create a sweep (state `running`) and return its JSON. The seed is `seed`, else the
        config's `fwtrack.seed`, else random."""
        if seed is None:
            seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
        for _ in range(_MAX_INSERT_TRIES):
            sweep_id = _random_id()
            t = self._clock()
            try:
                with self.db.write() as s:
                    sweep = Sweep(
                        id=sweep_id,
                        entity=entity,
                        project=project,
                        name=config.name or sweep_id,
                        description=config.description,
                        config=config.to_json(),
                        method=config.method,
                        state="running",
                        seed=int(seed),
                        created_at=t,
                        updated_at=t,
                        created_by=created_by,
                        run_cap=config.run_cap,
                        next_number=0,
                    )
                    s.add(sweep)
                    s.flush()
                    with self._configs_lock:
                        self._configs[sweep_id] = config
                    return self._sweep_json(s, sweep)
            except IntegrityError:  # the id is taken (36^8 ids): draw another
                continue
        raise RuntimeError("no free sweep id after several tries")  # pragma: no cover

    def get(self, sweep_id: str) -> dict[str, Any]:
        """The sweep's JSON; `SweepNotFoundError` when there is none."""
        with self.db.read() as s:
            return self._sweep_json(s, self._sweep(s, sweep_id))

    def list(self, entity: str, project: str) -> builtins.list[dict[str, Any]]:
        """The sweeps of a project, newest first."""
        with self.db.read() as s:
            sweeps = s.scalars(
                sa.select(Sweep)
                .where(Sweep.entity == entity, Sweep.project == project)
                .order_by(Sweep.created_at.desc(), Sweep.id)
            ).all()
            return [self._sweep_json(s, sweep) for sweep in sweeps]

    def locate(self, sweep_id: str) -> tuple[str, str]:
        """`(entity, project)` of a sweep."""
        with self.db.read() as s:
            sweep = self._sweep(s, sweep_id)
            return sweep.entity, sweep.project

    def control(
        self, sweep_id: str, action: Literal["pause", "resume", "stop", "cancel"]
    ) -> dict[str, Any]:
        """Pause (running → paused), resume (paused → running), stop (no new trials; running
        ones finish) or cancel (running trials are stopped through their agents' heartbeats).
        Any other change raises `SweepStateError`."""
        if action not in _TRANSITIONS:
            raise SweepStateError(
                f"unknown sweep action {action!r}: allowed actions are {', '.join(_TRANSITIONS)}"
            )
        allowed, target = _TRANSITIONS[action]
        with self.db.write() as s:
            sweep = self._lock(s, sweep_id)
            if sweep.state not in allowed:
                raise SweepStateError(
                    f"cannot {action} sweep {sweep_id}: it is {sweep.state}; {action} applies "
                    f"to a sweep that is {' or '.join(allowed)}"
                )
            sweep.state = target
            sweep.updated_at = self._clock()
            if target == "cancelled":
                for trial in self._trials_in(s, sweep_id, ("running",)):
                    trial.stop_requested = True
            s.flush()
            return self._sweep_json(s, sweep)

    # -- agents ---------------------------------------------------------------------------

    def register_agent(self, sweep_id: str, host: str, pid: int) -> dict[str, Any]:
        """A new agent of the sweep: `{"agent_id", "heartbeat_interval"}` (seconds)."""
        with self.db.write() as s:
            self._lock(s, sweep_id)
            t = self._clock()
            agent = SweepAgent(
                sweep_id=sweep_id,
                host=host[:256],
                pid=int(pid),
                state="running",
                created_at=t,
                heartbeat_at=t,
            )
            s.add(agent)
            s.flush()
            return {"agent_id": agent.id, "heartbeat_interval": self.heartbeat_interval}

    def next_trial(self, sweep_id: str, agent_id: int) -> dict[str, Any]:
        """The agent's next trial: `{"trial": T}`, `{"wait": seconds}` (paused, or nothing to
        hand out while other trials still run and might be queued again) or `{"done":
        reason}`, reason one of `finished`, `stopped`, `cancelled`, `run_cap`, `exhausted`,
        `target`."""
        with self.db.write() as s:
            sweep = self._lock(s, sweep_id)
            agent = self._agent(s, sweep_id, agent_id)
            t = self._clock()
            agent.heartbeat_at = t
            agent.state = "running"
            config = self._config(sweep)
            self._reap(s, sweep, config, t)
            if sweep.state == "paused":
                return {"wait": self.heartbeat_interval}
            if sweep.state in ("stopped", "cancelled", "finished"):
                agent.state = "done"
                return {"done": self._done_reason(s, sweep, config)}
            # An agent asks only when it runs nothing: a trial still running under it is one
            # whose answer never reached it (a server killed mid-answer, a timeout and a
            # retry). Hand that one out again rather than strand it under a live agent.
            held = s.scalars(
                sa.select(SweepTrial)
                .where(
                    SweepTrial.sweep_id == sweep_id,
                    SweepTrial.agent_id == agent.id,
                    SweepTrial.state == "running",
                )
                .order_by(SweepTrial.number)
                .limit(1)
            ).first()
            if held is not None:
                held.heartbeat_at = t
                return {"trial": _trial_json(held)}
            queued = s.scalars(
                sa.select(SweepTrial)
                .where(SweepTrial.sweep_id == sweep_id, SweepTrial.state == "queued")
                .order_by(SweepTrial.number)
                .limit(1)
            ).first()
            trial = queued if queued is not None else self._new_trial(s, sweep, config, t)
            if trial is not None:
                trial.state = "running"
                trial.agent_id = agent.id
                trial.started_at = t
                trial.heartbeat_at = t
                trial.stop_requested = False
                sweep.updated_at = t
                s.flush()
                return {"trial": _trial_json(trial)}
            if self._count(s, sweep_id, ("running", "queued")):
                return {"wait": self.heartbeat_interval}
            reason = self._done_reason(s, sweep, config)
            sweep.state = "finished"
            sweep.updated_at = t
            agent.state = "done"
            return {"done": reason}

    def heartbeat(
        self, sweep_id: str, agent_id: int, reports: builtins.list[dict[str, Any]]
    ) -> dict[str, Any]:
        """Store the metric's new values of the agent's running trials (`reports`: `{"id":
        trial id, "history": [values], "offset": values stored before}`; a repeated report
        stores nothing twice), and answer `{"stop": [trial ids], "state": sweep state}`: the
        agent's trials to stop (hyperband, a cancelled sweep, or trials that are no longer
        this agent's because it was taken for lost)."""
        with self.db.write() as s:
            sweep = self._lock(s, sweep_id)
            agent = self._agent(s, sweep_id, agent_id)
            t = self._clock()
            agent.heartbeat_at = t
            if agent.state == "lost":
                agent.state = "running"
            config = self._config(sweep)
            self._reap(s, sweep, config, t)
            stop: set[int] = set()
            for report in reports:
                trial_id = int(report["id"])
                trial = s.get(SweepTrial, trial_id)
                if trial is None or trial.sweep_id != sweep_id:
                    continue
                if trial.agent_id != agent.id or trial.state != "running":
                    stop.add(trial_id)  # not this agent's trial (any more): end its process
                    continue
                _append(trial, report.get("history") or [], int(report.get("offset", 0)))
                trial.heartbeat_at = t
            if config.early_terminate is not None and config.metric is not None:
                self._hyperband(s, sweep_id, config)
            s.flush()
            mine = s.scalars(
                sa.select(SweepTrial.id).where(
                    SweepTrial.sweep_id == sweep_id,
                    SweepTrial.agent_id == agent.id,
                    SweepTrial.state == "running",
                    SweepTrial.stop_requested.is_(True),
                )
            ).all()
            stop.update(mine)
            return {"stop": sorted(stop), "state": sweep.state}

    def finish_trial(
        self,
        sweep_id: str,
        agent_id: int,
        trial_id: int,
        state: str,
        value: float | None,
        history: builtins.list[float],
        offset: int,
    ) -> dict[str, Any]:
        """End the agent's trial as `finished`, `failed` or `stopped` with the metric's summary
        value (None when never logged; then the last value of its history) and the values not
        reported yet. A finished trial reaching `metric.target` finishes the sweep. Repeating
        the call changes nothing; a trial no longer this agent's (taken for lost and queued
        again) is left as it is. Returns the trial's JSON."""
        if state not in _AGENT_FINISH_STATES:
            raise SweepStateError(
                f"a trial cannot be finished as {state!r}: allowed states are "
                f"{', '.join(_AGENT_FINISH_STATES)} (crashed is the controller's to decide)"
            )
        with self.db.write() as s:
            sweep = self._lock(s, sweep_id)
            trial = s.get(SweepTrial, int(trial_id))
            if trial is None or trial.sweep_id != sweep_id:
                raise SweepNotFoundError(f"sweep {sweep_id} has no trial {trial_id}")
            if trial.state != "running" or trial.agent_id != int(agent_id):
                return _trial_json(trial)
            t = self._clock()
            _append(trial, history or [], int(offset))
            reported = None if value is None or isinstance(value, bool) else _number(value)
            trial.value = reported if reported is not None else _last_finite(trial.history)
            trial.state = state
            trial.ended_at = t
            trial.heartbeat_at = t
            agent = s.get(SweepAgent, int(agent_id))
            if agent is not None:
                agent.heartbeat_at = t
            config = self._config(sweep)
            if (
                state == "finished"
                and sweep.state in ("running", "paused")
                and _reaches_target(config, trial.value)
            ):
                sweep.state = "finished"
            sweep.updated_at = t
            s.flush()
            return _trial_json(trial)

    # -- reads ----------------------------------------------------------------------------

    def trials(self, sweep_id: str) -> builtins.list[dict[str, Any]]:
        """The sweep's trials by number."""
        with self.db.read() as s:
            self._sweep(s, sweep_id)
            # The histories stay in the database: only their lengths are answered.
            rows = s.execute(
                sa.select(SweepTrial, sa.func.json_array_length(SweepTrial.history))
                .options(defer(SweepTrial.history))
                .where(SweepTrial.sweep_id == sweep_id)
                .order_by(SweepTrial.number)
            ).all()
            return [_trial_json(trial, history_len) for trial, history_len in rows]

    def importance(self, sweep_id: str) -> dict[str, Any]:
        """Parameter importance as W&B shows it: per parameter, the importance a random forest
        fitted on the trials gives it (categorical parameters one-hot, summed back) and the
        Pearson correlation of numeric ones with the metric. Finished trials, and stopped ones
        with their last value, count; below 3 the numbers are None and `detail` says why."""
        with self.db.read() as s:
            sweep = self._sweep(s, sweep_id)
            config = self._config(sweep)
            rows = s.execute(
                sa.select(SweepTrial.id, SweepTrial.value)
                .where(
                    SweepTrial.sweep_id == sweep_id,
                    SweepTrial.state.in_(("finished", "stopped")),
                    SweepTrial.value.is_not(None),
                )
                .order_by(SweepTrial.number)
            ).all()
            key = tuple((trial_id, value) for trial_id, value in rows)
            with self._configs_lock:
                cached = self._importance.get(sweep_id)
            if cached is not None and cached[0] == key:
                return copy.deepcopy(cached[1])
            params = self._params_of(s, sweep_id, [trial_id for trial_id, _ in rows])
            points = [(params[trial_id], value) for trial_id, value in rows]
        result = self._compute_importance(config, points)
        with self._configs_lock:
            self._importance[sweep_id] = (key, copy.deepcopy(result))
            self._importance.move_to_end(sweep_id)
            while len(self._importance) > _CACHED_SWEEPS:
                self._importance.popitem(last=False)
        return result

    def _compute_importance(
        self, config: SweepConfig, points: builtins.list[tuple[dict[str, Any], float | None]]
    ) -> dict[str, Any]:
        from fwtrack.sweeps.params import get_path

        names = [p.name for p in config.params]
        metric = config.metric.name if config.metric else None
        samples = [(params, v) for params, v in points if v is not None]
        empty = [{"name": n, "importance": None, "correlation": None} for n in names]
        if metric is None:
            return {
                "metric": None,
                "count": 0,
                "params": empty,
                "detail": "the sweep has no metric: add `metric: {name: ..., goal: ...}` to "
                "its config to see parameter importance",
            }
        if len(samples) < 3:
            return {
                "metric": metric,
                "count": len(samples),
                "params": empty,
                "detail": f"parameter importance needs at least 3 finished trials with a value "
                f"of {metric}; this sweep has {len(samples)}",
            }
        columns = [[_get(get_path, params, p.path) for params, _ in samples] for p in config.params]
        values = [v for _, v in samples]
        return {
            "metric": metric,
            "count": len(samples),
            "params": _importance(names, columns, values),
            "detail": None,
        }

    # -- internals ------------------------------------------------------------------------

    def _sweep(self, s: Session, sweep_id: str) -> Sweep:
        sweep = s.get(Sweep, sweep_id)
        if sweep is None:
            raise SweepNotFoundError(
                f"no sweep {sweep_id!r}; hint: `fwtrack sweep` prints the id of a new sweep"
            )
        return sweep

    def _lock(self, s: Session, sweep_id: str) -> Sweep:
        """The sweep's row, locked until the transaction ends. PostgreSQL: `FOR NO KEY
        UPDATE` (the row lock of an UPDATE that leaves the key alone: it excludes every other
        controller call on the sweep, yet lets rows that merely reference the sweep be
        inserted meanwhile); a SQLite write session holds the database's write lock from its
        start."""
        query = sa.select(Sweep).where(Sweep.id == sweep_id).with_for_update(key_share=True)
        sweep = s.scalars(query).first()
        if sweep is None:
            raise SweepNotFoundError(
                f"no sweep {sweep_id!r}; hint: `fwtrack sweep` prints the id of a new sweep"
            )
        return sweep

    def _agent(self, s: Session, sweep_id: str, agent_id: int) -> SweepAgent:
        agent = s.get(SweepAgent, int(agent_id))
        if agent is None or agent.sweep_id != sweep_id:
            raise SweepNotFoundError(
                f"sweep {sweep_id} has no agent {agent_id}; hint: an agent registers first "
                "(POST .../agents, Controller.register_agent)"
            )
        return agent

    def _config(self, sweep: Sweep) -> SweepConfig:
        with self._configs_lock:
            config = self._configs.get(sweep.id)
        if config is None:
            config = load_config(sweep.config)
            with self._configs_lock:
                self._configs[sweep.id] = config
        return config

    def _trials_in(
        self, s: Session, sweep_id: str, states: tuple[str, ...]
    ) -> Sequence[SweepTrial]:
        return s.scalars(
            sa.select(SweepTrial)
            .where(SweepTrial.sweep_id == sweep_id, SweepTrial.state.in_(states))
            .order_by(SweepTrial.number)
        ).all()

    def _count(self, s: Session, sweep_id: str, states: tuple[str, ...]) -> int:
        return int(
            s.scalar(
                sa.select(sa.func.count())
                .select_from(SweepTrial)
                .where(SweepTrial.sweep_id == sweep_id, SweepTrial.state.in_(states))
            )
            or 0
        )

    def _reap(self, s: Session, sweep: Sweep, config: SweepConfig, t: float) -> None:
        """Agents silent for two heartbeat intervals are lost; their running trials are queued
        again with a new run id, or crashed after `max_attempts` runs."""
        deadline = t - 2 * self.heartbeat_interval
        lost = s.scalars(
            sa.select(SweepAgent).where(
                SweepAgent.sweep_id == sweep.id,
                SweepAgent.state == "running",
                SweepAgent.heartbeat_at < deadline,
            )
        ).all()
        if not lost:
            return
        for agent in lost:
            agent.state = "lost"
        trials = s.scalars(
            sa.select(SweepTrial).where(
                SweepTrial.sweep_id == sweep.id,
                SweepTrial.state == "running",
                SweepTrial.agent_id.in_([a.id for a in lost]),
            )
        ).all()
        for trial in trials:
            if trial.attempt + 1 >= config.max_attempts:
                trial.state = "crashed"
                trial.ended_at = t
                trial.value = _last_finite(trial.history) if trial.history else None
                continue
            trial.past_run_ids = [*trial.past_run_ids, trial.run_id]
            trial.run_id = self._run_id(s, sweep.id)
            trial.attempt += 1
            trial.state = "queued"
            trial.agent_id = None
            trial.history = []
            trial.value = None
            trial.stop_requested = False
            trial.started_at = None
            trial.heartbeat_at = None
        sweep.updated_at = t
        s.flush()

    def _run_id(self, s: Session, sweep_id: str) -> str:
        for _ in range(_MAX_INSERT_TRIES):
            run_id = _random_id()
            taken = s.scalar(
                sa.select(SweepTrial.id).where(
                    SweepTrial.sweep_id == sweep_id, SweepTrial.run_id == run_id
                )
            )
            if taken is None:
                return run_id
        raise RuntimeError("no free run id after several tries")  # pragma: no cover

    def _new_trial(
        self, s: Session, sweep: Sweep, config: SweepConfig, t: float
    ) -> SweepTrial | None:
        """A new queued trial (grid: the next point no trial holds; random: a sample; bayes:
        Optuna's suggestion over every trial so far), or None at `run_cap` or the grid's
        end."""
        if sweep.run_cap is not None and sweep.next_number >= sweep.run_cap:
            return None
        number = sweep.next_number
        if config.method == "grid":
            return self._claim_grid_point(s, sweep, config, number, t)
        if config.method == "random":
            import numpy as np

            from fwtrack.sweeps.params import sample

            params = sample(config, np.random.default_rng((sweep.seed, number)))
        else:
            from fwtrack.sweeps.bayes import suggest

            params = suggest(
                config, self._observations(s, sweep.id, config), seed=sweep.seed, number=number
            )
        trial = self._trial(s, sweep, number, params, None, t)
        s.add(trial)
        s.flush()
        sweep.next_number = number + 1
        return trial

    def _claim_grid_point(
        self, s: Session, sweep: Sweep, config: SweepConfig, number: int, t: float
    ) -> SweepTrial | None:
        from fwtrack.sweeps.params import canonical_key, grid_point, grid_size

        taken = set(
            s.scalars(
                sa.select(SweepTrial.grid_key).where(
                    SweepTrial.sweep_id == sweep.id, SweepTrial.grid_key.is_not(None)
                )
            ).all()
        )
        size = grid_size(config)
        if len(taken) >= size:
            return None
        # Points are claimed in order under the sweep's lock, so the claimed ones are the first
        # len(taken): start there (no grid built, one point hashed), and look back at the
        # start only if a point was claimed out of order.
        start = len(taken)
        for index in itertools.chain(range(start, size), range(start)):
            params = grid_point(config, index)
            key = canonical_key(params)
            if key in taken:
                continue
            trial = self._trial(s, sweep, number, params, key, t)
            try:
                with s.begin_nested():  # a duplicate key rolls back this insert only
                    s.add(trial)
                    s.flush()
            except IntegrityError:  # another transaction holds the point (locking failed)
                taken.add(key)
                continue
            sweep.next_number = number + 1
            return trial
        return None

    def _trial(
        self,
        s: Session,
        sweep: Sweep,
        number: int,
        params: dict[str, Any],
        grid_key: str | None,
        t: float,
    ) -> SweepTrial:
        return SweepTrial(
            sweep_id=sweep.id,
            number=number,
            attempt=0,
            run_id=self._run_id(s, sweep.id),
            past_run_ids=[],
            params=params,
            grid_key=grid_key,
            state="queued",
            agent_id=None,
            value=None,
            history=[],
            stop_requested=False,
            created_at=t,
        )

    def _observations(
        self, s: Session, sweep_id: str, config: SweepConfig
    ) -> builtins.list[Observation]:
        from fwtrack.sweeps.bayes import Observation

        # Not the histories (up to 100k values each): a stopped trial's value is its last one
        # already (finish_trial), and the metric's path through a trial is not Optuna's to see.
        rows = s.execute(
            sa.select(SweepTrial.id, SweepTrial.state, SweepTrial.value)
            .where(SweepTrial.sweep_id == sweep_id)
            .order_by(SweepTrial.number)
        ).all()
        params = self._params_of(s, sweep_id, [trial_id for trial_id, _, _ in rows])
        observations = []
        for trial_id, state, value in rows:
            obs_state = "running" if state in ("queued", "running") else state
            observations.append(
                Observation(
                    params=params[trial_id], value=value, state=cast("_ObsState", obs_state)
                )
            )
        return observations

    def _params_of(
        self, s: Session, sweep_id: str, ids: builtins.list[int]
    ) -> dict[int, dict[str, Any]]:
        """The parameters of the sweep's trials `ids` (committed rows), read from the
        database only the first time: a trial's parameters never change."""
        with self._configs_lock:
            known = self._params.setdefault(sweep_id, {})
            self._params.move_to_end(sweep_id)
            while len(self._params) > _CACHED_SWEEPS:
                self._params.popitem(last=False)
            missing = [trial_id for trial_id in ids if trial_id not in known]
        if missing:
            query = sa.select(SweepTrial.id, SweepTrial.params).where(
                SweepTrial.sweep_id == sweep_id
            )
            if len(missing) <= 500:
                query = query.where(SweepTrial.id.in_(missing))
            fetched = {trial_id: params for trial_id, params in s.execute(query).all()}
            with self._configs_lock:
                known.update(fetched)
        with self._configs_lock:
            return {trial_id: known[trial_id] for trial_id in ids}

    def _hyperband(self, s: Session, sweep_id: str, config: SweepConfig) -> None:
        """Mark the running trials hyperband stops now (`stop_requested`)."""
        from fwtrack.sweeps.hyperband import Curve, to_stop

        rows = s.execute(
            sa.select(SweepTrial.id, SweepTrial.state)
            .where(
                SweepTrial.sweep_id == sweep_id,
                SweepTrial.state.in_(("running", *_ENDED)),
            )
            .order_by(SweepTrial.number)
        ).all()
        # An ended trial's values never change: each process reads them once.
        with self._configs_lock:
            ended = self._curves.setdefault(sweep_id, {})
            self._curves.move_to_end(sweep_id)
            while len(self._curves) > _CACHED_SWEEPS:
                self._curves.popitem(last=False)
            wanted = [i for i, state in rows if state == "running" or i not in ended]
        query = sa.select(SweepTrial.id, SweepTrial.state, SweepTrial.history).where(
            SweepTrial.sweep_id == sweep_id
        )
        if len(wanted) <= 500:
            query = query.where(SweepTrial.id.in_(wanted))
        fetched: dict[int, builtins.list[float]] = {}
        for trial_id, state, history in s.execute(query).all():
            values = [math.nan if v is None else float(v) for v in history or []]
            fetched[trial_id] = values
            if state in _ENDED:
                with self._configs_lock:
                    ended[trial_id] = values
        curves: builtins.list[Curve] = []
        for trial_id, state in rows:
            if trial_id not in fetched:
                with self._configs_lock:
                    fetched[trial_id] = ended.get(trial_id, [])
            curves.append(Curve(trial_id=trial_id, state=state, values=fetched[trial_id]))
        ids = to_stop(config, curves)
        running = {trial_id for trial_id, state in rows if state == "running"}
        for trial_id in ids & running:
            trial = s.get(SweepTrial, trial_id)
            if trial is not None:
                trial.stop_requested = True

    def _done_reason(self, s: Session, sweep: Sweep, config: SweepConfig) -> str:
        if sweep.state in ("stopped", "cancelled"):
            return sweep.state
        if config.metric is not None and config.metric.target is not None:
            values = s.scalars(
                sa.select(SweepTrial.value).where(
                    SweepTrial.sweep_id == sweep.id,
                    SweepTrial.state == "finished",
                    SweepTrial.value.is_not(None),
                )
            ).all()
            if any(_reaches_target(config, v) for v in values):
                return "target"
        if sweep.run_cap is not None and sweep.next_number >= sweep.run_cap:
            return "run_cap"
        if config.method == "grid":
            from fwtrack.sweeps.params import grid_size

            claimed = s.scalar(
                sa.select(sa.func.count())
                .select_from(SweepTrial)
                .where(SweepTrial.sweep_id == sweep.id, SweepTrial.grid_key.is_not(None))
            )
            if int(claimed or 0) >= grid_size(config):
                return "exhausted"
        return "finished"

    def _sweep_json(self, s: Session, sweep: Sweep) -> dict[str, Any]:
        config = self._config(sweep)
        counts = dict.fromkeys(TRIAL_STATES, 0)
        for state, n in s.execute(
            sa.select(SweepTrial.state, sa.func.count())
            .where(SweepTrial.sweep_id == sweep.id)
            .group_by(SweepTrial.state)
        ).all():
            counts[state] = int(n)
        counts["total"] = sum(counts[state] for state in TRIAL_STATES)
        grid_size = None
        if config.method == "grid":
            from fwtrack.sweeps.params import grid_size as size_of

            grid_size = size_of(config)
        agents = s.scalars(
            sa.select(SweepAgent).where(SweepAgent.sweep_id == sweep.id).order_by(SweepAgent.id)
        ).all()
        metric = config.metric
        return {
            "id": sweep.id,
            "entity": sweep.entity,
            "project": sweep.project,
            "name": sweep.name,
            "description": sweep.description,
            "method": sweep.method,
            "state": sweep.state,
            "config": sweep.config,
            "metric": (
                {"name": metric.name, "goal": metric.goal, "target": metric.target}
                if metric is not None
                else None
            ),
            "created_at": sweep.created_at,
            "updated_at": sweep.updated_at,
            "created_by": sweep.created_by,
            "run_cap": sweep.run_cap,
            "seed": sweep.seed,
            "counts": counts,
            "grid_size": grid_size,
            "best": self._best(s, sweep.id, config),
            "agents": [
                {
                    "id": a.id,
                    "host": a.host,
                    "pid": a.pid,
                    "state": a.state,
                    "heartbeat_at": a.heartbeat_at,
                }
                for a in agents
            ],
            "parameters": [_param_json(p) for p in config.params],
        }

    def _best(self, s: Session, sweep_id: str, config: SweepConfig) -> dict[str, Any] | None:
        """The finished (or stopped) trial with the best value of the metric."""
        if config.metric is None:
            return None
        order = SweepTrial.value.desc() if config.metric.goal == "maximize" else SweepTrial.value
        best = s.scalars(
            sa.select(SweepTrial)
            .where(
                SweepTrial.sweep_id == sweep_id,
                SweepTrial.state.in_(("finished", "stopped")),
                SweepTrial.value.is_not(None),
            )
            .order_by(order, SweepTrial.number)
            .limit(1)
        ).first()
        return _trial_json(best) if best is not None else None


def _append(trial: SweepTrial, values: Sequence[Any], offset: int) -> None:
    """Add the values logged from position `offset` on that the trial does not hold yet
    (a repeated report adds nothing; a gap is not filled with later values)."""
    have = len(trial.history)
    if offset < 0 or offset > have or have >= HISTORY_CAP:
        return
    new = [_number(v) for v in values[have - offset :]]
    if new:
        trial.history = [*trial.history, *new][:HISTORY_CAP]


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _last_finite(history: Sequence[Any]) -> float | None:
    for v in reversed(history):
        if v is not None and isinstance(v, int | float) and math.isfinite(v):
            return float(v)
    return None


def _reaches_target(config: SweepConfig, value: float | None) -> bool:
    metric = config.metric
    if metric is None or metric.target is None or value is None:
        return False
    return value >= metric.target if metric.goal == "maximize" else value <= metric.target


def _trial_json(trial: SweepTrial, history_len: int | None = None) -> dict[str, Any]:
    return {
        "id": trial.id,
        "number": trial.number,
        "attempt": trial.attempt,
        "run_id": trial.run_id,
        "past_run_ids": list(trial.past_run_ids),
        "params": trial.params,
        "state": trial.state,
        "value": trial.value,
        "history_len": len(trial.history) if history_len is None else int(history_len),
        "agent_id": trial.agent_id,
        "stop_requested": bool(trial.stop_requested),
        "created_at": trial.created_at,
        "started_at": trial.started_at,
        "ended_at": trial.ended_at,
    }


def _param_json(p: Any) -> dict[str, Any]:
    values: builtins.list[Any] | None = None
    if p.values is not None:
        values = list(p.values)
    elif p.distribution == "constant":
        values = [p.value]
    return {
        "name": p.name,
        "distribution": p.distribution,
        "values": values,
        "min": p.min,
        "max": p.max,
    }


_MISSING = object()


def _get(get_path: Callable[..., Any], params: dict[str, Any], path: tuple[str, ...]) -> Any:
    try:
        return get_path(params, path)
    except (KeyError, TypeError):
        return _MISSING


def _is_numeric(v: Any) -> bool:
    return isinstance(v, bool | int | float) and (isinstance(v, bool) or math.isfinite(v))


def _importance(
    names: builtins.list[str],
    columns: builtins.list[builtins.list[Any]],
    values: builtins.list[float],
) -> builtins.list[dict[str, Any]]:
    """Random-forest importance (one-hot categoricals summed back per parameter) and Pearson
    correlation (numeric parameters, bools as 0/1) of each parameter with the metric."""
    import json

    import numpy as np

    try:
        from sklearn.ensemble import RandomForestRegressor  # type: ignore[import-untyped]
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the install
        raise ModuleNotFoundError(
            "parameter importance needs scikit-learn; install it with "
            "`pip install 'fwtrack[sweeps]'`"
        ) from exc

    y = np.asarray(values, dtype=float)
    features: builtins.list[np.ndarray] = []
    owner: builtins.list[int] = []
    correlations: builtins.list[float | None] = []
    for index, column in enumerate(columns):
        if all(_is_numeric(v) for v in column):
            x = np.asarray([float(v) for v in column], dtype=float)
            features.append(x)
            owner.append(index)
            correlations.append(_pearson(x, y))
            continue
        keys = [json.dumps(v, sort_keys=True) if v is not _MISSING else "" for v in column]
        for level in sorted(set(keys)):
            features.append(np.asarray([k == level for k in keys], dtype=float))
            owner.append(index)
        correlations.append(None)
    importances: builtins.list[float | None] = [None] * len(names)
    if features:
        matrix = np.column_stack(features)
        forest = RandomForestRegressor(n_estimators=100, random_state=0)
        forest.fit(matrix, y)
        sums = [0.0] * len(names)
        for column_index, weight in enumerate(forest.feature_importances_):
            sums[owner[column_index]] += float(weight)
        importances = [sums[i] if math.isfinite(sums[i]) else None for i in range(len(names))]
    return [
        {"name": name, "importance": importances[i], "correlation": correlations[i]}
        for i, name in enumerate(names)
    ]


def _pearson(x: Any, y: Any) -> float | None:
    import numpy as np

    if len(x) < 2 or float(np.std(x)) == 0.0 or float(np.std(y)) == 0.0:
        return None
    r = float(np.corrcoef(x, y)[0, 1])
    return r if math.isfinite(r) else None
