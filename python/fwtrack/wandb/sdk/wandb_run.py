"""`wandb.sdk.wandb_run` on fwtrack: `Run` is `fwtrack.Run`."""

from __future__ import annotations

from fwtrack.sdk.run import Run

__all__ = ["Run"]
