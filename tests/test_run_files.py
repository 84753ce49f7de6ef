"""`run.save(glob_str, base_path, policy)` with W&B's glob and base_path rules and return value,
files written into `run.dir` captured at finish, and `run.log_code()` as a code artifact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fwtrack
from fwtrack.errors import FwTrackWarning
from fwtrack.sdk import files


def _names(run: fwtrack.Run) -> list[str]:
    return sorted(f.name for f in fwtrack.Api().run(run.id).files())


def _files(run: fwtrack.Run) -> Path:
    return Path(run.dir) / "files"


def _quiet_run() -> fwtrack.Run:
    return fwtrack.init(project="files", settings={"save_code": False, "capture_env": False})


def _tree(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}")


def test_relative_glob_keeps_its_path_and_returns_the_copies(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["out/ckpt/a.pt", "out/ckpt/b.pt", "out/ckpt/c.txt", "out/ckpt/sub/d.pt"])
    run = _quiet_run()
    saved = run.save("out/ckpt/*.pt")
    assert saved == [str(_files(run) / "out/ckpt/a.pt"), str(_files(run) / "out/ckpt/b.pt")]
    assert (_files(run) / "out/ckpt/a.pt").read_text() == "content of out/ckpt/a.pt"
    # A glob across folders keeps each file's folder.
    assert run.save("out/*/sub/*.pt") == [str(_files(run) / "out/ckpt/sub/d.pt")]
    run.finish()
    assert _names(run) == ["out/ckpt/a.pt", "out/ckpt/b.pt", "out/ckpt/sub/d.pt"]


def test_base_path_is_cut_from_the_names(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["these/are/myfiles/x.txt", "these/are/myfiles/y.txt"])
    run = _quiet_run()
    assert run.save("these/are/myfiles/*", base_path="these") == [
        str(_files(run) / "are/myfiles/x.txt"),
        str(_files(run) / "are/myfiles/y.txt"),
    ]
    # An absolute glob with an absolute base path keeps what lies below the base.
    assert run.save(str(tmp_dir / "these/are/myfiles/x.txt"), base_path=tmp_dir / "these/are") == [
        str(_files(run) / "myfiles/x.txt")
    ]
    run.finish()
    assert _names(run) == ["are/myfiles/x.txt", "are/myfiles/y.txt", "myfiles/x.txt"]


def test_absolute_glob_without_base_path_keeps_one_folder(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["deep/run123/a.txt", "deep/run123/b.txt"])
    run = _quiet_run()
    with pytest.warns(FwTrackWarning, match="base_path"):
        saved = run.save(str(tmp_dir / "deep/run123/*.txt"))
    assert saved == [str(_files(run) / "run123/a.txt"), str(_files(run) / "run123/b.txt")]
    run.finish()
    assert _names(run) == ["run123/a.txt", "run123/b.txt"]


def test_a_file_of_run_dir_keeps_its_path_under_it(tmp_dir: Path) -> None:
    run = _quiet_run()
    model = Path(run.dir) / "model.h5"
    model.write_bytes(b"weights")
    assert run.save(str(model), policy="now") == [str(_files(run) / "model.h5")]
    run.finish()
    assert _names(run) == ["model.h5"]


def test_bad_globs_and_policies_name_the_fix(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["data/a.txt"])
    run = _quiet_run()
    with pytest.raises(ValueError, match="policy must be 'live', 'now' or 'end'"):
        run.save("data/a.txt", policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not under base_path"):
        run.save("data/a.txt", base_path="elsewhere")
    with pytest.raises(ValueError, match="base path itself"):
        run.save("data", base_path="data")
    with pytest.raises(ValueError, match="may not start with '\\*'"):
        run.save("*/a.txt")
    with pytest.warns(FwTrackWarning, match="matched no file"):
        assert run.save("data/*.csv") == []
    with pytest.warns(FwTrackWarning, match="cloud storage URL"):
        assert run.save("s3://bucket/model.pt") == []
    with pytest.raises(TypeError, match="glob_str"):
        run.save(3)  # type: ignore[arg-type]
    run.finish()
    assert _names(run) == []


def test_literal_path_with_glob_characters(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["data/file[1].txt"])
    run = _quiet_run()
    assert run.save("data/file[1].txt", glob=False) == [str(_files(run) / "data/file[1].txt")]
    run.finish()
    assert _names(run) == ["data/file[1].txt"]


def test_policies_copy_at_their_moments(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["now.txt", "live.txt", "end.txt"])
    run = _quiet_run()
    run.save("now.txt", policy="now")
    run.save("live.txt", policy="live")
    run.save("end.txt", policy="end")
    assert (_files(run) / "now.txt").read_text() == "content of now.txt"
    assert (_files(run) / "live.txt").read_text() == "content of live.txt"
    assert not (_files(run) / "end.txt").exists()  # only at finish
    for name in ("now.txt", "live.txt", "end.txt"):
        (tmp_dir / name).write_text(f"changed {name}, and longer")
    run.finish()
    assert (_files(run) / "now.txt").read_text() == "content of now.txt"  # once, at the call
    assert (_files(run) / "live.txt").read_text() == "changed live.txt, and longer"
    assert (_files(run) / "end.txt").read_text() == "changed end.txt, and longer"


def test_live_files_are_copied_again_while_the_run_goes_on(tmp_path: Path) -> None:
    """The live watcher's look (`poll`, what its thread runs every LIVE_INTERVAL seconds)
    copies a changed file and tells the uploader; an unchanged or deleted one is left."""
    run_dir = tmp_path / "run"
    src = tmp_path / "metrics.csv"
    src.write_text("step,loss\n")
    notified: list[int] = []
    saver = files.FileSaver(str(run_dir), notify=lambda: notified.append(1))
    try:
        assert saver.save(str(src), base_path=tmp_path) == [str(run_dir / "files/metrics.csv")]
        assert notified == [1]
        assert saver.poll() is False
        src.write_text("step,loss\n0,1.5\n")
        assert saver.poll() is True
        assert (run_dir / "files/metrics.csv").read_text() == "step,loss\n0,1.5\n"
        src.unlink()
        assert saver.poll() is False  # the last copy stays
        assert (run_dir / "files/metrics.csv").exists()
    finally:
        saver.close()


def test_files_written_into_run_dir_are_saved_at_finish(tmp_dir: Path) -> None:
    run = _quiet_run()
    Path(run.dir, "predictions.json").write_text("[1, 2]")
    Path(run.dir, "plots").mkdir()
    Path(run.dir, "plots", "loss.svg").write_text("<svg/>")
    Path(run.dir, ".hidden").write_text("temporary")
    run.log({"loss": 1.0})
    run.finish()
    # The run's own entries (run.fwlog, files/, .lock ...) are not user files.
    assert _names(run) == ["plots/loss.svg", "predictions.json"]
    assert (_files(run) / "plots/loss.svg").read_text() == "<svg/>"


def test_disabled_run_saves_nothing(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["a.txt"])
    run = fwtrack.init(project="files", mode="disabled")
    assert run.save("a.txt") == []
    assert run.log_code() is None
    run.finish()
    assert not (tmp_dir / "fwtrack").exists()


def test_save_after_finish_names_the_fix(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["a.txt"])
    run = _quiet_run()
    run.finish()
    with pytest.raises(fwtrack.errors.RunFinishedError, match=r"fwtrack\.init"):
        run.save("a.txt")


def test_module_save_uses_the_active_run(tmp_dir: Path) -> None:
    _tree(tmp_dir, ["a.txt"])
    with pytest.raises(fwtrack.errors.NoActiveRunError, match=r"fwtrack\.init"):
        files.save("a.txt")
    run = _quiet_run()
    assert files.save("a.txt") == [str(_files(run) / "a.txt")]
    run.finish()


# -- log_code --------------------------------------------------------------------------------


def _code_tree(root: Path) -> None:
    _tree(
        root,
        [
            "train.py",
            "model/net.py",
            "model/weights.bin",
            "requirements.txt",
            "Dockerfile.gpu",
            "notes.md",
            "cache/tmp.py",
            "wandb/run-1/files/x.py",
        ],
    )


def test_log_code_logs_a_code_artifact_of_the_default_files(tmp_dir: Path) -> None:
    src = tmp_dir / "src"
    _code_tree(src)
    run = _quiet_run()
    art = run.log_code(str(src), name="my-code")
    assert art is not None
    assert (art.name, art.type) == ("my-code", "code")
    run.finish()
    with fwtrack.init(project="files", mode="offline") as reader:
        used = reader.use_artifact("my-code:latest")
        assert used.type == "code"
        assert sorted(e.path for e in used.files()) == [
            "Dockerfile.gpu",
            "cache/tmp.py",
            "model/net.py",
            "requirements.txt",
            "train.py",
        ]
        root = Path(used.download())
        assert (root / "model/net.py").read_text() == "content of model/net.py"


def test_log_code_include_and_exclude_with_one_or_two_arguments(tmp_dir: Path) -> None:
    _code_tree(tmp_dir)
    run = _quiet_run()
    art = run.log_code(
        ".",
        name="picked",
        include_fn=lambda path: path.endswith((".py", ".md")),
        exclude_fn=lambda path, root: os.path.relpath(path, root).startswith("cache/"),
    )
    assert art is not None
    # A custom exclude_fn replaces the default (which leaves out wandb/ and fwtrack/).
    assert sorted(e.path for e in art.manifest.entries.values()) == [
        "model/net.py",
        "notes.md",
        "train.py",
        "wandb/run-1/files/x.py",
    ]
    run.finish()


def test_log_code_default_name_and_nothing_to_log(tmp_dir: Path) -> None:
    _code_tree(tmp_dir / "src")
    run = _quiet_run()
    art = run.log_code("src")
    assert art is not None
    assert art.name.startswith("source-files-")
    assert all(c.isalnum() or c in "-_." for c in art.name)
    (tmp_dir / "empty").mkdir()
    with pytest.warns(FwTrackWarning, match="no file to log"):
        assert run.log_code("empty") is None
    with pytest.raises(FileNotFoundError, match="no such folder"):
        run.log_code("missing")
    run.finish()
