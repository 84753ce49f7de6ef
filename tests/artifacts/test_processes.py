"""Real processes: `kill -9` in the middle of `log_artifact` leaves no partial version, and two
processes logging the same name at once get two complete versions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import fwtrack
from fwtrack.artifacts.local import LocalRegistry

from .util import read_tree, spawn, write_tree

pytestmark = pytest.mark.slow


def big_tree(root: Path, files: int = 1500, size: int = 8192) -> Path:
    """`files` small files in nested directories plus two larger ones (distinct bytes)."""
    content: dict[str, bytes | str] = {}
    for i in range(files):
        content[f"d{i % 7}/e{i % 13}/f{i}.bin"] = i.to_bytes(4, "little") * (size // 4)
    content["large/a.bin"] = os.urandom(8 << 20)
    content["large/b.bin"] = os.urandom(8 << 20)
    return write_tree(root, content)


def check_versions_whole(fwdir: Path, src: Path, tmp: Path) -> list[str]:
    """Every version the registry lists downloads whole and equals `src` plus its tag file."""
    registry = LocalRegistry(fwdir)
    expected = read_tree(src)
    seen = []
    for version in registry.versions("crash", name="big"):
        art = fwtrack.Api(fwdir).artifact(f"crash/big:{version['version']}")
        root = tmp / "check" / str(version["version"])
        art.download(root)
        got = read_tree(root)
        tag = got.pop("tag.txt")
        assert got == expected, f"version {version['version']} is not whole"
        assert art.verify(root).ok
        assert art.metadata == {"tag": tag.decode()}
        seen.append(str(version["version"]))
    return seen


def read_line(proc: subprocess.Popen[str]) -> dict[str, object]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"the program ended early (exit {proc.returncode}):\n{err}")
    return dict(json.loads(line))


@pytest.mark.timeout(600)
def test_kill_9_mid_log_leaves_no_partial_version(tmp_path: Path) -> None:
    src = big_tree(tmp_path / "src")
    fwdir = tmp_path / "fwtrack"
    # Each process has a cold stat cache of its own, so every one hashes and stores every
    # file. The first one runs to the end: its duration places the kill points below over
    # the whole log (hashing, storing, the manifest, the commit, the record, after it).
    proc = spawn(
        tmp_path,
        "artifact_log.py",
        str(src),
        "big",
        "k-first",
        env={"FWTRACK_CACHE_DIR": str(tmp_path / "cache-first")},
    )
    assert read_line(proc)["phase"] == "logging"
    began = time.monotonic()
    assert read_line(proc)["phase"] == "committed"
    duration = time.monotonic() - began
    proc.communicate(timeout=60)
    survivors = ["k-first"]
    fractions = [0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05]
    for i, fraction in enumerate(fractions):
        cache = {"FWTRACK_CACHE_DIR": str(tmp_path / f"cache-{i}")}
        proc = spawn(tmp_path, "artifact_log.py", str(src), "big", f"k{i}", env=cache)
        try:
            assert read_line(proc)["phase"] == "logging"
            time.sleep(duration * fraction)
            proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode in (-signal.SIGKILL, 0)  # 0: it was through before the kill
        if "committed" in out:
            survivors.append(f"k{i}")
        versions = check_versions_whole(fwdir, src, tmp_path)
        # Every version a process reported committed is there, whole.
        api = fwtrack.Api(fwdir)
        tags = {api.artifact(f"crash/big:{v}").metadata["tag"] for v in versions}
        assert set(survivors) <= tags
    # The registry is still usable: a process that is not killed commits the next version.
    proc = spawn(tmp_path, "artifact_log.py", str(src), "big", "final")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    final = [json.loads(line) for line in out.splitlines()][-1]
    versions = check_versions_whole(fwdir, src, tmp_path)
    assert final["version"] == max(versions, key=lambda v: int(v[1:]))
    # Versions are numbered without gaps: a killed process never claimed a number.
    assert sorted(int(v[1:]) for v in versions) == list(range(len(versions)))


@pytest.mark.timeout(300)
def test_two_processes_logging_one_name_get_two_versions(tmp_path: Path) -> None:
    src = big_tree(tmp_path / "src", files=300)
    fwdir = tmp_path / "fwtrack"
    go = tmp_path / "go"
    for round_ in range(3):
        procs = [
            spawn(tmp_path, "artifact_log.py", str(src), "big", f"r{round_}p{i}", str(go))
            for i in range(2)
        ]
        try:
            go.touch()
            results = []
            for proc in procs:
                out, err = proc.communicate(timeout=120)
                assert proc.returncode == 0, err
                results.append(json.loads(out.splitlines()[-1]))
        finally:
            go.unlink(missing_ok=True)
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert results[0]["version"] != results[1]["version"]
        assert results[0]["digest"] != results[1]["digest"]
    versions = check_versions_whole(fwdir, src, tmp_path)
    assert sorted(versions, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(6)]
