//! Finding whole frames in a run log that may still be growing.
//!
//! The uploader sends only whole, CRC-checked frames, so a batch always ends on a frame
//! boundary, whatever the writer is doing at the time. The layout (header, frame header,
//! CRC coverage) is fwtrack-core's codec; this module only walks it without decoding records.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use fwtrack_core::codec::{FRAME_HEADER_LEN, HEADER_LEN, MAX_FRAME_BODY, check_header};

/// Why a batch ended where it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Every byte up to the limit is in the batch (or was sent before).
    End,
    /// The next frame is not complete yet (a writer mid-write, or a torn tail).
    Torn,
    /// The batch is full; more whole frames follow.
    Full,
    /// The bytes at `offset` are not a valid frame (or not a log header).
    Corrupt { offset: u64, reason: String },
}

/// A run of whole frames read into a buffer.
#[derive(Debug)]
pub(crate) struct Batch {
    /// File offset of the first byte (0 for the header, else a frame boundary).
    pub start: u64,
    /// File offset just past the last whole frame in the batch.
    pub end: u64,
    /// Number of frames in the batch.
    pub frames: usize,
    pub stop: Stop,
}

fn frame_body_len(header: &[u8]) -> usize {
    u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize
}

/// Read whole frames starting at `start` (0 = the file header, else a frame boundary) and
/// ending at or before `limit` into `buf` (cleared first). The batch holds at most
/// `max_bytes` bytes, except that it always takes at least one frame when one is complete.
pub(crate) fn read_batch(
    file: &File,
    start: u64,
    limit: u64,
    max_bytes: usize,
    buf: &mut Vec<u8>,
) -> io::Result<Batch> {
    buf.clear();
    let mut batch = Batch {
        start,
        end: start,
        frames: 0,
        stop: Stop::End,
    };
    if start >= limit {
        return Ok(batch);
    }
    let mut pos = start;
    if start == 0 {
        if limit < HEADER_LEN as u64 {
            batch.stop = Stop::Torn;
            return Ok(batch);
        }
        let mut header = [0u8; HEADER_LEN];
        file.read_exact_at(&mut header, 0)?;
        if let Err(e) = check_header(&header, "run log") {
            batch.stop = Stop::Corrupt {
                offset: 0,
                reason: e.to_string(),
            };
            return Ok(batch);
        }
        buf.extend_from_slice(&header);
        pos = HEADER_LEN as u64;
        batch.end = pos;
    }
    let mut head = [0u8; FRAME_HEADER_LEN];
    loop {
        if pos >= limit {
            batch.stop = Stop::End;
            return Ok(batch);
        }
        if limit - pos < FRAME_HEADER_LEN as u64 {
            batch.stop = Stop::Torn;
            return Ok(batch);
        }
        file.read_exact_at(&mut head, pos)?;
        let body_len = frame_body_len(&head);
        if body_len > MAX_FRAME_BODY {
            batch.stop = Stop::Corrupt {
                offset: pos,
                reason: format!("frame length {body_len} is implausible"),
            };
            return Ok(batch);
        }
        let total = FRAME_HEADER_LEN + body_len;
        if limit - pos < total as u64 {
            batch.stop = Stop::Torn;
            return Ok(batch);
        }
        if batch.frames > 0 && buf.len() + total > max_bytes {
            batch.stop = Stop::Full;
            return Ok(batch);
        }
        let at = buf.len();
        buf.resize(at + total, 0);
        file.read_exact_at(&mut buf[at..], pos)?;
        let crc = u32::from_le_bytes([buf[at + 4], buf[at + 5], buf[at + 6], buf[at + 7]]);
        if crc32c::crc32c(&buf[at + 8..]) != crc {
            buf.truncate(at);
            batch.stop = Stop::Corrupt {
                offset: pos,
                reason: "CRC mismatch".to_owned(),
            };
            return Ok(batch);
        }
        pos += total as u64;
        batch.end = pos;
        batch.frames += 1;
    }
}

/// True when `target` is a frame boundary of the log (0, the end of the header, or the end
/// of a frame), walking frame headers from `from` (itself 0 or a known boundary) within the
/// first `limit` bytes. Bodies are not read.
pub(crate) fn is_boundary(file: &File, limit: u64, from: u64, target: u64) -> io::Result<bool> {
    if target == 0 {
        return Ok(true);
    }
    if target > limit || target < HEADER_LEN as u64 || from > target {
        return Ok(false);
    }
    let mut pos = from.max(HEADER_LEN as u64);
    let mut head = [0u8; FRAME_HEADER_LEN];
    while pos < target {
        if limit - pos < FRAME_HEADER_LEN as u64 {
            return Ok(false);
        }
        file.read_exact_at(&mut head, pos)?;
        let body_len = frame_body_len(&head);
        if body_len > MAX_FRAME_BODY {
            return Ok(false);
        }
        pos += (FRAME_HEADER_LEN + body_len) as u64;
    }
    Ok(pos == target)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use fwtrack_core::codec::{encode_frame, header};

    use super::*;

    fn frame(fill: u8, len: usize) -> Vec<u8> {
        encode_frame(&vec![fill; len], 0, 1, 1)
    }

    fn log(frames: &[Vec<u8>]) -> (tempfile::NamedTempFile, Vec<u64>) {
        let mut f = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
        let mut ends = vec![HEADER_LEN as u64];
        f.write_all(&header()).unwrap_or_else(|e| panic!("{e}"));
        for fr in frames {
            f.write_all(fr).unwrap_or_else(|e| panic!("{e}"));
            ends.push(ends[ends.len() - 1] + fr.len() as u64);
        }
        (f, ends)
    }

    #[test]
    fn batches_end_on_frame_boundaries() {
        let frames: Vec<_> = (0..5).map(|i| frame(i, 100)).collect();
        let (f, ends) = log(&frames);
        let size = ends[5];
        let mut buf = Vec::new();
        let b = read_batch(f.as_file(), 0, size, 100, &mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.end, b.frames, b.stop.clone()), (ends[1], 1, Stop::Full));
        assert_eq!(buf.len() as u64, ends[1]);
        let max = (ends[3] - ends[1]) as usize;
        let b =
            read_batch(f.as_file(), ends[1], size, max, &mut buf).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.end, b.frames, b.stop), (ends[3], 2, Stop::Full));
        let b = read_batch(f.as_file(), ends[3], size - 1, 1 << 20, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.end, b.frames, b.stop), (ends[4], 1, Stop::Torn));
        let b = read_batch(f.as_file(), ends[4], size, 1 << 20, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((b.end, b.stop), (size, Stop::End));
        for (i, e) in ends.iter().enumerate() {
            assert!(
                is_boundary(f.as_file(), size, 0, *e).unwrap_or(false),
                "end {i}"
            );
            assert!(!is_boundary(f.as_file(), size, 0, *e + 1).unwrap_or(true));
        }
        assert!(is_boundary(f.as_file(), size, ends[2], ends[4]).unwrap_or(false));
    }

    #[test]
    fn corrupt_frames_are_not_sent() {
        let mut bad = frame(7, 50);
        let n = bad.len();
        bad[n - 1] ^= 0xff;
        let (f, ends) = log(&[frame(1, 50), bad]);
        let mut buf = Vec::new();
        let b = read_batch(f.as_file(), 0, ends[2], 1 << 20, &mut buf)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(b.end, ends[1]);
        assert!(matches!(b.stop, Stop::Corrupt { offset, .. } if offset == ends[1]));
        assert_eq!(buf.len() as u64, ends[1]);
    }
}
