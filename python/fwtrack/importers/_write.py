"""Writing an imported run as a local fwtrack run, and the report of an import.

Every importer reads its source into `SourceRun`s and hands each to `write_run`, which writes
the run log with the history as it happened (`RunWriter.log_at` with the source's steps,
timestamps and runtimes, `log_system`/`log_console` with their times, `finish(ts=)`), stores
its media and files, and logs its artifacts into the local registry.

Idempotence: the run directory is `<root>/<project>/<run id>` and its first run-start record
holds `imported_from`. A run found there with a finish record is skipped; one without (an
import that was interrupted) is removed and written again; a run there that was not imported
is left alone (reported as a conflict).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO, cast

from fwtrack import _core
from fwtrack.errors import ImportSourceError
from fwtrack.sdk import names, snapshot
from fwtrack.sdk.settings import FWTRACK_DIR, FWTRACK_MODE, Settings

if TYPE_CHECKING:
    from fwtrack.sdk.run import Run

__all__ = ["ImportReport", "Progress", "Row", "SourceArtifact", "SourceRun", "write_run"]

Source = Literal["wandb", "tensorboard", "mlflow"]

IMPORT_FAILED = "import failed"
"""The finish reason of a run whose import failed half way (imported again next time)."""


@dataclass
class Row:
    """One history row of the source: committed at `step` with Unix time `ts` and runtime `rt`
    (None: `ts` minus the run's start time)."""

    step: int
    ts: float
    data: dict[str, Any]
    rt: float | None = None


@dataclass
class SourceArtifact:
    """An artifact of the source run: `files` maps the path inside the artifact to a local
    file holding its bytes."""

    name: str
    type: str
    files: dict[str, str]
    aliases: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    description: str | None = None


@dataclass
class SourceRun:
    """What an importer read of one run of the source tracker."""

    source: Source
    source_path: str
    id: str
    project: str
    start_time: float
    name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    notes: str | None = None
    group: str | None = None
    job_type: str | None = None
    host: str | None = None
    program: str | None = None
    args: list[str] = field(default_factory=list)
    python: str | None = None
    source_id: str | None = None
    rows: Callable[[], Iterable[Row]] = lambda: ()
    system: list[tuple[float, float | None, list[tuple[str, float]]]] = field(default_factory=list)
    console: list[tuple[float, str, list[str]]] = field(default_factory=list)
    artifacts: list[SourceArtifact] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)
    exit_code: int | None = 0
    finish_ts: float | None = None
    finish_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportReport:
    """What an import did: the run directories written (`imported`), the runs skipped because
    they were imported before (`skipped`), the runs not written (`failed`: (source path,
    reason)), and counts of what was written."""

    source: str
    root: str
    project: str | None = None
    imported: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    points: int = 0
    rows: int = 0
    media: int = 0
    artifacts: int = 0
    uploaded: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.imported)

    def __str__(self) -> str:
        line = (
            f"imported {len(self.imported)} run(s) from {self.source} into {self.root}: "
            f"{self.rows} row(s), {self.points} point(s), {self.media} media, "
            f"{self.artifacts} artifact(s); {len(self.skipped)} already imported, "
            f"{len(self.failed)} failed"
        )
        if self.uploaded:
            line += f"; {len(self.uploaded)} uploaded"
        return line


class Progress:
    """Progress of an import on a stream (stderr for the CLI): one line per run, and a line
    every `every` rows while a run is written."""

    def __init__(self, out: TextIO | None, every: int = 10_000) -> None:
        self.out = out
        self.every = every

    def say(self, line: str) -> None:
        if self.out is not None:
            self.out.write(line + "\n")
            self.out.flush()


def resolve_root(dir: str | os.PathLike[str] | None) -> str:
    root = os.fspath(dir) if dir is not None else None
    root = root or FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack"
    return os.path.abspath(os.path.expanduser(root))


def check_project(project: str | None, what: str) -> str | None:
    if project is None:
        return None
    try:
        return names.check_project(project)
    except (TypeError, ValueError) as exc:
        raise ImportSourceError(
            f"{what}: {exc}\nhint: pass a project name of 1-128 characters of "
            "A-Z a-z 0-9 _ . -, e.g. --project imported"
        ) from exc


def safe_project(name: str) -> str:
    """A project name made of `name` (characters fwtrack does not allow become `-`)."""
    out = "".join(c if c.isalnum() or c in "_.-" else "-" for c in name).strip("-.")[:128]
    return out or "imported"


def safe_run_id(run_id: str) -> str:
    out = "".join(c if c.isalnum() or c in "_.-" else "-" for c in run_id)[:64]
    return out if out not in ("", ".", "..") else "run"


def _previous(run_dir: str) -> tuple[str, dict[str, Any]]:
    """What is at `run_dir`: ("none" | "complete" | "partial" | "foreign" | "live", info)."""
    if not os.path.exists(os.path.join(run_dir, _core.LOG_FILE_NAME)):
        return "none", {}
    if _core.is_locked(run_dir):
        return "live", {}
    try:
        meta = _core.RunReader(run_dir).meta()
    except OSError:
        return "partial", {}
    starts = meta.get("starts") or [{}]
    info = starts[0] if isinstance(starts[0], dict) else {}
    if not isinstance(info.get("imported_from"), dict):
        return "foreign", info
    finish = meta.get("finish")
    if finish is None or finish.get("reason") == IMPORT_FAILED:
        return "partial", info
    return "complete", info


class _ArtifactHost:
    """What the artifact thread needs of a run (`artifacts/worker.py`): an offline run."""

    def __init__(self, writer: _core.RunWriter, info: dict[str, Any], run_dir: str) -> None:
        self._inner = writer
        self._uploader = None
        self.id = info["id"]
        self.project = info["project"]
        self.dir = run_dir
        self.mode = "offline"
        self.settings = Settings(base_url=None, api_key=None, entity=None)


def write_run(src: SourceRun, root: str, report: ImportReport, progress: Progress) -> str | None:
    """Write `src` as the run `<root>/<project>/<id>`; its directory, or None when skipped."""
    project = names.check_project(src.project)
    run_id = names.check_run_id(src.id)
    run_dir = os.path.join(root, project, run_id)
    state, _ = _previous(run_dir)
    if state == "complete":
        report.skipped.append(run_dir)
        progress.say(f"{project}/{run_id}  already imported, skipped ({src.source_path})")
        return None
    if state in ("foreign", "live"):
        why = (
            "is being written by a live process"
            if state == "live"
            else "holds a run that was not imported"
        )
        report.failed.append(
            (
                src.source_path,
                f"{run_dir} {why}; import into another project (--project) or directory "
                "(--dir) to keep both",
            )
        )
        progress.say(f"{project}/{run_id}  FAILED: {run_dir} {why}")
        return None
    if state == "partial":
        shutil.rmtree(run_dir)  # an interrupted import: written again from the start
    progress.say(f"{project}/{run_id}  importing {src.source} run from {src.source_path}")
    _write(src, project, run_id, run_dir, report, progress)
    report.imported.append(run_dir)
    return run_dir


def _info(src: SourceRun, project: str, run_id: str) -> dict[str, Any]:
    imported: dict[str, Any] = {
        "source": src.source,
        "path": src.source_path,
        "id": src.source_id or src.id,
        "at": time.time(),
    }
    imported.update(src.extra)
    return {
        "id": run_id,
        "name": src.name or run_id,
        "project": project,
        "group": src.group,
        "job_type": src.job_type,
        "tags": src.tags,
        "notes": src.notes,
        "created_at": src.start_time,
        "started_at": src.start_time,
        "start_time": src.start_time,
        "host": src.host or "",
        "pid": None,
        "program": src.program or "",
        "args": src.args,
        "python": src.python or "",
        "fwtrack_version": _core.__version__,
        "resumed": False,
        "imported_from": imported,
        "import_host": socket.gethostname(),
    }


def _clean_tags(tags: Iterable[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        t = str(tag).strip()[:64]
        if t and t not in out:
            out.append(t)
    return out


def _write(
    src: SourceRun,
    project: str,
    run_id: str,
    run_dir: str,
    report: ImportReport,
    progress: Progress,
) -> None:
    from fwtrack.sdk.media_worker import MediaWorker
    from fwtrack.sdk.values import jsonable, media_converter, warn

    src.tags = _clean_tags(src.tags)
    info = _info(src, project, run_id)
    media = MediaWorker(os.path.join(run_dir, snapshot.FILES_DIR))
    writer = _core.RunWriter(
        run_dir,
        json.dumps(jsonable(info, "", []), allow_nan=False),
        converter=media_converter(media),
        warn=warn,
    )
    last_ts = src.start_time
    try:
        last_ts = _write_records(src, writer, run_dir, project, run_id, report, progress)
        if src.artifacts:
            _log_artifacts(src, writer, info, run_dir, report)
    except BaseException:
        # The import itself failed: the finish record says so, and the next import of this
        # run writes it again from the start.
        media.close()
        writer.finish(1, IMPORT_FAILED)
        raise
    media.close()
    finish_ts = src.finish_ts if src.finish_ts is not None else last_ts
    exit_code = 0 if src.exit_code is None else src.exit_code
    writer.finish(exit_code, src.finish_reason, ts=max(finish_ts, last_ts))


def _write_records(
    src: SourceRun,
    writer: _core.RunWriter,
    run_dir: str,
    project: str,
    run_id: str,
    report: ImportReport,
    progress: Progress,
) -> float:
    """The config, history, system metrics, console, summary and files of `src`; returns
    the time of the last record."""
    from fwtrack.sdk.values import jsonable

    last_ts = src.start_time
    if src.config:
        writer.log_config(json.dumps(jsonable(src.config, "", [], finite=False)))
    rows = 0
    last_step = -1
    for row in src.rows():
        if not row.data:
            continue
        step = max(row.step, last_step)  # a source step below the last: kept at the last
        if row.rt is None:
            writer.log_at(row.data, step, row.ts)
        else:
            writer.log_at(row.data, step, row.ts, row.rt)
        last_step = step
        last_ts = max(last_ts, row.ts)
        rows += 1
        report.points += sum(1 for v in row.data.values() if v is not None)
        report.media += sum(1 for v in row.data.values() if _is_media(v))
        if rows % progress.every == 0:
            progress.say(f"{project}/{run_id}  {rows} rows")
    report.rows += rows
    for ts, rt, values in src.system:
        if values:
            if rt is None:
                writer.log_system(values, ts=ts)
            else:
                writer.log_system(values, ts=ts, rt=rt)
            last_ts = max(last_ts, ts)
    for ts, stream, lines in src.console:
        if lines:
            writer.log_console(stream, lines, ts)
            last_ts = max(last_ts, ts)
    if src.summary:
        summary = jsonable(src.summary, "", [], finite=False)
        writer.update_summary(json.dumps(summary), [])
    for name, path in src.files:
        try:
            snapshot.save_file(run_dir, path, name)
        except (OSError, ValueError) as exc:
            report.notes.append(f"{src.source_path}: file {name!r} not copied ({exc})")
    return last_ts


def _is_media(value: Any) -> bool:
    from fwtrack.sdk.values import _is_media as is_media

    return bool(is_media(value))


def _log_artifacts(
    src: SourceRun,
    writer: _core.RunWriter,
    info: dict[str, Any],
    run_dir: str,
    report: ImportReport,
) -> None:
    from fwtrack.artifacts import run_calls
    from fwtrack.artifacts.artifact import Artifact
    from fwtrack.artifacts.worker import ArtifactWorker

    host = cast("Run", _ArtifactHost(writer, info, run_dir))
    worker = ArtifactWorker(host)
    logged: list[tuple[SourceArtifact, Artifact]] = []
    try:
        for art in src.artifacts:
            try:
                a = Artifact(art.name, art.type, description=art.description, metadata=art.metadata)
                for name, path in sorted(art.files.items()):
                    a.add_file(path, name=name)
                aliases = [x for x in art.aliases if x != "latest"]
                logged.append((art, run_calls.log_artifact(host, worker, a, None, None, aliases)))
            except (OSError, ValueError, TypeError) as exc:
                report.notes.append(f"{src.source_path}: artifact {art.name!r} not imported: {exc}")
        worker.wait()
    finally:
        worker.close()
    for art, a in logged:
        try:
            a.wait()
            report.artifacts += 1
        except Exception as exc:
            report.notes.append(f"{src.source_path}: artifact {art.name!r} not imported: {exc}")


def resolve_mode(mode: str | None) -> str:
    """ "online" when a server is configured (or `mode`/`FWTRACK_MODE` says so), else
    "offline"; imported runs are uploaded only online."""
    if mode is None:
        mode = FWTRACK_MODE.get()
    if mode is None:
        mode = "online" if Settings().base_url is not None else "offline"
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(f"invalid mode {mode!r}: allowed values are 'online' and 'offline'")
    return mode


def upload(report: ImportReport, entity: str | None, out: TextIO | None) -> None:
    """Upload the imported runs (and those skipped, which may not be on the server yet) as
    `fwtrack sync` does."""
    from fwtrack import sync

    dirs = [Path(d) for d in [*report.imported, *report.skipped]]
    if not dirs:
        return
    target = sync._target(None, entity)
    results = sync.sync_runs(dirs, target, out=out if out is not None else io.StringIO())
    for r in results:
        if r.status == "failed":
            report.failed.append((str(r.run_dir), f"upload failed: {r.message}"))
        else:
            report.uploaded.append(str(r.run_dir))
