"""Runs stored before the store (`<data>/blobs/<project id>/<run id>/{run.fwlog,index/,files/}`)
moved into it once, at the first start of a newer server.

For each such run: every regular file under `files/` is hashed (BLAKE3), hard-linked into the
store as a blob of the run's entity (copied where a link cannot be made; uploaded, on the S3
store) and recorded in the run's manifest under its old path; then the log and the index are
renamed into the store (the S3 store uploads the log and keeps the index in its cache) and the
old folder is removed. Each step can be repeated, so a start interrupted half-way finishes
the job at the next one. It runs under the start-up lock, before the server answers requests.
A folder whose run the database does not know is left in place (with a warning).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from fwtrack import _core, path_names
from fwtrack.server import manifest
from fwtrack.server.db import Database, Project, Run
from fwtrack.server.store.base import BlobKey, RunKey
from fwtrack.server.store.directory import LOG_FILE_NAME

__all__ = ["LegacyTarget", "import_legacy_runs"]

log = logging.getLogger("fwtrack.server")

_TEMPORARY = ".upload-"  # what the old server named a file it was still writing


class LegacyTarget(Protocol):
    """What the import needs of a store (`DirectoryStore`, `S3Store`); each step is safe to
    repeat."""

    def link_from(self, key: BlobKey, source: Path) -> None:
        """Store the file `source` as the blob `key` (nothing when it is stored)."""
        ...

    def adopt_run(self, run: RunKey, log: Path | None, index: Path | None) -> None:
        """Take a run's log and history index from the old layout."""
        ...


def _regular_files(folder: Path) -> list[tuple[str, Path]]:
    """`(path, file)` of every regular file below `folder` (no link followed, temporaries
    left out), sorted by path."""
    out: list[tuple[str, Path]] = []
    if folder.is_symlink() or not folder.is_dir():
        return out
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for name in filenames:
            if name.startswith(_TEMPORARY):
                continue
            full = Path(dirpath) / name
            try:
                if not stat.S_ISREG(os.lstat(full).st_mode):
                    continue
            except OSError:
                continue
            rel = full.relative_to(folder).as_posix()
            try:
                path_names.check_file_path(rel)
            except ValueError:
                log.warning("%s: not a valid run file name, not imported", full)
                continue
            out.append((rel, full))
    out.sort()
    return out


def _import_run(db: Database, store: LegacyTarget, project_id: int, run_dir: Path) -> bool:
    with db.read() as session:
        row = session.execute(
            sa.select(Run.id, Project.entity)
            .join(Project, Project.id == Run.project_id)
            .where(Run.project_id == project_id, Run.run_id == run_dir.name)
        ).one_or_none()
    if row is None:
        log.warning("%s: no such run in the database; left in place", run_dir)
        return False
    run_pk, entity = row
    files = _regular_files(run_dir / "files")
    if files:
        hashed = _core.hash_files([str(full) for _, full in files])
        recorded: list[tuple[str, str, int]] = []
        kept: list[tuple[str, int]] = []
        for (path, full), result in zip(files, hashed, strict=True):
            if result is None:
                log.warning("%s: cannot be read, not imported", full)
                continue
            address, size = result
            store.link_from(BlobKey(entity, address), full)
            kept.append((address, size))
            recorded.append((path, address, size))
        manifest.adopt(db, entity, kept)
        manifest.record_files(db, entity, run_pk, recorded)
    old_log = run_dir / LOG_FILE_NAME
    old_index = run_dir / "index"
    store.adopt_run(
        RunKey(project_id, run_dir.name, run_pk),
        old_log if old_log.is_file() and not old_log.is_symlink() else None,
        old_index if old_index.is_dir() and not old_index.is_symlink() else None,
    )
    shutil.rmtree(run_dir)
    return True


def import_legacy_runs(db: Database, store: LegacyTarget, legacy_root: Path) -> int:
    """Move every run under `legacy_root` into `store` (see the module docstring); returns
    the number of runs moved. The caller holds the start-up lock."""
    if legacy_root.is_symlink() or not legacy_root.is_dir():
        return 0
    moved = 0
    for project_dir in sorted(legacy_root.iterdir()):
        if not project_dir.name.isdigit() or project_dir.is_symlink() or not project_dir.is_dir():
            continue
        for run_dir in sorted(project_dir.iterdir()):
            try:
                path_names.check_run_id(run_dir.name)
            except ValueError:
                continue
            if run_dir.is_symlink() or not run_dir.is_dir():
                continue
            if _import_run(db, store, int(project_dir.name), run_dir):
                moved += 1
        with contextlib.suppress(OSError):  # unless something was left in place
            project_dir.rmdir()
    with contextlib.suppress(OSError):
        legacy_root.rmdir()
    if moved:
        log.info("moved %d run(s) stored by an older version into the store", moved)
    return moved
