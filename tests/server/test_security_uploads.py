"""Uploads a client should not be able to turn into a 500 or into changed content, against a
real server process: a file onto a folder or under a file (409), JSON nested too deep (400,
never a RecursionError), a media payload whose bytes do not match its address (400, the
original still served under its ETag); and secrets at rest (no plaintext key or password in
any file of the data directory, nor in any object of its bucket). On the directory store and
on S3 (a real SeaweedFS), both on SQLite (whose database file is checked for secrets)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest

from fwtrack._core import hash_bytes

from .apputil import S3_SQLITE, make_run, split, store_choice
from .harness import ServerProcess

pytestmark = pytest.mark.slow

PROJECT = "uploads"
RUN_ID = "r1"
BASE = f"/api/v1/runs/admin/{PROJECT}/{RUN_ID}"
WORKSPACE = f"/api/v1/projects/admin/{PROJECT}/workspace"


@pytest.fixture(scope="module", params=S3_SQLITE)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server (SQLite) holding one uploaded run, `admin/uploads/r1`."""
    tmp = tmp_path_factory.mktemp("security-uploads")
    log = make_run(tmp / "client", PROJECT, RUN_ID, steps=5).read_bytes()
    store, _ = split(request.param)
    srv = ServerProcess(tmp / "server", store=store_choice(request, store))
    srv.start()
    try:
        r = httpx.post(
            f"{srv.url}{BASE}/log",
            params={"offset": 0},
            content=log,
            headers={**srv.headers, "Content-Type": "application/octet-stream"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def http(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        yield client


def _files(http: httpx.Client) -> dict[str, int]:
    r = http.get(f"{BASE}/files")
    assert r.status_code == 200, r.text
    return {f["path"]: f["size"] for f in r.json()["files"]}


def _no_internal_error(server: ServerProcess) -> None:
    assert "internal error" not in server.log_text()


def test_a_file_onto_a_folder_or_under_a_file_is_409(
    server: ServerProcess, http: httpx.Client
) -> None:
    assert http.put(f"{BASE}/files/clash/dir/inner.txt", content=b"inner").status_code == 200
    assert http.put(f"{BASE}/files/clash/file", content=b"file").status_code == 200
    before = _files(http)

    onto_folder = http.put(f"{BASE}/files/clash/dir", content=b"x")
    assert onto_folder.status_code == 409, onto_folder.text
    detail = onto_folder.json()["detail"]
    assert "'clash/dir' is a folder" in detail
    assert "clash/dir/inner.txt" in detail
    for path in ("clash/file/below", "clash/file/deeper/below"):
        under_file = http.put(f"{BASE}/files/{path}", content=b"x")
        assert under_file.status_code == 409, under_file.text
        assert "run file 'clash/file' exists" in under_file.json()["detail"]

    assert _files(http) == before
    assert http.get(f"{BASE}/files/clash/dir/inner.txt").content == b"inner"
    assert http.get(f"{BASE}/files/clash/file").content == b"file"
    _no_internal_error(server)


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_too_deep_is_400_never_500(server: ServerProcess, http: httpx.Client) -> None:
    saved = {"charts": {"version": 1, "order": ["loss"], "nested": [[[["fine"]]]]}}
    assert http.put(WORKSPACE, content=json.dumps(saved)).status_code == 200
    for depth in (65, 5000):
        r = http.put(WORKSPACE, content=f'{{"charts": {_nested(depth)}}}')
        assert r.status_code == 400, (depth, r.text)
        assert "deeper than 64 levels" in r.json()["detail"]
    assert http.get(WORKSPACE).json() == saved  # the refused layouts stored nothing

    # bodies parsed into models, and a content-addressed table read back from a file
    deep = _nested(5000)
    for method, url, body in (
        ("PATCH", BASE, f'{{"notes": {deep}}}'),
        ("POST", "/api/v1/users", f'{{"name": "deep", "password": {deep}}}'),
        ("POST", "/api/v1/keys", f'{{"name": {deep}}}'),
    ):
        r = http.request(method, url, content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (method, url, r.status_code, r.text)
    table = f'{{"columns": ["a"], "data": [[{deep}]]}}'.encode()
    path = f"media/{hashlib.sha256(table).hexdigest()}.table.json"
    assert http.put(f"{BASE}/files/{path}", content=table).status_code == 200
    r = http.get(f"{BASE}/table", params={"path": path})
    assert r.status_code == 409, r.text
    assert "deeper than 64 levels" in r.json()["detail"]
    _no_internal_error(server)


def test_a_media_payload_must_match_its_address(http: httpx.Client) -> None:
    original = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
    sha = hashlib.sha256(original).hexdigest()
    url = f"{BASE}/files/media/{sha}.png"
    assert http.put(url, content=original).status_code == 200
    first = http.get(url)
    etag = first.headers["etag"]
    assert etag == f'"{hash_bytes(original)}"'  # its content address
    assert "immutable" in first.headers["cache-control"]

    swapped = http.put(url, content=b"\x89PNG\r\n\x1a\nother pixels")
    assert swapped.status_code == 400, swapped.text
    assert "content does not match its address" in swapped.json()["detail"]
    after = http.get(url)
    assert (after.content, after.headers["etag"]) == (original, etag)
    assert http.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert _files(http)[f"media/{sha}.png"] == len(original)

    # the same bytes again are accepted (uploads are retried), and change nothing
    again = http.put(url, content=original)
    assert again.status_code == 200, again.text
    assert http.get(url).content == original

    # a new address with the wrong bytes stores nothing
    wrong = "0" * 64
    r = http.put(f"{BASE}/files/media/{wrong}.png", content=original)
    assert r.status_code == 400, r.text
    assert http.get(f"{BASE}/files/media/{wrong}.png").status_code == 404
    assert f"media/{wrong}.png" not in _files(http)


def test_no_key_or_password_is_stored_in_plaintext(
    server: ServerProcess, http: httpx.Client
) -> None:
    password = "plaintext-canary-Pa55word"
    made = http.post("/api/v1/users", json={"name": "carol", "password": password})
    assert made.status_code in (200, 201), made.text
    login = httpx.post(
        f"{server.url}/api/v1/login",
        json={"username": "carol", "password": password},
        timeout=60,
    )
    assert login.status_code == 200, login.text
    keys = [server.admin_key, *(v for v in made.json().values() if str(v).startswith("fwk_"))]
    keys += [v for v in login.json().values() if str(v).startswith("fwk_")]
    assert len(keys) >= 2, (made.json(), login.json())
    stored = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" or "sqlite" in p.name for p in stored), stored
    for path in stored:
        data = path.read_bytes()
        for secret in (password, *keys):
            assert secret.encode() not in data, (path, secret[:8])
    if server.store.is_s3:
        objects = server.stored_keys()
        assert objects  # the run's log, at least
        for key in objects:
            data = server.store.read(server.data_dir, key)
            for secret in (password, *keys):
                assert secret.encode() not in data, (key, secret[:8])
