"""Runs in Jupyter / IPython kernels.

- `init()` shows the run's name, state and dashboard link as rich output (HTML), and that
  output turns to the final state when the run finishes.
- `run` in a cell renders a live mini-panel of its metrics: the last value and a sparkline of
  each numeric key, updated in place (`display_id`) as the run logs, at most once a second,
  and once more at finish.
- Console capture in a kernel wraps `sys.stdout` / `sys.stderr` (see `StreamCapture`) instead
  of redirecting file descriptors 1 and 2, which the kernel itself reads.
- The code snapshot is the notebook: the `.ipynb` when the kernel knows its path
  (`JPY_SESSION_NAME` / `__session__`, set by Jupyter Server; `__vsc_ipynb_file__` in VS
  Code), else the cells executed so far (IPython's `In`), written as `_session_history.ipynb`.

Nothing here imports IPython unless the process already did: outside a kernel every function
is a cheap no-op.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from fwtrack import _core
    from fwtrack.sdk.run import Run

__all__ = [
    "HISTORY_NOTEBOOK",
    "Panel",
    "StreamCapture",
    "in_kernel",
    "notebook_code",
    "run_html",
]

PANEL_INTERVAL = 1.0
"""Seconds between two updates of a live panel (the last values always show at finish)."""
PANEL_POINTS = 120
"""Points kept per key for a sparkline (older ones are thinned out, the last is kept)."""
PANEL_KEYS = 12
"""Keys shown in a panel (the first logged ones)."""
HISTORY_NOTEBOOK = "_session_history.ipynb"
"""The code snapshot's name when the notebook file is not found (as wandb names it)."""


def _shell() -> Any:
    """The running IPython shell, or None (IPython is never imported here)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (not a terminal IPython)."""
    shell = _shell()
    return shell is not None and getattr(shell, "kernel", None) is not None


def in_ipython() -> bool:
    """Whether IPython (kernel or terminal) runs this process."""
    return _shell() is not None


# -- rich output -----------------------------------------------------------------------------

_STATE_COLOURS = {"running": "#1a7f37", "finished": "#57606a", "failed": "#cf222e"}


def _link(run: Run) -> str | None:
    url = getattr(run, "url", None)
    return url if isinstance(url, str) and url else None


def _state(run: Run, panel: Panel | None) -> str:
    if not run.finished:
        return "running"
    return panel.state if panel is not None and panel.state else "finished"


def run_html(run: Run, panel: Panel | None = None) -> str:
    """The run as an HTML block: name, state, link, directory, and the metrics panel."""
    state = _state(run, panel)
    colour = _STATE_COLOURS.get(state, "#57606a")
    link = _link(run)
    name = html.escape(run.name)
    title = f'<a href="{html.escape(link)}" target="_blank">{name}</a>' if link else name
    parts = [
        '<div class="fwtrack-run" style="font-family:sans-serif;font-size:13px;'
        'border:1px solid #d0d7de;border-radius:6px;padding:8px 10px;margin:2px 0">',
        f"<div><b>fwtrack</b> run {title} "
        f'<span class="fwtrack-state" style="color:{colour}">{state}</span> '
        f'<span style="color:#57606a">{html.escape(run.project)}/{html.escape(run.id)}</span>'
        "</div>",
    ]
    if link:
        parts.append(
            f'<div>dashboard: <a href="{html.escape(link)}" target="_blank">'
            f"{html.escape(link)}</a></div>"
        )
    parts.append(f'<div style="color:#57606a">{html.escape(run.dir)}</div>')
    if panel is not None:
        parts.append(panel.table_html())
    parts.append("</div>")
    return "".join(parts)


def run_text(run: Run, panel: Panel | None = None) -> str:
    link = _link(run)
    return f"fwtrack run {run.name} ({_state(run, panel)}) {link or run.dir}"


def _bundle(run: Run, panel: Panel | None = None) -> dict[str, str]:
    return {"text/html": run_html(run, panel), "text/plain": run_text(run, panel)}


def _display(bundle: dict[str, str], display_id: str, update: bool) -> None:
    try:
        from IPython.display import display, update_display

        if update:
            update_display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]
        else:
            display(bundle, raw=True, display_id=display_id)  # type: ignore[no-untyped-call]
    except Exception as e:  # rich output is a nicety; never in the way of the run
        from fwtrack.sdk.values import warn

        warn(f"fwtrack: the notebook output of the run was not shown: {e}")


class Panel:
    """The live view of one run in a notebook: its status block and metrics, shown by
    `show()` and kept up to date by `observe()` (each `log()`), `refresh()` and `close()`."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._series: dict[str, deque[float]] = {}
        self._strides: dict[str, int] = {}
        self._counts: dict[str, int] = {}
        self._ids: list[str] = []
        self._next = 0.0
        self._dirty = False
        self.state: str | None = None
        """The final state once the run finished ("finished" or "failed")."""

    # Metrics -------------------------------------------------------------------------------

    def observe(self, data: Mapping[str, Any]) -> None:
        """Take the numbers of one `log()` call; refresh the shown panels at most once per
        `PANEL_INTERVAL`."""
        with self._lock:
            for key, value in data.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    value = _number(value)
                    if value is None:
                        continue
                self._add(str(key), float(value))
            self._dirty = True
            now = time.monotonic()
            due = self._ids and now >= self._next
            if due:
                self._next = now + PANEL_INTERVAL
        if due:
            self.refresh()

    def _add(self, key: str, value: float) -> None:
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= PANEL_KEYS:
                return
            series = self._series[key] = deque()
            self._strides[key] = 1
            self._counts[key] = 0
        count = self._counts[key]
        self._counts[key] = count + 1
        stride = self._strides[key]
        if series and count % stride != 0:
            series[-1] = value  # the last point of a thinned stretch is the latest value
            return
        series.append(value)
        if len(series) > PANEL_POINTS:
            # Keep every other point from now on (the sparkline's shape, bounded memory).
            kept = list(series)[::2]
            series.clear()
            series.extend(kept)
            self._strides[key] = stride * 2

    def table_html(self) -> str:
        with self._lock:
            items = [(k, list(v)) for k, v in self._series.items()]
        if not items:
            return '<div style="color:#57606a">no metrics logged yet</div>'
        rows = "".join(
            f'<tr><td style="text-align:left;padding-right:12px">{html.escape(key)}</td>'
            f'<td style="text-align:right;padding-right:12px">{_format(values[-1])}</td>'
            f"<td>{_sparkline(values)}</td></tr>"
            for key, values in items
        )
        return f'<table class="fwtrack-metrics" style="margin-top:4px">{rows}</table>'

    # Displays ------------------------------------------------------------------------------

    def show(self) -> None:
        """A new live panel in the current cell's output."""
        display_id = f"fwtrack-{self._run.id}-{len(self._ids)}-{os.getpid()}"
        with self._lock:
            self._ids.append(display_id)
            self._next = time.monotonic() + PANEL_INTERVAL
        _display(_bundle(self._run, self), display_id, update=False)

    def show_status(self) -> None:
        """The status block `init()` shows (updated with the panels)."""
        self.show()

    def refresh(self) -> None:
        with self._lock:
            ids = list(self._ids)
            self._dirty = False
        bundle = _bundle(self._run, self)
        for display_id in ids:
            _display(bundle, display_id, update=True)

    def close(self) -> None:
        """The final state and values (at the run's finish)."""
        if self._ids:
            self.refresh()


def _number(value: Any) -> float | None:
    """A numpy / torch scalar as a float, else None (arrays, media, text)."""
    item = getattr(value, "item", None)
    size = getattr(value, "size", None)
    if item is None or (isinstance(size, int) and size != 1):
        return None
    if callable(size):  # torch: size() is the shape
        try:
            if math.prod(size()) != 1:
                return None
        except Exception:
            return None
    try:
        out = item()
    except Exception:
        return None
    return float(out) if isinstance(out, int | float) and not isinstance(out, bool) else None


def _format(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.4g}"


def _sparkline(values: list[float], width: int = 120, height: int = 20) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < 2:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 1 - (v - lo) / span * (height - 2):.1f}"
        for i, v in enumerate(values)
        if math.isfinite(v)
    )
    return (
        f'<svg width="{width}" height="{height}" class="fwtrack-spark">'
        f'<polyline fill="none" stroke="#0969da" stroke-width="1.5" points="{points}"/></svg>'
    )


# -- the hooks the run calls -----------------------------------------------------------------


def started(run: Run) -> Panel | None:
    """At `init` in a kernel: show the run's status block; returns the run's panel."""
    if not in_kernel():
        return None
    panel = Panel(run)
    panel.show_status()
    return panel


def finished(run: Run, panel: Panel | None, exit_code: int) -> None:
    """At `finish`: the final state in every panel of the run."""
    del run
    if panel is None:
        return
    panel.state = "finished" if exit_code == 0 else "failed"
    panel.close()


# -- console capture in a kernel -------------------------------------------------------------


class _Tee:
    """A text stream that writes through to `target` and copies every write into a pipe
    read by the run's console reader."""

    def __init__(self, target: TextIO, fd: int) -> None:
        self._target = target
        self._fd = fd
        self._lock = threading.Lock()
        self.active = True

    def write(self, text: str) -> int:
        n = self._target.write(text)
        if self.active and text:
            with self._lock:
                if self.active:
                    try:
                        os.write(self._fd, text.encode("utf-8", "replace"))
                    except OSError:
                        self.active = False
        return n

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._target.flush()

    def close_copy(self) -> None:
        with self._lock:
            self.active = False
            with contextlib.suppress(OSError):
                os.close(self._fd)

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self._target, name)


class StreamCapture:
    """Console capture in a kernel: `sys.stdout` and `sys.stderr` are wrapped, each write
    going on to the kernel's stream at once and copied into the run log (through a pipe that
    a reader thread of the Rust core splits into lines). File descriptors 1 and 2 are left
    alone: the kernel reads them itself. Output written by C code or child processes straight
    to the descriptors reaches the notebook as usual but not the run log."""

    def __init__(self, writer: _core.RunWriter) -> None:
        self._pid = os.getpid()
        self._stopped = False
        self._readers: list[_core.ConsoleReader] = []
        self._tees: list[tuple[str, _Tee]] = []
        for name in ("stdout", "stderr"):
            target = getattr(sys, name)
            if target is None:
                continue
            read_fd, write_fd = os.pipe()
            try:
                self._readers.append(writer.read_console(name, read_fd))
            except BaseException:
                os.close(read_fd)
                os.close(write_fd)
                raise
            tee = _Tee(target, write_fd)
            setattr(sys, name, tee)
            self._tees.append((name, tee))

    def stop(self) -> None:
        """Unwrap the streams (a wrapper replaced meanwhile by someone else just stops
        copying) and wait (bounded) for the last lines. Idempotent."""
        if self._stopped or os.getpid() != self._pid:
            return
        self._stopped = True
        for name, tee in self._tees:
            with contextlib.suppress(Exception):
                tee.flush()
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._target)
            tee.close_copy()
        deadline = time.monotonic() + 2.0
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))


# -- the code snapshot -----------------------------------------------------------------------


def notebook_path() -> str | None:
    """The path of the kernel's notebook file when the kernel knows it, else None."""
    shell = _shell()
    ns = getattr(shell, "user_ns", None) or {}
    candidates = [
        ns.get("__vsc_ipynb_file__"),
        ns.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ]
    for path in candidates:
        if isinstance(path, str) and path.endswith(".ipynb") and os.path.isfile(path):
            return os.path.abspath(path)
    return None


def executed_cells() -> list[str]:
    """The sources of the cells executed so far in this kernel, in order."""
    shell = _shell()
    ns = getattr(shell, "user_ns", None) or {}
    cells = ns.get("In")
    if not isinstance(cells, list):
        return []
    return [c for c in cells[1:] if isinstance(c, str) and c.strip()]


def history_notebook(cells: list[str]) -> bytes:
    """`cells` as an nbformat 4 notebook (code cells without outputs)."""
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": i,
                "id": f"cell-{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i, source in enumerate(cells, 1)
        ],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return (json.dumps(nb, indent=1) + "\n").encode()


def notebook_code() -> tuple[str, bytes] | None:
    """The code snapshot of a kernel: (file name, bytes) of the notebook file, or of the
    executed cells as `_session_history.ipynb`; None outside a kernel."""
    if not in_ipython():
        return None
    path = notebook_path()
    if path is not None:
        try:
            with open(path, "rb") as f:
                return os.path.basename(path), f.read()
        except OSError:
            pass
    return HISTORY_NOTEBOOK, history_notebook(executed_cells())
