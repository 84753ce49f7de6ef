"""References: file:// and s3:// against a real S3-compatible store (SeaweedFS)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import fwtrack
from fwtrack.errors import ArtifactError, ReferenceLimitError

from .util import read_tree, start, write_tree


def test_file_references(tmp_dir: Path) -> None:
    src = write_tree(tmp_dir / "shared", {"x.csv": "1,2\n", "sub/y.csv": "3,4\n"})
    with start() as run:
        art = fwtrack.Artifact("refs", "dataset")
        art.add_reference(f"file://{src}", name="raw")
        art.add_reference(f"file://{src / 'x.csv'}")
        art.add_reference(f"file://{src}", name="loose", checksum=False)
        with pytest.raises(ReferenceLimitError, match="max_objects=1") as info:
            art.add_reference(f"file://{src}", name="limited", max_objects=1)
        assert isinstance(info.value, ValueError)
        assert "limited/x.csv" not in [e.path for e in art.files()]
        logged = run.log_artifact(art).wait()
    doc = json.loads(logged.manifest.canonical())["entries"]
    assert doc["raw/x.csv"]["ref"] == f"file://{src / 'x.csv'}"
    assert doc["raw/x.csv"]["size"] == 4
    assert "mtime" in doc["raw/sub/y.csv"]
    assert doc["loose"] == {"ref": f"file://{src}"}
    assert logged.size == 4 + 4 + 4
    root = Path(logged.download(tmp_dir / "dl"))
    assert read_tree(root) == {
        "raw/x.csv": b"1,2\n",
        "raw/sub/y.csv": b"3,4\n",
        "x.csv": b"1,2\n",
        "loose/x.csv": b"1,2\n",
        "loose/sub/y.csv": b"3,4\n",
    }
    assert logged.verify(root).ok
    # The source changed since it was logged: the download says so.
    (src / "x.csv").write_text("changed!\n")
    with pytest.raises(ArtifactError, match="changed since the artifact was logged"):
        logged.download(tmp_dir / "dl2")


@pytest.fixture
def s3_env(seaweed: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in seaweed.env().items():
        monkeypatch.setenv(key, value)
    return seaweed


def test_s3_references(tmp_dir: Path, s3_env: Any) -> None:
    bucket = s3_env.new_bucket("refs")
    s3 = s3_env.client()
    objects = {f"data/part-{i}.csv": f"row,{i}\n".encode() * (i + 1) for i in range(5)}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    s3.put_object(Bucket=bucket, Key="model/weights.bin", Body=b"\x01" * 1000)
    with start() as run:
        art = fwtrack.Artifact("s3-data", "dataset")
        added = art.add_reference(f"s3://{bucket}/data/", name="raw", max_objects=5)
        assert len(added) == 5
        art.add_reference(f"s3://{bucket}/model/weights.bin")
        art.add_reference(f"s3://{bucket}/data", name="unchecked", checksum=False)
        with pytest.raises(ReferenceLimitError, match=r"more than max_objects=4") as info:
            art.add_reference(f"s3://{bucket}/data/", name="capped", max_objects=4)
        assert "hint: raise max_objects" in str(info.value)
        assert not [e for e in art.files() if e.path.startswith("capped/")]
        logged = run.log_artifact(art).wait()
    entries = json.loads(logged.manifest.canonical())["entries"]
    entry = entries["raw/part-2.csv"]
    body = objects["data/part-2.csv"]
    assert entry["ref"] == f"s3://{bucket}/data/part-2.csv"
    assert entry["size"] == len(body)
    assert entry["etag"].strip('"') == hashlib.md5(body, usedforsecurity=False).hexdigest()
    assert entries["unchecked"] == {"ref": f"s3://{bucket}/data"}
    assert entries["weights.bin"]["size"] == 1000
    with start() as run:
        used = run.use_artifact("s3-data:latest")
        root = Path(used.download(tmp_dir / "dl"))
    expected = {f"raw/{k.split('/')[1]}": v for k, v in objects.items()}
    expected |= {f"unchecked/{k.split('/')[1]}": v for k, v in objects.items()}
    expected["weights.bin"] = b"\x01" * 1000
    assert read_tree(root) == expected
    assert used.verify(root).ok
    # An object replaced after the log: its download is refused, not silently different.
    s3.put_object(Bucket=bucket, Key="data/part-2.csv", Body=b"x" * len(body))
    with pytest.raises(ArtifactError, match="do not match the ETag"):
        used.get_entry("raw/part-2.csv").download(tmp_dir / "dl2")


def test_s3_reference_to_nothing(tmp_dir: Path, s3_env: Any) -> None:
    bucket = s3_env.new_bucket("empty")
    art = fwtrack.Artifact("none", "dataset")
    with pytest.raises(FileNotFoundError, match="no object or prefix"):
        art.add_reference(f"s3://{bucket}/missing/")
    with pytest.raises(ValueError, match="unsupported scheme 'gs'"):
        art.add_reference("gs://bucket/key")
