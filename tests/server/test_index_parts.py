"""The index's parts (console lines, system samples, media descriptors, histograms), read as
the routes read them, against the decoded log (`RunReader`) of the same run: a finished
run, a run polled while it is written (every line once across polls), a torn tail, and an
index of the previous layout (rebuilt before it is read, as a server upgraded in place)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fwtrack import _core
from fwtrack.server.blobs import RunPaths
from fwtrack.server.routes.log_cache import index_dir

from .harness import REPO, child_env

PROGRAM = REPO / "tests" / "programs" / "index_parts_run.py"
DEADLINE = 120.0


def _log(tmp: Path, steps: int, pause: float = 0.0) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(PROGRAM), "parts", "r1", str(steps), str(pause)],
        cwd=tmp,
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The log of a finished run, logged once for the module's tests."""
    tmp = tmp_path_factory.mktemp("finished")
    proc = _log(tmp, 60)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err.decode(errors="replace")
    return tmp / "fwtrack" / "parts" / "r1" / "run.fwlog"


def _finished_run(finished: Path, tmp: Path) -> Path:
    """A copy of the finished run's log in `tmp`."""
    log = tmp / "run.fwlog"
    shutil.copyfile(finished, log)
    return log


def _lines(index: Path) -> list[tuple[int, str, float, str]]:
    total, lines = _core.console_page(str(index), None, 0, 10**9)
    assert total == len(lines)
    return lines


def _assert_parts_equal_the_log(log: Path, index: Path) -> None:
    reader = _core.RunReader(str(log))
    idx = str(index)
    # console: every line, pages, streams, search
    local = reader.console()
    assert [(t, s, x) for _, s, t, x in _lines(index)] == local
    assert [n for n, *_ in _lines(index)] == list(range(len(local)))
    total, page = _core.console_page(idx, None, 3, 5)
    assert total == len(local)
    assert [(t, s, x) for _, s, t, x in page] == local[3:8]
    for stream in ("stdout", "stderr"):
        want = [n for n, line in enumerate(local) if line[1] == stream]
        total, page = _core.console_page(idx, stream, 1, 4)
        assert total == len(want)
        assert [n for n, *_ in page] == want[1:5]
        assert all(s == stream for _, s, _, _ in page)
    for q in ("straße", "STRASSE", "été", "warning", "nothing like it"):
        needle = q.casefold()
        want = [n for n, line in enumerate(local) if needle in line[2].casefold()]
        got = [
            n
            for n, text in _core.console_search(idx, None, needle)
            if text is None or needle in text.casefold()
        ]
        assert got == want, q
    # system samples
    system = reader.system()
    indexed = _core.system_columns(idx)
    assert sorted(indexed) == sorted(system)
    for key, values in system.items():
        np.testing.assert_array_equal(indexed[key], values)
    only = sorted(k for k in system if not k.startswith("_"))[:1]
    assert sorted(_core.system_columns(idx, only)) == sorted(["_timestamp", "_runtime", *only])
    # media
    assert _core.media_items(idx) == reader.media()
    assert _core.media_items(idx, "img") == reader.media("img")
    keys = {k: (n, t) for k, n, t in _core.media_keys(idx)}
    assert sorted(keys) == reader.media_keys()
    for key in keys:
        items = reader.media(key)
        assert keys[key] == (len(items), items[-1][3].get("_type"))
    # histograms
    assert _core.histogram_keys(idx) == reader.histogram_keys()
    for key in reader.histogram_keys():
        entries = reader.histograms(key)
        hists = _core.histograms(idx, key)
        assert hists["steps"] == [s for s, _ in entries]
        assert hists["edges"] == [h.edges.tolist() for _, h in entries]
        assert hists["counts"] == [h.counts.tolist() for _, h in entries]
        assert hists["nan"] == [h.nan_count for _, h in entries]
        assert hists["pos_inf"] == [h.pos_inf_count for _, h in entries]
        assert hists["neg_inf"] == [h.neg_inf_count for _, h in entries]
        text = _core.histograms_json(idx, key)
        assert text is not None
        assert json.loads(text) == {"key": key, **hists}


def test_the_parts_of_a_finished_run_equal_its_decoded_log(finished: Path, tmp_path: Path) -> None:
    log = _finished_run(finished, tmp_path)
    index = tmp_path / "index"
    _core.index_update(str(log), str(index))
    assert _core.index_version(str(index)) == (_core.INDEX_VERSION, log.stat().st_size)
    assert len(_lines(index)) > 60
    assert _core.histogram_keys(str(index)) == ["grads", "weights"]
    _assert_parts_equal_the_log(log, index)
    # an update with nothing new changes nothing
    before = {p.name: p.read_bytes() for p in index.iterdir() if p.name != ".lock"}
    _core.index_update(str(log), str(index))
    assert {p.name: p.read_bytes() for p in index.iterdir() if p.name != ".lock"} == before


def test_a_run_polled_while_written_yields_every_line_once(tmp_path: Path) -> None:
    proc = _log(tmp_path, 150, 0.01)
    log = tmp_path / "fwtrack" / "parts" / "r1" / "run.fwlog"
    index = str(tmp_path / "index")
    seen: list[tuple[int, str, float, str]] = []
    polls = 0
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        done = proc.poll() is not None
        if log.exists() and log.stat().st_size > _core.LOG_HEADER_LEN:
            _core.index_update(str(log), index)
            total, new = _core.console_page(index, None, len(seen), 1000)
            assert [n for n, *_ in new] == list(range(len(seen), len(seen) + len(new)))
            seen.extend(new)
            assert total == len(seen)
            polls += 1
        if done:
            break
        time.sleep(0.05)
    _, err = proc.communicate(timeout=DEADLINE)
    assert proc.returncode == 0, err.decode(errors="replace")
    assert polls > 2
    local = _core.RunReader(str(log)).console()
    assert [(t, s, x) for _, s, t, x in seen] == local
    texts = [x for _, _, _, x in seen]
    assert sorted(t for t in texts if t.startswith("line ")) == sorted(
        (f"line {i} Straße ÉTÉ" if i % 7 == 0 else f"line {i} loss ok") for i in range(150)
    )
    _assert_parts_equal_the_log(log, Path(index))


def test_a_torn_tail_is_indexed_up_to_the_last_whole_frame(finished: Path, tmp_path: Path) -> None:
    log = _finished_run(finished, tmp_path)
    whole = log.read_bytes()
    torn = tmp_path / "torn.fwlog"
    torn.write_bytes(whole[: len(whole) - 7])
    index = tmp_path / "index"
    update = _core.index_update(str(torn), str(index))
    assert update["meta"]["tail_error"]
    _assert_parts_equal_the_log(torn, index)
    # the rest arrives: the update continues from the last whole frame
    shutil.copyfile(log, torn)
    _core.index_update(str(torn), str(index))
    _assert_parts_equal_the_log(log, index)


def test_an_index_of_the_previous_layout_is_rebuilt_before_it_is_read(
    finished: Path, tmp_path: Path
) -> None:
    log = _finished_run(finished, tmp_path)
    index = tmp_path / "index"
    _core.index_update(str(log), str(index))
    # the index as version 1 left it: columns and a manifest without parts
    manifest = index / "manifest.json"
    old: dict[str, Any] = json.loads(manifest.read_text())
    old["version"] = 1
    del old["parts"]
    manifest.write_text(json.dumps(old))
    for p in index.iterdir():
        if p.name.startswith(("console.", "system.", "media.", "hist.")):
            p.unlink()
    assert _core.index_version(str(index))[0] == 1
    # its history stays readable meanwhile
    assert "loss" in _core.read_series(str(index), None, 0, None, None)
    paths = RunPaths(log.parent, log, index, tmp_path)
    assert index_dir(paths) == str(index)
    assert _core.index_version(str(index))[0] == _core.INDEX_VERSION
    _assert_parts_equal_the_log(log, index)
    # a log not indexed yet is indexed before it is read
    fresh = tmp_path / "fresh"
    assert index_dir(RunPaths(log.parent, log, fresh, tmp_path)) == str(fresh)
    _assert_parts_equal_the_log(log, fresh)
