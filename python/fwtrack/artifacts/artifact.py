"""`Artifact`: a versioned, content-addressed set of files (docs/artifacts.md).

A new `Artifact` is a draft: `add_file`, `add_dir`, `add_reference`, `new_file`, `remove`.
`run.log_artifact(artifact)` hands it to the run's artifact thread (hashing, storing, the
commit) and returns at once; `wait()` returns when the version is committed (its `version`,
`digest`, `aliases`, `size` are then known). A committed version is immutable: its entries
never change (`new_draft()` starts a new version from it); only its aliases move.

`run.use_artifact("name:alias")` and `fwtrack.Api().artifact("project/name:vN")` give
committed versions: `download()`, `verify()`, `files()`, `get_entry()`, `logged_by()`,
`used_by()`, `lineage()`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from fwtrack import _core
from fwtrack.artifacts.manifest import Manifest, ManifestEntry, check_entry_path
from fwtrack.artifacts.registry import Registry, check_aliases, check_name, check_type
from fwtrack.errors import ArtifactError, ArtifactVerifyError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["Artifact", "ArtifactEntry", "RunRef", "VerifyReport"]

IMMUTABLE = "committed versions are immutable; use new_draft() to start a new version from this one"


@dataclass(frozen=True)
class RunRef:
    """A run that logged or used an artifact version."""

    entity: str | None
    project: str
    run_id: str
    name: str | None = None
    state: str | None = None
    used_at: float | None = None

    @property
    def path(self) -> str:
        """`project/run_id` (`entity/project/run_id` on a server), as `Api().run()` takes it."""
        return "/".join(p for p in (self.entity, self.project, self.run_id) if p)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RunRef:
        return cls(
            entity=obj.get("entity"),
            project=str(obj.get("project")),
            run_id=str(obj.get("run_id") or obj.get("id")),
            name=obj.get("name"),
            state=obj.get("state"),
            used_at=obj.get("used_at"),
        )


@dataclass
class VerifyReport:
    """What `verify()` found under a directory, by entry path: `missing` (in the artifact, not
    on disk), `changed` (on disk with other bytes), `extra` (on disk, not in the artifact)."""

    root: str
    missing: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.changed or self.extra)

    def __bool__(self) -> bool:
        return self.ok

    def summary(self) -> str:
        if self.ok:
            return f"{self.root}: {self.checked} files verified"
        parts = []
        for what, paths in (
            ("missing", self.missing),
            ("changed", self.changed),
            ("extra", self.extra),
        ):
            if paths:
                shown = ", ".join(paths[:5]) + (
                    f", ... ({len(paths)} in all)" if len(paths) > 5 else ""
                )
                parts.append(f"{len(paths)} {what} ({shown})")
        return f"{self.root} does not match the artifact: " + "; ".join(parts)

    def raise_if_failed(self) -> None:
        """ArtifactVerifyError (carrying this report) unless `ok`."""
        if not self.ok:
            raise ArtifactVerifyError(
                self.summary() + "\nhint: download() again to replace missing and changed files",
                self,
            )


class ArtifactEntry:
    """One file of an artifact: `path`, `size`, `address` (a stored file) or `ref` (a
    reference)."""

    __slots__ = ("_artifact", "_entry", "local_path")

    def __init__(
        self, artifact: Artifact, entry: ManifestEntry, local_path: str | None = None
    ) -> None:
        self._artifact = artifact
        self._entry = entry
        self.local_path = local_path
        """The file it was added from (a draft's entry), else None."""

    @property
    def path(self) -> str:
        return self._entry.path

    @property
    def size(self) -> int | None:
        return self._entry.size

    @property
    def address(self) -> str | None:
        return self._entry.address

    @property
    def digest(self) -> str | None:
        """The content address (W&B's name for it)."""
        return self._entry.address

    @property
    def ref(self) -> str | None:
        return self._entry.ref

    @property
    def manifest_entry(self) -> ManifestEntry:
        return self._entry

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download this file to `root/<path>` (root: the artifact's download directory) and
        return the file's path."""
        return self._artifact._download_entries([self._entry], root)[0]

    def __repr__(self) -> str:
        what = self.ref if self.ref is not None else self.address
        return f"<ArtifactEntry {self.path!r} {self.size} bytes {what}>"


@dataclass
class _DraftEntry:
    entry: ManifestEntry  # the path; address/size known for carried-over and reference entries
    source: str | None = None  # a local file whose bytes are the entry (hashed when logged)


class _PendingLog:
    """One `log_artifact` call in flight: done when the run's artifact thread is through."""

    def __init__(self, log_id: str) -> None:
        self.id = log_id
        self.done = threading.Event()
        self.error: BaseException | None = None
        # For an online run: waits for the server's commit, returns the VersionJSON.
        self.wait_commit: Callable[[float | None], dict[str, Any]] | None = None
        self.registry: Registry | None = None


class Artifact:
    """A versioned set of files, logged by one run and used by others (W&B's `Artifact`).

    `Artifact(name, type, description=None, metadata=None)`: `name` is 1-128 characters of
    `A-Z a-z 0-9 _ . -` (the collection, e.g. `mnist-train`), `type` likewise (`dataset`,
    `model`, ...).
    """

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._name = check_name(name)
        self._type = check_type(type)
        if description is not None and not isinstance(description, str):
            raise TypeError(f"description must be a str, got {description.__class__.__name__}")
        self._description = description
        self._metadata = _check_metadata(metadata)
        self._entity: str | None = None
        self._project: str | None = None
        self._draft: dict[str, _DraftEntry] | None = {}
        self._dirs: dict[str, int] = {}  # directory prefix of draft entries -> their count
        self._wanted_aliases: list[str] = []
        self._manifest: Manifest | None = None
        self._version: dict[str, Any] | None = None
        self._registry: Registry | None = None
        self._pending: _PendingLog | None = None
        self._tmp: str | None = None
        self._base: tuple[Registry, dict[str, Any]] | None = None

    # -- construction from a registry --------------------------------------------------------

    @classmethod
    def _from_version(cls, version: dict[str, Any], registry: Registry) -> Artifact:
        art = cls.__new__(cls)
        art._name = str(version["name"])
        art._type = str(version.get("type") or "unspecified")
        art._description = version.get("description")
        art._metadata = dict(version.get("metadata") or {})
        art._entity = version.get("entity")
        art._project = version.get("project")
        art._draft = None
        art._dirs = {}
        art._wanted_aliases = []
        art._manifest = None
        art._version = dict(version)
        art._registry = registry
        art._pending = None
        art._tmp = None
        art._base = None
        return art

    # -- state -------------------------------------------------------------------------------

    def _committed(self) -> dict[str, Any] | None:
        """The VersionJSON once committed (a logged artifact is settled first)."""
        if self._version is None and self._pending is not None and self._pending.done.is_set():
            # Online: staged, perhaps not committed on the server yet (a TimeoutError).
            with contextlib.suppress(TimeoutError):
                self._settle(timeout=0)
        return self._version

    def _check_draft(self) -> dict[str, _DraftEntry]:
        if self._draft is None or self._pending is not None:
            if self._draft is not None:
                raise ArtifactError(
                    f"artifact {self._name!r} is being logged; its files cannot change any more "
                    "(log a new Artifact, or new_draft() of the logged one once wait() returns)"
                )
            raise ArtifactError(f"artifact {self.qualified_name!r}: {IMMUTABLE}")
        return self._draft

    def _need_committed(self, what: str) -> dict[str, Any]:
        if self._pending is not None and self._version is None:
            self.wait()
        version = self._committed()
        if version is None:
            raise ArtifactError(
                f"artifact {self._name!r} is a draft: {what} needs a logged version "
                "(run.log_artifact(artifact) then artifact.wait(), or run.use_artifact(...))"
            )
        return version

    @property
    def is_draft(self) -> bool:
        return self._draft is not None and self._version is None

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def entity(self) -> str | None:
        return self._entity

    @property
    def project(self) -> str | None:
        """The project of a logged or used version (None for a draft)."""
        return self._project

    @property
    def description(self) -> str | None:
        return self._description

    @description.setter
    def description(self, value: str | None) -> None:
        self._check_draft()
        if value is not None and not isinstance(value, str):
            raise TypeError(f"description must be a str, got {type(value).__name__}")
        self._description = value

    @property
    def metadata(self) -> dict[str, Any]:
        """The metadata (a copy; set `metadata = {...}` on a draft to change it)."""
        return dict(self._metadata)

    @metadata.setter
    def metadata(self, value: dict[str, Any]) -> None:
        self._check_draft()
        self._metadata = _check_metadata(value)

    @property
    def version(self) -> str | None:
        """`vN` once committed, else None."""
        version = self._committed()
        return None if version is None else version.get("version")

    @property
    def id(self) -> str | None:
        version = self._committed()
        return None if version is None else version.get("id")

    @property
    def digest(self) -> str:
        """`blake3:<hex>` of the canonical manifest (a draft's files are hashed for it)."""
        version = self._committed()
        if version is not None:
            return str(version["digest"])
        if self._pending is not None:
            return str(self._need_committed("digest")["digest"])
        return self.manifest.digest

    @property
    def aliases(self) -> list[str]:
        """The aliases of the version (sorted; `latest` included when it is the latest); of a
        draft, those it will be logged with."""
        version = self._committed()
        if version is not None:
            return list(version.get("aliases") or [])
        return list(self._wanted_aliases)

    @aliases.setter
    def aliases(self, aliases: list[str]) -> None:
        wanted = check_aliases(aliases)
        version = self._committed()
        if version is None:
            self._wanted_aliases = wanted
            return
        assert self._registry is not None
        self._version = self._registry.set_aliases(version, wanted)

    def save(self) -> None:
        """Nothing to do on a draft (log it with `run.log_artifact`); a committed version's
        aliases are stored as they are set (W&B's `save()` after changing `aliases`)."""
        if self._committed() is None and self._pending is None:
            raise ArtifactError(
                f"artifact {self._name!r} is a draft: log it with run.log_artifact(artifact)"
            )

    @property
    def size(self) -> int:
        """Bytes in all (references without a known size count 0)."""
        version = self._committed()
        if version is not None:
            return int(version.get("size") or 0)
        total = 0
        for d in (self._draft or {}).values():
            if d.source is not None:
                with contextlib.suppress(OSError):
                    total += os.stat(d.source).st_size
            else:
                total += d.entry.size or 0
        return total

    @property
    def file_count(self) -> int:
        version = self._committed()
        if version is not None:
            return int(version.get("files") or 0)
        return len(self._draft or {})

    @property
    def created_at(self) -> float | None:
        version = self._committed()
        return None if version is None else version.get("created_at")

    @property
    def qualified_name(self) -> str:
        """`project/name:vN` (`name` alone for a draft)."""
        version = self._committed()
        if version is None or self._project is None:
            return self._name
        return f"{self._project}/{self._name}:{version.get('version')}"

    @property
    def manifest(self) -> Manifest:
        """The manifest: of a committed version, as stored; of a draft, built now (its files
        are hashed)."""
        version = self._committed()
        if version is not None:
            if self._manifest is None:
                assert self._registry is not None
                self._manifest = self._registry.manifest(version)
            return self._manifest
        if self._pending is not None:
            self._need_committed("manifest")
            return self.manifest
        draft = self._draft or {}
        sources = [d.source for d in draft.values() if d.source is not None]
        hashed = iter(_core.hash_files(sources)) if sources else iter(())
        entries = []
        for d in draft.values():
            if d.source is None:
                entries.append(d.entry)
                continue
            result = next(hashed)
            if result is None:
                raise FileNotFoundError(f"cannot read {d.source} (entry {d.entry.path!r})")
            entries.append(ManifestEntry(d.entry.path, address=result[0], size=result[1]))
        return Manifest(entries)

    def wait(self, timeout: float | None = None) -> Artifact:
        """Return once the logged version is committed (then `version`, `aliases`, ... are
        known); raise the error of a log that failed (ArtifactError). Returns self."""
        if self._pending is None or self._version is not None:
            return self
        self._settle(timeout)
        return self

    def _settle(self, timeout: float | None) -> None:
        pending = self._pending
        assert pending is not None
        deadline = None if timeout is None else time.monotonic() + max(timeout, 0.0)
        if not pending.done.wait(timeout):
            from fwtrack.artifacts.staging import ArtifactCommitTimeoutError

            raise ArtifactCommitTimeoutError(
                f"artifact {self._name!r} is still being logged after {timeout:g} s; the log "
                "goes on in the background\nhint: call wait() again (wait() without a timeout "
                "waits for as long as it takes)"
            )
        if pending.error is not None:
            err = pending.error
            if isinstance(err, ArtifactError):
                raise err
            raise ArtifactError(f"logging artifact {self._name!r} failed: {err}") from err
        if self._version is None and pending.wait_commit is not None:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            version = pending.wait_commit(left)
            self._set_committed(version, pending.registry)

    def _set_committed(self, version: dict[str, Any], registry: Registry | None) -> None:
        self._version = dict(version)
        self._registry = registry
        self._entity = version.get("entity")
        self._project = version.get("project")
        self._draft = None
        self._base = None

    # -- building a draft --------------------------------------------------------------------

    def _put(self, path: str, entry: _DraftEntry, overwrite: bool) -> None:
        draft = self._check_draft()
        check_entry_path(path)
        if path in draft and not overwrite:
            raise ValueError(
                f"artifact {self._name!r} already has an entry {path!r}; pass overwrite=True to "
                "replace it, or another name="
            )
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if parent in draft:
                raise ValueError(
                    f"artifact {self._name!r}: {path!r} would be a file under {parent!r}, which "
                    "is a file; choose another name="
                )
        if self._dirs.get(path):
            raise ValueError(
                f"artifact {self._name!r}: {path!r} is already a directory of entries; choose "
                "another name="
            )
        self._set_entry(path, entry)

    def _set_entry(self, path: str, entry: _DraftEntry) -> None:
        draft = self._draft
        assert draft is not None
        if path not in draft:
            parts = path.split("/")
            for i in range(1, len(parts)):
                parent = "/".join(parts[:i])
                self._dirs[parent] = self._dirs.get(parent, 0) + 1
        draft[path] = entry

    def _del_entry(self, path: str) -> None:
        draft = self._draft
        assert draft is not None
        del draft[path]
        parts = path.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            left = self._dirs.get(parent, 0) - 1
            if left > 0:
                self._dirs[parent] = left
            else:
                self._dirs.pop(parent, None)

    def add_file(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        *,
        overwrite: bool = False,
    ) -> ArtifactEntry:
        """Add the file at `local_path` as `name` (default: the file's name). Its bytes are
        read when the artifact is logged (a change while they are read is an error)."""
        self._check_draft()
        real = _regular_file(local_path)
        path = name if name is not None else os.path.basename(os.fspath(local_path))
        entry = _DraftEntry(ManifestEntry(path), real)
        self._put(path, entry, overwrite)
        return ArtifactEntry(self, entry.entry, real)

    def add_dir(
        self,
        local_path: str | os.PathLike[str],
        name: str | None = None,
        *,
        overwrite: bool = False,
    ) -> None:
        """Add every file under the directory `local_path` (recursively), as
        `<name>/<relative path>` (at the top level when `name` is None). Symbolic links to
        files are followed; links to directories are not."""
        self._check_draft()
        top = os.fspath(local_path)
        if not os.path.exists(top):
            raise FileNotFoundError(f"add_dir: no directory {top!r}")
        if not os.path.isdir(top):
            raise NotADirectoryError(f"add_dir: {top!r} is not a directory (use add_file)")
        if name is not None:
            check_entry_path(name)
        found: list[tuple[str, str]] = []
        _walk(os.path.realpath(top), name or "", found)
        for path, real in found:
            self._put(path, _DraftEntry(ManifestEntry(path), real), overwrite)

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        max_objects: int | None = None,
    ) -> list[ArtifactEntry]:
        """Add a reference to `uri` (`s3://bucket/key`, `s3://bucket/prefix/`,
        `file:///path`): the bytes stay where they are; the manifest records the URI and, with
        `checksum=True`, what the source offers (size, ETag, version id; size and mtime for
        files). A prefix with more than `max_objects` objects raises ReferenceLimitError (no
        silent truncation); `checksum=False` records the URI only, as one entry."""
        self._check_draft()
        from fwtrack.artifacts import references

        entries = references.resolve(uri, name, checksum=checksum, max_objects=max_objects)
        out = []
        for entry in entries:
            self._put(entry.path, _DraftEntry(entry), False)
            out.append(ArtifactEntry(self, entry))
        return out

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = "utf-8"
    ) -> Iterator[IO[Any]]:
        """Write a file straight into the artifact: `with art.new_file("stats.json") as f:`.
        `mode` is "w" (text, `encoding`) or "wb" (bytes); the file is added when the block
        ends without an exception."""
        draft = self._check_draft()
        check_entry_path(name)
        if name in draft:
            raise ValueError(f"artifact {self._name!r} already has an entry {name!r}")
        if mode not in ("w", "wb", "x", "xb"):
            raise ValueError(f"new_file mode must be 'w' or 'wb', got {mode!r}")
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="fwtrack-artifact-")
            weakref.finalize(self, shutil.rmtree, self._tmp, True)
        target = os.path.join(self._tmp, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        binary = "b" in mode
        with open(target, "wb" if binary else "w", encoding=None if binary else encoding) as f:
            yield f
        self.add_file(target, name)

    def remove(self, name: str | ArtifactEntry) -> None:
        """Remove the entry `name` (or every entry under the directory `name`) from a draft;
        KeyError when there is none."""
        draft = self._check_draft()
        path = name.path if isinstance(name, ArtifactEntry) else name
        check_entry_path(path)
        doomed = [path] if path in draft else []
        if self._dirs.get(path):
            doomed = [p for p in draft if p.startswith(path + "/")]
        if not doomed:
            raise KeyError(f"artifact {self._name!r} has no entry {path!r}")
        for p in doomed:
            self._del_entry(p)

    def new_draft(self) -> Artifact:
        """A draft holding this version's entries, name, type, description and metadata: change
        it and log it as a new version."""
        version = self._need_committed("new_draft()")
        assert self._registry is not None
        draft = Artifact(self._name, self._type, self._description, self._metadata)
        draft._project = self._project
        draft._entity = self._entity
        assert draft._draft is not None
        for entry in self.manifest:
            draft._set_entry(entry.path, _DraftEntry(entry))
        draft._base = (self._registry, version)
        return draft

    # -- reading ---------------------------------------------------------------------------

    def get_entry(self, name: str) -> ArtifactEntry:
        """The entry `name`; KeyError naming it when there is none."""
        check_entry_path(name)
        if self._committed() is None and self._draft is not None:
            d = self._draft.get(name)
            if d is None:
                raise KeyError(f"artifact {self._name!r} has no entry {name!r}")
            return ArtifactEntry(self, d.entry, d.source)
        entry = self.manifest.get(name)
        if entry is None:
            raise KeyError(f"artifact {self.qualified_name!r} has no entry {name!r}")
        return ArtifactEntry(self, entry)

    get_path = get_entry

    def files(self) -> list[ArtifactEntry]:
        """Every entry, sorted by path (a draft's local files are not hashed yet: no address)."""
        if self._committed() is None and self._draft is not None and self._pending is None:
            return [ArtifactEntry(self, d.entry, d.source) for _, d in sorted(self._draft.items())]
        return [ArtifactEntry(self, e) for e in self.manifest]

    def _default_root(self) -> Path:
        from fwtrack.sdk.settings import FWTRACK_ARTIFACT_DIR

        version = self._need_committed("download()")
        parent = FWTRACK_ARTIFACT_DIR.get() or "artifacts"
        return Path(parent) / f"{self._name}:{version.get('version')}"

    def download(self, root: str | os.PathLike[str] | None = None) -> str:
        """Download every file to `root` (default `./artifacts/<name>:<version>`, under
        `FWTRACK_ARTIFACT_DIR` when set) and return it. Files already there with the right
        bytes are kept, others (re)written, each verified as it is written; references are
        fetched from their source (checked against the recorded size / ETag)."""
        self._need_committed("download()")
        target = Path(root) if root is not None else self._default_root()
        self._download_entries(list(self.manifest), target)
        return str(target)

    def _download_entries(
        self, entries: list[ManifestEntry], root: str | os.PathLike[str] | None
    ) -> list[str]:
        version = self._need_committed("download()")
        assert self._registry is not None
        target = Path(root) if root is not None else self._default_root()
        target.mkdir(parents=True, exist_ok=True)
        stored = [e for e in entries if e.address is not None]
        refs = [e for e in entries if e.ref is not None]
        existing = [e for e in stored if (target / e.path).is_file()]
        if existing:
            hashed = _core.hash_files([str(target / e.path) for e in existing])
            good = {
                e.path for e, h in zip(existing, hashed, strict=True) if h and h[0] == e.address
            }
            stored = [e for e in stored if e.path not in good]
        for entry in stored:
            _make_room(target, entry.path)
        if stored:
            self._registry.materialize(version, stored, target)
        if refs:
            from fwtrack.artifacts import references

            for entry in refs:
                _make_room(target, entry.path)
                references.download(entry, target)
        return [str(target / e.path) for e in entries]

    def verify(
        self, root: str | os.PathLike[str] | None = None, *, raise_on_error: bool = False
    ) -> VerifyReport:
        """Compare the files under `root` (default: the download directory) with the artifact:
        a report of `missing`, `changed` and `extra` files; with `raise_on_error=True` a
        mismatch raises ArtifactVerifyError (carrying the report). References recorded with a
        size are checked by size; those recorded without (`checksum=False`) are not checked."""
        self._need_committed("verify()")
        target = Path(root) if root is not None else self._default_root()
        manifest = self.manifest
        report = VerifyReport(str(target))
        unchecked = [e.path for e in manifest if e.ref is not None and e.size is None]
        on_disk: set[str] = set()
        if target.is_dir():
            for dirpath, _dirs, filenames in os.walk(target):
                rel_dir = os.path.relpath(dirpath, target)
                for filename in filenames:
                    rel = filename if rel_dir == "." else f"{rel_dir}/{filename}"
                    on_disk.add(rel.replace(os.sep, "/"))
        stored = [e for e in manifest if e.address is not None and e.path in on_disk]
        hashed = _core.hash_files([str(target / e.path) for e in stored]) if stored else []
        for entry, result in zip(stored, hashed, strict=True):
            if result is None or result[0] != entry.address:
                report.changed.append(entry.path)
        for entry in manifest:
            if entry.path not in on_disk:
                if entry.ref is None or entry.size is not None:
                    report.missing.append(entry.path)
            elif (
                entry.ref is not None
                and entry.size is not None
                and (target / entry.path).stat().st_size != entry.size
            ):
                report.changed.append(entry.path)
        for path in sorted(on_disk):
            if path in manifest:
                continue
            if any(path.startswith(u + "/") for u in unchecked):
                continue
            report.extra.append(path)
        report.checked = len(manifest)
        report.changed.sort()
        report.missing.sort()
        if raise_on_error:
            report.raise_if_failed()
        return report

    def logged_by(self) -> RunRef | None:
        """The run that logged this version (None when unknown)."""
        version = self._need_committed("logged_by()")
        run = version.get("run")
        if not run:
            return None
        info = dict(run)
        run_info = getattr(self._registry, "run_info", None)
        if run_info is not None and not info.get("entity"):
            info.update(run_info(str(run.get("project")), str(run.get("id"))))
        return RunRef(
            entity=info.get("entity"),
            project=str(info.get("project")),
            run_id=str(info.get("run_id") or info.get("id")),
            name=info.get("name"),
            state=info.get("state"),
        )

    def used_by(self) -> list[RunRef]:
        """The runs that used this version."""
        version = self._need_committed("used_by()")
        assert self._registry is not None
        return [RunRef.from_json(r) for r in self._registry.used_by(version)]

    def lineage(self, depth: int = 2) -> dict[str, Any]:
        """The lineage graph around this version: `{"nodes": [...], "edges": [...]}`, `depth`
        hops (1-5); edges go run → artifact (logged) and artifact → run (used)."""
        if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= 5:
            raise ValueError(f"lineage depth must be an int in 1..5, got {depth!r}")
        version = self._need_committed("lineage()")
        assert self._registry is not None
        return self._registry.lineage(version, depth)

    def __repr__(self) -> str:
        version = self._committed()
        if version is not None:
            return f"<Artifact {self.qualified_name} ({self._type}) {version.get('digest')}>"
        state = "logging" if self._pending is not None else "draft"
        return f"<Artifact {self._name} ({self._type}) {state}, {self.file_count} entries>"

    # -- handed to the run's artifact thread ----------------------------------------------

    def _start_log(self, log_id: str, aliases: list[str]) -> list[_DraftEntry]:
        draft = self._check_draft()
        self._wanted_aliases = sorted(set(self._wanted_aliases) | set(aliases))
        self._pending = _PendingLog(log_id)
        return list(draft.values())


def _check_metadata(metadata: object) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    import json

    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata must be JSON (str keys, finite numbers): {exc}") from None
    return dict(metadata)


def _regular_file(local_path: str | os.PathLike[str]) -> str:
    """The real path of the regular file `local_path`; FileNotFoundError naming it if missing."""
    if not isinstance(local_path, str | os.PathLike):
        raise TypeError(f"a file path must be a str or a path, got {type(local_path).__name__}")
    path = os.fspath(local_path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileNotFoundError(2, f"add_file: no such file {path!r}", path) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, f"add_file: {path!r} is a directory (use add_dir)", path)
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"add_file: {path!r} is not a regular file")
    return os.path.realpath(path)


def _walk(directory: str, prefix: str, found: list[tuple[str, str]]) -> None:
    """Append `(entry path, file)` for every regular file below `directory` (sorted; links to
    files followed, links to directories and special files left out)."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        path = f"{prefix}/{entry.name}" if prefix else entry.name
        if entry.is_symlink():
            target = os.path.realpath(entry.path)
            if os.path.isfile(target):
                found.append((path, target))
        elif entry.is_dir():
            _walk(entry.path, path, found)
        elif entry.is_file():
            found.append((path, entry.path))


def _make_room(root: Path, path: str) -> None:
    """Remove a directory standing where the file `root/path` goes, and files standing where
    its parent directories go (a download replaces what is in the way)."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        parent = root.joinpath(*parts[:i])
        if parent.is_file() or parent.is_symlink():
            parent.unlink()
    leaf = root.joinpath(*parts)
    if leaf.is_dir() and not leaf.is_symlink():
        shutil.rmtree(leaf)
