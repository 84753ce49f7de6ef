"""`RemoteRegistry`: the artifacts of a fwtrack server (the routes under
`/api/v1/artifacts/{entity}/{project}`, docs/server.md "Artifacts"), through the `Registry`
protocol the local registry implements too.

Downloads go through the download cache (`<cache>/artifacts/blobs`, a blob dir bounded by
`FWTRACK_CACHE_SIZE`): the contents the cache lacks are fetched in parallel threads. Small
ones (under `PACK_BLOB_MAX`) come many at a time in packs (`POST .../blobs/fetch`, about
`PACK_BYTES` each), each content hashed before anything of it is written; a large one is
hashed while it streams into a temporary file of the cache (and, at the same time, of the
destination). A content that is not its address is not kept and raises ArtifactVerifyError.
A content already in the cache is copied from there, hashed as it is copied: a cache file
that was changed on disk is dropped and fetched again. Manifests are cached by digest too
(they are blobs named by it).

Nothing the server answers is trusted as a path: entry paths are checked by the manifest
(`check_entry_path`) and every destination is kept under the download root.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fwtrack import _core
from fwtrack._http import HttpClient, NotFoundError, ServerError
from fwtrack.artifacts.manifest import Manifest, ManifestEntry
from fwtrack.errors import ArtifactError, ArtifactNotFoundError, ArtifactVerifyError

__all__ = ["DOWNLOAD_THREADS", "PACK_BLOB_MAX", "PACK_BYTES", "RemoteRegistry"]

DOWNLOAD_THREADS = 8
"""Requests (packs, large contents) in flight at once in `materialize`."""
PACK_BLOB_MAX = 1 << 20
"""Contents smaller than this are fetched in packs (`POST .../blobs/fetch`); larger ones with
one GET each (which may be redirected to the object store)."""
PACK_BYTES = 8 << 20
"""The most bytes asked for in one pack (the server answers at most 64 MiB)."""
PACK_MIN_BYTES = 256 << 10
PACK_MAX_BLOBS = 10_000
PACK_MEDIA_TYPE = "application/x-fwtrack-blobs"
_CHUNK = 1 << 20


def _q(*parts: str) -> str:
    return "/".join(urllib.parse.quote(str(p), safe="") for p in parts)


class RemoteRegistry:
    """The artifacts of one server, read and changed with one API key.

    `entity` is the default entity of a bare `project` (a callable is asked once, when first
    needed: the key's user, `GET /viewer`); a project may also be given as
    `"entity/project"`. `cache_dir` is the download cache's blob dir (default: the one of
    `FWTRACK_CACHE_DIR`).
    """

    def __init__(
        self,
        client: HttpClient,
        entity: str | Callable[[], str],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        threads: int = DOWNLOAD_THREADS,
    ) -> None:
        self.client = client
        self._entity = entity
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._threads = max(1, int(threads))
        self._lock = threading.Lock()
        self._packs = True  # False once the server turned out not to have `blobs/fetch`

    def __repr__(self) -> str:
        return f"RemoteRegistry({self.client.base_url!r})"

    # -- naming ------------------------------------------------------------------------------

    @property
    def entity(self) -> str:
        """The default entity (the key's user unless one was given)."""
        with self._lock:
            if callable(self._entity):
                self._entity = str(self._entity())
            return self._entity

    def _split(self, project: str) -> tuple[str, str]:
        """(entity, project) of `"entity/project"` or a bare `"project"`."""
        from fwtrack import path_names

        parts = str(project).strip().strip("/").split("/")
        if len(parts) == 2:
            return path_names.check_entity(parts[0]), path_names.check_project(parts[1])
        if len(parts) == 1:
            return self.entity, path_names.check_project(parts[0])
        raise ValueError(
            f"invalid project {project!r}: expected 'entity/project' or 'project' (in your "
            "own entity)"
        )

    def _base(self, project: str) -> str:
        entity, name = self._split(project)
        return f"/artifacts/{_q(entity, name)}"

    def _version_path(self, version: dict[str, Any], *tail: str) -> str:
        entity = version.get("entity") or self.entity
        ref = version.get("version") or version.get("digest")
        path = (
            f"/artifacts/{_q(str(entity), str(version['project']))}/collections/"
            f"{_q(str(version['name']))}/versions/{_q(str(ref))}"
        )
        return "/".join([path, *tail]) if tail else path

    def _cache(self) -> Path:
        if self._cache_dir is None:
            from fwtrack.artifacts import cache

            self._cache_dir = Path(cache.blob_dir())
        return self._cache_dir

    # -- the protocol ------------------------------------------------------------------------

    def resolve(self, project: str, name: str, ref: str) -> dict[str, Any]:
        path = f"{self._base(project)}/collections/{_q(name)}/versions/{_q(ref)}"
        try:
            answer: dict[str, Any] = self.client.get_json(path)
        except NotFoundError as exc:
            entity, proj = self._split(project)
            raise ArtifactNotFoundError(
                f"no artifact {entity}/{proj}/{name}:{ref} on {self.client.base_url}: "
                f"{exc.detail or 'not found'}\nhint: list the collections with "
                f"Api(base_url=...).artifact_collections({proj!r}) or `fwtrack artifact ls "
                f"{proj}`"
            ) from None
        return answer

    def manifest(self, version: dict[str, Any]) -> Manifest:
        digest = str(version["digest"])
        cached = self._blob(digest)
        if cached.is_file():
            with contextlib.suppress(OSError, ValueError):
                data = cached.read_bytes()
                if _core.hash_bytes(data) == digest:
                    with contextlib.suppress(OSError):
                        os.utime(cached)
                    return Manifest.from_bytes(data)
        raw = self.client.request("GET", self._version_path(version, "manifest")).body
        manifest = Manifest.from_bytes(raw)
        canonical = manifest.canonical()
        if _core.hash_bytes(canonical) != digest:
            raise ArtifactVerifyError(
                f"the manifest {self.client.base_url} answered for "
                f"{version.get('project')}/{version.get('name')}:{version.get('version')} "
                f"hashes to {_core.hash_bytes(canonical)}, not its digest {digest}; nothing "
                "was written\nhint: check that the base_url is the server you mean"
            )
        with contextlib.suppress(OSError):
            _core.store_blob(str(self._cache()), canonical)
        return manifest

    def materialize(
        self, version: dict[str, Any], entries: list[ManifestEntry], root: Path
    ) -> None:
        root = Path(root)
        by_address: dict[str, list[ManifestEntry]] = {}
        for entry in entries:
            if entry.address is None:
                raise ArtifactError(
                    f"entry {entry.path!r} is a reference ({entry.ref}); it is fetched from its "
                    "source, not from the server"
                )
            by_address.setdefault(_core.check_address(entry.address), []).append(entry)
        self._cache().mkdir(parents=True, exist_ok=True)
        jobs = list(by_address.items())
        try:
            with ThreadPoolExecutor(
                max_workers=max(1, min(self._threads, len(jobs))), thread_name_prefix="fwtrack-dl"
            ) as pool:
                # The cache first (hashed as copied), then what it lacks: small contents in
                # packs, large ones one by one (a large one may be redirected to the store).
                hits = _all(pool, [(self._from_cache, (a, g, root)) for a, g in jobs])
                misses = [job for job, hit in zip(jobs, hits, strict=True) if not hit]
                small = [(a, g) for a, g in misses if self._packable(a, g)]
                large = [(a, g) for a, g in misses if not self._packable(a, g)]
                work: list[tuple[Callable[..., None], tuple[Any, ...]]] = [
                    (self._fetch_pack, (version, batch, root))
                    for batch in _batches(small, self._threads)
                ]
                work += [(self._fetch_group, (version, a, g, root)) for a, g in large]
                _all(pool, work)
        finally:
            with contextlib.suppress(Exception):
                from fwtrack.artifacts import cache

                cache.enforce_bound()

    def versions(
        self, project: str, *, name: str | None = None, type: str | None = None
    ) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.client.get_json(
            f"{self._base(project)}/versions", {"name": name, "type": type}
        )
        return answer

    def collections(self, project: str, *, type: str | None = None) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.client.get_json(
            f"{self._base(project)}/collections", {"type": type}
        )
        return answer

    def collection(self, project: str, name: str) -> dict[str, Any]:
        """CollectionJSON with `versions_list` (every version, newest first)."""
        answer: dict[str, Any] = self.client.get_json(
            f"{self._base(project)}/collections/{_q(name)}"
        )
        return answer

    def types(self, project: str) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.client.get_json(f"{self._base(project)}/types")
        return answer

    def set_aliases(self, version: dict[str, Any], aliases: list[str]) -> dict[str, Any]:
        import json

        body = json.dumps({"aliases": [a for a in aliases if a != "latest"]}).encode()
        answer = self.client.request(
            "PATCH",
            self._version_path(version),
            body=body,
            headers={"Content-Type": "application/json"},
        ).json()
        result: dict[str, Any] = answer
        return result

    def set_description(self, version: dict[str, Any], description: str) -> dict[str, Any]:
        """PATCH the version's description; the new VersionJSON."""
        import json

        body = json.dumps({"description": description}).encode()
        answer: dict[str, Any] = self.client.request(
            "PATCH",
            self._version_path(version),
            body=body,
            headers={"Content-Type": "application/json"},
        ).json()
        return answer

    def used_by(self, version: dict[str, Any]) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.client.get_json(self._version_path(version, "used_by"))
        return answer

    def lineage(self, version: dict[str, Any], depth: int = 2) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.get_json(
            self._version_path(version, "lineage"), {"depth": depth}
        )
        return answer

    def run_artifacts(self, entity: str, project: str, run_id: str) -> dict[str, Any]:
        """`{"logged": [VersionJSON...], "used": [...]}` of one run."""
        answer: dict[str, Any] = self.client.get_json(
            f"/runs/{_q(entity, project, run_id)}/artifacts"
        )
        return answer

    # -- downloading -------------------------------------------------------------------------

    def _blob(self, address: str) -> Path:
        hex_ = _core.check_address(address).partition(":")[2]
        return self._cache() / hex_[:2] / hex_

    def _from_cache(self, address: str, group: list[ManifestEntry], root: Path) -> bool:
        """Write the entries of `group` (one content) under `root` from the cache when it
        holds a good copy (a changed one is dropped); False when it does not."""
        cached = self._blob(address)
        if not cached.is_file():
            return False
        dests = [_dest(root, e.path) for e in group]
        try:
            _copy_hashed(cached, dests[0], address)
        except _Mismatch:
            cached.unlink(missing_ok=True)  # changed on disk: fetch it again
            return False
        except FileNotFoundError:  # evicted meanwhile
            return False
        with contextlib.suppress(OSError):
            os.utime(cached)
        for dest in dests[1:]:
            _copy_plain(dests[0], dest)
        return True

    def _packable(self, address: str, group: list[ManifestEntry]) -> bool:
        size = group[0].size
        return (
            self._packs
            and address.startswith("blake3:")
            and isinstance(size, int)
            and 0 <= size < PACK_BLOB_MAX
        )

    def _fetch_group(
        self, version: dict[str, Any], address: str, group: list[ManifestEntry], root: Path
    ) -> None:
        """Fetch one content with a GET of its first entry (into the cache and that entry at
        once), then copy it to the others."""
        dests = [_dest(root, e.path) for e in group]
        self._fetch(version, group[0].path, address, dests[0])
        for dest in dests[1:]:
            _copy_plain(dests[0], dest)

    def _fetch_pack(
        self, version: dict[str, Any], batch: list[tuple[str, list[ManifestEntry]]], root: Path
    ) -> None:
        """Fetch the small contents of `batch` in one `POST .../blobs/fetch` (a pack): each is
        hashed before anything of it is written, then kept in the cache and written to its
        entries. A cut answer is asked again once for what it lacked; a server without the
        route gets one GET per content."""
        wanted = dict(batch)
        for attempt in range(2):
            try:
                self._read_pack(version, wanted, root)
            except ServerError as exc:
                if exc.status not in (404, 405):
                    raise
                if exc.status == 405 or exc.detail == "Not Found":  # an older server
                    self._packs = False
                for address, group in list(wanted.items()):
                    self._fetch_group(version, address, group, root)
                return
            except _ShortPack as exc:
                if attempt == 1:
                    raise ArtifactError(
                        f"{self.client.base_url} ended a pack of {len(batch)} blobs early "
                        f"({exc}); the {len(wanted)} not received were not written\n"
                        "hint: download again (what arrived is in the cache)"
                    ) from None
                continue
            return

    def _read_pack(
        self, version: dict[str, Any], wanted: dict[str, list[ManifestEntry]], root: Path
    ) -> None:
        """One pack request for the addresses of `wanted`, which loses each one written."""
        import json

        body = json.dumps({"addresses": list(wanted)}).encode()
        entity = version.get("entity") or self.entity
        path = f"/artifacts/{_q(str(entity), str(version['project']))}/blobs/fetch"
        label = f"{version.get('project')}/{version.get('name')}:{version.get('version')}"
        with self.client.stream(
            "POST",
            path,
            body=body,
            headers={"Content-Type": "application/json", "Accept": PACK_MEDIA_TYPE},
        ) as resp:
            while wanted:
                head = _read_exact(resp, 2)
                if not head:
                    raise _ShortPack(f"{len(wanted)} blobs missing at its end")
                raw = _read_exact(resp, int.from_bytes(head, "little") + 8)
                if len(raw) < 8:
                    raise _ShortPack("inside an entry's header")
                address = raw[:-8].decode("ascii", "replace")
                size = int.from_bytes(raw[-8:], "little")
                group = wanted.get(address)
                if group is None or size >= PACK_BLOB_MAX:
                    raise ArtifactVerifyError(
                        f"{self.client.base_url} answered a pack for {label} holding "
                        f"{address[:80]!r} ({size} bytes), which was not asked for; nothing "
                        "of it was kept\nhint: check that the base_url is the server you mean"
                    )
                data = _read_exact(resp, size)
                if len(data) < size:
                    raise _ShortPack(f"inside the bytes of {address}")
                got = _core.hash_bytes(data)
                if got != address:
                    raise ArtifactVerifyError(
                        f"{group[0].path!r} of {label} downloaded from {self.client.base_url} "
                        f"hashes to {got} ({size} bytes), not its address {address}; it was "
                        "not kept\nhint: download it again; if it persists, the server's copy "
                        "is damaged"
                    )
                self._keep(address, data, group, root)
                del wanted[address]

    def _keep(self, address: str, data: bytes, group: list[ManifestEntry], root: Path) -> None:
        """Write verified `data` into the cache and to every entry of `group`."""
        target = self._blob(address)
        tmp_dir = self._cache() / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        cache_tmp = tmp_dir / uuid.uuid4().hex
        try:
            cache_tmp.write_bytes(data)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(cache_tmp, target)
        finally:
            cache_tmp.unlink(missing_ok=True)
        for entry in group:
            dest = _dest(root, entry.path)
            tmp = _tmp_beside(dest)
            try:
                tmp.write_bytes(data)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)

    def _fetch(self, version: dict[str, Any], path: str, address: str, dest: Path) -> None:
        """Stream the content of entry `path` into the cache and into `dest` at once, hashing
        it; keep both only when it is `address`."""
        url_path = self._version_path(version, "files", *path.split("/"))
        cache = self._cache()
        tmp_dir = cache / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        cache_tmp = tmp_dir / uuid.uuid4().hex
        dest_tmp = _tmp_beside(dest)
        hasher = _core.Hasher()
        try:
            with (
                self.client.stream("GET", url_path) as resp,
                cache_tmp.open("wb") as c,
                dest_tmp.open("wb") as d,
            ):
                while chunk := resp.read(_CHUNK):
                    hasher.update(chunk)
                    c.write(chunk)
                    d.write(chunk)
            got = hasher.hexdigest()
            if got != address:
                raise ArtifactVerifyError(
                    f"{path!r} of {version.get('project')}/{version.get('name')}:"
                    f"{version.get('version')} downloaded from {self.client.base_url} hashes to "
                    f"{got} ({hasher.size} bytes), not its address {address}; it was not kept\n"
                    "hint: download it again; if it persists, the server's copy is damaged"
                )
            target = self._blob(address)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(cache_tmp, target)
            os.replace(dest_tmp, dest)
        finally:
            cache_tmp.unlink(missing_ok=True)
            dest_tmp.unlink(missing_ok=True)


class _Mismatch(Exception):
    pass


class _ShortPack(Exception):
    """A pack answer that ended before every blob asked for."""


def _read_exact(resp: Any, size: int) -> bytes:
    """`size` bytes of `resp`, fewer only at its end."""
    if size == 0:
        return b""
    parts = []
    left = size
    while left:
        try:
            chunk = resp.read(left)
        except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
            raise _ShortPack(f"the connection broke: {exc!r}") from None
        if not chunk:
            break
        parts.append(chunk)
        left -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _all(
    pool: ThreadPoolExecutor, calls: list[tuple[Callable[..., Any], tuple[Any, ...]]]
) -> list[Any]:
    """Run `calls` on `pool`; their results in order (the first error raised, once all are
    done)."""
    if len(calls) <= 1:
        return [fn(*args) for fn, args in calls]
    futures = [pool.submit(fn, *args) for fn, args in calls]
    return [f.result() for f in futures]


def _batches(
    items: list[tuple[str, list[ManifestEntry]]], threads: int
) -> list[list[tuple[str, list[ManifestEntry]]]]:
    """`items` in packs of at most PACK_BYTES and PACK_MAX_BLOBS, smaller when that gives
    each thread one (a download of a few MiB is still fetched in parallel)."""
    total = sum(int(g[0].size or 0) for _, g in items)
    target = max(PACK_MIN_BYTES, min(PACK_BYTES, -(-total // max(1, threads))))
    out: list[list[tuple[str, list[ManifestEntry]]]] = []
    batch: list[tuple[str, list[ManifestEntry]]] = []
    size = 0
    for address, group in items:
        n = int(group[0].size or 0)
        if batch and (size + n > target or len(batch) >= PACK_MAX_BLOBS):
            out.append(batch)
            batch, size = [], 0
        batch.append((address, group))
        size += n
    if batch:
        out.append(batch)
    return out


def _dest(root: Path, path: str) -> Path:
    """`root/<path>` (parents created), refusing anything that would leave `root`."""
    from fwtrack.artifacts.manifest import check_entry_path

    check_entry_path(path)
    dest = root.joinpath(*path.split("/"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    real_root = os.path.realpath(root)
    real_parent = os.path.realpath(dest.parent)
    if os.path.commonpath([real_root, real_parent]) != real_root:
        raise ArtifactError(
            f"entry {path!r} would be written outside {root} (a link on the way leads to "
            f"{real_parent}); nothing was written there\nhint: remove the link or download "
            "to another root"
        )
    return dest


def _tmp_beside(dest: Path) -> Path:
    return dest.with_name(f".{dest.name[:100]}.{uuid.uuid4().hex[:12]}.part")


def _copy_hashed(src: Path, dest: Path, address: str) -> Path:
    """Copy `src` to `dest` (through a temporary file) hashing it; `_Mismatch` (and nothing
    written) when it is not `address`."""
    tmp = _tmp_beside(dest)
    hasher = _core.Hasher()
    try:
        with src.open("rb") as s, tmp.open("wb") as d:
            while chunk := s.read(_CHUNK):
                hasher.update(chunk)
                d.write(chunk)
        if hasher.hexdigest() != address:
            raise _Mismatch(str(src))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _copy_plain(src: Path, dest: Path) -> None:
    tmp = _tmp_beside(dest)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def registry_for_client(client: HttpClient, entity: str | None = None) -> RemoteRegistry:
    """A RemoteRegistry of `client`'s server, `entity` (default: the key's user)."""
    if entity is not None:
        return RemoteRegistry(client, entity)
    return RemoteRegistry(client, lambda: str(client.get_json("/viewer")["name"]))


def registry_for_run(run: Any) -> RemoteRegistry | None:
    """The registry of online run `run`'s server (its entity); None when the run has no
    server (offline, disabled, or online without a reachable configuration)."""
    from fwtrack.artifacts import staging

    found = staging.run_client(run)
    if found is None:
        return None
    client, entity = found
    return RemoteRegistry(client, entity)
