"""HTTP errors with a JSON `{"detail": ...}` body, and validation of names from URLs."""

from __future__ import annotations

import re

__all__ = [
    "ApiError",
    "check_entity",
    "check_file_path",
    "check_project",
    "check_run_id",
]

_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")


class ApiError(Exception):
    """An error answered as `status` with `{"detail": detail}` (plus `extra` fields)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, object] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def _check(kind: str, value: str, max_len: int) -> str:
    if not 1 <= len(value) <= max_len or _SAFE.fullmatch(value) is None or value in {".", ".."}:
        raise ApiError(
            400,
            f"invalid {kind} {value[:80]!r}: use 1-{max_len} characters of A-Z, a-z, 0-9, "
            "'_', '.', '-' (not '.' or '..')",
        )
    return value


def check_entity(entity: str) -> str:
    """A user or team name: 1-64 characters of `[A-Za-z0-9_.-]`."""
    return _check("entity", entity, 64)


def check_project(project: str) -> str:
    """A project name: 1-128 characters of `[A-Za-z0-9_.-]`."""
    return _check("project name", project, 128)


def check_run_id(run_id: str) -> str:
    """A run id: 1-64 characters of `[A-Za-z0-9_.-]`."""
    return _check("run id", run_id, 64)


MAX_FILE_PATH = 512


def check_file_path(path: str) -> str:
    """A relative run-file path: `/`-separated parts of `[A-Za-z0-9_.-]`, none `.` or `..`,
    at most 512 characters. Anything else (absolute paths, backslashes, traversal) is a 400."""
    parts = path.split("/")
    if (
        not path
        or len(path) > MAX_FILE_PATH
        or any(p in {"", ".", ".."} or _SAFE.fullmatch(p) is None for p in parts)
    ):
        raise ApiError(
            400,
            f"invalid file path {path[:80]!r}: use '/'-separated names of A-Z, a-z, 0-9, "
            f"'_', '.', '-' (no empty, '.' or '..' parts), at most {MAX_FILE_PATH} characters",
        )
    return path
