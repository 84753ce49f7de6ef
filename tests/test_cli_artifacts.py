"""`fwtrack artifact put|get|ls|cache cleanup` as real processes: against the local registry
(no server) and against a real `fwtrack server`."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from fwserver import Server, client_env, free_port, run_cli

pytestmark = [pytest.mark.slow]

PUT_LINE = re.compile(r"^(?P<name>[\w.-]+/[\w.-]+:v\d+) (?P<digest>blake3:[0-9a-f]{64})$")


def _data(root: Path, seed: str = "x") -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text(f"alpha {seed}\n")
    (root / "sub" / "b.bin").write_bytes(os.urandom(5000))
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _put(env: dict[str, str], *args: str) -> re.Match[str]:
    proc = run_cli("artifact", "put", *args, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    match = PUT_LINE.match(proc.stdout.strip().splitlines()[-1])
    assert match is not None, proc.stdout
    return match


def _local_env(tmp_path: Path) -> dict[str, str]:
    return client_env(tmp_path, FWTRACK_CACHE_DIR=str(tmp_path / "cache"))


def test_put_get_ls_on_the_local_registry(tmp_path: Path) -> None:
    env = _local_env(tmp_path)
    data = _data(tmp_path / "data")
    first = _put(env, str(data), "--name", "proj/ds", "--type", "dataset", "--alias", "best")
    assert first["name"] == "proj/ds:v0"
    # The same content again is the same version; a change makes the next one.
    assert _put(env, str(data), "--name", "proj/ds", "--type", "dataset")["name"] == "proj/ds:v0"
    (data / "a.txt").write_text("changed\n")
    second = _put(env, str(data), "--name", "proj/ds", "--type", "dataset")
    assert second["name"] == "proj/ds:v1"
    assert second["digest"] != first["digest"]
    # A single file.
    single = _put(env, str(data / "a.txt"), "--name", "proj/note", "--type", "text")
    assert single["name"] == "proj/note:v0"
    # The run that put it is an `artifact-put` run in the project.
    runs = run_cli("runs", "--project", "proj", env=env)
    assert runs.returncode == 0, runs.stderr
    run_ids = [line.split()[0] for line in runs.stdout.splitlines()[1:]]
    assert len(run_ids) == 4
    show = run_cli("show", f"proj/{run_ids[0]}", "--json", env=env)
    assert '"job_type": "artifact-put"' in show.stdout

    ls = run_cli("artifact", "ls", "proj", env=env)
    assert ls.returncode == 0, ls.stderr
    lines = ls.stdout.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "VERSIONS", "LATEST", "ALIASES", "SIZE", "UPDATED"]
    ds = next(line for line in lines if line.startswith("ds "))
    assert ds.split()[1:5] == ["dataset", "2", "v1", "best=v0"]
    only_text = run_cli("artifact", "ls", "proj", "--type", "text", env=env)
    assert [line.split()[0] for line in only_text.stdout.splitlines()[1:]] == ["note"]

    get = run_cli("artifact", "get", "proj/ds:best", "--root", str(tmp_path / "out"), env=env)
    assert get.returncode == 0, get.stderr
    out = Path(get.stdout.strip().splitlines()[-1])
    assert out == tmp_path / "out"
    assert (out / "a.txt").read_text() == "alpha x\n"
    assert (out / "sub" / "b.bin").read_bytes() == (data / "sub" / "b.bin").read_bytes()
    # Without --root: <FWTRACK_ARTIFACT_DIR>/<name>:<version> (./artifacts when unset).
    env["FWTRACK_ARTIFACT_DIR"] = str(tmp_path / "arts")
    proc = run_cli("artifact", "get", "proj/ds", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "arts" / "ds:v1")
    assert (tmp_path / "arts" / "ds:v1" / "a.txt").read_text() == "changed\n"


def test_put_and_get_through_a_server_and_cache_cleanup(server: Server, tmp_path: Path) -> None:
    env = client_env(
        tmp_path,
        FWTRACK_BASE_URL=server.url,
        FWTRACK_API_KEY=server.key,
        FWTRACK_CACHE_DIR=str(tmp_path / "cache"),
    )
    data = _data(tmp_path / "data", seed="online")
    put = _put(env, str(data), "--name", "cliproj/model", "--type", "model", "--alias", "prod")
    assert put["name"] == "cliproj/model:v0"
    version = server.get("/artifacts/admin/cliproj/collections/model/versions/prod")
    assert version["digest"] == put["digest"]
    # Nothing is left in staging once the version is committed.
    staging = tmp_path / "cache" / "artifacts" / "staging"
    assert not staging.exists() or not any(staging.iterdir())

    env["FWTRACK_CACHE_DIR"] = str(tmp_path / "cache2")  # another machine: fetch everything
    get = run_cli("artifact", "get", "cliproj/model:prod", "--root", str(tmp_path / "o"), env=env)
    assert get.returncode == 0, get.stderr
    assert _tree(Path(get.stdout.strip().splitlines()[-1])) == _tree(data)
    ls = run_cli("artifact", "ls", "cliproj", env=env)
    assert ls.returncode == 0, ls.stderr
    assert ls.stdout.splitlines()[1].split()[:5] == ["model", "model", "1", "v0", "prod=v0"]

    cached = sum(
        p.stat().st_size
        for p in (tmp_path / "cache2" / "artifacts" / "blobs").rglob("*")
        if p.is_file()
    )
    assert cached >= 5000
    clean = run_cli("artifact", "cache", "cleanup", "1KB", env=env)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.startswith("freed ")
    assert "left (limit 1000 B)" in clean.stdout
    left = sum(
        p.stat().st_size
        for p in (tmp_path / "cache2" / "artifacts" / "blobs").rglob("*")
        if p.is_file()
    )
    assert left <= 1000
    again = run_cli("artifact", "cache", "cleanup", "1KB", env=env)
    assert again.stdout.startswith("freed 0 B (0 files)")


def test_bad_input_names_the_problem(tmp_path: Path) -> None:
    env = _local_env(tmp_path)
    missing = run_cli("artifact", "put", str(tmp_path / "nope"), "--name", "p/a", "--type", "t",
                      env=env)  # fmt: skip
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr
    data = _data(tmp_path / "data")
    bare = run_cli("artifact", "put", str(data), "--name", "ds", "--type", "dataset", env=env)
    assert bare.returncode == 1
    assert "PROJECT/NAME" in bare.stderr
    alias = run_cli("artifact", "put", str(data), "--name", "p/ds", "--type", "dataset",
                    "--alias", "v3", env=env)  # fmt: skip
    assert alias.returncode == 1
    assert "'v3'" in alias.stderr
    _put(env, str(data), "--name", "p/ds", "--type", "dataset")
    unknown = run_cli("artifact", "get", "p/ds:v7", env=env)
    assert unknown.returncode == 1
    assert "v7" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    size = run_cli("artifact", "cache", "cleanup", "lots", env=env)
    assert size.returncode == 1
    assert "'lots'" in size.stderr
    assert "10GiB" in size.stderr


def test_put_to_a_server_that_is_down_says_how_to_commit_later(tmp_path: Path) -> None:
    port = free_port()
    server = Server(tmp_path / "server-data", port=port)
    env = client_env(
        tmp_path,
        FWTRACK_BASE_URL=server.url,
        FWTRACK_API_KEY=server.key,
        FWTRACK_CACHE_DIR=str(tmp_path / "cache"),
        FWTRACK_UPLOAD_TIMEOUT="2",
    )
    data = _data(tmp_path / "data", seed="down")
    proc = run_cli("artifact", "put", str(data), "--name", "later/ds", "--type", "dataset", env=env)
    assert proc.returncode == 1
    assert "not committed" in proc.stderr
    sync_line = next(line for line in proc.stderr.splitlines() if "fwtrack sync " in line)
    run_dir = sync_line.split("fwtrack sync ", 1)[1].strip()
    assert len(list((Path(run_dir) / "artifacts" / "pending").glob("*.json"))) == 1
    server.start()
    try:
        synced = run_cli("sync", run_dir, env=env)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        version = server.get("/artifacts/admin/later/collections/ds/versions/latest")
        assert version["version"] == "v0"
        got = run_cli("artifact", "get", "later/ds", "--root", str(tmp_path / "o"), env=env)
        assert got.returncode == 0, got.stderr
        assert _tree(tmp_path / "o") == _tree(data)
        # Committed: its staging is gone.
        assert not list((tmp_path / "cache" / "artifacts" / "staging").iterdir())
    finally:
        server.stop()
