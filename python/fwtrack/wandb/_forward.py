"""Lazy forwarding from the shim's W&B names to fwtrack's.

Each name maps to the places fwtrack keeps it, tried in order ("module:attr"); the first that
imports is used. Names are looked up on first use, never at `import fwtrack.wandb`, so
frameworks stay unimported and names that other parts of fwtrack add later appear as they land.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["missing", "resolve"]


def resolve(name: str, table: Mapping[str, Sequence[str]], module: str) -> Any:
    """The object `name` stands for in `table`, or AttributeError naming what to use."""
    places = table.get(name)
    if places is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    errors: list[str] = []
    for place in places:
        mod_name, _, attr = place.partition(":")
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and not mod_name.startswith(exc.name):
                raise  # a missing framework inside the module: let the user see it
            errors.append(place)
            continue
        if not attr:
            return mod
        try:
            return getattr(mod, attr)
        except AttributeError:
            errors.append(place)
    raise missing(name, module, places)


def missing(name: str, module: str, places: Sequence[str]) -> AttributeError:
    where = " or ".join(p.replace(":", ".") for p in places)
    return AttributeError(
        f"{module}.{name} is not available in this fwtrack install: it forwards to {where}, "
        "which is not there; upgrade fwtrack, or use the fwtrack API directly (docs/wandb.md)"
    )
