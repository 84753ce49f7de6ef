"""What every integration shares: finding or starting the run, config conversion, key names
and the missing-extra error. Integrations hold no logic of their own beyond hook mapping."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from fwtrack.sdk import run as _run
from fwtrack.sdk.run import Run
from fwtrack.sdk.settings import FWTRACK_PROJECT


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, or raise ModuleNotFoundError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"{module} is not installed; fwtrack's {extra} integration needs it.\n"
            f"hint: pip install 'fwtrack[{extra}]'",
            name=module,
        ) from exc


# `fwtrack.init` arguments a callback passes through besides the ones it names itself.
_INIT_ARGS = frozenset(inspect.signature(_run.init).parameters) - {
    "project",
    "name",
    "config",
    "tags",
}


def init_settings(
    project: str | None, name: str | None, tags: Any, init_kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The `fwtrack.init` arguments a callback stores for the run it may start; unknown
    keyword arguments raise TypeError at construction."""
    unknown = sorted(set(init_kwargs) - _INIT_ARGS)
    if unknown:
        raise TypeError(
            f"FwTrackCallback got unexpected argument(s) {', '.join(map(repr, unknown))}\n"
            f"hint: the fwtrack.init arguments are {', '.join(sorted(_INIT_ARGS))}"
        )
    return {"project": project, "name": name, "tags": tags, **init_kwargs}


def add_missing_config(run: Run, values: Mapping[str, Any]) -> None:
    """Add config keys the run does not have yet: a user's own setting is never replaced."""
    new = {k: v for k, v in values.items() if k not in run.config}
    if new:
        run.config.update(new)


def active_or_new_run(default_project: str | None = None, **init: Any) -> tuple[Run, bool]:
    """The active run if there is one, else a new run; and whether the caller owns it (and
    so finishes it when training ends). A new run's project is `init["project"]`, else
    `FWTRACK_PROJECT`, else `default_project`."""
    current = _run.current_run()
    if current is not None:
        return current, False
    if init.get("project") is None:
        init["project"] = FWTRACK_PROJECT.get() or default_project
    return _run.init(**init), True


def to_config(obj: Any) -> dict[str, Any]:
    """A config dict from a Mapping, argparse.Namespace, dataclass, or an object with
    `to_dict()` (framework configs)."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, argparse.Namespace):
        return to_config(vars(obj))
    # Framework configs first: their `to_dict()` holds class-level keys (model_type) too.
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and not isinstance(obj, type):
        return to_config(to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_config({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    raise TypeError(
        f"cannot use a {type(obj).__name__} as a config; pass a dict, an argparse.Namespace "
        "or a dataclass"
    )


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping | argparse.Namespace) or (
        dataclasses.is_dataclass(v) and not isinstance(v, type)
    ):
        return to_config(v)
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


# Framework prefixes, rewritten so that a metric has one name in every framework.
_SECTIONS = (
    ("train_", "train/"),
    ("val_", "eval/"),
    ("valid_", "eval/"),
    ("validation_", "eval/"),
    ("eval_", "eval/"),
    ("test_", "test/"),
)


def metric_key(key: str, default_section: str = "train/") -> str:
    """`val_loss` -> `eval/loss`, `eval_accuracy` -> `eval/accuracy`, `test_f1` -> `test/f1`,
    `loss` -> `train/loss` (with the default section); keys holding a `/` are kept."""
    if "/" in key:
        return key
    for prefix, section in _SECTIONS:
        if key.startswith(prefix) and len(key) > len(prefix):
            return section + key[len(prefix) :]
    return default_section + key
