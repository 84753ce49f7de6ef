"""`fwtrack.Table`: rows of plain values and media, logged as one content-addressed JSON file.

The file, `<run dir>/files/media/<blake3 hex>.table.json`, is UTF-8 JSON
`{"columns": [...], "data": [[cell, ...], ...]}`: a cell is null, a bool, a number, a string
(NaN and +/-Infinity as the JSON tokens `NaN`, `Infinity`, `-Infinity`), or the descriptor of
an `Image`, `Audio`, `Video` or `Html` whose payload is a media file of its own.

pandas and numpy are imported on first use, never by `import fwtrack`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal

from fwtrack.data_types.media import Media, from_descriptor

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = ["Table"]

_PLAIN = frozenset({type(None), bool, int, float, str})

_LOG_MODES = ("IMMUTABLE", "MUTABLE", "INCREMENTAL")

_CELL_KINDS = (
    "cells are None, bool, int, float, str, numpy scalars or fwtrack.Image/Audio/Video/Html"
)


def _column_names(columns: object) -> list[str]:
    if isinstance(columns, str) or not isinstance(columns, Iterable):
        raise TypeError(
            f"Table columns must be a list of str, got {type(columns).__name__}: "
            "e.g. columns=['id', 'image', 'label']"
        )
    names = list(columns)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                f"Table column names must be str, got {name!r} ({type(name).__name__}); "
                "pass str(name)"
            )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"Table column {name!r} appears twice; column names must be unique")
        seen.add(name)
    return names


def _data_array(cell: Any) -> Any:
    to_numpy = getattr(cell, "to_numpy", None)
    if isinstance(cell, Media) and to_numpy is not None:
        out = to_numpy()
        return out[0] if isinstance(out, tuple) else out  # Audio: (samples, rate)
    return cell


class Table(Media):
    """A table of rows, e.g. predictions next to their inputs.

    `columns`: the column names (default `col0`, `col1`, ... as many as the first row has).
    `data`: a list of rows (each a list or tuple) or a 2-D numpy array. `dataframe`: a pandas
    DataFrame instead (column names become str). Cells are None, bool, int, float, str, numpy
    scalars (stored as Python numbers), dates and times (stored as ISO 8601 text), pandas
    NA/NaT (stored as None) or an `Image`, `Audio`, `Video` or `Html`.

        table = fwtrack.Table(columns=["image", "label", "score"])
        table.add_data(fwtrack.Image(x), "cat", 0.93)
        fwtrack.log({"preds": table})
    """

    _type = "table"

    _rows: list[list[Any]] | None
    _columns: list[str]
    _nrows: int
    _media_rows: set[int]

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Any = None,
        rows: Any = None,
        dataframe: pd.DataFrame | None = None,
        dtype: Any = None,
        optional: bool | list[bool] = True,
        allow_mixed_types: bool = False,
        log_mode: str | None = "IMMUTABLE",
    ) -> None:
        self._init_media(None)
        self._ext = "table.json"
        self._media_rows = set()
        self._rows = []
        self._nrows = 0
        if log_mode is not None and log_mode not in _LOG_MODES:
            raise ValueError(
                f"Table log_mode must be one of {', '.join(map(repr, _LOG_MODES))}, got "
                f"{log_mode!r} (every log() stores the rows as they are then, whatever the mode)"
            )
        if rows is not None:
            if data is not None:
                raise ValueError("pass either data= or rows= (its older name), not both")
            data = rows
        pd_mod = sys.modules.get("pandas")
        if pd_mod is not None and isinstance(data, pd_mod.DataFrame):
            data, dataframe = None, data  # wandb takes a DataFrame as data= too
        self._fill(columns, data, dataframe)
        if dtype is not None:
            dtypes = dtype if isinstance(dtype, list) else [dtype] * len(self._columns)
            opts = optional if isinstance(optional, list) else [optional] * len(self._columns)
            if len(dtypes) != len(self._columns) or len(opts) != len(self._columns):
                raise ValueError(
                    f"Table dtype/optional lists must have one entry per column "
                    f"({len(self._columns)}), got {len(dtypes)} and {len(opts)}"
                )
            for name, dt, opt in zip(self._columns, dtypes, opts, strict=True):
                self.cast(name, dt, optional=opt)

    def _fill(self, columns: Sequence[str] | None, data: Any, dataframe: Any) -> None:
        if dataframe is not None:
            if data is not None:
                raise ValueError("pass either data= or dataframe=, not both")
            self._from_dataframe(dataframe, columns)
            return
        self._columns = _column_names(columns) if columns is not None else []
        if data is None:
            return
        rows = self._data_rows(data)
        if columns is None and rows:
            first = rows[0]
            width = len(first) if isinstance(first, list | tuple) else 0
            self._columns = [f"col{i}" for i in range(width)]
        self._rows = [self._row(row, i) for i, row in enumerate(rows)]
        self._nrows = len(self._rows)

    @staticmethod
    def _data_rows(data: Any) -> list[Any]:
        np = sys.modules.get("numpy")
        if np is not None and isinstance(data, np.ndarray):
            if data.ndim != 2:
                raise ValueError(
                    f"Table data as a numpy array must be 2-D (rows, columns), got shape "
                    f"{data.shape}"
                )
            return data.tolist()  # type: ignore[no-any-return]
        if isinstance(data, str | bytes) or not isinstance(data, Iterable):
            raise TypeError(
                f"Table data must be a list of rows (lists or tuples), got {type(data).__name__}"
            )
        return data if isinstance(data, list) else list(data)

    def _from_dataframe(self, df: Any, columns: Sequence[str] | None) -> None:
        pd_mod = sys.modules.get("pandas")
        if pd_mod is None or not isinstance(df, pd_mod.DataFrame):
            raise TypeError(f"dataframe must be a pandas DataFrame, got {type(df).__name__}")
        import numpy as np

        names = [str(c) for c in df.columns]
        if columns is not None:
            names = _column_names(columns)
            if len(names) != df.shape[1]:
                raise ValueError(
                    f"columns has {len(names)} names but the dataframe has {df.shape[1]} columns"
                )
        self._columns = _column_names(names)
        values: list[list[Any]] = []
        has_media = False
        for j, name in enumerate(self._columns):
            series = df.iloc[:, j]
            dtype = series.dtype
            if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
                # Plain numbers: numpy's tolist gives Python scalars, no per-cell work.
                values.append(series.to_numpy().tolist())
                continue
            cells = series.tolist()
            if not _PLAIN.issuperset(map(type, cells)):
                cells = [self._cell(c, i, name) for i, c in enumerate(cells)]
                has_media = has_media or any(isinstance(c, Media) for c in cells)
            values.append(cells)
        self._rows = [list(r) for r in zip(*values, strict=True)] if values else []
        self._nrows = len(self._rows)
        if has_media:
            self._media_rows = {
                i for i, row in enumerate(self._rows) if any(isinstance(c, Media) for c in row)
            }

    def _cell(self, cell: Any, row: int, column: str) -> Any:
        """`cell` as a value the table file holds (or a Media), or TypeError."""
        if type(cell) in _PLAIN:
            return cell
        if isinstance(cell, Media) and not isinstance(cell, Table):
            return cell
        np = sys.modules.get("numpy")
        if np is not None and isinstance(cell, np.generic):
            if isinstance(cell, np.datetime64 | np.timedelta64):
                return None if np.isnat(cell) else str(cell)
            item = cell.item()
            if type(item) in _PLAIN:
                return item
        if isinstance(cell, bool):
            return bool(cell)
        if isinstance(cell, int):
            return int(cell)
        if isinstance(cell, float):
            return float(cell)
        if isinstance(cell, str):
            return str(cell)
        if isinstance(cell, _dt.date | _dt.time):
            # pandas NaT is a datetime subclass too.
            return None if cell != cell else cell.isoformat()
        pd_mod = sys.modules.get("pandas")
        if pd_mod is not None and cell is pd_mod.NA:
            return None
        raise TypeError(
            f"Table cell in row {row}, column {column!r} is a {type(cell).__name__}: "
            f"{_CELL_KINDS}; convert it, e.g. str(value) or json.dumps(value)"
        )

    def _row(self, row: Any, index: int) -> list[Any]:
        if not isinstance(row, list | tuple):
            raise TypeError(
                f"Table row {index} is a {type(row).__name__}: each row is a list or tuple "
                f"of {len(self._columns)} cells, one per column {self._columns}"
            )
        cells = list(row)
        if len(cells) != len(self._columns):
            raise ValueError(
                f"Table row {index} has {len(cells)} cells but the table has "
                f"{len(self._columns)} columns {self._columns}; give one cell per column "
                "(None for a missing value)"
            )
        if _PLAIN.issuperset(map(type, cells)):
            return cells
        cells = [self._cell(c, index, self._columns[j]) for j, c in enumerate(cells)]
        if any(isinstance(c, Media) for c in cells):
            self._media_rows.add(index)
        return cells

    def _changed(self) -> None:
        self._payload = None
        self._address = None
        self._sha = None
        self._size = None
        self._fetch = None
        self._path = None

    def add_data(self, *row: Any) -> None:
        """Append one row: one cell per column, e.g. `table.add_data(img, "cat", 0.9)`.

        The first row of a table made without columns names them `col0`, `col1`, ...
        """
        rows = self._loaded()
        if not self._columns and not rows:
            self._columns = [f"col{i}" for i in range(len(row))]
        rows.append(self._row(row, len(rows)))
        self._nrows = len(rows)
        self._changed()

    def add_row(self, *row: Any) -> None:
        """The older name of `add_data` (wandb keeps it too)."""
        self.add_data(*row)

    def add_column(self, name: str, data: Sequence[Any], optional: bool = False) -> None:
        """Append a column: one value per existing row (any number for an empty table).
        `data` is a list or a 1-D numpy array (or any sequence)."""
        rows = self._loaded()
        _column_names([*self._columns, name])
        np_mod = sys.modules.get("numpy")
        if np_mod is not None and isinstance(data, np_mod.ndarray):
            if data.ndim != 1:
                raise ValueError(
                    f"add_column({name!r}): a numpy column must be 1-D, got shape {data.shape}"
                )
        elif isinstance(data, str | bytes) or not isinstance(data, Iterable):
            raise TypeError(
                f"add_column({name!r}) takes a list of values (one per row), got "
                f"{type(data).__name__}"
            )
        cells = list(data)
        if (rows or self._columns) and len(cells) != len(rows):
            raise ValueError(
                f"add_column({name!r}) got {len(cells)} values but the table has {len(rows)} "
                "rows; give one value per row"
            )
        checked = [self._cell(c, i, name) for i, c in enumerate(cells)]
        if not rows:
            rows.extend([] for _ in checked)
        for i, (r, c) in enumerate(zip(rows, checked, strict=True)):
            r.append(c)
            if isinstance(c, Media):
                self._media_rows.add(i)
        self._columns.append(name)
        self._nrows = len(rows)
        self._changed()

    @property
    def columns(self) -> list[str]:
        """The column names (a copy)."""
        return list(self._columns)

    @property
    def data(self) -> list[list[Any]]:
        """The rows (the table's own lists: change them with `add_data`/`add_column`);
        media cells are `Image`/`Audio`/`Video`/`Html` objects."""
        return self._loaded()

    def get_column(
        self, name: str, convert_to: Literal["numpy"] | None = None
    ) -> list[Any] | npt.NDArray[Any]:
        """The values of one column, top to bottom; `convert_to="numpy"` gives a numpy array
        (media cells as their pixels/samples: `to_numpy()`, as wandb's `to_data_array`)."""
        if convert_to not in (None, "numpy"):
            raise ValueError(f"get_column convert_to must be None or 'numpy', got {convert_to!r}")
        try:
            j = self._columns.index(name)
        except ValueError:
            raise KeyError(f"no column {name!r}; the columns are {self._columns}") from None
        column = [row[j] for row in self._loaded()]
        if convert_to is None:
            return column
        import numpy as np

        values = [_data_array(c) for c in column]
        return np.array(values)

    def get_index(self) -> list[int]:
        """The row indexes, 0..len-1 (wandb's links between tables are not kept)."""
        return list(range(self._nrows))

    def index_ref(self, index: int) -> int:
        """The index of row `index` (checked)."""
        if not 0 <= index < self._nrows:
            raise IndexError(f"row {index} is out of range: the table has {self._nrows} rows")
        return index

    def iterrows(self) -> Iterator[tuple[int, list[Any]]]:
        """`(index, row)` for every row, top to bottom (as wandb)."""
        yield from enumerate(self._loaded())

    def add_computed_columns(self, fn: Callable[[int, dict[str, Any]], dict[str, Any]]) -> None:
        """Add the columns `fn(index, row_as_dict)` returns for each row, e.g.
        `table.add_computed_columns(lambda i, row: {"diff": row["x"] - row["y"]})`. Every
        call must return the same new column names."""
        new: dict[str, list[Any]] = {}
        for i, row in self.iterrows():
            out = fn(i, dict(zip(self._columns, row, strict=True)))
            if not isinstance(out, dict):
                raise TypeError(
                    f"add_computed_columns: the function returned a {type(out).__name__} for "
                    f"row {i}; it must return a dict of new column names to values"
                )
            if i and set(out) != set(new):
                raise ValueError(
                    f"add_computed_columns: row {i} gave columns {sorted(out)}, row 0 gave "
                    f"{sorted(new)}; return the same names for every row"
                )
            for k, v in out.items():
                new.setdefault(k, []).append(v)
        for k in new:
            if k in self._columns:
                raise ValueError(
                    f"add_computed_columns: column {k!r} already exists; return a new name"
                )
        for k, values in new.items():
            self.add_column(k, values)

    def cast(self, col_name: str, dtype: Any, optional: bool = False) -> None:
        """Check that every cell of `col_name` is of `dtype` (a Python type such as int, str,
        float, or a media class such as fwtrack.Image; None allowed with `optional`): a
        TypeError names the first cell that is not. Ints pass as floats."""
        try:
            j = self._columns.index(col_name)
        except ValueError:
            raise KeyError(f"no column {col_name!r}; the columns are {self._columns}") from None
        if not isinstance(dtype, type):
            raise TypeError(
                f"cast({col_name!r}): dtype must be a type such as int, float, str or "
                f"fwtrack.Image, got {dtype!r}"
            )
        for i, row in enumerate(self._loaded()):
            cell = row[j]
            if cell is None and optional:
                continue
            ok = isinstance(cell, dtype) and not (dtype is int and isinstance(cell, bool))
            if dtype is float and isinstance(cell, int) and not isinstance(cell, bool):
                ok = True
            if not ok:
                raise TypeError(
                    f"Table column {col_name!r} row {i} is {cell!r} ({type(cell).__name__}), "
                    f"not {dtype.__name__}" + ("" if optional else " (optional=True allows None)")
                )

    def get_dataframe(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (wandb's name for `to_pandas`)."""
        return self.to_pandas()

    def __len__(self) -> int:
        return self._nrows

    def to_pandas(self) -> pd.DataFrame:
        """The table as a pandas DataFrame; media cells stay `Image`/`Audio`/... objects."""
        import pandas as pd

        df: pd.DataFrame = pd.DataFrame(self._loaded(), columns=self._columns)
        return df

    def _loaded(self) -> list[list[Any]]:
        if self._rows is None:
            assert self._fetch is not None
            assert self._path is not None
            fetch = self._fetch
            media = [0]

            def hook(obj: dict[str, Any]) -> Any:
                if "_type" in obj:
                    media[0] += 1
                    return from_descriptor(obj, fetch)
                return obj

            raw = self.bytes()
            parsed = json.loads(raw, object_hook=hook)
            self._columns = _column_names(parsed["columns"])
            self._rows = [list(r) for r in parsed["data"]]
            self._nrows = len(self._rows)
            if media[0]:
                self._media_rows = {
                    i for i, row in enumerate(self._rows) if any(isinstance(c, Media) for c in row)
                }
        return self._rows

    def _encode(self) -> bytes:
        rows = self._loaded()
        if self._media_rows:
            media_rows = self._media_rows
            rows = [
                [c._descriptor() if isinstance(c, Media) else c for c in row]
                if i in media_rows
                else row
                for i, row in enumerate(rows)
            ]
        text = json.dumps(
            {"columns": self._columns, "data": rows},
            allow_nan=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return text.encode("utf-8")

    def _queued(self) -> tuple[Media, int]:
        """A copy of the rows as they are now (cells themselves are immutable media or plain
        values): changing this table after `log()` changes nothing that was logged."""
        if self._rows is None:
            return self, 0  # read back and not loaded: nothing can have changed it
        held = 16 * self._nrows * max(len(self._columns), 1)
        for i in self._media_rows:
            for c in self._rows[i]:
                if isinstance(c, Media):
                    held += c._queued()[1]  # imports the cell's encoder here, too
        return self._snapshot(), held

    def _snapshot(self) -> Table:
        assert self._rows is not None
        snap = Table.__new__(Table)
        snap._init_media(None)
        snap._ext = self._ext
        snap._columns = list(self._columns)
        snap._rows = [list(row) for row in self._rows]
        snap._nrows = self._nrows
        snap._media_rows = set(self._media_rows)
        return snap

    def _store(self, files_dir: str | os.PathLike[str]) -> dict[str, Any]:
        """Write the media cells, then the table file; return the table's descriptor."""
        rows = self._loaded()
        for i in sorted(self._media_rows):
            for c in rows[i]:
                if isinstance(c, Media):
                    c._store(files_dir)
        return super()._store(files_dir)

    def _meta(self) -> dict[str, Any]:
        return {"columns": list(self._columns), "nrows": self._nrows}

    def _load_meta(self, desc: dict[str, Any]) -> None:
        self._rows = None
        self._media_rows = set()
        self._columns = [str(c) for c in desc.get("columns", [])]
        self._nrows = int(desc.get("nrows", 0))

    __hash__ = None  # type: ignore[assignment]  # mutable

    def _repr_fields(self) -> str:
        return f"{self._nrows} rows, columns={self._columns}"

    def __repr__(self) -> str:
        return f"Table({self._repr_fields()})"
