"""`wandb.sklearn` / `wandb.integration.sklearn` on fwtrack: W&B's `plot_*` helpers, forwarded
to `fwtrack.integrations.sklearn` on first use (W&B's `plot_classifier`/`plot_regressor` are
fwtrack's `log_classifier`/`log_regressor`)."""

from __future__ import annotations

from typing import Any

from fwtrack.wandb._forward import resolve

_MODULE = "fwtrack.integrations.sklearn"
_RENAMED = {"plot_classifier": "log_classifier", "plot_regressor": "log_regressor"}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    target = _RENAMED.get(name, name)
    places = tuple(dict.fromkeys((f"{_MODULE}:{name}", f"{_MODULE}:{target}")))
    value = resolve(name, {name: places}, "wandb.sklearn")
    globals()[name] = value
    return value
