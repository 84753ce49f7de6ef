"""`import_wandb`: W&B offline runs (`wandb/offline-run-*/run-*.wandb`) into fwtrack runs.

A `.wandb` file is W&B's transaction log: a LevelDB-style log (a 7-byte header `:W&B`,
0xBEE1, version 0; 32 KiB blocks of records with a CRC-32, a length and a FULL/FIRST/MIDDLE/
LAST type) of `wandb.proto.wandb_internal_pb2.Record` messages. It is read here with W&B's own
record definitions; the reader that wandb shipped in Python (`wandb.sdk.internal.datastore`)
moved into its Go core, so the framing (a few lines) is read here.

What is kept: the run id, name, project, entity, group, job type, tags, notes, config (and its
later updates), the history (every row with its `_step`, `_timestamp` and `_runtime`), images,
histograms and tables logged into the history (their files from the run's `files/` folder),
the final summary, system metrics (`stats` records, `system/...` keys), console output
(`output_raw` records), the exit code and time, the run's saved files and the artifacts
it logged (their files from W&B's staging area or cache, while they are there).
"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, TextIO

from fwtrack.errors import ImportSourceError
from fwtrack.importers._write import (
    ImportReport,
    Progress,
    Row,
    SourceArtifact,
    SourceRun,
    check_project,
    resolve_mode,
    resolve_root,
    safe_project,
    safe_run_id,
    upload,
    write_run,
)

__all__ = ["find_runs", "import_wandb", "read_records", "read_run"]

HEADER = struct.pack("<4sHB", b":W&B", 0xBEE1, 0)
BLOCK = 32768
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_CRC = [zlib.crc32(bytes([t])) & 0xFFFFFFFF for t in range(LAST + 1)]

# W&B's system metric names (wandb-core's monitor) -> fwtrack's (sdk/system.py).
_SYSTEM_NAMES = {
    "cpu": "proc.cpu.percent",
    "memory_percent": "memory.percent",
    "proc.memory.rssMB": "proc.memory.rss_mb",
    "proc.memory.percent": "proc.memory.percent",
    "disk./.usagePercent": "disk.percent",
    "network.sent": "network.sent_bytes",
    "network.recv": "network.recv_bytes",
}
_GPU_NAMES = {
    "gpu": "util",
    "memory": "memory.util",
    "temp": "temp",
    "powerWatts": "power_w",
    "smClock": "clock.sm_mhz",
    "memoryClock": "clock.mem_mhz",
}


def _system_key(key: str) -> str:
    if key in _SYSTEM_NAMES:
        return f"system/{_SYSTEM_NAMES[key]}"
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "gpu" and parts[2] in _GPU_NAMES:
        return f"system/gpu.{parts[1]}.{_GPU_NAMES[parts[2]]}"
    return f"system/{key}"


def find_runs(path: str | os.PathLike[str]) -> list[Path]:
    """The `.wandb` files under `path`: a `.wandb` file, a run directory (`offline-run-*` or
    `run-*`), a `wandb/` directory or any directory above them. Sorted by path."""
    p = Path(path).expanduser()
    if p.is_file():
        if p.suffix != ".wandb":
            raise ImportSourceError(
                f"{p} is not a W&B transaction log (.wandb file)\nhint: name a W&B run "
                "directory (wandb/offline-run-*) or the folder holding `wandb/`"
            )
        return [p]
    if not p.is_dir():
        raise ImportSourceError(
            f"{p} does not exist\nhint: name a W&B run directory (wandb/offline-run-*) or the "
            "folder holding `wandb/`"
        )
    found = sorted(q for q in p.rglob("*.wandb") if q.is_file() and "latest-run" not in q.parts)
    if not found:
        raise ImportSourceError(
            f"no W&B runs in {p}: it holds no .wandb file (W&B writes them to "
            "wandb/offline-run-*/run-<id>.wandb)\nhint: name the folder W&B ran in (the one "
            "holding `wandb/`), or a run directory"
        )
    return found


def _frames(f: IO[bytes], path: Path) -> Iterator[bytes]:
    head = f.read(len(HEADER))
    if head != HEADER:
        raise ImportSourceError(
            f"{path} is not a W&B transaction log (bad header {head!r})\nhint: pass the "
            "run-<id>.wandb file W&B wrote, or its run directory"
        )
    pos = len(HEADER)
    pending: bytearray | None = None
    while True:
        left = BLOCK - pos % BLOCK
        if left < RECORD_HEADER:
            if len(f.read(left)) < left:
                return
            pos += left
            continue
        header = f.read(RECORD_HEADER)
        if len(header) < RECORD_HEADER:
            return  # the end, or a torn tail
        crc, length, kind = struct.unpack("<IHB", header)
        data = f.read(length)
        pos += RECORD_HEADER + length
        if len(data) < length:
            return  # a torn tail: the run was still being written (or crashed)
        if kind == 0 and length == 0 and crc == 0:
            continue  # zero padding at the end of a block
        if kind > LAST or zlib.crc32(data, _CRC[kind]) & 0xFFFFFFFF != crc:
            raise ImportSourceError(
                f"{path}: corrupt record at byte {pos - RECORD_HEADER - length} (checksum "
                "mismatch); the records before it are intact\nhint: W&B's own `wandb sync` "
                "would stop at the same place; copy the file again if it came from elsewhere"
            )
        if kind == FULL:
            yield data
        elif kind == FIRST:
            pending = bytearray(data)
        elif pending is not None:
            pending += data
            if kind == LAST:
                yield bytes(pending)
                pending = None


def read_records(path: str | os.PathLike[str]) -> Iterator[Any]:
    """The records of a `.wandb` file, decoded with wandb's `Record` message
    (`wandb.proto.wandb_internal_pb2.Record`)."""
    from wandb.proto import wandb_internal_pb2

    p = Path(path)
    try:
        f = p.open("rb")
    except OSError as exc:
        raise ImportSourceError(f"cannot read {p}: {exc}") from exc
    with f:
        for data in _frames(f, p):
            record: Any = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            try:
                record.ParseFromString(data)
            except Exception as exc:
                raise ImportSourceError(
                    f"{p}: a record that wandb's Record message cannot decode ({exc})\n"
                    "hint: the file may come from a newer wandb; import it with the wandb "
                    "version that wrote it installed"
                ) from exc
            yield record


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        # W&B writes NaN/Infinity unquoted, which json reads; anything else stays text.
        return text


def _key(item: Any) -> list[str]:
    return list(item.nested_key) if item.nested_key else [item.key]


def _set(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        nxt = tree.get(part)
        if not isinstance(nxt, dict):
            nxt = tree[part] = {}
        tree = nxt
    tree[path[-1]] = value


def _remove(tree: dict[str, Any], path: list[str]) -> None:
    for part in path[:-1]:
        nxt = tree.get(part)
        if not isinstance(nxt, dict):
            return
        tree = nxt
    tree.pop(path[-1], None)


def _ts(stamp: Any) -> float:
    return float(stamp.seconds) + float(stamp.nanos) / 1e9


class _Reader:
    """Folds the records of one `.wandb` file into a `SourceRun` (history rows kept as
    decoded dicts, turned into fwtrack values when written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.run_dir = path.parent
        self.files_dir = self.run_dir / "files"
        self.run: Any = None
        self.config: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}
        self.rows: list[tuple[int, float, float | None, dict[str, Any]]] = []
        self.system: list[tuple[float, float | None, list[tuple[str, float]]]] = []
        self.console: list[tuple[float, str, list[str]]] = []
        self.partial: dict[str, tuple[float, str]] = {}  # stream -> (ts, text of the open line)
        self.artifacts: list[SourceArtifact] = []
        self.files: dict[str, str] = {}
        self.exit: Any = None
        self.env: Any = None
        self.last_ts = 0.0
        self.notes: list[str] = []

    def read(self) -> None:
        for record in read_records(self.path):
            kind = record.WhichOneof("record_type")
            handler = getattr(self, f"_on_{kind}", None)
            if handler is not None:
                handler(getattr(record, kind))
        for stream, (ts, text) in self.partial.items():
            if text:
                self.console.append((ts, stream, [text]))

    def _on_run(self, run: Any) -> None:
        if self.run is None:
            self.run = run
        else:
            self.run.MergeFrom(run)
        for item in run.config.update:
            _set(self.config, _key(item), _json(item.value_json))
        for item in run.config.remove:
            _remove(self.config, _key(item))

    def _on_config(self, config: Any) -> None:
        for item in config.update:
            _set(self.config, _key(item), _json(item.value_json))
        for item in config.remove:
            _remove(self.config, _key(item))

    def _on_environment(self, env: Any) -> None:
        if self.env is None or env.program:
            self.env = env

    def _on_history(self, history: Any) -> None:
        row: dict[str, Any] = {}
        for item in history.item:
            _set(row, _key(item), _json(item.value_json))
        step = row.pop("_step", None)
        if not isinstance(step, int):
            step = history.step.num
        ts = row.pop("_timestamp", None)
        rt = row.pop("_runtime", None)
        ts = float(ts) if isinstance(ts, int | float) else self.last_ts
        self.last_ts = max(self.last_ts, ts)
        self.rows.append((int(step), ts, float(rt) if isinstance(rt, int | float) else None, row))

    def _on_summary(self, summary: Any) -> None:
        for item in summary.update:
            _set(self.summary, _key(item), _json(item.value_json))
        for item in summary.remove:
            _remove(self.summary, _key(item))

    def _on_stats(self, stats: Any) -> None:
        ts = _ts(stats.timestamp)
        values: list[tuple[str, float]] = []
        for item in stats.item:
            value = _json(item.value_json)
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.append((_system_key(item.key), float(value)))
        if values:
            self.system.append((ts, None, values))
            self.last_ts = max(self.last_ts, ts)

    def _on_output_raw(self, out: Any) -> None:
        self._output(out)

    def _on_output(self, out: Any) -> None:
        self._output(out)

    def _output(self, out: Any) -> None:
        stream = "stderr" if out.output_type == 0 else "stdout"  # OutputType: STDERR=0
        ts = _ts(out.timestamp)
        start_ts, text = self.partial.get(stream, (ts, ""))
        text += out.line
        *done, rest = text.split("\n")
        if done:
            lines = [line.rsplit("\r", 1)[-1] for line in done]
            self.console.append((start_ts, stream, lines))
            start_ts = ts
        self.partial[stream] = (start_ts if rest else ts, rest)

    def _on_files(self, files: Any) -> None:
        for item in files.files:
            local = self.files_dir / item.path
            if local.is_file():
                self.files[item.path] = str(local)

    def _on_artifact(self, art: Any) -> None:
        files: dict[str, str] = {}
        missing: list[str] = []
        for entry in art.manifest.contents:
            if entry.ref:
                missing.append(f"{entry.path} (a reference to {entry.ref})")
                continue
            local = _artifact_file(entry.local_path, entry.digest)
            if local is None:
                missing.append(entry.path)
            else:
                files[entry.path] = local
        if missing:
            self.notes.append(
                f"{self.path}: artifact {art.name!r} not imported: the files "
                f"{', '.join(missing[:5])} are no longer in W&B's staging area or cache"
            )
            return
        metadata = _json(art.metadata) if art.metadata else {}
        self.artifacts.append(
            SourceArtifact(
                name=art.name,
                type=art.type or "unspecified",
                files=files,
                aliases=list(art.aliases),
                metadata=metadata if isinstance(metadata, dict) else {},
                description=art.description or None,
            )
        )

    def _on_exit(self, exit: Any) -> None:
        self.exit = exit


def _artifact_file(local_path: str, digest: str) -> str | None:
    if local_path and os.path.isfile(local_path):
        return local_path
    try:
        hexdigest = base64.b64decode(digest).hex()
    except ValueError:
        return None
    cache = os.environ.get("WANDB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "wandb"
    )
    path = os.path.join(cache, "artifacts", "obj", "md5", hexdigest[:2], hexdigest[2:])
    return path if os.path.isfile(path) else None


def _value(key: str, value: Any, files_dir: Path, notes: list[str]) -> Any:
    """A W&B history value as a fwtrack value: numbers and strings as they are, an image
    file as `fwtrack.Image`, a histogram as `fwtrack.Histogram`, a table as `fwtrack.Table`;
    other media and objects as their JSON text."""
    if not isinstance(value, dict):
        if isinstance(value, list):
            return json.dumps(value)
        return value
    kind = value.get("_type")
    if kind is None:
        return value  # a nested dict: flattened with "/" by the writer
    import fwtrack

    try:
        if kind == "histogram":
            return fwtrack.Histogram(np_histogram=(value["values"], value["bins"]))
        if kind == "image-file":
            return fwtrack.Image(str(files_dir / value["path"]), caption=value.get("caption"))
        if kind == "images/separated":
            return None  # the gallery's images are logged under their own keys
        if kind in ("table-file", "table"):
            path = value.get("path")
            doc = json.loads((files_dir / path).read_text()) if path else value
            return fwtrack.Table(columns=doc["columns"], data=doc["data"])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        notes.append(f"{key}: a {kind} value not imported ({exc})")
        return None
    return json.dumps(value)


def read_run(path: str | os.PathLike[str], project: str | None = None) -> SourceRun:
    """The W&B run in the `.wandb` file at `path` as a `SourceRun` (for `write_run`)."""
    reader = _Reader(Path(path))
    reader.read()
    run = reader.run
    if run is None:
        raise ImportSourceError(
            f"{path}: the log holds no run record (W&B writes it first; the run may have "
            "failed to start)\nhint: import the other runs with their own paths"
        )
    start = _ts(run.start_time) if run.HasField("start_time") else 0.0
    if start <= 0:
        start = min((r[1] for r in reader.rows), default=0.0) or reader.last_ts
    config = {k: v for k, v in reader.config.items() if k != "_wandb"}
    summary = {
        k: v
        for k, v in reader.summary.items()
        if not k.startswith("_") and not (isinstance(v, dict) and "_type" in v)
    }
    files_dir = reader.files_dir
    notes = reader.notes

    def rows() -> Iterator[Row]:
        for step, ts, rt, data in reader.rows:
            row = {}
            for key, value in data.items():
                v = _value(key, value, files_dir, notes)
                if v is not None:
                    row[key] = v
            yield Row(step=step, ts=ts, data=row, rt=rt)

    exit_code: int | None = 0
    finish_ts = reader.last_ts or start
    if reader.exit is not None:
        exit_code = reader.exit.exit_code
        if reader.exit.runtime:
            finish_ts = max(finish_ts, start + reader.exit.runtime)
    else:
        exit_code = 1  # no exit record: W&B shows such a run as crashed
    env = reader.env
    files = [
        (name, p)
        for name, p in sorted(reader.files.items())
        if not name.startswith("media/") and name not in ("output.log", "wandb-summary.json")
    ]
    src = SourceRun(
        source="wandb",
        source_path=str(path),
        id=safe_run_id(run.run_id),
        source_id=run.run_id,
        project=project or safe_project(run.project or "uncategorized"),
        start_time=start,
        name=run.display_name or None,
        config=config,
        summary=summary,
        tags=list(run.tags),
        notes=run.notes or None,
        group=run.run_group or None,
        job_type=run.job_type or None,
        host=run.host or (env.host if env is not None else None),
        program=env.program if env is not None else None,
        args=list(env.args) if env is not None else [],
        python=env.python if env is not None else None,
        rows=rows,
        system=reader.system,
        console=reader.console,
        artifacts=reader.artifacts,
        files=files,
        exit_code=exit_code,
        finish_ts=finish_ts,
        finish_reason=None if reader.exit is not None else "crashed",
        extra={"entity": run.entity} if run.entity else {},
    )
    src.extra["notes"] = notes
    return src


def import_wandb(
    path: str | os.PathLike[str],
    project: str | None = None,
    entity: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    progress: TextIO | None = None,
    mode: str | None = None,
) -> ImportReport:
    """Import the W&B offline runs under `path` (a `.wandb` file, a run directory, or a folder
    holding `wandb/`) as local fwtrack runs under `dir` (default `FWTRACK_DIR`, else
    `./fwtrack`), each in `project` (default: the W&B run's project) with its W&B run id.

    Importing again skips runs already imported. Online (a server configured, see
    `fwtrack login`), the runs are then uploaded as `fwtrack sync` does (to `entity`).
    `progress`: a stream for one line per run (the CLI passes stderr).
    Raises `ImportSourceError` when `path` holds no W&B run.
    """
    project_ = check_project(project, "import_wandb(project=...)")
    root = resolve_root(dir)
    mode_ = resolve_mode(mode)
    logs = find_runs(path)
    report = ImportReport(source=f"wandb ({path})", root=root, project=project_)
    out = Progress(progress)
    for log in logs:
        try:
            src = read_run(log, project_)
        except ImportSourceError as exc:
            report.failed.append((str(log), str(exc)))
            out.say(f"{log}  FAILED: {str(exc).splitlines()[0]}")
            continue
        notes = src.extra.pop("notes")
        write_run(src, root, report, out)
        report.notes.extend(notes)
    if mode_ == "online":
        upload(report, entity, progress)
    return report
