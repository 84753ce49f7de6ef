"""Media are stored off the training thread: `log()` queues the value and returns, the run's
media worker encodes, hashes and writes the payload, and only then is the record written, in
its place among the records of its step. A `kill -9` never leaves a record without its
payload; `flush()` and `finish()` wait for pending media (a wedged worker only up to a
bound); a payload that cannot be written is left out with one warning.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import FwTrackWarning

PROGRAMS = Path(__file__).resolve().parent / "programs"
T = TypeVar("T")


def _image(seed: int, shape: tuple[int, ...] = (16, 12, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _eventually(what: str, probe: Callable[[], T | None], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got is not None:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _steps(run_dir: str) -> list[int]:
    return [int(s) for s in _core.RunReader(run_dir).history()["_step"]]


def _media_files(run_dir: str | Path) -> list[str]:
    root = Path(run_dir) / "files" / "media"
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _check_payloads(run_dir: str | Path) -> list[tuple[int, str, dict[str, Any]]]:
    """Every media record of the run (gallery items included): its payload exists and hashes
    to its address. Returns (step, key, descriptor) of each record."""
    files = Path(run_dir) / "files"
    records = [(step, key, desc) for step, _, key, desc in _core.RunReader(run_dir).media()]
    for step, key, desc in records:
        for item in desc["items"] if desc["_type"] == "gallery" else [desc]:
            payload = (files / item["path"]).read_bytes()  # present
            assert _core.hash_bytes(payload) == item["address"], (step, key, item["path"])
            assert item["path"] == f"media/{item['address'].removeprefix('blake3:')}.png"
            assert item["size"] == len(payload)
    return records


def _program(tmp_path: Path, name: str, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FWTRACK_")}
    env["FWTRACK_DIR"] = str(tmp_path / "fwtrack")
    env["FWTRACK_CONFIG_DIR"] = str(tmp_path / ".fwtrack-config")
    env["FWTRACK_SYSTEM_METRICS"] = "false"
    env["FWTRACK_SAVE_CODE"] = "false"
    env["FWTRACK_CAPTURE_ENV"] = "false"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent / "python")
    return [sys.executable, str(PROGRAMS / name), *args], env


def _run_program(
    tmp_path: Path, name: str, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    argv, env = _program(tmp_path, name, *args)
    proc = subprocess.run(
        argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    if check:
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


class Gated(fwtrack.Image):
    """An image whose encoding waits until the test opens `gate`."""

    gate = threading.Event()

    def _encode(self) -> bytes:
        assert self.gate.wait(120), "the gate was never opened"
        return super()._encode()


@pytest.fixture
def gate() -> Any:
    Gated.gate = threading.Event()
    yield Gated.gate
    Gated.gate.set()


# -- in this process ------------------------------------------------------------------------


def test_log_returns_before_the_payload_exists_and_what_follows_waits_for_it(
    tmp_dir: Path, gate: threading.Event
) -> None:
    run = fwtrack.init(project="async", mode="offline", settings={"flush_interval": 0.05})
    run.log({"loss": 1.0})  # step 0
    pixels = _image(1)
    run.log({"img": Gated(pixels), "loss": 0.5})  # step 1: returns, its payload not stored
    run.log({"loss": 0.25})  # step 2
    assert _media_files(run.dir) == []

    # What came before the pending record reaches the log; it and what follows do not.
    _eventually("step 0 in the log", lambda: _steps(run.dir) == [0] or None)
    time.sleep(0.3)  # several flush intervals
    assert _steps(run.dir) == [0]
    assert _core.RunReader(run.dir).media() == []

    gate.set()
    run.finish()
    assert _steps(run.dir) == [0, 1, 2]
    [(step, key, _)] = _check_payloads(run.dir)
    assert (step, key) == (1, "img")
    img = fwtrack.Api().run(run.id).history()["img"][1]
    np.testing.assert_array_equal(img.to_numpy(), pixels)


def test_flush_waits_for_pending_media(tmp_dir: Path, gate: threading.Event) -> None:
    run = fwtrack.init(project="async", mode="offline")
    run.log({"img": Gated(_image(2))})
    flushed = threading.Event()
    flusher = threading.Thread(target=lambda: (run.flush(), flushed.set()))
    flusher.start()
    assert not flushed.wait(0.5)  # held up by the pending image
    gate.set()
    flusher.join(60)
    assert flushed.is_set()
    assert len(_check_payloads(run.dir)) == 1
    run.finish()


def test_records_keep_their_order_and_steps_whatever_the_media(tmp_dir: Path) -> None:
    run = fwtrack.init(project="async", mode="offline")
    want: list[tuple[int, str]] = []
    for step in range(12):
        values: dict[str, Any] = {"loss": 1.0 / (step + 1)}
        if step % 3 == 0:
            values["big"] = fwtrack.Image(_image(step, (300, 300, 3)))  # slow to store
            want.append((step, "big"))
        if step % 2 == 0:
            values["small"] = fwtrack.Image(_image(step))
            want.append((step, "small"))
        if step == 5:
            values["gallery"] = [fwtrack.Image(_image(50)), fwtrack.Image(_image(51))]
            want.append((step, "gallery"))
        if step % 4 == 1:
            run.log({"early": step}, commit=False)  # merged into the row below
        run.log(values)
    run.finish()

    records = _check_payloads(run.dir)
    # Media records in the order logged (dicts keep their keys' order).
    assert [(s, k) for s, k, _ in records] == want
    hist = fwtrack.Api().run(run.id).history()
    assert hist["_step"].tolist() == list(range(12))
    assert hist["loss"].tolist() == [1.0 / (s + 1) for s in range(12)]
    assert [s for s in range(12) if hist["early"].notna()[s]] == [1, 5, 9]
    for step in range(0, 12, 2):
        np.testing.assert_array_equal(hist["small"][step].to_numpy(), _image(step))
    assert [g.width for g in hist["gallery"][5]] == [12, 12]


def test_a_table_is_logged_as_it_was_when_logged(tmp_dir: Path) -> None:
    run = fwtrack.init(project="async", mode="offline")
    table = fwtrack.Table(columns=["id", "img"])
    table.add_data(1, fwtrack.Image(_image(3)))
    run.log({"t": table})
    table.add_data(2, None)  # after log(): not part of the logged table
    table.add_column("extra", ["a", "b"])
    run.log({"t": table})
    run.finish()
    tables = fwtrack.Api().run(run.id).history()["t"].tolist()
    assert [t.columns for t in tables] == [["id", "img"], ["id", "img", "extra"]]
    assert [len(t) for t in tables] == [1, 2]
    np.testing.assert_array_equal(tables[0].data[0][1].to_numpy(), _image(3))


def test_a_value_that_cannot_be_encoded_is_left_out_with_one_warning(tmp_dir: Path) -> None:
    class Broken(fwtrack.Html):
        def _encode(self) -> bytes:
            raise ValueError("cannot encode this")

    run = fwtrack.init(project="async", mode="offline")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(3):
            run.log({"page": Broken("<p>x</p>"), "ok": fwtrack.Html(f"<p>{step}</p>")})
        run.finish()
    notes = [str(w.message) for w in caught if issubclass(w.category, FwTrackWarning)]
    assert len(notes) == 1, notes
    assert "'page' was not stored (ValueError: cannot encode this)" in notes[0]
    records = _core.RunReader(run.dir).media()
    assert [(s, k) for s, _, k, _ in records] == [(0, "ok"), (1, "ok"), (2, "ok")]
    assert _steps(run.dir) == [0, 1, 2]


def test_a_disabled_run_stores_nothing_and_starts_no_worker(tmp_dir: Path) -> None:
    run = fwtrack.init(project="async", mode="disabled")
    run.log({"img": fwtrack.Image(_image(4))})
    run.finish()
    assert not any(t.name == "fwtrack-media" for t in threading.enumerate())
    assert not (tmp_dir / "fwtrack").exists()


def test_logs_with_sha256_descriptors_still_read(tmp_dir: Path) -> None:
    """A log written the way earlier versions wrote media: payloads named by their sha256,
    descriptors with `sha256` and no `address`."""
    import hashlib

    pixels = _image(9)
    payload = fwtrack.Image(pixels).bytes()
    sha = hashlib.sha256(payload).hexdigest()
    run_dir = tmp_dir / "fwtrack" / "old" / "run-sha"
    (run_dir / "files" / "media").mkdir(parents=True)
    (run_dir / "files" / "media" / f"{sha}.png").write_bytes(payload)
    desc = {
        "_type": "image",
        "path": f"media/{sha}.png",
        "sha256": sha,
        "size": len(payload),
        "format": "png",
        "width": 12,
        "height": 16,
        "mode": "RGB",
        "caption": "old",
    }

    class Stored:
        def __init__(self, descriptor: dict[str, Any]) -> None:
            self.descriptor = descriptor

    writer = _core.RunWriter(
        run_dir,
        json.dumps({"id": "run-sha", "name": "old", "project": "old"}),
        converter=lambda key, value: _core.MediaValue(value.descriptor),
        warn=lambda message: None,
    )
    writer.log({"img": Stored(desc), "loss": 0.5})
    writer.log({"gallery": Stored({"_type": "gallery", "items": [desc, desc]})})
    writer.finish(0)

    hist = fwtrack.Api().run("old/run-sha").history()
    img = hist["img"][0]
    assert img.caption == "old"
    assert img.sha256 == sha
    assert img.path == f"media/{sha}.png"
    np.testing.assert_array_equal(img.to_numpy(), pixels)
    assert img.address == _core.hash_bytes(payload)
    assert img == fwtrack.Image(pixels)  # equal by content, whichever way it is named
    assert [g.sha256 for g in hist["gallery"][1]] == [sha, sha]

    # Logged again into a new run, it is stored under its BLAKE3 address.
    run = fwtrack.init(project="again", mode="offline")
    run.log({"img": img})
    run.finish()
    [(_, _, stored)] = _check_payloads(run.dir)
    assert stored["address"] == img.address
    assert "sha256" not in stored


# -- in programs of their own ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["finish", "exit", "interrupt"])
def test_nothing_pending_is_lost_when_the_program_ends(tmp_path: Path, mode: str) -> None:
    proc = _run_program(tmp_path, "media_pending.py", mode, check=False)
    # An uncaught KeyboardInterrupt ends the process with 1, or by SIGINT.
    assert proc.returncode in ((0,) if mode != "interrupt" else (1, -signal.SIGINT)), proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    records = _check_payloads(out["dir"])
    assert [(s, k) for s, k, _ in records] == [(2 * i, "img") for i in range(out["logged"])]
    assert _steps(out["dir"]) == list(range(2 * out["logged"]))
    run = fwtrack.Api(dir=str(tmp_path / "fwtrack")).run(out["id"])
    assert run.state == ("failed" if mode == "interrupt" else "finished")
    assert [i.caption for i in run.history()["img"].dropna()] == [
        str(i) for i in range(out["logged"])
    ]


def test_kill_9_while_media_are_pending_leaves_no_record_without_its_payload(
    tmp_path: Path,
) -> None:
    argv, env = _program(tmp_path, "media_pending.py", "kill", "30")
    with subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            out = json.loads(proc.stdout.readline())
            # Kill once some media records are in the log, the worker still storing the rest.
            _eventually(
                "a media record in the log", lambda: _core.RunReader(out["dir"]).media() or None
            )
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(60) == -signal.SIGKILL
        finally:
            proc.kill()
    records = _check_payloads(out["dir"])
    steps = [s for s, _, _ in records]
    assert steps == [2 * i for i in range(len(steps))]  # a prefix, in order
    assert 0 < len(steps) < out["logged"]  # killed while media were pending
    # The rows that follow a missing record are missing too: nothing jumps the queue.
    assert max(_steps(out["dir"])) <= 2 * len(steps) - 1
    run = fwtrack.Api(dir=str(tmp_path / "fwtrack")).run(out["id"])
    assert run.state == "crashed"


def test_a_payload_that_cannot_be_written_warns_once_and_loses_nothing_else(
    tmp_path: Path,
) -> None:
    proc = _run_program(tmp_path, "media_disk_full.py")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    not_stored = [m for m in out["warnings"] if "was not stored" in m]
    assert len(not_stored) == 1, out["warnings"]
    assert "'large'" in not_stored[0]
    records = _check_payloads(out["dir"])
    assert [(s, k) for s, k, _ in records] == [(s, "small") for s in range(10)]
    assert _steps(out["dir"]) == list(range(10))
    run = fwtrack.Api(dir=str(tmp_path / "fwtrack")).run(out["id"])
    assert run.state == "finished"
    assert run.history()["x"].tolist() == list(range(10))
    # No temporary file of a failed write is left behind.
    assert all(not name.startswith(".") for name in _media_files(out["dir"]))


def test_a_wedged_worker_does_not_hold_up_finish_beyond_its_bound(tmp_path: Path) -> None:
    proc = _run_program(tmp_path, "media_wedged.py")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert any("stalled" in m and "left out" in m for m in out["warnings"]), out["warnings"]
    assert _core.RunReader(out["dir"]).media() == []
    assert _steps(out["dir"]) == [0, 1, 2]  # only the image is left out
    run = fwtrack.Api(dir=str(tmp_path / "fwtrack")).run(out["id"])
    assert run.state == "finished"


def test_forked_children_neither_deadlock_nor_write_to_the_parents_run(tmp_path: Path) -> None:
    proc = _run_program(tmp_path, "media_fork.py")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(_check_payloads(out["parent"])) == 4
    assert len(out["children"]) == 4
    for child in out["children"]:
        [(step, key, _)] = _check_payloads(child)
        assert (step, key) == (0, "img")
