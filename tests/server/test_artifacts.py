"""Artifacts on a real server process, on the directory store with SQLite and on S3
(SeaweedFS) with PostgreSQL: committing versions (409 `missing`, idempotency, the same content
giving the same version), aliases, references to versions and their 404s, the entity-scoped
`blobs/missing`, and access as for runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fwtrack import _core

from .apputil import REPRESENTATIVE, make_run
from .artifact_util import ArtifactClient, manifest_of, module_server, new_id
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
    assert "v<number>" in r.json()["detail"]


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
            "a file and a folder",
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
    import json

    return json.dumps(obj).encode()


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
