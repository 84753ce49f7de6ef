"""Fuzzing the server: the ingest endpoint with broken frames, and the whole API with schemathesis.

Ingest (`POST /api/v1/runs/{entity}/{project}/{run_id}/log?offset=N`): bodies built from a
real run log, then truncated, bit-flipped, shuffled, replayed, padded with garbage, or sent at
the wrong offset. The server must answer exactly as docs/server.md says (`400` for anything
that is not whole, valid, next frames; `409` ahead of the stored size; `200` for bytes it
already has; `413` over the size limit), never `500`, and the stored log must stay
byte-identical to what it held before.

Schemathesis generates requests for every operation of the server's own OpenAPI document and
checks that no answer is a `500` and that every answer conforms to the document.
"""

from __future__ import annotations

import random
import struct
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fwtrack
from fwtrack import _core
from fwtrack.server.pack import encode_pack
from fwtrack.server.routes.blobs import PACK_MEDIA_TYPE

from .harness import ServerProcess

API = "/api/v1"
ENTITY = "admin"  # the first user, whose key the server is seeded with
PROJECT = "fuzz"
HEADER_LEN = 16
FRAME_HEADER_LEN = 28
MAX_UPLOAD = 64 * 1024  # the fuzz server's --max-upload-bytes

FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # reproducible: the same examples on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its example
)


# --------------------------------------------------------------------------------------------
# A real run log, cut into frames


def make_run_log(root: Path) -> bytes:
    """A real run log with a config, metrics, strings and several frames (one per flush)."""
    run = fwtrack.init(
        project="fuzz-src", dir=root, mode="offline", config={"lr": 0.1, "layers": [4, 8]}
    )
    try:
        for step in range(120):
            fwtrack.log({"train/loss": 1 / (step + 1), "train/acc": step / 120, "note": f"s{step}"})
            if step % 10 == 9:
                run.flush()
    finally:
        fwtrack.finish()
    (log,) = root.rglob("run.fwlog")
    return log.read_bytes()


def frame_spans(log: bytes) -> list[tuple[int, int]]:
    """(start, end) byte offsets of each frame after the header."""
    spans = []
    pos = HEADER_LEN
    while pos < len(log):
        (body_len,) = struct.unpack_from("<I", log, pos)
        end = pos + FRAME_HEADER_LEN + body_len
        assert end <= len(log), "the source log has a torn tail"
        spans.append((pos, end))
        pos = end
    return spans


@dataclass
class FuzzTarget:
    """A server, a client log, and a run on the server holding the log's first frames."""

    server: ServerProcess
    http: httpx.Client
    log: bytes
    spans: list[tuple[int, int]]
    run_id: str
    stored: bytes  # what the server holds for `run_id`

    @property
    def size(self) -> int:
        return len(self.stored)

    def path(self, run_id: str | None = None) -> str:
        return f"{API}/runs/{ENTITY}/{PROJECT}/{run_id or self.run_id}/log"

    def post(self, offset: int, body: bytes, run_id: str | None = None) -> httpx.Response:
        return self.http.post(
            self.path(run_id),
            params={"offset": offset},
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )

    def fresh_run(self, frames: int = 4) -> FuzzTarget:
        """A new run on the same server holding the header and the first `frames` frames."""
        other = FuzzTarget(
            self.server, self.http, self.log, self.spans, f"run-{uuid.uuid4().hex[:12]}", b""
        )
        first = self.log[: self.spans[frames - 1][1]]
        resp = other.post(0, first)
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"offset": len(first)}
        other.stored = first
        other.assert_unchanged()
        return other

    def assert_unchanged(self) -> None:
        got = self.http.get(self.path() + "/offset")
        assert got.status_code == 200, got.text
        assert got.json()["offset"] == self.size
        stored = self.http.get(self.path())
        assert stored.status_code == 200, stored.text
        assert stored.content == self.stored, "the stored log changed"


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    root = tmp_path_factory.mktemp("fuzz")
    log = make_run_log(root / "client")
    spans = frame_spans(log)
    assert len(spans) >= 8, "the source log needs several frames"
    server = ServerProcess(root / "server", extra_args=["--max-upload-bytes", str(MAX_UPLOAD)])
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as client:
            # The server holds the header and the first four frames.
            yield FuzzTarget(server, client, log, spans, "", b"").fresh_run(4)
    finally:
        server.stop()
    log_text = server.log_text()
    assert "Traceback" not in log_text, log_text


# --------------------------------------------------------------------------------------------
# Strategies: (description, offset, body, expected status)


@st.composite
def next_chunk(draw: st.DrawFn, t: FuzzTarget) -> tuple[int, bytes, list[int]]:
    """Whole frames that follow the stored ones: (start, bytes, frame ends relative to start)."""
    following = [span for span in t.spans if span[0] >= t.size]
    n = draw(st.integers(1, len(following)))
    end = following[n - 1][1]
    return t.size, t.log[t.size : end], [e - t.size for _, e in following[:n]]


def _flip(data: bytes, bits: list[int]) -> bytes:
    out = bytearray(data)
    for bit in bits:
        out[bit // 8 % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def bad_upload(draw: st.DrawFn, t: FuzzTarget) -> tuple[str, int, bytes, int]:
    kind = draw(
        st.sampled_from(
            [
                "truncated",
                "bitflip",
                "shuffled_bytes",
                "garbage",
                "valid_then_garbage",
                "valid_then_torn",
                "overlap_then_garbage",
                "header_again",
                "stale",
                "ahead",
            ]
        )
    )
    start, chunk, ends = draw(next_chunk(t))
    if kind == "truncated":
        cuts = [c for c in range(1, len(chunk)) if c not in ends]
        cut = draw(st.sampled_from(cuts))
        return kind, start, chunk[:cut], 400
    if kind == "bitflip":
        bits = draw(
            st.lists(st.integers(0, len(chunk) * 8 - 1), min_size=1, max_size=8, unique=True)
        )
        flipped = _flip(chunk, bits)
        return f"{kind} {bits}", start, flipped, 400
    if kind == "shuffled_bytes":
        lo = draw(st.integers(0, len(chunk) - 2))
        hi = draw(st.integers(lo + 2, min(len(chunk), lo + 64)))
        window = draw(st.permutations(list(chunk[lo:hi])))
        body = chunk[:lo] + bytes(window) + chunk[hi:]
        if body == chunk:  # the permutation changed nothing: make it change something
            body = _flip(chunk, [lo * 8])
        return f"{kind} [{lo}:{hi}]", start, body, 400
    if kind == "garbage":
        return kind, start, draw(st.binary(min_size=1, max_size=4096)), 400
    if kind == "valid_then_garbage":
        return kind, start, chunk + draw(st.binary(min_size=1, max_size=512)), 400
    if kind == "valid_then_torn":
        # Whole frames, then the start of the next frame only: nothing may be stored.
        following = [s for s in t.spans if s[0] >= start + len(chunk)]
        if not following:
            return kind, start, chunk + chunk[:5], 400
        nxt = t.log[following[0][0] : following[0][1]]
        cut = draw(st.integers(1, len(nxt) - 1))
        return kind, start, chunk + nxt[:cut], 400
    if kind == "overlap_then_garbage":
        back = draw(st.integers(1, t.size))
        body = t.stored[t.size - back :] + draw(st.binary(min_size=1, max_size=512))
        return kind, t.size - back, body, 400
    if kind == "header_again":
        return kind, start, t.log[:HEADER_LEN] + chunk, 400
    if kind == "stale":
        offset = draw(st.integers(0, t.size))
        length = draw(st.integers(0, t.size - offset))
        body = draw(st.sampled_from([t.stored[offset : offset + length], b"\xff" * length]))
        return kind, offset, body, 200
    # ahead: the client believes the server has more than it has
    gap = draw(st.integers(1, 100_000))
    body = draw(st.sampled_from([chunk, b"", b"garbage"]))
    return kind, start + gap, body, 409


@given(data=st.data())
@FUZZ_SETTINGS
def test_ingest_rejects_broken_uploads(fuzz_target: FuzzTarget, data: st.DataObject) -> None:
    kind, offset, body, expected = data.draw(bad_upload(fuzz_target), label="upload")
    resp = fuzz_target.post(offset, body)
    assert resp.status_code == expected, (
        f"{kind} at offset {offset} ({len(body)} bytes): expected {expected}, "
        f"got {resp.status_code} {resp.text}"
    )
    if expected in (200, 409):
        assert resp.json()["offset"] == fuzz_target.size
    else:
        assert "detail" in resp.json()
    fuzz_target.assert_unchanged()


@st.composite
def bad_first_upload(draw: st.DrawFn, t: FuzzTarget) -> tuple[str, bytes]:
    """A first upload (offset 0) of a new run that is not a header + whole frames."""
    n = draw(st.integers(1, 4))
    valid = t.log[: t.spans[n - 1][1]]
    kind = draw(st.sampled_from(["short_header", "magic", "version", "torn", "garbage", "bitflip"]))
    if kind == "short_header":
        return kind, valid[: draw(st.integers(1, HEADER_LEN - 1))]
    if kind == "magic":
        bits = draw(st.lists(st.integers(0, 63), min_size=1, max_size=4, unique=True))
        return f"{kind} {bits}", _flip(valid, bits)
    if kind == "version":
        version = draw(st.sampled_from([0, 2, 3, 0x100, 0xFFFF]))
        return f"{kind} {version}", valid[:8] + struct.pack("<H", version) + valid[10:]
    if kind == "torn":
        ends = {e for _, e in t.spans}
        cuts = [c for c in range(HEADER_LEN + 1, len(valid)) if c not in ends]
        return kind, valid[: draw(st.sampled_from(cuts))]
    if kind == "garbage":
        return kind, draw(st.binary(min_size=1, max_size=2048))
    bits = draw(
        st.lists(
            st.integers(HEADER_LEN * 8, len(valid) * 8 - 1), min_size=1, max_size=8, unique=True
        )
    )
    return f"{kind} {bits}", _flip(valid, bits)


@given(data=st.data())
@settings(FUZZ_SETTINGS, max_examples=60)
def test_ingest_rejects_broken_first_uploads(fuzz_target: FuzzTarget, data: st.DataObject) -> None:
    kind, body = data.draw(bad_first_upload(fuzz_target), label="upload")
    run_id = f"new-{uuid.uuid4().hex[:12]}"
    resp = fuzz_target.post(0, body, run_id=run_id)
    assert resp.status_code == 400, (
        f"{kind} ({len(body)} bytes): got {resp.status_code} {resp.text}"
    )
    # Nothing stored: no run was created, and the stored offset is still 0.
    got = fuzz_target.http.get(fuzz_target.path(run_id) + "/offset")
    assert got.status_code == 200, got.text
    assert got.json()["offset"] == 0
    run_url = fuzz_target.path(run_id).removesuffix("/log")
    assert fuzz_target.http.get(run_url).status_code == 404


def test_ingest_refuses_frames_out_of_sequence(fuzz_target: FuzzTarget) -> None:
    """Whole frames with good CRCs that do not continue the stored sequence: a frame sent
    again at the end, two frames swapped. Appending them would duplicate or reorder records,
    so the server refuses them (`400`) and stores nothing. (A gap is accepted: the writer
    leaves one when it drops records; see test_ingest.)"""
    t = fuzz_target.fresh_run(4)
    spans = [s for s in t.spans if s[0] >= t.size]
    frame = [t.log[a:b] for a, b in t.spans]
    k = len(t.spans) - len(spans)  # index of the next frame
    cases = {
        "the last stored frame again": frame[k - 1],
        "the first frame again": frame[0],
        "the next two frames swapped": frame[k + 1] + frame[k],
    }
    for what, body in cases.items():
        resp = t.post(t.size, body)
        assert resp.status_code == 400, f"{what}: expected 400, got {resp.status_code} {resp.text}"
        t.assert_unchanged()


def test_ingest_size_limit(fuzz_target: FuzzTarget) -> None:
    t = fuzz_target.fresh_run(4)
    big = random.Random(0).randbytes(MAX_UPLOAD + 1)
    for offset, run_id in ((t.size, None), (0, f"big-{uuid.uuid4().hex[:8]}")):
        resp = t.post(offset, big, run_id=run_id)
        assert resp.status_code == 413, resp.text
        assert "detail" in resp.json()
    t.assert_unchanged()


def test_ingest_accepts_the_real_continuation(fuzz_target: FuzzTarget) -> None:
    """After all the abuse, the genuine next frames still append, byte for byte, one upload
    per frame, each sent twice (the retry is acknowledged, not stored again)."""
    t = fuzz_target
    for start, end in [s for s in t.spans if s[0] >= t.size][:-1]:
        for _ in range(2):
            resp = t.post(start, t.log[start:end])
            assert resp.status_code == 200, resp.text
            assert resp.json() == {"offset": end}
        t.stored = t.log[:end]
        t.assert_unchanged()
    resp = t.post(t.size, t.log[t.size :])
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"offset": len(t.log)}
    t.stored = t.log
    t.assert_unchanged()
    run = t.http.get(f"{API}/runs/{ENTITY}/{PROJECT}/{t.run_id}")
    assert run.status_code == 200, run.text
    assert run.json()["state"] == "finished"


# --------------------------------------------------------------------------------------------
# Schemathesis over the server's own OpenAPI document

API_CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]
API_EXAMPLES = 20


def _packs() -> st.SearchStrategy[bytes]:
    """Bodies for `POST .../blobs` (`application/x-fwtrack-blobs`): packs of blobs whose
    addresses match their bytes or not, and bytes that are no pack at all."""

    def named(data: bytes) -> st.SearchStrategy[tuple[str, bytes]]:
        right, wrong = _core.hash_bytes(data), _core.hash_bytes(b"x" + data)
        return st.sampled_from([(right, data), (wrong, data)])

    entry = st.binary(max_size=512).flatmap(named)
    return st.one_of(st.lists(entry, max_size=4).map(encode_pack), st.binary(max_size=256))


schemathesis.openapi.media_type(PACK_MEDIA_TYPE, _packs())

# Revoking keys by guessed id could revoke the admin key every other request uses.
API_EXCLUDED = {("DELETE", f"{API}/keys/{{key_id}}"), ("DELETE", f"{API}/keys/{{id}}")}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("api") / "server")
    server.start()
    try:
        yield server
    finally:
        server.stop()


# The operations are dealt round-robin into shards, each a test of its own: the whole document
# outgrew one test's timeout, and the shards spread over the xdist workers.
API_SHARDS = 8


@pytest.mark.parametrize("shard", range(API_SHARDS))
def test_openapi_conformance(api_server: ServerProcess, shard: int) -> None:
    """Every operation, fed schema-conforming and edge-case input with the admin key: no 500s,
    and every answer's status, content type, headers and body match the OpenAPI document."""
    from schemathesis import checks as st_checks
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.result import Ok

    st_checks.load_all_checks()
    checks: list[Any] = [st_checks.CHECKS.get_one(name) for name in API_CHECKS]
    schema = schemathesis.openapi.from_url(f"{api_server.url}{API}/openapi.json")
    failures: list[str] = []
    tested: list[str] = []
    for index, result in enumerate(schema.get_all_operations()):
        if index % API_SHARDS != shard:
            continue
        if not isinstance(result, Ok):
            failures.append(f"the OpenAPI document has an invalid operation: {result.err()}")
            continue
        operation = result.ok()
        if (operation.method.upper(), operation.path) in API_EXCLUDED:
            continue
        tested.append(operation.label)

        @settings(
            max_examples=API_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            response = case.call(base_url=api_server.url, headers=api_server.headers, timeout=30)
            case.validate_response(response, checks=checks, headers=api_server.headers)

        try:
            check()
        except (Exception, FailureGroup) as exc:  # collect every operation's failures
            failures.append(f"{operation.label}: {exc}")
    assert len(tested) >= 5, f"the shard holds too few of the document's operations: {tested}"
    assert not failures, f"{len(failures)} operation(s) failed:\n\n" + "\n\n".join(failures)
    # The server survived the whole run.
    assert api_server.running
    assert "Traceback" not in api_server.log_text(), api_server.log_text()
