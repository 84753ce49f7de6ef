"""Type stubs for the native module `fwtrack._core` (built from rust/fwtrack-py).

This file is the contract between the Rust core and the Python layer. Python code never
imports anything else from the extension.
"""

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from typing_extensions import Buffer

__version__: str
FORMAT_VERSION: int
LOG_FILE_NAME: str  # "run.fwlog"
LOG_HEADER_LEN: int  # 16: the run log's file header
FRAME_HEADER_LEN: int  # 28: the header of each frame (docs/format.md)

class CorruptLogError(OSError):
    """A run log whose header is not a fwtrack run log, or whose version is unknown."""

class RunWriter:
    """Owns one run log: a writer thread appending framed, compressed blocks.

    `path` is the run directory (created if missing); the log is `path/run.fwlog` and a lock
    file `path/.lock` is held (flock) while the writer lives, so readers can tell a running
    run from a crashed one.

    `info` is the run-start metadata (a dict, or its JSON text: id, name, project, tags, ...),
    or a callable making it from the metadata of the log being resumed (the dict
    `RunReader.meta()` returns; None when there is no log yet): the log is decoded once.
    With `resume=True` an existing log is opened: a torn tail is truncated, and step, runtime,
    summary and metric definitions continue from what was recovered (see `step`, `runtime`).

    `converter(key, value)` is called for any value that is not a float, int, bool, str or
    dict (a numpy scalar, an array, a tensor, a user Histogram, ...); it returns a
    float/int/bool/str, a `Histogram`, or None (the key is left out of the row), or raises
    TypeError naming the key and the type.
    `warn(message)` is called (with the GIL held) for each warning the writer has to report.
    """

    def __init__(
        self,
        path: str,
        info: dict[str, Any] | str | Callable[[dict[str, Any] | None], dict[str, Any]],
        *,
        resume: bool = False,
        flush_interval: float = 1.0,
        queue_capacity: int = 65536,
        queue_bytes: int = 4194304,
        converter: Callable[[str, Any], Any],
        warn: Callable[[str], None],
    ) -> None: ...
    def log(self, data: dict[str, Any], step: int | None = None, commit: bool = True) -> None:
        """Flatten nested dicts with "/", validate keys (non-empty str, <= 256 chars) and
        values, then enqueue. Raises ValueError/TypeError naming the key before anything of
        this call is enqueued. Step rules: see docs/api.md ("Steps")."""
    def log_config(self, config: dict[str, Any] | str) -> None:
        """Append a full config snapshot: a dict of plain values (None, bool, int, float, str,
        list, tuple, dict, numpy scalars), converted to the record without JSON; a JSON
        object's text is accepted too."""
    def log_at(self, data: dict[str, Any], step: int, ts: float, rt: float | None = None) -> None:
        """Log one row committed at exactly `step` with Unix time `ts` and run time `rt`
        (default: `ts` less the run's start, the info's `started_at`): history as it
        happened, for importers. Values as `log`. ValueError for a step below the current
        one, or a `ts`/`rt` that is not a time."""
    def log_system(
        self, values: list[tuple[str, float]], ts: float | None = None, rt: float | None = None
    ) -> None:
        """Append one system-metrics sample (a `System` record), timed now or at Unix time
        `ts` (run time `rt`, default `ts` less the run's start). Does nothing after
        `finish`."""
    def log_console(self, stream: str, lines: list[str], ts: float) -> None:
        """Append `lines` of `stream` ("stdout"/"stderr") printed at Unix time `ts`, as one
        `Console` record (for importers and output not read from a pipe). Does nothing
        after `finish`."""
    def log_run_edit(self, info: dict[str, Any] | str) -> None:
        """Append a `RunEdit` record: run info keys set while the run runs (name, tags,
        notes, ...); readers show them over the start's info. Does nothing after `finish`."""
    def log_alert(self, title: str, text: str, level: str) -> None:
        """Append an `Alert` record timed now; `level` is "INFO", "WARN" or "ERROR"
        (ValueError otherwise, or for an empty title). Does nothing after `finish`."""
    def log_artifact_record(self, kind: Literal["logged", "used"], body_json: str) -> None:
        """Append an `ArtifactLogged` ("logged") or `ArtifactUsed` ("used") record whose body
        is `body_json`, a JSON object with string "name" and "digest" (the other fields: see
        docs/format.md), kept whole. ValueError naming a bad kind or body. Ordered with the
        other records; does nothing after `finish`."""
    def read_console(self, stream: str, fd: int) -> ConsoleReader:
        """Record the output arriving on pipe descriptor `fd` (taken over, closed at its end)
        as `stream` ("stdout"/"stderr") console lines, in a thread that never takes the GIL;
        `\\r` redraws fold into the final text of their line."""
    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: list[str] = ...,
        *,
        goal: Literal["minimize", "maximize"] | None = None,
        hidden: bool = False,
        step_sync: bool | None = None,
    ) -> None:
        """Append a `MetricDef` record (it replaces an earlier one of the same name). `goal`,
        `hidden` and `step_sync` are stored as given (each only when set); ValueError for an
        unknown aggregation or goal."""
    def update_summary(self, values: dict[str, Any] | str, delete: list[str]) -> None:
        """Explicit summary values (override computed ones for those keys): a dict as
        `log_config` takes it (or a JSON object's text)."""
    def summary(self) -> dict[str, Any]:
        """The current summary, including everything logged so far (after `finish`, the
        final summary)."""
    def flush(self) -> None:
        """Return when everything logged so far is written and fsynced. GIL released."""
    def finish(
        self, exit_code: int = 0, reason: str | None = None, ts: float | None = None
    ) -> None:
        """Commit a pending row, write the finish record, fsync, stop the writer thread.
        `reason` (e.g. "stopped") goes into the finish record only when given; an empty str
        raises ValueError. `ts` (Unix time) dates the end instead of now (importers)."""
    @property
    def step(self) -> int:
        """The step the next implicit commit will get."""
    @property
    def runtime(self) -> float:
        """Seconds of run time so far (continues across resumes)."""
    @property
    def finished(self) -> bool: ...
    @property
    def dropped_steps(self) -> int:
        """How many log calls were dropped for a step below the current one."""

def amend_run(
    path: str,
    *,
    summary: dict[str, Any] | str | None = None,
    summary_delete: list[str] = ...,
    config: dict[str, Any] | str | None = None,
    info: dict[str, Any] | str | None = None,
) -> None:
    """Edit a run that is not being written (the public API's `summary.update()` and
    `update()`): append one frame holding a `Summary` snapshot with `summary` set and
    `summary_delete` removed (both explicit, as `update_summary`), a `Config` record when
    `config` (the whole new config) is given, and a `RunEdit` record when `info` (run info
    keys to set) is given; no start or finish record. The run's lock is held throughout;
    RuntimeError while a live process writes the run."""

class Histogram:
    """Bins computed in Rust. Build with `histogram(...)` or `Histogram.from_counts(...)`."""

    @staticmethod
    def from_counts(
        counts: npt.ArrayLike,
        edges: npt.ArrayLike,
        *,
        nan_count: int = 0,
        pos_inf_count: int = 0,
        neg_inf_count: int = 0,
    ) -> Histogram: ...
    @property
    def counts(self) -> npt.NDArray[np.uint64]: ...
    @property
    def edges(self) -> npt.NDArray[np.float64]: ...
    @property
    def nan_count(self) -> int: ...
    @property
    def pos_inf_count(self) -> int: ...
    @property
    def neg_inf_count(self) -> int: ...

def histogram(values: npt.NDArray[Any], num_bins: int) -> Histogram:
    """Histogram of a numpy array (float16/32/64, any int) with the GIL released.
    NaN and +/-Inf are excluded from the bins and counted."""

def scan_rows(
    path: str,
    keys: list[str] | None = None,
    min_step: int | None = None,
    max_step: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of a run log (directory or file) as dicts, merged by step, streamed one frame at
    a time without reading the whole log first."""

def is_locked(path: str) -> bool:
    """True when a live writer holds the run directory's lock."""

def after_fork_child() -> None:
    """Called in a forked child: every RunWriter becomes inert (calls are ignored)."""

def is_forked_child() -> bool: ...

class RunReader:
    """Reads a run log, including one still being written. Stops cleanly at a torn or
    corrupt tail and reports it in `meta()["tail_error"]`."""

    def __init__(self, path: str) -> None:
        """`path` is the run directory or the log file itself. Raises FileNotFoundError,
        CorruptLogError."""
    def meta(self) -> dict[str, Any]:
        """{"starts": [info dicts], "config": dict, "summary": dict,
        "metrics": [{"name", "step_metric", "summary"}], "finish": {"exit_code", "timestamp",
        "runtime", "reason": str | None} | None, "last_step": int | None, "runtime": float,
        "rows": int, "records": int, "tail_error": str | None, "artifacts": {"logged": [body
        dicts of the ArtifactLogged records in log order], "used": [ArtifactUsed bodies]}}: the
        same fold, and shape, as `index_update`'s "meta"."""
    def history(
        self,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> dict[str, Any]:
        """Columns: "_step" (int64 array), "_timestamp", "_runtime" (float64 arrays) and one
        column per metric: a float64 array (NaN where absent) when every value is numeric,
        else a list of values (None where absent). Rows with the same step are merged.
        Only `keys` (all when None) and steps in [min_step, max_step) are decoded: the
        history values are decoded here, straight into the columns, from the log as it was
        when the reader was made (opening it decodes only metadata). GIL released."""
    def scan(
        self,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows as dicts (merged by step), streamed from the log file one frame at a time;
        `keys` and [min_step, max_step) as in `history()`."""
    def histograms(self, key: str) -> list[tuple[int, Histogram]]:
        """(step, histogram) for each step at which `key` was logged as a histogram."""
    def histogram_keys(self) -> list[str]: ...
    def system(self) -> dict[str, Any]:
        """System samples as columns: "_timestamp", "_runtime" and one float64 array per
        `system/...` key (NaN where a sample lacks it)."""
    def console(self) -> list[tuple[float, str, str]]:
        """Console lines in order: (unix_time, stream, text)."""
    def media(self, key: str | None = None) -> list[tuple[int, float, str, dict[str, Any]]]:
        """Media values in log order, (step, unix_time, key, descriptor), of `key` or all."""
    def alerts(self) -> list[dict[str, Any]]:
        """The run's alerts in log order: `{"ts", "title", "text", "level"}` dicts (also in
        `meta()["alerts"]`)."""
    def media_keys(self) -> list[str]:
        """Keys logged with media values, sorted."""

class ConsoleReader:
    """The thread recording one console stream."""
    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the stream's end; True when it ended."""

class MediaValue:
    """A stored media value handed to `RunWriter.log`: its descriptor (docs/format.md, kind
    10). Made by the data types, not by users."""
    def __init__(self, descriptor: dict[str, Any]) -> None: ...
    def descriptor(self) -> dict[str, Any]: ...

class PendingMedia:
    """A media record queued in its place before its payload is stored: `complete` gives its
    descriptor (the record is written), `cancel` leaves it out (`reason` becomes a warning of
    the run); until then the writer waits at it. Dropping it unsettled cancels it. After
    `fork()`, the child's copy does nothing. Made by the media worker, not by users."""
    def __init__(self) -> None: ...
    def complete(self, descriptor: dict[str, Any]) -> bool: ...
    def cancel(self, reason: str | None = None) -> bool: ...
    @property
    def settled(self) -> bool: ...

def store_payload(dir: str | os.PathLike[str], ext: str, payload: bytes) -> tuple[str, int]:
    """Hash `payload` (BLAKE3) and, unless `<dir>/<hex>.<ext>` exists, write it there through
    a fsynced temporary file renamed into place, with the GIL released; `(address, size)`.
    OSError naming the file when it cannot be written."""

# -- content addresses: BLAKE3, "blake3:<64 hex>" (docs/format.md, "Content addresses") -----

# What can be hashed in place (numpy's stubs give arrays `__buffer__` only from Python 3.12).
_Bytes = Buffer | npt.NDArray[Any]

def hash_bytes(buffer: _Bytes) -> str:
    """The address ("blake3:<hex>") of the bytes of `buffer`: bytes, bytearray, memoryview, a
    numpy array of any dtype but object (its raw memory) or anything with the buffer
    protocol; read in place, which must be C-contiguous (else ValueError). Inputs of 128 KiB
    and more are hashed on several threads. GIL released."""

def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The address and size of the regular file at `path` (from 1 MiB, read in 1 MiB blocks
    hashed on several threads). A symbolic link at `path` is never followed: OSError, as
    for anything but a regular file; FileNotFoundError/PermissionError as usual. Messages
    name the path. GIL released."""

def hash_files(paths: Sequence[str | os.PathLike[str]]) -> list[tuple[str, int] | None]:
    """`hash_file` of each path, files hashed in parallel, results in order; None for a file
    that cannot be hashed (missing, unreadable, a symbolic link, not a regular file).
    GIL released."""

def check_address(address: str) -> str:
    """`address` ("blake3:<hex>" or, from older logs, "sha256:<hex>"; 64 hex digits of either
    case) normalised to lowercase hex; ValueError naming the value and the expected form."""

# -- blob directories: `<blob_dir>/<hh>/<hex>` of blake3 addresses, temporaries in `tmp/` ------

def store_files(
    blob_dir: str | os.PathLike[str], paths: Sequence[str | os.PathLike[str]]
) -> list[tuple[str, int] | OSError]:
    """Store each file in `blob_dir` by its content address: read once (O_NOFOLLOW: a symbolic
    link, or anything but a regular file, is refused), copied into `<blob_dir>/tmp/` while
    hashed (BLAKE3), renamed to `<blob_dir>/<hh>/<hex>` (or removed when that blob exists);
    files up to 4 MiB are read whole and hashed first, and written only when the blob is new.
    A file whose size or mtime changed while it was read gets an OSError naming it ("changed
    while it was being logged; log it again once it is written"). Files in parallel; no
    fsync per file, one `syncfs(2)` of the blob dir's file system at the end when anything
    was written. Results in order: `(address, size)` or an OSError instance (not raised).
    GIL released (Ctrl-C is honoured between batches of 1024 files)."""

def store_blob(blob_dir: str | os.PathLike[str], data: bytes) -> tuple[str, int]:
    """Store `data` in `blob_dir` by its content address (unless it is there already): a
    temporary in `tmp/`, fsynced, renamed, the directory fsynced. `(address, size)`; OSError
    naming the file when it cannot be written. GIL released."""

class Hasher:
    """Incremental BLAKE3: `update()` with pieces gives the address of their concatenation.
    Safe to share between threads (updates are serialized). GIL released while hashing."""
    def __init__(self) -> None: ...
    def update(self, buffer: _Bytes) -> None:
        """Add the bytes of `buffer` (the same inputs as `hash_bytes`)."""
    def hexdigest(self) -> str:
        """The address ("blake3:<hex>") of everything added so far; updates may go on."""
    @property
    def size(self) -> int:
        """The number of bytes added so far."""

# -- server side: upload validation, history index, downsampling ------------------------------

def validate_frames(data: bytes, at_start: bool) -> int:
    """Check that `data` is whole, valid run-log frames: with `at_start`, preceded by the
    16-byte file header (magic and a supported format version). Every frame must be complete,
    pass its CRC, decompress, and hold records that decode. Returns the number of frames;
    raises ValueError naming the byte offset (from the start of `data`) and the reason.
    GIL released."""

def frame_sequence(data: bytes, at_start: bool, next_seq: int) -> int:
    """The next record number after the frames of `data` (whole frames that passed
    `validate_frames`; with `at_start`, after the file header), which must continue a log
    whose next record is `next_seq`. A frame numbered below `next_seq` (sent again or out of
    order) raises ValueError naming its byte offset in `data`; a frame numbered above it is
    accepted (a writer skips the numbers of records it dropped). GIL released."""

def log_next_seq(fd: int, size: int) -> int:
    """The next record number after the whole frames among the first `size` bytes of the
    stored run log open on descriptor `fd` (0 when it has none), read from the frame headers
    with `pread` (the descriptor's position is untouched; frames are not checked again).
    OSError when the file is shorter than `size`. GIL released."""

def index_update(log_path: str, index_dir: str) -> dict[str, Any]:
    """Bring the history index in `index_dir` (created if missing) up to date with the run log
    at `log_path`, reading only the whole frames after the last update (a log still being
    written is continued from its last whole frame next time; a replaced log is re-indexed from
    scratch). Returns {"log_offset": int, "rows_added": int, "keys": [indexed metric keys in
    first-logged order], "meta": <the shape of RunReader.meta(), summary kept live>}.
    Updates of one index are serialized by a lock file. GIL released."""

def index_read_meta(index_dir: str) -> dict[str, Any]:
    """What `index_update` returns, without updating (`rows_added` is 0). A missing index gives
    log_offset 0, no keys and a meta with empty values (no starts, {} config and summary,
    None finish and last_step, 0 rows). GIL released."""

def read_series(
    index_dir: str,
    keys: list[str] | None = None,
    samples: int = 1000,
    min_step: float | None = None,
    max_step: float | None = None,
) -> dict[str, dict[str, npt.NDArray[np.float64]]]:
    """Series from the history index, per key: "step", "value", "timestamp" (float64 arrays)
    and, when downsampled, "min" and "max" (each bucket's finite extremes, NaN when it has
    none). `keys` None means every indexed key; unknown keys are absent. Steps are restricted
    to [min_step, max_step]; `samples` 0 means full resolution (see `downsample`).
    GIL released."""

def downsample(
    step: npt.NDArray[np.float64],
    value: npt.NDArray[np.float64],
    timestamp: npt.NDArray[np.float64],
    samples: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Min/max-preserving downsampling: the step range [first, last] is cut into `samples`
    equal-width buckets; each non-empty bucket gives its last point plus the min and max of
    its finite values. The last point is always kept. With `samples` 0, or no more points than
    `samples`, the series comes back whole without "min"/"max". Arrays must have one length.
    GIL released."""

def encode_history(
    runs: list[tuple[str, str]],
    missing: list[str],
    keys: list[str] | None = None,
    samples: int = 1000,
    min_step: float | None = None,
    max_step: float | None = None,
    until: float | None = None,
    timestamps: bool = True,
    workers: int = 2,
) -> bytes:
    """The history of `runs` (run id, index directory) as one `application/x-fwtrack-series`
    answer (docs/server.md, "Binary series"): per run its series of `keys` (all when None)
    within `[min_step, max_step]`, downsampled as `read_series` does (with `until`, only the
    points logged at or before it, downsampled after the cut), timestamps only when
    `timestamps`; `missing` is copied into the header. Reads on up to `workers` threads,
    GIL released."""

# -- upload: ship a run (its log and its files) to a server (rust/fwtrack-upload) -------------

class Uploader:
    """Uploads one run to a fwtrack server from background threads: its log
    (`<run_dir>/run.fwlog`), whole frames at a time, with `POST
    /api/v1/runs/{entity}/{project}/{run_id}/log`, and its files (`<run_dir>/files/**`,
    symbolic links left out with a warning) as blobs by content address: only the contents
    the server lacks are sent (docs/server.md, "Upload protocol"). The files are scanned once
    the server holds the run, every `files_interval` seconds while it is live, and once more
    after `complete`/`finish`. The acknowledged offset and the files' addresses are kept in
    `<run_dir>/upload.json`, so a new uploader for the same run resumes there and sends
    nothing that is already on the server.

    The same passes commit the run's artifacts: each pending commit in
    `<run_dir>/artifacts/pending/*.json` (name order) has the blobs the server lacks sent
    from its `blob_dir`, then is posted (`POST .../artifacts`); the server's answer goes to
    `artifacts/committed/<id>.json`, a refusal (or a blob found nowhere) to
    `artifacts/failed/<id>.json` (`{"id", "error"}`) with one warning. The files part is not
    done while a commit is pending. Needs `files=True`.

    `entity` None uploads as the key's user (`GET /api/v1/viewer`). With `follow=True` the
    uploader keeps tailing while another process holds the run's lock, and ends once the lock
    is released and everything is acknowledged. Server trouble (5xx, 429/503, no connection)
    is retried with backoff for as long as the uploader lives; 400/401/403/404/413 stop it
    with one warning (see `take_warnings`). Only `finish` and the `wait*` methods wait; they
    release the GIL. In a process forked after the start every call is a no-op.
    Raises ValueError for a base URL that is not http(s) or out-of-range numbers.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        project: str,
        run_id: str,
        run_dir: str,
        *,
        entity: str | None = None,
        follow: bool = False,
        max_batch_bytes: int = 4194304,
        heartbeat: float = 30.0,
        poll_interval: float = 0.2,
        request_timeout: float = 120.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 30.0,
        files: bool = True,
        files_interval: float = 10.0,
        max_pack_bytes: int = 8388608,
    ) -> None: ...
    def notify(self) -> None:
        """The log grew: look at it now rather than at the next poll (every 0.2 s)."""
    def notify_files(self) -> None:
        """Look at the run's files and pending artifact commits now rather than at the next
        `files_interval` (once the server holds the run). Never waits."""
    def status(self) -> dict[str, Any]:
        """{"acked": bytes acknowledged, "local_size": bytes in the local log, "state":
        "running" | "done" | "stopped", "last_error": str | None, "entity": str | None,
        "complete": bool, "files_done": bool, "files_total": files found by the last scan,
        "files_pending": of those, files not on the server as they are now,
        "files_pending_bytes": int, "files_recorded": files recorded on the server by this
        uploader, "blobs_sent": contents sent by this uploader, "blob_bytes_sent": int,
        "artifacts_pending": artifact commits in artifacts/pending/ at the last look,
        "artifacts_committed": commits this uploader committed, "artifacts_failed": commits
        it gave up on (artifacts/failed/)}."""
    def complete(self, timeout: float | None = None) -> None:
        """Declare the log complete: upload to its current end, then stop (giving up after
        `timeout` seconds; None: no limit). Does not wait."""
    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the upload thread has ended (at most `timeout` s); True when it has."""
    def wait_ready(self, timeout: float) -> bool:
        """Wait until the server has answered once, or the first attempt has failed (at most
        `timeout` s); True when either happened."""
    def finish(self, timeout: float | None = None) -> dict[str, Any]:
        """The log is complete: upload the rest of it and of the run's files, waiting at most
        `timeout` seconds (None: no limit), then stop. Returns {"done": bool (log and files),
        "acked": int, "remaining": log bytes not acknowledged, "unsent_tail": bytes of a torn
        tail never sent, "error": str | None, "timed_out": True when it returned at the
        deadline, "files_done": bool, "files_pending": files not on the server,
        "files_pending_bytes": int, "files_recorded": int, "blobs_sent": int,
        "blob_bytes_sent": int, "artifacts_pending": int, "artifacts_committed": int,
        "artifacts_failed": int}. "files_done" needs every artifact commit settled.
        Ctrl-C stops the upload and raises KeyboardInterrupt."""
    def outcome(self) -> dict[str, Any]:
        """What `finish` would return now, without waiting."""
    def abort(self) -> None:
        """Stop the upload thread as soon as possible, without waiting."""
    def take_warnings(self) -> list[str]:
        """Warnings for the user, each reported once: a refusal that stopped the upload, a
        corrupt frame, upload.json not writable, a left-out link among the run's files, a
        file path the server refused, and (while it lasts) an unreachable server."""

# -- the index's parts (console, system, media, histograms): fwtrack-core::index --------------

INDEX_VERSION: int

def index_version(index_dir: str | os.PathLike[str]) -> tuple[int, int]:
    """(layout version, log offset) of the index; (0, 0) without one."""

def console_page(
    index_dir: str | os.PathLike[str], stream: str | None, offset: int, limit: int
) -> tuple[int, list[tuple[int, str, float, str]]]:
    """(total, lines [offset, offset + limit) as (n, stream, unix_time, text)) of `stream`
    (all streams when None)."""

def console_lines(
    index_dir: str | os.PathLike[str], numbers: list[int]
) -> list[tuple[int, str, float, str]]:
    """The lines numbered `numbers` (ascending)."""

def console_search(
    index_dir: str | os.PathLike[str], stream: str | None, needle: str
) -> list[tuple[int, str | None]]:
    """Lines that may contain the casefolded `needle`: (n, None) sure, (n, text) to check."""

def system_columns(
    index_dir: str | os.PathLike[str], keys: list[str] | None = None
) -> dict[str, npt.NDArray[np.float64]]:
    """System samples as columns, as `RunReader.system()`."""

def media_items(
    index_dir: str | os.PathLike[str], key: str | None = None
) -> list[tuple[int, float, str, Any]]:
    """(step, unix_time, key, descriptor) of each media value, in log order."""

def media_keys(index_dir: str | os.PathLike[str]) -> list[tuple[str, int, Any]]:
    """(key, count, type of the newest) of each media key, in order of first use."""

def histogram_keys(index_dir: str | os.PathLike[str]) -> list[str]:
    """The histogram keys of the index, sorted."""

def histograms(index_dir: str | os.PathLike[str], key: str) -> dict[str, list[Any]]:
    """{"steps", "edges", "counts", "nan", "pos_inf", "neg_inf"}: one entry per histogram."""

def histograms_json(index_dir: str | os.PathLike[str], key: str) -> bytes | None:
    """The histograms route's answer for `key` as JSON, or None when an edge is not finite."""
