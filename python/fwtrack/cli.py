"""The `fwtrack` command line (also `python -m fwtrack`).

    fwtrack runs [--project P] [--dir D]
    fwtrack show RUN [--json] [--dir D]
    fwtrack export RUN --format csv|parquet --out PATH [--keys k1,k2] [--dir D]

RUN is `<project>/<run_id>`, a bare run id, or the path of a run directory. Exit status: 0 on
success, 1 when the run cannot be found or read (message on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from fwtrack import _core
from fwtrack.api import Api
from fwtrack.errors import FwTrackError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["main"]

_SUMMARY_ITEMS = 3
_NAME_WIDTH = 28
_SUMMARY_WIDTH = 80


class _UsageError(Exception):
    """A bad argument combination found after parsing (exit status 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with `argv` (default `sys.argv[1:]`); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status: int = args.func(args)
        for warning in caught:
            print(f"fwtrack: warning: {warning.message}", file=sys.stderr)
        return status
    except _UsageError as exc:
        parser.error(str(exc))  # exits with status 2
    except BrokenPipeError:  # `fwtrack runs | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except (FwTrackError, OSError, ModuleNotFoundError) as exc:
        # RunNotFoundError, AmbiguousRunError, CorruptLogError (an OSError naming the log),
        # an unwritable --out, pyarrow missing for Parquet.
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


def _fail(message: str) -> int:
    print(f"fwtrack: error: {message}", file=sys.stderr)
    return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fwtrack",
        description="Inspect and export fwtrack runs recorded on local disk.",
        epilog=(
            "RUN is <project>/<run_id>, a bare run id, or a run directory. The run directory "
            "is --dir, else $FWTRACK_DIR, else ./fwtrack."
        ),
    )
    parser.add_argument("--version", action="version", version=f"fwtrack {_core.__version__}")
    parser.add_argument(
        "--dir", default=None, help="run directory (default: $FWTRACK_DIR or ./fwtrack)"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    runs = sub.add_parser(
        "runs",
        parents=[common],
        help="list runs, newest first",
        description="List runs, newest first.",
    )
    runs.add_argument("--project", "-p", default=None, help="only runs of this project")
    runs.set_defaults(func=_cmd_runs)

    show = sub.add_parser(
        "show",
        parents=[common],
        help="show a run: info, config, summary, history shape",
        description="Show a run: info, config, summary, state and history shape.",
    )
    show.add_argument("run", metavar="RUN")
    show.add_argument("--json", action="store_true", help="print one JSON object")
    show.set_defaults(func=_cmd_show)

    export = sub.add_parser(
        "export",
        parents=[common],
        help="export a run's history to CSV or Parquet",
        description="Export a run's history (one row per step) to CSV or Parquet.",
    )
    export.add_argument("run", metavar="RUN")
    export.add_argument(
        "--format",
        "-f",
        choices=("csv", "parquet"),
        default=None,
        help="output format (default: from the --out suffix)",
    )
    export.add_argument("--out", "-o", required=True, help="output file ('-' for CSV on stdout)")
    export.add_argument("--keys", "-k", default=None, help="comma-separated metrics (default: all)")
    export.set_defaults(func=_cmd_export)

    from fwtrack.server.cli import add_commands as add_server_commands

    add_server_commands(sub)

    from fwtrack.sync import add_commands as add_sync_commands

    add_sync_commands(sub, [common])

    from fwtrack.artifacts.cli import add_commands as add_artifact_commands

    add_artifact_commands(sub, [common])

    from fwtrack.sweeps.cli import add_commands as add_sweep_commands

    add_sweep_commands(sub, [common])

    from fwtrack.importers.cli import add_commands as add_import_commands

    add_import_commands(sub, [common])
    return parser


# -- runs ----------------------------------------------------------------------------------


def _cmd_runs(args: argparse.Namespace) -> int:
    api = Api(args.dir)
    try:
        runs = api.runs(args.project)
    except ValueError as exc:
        raise _UsageError(str(exc)) from exc
    if not runs:
        where = f"project {args.project!r} in {api.dir}" if args.project else str(api.dir)
        print(f"no runs in {where}")
        return 0
    header = ["ID", "PROJECT", "NAME", "STATE", "CREATED", "RUNTIME", "STEP", "SUMMARY"]
    rows = [
        [
            run.id,
            run.project,
            _clip(run.name, _NAME_WIDTH),
            run.state,
            run.created_at.astimezone().strftime("%Y-%m-%d %H:%M"),
            _duration(run.runtime),
            "-" if run.last_step is None else str(run.last_step),
            _clip(_summary_line(run.summary), _SUMMARY_WIDTH),
        ]
        for run in runs
    ]
    _table(header, rows, sys.stdout)
    return 0


def _table(header: list[str], rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip(), file=out)


def _summary_line(summary: dict[str, Any]) -> str:
    items = [
        (k, v)
        for k, v in sorted(_flatten(summary))
        if not k.startswith("_") and isinstance(v, int | float | str)
    ]
    return " ".join(f"{k}={_value(v, digits=4)}" for k, v in items[:_SUMMARY_ITEMS])


# -- show ----------------------------------------------------------------------------------


def _cmd_show(args: argparse.Namespace) -> int:
    run = Api(args.dir).run(args.run)
    history = run.history()
    keys = [c for c in history.columns if not str(c).startswith("_")]
    histogram_keys = run.histogram_keys()
    steps = history["_step"] if len(history) else None
    info: dict[str, Any] = {
        "id": run.id,
        "project": run.project,
        "name": run.name,
        "state": run.state,
        "exit_code": run.exit_code,
        "created_at": run.created_at.isoformat(),
        "runtime": run.runtime,
        "dir": str(run.dir),
    }
    meta = run.metadata
    for key in ("group", "job_type", "tags", "notes", "host", "pid", "program", "args"):
        info[key] = meta.get(key)
    info["python"] = meta.get("python")
    info["fwtrack_version"] = meta.get("fwtrack_version")
    info["resumes"] = max(len(run.starts) - 1, 0)
    info["tail_error"] = run.tail_error
    history_info = {
        "rows": len(history),
        "first_step": None if steps is None else int(steps.min()),
        "last_step": None if steps is None else int(steps.max()),
        "keys": keys,
        "histogram_keys": histogram_keys,
    }
    if args.json:
        doc = {
            **info,
            "config": run.config,
            "summary": run.summary,
            "metrics": run.metrics,
            "history": history_info,
        }
        print(json.dumps(doc, indent=2, default=str, allow_nan=True))
        return 0

    out = sys.stdout
    state = info["state"]
    if info["exit_code"] not in (None, 0):
        state = f"{state} (exit code {info['exit_code']})"
    lines: list[tuple[str, Any]] = [
        ("run", run.path),
        ("name", run.name),
        ("state", state),
        ("created", run.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")),
        ("runtime", _duration(run.runtime)),
    ]
    for key in ("group", "job_type", "notes"):
        if info[key]:
            lines.append((key.replace("_", " "), info[key]))
    if info["tags"]:
        lines.append(("tags", ", ".join(str(t) for t in info["tags"])))
    if info["host"]:
        pid = f" (pid {info['pid']})" if info["pid"] is not None else ""
        lines.append(("host", f"{info['host']}{pid}"))
    if info["program"]:
        cmd = [str(info["program"]), *(str(a) for a in info["args"] or [])]
        lines.append(("command", " ".join(cmd)))
    for key, label in (("python", "python"), ("fwtrack_version", "fwtrack")):
        if info[key]:
            lines.append((label, info[key]))
    if info["resumes"]:
        lines.append(("resumed", f"{info['resumes']} time(s)"))
    lines.append(("dir", info["dir"]))
    if info["tail_error"]:
        lines.append(("log tail", f"unreadable past this point: {info['tail_error']}"))
    _pairs(lines, out, indent="")

    for title, values in (("config", run.config), ("summary", run.summary)):
        print(f"\n{title}", file=out)
        if values:
            _pairs(sorted(_flatten(values)), out)
        else:
            print("  (empty)", file=out)
    print("\nhistory", file=out)
    rows = history_info["rows"]
    span = (
        ""
        if steps is None
        else f", steps {history_info['first_step']}..{history_info['last_step']}"
    )
    print(f"  {rows} row(s){span}, {len(keys)} metric(s)", file=out)
    for line in _wrap(keys, width=96):
        print(f"  {line}", file=out)
    if histogram_keys:
        print("\nhistograms", file=out)
        for line in _wrap(histogram_keys, width=96):
            print(f"  {line}", file=out)
    print(f"\nexport: fwtrack export {run.path} --format csv --out history.csv", file=out)
    return 0


def _pairs(pairs: Iterable[tuple[str, Any]], out: TextIO, indent: str = "  ") -> None:
    items = list(pairs)
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        print(f"{indent}{key.ljust(width)}  {_value(value)}", file=out)


def _wrap(words: list[str], width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line}, {word}" if line else word
        if line and len(candidate) > width:
            lines.append(line + ",")
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


# -- export --------------------------------------------------------------------------------


def _cmd_export(args: argparse.Namespace) -> int:
    fmt = args.format or _format_from_suffix(args.out)
    if args.out == "-" and fmt != "csv":
        raise _UsageError("--out - (stdout) is for --format csv only")
    if fmt == "parquet":
        pa, pq = _import_pyarrow()  # before reading anything: fail fast without pyarrow
    keys = None
    if args.keys is not None:
        keys = [k.strip() for k in args.keys.split(",") if k.strip()]
    run = Api(args.dir).run(args.run)
    frame = run.history(keys)
    if args.out == "-":
        frame.to_csv(sys.stdout, index=False)
        return 0
    out = Path(args.out)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    else:
        table = pa.Table.from_pandas(_parquet_safe(frame), preserve_index=False)
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"fwtrack.run": run.path.encode()}
        )
        pq.write_table(table, out)
    print(
        f"wrote {len(frame)} row(s) x {frame.shape[1]} column(s) of {run.path} to {out}",
        file=sys.stderr,
    )
    return 0


def _format_from_suffix(out: str) -> str:
    suffix = Path(out).suffix.lower()
    if suffix == ".csv" or out == "-":
        return "csv"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise _UsageError(f"cannot tell the format of {out!r}: pass --format csv or --format parquet")


def _import_pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ModuleNotFoundError(
            "export to Parquet needs pyarrow: pip install 'fwtrack[parquet]' "
            f"(import failed: {exc})",
            name="pyarrow",
        ) from exc
    return pa, pq


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns with values of mixed types (a metric logged as a number, then a string) become
    strings: Parquet columns have one type."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype != object:
            continue
        kinds = {type(v) for v in frame[column] if v is not None}
        if len(kinds) > 1:
            frame[column] = [None if v is None else str(v) for v in frame[column]]
    return frame


# -- formatting ----------------------------------------------------------------------------


def _flatten(value: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            items.extend(_flatten(item, f"{name}."))
        else:
            items.append((name, item))
    return items


def _value(value: Any, digits: int = 6) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, default=str)
    return str(value)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
