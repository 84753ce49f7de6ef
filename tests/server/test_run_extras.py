"""System samples, console lines, media, tables and the environment snapshot over the API,
against real server processes with runs logged online by the real SDK (and read in place by
`fwtrack ui` while one is still being written); answers are compared with the local reader.
The server runs on the directory store with SQLite and on S3 (a real SeaweedFS) with
PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import fwtrack
from fwtrack import _core

from .apputil import REPRESENTATIVE, database, split, store_choice
from .harness import ServerProcess, Ui, child_env

PROJECT = "extras"
RUN_ID = "env1"
BASE = f"/api/v1/runs/admin/{PROJECT}/{RUN_ID}"
DEADLINE = 120.0
TABLE_ROWS = 100_000

TRAIN = textwrap.dedent(
    """
    import sys, time
    import fwtrack
    run = fwtrack.init(project=sys.argv[1], id=sys.argv[2], config={"lr": 0.1})
    import numpy as np
    for i in range(30):
        print(f"step {i} Loss={1 / (i + 1):.3f}", flush=True)
        if i % 3 == 0:
            print(f"WARNING slow batch {i}", file=sys.stderr, flush=True)
        row = {"loss": 1 / (i + 1)}
        if i % 10 == 0:
            pixels = np.full((6, 8, 3), i * 8, dtype=np.uint8)
            row["samples"] = fwtrack.Image(pixels, caption=f"step {i}")
            row["grid"] = [fwtrack.Image(pixels[:, :, 0]), fwtrack.Image(255 - pixels)]
            row["preds"] = fwtrack.Table(columns=["x", "label"], data=[[i, "cat"], [None, "Dog"]])
            row["page"] = fwtrack.Html(f"<p>step {i}</p>")
            wave = np.sin(np.arange(800) / 8 + i).astype(np.float32) / 2
            row["sound"] = fwtrack.Audio(wave, sample_rate=8000)
        fwtrack.log(row)
        time.sleep(0.1)
    fwtrack.finish()
    """
)


def run_script(script: str, tmp: Path, *args: str, **env: str) -> None:
    path = tmp / "train.py"
    path.write_text(script)
    proc = subprocess.run(
        [sys.executable, str(path), *args],
        cwd=tmp,
        env=child_env(**env),
        capture_output=True,
        timeout=DEADLINE,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module", params=REPRESENTATIVE)
def online(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, Path]]:
    """A server holding one run logged online (console lines, system samples every second,
    the environment snapshot); and the client's run directory."""
    tmp = tmp_path_factory.mktemp("extras")
    store, backend = split(request.param)
    with database(request, backend) as db_url:
        server = ServerProcess(tmp / "server", db_url=db_url, store=store_choice(request, store))
        yield from _online(server, tmp)


def _online(server: ServerProcess, tmp: Path) -> Iterator[tuple[ServerProcess, Path]]:
    server.start()
    try:
        client = tmp / "client"
        client.mkdir()
        run_script(
            TRAIN,
            client,
            PROJECT,
            RUN_ID,
            FWTRACK_DIR=str(client / "fwtrack"),
            FWTRACK_BASE_URL=server.url,
            FWTRACK_API_KEY=server.admin_key,
            FWTRACK_SYSTEM_INTERVAL="1",
        )
        yield server, client / "fwtrack" / PROJECT / RUN_ID
    finally:
        server.stop()


@pytest.fixture(scope="module")
def http(online: tuple[ServerProcess, Path]) -> Iterator[httpx.Client]:
    server, _ = online
    with httpx.Client(base_url=server.url, headers=server.headers, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def run_dir(online: tuple[ServerProcess, Path]) -> Path:
    return online[1]


def get(http: httpx.Client, url: str, **params: Any) -> Any:
    r = http.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def bad(http: httpx.Client, url: str, **params: Any) -> str:
    r = http.get(url, params=params)
    assert r.status_code == 400, (params, r.status_code, r.text)
    detail: str = r.json()["detail"]
    return detail


# -- system ----------------------------------------------------------------------------------


def test_system_samples_equal_the_local_reader(http: httpx.Client, run_dir: Path) -> None:
    local = _core.RunReader(str(run_dir)).system()
    body = get(http, f"{BASE}/system", samples=0)
    assert body["downsampled"] is False
    keys = sorted(k for k in local if not k.startswith("_"))
    assert "system/cpu.percent" in keys
    assert list(body["series"]) == keys
    assert len(body["timestamp"]) >= 3
    assert body["timestamp"] == local["_timestamp"].tolist()
    assert body["runtime"] == local["_runtime"].tolist()
    for key in keys:
        expected = [None if math.isnan(v) else v for v in local[key].tolist()]
        assert body["series"][key] == expected, key
    only = get(http, f"{BASE}/system", keys="system/memory.percent, system/nope", samples=0)
    assert list(only["series"]) == ["system/memory.percent"]
    assert only["timestamp"] == body["timestamp"]


def test_system_downsampled_keeps_last_sample_and_extremes(
    http: httpx.Client, run_dir: Path
) -> None:
    full = get(http, f"{BASE}/system", samples=0)
    n = len(full["timestamp"])
    down = get(http, f"{BASE}/system", samples=2)
    assert down["downsampled"] is True
    assert len(down["timestamp"]) <= 3 < n + 1
    assert down["timestamp"][-1] == full["timestamp"][-1]
    assert down["runtime"][-1] == full["runtime"][-1]
    for key, values in full["series"].items():
        present = [v for v in values if v is not None]
        assert len(down["series"][key]) == len(down["timestamp"])
        assert down["series"][key][-1] == values[-1]
        assert min(v for v in down["min"][key] if v is not None) == min(present)
        assert max(v for v in down["max"][key] if v is not None) == max(present)
    # as long as the run's samples or longer: whole, not downsampled
    assert get(http, f"{BASE}/system", samples=n)["downsampled"] is False


def test_system_bad_parameters(http: httpx.Client) -> None:
    assert "samples" in bad(http, f"{BASE}/system", samples=-1)
    assert "samples" in bad(http, f"{BASE}/system", samples="many")
    assert "keys" in bad(http, f"{BASE}/system", keys=",".join(["k"] * 1001))


# -- console ---------------------------------------------------------------------------------


def test_logs_page_through_every_line(http: httpx.Client, run_dir: Path) -> None:
    local = _core.RunReader(str(run_dir)).console()
    assert len(local) == 40
    first = get(http, f"{BASE}/logs")
    assert first["total"] == 40
    assert first["next"] is None
    assert [(x["ts"], x["stream"], x["text"]) for x in first["lines"]] == [
        (ts, stream, text) for ts, stream, text in local
    ]
    assert [x["n"] for x in first["lines"]] == list(range(40))
    seen: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = get(http, f"{BASE}/logs", offset=offset, limit=7)
        assert page["total"] == 40
        assert len(page["lines"]) <= 7
        seen += page["lines"]
        offset = page["next"]
    assert seen == first["lines"]
    past = get(http, f"{BASE}/logs", offset=1000)
    assert past == {"lines": [], "total": 40, "next": None}


def test_logs_filter_by_stream_and_text(http: httpx.Client) -> None:
    every = get(http, f"{BASE}/logs")["lines"]
    errors = get(http, f"{BASE}/logs", stream="stderr")
    assert errors["total"] == 10
    assert [x["text"] for x in errors["lines"]] == [
        f"WARNING slow batch {i}" for i in range(0, 30, 3)
    ]
    assert all(every[x["n"]] == x for x in errors["lines"])  # n numbers the whole log
    out = get(http, f"{BASE}/logs", stream="stdout", q="loss=0.5")
    assert [x["text"] for x in out["lines"]] == ["step 1 Loss=0.500"]
    assert out["total"] == 1
    text = get(http, f"{BASE}/logs", q="SLOW BATCH 2", limit=2)
    assert [x["text"] for x in text["lines"]] == [f"WARNING slow batch {i}" for i in (21, 24)]
    assert (text["total"], text["next"]) == (3, 2)
    second = get(http, f"{BASE}/logs", q="slow batch 2", offset=2, limit=2)
    assert [x["text"] for x in second["lines"]] == ["WARNING slow batch 27"]
    assert second["next"] is None
    assert get(http, f"{BASE}/logs", q="no such text")["total"] == 0


def test_logs_bad_parameters(http: httpx.Client) -> None:
    assert "stream" in bad(http, f"{BASE}/logs", stream="stdin")
    assert "limit" in bad(http, f"{BASE}/logs", limit=0)
    assert "limit" in bad(http, f"{BASE}/logs", limit=10_001)
    assert "offset" in bad(http, f"{BASE}/logs", offset=-1)
    assert "q" in bad(http, f"{BASE}/logs", q="x" * 1025)


# -- metadata --------------------------------------------------------------------------------


def test_metadata_is_the_merged_environment(http: httpx.Client, run_dir: Path) -> None:
    body = get(http, f"{BASE}/metadata")
    local = fwtrack.Api(run_dir.parents[1]).run(f"{PROJECT}/{RUN_ID}").metadata
    assert body == json.loads(json.dumps(local))
    assert body["program"].endswith("train.py")
    assert body["python_version"] == local["python_version"]  # from files/metadata.json
    assert "host" in body
    assert "command_line" in body


# -- files: content type and caching ---------------------------------------------------------


def put(http: httpx.Client, path: str, data: bytes) -> None:
    r = http.put(f"{BASE}/files/{path}", content=data)
    assert r.status_code == 200, r.text


def test_file_content_types_and_media_caching(http: httpx.Client) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    sha = hashlib.sha256(png).hexdigest()
    put(http, f"media/{sha}.png", png)
    r = http.get(f"{BASE}/files/media/{sha}.png")
    assert r.status_code == 200
    assert r.content == png
    assert r.headers["content-type"] == "image/png"
    assert r.headers["etag"] == f'"{_core.hash_bytes(png)}"'  # its content address
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["x-content-type-options"] == "nosniff"
    again = http.get(f"{BASE}/files/media/{sha}.png", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == r.headers["etag"]
    other = http.get(f"{BASE}/files/media/{sha}.png", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200
    part = http.get(f"{BASE}/files/media/{sha}.png", headers={"Range": "bytes=0-7"})
    assert (part.status_code, part.content) == (206, png[:8])
    page = b"<html><body><script>1</script></body></html>"
    page_sha = hashlib.sha256(page).hexdigest()
    put(http, f"media/{page_sha}.html", page)
    r = http.get(f"{BASE}/files/media/{page_sha}.html")
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"].startswith("sandbox")  # never the app's origin
    x_sha = hashlib.sha256(b"x").hexdigest()  # a payload is named by its bytes' sha256
    for path, kind in (
        (f"media/{x_sha}.wav", "audio/wav"),
        (f"media/{x_sha}.mp4", "video/mp4"),
        (f"media/{x_sha}.gif", "image/gif"),
        (f"media/{x_sha}.jpg", "image/jpeg"),
        (f"media/{x_sha}.table.json", "application/json"),
        ("notes.bin", "application/octet-stream"),
    ):
        put(http, path, b"x")
        assert http.get(f"{BASE}/files/{path}").headers["content-type"] == kind, path
    # a snapshot file: text, revalidated on every use
    r = http.get(f"{BASE}/files/requirements.txt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "no-cache" in r.headers["cache-control"]
    etag = r.headers["etag"]
    assert (
        http.get(f"{BASE}/files/requirements.txt", headers={"If-None-Match": etag}).status_code
        == 304
    )


# -- tables ----------------------------------------------------------------------------------


def image_cell(i: int) -> dict[str, Any]:
    return {
        "_type": "image",
        "path": f"media/{i:064x}.png",
        "sha256": f"{i:064x}",
        "size": 10,
        "format": "png",
        "width": 2,
        "height": 2,
        "mode": "L",
        "caption": f"Sample {i}",
    }


def score(i: int) -> Any:
    if i % 1000 == 3:
        return None
    if i % 1000 == 7:
        return math.nan
    return (i * 7919) % 10007 / 10  # 0.0 .. 1000.6, not in row order


def name(i: int) -> Any:
    return None if i % 500 == 11 else ["alpha", "Beta", "gamma"][i % 3] + f"-{i}"


@pytest.fixture(scope="module")
def table_path(http: httpx.Client) -> str:
    """A 100,000-row table uploaded as the SDK stores one."""
    doc = {
        "columns": ["id", "score", "name", "image", "ok"],
        "data": [
            [i, score(i), name(i), image_cell(i) if i % 10 == 0 else None, i % 2 == 0]
            for i in range(TABLE_ROWS)
        ],
    }
    data = json.dumps(doc).encode()  # NaN as the JSON NaN token, as the contract says
    assert b"NaN" in data
    path = f"media/{hashlib.sha256(data).hexdigest()}.table.json"
    put(http, path, data)
    return path


def page(http: httpx.Client, path: str, **params: Any) -> Any:
    return get(http, f"{BASE}/table", path=path, **params)


def test_table_pages_in_table_order(http: httpx.Client, table_path: str) -> None:
    first = page(http, table_path)
    assert first["columns"] == ["id", "score", "name", "image", "ok"]
    assert first["total"] == TABLE_ROWS
    assert first["offset"] == 0
    assert first["row_ids"] == list(range(50))
    assert [row[0] for row in first["rows"]] == list(range(50))
    assert first["rows"][7][1] == "NaN"
    assert first["rows"][3][1] is None
    assert first["rows"][10][3] == image_cell(10)
    last = page(http, table_path, offset=TABLE_ROWS - 3, limit=1000)
    assert last["row_ids"] == [TABLE_ROWS - 3, TABLE_ROWS - 2, TABLE_ROWS - 1]
    assert page(http, table_path, offset=TABLE_ROWS)["rows"] == []


def test_table_sorts_numbers_numerically_with_nulls_last(
    http: httpx.Client, table_path: str
) -> None:
    missing = sum(1 for i in range(TABLE_ROWS) if i % 1000 in (3, 7))
    present = sorted((score(i), i) for i in range(TABLE_ROWS) if i % 1000 not in (3, 7))
    asc = page(http, table_path, sort="score", limit=1000)
    assert asc["total"] == TABLE_ROWS
    assert [r[1] for r in asc["rows"]] == [s for s, _ in present[:1000]]
    assert asc["row_ids"] == [i for _, i in present[:1000]]
    desc = page(http, table_path, sort="score", order="desc", limit=5)
    assert [r[1] for r in desc["rows"]] == [s for s, _ in present[::-1][:5]]
    for order in ("asc", "desc"):
        tail = page(http, table_path, sort="score", order=order, offset=TABLE_ROWS - missing)
        assert all(r[1] in (None, "NaN") for r in tail["rows"]), order
        before = page(http, table_path, sort="score", order=order, offset=TABLE_ROWS - missing - 1)
        assert before["rows"][0][1] not in (None, "NaN")
    # the ids column: 100 before 99 descending (numbers, not their text)
    ids = page(http, table_path, sort="id", order="desc", limit=3)
    assert ids["row_ids"] == [TABLE_ROWS - 1, TABLE_ROWS - 2, TABLE_ROWS - 3]


def test_table_sorts_text_case_insensitively(http: httpx.Client, table_path: str) -> None:
    names = [(name(i), i) for i in range(TABLE_ROWS) if name(i) is not None]
    expected = sorted(names, key=lambda p: (p[0].casefold(), p[0]))
    body = page(http, table_path, sort="name", limit=20)
    assert [r[2] for r in body["rows"]] == [n for n, _ in expected[:20]]
    nulls = TABLE_ROWS - len(names)
    tail = page(http, table_path, sort="name", order="desc", offset=TABLE_ROWS - nulls, limit=1000)
    assert len(tail["rows"]) == nulls
    assert all(r[2] is None for r in tail["rows"])
    top = page(http, table_path, sort="name", order="desc", limit=1)
    assert top["rows"][0][2] == expected[-1][0]


def test_table_filter_and_sort_together(http: httpx.Client, table_path: str) -> None:
    wanted = [i for i in range(TABLE_ROWS) if name(i) is not None and "beta-12" in name(i).lower()]
    body = page(http, table_path, q="BETA-12", limit=1000)
    assert body["total"] == len(wanted)
    assert body["row_ids"] == wanted
    by_score = page(http, table_path, q="beta-12", sort="score", order="desc", limit=1000)
    assert sorted(by_score["row_ids"]) == wanted
    scores = [r[1] for r in by_score["rows"] if r[1] not in (None, "NaN")]
    assert scores == sorted(scores, reverse=True)
    # captions of media cells are text too
    caption = page(http, table_path, q="sample 4240")
    assert caption["row_ids"] == [4240, 42400]
    assert page(http, table_path, q="no such cell")["total"] == 0


def test_table_bad_parameters(http: httpx.Client, table_path: str) -> None:
    detail = bad(http, f"{BASE}/table", path=table_path, sort="nope")
    assert "sort" in detail
    assert "'score'" in detail
    assert "order" in bad(http, f"{BASE}/table", path=table_path, order="sideways")
    assert "limit" in bad(http, f"{BASE}/table", path=table_path, limit=0)
    assert "limit" in bad(http, f"{BASE}/table", path=table_path, limit=1001)
    assert "offset" in bad(http, f"{BASE}/table", path=table_path, offset=-5)
    assert "path" in bad(http, f"{BASE}/table")
    assert "table" in bad(http, f"{BASE}/table", path="requirements.txt")
    assert "path" in bad(http, f"{BASE}/table", path="../x.table.json")
    assert "path" in bad(http, f"{BASE}/table", path="/etc/x.table.json")
    r = http.get(f"{BASE}/table", params={"path": "media/" + "0" * 64 + ".table.json"})
    assert r.status_code == 404
    put(http, "media/broken.table.json", b'{"columns": ["a"], "data": [[1, 2]]}')
    r = http.get(f"{BASE}/table", params={"path": "media/broken.table.json"})
    assert r.status_code == 409
    assert "row 0" in r.json()["detail"]


# -- media -----------------------------------------------------------------------------------


MEDIA_TYPES = {
    "grid": "gallery",
    "page": "html",
    "preds": "table",
    "samples": "image",
    "sound": "audio",
}


def test_media_keys(http: httpx.Client) -> None:
    assert get(http, f"{BASE}/media/keys") == {
        "keys": [{"key": k, "type": t, "count": 3} for k, t in sorted(MEDIA_TYPES.items())]
    }


def test_media_equal_the_local_reader_and_payloads_download(
    http: httpx.Client, run_dir: Path
) -> None:
    reader = _core.RunReader(str(run_dir))
    for key, kind in MEDIA_TYPES.items():
        body = get(http, f"{BASE}/media", key=key)
        local = reader.media(key)
        assert body["key"] == key
        assert body["items"] == [{"step": s, "ts": t, "value": d} for s, t, _, d in local]
        assert [item["step"] for item in body["items"]] == [0, 10, 20]
        for item in body["items"]:
            value = item["value"]
            assert value["_type"] == kind
            for desc in value["items"] if kind == "gallery" else [value]:
                r = http.get(f"{BASE}/files/{desc['path']}")
                assert r.status_code == 200, desc
                assert _core.hash_bytes(r.content) == desc["address"]
                assert r.content == (run_dir / "files" / desc["path"]).read_bytes()
                assert r.headers["etag"] == f'"{desc["address"]}"'  # the content address
                assert (
                    r.headers["content-type"].split(";")[0]
                    == {
                        "image": "image/png",
                        "gallery": "image/png",
                        "audio": "audio/wav",
                        "html": "text/html",
                        "table": "application/json",
                    }[kind]
                )
    # a logged table, paged and sorted by the server
    preds = get(http, f"{BASE}/media", key="preds")["items"][1]["value"]
    assert (preds["columns"], preds["nrows"]) == (["x", "label"], 2)
    table = get(http, f"{BASE}/table", path=preds["path"], sort="x", order="desc")
    assert table == {
        "columns": ["x", "label"],
        "total": 2,
        "offset": 0,
        "rows": [[10, "cat"], [None, "Dog"]],
        "row_ids": [0, 1],
    }
    assert get(http, f"{BASE}/table", path=preds["path"], q="dog")["row_ids"] == [1]


def test_media_unknown_key(http: httpx.Client) -> None:
    r = http.get(f"{BASE}/media", params={"key": "nothing"})
    assert r.status_code == 404
    assert "'samples'" in r.json()["detail"]  # names the keys the run has
    assert "key" in bad(http, f"{BASE}/media")
    assert "key" in bad(http, f"{BASE}/media", key="k" * 257)


# -- access ----------------------------------------------------------------------------------

ENDPOINTS = [
    ("system", {}),
    ("logs", {}),
    ("media/keys", {}),
    ("media", {"key": "k"}),
    ("table", {"path": "media/x.table.json"}),
    ("metadata", {}),
]


def test_access(online: tuple[ServerProcess, Path], http: httpx.Client) -> None:
    server, _ = online
    r = http.post("/api/v1/users", json={"name": "outsider"})
    assert r.status_code == 200, r.text
    outsider = {"Authorization": f"Bearer {r.json()['api_key']}"}
    for path, params in ENDPOINTS:
        url = f"{server.url}{BASE}/{path}"
        assert httpx.get(url, params=params).status_code == 401, path
        bogus = {"Authorization": "Bearer fwk_" + "x" * 40}
        assert httpx.get(url, params=params, headers=bogus).status_code == 401, path
        assert httpx.get(url, params=params, headers=outsider).status_code == 403, path
        ghost = f"/api/v1/runs/admin/{PROJECT}/ghost/{path}"
        assert http.get(ghost, params=params).status_code == 404, path
        assert (
            http.get(f"/api/v1/runs/admin/nope/{RUN_ID}/{path}", params=params).status_code == 404
        )
        assert (
            http.get(f"/api/v1/runs/admin/{PROJECT}/b%20d/{path}", params=params).status_code == 400
        )


def test_openapi_lists_the_routes(http: httpx.Client) -> None:
    paths = get(http, "/api/v1/openapi.json")["paths"]
    for path, _ in ENDPOINTS:
        assert f"/api/v1/runs/{{entity}}/{{project}}/{{run_id}}/{path}" in paths, path
    assert "422" not in json.dumps(paths)


# -- fwtrack ui: a run still being written ---------------------------------------------------

LIVE = textwrap.dedent(
    """
    import os, sys, time
    import fwtrack
    gate = sys.argv[1]
    run = fwtrack.init(project="live", id="w1", dir=sys.argv[2], mode="offline")
    for i in range(5):
        print(f"first {i}", flush=True)
        fwtrack.log({"loss": i})
    run.flush()
    while not os.path.exists(gate):
        time.sleep(0.05)
    print("second part", file=sys.stderr, flush=True)
    fwtrack.log({"loss": 9})
    fwtrack.finish()
    """
)


def test_ui_serves_a_run_being_written(ui: Ui, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    script = tmp_path / "live.py"
    script.write_text(LIVE)
    env = child_env(FWTRACK_SYSTEM_INTERVAL="1")
    proc = subprocess.Popen(
        [sys.executable, str(script), str(gate), str(tmp_path / "fwtrack")],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = "/runs/local/live/w1"
    try:

        def first_lines() -> bool:
            status, body = ui.get(f"{base}/logs")
            return status == 200 and body["total"] == 5

        ui.wait_for("the first console lines", first_lines)
        status, body = ui.get(f"{base}/logs?q=FIRST%203")
        assert (status, [x["text"] for x in body["lines"]]) == (200, ["first 3"])
        assert ui.get(base)[1]["state"] == "running"
        assert ui.get(f"{base}/media/keys") == (200, {"keys": []})
        status, meta = ui.get(f"{base}/metadata")
        assert status == 200
        assert meta["program"].endswith("live.py")
        # a table written into the run's files by hand, as the SDK writes one
        table = json.dumps({"columns": ["x", "y"], "data": [[2, "b"], [1, "A"], [None, "c"]]})
        sha = hashlib.sha256(table.encode()).hexdigest()
        media = tmp_path / "fwtrack" / "live" / "w1" / "files" / "media"
        media.mkdir(parents=True, exist_ok=True)
        (media / f"{sha}.table.json").write_text(table)
        status, body = ui.get(f"{base}/table?path=media/{sha}.table.json&sort=x")
        assert status == 200, body
        assert (body["rows"], body["row_ids"]) == ([[1, "A"], [2, "b"], [None, "c"]], [1, 0, 2])
        gate.write_text("go")
        assert proc.wait(timeout=DEADLINE) == 0

        def all_lines() -> Any:
            status, body = ui.get(f"{base}/logs?stream=stderr")
            return status == 200 and [x["text"] for x in body["lines"]] == ["second part"]

        ui.wait_for("the console line written after the first read", all_lines)
        assert ui.get(f"{base}/logs")[1]["total"] == 6
        status, system = ui.get(f"{base}/system")
        assert status == 200
        assert system["timestamp"], system
        with urllib.request.urlopen(ui.url + f"{base}/files/media/{sha}.table.json") as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert resp.headers["ETag"] == f'"{sha}"'
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_table_view_cache_is_per_file(tmp_path: Path) -> None:
    """A replaced file (a new mtime/size) is parsed again, never answered from the old one."""
    from fwtrack.server.tables import TableCache

    cache = TableCache(max_tables=2)
    path = tmp_path / "t.table.json"

    def get(path: Path) -> Any:  # keyed as fwtrack ui keys a file it reads in place
        st = path.stat()
        return cache.get((str(path), st.st_size, st.st_mtime_ns), st.st_size, path.read_bytes)

    path.write_text(json.dumps({"columns": ["a"], "data": [[1]]}))
    assert get(path).rows == [[1]]
    path.write_text(json.dumps({"columns": ["a"], "data": [[1], [2]]}))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert get(path).rows == [[1], [2]]
