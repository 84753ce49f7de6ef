"""`wandb.sdk.wandb_settings` on fwtrack: `Settings` is `fwtrack.Settings`."""

from __future__ import annotations

from fwtrack.sdk.settings import Settings

__all__ = ["Settings"]
