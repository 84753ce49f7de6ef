"""`import_tensorboard`: TensorBoard event files into fwtrack runs.

Each directory holding event files (`events.out.tfevents.*`) under LOGDIR is one run, named
after its path below LOGDIR (`train`, `eval`, ...; LOGDIR itself gives the run its own
name). Event files are read with TensorBoard's own record reader and its compatibility layers
(`data_compat`, `dataclass_compat`: what `EventFileLoader` applies), so summaries written by
TF 1.x, TF 2.x `tf.summary`, PyTorch's `SummaryWriter` and tensorboardX read the same. The
reader is TensorBoard's TensorFlow-free one (`tensorboard.compat.tensorflow_stub`): importing
does not load TensorFlow.

What is kept, at the step and wall time TensorBoard recorded: scalars (numbers), histograms
(`fwtrack.Histogram` with TensorBoard's bucket edges and counts), images (`fwtrack.Image`,
a list for a batch), text (strings) and the hyperparameters of the hparams plugin (config).
Other plugins (audio, PR curves, meshes, graphs) are counted in the report's notes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from fwtrack.errors import ImportSourceError
from fwtrack.importers._write import (
    ImportReport,
    Progress,
    Row,
    SourceRun,
    check_project,
    resolve_mode,
    resolve_root,
    safe_project,
    upload,
    write_run,
)

__all__ = ["find_runs", "import_tensorboard", "read_events", "read_run"]

EVENT_MARK = "tfevents"
MAX_BINS = 512
TORCH_TEXT_SUFFIX = "/text_summary"


def find_runs(logdir: str | os.PathLike[str]) -> list[Path]:
    """The directories under `logdir` (itself included) that hold event files, sorted."""
    root = Path(logdir).expanduser()
    if root.is_file() and EVENT_MARK in root.name:
        return [root.parent]
    if not root.is_dir():
        raise ImportSourceError(
            f"{root} does not exist or is not a directory\nhint: pass the LOGDIR given to "
            "SummaryWriter / tf.summary.create_file_writer (the folder holding the event files)"
        )
    dirs = sorted({p.parent for p in root.rglob(f"*{EVENT_MARK}*") if p.is_file()})
    if not dirs:
        raise ImportSourceError(
            f"no TensorBoard event files in {root} (files named events.out.tfevents.*)\n"
            "hint: pass the LOGDIR given to SummaryWriter / tf.summary.create_file_writer"
        )
    return dirs


def _event_files(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.iterdir() if p.is_file() and EVENT_MARK in p.name)


def read_events(path: str | os.PathLike[str]) -> Iterator[Any]:
    """The events of one event file (`tensorboard.compat.proto.event_pb2.Event`), as written
    (before the compatibility layers); a torn tail ends the file."""
    from tensorboard.compat.proto import event_pb2  # type: ignore[import-untyped]
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow  # type: ignore[import-untyped]

    try:
        reader = pywrap_tensorflow.PyRecordReader_New(os.fsencode(path), 0, b"", None)
    except Exception as exc:
        raise ImportSourceError(f"cannot read the event file {path}: {exc}") from exc
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return
        except errors.DataLossError:
            return  # a torn tail (the writer was killed): what came before is kept
        event = event_pb2.Event()
        try:
            event.ParseFromString(reader.record())
        except Exception as exc:
            raise ImportSourceError(
                f"{path}: an event that TensorBoard's Event message cannot decode ({exc})"
            ) from exc
        yield event


def _values(files: list[Path], notes: list[str], config: dict[str, Any]) -> Iterator[Any]:
    """(step, wall time, tag, fwtrack value) of every summary value of a run's files."""
    from tensorboard import data_compat, dataclass_compat  # type: ignore[import-untyped]
    from tensorboard.util import tensor_util  # type: ignore[import-untyped]

    initial: dict[str, Any] = {}
    skipped: dict[str, int] = {}
    for path in files:
        for raw in read_events(path):
            for event in dataclass_compat.migrate_event(data_compat.migrate_event(raw), initial):
                if not event.HasField("summary"):
                    continue
                for value in event.summary.value:
                    plugin = (
                        value.metadata.plugin_data.plugin_name
                        or initial.get(value.tag, value.metadata).plugin_data.plugin_name
                    )
                    if plugin == "hparams":
                        _hparams(value, config)
                        continue
                    if not value.HasField("tensor"):
                        continue
                    try:
                        arr = tensor_util.make_ndarray(value.tensor)
                        v = _convert(plugin, arr)
                    except Exception as exc:  # a value TensorBoard itself could not show
                        notes.append(f"{path}: {value.tag} at step {event.step}: {exc}")
                        continue
                    if v is None:
                        skipped[plugin or "(none)"] = skipped.get(plugin or "(none)", 0) + 1
                        continue
                    tag = value.tag
                    if plugin == "text" and tag.endswith(TORCH_TEXT_SUFFIX):
                        tag = tag.removesuffix(TORCH_TEXT_SUFFIX)  # torch's add_text naming
                    yield event.step, event.wall_time, tag, v
    for plugin, n in sorted(skipped.items()):
        notes.append(f"{files[0].parent}: {n} value(s) of the {plugin!r} plugin not imported")


def _convert(plugin: str, arr: Any) -> Any:
    import numpy as np

    if plugin == "scalars":
        return float(arr.reshape(()))
    if plugin == "histograms":
        import fwtrack

        if arr.ndim != 2 or arr.shape[0] == 0:
            return None
        nonzero = np.flatnonzero(arr[:, 2])
        if nonzero.size:  # empty buckets at either end (TF's default buckets) left out
            arr = arr[nonzero[0] : nonzero[-1] + 1]
        edges = np.concatenate([arr[:, 0], arr[-1:, 1]]).astype(np.float64)
        counts = np.rint(arr[:, 2]).astype(np.uint64)
        if counts.size > MAX_BINS:
            # Adjacent buckets merged (edges kept) down to the bins a histogram may have.
            k = -(-counts.size // MAX_BINS)
            pad = (-counts.size) % k
            counts = np.concatenate([counts, np.zeros(pad, np.uint64)]).reshape(-1, k).sum(1)
            edges = np.concatenate([edges[::k], edges[-1:]]) if pad else edges[::k]
        if not np.all(np.diff(edges) > 0):
            # Buckets of zero width (every value the same): one bucket around them.
            lo, hi = float(edges[0]), float(edges[-1])
            if hi <= lo:
                hi = lo + max(abs(lo) * 1e-6, 1e-12)
            edges, counts = np.array([lo, hi]), np.array([counts.sum()], dtype=np.uint64)
        return fwtrack.Histogram(np_histogram=(counts, edges))
    if plugin == "images":
        from PIL import Image as PILImage

        import fwtrack

        images = [fwtrack.Image(PILImage.open(io.BytesIO(bytes(b))).copy()) for b in arr.flat[2:]]
        if not images:
            return None
        return images[0] if len(images) == 1 else images
    if plugin == "text":
        texts = [b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b) for b in arr.flat]
        return texts[0] if arr.ndim == 0 or len(texts) == 1 else json.dumps(texts)
    return None


def _hparams(value: Any, config: dict[str, Any]) -> None:
    from tensorboard.plugins.hparams import plugin_data_pb2  # type: ignore[import-untyped]

    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
    if not data.HasField("session_start_info"):
        return
    for key, hp in data.session_start_info.hparams.items():
        kind = hp.WhichOneof("kind")
        if kind == "number_value":
            n = hp.number_value
            config[key] = int(n) if n.is_integer() else n
        elif kind == "string_value":
            config[key] = hp.string_value
        elif kind == "bool_value":
            config[key] = hp.bool_value


def _group(values: list[tuple[int, float, str, Any]]) -> Iterator[Row]:
    """Rows of the values in step order: one row per step, and another row at the same step
    when a tag comes again there."""
    values.sort(key=lambda v: (v[0], v[1]))
    row: Row | None = None
    for step, ts, tag, v in values:
        if row is None or step != row.step or tag in row.data:
            if row is not None:
                yield row
            row = Row(step=max(step, 0), ts=ts, data={})
        row.data[tag] = v
    if row is not None:
        yield row


def read_run(run_dir: Path, logdir: Path, project: str | None = None) -> SourceRun:
    """The run of the event files in `run_dir` as a `SourceRun` (for `write_run`)."""
    files = _event_files(run_dir)
    notes: list[str] = []
    config: dict[str, Any] = {}
    values = list(_values(files, notes, config))
    start = min((v[1] for v in values), default=0.0)
    for path in files:
        for event in read_events(path):
            start = event.wall_time if start == 0.0 else min(start, event.wall_time)
            break
    rel = run_dir.relative_to(logdir) if run_dir != logdir else Path(run_dir.name)
    digest = hashlib.blake2b(files[0].name.encode(), digest_size=6).hexdigest()
    end = max((v[1] for v in values), default=start)
    hosts = {p.name.split(".")[4] for p in files if len(p.name.split(".")) > 5}
    src = SourceRun(
        source="tensorboard",
        source_path=str(run_dir),
        id=f"tb-{digest}",
        project=project or safe_project(logdir.resolve().name),
        start_time=start,
        name=str(rel),
        config=config,
        host=hosts.pop() if len(hosts) == 1 else None,
        rows=lambda: _group(values),
        exit_code=0,
        finish_ts=end,
        extra={"event_files": [p.name for p in files]},
    )
    src.extra["notes"] = notes
    return src


def import_tensorboard(
    logdir: str | os.PathLike[str],
    project: str | None = None,
    entity: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    progress: TextIO | None = None,
    mode: str | None = None,
) -> ImportReport:
    """Import the TensorBoard runs under `logdir` (each directory holding event files) as
    local fwtrack runs under `dir` (default `FWTRACK_DIR`, else `./fwtrack`) in `project`
    (default: the name of `logdir`).

    Importing again skips runs already imported (a run's id comes from its first event
    file's name). Online (a server configured), the runs are then uploaded as `fwtrack sync`
    does (to `entity`). `progress`: a stream for one line per run (the CLI passes stderr).
    Raises `ImportSourceError` when `logdir` holds no event files.
    """
    project_ = check_project(project, "import_tensorboard(project=...)")
    root = resolve_root(dir)
    mode_ = resolve_mode(mode)
    base = Path(logdir).expanduser()
    runs = find_runs(base)
    if base.is_file():
        base = base.parent
    report = ImportReport(source=f"tensorboard ({logdir})", root=root, project=project_)
    out = Progress(progress)
    for run_dir in runs:
        try:
            src = read_run(run_dir, base, project_)
        except ImportSourceError as exc:
            report.failed.append((str(run_dir), str(exc)))
            out.say(f"{run_dir}  FAILED: {str(exc).splitlines()[0]}")
            continue
        notes = src.extra.pop("notes")
        write_run(src, root, report, out)
        report.notes.extend(notes)
    if mode_ == "online":
        upload(report, entity, progress)
    return report
