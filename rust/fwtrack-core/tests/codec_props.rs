//! Property tests of the codec: records survive framing, and a cut or damaged log reads back
//! exactly its whole frames before the damage.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{arb_blocks, arb_record, assert_records_eq, build_log, row};
use fwtrack_core::Error;
use fwtrack_core::codec::{self, FRAME_HEADER_LEN, HEADER_LEN, MAX_FRAME_BODY, Tail};
use fwtrack_core::reader::decode_log;
use fwtrack_core::record::{Record, Value};
use proptest::prelude::*;

/// The records of the frames that end at or before `cut`.
fn records_before(blocks: &[Vec<Record>], frames: &[(usize, usize)], cut: usize) -> Vec<Record> {
    blocks
        .iter()
        .zip(frames)
        .take_while(|(_, (off, len))| off + len <= cut)
        .flat_map(|(b, _)| b.iter().cloned())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn records_round_trip_through_frames(blocks in arb_blocks(5), pad in any::<bool>()) {
        // Padding with a compressible record makes zstd win, so both codecs are exercised.
        let blocks: Vec<Vec<Record>> = blocks
            .into_iter()
            .map(|mut b| {
                if pad {
                    b.push(Record::Unknown { kind: 200, body: vec![7; 512] });
                }
                b
            })
            .collect();
        let (bytes, frames) = build_log(&blocks);
        let c = decode_log(&bytes, "prop").unwrap();
        let all: Vec<Record> = blocks.iter().flatten().cloned().collect();
        assert_records_eq(&c.records, &all);
        prop_assert_eq!(c.tail, Tail::Clean);
        prop_assert_eq!(c.valid_len, bytes.len() as u64);
        prop_assert_eq!(c.next_seq, all.len() as u64);

        let (scanned, tail) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
        prop_assert_eq!(tail, Tail::Clean);
        prop_assert_eq!(scanned.len(), frames.len());
        let mut seq = 0;
        for (f, (off, len)) in scanned.iter().zip(&frames) {
            prop_assert_eq!(f.offset, *off as u64);
            prop_assert_eq!(f.len, *len as u64);
            prop_assert_eq!(f.first_seq, seq);
            seq += f.records.len() as u64;
            if pad {
                prop_assert_eq!(bytes[off + 24], codec::CODEC_ZSTD);
            }
        }
    }

    #[test]
    fn single_records_round_trip(r in arb_record()) {
        let mut raw = Vec::new();
        codec::push_record(&mut raw, &r);
        let len = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        prop_assert_eq!(len + 4, raw.len());
        prop_assert_eq!(raw[4], r.kind());
        let back = codec::decode_records(&raw, 1).unwrap();
        assert_records_eq(&back, std::slice::from_ref(&r));
    }

    #[test]
    fn a_cut_log_reads_its_whole_frames_and_a_torn_tail(blocks in arb_blocks(4)) {
        let (bytes, frames) = build_log(&blocks);
        for cut in 0..=bytes.len() {
            let res = decode_log(&bytes[..cut], "cut");
            if cut < HEADER_LEN {
                prop_assert!(matches!(res, Err(Error::NotALog { .. })), "cut {}: {:?}", cut, res);
                continue;
            }
            let c = res.unwrap();
            assert_records_eq(&c.records, &records_before(&blocks, &frames, cut));
            match frames.iter().find(|(off, len)| *off < cut && cut < off + len) {
                None => {
                    prop_assert_eq!(&c.tail, &Tail::Clean);
                    prop_assert_eq!(c.valid_len, cut as u64);
                }
                Some((off, len)) => {
                    // Until the frame header is whole, only the header's missing bytes are
                    // known.
                    let missing = if cut - off < FRAME_HEADER_LEN {
                        FRAME_HEADER_LEN - (cut - off)
                    } else {
                        off + len - cut
                    };
                    prop_assert_eq!(
                        &c.tail,
                        &Tail::Torn { offset: *off as u64, missing: missing as u64 }
                    );
                    prop_assert_eq!(c.valid_len, *off as u64);
                }
            }
        }
    }

    #[test]
    fn a_damaged_byte_stops_the_reader_at_its_frame(
        blocks in arb_blocks(4),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 1..16),
    ) {
        let (bytes, frames) = build_log(&blocks);
        for (at, mask) in flips {
            let pos = HEADER_LEN + at.index(bytes.len() - HEADER_LEN);
            check_flip(&bytes, &frames, &blocks, pos, mask);
        }
    }

    /// Frames with a valid CRC around arbitrary blocks, as a crafted upload could hold:
    /// the reader never panics, and takes or refuses each frame whole.
    #[test]
    fn crafted_frames_never_panic(
        blocks in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..64),
                // Plausible record framing around arbitrary MessagePack of any kind.
                (1u8..=12, common::arb_mp()).prop_map(|(kind, v)| {
                    let mut body = Vec::new();
                    rmpv::encode::write_value(&mut body, &v).unwrap();
                    let mut raw = ((body.len() + 1) as u32).to_le_bytes().to_vec();
                    raw.push(kind);
                    raw.extend(body);
                    raw
                }),
            ],
            1..4,
        ),
        count in 0u32..3,
        codec_byte in 0u8..3,
    ) {
        let mut bytes = codec::header().to_vec();
        for raw in &blocks {
            let mut frame = Vec::new();
            frame.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            frame.extend_from_slice(&[0; 4]);
            frame.extend_from_slice(&0u64.to_le_bytes());
            frame.extend_from_slice(&count.to_le_bytes());
            frame.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            frame.extend_from_slice(&[codec_byte, 0, 0, 0]);
            frame.extend_from_slice(raw);
            let crc = crc32c::crc32c(&frame[8..]);
            frame[4..8].copy_from_slice(&crc.to_le_bytes());
            bytes.extend_from_slice(&frame);
        }
        let c = decode_log(&bytes, "crafted").unwrap();
        prop_assert!(c.records.len() <= blocks.len() * count as usize);
        let v = fwtrack_core::reader::RunView::from_contents(c);
        let _ = v.columns(None);
    }
}

/// Flip `mask` into the byte at `pos` (after the header) and check what the reader makes of it.
fn check_flip(
    bytes: &[u8],
    frames: &[(usize, usize)],
    blocks: &[Vec<Record>],
    pos: usize,
    mask: u8,
) {
    let mut bytes = bytes.to_vec();
    bytes[pos] ^= mask;
    let c = decode_log(&bytes, "flip").unwrap();
    let (k, &(off, _)) = frames
        .iter()
        .enumerate()
        .find(|(_, (off, len))| *off <= pos && pos < off + len)
        .unwrap();
    let before: Vec<Record> = blocks[..k].iter().flatten().cloned().collect();
    assert_records_eq(&c.records, &before);
    assert_eq!(c.valid_len, off as u64);
    // The length field is not covered by the CRC: a damaged length that overruns the file
    // reads as a torn tail, anything else as a corrupt frame.
    let new_len = u32::from_le_bytes(bytes[off..off + 4].try_into().unwrap()) as usize;
    let overruns = pos < off + 4
        && new_len <= MAX_FRAME_BODY
        && off + FRAME_HEADER_LEN + new_len > bytes.len();
    if overruns {
        assert!(
            matches!(c.tail, Tail::Torn { offset, .. } if offset == off as u64),
            "byte {pos} ^ {mask:#x}: {:?}",
            c.tail
        );
    } else {
        assert!(
            matches!(c.tail, Tail::Corrupt { offset, .. } if offset == off as u64),
            "byte {pos} ^ {mask:#x}: {:?}",
            c.tail
        );
    }
}

#[test]
fn every_damaged_byte_of_a_small_log_is_caught() {
    let compressible = Record::Unknown {
        kind: 200,
        body: vec![7; 300],
    };
    let blocks = vec![
        vec![common::start("r")],
        vec![row(0, &[("a", Value::Float(0.5))]), compressible.clone()],
        vec![row(
            1,
            &[("a", Value::Float(f64::NAN)), ("b", Value::Str("x".into()))],
        )],
    ];
    let (bytes, frames) = build_log(&blocks);
    assert_eq!(bytes[frames[1].0 + 24], codec::CODEC_ZSTD);
    assert_eq!(bytes[frames[2].0 + 24], codec::CODEC_NONE);
    for pos in HEADER_LEN..bytes.len() {
        for mask in [0x01, 0x80, 0xff] {
            check_flip(&bytes, &frames, &blocks, pos, mask);
        }
    }
}

#[test]
fn a_damaged_header_is_not_a_log() {
    let (bytes, _) = build_log(&[vec![row(0, &[("a", Value::Int(1))])]]);
    for i in 0..8 {
        let mut b = bytes.clone();
        b[i] ^= 0x20;
        assert!(
            matches!(decode_log(&b, "x"), Err(Error::NotALog { .. })),
            "magic byte {i}"
        );
    }
    for (version, i) in [(0u16, 8), (2, 8), (0x0101, 9), (u16::MAX, 9)] {
        let mut b = bytes.clone();
        b[8..10].copy_from_slice(&version.to_le_bytes());
        match decode_log(&b, "x") {
            Err(Error::UnsupportedVersion {
                found, supported, ..
            }) => {
                assert_eq!(found, version, "byte {i}");
                assert_eq!(supported, codec::FORMAT_VERSION);
            }
            other => panic!("version {version}: {other:?}"),
        }
    }
    assert!(matches!(decode_log(b"", "x"), Err(Error::NotALog { .. })));
    assert!(matches!(
        decode_log(b"PK\x03\x04 not a log at all", "x"),
        Err(Error::NotALog { .. })
    ));
    // A header alone is an empty, clean log.
    let c = decode_log(&codec::header(), "x").unwrap();
    assert!(c.records.is_empty());
    assert_eq!(c.tail, Tail::Clean);
    assert_eq!(c.valid_len, HEADER_LEN as u64);
}

#[test]
fn an_implausible_length_is_corrupt_not_torn() {
    let (mut bytes, frames) = build_log(&[
        vec![row(0, &[("a", Value::Int(1))])],
        vec![row(1, &[("a", Value::Int(2))])],
    ]);
    let off = frames[1].0;
    bytes[off..off + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let c = decode_log(&bytes, "x").unwrap();
    assert_eq!(c.records.len(), 1);
    assert!(matches!(c.tail, Tail::Corrupt { offset, .. } if offset == off as u64));
}

#[test]
fn unknown_codecs_and_bad_blocks_are_corrupt() {
    // A frame with a valid CRC but an unknown codec byte.
    let mut raw = Vec::new();
    codec::push_record(&mut raw, &row(0, &[("a", Value::Int(1))]));
    let mut frame = codec::encode_frame(&raw, 0, 1, 1);
    assert_eq!(frame[24], codec::CODEC_NONE);
    frame[24] = 9;
    let crc = crc32c::crc32c(&frame[8..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    let mut bytes = codec::header().to_vec();
    bytes.extend_from_slice(&frame);
    let c = decode_log(&bytes, "x").unwrap();
    assert!(
        matches!(&c.tail, Tail::Corrupt { reason, .. } if reason.contains("codec")),
        "{:?}",
        c.tail
    );

    // A frame whose record count disagrees with its block.
    let frame = codec::encode_frame(&raw, 0, 2, 1);
    let mut bytes = codec::header().to_vec();
    bytes.extend_from_slice(&frame);
    let c = decode_log(&bytes, "x").unwrap();
    assert!(c.records.is_empty());
    assert!(matches!(c.tail, Tail::Corrupt { offset: 16, .. }));
}

#[test]
fn unknown_record_kinds_are_skipped_by_the_run_view() {
    let (bytes, _) = build_log(&[vec![
        Record::Unknown {
            kind: 42,
            body: vec![0xc0],
        },
        row(3, &[("a", Value::Int(1))]),
        Record::Unknown {
            kind: 0,
            body: vec![],
        },
    ]]);
    let c = decode_log(&bytes, "x").unwrap();
    assert_eq!(c.records.len(), 3);
    let v = fwtrack_core::reader::RunView::from_contents(c);
    assert_eq!(v.rows.len(), 1);
    assert_eq!(v.meta.last_step, Some(3));
    assert_eq!(v.meta.records, 3);
}
