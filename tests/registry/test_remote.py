"""The model registry against real `fwtrack server` processes, on the directory store and on
a real S3-compatible store (SeaweedFS), one case on PostgreSQL: online runs link what they
just logged, `fwtrack sync` makes the links of offline runs, a server that is down during a
link gets it once it is back, `Api(base_url=...).registry` answers as the local registry
does, and a protected alias refuses a user who may not move it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwserver import Server, client_env, run_cli
from fwtrack.api import Api
from fwtrack.errors import RegistryError, RegistryPermissionError
from fwtrack.registry import ModelRegistry, links
from seaweed import Seaweed
from server.harness import PostgresCluster

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("client_dirs")]

QUIET = {"capture_env": False, "save_code": False, "console": False, "system_interval": 0}


# -- servers -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("registry-dir") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, seaweed: Seaweed) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("registry-s3") / "data", store="s3", seaweed=seaweed)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(params=["directory", "s3"])
def srv(request: pytest.FixtureRequest) -> Server:
    name = "dir_server" if request.param == "directory" else "s3_server"
    server: Server = request.getfixturevalue(name)
    return server


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cluster = PostgresCluster()
    try:
        cluster.start()
        srv = Server(tmp_path_factory.mktemp("registry-pg") / "data")
        srv.db_url = cluster.create_database()
        srv.start()
        try:
            yield srv
        finally:
            srv.stop()
    finally:
        cluster.stop()


def _online(monkeypatch: pytest.MonkeyPatch, server: Server, timeout: str = "120") -> None:
    monkeypatch.setenv("FWTRACK_BASE_URL", server.url)
    monkeypatch.setenv("FWTRACK_API_KEY", server.key)
    monkeypatch.setenv("FWTRACK_UPLOAD_TIMEOUT", timeout)


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _model_dir(root: Path, seed: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "weights.bin").write_bytes(seed.encode() * 5000)
    (root / "config.json").write_text(json.dumps({"seed": seed}))
    return root


def _failure(handle: Any) -> BaseException:
    """The error the handle's `wait()` raises (it must raise)."""
    with pytest.raises(fwtrack.FwTrackError) as info:
        handle.wait()
    return info.value


def _tree(root: str | os.PathLike[str]) -> dict[str, bytes]:
    base = Path(root)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def _remote(server: Server, key: str | None = None) -> ModelRegistry:
    return Api(base_url=server.url, api_key=key or server.key).registry


# -- online runs ---------------------------------------------------------------------------------


def _online_link_round_trip(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online(monkeypatch, server)
    model = _unique("cnn")
    run = fwtrack.init(project="reg", settings=QUIET)
    source = _model_dir(tmp_path / "m", "online")
    handle = run.link_model(source, f"registry/{model}", aliases=["candidate"])
    run.log({"loss": 0.5})  # training goes on while the version is committed and linked
    run.finish()
    version = handle.wait()
    assert version is not None
    assert (version.entity, version.model, version.version) == ("admin", model, "v0")
    assert version.aliases == ["candidate", "latest"]
    assert version.run is not None
    assert version.run.run_id == run.id
    assert not links.pending_links(run.dir)
    # The server holds it, with its alias, linked to the artifact version the run logged.
    answer = server.get(f"/registry/admin/models/{model}/versions/candidate")
    assert answer["version"] == "v0"
    assert answer["artifact"]["name"] == f"model-{run.id}"
    assert answer["artifact"]["type"] == "model"
    reg = _remote(server)
    found = reg.version(f"admin/registry/{model}:candidate")
    assert found.artifact.digest == version.artifact.digest
    # Another run uses it: verified download, the use recorded for lineage.
    user = fwtrack.init(project="serve", settings=QUIET)
    path = user.use_model(f"registry/{model}:candidate")
    assert _tree(path) == _tree(source)
    (Path(path) / "weights.bin").write_bytes(b"changed")
    assert _tree(user.use_model(f"{model}@candidate")) == _tree(source)
    user.finish()
    used_by = found.artifact.used_by()
    assert [r.run_id for r in used_by] == [user.id]


def test_online_run_links_a_just_logged_artifact(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online_link_round_trip(srv, monkeypatch, tmp_path)


def test_online_link_on_postgresql(
    pg_server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _online_link_round_trip(pg_server, monkeypatch, tmp_path)


def test_offline_links_are_made_by_sync(srv: Server, tmp_path: Path) -> None:
    model = _unique("offline")
    run = fwtrack.init(project="reg-off", mode="offline", settings=QUIET)
    first = run.link_model(_model_dir(tmp_path / "a", "a"), model, aliases=["staging"])
    art = fwtrack.Artifact("tuned", type="model")
    art.add_dir(str(_model_dir(tmp_path / "b", "b")))
    second = run.link_artifact(run.log_artifact(art), f"registry/{model}", aliases=["production"])
    assert first.wait() is not None
    assert second.wait() is not None
    run.finish()
    assert len(links.pending_links(run.dir)) == 2
    env = client_env(
        tmp_path,
        FWTRACK_BASE_URL=srv.url,
        FWTRACK_API_KEY=srv.key,
        FWTRACK_CACHE_DIR=os.environ["FWTRACK_CACHE_DIR"],
    )
    proc = run_cli("sync", run.dir, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 registry links made" in proc.stdout
    assert not links.pending_links(run.dir)
    versions = _remote(srv).versions(model)
    assert [(v.version, v.aliases) for v in versions] == [
        ("v1", ["latest", "production"]),
        ("v0", ["staging"]),
    ]
    assert versions[0].artifact.name == "tuned"
    assert versions[1].run is not None
    assert versions[1].run.run_id == run.id
    # A second sync has nothing more to make.
    again = run_cli("sync", run.dir, env=env)
    assert again.returncode == 0
    assert "registry link" not in again.stdout


# -- a server that is down -----------------------------------------------------------------------


@pytest.mark.filterwarnings("default::fwtrack.errors.FwTrackWarning")
def test_a_link_while_the_server_is_down_is_made_by_finish(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = Server(tmp_path / "down-data").start()
    try:
        _online(monkeypatch, server)
        run = fwtrack.init(project="down", settings=QUIET)
        art = fwtrack.Artifact("cnn", type="model")
        art.add_dir(str(_model_dir(tmp_path / "m", "down")))
        logged = run.log_artifact(art).wait()
        server.kill9()
        handle = run.link_artifact(logged, "registry/down-model", aliases=["production"])
        for step in range(5):
            run.log({"loss": 1.0 / (step + 1)})  # training goes on
        server.restart()
        run.finish()
        version = handle.wait()
        assert version is not None
        assert version.aliases == ["latest", "production"]
        assert not links.pending_links(run.dir)
        assert _remote(server).version("down-model:production").artifact.digest == logged.digest
    finally:
        server.stop()


@pytest.mark.filterwarnings("default::fwtrack.errors.FwTrackWarning")
def test_a_link_the_server_never_got_is_made_by_sync(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    server = Server(tmp_path / "down-data").start()
    try:
        _online(monkeypatch, server, timeout="3")
        run = fwtrack.init(project="down", settings=QUIET)
        server.kill9()
        handle = run.link_model(_model_dir(tmp_path / "m", "never"), "later", aliases=["best"])
        run.log({"loss": 1.0})
        with pytest.warns(fwtrack.FwTrackWarning, match="registry link"):
            run.finish()
        with pytest.raises(RegistryError, match="fwtrack sync"):
            handle.wait()
        assert len(links.pending_links(run.dir)) == 1
        server.restart()
        env = client_env(
            tmp_path,
            FWTRACK_BASE_URL=server.url,
            FWTRACK_API_KEY=server.key,
            FWTRACK_CACHE_DIR=os.environ["FWTRACK_CACHE_DIR"],
        )
        proc = run_cli("sync", run.dir, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 registry link made" in proc.stdout
        version = _remote(server).version("registry/later:best")
        assert version.version == "v0"
        assert version.artifact.name == f"model-{run.id}"
    finally:
        server.stop()


# -- the same answers locally and on a server ----------------------------------------------------

_SKIP_MODEL = {"entity", "created_at", "updated_at", "created_by"}
_SKIP_VERSION = {"entity", "linked_at", "linked_by", "run", "artifact_version", "_artifacts"}


def _model_fields(m: Any) -> dict[str, Any]:
    return {k: v for k, v in dataclasses.asdict(m).items() if k not in _SKIP_MODEL}


def _version_fields(v: Any) -> dict[str, Any]:
    out = {f.name: getattr(v, f.name) for f in dataclasses.fields(v) if f.name not in _SKIP_VERSION}
    art = v.artifact
    out["artifact"] = (art.name, art.type, art.version, art.digest, art.size)
    return out


def _audit_fields(reg: ModelRegistry, name: str) -> list[tuple[Any, ...]]:
    return [(a.action, a.alias, a.from_version, a.to_version) for a in reg.audit(name)]


def _same_operations(run: fwtrack.Run, reg_of: Any, model: str, tmp_path: Path) -> dict[str, Any]:
    """Link two versions from `run`, then change the model through `reg_of()`; what a user
    reads back."""
    for seed, aliases in (("p0", ["staging"]), ("p1", ["staging", "production"])):
        art = fwtrack.Artifact("parity-model", type="model", metadata={"seed": seed})
        art.add_dir(str(_model_dir(tmp_path / seed, seed)))
        run.link_artifact(run.log_artifact(art), f"registry/{model}", aliases=aliases)
    run.finish()
    reg: ModelRegistry = reg_of()
    reg.move_alias(model, "production", "v0", expect="v1")
    reg.move_alias(model, "production", "v1")  # no expect: moves wherever it is
    reg.move_alias(model, "production", "v0")
    reg.protect(model, "production")
    reg.remove_alias(model, "staging")
    reg.update(model, description="a *small* model", tags=["vision", "cnn"])
    return {
        "model": _model_fields(reg.model(model)),
        "versions": [_version_fields(v) for v in reg.versions(model)],
        "production": _version_fields(reg.version(f"registry/{model}:production")),
        "aliases": reg.aliases(model),
        "audit": _audit_fields(reg, model),
        "card_evaluation": reg.card(f"{model}:v1")["evaluation"],
    }


def test_the_server_registry_answers_like_the_local_one(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    model = _unique("parity")
    offline = fwtrack.init(project="parity", mode="offline", settings=QUIET)
    offline.summary["eval/accuracy"] = 0.75
    local = _same_operations(offline, lambda: fwtrack.Api().registry, model, tmp_path / "l")
    _online(monkeypatch, srv)
    online = fwtrack.init(project="parity", settings=QUIET)
    online.summary["eval/accuracy"] = 0.75
    remote = _same_operations(online, lambda: _remote(srv), model, tmp_path / "r")
    assert remote == local
    assert local["model"]["protected_aliases"] == ["production"]
    assert local["aliases"] == {"latest": "v1", "production": "v0"}
    assert local["card_evaluation"] == {"eval/accuracy": 0.75}


# -- permissions ---------------------------------------------------------------------------------


def test_a_protected_alias_refuses_a_member_with_the_servers_message(
    srv: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    admin = Api(base_url=srv.url, api_key=srv.key)
    team = _unique("team")
    member = _unique("bob")
    _user, key = admin.create_user(member)
    admin.create_team(team).add_member(member)
    # The member logs and links a model in the team's registry (allowed to any member) ...
    _online(monkeypatch, srv)
    monkeypatch.setenv("FWTRACK_API_KEY", key.api_key)
    monkeypatch.setenv("FWTRACK_ENTITY", team)
    run = fwtrack.init(project="team-models", settings=QUIET)
    first = run.link_model(_model_dir(tmp_path / "a", "a"), f"{team}/registry/guarded")
    assert first.wait() is not None
    # ... the team's admin protects `production` and promotes v0 ...
    admin_reg = admin.registry
    admin_reg.protect(f"{team}/registry/guarded", "production")
    admin_reg.move_alias(f"{team}/registry/guarded", "production", "v0")
    second = run.link_model(
        _model_dir(tmp_path / "b", "b"), f"{team}/registry/guarded", aliases=["production"]
    )
    with pytest.warns(fwtrack.FwTrackWarning, match="production"):
        refused_link = _failure(second)
    assert isinstance(refused_link, RegistryPermissionError)
    run.finish()
    # ... and the member may not move it.
    member_reg = Api(base_url=srv.url, api_key=key.api_key).registry
    with pytest.raises(RegistryPermissionError, match="production") as refused:
        member_reg.move_alias(f"{team}/registry/guarded", "production", "v0")
    assert refused.value.detail
    assert refused.value.detail in str(refused.value)
    assert "production" in str(refused_link)
    member_reg.move_alias(f"{team}/registry/guarded", "staging", "v0")  # unprotected: fine
    assert admin_reg.aliases(f"{team}/registry/guarded") == {
        "latest": "v0",
        "production": "v0",
        "staging": "v0",
    }
    actions = [a.action for a in admin_reg.audit(f"{team}/registry/guarded")]
    assert actions == ["alias.set", "alias.set", "protect", "link"]
