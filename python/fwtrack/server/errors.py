"""HTTP errors with a JSON `{"detail": ...}` body, and validation of names from URLs."""

from __future__ import annotations

from collections.abc import Callable

from fwtrack import path_names

__all__ = [
    "ApiError",
    "check_entity",
    "check_file_path",
    "check_project",
    "check_run_id",
]


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


def _bad_request(check: Callable[[object], str], value: str) -> str:
    """`value` when `check` (one of `fwtrack.path_names`, shared with the client) accepts it;
    else a 400 naming it."""
    try:
        return check(value)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def check_entity(entity: str) -> str:
    """A user or team name: 1-64 characters of `[A-Za-z0-9_.-]`."""
    return _bad_request(path_names.check_entity, entity)


def check_project(project: str) -> str:
    """A project name: 1-128 characters of `[A-Za-z0-9_.-]`."""
    return _bad_request(path_names.check_project, project)


def check_run_id(run_id: str) -> str:
    """A run id: 1-64 characters of `[A-Za-z0-9_.-]`."""
    return _bad_request(path_names.check_run_id, run_id)


MAX_FILE_PATH = path_names.MAX_FILE_PATH


def check_file_path(path: str) -> str:
    """A relative run-file path: `/`-separated parts of `[A-Za-z0-9_.-]`, none `.` or `..`,
    at most 512 characters. Anything else (absolute paths, backslashes, traversal) is a 400."""
    return _bad_request(path_names.check_file_path, path)
