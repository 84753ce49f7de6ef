"""`CustomChart`: a table plus a Vega-Lite spec, logged like any media, and `plot_table`, which
makes one from a user's own Vega-Lite spec.

The payload is the table's JSON file (`<run dir>/files/media/<blake3 hex>.table.json`, the
format of `fwtrack.Table`, so the table viewer opens it too). The descriptor (record kind 10,
`_type: "custom-chart"`) keeps the spec with its field bindings resolved, the bindings
themselves, the table's columns and row count:

    {"_type": "custom-chart", "path": "media/<hex>.table.json", "address": ..., "size": ...,
     "columns": [...], "nrows": 12, "preset": "line", "spec": {<Vega-Lite>},
     "fields": {"x": "step", "y": "loss"}, "string_fields": {"title": "Loss"}}

The spec reads its rows from the named data source `table` (`"data": {"name": "table"}`);
the dashboard compiles it with vega-lite and feeds it the table's rows (docs/charts.md).
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from fwtrack.data_types.media import Fetch, Media
from fwtrack.data_types.table import Table

__all__ = ["DATA_NAME", "CustomChart", "plot_table"]

DATA_NAME = "table"
"""The name of the data source a chart's spec reads its rows from."""

_PLACEHOLDER = re.compile(r"\$\{(field|string):([^}]*)\}")
_MAX_SPEC_BYTES = 256 << 10


def _check_bindings(name: str, value: object, *, allow_none: bool) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a dict of str to str, got {type(value).__name__}: "
            f"e.g. {name}={{'x': 'step', 'y': 'loss'}}"
        )
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            raise TypeError(f"{name} keys must be str, got {k!r} ({type(k).__name__})")
        if v is None and allow_none:
            out[k] = None
            continue
        if not isinstance(v, str):
            raise TypeError(
                f"{name}[{k!r}] must be a str, got {v!r} ({type(v).__name__}); pass str(value)"
            )
        out[k] = v
    return out


def _resolve(
    node: Any, fields: dict[str, Any], strings: dict[str, Any], used: set[str], where: str
) -> Any:
    """`node` with every `${field:NAME}` / `${string:NAME}` replaced by its binding."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if not isinstance(k, str):
                raise TypeError(f"vega_spec: key {k!r} at {where or 'the top'} is not a str")
            out[k] = _resolve(v, fields, strings, used, f"{where}.{k}" if where else k)
        return out
    if isinstance(node, list):
        return [_resolve(v, fields, strings, used, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def sub(m: re.Match[str]) -> str:
        kind, name = m.group(1), m.group(2)
        table = fields if kind == "field" else strings
        if name not in table:
            known = ", ".join(repr(n) for n in sorted(table)) or "none"
            arg = "fields" if kind == "field" else "string_fields"
            raise ValueError(
                f"vega_spec uses ${{{kind}:{name}}} at {where} but {arg} has no {name!r} "
                f"(it has: {known}); add {arg}[{name!r}]"
            )
        used.add(f"{kind}:{name}")
        value = table[name]
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(sub, node)


def _spec_dict(vega_spec: object) -> dict[str, Any]:
    if isinstance(vega_spec, str):
        try:
            parsed = json.loads(vega_spec)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"vega_spec is a str but not JSON ({exc}); pass a Vega-Lite spec as a dict or "
                "its JSON text, or one of W&B's built-in preset ids: "
                + ", ".join(sorted(_WANDB_PRESETS))
            ) from None
        vega_spec = parsed
    if not isinstance(vega_spec, Mapping):
        raise TypeError(
            f"vega_spec must be a Vega-Lite spec (a dict or its JSON text), got "
            f"{type(vega_spec).__name__}"
        )
    spec = copy.deepcopy(dict(vega_spec))
    schema = spec.get("$schema")
    if isinstance(schema, str) and "/vega/" in schema and "vega-lite" not in schema:
        raise ValueError(
            f"vega_spec is a Vega spec ($schema {schema!r}); fwtrack draws Vega-Lite specs: "
            "write it in Vega-Lite (https://vega.github.io/vega-lite/) — see docs/charts.md"
        )
    if not any(
        k in spec for k in ("mark", "layer", "concat", "hconcat", "vconcat", "facet", "repeat")
    ):
        raise ValueError(
            "vega_spec has no 'mark' (nor 'layer', 'concat', 'facet', 'repeat'): it is not a "
            "Vega-Lite view; e.g. {'mark': 'line', 'encoding': {'x': {'field': '${field:x}', "
            "'type': 'quantitative'}, ...}}"
        )
    return spec


def _check_columns(fields: dict[str, Any], table: Table) -> None:
    columns = table.columns
    for name, column in fields.items():
        if column is not None and column not in columns:
            raise ValueError(
                f"fields[{name!r}] names column {column!r}, which the table does not have; "
                f"its columns are {columns}"
            )


class CustomChart(Media):
    """A chart drawn from a table by a Vega-Lite spec: what `fwtrack.plot.*` and
    `fwtrack.plot_table` return. Log it as any media: `fwtrack.log({"roc": chart})`.

    `table`: the rows (a `fwtrack.Table`); `spec`: the Vega-Lite spec with the field bindings
    resolved; `fields` / `string_fields`: the bindings; `preset`: which `fwtrack.plot`
    function made it (`"custom"` for `plot_table`).
    """

    _type = "custom-chart"

    _table: Table
    _spec: dict[str, Any]
    _fields: dict[str, Any]
    _strings: dict[str, Any]
    _preset: str

    def __init__(
        self,
        table: Table,
        spec: dict[str, Any],
        fields: dict[str, Any],
        string_fields: dict[str, Any],
        preset: str = "custom",
    ) -> None:
        self._init_media(None)
        self._ext = "table.json"
        self._table = table
        self._spec = spec
        self._fields = fields
        self._strings = string_fields
        self._preset = preset

    @property
    def table(self) -> Table:
        return self._table

    @property
    def spec(self) -> dict[str, Any]:
        """The Vega-Lite spec (a copy), reading its rows from the data source `table`."""
        return copy.deepcopy(self._spec)

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self._fields)

    @property
    def string_fields(self) -> dict[str, Any]:
        return dict(self._strings)

    @property
    def preset(self) -> str:
        return self._preset

    def _encode(self) -> bytes:
        return self._table.bytes()

    def _queued(self) -> tuple[Media, int]:
        table, held = self._table._queued()
        assert isinstance(table, Table)
        chart = CustomChart(table, self._spec, self._fields, self._strings, self._preset)
        return chart, held

    def _store(self, files_dir: str | os.PathLike[str]) -> dict[str, Any]:
        self._table._store(files_dir)  # the table's media cells, then its file
        self._address = self._table.address
        self._size = len(self._table.bytes())
        self._payload = self._table.bytes()
        return self._descriptor()

    def _meta(self) -> dict[str, Any]:
        return {
            "columns": self._table.columns,
            "nrows": len(self._table),
            "preset": self._preset,
            "spec": self._spec,
            "fields": self._fields,
            "string_fields": self._strings,
        }

    @classmethod
    def _from_descriptor(cls, desc: dict[str, Any], fetch: Fetch) -> CustomChart:
        obj = super()._from_descriptor(desc, fetch)
        table_desc = dict(desc, _type="table")
        obj._table = Table._from_descriptor(table_desc, fetch)
        return obj

    def _load_meta(self, desc: dict[str, Any]) -> None:
        spec = desc.get("spec")
        self._spec = spec if isinstance(spec, dict) else {}
        fields = desc.get("fields")
        self._fields = fields if isinstance(fields, dict) else {}
        strings = desc.get("string_fields")
        self._strings = strings if isinstance(strings, dict) else {}
        preset = desc.get("preset")
        self._preset = preset if isinstance(preset, str) else "custom"

    __hash__ = None  # type: ignore[assignment]  # the table is mutable

    def _repr_fields(self) -> str:
        return f"{self._preset}, {len(self._table)} rows, fields={self._fields}"

    def __repr__(self) -> str:
        return f"CustomChart({self._repr_fields()})"


def _make(
    preset: str,
    template: dict[str, Any],
    table: Table,
    fields: dict[str, Any],
    string_fields: dict[str, Any],
) -> CustomChart:
    used: set[str] = set()
    spec = _resolve(template, fields, string_fields, used, "")
    spec.setdefault("data", {"name": DATA_NAME})
    if len(json.dumps(spec)) > _MAX_SPEC_BYTES:
        raise ValueError(
            f"vega_spec is over {_MAX_SPEC_BYTES >> 10} KiB of JSON; put the data in the table, "
            "not in the spec"
        )
    return CustomChart(table, spec, fields, string_fields, preset)


def plot_table(
    vega_spec: dict[str, Any] | str | None = None,
    data_table: Table | None = None,
    fields: dict[str, Any] | None = None,
    string_fields: dict[str, Any] | None = None,
    split_table: bool = False,
    *,
    vega_spec_name: str | None = None,
) -> CustomChart:
    """A chart of `data_table` drawn by your own Vega-Lite spec `vega_spec` (a dict or its
    JSON text).

    In the spec, `${field:NAME}` stands for the column `fields[NAME]` and `${string:NAME}` for
    `string_fields[NAME]` (W&B's placeholders). The spec reads the table's rows from the data
    source named `table`; a spec without `data` gets `{"name": "table"}`.

        spec = {"mark": "point", "title": "${string:title}",
                "encoding": {"x": {"field": "${field:x}", "type": "quantitative"},
                             "y": {"field": "${field:y}", "type": "quantitative"}}}
        chart = fwtrack.plot_table(spec, table, {"x": "lr", "y": "loss"}, {"title": "LR"})
        fwtrack.log({"lr_vs_loss": chart})

    W&B's custom presets are Vega specs named by id (e.g. `"wandb/line/v0"`); fwtrack takes
    Vega-Lite, written out (`fwtrack.plot.line` etc. cover W&B's built-in presets).
    W&B's built-in preset ids (`"wandb/line/v0"`, `"wandb/scatter/v0"`, `"wandb/bar/v0"`,
    `"wandb/histogram/v0"`, `"wandb/lineseries/v0"`, `"wandb/area-under-curve/v0"`,
    `"wandb/confusion_matrix/v1"`) are taken too (as `vega_spec` or W&B's keyword
    `vega_spec_name`), with W&B's field names. `split_table` is accepted for W&B
    compatibility and changes nothing.
    """
    del split_table
    if vega_spec_name is not None:
        if vega_spec is not None:
            raise TypeError("pass either vega_spec or vega_spec_name, not both")
        vega_spec = vega_spec_name
    if vega_spec is None:
        raise TypeError("plot_table: vega_spec is required (a Vega-Lite spec)")
    if fields is None:
        raise TypeError("plot_table: fields is required, e.g. {'x': 'step', 'y': 'loss'}")
    if not isinstance(data_table, Table):
        raise TypeError(
            f"data_table must be a fwtrack.Table, got {type(data_table).__name__}: "
            "e.g. fwtrack.Table(columns=['x', 'y'], data=rows)"
        )
    bound = _check_bindings("fields", fields, allow_none=True)
    strings = _check_bindings("string_fields", string_fields, allow_none=False)
    _check_columns(bound, data_table)
    if isinstance(vega_spec, str) and vega_spec.strip() in _WANDB_PRESETS:
        preset, template = _WANDB_PRESETS[vega_spec.strip()](strings)
        needed = sorted(set(re.findall(r"\$\{field:([^}]*)\}", json.dumps(template))))
        missing = [n for n in needed if bound.get(n) is None and n != "stroke"]
        if missing:
            raise ValueError(f"plot_table({vega_spec!r}): fields needs {needed}; missing {missing}")
        if "stroke" in needed and bound.get("stroke") is None:
            template = _without_color(template)
        defaults = {
            "title": "",
            "x-axis-title": bound.get("x") or "",
            "y-axis-title": bound.get("y") or "",
        }
        strings = {**defaults, **strings}
        return _make(preset, template, data_table, bound, strings)
    return _make("custom", _spec_dict(vega_spec), data_table, bound, strings)


def _without_color(spec: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    out.get("encoding", {}).pop("color", None)
    return out


def _preset(name: str) -> Any:
    def build(strings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        from fwtrack.plot import charts, metrics

        title = str(strings.get("title", ""))
        base = {k: v for k, v in charts._base(title).items() if v is not None}
        q = charts._q
        specs: dict[str, tuple[str, dict[str, Any]]] = {
            "line": (
                "line",
                {
                    **base,
                    "mark": "line",
                    "encoding": {
                        "x": q("${field:x}"),
                        "y": q("${field:y}"),
                        "color": {"field": "${field:stroke}", "type": "nominal"},
                    },
                },
            ),
            "scatter": (
                "scatter",
                {
                    **base,
                    "mark": {"type": "point", "filled": True},
                    "encoding": {"x": q("${field:x}"), "y": q("${field:y}")},
                },
            ),
            "bar": (
                "bar",
                {
                    **base,
                    "mark": "bar",
                    "encoding": {
                        "y": {"field": "${field:label}", "type": "nominal", "sort": None},
                        "x": q("${field:value}"),
                    },
                },
            ),
            "histogram": (
                "histogram",
                {
                    **base,
                    "mark": "bar",
                    "encoding": {
                        "x": q("${field:value}", bin={"maxbins": 30}),
                        "y": {"aggregate": "count", "type": "quantitative"},
                    },
                },
            ),
            "lineseries": (
                "line_series",
                {
                    **base,
                    "mark": "line",
                    "encoding": {
                        "x": q("${field:step}"),
                        "y": q("${field:lineVal}", title=None),
                        "color": {"field": "${field:lineKey}", "type": "nominal", "title": None},
                    },
                },
            ),
        }
        if name == "area-under-curve":
            spec = metrics.auc_spec(title, False)
            return "area_under_curve", {k: v for k, v in spec.items() if v is not None}
        if name == "confusion_matrix":
            return "confusion_matrix", metrics.confusion_spec(None, title)
        return specs[name]

    return build


_WANDB_PRESETS = {
    "wandb/line/v0": _preset("line"),
    "wandb/scatter/v0": _preset("scatter"),
    "wandb/bar/v0": _preset("bar"),
    "wandb/histogram/v0": _preset("histogram"),
    "wandb/lineseries/v0": _preset("lineseries"),
    "wandb/area-under-curve/v0": _preset("area-under-curve"),
    "wandb/confusion_matrix/v1": _preset("confusion_matrix"),
}
