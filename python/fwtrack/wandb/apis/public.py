"""`wandb.apis.public` on fwtrack: `Api`, `Run`, `Runs` and the rest of fwtrack.api, looked up
on first use (fwtrack.api imports pandas)."""

from __future__ import annotations

from typing import Any

from fwtrack.wandb._forward import resolve


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    value = resolve(name, {name: (f"fwtrack.api:{name}",)}, "wandb.apis.public")
    globals()[name] = value
    return value
