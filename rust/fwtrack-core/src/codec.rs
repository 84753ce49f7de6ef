//! The byte layout of a run log: a file header, then frames (blocks of records).
//!
//! ```text
//! header (16 bytes): magic "FWTRKLOG" | version u16 LE | flags u16 LE (0) | reserved u32 (0)
//! frame:  body_len u32 | crc32c u32 | first_seq u64 | count u32 | raw_len u32 | codec u8 | 0 0 0
//!         | body (body_len bytes)
//! ```
//! The CRC32C covers everything in the frame after the CRC field (the rest of the frame
//! header and the body). `codec` 0 stores the records raw, 1 compresses them with zstd. The
//! uncompressed records are `len u32 LE | kind u8 | MessagePack body (len - 1 bytes)`, `count`
//! of them, numbered `first_seq..first_seq + count`.

use crate::error::{Error, Result};
use crate::record::Record;

/// The file magic.
pub const MAGIC: &[u8; 8] = b"FWTRKLOG";
/// The format version this code writes and the highest it reads.
pub const FORMAT_VERSION: u16 = 1;
/// Size of the file header.
pub const HEADER_LEN: usize = 16;
/// Size of a frame header.
pub const FRAME_HEADER_LEN: usize = 28;
/// Largest body a frame may have; a larger length field means corruption.
pub const MAX_FRAME_BODY: usize = 256 << 20;
/// Raw (uncompressed) records.
pub const CODEC_NONE: u8 = 0;
/// zstd-compressed records.
pub const CODEC_ZSTD: u8 = 1;

/// The 16-byte file header.
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

/// Check a file header; `path` only names the file in errors.
pub fn check_header(bytes: &[u8], path: &str) -> Result<u16> {
    if bytes.len() < HEADER_LEN {
        return Err(Error::NotALog {
            path: path.to_owned(),
            reason: format!("{} bytes is shorter than the header", bytes.len()),
        });
    }
    if &bytes[..8] != MAGIC {
        return Err(Error::NotALog {
            path: path.to_owned(),
            reason: "the magic bytes are wrong".to_owned(),
        });
    }
    let version = u16::from_le_bytes([bytes[8], bytes[9]]);
    if version == 0 || version > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_owned(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(version)
}

/// Append one record (length, kind, body) to an uncompressed block buffer.
pub fn push_record(raw: &mut Vec<u8>, record: &Record) {
    let start = raw.len();
    raw.extend_from_slice(&[0, 0, 0, 0]);
    raw.push(record.kind());
    record.encode_body(raw);
    let len = (raw.len() - start - 4) as u32;
    raw[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// Build a whole frame from an uncompressed block holding `count` records.
pub fn encode_frame(raw: &[u8], first_seq: u64, count: u32, zstd_level: i32) -> Vec<u8> {
    let compressed = zstd::bulk::compress(raw, zstd_level).ok();
    let (codec, body): (u8, &[u8]) = match &compressed {
        Some(c) if c.len() < raw.len() => (CODEC_ZSTD, c),
        _ => (CODEC_NONE, raw),
    };
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(&first_seq.to_le_bytes());
    frame.extend_from_slice(&count.to_le_bytes());
    frame.extend_from_slice(&(raw.len() as u32).to_le_bytes());
    frame.extend_from_slice(&[codec, 0, 0, 0]);
    frame.extend_from_slice(body);
    let crc = crc32c::crc32c(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    frame
}

/// Why a scan stopped before the end of the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tail {
    /// Every byte belonged to a whole, valid frame.
    Clean,
    /// The last frame is incomplete (a crash mid-write, or a writer still writing).
    Torn { offset: u64, missing: u64 },
    /// A frame failed its CRC or could not be decoded.
    Corrupt { offset: u64, reason: String },
}

impl Tail {
    /// A human-readable description, or None when clean.
    pub fn describe(&self) -> Option<String> {
        match self {
            Tail::Clean => None,
            Tail::Torn { offset, missing } => Some(format!(
                "torn tail at byte {offset}: the last frame lacks {missing} bytes"
            )),
            Tail::Corrupt { offset, reason } => {
                Some(format!("corrupt frame at byte {offset}: {reason}"))
            }
        }
    }
}

/// A decoded frame.
#[derive(Debug)]
pub struct Frame {
    /// Byte offset of the frame in the file.
    pub offset: u64,
    /// Byte length of the whole frame.
    pub len: u64,
    pub first_seq: u64,
    pub records: Vec<Record>,
}

enum Step {
    Frame(Frame),
    End(Tail),
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// A whole, CRC-checked frame with its records still encoded (see [`next_raw_frame`]).
#[derive(Debug)]
pub struct RawFrame<'a> {
    /// Byte offset of the frame in the file.
    pub offset: u64,
    /// Byte length of the whole frame.
    pub len: u64,
    pub first_seq: u64,
    /// The record count the frame header gives.
    pub count: usize,
    /// The uncompressed block: `count` records (see [`records`]).
    pub raw: std::borrow::Cow<'a, [u8]>,
}

/// What [`next_raw_frame`] found at a position.
#[derive(Debug)]
pub enum RawStep<'a> {
    Frame(RawFrame<'a>),
    End(Tail),
}

/// The frame at `pos` of `bytes` (`base` is the file offset of `bytes[0]`), checked for
/// length and CRC and decompressed, its records left encoded; or why the scan ends there.
pub fn next_raw_frame(bytes: &[u8], pos: usize, base: u64) -> RawStep<'_> {
    let offset = base + pos as u64;
    let rest = &bytes[pos..];
    if rest.is_empty() {
        return RawStep::End(Tail::Clean);
    }
    if rest.len() < FRAME_HEADER_LEN {
        return RawStep::End(Tail::Torn {
            offset,
            missing: (FRAME_HEADER_LEN - rest.len()) as u64,
        });
    }
    let body_len = read_u32(rest, 0) as usize;
    if body_len > MAX_FRAME_BODY {
        return RawStep::End(Tail::Corrupt {
            offset,
            reason: format!("frame length {body_len} is implausible"),
        });
    }
    let total = FRAME_HEADER_LEN + body_len;
    if rest.len() < total {
        return RawStep::End(Tail::Torn {
            offset,
            missing: (total - rest.len()) as u64,
        });
    }
    let crc = read_u32(rest, 4);
    if crc32c::crc32c(&rest[8..total]) != crc {
        return RawStep::End(Tail::Corrupt {
            offset,
            reason: "CRC mismatch".to_owned(),
        });
    }
    let first_seq = read_u64(rest, 8);
    let count = read_u32(rest, 16) as usize;
    let raw_len = read_u32(rest, 20) as usize;
    let codec = rest[24];
    if raw_len > MAX_FRAME_BODY {
        return RawStep::End(Tail::Corrupt {
            offset,
            reason: format!("uncompressed length {raw_len} is implausible"),
        });
    }
    let body = &rest[FRAME_HEADER_LEN..total];
    let raw = match codec {
        CODEC_NONE => std::borrow::Cow::Borrowed(body),
        CODEC_ZSTD => match zstd::bulk::decompress(body, raw_len) {
            Ok(d) => std::borrow::Cow::Owned(d),
            Err(e) => {
                return RawStep::End(Tail::Corrupt {
                    offset,
                    reason: format!("zstd: {e}"),
                });
            }
        },
        other => {
            return RawStep::End(Tail::Corrupt {
                offset,
                reason: format!("unknown codec {other}"),
            });
        }
    };
    RawStep::Frame(RawFrame {
        offset,
        len: total as u64,
        first_seq,
        count,
        raw,
    })
}

/// Decode the frame at `pos` of `bytes` (`base` is the file offset of `bytes[0]`).
fn next_frame(bytes: &[u8], pos: usize, base: u64) -> Step {
    let f = match next_raw_frame(bytes, pos, base) {
        RawStep::Frame(f) => f,
        RawStep::End(tail) => return Step::End(tail),
    };
    match decode_records(&f.raw, f.count) {
        Ok(records) => Step::Frame(Frame {
            offset: f.offset,
            len: f.len,
            first_seq: f.first_seq,
            records,
        }),
        Err(e) => Step::End(Tail::Corrupt {
            offset: f.offset,
            reason: e.to_string(),
        }),
    }
}

/// The records of an uncompressed block, `(kind, MessagePack body)` each, checked to be
/// `count` whole records.
pub fn records(raw: &[u8], count: usize) -> Result<Vec<(u8, &[u8])>> {
    let mut out = Vec::with_capacity(count.min(1 << 20));
    let mut pos = 0;
    while pos < raw.len() {
        if raw.len() - pos < 5 {
            return Err(Error::Decode("truncated record header".to_owned()));
        }
        let len = read_u32(raw, pos) as usize;
        if len == 0 || raw.len() - pos - 4 < len {
            return Err(Error::Decode(format!("record length {len} overruns block")));
        }
        out.push((raw[pos + 4], &raw[pos + 5..pos + 4 + len]));
        pos += 4 + len;
    }
    if out.len() != count {
        return Err(Error::Decode(format!(
            "block holds {} records, header says {count}",
            out.len()
        )));
    }
    Ok(out)
}

/// Decode `count` records from an uncompressed block.
pub fn decode_records(raw: &[u8], count: usize) -> Result<Vec<Record>> {
    records(raw, count)?
        .into_iter()
        .map(|(kind, body)| Record::decode(kind, body))
        .collect()
}

/// Scan frames from `bytes`, which start at file offset `base` (just after the header, or
/// at any frame boundary). Returns the frames and why the scan stopped.
pub fn scan_frames(bytes: &[u8], base: u64) -> (Vec<Frame>, Tail) {
    let mut frames = Vec::new();
    let mut pos = 0usize;
    loop {
        match next_frame(bytes, pos, base) {
            Step::Frame(f) => {
                pos += f.len as usize;
                frames.push(f);
            }
            Step::End(tail) => return (frames, tail),
        }
    }
}

/// Why a byte range is not a valid piece of a run log (see [`validate_frames`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid run-log data at byte {offset}: {reason}")]
pub struct InvalidFrames {
    /// Offset of the problem, counted from the start of the checked bytes.
    pub offset: u64,
    pub reason: String,
}

/// Check that `data` is whole, valid log frames (with `at_start`, preceded by the file
/// header): the header has the magic and a supported version, every frame is complete, its
/// CRC matches, its body decompresses and its records decode. Returns the number of frames.
///
/// This is what a server runs on uploaded bytes before it appends them: anything short of
/// whole frames (a torn last frame included) is refused.
pub fn validate_frames(data: &[u8], at_start: bool) -> std::result::Result<usize, InvalidFrames> {
    let mut pos = 0usize;
    if at_start {
        check_header(data, "the uploaded data").map_err(|e| InvalidFrames {
            offset: 0,
            reason: match e {
                Error::NotALog { reason, .. } => format!("not a fwtrack run log: {reason}"),
                other => other.to_string(),
            },
        })?;
        pos = HEADER_LEN;
    }
    let mut frames = 0usize;
    loop {
        match next_frame(data, pos, 0) {
            Step::Frame(f) => {
                pos += f.len as usize;
                frames += 1;
            }
            Step::End(Tail::Clean) => return Ok(frames),
            Step::End(Tail::Torn { offset, missing }) => {
                return Err(InvalidFrames {
                    offset,
                    reason: format!(
                        "incomplete frame: {missing} more bytes needed; send whole frames only"
                    ),
                });
            }
            Step::End(Tail::Corrupt { offset, reason }) => {
                return Err(InvalidFrames { offset, reason });
            }
        }
    }
}

/// The end of the last complete frame in `bytes` (which start at file offset `base`, on a
/// frame boundary), as a file offset, with why the scan stopped there. Frames are checked
/// for their length and CRC only (their bodies are not decompressed), so this is cheap
/// enough to find how much of a growing log can be shipped as whole frames.
pub fn complete_frames_end(bytes: &[u8], base: u64) -> (u64, Tail) {
    let mut pos = 0usize;
    loop {
        let offset = base + pos as u64;
        let rest = &bytes[pos..];
        if rest.is_empty() {
            return (offset, Tail::Clean);
        }
        if rest.len() < FRAME_HEADER_LEN {
            let missing = (FRAME_HEADER_LEN - rest.len()) as u64;
            return (offset, Tail::Torn { offset, missing });
        }
        let body_len = read_u32(rest, 0) as usize;
        if body_len > MAX_FRAME_BODY {
            let reason = format!("frame length {body_len} is implausible");
            return (offset, Tail::Corrupt { offset, reason });
        }
        let total = FRAME_HEADER_LEN + body_len;
        if rest.len() < total {
            let missing = (total - rest.len()) as u64;
            return (offset, Tail::Torn { offset, missing });
        }
        if crc32c::crc32c(&rest[8..total]) != read_u32(rest, 4) {
            let reason = "CRC mismatch".to_owned();
            return (offset, Tail::Corrupt { offset, reason });
        }
        pos += total;
    }
}

/// A frame numbered below the record the log continues at (see [`frame_sequence`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the frame at byte {offset} starts at record {first_seq}, but the log continues at record {next_seq} (a frame sent again or out of order)"
)]
pub struct OutOfSequence {
    /// Offset of the frame, counted from the start of the checked bytes.
    pub offset: u64,
    pub first_seq: u64,
    pub next_seq: u64,
}

/// The frame headers in `data` from `pos` on: `(offset, body_len, first_seq, count)` of each
/// frame whose header is present (its body may be cut short; [`validate_frames`] is what
/// checks bodies).
fn frame_headers(data: &[u8], mut pos: usize) -> impl Iterator<Item = (usize, usize, u64, u64)> {
    std::iter::from_fn(move || {
        if data.len().saturating_sub(pos) < FRAME_HEADER_LEN {
            return None;
        }
        let at = pos;
        let body_len = read_u32(data, at) as usize;
        pos = at.saturating_add(FRAME_HEADER_LEN + body_len);
        Some((
            at,
            body_len,
            read_u64(data, at + 8),
            u64::from(read_u32(data, at + 16)),
        ))
    })
}

/// Check that the frames of `data` (whole frames, already checked by [`validate_frames`]; with
/// `at_start`, after the file header) continue a log whose next record is `next_seq`, and
/// return the next record number after them.
///
/// A frame numbered below the next record repeats or reorders records, and is refused. A
/// frame numbered above it is accepted: a writer skips the numbers of records it had to drop
/// after a long write failure (docs/format.md, "Sequence numbers").
pub fn frame_sequence(
    data: &[u8],
    at_start: bool,
    mut next_seq: u64,
) -> std::result::Result<u64, OutOfSequence> {
    let start = if at_start { HEADER_LEN } else { 0 };
    for (offset, _, first_seq, count) in frame_headers(data, start) {
        if first_seq < next_seq {
            return Err(OutOfSequence {
                offset: offset as u64,
                first_seq,
                next_seq,
            });
        }
        next_seq = first_seq.saturating_add(count);
    }
    Ok(next_seq)
}

/// The next record number after the whole frames among the first `size` bytes of a stored
/// log (0 for a log without frames). Reads the frame headers only (no CRC check, no
/// decompression): it is for a log whose frames were validated when they were stored.
pub fn log_next_seq(file: &std::fs::File, size: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; FRAME_HEADER_LEN];
    let (mut pos, mut next_seq) = (HEADER_LEN as u64, 0u64);
    while pos + FRAME_HEADER_LEN as u64 <= size {
        file.read_exact_at(&mut head, pos)?;
        let end = pos + (FRAME_HEADER_LEN as u64) + u64::from(read_u32(&head, 0));
        if end > size {
            break;
        }
        next_seq = read_u64(&head, 8).saturating_add(u64::from(read_u32(&head, 16)));
        pos = end;
    }
    Ok(next_seq)
}

/// A whole log of `blocks`, one frame each (level-1 zstd), for tests that need a log on disk.
#[cfg(test)]
pub(crate) fn log_of(blocks: &[Vec<Record>]) -> Vec<u8> {
    let mut bytes = header().to_vec();
    let mut seq = 0;
    for b in blocks {
        let mut raw = Vec::new();
        for r in b {
            push_record(&mut raw, r);
        }
        #[allow(clippy::cast_possible_truncation)]
        bytes.extend(encode_frame(&raw, seq, b.len() as u32, 1));
        seq += b.len() as u64;
    }
    bytes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A frame of `count` small records numbered from `first_seq`.
    fn frame(first_seq: u64, count: u32) -> Vec<u8> {
        let mut raw = Vec::new();
        for i in 0..count {
            let body = vec![i as u8; 40];
            push_record(&mut raw, &Record::Unknown { kind: 200, body });
        }
        encode_frame(&raw, first_seq, count, 3)
    }

    fn log(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = header().to_vec();
        for f in frames {
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn frame_sequence_continues_and_allows_gaps() {
        let data = log(&[frame(0, 3), frame(3, 2), frame(9, 1)]);
        assert_eq!(validate_frames(&data, true), Ok(3));
        assert_eq!(frame_sequence(&data, true, 0), Ok(10));
        let rest = frame(10, 4);
        assert_eq!(frame_sequence(&rest, false, 10), Ok(14));
        assert_eq!(frame_sequence(&rest, false, 7), Ok(14));
        assert_eq!(frame_sequence(b"", false, 5), Ok(5));
        assert_eq!(frame_sequence(&header(), true, 0), Ok(0));
    }

    #[test]
    fn frame_sequence_refuses_a_frame_sent_again() {
        let (a, b) = (frame(0, 3), frame(3, 2));
        let mut data = a.clone();
        data.extend_from_slice(&b);
        data.extend_from_slice(&b);
        let e = frame_sequence(&data, false, 0).unwrap_err();
        let at = (a.len() + b.len()) as u64;
        assert_eq!(
            e,
            OutOfSequence {
                offset: at,
                first_seq: 3,
                next_seq: 5
            }
        );
        assert_eq!(
            e.to_string(),
            format!(
                "the frame at byte {at} starts at record 3, but the log continues at record 5 \
                 (a frame sent again or out of order)"
            )
        );
        // Offsets count from the start of `data`, the file header included.
        let e = frame_sequence(&log(&[frame(0, 2)]), true, 1).unwrap_err();
        assert_eq!(e.offset, HEADER_LEN as u64);
    }

    #[test]
    fn log_next_seq_reads_whole_frames_only() {
        let data = log(&[frame(0, 3), frame(3, 2), frame(7, 5)]);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&data).unwrap();
        let len = data.len() as u64;
        assert_eq!(log_next_seq(&file, len).unwrap(), 12);
        // A torn last frame (its header present, its body not) does not count.
        assert_eq!(log_next_seq(&file, len - 1).unwrap(), 5);
        let two = (HEADER_LEN + frame(0, 3).len() + frame(3, 2).len()) as u64;
        assert_eq!(log_next_seq(&file, two).unwrap(), 5);
        assert_eq!(log_next_seq(&file, two + 10).unwrap(), 5);
        assert_eq!(log_next_seq(&file, HEADER_LEN as u64).unwrap(), 0);
        assert_eq!(log_next_seq(&file, 0).unwrap(), 0);
        // A size beyond the end of the file is an error, not a guess.
        assert!(log_next_seq(&file, len + 100).is_err());
    }
}
