"""Large blobs straight between client and bucket: presigned URLs on an S3-compatible store
(docs/server.md, "Large blobs").

A `Presigner` signs with the store's `signer` (a boto3 client built with the endpoint clients
use, `--s3-public-endpoint`) and talks to the bucket with the store's own `client`:

- uploads: a multipart upload into the blob's final key (`start`), a URL per part
  (`presign_part`), what the bucket holds of it (`list_parts`), `complete` (only when no
  object is at the key yet: `If-None-Match: *`) and `abort`;
- verification: `digest` streams the object and hashes it;
- downloads: `presign_get`, with the content type and disposition the server would send.

The directory store cannot sign: `presigner(store)` is None for it, and large blobs then go
through the server as before. The uploads themselves (which one is live for an address, when
it was last touched) are rows of `blob_uploads` (`fwtrack.server.db.BlobUpload`), so any
replica resumes, completes or aborts them.
"""

from __future__ import annotations

import threading
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fwtrack.server.addresses import Digest
from fwtrack.server.store.base import BlobKey

__all__ = [
    "GET_EXPIRES",
    "MAX_PARTS",
    "PART_EXPIRES",
    "PART_SIZE",
    "Part",
    "Presigner",
    "UploadGone",
    "part_plan",
    "presigner",
]

PART_SIZE = 16 << 20
"""The size of every part but the last (more for blobs over `MAX_PARTS` parts)."""

MAX_PARTS = 10_000
"""S3's limit of parts per upload."""

PART_EXPIRES = 3600
"""Seconds a presigned part URL works (an expired one answers 403: the client asks again)."""

GET_EXPIRES = 900
"""Seconds a presigned download URL works."""

_READ = 8 << 20  # a verified object is hashed in pieces of this


class UploadGone(Exception):
    """The bucket no longer knows the multipart upload (aborted, or completed)."""


@dataclass(frozen=True)
class Part:
    """One part the bucket holds: its number, size, ETag and when it was stored (Unix
    seconds)."""

    number: int
    size: int
    etag: str
    modified: float = 0.0


def part_plan(size: int, part_size: int = PART_SIZE) -> tuple[int, int]:
    """`(part size, number of parts)` for a blob of `size` bytes: `part_size`, grown (in
    whole MiB) when the blob would need more than `MAX_PARTS` parts."""
    per = max(part_size, -(-size // MAX_PARTS))
    per = -(-per // (1 << 20)) * (1 << 20)
    return per, max(1, -(-size // per))


def _code(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class Presigner:
    """Presigned multipart uploads and downloads on one bucket (see the module docstring)."""

    def __init__(
        self, client: Any, signer: Any, bucket: str, object_key: Callable[[BlobKey], str]
    ) -> None:
        self.client = client
        self.signer = signer
        self.bucket = bucket
        self.object_key = object_key

    # -- uploads -----------------------------------------------------------------------------

    def start(self, key: str, content_type: str = "application/octet-stream") -> str:
        """Start a multipart upload into `key`; its upload id."""
        answer = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType=content_type
        )
        return str(answer["UploadId"])

    def presign_part(self, key: str, upload_id: str, number: int, expires: int) -> str:
        """A URL that takes `PUT` of part `number` (no other credentials needed)."""
        return str(
            self.signer.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "UploadId": upload_id,
                    "PartNumber": number,
                },
                ExpiresIn=expires,
            )
        )

    def list_parts(self, key: str, upload_id: str) -> list[Part]:
        """The parts the bucket holds of the upload, by number (UploadGone when it has no
        such upload). A part sent twice may be listed twice (SeaweedFS keeps both until the
        upload completes): the caller picks by size and ETag."""
        parts: list[Part] = []
        marker = 0
        while True:
            try:
                page = self.client.list_parts(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                )
            except Exception as exc:
                if _code(exc) in ("NoSuchUpload", "NoSuchKey", "404"):
                    raise UploadGone(upload_id) from None
                raise
            for item in page.get("Parts", []):
                stamp = item.get("LastModified")
                parts.append(
                    Part(
                        int(item["PartNumber"]),
                        int(item["Size"]),
                        str(item["ETag"]),
                        stamp.timestamp() if hasattr(stamp, "timestamp") else 0.0,
                    )
                )
            if not page.get("IsTruncated"):
                break
            following = int(page.get("NextPartNumberMarker") or 0)
            if following <= marker:
                break
            marker = following
        parts.sort(key=lambda p: (p.number, p.modified))
        return parts

    def complete(self, key: str, upload_id: str, parts: list[Part]) -> bool:
        """Join `parts` into the object at `key`, unless an object is there already (then
        False, and the upload stays as it was). UploadGone when the bucket has no such
        upload."""
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
                },
                IfNoneMatch="*",
            )
        except Exception as exc:
            code = _code(exc)
            if code in ("PreconditionFailed", "412"):
                return False
            if code in ("NoSuchUpload", "404"):
                raise UploadGone(upload_id) from None
            raise
        return True

    def abort(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts (nothing when the bucket no longer has it)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as exc:
            if _code(exc) not in ("NoSuchUpload", "NoSuchKey", "404"):
                raise

    # -- objects -----------------------------------------------------------------------------

    def digest(self, key: str, algorithm: str) -> tuple[str, int] | None:
        """`(address, size)` of the object at `key` under `algorithm`, read in a stream; None
        when there is no object."""
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise
        digest = Digest(algorithm)
        body = answer["Body"]
        try:
            while chunk := body.read(_READ):
                digest.update(chunk)
        finally:
            body.close()
        return digest.address(), digest.size

    def size(self, key: str) -> int | None:
        """The object's length, None when there is none."""
        try:
            answer = self.client.head_object(Bucket=self.bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                return None
            raise
        return int(answer["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def presign_get(
        self, key: str, expires: int, content_type: str, disposition: str | None = None
    ) -> str:
        """A URL that answers `GET` of the object for `expires` seconds, with
        `content_type` (and `disposition`, when given) as its headers."""
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ResponseContentType": content_type,
        }
        if disposition is not None:
            params["ResponseContentDisposition"] = disposition
        return str(
            self.signer.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)
        )

    @property
    def origin(self) -> str:
        """The scheme, host and port of the URLs it signs (for the dashboard's CSP)."""
        parts = urllib.parse.urlsplit(str(self.signer.meta.endpoint_url))
        return f"{parts.scheme}://{parts.netloc}"


_LOCK = threading.Lock()
_PRESIGNERS: weakref.WeakKeyDictionary[Any, Presigner] = weakref.WeakKeyDictionary()


def presigner(store: object) -> Presigner | None:
    """The presigner of `store` (one per store object), or None when it cannot sign (the
    directory store)."""
    from fwtrack.server.store.s3 import S3Store

    if not isinstance(store, S3Store):
        return None
    with _LOCK:
        found = _PRESIGNERS.get(store)
        if found is None:
            found = Presigner(store.client, store.signer, store.bucket, store.object_key)
            _PRESIGNERS[store] = found
        return found
