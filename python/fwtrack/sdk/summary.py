"""`run.summary`: one value per metric describing the whole run.

By default a metric's summary is the last value logged; `define_metric(name, summary=...)`
asks for aggregations instead (the summary is then a dict like `{"min": 0.1, "max": 2.0}`);
a value set explicitly (`run.summary["best"] = 3`) overrides both until deleted.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from fwtrack.errors import FwTrackWarning
from fwtrack.sdk.config import config_items
from fwtrack.sdk.values import jsonable, user_stacklevel

__all__ = ["Summary"]


class Summary(MutableMapping[str, Any]):
    """Dict-like view of the run summary: `summary["loss"]`, `summary["best"] = 3`,
    `summary.update({...})`, `del summary["x"]`. Reads always see everything logged so far."""

    __slots__ = ("_check", "_read", "_write")

    def __init__(
        self,
        read: Callable[[], dict[str, Any]],
        write: Callable[[dict[str, Any], list[str]], None],
        check: Callable[[], None],
    ) -> None:
        self._read = read
        self._write = write
        self._check = check

    def __getitem__(self, key: str) -> Any:
        return self._read()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())

    def __contains__(self, key: object) -> bool:
        return key in self._read()

    def as_dict(self) -> dict[str, Any]:
        """The whole summary as a dict."""
        return dict(self._read())

    def __repr__(self) -> str:
        return f"Summary({self._read()!r})"

    def _set_many(self, items: dict[Any, Any]) -> None:
        self._check()
        bad: list[str] = []
        clean: dict[str, Any] = {}
        for key, value in items.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"summary keys must be non-empty strings, got {key!r}")
            clean[key] = jsonable(value, key, bad, finite=False)
        if bad:
            names = ", ".join(repr(b) for b in bad)
            warnings.warn(
                f"summary value(s) {names} cannot be stored as JSON; stored as their repr",
                FwTrackWarning,
                stacklevel=user_stacklevel(),
            )
        self._write(clean, [])

    def __setitem__(self, key: str, value: Any) -> None:
        self._set_many({key: value})

    def __delitem__(self, key: str) -> None:
        self._check()
        if key not in self._read():
            raise KeyError(key)
        self._write({}, [key])

    def update(self, other: Any = None, /, **kwargs: Any) -> None:
        """Set several summary values at once."""
        items = config_items(other, "summary.update() argument")
        items.update(kwargs)
        if items:
            self._set_many(items)
