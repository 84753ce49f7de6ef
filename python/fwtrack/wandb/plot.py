"""`wandb.plot` on fwtrack: `line`, `scatter`, `bar`, `histogram`, `line_series`,
`confusion_matrix`, `roc_curve`, `pr_curve` (fwtrack.plot, looked up on first use)."""

from __future__ import annotations

from typing import Any

from fwtrack.wandb._forward import resolve


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    value = resolve(name, {name: (f"fwtrack.plot:{name}",)}, "wandb.plot")
    globals()[name] = value
    return value
