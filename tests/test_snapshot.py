"""The code and environment snapshot in `<run dir>/files/`: a training script run in a real git
repository (committed, then changed) captures its commit, branch, remote, diff, packages and a
copy of itself, never a secret; the switches turn parts off; `run.save` adds files; `run.files()`
and `run.metadata` read them back, locally and from a real server after an online run or
`fwtrack sync`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fwtrack
from fwserver import Server, client_env, run_cli, run_program
from fwtrack.sdk.snapshot import safe_argv, safe_env, strip_credentials

REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t"
REMOTE_PASSWORD = "hunter2pw"
REMOTE = f"https://alice:{REMOTE_PASSWORD}@git.example.com/team/model.git"

SCRIPT = """\
import json, sys
import fwtrack

run = fwtrack.init(project="snap", config={"lr": 0.1})
for step in range(3):
    run.log({"loss": 1.0 / (step + 1)})
run.save("notes.txt")
run.save("notes.txt", name="extra/renamed.txt")
run.finish()
print(json.dumps({"dir": run.dir, "id": run.id}))
"""


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    out = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip()


def _repo(tmp_path: Path) -> Path:
    """A git repository on branch `exp` with train.py and lib.py committed, then lib.py changed
    without committing."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "exp")
    _git(repo, "remote", "add", "origin", REMOTE)
    (repo / "train.py").write_text(SCRIPT)
    (repo / "lib.py").write_text("RATE = 1\n")
    (repo / "notes.txt").write_text("user notes\n")
    _git(repo, "add", "train.py", "lib.py")
    _git(repo, "commit", "-q", "-m", "first")
    (repo / "lib.py").write_text("RATE = 2  # uncommitted change\n")
    return repo


def _train(repo: Path, tmp_path: Path, **env: str) -> dict[str, str]:
    full = client_env(tmp_path, MY_API_TOKEN=SECRET, CUDA_VISIBLE_DEVICES="0", **env)
    full["GIT_CONFIG_GLOBAL"] = os.devnull
    argv = ("train.py", "--epochs", "3", "--api-key", SECRET, f"token={SECRET}")
    return run_program(*argv, cwd=repo, env=full)


def _all_bytes(run_dir: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in sorted(run_dir.rglob("*")) if p.is_file()]


def test_snapshot_captures_code_and_environment_without_secrets(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = _train(repo, tmp_path)
    run_dir = Path(result["dir"])
    files = run_dir / "files"

    meta = json.loads((files / "metadata.json").read_text())
    git = meta["git"]
    assert git["commit"] == _git(repo, "rev-parse", "HEAD")
    assert git["branch"] == "exp"
    assert git["remote"] == "https://git.example.com/team/model.git"
    assert git["dirty"] is True
    assert meta["entry_script"] == str(repo / "train.py")
    assert meta["command_line"] == [
        "train.py",
        "--epochs",
        "3",
        "--api-key",
        "<redacted>",
        "token=<redacted>",
    ]
    assert meta["python_executable"] == sys.executable
    assert meta["cpu"]["count"] == os.cpu_count()
    assert meta["env"]["CUDA_VISIBLE_DEVICES"] == "0"
    assert "MY_API_TOKEN" not in meta["env"]

    patch = (files / "diff.patch").read_text()
    assert "+RATE = 2  # uncommitted change" in patch
    assert "-RATE = 1" in patch
    requirements = (files / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("numpy==") for line in requirements)
    assert requirements == sorted(requirements, key=str.lower)
    assert (files / "code" / "train.py").read_text() == SCRIPT
    assert (files / "notes.txt").read_text() == "user notes\n"
    assert (files / "extra" / "renamed.txt").read_text() == "user notes\n"

    for path, data in _all_bytes(run_dir):  # run.fwlog included
        assert SECRET.encode() not in data, path
        assert REMOTE_PASSWORD.encode() not in data, path

    run = fwtrack.Api(tmp_path / "fwtrack").run(f"snap/{result['id']}")
    names = [f.name for f in run.files()]
    assert names == [
        "code/train.py",
        "diff.patch",
        "extra/renamed.txt",
        "metadata.json",
        "notes.txt",
        "requirements.txt",
    ]
    by_name = {f.name: f for f in run.files()}
    assert by_name["code/train.py"].read() == SCRIPT.encode()
    assert by_name["code/train.py"].size == len(SCRIPT.encode())
    target = by_name["extra/renamed.txt"].download(tmp_path / "out")
    assert target == tmp_path / "out" / "extra" / "renamed.txt"
    assert target.read_text() == "user notes\n"
    metadata = run.metadata
    assert metadata["git"] == git  # from the snapshot
    assert metadata["pid"] > 0  # from the run start
    assert metadata["program"] == "train.py"
    assert metadata["args"] == ["--epochs", "3", "--api-key", "<redacted>", "token=<redacted>"]


def test_switches_turn_parts_off(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    no_code = Path(_train(repo, tmp_path, FWTRACK_SAVE_CODE="false")["dir"]) / "files"
    assert sorted(p.name for p in no_code.iterdir()) == [
        "extra",
        "metadata.json",
        "notes.txt",
        "requirements.txt",
    ]
    no_env = Path(_train(repo, tmp_path, FWTRACK_CAPTURE_ENV="false")["dir"]) / "files"
    assert sorted(p.name for p in no_env.iterdir()) == ["code", "diff.patch", "extra", "notes.txt"]


def test_settings_switches_and_save_errors(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_dir / "a.txt").write_text("a")
    run = fwtrack.init(project="snap", settings={"save_code": False, "capture_env": False})
    assert run.save(tmp_dir / "a.txt", base_path=tmp_dir) == [
        str(Path(run.dir) / "files" / "a.txt")
    ]
    with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
        run.save(tmp_dir / "missing.txt", name="missing.txt")
    with pytest.raises(ValueError, match="relative path"):
        run.save(tmp_dir / "a.txt", name="../escape.txt")
    run.finish()
    assert [f.name for f in fwtrack.Api().run(run.id).files()] == ["a.txt"]
    with pytest.raises(TypeError, match="save_code"):
        fwtrack.Settings(save_code="no")  # type: ignore[arg-type]
    monkeypatch.setenv("FWTRACK_CAPTURE_ENV", "maybe")
    with pytest.raises(ValueError, match="FWTRACK_CAPTURE_ENV"):
        fwtrack.Settings()


def test_env_filter_and_url_credentials() -> None:
    env = {
        "CUDA_VISIBLE_DEVICES": "1",
        "SLURM_JOB_ID": "42",
        "SLURM_AUTH_TOKEN": "x",
        "HOME": "/root",
        "MY_API_TOKEN": SECRET,
        "SLURM_PASSWORD": "pw",
    }
    assert safe_env(env) == {"CUDA_VISIBLE_DEVICES": "1", "SLURM_JOB_ID": "42"}
    assert strip_credentials(REMOTE) == "https://git.example.com/team/model.git"
    assert strip_credentials("git@github.com:o/r.git") == "git@github.com:o/r.git"


def test_command_line_secrets_are_redacted() -> None:
    argv = [
        "train.py",
        "--lr",
        "0.1",
        "--password",
        "pw",
        "--hf-token=abc",
        "AUTH_HEADER=xyz",
        "--data",
        "https://u:p@host/data",
        "--keyboard-layout",  # a secret-looking word only ends up hiding the next value
        "us",
    ]
    assert safe_argv(argv) == [
        "train.py",
        "--lr",
        "0.1",
        "--password",
        "<redacted>",
        "--hf-token=<redacted>",
        "AUTH_HEADER=<redacted>",
        "--data",
        "https://host/data",
        "--keyboard-layout",
        "<redacted>",
    ]


@pytest.mark.slow
@pytest.mark.usefixtures("client_dirs")
def test_online_run_uploads_files_and_api_reads_them(server: Server, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = _train(repo, tmp_path, FWTRACK_BASE_URL=server.url, FWTRACK_API_KEY=server.key)
    run_dir = Path(result["dir"])
    api = fwtrack.Api(base_url=server.url, api_key=server.key)
    remote = api.run(f"admin/snap/{result['id']}")
    files = {f.name: f for f in remote.files()}
    local = {f.name: f for f in fwtrack.Api(tmp_path / "fwtrack").run(result["id"]).files()}
    assert sorted(files) == sorted(local)
    for name, f in files.items():
        assert f.read() == local[name].read(), name
        assert f.size == local[name].size
    path = files["diff.patch"].download(tmp_path / "dl")
    assert path.read_bytes() == (run_dir / "files" / "diff.patch").read_bytes()
    assert remote.metadata["git"]["branch"] == "exp"
    assert remote.metadata["python_executable"] == sys.executable


@pytest.mark.slow
def test_sync_uploads_files_once(server: Server, tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    result = _train(repo, tmp_path)
    run_dir = Path(result["dir"])
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)
    first = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    listed = server.get(f"/runs/admin/snap/{result['id']}/files")["files"]
    assert [f["path"] for f in listed] == [
        "code/train.py",
        "diff.patch",
        "extra/renamed.txt",
        "metadata.json",
        "notes.txt",
        "requirements.txt",
    ]
    # A changed user file goes up on the next sync, though the log is already there.
    (run_dir / "files" / "notes.txt").write_text("edited\n")
    again = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    status, body = server.request(f"/runs/admin/snap/{result['id']}/files/notes.txt")
    assert (status, body) == (200, b"edited\n")


def test_disabled_run_writes_no_files(tmp_dir: Path) -> None:
    run = fwtrack.init(project="snap", mode="disabled")
    run.save(__file__)
    run.finish()
    assert not (tmp_dir / "fwtrack").exists()
