"""The sweeps of a fwtrack server: the routes under `/api/v1/sweeps/{entity}/{project}`
(docs/server.md, "Sweeps") with the calls of `client.SweepClient`.

A sweep reference is `entity/project/id`, or a bare id the server locates
(`GET /sweep-ids/{id}`). Server refusals become sweep errors: `404` → SweepNotFoundError,
`400` → SweepConfigError, `409` → SweepStateError; `403` stays a PermissionDeniedError.
No answer and `5xx` stay `ServerError`s, which the agent waits out (`client.is_transient`).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fwtrack._http import HttpClient, InvalidRequestError, NotFoundError, ServerError
from fwtrack.errors import SweepConfigError, SweepNotFoundError, SweepStateError
from fwtrack.sweeps.client import Action

__all__ = ["RemoteSweeps"]


def _q(*parts: str | int) -> str:
    return "/".join(urllib.parse.quote(str(p), safe="") for p in parts)


class RemoteSweeps:
    """The sweeps of one server, with one API key."""

    remote = True

    def __init__(self, client: HttpClient) -> None:
        self.client = client
        self.where = client.base_url
        self._located: dict[str, tuple[str, str]] = {}
        self._viewer: str | None = None

    def __repr__(self) -> str:
        return f"RemoteSweeps({self.where!r})"

    def viewer(self) -> str:
        """The key's user name (the default entity), asked once."""
        if self._viewer is None:
            with self._errors():
                self._viewer = str(self.client.get_json("/viewer")["name"])
        return self._viewer

    @contextmanager
    def _errors(self, sweep: str | None = None) -> Iterator[None]:
        try:
            yield
        except NotFoundError as exc:
            what = f"sweep {sweep!r}" if sweep else "that sweep"
            raise SweepNotFoundError(
                f"no {what} on {self.where}: {exc.detail or 'not found'}\n"
                "hint: pass the sweep as entity/project/id, as `fwtrack sweep` printed it"
            ) from None
        except InvalidRequestError as exc:
            raise SweepConfigError(exc.detail or str(exc)) from None
        except ServerError as exc:
            if exc.status == 409:
                raise SweepStateError(exc.detail or str(exc)) from None
            raise

    def _locate(self, sweep: str) -> tuple[str, str, str]:
        """(entity, project, id) of a sweep reference."""
        parts = sweep.strip().strip("/").split("/")
        if len(parts) == 3:
            return parts[0], parts[1], parts[2]
        if len(parts) == 2:
            return self.viewer(), parts[0], parts[1]
        sweep_id = parts[-1]
        if sweep_id not in self._located:
            with self._errors(sweep):
                row = self.client.get_json(f"/sweep-ids/{_q(sweep_id)}")
            self._located[sweep_id] = (str(row["entity"]), str(row["project"]))
        entity, project = self._located[sweep_id]
        return entity, project, sweep_id

    def _path(self, sweep: str, *tail: str | int) -> str:
        entity, project, sweep_id = self._locate(sweep)
        return "/sweeps/" + _q(entity, project, sweep_id, *tail)

    def _send(self, method: str, path: str, payload: Any = None) -> Any:
        return self.client.send_json(method, path, payload)

    # -- the SweepClient calls -----------------------------------------------------------------

    def create(
        self,
        entity: str | None,
        project: str,
        config: Mapping[str, Any],
        seed: int | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"config": dict(config)}
        if seed is not None:
            payload["seed"] = seed
        with self._errors():
            path = "/sweeps/" + _q(entity or self.viewer(), project)
            return dict(self._send("POST", path, payload))

    def get(self, sweep: str) -> dict[str, Any]:
        with self._errors(sweep):
            return dict(self.client.get_json(self._path(sweep)))

    def sweeps(self, entity: str | None, project: str) -> list[dict[str, Any]]:
        with self._errors():
            path = "/sweeps/" + _q(entity or self.viewer(), project)
            return list(self.client.get_json(path)["sweeps"])

    def control(self, sweep: str, action: Action) -> dict[str, Any]:
        with self._errors(sweep):
            return dict(self._send("PATCH", self._path(sweep), {"action": action}))

    def register_agent(self, sweep: str, host: str, pid: int) -> dict[str, Any]:
        with self._errors(sweep):
            return dict(self._send("POST", self._path(sweep, "agents"), {"host": host, "pid": pid}))

    def next_trial(self, sweep: str, agent_id: int) -> dict[str, Any]:
        with self._errors(sweep):
            return dict(self._send("POST", self._path(sweep, "agents", agent_id, "next"), {}))

    def heartbeat(self, sweep: str, agent_id: int, reports: list[dict[str, Any]]) -> dict[str, Any]:
        with self._errors(sweep):
            path = self._path(sweep, "agents", agent_id, "heartbeat")
            return dict(self._send("POST", path, {"trials": reports}))

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
        body = {
            "agent_id": agent_id,
            "state": state,
            "value": value,
            "history": history,
            "offset": offset,
        }
        with self._errors(sweep):
            return dict(self._send("POST", self._path(sweep, "trials", trial_id, "finish"), body))

    def trials(self, sweep: str) -> list[dict[str, Any]]:
        with self._errors(sweep):
            return list(self.client.get_json(self._path(sweep, "trials"))["trials"])

    def agent_ref(self, sweep: dict[str, Any]) -> str:
        return f"{sweep['entity']}/{sweep['project']}/{sweep['id']}"
