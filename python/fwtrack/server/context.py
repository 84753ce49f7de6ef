"""What every request handler needs, in a module of its own below both the app and the routes
(so no route imports `app.py`): the application context and the name of the local user."""

from __future__ import annotations

from dataclasses import dataclass

from fwtrack.server.auth import Viewer
from fwtrack.server.blobs import BlobStore, LocalRunsLayout
from fwtrack.server.config import ServerConfig
from fwtrack.server.db import Database

__all__ = ["LOCAL_USER", "AppContext"]

LOCAL_USER = "local"
"""The one user of `fwtrack ui` and of a server started without authentication."""


@dataclass
class AppContext:
    """What every request handler needs: configuration, database, blob layout."""

    config: ServerConfig
    db: Database
    blobs: BlobStore | LocalRunsLayout
    local_viewer: Viewer | None = None
    uploads_in_flight: int = 0  # changed on the event loop only

    @property
    def stale_after(self) -> float | None:
        return None if self.config.ui_scan_dir is not None else self.config.stale_after
