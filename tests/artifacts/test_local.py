"""Artifacts logged and used offline, against the local registry under FWTRACK_DIR/.artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fwtrack
from fwtrack.artifacts.manifest import Manifest, ManifestEntry
from fwtrack.errors import ArtifactError, ArtifactNotFoundError, ArtifactVerifyError

from .util import read_tree, start, write_tree

FILES = {
    "train.csv": "a,b\n1,2\n",
    "images/cat.png": b"\x89PNG\x00\x01\x02" * 100,
    "images/deep/er/dog.png": b"\x00" * 5000,
    "empty.txt": b"",
}


def log(run: fwtrack.Run, art: fwtrack.Artifact, **kw: object) -> fwtrack.Artifact:
    return run.log_artifact(art, **kw).wait()  # type: ignore[arg-type]


def dataset(src: Path, name: str = "mnist-train") -> fwtrack.Artifact:
    art = fwtrack.Artifact(name, type="dataset", description="digits", metadata={"rows": 3})
    art.add_file(src / "train.csv")
    art.add_dir(src / "images", name="images")
    art.add_file(src / "empty.txt", name="nested/dir/empty.txt")
    with art.new_file("stats.json") as f:
        json.dump({"mean": 0.5}, f)
    with art.new_file("bin/raw.bin", mode="wb") as f:
        f.write(b"\x00\xff" * 10)
    return art


def test_round_trip_is_byte_identical(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", FILES)
    with start() as run:
        logged = log(run, dataset(src), aliases=["best"])
        assert logged.version == "v0"
        assert logged.aliases == ["best", "latest"]
        assert logged.qualified_name == "p/mnist-train:v0"
        assert logged.digest.startswith("blake3:")
        assert logged.file_count == 6
    expected = {
        "train.csv": FILES["train.csv"].encode(),  # type: ignore[union-attr]
        "images/cat.png": FILES["images/cat.png"],
        "images/deep/er/dog.png": FILES["images/deep/er/dog.png"],
        "nested/dir/empty.txt": b"",
        "stats.json": json.dumps({"mean": 0.5}).encode(),
        "bin/raw.bin": b"\x00\xff" * 10,
    }
    assert logged.size == sum(len(v) for v in expected.values())
    with start() as run:
        used = run.use_artifact("mnist-train:best")
        assert used.version == "v0"
        assert used.digest == logged.digest
        assert used.metadata == {"rows": 3}
        assert used.description == "digits"
        root = used.download()
        assert Path(root) == Path("artifacts") / "mnist-train:v0"
        assert read_tree(root) == expected
        assert used.verify(root).ok
        assert sorted(e.path for e in used.files()) == sorted(expected)
        entry = used.get_entry("images/cat.png")
        assert entry.size == len(FILES["images/cat.png"])
        one = entry.download(tmp_dir / "single")
        assert Path(one).read_bytes() == FILES["images/cat.png"]
        assert used.logged_by() is not None
        assert used.logged_by().run_id == logged.logged_by().run_id  # type: ignore[union-attr]


def test_download_root_from_env(tmp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    monkeypatch.setenv("FWTRACK_ARTIFACT_DIR", str(tmp_dir / "downloads"))
    with start() as run:
        art = fwtrack.Artifact("one", "model")
        art.add_file(src / "a.txt")
        logged = log(run, art)
        assert logged.download() == str(tmp_dir / "downloads" / "one:v0")


def test_digest_covers_entries_not_metadata_or_order(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a", "b.txt": "b"})
    one = fwtrack.Artifact("x", "dataset", metadata={"k": 1})
    one.add_file(src / "a.txt")
    one.add_file(src / "b.txt")
    two = fwtrack.Artifact("y", "model", description="other", metadata={"k": 2})
    two.add_file(src / "b.txt")
    two.add_file(src / "a.txt")
    assert one.digest == two.digest
    entries = list(one.manifest)
    assert Manifest(reversed(entries)).canonical() == one.manifest.canonical()
    canonical = one.manifest.canonical()
    assert canonical.startswith(b'{"entries":{"a.txt":{"address":"blake3:')
    assert Manifest.from_bytes(canonical) == one.manifest
    three = fwtrack.Artifact("x", "dataset")
    three.add_file(src / "a.txt", name="c.txt")
    three.add_file(src / "b.txt")
    assert three.digest != one.digest


def test_identical_content_gives_the_same_version_and_adds_aliases(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", FILES)
    with start() as run:
        first = log(run, dataset(src), aliases=["a"])
        again = log(run, dataset(src), aliases=["b"])
    assert (first.version, again.version) == ("v0", "v0")
    assert again.aliases == ["a", "b", "latest"]
    assert [v.version for v in fwtrack.Api().artifacts("p")] == ["v0"]


def test_aliases_move_and_latest_follows(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "1"})
    versions = []
    with start() as run:
        for i in range(3):
            (src / "a.txt").write_text(str(i))
            art = fwtrack.Artifact("m", "model")
            art.add_file(src / "a.txt")
            versions.append(log(run, art, aliases=["best"] if i != 2 else ["prod"]))
    assert [v.version for v in versions] == ["v0", "v1", "v2"]
    api = fwtrack.Api()
    assert api.artifact("p/m:best").version == "v1"
    assert api.artifact("p/m:latest").version == "v2"
    assert api.artifact("p/m").version == "v2"
    assert api.artifact("p/m:v0").aliases == []
    assert api.artifact("p/m:v1").aliases == ["best"]
    assert api.artifact("p/m:v2").aliases == ["latest", "prod"]
    # Moving an alias by hand: it leaves v1 for v0.
    v0 = api.artifact("p/m:v0")
    v0.aliases = ["best", "old"]
    assert api.artifact("p/m:best").version == "v0"
    assert api.artifact("p/m:v1").aliases == []
    assert api.artifact("p/m:old").version == "v0"
    # The version's digest as a reference.
    assert api.artifact(f"p/m:{versions[2].digest}").version == "v2"
    with pytest.raises(ValueError, match="'latest' and 'v<N>' are given by fwtrack"):
        v0.aliases = ["v7"]


def test_references_forms_and_projects(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    with start(project="data") as run:
        art = fwtrack.Artifact("shared", "dataset")
        art.add_file(src / "a.txt")
        log(run, art, aliases=["gold"])
    with start(project="train") as run:
        used = run.use_artifact("data/shared:gold")
        assert used.qualified_name == "data/shared:v0"
        assert run.use_artifact("data/shared:v0").digest == used.digest
        assert run.use_artifact("data/shared").version == "v0"
        with pytest.raises(ArtifactNotFoundError, match="project 'train' has no artifacts"):
            run.use_artifact("shared:gold")
        with pytest.raises(ValueError, match="is of type 'dataset'"):
            run.use_artifact("data/shared:gold", type="model")


def test_new_draft_remove_add_gives_a_new_version(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"old.csv": "old", "keep.csv": "keep", "new.csv": "new"})
    with start() as run:
        art = fwtrack.Artifact("d", "dataset", metadata={"v": 1})
        art.add_file(src / "old.csv")
        art.add_file(src / "keep.csv")
        v0 = log(run, art)
        with pytest.raises(ArtifactError, match="committed versions are immutable"):
            v0.add_file(src / "new.csv")
        with pytest.raises(ArtifactError, match="immutable"):
            v0.remove("old.csv")
        with pytest.raises(ArtifactError, match="immutable"):
            v0.metadata = {"v": 2}
        draft = v0.new_draft()
        draft.remove("old.csv")
        draft.add_file(src / "new.csv")
        draft.metadata = {"v": 2}
        v1 = log(run, draft)
    assert v1.version == "v1"
    root = v1.download(tmp_dir / "v1")
    assert read_tree(root) == {"keep.csv": b"keep", "new.csv": b"new"}
    assert v1.metadata == {"v": 2}
    assert read_tree(v0.download(tmp_dir / "v0")) == {"keep.csv": b"keep", "old.csv": b"old"}


def test_verify_reports_missing_changed_and_extra(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", FILES)
    with start() as run:
        logged = log(run, dataset(src))
    root = Path(logged.download(tmp_dir / "dl"))
    (root / "train.csv").unlink()
    (root / "images" / "cat.png").write_bytes(b"not a cat")
    (root / "images" / "extra.txt").write_text("extra")
    report = logged.verify(root)
    assert not report.ok
    assert report.missing == ["train.csv"]
    assert report.changed == ["images/cat.png"]
    assert report.extra == ["images/extra.txt"]
    with pytest.raises(ArtifactVerifyError, match=r"1 missing \(train\.csv\)") as info:
        logged.verify(root, raise_on_error=True)
    assert info.value.report == report
    # download() puts back what is missing or changed, and keeps what is right.
    kept = root / "images" / "deep" / "er" / "dog.png"
    before = kept.stat().st_ino
    logged.download(root)
    after = logged.verify(root)
    assert after.missing == []
    assert after.changed == []
    assert after.extra == ["images/extra.txt"]
    assert kept.stat().st_ino == before


def test_a_corrupt_file_in_a_download_is_found_and_fixed(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"weights.bin": bytes(range(256)) * 64})
    with start() as run:
        art = fwtrack.Artifact("model", "model")
        art.add_file(src / "weights.bin")
        log(run, art)
    with start() as run:
        used = run.use_artifact("model:latest")
        root = Path(used.download())
        data = bytearray((root / "weights.bin").read_bytes())
        data[100] ^= 0xFF  # one flipped byte, same size
        (root / "weights.bin").write_bytes(bytes(data))
        assert used.verify(root).changed == ["weights.bin"]
        used.download()
        assert used.verify(root).ok
        assert (root / "weights.bin").read_bytes() == bytes(range(256)) * 64


def test_a_corrupt_stored_blob_is_refused(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.bin": b"x" * 1000})
    with start() as run:
        art = fwtrack.Artifact("c", "dataset")
        art.add_file(src / "a.bin")
        logged = log(run, art)
    entry = logged.get_entry("a.bin")
    hexpart = str(entry.address).split(":")[1]
    blob = tmp_dir / "fwtrack" / ".artifacts" / "blobs" / hexpart[:2] / hexpart
    blob.chmod(0o644)
    blob.write_bytes(b"y" * 1000)
    with pytest.raises(ArtifactError, match="corrupt"):
        logged.download(tmp_dir / "dl")
    assert not (tmp_dir / "dl" / "a.bin").exists()


def test_log_a_path(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"x/a.txt": "a", "x/b/c.txt": "c", "one.txt": "1"})
    with start() as run:
        d = run.log_artifact(src / "x", type="dataset").wait()
        f = run.log_artifact(str(src / "one.txt"), name="single").wait()
    assert (d.name, d.type, sorted(e.path for e in d.files())) == (
        "x",
        "dataset",
        ["a.txt", "b/c.txt"],
    )
    assert (f.name, f.type, [e.path for e in f.files()]) == ("single", "unspecified", ["one.txt"])


def test_module_level_calls(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    with pytest.raises(fwtrack.errors.NoActiveRunError):
        fwtrack.use_artifact("x:latest")
    start()
    art = fwtrack.Artifact("mod", "model")
    art.add_file(src / "a.txt")
    assert fwtrack.log_artifact(art).wait().version == "v0"
    assert fwtrack.use_artifact("mod").version == "v0"
    fwtrack.finish()


def test_bad_input_is_refused_at_once(tmp_dir: Path) -> None:
    art = fwtrack.Artifact("ok-name", "dataset")
    with pytest.raises(FileNotFoundError, match=r"no such file 'missing\.csv'"):
        art.add_file("missing.csv")
    with pytest.raises(FileNotFoundError, match="no directory"):
        art.add_dir("missing-dir")
    with pytest.raises(ValueError, match=r"invalid artifact name 'bad/name'.*A-Z, a-z, 0-9"):
        fwtrack.Artifact("bad/name", "dataset")
    with pytest.raises(ValueError, match="invalid artifact type"):
        fwtrack.Artifact("fine", "no spaces")
    with pytest.raises(TypeError, match="description must be a str, got int"):
        fwtrack.Artifact("fine", "dataset", description=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metadata must be JSON"):
        fwtrack.Artifact("fine", "dataset", metadata={"x": float("nan")})
    with (
        pytest.raises(ValueError, match=r"invalid artifact entry path '\.\./x'"),
        art.new_file("../x"),
    ):
        pass
    src = write_tree(tmp_dir / "src", {"a.txt": "a"})
    art.add_file(src / "a.txt", name="dir/a.txt")
    with pytest.raises(ValueError, match=r"already has an entry 'dir/a\.txt'"):
        art.add_file(src / "a.txt", name="dir/a.txt")
    with pytest.raises(ValueError, match="is already a directory"):
        art.add_file(src / "a.txt", name="dir")
    with pytest.raises(KeyError, match="no entry 'nope'"):
        art.remove("nope")
    with start() as run:
        with pytest.raises(ValueError, match="invalid alias 'has space'"):
            run.log_artifact(art, aliases=["has space"])
        with pytest.raises(ValueError, match="'latest' and 'v<N>' are given by fwtrack"):
            run.log_artifact(art, aliases=["v3"])
        with pytest.raises(TypeError, match="did you mean"):
            run.log_artifact(art, aliases="best")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="invalid artifact reference"):
            run.use_artifact("a/b/c/d:latest")
        with pytest.raises(ArtifactNotFoundError, match="has no artifacts") as info:
            run.use_artifact("nothing:latest")
        assert isinstance(info.value, LookupError)
        log(run, art)
        with pytest.raises(ArtifactNotFoundError, match="has artifacts ok-name"):
            run.use_artifact("other:latest")
        with pytest.raises(ArtifactNotFoundError, match=r"versions and aliases v0, latest"):
            run.use_artifact("ok-name:v9")


def test_manifest_format(tmp_dir: Path) -> None:
    entries = [
        ManifestEntry("b.txt", address="blake3:" + "0" * 64, size=1),
        ManifestEntry("raw", ref="s3://bucket/other/"),
        ManifestEntry("a/x.csv", ref="s3://b/p/x.csv", size=10, etag='"abc"'),
    ]
    m = Manifest(entries)
    doc = json.loads(m.canonical())
    assert doc == {
        "version": 1,
        "entries": {
            "a/x.csv": {"ref": "s3://b/p/x.csv", "size": 10, "etag": '"abc"'},
            "b.txt": {"address": "blake3:" + "0" * 64, "size": 1},
            "raw": {"ref": "s3://bucket/other/"},
        },
    }
    assert m.size == 11
    with pytest.raises(ValueError, match="is a file and also the directory"):
        Manifest([*entries, ManifestEntry("b.txt/c", address="blake3:" + "1" * 64, size=0)])
    with pytest.raises(ValueError, match="appears twice"):
        Manifest([entries[0], entries[0]])
    with pytest.raises(ValueError, match="version 2 is not supported"):
        Manifest.from_json({"version": 2, "entries": {}})
