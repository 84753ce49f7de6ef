"""The artifact records of the run log (kinds 11 `ArtifactLogged` and 12 `ArtifactUsed`):
written through `RunWriter.log_artifact_record`, read back whole and in log order by
`RunReader.meta()` and by the history index's meta, and skipped by a reader that does not know
their kind (as readers older than these kinds do)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

from fwtrack import _core
from fwtrack.sdk.run import _NullWriter

LOGGED = {
    "id": "0123456789abcdef0123456789abcdef",
    "ts": 1765000000.25,
    "project": "p",
    "name": "mnist-train",
    "type": "dataset",
    "digest": "blake3:" + "ab" * 32,
    "size": 123,
    "files": 2,
    "aliases": ["best"],
    "version": None,
    "description": None,
    "metadata": {"rows": 60000, "nested": {"x": [1, 2.5, "s"]}},
}
USED = {
    "ts": 1765000001.5,
    "entity": None,
    "project": "p",
    "name": "mnist-train",
    "type": "dataset",
    "digest": "blake3:" + "cd" * 32,
    "version": "v3",
    "ref": "mnist-train:latest",
}


def writer(run_dir: Path) -> _core.RunWriter:
    return _core.RunWriter(
        str(run_dir),
        json.dumps({"id": "r1", "project": "p"}),
        converter=lambda key, value: None,
        warn=lambda message: None,
    )


def test_records_read_back_whole_and_in_log_order(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.log({"loss": 1.0})
    w.log_artifact_record("used", json.dumps(USED))
    w.log_artifact_record("logged", json.dumps(LOGGED))
    second = dict(LOGGED, name="model", aliases=[], metadata={})
    w.log_artifact_record("logged", json.dumps(second))
    w.log({"loss": 0.5})
    w.finish(0)
    # After finish, an artifact record is ignored (as a system sample is).
    w.log_artifact_record("logged", json.dumps(dict(LOGGED, name="late")))

    meta = _core.RunReader(str(tmp_path)).meta()
    assert meta["artifacts"] == {"logged": [LOGGED, second], "used": [USED]}
    assert meta["rows"] == 2
    assert meta["finish"]["exit_code"] == 0

    index = _core.index_update(str(tmp_path / _core.LOG_FILE_NAME), str(tmp_path / "index"))
    assert index["meta"]["artifacts"] == meta["artifacts"]
    # The reader and the index fold the records the same way (one fold).
    assert index["meta"] == meta
    assert _core.index_read_meta(str(tmp_path / "index"))["meta"]["artifacts"] == meta["artifacts"]


def test_a_run_without_artifact_records_has_empty_lists(tmp_path: Path) -> None:
    w = writer(tmp_path)
    w.log({"x": 1})
    w.finish(0)
    assert _core.RunReader(str(tmp_path)).meta()["artifacts"] == {"logged": [], "used": []}
    empty = _core.index_read_meta(str(tmp_path / "no-index"))
    assert empty["meta"]["artifacts"] == {"logged": [], "used": []}


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        (
            "made",
            json.dumps(USED),
            r'kind="made" is not an artifact record kind; use "logged" or "used"',
        ),
        ("used", "{not json", r"not valid JSON .*; pass json.dumps\(\) of a dict"),
        ("used", json.dumps([USED]), r"must be a JSON object with string \"name\" and \"digest\""),
        ("logged", json.dumps({"digest": "blake3:00"}), r"has no \"name\""),
        ("logged", json.dumps({"name": "n"}), r"has no \"digest\""),
        ("logged", json.dumps({"name": 3, "digest": "d"}), r"\"name\" is 3, not a string"),
        ("used", json.dumps({"name": "n", "digest": None}), r"\"digest\" is null, not a string"),
    ],
)
def test_bad_kinds_and_bodies_raise_value_error(
    tmp_path: Path, kind: Any, body: str, message: str
) -> None:
    w = writer(tmp_path)
    with pytest.raises(ValueError, match=message):
        w.log_artifact_record(kind, body)
    w.finish(0)
    assert _core.RunReader(str(tmp_path)).meta()["artifacts"] == {"logged": [], "used": []}


def test_the_disabled_writer_takes_them_and_does_nothing() -> None:
    _NullWriter().log_artifact_record("logged", json.dumps(LOGGED))


# -- a reader that does not know the kinds --------------------------------------------------
# A log is built by hand (uncompressed frames, MessagePack written here), so that the same
# records can be given kinds this reader does not know, as kinds 11 and 12 are to a reader
# older than them.


def _crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _mp(v: Any) -> bytes:
    """MessagePack of None, bool, int >= 0, float, str, list and dict (all this test needs)."""
    if v is None:
        return b"\xc0"
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        raw = v.encode()
        return b"\xdb" + struct.pack(">I", len(raw)) + raw
    if isinstance(v, list):
        return b"\xdd" + struct.pack(">I", len(v)) + b"".join(_mp(x) for x in v)
    if isinstance(v, dict):
        items = b"".join(_mp(k) + _mp(x) for k, x in v.items())
        return b"\xdf" + struct.pack(">I", len(v)) + items
    raise TypeError(type(v))


def _log(records: list[tuple[int, Any]]) -> bytes:
    """A run log: the file header, then one uncompressed frame holding `records`."""
    block = b""
    for kind, body in records:
        raw = bytes([kind]) + _mp(body)
        block += struct.pack("<I", len(raw)) + raw
    frame = struct.pack("<QII", 0, len(records), len(block)) + b"\x00\x00\x00\x00" + block
    header = b"FWTRKLOG" + struct.pack("<HHI", _core.FORMAT_VERSION, 0, 0)
    return header + struct.pack("<II", len(block), _crc32c(frame)) + frame


def _records(logged_kind: int, used_kind: int) -> list[tuple[int, Any]]:
    return [
        (1, {"info": {"id": "r1", "project": "p"}}),
        (3, {"step": 0, "ts": 1.0, "rt": 0.5, "values": {"loss": 2.0}}),
        (used_kind, USED),
        (logged_kind, LOGGED),
        (3, {"step": 1, "ts": 2.0, "rt": 1.5, "values": {"loss": 1.0}}),
        (7, {"exit_code": 0, "ts": 3.0, "rt": 2.0}),
    ]


def test_a_reader_skips_kinds_it_does_not_know(tmp_path: Path) -> None:
    known = tmp_path / "known"
    unknown = tmp_path / "unknown"
    for d, kinds in ((known, (11, 12)), (unknown, (200, 250))):
        d.mkdir()
        (d / _core.LOG_FILE_NAME).write_bytes(_log(_records(*kinds)))
    # The hand-built log is what the writer writes: the real reader finds the records.
    meta = _core.RunReader(str(known)).meta()
    assert meta["artifacts"] == {"logged": [LOGGED], "used": [USED]}
    assert meta["tail_error"] is None
    # With kinds it does not know, the reader reads the rest of the run as before.
    other = _core.RunReader(str(unknown)).meta()
    assert other["tail_error"] is None
    assert other["artifacts"] == {"logged": [], "used": []}
    assert {k: v for k, v in other.items() if k != "artifacts"} == {
        k: v for k, v in meta.items() if k != "artifacts"
    }
    assert other["rows"] == 2
    assert other["records"] == 6
    hist = _core.RunReader(str(unknown)).history()
    assert list(hist["loss"]) == [2.0, 1.0]
    idx = _core.index_update(str(unknown / _core.LOG_FILE_NAME), str(tmp_path / "index"))
    # (The index computes the summary a log without snapshots lacks; the reader does not.)
    assert idx["meta"]["summary"] == {"loss": 1.0}
    assert dict(idx["meta"], summary={}) == other
