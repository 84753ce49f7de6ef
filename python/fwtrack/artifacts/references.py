"""Reference entries: files that stay where they are (`s3://bucket/key`, `s3://bucket/prefix/`,
`file:///path`), recorded in the manifest by URI and, with `checksum=True`, with what the
source offers: size, ETag and version id for S3, size and mtime for files.

S3 goes through boto3 (the `s3` extra: `pip install 'fwtrack[s3]'`), imported on first use;
the endpoint, region and credentials come from boto3's own configuration (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, ~/.aws/...), so S3-compatible stores work as they do with the AWS CLI.
A prefix with more objects than `max_objects` is an error (ReferenceLimitError), never a
silent truncation.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fwtrack.artifacts.manifest import ManifestEntry, check_entry_path
from fwtrack.errors import ArtifactError, ReferenceLimitError

__all__ = ["download", "resolve"]

SCHEMES = ("s3", "file")
_CHUNK = 1 << 20
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')


def _check_max(max_objects: object) -> int | None:
    if max_objects is None:
        return None
    if isinstance(max_objects, bool) or not isinstance(max_objects, int) or max_objects < 1:
        raise ValueError(f"max_objects must be a positive int (or None), got {max_objects!r}")
    return max_objects


def _too_many(uri: str, limit: int, seen: int) -> ReferenceLimitError:
    return ReferenceLimitError(
        f"add_reference({uri!r}): more than max_objects={limit} objects under it (stopped "
        f"after seeing {seen}); nothing was added\nhint: raise max_objects (e.g. "
        f"max_objects={max(seen * 2, limit * 10)}), or reference a narrower prefix"
    )


def _entry_name(name: str | None, rel: str) -> str:
    return check_entry_path(f"{name}/{rel}" if name else rel)


def resolve(
    uri: str, name: str | None, *, checksum: bool = True, max_objects: int | None = None
) -> list[ManifestEntry]:
    """The manifest entries of a reference to `uri`."""
    if not isinstance(uri, str):
        raise TypeError(f"a reference must be a URI str like 's3://bucket/key', got {uri!r}")
    limit = _check_max(max_objects)
    scheme = urlsplit(uri).scheme
    if scheme not in SCHEMES:
        raise ValueError(
            f"add_reference({uri!r}): unsupported scheme {scheme or '(none)'!r}; use s3://bucket/"
            "key, s3://bucket/prefix/ or file:///absolute/path"
        )
    if name is not None:
        check_entry_path(name)
    if not checksum:
        return [ManifestEntry(check_entry_path(name or _last_part(uri)), ref=uri)]
    if scheme == "file":
        return _resolve_file(uri, name, limit)
    return _resolve_s3(uri, name, limit)


def _last_part(uri: str) -> str:
    parts = urlsplit(uri)
    path = unquote(parts.path).rstrip("/")
    return posixpath.basename(path) or parts.netloc or "reference"


# -- file:// --------------------------------------------------------------------------------------


def _file_path(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"file reference {uri!r}: use file:///absolute/path (no host)")
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise ValueError(f"file reference {uri!r}: the path must be absolute")
    return path


def _file_uri(path: str) -> str:
    return "file://" + path


def _resolve_file(uri: str, name: str | None, limit: int | None) -> list[ManifestEntry]:
    path = _file_path(uri)
    if os.path.isfile(path):
        st = os.stat(path)
        entry_name = name or posixpath.basename(path)
        return [
            ManifestEntry(
                check_entry_path(entry_name),
                ref=_file_uri(path),
                size=st.st_size,
                mtime=st.st_mtime,
            )
        ]
    if not os.path.isdir(path):
        raise FileNotFoundError(2, f"add_reference: no file or directory {path!r} ({uri})", path)
    entries: list[ManifestEntry] = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for filename in sorted(filenames):
            full = os.path.join(dirpath, filename)
            if not os.path.isfile(full):
                continue
            if limit is not None and len(entries) >= limit:
                raise _too_many(uri, limit, len(entries) + 1)
            st = os.stat(full)
            rel = os.path.relpath(full, path).replace(os.sep, "/")
            entries.append(
                ManifestEntry(
                    _entry_name(name, rel), ref=_file_uri(full), size=st.st_size, mtime=st.st_mtime
                )
            )
    return entries


# -- s3:// ----------------------------------------------------------------------------------------


def _s3_client() -> Any:
    try:
        import boto3
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "s3:// references need boto3: pip install 'fwtrack[s3]'", name="boto3"
        ) from None
    return boto3.client("s3")


def _split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if not parts.netloc:
        raise ValueError(f"S3 reference {uri!r}: expected s3://bucket/key or s3://bucket/prefix/")
    return parts.netloc, unquote(parts.path).lstrip("/")


def _is_not_found(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


def _list(client: Any, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def _resolve_s3(uri: str, name: str | None, limit: int | None) -> list[ManifestEntry]:
    bucket, key = _split_s3(uri)
    client = _s3_client()
    if key and not key.endswith("/"):
        try:
            head = client.head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if not _is_not_found(exc):
                raise ArtifactError(f"add_reference({uri!r}): {exc}") from exc
        else:
            return [
                ManifestEntry(
                    check_entry_path(name or posixpath.basename(key)),
                    ref=f"s3://{bucket}/{key}",
                    size=int(head["ContentLength"]),
                    etag=head.get("ETag"),
                    version_id=head.get("VersionId"),
                )
            ]
        key += "/"
    entries: list[ManifestEntry] = []
    try:
        for obj in _list(client, bucket, key):
            obj_key = obj["Key"]
            if obj_key.endswith("/"):
                continue  # a "directory" marker
            if limit is not None and len(entries) >= limit:
                raise _too_many(uri, limit, len(entries) + 1)
            entries.append(
                ManifestEntry(
                    _entry_name(name, obj_key[len(key) :]),
                    ref=f"s3://{bucket}/{obj_key}",
                    size=int(obj["Size"]),
                    etag=obj.get("ETag"),
                )
            )
    except ReferenceLimitError:
        raise
    except Exception as exc:
        raise ArtifactError(f"add_reference({uri!r}): cannot list it: {exc}") from exc
    if not entries:
        raise FileNotFoundError(2, f"add_reference: no object or prefix {uri!r}", uri)
    return entries


# -- downloads ------------------------------------------------------------------------------------


def download(entry: ManifestEntry, root: Path) -> None:
    """Fetch a reference entry's bytes to `root/<path>` (a prefix recorded with
    `checksum=False`: every object under it, to `root/<path>/...`). Checked against the
    recorded size, and the ETag when it is a plain MD5; a mismatch raises ArtifactError (the
    source changed since the artifact was logged)."""
    assert entry.ref is not None
    scheme = urlsplit(entry.ref).scheme
    dest = root.joinpath(*entry.path.split("/"))
    if scheme == "file":
        _download_file(entry, dest)
    elif scheme == "s3":
        _download_s3(entry, dest)
    else:
        raise ArtifactError(f"{entry.path}: cannot download reference {entry.ref!r}")


def _download_file(entry: ManifestEntry, dest: Path) -> None:
    assert entry.ref is not None
    src = _file_path(entry.ref)
    if entry.size is None and os.path.isdir(src):
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(src, dest)
        return
    try:
        st = os.stat(src)
    except FileNotFoundError:
        raise ArtifactError(
            f"{entry.path}: the referenced file {src} is gone (referenced as {entry.ref})"
        ) from None
    if entry.size is not None and (
        st.st_size != entry.size or (entry.mtime is not None and st.st_mtime != entry.mtime)
    ):
        raise ArtifactError(
            f"{entry.path}: the referenced file {src} changed since the artifact was logged "
            f"(size {st.st_size}, recorded {entry.size})"
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.fwtrack-{uuid.uuid4().hex[:12]}"
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _download_s3(entry: ManifestEntry, dest: Path) -> None:
    assert entry.ref is not None
    bucket, key = _split_s3(entry.ref)
    client = _s3_client()
    if (
        entry.size is None
        and key
        and not key.endswith("/")
        and not _s3_object_exists(client, bucket, key)
    ):
        key += "/"  # recorded without checksum: an object, else a prefix
    if entry.size is None and (not key or key.endswith("/")):
        for obj in _list(client, bucket, key):
            if obj["Key"].endswith("/"):
                continue
            rel = obj["Key"][len(key) :]
            _fetch_s3(client, bucket, obj["Key"], None, dest.joinpath(*rel.split("/")), None, None)
        return
    _fetch_s3(client, bucket, key, entry.version_id, dest, entry.size, entry.etag, entry.path)


def _s3_object_exists(client: Any, bucket: str, key: str) -> bool:
    try:
        client.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        if _is_not_found(exc):
            return False
        raise ArtifactError(f"cannot read s3://{bucket}/{key}: {exc}") from exc
    return True


def _fetch_s3(
    client: Any,
    bucket: str,
    key: str,
    version_id: str | None,
    dest: Path,
    size: int | None,
    etag: str | None,
    path: str | None = None,
) -> None:
    shown = path or key
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        args["VersionId"] = version_id
    try:
        answer = client.get_object(**args)
    except Exception as exc:
        raise ArtifactError(f"{shown}: cannot fetch s3://{bucket}/{key}: {exc}") from exc
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.fwtrack-{uuid.uuid4().hex[:12]}"
    md5 = hashlib.md5(usedforsecurity=False)
    got = 0
    try:
        body = answer["Body"]
        with open(tmp, "wb") as f:
            while chunk := body.read(_CHUNK):
                f.write(chunk)
                md5.update(chunk)
                got += len(chunk)
        if size is not None and got != size:
            raise ArtifactError(
                f"{shown}: s3://{bucket}/{key} has {got} bytes, not the {size} recorded when "
                "the artifact was logged (the object changed)"
            )
        m = _MD5_ETAG.match(etag or "")
        if m is not None and md5.hexdigest() != m.group(1):
            raise ArtifactError(
                f"{shown}: the bytes of s3://{bucket}/{key} do not match the ETag {etag} "
                "recorded when the artifact was logged (the object changed)"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
