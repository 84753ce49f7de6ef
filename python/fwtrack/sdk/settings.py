"""Run settings and the `FWTRACK_*` environment variables.

Each environment variable is declared once, with a doc line: the client's here, the server's
in `fwtrack.server.env`. `ENV_VARS` lists them all; `docs/env.md` is generated from it
(`python -m fwtrack.sdk.envdocs > docs/env.md`).
Arguments to `fwtrack.init` beat the environment, which beats the defaults.
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from fwtrack.envvar import EnvVar
from fwtrack.server.env import ENV_VARS as SERVER_ENV_VARS

__all__ = [
    "ENV_VARS",
    "FWTRACK_API_KEY",
    "FWTRACK_ARTIFACT_DIR",
    "FWTRACK_BASE_URL",
    "FWTRACK_CACHE_DIR",
    "FWTRACK_CACHE_SIZE",
    "FWTRACK_CAPTURE_ENV",
    "FWTRACK_CONFIG_DIR",
    "FWTRACK_CONSOLE",
    "FWTRACK_DIR",
    "FWTRACK_ENTITY",
    "FWTRACK_FLUSH_INTERVAL",
    "FWTRACK_GROUP",
    "FWTRACK_JOB_TYPE",
    "FWTRACK_LOG_MODEL",
    "FWTRACK_MODE",
    "FWTRACK_NAME",
    "FWTRACK_NOTES",
    "FWTRACK_PROJECT",
    "FWTRACK_QUEUE_BYTES",
    "FWTRACK_RESUME",
    "FWTRACK_RUN_ID",
    "FWTRACK_SAVE_CODE",
    "FWTRACK_SILENT",
    "FWTRACK_SWEEP_HEARTBEAT",
    "FWTRACK_SWEEP_ID",
    "FWTRACK_SWEEP_PARAMS",
    "FWTRACK_SYSTEM_INTERVAL",
    "FWTRACK_SYSTEM_METRICS",
    "FWTRACK_TAGS",
    "FWTRACK_UPLOAD_TIMEOUT",
    "FWTRACK_WATCH",
    "MODES",
    "EnvVar",
    "Settings",
    "render_env_docs",
    "sweep_heartbeat_interval",
]

MODES = ("offline", "online", "disabled")
"""The run modes `fwtrack.init(mode=...)` and `FWTRACK_MODE` accept."""

DEFAULT_FLUSH_INTERVAL = 1.0
MAX_FLUSH_INTERVAL = 3600.0
DEFAULT_QUEUE_CAPACITY = 65536
DEFAULT_QUEUE_BYTES = 4 << 20
MAX_QUEUE_BYTES = 1 << 40


FWTRACK_DIR = EnvVar(
    "FWTRACK_DIR",
    "Root directory for run logs; a run lives in `<dir>/<project>/<run id>/`.",
    default="./fwtrack",
)
FWTRACK_MODE = EnvVar(
    "FWTRACK_MODE",
    "Run mode: `offline` (log locally), `online` (log locally and upload to the server at "
    "`FWTRACK_BASE_URL`, else the one `fwtrack login` made the default), or `disabled` (every "
    "call is a cheap no-op, nothing is written).",
    default="`online` when `FWTRACK_BASE_URL` is set, else `offline`",
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
FWTRACK_NOTES = EnvVar(
    "FWTRACK_NOTES",
    "Notes of the run when `init` gets none.",
    default=None,
)
FWTRACK_GROUP = EnvVar(
    "FWTRACK_GROUP",
    "Group of the run when `init` gets none.",
    default=None,
)
FWTRACK_JOB_TYPE = EnvVar(
    "FWTRACK_JOB_TYPE",
    "Job type of the run when `init` gets none.",
    default=None,
)
FWTRACK_RESUME = EnvVar(
    "FWTRACK_RESUME",
    "`resume` when `init` gets none: `allow`, `must`, `never`, `auto` (or `true` = `auto`, "
    "`false` = unset).",
    default=None,
    allowed=("allow", "must", "never", "auto", "true", "false"),
)
FWTRACK_SILENT = EnvVar(
    "FWTRACK_SILENT",
    "`true` keeps the `fwtrack.wandb` shim from printing what wandb prints (warnings still show).",
    default="false",
    allowed=("true", "false", "1", "0", "yes", "no"),
)
FWTRACK_WATCH = EnvVar(
    "FWTRACK_WATCH",
    "What integrations that call `watch()` for you log: `gradients`, `parameters`, `all` or "
    "`false`.",
    default="gradients",
)
FWTRACK_FLUSH_INTERVAL = EnvVar(
    "FWTRACK_FLUSH_INTERVAL",
    "Seconds (> 0) after which logged data is durably on disk; `Settings.flush_interval` beats it.",
    default=str(DEFAULT_FLUSH_INTERVAL),
)
FWTRACK_QUEUE_BYTES = EnvVar(
    "FWTRACK_QUEUE_BYTES",
    "Memory budget of the queue between `log()` and the writer thread: bytes, or a size like "
    "`16MiB` or `64MB`; `log()` waits for the writer only when it is spent (nothing is "
    "dropped); `Settings.queue_bytes` beats it.",
    default="4MiB",
)
FWTRACK_BASE_URL = EnvVar(
    "FWTRACK_BASE_URL",
    "Address of the fwtrack server, `http(s)://host[:port]`; `fwtrack.Api()` without a "
    "directory reads the runs there.",
    default=None,
)
FWTRACK_API_KEY = EnvVar(
    "FWTRACK_API_KEY",
    "API key for the server at `FWTRACK_BASE_URL` (else the key `fwtrack login` stored for it).",
    default=None,
)
FWTRACK_ENTITY = EnvVar(
    "FWTRACK_ENTITY",
    "Entity (user or team) online runs and `fwtrack sync` upload to; unset: the API key's user.",
    default=None,
)
FWTRACK_UPLOAD_TIMEOUT = EnvVar(
    "FWTRACK_UPLOAD_TIMEOUT",
    "Seconds (>= 0) `finish()` of an online run waits for the upload to complete; past it the "
    "run finishes locally and prints the `fwtrack sync` command that completes the upload.",
    default="30",
)
FWTRACK_CONFIG_DIR = EnvVar(
    "FWTRACK_CONFIG_DIR",
    "Where `fwtrack login` stores API keys (`credentials.json`, mode 0600); else "
    "`$XDG_CONFIG_HOME/fwtrack`.",
    default="~/.config/fwtrack",
)
FWTRACK_CACHE_DIR = EnvVar(
    "FWTRACK_CACHE_DIR",
    "Where `fwtrack.Api(base_url=...)` mirrors the logs of remote runs it reads "
    "(`<cache>/<host>/<entity>/<project>/<run id>/run.fwlog`), and the artifact caches "
    "(`<cache>/artifacts/`: downloads, staging, the stat cache); else `$XDG_CACHE_HOME/fwtrack`.",
    default="~/.cache/fwtrack",
)
FWTRACK_SAVE_CODE = EnvVar(
    "FWTRACK_SAVE_CODE",
    "`false` leaves out the copy of the entry script (`files/code/`) and the uncommitted "
    "changes (`files/diff.patch`); `Settings.save_code` beats it.",
    default="true",
    allowed=("true", "false", "1", "0", "yes", "no"),
)
FWTRACK_SYSTEM_INTERVAL = EnvVar(
    "FWTRACK_SYSTEM_INTERVAL",
    "Seconds between system-metric samples (`system/...`: CPU, memory, disk, network, GPUs); "
    "at least 1, or 0 to turn sampling off; `Settings.system_interval` beats it.",
    default="10",
)
FWTRACK_SYSTEM_METRICS = EnvVar(
    "FWTRACK_SYSTEM_METRICS",
    "`false` turns system-metric sampling off (same as `FWTRACK_SYSTEM_INTERVAL=0`).",
    default="true",
    allowed=("true", "false", "1", "0", "yes", "no"),
)
FWTRACK_CONSOLE = EnvVar(
    "FWTRACK_CONSOLE",
    "`off` leaves the console alone; `on` captures stdout and stderr (file descriptors 1 and 2, "
    "so C extensions and child processes are caught) into the run log while they still reach "
    "the terminal; `Settings.console` beats it.",
    default="on",
    allowed=("on", "off"),
)
FWTRACK_CAPTURE_ENV = EnvVar(
    "FWTRACK_CAPTURE_ENV",
    "`false` leaves out the environment snapshot (`files/metadata.json`: git, host, OS, CPU, "
    "GPUs, allow-listed variables; `files/requirements.txt`); `Settings.capture_env` beats it.",
    default="true",
    allowed=("true", "false", "1", "0", "yes", "no"),
)

FWTRACK_CACHE_SIZE = EnvVar(
    "FWTRACK_CACHE_SIZE",
    "Bound of the artifact download cache (`<cache>/artifacts/blobs`): bytes, or a size like "
    "`500MB` or `10GiB`; the least recently used files are removed past it.",
    default="10GiB",
)
FWTRACK_ARTIFACT_DIR = EnvVar(
    "FWTRACK_ARTIFACT_DIR",
    "Parent directory of artifact downloads without a `root`: `<dir>/<name>:<version>/`.",
    default="./artifacts",
)

FWTRACK_LOG_MODEL = EnvVar(
    "FWTRACK_LOG_MODEL",
    'Hugging Face `Trainer` (`report_to="fwtrack"`): `checkpoint` logs each checkpoint the '
    "Trainer saves as a version of the `model` artifact `checkpoint-<run id>`, `end` the final "
    "model (the best one with `load_best_model_at_end`) as `model-<run id>`, `false` nothing.",
    default="false",
    allowed=("checkpoint", "end", "false"),
)

DEFAULT_SWEEP_HEARTBEAT = 10.0

FWTRACK_SWEEP_ID = EnvVar(
    "FWTRACK_SWEEP_ID",
    "The sweep whose trial this process runs; set by `fwtrack agent` for each trial. `init` "
    "then takes the run id from `FWTRACK_RUN_ID` and the project from `FWTRACK_PROJECT`, and "
    "SIGTERM finishes the run as `stopped`.",
    default=None,
)
FWTRACK_SWEEP_PARAMS = EnvVar(
    "FWTRACK_SWEEP_PARAMS",
    "Path of a JSON file holding the trial's parameters; set by `fwtrack agent`. In a trial, "
    "`init` updates the run's config with them (the sweep's values win).",
    default=None,
)
FWTRACK_SWEEP_HEARTBEAT = EnvVar(
    "FWTRACK_SWEEP_HEARTBEAT",
    "Seconds (> 0) between an agent's heartbeats for a local sweep (no server); an agent "
    "silent for two intervals is lost and its trial re-queued.",
    default=str(int(DEFAULT_SWEEP_HEARTBEAT)),
)

ENV_VARS: tuple[EnvVar, ...] = (  # the client's, then the server's
    FWTRACK_DIR,
    FWTRACK_MODE,
    FWTRACK_PROJECT,
    FWTRACK_RUN_ID,
    FWTRACK_NAME,
    FWTRACK_TAGS,
    FWTRACK_NOTES,
    FWTRACK_GROUP,
    FWTRACK_JOB_TYPE,
    FWTRACK_RESUME,
    FWTRACK_FLUSH_INTERVAL,
    FWTRACK_QUEUE_BYTES,
    FWTRACK_BASE_URL,
    FWTRACK_API_KEY,
    FWTRACK_ENTITY,
    FWTRACK_UPLOAD_TIMEOUT,
    FWTRACK_SAVE_CODE,
    FWTRACK_CAPTURE_ENV,
    FWTRACK_SYSTEM_INTERVAL,
    FWTRACK_SYSTEM_METRICS,
    FWTRACK_CONSOLE,
    FWTRACK_CONFIG_DIR,
    FWTRACK_CACHE_DIR,
    FWTRACK_CACHE_SIZE,
    FWTRACK_ARTIFACT_DIR,
    FWTRACK_LOG_MODEL,
    FWTRACK_SWEEP_ID,
    FWTRACK_SWEEP_PARAMS,
    FWTRACK_SWEEP_HEARTBEAT,
    FWTRACK_SILENT,
    FWTRACK_WATCH,
    *SERVER_ENV_VARS,
)


def _check_flush_interval(value: float, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{source} must be a number of seconds, got {type(value).__name__}")
    if not 0 < value <= MAX_FLUSH_INTERVAL:
        raise ValueError(
            f"{source} must be a number of seconds in (0, {MAX_FLUSH_INTERVAL:g}], got {value!r}"
        )
    return float(value)


def _number(raw: str) -> float:
    """`raw` as a float, NaN when it is not a number (so every range check refuses it)."""
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _env_flush_interval() -> float:
    raw = FWTRACK_FLUSH_INTERVAL.get()
    if raw is None:
        return DEFAULT_FLUSH_INTERVAL
    value = _number(raw)
    if not 0 < value <= MAX_FLUSH_INTERVAL:
        raise ValueError(
            f"FWTRACK_FLUSH_INTERVAL={raw!r} is not valid: "
            f"allowed values are seconds in (0, {MAX_FLUSH_INTERVAL:g}], e.g. 1.0"
        )
    return value


def _check_queue_bytes(value: object, source: str) -> int:
    """`value` (bytes, or a size string like '16MiB') as bytes in 1..=MAX_QUEUE_BYTES."""
    fix = "use bytes >= 1 or a size like '4MiB' (the default is 4MiB)"
    if isinstance(value, str):
        from fwtrack.artifacts.cache import parse_size

        value = parse_size(value, source)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{source} must be an int of bytes or a str like '16MiB', got {value!r}")
    if not 1 <= value <= MAX_QUEUE_BYTES:
        raise ValueError(f"{source}={value!r} is out of range: {fix}, at most 1TiB")
    return value


def _env_queue_bytes() -> int:
    raw = FWTRACK_QUEUE_BYTES.get()
    if raw is None:
        return DEFAULT_QUEUE_BYTES
    return _check_queue_bytes(raw, "FWTRACK_QUEUE_BYTES")


DEFAULT_UPLOAD_TIMEOUT = 30.0
MAX_UPLOAD_TIMEOUT = 1e6
_ENTITY_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _check_base_url(value: object, source: str) -> str | None:
    """`value` as a server address without a trailing `/` (or `/api/v1`), or None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{source} must be a str like 'http://host:8080', got {value!r}")
    text = value.strip().rstrip("/")
    if text.endswith("/api/v1"):
        text = text[: -len("/api/v1")].rstrip("/")
    parts = urllib.parse.urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{source}={value!r} is not a server address: expected http(s)://host[:port], "
            "e.g. 'https://fwtrack.example.com'"
        )
    return text


def _check_entity(value: object, source: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ENTITY_RE.fullmatch(value):
        raise ValueError(
            f"{source}={value!r} is not a valid entity: use a user or team name of 1-64 "
            "characters of A-Z a-z 0-9 _ . -"
        )
    return value


def _check_upload_timeout(value: object, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{source} must be a number of seconds, got {type(value).__name__}")
    if not 0 <= value <= MAX_UPLOAD_TIMEOUT:
        raise ValueError(f"{source} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _env_base_url() -> str | None:
    return _check_base_url(FWTRACK_BASE_URL.get(), "FWTRACK_BASE_URL")


def _env_api_key() -> str | None:
    return FWTRACK_API_KEY.get()


def _env_entity() -> str | None:
    return _check_entity(FWTRACK_ENTITY.get(), "FWTRACK_ENTITY")


def _env_upload_timeout() -> float:
    raw = FWTRACK_UPLOAD_TIMEOUT.get()
    if raw is None:
        return DEFAULT_UPLOAD_TIMEOUT
    value = _number(raw)
    if not 0 <= value <= MAX_UPLOAD_TIMEOUT:
        raise ValueError(
            f"FWTRACK_UPLOAD_TIMEOUT={raw!r} is not valid: allowed values are seconds >= 0, e.g. 30"
        )
    return value


def _env_bool(var: EnvVar) -> bool:
    raw = var.get()
    return raw is None or raw in ("true", "1", "yes")


def _env_save_code() -> bool:
    return _env_bool(FWTRACK_SAVE_CODE)


def _env_capture_env() -> bool:
    return _env_bool(FWTRACK_CAPTURE_ENV)


DEFAULT_SYSTEM_INTERVAL = 10.0
MIN_SYSTEM_INTERVAL = 1.0


def _check_system_interval(value: object, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{source} must be a number of seconds, got {type(value).__name__}")
    if not (value == 0 or MIN_SYSTEM_INTERVAL <= value < math.inf):
        raise ValueError(
            f"{source}={value!r} is not valid: use seconds >= {MIN_SYSTEM_INTERVAL:g} "
            "(e.g. 10), or 0 to turn system metrics off"
        )
    return float(value)


def _env_system_interval() -> float:
    if not _env_bool(FWTRACK_SYSTEM_METRICS):
        return 0.0
    raw = FWTRACK_SYSTEM_INTERVAL.get()
    if raw is None:
        return DEFAULT_SYSTEM_INTERVAL
    value = _number(raw)
    return _check_system_interval(value, f"FWTRACK_SYSTEM_INTERVAL={raw!r}: the interval")


def sweep_heartbeat_interval() -> float:
    """Seconds between an agent's heartbeats for a local sweep (`FWTRACK_SWEEP_HEARTBEAT`)."""
    raw = FWTRACK_SWEEP_HEARTBEAT.get()
    if raw is None:
        return DEFAULT_SWEEP_HEARTBEAT
    value = _number(raw)
    if not 0 < value < math.inf:
        raise ValueError(
            f"FWTRACK_SWEEP_HEARTBEAT={raw!r} is not valid: allowed values are seconds > 0, e.g. 10"
        )
    return value


def _env_console() -> bool:
    return FWTRACK_CONSOLE.get() != "off"


@dataclass(frozen=True)
class Settings:
    """Tuning knobs of a run, passed as `fwtrack.init(settings=Settings(...))` or as a dict.

    `flush_interval`: seconds after which logged data is durably on disk (default 1.0, or
    `FWTRACK_FLUSH_INTERVAL`). `queue_bytes`: the memory budget of the queue between `log()`
    and the writer thread in bytes (a size string like "4MiB" is also taken; default 4 MiB, or
    `FWTRACK_QUEUE_BYTES`); `log()` waits for the writer only when it is spent, nothing is
    dropped. `queue_capacity`: an extra bound on how many log calls may wait in that queue
    (default 65536); the byte budget is what bounds memory.

    Online runs (see docs/server.md): `base_url` is the server (default `FWTRACK_BASE_URL`),
    `api_key` its key (default `FWTRACK_API_KEY`, else the key `fwtrack login` stored),
    `entity` the user or team the run belongs to (default `FWTRACK_ENTITY`, else the key's
    user), `upload_timeout` how long `finish()` waits for the upload (default 30 s, or
    `FWTRACK_UPLOAD_TIMEOUT`).

    Snapshot (files next to the run log, see docs/api.md "Files"): `save_code` keeps a copy of
    the entry script and the uncommitted git diff (default True, or `FWTRACK_SAVE_CODE`);
    `capture_env` keeps `metadata.json` and `requirements.txt` (default True, or
    `FWTRACK_CAPTURE_ENV`).

    Automatic capture (see docs/api.md "System metrics and console"): `system_interval` is the
    seconds between system-metric samples (default 10, at least 1, 0 turns them off;
    `FWTRACK_SYSTEM_INTERVAL`, `FWTRACK_SYSTEM_METRICS=false`); `console` captures stdout and
    stderr into the run log (default True, or `FWTRACK_CONSOLE=on|off`).
    """

    flush_interval: float = field(default_factory=_env_flush_interval)
    queue_capacity: int = DEFAULT_QUEUE_CAPACITY
    base_url: str | None = field(default_factory=_env_base_url)
    api_key: str | None = field(default_factory=_env_api_key, repr=False)
    entity: str | None = field(default_factory=_env_entity)
    upload_timeout: float = field(default_factory=_env_upload_timeout)
    save_code: bool = field(default_factory=_env_save_code)
    capture_env: bool = field(default_factory=_env_capture_env)
    system_interval: float = field(default_factory=_env_system_interval)
    console: bool = field(default_factory=_env_console)
    queue_bytes: int = field(default_factory=_env_queue_bytes)

    def __post_init__(self) -> None:
        _check_flush_interval(self.flush_interval, "Settings.flush_interval")
        q = self.queue_capacity
        if isinstance(q, bool) or not isinstance(q, int):
            raise TypeError(f"Settings.queue_capacity must be an int, got {type(q).__name__}")
        if not 1 <= q <= 1 << 24:
            raise ValueError(f"Settings.queue_capacity must be in 1..={1 << 24}, got {q}")
        object.__setattr__(
            self, "queue_bytes", _check_queue_bytes(self.queue_bytes, "Settings.queue_bytes")
        )
        object.__setattr__(self, "base_url", _check_base_url(self.base_url, "Settings.base_url"))
        key = self.api_key
        if key is not None and (not isinstance(key, str) or not key.strip()):
            raise ValueError("Settings.api_key must be a non-empty str (or None)")
        _check_entity(self.entity, "Settings.entity")
        object.__setattr__(
            self,
            "upload_timeout",
            _check_upload_timeout(self.upload_timeout, "Settings.upload_timeout"),
        )
        object.__setattr__(
            self,
            "system_interval",
            _check_system_interval(self.system_interval, "Settings.system_interval"),
        )
        for flag in ("save_code", "capture_env", "console"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(
                    f"Settings.{flag} must be True or False, got {getattr(self, flag)!r}"
                )

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
        "<!-- Generated from python/fwtrack/sdk/settings.py and python/fwtrack/server/env.py",
        "     by `python -m fwtrack.sdk.envdocs > docs/env.md`; do not edit by hand. -->",
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
