"""Artifacts on a real server process, on the directory store with SQLite and on S3
(SeaweedFS) with PostgreSQL: committing versions (409 `missing`, idempotency, the same content
giving the same version), aliases, references to versions and their 404s, the entity-scoped
`blobs/missing`, and access as for runs."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.server.pack import PackReader

from .apputil import REPRESENTATIVE, make_run
from .artifact_util import (
    PRESIGN_THRESHOLD,
    ArtifactClient,
    canonical,
    lineage_log,
    manifest_of,
    module_server,
    new_id,
    record_of,
)
from .harness import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=REPRESENTATIVE)
def srv(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    yield from module_server(request, tmp_path_factory, request.param)


@pytest.fixture(scope="module")
def run_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_run(tmp_path_factory.mktemp("client"), "template", "template", steps=3).read_bytes()


@pytest.fixture
def api(srv: ServerProcess) -> Iterator[ArtifactClient]:
    client = ArtifactClient(srv)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def project(api: ArtifactClient, run_log: bytes) -> str:
    """A fresh project with runs `r1`, `r2`."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    api.new_run(run_log, name, "r1")
    api.new_run(run_log, name, "r2")
    return name


def test_commit_answers_the_version(api: ArtifactClient, project: str) -> None:
    files = {"train.csv": b"a,b\n1,2\n", "images/a.png": b"\x89PNG fake", "images/b.png": b"b"}
    r = api.commit(
        project, "r1", "mnist", files, aliases=["best"], metadata={"rows": 2}, description="d"
    )
    assert r.status_code == 200, r.text
    v = r.json()
    _, digest, _ = manifest_of(files)
    assert v["version"] == "v0"
    assert v["index"] == 0
    assert v["digest"] == digest
    assert v["entity"] == "admin"
    assert v["project"] == project
    assert v["name"] == "mnist"
    assert v["type"] == "dataset"
    assert v["aliases"] == ["best", "latest"]
    assert v["size"] == sum(len(b) for b in files.values())
    assert v["files"] == 3
    assert v["metadata"] == {"rows": 2}
    assert v["description"] == "d"
    assert v["created_by"] == "admin"
    assert v["run"] == {"entity": "admin", "project": project, "id": "r1"}
    assert v["created_at"] == 1765000000.0
    # Read back the same, by every kind of reference.
    for ref in ("v0", "latest", "best", digest):
        got = api.version(project, "mnist", ref)
        assert got.status_code == 200, got.text
        assert got.json() == v


def test_commit_with_blobs_missing_records_nothing(api: ArtifactClient, project: str) -> None:
    files = {"a.txt": b"only-a " + uuid.uuid4().bytes, "b.txt": b"only-b " + uuid.uuid4().bytes}
    raw, digest, blobs = manifest_of(files)
    # The manifest itself missing.
    r = api.commit(project, "r1", "ds", files, send=False)
    assert r.status_code == 409, r.text
    assert r.json()["missing"] == [digest]
    # The manifest there, one entry's blob not.
    first = sorted(blobs)[0]
    api.send_blobs(project, "r1", {digest: raw, first: blobs[first]})
    call = new_id()
    r = api.commit(project, "r1", "ds", files, send=False, call_id=call)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["missing"] == [a for a in sorted(blobs) if a != first]
    assert "send them" in body["detail"]
    assert api.get(f"/artifacts/admin/{project}/collections").json() == []
    # Sent: the same call commits.
    api.send_blobs(project, "r1", blobs)
    r = api.commit(project, "r1", "ds", files, send=False, call_id=call)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == "v0"


def test_commit_is_idempotent_and_content_gives_its_version(
    api: ArtifactClient, project: str
) -> None:
    call = new_id()
    one = api.commit(project, "r1", "model", {"w.bin": b"weights-1"}, type="model", call_id=call)
    again = api.commit(project, "r1", "model", {"w.bin": b"weights-1"}, type="model", call_id=call)
    assert one.status_code == again.status_code == 200
    assert again.json() == one.json()
    # The same id for another artifact is a conflict, never a second version.
    r = api.commit(project, "r1", "other", {"w.bin": b"x"}, type="model", call_id=call)
    assert r.status_code == 409
    assert "already" in r.json()["detail"]
    # New content: the next version.
    two = api.commit(project, "r2", "model", {"w.bin": b"weights-2"}, type="model")
    assert two.json()["version"] == "v1"
    assert two.json()["run"]["id"] == "r2"
    # The first content again, from another call with an alias: v0, alias added, no v2.
    same = api.commit(
        project, "r2", "model", {"w.bin": b"weights-1"}, type="model", aliases=["prod"]
    )
    assert same.status_code == 200, same.text
    assert same.json()["version"] == "v0"
    assert same.json()["aliases"] == ["prod"]
    coll = api.get(f"/artifacts/admin/{project}/collections/model").json()
    assert coll["versions"] == 2
    assert coll["latest"] == "v1"
    assert coll["aliases"] == {"prod": "v0"}
    assert [v["version"] for v in coll["versions_list"]] == ["v1", "v0"]
    # Another type under the same name is refused.
    r = api.commit(project, "r1", "model", {"w.bin": b"weights-3"}, type="dataset")
    assert r.status_code == 409
    assert "type 'model'" in r.json()["detail"]


def test_aliases_move_and_are_refused(api: ArtifactClient, project: str) -> None:
    v0 = api.commit(project, "r1", "ds", {"f": b"0"}, aliases=["best", "latest"]).json()
    assert v0["aliases"] == ["best", "latest"]  # 'latest' among the aliases is ignored
    v1 = api.commit(project, "r1", "ds", {"f": b"1"}, aliases=["best"]).json()
    assert v1["aliases"] == ["best", "latest"]
    assert api.version(project, "ds", "v0").json()["aliases"] == []
    base = f"/artifacts/admin/{project}/collections/ds/versions"
    r = api.patch(f"{base}/v0", {"aliases": ["best", "golden"], "description": "first"})
    assert r.status_code == 200, r.text
    assert r.json()["aliases"] == ["best", "golden"]
    assert r.json()["description"] == "first"
    assert api.version(project, "ds", "v1").json()["aliases"] == ["latest"]
    assert api.version(project, "ds", "best").json()["version"] == "v0"
    # The full set: dropping one removes it.
    r = api.patch(f"{base}/best", {"aliases": ["golden"]})
    assert r.json()["aliases"] == ["golden"]
    assert api.version(project, "ds", "best").status_code == 404
    for bad in ("latest", "v3", "no/slash", ""):
        r = api.patch(f"{base}/v0", {"aliases": [bad]})
        assert r.status_code == 400, (bad, r.text)
    r = api.commit(project, "r1", "ds", {"f": b"2"}, aliases=["v9"])
    assert r.status_code == 400
    assert "'v<N>' are given by fwtrack" in r.json()["detail"]


def test_references_and_their_404s(api: ArtifactClient, project: str) -> None:
    api.commit(project, "r1", "ds", {"f": b"0"})
    api.commit(project, "r1", "ds", {"f": b"1"}, aliases=["best"])
    r = api.version(project, "ds", "v7")
    assert r.status_code == 404
    detail = r.json()["detail"]
    assert "'v7'" in detail
    assert "v0..v1" in detail
    assert "best" in detail
    r = api.version(project, "nope", "latest")
    assert r.status_code == 404
    assert "'nope'" in r.json()["detail"]
    assert "ds" in r.json()["detail"]
    r = api.version(project, "ds", "blake3:" + "0" * 64)
    assert r.status_code == 404
    assert api.version("no-such-project", "ds", "v0").status_code == 404
    assert api.version(project, "bad name", "v0").status_code == 400


def test_bad_manifests_are_refused(api: ArtifactClient, project: str) -> None:
    def commit_raw(raw: bytes) -> tuple[int, str]:
        digest = _core.hash_bytes(raw)
        api.send_blobs(project, "r1", {digest: raw})
        r = api.post(
            f"/runs/admin/{project}/r1/artifacts",
            {"id": new_id(), "name": "bad", "type": "dataset", "digest": digest},
        )
        return r.status_code, r.json()["detail"]

    data = b"x"
    addr = _core.hash_bytes(data)
    api.send_blobs(project, "r1", {addr: data})
    entry = {"address": addr, "size": 1}
    for raw, words in [
        (b"not json", "not JSON"),
        (b'{"version": 2, "entries": {}}', "version 2"),
        (b'{"version": 1}', "entries"),
        (b'{"version": 1, "entries": {"../x": ' + _json(entry) + b"}}", "'..'"),
        (b'{"version": 1, "entries": {"/abs": ' + _json(entry) + b"}}", "relative"),
        (b'{"version": 1, "entries": {"a\\u0000b": ' + _json(entry) + b"}}", "NUL"),
        (
            b'{"version": 1, "entries": {"a": '
            + _json(entry)
            + b', "a/b": '
            + _json(entry)
            + b"}}",
            "is a file and also the directory of",
        ),
        (b'{"version": 1, "entries": {"a": {"size": 1}}}', "neither"),
        (b'{"version": 1, "entries": {"a": {"address": "' + addr.encode() + b'", "size": 2}}}',
         "holds 1"),
    ]:  # fmt: skip
        status, detail = commit_raw(raw)
        assert status == 400, (raw, detail)
        assert words in detail, (raw, detail)
    r = api.post(
        f"/runs/admin/{project}/r1/artifacts",
        {"id": "xyz", "name": "bad", "type": "dataset", "digest": addr},
    )
    assert r.status_code == 400
    assert api.get(f"/artifacts/admin/{project}/collections").json() == []


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_entry_paths_follow_one_rule_in_client_and_server(
    api: ArtifactClient, project: str, tmp_path: Path
) -> None:
    """A path with a backslash or a control character: `Artifact.add_file(name=...)` refuses
    it, and the server refuses a manifest naming it at commit, with the same message (a
    manifest the client builds is never refused at commit for its paths)."""
    src = tmp_path / "f.txt"
    src.write_bytes(b"x")
    addr = _core.hash_bytes(b"x")
    api.send_blobs(project, "r1", {addr: b"x"})
    for bad in ("dir\\f.txt", "dir/f\x01.txt", "f\x7f.txt"):
        with pytest.raises(ValueError, match="invalid artifact entry path") as refused:
            fwtrack.Artifact("paths", "dataset").add_file(src, name=bad)
        raw = _json({"version": 1, "entries": {bad: {"address": addr, "size": 1}}})
        digest = _core.hash_bytes(raw)
        api.send_blobs(project, "r1", {digest: raw})
        r = api.post(
            f"/runs/admin/{project}/r1/artifacts",
            {"id": new_id(), "name": "paths", "type": "dataset", "digest": digest},
        )
        assert r.status_code == 400, (bad, r.text)
        assert str(refused.value) in r.json()["detail"], bad
    assert api.get(f"/artifacts/admin/{project}/collections").json() == []


def test_references_in_a_manifest(api: ArtifactClient, project: str) -> None:
    refs: dict[str, dict[str, Any]] = {
        "raw/x.csv": {"ref": "s3://bucket/prefix/x.csv", "size": 10, "etag": '"abc"'},
        "raw2": {"ref": "s3://bucket/other/"},
    }
    r = api.commit(project, "r1", "refs", {"local.txt": b"hello"}, refs=refs)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == 15
    assert r.json()["files"] == 3
    base = f"/artifacts/admin/{project}/collections/refs/versions/v0"
    r = api.get(f"{base}/files/raw/x.csv")
    assert r.status_code == 409
    assert "s3://bucket/prefix/x.csv" in r.json()["detail"]
    listing = api.get(f"{base}/files", params={"prefix": "raw"}).json()
    assert listing["files"] == [
        {"path": "raw/x.csv", "size": 10, "ref": "s3://bucket/prefix/x.csv", "etag": '"abc"'}
    ]


def test_entity_blobs_missing(api: ArtifactClient, project: str) -> None:
    have = b"stored " + uuid.uuid4().bytes
    lack = b"not stored " + uuid.uuid4().bytes
    api.send_blobs(project, "r1", {_core.hash_bytes(have): have})
    # A project that does not exist yet: blobs are the entity's.
    r = api.post(
        "/artifacts/admin/new-project/blobs/missing",
        {"addresses": [_core.hash_bytes(have), _core.hash_bytes(lack)]},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"missing": [_core.hash_bytes(lack)]}
    r = api.post("/artifacts/admin/p/blobs/missing", {"addresses": ["md5:abc"]})
    assert r.status_code == 400


def _unpack(body: bytes) -> list[tuple[str, bytes]]:
    reader = PackReader()
    entries = reader.feed(body)
    reader.finish()
    return entries


def test_blobs_fetch_answers_a_pack_of_committed_blobs(
    api: ArtifactClient, project: str, run_log: bytes
) -> None:
    big = os.urandom(PRESIGN_THRESHOLD + 1000)  # on S3: a blob that would be presigned
    files = {
        "a.txt": b"alpha " + uuid.uuid4().bytes,
        "dir/b.bin": os.urandom(3000),
        "empty.txt": b"",
        "copy.txt": b"",
        "big.bin": big,
    }
    assert api.commit(project, "r1", "ds", files).status_code == 200
    raw, digest, blobs = manifest_of(files)
    url = f"/artifacts/admin/{project}/blobs/fetch"
    ask = [*sorted(blobs), digest, sorted(blobs)[0].upper().replace("BLAKE3", "blake3")]
    r = api.post(url, {"addresses": ask})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-fwtrack-blobs"
    assert int(r.headers["content-length"]) == len(r.content)
    entries = _unpack(r.content)
    # In the order asked, each once (the address normalised), the manifest blob too.
    assert [a for a, _ in entries] == [*sorted(blobs), digest]
    assert dict(entries) == {**blobs, digest: raw}
    for address, data in entries:
        assert _core.hash_bytes(data) == address
    # Nothing asked: an empty pack.
    r = api.post(url, {"addresses": []})
    assert r.status_code == 200
    assert r.content == b""
    # Stored for the entity but named by no committed version, or not stored at all: 404
    # naming them, nothing sent.
    loose = b"loose " + uuid.uuid4().bytes
    api.send_blobs(project, "r1", {_core.hash_bytes(loose): loose})
    never = _core.hash_bytes(b"never stored " + uuid.uuid4().bytes)
    r = api.post(url, {"addresses": [sorted(blobs)[0], _core.hash_bytes(loose), never]})
    assert r.status_code == 404, r.text
    assert r.json()["missing"] == [_core.hash_bytes(loose), never]
    assert never in r.json()["detail"]
    # Another project of the same entity does not reach this project's blobs.
    other = f"p-{uuid.uuid4().hex[:8]}"
    api.new_run(run_log, other, "r1")
    r = api.post(f"/artifacts/admin/{other}/blobs/fetch", {"addresses": [sorted(blobs)[0]]})
    assert r.status_code == 404, r.text
    assert r.json()["missing"] == [sorted(blobs)[0]]
    # Unknown project: 404; a malformed address: 400; too many: 400 (not 422).
    r = api.post("/artifacts/admin/no-such-project/blobs/fetch", {"addresses": [digest]})
    assert r.status_code == 404
    assert api.post(url, {"addresses": ["md5:abc"]}).status_code == 400
    too_many = {"addresses": [digest] * 10_001}
    assert api.post(url, too_many).status_code == 400


def test_commit_into_another_project_and_lists(api: ArtifactClient, project: str) -> None:
    other = f"{project}-models"
    r = api.commit(project, "r1", "net", {"w": b"w"}, type="model", artifact_project=other)
    assert r.status_code == 200, r.text
    assert r.json()["project"] == other
    assert r.json()["run"]["project"] == project
    api.commit(project, "r1", "ds", {"f": b"0"})
    api.commit(project, "r1", "ds", {"f": b"1"})
    api.commit(project, "r1", "ev", {"f": b"e"}, type="eval")
    types = api.get(f"/artifacts/admin/{project}/types").json()
    assert types == [
        {"type": "dataset", "collections": 1, "versions": 2},
        {"type": "eval", "collections": 1, "versions": 1},
    ]
    colls = api.get(f"/artifacts/admin/{project}/collections", params={"type": "dataset"}).json()
    assert [c["name"] for c in colls] == ["ds"]
    assert colls[0]["latest"] == "v1"
    assert colls[0]["versions"] == 2
    assert colls[0]["size"] == 1
    versions = api.get(f"/artifacts/admin/{project}/versions").json()
    assert [(v["name"], v["version"]) for v in versions] == [
        ("ev", "v0"),
        ("ds", "v1"),
        ("ds", "v0"),
    ]
    only = api.get(f"/artifacts/admin/{project}/versions", params={"name": "ds"}).json()
    assert [v["version"] for v in only] == ["v1", "v0"]
    assert api.get(f"/artifacts/admin/{other}/collections").json()[0]["name"] == "net"


# -- files, diffs --------------------------------------------------------------------------


def test_file_listing_and_bytes(api: ArtifactClient, project: str, srv: ServerProcess) -> None:
    big = os.urandom(PRESIGN_THRESHOLD + 1000)
    files = {
        "train.csv": b"a,b\n1,2\n",
        "images/cats/1.png": b"\x89PNG cat",
        "images/cats/2.png": b"\x89PNG cat two",
        "images/dog.png": b"\x89PNG dog",
        "weights.bin": big,
    }
    for i in range(5):
        files[f"many/f{i}.txt"] = f"file {i}".encode()
    assert api.commit(project, "r1", "ds", files).status_code == 200
    base = f"/artifacts/admin/{project}/collections/ds/versions/latest"
    top = api.get(f"{base}/files").json()
    assert top["prefix"] == ""
    assert top["dirs"] == [
        {"name": "images", "files": 3, "size": 8 + 12 + 8},
        {"name": "many", "files": 5, "size": 30},
    ]
    assert [f["path"] for f in top["files"]] == ["train.csv", "weights.bin"]
    assert top["files"][0] == {
        "path": "train.csv",
        "size": 8,
        "address": _core.hash_bytes(files["train.csv"]),
    }
    assert top["next_cursor"] is None
    images = api.get(f"{base}/files", params={"prefix": "images/"}).json()
    assert images["dirs"] == [{"name": "cats", "files": 2, "size": 20}]
    assert [f["path"] for f in images["files"]] == ["images/dog.png"]
    # Pages through one level with the cursor.
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"prefix": "many", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get(f"{base}/files", params=params).json()
        seen += [f["path"] for f in page["files"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"many/f{i}.txt" for i in range(5)]
    assert api.get(f"{base}/files", params={"prefix": "nope"}).status_code == 404
    assert api.get(f"{base}/files", params={"prefix": "../x"}).status_code == 400
    # Bytes, as run files: content type, ETag, Range.
    r = api.get(f"{base}/files/train.csv")
    assert r.status_code == 200
    assert r.content == files["train.csv"]
    assert r.headers["content-type"].startswith("text/csv")
    assert r.headers["etag"] == f'"{_core.hash_bytes(files["train.csv"])}"'
    assert "immutable" in r.headers["cache-control"]
    r = api.get(f"{base}/files/images/cats/2.png", headers={"Range": "bytes=5-7"})
    assert r.status_code == 206
    assert r.content == files["images/cats/2.png"][5:8]
    assert r.headers["content-type"] == "image/png"
    r = api.get(
        f"{base}/files/train.csv",
        headers={"If-None-Match": f'"{_core.hash_bytes(files["train.csv"])}"'},
    )
    assert r.status_code == 304
    r = api.get(f"{base}/files/images/nope.png")
    assert r.status_code == 404
    assert "images/nope.png" in r.json()["detail"]
    # A large blob: 307 to the bucket on S3 (followed without the key), bytes on a directory.
    r = api.get(f"{base}/files/weights.bin")
    if srv.store.is_s3:
        assert r.status_code == 307
        assert httpx.get(r.headers["location"], timeout=60).content == big
    else:
        assert r.status_code == 200
        assert r.content == big
    manifest = api.get(f"{base}/manifest").json()
    raw, digest, _ = manifest_of(files)
    assert manifest == json.loads(raw)
    assert _core.hash_bytes(canonical(manifest)) == digest


def test_diff_of_two_versions(api: ArtifactClient, project: str) -> None:
    a = {"same.txt": b"s", "gone.txt": b"g", "changed.txt": b"one"}
    b = {"same.txt": b"s", "new.txt": b"nn", "changed.txt": b"three"}
    refs_a = {"raw": {"ref": "s3://b/raw", "etag": '"1"', "size": 3}}
    refs_b = {"raw": {"ref": "s3://b/raw", "etag": '"2"', "size": 3}}
    api.commit(project, "r1", "ds", a, refs=refs_a, metadata={"rows": 1, "old": True, "k": [1]})
    api.commit(project, "r1", "ds", b, refs=refs_b, metadata={"rows": 2, "new": "x", "k": [1]})
    r = api.get(
        f"/artifacts/admin/{project}/collections/ds/diff", params={"a": "v0", "b": "latest"}
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["a"]["version"] == "v0"
    assert d["b"]["version"] == "v1"
    assert d["added"] == [{"path": "new.txt", "size": 2}]
    assert d["removed"] == [{"path": "gone.txt", "size": 1}]
    assert d["changed"] == [
        {
            "path": "changed.txt",
            "a": {"size": 3, "address": _core.hash_bytes(b"one")},
            "b": {"size": 5, "address": _core.hash_bytes(b"three")},
        },
        {
            "path": "raw",
            "a": {"size": 3, "ref": "s3://b/raw", "etag": '"1"'},
            "b": {"size": 3, "ref": "s3://b/raw", "etag": '"2"'},
        },
    ]
    assert d["unchanged"] == 1
    assert d["metadata"] == {
        "added": {"new": "x"},
        "removed": {"old": True},
        "changed": {"rows": [1, 2]},
    }
    r = api.get(f"/artifacts/admin/{project}/collections/ds/diff", params={"a": "v0", "b": "v5"})
    assert r.status_code == 404
    assert "'v5'" in r.json()["detail"]


# -- lineage ---------------------------------------------------------------------------------


def test_lineage_over_three_runs(api: ArtifactClient, tmp_path: Path, srv: ServerProcess) -> None:
    """dataset → training → evaluation, the records in the runs' logs, the versions committed
    by their runs; then the producer of the dataset deleted: its version stays."""
    project = f"lin-{uuid.uuid4().hex[:8]}"
    log = lineage_log(tmp_path, project, "bootstrap")
    api.new_run(log, project, "prep")
    ds = api.commit(project, "prep", "mnist", {"train.csv": b"1,2"}).json()
    api.new_run(log, project, "train")
    model = api.commit(project, "train", "net", {"w.bin": b"w"}, type="model").json()
    api.new_run(log, project, "eval")
    report = api.commit(project, "eval", "report", {"r.json": b"{}"}, type="eval").json()
    # The runs' logs (uploaded again under their own ids with the records): the edges.
    for run_id, used, logged in [
        ("prep2", [], [record_of(ds)]),
        ("train2", [record_of(ds, "mnist:latest")], [record_of(model)]),
        ("eval2", [record_of(model, "net:v0")], [record_of(report)]),
    ]:
        api.new_run(
            lineage_log(tmp_path, project, run_id, used=used, logged=logged), project, run_id
        )
    runs = api.get(f"/runs/admin/{project}/train2/artifacts").json()
    assert [v["name"] for v in runs["logged"]] == ["net"]
    assert runs["logged"][0]["version"] == "v0"
    assert [(v["name"], v["version"], v["ref"]) for v in runs["used"]] == [
        ("mnist", "v0", "mnist:latest")
    ]
    base = f"/artifacts/admin/{project}/collections"
    used_by = api.get(f"{base}/mnist/versions/v0/used_by").json()
    assert [(u["run_id"], u["project"], u["entity"], u["state"]) for u in used_by] == [
        ("train2", project, "admin", "finished")
    ]
    assert used_by[0]["name"] == "name-train2"
    graph = api.get(f"{base}/mnist/versions/v0/lineage", params={"depth": 4}).json()
    ids = {n["id"] for n in graph["nodes"]}
    a = f"artifact:{project}"
    r = f"run:admin/{project}"
    assert ids == {
        f"{a}/mnist:v0",
        f"{r}/prep",
        f"{r}/prep2",
        f"{r}/train2",
        f"{a}/net:v0",
        f"{r}/train",
        f"{r}/eval2",
        f"{a}/report:v0",
    }  # `eval`, the commit's run of report:v0, is a fifth hop
    edges = {(e["from"], e["to"]) for e in graph["edges"]}
    assert (f"{r}/prep", f"{a}/mnist:v0") in edges
    assert (f"{a}/mnist:v0", f"{r}/train2") in edges
    assert (f"{r}/train2", f"{a}/net:v0") in edges
    assert (f"{a}/net:v0", f"{r}/eval2") in edges
    assert (f"{r}/eval2", f"{a}/report:v0") in edges
    node = next(n for n in graph["nodes"] if n["id"] == f"{a}/net:v0")
    assert node["kind"] == "artifact"
    assert node["type"] == "model"
    assert node["digest"] == model["digest"]
    far = api.get(f"{base}/mnist/versions/v0/lineage", params={"depth": 5}).json()
    assert {n["id"] for n in far["nodes"]} == ids | {f"{r}/eval"}
    near = api.get(f"{base}/mnist/versions/v0/lineage", params={"depth": 1}).json()
    assert {n["id"] for n in near["nodes"]} == {
        f"{a}/mnist:v0",
        f"{r}/prep",
        f"{r}/prep2",
        f"{r}/train2",
    }
    for bad in (0, 6):
        assert (
            api.get(f"{base}/mnist/versions/v0/lineage", params={"depth": bad}).status_code == 400
        )
    # A record of a version the server does not have: listed, unresolved.
    ghost = dict(record_of(ds, "ghost:v0"), name="ghost", digest="blake3:" + "1" * 64)
    api.new_run(lineage_log(tmp_path, project, "lonely", used=[ghost]), project, "lonely")
    lonely = api.get(f"/runs/admin/{project}/lonely/artifacts").json()
    assert lonely["logged"] == []
    assert lonely["used"][0]["name"] == "ghost"
    assert lonely["used"][0]["version"] is None
    # Deleting the producer keeps its version, without a run.
    assert api.http.delete(f"/runs/admin/{project}/prep").status_code == 200
    kept = api.version(project, "mnist", "v0").json()
    assert kept["run"] is None
    assert kept["digest"] == ds["digest"]
    assert api.get(f"{base}/mnist/versions/v0/files/train.csv").content == b"1,2"


# -- access, the API document --------------------------------------------------------------


def test_access_as_for_runs(api: ArtifactClient, project: str) -> None:
    api.commit(project, "r1", "ds", {"f": b"secret"})
    key = api.post("/users", {"name": f"u{uuid.uuid4().hex[:8]}"}).json()["api_key"]
    other = api.as_(key)
    try:
        reads = [
            f"/artifacts/admin/{project}/types",
            f"/artifacts/admin/{project}/collections",
            f"/artifacts/admin/{project}/collections/ds",
            f"/artifacts/admin/{project}/versions",
            f"/artifacts/admin/{project}/collections/ds/versions/v0",
            f"/artifacts/admin/{project}/collections/ds/versions/v0/manifest",
            f"/artifacts/admin/{project}/collections/ds/versions/v0/files",
            f"/artifacts/admin/{project}/collections/ds/versions/v0/files/f",
            f"/artifacts/admin/{project}/collections/ds/versions/v0/used_by",
            f"/artifacts/admin/{project}/collections/ds/versions/v0/lineage",
            f"/artifacts/admin/{project}/collections/ds/diff?a=v0&b=v0",
            f"/runs/admin/{project}/r1/artifacts",
        ]
        for path in reads:
            r = other.get(path)
            assert r.status_code == 403, (path, r.text)
            assert api.get(path).status_code == 200, path
            r = httpx.get(f"{api.server.url}/api/v1{path}", timeout=30)
            assert r.status_code == 401, path
        r = other.commit(project, "r1", "ds", {"f": b"x"}, send=False)
        assert r.status_code == 403
        r = other.post(f"/artifacts/admin/{project}/blobs/missing", {"addresses": []})
        assert r.status_code == 403
        fetch = f"/artifacts/admin/{project}/blobs/fetch"
        f_address = _core.hash_bytes(b"secret")
        r = other.post(fetch, {"addresses": [f_address]})
        assert r.status_code == 403, r.text
        r = httpx.post(f"{api.server.url}/api/v1{fetch}", json={"addresses": [f_address]})
        assert r.status_code == 401
        assert _unpack(api.post(fetch, {"addresses": [f_address]}).content) == [
            (f_address, b"secret")
        ]
        r = other.patch(f"/artifacts/admin/{project}/collections/ds/versions/v0", {"aliases": []})
        assert r.status_code == 403
        # Unknown project and run in a reachable entity: 404.
        assert api.get("/artifacts/admin/no-such-project/collections").status_code == 404
        assert api.commit(project, "no-run", "ds", {"f": b"x"}, send=False).status_code == 404
    finally:
        other.close()


def test_openapi_lists_the_routes(api: ArtifactClient) -> None:
    doc = api.get("/openapi.json").json()
    paths = doc["paths"]
    art = "/api/v1/artifacts/{entity}/{project}"
    version = art + "/collections/{name}/versions/{ref}"
    expected = {
        ("post", "/api/v1/runs/{entity}/{project}/{run_id}/artifacts"),
        ("get", "/api/v1/runs/{entity}/{project}/{run_id}/artifacts"),
        ("post", art + "/blobs/missing"),
        ("post", art + "/blobs/fetch"),
        ("get", art + "/types"),
        ("get", art + "/collections"),
        ("get", art + "/collections/{name}"),
        ("get", art + "/versions"),
        ("get", version),
        ("patch", version),
        ("get", version + "/manifest"),
        ("get", version + "/files"),
        ("get", version + "/files/{path}"),
        ("get", version + "/used_by"),
        ("get", version + "/lineage"),
        ("get", art + "/collections/{name}/diff"),
    }
    for method, path in expected:
        operation = paths[path][method]
        assert operation["tags"] == ["artifacts"], path
        assert "200" in operation["responses"], path
        assert "422" not in operation["responses"], path
    schemas = doc["components"]["schemas"]
    assert {"VersionOut", "CollectionOut", "LineageOut", "DiffOut", "FilesOut"} <= set(schemas)
    commit = paths["/api/v1/runs/{entity}/{project}/{run_id}/artifacts"]["post"]
    assert "missing" in json.dumps(commit["responses"]["409"])
    fetch = paths[art + "/blobs/fetch"]["post"]
    assert "application/x-fwtrack-blobs" in fetch["responses"]["200"]["content"]
    assert "missing" in json.dumps(fetch["responses"]["404"])
