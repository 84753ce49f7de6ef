"""Online logging of artifacts: staging the bytes a server lacks, the pending commit the run's
uploader turns into a version, and the clean-up once it has (docs/artifacts.md, "Online and
sync").

The files of one log call, under the run directory and the cache (`FWTRACK_CACHE_DIR`)::

    <cache>/artifacts/staging/<id>/<hh>/<hex>     the blobs the server lacked + the manifest
    <run dir>/artifacts/pending/<seq:06d>-<id>.json   the commit the uploader makes (in name order)
    <run dir>/artifacts/committed/<id>.json       the server's answer (VersionJSON)
    <run dir>/artifacts/failed/<id>.json          {"id", "error"} when the server refused it

An offline run writes the same pending file with `blob_dir` = the local registry's blob dir
(`<root>/.artifacts/blobs`), so `fwtrack sync` commits it later through the same uploader.
`settle()` moves the staged blobs of committed ids into the download cache (they are the
bytes a later download would fetch) and removes their staging dirs; staging of offline runs is
the local registry's and is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fwtrack import _core
from fwtrack._fsutil import locked, write_atomic
from fwtrack.errors import ArtifactError

if TYPE_CHECKING:
    from fwtrack._http import HttpClient
    from fwtrack.sdk.run import Run

__all__ = [
    "MISSING_BATCH",
    "ArtifactCommitTimeoutError",
    "committed",
    "pending_files",
    "run_client",
    "settle",
    "stage_online",
    "staging_root",
    "wait_committed",
    "write_pending",
]

ARTIFACTS_DIR = "artifacts"
PENDING = "pending"
COMMITTED = "committed"
FAILED = "failed"
MISSING_BATCH = 10_000
"""Addresses per `blobs/missing` request (the server's maximum)."""

_PENDING_NAME = re.compile(r"^(\d{6,})-([0-9a-f]{32})\.json$")
_ID = re.compile(r"^[0-9a-f]{32}$")
_PENDING_KEYS = (
    "id",
    "project",
    "name",
    "type",
    "description",
    "metadata",
    "aliases",
    "digest",
    "blob_dir",
    "created_at",
)


class ArtifactCommitTimeoutError(ArtifactError, TimeoutError):
    """`wait(timeout=...)` of an online artifact returned before the server committed it; the
    commit goes on in the background (and at `finish()`, or with `fwtrack sync`)."""


# -- where things are ---------------------------------------------------------------------------


def staging_root() -> Path:
    """`<cache>/artifacts/staging`: one blob dir per online log call."""
    from fwtrack.api_remote import cache_root

    return cache_root() / ARTIFACTS_DIR / "staging"


def _dir(run_dir: str | os.PathLike[str], part: str) -> Path:
    return Path(run_dir) / ARTIFACTS_DIR / part


def _check_id(artifact_id: str) -> str:
    if not isinstance(artifact_id, str) or not _ID.match(artifact_id):
        raise ValueError(f"invalid artifact log id {artifact_id!r}: expected 32 lowercase hex")
    return artifact_id


def _blob_path(blob_dir: Path, address: str) -> Path:
    hex_ = _core.check_address(address).partition(":")[2]
    return blob_dir / hex_[:2] / hex_


def _write_json_atomic(path: Path, doc: Mapping[str, Any]) -> None:
    """`doc` as JSON at `path`, through a temporary file in `<run dir>/artifacts/tmp/`
    (readers of `path`'s folder never see a partial file)."""
    tmp_dir = path.parent.parent / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(doc, ensure_ascii=False, allow_nan=False, sort_keys=True).encode()
    write_atomic(path, data, tmp_dir=tmp_dir)


# -- the pending commit -------------------------------------------------------------------------


def write_pending(run_dir: str | os.PathLike[str], commit: Mapping[str, Any]) -> Path:
    """Write the pending commit `commit` (the keys of docs/artifacts.md: `id`, `project`,
    `name`, `type`, `description`, `metadata`, `aliases`, `digest`, `blob_dir`, `created_at`)
    as `<run_dir>/artifacts/pending/<seq:06d>-<id>.json`, after every pending commit of the
    run (the uploader commits them in name order). Returns its path.

    The file appears whole or not at all (temporary file, fsync, rename). Writing the same
    `id` again returns the file already there.
    """
    doc = {key: commit.get(key) for key in _PENDING_KEYS}
    artifact_id = _check_id(str(doc["id"]))
    for key in ("project", "name", "type", "digest", "blob_dir"):
        if not isinstance(doc[key], str) or not doc[key]:
            raise ValueError(f"pending commit {artifact_id}: {key} must be a non-empty str")
    _core.check_address(str(doc["digest"]))
    if not os.path.isabs(str(doc["blob_dir"])):
        raise ValueError(
            f"pending commit {artifact_id}: blob_dir {doc['blob_dir']!r} must be absolute"
        )
    doc["aliases"] = [str(a) for a in doc["aliases"] or []]
    doc["metadata"] = dict(doc["metadata"] or {})
    if doc["created_at"] is None:
        doc["created_at"] = time.time()
    pending = _dir(run_dir, PENDING)
    with locked(Path(run_dir) / ARTIFACTS_DIR / ".lock"):
        pending.mkdir(parents=True, exist_ok=True)
        seqs = []
        for entry in os.listdir(pending):
            match = _PENDING_NAME.match(entry)
            if match is None:
                continue
            if match.group(2) == artifact_id:
                return pending / entry
            seqs.append(int(match.group(1)))
        # Committed and failed files keep the count going once the pending ones are gone.
        done = sum(len(_json_names(_dir(run_dir, part))) for part in (COMMITTED, FAILED))
        seq = max([done, *seqs]) + 1
        path = pending / f"{seq:06d}-{artifact_id}.json"
        _write_json_atomic(path, doc)
    return path


def _json_names(folder: Path) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if n.endswith(".json")]
    except FileNotFoundError:
        return []


def pending_files(run_dir: str | os.PathLike[str]) -> list[Path]:
    """The run's pending commits, in the order the uploader commits them."""
    folder = _dir(run_dir, PENDING)
    return [folder / n for n in sorted(_json_names(folder)) if _PENDING_NAME.match(n)]


def committed(run_dir: str | os.PathLike[str], artifact_id: str) -> dict[str, Any] | None:
    """The VersionJSON the server answered for log call `artifact_id`; None while it is not
    committed. A refused commit raises ArtifactError with the server's reason."""
    artifact_id = _check_id(artifact_id)
    for part in (COMMITTED, FAILED):
        path = _dir(run_dir, part) / f"{artifact_id}.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except ValueError as exc:  # written by rename: a broken file is a broken disk
            raise ArtifactError(f"{path} is not valid JSON ({exc})") from None
        if part == FAILED:
            error = doc.get("error") if isinstance(doc, dict) else None
            raise ArtifactError(
                f"the server did not commit the artifact (log call {artifact_id}): "
                f"{error or 'no reason given'}"
            )
        if not isinstance(doc, dict):
            raise ArtifactError(f"{path} does not hold a JSON object")
        return doc
    return None


def wait_committed(
    run_dir: str | os.PathLike[str],
    artifact_id: str,
    timeout: float | None = None,
    *,
    uploader: Any = None,
) -> dict[str, Any]:
    """Wait until the run's uploader committed log call `artifact_id` on the server; returns
    the VersionJSON it answered (`<run_dir>/artifacts/committed/<id>.json`).

    Raises ArtifactError with the server's reason when it refused the commit (`failed/`),
    when `uploader` (the run's `_core.Uploader`, if given) has stopped with the commit still
    pending, and ArtifactCommitTimeoutError (also a TimeoutError) after `timeout` seconds
    (None: no limit).
    """
    deadline = None if timeout is None else time.monotonic() + max(float(timeout), 0.0)
    delay = 0.01
    while True:
        doc = committed(run_dir, artifact_id)
        if doc is not None:
            with contextlib.suppress(Exception):  # only a clean-up
                settle(run_dir, ids=[artifact_id])
            return doc
        if uploader is not None and _stopped(uploader):
            doc = committed(run_dir, artifact_id)  # it may have landed just before the stop
            if doc is not None:
                return doc
            status = uploader.status()
            reason = status.get("last_error") or "it was stopped"
            raise ArtifactError(
                f"the artifact (log call {artifact_id}) is not committed: the run's upload "
                f"ended ({reason})\nhint: the artifact is staged; upload it with "
                f"`fwtrack sync {run_dir}`"
            )
        if deadline is not None and time.monotonic() >= deadline:
            raise ArtifactCommitTimeoutError(
                f"the artifact (log call {artifact_id}) was not committed on the server within "
                f"{timeout:g} s; the upload goes on in the background (and at finish())\n"
                "hint: call wait() again, or wait(timeout=None) to wait for as long as it takes"
            )
        wait = delay if deadline is None else min(delay, max(deadline - time.monotonic(), 0.0))
        time.sleep(wait)
        delay = min(delay * 1.5, 0.25)


def _stopped(uploader: Any) -> bool:
    try:
        return bool(uploader.status().get("state") not in ("running", None))
    except Exception:  # a forked child's uploader, or one already torn down
        return False


# -- staging the bytes of an online log call ----------------------------------------------------


def run_client(run: Run) -> tuple[HttpClient, str] | None:
    """An HTTP client for the server of online run `run` and the entity it uploads to; None
    when the run has no server (it is then logged as offline)."""
    from fwtrack import credentials
    from fwtrack._http import HttpClient

    uploader = getattr(run, "_uploader", None)
    if uploader is None:
        return None
    settings = run.settings
    base_url = settings.base_url or credentials.default_url()
    if base_url is None:
        return None
    api_key = settings.api_key or credentials.lookup(base_url)
    if api_key is None:
        return None
    client = HttpClient(base_url, api_key, timeout=60.0)
    entity = settings.entity
    if entity is None:
        with contextlib.suppress(Exception):
            entity = uploader.status().get("entity")
    if entity is None:
        entity = _viewer_name(client)
    return client, str(entity)


_VIEWERS: dict[tuple[str, str | None], str] = {}


def _viewer_name(client: HttpClient) -> str:
    key = (client.base_url, getattr(client, "_api_key", None))
    if key not in _VIEWERS:
        _VIEWERS[key] = str(client.get_json("/viewer")["name"])
    return _VIEWERS[key]


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def missing_blobs(
    client: HttpClient, entity: str, project: str, addresses: Sequence[str]
) -> list[str]:
    """Of `addresses`, those the server has not stored for `entity` (`POST
    /api/v1/artifacts/{entity}/{project}/blobs/missing`, 10,000 per request)."""
    path = f"/artifacts/{_quote(entity)}/{_quote(project)}/blobs/missing"
    wanted = list(dict.fromkeys(addresses))
    missing: list[str] = []
    for start in range(0, len(wanted), MISSING_BATCH):
        batch = wanted[start : start + MISSING_BATCH]
        answer = client.post_json(path, {"addresses": batch})
        missing.extend(str(a) for a in answer["missing"])
    return missing


def stage_online(
    run: Run,
    commit: Mapping[str, Any],
    manifest_bytes: bytes,
    sources: Mapping[str, str | os.PathLike[str]],
    *,
    blobs: Mapping[str, bytes] | None = None,
) -> Path:
    """Stage one online log call of `run` for its uploader and return the pending file.

    `commit`: the pending commit without `blob_dir` (`id`, `project`, `name`, `type`,
    `description`, `metadata`, `aliases`, `digest`, `created_at`); `manifest_bytes`: the
    canonical manifest (its address is `digest`); `sources`: address -> a local file holding
    those bytes (every entry of the manifest with an `address`); `blobs`: address -> bytes
    held in memory instead of a file.

    Asks the server which addresses it lacks (all of them when it cannot be asked), stores
    only those (and the manifest) into `<cache>/artifacts/staging/<id>/`, writes the pending
    commit and tells the uploader to look at it now. A file whose content is no longer the
    address it was hashed to raises ArtifactError naming it (log it again once it is written).
    """
    artifact_id = _check_id(str(commit.get("id")))
    digest = _core.check_address(str(commit.get("digest")))
    memory = dict(blobs or {})
    staging = staging_root() / artifact_id
    staging.mkdir(parents=True, exist_ok=True)
    stored = _core.store_blob(str(staging), manifest_bytes)
    if stored[0] != digest:
        raise ArtifactError(
            f"the manifest of {commit.get('name')!r} hashes to {stored[0]}, not its digest {digest}"
        )
    wanted = [a for a in dict.fromkeys([*sources, *memory]) if a != digest]
    missing = list(wanted)
    server = None
    with contextlib.suppress(Exception):  # no answer: stage everything, the uploader asks again
        server = run_client(run)
    if server is not None and wanted:
        client, entity = server
        try:
            missing = missing_blobs(client, entity, str(commit["project"]), wanted)
        except Exception:
            missing = list(wanted)
    missing_set = set(missing)
    files = [(a, os.fspath(sources[a])) for a in wanted if a in missing_set and a in sources]
    in_memory = [a for a in wanted if a in missing_set and a not in sources]
    if files:
        results = _core.store_files(str(staging), [p for _, p in files])
        for (address, path), result in zip(files, results, strict=True):
            if isinstance(result, OSError):
                raise ArtifactError(f"cannot stage {path} for upload: {result}") from result
            if result[0] != address:
                raise ArtifactError(
                    f"{path} changed while it was being logged (it was hashed to {address}, "
                    f"now it is {result[0]}); log it again once it is written"
                )
    for address in in_memory:
        got = _core.store_blob(str(staging), memory[address])[0]
        if got != address:
            raise ArtifactError(f"the bytes given for {address} hash to {got}")
    pending = write_pending(run.dir, {**commit, "blob_dir": str(staging)})
    notify = getattr(run._uploader, "notify_files", None)
    if callable(notify):
        with contextlib.suppress(Exception):
            notify()
    return pending


# -- after the commit ---------------------------------------------------------------------------


def settle(run_dir: str | os.PathLike[str], ids: Sequence[str] | None = None) -> int:
    """Move the staged blobs of the run's committed (and refused) log calls (of `ids`, or all)
    into the download cache and remove their staging dirs, then hold the cache to its bound.
    Returns how many staging dirs were removed. Never raises for trouble on disk (it is only
    a clean-up). `wait_committed` settles the id it waited for."""
    root = staging_root()
    removed = 0
    done = [
        name.removesuffix(".json")
        for part in (COMMITTED, FAILED)
        for name in _json_names(_dir(run_dir, part))
    ]
    if ids is not None:
        wanted = set(ids)
        done = [i for i in done if i in wanted]
    ids = done
    cache_blobs = None
    for artifact_id in ids:
        if not _ID.match(artifact_id):
            continue
        staging = root / artifact_id
        if not staging.is_dir():
            continue
        if cache_blobs is None:
            cache_blobs = _cache_blob_dir()
        failed = (_dir(run_dir, FAILED) / f"{artifact_id}.json").exists()
        try:
            if not failed:
                _move_blobs(staging, cache_blobs)
            shutil.rmtree(staging, ignore_errors=True)
        except OSError:
            continue
        removed += 1
    if removed:
        with contextlib.suppress(Exception):
            _enforce_cache_bound()
    return removed


def _cache_blob_dir() -> Path:
    from fwtrack.artifacts import cache

    return Path(cache.blob_dir())


def _enforce_cache_bound() -> None:
    from fwtrack.artifacts import cache

    cache.enforce_bound()


def _move_blobs(staging: Path, cache_blobs: Path) -> None:
    """Rename every blob `<staging>/<hh>/<hex>` to `<cache_blobs>/<hh>/<hex>` (touched: it
    was used now); one already there stays and the staged copy goes."""
    now = time.time()
    # Listed up front and each listing closed, also when a move raises.
    with os.scandir(staging) as entries:
        subdirs = [
            sub
            for sub in entries
            if sub.is_dir(follow_symlinks=False) and len(sub.name) == 2 and sub.name != "tmp"
        ]
    for sub in subdirs:
        target_dir = cache_blobs / sub.name
        with os.scandir(sub.path) as entries:
            blobs = [b for b in entries if b.is_file(follow_symlinks=False) and len(b.name) == 64]
        for blob in blobs:
            target = target_dir / blob.name
            if target.exists():
                continue
            target_dir.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(blob.path, target)
            except OSError:  # another file system: copy
                tmp = cache_blobs / "tmp" / uuid.uuid4().hex
                tmp.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(blob.path, tmp)
                os.replace(tmp, target)
            with contextlib.suppress(OSError):
                os.utime(target, (now, now))
