"""Run logs as immutable segments in a real S3-compatible store (SeaweedFS), and history-index
snapshots: two `S3Store`s over one bucket with their own cache dirs stand for two replicas.

What the bucket holds is checked from its objects; what a replica reads, from its cache file
(`RunLog.path`, the file the Rust core reads) and `read_range`.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from fwtrack.server import core
from fwtrack.server.config import S3Location
from fwtrack.server.store import RunKey
from fwtrack.server.store import segments as segments_module
from fwtrack.server.store.s3 import S3Store
from fwtrack.server.store.segments import (
    MERGE_COUNT,
    Segment,
    SegmentRunLog,
    chain,
    fetch_index,
    publish_index,
    tier,
)
from seaweed import REGION, Seaweed

from .apputil import make_run
from .harness import REPO, child_env

RUN = RunKey(project_id=1, run_id="r1", pk=7)
APPENDER = REPO / "tests" / "programs" / "segment_appender.py"
Replica = Callable[[str], S3Store]


@pytest.fixture
def replica(seaweed: Seaweed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Replica:
    """`replica(name)`: an `S3Store` over one fresh bucket (prefix `team/`) with its own cache
    dir `<tmp>/<name>` (the same name: the same cache dir, as uvicorn workers share one)."""
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    location = S3Location(seaweed.new_bucket(), "team/")

    def make(name: str) -> S3Store:
        return S3Store(location, tmp_path / name, endpoint=seaweed.endpoint, region=REGION)

    return make


def segment_names(store: S3Store, run: RunKey = RUN) -> list[str]:
    prefix = f"{store.prefix}runs/{run.pk}/log/"
    pages = store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=prefix
    )
    return sorted(o["Key"][len(prefix) :] for p in pages for o in p.get("Contents", []))


def segments(store: S3Store) -> list[Segment]:
    out = []
    for name in segment_names(store):
        if not name.startswith("cut-"):
            start, end = name.split("-")
            out.append(Segment(int(start, 16), int(end, 16)))
    return out


def append(runlog: SegmentRunLog, data: bytes) -> int:
    """Append `data` at the stored end under the lock; returns where it went."""
    with runlog.locked(create=True) as handle:
        at = handle.size()
        handle.append(data, at)
        return at


def read_all(runlog: SegmentRunLog, end: int) -> bytes:
    return b"".join(runlog.read_range(0, end))


def test_chain_takes_the_furthest_reaching_segment_and_stops_at_a_gap() -> None:
    segs = [Segment(0, 10), Segment(0, 4), Segment(4, 30), Segment(10, 20), Segment(40, 50)]
    assert chain(segs) == [Segment(0, 10), Segment(4, 30)]
    assert chain([Segment(5, 9)]) == []
    assert [tier(1), tier(64 << 10), tier((1 << 20) - 1), tier(1 << 20)] == [-4, 0, 0, 1]


def test_two_replicas_append_and_read_each_others_bytes(replica: Replica) -> None:
    a, b = replica("a"), replica("b")
    log_a, log_b = a.run_log(RUN), b.run_log(RUN)
    with pytest.raises(FileNotFoundError), log_b.locked(create=False):
        pass
    assert log_a.size() == 0

    first, second, third = os.urandom(1000), os.urandom(70_000), os.urandom(5)
    assert append(log_a, first) == 0
    assert append(log_a, second) == 1000
    assert segment_names(a) == [f"{0:016x}-{1000:016x}", f"{1000:016x}-{71000:016x}"]
    # b has no cache: it reads the bucket, with ranged GETs from any offset
    assert log_b.size() == 71_000
    assert b"".join(log_b.read_range(990, 1010)) == (first + second)[990:1010]
    assert log_b.path.read_bytes() == first + second  # its cache: a prefix, brought to the end
    # b appends (the PostgreSQL row lock would order it after a's); a catches up
    with log_b.locked(create=False) as handle:
        assert handle.size() == 71_000
        assert handle.read(4, 998) == (first + second)[998:1002]
        handle.append(third, 71_000)
    assert log_a.path.read_bytes() == first + second  # not yet: nobody asked
    assert log_a.sync(71_005) == 71_005
    assert log_a.path.read_bytes() == first + second + third
    with log_a.locked(create=False) as handle:
        assert handle.size() == 71_005


def test_a_deleted_cache_is_rebuilt_from_the_bucket(
    replica: Replica, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache dir deleted is downloaded again, in pieces fetched several at a time and
    written in order (pieces of 4 kB here, 8 MiB in a server)."""
    monkeypatch.setattr(segments_module, "_PIECE", 4096)
    a = replica("a")
    data = os.urandom(100_000)
    pos = 0
    for size in (1, 500, 17, 9000, 100_000 - 9518):
        append(a.run_log(RUN), data[pos : pos + size])
        pos += size
    shutil.rmtree(tmp_path / "a")
    again = replica("a").run_log(RUN)
    assert not again.path.exists()
    with again.locked(create=False) as handle:
        assert handle.size() == pos
    assert again.path.read_bytes() == data[:pos]


def test_leftovers_of_an_interrupted_merge_or_cut_are_harmless(replica: Replica) -> None:
    """A merged segment whose parts were not deleted yet (a merge interrupted) overlaps them
    with the same bytes; a segment past a gap (a cut interrupted) is not part of the log and
    goes at the next append."""
    a = replica("a")
    runlog = a.run_log(RUN)
    data = os.urandom(5000)
    for n in range(5):
        append(runlog, data[n * 1000 : (n + 1) * 1000])
    prefix = f"{a.prefix}runs/{RUN.pk}/log/"
    a.client.put_object(Bucket=a.bucket, Key=f"{prefix}{0:016x}-{3000:016x}", Body=data[:3000])
    gap = f"{6000:016x}-{7000:016x}"
    a.client.put_object(Bucket=a.bucket, Key=prefix + gap, Body=os.urandom(1000))
    assert runlog.size() == 5000
    assert read_all(replica("b").run_log(RUN), 7000) == data
    more = os.urandom(2000)
    assert append(runlog, more) == 5000
    assert gap not in segment_names(a)
    assert read_all(replica("c").run_log(RUN), 7000) == data + more


def test_a_truncation_reaches_the_other_replicas_caches(replica: Replica) -> None:
    """A cut (healing a torn tail) shortens the segments past it; a replica whose cache holds
    the cut bytes drops them, even once new bytes were appended after the cut."""
    a, b = replica("a"), replica("b")
    log_a, log_b = a.run_log(RUN), b.run_log(RUN)
    old = os.urandom(3000)
    for part in (old[:1000], old[1000:2000], old[2000:]):
        append(log_a, part)
    assert log_b.sync(3000) == 3000
    with log_a.locked(create=False) as handle:
        handle.truncate(1500)
        assert handle.size() == 1500
        new = os.urandom(2500)
        handle.append(new, 1500)
    assert [str(s.name) for s in segments(a)] == [
        f"{0:016x}-{1000:016x}",
        f"{1000:016x}-{1500:016x}",
        f"{1500:016x}-{4000:016x}",
    ]
    assert len([n for n in segment_names(a) if n.startswith("cut-")]) == 1
    expected = old[:1500] + new
    assert log_a.path.read_bytes() == expected
    assert log_b.sync(4000) == 4000
    assert log_b.path.read_bytes() == expected
    # a third replica that never saw the old bytes reads the same
    assert read_all(replica("c").run_log(RUN), 4000) == expected


def test_a_second_writer_of_the_same_range_never_overwrites(replica: Replica) -> None:
    """Without the database's row lock (two replicas misconfigured over two databases), the
    PUT's If-None-Match keeps the bytes first stored: the other append fails."""
    a, b = replica("a"), replica("b")
    log_a, log_b = a.run_log(RUN), b.run_log(RUN)
    mine, theirs = b"A" * 100, b"B" * 100
    with log_a.locked(create=True) as ha, log_b.locked(create=True) as hb:
        ha.append(mine, 0)
        with pytest.raises(OSError, match="other bytes"):
            hb.append(theirs, 0)
        hb.append(mine, 0)  # the same bytes again (a retried PUT): stored once, fine
    assert read_all(replica("c").run_log(RUN), 100) == mine
    assert log_b.path.read_bytes() == mine


def records(data: bytes) -> list[bytes]:
    """The `<writer>:<n>:<padding>;` records of the appenders' log."""
    assert data.endswith(b";")
    return data[:-1].split(b";")


def check_appends(data: bytes, writers: list[str], count: int) -> None:
    got = records(data)
    assert len(got) == len(writers) * count
    seen: dict[str, list[int]] = {w: [] for w in writers}
    for rec in got:
        writer, n, pad = rec.split(b":")
        assert pad == b"x" * (int(n) % 97)  # whole, never interleaved
        seen[writer.decode()].append(int(n))
    for writer in writers:
        assert seen[writer] == list(range(count))  # each once, in order


def record(writer: str, n: int) -> bytes:
    return f"{writer}:{n}:".encode() + b"x" * (n % 97) + b";"


@pytest.mark.timeout(240)
def test_concurrent_appenders_never_interleave_or_lose_bytes(
    replica: Replica, tmp_path: Path, seaweed: Seaweed
) -> None:
    """Two threads and two processes (sharing one cache dir, as uvicorn workers do) append
    to one run at once; every append lands whole, once, after everything stored before it."""
    count = 40
    a = replica("shared")

    def thread_appender(writer: str) -> None:
        runlog = a.run_log(RUN)
        for n in range(count):
            append(runlog, record(writer, n))

    location = f"{a.bucket}/{a.prefix}"
    env = {**child_env(), **seaweed.env()}
    cache = str(tmp_path / "shared")
    procs = [
        subprocess.Popen(
            [sys.executable, str(APPENDER), location, cache, str(RUN.pk), name, str(count)],
            env=env,
        )
        for name in ("p1", "p2")
    ]
    threads = [threading.Thread(target=thread_appender, args=(n,)) for n in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proc in procs:
        assert proc.wait(timeout=200) == 0
    runlog = replica("reader").run_log(RUN)
    size = runlog.size()
    data = read_all(runlog, size)
    check_appends(data, ["t1", "t2", "p1", "p2"], count)
    assert a.run_log(RUN).sync(size) == size
    assert a.run_log(RUN).path.read_bytes() == data


def test_many_small_appends_compact_into_few_segments(replica: Replica) -> None:
    a = replica("a")
    runlog = a.run_log(RUN)
    rng = random.Random(13)
    expected = bytearray()
    for _ in range(400):
        data = rng.randbytes(rng.randint(1, 600))
        append(runlog, data)
        expected += data
    segs = segments(a)
    assert chain(segs) == segs  # nothing left over: merged segments were deleted
    assert len(segs) < 3 * MERGE_COUNT
    tiers = [tier(s.size) for s in segs]
    for i in range(len(tiers) - MERGE_COUNT + 1):
        assert len(set(tiers[i : i + MERGE_COUNT])) > 1
    assert runlog.path.read_bytes() == expected
    assert read_all(replica("b").run_log(RUN), len(expected)) == expected


def test_a_reader_racing_a_compaction_reads_the_right_bytes(
    replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader lists the segments, then another replica's compaction deletes them before the
    reader gets their bytes: the reader lists again and reads the merged segment."""
    a, b = replica("a"), replica("b")
    writer = a.run_log(RUN)
    expected = bytearray()
    for n in range(MERGE_COUNT - 1):
        data = record("w", n)
        append(writer, data)
        expected += data
    reader = b.run_log(RUN)
    listed, compacted = threading.Event(), threading.Event()
    real_fetch = SegmentRunLog._fetch
    guard = threading.Lock()
    paused: list[str] = []
    calls: list[str] = []

    def paused_fetch(self: SegmentRunLog, seg: Segment, lo: int, hi: int) -> bytes:
        with guard:
            first = not paused
            paused.append(seg.name)
        if first:  # the reader has listed the small segments and is about to read one
            listed.set()
            assert compacted.wait(60)
        calls.append(seg.name)
        return real_fetch(self, seg, lo, hi)

    def read() -> None:
        reader.sync(len(expected))

    monkeypatch.setattr(reader, "_fetch", paused_fetch.__get__(reader))
    thread = threading.Thread(target=read)
    thread.start()
    assert listed.wait(60)
    last = record("w", MERGE_COUNT - 1)
    append(writer, last)  # the 16th small segment: merged into one, the small ones deleted
    expected += last
    merged = f"{0:016x}-{len(expected):016x}"
    assert segment_names(a) == [merged]
    compacted.set()
    thread.join(60)
    assert reader.path.read_bytes() == expected
    assert paused[0] != merged  # the reader's first GET was of a segment gone by then
    assert calls[-1] == merged  # it listed again and read the merged segment


def test_index_snapshot_round_trip(replica: Replica, tmp_path: Path) -> None:
    """The index published by one replica is fetched by another into an empty folder, reads
    the same series, and catches up from its log offset as the log grows."""
    a, b = replica("a"), replica("b")
    log_path = make_run(tmp_path / "client", "p", "r1", steps=300, config={"lr": 0.1})
    data = log_path.read_bytes()
    cut = len(data) // 2
    runlog = a.run_log(RUN)
    append(runlog, data[:cut])
    index_a = a.index_dir(RUN)
    core.index_update(str(runlog.path), str(index_a))
    assert publish_index(a, RUN, index_a)
    names = segment_names(a, RUN)
    prefix = f"{a.prefix}runs/{RUN.pk}/index/"
    keys = sorted(
        o["Key"][len(prefix) :]
        for o in a.client.list_objects_v2(Bucket=a.bucket, Prefix=prefix)["Contents"]
    )
    assert "manifest.json" in keys
    assert any(k.endswith(".col") for k in keys)
    assert names  # the log's segments are apart from the snapshot

    index_b = b.index_dir(RUN)
    offset = fetch_index(b, RUN, index_b)
    assert offset == core.index_read_meta(str(index_a))["log_offset"]
    assert fetch_index(b, RUN, index_b) is None  # filled: kept as it is
    before = core.read_series(str(index_a), None, 1_000_000, None, None)
    fetched = core.read_series(str(index_b), None, 1_000_000, None, None)
    assert set(fetched) == set(before)
    for key in before:
        assert fetched[key]["value"].tolist() == before[key]["value"].tolist()

    append(runlog, data[cut:])
    log_b = b.run_log(RUN)
    assert log_b.sync(len(data)) == len(data)
    result = core.index_update(str(log_b.path), str(index_b))
    assert result["log_offset"] == len(data)
    fresh = tmp_path / "fresh-index"
    rebuilt = core.index_update(str(log_path), str(fresh))
    assert 0 < result["rows_added"] < rebuilt["rows_added"]  # continued from the snapshot
    want = core.read_series(str(fresh), None, 1_000_000, None, None)
    got = core.read_series(str(index_b), None, 1_000_000, None, None)
    assert set(got) == set(want)
    for key in want:
        assert got[key]["value"].tolist() == want[key]["value"].tolist()
        assert got[key]["step"].tolist() == want[key]["step"].tolist()
    assert fetch_index(b, RunKey(1, "other", 8), tmp_path / "none") is None
