"""Large blobs straight between client and bucket (docs/server.md, "Large blobs"): a real
`fwtrack server --store s3://...` on SeaweedFS, its public endpoint a request-counting proxy in
front of SeaweedFS (tests/counting_proxy.py), a second proxy in front of the server, and real
clients (`fwtrack sync`, `fwtrack.Api`'s HTTP client, a `kill -9`ed sync).

- A blob over the threshold goes to the bucket in parts without passing through the server;
  its download is a `307` to a presigned URL that serves the same bytes, and the API client
  follows it (the API key stays with the server).
- Completing an upload whose bytes do not hash to its address stores nothing: 400 naming both
  addresses, no object in the bucket, the address still missing.
- An upload nobody asked about for a day is aborted by the collector (its parts leave the
  bucket).
- 1 GiB through presigned multipart, the uploading process `kill -9`ed after some parts and
  `fwtrack sync` run again: only the parts the bucket lacked are sent, and the blob verifies.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from counting_proxy import CountingProxy, Seen
from fwserver import Server, client_env, run_cli, run_program
from fwtrack import _core
from fwtrack._http import HttpClient
from seaweed import Seaweed
from server.harness import S3_PREFIX

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]

PROGRAM = Path(__file__).resolve().parents[1] / "programs" / "media_and_files_run.py"
MIB = 1 << 20
PART = 16 * MIB


class Bucket:
    """A server on a fresh bucket of `seaweed`, whose public endpoint is a counting proxy in
    front of SeaweedFS (`s3proxy`); `answer` may answer requests to the bucket itself."""

    def __init__(
        self,
        tmp_path: Path,
        seaweed: Seaweed,
        answer: Any = None,
        extra_args: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.seaweed = seaweed
        self.s3proxy = CountingProxy(seaweed.s3_port, answer=answer).start()
        self.server = Server(tmp_path / "data", store="s3", seaweed=seaweed)
        self.server.extra_args = ["--s3-public-endpoint", self.s3proxy.url, *extra_args]
        self.server.start()
        assert self.server.store.bucket is not None
        self.bucket: str = self.server.store.bucket

    def parts(self, *, forwarded: bool = True, status: int = 200) -> list[Seen]:
        """Part uploads the bucket's proxy forwarded (or answered itself), answered
        `status`."""
        return [
            s
            for s in self.s3proxy.seen
            if s.method == "PUT"
            and "partNumber=" in s.path
            and s.forwarded == forwarded
            and s.status == status
        ]

    def object_key(self, address: str, entity: str = "admin") -> str:
        algorithm, _, hex_ = address.partition(":")
        return f"{S3_PREFIX}/blobs/{entity}/{hex_[:2]}/{algorithm}-{hex_}"

    def has_object(self, address: str) -> bool:
        return bool(self.seaweed.keys(self.bucket, self.object_key(address)))

    def stop(self) -> None:
        self.server.stop()
        self.s3proxy.stop()


@pytest.fixture
def bucket(tmp_path: Path, seaweed: Seaweed) -> Iterator[Bucket]:
    b = Bucket(tmp_path, seaweed)
    try:
        yield b
    finally:
        b.stop()


def _offline_run(tmp_path: Path) -> tuple[Path, str]:
    made = run_program(str(PROGRAM), "offline", "2", "1000", cwd=tmp_path, env=client_env(tmp_path))
    return Path(made["dir"]), str(made["id"])


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """`GET url` without following a redirect: status, headers, body."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=60)
    try:
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        conn.request("GET", target, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _api(srv: Server, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{srv.url}/api/v1{path}",
        data=data,
        method=method,
        headers={**srv.headers, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def _put(url: str, data: bytes) -> int:
    req = urllib.request.Request(url, data=data, method="PUT")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)


def test_a_large_blob_goes_to_the_bucket_and_comes_back_by_redirect(
    bucket: Bucket, tmp_path: Path
) -> None:
    srv = bucket.server
    run_dir, run_id = _offline_run(tmp_path)
    big = os.urandom(40 * MIB)  # three parts: 16 + 16 + 8 MiB
    address = _core.hash_bytes(big)
    target = run_dir / "files" / "model" / "weights.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(big)

    front = CountingProxy(srv.port).start()
    try:
        env = client_env(tmp_path, FWTRACK_API_KEY=srv.key)
        done = run_cli("sync", str(run_dir), "--base-url", front.url, env=env, timeout=300)
    finally:
        front.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    # The blob went to the bucket in its three parts, not through the server.
    parts = bucket.parts()
    assert sorted(s.size for s in parts) == [8 * MIB, 16 * MIB, 16 * MIB]
    through_server = sum(s.size for s in front.seen)
    assert through_server < 2 * MIB, through_server
    assert not [s for s in front.seen if s.kind == "put"]
    asked = [s for s in front.seen if s.path.endswith("/blobs/uploads")]
    completed = [s for s in front.seen if s.path.endswith("/complete")]
    assert [s.status for s in asked] == [200]
    assert [s.status for s in completed] == [200]
    assert srv.stored_blobs()[address] == big

    # The download is a redirect to the bucket's public endpoint...
    path = f"/runs/admin/blobs/{run_id}/files/model/weights.bin"
    status, headers, _ = _get(f"{srv.url}/api/v1{path}", srv.headers)
    assert status == 307
    location = headers["location"]
    assert location.startswith(bucket.s3proxy.url + "/"), location
    assert headers["etag"] == f'"{address}"'
    # ... the dashboard may load from there ...
    csp = headers["content-security-policy"]
    assert f"img-src 'self' data: blob: {bucket.s3proxy.url};" in csp, csp
    assert f"connect-src 'self' blob: {bucket.s3proxy.url};" in csp, csp
    # ... which serves the bytes with the route's content type, without the API key.
    status, headers, body = _get(location, {})
    assert status == 200
    assert headers["content-type"] == "application/octet-stream"
    assert body == big
    # The API client follows it, and the API key does not go along.
    seen = len(bucket.s3proxy.seen)
    client = HttpClient(srv.url, srv.key)
    assert client.request("GET", path).body == big
    followed = bucket.s3proxy.seen[seen:]
    assert [(s.method, s.status, s.authorized) for s in followed] == [("GET", 200, False)]
    # Small files are still served by the server itself.
    listed = {f["path"]: f for f in srv.get(f"/runs/admin/blobs/{run_id}/files")["files"]}
    small = next(p for p, f in listed.items() if int(f["size"]) < MIB)
    status, _, body = _get(f"{srv.url}/api/v1/runs/admin/blobs/{run_id}/files/{small}", srv.headers)
    assert status == 200
    assert _core.hash_bytes(body) == listed[small]["address"]
    assert len(bucket.s3proxy.seen) == seen + 1


def test_bytes_that_do_not_hash_to_the_address_are_not_stored(
    bucket: Bucket, tmp_path: Path
) -> None:
    srv = bucket.server
    run_dir, run_id = _offline_run(tmp_path)
    done = run_cli(
        "sync",
        str(run_dir),
        "--base-url",
        srv.url,
        env=client_env(tmp_path, FWTRACK_API_KEY=srv.key),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = f"/runs/admin/blobs/{run_id}"
    right = os.urandom(9 * MIB)
    wrong = os.urandom(9 * MIB)
    address = _core.hash_bytes(right)

    # The two routes are in the OpenAPI document, with the blob routes.
    _, doc = _api(srv, "GET", "/openapi.json")
    uploads = doc["paths"]["/api/v1/runs/{entity}/{project}/{run_id}/blobs/uploads"]["post"]
    complete = doc["paths"][
        "/api/v1/runs/{entity}/{project}/{run_id}/blobs/uploads/{upload}/complete"
    ]["post"]
    assert uploads["tags"] == complete["tags"] == ["blobs"]
    assert {"400", "404", "409"} <= set(complete["responses"])

    # Under the threshold: through the server.
    status, answer = _api(srv, "POST", f"{run}/blobs/uploads", {"address": address, "size": MIB})
    assert (status, answer) == (200, {"mode": "server"})

    status, answer = _api(
        srv, "POST", f"{run}/blobs/uploads", {"address": address, "size": len(right)}
    )
    assert status == 200, answer
    assert answer["mode"] == "presigned"
    assert answer["part_size"] == PART
    assert [(p["number"], p["size"]) for p in answer["parts"]] == [(1, len(right))]
    # A second caller gets the same upload.
    status, again = _api(
        srv, "POST", f"{run}/blobs/uploads", {"address": address, "size": len(right)}
    )
    assert again["upload"] == answer["upload"]

    # A part of the wrong size is not a complete upload.
    assert _put(answer["parts"][0]["url"], wrong[:MIB]) == 200
    status, body = _api(
        srv, "POST", f"{run}/blobs/uploads/{answer['upload']}/complete", {"parts": []}
    )
    assert status == 409, body
    assert body["missing_parts"] == [1]

    # Wrong bytes of the right size: refused, and nothing of them is kept.
    status, again = _api(
        srv, "POST", f"{run}/blobs/uploads", {"address": address, "size": len(right)}
    )
    assert again["upload"] == answer["upload"]
    assert [p["number"] for p in again["parts"]] == [1]  # the short part does not count
    assert _put(again["parts"][0]["url"], wrong) == 200
    status, body = _api(
        srv, "POST", f"{run}/blobs/uploads/{answer['upload']}/complete", {"parts": []}
    )
    assert status == 400, body
    assert body["refused"] == [address]
    assert address in body["detail"]
    assert _core.hash_bytes(wrong) in body["detail"]
    assert not bucket.has_object(address)
    _, missing = _api(srv, "POST", f"{run}/blobs/missing", {"addresses": [address]})
    assert missing["missing"] == [address]
    status, _ = _api(srv, "POST", f"{run}/blobs/uploads/{answer['upload']}/complete", {"parts": []})
    assert status == 404  # the refused upload is gone

    # The right bytes: a fresh upload, verified and stored.
    status, fresh = _api(
        srv, "POST", f"{run}/blobs/uploads", {"address": address, "size": len(right)}
    )
    assert fresh["upload"] != answer["upload"]
    assert _put(fresh["parts"][0]["url"], right) == 200
    status, body = _api(
        srv, "POST", f"{run}/blobs/uploads/{fresh['upload']}/complete", {"parts": []}
    )
    assert (status, body) == (200, {"address": address, "size": len(right)})
    assert srv.stored_blobs()[address] == right
    status, answer = _api(
        srv, "POST", f"{run}/blobs/uploads", {"address": address, "size": len(right)}
    )
    assert (status, answer) == (200, {"mode": "stored"})


def test_the_collector_aborts_uploads_untouched_for_a_day(tmp_path: Path, seaweed: Seaweed) -> None:
    b = Bucket(tmp_path, seaweed, extra_args=["--blob-grace", "10"])  # a pass every second
    try:
        srv = b.server
        run_dir, run_id = _offline_run(tmp_path)
        env = client_env(tmp_path, FWTRACK_API_KEY=srv.key)
        done = run_cli("sync", str(run_dir), "--base-url", srv.url, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        run = f"/runs/admin/blobs/{run_id}"
        data = os.urandom(9 * MIB)
        address = _core.hash_bytes(data)
        ask = {"address": address, "size": len(data)}
        status, answer = _api(srv, "POST", f"{run}/blobs/uploads", ask)
        assert status == 200, answer
        assert _put(answer["parts"][0]["url"], data[: 5 * MIB]) == 200
        s3 = seaweed.client()

        def uploads() -> list[str]:
            found = s3.list_multipart_uploads(Bucket=b.bucket).get("Uploads", [])
            return [str(u["Key"]) for u in found]

        assert uploads() == [b.object_key(address)]
        engine = sa.create_engine(f"sqlite:///{srv.data_dir / 'fwtrack.db'}")
        try:
            # An hour short of a day: kept.
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE blob_uploads SET touched_at = :t"),
                    {"t": time.time() - 23 * 3600},
                )
            time.sleep(3)
            assert uploads() == [b.object_key(address)]
            # A day: aborted, parts and row.
            with engine.begin() as connection:
                connection.execute(
                    sa.text("UPDATE blob_uploads SET touched_at = :t"),
                    {"t": time.time() - 25 * 3600},
                )
            b.s3proxy.wait_for("the stale upload aborted", lambda: uploads() == [], timeout=60)
            with engine.connect() as connection:
                left = connection.execute(sa.text("SELECT count(*) FROM blob_uploads")).scalar()
            assert left == 0
        finally:
            engine.dispose()
        # Asking again starts afresh.
        status, fresh = _api(srv, "POST", f"{run}/blobs/uploads", ask)
        assert fresh["upload"] != answer["upload"]
        assert [p["number"] for p in fresh["parts"]] == [1]
    finally:
        b.stop()


def _write_gib(path: Path) -> str:
    """1 GiB of generated bytes (a 1 MiB block of random bytes, each copy with its index
    written over its head, so that no two parts are alike); returns its address."""
    block = bytearray(os.urandom(MIB))
    hasher = _core.Hasher()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        for i in range(1024):
            block[:8] = i.to_bytes(8, "little")
            out.write(block)
            hasher.update(bytes(block))
    return str(hasher.hexdigest())


@pytest.mark.timeout(600)
def test_one_gib_interrupted_and_resumed_sends_only_the_missing_parts(
    tmp_path: Path, seaweed: Seaweed
) -> None:
    allowed = {"parts": 6}
    lock = threading.Lock()

    def answer(kind: str) -> tuple[int, dict[str, str], bytes] | None:
        # Only part uploads reach the public endpoint; past the allowance they fail (503:
        # the client retries) until the test lets them through again.
        with lock:
            if allowed["parts"] > 0:
                allowed["parts"] -= 1
                return None
        return 503, {"Content-Type": "application/xml", "Retry-After": "1"}, b"<Error/>"

    b = Bucket(tmp_path, seaweed, answer=answer)
    try:
        srv = b.server
        run_dir, run_id = _offline_run(tmp_path)
        address = _write_gib(run_dir / "files" / "checkpoint.bin")
        env = client_env(tmp_path, FWTRACK_API_KEY=srv.key, FWTRACK_UPLOAD_TIMEOUT="600")
        sync = subprocess.Popen(
            [sys.executable, "-m", "fwtrack", "sync", str(run_dir), "--base-url", srv.url],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            b.s3proxy.wait_for(
                "six parts stored, then one refused",
                lambda: len(b.parts()) == 6 and bool(b.parts(forwarded=False, status=503)),
                timeout=600,
            )
            os.kill(sync.pid, signal.SIGKILL)
            assert sync.wait(timeout=30) == -signal.SIGKILL
        finally:
            if sync.poll() is None:
                sync.kill()
                sync.wait(timeout=30)
        first = {_part_number(s) for s in b.parts()}
        assert len(first) == 6
        # The bucket holds those six parts of the one upload under way.
        s3 = seaweed.client()
        key = b.object_key(address)
        uploads = s3.list_multipart_uploads(Bucket=b.bucket).get("Uploads", [])
        assert [u["Key"] for u in uploads] == [key]
        listed = s3.list_parts(Bucket=b.bucket, Key=key, UploadId=uploads[0]["UploadId"])
        assert {p["PartNumber"] for p in listed["Parts"]} == first
        assert not b.has_object(address)

        before = len(b.s3proxy.seen)
        with lock:
            allowed["parts"] = 1 << 30
        done = run_cli("sync", str(run_dir), "--base-url", srv.url, env=env, timeout=800)
        assert done.returncode == 0, done.stdout + done.stderr
        second = [s for s in b.s3proxy.seen[before:] if s.method == "PUT" and s.status == 200]
        numbers = [_part_number(s) for s in second]
        # Only the parts the bucket lacked, each once.
        assert sorted(numbers) == sorted(set(range(1, 65)) - first)
        assert sum(s.size for s in second) == (64 - 6) * PART
        # The blob is stored under its address, and its bytes hash to it.
        files = srv.get(f"/runs/admin/blobs/{run_id}/files")["files"]
        assert {"path": "checkpoint.bin", "size": 1 << 30, "address": address} in files
        assert s3.list_multipart_uploads(Bucket=b.bucket).get("Uploads", []) == []
        hasher = _core.Hasher()
        body = s3.get_object(Bucket=b.bucket, Key=key)["Body"]
        while chunk := body.read(8 * MIB):
            hasher.update(chunk)
        assert hasher.hexdigest() == address
    finally:
        b.stop()


def _part_number(seen: Seen) -> int:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(seen.path).query)
    return int(query["partNumber"][0])


def test_parts_grow_past_ten_thousand() -> None:
    from fwtrack.server.store.presign import MAX_PARTS, part_plan

    assert part_plan(9 * MIB) == (PART, 1)
    assert part_plan(1 << 30) == (PART, 64)
    size = 200 << 30  # 200 GiB would be 12,800 parts of 16 MiB
    per, count = part_plan(size)
    assert count <= MAX_PARTS
    assert per % MIB == 0
    assert per * count >= size > per * (count - 1)
