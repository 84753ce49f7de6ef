"""Where the server keeps its bytes: the `Store` interface (`base`) and its backends
(`directory`, the default; `s3`, S3-compatible object storage). `open_store` picks one from
the configuration. See `fwtrack.server.store.base` and docs/server.md, "Store"."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fwtrack.server.store.base import BlobKey, LogHandle, RunKey, RunLog, Staged, Store
from fwtrack.server.store.directory import DirectoryStore

if TYPE_CHECKING:
    from fwtrack.server.config import ServerConfig

__all__ = [
    "BlobKey",
    "DirectoryStore",
    "LogHandle",
    "RunKey",
    "RunLog",
    "Staged",
    "Store",
    "open_store",
]


def open_store(config: ServerConfig) -> Store:
    """The store `config` names: the directory store at `data_dir/store` (or at the path
    `store_url` gives), or an `S3Store` for `s3://bucket/prefix`, checked: a missing bucket,
    refused credentials or an unreachable endpoint raise ValueError with a `hint:`."""
    where = config.store_location
    if isinstance(where, Path):
        return DirectoryStore(where)
    from fwtrack.server.store.s3 import S3Store

    store = S3Store(
        where,
        config.cache_path,
        endpoint=config.s3_endpoint_url,
        region=config.s3_region_name,
        public_endpoint=config.s3_public_endpoint,
    )
    store.check()
    return store
