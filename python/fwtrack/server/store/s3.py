"""The S3 backend of the store: every byte in one bucket of S3-compatible object storage
(AWS S3, MinIO, SeaweedFS, ...), under a key prefix; the server's disk holds only caches.

```
<prefix>blobs/<entity>/<hex[:2]>/<algorithm>-<hex>   a blob (same naming as the directory store)
<prefix>runs/<run pk>/log/<start:016x>-<end:016x>     immutable run-log segments (`segments`)
<prefix>runs/<run pk>/index/...                        a snapshot of the history index
```

and in the cache directory (`--cache-dir`, default `<data dir>/cache`), all of it a cache that
may be deleted while the server is stopped:

```
<cache>/runs/<run pk>/run.fwlog     a prefix of the stored run log (the Rust core reads it)
<cache>/runs/<run pk>/index/        the run's history index, rebuilt from the log or fetched
<cache>/tmp/                        uploads being received before they are verified and put
```

A blob is one object, written by one PUT (a multipart upload for a big staged file): readers
see all of it or nothing. One boto3 client serves the process (thread-safe, a pool of
`POOL_CONNECTIONS`), SigV4 with path-style addressing, credentials from the standard AWS
chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, instance roles) and never
from the command line. `signer` is a second client built with the endpoint clients reach (the
public endpoint), used only to presign URLs.

Run keys are the `runs` row's primary key, so a run id deleted and uploaded again never meets
the leftovers of the deleted run. The run logs themselves are `segments.SegmentRunLog`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from fwtrack.server.config import S3Location
from fwtrack.server.filemodes import private_dir
from fwtrack.server.store.base import BlobKey, RunKey, Staged
from fwtrack.server.store.directory import _STALE_STAGE, _StagedFile, clear_stale_stages

if TYPE_CHECKING:
    from fwtrack.server.store.segments import SegmentRunLog

__all__ = ["POOL_CONNECTIONS", "S3Store", "StoreUnavailableError"]

log = logging.getLogger("fwtrack.server")

POOL_CONNECTIONS = 96
"""HTTP connections the process's client keeps to the endpoint. Requests run on many threads at
once: the route threads (40, Starlette's default), `put_many`'s pool (16) and the segment
readers (16 per catching-up log); a smaller pool discards connections under load (urllib3's
"Connection pool is full" warning) and opens new ones for the next requests."""

_PUT_THREADS = 16
_MULTIPART_THRESHOLD = 64 * 1024 * 1024
_MULTIPART_CHUNK = 16 * 1024 * 1024
_DELETE_BATCH = 1000
_ADOPT_CHUNK = 64 * 1024 * 1024  # a segment of an imported log (never merged again)
_MISSING = {"404", "NoSuchKey", "NotFound"}
"""Codes of an object that is not there (a missing bucket is an unusable store: OSError)."""
_REFUSED = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}


class StoreUnavailableError(ValueError):
    """The store named by the configuration cannot be used (a missing bucket, refused
    credentials, an unreachable endpoint); the message ends with a `hint:`."""


_SESSION_LOCK = threading.Lock()
_LOADER: Any = None


def _session() -> Any:
    """A fresh boto3 session (credentials resolved anew, from the environment as it is now)
    sharing one service-model loader per process: loading the S3 model for every client is a
    noticeable part of a server's start."""
    import boto3
    import botocore.session

    global _LOADER
    core = botocore.session.get_session()
    if _LOADER is None:
        _LOADER = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core)


def make_client(endpoint: str | None, region: str, *, pool: int, attempts: int = 5) -> Any:
    """A boto3 S3 client: SigV4, path-style addressing, checksums only where S3 requires
    them (S3-compatible stores differ in the newer ones), credentials from the AWS chain."""
    from botocore.config import Config

    with _SESSION_LOCK:  # the shared loader fills its cache on first use
        return _session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                max_pool_connections=pool,
                retries={"max_attempts": attempts, "mode": "standard"},
                connect_timeout=10,
                read_timeout=120,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore `ClientError` (`NoSuchKey`, `404`, ...), else None."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    if code is None:
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return None if status is None else str(status)
    return str(code)


def is_missing(exc: BaseException) -> bool:
    """True for a botocore error that says the object (or bucket) does not exist."""
    return error_code(exc) in _MISSING


def as_os_error(exc: BaseException, what: str) -> OSError:
    """A botocore error as the OSError the routes turn into a 503 (retry later)."""
    code = error_code(exc)
    detail = f"{code}: {exc}" if code else str(exc)
    return OSError(f"object storage failed to {what} ({detail})")


class _StagedUpload(_StagedFile):
    """A temporary file under the cache's `tmp/` receiving one blob before it is uploaded
    (a cache: no fsync, the upload is what makes it durable)."""

    def seal(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.close()
            self._file = None


class _ObjectBody(io.RawIOBase):
    """A GET's streaming body as a raw file (`open` buffers it)."""

    def __init__(self, body: Any, key: str) -> None:
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError

        try:
            data = self._body.read(len(buffer))
        except BotoCoreError as exc:
            raise as_os_error(exc, f"read {self._key}") from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


def _indexed(index: Path) -> int:
    """How far into the log the history index at `index` reaches (0 without one)."""
    from fwtrack.server import core

    try:
        return int(core.index_read_meta(str(index)).get("log_offset") or 0)
    except (OSError, ValueError):
        return 0


class S3Store:
    """The store in a bucket of S3-compatible object storage (`Store`); see the module
    docstring for the layout."""

    def __init__(
        self,
        location: S3Location,
        cache_dir: Path,
        *,
        endpoint: str | None,
        region: str,
        public_endpoint: str | None = None,
        stale_after: float = _STALE_STAGE,
    ) -> None:
        self.bucket = location.bucket
        self.prefix = location.prefix
        self.location = location
        self.endpoint = endpoint
        self.region = region
        self.cache_dir = Path(cache_dir)
        self.client = make_client(endpoint, region, pool=POOL_CONNECTIONS)
        self.signer = make_client(public_endpoint or endpoint, region, pool=4)
        private_dir(self.cache_dir)
        for name in ("runs", "tmp"):
            private_dir(self.cache_dir / name)
        self._tmp = self.cache_dir / "tmp"
        clear_stale_stages(self._tmp, stale_after)

    @property
    def root(self) -> Path:
        """The cache directory (the store's only local files)."""
        return self.cache_dir

    def _where(self) -> str:
        return self.endpoint or "AWS S3"

    def check(self) -> None:
        """Fail with a `hint:` (StoreUnavailableError) unless the bucket exists and the
        credentials may list it: a missing bucket, refused credentials, no credentials at
        all, an unreachable endpoint."""
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        where = self._where()
        probe = make_client(self.endpoint, self.region, pool=1, attempts=2)
        try:
            probe.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except NoCredentialsError as exc:
            raise StoreUnavailableError(
                f"no credentials for the S3 store {self.location.url} at {where}; hint: set "
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the server's "
                "environment"
            ) from exc
        except EndpointConnectionError as exc:
            raise StoreUnavailableError(
                f"cannot reach the S3 endpoint {where} ({exc}); hint: check --s3-endpoint "
                "(or AWS_ENDPOINT_URL) and that the object store is running"
            ) from exc
        except ClientError as exc:
            code = error_code(exc)
            if code in {"NoSuchBucket", "404"}:
                raise StoreUnavailableError(
                    f"bucket {self.bucket!r} does not exist at {where}; hint: create it, or "
                    "check --s3-endpoint and the bucket in --store"
                ) from exc
            if code in _REFUSED:
                raise StoreUnavailableError(
                    f"{where} refused the credentials for bucket {self.bucket!r} ({code}); "
                    "hint: check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile) "
                    "and that they may read and write the bucket"
                ) from exc
            if code in {"301", "PermanentRedirect", "AuthorizationHeaderMalformed"}:
                raise StoreUnavailableError(
                    f"bucket {self.bucket!r} is in another region than {self.region!r} "
                    f"({code}); hint: set --s3-region (or AWS_REGION) to the bucket's region"
                ) from exc
            raise StoreUnavailableError(
                f"the S3 store {self.location.url} at {where} answered {code}: {exc}; hint: "
                "check --store, --s3-endpoint and the credentials"
            ) from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(
                f"cannot use the S3 store {self.location.url} at {where} ({exc}); hint: check "
                "--s3-endpoint (or AWS_ENDPOINT_URL) and that the object store is running"
            ) from exc

    # -- blobs -------------------------------------------------------------------------------

    def object_key(self, key: BlobKey) -> str:
        """The object key of a blob: `<prefix>blobs/<entity>/<hex[:2]>/<algorithm>-<hex>`."""
        if not key.entity or key.entity in {".", ".."} or "/" in key.entity or "\0" in key.entity:
            raise ValueError(f"not an entity name: {key.entity[:80]!r}")
        return f"{self.prefix}blobs/{key.entity}/{key.hex[:2]}/{key.algorithm}-{key.hex}"

    @contextlib.contextmanager
    def stage(self) -> Iterator[_StagedUpload]:
        staged = _StagedUpload(self._tmp)
        try:
            yield staged
        finally:
            staged.discard()

    def _upload(self, key: BlobKey, src: bytes | memoryview | Staged) -> None:
        from boto3.s3.transfer import TransferConfig
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.object_key(key)
        try:
            if isinstance(src, _StagedUpload):
                src.seal()
                self.client.upload_file(
                    str(src.path),
                    self.bucket,
                    name,
                    Config=TransferConfig(
                        multipart_threshold=_MULTIPART_THRESHOLD,
                        multipart_chunksize=_MULTIPART_CHUNK,
                        max_concurrency=4,
                    ),
                )
            else:
                assert isinstance(src, bytes | memoryview)
                self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(src))
        except (BotoCoreError, ClientError) as exc:
            raise as_os_error(exc, f"store blob {key.address}") from exc
        except Exception as exc:  # s3transfer wraps the client's errors in its own
            if type(exc).__module__.startswith(("s3transfer", "boto3")):
                raise as_os_error(exc, f"store blob {key.address}") from exc
            raise

    def put(self, key: BlobKey, src: bytes | memoryview | Staged) -> None:
        self.put_many([(key, src)])

    def put_many(self, items: Sequence[tuple[BlobKey, bytes | memoryview | Staged]]) -> None:
        """`put` of several blobs, uploaded on up to 16 threads; the first error is raised
        once all are done (a blob uploaded meanwhile is harmless: SQL does not name it)."""
        for _, src in items:
            if not isinstance(src, bytes | memoryview | _StagedUpload):
                raise TypeError(f"put takes bytes or a blob staged by this store, not {type(src)}")
        for key, _ in items:
            self.object_key(key)  # checks the entity before anything is sent
        if len(items) <= 1:
            for key, src in items:
                self._upload(key, src)
            return
        with ThreadPoolExecutor(max_workers=min(_PUT_THREADS, len(items))) as pool:
            futures = [pool.submit(self._upload, key, src) for key, src in items]
            for future in futures:
                future.result()

    def open(self, key: BlobKey) -> BinaryIO:
        """A streaming GET of the blob (FileNotFoundError when not stored)."""
        from botocore.exceptions import BotoCoreError, ClientError

        name = self.object_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if is_missing(exc):
                raise FileNotFoundError(2, "no such blob in the bucket", name) from exc
            raise as_os_error(exc, f"read blob {key.address}") from exc
        except BotoCoreError as exc:
            raise as_os_error(exc, f"read blob {key.address}") from exc
        return io.BufferedReader(_ObjectBody(response["Body"], name), buffer_size=1 << 20)

    def size(self, key: BlobKey) -> int | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise as_os_error(exc, f"look up blob {key.address}") from exc
        except BotoCoreError as exc:
            raise as_os_error(exc, f"look up blob {key.address}") from exc
        return int(head["ContentLength"])

    def exists(self, key: BlobKey) -> bool:
        return self.size(key) is not None

    def delete(self, key: BlobKey) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except ClientError as exc:
            if not is_missing(exc):
                raise as_os_error(exc, f"delete blob {key.address}") from exc
        except BotoCoreError as exc:
            raise as_os_error(exc, f"delete blob {key.address}") from exc

    def local_path(self, key: BlobKey) -> Path | None:
        """None: blobs live in the bucket (the routes stream `open`)."""
        del key
        return None

    def link_from(self, key: BlobKey, source: Path) -> None:
        """Upload the regular file `source` as the blob `key` (nothing when it is stored);
        `source` stays. For importing files stored before blobs were content-addressed."""
        if self.exists(key):
            return
        with self.stage() as staged, open(source, "rb") as fh:
            shutil.copyfileobj(fh, staged, _MULTIPART_CHUNK)
            self.put(key, staged)

    def adopt_run(self, run: RunKey, log: Path | None, index: Path | None) -> None:
        """Store a run's log from an older layout as segments (from where an interrupted
        import left off), and keep its history index as the run's cached index; `index` is
        gone afterwards, `log` stays (its folder is the caller's)."""
        if log is not None:
            with self.run_log(run).locked(create=True) as handle, open(log, "rb") as fh:
                at = handle.size()
                fh.seek(at)
                while chunk := fh.read(_ADOPT_CHUNK):
                    handle.append(chunk, at)
                    at += len(chunk)
        if index is not None:
            target = self.index_dir(run)
            if target.exists():
                shutil.rmtree(index)
            else:
                private_dir(target.parent)
                try:
                    os.replace(index, target)
                except OSError:  # another file system: rebuilt from the log when read
                    shutil.rmtree(index, ignore_errors=True)

    # -- run logs and indexes ----------------------------------------------------------------

    def run_prefix(self, run: RunKey) -> str:
        """The key prefix of everything stored for a run: `<prefix>runs/<pk>/`."""
        return f"{self.prefix}runs/{run.pk}/"

    def run_dir(self, run: RunKey) -> Path:
        """The run's caches: `<cache>/runs/<pk>/` (its log copy and index)."""
        return self.cache_dir / "runs" / str(run.pk)

    def run_log(self, run: RunKey) -> SegmentRunLog:
        from fwtrack.server.store.segments import SegmentRunLog

        return SegmentRunLog(store=self, run=run)

    def index_dir(self, run: RunKey) -> Path:
        return self.run_dir(run) / "index"

    def sync_run(self, run: RunKey, size: int) -> None:
        """Bring the run's cached log up to `size` bytes (at least) and its history index over
        it: another replica, or this server before its cache was deleted, may have appended
        them. Without a request when both already cover `size`. A run with no local index
        first fetches the index snapshot (`runs/<pk>/index/`) and continues from its offset
        rather than indexing the whole log. The index is updated under the run's lock, as
        the ingest updates it."""
        from fwtrack.server import core
        from fwtrack.server.store.segments import fetch_index

        if size <= 0:
            return
        runlog = self.run_log(run)
        index = self.index_dir(run)
        if runlog.cached_size() >= size and _indexed(index) >= size:
            return
        if not index.is_dir() or not any(index.iterdir()):
            fetch_index(self, run, index)
        try:
            with runlog.locked(create=False):  # the cache brought up to the stored log's end
                core.index_update(str(runlog.path), str(index))
        except FileNotFoundError:
            return  # the run's log was removed meanwhile (the run is being deleted)

    def snapshot_index(self, run: RunKey) -> None:
        """Upload a snapshot of the run's history index to `runs/<pk>/index/` (the caller
        holds the run's lock, so the index holds still)."""
        from fwtrack.server.store.segments import publish_index

        publish_index(self, run, self.index_dir(run))

    def move_run(self, run: RunKey, to: RunKey) -> None:
        """Nothing: the run's objects and caches are keyed by its `pk`, which a move keeps."""
        del run, to

    def delete_run(self, run: RunKey) -> None:
        """Remove the run's objects (log segments, index snapshot) and its caches."""
        from botocore.exceptions import BotoCoreError, ClientError

        self.run_log(run).remove()  # the segments first, from the end backwards
        try:
            names = self._list(self.run_prefix(run))  # then the rest: the index snapshot
            for start in range(0, len(names), _DELETE_BATCH):
                batch = names[start : start + _DELETE_BATCH]
                answer = self.client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": n} for n in batch], "Quiet": True},
                )
                failed = [e for e in answer.get("Errors", []) if e.get("Code") not in _MISSING]
                if failed:
                    raise OSError(
                        f"object storage kept {len(failed)} object(s) of run {run.run_id} "
                        f"({failed[0].get('Key')}: {failed[0].get('Code')})"
                    )
        except (BotoCoreError, ClientError) as exc:
            raise as_os_error(exc, f"delete run {run.run_id}") from exc
        shutil.rmtree(self.run_dir(run), ignore_errors=True)

    def _list(self, prefix: str) -> list[str]:
        out: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            out.extend(str(o["Key"]) for o in page.get("Contents", []))
        return out
