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

/// Decode the frame at `pos` of `bytes` (`base` is the file offset of `bytes[0]`).
fn next_frame(bytes: &[u8], pos: usize, base: u64) -> Step {
    let offset = base + pos as u64;
    let rest = &bytes[pos..];
    if rest.is_empty() {
        return Step::End(Tail::Clean);
    }
    if rest.len() < FRAME_HEADER_LEN {
        return Step::End(Tail::Torn {
            offset,
            missing: (FRAME_HEADER_LEN - rest.len()) as u64,
        });
    }
    let body_len = read_u32(rest, 0) as usize;
    if body_len > MAX_FRAME_BODY {
        return Step::End(Tail::Corrupt {
            offset,
            reason: format!("frame length {body_len} is implausible"),
        });
    }
    let total = FRAME_HEADER_LEN + body_len;
    if rest.len() < total {
        return Step::End(Tail::Torn {
            offset,
            missing: (total - rest.len()) as u64,
        });
    }
    let crc = read_u32(rest, 4);
    if crc32c::crc32c(&rest[8..total]) != crc {
        return Step::End(Tail::Corrupt {
            offset,
            reason: "CRC mismatch".to_owned(),
        });
    }
    let first_seq = read_u64(rest, 8);
    let count = read_u32(rest, 16) as usize;
    let raw_len = read_u32(rest, 20) as usize;
    let codec = rest[24];
    if raw_len > MAX_FRAME_BODY {
        return Step::End(Tail::Corrupt {
            offset,
            reason: format!("uncompressed length {raw_len} is implausible"),
        });
    }
    let body = &rest[FRAME_HEADER_LEN..total];
    let decompressed;
    let raw: &[u8] = match codec {
        CODEC_NONE => body,
        CODEC_ZSTD => match zstd::bulk::decompress(body, raw_len) {
            Ok(d) => {
                decompressed = d;
                &decompressed
            }
            Err(e) => {
                return Step::End(Tail::Corrupt {
                    offset,
                    reason: format!("zstd: {e}"),
                });
            }
        },
        other => {
            return Step::End(Tail::Corrupt {
                offset,
                reason: format!("unknown codec {other}"),
            });
        }
    };
    match decode_records(raw, count) {
        Ok(records) => Step::Frame(Frame {
            offset,
            len: total as u64,
            first_seq,
            records,
        }),
        Err(e) => Step::End(Tail::Corrupt {
            offset,
            reason: e.to_string(),
        }),
    }
}

/// Decode `count` records from an uncompressed block.
pub fn decode_records(raw: &[u8], count: usize) -> Result<Vec<Record>> {
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
        let kind = raw[pos + 4];
        out.push(Record::decode(kind, &raw[pos + 5..pos + 4 + len])?);
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
