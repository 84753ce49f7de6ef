"""Names that become parts of a path: entities, projects, run ids and run-file paths.

One validator for everyone who turns a name from outside into a path: the server checks the
names in a request's URL with it (`fwtrack.server.errors` answers a failure `400`), and the
remote client (`fwtrack.Api(base_url=...)`) checks the names in a server's answers and in a
run log with it before they name anything in its cache. Standard library only, so the client
imports it without the `server` extra.

- entity: 1-64 characters of `[A-Za-z0-9_.-]`, not `.` or `..`
- project: 1-128 such characters, not `.` or `..`
- run id: 1-64 such characters, not `.` or `..`
- run-file path: `/`-separated parts of such characters, none empty, `.` or `..`, at most
  512 characters in all (so never absolute, never a backslash, never a NUL)

`contained(root, *parts)` then resolves a path built from checked names and makes sure it is
still under `root` (a symbolic link on the way could lead elsewhere).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "MAX_ENTITY",
    "MAX_FILE_PATH",
    "MAX_PROJECT",
    "MAX_RUN_ID",
    "check_entity",
    "check_file_path",
    "check_project",
    "check_run_id",
    "contained",
]

MAX_ENTITY = 64
MAX_PROJECT = 128
MAX_RUN_ID = 64
MAX_FILE_PATH = 512

_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")


def _shown(value: object) -> str:
    """`value` for an error message: its repr, cut to 80 characters."""
    text = repr(value[:80]) if isinstance(value, str) else repr(value)[:80]
    return text + ("..." if isinstance(value, str) and len(value) > 80 else "")


def _check(kind: str, value: object, max_len: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"invalid {kind} {_shown(value)}: expected a str")
    if not 1 <= len(value) <= max_len or _SAFE.fullmatch(value) is None or value in {".", ".."}:
        raise ValueError(
            f"invalid {kind} {_shown(value)}: use 1-{max_len} characters of A-Z, a-z, 0-9, "
            "'_', '.', '-' (not '.' or '..')"
        )
    return value


def check_entity(entity: object) -> str:
    """`entity` when it is a valid user or team name, else ValueError naming it."""
    return _check("entity", entity, MAX_ENTITY)


def check_project(project: object) -> str:
    """`project` when it is a valid project name, else ValueError naming it."""
    return _check("project name", project, MAX_PROJECT)


def check_run_id(run_id: object) -> str:
    """`run_id` when it is a valid run id, else ValueError naming it."""
    return _check("run id", run_id, MAX_RUN_ID)


def check_file_path(path: object) -> str:
    """`path` when it is a valid relative run-file path, else ValueError naming it."""
    if not isinstance(path, str):
        raise ValueError(f"invalid file path {_shown(path)}: expected a str")
    parts = path.split("/")
    if (
        not path
        or len(path) > MAX_FILE_PATH
        or any(p in {"", ".", ".."} or _SAFE.fullmatch(p) is None for p in parts)
    ):
        raise ValueError(
            f"invalid file path {_shown(path)}: use '/'-separated names of A-Z, a-z, 0-9, "
            f"'_', '.', '-' (no empty, '.' or '..' parts), at most {MAX_FILE_PATH} characters"
        )
    return path


def contained(root: str | os.PathLike[str], *parts: str) -> Path:
    """`root/parts...` resolved (symbolic links followed), when it is `root` itself or below
    the resolved `root`; else ValueError. `parts` should be checked names already: this is
    the second line of defence, against links and anything a check let through."""
    base = Path(os.fspath(root)).resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        shown = "/".join(parts)
        raise ValueError(f"{_shown(shown)} leads outside {base} (to {target})")
    return target
