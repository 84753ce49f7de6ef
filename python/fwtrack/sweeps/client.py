"""Where a sweep's controller lives, behind one small protocol: the local store (`open_local`,
`<FWTRACK_DIR>/.sweeps/sweeps.db`) or a fwtrack server (`remote.RemoteSweeps`).

`open_sweeps()` picks the server when one is set (`FWTRACK_BASE_URL`, else the server `fwtrack
login` made the default), else the local store, as runs choose where they go. The agent and
the CLI talk only to a `SweepClient`; `Sweep` is what `Api().sweep(...)` returns.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fwtrack.errors import SweepNotFoundError

if TYPE_CHECKING:
    from fwtrack.api import Api, Run
    from fwtrack.sweeps.controller import Controller

__all__ = [
    "LOCAL_ENTITY",
    "LocalSweeps",
    "Sweep",
    "SweepClient",
    "is_transient",
    "open_sweeps",
    "server_url",
]

LOCAL_ENTITY = "local"
"""The entity of sweeps in the local store (as `fwtrack ui` shows them)."""

Action = Literal["pause", "resume", "stop", "cancel"]


class SweepClient(Protocol):
    """The controller calls an agent and the CLI make (docs/sweeps.md). `sweep` is a sweep
    reference: a bare id, or `entity/project/id` (on a server)."""

    where: str
    """A human-readable description of the store: a directory or a server's address."""
    remote: bool

    def create(
        self,
        entity: str | None,
        project: str,
        config: Mapping[str, Any],
        seed: int | None = None,
    ) -> dict[str, Any]: ...
    def get(self, sweep: str) -> dict[str, Any]: ...
    def control(self, sweep: str, action: Action) -> dict[str, Any]: ...
    def register_agent(self, sweep: str, host: str, pid: int) -> dict[str, Any]: ...
    def next_trial(self, sweep: str, agent_id: int) -> dict[str, Any]: ...
    def heartbeat(
        self, sweep: str, agent_id: int, reports: list[dict[str, Any]]
    ) -> dict[str, Any]: ...
    def finish_trial(
        self,
        sweep: str,
        agent_id: int,
        trial_id: int,
        state: str,
        value: float | None,
        history: list[float],
        offset: int,
    ) -> dict[str, Any]: ...
    def trials(self, sweep: str) -> list[dict[str, Any]]: ...
    def agent_ref(self, sweep: dict[str, Any]) -> str: ...


def sweep_id_of(sweep: str) -> str:
    """The id in a sweep reference (`id`, `project/id` or `entity/project/id`)."""
    if not isinstance(sweep, str) or not sweep.strip("/ "):
        raise TypeError(
            f"sweep must be a str like 'abc12def' or 'entity/project/abc12def', got {sweep!r}"
        )
    return sweep.strip().strip("/").split("/")[-1]


class LocalSweeps:
    """The local store of one run directory: a `Controller` on `<root>/.sweeps/sweeps.db`."""

    remote = False

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True) -> None:
        from fwtrack.sweeps.local import local_database, open_local

        self.root = Path(root).absolute()
        self.where = str(self.root)
        if not create and not local_database(self.root).is_file():
            raise SweepNotFoundError(
                f"no sweeps in {self.root}: it has no sweep store (.sweeps/sweeps.db)\n"
                "hint: create one with `fwtrack sweep config.yaml` or fwtrack.sweep(config), or "
                "point Api(dir=...) or FWTRACK_DIR at the run directory the sweep was made in"
            )
        self.controller: Controller = open_local(self.root)

    def __repr__(self) -> str:
        return f"LocalSweeps({self.where!r})"

    def create(
        self,
        entity: str | None,
        project: str,
        config: Mapping[str, Any],
        seed: int | None = None,
    ) -> dict[str, Any]:
        from fwtrack.sweeps.config import load_config

        return self.controller.create(
            entity or LOCAL_ENTITY, project, load_config(dict(config)), seed=seed
        )

    def get(self, sweep: str) -> dict[str, Any]:
        return self.controller.get(sweep_id_of(sweep))

    def control(self, sweep: str, action: Action) -> dict[str, Any]:
        return self.controller.control(sweep_id_of(sweep), action)

    def register_agent(self, sweep: str, host: str, pid: int) -> dict[str, Any]:
        return self.controller.register_agent(sweep_id_of(sweep), host, pid)

    def next_trial(self, sweep: str, agent_id: int) -> dict[str, Any]:
        return self.controller.next_trial(sweep_id_of(sweep), agent_id)

    def heartbeat(self, sweep: str, agent_id: int, reports: list[dict[str, Any]]) -> dict[str, Any]:
        return self.controller.heartbeat(sweep_id_of(sweep), agent_id, reports)

    def finish_trial(
        self,
        sweep: str,
        agent_id: int,
        trial_id: int,
        state: str,
        value: float | None,
        history: list[float],
        offset: int,
    ) -> dict[str, Any]:
        return self.controller.finish_trial(
            sweep_id_of(sweep), agent_id, trial_id, state, value, history, offset
        )

    def trials(self, sweep: str) -> list[dict[str, Any]]:
        return self.controller.trials(sweep_id_of(sweep))

    def agent_ref(self, sweep: dict[str, Any]) -> str:
        return str(sweep["id"])


def server_url() -> str | None:
    """The server sweeps go to: `FWTRACK_BASE_URL`, else the default of `fwtrack login`, else
    None (the local store)."""
    from fwtrack import credentials
    from fwtrack.sdk.settings import FWTRACK_BASE_URL

    return FWTRACK_BASE_URL.get() or credentials.default_url()


def open_sweeps(
    dir: str | os.PathLike[str] | None = None,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
) -> SweepClient:
    """The server's sweeps when `base_url` (else `server_url()`) is set and `dir` is not,
    else the local store of `dir` (else `FWTRACK_DIR`, else `./fwtrack`)."""
    if dir is None:
        base_url = base_url or server_url()
    if base_url is not None and dir is None:
        from fwtrack._http import HttpClient
        from fwtrack.api_remote import resolve_api_key
        from fwtrack.sweeps.remote import RemoteSweeps

        url = HttpClient(base_url, None).base_url
        return RemoteSweeps(HttpClient(url, resolve_api_key(url, api_key)))
    return LocalSweeps(dir if dir is not None else local_root())


def local_root() -> Path:
    """`FWTRACK_DIR`, else `./fwtrack`, absolute."""
    from fwtrack.sdk.settings import FWTRACK_DIR

    return Path(FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack").absolute()


def is_transient(exc: BaseException) -> bool:
    """Trouble worth waiting out: a server that is down, restarting or busy (no answer, 5xx,
    429), or a local database that is locked for the moment."""
    from fwtrack._http import ServerConnectionError, ServerError

    if isinstance(exc, ServerConnectionError):
        return True
    if isinstance(exc, ServerError):
        return exc.status == 0 or exc.status == 429 or exc.status >= 500
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    try:
        from sqlalchemy.exc import OperationalError
    except ModuleNotFoundError:  # pragma: no cover - the local store needs it anyway
        return False
    return isinstance(exc, OperationalError)


class Sweep:
    """A sweep as `Api().sweep(...)` reads it: `id`, `entity`, `project`, `name`, `state`,
    `config` (as given), `metric`; `trials` (the controller's trial rows), `runs` (the runs of
    the trials, as `Api` runs) and `best_run()`. Each property reads the sweep as it is now."""

    def __init__(self, client: SweepClient, api: Api, sweep: str) -> None:
        self._client = client
        self._api = api
        self._data = client.get(sweep)
        self._ref = f"{self._data['entity']}/{self._data['project']}/{self._data['id']}"

    def refresh(self) -> None:
        """Read the sweep again (state, counts, best)."""
        self._data = self._client.get(self._ref)

    @property
    def id(self) -> str:
        return str(self._data["id"])

    @property
    def entity(self) -> str:
        return str(self._data["entity"])

    @property
    def project(self) -> str:
        return str(self._data["project"])

    @property
    def name(self) -> str:
        return str(self._data.get("name") or self.id)

    @property
    def path(self) -> str:
        """`entity/project/id`."""
        return self._ref

    @property
    def state(self) -> str:
        """`running`, `paused`, `stopped`, `cancelled` or `finished` (read now)."""
        self.refresh()
        return str(self._data["state"])

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._data["config"])

    @property
    def metric(self) -> dict[str, Any] | None:
        metric = self._data.get("metric")
        return None if metric is None else dict(metric)

    @property
    def data(self) -> dict[str, Any]:
        """The sweep's JSON as the controller answers it (counts, best, agents, parameters)."""
        self.refresh()
        return dict(self._data)

    @property
    def trials(self) -> list[dict[str, Any]]:
        return self._client.trials(self._ref)

    def _run(self, run_id: str) -> Run | None:
        from fwtrack.errors import RunNotFoundError

        spec = (
            f"{self.entity}/{self.project}/{run_id}"
            if self._api.base_url is not None
            else f"{self.project}/{run_id}"
        )
        try:
            return self._api.run(spec)
        except RunNotFoundError:
            return None  # a trial handed out whose run has not started (or not arrived) yet

    @property
    def runs(self) -> list[Run]:
        """The runs of the sweep's trials, in trial order (an attempt re-run after a crash
        included); a trial whose run does not exist yet is left out."""
        runs = []
        for trial in sorted(self.trials, key=lambda t: (t["number"], t["attempt"])):
            for run_id in [*trial.get("past_run_ids", []), trial["run_id"]]:
                run = self._run(str(run_id))
                if run is not None:
                    runs.append(run)
        return runs

    def best_run(self) -> Run | None:
        """The run of the trial with the best metric value (by the metric's goal), or None."""
        metric = self.metric
        scored = [t for t in self.trials if t.get("value") is not None]
        if metric is None or not scored:
            return None
        sign = -1.0 if metric.get("goal") == "maximize" else 1.0
        best = min(scored, key=lambda t: sign * float(t["value"]))
        return self._run(str(best["run_id"]))

    def __repr__(self) -> str:
        return f"<Sweep {self._ref} ({self._data['state']})>"
