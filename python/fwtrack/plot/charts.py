"""W&B's built-in custom charts over a table: `line`, `scatter`, `bar`, `histogram`,
`line_series`, each a `CustomChart` with a Vega-Lite spec (signatures as `wandb.plot.*`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fwtrack.data_types.table import Table
from fwtrack.plot.custom_chart import CustomChart, _check_columns, _make

__all__ = ["bar", "histogram", "line", "line_series", "scatter"]

_SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"


def _base(title: str) -> dict[str, Any]:
    return {
        "$schema": _SCHEMA,
        "title": "${string:title}" if title else None,
        "width": "container",
        "height": 260,
    }


def _clean(spec: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if v is not None}


def _check_table(fn: str, table: object) -> Table:
    if not isinstance(table, Table):
        raise TypeError(
            f"fwtrack.plot.{fn}: table must be a fwtrack.Table, got {type(table).__name__}: "
            "e.g. fwtrack.Table(data=rows, columns=['x', 'y'])"
        )
    return table


def _check_str(fn: str, name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise TypeError(f"fwtrack.plot.{fn}: {name} must be a column name (str), got {value!r}")


def _chart(
    fn: str,
    template: dict[str, Any],
    table: Table,
    fields: dict[str, Any],
    title: str,
    **strings: str,
) -> CustomChart:
    if not isinstance(title, str):
        raise TypeError(f"fwtrack.plot.{fn}: title must be a str, got {title!r}")
    _check_columns(fields, table)
    return _make(fn, _clean(template), table, fields, {"title": title, **strings})


def _q(placeholder: str, **extra: Any) -> dict[str, Any]:
    return {"field": placeholder, "type": "quantitative", **extra}


def line(
    table: Table,
    x: str,
    y: str,
    stroke: str | None = None,
    title: str = "",
    split_table: bool = False,
) -> CustomChart:
    """A line of column `y` against column `x` (one line per value of column `stroke`)."""
    del split_table
    _check_table("line", table)
    _check_str("line", "x", x)
    _check_str("line", "y", y)
    _check_str("line", "stroke", stroke, optional=True)
    encoding: dict[str, Any] = {"x": _q("${field:x}"), "y": _q("${field:y}")}
    if stroke is not None:
        encoding["color"] = {"field": "${field:stroke}", "type": "nominal"}
    spec = {**_base(title), "mark": {"type": "line", "point": False}, "encoding": encoding}
    return _chart("line", spec, table, {"x": x, "y": y, "stroke": stroke}, title)


def scatter(
    table: Table, x: str, y: str, title: str = "", split_table: bool = False
) -> CustomChart:
    """One point per row: column `y` against column `x`."""
    del split_table
    _check_table("scatter", table)
    _check_str("scatter", "x", x)
    _check_str("scatter", "y", y)
    spec = {
        **_base(title),
        "mark": {"type": "point", "filled": True},
        "encoding": {"x": _q("${field:x}"), "y": _q("${field:y}")},
    }
    return _chart("scatter", spec, table, {"x": x, "y": y}, title)


def bar(
    table: Table, label: str, value: str, title: str = "", split_table: bool = False
) -> CustomChart:
    """One horizontal bar per row: length column `value`, named by column `label`."""
    del split_table
    _check_table("bar", table)
    _check_str("bar", "label", label)
    _check_str("bar", "value", value)
    spec = {
        **_base(title),
        "mark": "bar",
        "encoding": {
            "y": {"field": "${field:label}", "type": "nominal", "sort": None},
            "x": _q("${field:value}"),
        },
    }
    return _chart("bar", spec, table, {"label": label, "value": value}, title)


def histogram(table: Table, value: str, title: str = "", split_table: bool = False) -> CustomChart:
    """The distribution of column `value`: counts in bins (Vega-Lite's `bin`)."""
    del split_table
    _check_table("histogram", table)
    _check_str("histogram", "value", value)
    spec = {
        **_base(title),
        "mark": "bar",
        "encoding": {
            "x": _q("${field:value}", bin={"maxbins": 30}),
            "y": {"aggregate": "count", "type": "quantitative"},
        },
    }
    return _chart("histogram", spec, table, {"value": value}, title)


def _is_series(v: object) -> bool:
    return isinstance(v, Iterable) and not isinstance(v, str | bytes)


def line_series(
    xs: Iterable[Iterable[Any]] | Iterable[Any],
    ys: Iterable[Iterable[Any]],
    keys: Iterable[str] | None = None,
    title: str = "",
    xname: str = "x",
    split_table: bool = False,
) -> CustomChart:
    """Several lines on shared axes: `ys[i]` against `xs[i]` (or every `ys[i]` against one
    `xs`), named `keys[i]` (default `line_0`, `line_1`, ...). The table has the columns
    `step`, `lineKey`, `lineVal`, as W&B's."""
    del split_table
    if not _is_series(ys):
        raise TypeError(f"fwtrack.plot.line_series: ys must be a list of series, got {ys!r}")
    y_list = [list(y) if _is_series(y) else None for y in ys]
    if any(y is None for y in y_list):
        raise TypeError(
            "fwtrack.plot.line_series: ys must be a list of series (one list of values per "
            "line), e.g. ys=[[1, 2, 3], [2, 3, 4]]"
        )
    if not _is_series(xs):
        raise TypeError(f"fwtrack.plot.line_series: xs must be a series, got {xs!r}")
    x_list: list[Any] = list(xs)
    if not y_list:
        raise ValueError("fwtrack.plot.line_series: ys is empty; give at least one series")
    x_series: Sequence[Any]
    if not x_list or not _is_series(x_list[0]):
        x_series = [x_list] * len(y_list)
    else:
        x_series = [list(x) for x in x_list]
    if len(x_series) != len(y_list):
        raise ValueError(
            f"fwtrack.plot.line_series: number of x-series ({len(x_series)}) must match "
            f"y-series ({len(y_list)}); pass one xs for all or one per series"
        )
    names = [f"line_{i}" for i in range(len(y_list))] if keys is None else list(keys)
    if len(names) != len(y_list):
        raise ValueError(
            f"fwtrack.plot.line_series: number of keys ({len(names)}) must match y-series "
            f"({len(y_list)})"
        )
    if not isinstance(xname, str):
        raise TypeError(f"fwtrack.plot.line_series: xname must be a str, got {xname!r}")
    rows = [
        [x, str(names[i]), y]
        for i, (xx, yy) in enumerate(zip(x_series, y_list, strict=True))
        for x, y in zip(xx, yy or [], strict=False)
    ]
    table = Table(columns=["step", "lineKey", "lineVal"], data=rows)
    spec = {
        **_base(title),
        "mark": "line",
        "encoding": {
            "x": _q("${field:step}", title="${string:xname}"),
            "y": _q("${field:lineVal}", title=None),
            "color": {"field": "${field:lineKey}", "type": "nominal", "title": None},
        },
    }
    fields = {"step": "step", "lineKey": "lineKey", "lineVal": "lineVal"}
    return _chart("line_series", spec, table, fields, title, xname=xname)
