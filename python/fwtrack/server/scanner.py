"""`fwtrack ui`: index local runs in place, about once a second.

Every cycle the scanner looks for `<dir>/<project>/<run id>/run.fwlog`, indexes each log whose
size or mtime changed into the ui's own index and SQLite database (entity `local`), and checks
the lock of every run it believes running: a released lock without a finish record is a crash.
Runs whose directory disappeared are dropped. `<dir>/.artifacts` is not a project: it is the
local artifact registry, imported into the artifact tables (`fwtrack.server.local_artifacts`)
with its model registry (`.artifacts/registry`, `fwtrack.server.local_models`), and the
lineage records of each indexed log become edges (`fwtrack.server.artifacts`).

Symbolic links are not followed: a project directory, run directory or `run.fwlog` that is a
link is skipped (a warning names it once) and, if it was indexed before, dropped.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fwtrack import _core, path_names
from fwtrack.server import core
from fwtrack.server.artifacts import record_edges
from fwtrack.server.blobs import LOG_FILE_NAME, LocalRunsLayout, linked
from fwtrack.server.context import LOCAL_USER, AppContext
from fwtrack.server.db import Project, Run, now
from fwtrack.server.ingest import apply_index, get_or_create_project, get_or_create_run
from fwtrack.server.local_artifacts import LocalArtifacts
from fwtrack.server.local_models import LocalModels

__all__ = ["Scanner"]

log = logging.getLogger("fwtrack.server")


def _valid(name: str, check: Callable[[object], str]) -> bool:
    """A project or run directory name the API can name (not hidden, like `.fwtrack-ui`)."""
    try:
        check(name)
    except ValueError:
        return False
    return not name.startswith(".")


class Scanner:
    """A background thread indexing `ctx.config.ui_scan_dir` into the app's stores."""

    def __init__(self, ctx: AppContext) -> None:
        if ctx.config.ui_scan_dir is None or not isinstance(ctx.blobs, LocalRunsLayout):
            raise ValueError("the scanner needs a server configured with ui_scan_dir")
        self.ctx = ctx
        self.root: Path = ctx.config.ui_scan_dir
        self.layout: LocalRunsLayout = ctx.blobs
        self.interval = ctx.config.scan_interval
        self._stamps: dict[tuple[str, str], tuple[int, int, bool]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fwtrack-ui-scanner", daemon=True)
        self._warned: set[tuple[str, str]] = set()
        self._links_warned: set[Path] = set()
        self.artifacts = LocalArtifacts(ctx.db, self.root, LOCAL_USER)
        self.models = LocalModels(ctx.db, self.root, LOCAL_USER)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception:  # keep scanning: one bad cycle must not stop the dashboard
                log.exception("scanning %s failed", self.root)
            self._stop.wait(self.interval)

    def scan_once(self) -> None:
        """One pass over the run directory."""
        seen: set[tuple[str, str]] = set()
        if self.root.is_dir():
            for project_dir in sorted(self.root.iterdir()):
                if not _valid(project_dir.name, path_names.check_project):
                    continue
                if self._link(project_dir) or not project_dir.is_dir():
                    continue
                for run_dir in sorted(project_dir.iterdir()):
                    if not _valid(run_dir.name, path_names.check_run_id) or self._link(run_dir):
                        continue
                    log_path = run_dir / LOG_FILE_NAME
                    try:
                        st = log_path.lstat()
                    except OSError:
                        continue
                    if self._link(log_path) or not stat.S_ISREG(st.st_mode):
                        continue
                    key = (project_dir.name, run_dir.name)
                    seen.add(key)
                    locked = _core.is_locked(str(run_dir))
                    stamp = (st.st_size, st.st_mtime_ns, locked)
                    if self._stamps.get(key) == stamp:
                        continue
                    try:
                        self._index(project_dir.name, run_dir, locked)
                    except (OSError, ValueError) as exc:
                        if key not in self._warned:
                            self._warned.add(key)
                            log.warning("cannot index %s: %s", log_path, exc)
                    self._stamps[key] = stamp
        self._drop_missing(seen)
        try:  # after the runs: a version names the run that logged it
            self.artifacts.scan()
        except (OSError, ValueError) as exc:
            log.warning("importing the local artifacts of %s failed: %s", self.root, exc)
        try:  # after the artifacts: a model version links an artifact version
            self.models.scan()
        except (OSError, ValueError) as exc:
            log.warning("importing the local model registry of %s failed: %s", self.root, exc)

    def _link(self, path: Path) -> bool:
        """Whether `path` is a symbolic link (warned about once): never followed."""
        if not path.is_symlink():
            return False
        if path not in self._links_warned:
            self._links_warned.add(path)
            try:
                to = os.readlink(path)
            except OSError:
                to = "?"
            log.warning(
                "%s is a symbolic link (to %s); fwtrack ui does not follow links, so it is "
                "not shown; hint: move the run itself under %s",
                path,
                to,
                self.root,
            )
        return True

    def _index(self, project_name: str, run_dir: Path, locked: bool) -> None:
        paths = self.layout.run_paths(project_name, run_dir.name)
        result = core.index_update(str(paths.log), str(paths.index))
        meta: dict[str, Any] = result.get("meta") or {}
        if meta.get("finish") is None and not locked:
            # The finish record is durable before the lock is released: read once more.
            result = core.index_update(str(paths.log), str(paths.index))
            meta = result.get("meta") or {}
        project = get_or_create_project(self.ctx.db, LOCAL_USER, project_name)
        run = get_or_create_run(self.ctx.db, project, run_dir.name)
        t = now()
        with self.ctx.db.write() as session:
            row = session.get(Run, run.id)
            if row is None:
                return
            changed = row.log_size != int(result["log_offset"])
            apply_index(row, result, int(result["log_offset"]))
            if meta.get("finish") is None:
                row.state = "running" if locked else "crashed"
            if changed:
                row.updated_at = t
                row.heartbeat_at = t
                session.execute(
                    sa.update(Project).where(Project.id == project.id).values(last_activity=t)
                )
        record_edges(self.ctx.db, run.id, LOCAL_USER, project_name, meta)

    def _present(self, log_path: Path) -> bool:
        """Whether `log_path` is a run log the scan would index: a regular file reached
        through no symbolic link."""
        try:
            st = log_path.lstat()
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and linked(self.root, log_path) is None

    def _drop_missing(self, seen: set[tuple[str, str]]) -> None:
        with self.ctx.db.read() as session:
            rows = session.execute(
                sa.select(Run.id, Project.name, Run.run_id).join(
                    Project, Project.id == Run.project_id
                )
            ).all()
        gone = [(pk, p, r) for pk, p, r in rows if (p, r) not in seen]
        if not gone:
            return
        with self.ctx.db.write() as session:
            # Read again under the write lock: a run moved to another project meanwhile (its
            # directory renamed in the transaction that changed its row) is not gone.
            rows = session.execute(
                sa.select(Run.id, Project.name, Run.run_id)
                .join(Project, Project.id == Run.project_id)
                .where(Run.id.in_([pk for pk, _, _ in gone]))
            ).all()
            gone = [
                (pk, p, r)
                for pk, p, r in rows
                if (p, r) not in seen and not self._present(self.layout.run_paths(p, r).log)
            ]
            session.execute(sa.delete(Run).where(Run.id.in_([pk for pk, _, _ in gone])))
        for _, project_name, run_id in gone:
            self._stamps.pop((project_name, run_id), None)
            shutil.rmtree(self.layout.run_paths(project_name, run_id).index, ignore_errors=True)
