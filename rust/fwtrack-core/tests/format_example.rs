//! The worked example of `docs/format.md`: a tiny log written by the real writer must be
//! byte for byte the hex dump printed there. A change here is a format change: update the
//! document (and think about the format version) with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fmt::Write as _;

use common::{map, quiet_opts};
use fwtrack_core::codec::{self, HEADER_LEN, Tail};
use fwtrack_core::reader::{RunView, read_log};
use fwtrack_core::record::{Finish, Key, Record, Row, Value};
use fwtrack_core::writer::Writer;
use rmpv::Value as Mp;

/// `docs/format.md`, "Worked example": the whole file, 16 bytes a line.
const EXAMPLE: &str = "
46 57 54 52 4b 4c 4f 47 01 00 00 00 00 00 00 00
23 00 00 00 93 b4 95 68 00 00 00 00 00 00 00 00
01 00 00 00 23 00 00 00 00 00 00 00 1f 00 00 00
01 81 a4 69 6e 66 6f 82 a2 69 64 a6 31 61 32 62
33 63 a7 70 72 6f 6a 65 63 74 a4 64 65 6d 6f 1a
00 00 00 d0 0a 42 71 01 00 00 00 00 00 00 00 01
00 00 00 1a 00 00 00 00 00 00 00 16 00 00 00 02
81 a6 63 6f 6e 66 69 67 81 a2 6c 72 cb 3f 84 7a
e1 47 ae 14 7b 54 00 00 00 33 ee 48 cc 02 00 00
00 00 00 00 00 02 00 00 00 60 00 00 00 01 00 00
00 28 b5 2f fd 20 60 5d 02 00 04 04 36 00 00 00
03 84 a4 73 74 65 70 00 a2 74 73 cb 41 d9 54 fc
40 00 00 00 a2 72 74 cb 3f e0 00 a6 76 61 6c 75
65 73 81 a4 6c 6f 73 73 cb 3f d0 00 22 00 00 00
05 82 a8 65 78 70 6c 69 63 69 74 90 03 00 3f b5
04 b7 6e 81 13 29 00 00 00 76 82 41 57 04 00 00
00 00 00 00 00 01 00 00 00 29 00 00 00 00 00 00
00 25 00 00 00 07 83 a9 65 78 69 74 5f 63 6f 64
65 00 a2 74 73 cb 41 d9 54 fc 40 40 00 00 a2 72
74 cb 3f f0 00 00 00 00 00 00
";

/// The same example: the third frame's block once decompressed.
const EXAMPLE_BLOCK: &str = "
36 00 00 00 03 84 a4 73 74 65 70 00 a2 74 73 cb
41 d9 54 fc 40 00 00 00 a2 72 74 cb 3f e0 00 00
00 00 00 00 a6 76 61 6c 75 65 73 81 a4 6c 6f 73
73 cb 3f d0 00 00 00 00 00 00 22 00 00 00 05 82
a6 76 61 6c 75 65 73 81 a4 6c 6f 73 73 cb 3f d0
00 00 00 00 00 00 a8 65 78 70 6c 69 63 69 74 90
";

fn hex_lines(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.chunks(16) {
        let line: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        writeln!(s, "{}", line.join(" ")).unwrap();
    }
    s
}

fn write_example(dir: &std::path::Path) -> Vec<u8> {
    let start = Record::RunStart(map(&[
        ("id", Mp::from("1a2b3c")),
        ("project", Mp::from("demo")),
    ]));
    let (w, _) = Writer::open(dir, start, false, quiet_opts()).unwrap();
    w.send(Record::Config(map(&[("lr", Mp::F64(0.01))])))
        .unwrap();
    w.flush().unwrap();
    let r = Row {
        step: 0,
        timestamp: 1_700_000_000.0,
        runtime: 0.5,
        values: vec![(Key::from("loss"), Value::Float(0.25))],
    };
    w.send(Record::History(r)).unwrap();
    w.flush().unwrap();
    w.send(Record::Finish(Finish {
        exit_code: 0,
        timestamp: 1_700_000_001.0,
        runtime: 1.0,
        reason: None,
    }))
    .unwrap();
    w.close().unwrap();
    std::fs::read(dir.join(fwtrack_core::LOG_FILE_NAME)).unwrap()
}

#[test]
fn the_documented_example_is_what_the_writer_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = write_example(tmp.path());
    assert_eq!(
        hex_lines(&bytes).trim(),
        EXAMPLE.trim(),
        "docs/format.md's example is out of date; the writer now writes:\n{}",
        hex_lines(&bytes)
    );

    let (frames, tail) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    assert_eq!(tail, Tail::Clean);
    let layout: Vec<(u64, u64, u64, usize)> = frames
        .iter()
        .map(|f| (f.offset, f.len, f.first_seq, f.records.len()))
        .collect();
    assert_eq!(
        layout,
        vec![
            (16, 63, 0, 1),
            (79, 54, 1, 1),
            (133, 112, 2, 2),
            (245, 69, 4, 1)
        ]
    );
    let codecs: Vec<u8> = frames
        .iter()
        .map(|f| bytes[f.offset as usize + 24])
        .collect();
    assert_eq!(codecs, vec![0, 0, 1, 0]);
    let third = &frames[2];
    let body = &bytes[third.offset as usize + 28..(third.offset + third.len) as usize];
    let block = zstd::bulk::decompress(body, 1 << 16).unwrap();
    assert_eq!(hex_lines(&block).trim(), EXAMPLE_BLOCK.trim());

    let v =
        RunView::from_contents(read_log(&tmp.path().join(fwtrack_core::LOG_FILE_NAME)).unwrap());
    assert_eq!(v.rows.len(), 1);
    assert_eq!(v.meta.finish.unwrap().exit_code, 0);
}
