"""`EnvVar`: the declaration of one `FWTRACK_*` environment variable (standard library only,
so that the client's and the server's declarations can both use it without importing more)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

__all__ = ["WANDB_ALIASES", "EnvVar", "wandb_value"]


@dataclass(frozen=True)
class EnvVar:
    """One `FWTRACK_*` environment variable: its name, a doc line and its default."""

    name: str
    doc: str
    default: str | None = None
    allowed: tuple[str, ...] | None = None

    def get(self) -> str | None:
        """The variable's value, or None when it is unset or blank. Unset, in a process that
        uses the W&B shim (`fwtrack.wandb` imported), its `WANDB_*` counterpart is read
        instead (`WANDB_ALIASES`), translated to fwtrack's values.

        A value outside `allowed` raises ValueError naming the variable and the allowed values.
        """
        source = self.name
        raw = os.environ.get(self.name)
        if raw is None or not raw.strip():
            found = _wandb_lookup(self.name)
            if found is None:
                return None
            source, raw = found
        value = raw.strip()
        if self.allowed is not None and value not in self.allowed:
            allowed = ", ".join(repr(a) for a in self.allowed)
            where = self.name if source == self.name else f"{source} (read as {self.name})"
            raise ValueError(f"{where}={raw!r} is not valid: allowed values are {allowed}")
        return value


# -- W&B's names ----------------------------------------------------------------------------
# In a process that uses the W&B shim (`import fwtrack.wandb`, or `install()`), a `WANDB_*`
# variable is read as its `FWTRACK_*` counterpart when that one is unset, so a W&B user's
# environment keeps working (docs/wandb.md lists them). Plain fwtrack code is never steered
# by variables set for W&B itself (a `WANDB_DIR` or `WANDB_PROJECT` meant for real W&B
# runs). Values W&B has and fwtrack spells differently are translated; a value with no
# fwtrack meaning reads as unset (the fwtrack default), never as an error in a variable the
# user set for W&B.

_WANDB_HOSTS = ("api.wandb.ai", "wandb.ai")


def _wandb_mode(value: str) -> str | None:
    mode = value.lower()
    if mode in ("offline", "dryrun"):
        return "offline"
    if mode == "disabled":
        return "disabled"
    # "online"/"run": fwtrack's default already is online when a server is set, else offline.
    return None


def _wandb_bool(value: str) -> str | None:
    flag = value.lower()
    if flag in ("true", "1", "yes"):
        return "true"
    if flag in ("false", "0", "no"):
        return "false"
    return None


def _wandb_not(value: str) -> str | None:
    flag = _wandb_bool(value)
    return None if flag is None else ("false" if flag == "true" else "true")


def _wandb_console(value: str) -> str | None:
    return "off" if value.lower() == "off" else "on"


def _wandb_log_model(value: str) -> str | None:
    choice = value.lower()
    if choice in ("checkpoint", "end", "false"):
        return choice
    if choice in ("true", "1"):
        return "end"  # W&B's older boolean form: the final model
    return None


def _wandb_base_url(value: str) -> str | None:
    host = value.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    if host in _WANDB_HOSTS:
        return None  # W&B's own cloud is not an fwtrack server
    return value


def _wandb_api_key(value: str) -> str | None:
    # A W&B key goes only to the server WANDB_BASE_URL names (never to another one).
    if os.environ.get("FWTRACK_BASE_URL", "").strip():
        return None
    base = os.environ.get("WANDB_BASE_URL", "").strip()
    return value if base and _wandb_base_url(base) is not None else None


def _same(value: str) -> str | None:
    return value


WANDB_ALIASES: dict[str, tuple[str, ...]] = {
    "FWTRACK_PROJECT": ("WANDB_PROJECT",),
    "FWTRACK_ENTITY": ("WANDB_ENTITY",),
    "FWTRACK_MODE": ("WANDB_MODE",),
    "FWTRACK_DIR": ("WANDB_DIR",),
    "FWTRACK_NAME": ("WANDB_NAME",),
    "FWTRACK_NOTES": ("WANDB_NOTES",),
    "FWTRACK_TAGS": ("WANDB_TAGS",),
    "FWTRACK_RUN_ID": ("WANDB_RUN_ID",),
    "FWTRACK_RESUME": ("WANDB_RESUME",),
    "FWTRACK_GROUP": ("WANDB_RUN_GROUP",),
    "FWTRACK_JOB_TYPE": ("WANDB_JOB_TYPE",),
    "FWTRACK_LOG_MODEL": ("WANDB_LOG_MODEL",),
    "FWTRACK_CONSOLE": ("WANDB_CONSOLE",),
    "FWTRACK_BASE_URL": ("WANDB_BASE_URL",),
    "FWTRACK_API_KEY": ("WANDB_API_KEY",),
    "FWTRACK_SAVE_CODE": ("WANDB_SAVE_CODE", "WANDB_DISABLE_CODE"),
    "FWTRACK_CAPTURE_ENV": ("WANDB_DISABLE_META",),
    "FWTRACK_SYSTEM_METRICS": ("WANDB_DISABLE_STATS",),
    "FWTRACK_CONFIG_DIR": ("WANDB_CONFIG_DIR",),
    "FWTRACK_CACHE_DIR": ("WANDB_CACHE_DIR",),
    "FWTRACK_ARTIFACT_DIR": ("WANDB_ARTIFACT_DIR",),
    "FWTRACK_SILENT": ("WANDB_SILENT",),
    "FWTRACK_WATCH": ("WANDB_WATCH",),
}
"""For each `FWTRACK_*` variable, the `WANDB_*` ones read (in order) when it is unset."""

_WANDB_VALUE = {
    "WANDB_MODE": _wandb_mode,
    "WANDB_CONSOLE": _wandb_console,
    "WANDB_LOG_MODEL": _wandb_log_model,
    "WANDB_BASE_URL": _wandb_base_url,
    "WANDB_API_KEY": _wandb_api_key,
    "WANDB_SAVE_CODE": _wandb_bool,
    "WANDB_DISABLE_CODE": _wandb_not,
    "WANDB_DISABLE_META": _wandb_not,
    "WANDB_DISABLE_STATS": _wandb_not,
    "WANDB_SILENT": _wandb_bool,
}


def _wandb_lookup(name: str) -> tuple[str, str] | None:
    if "fwtrack.wandb" not in sys.modules:
        return None
    for alias in WANDB_ALIASES.get(name, ()):
        raw = os.environ.get(alias)
        if raw is None or not raw.strip():
            continue
        value = _WANDB_VALUE.get(alias, _same)(raw.strip())
        return None if value is None else (alias, value)
    return None


def wandb_value(name: str) -> str | None:
    """The value `FWTRACK_*` variable `name` takes from its `WANDB_*` counterparts (the first
    set one, translated to fwtrack's spelling) in a process using the W&B shim, or None."""
    found = _wandb_lookup(name)
    return None if found is None else found[1]
