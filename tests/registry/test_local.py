"""The local model registry (`<FWTRACK_DIR>/.artifacts/registry/`): offline runs link model
versions, aliases move with an audit trail, protection is recorded, `use_model` returns a
verified download, and bad references fail with errors that say what to write instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwtrack.errors import (
    ModelNotFoundError,
    RegistryConflictError,
    RegistryRequestError,
)
from fwtrack.registry import links, parse_model_ref

QUIET = {"console": False, "system_interval": 0, "save_code": False, "capture_env": False}

pytestmark = pytest.mark.usefixtures("tmp_dir")


def _start(project: str = "p") -> fwtrack.Run:
    return fwtrack.init(project=project, mode="offline", settings=QUIET)


def _model_dir(root: Path, seed: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "weights.bin").write_bytes(seed.encode() * 4000)
    (root / "config.json").write_text(json.dumps({"seed": seed, "layers": 2}))
    return root


def _failure(handle: Any) -> BaseException:
    """The error the handle's `wait()` raises (it must raise)."""
    with pytest.raises(fwtrack.FwTrackError) as info:
        handle.wait()
    return info.value


def _tree(root: str | os.PathLike[str]) -> dict[str, bytes]:
    base = Path(root)
    return {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}


def test_link_aliases_audit_and_use_model_round_trip(tmp_path: Path) -> None:
    run = _start()
    run.log({"eval/accuracy": 0.5, "loss": 1.0})
    first = run.link_model(_model_dir(tmp_path / "a", "a"), "registry/cnn", aliases=["staging"])
    v0 = first.wait()
    assert v0 is not None
    assert (v0.model, v0.version, v0.aliases) == ("cnn", "v0", ["latest", "staging"])
    assert v0.artifact.type == "model"
    assert v0.artifact.name == f"model-{run.id}"
    art = fwtrack.Artifact("cnn-weights", type="model", metadata={"epoch": 3})
    art.add_dir(str(_model_dir(tmp_path / "b", "b")))
    logged = run.log_artifact(art)
    second = run.link_artifact(logged, "cnn", aliases=["staging", "production"])
    v1 = second.wait()
    assert v1 is not None
    assert (v1.version, v1.aliases) == ("v1", ["latest", "production", "staging"])
    assert v1.run is not None
    assert v1.run.run_id == run.id
    # Linking the same artifact version again gives its model version (aliases added).
    again = run.link_artifact(logged, "registry/cnn", aliases=["candidate"]).wait()
    assert again is not None
    assert again.version == "v1"
    assert "candidate" in again.aliases
    run.summary["eval/accuracy"] = 0.9
    run.finish()

    reg = fwtrack.Api().registry
    (model,) = reg.models()
    assert model.name == "cnn"
    assert model.entity is None
    assert model.version_count == 2
    assert model.latest == "v1"
    assert model.stages == {"staging": "v1", "production": "v1", "archived": None}
    assert reg.aliases("cnn") == {
        "candidate": "v1",
        "latest": "v1",
        "production": "v1",
        "staging": "v1",
    }
    assert [v.version for v in reg.versions("cnn")] == ["v1", "v0"]
    assert reg.version("registry/cnn:production").version == "v1"
    assert reg.version("cnn@staging").version == "v1"
    assert reg.version("cnn:v0").artifact.digest == v0.artifact.digest

    # Moving an alias, compare-and-set, removing it.
    moved = reg.move_alias("cnn", "production", "v0", expect="v1")
    assert moved.version == "v0"
    assert "production" in moved.aliases
    with pytest.raises(RegistryConflictError, match="names v0, not v1"):
        reg.move_alias("cnn", "production", "v1", expect="v1")
    assert reg.remove_alias("cnn", "candidate") == "v1"
    # Protection is recorded (and shown), not enforced for the local user.
    assert reg.protect("cnn", "production").protected_aliases == ["production"]
    reg.move_alias("cnn", "production", "v1")
    assert reg.protect("cnn", "production", protected=False).protected_aliases == []
    updated = reg.update("registry/cnn", description="# CNN", tags=["vision"], maintainers=["ann"])
    assert (updated.description, updated.tags, updated.maintainers) == (
        "# CNN",
        ["vision"],
        ["ann"],
    )
    assert [m.name for m in reg.models(tag="vision")] == ["cnn"]

    trail = [(a.action, a.alias, a.from_version, a.to_version) for a in reg.audit("cnn")]
    assert trail == [
        ("maintainers", None, None, None),
        ("update", None, None, None),
        ("unprotect", "production", None, None),
        ("alias.set", "production", "v0", "v1"),
        ("protect", "production", None, None),
        ("alias.remove", "candidate", "v1", None),
        ("alias.set", "production", "v1", "v0"),
        ("alias.set", "candidate", None, "v1"),
        ("alias.set", "staging", "v0", "v1"),
        ("alias.set", "production", None, "v1"),
        ("link", None, None, "v1"),
        ("alias.set", "staging", None, "v0"),
        ("link", None, None, "v0"),
    ]
    assert [a.id for a in reg.audit("cnn", limit=2)] == [13, 12]
    assert all(a.user for a in reg.audit("cnn"))

    card = reg.card("registry/cnn:v1")
    assert card["version"]["version"] == "v1"
    assert card["run"]["id"] == run.id
    assert card["run"]["state"] == "finished"
    assert card["evaluation"]["eval/accuracy"] == 0.9

    # The offline run kept its links for `fwtrack sync`, in link order.
    pending = links.pending_links(run.dir)
    assert [(d["model"], d["aliases"]) for d in pending] == [
        ("cnn", ["staging"]),
        ("cnn", ["production", "staging"]),
        ("cnn", ["candidate"]),
    ]


def test_use_model_returns_a_verified_download_and_records_the_use(tmp_path: Path) -> None:
    run = _start()
    source = _model_dir(tmp_path / "m", "m")
    run.link_model(source, "cnn", aliases=["production"]).wait()
    run.finish()

    user = _start("serve")
    path = user.use_model("registry/cnn:production")
    assert _tree(path) == _tree(source)
    # A corrupted file of the download is fetched again by the next use_model.
    (Path(path) / "weights.bin").write_bytes(b"corrupt")
    (Path(path) / "config.json").unlink()
    assert user.use_model("cnn@production") == path
    assert _tree(path) == _tree(source)
    user.finish()
    used = fwtrack.Api().run(f"serve/{user.id}").used_artifacts()
    assert [a.name for a in used] == [f"model-{run.id}"]
    assert fwtrack.Api().registry.version("cnn").download(tmp_path / "again") == (
        tmp_path / "again"
    )
    assert _tree(tmp_path / "again") == _tree(source)


def test_module_level_shortcuts_use_the_active_run(tmp_path: Path) -> None:
    with pytest.raises(fwtrack.errors.NoActiveRunError, match=r"fwtrack\.init"):
        fwtrack.link_model(tmp_path, "cnn")
    _start()
    handle = fwtrack.link_model(_model_dir(tmp_path / "m", "x"), "cnn", name="my-model")
    version = handle.wait()
    assert version is not None
    assert version.artifact.name == "my-model"
    assert Path(fwtrack.use_model("cnn")).is_dir()
    art = fwtrack.Api().artifact("p/my-model:latest")
    assert fwtrack.link_artifact(art, "other", aliases=["best"]).wait().aliases == [  # type: ignore[union-attr]
        "best",
        "latest",
    ]
    fwtrack.finish()


def test_linking_needs_a_model_artifact(tmp_path: Path) -> None:
    run = _start()
    data = fwtrack.Artifact("mnist", type="dataset")
    data.add_file(str(_model_dir(tmp_path / "d", "d") / "config.json"))
    with pytest.raises(RegistryRequestError, match="type 'dataset', not 'model'"):
        run.link_artifact(data, "registry/cnn")
    logged = run.log_artifact(data).wait()
    with pytest.raises(RegistryRequestError, match="type='model'"):
        fwtrack.Api().registry.link(logged, "cnn")
    run.finish()


def test_not_found_lists_what_exists(tmp_path: Path) -> None:
    run = _start()
    run.link_model(_model_dir(tmp_path / "m", "m"), "cnn", aliases=["staging"]).wait()
    reg = fwtrack.Api().registry
    with pytest.raises(ModelNotFoundError, match=r"'rnn' does not exist.*the models are cnn"):
        reg.model("rnn")
    with pytest.raises(ModelNotFoundError, match=r"no version 'production': it has v0, staging"):
        reg.version("cnn:production")
    with pytest.raises(ModelNotFoundError, match=r"no version 'v7'"):
        run.use_model("registry/cnn:v7")
    with pytest.raises(LookupError):  # ModelNotFoundError is a LookupError too
        reg.versions("rnn")
    run.finish()


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("models/cnn", "use 'registry/<model>'"),
        ("a/b/registry/cnn", "use 'registry/<model>'"),
        ("registry/cnn:", "nothing after ':' or '@'"),
        ("registry/cnn@a@b", "more than one version part"),
        ("registry/c nn", "invalid registry reference"),
        ("registry/cnn:bad alias!", "is not a version"),
        ("bad entity!/registry/cnn", "invalid registry reference"),
    ],
)
def test_bad_references_say_what_works(ref: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_model_ref(ref)
    assert "registry/mnist-cnn:production" in str(info.value)


def test_references_parse() -> None:
    assert parse_model_ref("registry/cnn").version_ref == "latest"
    got = parse_model_ref("team/registry/cnn@production")
    assert (got.entity, got.model, got.ref) == ("team", "cnn", "production")
    assert parse_model_ref("cnn:v3").ref == "v3"
    with pytest.raises(TypeError, match="must be a str"):
        parse_model_ref(3)


def test_bad_arguments_raise_before_anything_is_linked(tmp_path: Path) -> None:
    run = _start()
    model = _model_dir(tmp_path / "m", "m")
    with pytest.raises(ValueError, match="names a version"):
        run.link_model(model, "registry/cnn:v1")
    with pytest.raises(ValueError, match="'latest' and 'v<N>' are given by fwtrack"):
        run.link_model(model, "cnn", aliases=["v2"])
    with pytest.raises(TypeError, match="did you mean"):
        run.link_model(model, "cnn", aliases="best")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run.link_model(tmp_path / "missing", "cnn")
    with pytest.raises(TypeError, match=r"takes an fwtrack\.Artifact"):
        run.link_artifact(str(model), "cnn")  # type: ignore[arg-type]
    reg = fwtrack.Api().registry
    with pytest.raises(ValueError, match="local directory has no entities"):
        reg.model("team/registry/cnn")
    with pytest.raises(ValueError, match="'v<N>'"):
        reg.move_alias("cnn", "production", "latest")
    run.finish()
    assert not (Path(run.dir).parent.parent / ".artifacts" / "registry").exists()


def test_a_failed_log_fails_the_link_once_warned(tmp_path: Path) -> None:
    run = _start()
    model = _model_dir(tmp_path / "m", "m")
    art = fwtrack.Artifact("cnn", type="model")
    art.add_dir(str(model))
    # The collection `cnn` exists with another type: the log fails on the artifact thread.
    other = fwtrack.Artifact("cnn", type="dataset")
    other.add_file(str(model / "config.json"))
    run.log_artifact(other).wait()
    with pytest.warns(fwtrack.FwTrackWarning) as caught:
        error = _failure(run.link_artifact(art, "cnn"))
    assert any("linking 'cnn' to registry/cnn failed" in str(w.message) for w in caught)
    assert isinstance(error, fwtrack.errors.ArtifactError)
    assert "of type 'dataset'" in str(error)
    run.finish()


def test_a_disabled_run_links_nothing(tmp_path: Path) -> None:
    run = fwtrack.init(project="p", mode="disabled")
    handle = run.link_model(_model_dir(tmp_path / "m", "m"), "cnn", aliases=["best"])
    assert handle.done
    assert handle.wait() is None
    run.finish()
    assert fwtrack.Api().registry.models() == []
