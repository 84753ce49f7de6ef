"""`import_mlflow`: MLflow runs (file store, SQLite or any store MlflowClient opens) into
fwtrack runs.

Read through `mlflow.tracking.MlflowClient`: each run of the experiment (or of every
experiment) becomes a fwtrack run with the MLflow run id, its name (`mlflow.runName`), params
as config (MLflow keeps them as strings: numbers and booleans are parsed back, as MLflow's UI
shows them), the user's tags (`key=value` fwtrack tags, the full key/value map in the run info),
the note (`mlflow.note.content`) as notes, every point of every metric history with its step
and timestamp, the last value of each metric as the summary, the start and end time, the
status (FAILED and KILLED become a failed run), and the run's artifacts as one fwtrack
artifact `mlflow-<run id>` of type `mlflow-artifacts`.

A file store (`./mlruns`, `file:///...`) is read with MLflow's file store even though MLflow
3 keeps it in maintenance mode (`MLFLOW_ALLOW_FILE_STORE` is set for the read).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from fwtrack.errors import ImportSourceError
from fwtrack.importers._write import (
    ImportReport,
    Progress,
    Row,
    SourceArtifact,
    SourceRun,
    check_project,
    resolve_mode,
    resolve_root,
    safe_project,
    safe_run_id,
    upload,
    write_run,
)

__all__ = ["import_mlflow", "read_runs"]

_FAILED = {"FAILED": 1, "KILLED": 143}
_PAGE = 1000


def _param(text: str) -> Any:
    if text in ("True", "true"):
        return True
    if text in ("False", "false"):
        return False
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's own deprecation noise (SQLAlchemy's, in its SQL store) kept out of the
    caller's warnings while the importer calls it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@contextlib.contextmanager
def _file_store_allowed() -> Iterator[None]:
    names = ("MLFLOW_ALLOW_FILE_STORE", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    old = {name: os.environ.get(name) for name in names}
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # progress is ours
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _client(tracking_uri: str | None) -> Any:
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "./mlruns"
    if "://" not in uri:
        path = Path(uri).expanduser()
        if not path.is_dir():
            raise ImportSourceError(
                f"{path} is not an MLflow file store (no such directory)\nhint: pass "
                "--tracking-uri with the store MLflow wrote to: a folder like ./mlruns, "
                "sqlite:///mlflow.db or http://host:5000"
            )
        uri = path.resolve().as_uri()
    elif uri.startswith("sqlite:///"):
        db = uri.removeprefix("sqlite:///")
        if not os.path.isfile(db if db.startswith("/") else os.path.join(os.getcwd(), db)):
            raise ImportSourceError(
                f"{uri}: no such SQLite database\nhint: pass the database MLflow wrote to, "
                "e.g. sqlite:///mlflow.db (relative) or sqlite:////abs/path/mlflow.db"
            )
    try:
        with _quiet():
            client = MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)  # opens (and checks) the store
        return client, uri
    except Exception as exc:
        raise ImportSourceError(
            f"cannot open the MLflow tracking store {uri}: {exc}\nhint: pass --tracking-uri "
            "with a file store folder, a sqlite:/// database or a server URL"
        ) from exc


def _experiments(client: Any, uri: str, experiment: str | None) -> list[Any]:
    from mlflow.entities import ViewType

    try:
        with _quiet():
            return _find_experiments(client, uri, experiment, ViewType.ALL)
    except ImportSourceError:
        raise
    except Exception as exc:
        raise ImportSourceError(f"cannot list the experiments of {uri}: {exc}") from exc


def _find_experiments(client: Any, uri: str, experiment: str | None, view: Any) -> list[Any]:
    if experiment is not None:
        exp = client.get_experiment_by_name(experiment)
        if exp is None and experiment.isdigit():
            exp = client.get_experiment(experiment)
        if exp is None:
            names = [e.name for e in client.search_experiments(view_type=view)]
            raise ImportSourceError(
                f"no MLflow experiment {experiment!r} in {uri}; it holds "
                f"{', '.join(repr(n) for n in names) or 'no experiments'}\nhint: pass one of "
                "them to --experiment, or leave it out to import every experiment"
            )
        return [exp]
    return list(client.search_experiments(view_type=view))


def _runs(client: Any, experiment_id: str) -> Iterator[Any]:
    from mlflow.entities import ViewType

    token = None
    while True:
        with _quiet():
            page = client.search_runs(
                [experiment_id],
                run_view_type=ViewType.ALL,
                max_results=_PAGE,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            )
        yield from page
        token = page.token
        if not token:
            return


def _history(client: Any, run_id: str, keys: list[str]) -> list[tuple[int, int, str, float]]:
    points: list[tuple[int, int, str, float]] = []
    for key in keys:
        with _quiet():
            history = client.get_metric_history(run_id, key)
        for m in history:
            points.append((int(m.step), int(m.timestamp), key, float(m.value)))
    points.sort(key=lambda p: (p[0], p[1]))
    return points


def _rows(points: list[tuple[int, int, str, float]]) -> Iterator[Row]:
    """One row per step (and timestamp order within it); a metric logged twice at one step
    starts another row at that step, so every point is written."""
    row: Row | None = None
    for step, ms, key, value in points:
        if row is None or step != row.step or key in row.data:
            if row is not None:
                yield row
            row = Row(step=max(step, 0), ts=ms / 1000.0, data={})
        row.data[key] = value
    if row is not None:
        yield row


def _artifacts(client: Any, run_id: str, tmp: str) -> SourceArtifact | None:
    try:
        with _quiet():
            if not client.list_artifacts(run_id):
                return None
            local = client.download_artifacts(run_id, "", tmp)
    except Exception:
        return None
    files: dict[str, str] = {}
    for base, _, names in os.walk(local):
        for name in names:
            path = os.path.join(base, name)
            files[os.path.relpath(path, local).replace(os.sep, "/")] = path
    if not files:
        return None
    return SourceArtifact(name=f"mlflow-{run_id}", type="mlflow-artifacts", files=files)


def _source_run(
    client: Any, run: Any, experiment: Any, uri: str, project: str | None, tmp: str
) -> SourceRun:
    info, data = run.info, run.data
    tags = dict(data.tags)
    user_tags = sorted(
        f"{k}={v}" if v else k for k, v in tags.items() if not k.startswith("mlflow.")
    )
    points = _history(client, info.run_id, sorted(data.metrics))
    start = (info.start_time or (points[0][1] if points else 0)) / 1000.0
    end = info.end_time / 1000.0 if info.end_time else None
    status = info.status
    artifact = _artifacts(client, info.run_id, os.path.join(tmp, info.run_id))
    source_name = tags.get("mlflow.source.name")
    return SourceRun(
        source="mlflow",
        source_path=f"{uri}#{experiment.name}/{info.run_id}",
        id=safe_run_id(info.run_id),
        source_id=info.run_id,
        project=project or safe_project(experiment.name),
        start_time=start,
        name=info.run_name or tags.get("mlflow.runName") or None,
        config={k: _param(v) for k, v in data.params.items()},
        summary=dict(data.metrics),
        tags=user_tags,
        notes=tags.get("mlflow.note.content"),
        host=tags.get("mlflow.source.host"),
        program=source_name,
        rows=lambda: _rows(points),
        artifacts=[artifact] if artifact is not None else [],
        exit_code=_FAILED.get(status, 0),
        finish_ts=end,
        finish_reason="running" if status in ("RUNNING", "SCHEDULED") else None,
        extra={
            "experiment": experiment.name,
            "experiment_id": experiment.experiment_id,
            "status": status,
            "tags": tags,
            "user": info.user_id,
        },
    )


def read_runs(
    tracking_uri: str | None = None, experiment: str | None = None, project: str | None = None
) -> Iterator[SourceRun]:
    """The MLflow runs of `experiment` (or of every experiment) in the store at
    `tracking_uri`, as `SourceRun`s (their artifacts downloaded into a temporary folder that
    lives while the run is being written)."""
    with _file_store_allowed():
        client, uri = _client(tracking_uri)
        for exp in _experiments(client, uri, experiment):
            for run in _runs(client, exp.experiment_id):
                with tempfile.TemporaryDirectory(prefix="fwtrack-mlflow-") as tmp:
                    yield _source_run(client, run, exp, uri, project, tmp)


def import_mlflow(
    tracking_uri: str | None = None,
    experiment: str | None = None,
    project: str | None = None,
    entity: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    progress: TextIO | None = None,
    mode: str | None = None,
) -> ImportReport:
    """Import the runs of an MLflow tracking store as local fwtrack runs under `dir`
    (default `FWTRACK_DIR`, else `./fwtrack`), each with its MLflow run id, in `project`
    (default: the run's experiment name).

    `tracking_uri`: a file store folder (`./mlruns`), `file:///...`, `sqlite:///mlflow.db`
    or a server URL (default `MLFLOW_TRACKING_URI`, else `./mlruns`); `experiment`: a name or
    id (default: every experiment). Importing again skips runs already imported. Online (a
    server configured), the runs are then uploaded as `fwtrack sync` does (to `entity`).
    Raises `ImportSourceError` when the store cannot be opened or the experiment is unknown.
    """
    project_ = check_project(project, "import_mlflow(project=...)")
    root = resolve_root(dir)
    mode_ = resolve_mode(mode)
    report = ImportReport(
        source=f"mlflow ({tracking_uri or 'default'})", root=root, project=project_
    )
    out = Progress(progress)
    for src in read_runs(tracking_uri, experiment, project_):
        write_run(src, root, report, out)
    if mode_ == "online":
        upload(report, entity, progress)
    return report
