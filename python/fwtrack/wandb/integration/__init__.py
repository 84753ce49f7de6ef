"""`wandb.integration.*` on fwtrack: W&B's framework callbacks with W&B's arguments, each a
thin subclass of fwtrack's own (fwtrack.integrations). Frameworks are imported only when a
submodule is."""

from __future__ import annotations

__all__: list[str] = []
