"""Frame numbering from the core, as the server checks uploads with it: `frame_sequence` on
uploaded frames, `log_next_seq` on a stored log, and the header sizes `_core` exports."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import fwtrack
from fwtrack import _core


def frame_ends(data: bytes) -> list[int]:
    """The byte offsets where the frames of a whole log end (from each frame's length)."""
    ends, pos = [], _core.LOG_HEADER_LEN
    while pos < len(data):
        pos += _core.FRAME_HEADER_LEN + int.from_bytes(data[pos : pos + 4], "little")
        ends.append(pos)
    assert pos == len(data)
    return ends


@pytest.fixture
def log(tmp_dir: Path) -> Path:
    """A real run log of several frames, written in two sessions (the second resumes)."""
    for session in range(2):
        run = fwtrack.init(project="p", id="seq", resume="allow")
        for step in range(60):
            fwtrack.log({"v": float(step), "session": session})
            if step % 20 == 0:
                run.flush()
        fwtrack.finish()
    return Path(run.dir) / _core.LOG_FILE_NAME


def test_header_sizes() -> None:
    assert (_core.LOG_HEADER_LEN, _core.FRAME_HEADER_LEN) == (16, 28)


def test_frames_continue_their_log_and_are_refused_when_sent_again(log: Path) -> None:
    data = log.read_bytes()
    ends = frame_ends(data)
    assert len(ends) >= 6
    assert _core.validate_frames(data, True) == len(ends)
    total = _core.frame_sequence(data, True, 0)
    assert total > 120  # one record per row at least, plus start, config and finish records
    cut = ends[2]
    head, rest = data[:cut], data[cut:]
    first = _core.frame_sequence(head, True, 0)
    assert 0 < first < total
    assert _core.frame_sequence(rest, False, first) == total
    assert _core.frame_sequence(b"", False, total) == total
    # The rest again, after it was stored: its first frame repeats records.
    with pytest.raises(
        ValueError,
        match=rf"^the frame at byte 0 starts at record {first}, but the log continues at "
        rf"record {total} \(a frame sent again or out of order\)$",
    ):
        _core.frame_sequence(rest, False, total)
    # Frames out of order: the second frame of `rest`, then its first.
    b1, b2 = ends[3] - cut, ends[4] - cut
    swapped = rest[b1:b2] + rest[:b1]
    with pytest.raises(ValueError, match=rf"the frame at byte {b2 - b1} starts at record {first},"):
        _core.frame_sequence(swapped, False, first)


def test_log_next_seq_counts_whole_frames_of_the_stored_log(log: Path) -> None:
    data = log.read_bytes()
    ends = frame_ends(data)
    fd = os.open(log, os.O_RDONLY)
    try:
        assert _core.log_next_seq(fd, len(data)) == _core.frame_sequence(data, True, 0)
        for end in ends[:4]:
            want = _core.frame_sequence(data[:end], True, 0)
            assert _core.log_next_seq(fd, end) == want
            assert _core.log_next_seq(fd, end + 1) == want  # a frame cut short does not count
        assert _core.log_next_seq(fd, _core.LOG_HEADER_LEN) == 0
        assert os.lseek(fd, 0, os.SEEK_CUR) == 0  # read with pread
        with pytest.raises(OSError, match=rf"descriptor {fd}"):
            _core.log_next_seq(fd, len(data) + 1000)
    finally:
        os.close(fd)
    with pytest.raises(OSError, match="Bad file descriptor"):
        _core.log_next_seq(10**6, len(data))
    with pytest.raises(ValueError, match="-1 is not a file descriptor"):
        _core.log_next_seq(-1, len(data))
