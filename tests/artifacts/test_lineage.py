"""Lineage over three local runs (dataset → training → evaluation) read back through `Api`,
and the run's artifact thread: failures surface in `wait()` and once as a warning, `finish()`
waits for pending logs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import fwtrack
from fwtrack import _core
from fwtrack.errors import ArtifactError, FwTrackWarning

from .util import start, write_tree


def test_lineage_over_three_runs(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"train.csv": "x,y\n1,2\n", "model.pt": b"\x00" * 64})
    with start(job_type="prepare") as prepare:
        data = fwtrack.Artifact("mnist", "dataset")
        data.add_file(src / "train.csv")
        prepare.log_artifact(data, aliases=["gold"])
    with start(job_type="train") as train:
        used = train.use_artifact("mnist:gold")
        assert used.version == "v0"
        model = fwtrack.Artifact("cnn", "model", metadata={"acc": 0.9})
        model.add_file(src / "model.pt")
        train.log_artifact(model)
    with start(job_type="eval") as evaluate:
        evaluate.use_artifact("cnn:latest", type="model")
        results = fwtrack.Artifact("cnn-eval", "results")
        with results.new_file("metrics.json") as f:
            json.dump({"acc": 0.91}, f)
        evaluate.log_artifact(results)

    api = fwtrack.Api()
    cnn = api.artifact("p/cnn:latest")
    producer = cnn.logged_by()
    assert producer is not None
    assert (producer.run_id, producer.project, producer.state) == (train.id, "p", "finished")
    assert [r.run_id for r in cnn.used_by()] == [evaluate.id]
    # The runs, from their logs.
    train_run = api.run(f"p/{train.id}")
    assert [a.qualified_name for a in train_run.used_artifacts()] == ["p/mnist:v0"]
    assert [a.qualified_name for a in train_run.logged_artifacts()] == ["p/cnn:v0"]
    assert [a.qualified_name for a in api.run(evaluate.id).used_artifacts()] == ["p/cnn:v0"]
    assert [a.name for a in api.run(prepare.id).logged_artifacts()] == ["mnist"]
    assert api.run(prepare.id).used_artifacts() == []

    def graph(depth: int) -> tuple[set[str], set[tuple[str, str]]]:
        g = cnn.lineage(depth)
        return {n["id"] for n in g["nodes"]}, {(e["from"], e["to"]) for e in g["edges"]}

    run = {r.id: f"run:p/{r.id}" for r in (prepare, train, evaluate)}
    nodes, edges = graph(1)
    assert nodes == {"artifact:p/cnn:v0", run[train.id], run[evaluate.id]}
    assert edges == {(run[train.id], "artifact:p/cnn:v0"), ("artifact:p/cnn:v0", run[evaluate.id])}
    nodes, edges = graph(2)
    assert nodes >= {"artifact:p/mnist:v0", "artifact:p/cnn-eval:v0"}
    assert ("artifact:p/mnist:v0", run[train.id]) in edges
    assert (run[evaluate.id], "artifact:p/cnn-eval:v0") in edges
    assert run[prepare.id] not in nodes
    nodes, edges = graph(3)
    assert (run[prepare.id], "artifact:p/mnist:v0") in edges
    kinds = {n["id"]: n for n in cnn.lineage(3)["nodes"]}
    assert kinds[run[train.id]]["kind"] == "run"
    assert kinds["artifact:p/mnist:v0"]["type"] == "dataset"

    # The registry, by type and collection.
    assert api.artifact_types("p") == [
        {"type": "dataset", "collections": 1, "versions": 1},
        {"type": "model", "collections": 1, "versions": 1},
        {"type": "results", "collections": 1, "versions": 1},
    ]
    collections = {c["name"]: c for c in api.artifact_collections("p")}
    assert collections["mnist"]["aliases"] == {"gold": "v0"}
    assert collections["cnn"]["latest"] == "v0"
    assert [c["name"] for c in api.artifact_collections("p", type="model")] == ["cnn"]
    assert [a.name for a in api.artifacts("p", type="dataset")] == ["mnist"]
    assert api.artifacts("p", name="cnn")[0].metadata == {"acc": 0.9}
    assert api.artifacts("nothing-here") == []
    with pytest.raises(ValueError, match="name the project"):
        api.artifact("cnn:latest")


def test_a_failed_log_surfaces_in_wait_and_once_as_a_warning(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a", "b.txt": "b", "ok.txt": "ok"})
    run = start()
    first = fwtrack.Artifact("gone", "dataset")
    first.add_file(src / "a.txt")
    second = fwtrack.Artifact("gone-too", "dataset")
    second.add_file(src / "b.txt")
    (src / "a.txt").unlink()  # removed between add_file and the log
    (src / "b.txt").unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        one = run.log_artifact(first)
        two = run.log_artifact(second)
        with pytest.raises(ArtifactError, match=r"a\.txt was removed before"):
            one.wait()
        with pytest.raises(ArtifactError, match=r"b\.txt"):
            two.wait()
    messages = [str(w.message) for w in caught if issubclass(w.category, FwTrackWarning)]
    assert len(messages) == 1
    assert "logging artifact 'gone' failed" in messages[0]
    # The run goes on: logging, and logging artifacts.
    run.log({"loss": 1.0})
    ok = fwtrack.Artifact("fine", "dataset")
    ok.add_file(src / "ok.txt")
    assert run.log_artifact(ok).wait().version == "v0"
    run.finish()


def test_finish_waits_for_pending_logs(tmp_dir: Path) -> None:
    files = {f"f{i}.bin": bytes([i % 256]) * 4096 for i in range(300)}
    src = write_tree(tmp_dir / "src", files)
    run = start()
    logged = [run.log_artifact(src, name=f"set-{i}", type="dataset") for i in range(3)]
    run.finish()
    assert [a.wait().version for a in logged] == ["v0", "v0", "v0"]
    meta = _core.RunReader(run.dir).meta()
    assert [b["name"] for b in meta["artifacts"]["logged"]] == ["set-0", "set-1", "set-2"]
    with pytest.raises(fwtrack.errors.RunFinishedError):
        run.log_artifact(src, name="late", type="dataset")


def test_a_disabled_run_logs_nothing(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    with fwtrack.init(project="p", mode="disabled") as run:
        art = run.log_artifact(src / "a.txt", name="x", type="dataset")
        assert art.wait() is art
        assert art.version is None
    assert not (tmp_dir / "fwtrack" / ".artifacts").exists()


def test_logged_record_carries_the_version(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    with start() as run:
        logged = run.log_artifact(src, name="rec", type="dataset", aliases=["x"]).wait()
        run.use_artifact("rec:x")
    meta = _core.RunReader(run.dir).meta()
    body = meta["artifacts"]["logged"][0]
    assert body["id"] == logged.id
    assert (body["version"], body["digest"], body["aliases"]) == ("v0", logged.digest, ["x"])
    assert (body["size"], body["files"]) == (1, 1)
    used = meta["artifacts"]["used"][0]
    assert (used["ref"], used["version"], used["digest"]) == ("rec:x", "v0", logged.digest)
    # The pending commit that `fwtrack sync` hands to the server.
    pending = list((Path(run.dir) / "artifacts" / "pending").glob("*.json"))
    assert len(pending) == 1
    doc = json.loads(pending[0].read_text())
    assert doc["blob_dir"] == str(tmp_dir / "fwtrack" / ".artifacts" / "blobs")
    assert (doc["id"], doc["digest"], doc["aliases"]) == (logged.id, logged.digest, ["x"])
