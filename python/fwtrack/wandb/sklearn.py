"""`wandb.sklearn` on fwtrack: the same module as `wandb.integration.sklearn`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    from fwtrack.wandb.integration import sklearn

    return getattr(sklearn, name)
