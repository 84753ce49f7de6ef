"""`run.summary`: one value per metric describing the whole run.

By default a metric's summary is the last value logged; `define_metric(name, summary=...)`
asks for aggregations instead (the summary is then a dict like `{"min": 0.1, "max": 2.0}`);
a value set explicitly (`run.summary["best"] = 3`) overrides both until deleted.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Protocol

from fwtrack.errors import FwTrackWarning
from fwtrack.sdk.config import config_items
from fwtrack.sdk.values import jsonable, user_stacklevel

__all__ = ["Summary"]


class _SummarySource(Protocol):
    def summary(self) -> dict[str, Any]: ...
    def update_summary(self, values_json: str, delete: list[str]) -> None: ...


class Summary(MutableMapping[str, Any]):
    """Dict-like view of the run summary: `summary["loss"]`, `summary["best"] = 3`,
    `summary.update({...})`, `del summary["x"]`. Reads always see everything logged so far."""

    __slots__ = ("_check", "_source")

    def __init__(self, source: _SummarySource, check: Callable[[], None]) -> None:
        self._source = source
        self._check = check

    def __getitem__(self, key: str) -> Any:
        return self._source.summary()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source.summary())

    def __len__(self) -> int:
        return len(self._source.summary())

    def __contains__(self, key: object) -> bool:
        return key in self._source.summary()

    def as_dict(self) -> dict[str, Any]:
        """The whole summary as a dict."""
        return dict(self._source.summary())

    def __repr__(self) -> str:
        return f"Summary({self._source.summary()!r})"

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
        self._source.update_summary(json.dumps(clean, separators=(",", ":")), [])

    def __setitem__(self, key: str, value: Any) -> None:
        self._set_many({key: value})

    def __delitem__(self, key: str) -> None:
        self._check()
        if key not in self._source.summary():
            raise KeyError(key)
        self._source.update_summary("{}", [key])

    def update(self, other: Any = None, /, **kwargs: Any) -> None:
        """Set several summary values at once."""
        items = config_items(other, "summary.update() argument")
        items.update(kwargs)
        if items:
            self._set_many(items)
