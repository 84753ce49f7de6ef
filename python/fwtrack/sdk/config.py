"""`run.config`: the run's hyperparameters, a nested dict with attribute access.

Every change writes a full snapshot of the config to the run log; the last snapshot is the
run's config. Values are kept as plain JSON data: numpy and torch values become numbers or
lists, `argparse.Namespace` and dataclasses become dicts, and anything else is stored as its
`repr` with one `FwTrackWarning` naming the key.
"""

from __future__ import annotations

import copy
import os
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from fwtrack.errors import FwTrackWarning
from fwtrack.sdk.values import jsonable, record_fields, user_stacklevel

__all__ = ["Config", "config_items"]

# One lock for every config: changes are rare, and snapshots must be written in the order the
# changes were made. Re-created in a forked child, whose copy may be held by a parent thread.
_lock = threading.Lock()


def _reset_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_lock_after_fork)


def config_items(config: object, what: str = "config") -> dict[str, Any]:
    """The top-level items of a dict, `argparse.Namespace` or dataclass instance."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    fields = record_fields(config)
    if fields is not None:
        return fields
    raise TypeError(
        f"{what} must be a dict, an argparse.Namespace or a dataclass instance, "
        f"got {type(config).__name__}"
    )


class _Store:
    """What every node of one config shares: the data and where snapshots go."""

    __slots__ = ("check", "data", "write")

    def __init__(
        self,
        data: dict[str, Any],
        write: Callable[[dict[str, Any]], None] | None,
        check: Callable[[], None],
    ) -> None:
        self.data = data
        self.write = write
        self.check = check

    def snapshot(self) -> None:
        if self.write is not None:
            # The plain data itself: the core converts it (under this lock) to the record.
            self.write(self.data)


class Config(MutableMapping[str, Any]):
    """The run config: `config["lr"]`, `config.lr`, `config["opt"]["beta"]`, `config.opt.beta`,
    `config.update({...})`, `config.lr = 0.1`.

    Nested dicts are returned as `Config` views, so `config.opt.beta = 0.9` is recorded too.
    Lists are returned as they are stored: change them by assigning a new list.
    """

    __slots__ = ("_node", "_path", "_store")

    _store: _Store
    _node: dict[str, Any]
    _path: str

    def __init__(self, store: _Store, node: dict[str, Any], path: str = "") -> None:
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "_path", path)

    @classmethod
    def _create(
        cls,
        data: dict[str, Any],
        write: Callable[[dict[str, Any]], None] | None,
        check: Callable[[], None],
    ) -> Config:
        store = _Store(data, write, check)
        return cls(store, data)

    def _key_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    # -- reading -------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        value = self._node[key]
        if isinstance(value, dict):
            return Config(self._store, value, self._key_path(key))
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(
                f"config has no key {self._key_path(name)!r}; keys: {sorted(self._node)}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._node))

    def __len__(self) -> int:
        return len(self._node)

    def __contains__(self, key: object) -> bool:
        return key in self._node

    def as_dict(self) -> dict[str, Any]:
        """A deep copy of this (part of the) config as plain dicts."""
        with _lock:
            return copy.deepcopy(self._node)

    def __repr__(self) -> str:
        return f"Config({self._node!r})"

    # -- changing ------------------------------------------------------------------------

    def _set_many(self, items: Mapping[Any, Any]) -> None:
        self._store.check()
        bad: list[str] = []
        clean: dict[str, Any] = {}
        for key, value in items.items():
            if not isinstance(key, str):
                raise TypeError(
                    f"config keys must be str, got {type(key).__name__} {key!r}; use str(key)"
                )
            if not key:
                raise ValueError("config keys must be non-empty strings")
            clean[key] = jsonable(value, self._key_path(key), bad)
        if bad:
            names = ", ".join(repr(b) for b in bad)
            warnings.warn(
                f"config value(s) {names} cannot be stored as JSON; stored as their repr",
                FwTrackWarning,
                stacklevel=user_stacklevel(),
            )
        with _lock:
            self._node.update(clean)
            self._store.snapshot()

    def __setitem__(self, key: str, value: Any) -> None:
        self._set_many({key: value})

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"config keys set as attributes cannot start with '_': {name!r}")
        self._set_many({name: value})

    def __delitem__(self, key: str) -> None:
        self._store.check()
        with _lock:
            del self._node[key]
            self._store.snapshot()

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"config has no key {self._key_path(name)!r}") from None

    def update(
        self,
        other: Any = None,
        /,
        allow_val_change: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Set several keys at once (one snapshot): from a dict, an `argparse.Namespace`, a
        dataclass instance and/or keyword arguments.

        `allow_val_change` is wandb's switch for changing a value already set; fwtrack always
        allows it (each change is recorded), so it is accepted and never stored as a key."""
        if allow_val_change is not None and not isinstance(allow_val_change, bool):
            raise TypeError(f"allow_val_change must be True or False, got {allow_val_change!r}")
        items = config_items(other, "config.update() argument")
        items.update(kwargs)
        if items:
            self._set_many(items)

    def setdefaults(self, other: Any = None, /, **kwargs: Any) -> None:
        """Set the keys that are not set yet (wandb's `config.setdefaults`); keys already set
        keep their values."""
        items = config_items(other, "config.setdefaults() argument")
        items.update(kwargs)
        missing = {k: v for k, v in items.items() if k not in self._node}
        if missing:
            self._set_many(missing)
