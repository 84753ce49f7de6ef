"""`wandb.sdk` on fwtrack: the top-level names again (`wandb.sdk.init`, `wandb.sdk.Settings`,
...), plus `wandb_run.Run` and `wandb_settings.Settings`."""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    import fwtrack.wandb

    return getattr(fwtrack.wandb, name)
