"""Run ids, project names and generated display names."""

from __future__ import annotations

import os
import re
import secrets

__all__ = ["check_project", "check_run_id", "generate_name", "generate_run_id"]

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_SAFE = re.compile(r"[A-Za-z0-9_.\-]+")

_ADJECTIVES = (
    "amber", "bold", "brisk", "calm", "clever", "crisp", "dapper", "eager", "fancy", "fearless",
    "gentle", "glad", "golden", "hardy", "honest", "jolly", "keen", "lively", "lucky", "mellow",
    "misty", "noble", "polar", "proud", "quiet", "rapid", "rosy", "royal", "rustic", "silent",
    "silver", "snowy", "solar", "steady", "sunny", "swift", "tidy", "vivid", "wandering", "witty",
)  # fmt: skip
_NOUNS = (
    "aurora", "badger", "breeze", "brook", "canyon", "cedar", "comet", "cosmos", "dawn", "delta",
    "dune", "ember", "falcon", "fern", "field", "forest", "galaxy", "glacier", "harbor", "haze",
    "lake", "lantern", "meadow", "moon", "nebula", "ocean", "orbit", "pine", "planet", "prairie",
    "rain", "river", "sky", "snow", "spark", "star", "sun", "thunder", "valley", "wave",
)  # fmt: skip


def generate_run_id() -> str:
    """8 random characters of lowercase base36."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _check(kind: str, value: object, max_len: int) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    if not 1 <= len(value) <= max_len or _SAFE.fullmatch(value) is None or value in {".", ".."}:
        raise ValueError(
            f"invalid {kind} {value!r}: use 1-{max_len} characters of A-Z, a-z, 0-9, '_', '.', '-'"
        )
    return value


def check_run_id(run_id: object) -> str:
    """`run_id` when it is 1-64 characters of `[A-Za-z0-9_.-]` (not `.` or `..`)."""
    return _check("run id", run_id, 64)


def check_project(project: object) -> str:
    """`project` when it is 1-128 characters of `[A-Za-z0-9_.-]` (not `.` or `..`)."""
    return _check("project name", project, 128)


def generate_name(project_dir: str) -> str:
    """A display name like `brisk-river-3`: the number counts the runs in the project."""
    try:
        n = sum(1 for e in os.scandir(project_dir) if e.is_dir()) + 1
    except OSError:
        n = 1
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{n}"
