"""The history of many runs in its two encodings: the binary answer
(`application/x-fwtrack-series`, docs/server.md "Binary series") holds exactly the JSON answer's
values for the same request; the point budget shares points among runs; timestamps only when
asked for."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

import fwtrack

from .apputil import BACKENDS, open_client, upload

PROJECT = "wire"
URL = f"/api/v1/history/admin/{PROJECT}"
SERIES = "application/x-fwtrack-series"
STEPS = 2000
RUNS = ("a", "b", "c")


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three runs: `loss` (float64 values with NaN and infinities), `lr` (float32-exact
    values), `eval/acc` every 10 steps; run `c` is short."""
    root = tmp_path_factory.mktemp("client")
    for n, run_id in enumerate(RUNS):
        run = fwtrack.init(project=PROJECT, id=run_id, dir=root, mode="offline")
        for i in range(STEPS if run_id != "c" else 7):
            row: dict[str, Any] = {"loss": math.sin(i / 30) + n / 3, "lr": 0.5 ** (i % 8)}
            if i % 97 == 5:
                row["loss"] = [math.nan, math.inf, -math.inf][i % 3]
            if i % 10 == 0:
                row["eval/acc"] = i / STEPS
            fwtrack.log(row)
            if i % 500 == 0:
                run.flush()
        fwtrack.finish()
    return root


@pytest.fixture(params=BACKENDS)
def api(request: pytest.FixtureRequest, tmp_path: Path, client_dir: Path) -> Iterator[TestClient]:
    for client in open_client(request, tmp_path, request.param):
        for run_id in RUNS:
            data = (client_dir / PROJECT / run_id / "run.fwlog").read_bytes()
            upload(client, "admin", PROJECT, run_id, data)
        yield client


def decode_series(data: bytes) -> dict[str, Any]:
    """A binary answer as the JSON answer's shape, with float64 arrays for the columns."""
    assert data[:4] == b"FWSR"
    assert int.from_bytes(data[4:8], "little") == 1
    head_len = int.from_bytes(data[8:12], "little")
    header = json.loads(data[12 : 12 + head_len])
    start = -(-(12 + head_len) // 8) * 8
    assert data[12 + head_len : start] == b"\0" * (start - 12 - head_len)
    runs = []
    for run in header["runs"]:
        series: dict[str, Any] = {}
        for s in run["series"]:
            cols = {}
            for name in ("step", "value", "timestamp", "min", "max"):
                if name not in s:
                    continue
                kind, offset = s[name]
                assert offset % 8 == 0, (name, offset)
                dtype = {"f8": "<f8", "f4": "<f4"}[kind]
                arr = np.frombuffer(data, dtype=dtype, count=s["n"], offset=start + offset)
                cols[name] = arr.astype(np.float64)
            series[s["key"]] = cols
        runs.append({"run": run["run"], "series": series, "downsampled": run["downsampled"]})
    return {"runs": runs, "missing": header["missing"], "samples": header["samples"]}


def from_json(values: list[Any]) -> np.ndarray:
    special = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
    return np.array([special[v] if isinstance(v, str) else v for v in values], dtype=np.float64)


def both(api: TestClient, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON answer and the decoded binary answer to `body`."""
    plain = api.post(URL, json=body)
    assert plain.status_code == 200, plain.text
    assert plain.headers["content-type"] == "application/json"
    binary = api.post(URL, json=body, headers={"Accept": f"{SERIES}, application/json;q=0.5"})
    assert binary.status_code == 200, binary.text
    assert binary.headers["content-type"] == SERIES
    assert "Accept" in binary.headers["vary"]
    return plain.json(), decode_series(binary.content)


def assert_same(js: dict[str, Any], bn: dict[str, Any]) -> None:
    assert bn["missing"] == js["missing"]
    assert bn["samples"] == js["samples"]
    assert [r["run"] for r in bn["runs"]] == [r["run"] for r in js["runs"]]
    for jr, br in zip(js["runs"], bn["runs"], strict=True):
        assert br["downsampled"] == jr["downsampled"]
        assert list(br["series"]) == list(jr["series"])
        for key, cols in jr["series"].items():
            assert set(br["series"][key]) == set(cols), key
            for name, values in cols.items():
                np.testing.assert_array_equal(br["series"][key][name], from_json(values))


CASES: list[dict[str, Any]] = [
    {},
    {"samples": 0},
    {"keys": ["lr", "eval/acc", "nope"], "min_step": 300, "max_step": 1500, "samples": 50},
    {"timestamps": False, "samples": 120},
    {"budget": 240, "min_samples": 20},
]


def test_binary_answer_holds_the_json_values(api: TestClient) -> None:
    """Same runs, keys, flags and values (exactly, NaN and infinities included) for every
    kind of request, a frozen report's `until` among them; float32 only where exact."""
    for extra in CASES:
        js, bn = both(api, {"runs": ["a", "ghost", "c", "b", "a"], **extra})
        assert [r["run"] for r in js["runs"]] == ["a", "c", "b"], extra
        assert js["missing"] == ["ghost"]
        assert_same(js, bn)
    full = api.post(URL, json={"runs": ["a"], "keys": ["loss"], "samples": 0}).json()
    stamps = from_json(full["runs"][0]["series"]["loss"]["timestamp"])
    until = float(stamps[len(stamps) // 2])
    js, bn = both(api, {"runs": ["a", "c"], "samples": 40, "until": until})
    assert_same(js, bn)
    kept = js["runs"][0]["series"]["loss"]
    assert max(kept["timestamp"]) <= until
    assert kept["step"][-1] == int(np.flatnonzero(stamps <= until)[-1])
    # float32 columns only where every value is exactly one
    r = api.post(
        URL, json={"runs": ["b"], "keys": ["lr", "loss"], "samples": 0}, headers={"Accept": SERIES}
    )
    head_len = int.from_bytes(r.content[8:12], "little")
    series = {s["key"]: s for s in json.loads(r.content[12 : 12 + head_len])["runs"][0]["series"]}
    assert series["lr"]["step"][0] == "f4"  # whole steps below 2**24
    assert series["lr"]["value"][0] == "f4"  # powers of two
    assert series["loss"]["value"][0] == "f8"  # sines
    assert series["loss"]["timestamp"][0] == "f8"


def test_budget_timestamps_and_accept(api: TestClient) -> None:
    # the budget: each run gets max(min_samples, budget // runs found), at most `samples`
    budgets = [
        ({"budget": 300, "min_samples": 10}, 100),  # 3 runs found (ghost is not)
        ({"budget": 300, "min_samples": 150}, 150),
        ({"budget": 3000, "samples": 400}, 400),
        ({"budget": 90, "min_samples": 10, "samples": 0}, 30),
        ({}, 1000),
    ]
    for extra, per_run in budgets:
        body = {"runs": ["a", "b", "c", "ghost"], "keys": ["lr"], **extra}
        js = api.post(URL, json=body).json()
        assert js["samples"] == per_run, extra
        for run in js["runs"]:
            n = len(run["series"]["lr"]["step"])
            # evenly spaced steps fill every bucket: exactly `per_run` points, or all of them
            assert n == min(per_run, 7 if run["run"] == "c" else STEPS), (extra, run["run"])
        binary = api.post(URL, json=body, headers={"Accept": SERIES}).content
        assert decode_series(binary)["samples"] == per_run

    # timestamps only when asked for
    body = {"runs": ["a", "c"], "samples": 100, "timestamps": False}
    js, bn = both(api, body)
    for answer in (js, bn):
        for run in answer["runs"]:
            for cols in run["series"].values():
                assert set(cols) <= {"step", "value", "min", "max"}
                assert "value" in cols
    js = api.post(URL, json={**body, "timestamps": True}).json()
    assert all("timestamp" in cols for cols in js["runs"][0]["series"].values())

    # the encoding follows Accept
    for accept, kind in [
        (None, "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        (f"{SERIES};q=0", "application/json"),
        (f"application/json;q=0.9, {SERIES}", SERIES),
        (SERIES.upper(), SERIES),
    ]:
        headers = {} if accept is None else {"Accept": accept}
        r = api.post(URL, json={"runs": ["c"], "keys": ["lr"]}, headers=headers)
        assert r.status_code == 200, (accept, r.text)
        assert r.headers["content-type"] == kind, accept
    # errors stay JSON whatever was asked for
    r = api.post(URL, json={"runs": []}, headers={"Accept": SERIES})
    assert r.status_code == 400
    assert r.json()["detail"]
    doc = api.get("/api/v1/openapi.json").json()
    content = doc["paths"]["/api/v1/history/{entity}/{project}"]["post"]["responses"]["200"][
        "content"
    ]
    assert set(content) == {"application/json", SERIES}
