"""A run's saved files: `run.save(glob_str, base_path=None, policy="live")`, the capture of
files written into `run.dir`, and `run.log_code()` (docs/api.md, "Saving files" and "Logging
code").

Everything kept with a run lives under `<run dir>/files/`; an online run's uploader ships what
is there by content address (the same path as the code snapshot), so saving a file is copying
it there at the right moments:

- `policy="now"`: copied once, at the call;
- `policy="live"`: copied at the call, then again whenever it changes (a thread looks every
  `LIVE_INTERVAL` seconds), and a last time at finish;
- `policy="end"`: copied at finish.

Globs follow W&B's rules: a relative `glob_str` is relative to the working directory and keeps
its path (`run.save("ckpt/*.pt")` saves `ckpt/a.pt`); `base_path` (a prefix of the glob) is cut
from the saved names (`run.save("out/ckpt/*.pt", base_path="out")` saves `ckpt/a.pt`); an
absolute glob without `base_path` keeps one folder level (`/data/run7/*.txt` saves `run7/a.txt`)
— except that a file inside the run directory keeps its path relative to it. A glob is expanded
when `save` is called: files created later are not picked up.

`run.dir` is the run directory. Files the program writes there (anything besides the run's own
entries: the run log, `files/`, `artifacts/`, `upload.json`, names starting with `.`) are copied
into the run's files at finish, as W&B saves what a program writes into its `wandb.run.dir`.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any, Literal

from fwtrack._fsutil import copy_replace
from fwtrack.run_files import FILES_DIR, inside

if TYPE_CHECKING:
    from fwtrack.artifacts import Artifact

__all__ = [
    "LIVE_INTERVAL",
    "POLICIES",
    "RUN_ENTRIES",
    "FileSaver",
    "code_files",
    "log_code",
    "log_code_for",
    "save",
]

Policy = Literal["live", "now", "end"]
POLICIES: tuple[str, ...] = ("live", "now", "end")
LIVE_INTERVAL = 2.0
"""Seconds between two looks at the files saved with `policy="live"`."""
RUN_ENTRIES = frozenset(
    {"run.fwlog", FILES_DIR, "artifacts", "upload.json", "index", "checkpoints"}
)
"""The run directory's own entries, never captured as user files. `checkpoints` is where the
integrations' checkpoint callbacks write (Lightning's `ModelCheckpoint` under the logger's
directory): checkpoints go to the run as `model` artifacts (`log_model=`), never copied as
run files."""

_Sig = tuple[int, int]  # (mtime_ns, size)


def _signature(path: Path) -> _Sig | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _warn(message: str) -> None:
    from fwtrack.sdk.values import warn

    warn(message)


def _is_under(path: PurePath, root: PurePath) -> bool:
    return path != root and path.parts[: len(root.parts)] == root.parts


class FileSaver:
    """The saved files of one run: `save` copies now and remembers the live and end files,
    a thread re-copies changed live files, `close` does the last copies (at finish)."""

    def __init__(
        self,
        run_dir: str,
        notify: Callable[[], None] | None = None,
        live_interval: float = LIVE_INTERVAL,
    ) -> None:
        self.run_dir = Path(run_dir).absolute()
        self.files_root = self.run_dir / FILES_DIR
        self._notify = notify
        self._interval = live_interval
        self._lock = threading.Lock()
        self._live: dict[Path, tuple[Path, _Sig | None]] = {}  # target -> (source, copied sig)
        self._end: dict[Path, Path] = {}  # target -> source
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- save ------------------------------------------------------------------------------

    def save(
        self,
        glob_str: str | os.PathLike[str] | bytes,
        base_path: str | os.PathLike[str] | None = None,
        policy: str = "live",
        glob: bool = True,
    ) -> list[str]:
        """W&B's `run.save`: the absolute paths (under `<run dir>/files/`) of the files
        matched, sorted."""
        if isinstance(glob_str, bytes):
            glob_str = glob_str.decode("utf-8")
        if not isinstance(glob_str, str | os.PathLike):
            raise TypeError(
                f"run.save glob_str must be a path or a glob (str), got {type(glob_str).__name__}"
            )
        text = os.fspath(glob_str)
        if text.startswith(("gs://", "s3://")):
            _warn(
                f"fwtrack: {text} is a cloud storage URL; run.save saves local files only "
                "(log it as a reference with Artifact.add_reference)"
            )
            return []
        if policy not in POLICIES:
            raise ValueError(f"run.save policy must be 'live', 'now' or 'end', got {policy!r}")
        glob_path = PurePath(os.path.abspath(text))
        if base_path is not None:
            base = PurePath(os.path.abspath(os.fspath(base_path)))
        elif not PurePath(text).is_absolute():
            base = PurePath(os.path.abspath("."))
        elif _is_under(glob_path, PurePath(self.run_dir)):
            base = PurePath(self.run_dir)  # a file of run.dir keeps its path under it
        else:
            _warn(
                "fwtrack: saving files without their folders; to keep subfolders pass "
                'base_path, e.g. run.save("/mnt/folder/file.h5", base_path="/mnt")'
            )
            base = glob_path.parent.parent
        if not _is_under(glob_path, base):
            if glob_path == base:
                raise ValueError(
                    f"run.save: the glob {text!r} is the base path itself; name files under "
                    f"it, e.g. {os.path.join(text, '*')!r}"
                )
            raise ValueError(
                f"run.save: the glob {text!r} is not under base_path {os.fspath(base)!r}; "
                "base_path must be a folder that contains the files"
            )
        relative = PurePath(*glob_path.parts[len(base.parts) :])
        if glob and relative.parts[0] == "*":
            raise ValueError(
                f"run.save: the glob {text!r} may not start with '*' below base_path "
                f"{os.fspath(base)!r}; name a folder or pass a base_path above it"
            )
        if glob:
            sources = [Path(p) for p in sorted(globlib.glob(str(glob_path)))]
            if not sources and os.path.lexists(glob_path):
                sources = [Path(glob_path)]
        else:
            sources = [Path(glob_path)] if os.path.lexists(glob_path) else []
        if not sources:
            _warn(f"fwtrack: run.save({text!r}) matched no file; nothing was saved")
            return []
        targets: list[Path] = []
        for src in sources:
            if not src.is_file():
                continue  # W&B saves files; a matched folder is left out
            rel = PurePath(*src.parts[len(base.parts) :])
            targets.append(self._add(src, rel, policy))
        if policy != "end":
            self._notify_now()
        return sorted(str(t) for t in targets)

    def save_as(self, path: str | os.PathLike[str], name: str, policy: str = "now") -> list[str]:
        """Save one file under `name` (fwtrack's `run.save(path, name=...)`)."""
        src = Path(os.fspath(path)).absolute()
        if not src.is_file():
            raise FileNotFoundError(f"run.save({os.fspath(path)!r}): no such file")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"run.save name must be a non-empty relative path, got {name!r}")
        rel = PurePath(name)
        if rel.is_absolute() or ".." in rel.parts or name.startswith("."):
            raise ValueError(
                f"run.save name {name!r} must be a relative path inside the run's files, "
                "e.g. 'model/config.yaml'"
            )
        if policy not in POLICIES:
            raise ValueError(f"run.save policy must be 'live', 'now' or 'end', got {policy!r}")
        target = self._add(src, rel, policy)
        if policy != "end":
            self._notify_now()
        return [str(target)]

    def _add(self, src: Path, rel: PurePath, policy: str) -> Path:
        if any(part.startswith(".") for part in rel.parts):
            _warn(
                f"fwtrack: run.save: {rel.as_posix()!r} has a part starting with '.'; such "
                "names are temporary files to the uploader, so it is kept locally only"
            )
        target = inside(self.files_root, *rel.parts)
        same = False
        try:
            same = target.exists() and src.samefile(target)
        except OSError:
            same = False
        with self._lock:
            if policy == "end":
                self._end[target] = src
                self._live.pop(target, None)
                return target
            self._end.pop(target, None)
            sig = _signature(src)
            if not same:
                copy_replace(src, target)
            if policy == "live":
                self._live[target] = (src, sig)
                self._start_thread()
            else:
                self._live.pop(target, None)
        return target

    # -- live ------------------------------------------------------------------------------

    def _start_thread(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._loop, name="fwtrack-files", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                if self.poll():
                    self._notify_now()
            except Exception as exc:  # tracker trouble never reaches the training loop
                _warn(f"fwtrack: copying a live-saved file failed: {exc}")

    def poll(self) -> bool:
        """Copy the live files that changed since their last copy; True when one did."""
        changed = False
        with self._lock:
            for target, (src, copied) in list(self._live.items()):
                sig = _signature(src)
                if sig is None or sig == copied:
                    continue  # gone (the last copy stays) or unchanged
                copy_replace(src, target)
                self._live[target] = (src, sig)
                changed = True
        return changed

    def _notify_now(self) -> None:
        if self._notify is not None:
            with contextlib.suppress(Exception):  # the uploader looks again at finish anyway
                self._notify()

    # -- finish ----------------------------------------------------------------------------

    def capture_run_dir(self) -> list[str]:
        """Copy the files the program wrote into the run directory into the run's files
        (their paths relative to it kept); the names copied."""
        out: list[str] = []
        if not self.run_dir.is_dir():
            return out
        for dirpath, dirnames, filenames in os.walk(self.run_dir):
            here = Path(dirpath)
            top = here == self.run_dir
            dirnames[:] = sorted(
                d for d in dirnames if not d.startswith(".") and not (top and d in RUN_ENTRIES)
            )
            for fname in sorted(filenames):
                if fname.startswith(".") or (top and fname in RUN_ENTRIES):
                    continue
                src = here / fname
                if src.is_symlink() or not src.is_file():
                    continue
                rel = src.relative_to(self.run_dir)
                target = inside(self.files_root, *rel.parts)
                if _signature(target) == _signature(src):
                    continue
                try:
                    copy_replace(src, target)
                except OSError as exc:
                    _warn(f"fwtrack: {src} was not saved with the run: {exc}")
                    continue
                out.append(rel.as_posix())
        return out

    def close(self) -> None:
        """Stop watching; copy the live files a last time, the end files, and what the
        program wrote into the run directory. Trouble warns, never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._interval + 5.0)
        try:
            self.poll()
        except Exception as exc:
            _warn(f"fwtrack: copying a live-saved file failed: {exc}")
        with self._lock:
            ends = list(self._end.items())
        for target, src in ends:
            try:
                copy_replace(src, target)
            except OSError as exc:
                _warn(f"fwtrack: {src} (saved with policy='end') was not saved: {exc}")
        try:
            self.capture_run_dir()
        except Exception as exc:
            _warn(f"fwtrack: the files written into the run directory were not saved: {exc}")


# -- log_code ------------------------------------------------------------------------------

CODE_DIRS = ("fwtrack", ".fwtrack", "wandb", ".wandb")
"""Folders under `root` that `log_code`'s default `exclude_fn` leaves out (run directories)."""


def default_include(path: str, root: str | None = None) -> bool:
    """wandb's default: `.py` files, `requirements.txt` and `Dockerfile*`."""
    name = os.path.basename(path)
    return name.endswith(".py") or name.startswith("Dockerfile") or name == "requirements.txt"


def default_exclude(path: str, root: str) -> bool:
    """Files inside a tracker's run folders under `root` (`fwtrack/`, `wandb/`, ...)."""
    rel = os.path.relpath(path, root)
    return any(rel.startswith(d + os.sep) for d in CODE_DIRS)


def _call(fn: Callable[..., Any], path: str, root: str) -> bool:
    """Call `fn(path, root)`, or `fn(path)` when it takes one argument (wandb's rule)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return bool(fn(path, root))
    positional = [
        p
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if len(positional) == 1 and positional[0].kind != positional[0].VAR_POSITIONAL:
        return bool(fn(path))
    return bool(fn(path, root))


def code_files(
    root: str,
    include_fn: Callable[..., bool] = default_include,
    exclude_fn: Callable[..., bool] = default_exclude,
) -> list[str]:
    """The files under `root` that `include_fn` takes and `exclude_fn` does not, sorted."""
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            path = os.path.join(dirpath, fname)
            if _call(include_fn, path, root) and not _call(exclude_fn, path, root):
                out.append(path)
    return out


_UNSAFE = re.compile(r"[^a-zA-Z0-9_\-.]")


def code_artifact_name(project: str, program: str | None) -> str:
    """wandb's default name: `source-<project>-<program path relative to cwd>`, made safe."""
    rel = program or "unknown"
    if program:
        try:
            rel = os.path.relpath(program)
        except ValueError:
            rel = program
    cleaned = _UNSAFE.sub("_", f"source-{project}-{rel}")
    return cleaned if len(cleaned) <= 128 else f"{cleaned[:63]}..{cleaned[-63:]}"


def log_code_for(
    run: Any,
    root: str | os.PathLike[str] | None = ".",
    name: str | None = None,
    include_fn: Callable[..., bool] = default_include,
    exclude_fn: Callable[..., bool] = default_exclude,
) -> Artifact | None:
    """`run.log_code`: a `code` artifact of the files under `root` (paths relative to it),
    logged with the run; None (and a warning) when no file matches."""
    from fwtrack.artifacts import Artifact

    if name is None:
        import sys

        main = sys.modules.get("__main__")
        program = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else None)
        name = code_artifact_name(run.project, program)
    files: list[str] = []
    base = ""
    if root is not None:
        base = os.path.abspath(os.fspath(root))
        if not os.path.isdir(base):
            raise FileNotFoundError(
                f"run.log_code(root={os.fspath(root)!r}): no such folder (a relative root is "
                f"relative to the working directory {os.getcwd()})"
            )
        files = code_files(base, include_fn, exclude_fn)
    if not files:
        _warn(
            f"fwtrack: run.log_code found no file to log under {base or root!r}; no code "
            "was logged (the default takes .py files, requirements.txt and Dockerfile*; "
            "pass include_fn= for others)"
        )
        return None
    art = Artifact(name, type="code")
    for path in files:
        art.add_file(path, name=os.path.relpath(path, base).replace(os.sep, "/"))
    run.log_artifact(art)
    return art


def save(
    glob_str: str | os.PathLike[str],
    base_path: str | os.PathLike[str] | None = None,
    policy: str = "live",
) -> list[str]:
    """`Run.save` on the active run (`fwtrack.init()` first)."""
    saved: list[str] = _active("save").save(glob_str, base_path=base_path, policy=policy)
    return saved


def log_code(
    root: str | os.PathLike[str] | None = ".",
    name: str | None = None,
    include_fn: Callable[..., bool] = default_include,
    exclude_fn: Callable[..., bool] = default_exclude,
) -> Artifact | None:
    """`Run.log_code` on the active run (`fwtrack.log_code`)."""
    art: Artifact | None = _active("log_code").log_code(
        root, name=name, include_fn=include_fn, exclude_fn=exclude_fn
    )
    return art


def _active(what: str) -> Any:
    from fwtrack.errors import NoActiveRunError
    from fwtrack.sdk.run import current_run

    run = current_run()
    if run is None:
        raise NoActiveRunError(
            f"fwtrack.{what}() needs an active run; call fwtrack.init() first (or run.{what}())"
        )
    return run
