"""Secrets on a run's command line never reach its run info (`args`), its `metadata.json`,
its run directory or the server: each form on its own, through a real run, and synced to a
real server. Redaction never shifts: one argument in, one argument out, in place."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwserver import Server, client_env, run_cli, run_program
from fwtrack.sdk.snapshot import REDACTED, safe_argv

PROGRAM = Path(__file__).resolve().parent / "programs" / "secret_args.py"
R = REDACTED

# Each secret is a distinct string, so a leak names the form that leaked.
BASIC = "c2VjcmV0LWJhc2ljLWF1dGg="  # base64 of a user:password pair
# The command line of the real run: each argument as given, beside it as stored when it
# changes; the others are stored as they are.
ARGV: list[str | tuple[str, str]] = [
    ("--set=db.password=SeCr3t-set", f"--set=db.password={R}"),
    "--header",
    ("Authorization: Bearer SeCr3t-header", f"Authorization: Bearer {R}"),
    ("--header=Authorization: Bearer SeCr3t-header-eq", f"--header=Authorization: Bearer {R}"),
    "-H",
    (f"Authorization: Basic {BASIC}", f"Authorization: Basic {R}"),
    ('--opt={"api_key": "SeCr3t-json", "lr": 0.5}', f'--opt={{"api_key":"{R}","lr":0.5}}'),
    (
        '{"db": {"user": "me", "password": "SeCr3t-bare-json"}}',
        f'{{"db":{{"user":"me","password":"{R}"}}}}',
    ),
    ("password: SeCr3t-yaml", f"password: {R}"),
    ("--api-key=SeCr3t-eq", f"--api-key={R}"),
    "--lr",
    "0.1",
    "--data=auth.json",
    "--epochs",
    "3",
    "--token",
    ("SeCr3t-next", R),
    ("https://alice:SeCr3t-url@data.example.com/set", "https://data.example.com/set"),
]
SECRET_ARGV = [a if isinstance(a, str) else a[0] for a in ARGV]
EXPECTED_ARGS = [a if isinstance(a, str) else a[1] for a in ARGV]
SECRETS = [
    "SeCr3t-set",
    "SeCr3t-header",
    "SeCr3t-header-eq",
    BASIC,
    "SeCr3t-json",
    "SeCr3t-bare-json",
    "SeCr3t-yaml",
    "SeCr3t-eq",
    "SeCr3t-next",
    "SeCr3t-url",
]


# -- each form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # redacted by the key inside `--x=k=v`, and in a separate `k=v` argument
        (["--set=db.password=S"], [f"--set=db.password={R}"]),
        (["--set", "db.password=S=with=equals"], ["--set", f"db.password={R}"]),
        (["--set=model.lr=0.1"], ["--set=model.lr=0.1"]),
        # Authorization and bearer values, wherever they appear
        (["--header", "Authorization: Bearer S"], ["--header", f"Authorization: Bearer {R}"]),
        (["--header=Authorization: Bearer S"], [f"--header=Authorization: Bearer {R}"]),
        (["-H", "authorization: Basic dXNlcjpwYXNz"], ["-H", f"authorization: Basic {R}"]),
        (["--header=Authorization: S"], [f"--header=Authorization: {R}"]),
        (["--auth-header=Bearer S"], [f"--auth-header={R}"]),
        (["--curl-args=-H 'Bearer S'"], [f"--curl-args=-H 'Bearer {R}'"]),
        (["X-Api-Key: S"], [f"X-Api-Key: {R}"]),
        # JSON objects and arrays, at any depth; compact when rewritten, as-is otherwise
        (['--opt={"api_key": "S", "lr": 0.1}'], [f'--opt={{"api_key":"{R}","lr":0.1}}']),
        (
            ['[{"name": "a", "auth": {"user": "u", "pw": "S"}}, "Bearer S"]'],
            [f'[{{"name":"a","auth":"{R}"}},"Bearer {R}"]'],
        ),
        (['{"use_auth": true, "token": null}'], ['{"use_auth": true, "token": null}']),
        (['--cfg={"lr": 0.1}'], ['--cfg={"lr": 0.1}']),
        # JSON that does not parse: the values are replaced in the text
        (['--opt={"api_key": "S", "x": 1'], [f'--opt={{"api_key": "{R}", "x": 1']),
        # YAML-ish and query-string forms
        (["password: S"], [f"password: {R}"]),
        (["--extra=db_token:S,lr:0.1"], [f"--extra=db_token:{R},lr:0.1"]),
        (["https://h/x?a=1&access_token=S"], [f"https://h/x?a=1&access_token={R}"]),
        # URL credentials stay stripped
        (["--data", "https://u:S@host/data"], ["--data", "https://host/data"]),
        (["https://auth.example.com:443/x"], ["https://auth.example.com:443/x"]),
    ],
)
def test_each_form_is_redacted(argv: list[str], expected: list[str]) -> None:
    assert safe_argv(argv) == expected


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # an `=` form never hides the next argument, whether its name or its value matched
        (["--api-key=S", "--lr", "0.1"], [f"--api-key={R}", "--lr", "0.1"]),
        (["--data=auth.json", "--lr", "0.1"], ["--data=auth.json", "--lr", "0.1"]),
        (["--set=db.password=S", "--epochs", "3"], [f"--set=db.password={R}", "--epochs", "3"]),
        (["--token-file=t.txt", "train.py"], [f"--token-file={R}", "train.py"]),
        # a value-less secret flag hides the next argument only when it is a value
        (["--password-stdin", "--lr", "0.1"], ["--password-stdin", "--lr", "0.1"]),
        (["--token", "S", "--lr", "0.1"], ["--token", R, "--lr", "0.1"]),
        (["--password", "-5x"], ["--password", R]),
        (["--token"], ["--token"]),
    ],
)
def test_redaction_never_shifts(argv: list[str], expected: list[str]) -> None:
    assert safe_argv(argv) == expected


# -- through a real run, and through a server --------------------------------------------------


def _secret_run(tmp_path: Path) -> Path:
    """Run tests/programs/secret_args.py offline with `SECRET_ARGV`; its run directory. The
    program runs from a copy outside this checkout, so the run's code snapshot (the git diff
    of a checkout with edits, which would hold this file's secrets) is not part of the test."""
    program = tmp_path / PROGRAM.name
    shutil.copy2(PROGRAM, program)
    out = run_program(str(program), *SECRET_ARGV, cwd=tmp_path, env=client_env(tmp_path))
    return Path(out["dir"])


def _assert_no_secret(where: str, data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    leaked = [s for s in SECRETS if s.encode() in raw]
    assert not leaked, f"{where} holds {leaked}"


def _assert_clean_metadata(meta: dict[str, Any]) -> None:
    assert meta["args"] == EXPECTED_ARGS
    assert Path(meta["command_line"][0]).name == PROGRAM.name
    assert meta["command_line"][1:] == EXPECTED_ARGS
    _assert_no_secret("run metadata", json.dumps(meta))


@pytest.mark.slow
def test_a_run_started_with_secrets_stores_none(tmp_path: Path) -> None:
    run_dir = _secret_run(tmp_path)
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    assert run_dir / "files" / "metadata.json" in files
    for path in files:
        _assert_no_secret(str(path.relative_to(run_dir)), path.read_bytes())

    # the run log is compressed: read its start info back through the reader too
    run = fwtrack.Api(tmp_path / "fwtrack").run(run_dir.name)
    _assert_clean_metadata(run.metadata)
    _assert_no_secret("run starts", json.dumps(run.starts))
    _assert_no_secret("console", "".join(str(line) for line in run.logs()))


@pytest.mark.slow
def test_a_synced_run_serves_no_secret(server: Server, tmp_path: Path) -> None:
    run_dir = _secret_run(tmp_path)
    env = client_env(tmp_path, FWTRACK_API_KEY=server.key)
    synced = run_cli("sync", str(run_dir), "--base-url", server.url, env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr

    base = f"/runs/admin/secrets/{run_dir.name}"
    status, detail = server.request(base)
    assert status == 200, detail
    assert json.loads(detail)["metadata"]["args"] == EXPECTED_ARGS
    _assert_no_secret("served run", detail)
    status, snapshot = server.request(f"{base}/files/metadata.json")
    assert status == 200, snapshot
    _assert_no_secret("served metadata.json", snapshot)
    _assert_clean_metadata(server.get(f"{base}/metadata"))
    assert server.get(f"{base}/files")["files"]  # the snapshot files were synced

    remote = fwtrack.Api(base_url=server.url, api_key=server.key)
    _assert_clean_metadata(remote.run(f"admin/secrets/{run_dir.name}").metadata)
