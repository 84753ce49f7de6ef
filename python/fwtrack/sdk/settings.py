"""Run settings and the `FWTRACK_*` environment variables.

Each environment variable is declared once, in `ENV_VARS`, with a doc line; `docs/env.md` is
generated from these declarations (`python -m fwtrack.sdk.envdocs > docs/env.md`).
Arguments to `fwtrack.init` beat the environment, which beats the defaults.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "ENV_VARS",
    "FWTRACK_DIR",
    "FWTRACK_FLUSH_INTERVAL",
    "FWTRACK_MODE",
    "FWTRACK_NAME",
    "FWTRACK_PROJECT",
    "FWTRACK_RUN_ID",
    "FWTRACK_TAGS",
    "MODES",
    "EnvVar",
    "Settings",
    "render_env_docs",
]

MODES = ("offline", "online", "disabled")
"""The run modes `fwtrack.init(mode=...)` and `FWTRACK_MODE` accept."""

DEFAULT_FLUSH_INTERVAL = 1.0
MAX_FLUSH_INTERVAL = 3600.0
DEFAULT_QUEUE_CAPACITY = 65536


@dataclass(frozen=True)
class EnvVar:
    """One `FWTRACK_*` environment variable: its name, a doc line and its default."""

    name: str
    doc: str
    default: str | None = None
    allowed: tuple[str, ...] | None = None

    def get(self) -> str | None:
        """The variable's value, or None when it is unset or blank.

        A value outside `allowed` raises ValueError naming the variable and the allowed values.
        """
        raw = os.environ.get(self.name)
        if raw is None or not raw.strip():
            return None
        value = raw.strip()
        if self.allowed is not None and value not in self.allowed:
            allowed = ", ".join(repr(a) for a in self.allowed)
            raise ValueError(f"{self.name}={raw!r} is not valid: allowed values are {allowed}")
        return value


FWTRACK_DIR = EnvVar(
    "FWTRACK_DIR",
    "Root directory for run logs; a run lives in `<dir>/<project>/<run id>/`.",
    default="./fwtrack",
)
FWTRACK_MODE = EnvVar(
    "FWTRACK_MODE",
    "Run mode: `offline` (log locally), `online` (log locally; uploads come with the server), "
    "or `disabled` (every call is a cheap no-op, nothing is written).",
    default="offline",
    allowed=MODES,
)
FWTRACK_PROJECT = EnvVar(
    "FWTRACK_PROJECT",
    "Project name when `init` gets none (1-128 characters of `A-Z a-z 0-9 _ . -`).",
    default="uncategorized",
)
FWTRACK_RUN_ID = EnvVar(
    "FWTRACK_RUN_ID",
    "Run id when `init` gets none (1-64 characters of `A-Z a-z 0-9 _ . -`); "
    "with `resume`, the run to continue.",
    default="8 random base36 characters",
)
FWTRACK_NAME = EnvVar(
    "FWTRACK_NAME",
    "Display name of the run when `init` gets none.",
    default="generated, e.g. `brisk-river-3`",
)
FWTRACK_TAGS = EnvVar(
    "FWTRACK_TAGS",
    "Comma-separated tags when `init` gets none, e.g. `baseline,lr-sweep`.",
    default=None,
)
FWTRACK_FLUSH_INTERVAL = EnvVar(
    "FWTRACK_FLUSH_INTERVAL",
    "Seconds (> 0) after which logged data is durably on disk; `Settings.flush_interval` beats it.",
    default=str(DEFAULT_FLUSH_INTERVAL),
)

ENV_VARS: tuple[EnvVar, ...] = (
    FWTRACK_DIR,
    FWTRACK_MODE,
    FWTRACK_PROJECT,
    FWTRACK_RUN_ID,
    FWTRACK_NAME,
    FWTRACK_TAGS,
    FWTRACK_FLUSH_INTERVAL,
)


def _check_flush_interval(value: float, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{source} must be a number of seconds, got {type(value).__name__}")
    if not 0 < value <= MAX_FLUSH_INTERVAL:
        raise ValueError(
            f"{source} must be a number of seconds in (0, {MAX_FLUSH_INTERVAL:g}], got {value!r}"
        )
    return float(value)


def _env_flush_interval() -> float:
    raw = FWTRACK_FLUSH_INTERVAL.get()
    if raw is None:
        return DEFAULT_FLUSH_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_FLUSH_INTERVAL:
        raise ValueError(
            f"FWTRACK_FLUSH_INTERVAL={raw!r} is not valid: "
            f"allowed values are seconds in (0, {MAX_FLUSH_INTERVAL:g}], e.g. 1.0"
        )
    return value


@dataclass(frozen=True)
class Settings:
    """Tuning knobs of a run, passed as `fwtrack.init(settings=Settings(...))` or as a dict.

    `flush_interval`: seconds after which logged data is durably on disk (default 1.0, or
    `FWTRACK_FLUSH_INTERVAL`). `queue_capacity`: how many log calls may wait for the writer
    thread before `log()` blocks (default 65536); memory stays bounded either way.
    """

    flush_interval: float = field(default_factory=_env_flush_interval)
    queue_capacity: int = DEFAULT_QUEUE_CAPACITY

    def __post_init__(self) -> None:
        _check_flush_interval(self.flush_interval, "Settings.flush_interval")
        q = self.queue_capacity
        if isinstance(q, bool) or not isinstance(q, int):
            raise TypeError(f"Settings.queue_capacity must be an int, got {type(q).__name__}")
        if not 1 <= q <= 1 << 24:
            raise ValueError(f"Settings.queue_capacity must be in 1..={1 << 24}, got {q}")

    @classmethod
    def coerce(cls, settings: Settings | Mapping[str, Any] | None) -> Settings:
        """`Settings` from a `Settings`, a dict of its fields, or None (the defaults)."""
        if settings is None:
            return cls()
        if isinstance(settings, Settings):
            return settings
        if isinstance(settings, Mapping):
            known = {f.name for f in fields(cls)}
            for key in settings:
                if key not in known:
                    allowed = ", ".join(sorted(known))
                    raise ValueError(f"unknown setting {key!r}: allowed settings are {allowed}")
            return cls(**settings)
        raise TypeError(
            f"settings must be a fwtrack.Settings or a dict, got {type(settings).__name__}"
        )


def render_env_docs() -> str:
    """The Markdown text of `docs/env.md`, generated from `ENV_VARS`."""
    lines = [
        "# Environment variables",
        "",
        "<!-- Generated from python/fwtrack/sdk/settings.py by",
        "     `python -m fwtrack.sdk.envdocs > docs/env.md`; do not edit by hand. -->",
        "",
        "Arguments to `fwtrack.init` beat these variables, which beat the defaults. A blank",
        "variable counts as unset; a bad value raises `ValueError` naming the variable.",
        "",
        "| Variable | Default | Meaning |",
        "| --- | --- | --- |",
    ]
    for var in ENV_VARS:
        default = f"`{var.default}`" if var.default is not None else "(none)"
        if var.default is not None and " " in var.default:
            default = var.default
        lines.append(f"| `{var.name}` | {default} | {var.doc} |")
    return "\n".join(lines) + "\n"
