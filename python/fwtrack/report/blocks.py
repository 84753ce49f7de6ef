"""The blocks of a report, as Python objects (names after `wandb_workspaces.reports.v2`).

Each block turns into the document's JSON (`to_json`, docs/reports.md "Document") and back
(`block_from_json`). Panels take `runs=`: a filter string (`"config.lr > 0.01 and tags ~
baseline"`), a list of run ids or `Run` objects, or a `Runset(filters=..., ids=...)`; none
means every run of the project.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from fwtrack.errors import ReportArgumentError

__all__ = [
    "H1",
    "H2",
    "H3",
    "BarPlot",
    "Block",
    "Grouping",
    "Histogram",
    "Image",
    "LinePlot",
    "Lineage",
    "Markdown",
    "MediaBrowser",
    "P",
    "ParallelCoordinates",
    "ParallelCoordinatesPlot",
    "RunComparer",
    "RunsTable",
    "Runset",
    "ScalarChart",
    "block_from_json",
]

_X_AXES = ("_step", "_runtime", "_timestamp")


def _new_id() -> str:
    return "b" + secrets.token_hex(5)


def _bad(text: str) -> ReportArgumentError:
    return ReportArgumentError(text)


def _text(name: str, value: Any, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} must be a str, got {value!r:.60}")
    return value


def _keys(name: str, value: Any, *, example: str) -> list[str]:
    if isinstance(value, str):
        raise _bad(f"{name} must be a list of keys, not a str: use {name}=[{value!r}]")
    if not isinstance(value, Sequence) or not all(isinstance(k, str) and k for k in value):
        raise _bad(f"{name} must be a list of non-empty str keys, e.g. {name}=[{example!r}]")
    return list(value)


@dataclass
class Runset:
    """The runs a panel shows: `filters` (the runs list's filter language, e.g.
    `"config.lr > 0.01 and tags ~ baseline"`; empty = every run) or `ids` (run ids or `Run`
    objects), with at most `limit` runs (≤ 500, default 50) in `sort` order (default
    `-created_at`)."""

    filters: str | None = None
    ids: list[str] | None = None
    limit: int | None = None
    sort: str | None = None
    frozen_from: str | None = None

    def __post_init__(self) -> None:
        if self.filters is not None and self.ids is not None and self.frozen_from is None:
            raise _bad("Runset takes filters= or ids=, not both: a run set is a filter or a list")
        if self.filters is not None:
            _text("Runset(filters=)", self.filters)
        if self.ids is not None:
            self.ids = _run_ids(self.ids)
        if self.filters is None and self.ids is None:
            self.filters = ""
        if self.limit is not None and (
            isinstance(self.limit, bool)
            or not isinstance(self.limit, int)
            or not 1 <= self.limit <= 500
        ):
            raise _bad(f"Runset(limit=) must be an int in 1..500, got {self.limit!r}")
        _text("Runset(sort=)", self.sort, optional=True)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.ids is not None:
            out["ids"] = list(self.ids)
            if self.frozen_from is not None:
                out["frozen_from"] = self.frozen_from
        else:
            out["filter"] = self.filters or ""
        if self.limit is not None:
            out["limit"] = self.limit
        if self.sort is not None:
            out["sort"] = self.sort
        return out

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Runset:
        return cls(
            filters=doc.get("filter"),
            ids=doc.get("ids"),
            limit=doc.get("limit"),
            sort=doc.get("sort"),
            frozen_from=doc.get("frozen_from"),
        )


def _run_ids(values: Any) -> list[str]:
    if isinstance(values, str):
        raise _bad("ids must be a list of run ids, not a str: use ids=['abc123']")
    ids = []
    for value in values:
        run_id = value if isinstance(value, str) else getattr(value, "id", None)
        if not isinstance(run_id, str) or not run_id:
            raise _bad(f"runs: {value!r:.60} is neither a run id (str) nor a Run")
        ids.append(run_id)
    return ids


def _runset(value: Any) -> Runset:
    """`runs=` as a Runset: a filter string, a list of ids or Runs, a Runset, or None (all)."""
    if value is None:
        return Runset()
    if isinstance(value, Runset):
        return value
    if isinstance(value, str):
        return Runset(filters=value)
    if isinstance(value, Sequence) or hasattr(value, "__iter__"):
        return Runset(ids=_run_ids(list(value)))
    raise _bad(
        f"runs={value!r:.60} is not a run set: pass a filter string "
        "('config.lr > 0.01'), a list of run ids or Runs, or Runset(filters=..., ids=...)"
    )


@dataclass
class Grouping:
    """Runs grouped by `by` (`"config.<key>"`, `"group"` or `"job_type"`), drawn as their
    `agg` (`"mean"` or `"median"`) with a `band` (`"minmax"`, `"std"` or `"none"`)."""

    by: str
    agg: str = "mean"
    band: str = "minmax"

    def __post_init__(self) -> None:
        if not isinstance(self.by, str) or not (
            self.by in ("group", "job_type") or (self.by.startswith("config.") and len(self.by) > 7)
        ):
            raise _bad(
                f"group by {self.by!r:.60}: use 'config.<key>' (e.g. 'config.seed'), 'group' "
                "or 'job_type'"
            )
        if self.agg not in ("mean", "median"):
            raise _bad(f"group agg {self.agg!r}: use 'mean' or 'median'")
        if self.band not in ("minmax", "std", "none"):
            raise _bad(f"group band {self.band!r}: use 'minmax', 'std' or 'none'")

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "agg": self.agg, "band": self.band}


def _grouping(value: Any) -> Grouping | None:
    if value is None or isinstance(value, Grouping):
        return value
    if isinstance(value, str):
        return Grouping(by=value)
    if isinstance(value, dict):
        return Grouping(**value)
    raise _bad(f"group={value!r:.60}: pass 'config.<key>', 'group', 'job_type' or Grouping(...)")


@dataclass
class Block:
    """A block of a report. `id` is made when not given; `rev` is the report version that
    last changed it (set by the server)."""

    TYPE: ClassVar[str] = ""
    _FIELDS: ClassVar[tuple[str, ...]] = ()
    id: str = field(default_factory=_new_id, kw_only=True)
    rev: int | None = field(default=None, compare=False, repr=False, kw_only=True)

    def _fields_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            out[name] = value.to_json() if hasattr(value, "to_json") else value
        return out

    def to_json(self) -> dict[str, Any]:
        """The block as the report document holds it (without `rev`)."""
        return {"id": self.id, "type": self.TYPE, **self._fields_json()}


def _common(cls: type[Block], doc: dict[str, Any]) -> dict[str, Any]:
    kwargs = {name: doc[name] for name in cls._FIELDS if name in doc}
    if "runs" in kwargs:
        kwargs["runs"] = Runset.from_json(kwargs["runs"])
    if isinstance(kwargs.get("group"), dict):
        kwargs["group"] = Grouping(**kwargs["group"])
    return {"id": doc["id"], "rev": doc.get("rev"), **kwargs}


@dataclass
class Markdown(Block):
    """Markdown text: headings, lists, code, `$math$`, links."""

    TYPE: ClassVar[str] = "markdown"
    _FIELDS: ClassVar[tuple[str, ...]] = ("text",)
    text: str = ""

    def __post_init__(self) -> None:
        _text("Markdown(text=)", self.text)


def H1(text: str) -> Markdown:
    """A level-1 heading (a markdown block)."""
    return Markdown(f"# {_text('H1(text=)', text)}")


def H2(text: str) -> Markdown:
    """A level-2 heading (a markdown block)."""
    return Markdown(f"## {_text('H2(text=)', text)}")


def H3(text: str) -> Markdown:
    """A level-3 heading (a markdown block)."""
    return Markdown(f"### {_text('H3(text=)', text)}")


def P(text: str) -> Markdown:
    """A paragraph (a markdown block)."""
    return Markdown(_text("P(text=)", text) or "")


@dataclass
class Image(Block):
    """An image: an `https://` URL, or a local image file (PNG, JPEG, GIF or WebP) uploaded
    into the report when it is saved."""

    TYPE: ClassVar[str] = "image"
    _FIELDS: ClassVar[tuple[str, ...]] = ("src", "alt", "caption")
    url: str | Path | None = None
    caption: str | None = None
    alt: str | None = None
    src: str | None = None

    def __post_init__(self) -> None:
        _text("Image(caption=)", self.caption, optional=True)
        _text("Image(alt=)", self.alt, optional=True)
        if self.src is None:
            if self.url is None:
                raise _bad("Image needs an https:// URL or the path of a local image file")
            text = str(self.url)
            if text.startswith("https://"):
                self.src, self.url = text, None
            elif text.startswith(("http://", "data:", "javascript:")):
                raise _bad(
                    f"Image({text[:60]!r}): only https:// URLs or local files; hint: save the "
                    "image to a file and pass its path (it is uploaded with the report)"
                )
            elif not Path(text).is_file():
                raise _bad(f"Image({text[:200]!r}): no such file; pass an https:// URL or a path")
            else:
                self.url = Path(text)

    @property
    def local_file(self) -> Path | None:
        """The local file still to upload (None once it has a `src`)."""
        return self.url if isinstance(self.url, Path) and self.src is None else None


def _panel_title(cls: str, title: Any) -> None:
    _text(f"{cls}(title=)", title, optional=True)


@dataclass
class LinePlot(Block):
    """Line chart of metrics `y` over `x` (`_step`, `_runtime`, `_timestamp` or a metric) of a
    run set, with EMA `smoothing` (0..0.999) and optional grouping."""

    TYPE: ClassVar[str] = "line"
    _FIELDS: ClassVar[tuple[str, ...]] = ("runs", "y", "x", "smoothing", "log_y", "title", "group")
    runs: Any = None
    y: list[str] = field(default_factory=list)
    x: str = "_step"
    smoothing: float = 0.0
    group: Any = None
    log_y: bool = False
    title: str | None = None

    def __post_init__(self) -> None:
        self.runs = _runset(self.runs)
        self.y = _keys("y", self.y, example="train/loss")
        if not self.y:
            raise _bad("LinePlot needs at least one metric: y=['train/loss']")
        _text("LinePlot(x=)", self.x)
        if (
            isinstance(self.smoothing, bool)
            or not isinstance(self.smoothing, int | float)
            or math.isnan(self.smoothing)
            or not 0 <= self.smoothing <= 0.999
        ):
            raise _bad(
                f"smoothing must be a number in 0..0.999 (EMA weight), got {self.smoothing!r}"
            )
        self.smoothing = float(self.smoothing)
        if not isinstance(self.log_y, bool):
            raise _bad(f"log_y must be True or False, got {self.log_y!r}")
        self.group = _grouping(self.group)
        _panel_title("LinePlot", self.title)


@dataclass
class RunsTable(Block):
    """The runs table of a run set: `columns` (`name`, `state`, `config.<k>`,
    `summary.<k>`, ...) sorted by `sort` (e.g. `-summary.loss`)."""

    TYPE: ClassVar[str] = "runs_table"
    _FIELDS: ClassVar[tuple[str, ...]] = ("runs", "columns", "sort", "title")
    runs: Any = None
    columns: list[str] | None = None
    sort: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        self.runs = _runset(self.runs)
        if self.columns is not None:
            self.columns = _keys("columns", self.columns, example="summary.loss")
        _text("RunsTable(sort=)", self.sort, optional=True)
        _panel_title("RunsTable", self.title)


def _field_key(cls: str, name: str, key: Any) -> str:
    if (
        not isinstance(key, str)
        or key.partition(".")[0] not in ("config", "summary")
        or not (key.partition(".")[2])
    ):
        raise _bad(f"{cls}({name}={key!r:.60}): use 'summary.<key>' or 'config.<key>'")
    return key


@dataclass
class ParallelCoordinates(Block):
    """Parallel coordinates over `columns` (at least two `config.`/`summary.` keys), colored
    by `color`."""

    TYPE: ClassVar[str] = "parallel"
    _FIELDS: ClassVar[tuple[str, ...]] = ("runs", "columns", "color", "title")
    runs: Any = None
    columns: list[str] = field(default_factory=list)
    color: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        self.runs = _runset(self.runs)
        self.columns = [
            _field_key("ParallelCoordinates", "columns", c)
            for c in _keys("columns", self.columns, example="config.lr")
        ]
        if len(self.columns) < 2:
            raise _bad(
                "ParallelCoordinates needs at least two columns, e.g. "
                "columns=['config.lr', 'summary.loss']"
            )
        _text("ParallelCoordinates(color=)", self.color, optional=True)
        _panel_title("ParallelCoordinates", self.title)


ParallelCoordinatesPlot = ParallelCoordinates
"""The name `wandb_workspaces.reports.v2` gives it."""


@dataclass
class MediaBrowser(Block):
    """The media logged under `key`, at `step` (None: the last)."""

    TYPE: ClassVar[str] = "media"
    _FIELDS: ClassVar[tuple[str, ...]] = ("runs", "key", "step", "title")
    runs: Any = None
    key: str = ""
    step: int | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        self.runs = _runset(self.runs)
        if not isinstance(self.key, str) or not self.key:
            raise _bad(f"{type(self).__name__} needs key=, the logged key (e.g. 'samples')")
        if self.step is not None and (
            isinstance(self.step, bool) or not isinstance(self.step, int) or self.step < 0
        ):
            raise _bad(f"step must be an int >= 0 or None (the last), got {self.step!r}")
        _panel_title(type(self).__name__, self.title)


@dataclass
class Histogram(MediaBrowser):
    """The histograms logged under `key`, at `step` (None: the last)."""

    TYPE: ClassVar[str] = "histogram"


@dataclass
class ScalarChart(Block):
    """One summary or config value (`key`: `summary.<k>` or `config.<k>`) over a run set,
    as a number (`agg`: mean, min, max or last)."""

    TYPE: ClassVar[str] = "scalar"
    STYLE: ClassVar[str] = "number"
    _FIELDS: ClassVar[tuple[str, ...]] = ("runs", "key", "style", "agg", "group", "title")
    runs: Any = None
    key: str = ""
    agg: str | None = "mean"
    group: Any = None
    title: str | None = None

    @property
    def style(self) -> str:
        return self.STYLE

    def __post_init__(self) -> None:
        self.runs = _runset(self.runs)
        self.key = _field_key(type(self).__name__, "key", self.key)
        if self.agg is not None and self.agg not in ("mean", "min", "max", "last"):
            raise _bad(f"agg {self.agg!r}: use 'mean', 'min', 'max' or 'last'")
        self.group = _grouping(self.group)
        _panel_title(type(self).__name__, self.title)


@dataclass
class BarPlot(ScalarChart):
    """One summary or config value per run (or per group) of a run set, as bars."""

    STYLE: ClassVar[str] = "bar"
    agg: str | None = None


@dataclass
class Lineage(Block):
    """The lineage of artifact `"<name>:<version or alias>"` of the report's project."""

    TYPE: ClassVar[str] = "lineage"
    _FIELDS: ClassVar[tuple[str, ...]] = ("artifact", "title")
    artifact: str = ""
    title: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.artifact, str) or self.artifact.count(":") != 1:
            raise _bad(
                f"Lineage(artifact={self.artifact!r:.60}): use '<name>:<version or alias>', "
                "e.g. 'model:v3' or 'model:latest'"
            )
        _panel_title("Lineage", self.title)


@dataclass
class RunComparer(Block):
    """The runs of a run set side by side (config and summary); `diff_only` shows only the
    keys that differ."""

    TYPE: ClassVar[str] = "compare"
    _FIELDS: ClassVar[tuple[str, ...]] = ("runs", "diff_only", "title")
    runs: Any = None
    diff_only: bool = True
    title: str | None = None

    def __post_init__(self) -> None:
        self.runs = _runset(self.runs)
        if not isinstance(self.diff_only, bool):
            raise _bad(f"diff_only must be True or False, got {self.diff_only!r}")
        _panel_title("RunComparer", self.title)


_BY_TYPE: dict[str, type[Block]] = {
    "markdown": Markdown,
    "image": Image,
    "line": LinePlot,
    "runs_table": RunsTable,
    "parallel": ParallelCoordinates,
    "media": MediaBrowser,
    "histogram": Histogram,
    "lineage": Lineage,
    "compare": RunComparer,
}


def block_from_json(doc: dict[str, Any]) -> Block:
    """The block object of a document block."""
    kind = doc.get("type")
    if kind == "scalar":
        cls: type[Block] = BarPlot if doc.get("style") == "bar" else ScalarChart
        kwargs = _common(cls, doc)
        kwargs.pop("style", None)
        return cls(**kwargs)
    if kind not in _BY_TYPE:
        raise ReportArgumentError(f"unknown block type {kind!r} in the report")
    cls = _BY_TYPE[kind]
    return cls(**_common(cls, doc))
