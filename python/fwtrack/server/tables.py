"""Logged tables (`files/media/<sha>.table.json`): parsed once, then sorted, filtered and paged
in memory for `GET .../table`.

A table file is UTF-8 JSON `{"columns": [str...], "data": [[cell...]...]}` whose cells are
null, booleans, numbers, strings or media descriptors (`NaN`/`Infinity` tokens allowed).
Parsed tables are kept in a small LRU keyed by what identifies the file's bytes: its content
address (verified by the server when it was stored), or in `fwtrack ui` its path, size and
mtime; never by the hash in its name, so a file uploaded under another table's name is never
answered with that table's rows. Each table keeps the orders it computed, so paging through a
sorted, filtered view costs one slice per page.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

from fwtrack.server.jsonutil import loads_bounded

__all__ = ["MAX_TABLE_BYTES", "Table", "TableCache", "TableError"]

MAX_TABLE_BYTES = 256 << 20
"""Larger table files are not parsed on the server (download them whole instead)."""

_VIEWS_PER_TABLE = 16


class TableError(ValueError):
    """A table file that is not a table (or too large to page on the server)."""


def _cell_text(value: Any) -> str:
    """What a filter matches in a cell: the text shown for it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        caption = value.get("caption")
        return caption if isinstance(caption, str) else ""
    if isinstance(value, list):
        return " ".join(_cell_text(v) for v in value)
    return str(value)


_NULL = object()


def _sort_key(value: Any) -> Any:
    """Numbers (and booleans) before strings before media, numbers numerically, strings
    case-insensitively; `_NULL` for null and NaN (placed last in either order)."""
    if value is None:
        return _NULL
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int):
        return (0, value)
    if isinstance(value, float):
        return _NULL if math.isnan(value) else (0, value)
    if isinstance(value, str):
        return (1, value.casefold(), value)
    if isinstance(value, dict):
        return (2, _cell_text(value).casefold())
    return (3, _cell_text(value).casefold())


_EXACT = float(2**53)


def _numeric_order(values: list[Any], desc: bool) -> list[int] | None:
    """The order of a column of numbers, booleans and nulls (NaN and null last), sorted by
    numpy; None when the column holds anything else (or integers a float cannot hold)."""
    for v in values:
        kind = type(v)
        if kind is float or kind is bool or v is None:
            continue
        if kind is not int or not -_EXACT <= v <= _EXACT:
            return None
    arr = np.array(values, dtype=np.float64)  # None -> NaN
    missing = np.isnan(arr)
    present = np.flatnonzero(~missing)
    keys = arr[present]
    ranked = present[np.argsort(-keys if desc else keys, kind="stable")]
    return [*ranked.tolist(), *np.flatnonzero(missing).tolist()]


def _text_order(values: list[Any], desc: bool) -> list[int] | None:
    """The order of a column of strings and nulls (case-insensitive, nulls last); None when
    the column holds anything else."""
    if any(type(v) is not str and v is not None for v in values):
        return None
    present = [i for i, v in enumerate(values) if v is not None]
    present.sort(key=values.__getitem__, reverse=desc)  # ties of the casefolded text
    folded = [v.casefold() if v is not None else "" for v in values]
    present.sort(key=folded.__getitem__, reverse=desc)
    return present + [i for i, v in enumerate(values) if v is None]


class Table:
    """One parsed table with its cached orders and views."""

    def __init__(self, columns: list[str], rows: list[list[Any]], size: int) -> None:
        self.columns = columns
        self.rows = rows
        self.size = size
        self._lock = threading.Lock()
        self._texts: list[str] | None = None
        self._orders: dict[tuple[int, bool], list[int]] = {}
        self._views: OrderedDict[tuple[int | None, bool, str], list[int]] = OrderedDict()

    @classmethod
    def parse(cls, data: bytes) -> Table:
        """The table in `data`; TableError naming what is wrong."""
        try:
            doc = loads_bounded(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TableError(f"not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise TableError('not a JSON object {"columns": [...], "data": [[...]...]}')
        columns, rows = doc.get("columns"), doc.get("data")
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise TableError('"columns" is not a list of strings')
        if not isinstance(rows, list):
            raise TableError('"data" is not a list of rows')
        width = len(columns)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != width:
                raise TableError(f"row {i} is not a list of {width} cells")
        return cls(columns, rows, len(data))

    def _row_texts(self) -> list[str]:
        if self._texts is None:
            self._texts = [
                "\x1f".join(
                    [cell if type(cell) is str else _cell_text(cell) for cell in row]
                ).casefold()
                for row in self.rows
            ]
        return self._texts

    def _order(self, column: int, desc: bool) -> list[int]:
        order = self._orders.get((column, desc))
        if order is None:
            values = [row[column] for row in self.rows]
            order = _numeric_order(values, desc)
            if order is None:
                order = _text_order(values, desc)
            if order is not None:
                self._orders[(column, desc)] = order
                return order
            keys = [_sort_key(v) for v in values]
            present = [i for i, k in enumerate(keys) if k is not _NULL]
            missing = [i for i, k in enumerate(keys) if k is _NULL]
            present.sort(key=keys.__getitem__, reverse=desc)  # stable in both directions
            order = present + missing
            self._orders[(column, desc)] = order
        return order

    def view(self, column: int | None, desc: bool, q: str) -> list[int]:
        """Row ids (indexes in the table) in display order: sorted by `column` (None: table
        order), keeping rows with `q` (casefolded) in the text of a cell."""
        key = (column, desc, q)
        with self._lock:
            ids = self._views.get(key)
            if ids is not None:
                self._views.move_to_end(key)
                return ids
            if column is None:
                base: list[int] | range = range(len(self.rows))
            else:
                base = self._order(column, desc)
            if q:
                texts = self._row_texts()
                ids = [i for i in base if q in texts[i]]
            else:
                ids = list(base)
            self._views[key] = ids
            while len(self._views) > _VIEWS_PER_TABLE:
                self._views.popitem(last=False)
            return ids


class TableCache:
    """A bounded LRU of parsed tables, keyed by what identifies a table file's bytes: at most
    `max_tables` tables and about `max_bytes` of table files (the newest table is always
    kept)."""

    def __init__(self, max_tables: int = 8, max_bytes: int = 128 << 20) -> None:
        self.max_tables = max_tables
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._tables: OrderedDict[Hashable, Table] = OrderedDict()

    def get(self, key: Hashable, size: int, load: Callable[[], bytes]) -> Table:
        """The table of `size` bytes identified by `key`, parsed from `load()` when not cached
        (TableError when it is not a table or is larger than `MAX_TABLE_BYTES`)."""
        with self._lock:
            table = self._tables.get(key)
            if table is not None:
                self._tables.move_to_end(key)
                return table
        if size > MAX_TABLE_BYTES:
            raise TableError(
                f"the table file is {size} bytes, over the {MAX_TABLE_BYTES} bytes the server pages"
            )
        table = Table.parse(load())
        with self._lock:
            self._tables[key] = table
            self._tables.move_to_end(key)
            total = sum(t.size for t in self._tables.values())
            while len(self._tables) > 1 and (
                len(self._tables) > self.max_tables or total > self.max_bytes
            ):
                _, dropped = self._tables.popitem(last=False)
                total -= dropped.size
        return table
