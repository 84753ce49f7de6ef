"""`fwtrack sync`: upload local runs to a fwtrack server.

    fwtrack sync [PATH ...] [--all] [--follow] [--base-url URL] [--entity E] [--timeout S]

PATH is a run directory, a project directory or a root directory (every run below it); `--all`
takes every run under the PATHs named, else under `--dir`/`FWTRACK_DIR`. Each run is uploaded
with the same Rust uploader online runs use, resuming from its `upload.json`, so re-running is
harmless: a run whose log is entirely acknowledged (and no longer written) and whose files are
unchanged is skipped without a request. A run still being written (its lock is held) is
uploaded as far as it is written; with `--follow`, it is followed until its writer finishes (or
dies) and everything is acknowledged. The run's files (`files/`: media, code and environment
snapshot, `run.save` files) go up by content address once the server holds the run: only the
files whose size or modification time changed since the last upload are hashed again, and only
the contents the server lacks are sent (also for an up-to-date log). Artifact versions the run
logged (offline, or online without finishing the upload) wait in `artifacts/pending/`: the
uploader sends the blobs the server lacks and commits each version (docs/artifacts.md, "Online
and sync"); then their staged copies move into the download cache. Registry links the run made
offline (or could not make online) wait in `artifacts/links/pending/`: they are made on the
server once the run's artifacts are committed (docs/registry.md, "Links from runs").

Symbolic links are never followed inside a run directory: a link among the run's files (to a
file or a folder, wherever it leads) is left out with a warning naming it, and a run whose
`run.fwlog` is a link is not uploaded (it fails with a hint). A run directory named on the
command line, or found under a root, may itself be reached through a link.

Exit status: 0 when every run is on the server, 1 when some could not be uploaded (or no run
was found), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from fwtrack import _core, credentials, path_names
from fwtrack.errors import FwTrackError
from fwtrack.sdk import names
from fwtrack.sdk.settings import (
    FWTRACK_API_KEY,
    FWTRACK_BASE_URL,
    FWTRACK_DIR,
    FWTRACK_ENTITY,
)

__all__ = ["SyncError", "add_commands", "find_runs", "sync_runs"]

STATE_FILE = "upload.json"
LEGACY_FILES_STATE = "files-upload.json"
"""What an earlier client kept of the files it uploaded; `upload.json` holds that now."""
DEFAULT_STALL_TIMEOUT = 60.0
_POLL = 0.2
_PLAIN_EVERY = 5.0


class SyncError(FwTrackError):
    """`fwtrack sync` cannot start: no server, no key, no runs."""


@dataclass(frozen=True)
class Target:
    """The server runs go to."""

    base_url: str
    api_key: str
    entity: str | None


@dataclass
class Result:
    """How one run went."""

    run_dir: Path
    name: str
    status: str  # "uploaded" | "up to date" | "failed"
    size: int = 0
    message: str = ""


# -- finding runs ------------------------------------------------------------------------------


def _root_dir(dir_arg: str | None) -> Path:
    root = dir_arg or FWTRACK_DIR.get() or FWTRACK_DIR.default or "fwtrack"
    return Path(root).expanduser().resolve()


def find_runs(paths: list[str], *, all_runs: bool, root: Path) -> list[Path]:
    """Run directories named by `paths` (runs, projects or roots) and, with `all_runs`, every
    run under `root`; sorted, without duplicates. Raises SyncError for a path that does not
    exist or holds no run."""
    found: dict[Path, None] = {}
    sources = [Path(p).expanduser() for p in paths]
    if all_runs:
        if not root.is_dir():
            raise SyncError(
                f"no runs to sync: {root} does not exist\n"
                "hint: pass --dir (or set FWTRACK_DIR) to where the runs are"
            )
        sources.append(root)
    for src in sources:
        if src.is_file() and src.name == _core.LOG_FILE_NAME:
            src = src.parent
        if not src.is_dir():
            raise SyncError(f"{src} is not a directory\nhint: name run or project directories")
        if (src / _core.LOG_FILE_NAME).is_file():
            runs = [src]
        else:
            logs = list(src.glob(f"*/{_core.LOG_FILE_NAME}"))
            logs += list(src.glob(f"*/*/{_core.LOG_FILE_NAME}"))
            runs = sorted(log.parent for log in logs)
            if not runs:
                raise SyncError(
                    f"no runs in {src}: it holds no {_core.LOG_FILE_NAME} at depth 0 to 2\n"
                    "hint: name a run directory (<dir>/<project>/<run id>), a project "
                    "directory or the root directory"
                )
        for run in runs:
            found[run.resolve()] = None
    return list(found)


def _identity(run_dir: Path) -> tuple[str, str]:
    """(project, run id) of the run in `run_dir`: from its run-start record, else from the
    directory names (`<project>/<run id>`)."""
    try:
        starts = _core.RunReader(str(run_dir)).meta().get("starts") or []
    except OSError:
        starts = []
    info = starts[0] if starts and isinstance(starts[0], dict) else {}
    project, run_id = info.get("project"), info.get("id")
    if isinstance(project, str) and isinstance(run_id, str):
        try:
            return names.check_project(project), names.check_run_id(run_id)
        except ValueError:
            pass
    return names.check_project(run_dir.parent.name), names.check_run_id(run_dir.name)


def _up_to_date(run_dir: Path, target: Target) -> dict[str, Any] | None:
    """The run's upload.json when it shows the whole log acknowledged by this server (for
    this entity, when one is given) and no writer is adding to the log; else None."""
    try:
        state = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
        size = (run_dir / _core.LOG_FILE_NAME).stat().st_size
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict):
        return None
    same = credentials.normalize_url(str(state.get("base_url", ""))) == target.base_url
    entity_ok = target.entity is None or state.get("entity") == target.entity
    if same and entity_ok and state.get("offset") == size and not _core.is_locked(str(run_dir)):
        return state
    return None


# -- progress ----------------------------------------------------------------------------------


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


class _Progress:
    """One line per run: rewritten in place on a terminal, printed now and then otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.width = 0
        self.last_plain = 0.0

    def update(self, name: str, acked: int, size: int, note: str = "") -> None:
        pct = 100.0 * acked / size if size else 100.0
        line = f"{name}  {_size(acked)} / {_size(size)}  {pct:3.0f}%{note}"
        if self.tty:
            pad = max(0, self.width - len(line))
            self.out.write(f"\r{line}{' ' * pad}")
            self.width = len(line)
            self.out.flush()
        elif time.monotonic() - self.last_plain >= _PLAIN_EVERY:
            self.last_plain = time.monotonic()
            self.out.write(line + "\n")
            self.out.flush()

    def done(self, line: str) -> None:
        if self.tty:
            pad = max(0, self.width - len(line))
            self.out.write(f"\r{line}{' ' * pad}\n")
        else:
            self.out.write(line + "\n")
        self.width = 0
        self.last_plain = 0.0
        self.out.flush()


# -- uploading ---------------------------------------------------------------------------------


def _warn(message: str) -> None:
    print(f"fwtrack: warning: {message.removeprefix('fwtrack: ')}", file=sys.stderr)


def _linked_log(run_dir: Path) -> str | None:
    """Why the run's log must not be uploaded (it is a symbolic link), or None."""
    log = run_dir / _core.LOG_FILE_NAME
    if not log.is_symlink():
        return None
    try:
        to = f" (to {os.readlink(log)})"
    except OSError:
        to = ""
    return (
        f"{log} is a symbolic link{to}; fwtrack sync never follows links in a run directory\n"
        "hint: put the run's own log file there instead of a link"
    )


def _files_note(status: dict[str, Any]) -> str:
    """`, 6 files (2 new, 40.1 KiB sent), 1 artifact committed`: the run's files and
    artifact versions, and what this upload did."""
    total = int(status["files_total"])
    committed = int(status.get("artifacts_committed") or 0)
    pending = int(status.get("artifacts_pending") or 0)
    tail = ""
    if committed:
        tail += f", {committed} artifact{'s' if committed != 1 else ''} committed"
    if pending:
        tail += f", {pending} artifact{'s' if pending != 1 else ''} not committed yet"
    if not total:
        return tail
    plural = "s" if total != 1 else ""
    recorded, sent = int(status["files_recorded"]), int(status["blob_bytes_sent"])
    if not recorded and not sent:
        return f", {total} file{plural}{tail}"
    return f", {total} file{plural} ({recorded} new, {_size(sent)} sent){tail}"


def _settle_artifacts(run_dir: Path) -> None:
    """Move the staged bytes of the run's committed artifacts into the download cache and
    remove their staging dirs (docs/artifacts.md, "Online and sync"); never fails the sync."""
    from fwtrack.artifacts import staging

    try:
        staging.settle(run_dir)
    except Exception as exc:  # a clean-up only
        _warn(f"cleaning up the staged artifact files of {run_dir} failed: {exc}")


def _replay_links(run_dir: Path, target: Target, entity: str | None, final: bool) -> str:
    """Make the run's pending registry links on the server; `, 1 registry link made` (and
    what is left or was refused) for the run's line. Never fails the sync."""
    from fwtrack.registry import links

    if not links.pending_links(run_dir):
        return ""
    from fwtrack._http import HttpClient
    from fwtrack.artifacts.remote import RemoteRegistry
    from fwtrack.registry.remote import RemoteModels

    try:
        client = HttpClient(target.base_url, target.api_key)
        owner = entity or str(client.get_json("/viewer")["name"])
        models = RemoteModels(client, owner, RemoteRegistry(client, owner))
        outcome = links.replay(run_dir, models, artifact_entity=owner, final=final)
    except Exception as exc:  # the links stay pending for the next sync
        _warn(f"the registry links of {run_dir} were not made: {exc}")
        return ""
    for doc, reason in outcome.failed:
        _warn(
            f"the server refused the registry link of {doc['artifact']['name']} to "
            f"{doc['model']}: {str(reason).splitlines()[0]} (kept in "
            f"{links.link_dir(run_dir, links.FAILED)})"
        )
    note = ""
    if outcome.done:
        n = len(outcome.done)
        note += f", {n} registry link{'s' if n != 1 else ''} made"
    if outcome.left:
        n = len(outcome.left)
        note += f", {n} registry link{'s' if n != 1 else ''} not made yet"
    if outcome.failed:
        note += f", {len(outcome.failed)} refused"
    return note


def _sync_one(
    run_dir: Path,
    target: Target,
    *,
    follow: bool,
    stall_timeout: float,
    progress: _Progress,
) -> Result:
    linked = _linked_log(run_dir)
    if linked is not None:
        progress.done(f"{run_dir}  FAILED: {linked}")
        return Result(run_dir, str(run_dir), "failed", message=linked)
    state = _up_to_date(run_dir, target)
    entity = target.entity
    if state is not None:
        # The log is on the server: only files can be new, checked without a request when
        # they are unchanged.
        project, run_id = str(state.get("project")), str(state.get("run_id"))
        entity = str(state.get("entity") or "") or entity
    else:
        try:
            project, run_id = _identity(run_dir)
        except ValueError as exc:
            progress.done(f"{run_dir}  FAILED: {exc}")
            return Result(run_dir, str(run_dir), "failed", message=str(exc))
    live = _core.is_locked(str(run_dir))
    uploader = _core.Uploader(
        target.base_url,
        target.api_key,
        project,
        run_id,
        str(run_dir),
        entity=entity,
        follow=follow and live,
    )
    if not (follow and live):
        uploader.complete()
    name = f"{entity}/{project}/{run_id}" if entity else f"{project}/{run_id}"
    last_moved: tuple[int, ...] = ()
    last_change = time.monotonic()
    try:
        while True:
            ended = uploader.wait(_POLL)
            status = uploader.status()
            for w in uploader.take_warnings():
                _warn(w)
            if status["entity"]:
                name = f"{status['entity']}/{project}/{run_id}"
            if ended:
                break
            acked, size = status["acked"], status["local_size"]
            note = "  (following the live run)" if follow and live else ""
            if status["files_total"]:
                done = status["files_total"] - status["files_pending"]
                note = f"  files {done}/{status['files_total']}{note}"
            progress.update(name, acked, size, note)
            moved = (acked, status["files_recorded"], status["blob_bytes_sent"])
            waiting = follow and live and acked >= size and not status["complete"]
            if moved != last_moved or waiting:
                last_moved, last_change = moved, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout:
                break  # no progress for too long: give up on this run
    except KeyboardInterrupt:
        uploader.abort()
        progress.done(f"{name}  interrupted")
        raise
    outcome = uploader.finish(0)
    for w in uploader.take_warnings():
        _warn(w)
    status = uploader.status()
    size = (run_dir / _core.LOG_FILE_NAME).stat().st_size
    files = _files_note(status)
    _settle_artifacts(run_dir)
    linked = ""
    if outcome["done"]:
        from fwtrack.artifacts import staging

        all_committed = not staging.pending_files(run_dir)
        linked = _replay_links(run_dir, target, status["entity"] or entity, all_committed)
        files += linked
    if outcome["done"]:
        (run_dir / LEGACY_FILES_STATE).unlink(missing_ok=True)
        sent = (
            status["files_recorded"]
            or status["blobs_sent"]
            or status.get("artifacts_committed")
            or linked
        )
        if state is not None and not sent:
            progress.done(f"{name}  up to date ({_size(size)}{files})")
            return Result(run_dir, name, "up to date", size)
        tail = outcome["unsent_tail"]
        note = f" ({_size(tail)} torn tail left out)" if tail else ""
        progress.done(f"{name}  {_size(outcome['acked'])}  uploaded{note}{files}")
        return Result(run_dir, name, "uploaded", size)
    reason = outcome["error"] or status["last_error"]
    if reason is None:
        reason = f"no progress for {stall_timeout:g} s"
    reason = reason.removeprefix("fwtrack: ")
    where = f"{_size(outcome['acked'])} of {_size(size)}"
    if outcome["remaining"] == 0 and outcome["files_pending"]:
        where = f"{outcome['files_pending']} of {status['files_total']} files"
    progress.done(f"{name}  FAILED at {where}: {reason.splitlines()[0]}")
    return Result(run_dir, name, "failed", size, reason)


def _target(base_url: str | None, entity: str | None) -> Target:
    url = base_url or FWTRACK_BASE_URL.get() or credentials.default_url()
    if url is None:
        raise SyncError(
            "no server to sync to\n"
            "hint: pass --base-url URL, set FWTRACK_BASE_URL, or run `fwtrack login URL`"
        )
    url = credentials.normalize_url(url)
    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1]) == 0:
        raise SyncError(
            f"{url!r} is not a server address\nhint: use http(s)://host[:port], "
            "e.g. --base-url https://fwtrack.example.com"
        )
    key = FWTRACK_API_KEY.get() or credentials.lookup(url)
    if key is None:
        raise SyncError(
            f"no API key for {url}\nhint: run `fwtrack login {url}` (or set FWTRACK_API_KEY)"
        )
    entity = entity or FWTRACK_ENTITY.get()
    return Target(url, key, entity)


def sync_runs(
    run_dirs: list[Path],
    target: Target,
    *,
    follow: bool = False,
    stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    out: TextIO | None = None,
) -> list[Result]:
    """Upload each run in `run_dirs` (live runs last), printing progress to `out`."""
    progress = _Progress(out or sys.stdout)
    ordered = sorted(run_dirs, key=lambda d: _core.is_locked(str(d)))
    return [
        _sync_one(d, target, follow=follow, stall_timeout=stall_timeout, progress=progress)
        for d in ordered
    ]


# -- the command -------------------------------------------------------------------------------


def _cmd_sync(args: argparse.Namespace) -> int:
    if not args.paths and not args.all:
        raise SyncError(
            "name the runs to sync\nhint: `fwtrack sync <run dir>` (or a project or root "
            "directory), or `fwtrack sync --all` for every run under --dir/FWTRACK_DIR"
        )
    if args.entity is not None and not _valid_entity(args.entity):
        raise SyncError(
            f"--entity {args.entity!r} is not a valid entity: use a user or team name of "
            "1-64 characters of A-Z a-z 0-9 _ . -"
        )
    # With PATHs named, `--all` means every run below them (never ./fwtrack besides).
    all_runs = args.all and not args.paths
    runs = find_runs(args.paths, all_runs=all_runs, root=_root_dir(getattr(args, "dir", None)))
    if not runs:
        raise SyncError("no runs to sync")
    target = _target(args.base_url, args.entity)
    results = sync_runs(runs, target, follow=args.follow, stall_timeout=args.timeout)
    uploaded = sum(r.status == "uploaded" for r in results)
    current = sum(r.status == "up to date" for r in results)
    failed = [r for r in results if r.status == "failed"]
    plural = "s" if len(results) != 1 else ""
    print(
        f"synced {len(results)} run{plural} to {target.base_url}: {uploaded} uploaded, "
        f"{current} already up to date, {len(failed)} failed"
    )
    if failed:
        dirs = " ".join(shlex.quote(str(r.run_dir)) for r in failed)
        print(
            f"fwtrack: error: {len(failed)} run(s) could not be uploaded; fix the cause above "
            f"and run `fwtrack sync {dirs}` again",
            file=sys.stderr,
        )
        return 1
    return 0


def _valid_entity(name: str) -> bool:
    try:
        path_names.check_entity(name)
    except ValueError:
        return False
    return True


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """Register `fwtrack sync` and `fwtrack login` on the CLI's subcommands."""
    from fwtrack.sdk import login

    sync = sub.add_parser(
        "sync",
        parents=parents,
        help="upload local runs to a fwtrack server",
        description=(
            "Upload local runs to a fwtrack server, resuming where earlier uploads stopped. "
            "Runs already on the server are skipped; re-running is harmless."
        ),
        epilog=(
            "The server is --base-url, else $FWTRACK_BASE_URL, else the one `fwtrack login` "
            "made the default; the key is $FWTRACK_API_KEY, else the one stored by "
            "`fwtrack login`."
        ),
    )
    sync.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="run directories, or project/root directories holding runs",
    )
    sync.add_argument(
        "--all",
        action="store_true",
        help="every run under the PATHs, or without PATH under --dir ($FWTRACK_DIR or ./fwtrack)",
    )
    sync.add_argument(
        "--follow",
        action="store_true",
        help="keep uploading runs that are still being written until their writers finish",
    )
    sync.add_argument("--base-url", default=None, help="the server (default: see below)")
    sync.add_argument(
        "--entity",
        default=None,
        help="user or team to upload to (default: $FWTRACK_ENTITY, else the key's user)",
    )
    sync.add_argument(
        "--timeout",
        type=_positive,
        default=DEFAULT_STALL_TIMEOUT,
        metavar="SECONDS",
        help=(
            f"give up on a run after this long without progress (default {DEFAULT_STALL_TIMEOUT:g})"
        ),
    )
    sync.set_defaults(func=_cmd_sync)
    login.add_command(sub, parents)
