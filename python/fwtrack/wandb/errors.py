"""`wandb.errors` on fwtrack: W&B's exception names, all fwtrack's root `FwTrackError`."""

from __future__ import annotations

from fwtrack.errors import FwTrackError

__all__ = ["AuthenticationError", "CommError", "Error", "UsageError"]

Error = FwTrackError
CommError = FwTrackError
UsageError = FwTrackError
AuthenticationError = FwTrackError
