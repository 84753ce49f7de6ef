"""`wandb.apis` on fwtrack: `wandb.apis.public` is fwtrack's public API (fwtrack.api)."""

from __future__ import annotations

__all__ = ["PublicApi"]


def __getattr__(name: str) -> object:
    if name == "PublicApi":
        from fwtrack.api import Api

        return Api
    raise AttributeError(f"module 'wandb.apis' has no attribute {name!r}")
