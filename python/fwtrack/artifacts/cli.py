"""`fwtrack artifact`: log, download and list artifacts, and bound the download cache.

    fwtrack artifact put PATH --name PROJECT/NAME --type T [--alias A]... [--description D]
    fwtrack artifact get PROJECT/NAME[:REF] [--root DIR]
    fwtrack artifact ls PROJECT [--type T]
    fwtrack artifact cache cleanup SIZE

A server is used when one is set (`--base-url`, else `FWTRACK_BASE_URL`, else the default of
`fwtrack login`) and `FWTRACK_MODE` is not `offline`; otherwise the local registry under
`--dir`/`FWTRACK_DIR` (`./fwtrack`). `put` starts a run of job type `artifact-put` in the
project (online when a server is set), logs PATH (a file or a directory), waits for the
version and prints `PROJECT/NAME:vN` and the digest.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from fwtrack.errors import FwTrackError

__all__ = ["add_commands"]

JOB_TYPE = "artifact-put"


def human_size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _server_url(args: argparse.Namespace) -> str | None:
    """The server to use, or None for the local registry."""
    from fwtrack import credentials
    from fwtrack.sdk.settings import FWTRACK_BASE_URL, FWTRACK_MODE

    if getattr(args, "base_url", None):
        return str(args.base_url)
    if FWTRACK_MODE.get() in ("offline", "disabled"):
        return None
    return FWTRACK_BASE_URL.get() or credentials.default_url()


def _api(args: argparse.Namespace) -> Any:
    from fwtrack.api import Api

    url = _server_url(args)
    if url is not None:
        return Api(base_url=url)
    return Api(getattr(args, "dir", None))


def _friendly(func: Any) -> Any:
    """A command whose bad values (ValueError, TypeError) end in one error line, exit 1."""

    def run(args: argparse.Namespace) -> int:
        try:
            status: int = func(args)
        except (ValueError, TypeError) as exc:
            if isinstance(exc, FwTrackError):
                raise
            raise FwTrackError(str(exc)) from None
        return status

    return run


# -- put ----------------------------------------------------------------------------------------


def _split_name(spec: str) -> tuple[str, str]:
    from fwtrack.sdk.settings import FWTRACK_PROJECT

    parts = spec.strip().split("/")
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    if len(parts) == 1 and parts[0]:
        project = FWTRACK_PROJECT.get()
        if project:
            return project, parts[0]
    raise ValueError(
        f"--name {spec!r}: give the project and the artifact name as PROJECT/NAME, e.g. "
        "--name mnist/mnist-train (or set FWTRACK_PROJECT and give NAME alone)"
    )


def _cmd_put(args: argparse.Namespace) -> int:
    import fwtrack
    from fwtrack.artifacts.registry import check_aliases, check_name, check_type

    path = Path(args.path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; name a file or a directory to log")
    project, name = _split_name(args.name)
    check_name(name)
    check_type(args.type)
    aliases = check_aliases(args.alias or [])
    url = _server_url(args)
    settings: dict[str, Any] = {
        "save_code": False,
        "capture_env": False,
        "console": False,
        "system_interval": 0,
    }
    if url is not None:
        settings["base_url"] = url
    art = fwtrack.Artifact(name, type=args.type, description=args.description)
    if path.is_dir():
        art.add_dir(str(path))
    else:
        art.add_file(str(path))
    dir_ = getattr(args, "dir", None)
    started = time.monotonic()
    run = fwtrack.init(
        project=project,
        job_type=JOB_TYPE,
        dir=dir_,
        mode="online" if url is not None else "offline",
        settings=settings,
    )
    try:
        logged = run.log_artifact(art, aliases=aliases)
        committed = _wait(run, logged)
    except BaseException:
        run.finish(exit_code=1)
        raise
    if not committed:
        assert run._uploader is not None
        reason = run._uploader.status().get("last_error") or "no progress"
        run._uploader.abort()  # the version is staged: `fwtrack sync` commits it
        run.finish()
        raise FwTrackError(
            f"{project}/{name} is logged but not committed on {url}: the upload made no "
            f"progress for {run.settings.upload_timeout:g} s ({reason}). It is staged with run "
            f"{run.id}; commit it once the server answers with:\n    fwtrack sync {run.dir}"
        )
    run.finish()
    where = f"on {url}" if url is not None and run._uploader is not None else "locally"
    print(f"{logged.qualified_name} {logged.digest}")
    plural = "s" if logged.file_count != 1 else ""
    alias_note = f", aliases {', '.join(logged.aliases)}" if logged.aliases else ""
    print(
        f"logged {logged.file_count} file{plural} ({human_size(logged.size)}){alias_note} "
        f"{where} by run {run.id} in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def _wait(run: Any, logged: Any) -> bool:
    """Wait for the version; online, give up (False) once the upload has made no progress
    for the run's upload timeout (`FWTRACK_UPLOAD_TIMEOUT`) with the commit pending."""
    from fwtrack.artifacts import staging

    uploader = run._uploader
    if uploader is None:
        logged.wait()
        return True
    last: tuple[Any, ...] = ()
    since = time.monotonic()
    while True:
        try:
            logged.wait(timeout=0.5)
            return True
        except TimeoutError:
            pass
        status = uploader.status()
        moved = (
            status.get("acked"),
            status.get("blob_bytes_sent"),
            status.get("artifacts_committed"),
            status.get("state"),
        )
        if moved != last or not staging.pending_files(run.dir):  # still hashing: not stalled
            last, since = moved, time.monotonic()
        elif time.monotonic() - since > run.settings.upload_timeout:
            return False


# -- get ----------------------------------------------------------------------------------------


def _cmd_get(args: argparse.Namespace) -> int:
    api = _api(args)
    art = api.artifact(args.ref)
    root = art.download(args.root)
    print(os.path.abspath(root))
    plural = "s" if art.file_count != 1 else ""
    print(
        f"{art.qualified_name}: {art.file_count} file{plural} ({human_size(art.size)}), verified",
        file=sys.stderr,
    )
    return 0


# -- ls -----------------------------------------------------------------------------------------


def _cmd_ls(args: argparse.Namespace) -> int:
    api = _api(args)
    rows = api.artifact_collections(args.project, type=args.type)
    if not rows:
        kind = f" of type {args.type!r}" if args.type else ""
        print(f"no artifacts{kind} in project {args.project!r}")
        return 0
    header = ["NAME", "TYPE", "VERSIONS", "LATEST", "ALIASES", "SIZE", "UPDATED"]
    table = []
    for c in rows:
        aliases = ", ".join(f"{a}={v}" for a, v in sorted((c.get("aliases") or {}).items()))
        updated = c.get("updated_at") or c.get("created_at")
        table.append(
            [
                str(c.get("name")),
                str(c.get("type")),
                str(c.get("versions")),
                str(c.get("latest") or "-"),
                aliases or "-",
                human_size(int(c.get("size") or 0)),
                time.strftime("%Y-%m-%d %H:%M", time.localtime(float(updated)))
                if isinstance(updated, int | float)
                else "-",
            ]
        )
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


# -- cache cleanup ------------------------------------------------------------------------------


def _cmd_cache_cleanup(args: argparse.Namespace) -> int:
    from fwtrack.artifacts import cache

    limit = cache.parse_size(args.size, "SIZE")
    result = cache.cleanup(limit)
    plural = "s" if result.removed != 1 else ""
    print(
        f"freed {human_size(result.freed)} ({result.removed} file{plural}) from "
        f"{cache.blob_dir()}; {human_size(result.remaining)} left (limit {human_size(limit)})"
    )
    return 0


# -- registration -------------------------------------------------------------------------------


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    parents: list[argparse.ArgumentParser],
) -> None:
    """Register `fwtrack artifact ...` on the CLI's subcommands."""
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument(
        "--base-url",
        default=None,
        help="the server (default: $FWTRACK_BASE_URL, else the one `fwtrack login` set; "
        "none: the local registry under --dir)",
    )
    artifact = sub.add_parser(
        "artifact",
        help="log, download and list artifacts; bound the download cache",
        description=(
            "Log a file or directory as a new artifact version, download a version, list a "
            "project's artifacts, or shrink the download cache."
        ),
    )
    commands = artifact.add_subparsers(title="commands", metavar="COMMAND", required=True)

    put = commands.add_parser(
        "put",
        parents=[*parents, server],
        help="log a file or directory as a new artifact version",
        description=(
            "Log PATH (a file or a directory) as a version of PROJECT/NAME from a run of job "
            f"type {JOB_TYPE!r}, wait for it, and print PROJECT/NAME:vN and its digest."
        ),
    )
    put.add_argument("path", metavar="PATH")
    put.add_argument("--name", required=True, metavar="PROJECT/NAME")
    put.add_argument("--type", required=True, metavar="TYPE", help="e.g. dataset or model")
    put.add_argument(
        "--alias", action="append", default=[], metavar="ALIAS", help="repeatable, e.g. best"
    )
    put.add_argument("--description", default=None)
    put.set_defaults(func=_friendly(_cmd_put))

    get = commands.add_parser(
        "get",
        parents=[*parents, server],
        help="download an artifact version and print its directory",
        description=(
            "Download PROJECT/NAME[:REF] (REF: vN, an alias or latest, the default), each file "
            "verified, and print the directory."
        ),
    )
    get.add_argument("ref", metavar="PROJECT/NAME[:REF]")
    get.add_argument(
        "--root",
        default=None,
        metavar="DIR",
        help="where to put the files (default ./artifacts/<name>:<version>, under "
        "$FWTRACK_ARTIFACT_DIR when set)",
    )
    get.set_defaults(func=_friendly(_cmd_get))

    ls = commands.add_parser(
        "ls",
        parents=[*parents, server],
        help="list a project's artifacts",
        description="List the artifact collections of PROJECT with versions, aliases, sizes.",
    )
    ls.add_argument("project", metavar="PROJECT")
    ls.add_argument("--type", default=None, help="only collections of this type")
    ls.set_defaults(func=_friendly(_cmd_ls))

    cache_cmd = commands.add_parser(
        "cache",
        help="manage the download cache",
        description="Manage the artifact download cache ($FWTRACK_CACHE_DIR/artifacts).",
    )
    cache_sub = cache_cmd.add_subparsers(title="commands", metavar="COMMAND", required=True)
    cleanup = cache_sub.add_parser(
        "cleanup",
        help="evict least recently used files until the cache holds at most SIZE",
        description=(
            "Evict the least recently used files of the download cache until it holds at most "
            "SIZE (e.g. 5GB, 500MB, 10GiB or bytes), and print what was freed."
        ),
    )
    cleanup.add_argument("size", metavar="SIZE")
    cleanup.set_defaults(func=_friendly(_cmd_cache_cleanup))
