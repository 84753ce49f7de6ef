"""Run ids, project names and generated display names."""

from __future__ import annotations

import os
import secrets

from fwtrack import path_names

__all__ = ["check_project", "check_run_id", "generate_name", "generate_run_id"]

_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"

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


def _str(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{kind} must be a str, got {type(value).__name__}")
    return value


def check_run_id(run_id: object) -> str:
    """`run_id` when it is 1-64 characters of `[A-Za-z0-9_.-]` (not `.` or `..`): TypeError
    for a non-str, ValueError naming it otherwise (the checks of `fwtrack.path_names`)."""
    return path_names.check_run_id(_str("run id", run_id))


def check_project(project: object) -> str:
    """`project` when it is 1-128 characters of `[A-Za-z0-9_.-]` (not `.` or `..`): TypeError
    for a non-str, ValueError naming it otherwise (the checks of `fwtrack.path_names`)."""
    return path_names.check_project(_str("project name", project))


def generate_name(project_dir: str) -> str:
    """A display name like `brisk-river-3`: the number counts the runs in the project."""
    try:
        n = sum(1 for e in os.scandir(project_dir) if e.is_dir()) + 1
    except OSError:
        n = 1
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{n}"
