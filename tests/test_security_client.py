"""`fwtrack.Api(base_url=...)` against a hostile server: a real HTTP server in a thread that
answers the API with names meant to escape the local cache (`..`, `../../..`, absolute paths,
names with `/`, NUL, overly long) as entity, project, run id, file path and media path, and
serves a real run log. The client must refuse each with `UnsafePathError` naming the value,
and nothing may be written outside the cache (a sentinel directory next to it stays empty)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fwtrack
from fwtrack.errors import FwTrackError, UnsafePathError
from fwtrack.run_files import RunFile

ENTITY, PROJECT, RUN_ID = "alice", "proj", "r1"
FORGED_KEYS = ("forged0", "forged1", "forged2", "forged3", "forged4")


# -- a real run log with media paths a hostile writer chose ---------------------------------


class Forged:
    """A media value whose stored descriptor names `path`: how a forged log looks."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _store(self, files_dir: str) -> dict[str, Any]:
        del files_dir
        return {"_type": "image", "path": self.path, "sha256": "0" * 64, "size": 7}


def forged_media_paths(sentinel: Path) -> list[str]:
    """Media paths that lead out of `<cache>/<host>/<entity>/<project>/<run>/files/`."""
    up = "../" * 6  # files, run, project, entity, host, cache
    return [
        f"{up}{sentinel.name}/media.png",
        str(sentinel / "media.png"),
        "media/../../../../../../sentinel/x.png",
        "media/x\x00.png",
        "media/" + "x" * 600 + ".png",
    ]


@dataclass
class RealRun:
    log: bytes
    image: bytes  # the payload of the genuine image, served under its own path
    image_path: str
    forged: list[str]  # the media paths of FORGED_KEYS, in order


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> RealRun:
    """A run written with the real `fwtrack.init/log/finish` (offline): a metric, a genuine
    image, and media values whose paths try to escape."""
    root = tmp_path_factory.mktemp("real-run")
    sentinel = root.parent / "sentinel"
    run = fwtrack.init(project=PROJECT, id=RUN_ID, dir=str(root / "fwtrack"), mode="offline")
    image = fwtrack.Image(np.zeros((4, 4, 3), dtype=np.uint8))
    paths = forged_media_paths(sentinel)
    forged = dict(zip(FORGED_KEYS, map(Forged, paths), strict=True))
    fwtrack.log({"loss": 0.5, "img": image, **forged})
    fwtrack.log({"loss": 0.25})
    fwtrack.finish()
    run_dir = Path(run.dir)
    return RealRun(
        (run_dir / "run.fwlog").read_bytes(),
        (run_dir / "files" / image.path).read_bytes(),
        image.path,
        paths,
    )


# -- the hostile server -----------------------------------------------------------------------


@dataclass
class Answers:
    """What the hostile server answers: the names in its JSON, and the bytes it serves."""

    log: bytes
    image: bytes
    image_path: str
    forged: list[str]
    viewer: object = ENTITY
    entity: object = ENTITY
    project: object = PROJECT
    run_id: object = RUN_ID
    file_path: object = "notes.txt"
    requests: list[str] = field(default_factory=list)

    def row(self) -> dict[str, object]:
        return {
            "entity": self.entity,
            "project": self.project,
            "id": self.run_id,
            "name": "hostile",
            "state": "finished",
            "created_at": 1.0,
            "updated_at": 1.0,
            "config": {},
            "summary": {},
            "metadata": {},
            "tags": [],
        }

    def answer(self, path: str) -> tuple[int, bytes, str]:
        self.requests.append(path)
        parts = [urllib.parse.unquote(p) for p in path.split("?")[0].split("/") if p]
        if parts[:2] != ["api", "v1"]:
            return 404, b'{"detail": "not found"}', "application/json"
        parts = parts[2:]
        doc: object
        if parts == ["viewer"]:
            doc = {"name": self.viewer, "is_admin": False, "teams": []}
        elif parts == ["projects"]:
            doc = {"projects": [{"entity": self.entity, "name": self.project, "run_count": 1}]}
        elif parts[0] == "runs" and len(parts) == 3:
            doc = {"runs": [self.row()], "total": 1}
        elif parts[0] == "runs" and len(parts) == 4:
            doc = self.row()
        elif parts[0] == "runs" and parts[4:] == ["log"]:
            return 200, self.log, "application/octet-stream"
        elif parts[0] == "runs" and parts[4:] == ["files"]:
            doc = {"files": [{"path": self.file_path, "size": 7}]}
        elif parts[0] == "runs" and parts[4:5] == ["files"]:
            wanted = "/".join(parts[5:])
            body = self.image if wanted == self.image_path else b"PWNED!\n"
            return 200, body, "application/octet-stream"
        else:
            return 404, b'{"detail": "not found"}', "application/json"
        return 200, json.dumps(doc).encode(), "application/json"


class _Handler(BaseHTTPRequestHandler):
    server: _HostileServer

    def do_GET(self) -> None:
        status, body, content_type = self.server.answers.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


class _HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answers: Answers) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answers = answers


@dataclass
class Hostile:
    answers: Answers
    url: str
    cache: Path
    sentinel: Path
    outside: Path  # the directory holding the cache and the sentinel

    def api(self) -> Any:
        return fwtrack.Api(base_url=self.url, api_key="fwk_" + "k" * 40)

    def files_outside_cache(self) -> list[Path]:
        return sorted(
            p for p in self.outside.rglob("*") if self.cache not in (p, *p.parents) and p.is_file()
        )

    def files_in_cache(self) -> list[Path]:
        return sorted(p for p in self.cache.rglob("*") if p.is_file())

    def assert_nothing_escaped(self) -> None:
        """The sentinel is empty and no file was written outside the cache."""
        assert list(self.sentinel.iterdir()) == []
        assert self.files_outside_cache() == []


@pytest.fixture
def hostile(
    real_run: RealRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hostile]:
    """A hostile server answering genuine names (tests change `answers`), with the cache
    at `<tmp_path>/cache` and an empty sentinel directory beside it."""
    outside = tmp_path / "home"
    cache, sentinel = outside / "cache", outside / "sentinel"
    sentinel.mkdir(parents=True)
    answers = Answers(real_run.log, real_run.image, real_run.image_path, real_run.forged)
    server = _HostileServer(answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("FWTRACK_CACHE_DIR", str(cache))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield Hostile(answers, url, cache, sentinel, outside)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def escaping_names(depth: int, sentinel: Path) -> list[str]:
    """Names that lead out of the cache from a path part `depth` levels below it."""
    return [
        "..",
        ".",
        "",
        "../" * depth + f"{sentinel.name}/pwn",
        str(sentinel / "pwn"),
        "a/b",
        "x\x00y",
        "x" * 300,
    ]


NAMES = range(8)  # indexes into escaping_names()
DEPTH = {"entity": 2, "project": 3, "run_id": 4}  # below <cache>/<host>/


def assert_refused(hostile: Hostile, bad: str, read: Callable[[], object]) -> None:
    """`read()` raises UnsafePathError naming `bad`, and nothing was written anywhere."""
    with pytest.raises(UnsafePathError) as exc:
        read()
    assert isinstance(exc.value, FwTrackError)
    assert repr(bad[:80]) in str(exc.value), str(exc.value)
    assert "hint:" in str(exc.value)
    hostile.assert_nothing_escaped()
    assert hostile.files_in_cache() == []


# -- the genuine answers work (the hostile server is a working server) -----------------------


def test_genuine_answers_are_read_and_cached_inside_the_cache(hostile: Hostile) -> None:
    run = hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}")
    history = run.history()
    assert history["loss"].tolist() == [0.5, 0.25]
    assert history["img"][0].bytes() == hostile.answers.image
    assert [f.name for f in run.files()] == ["notes.txt"]
    written = hostile.files_in_cache()
    assert any(p.name == "run.fwlog" for p in written)
    assert all(hostile.cache.resolve() in p.resolve().parents for p in written)
    hostile.assert_nothing_escaped()


# -- names in JSON answers --------------------------------------------------------------------


# Where a name comes from: the answer each of these reads.
READS: dict[str, Callable[[Any], object]] = {
    "run listing": lambda api: api.runs(f"{ENTITY}/{PROJECT}"),
    "run detail": lambda api: api.run(f"{ENTITY}/{PROJECT}/{RUN_ID}").history(),
    "project listing": lambda api: api.runs(),  # lists no run ids
}


@pytest.mark.parametrize("index", NAMES)
@pytest.mark.parametrize(
    ("read", "field_name"),
    [
        (read, field_name)
        for read in READS
        for field_name in ("entity", "project", "run_id")
        if (read, field_name) != ("project listing", "run_id")
    ],
)
def test_an_answer_with_an_escaping_name_is_refused(
    hostile: Hostile, read: str, field_name: str, index: int
) -> None:
    bad = escaping_names(DEPTH[field_name], hostile.sentinel)[index]
    setattr(hostile.answers, field_name, bad)
    assert_refused(hostile, bad, lambda: READS[read](hostile.api()))


@pytest.mark.parametrize("index", NAMES)
def test_an_escaping_viewer_name_is_refused(hostile: Hostile, index: int) -> None:
    bad = escaping_names(DEPTH["entity"], hostile.sentinel)[index]
    hostile.answers.viewer = bad
    assert_refused(hostile, bad, lambda: hostile.api().run(f"{PROJECT}/{RUN_ID}").history())


def test_a_name_that_is_not_a_string_is_refused(hostile: Hostile) -> None:
    hostile.answers.run_id = ["..", ".."]
    with pytest.raises(UnsafePathError, match=r"\['\.\.', '\.\.'\]"):
        hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}")
    assert hostile.files_in_cache() == []


# -- file listings, downloads and media paths ------------------------------------------------


ESCAPING_FILE_PATHS = [
    "../../../../../../sentinel/pwn",
    "/etc/passwd",
    "a//b",
    "a\\..\\..\\b",
    "notes\x00.txt",
    "x" * 600,
    "media/../../../../../../sentinel/pwn",
]


@pytest.mark.parametrize("bad", ESCAPING_FILE_PATHS)
def test_a_file_listing_with_an_escaping_path_is_refused(hostile: Hostile, bad: str) -> None:
    hostile.answers.file_path = bad
    run = hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}")
    assert_refused(hostile, bad, run.files)


@pytest.mark.parametrize("key", FORGED_KEYS)
def test_a_media_path_from_the_run_log_that_escapes_is_refused(hostile: Hostile, key: str) -> None:
    run = hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}")
    media = run.history()[key][0]
    bad = hostile.answers.forged[FORGED_KEYS.index(key)]
    with pytest.raises(UnsafePathError) as exc:
        media.bytes()
    assert repr(bad[:80]) in str(exc.value)
    assert not Path(bad).is_absolute() or not Path(bad).exists()
    hostile.assert_nothing_escaped()
    # Only the mirrored log was written, and the forged path never reached the server.
    assert [p.name for p in hostile.files_in_cache()] == [".sync.lock", "run.fwlog"]
    assert not [r for r in hostile.answers.requests if "/files/" in r]


def test_a_cache_path_through_a_link_out_of_the_cache_is_refused(hostile: Hostile) -> None:
    host_dir = hostile.api().dir
    host_dir.mkdir(parents=True)
    (host_dir / ENTITY).symlink_to(hostile.sentinel, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="leads outside"):
        hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}").history()
    assert list(hostile.sentinel.iterdir()) == []


@pytest.mark.parametrize(
    "bad", ["../sentinel/pwn", "/abs/pwn", "a/../../sentinel/pwn", "", "a//b", "x\x00y"]
)
def test_download_of_an_escaping_file_name_writes_nothing(tmp_path: Path, bad: str) -> None:
    root, sentinel = tmp_path / "downloads", tmp_path / "sentinel"
    sentinel.mkdir()
    with pytest.raises(UnsafePathError) as exc:
        RunFile(bad, 7, lambda: b"PWNED!\n").download(root)
    assert repr(bad[:80]) in str(exc.value)
    assert list(sentinel.iterdir()) == []
    assert not root.exists() or not any(root.rglob("*"))


def test_download_through_a_link_out_of_the_folder_writes_nothing(hostile: Hostile) -> None:
    hostile.answers.file_path = "out/pwn"
    root = hostile.outside / "downloads"
    root.mkdir()
    (root / "out").symlink_to(hostile.sentinel, target_is_directory=True)
    (listed,) = hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}").files()
    with pytest.raises(UnsafePathError, match="leads outside"):
        listed.download(root)
    assert list(hostile.sentinel.iterdir()) == []
    hostile.answers.file_path = "sub/notes.txt"
    (listed,) = hostile.api().run(f"{ENTITY}/{PROJECT}/{RUN_ID}").files()
    assert listed.download(root) == root / "sub" / "notes.txt"
    assert (root / "sub" / "notes.txt").read_bytes() == b"PWNED!\n"
