"""`fwtrack.Api(base_url=...)`: the runs of a fwtrack server, read through the same objects as a
local run directory.

Listing and run fields (name, state, config, summary, ...) come from the server's JSON API;
history and histograms come from the run log itself, mirrored into a local cache and read by the
same reader as a local run, so a remote run's `history()` is the local one by construction. The
mirror only ever fetches what is new (`GET .../log` with `Range: bytes=<have>-`)::

    <cache>/<host>/<entity>/<project>/<run id>/run.fwlog

where `<cache>` is `FWTRACK_CACHE_DIR`, else `$XDG_CACHE_HOME/fwtrack`, else
`~/.cache/fwtrack`.

Nothing a server answers is trusted as a path: every entity, project, run id and file path in
its answers (and every media path in a run log) is checked as the server checks the names
clients send it (`fwtrack.path_names`), and every cache path is resolved and kept under the
cache. A name that fails raises `UnsafePathError` naming it, before anything is written.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fwtrack import _core, credentials, path_names
from fwtrack._fsutil import locked
from fwtrack._http import (
    HttpClient,
    MissingApiKeyError,
    NotFoundError,
    StreamResponse,
    normalize_base_url,
)
from fwtrack.api import AmbiguousRunError, Project, Run, RunState
from fwtrack.api_filters import matches, server_clauses
from fwtrack.errors import FwTrackError, RunNotFoundError, UnsafePathError
from fwtrack.run_files import RunFile, inside, merge_metadata, write_atomic
from fwtrack.sdk.settings import FWTRACK_API_KEY, FWTRACK_CACHE_DIR

if TYPE_CHECKING:
    from fwtrack.artifacts.artifact import Artifact
    from fwtrack.artifacts.remote import RemoteRegistry
    from fwtrack.registry.remote import RemoteModels
    from fwtrack.sweeps.remote import RemoteSweeps

__all__ = ["RemoteBackend", "RemoteRun", "cache_root", "resolve_api_key"]

_PAGE = 1000  # runs per request when listing (the server's maximum `limit`)
_CHUNK = 1 << 20
_CHECKS: dict[str, Callable[[object], str]] = {
    "entity": path_names.check_entity,
    "project": path_names.check_project,
    "run id": path_names.check_run_id,
    "file path": path_names.check_file_path,
}


def cache_root() -> Path:
    """Where remote run logs are mirrored: `FWTRACK_CACHE_DIR`, else
    `$XDG_CACHE_HOME/fwtrack`, else `~/.cache/fwtrack`."""
    configured = FWTRACK_CACHE_DIR.get()
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "fwtrack"


def resolve_api_key(base_url: str, api_key: str | None) -> str:
    """The key to use with `base_url`: `api_key`, else `FWTRACK_API_KEY`, else the key stored
    for that server by `fwtrack login`. Raises `MissingApiKeyError` with a hint when none."""
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise ValueError(f"api_key must be a non-empty str, got {api_key!r}")
        return api_key.strip()
    key = FWTRACK_API_KEY.get() or credentials.lookup(base_url)
    if key:
        return key
    raise MissingApiKeyError(
        f"no API key for {base_url}\n"
        f"hint: run `fwtrack login {base_url}`, or pass Api(base_url=..., api_key=...), "
        f"or set {FWTRACK_API_KEY.name}",
        url=base_url,
    )


def _host_dir(base_url: str) -> str:
    """A directory name for one server: its host and port (and path prefix, if any)."""
    parts = urllib.parse.urlsplit(base_url)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", parts.netloc + parts.path)
    return "_" + name if name.startswith(".") else name or "server"


def _check_part(value: str, what: str, spec: str) -> str:
    """`value` when it is a valid entity, project or run id name, else ValueError."""
    try:
        return _CHECKS[what](value)
    except ValueError as exc:
        raise ValueError(f"{exc} (in {spec!r})") from None


def _answered(url: str, what: str, value: object, where: str) -> str:
    """`value`, a name from the server's answer (or a run log) that will name a cache path,
    when it is a valid `what` ("entity", "project", "run id", "file path"); else
    UnsafePathError naming it."""
    try:
        return _CHECKS[what](value)
    except ValueError as exc:
        raise UnsafePathError(
            f"{url} answered {where} with an {exc}; it was not used and nothing was written\n"
            "hint: a fwtrack server never answers such a name: check that the base_url is the "
            "server you mean, and reach it over https:// so nothing on the way can change its "
            "answers"
        ) from None


def _checked_row(url: str, row: object, where: str) -> dict[str, Any]:
    """A run row (`entity`, `project`, `id`, ...) whose names are safe as cache paths."""
    if not isinstance(row, dict):
        raise UnsafePathError(
            f"{url} answered {where} with a run that is not a JSON object: {row!r:.80}"
        )
    for what, field in (("entity", "entity"), ("project", "project"), ("run id", "id")):
        _answered(url, what, row.get(field), where)
    return row


def _quote(*parts: str) -> str:
    return "/".join(urllib.parse.quote(p, safe="") for p in parts)


class RemoteBackend:
    """The server side of an `Api`: one HTTP client, the viewer's entity, the log mirror."""

    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 30.0) -> None:
        url = normalize_base_url(base_url)
        self.client = HttpClient(url, resolve_api_key(url, api_key), timeout=timeout)
        self.base_url = url
        self.cache_dir = cache_root() / _host_dir(url)
        self._viewer: dict[str, Any] | None = None
        self._artifacts: RemoteRegistry | None = None
        self._models: RemoteModels | None = None

    def artifact_registry(self) -> RemoteRegistry:
        """The server's artifacts (`fwtrack.artifacts.remote.RemoteRegistry`), a bare project
        being in the viewer's entity."""
        if self._artifacts is None:
            from fwtrack.artifacts.remote import RemoteRegistry

            self._artifacts = RemoteRegistry(self.client, lambda: str(self.viewer()["name"]))
        return self._artifacts

    def model_registry(self) -> RemoteModels:
        """The server's model registry (`fwtrack.registry.remote.RemoteModels`), a bare
        model name being in the viewer's entity."""
        if self._models is None:
            from fwtrack.registry.remote import RemoteModels

            self._models = RemoteModels(
                self.client, lambda: str(self.viewer()["name"]), self.artifact_registry()
            )
        return self._models

    def sweeps(self) -> RemoteSweeps:
        """The server's sweeps (`fwtrack.sweeps.remote.RemoteSweeps`)."""
        from fwtrack.sweeps.remote import RemoteSweeps

        return RemoteSweeps(self.client)

    # -- identity --------------------------------------------------------------------------

    def viewer(self) -> dict[str, Any]:
        """`GET /viewer`: the key's user (`name`, `is_admin`, `teams`), fetched once."""
        if self._viewer is None:
            viewer = dict(self.client.get_json("/viewer"))
            _answered(self.base_url, "entity", viewer.get("name"), "GET /viewer")
            self._viewer = viewer
        return self._viewer

    def entity_project(self, project: str) -> tuple[str, str]:
        """`"entity/project"`, or `"project"` in the viewer's own entity."""
        parts = project.strip().strip("/").split("/")
        if len(parts) == 2:
            return _check_part(parts[0], "entity", project), _check_part(
                parts[1], "project", project
            )
        if len(parts) == 1:
            return str(self.viewer()["name"]), _check_part(parts[0], "project", project)
        raise ValueError(
            f"invalid project {project!r}: expected 'entity/project' or 'project' "
            "(in your own entity)"
        )

    # -- listing ---------------------------------------------------------------------------

    def projects(self) -> list[Project]:
        """Every project the key reaches, sorted by entity then name."""
        rows = self.client.get_json("/projects")["projects"]
        projects = []
        for row in rows:
            entity = _answered(self.base_url, "entity", row.get("entity"), "GET /projects")
            name = _answered(self.base_url, "project", row.get("name"), "GET /projects")
            projects.append(
                Project(
                    name=name,
                    dir=self.cache_dir / entity / name,
                    run_count=int(row.get("run_count") or 0),
                    entity=entity,
                )
            )
        projects.sort(key=lambda p: (p.entity or "", p.name))
        return projects

    def run_rows(
        self, entity: str, project: str, filter: str = "", *, per_page: int = _PAGE
    ) -> Iterator[dict[str, Any]]:
        """Every run row of a project (matching the server's `filter` expression), newest
        first, `per_page` rows (at most `_PAGE`) per request."""
        offset = 0
        limit = max(1, min(per_page, _PAGE))
        while True:
            params: dict[str, Any] = {"limit": limit, "offset": offset, "sort": "-created_at"}
            if filter:
                params["filter"] = filter
            page = self.client.get_json(f"/runs/{_quote(entity, project)}", params)
            rows = page["runs"]
            where = f"GET /runs/{entity}/{project}"
            yield from (_checked_row(self.base_url, row, where) for row in rows)
            offset += len(rows)
            if not rows or offset >= int(page.get("total") or 0):
                return

    def runs(
        self,
        project: str | Project | None,
        filters: Mapping[str, Any] | None = None,
        *,
        per_page: int = _PAGE,
    ) -> list[Run]:
        """`filters` as checked by `fwtrack.api_filters.check_filters`: what the server's
        filter language says the same way narrows the listing (`server_clauses`), and every
        run answered is checked against the whole filter here, as locally."""
        filters = dict(filters or {})
        expr = " and ".join(server_clauses(filters))
        if project is None:
            targets = [(p.entity or "", p.name) for p in self.projects()]
        elif isinstance(project, Project) and project.entity is not None:
            targets = [(project.entity, project.name)]
        else:
            targets = [self.entity_project(str(project))]
        runs: list[Run] = []
        for entity, name in targets:
            rows = self.run_rows(entity, name, expr, per_page=per_page)
            runs.extend(RemoteRun(self, row) for row in rows)
        if filters:
            runs = [r for r in runs if matches(r, filters)]
        return runs

    def edit(
        self, entity: str, project: str, run_id: str, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """`PATCH` the run with `changes` (name, tags, notes, summary, summary_delete, config,
        config_delete); the run row the server answers."""
        path = f"/runs/{_quote(entity, project, run_id)}"
        row = self.client.send_json("PATCH", path, _json_ready(changes))
        return _checked_row(self.base_url, row, f"PATCH {path}")

    def detail(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        path = f"/runs/{_quote(entity, project, run_id)}"
        return _checked_row(self.base_url, self.client.get_json(path), f"GET {path}")

    def run(self, spec: str) -> Run:
        """`"entity/project/run_id"`, `"project/run_id"` (own entity) or a bare `run_id`
        searched across the projects the key reaches."""
        if not isinstance(spec, str):
            raise TypeError(f"run id must be a str like 'entity/project/run_id', got {spec!r}")
        text = spec.strip().strip("/")
        parts = text.split("/")
        if len(parts) == 3:
            entity = _check_part(parts[0], "entity", spec)
            project = _check_part(parts[1], "project", spec)
            run_id = _check_part(parts[2], "run id", spec)
            return RemoteRun(self, self.detail(entity, project, run_id))
        if len(parts) == 2:
            entity, project = self.entity_project(parts[0])
            run_id = _check_part(parts[1], "run id", spec)
            return RemoteRun(self, self.detail(entity, project, run_id))
        if len(parts) == 1:
            run_id = _check_part(text, "run id", spec)
            matches = []
            for p in self.projects():
                with contextlib.suppress(NotFoundError):
                    matches.append(self.detail(p.entity or "", p.name, run_id))
            if len(matches) == 1:
                return RemoteRun(self, matches[0])
            if len(matches) > 1:
                candidates = ", ".join(f"{m['entity']}/{m['project']}/{run_id}" for m in matches)
                raise AmbiguousRunError(
                    f"run id {run_id!r} is in {len(matches)} projects: {candidates}; "
                    "name the run as <entity>/<project>/<run_id>"
                )
            raise RunNotFoundError(
                f"no run {run_id!r} in any project you can reach on {self.base_url}\n"
                "hint: name it as <entity>/<project>/<run_id>; list runs with "
                "Api(base_url=...).runs('<entity>/<project>')"
            )
        raise ValueError(
            f"invalid run {spec!r}: expected 'entity/project/run_id', 'project/run_id' or a "
            "bare run id"
        )

    # -- the log mirror --------------------------------------------------------------------

    def run_cache_dir(self, entity: str, project: str, run_id: str) -> Path:
        """`<cache>/<host>/<entity>/<project>/<run id>`, resolved; UnsafePathError when a
        name (checked already) or a link on the way would lead out of the cache."""
        return inside(self.cache_dir, entity, project, run_id)

    def sync_log(self, entity: str, project: str, run_id: str) -> int:
        """Bring the mirrored log of a run up to date; returns how many bytes were fetched.

        Fetches `Range: bytes=<cached size>-`; a server log shorter than the mirror (the run
        was deleted and uploaded again) is fetched again in full.
        """
        run_dir = self.run_cache_dir(entity, project, run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        log = run_dir / _core.LOG_FILE_NAME
        path = f"/runs/{_quote(entity, project, run_id)}/log"
        with locked(run_dir / ".sync.lock"):  # processes sharing the cache take turns
            have = log.stat().st_size if log.exists() else 0
            headers = {"Range": f"bytes={have}-"} if have else {}
            with self.client.stream("GET", path, headers=headers, ok=(416,)) as resp:
                if resp.status == 416:  # nothing past `have`
                    size = _range_total(resp.headers.get("Content-Range"))
                    if size is None or size >= have:
                        return 0
                    # The server's log is shorter than the mirror: it is not the log we
                    # mirrored (the run was deleted and uploaded again). Start over.
                    log.unlink()
                    have = 0
                    headers = {}
                elif resp.status == 206:
                    start = _range_start(resp.headers.get("Content-Range"))
                    if start != have:
                        raise FwTrackError(
                            f"GET {path}: asked for bytes from {have}, got a range from {start}"
                        )
                    with log.open("ab") as out:
                        return _copy(resp, out)
                else:  # 200: the whole log (have == 0, or a server that ignores Range)
                    return self._replace(log, resp, have)
            with self.client.stream("GET", path) as resp:
                return self._replace(log, resp, have)

    @staticmethod
    def _replace(log: Path, resp: StreamResponse, have: int) -> int:
        tmp = log.with_name(f".{log.name}.part")
        with tmp.open("wb") as out:
            fetched = _copy(resp, out)
        os.replace(tmp, log)
        return max(fetched - have, 0)


def _copy(src: StreamResponse, dst: BinaryIO) -> int:
    total = 0
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
        total += len(chunk)
    return total


def _range_start(value: str | None) -> int | None:
    match = re.match(r"bytes (\d+)-\d+/(?:\d+|\*)", value or "")
    return int(match.group(1)) if match else None


def _range_total(value: str | None) -> int | None:
    match = re.match(r"bytes (?:\*|\d+-\d+)/(\d+)", value or "")
    return int(match.group(1)) if match else None


_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _non_finite(value: Any) -> Any:
    """A copy of `value` with the server's spelling of non-finite floats turned back into
    floats."""
    if isinstance(value, str):
        return _NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: _non_finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_non_finite(v) for v in value]
    return value


def _json_ready(value: Any) -> Any:
    """`value` with non-finite floats spelled as the server spells them (`"NaN"`,
    `"Infinity"`, `"-Infinity"`), numpy scalars and arrays as Python values."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__ == "numpy":
        return _json_ready(tolist())
    return value


class RemoteRun(Run):
    """A run on a fwtrack server, with the attributes and methods of a local `Run`.

    Its fields are those of the server's last answer: when the handle was made, at
    `refresh()`, or when a history or histogram read found the log had grown. History and
    histograms are read from the run log, mirrored into the local cache (`dir`), fetching
    only what is new on each call.
    """

    def __init__(self, backend: RemoteBackend, row: dict[str, Any]) -> None:
        # The local Run's state, pointed at the mirror; nothing is downloaded until history,
        # histograms or a field only the log holds is asked for.
        self._backend = backend
        self._row = _checked_row(backend.base_url, row, "a run")
        self._entity = str(row["entity"])
        self._project = str(row["project"])
        self._id = str(row["id"])
        self._dir = backend.run_cache_dir(self._entity, self._project, self._id)
        self._meta = {}
        self._stamp = None
        self._rd = None

    def _reader(self) -> _core.RunReader:
        if self._backend.sync_log(self._entity, self._project, self.id):
            self.refresh()
        return super()._reader()

    def _scan(
        self, required: list[str] | None, min_step: int | None, max_step: int | None
    ) -> Iterator[dict[str, Any]]:
        self._reader()  # bring the mirror up to date first
        yield from super()._scan(required, min_step, max_step)

    def delete(self, delete_artifacts: bool = False) -> None:
        """Delete the run on the server (its row, log and files; W&B's `Run.delete()`).
        The artifact versions it logged are kept: `delete_artifacts=True` is refused."""
        if delete_artifacts:
            raise ValueError(
                "delete(delete_artifacts=True) is not supported: the run's artifact versions "
                "are kept; call delete() without it"
            )
        self._backend.client.request(
            "DELETE", f"/runs/{_quote(self._entity, self._project, self.id)}"
        )

    def _apply_edits(self, changes: dict[str, Any]) -> None:
        """`PATCH` the run on the server; the handle then holds the server's answer."""
        self._row = self._backend.edit(self._entity, self._project, self._id, changes)

    def _fetch_file(self, path: str) -> bytes:
        """A run file from the server; media payloads (named by their content hash) are kept
        in the local mirror and fetched once. `path` comes from the run log: it is checked
        (UnsafePathError) before it names a request or a cache file."""
        where = f"the run log of {self.path} (a media path)"
        _answered(self._backend.base_url, "file path", path, where)
        immutable = path.startswith("media/")
        cached = inside(self._dir, "files", *path.split("/"))
        if immutable and cached.is_file():
            return cached.read_bytes()
        base = f"/runs/{_quote(self._entity, self._project, self.id)}/files"
        body = self._backend.client.request("GET", f"{base}/{_quote(*path.split('/'))}").body
        if immutable:
            cached.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cached, body)
        return body

    def logged_artifacts(self) -> list[Artifact]:
        """The artifact versions this run logged, in log order (those the server has
        committed)."""
        return self._artifacts("logged")

    def used_artifacts(self) -> list[Artifact]:
        """The artifact versions this run used, in use order (those the server holds)."""
        return self._artifacts("used")

    def _artifacts(self, which: str) -> list[Artifact]:
        from fwtrack.artifacts.artifact import Artifact

        registry = self._backend.artifact_registry()
        rows = registry.run_artifacts(self._entity, self._project, self.id).get(which) or []
        return [
            Artifact._from_version(row, registry)
            for row in rows
            if isinstance(row, dict) and row.get("version")
        ]

    def refresh(self) -> None:
        """Fetch the run's fields from the server again."""
        self._row = self._backend.detail(self._entity, self._project, self._id)

    # -- identity --------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def entity(self) -> str:
        """The user or team that owns the run's project."""
        return self._entity

    @property
    def path(self) -> str:
        """`"<entity>/<project>/<id>"`, accepted by `Api(base_url=...).run()`."""
        return f"{self._entity}/{self._project}/{self.id}"

    @property
    def url(self) -> str:
        """The run's API address on the server."""
        return self._backend.client.url(f"/runs/{_quote(self._entity, self._project, self.id)}")

    # -- fields from the server --------------------------------------------------------------

    @property
    def metadata(self) -> dict[str, Any]:
        """The run-start info the server holds, with the environment snapshot
        (`metadata.json`) when the run uploaded one."""
        path = f"/runs/{_quote(self._entity, self._project, self.id)}/files/metadata.json"
        resp = self._backend.client.request("GET", path, ok=(404,))
        raw = resp.body if resp.status == 200 else None
        return merge_metadata(copy.deepcopy(dict(self._row.get("metadata") or {})), raw)

    def files(self) -> list[RunFile]:
        """The run's files on the server, sorted by name; `read()` and `download()` fetch
        them."""
        base = f"/runs/{_quote(self._entity, self._project, self.id)}/files"
        rows = self._backend.client.get_json(base)["files"]
        client = self._backend.client

        def fetcher(name: str) -> Callable[[], bytes]:
            return lambda: client.request("GET", f"{base}/{_quote(*name.split('/'))}").body

        out = []
        for row in rows:
            name = _answered(self._backend.base_url, "file path", row.get("path"), f"GET {base}")
            out.append(RunFile(name, int(row.get("size") or 0), fetcher(name)))
        return out

    def _read_name(self) -> str:
        return str(self._row.get("name") or self.id)

    @property
    def group(self) -> str | None:
        value = (self._row.get("metadata") or {}).get("group")
        return None if value is None else str(value)

    @property
    def job_type(self) -> str | None:
        value = (self._row.get("metadata") or {}).get("job_type")
        return None if value is None else str(value)

    def _read_tags(self) -> list[str]:
        return [str(t) for t in self._row.get("tags") or []]

    def _read_notes(self) -> str | None:
        value = self._row.get("notes")
        return None if value is None else str(value)

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(float(self._row.get("created_at") or 0.0), timezone.utc)

    @property
    def updated_at(self) -> datetime:
        """When the server last stored data of this run (UTC)."""
        return datetime.fromtimestamp(float(self._row.get("updated_at") or 0.0), timezone.utc)

    def _read_config(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._row.get("config") or {}))

    def _read_summary(self) -> dict[str, Any]:
        """As for a local run; NaN and +/-Inf, which JSON carries as the strings `"NaN"`,
        `"Infinity"` and `"-Infinity"`, come back as floats."""
        value: dict[str, Any] = _non_finite(dict(self._row.get("summary") or {}))
        return value

    @property
    def state(self) -> RunState:
        state: RunState = self._row["state"]
        return state

    @property
    def finish_reason(self) -> str | None:
        return "stopped" if self._row.get("state") == "stopped" else None

    @property
    def sweep_id(self) -> str | None:
        """The sweep this run is a trial of, else None."""
        value = self._row.get("sweep_id")
        return None if value is None else str(value)

    @property
    def exit_code(self) -> int | None:
        value = self._row.get("exit_code")
        return None if value is None else int(value)

    @property
    def runtime(self) -> float:
        return float(self._row.get("runtime") or 0.0)

    @property
    def last_step(self) -> int | None:
        if "last_step" in self._row:
            value = self._row["last_step"]
            return None if value is None else int(value)
        return super().last_step  # read from the mirrored log

    @property
    def log_size(self) -> int:
        """Bytes of the run log stored on the server."""
        return int(self._row.get("log_size") or 0)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemoteRun) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __repr__(self) -> str:
        return (
            f"<fwtrack Run {self.path} on {self._backend.base_url} name={self.name!r} "
            f"state={self.state}>"
        )
