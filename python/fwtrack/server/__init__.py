"""The fwtrack tracking server (`fwtrack server`, `fwtrack ui`): FastAPI on uvicorn,
SQLAlchemy 2 for metadata (SQLite or PostgreSQL), run logs, history indexes and blobs in a
store (`fwtrack.server.store`; a directory by default).

Install with `pip install 'fwtrack[server]'`. The HTTP contract is docs/server.md.
`create_app(ServerConfig(...))` builds the ASGI app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fwtrack.server.app import create_app
    from fwtrack.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so `fwtrack --help` works without the server's dependencies installed.
    if name == "create_app":
        from fwtrack.server.app import create_app

        return create_app
    if name == "ServerConfig":
        from fwtrack.server.config import ServerConfig

        return ServerConfig
    raise AttributeError(f"module 'fwtrack.server' has no attribute {name!r}")
