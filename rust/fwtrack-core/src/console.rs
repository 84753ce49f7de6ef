//! Console lines: splitting captured output into lines, and the thread that reads a captured
//! stream and appends `Console` records without ever taking Python's GIL.
//!
//! A line ends at `\n`. A `\r` not followed by `\n` starts the line over (the next byte
//! replaces what the line held), so a progress bar that redraws itself is kept as its final
//! text; `\r\n` ends a line like `\n`. Splitting works on bytes (neither byte occurs inside a
//! multi-byte UTF-8 sequence), and each line is decoded on its own, invalid UTF-8 as U+FFFD.

use std::io::{ErrorKind, Read};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::record::{ConsoleLines, Record};
use crate::writer::RecordSender;

/// A line longer than this is cut into pieces of this size, so output without line ends
/// (a binary blob written to a terminal) keeps memory bounded.
pub const MAX_LINE: usize = 1 << 20;

const READ_SIZE: usize = 1 << 16;

/// Splits a byte stream into lines, folding `\r` redraws.
#[derive(Debug, Default)]
pub struct LineSplitter {
    current: Vec<u8>,
    cr: bool,
}

impl LineSplitter {
    /// Feed bytes; the lines they complete are appended to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<String>) {
        for &b in data {
            match b {
                b'\n' => {
                    out.push(String::from_utf8_lossy(&self.current).into_owned());
                    self.current.clear();
                    self.cr = false;
                }
                b'\r' => self.cr = true,
                _ => {
                    if self.cr {
                        self.current.clear();
                        self.cr = false;
                    }
                    if self.current.len() >= MAX_LINE {
                        out.push(String::from_utf8_lossy(&self.current).into_owned());
                        self.current.clear();
                    }
                    self.current.push(b);
                }
            }
        }
    }

    /// The unfinished last line, if it holds any text (at the end of the stream).
    pub fn rest(&mut self) -> Option<String> {
        self.cr = false;
        if self.current.is_empty() {
            return None;
        }
        let line = String::from_utf8_lossy(&self.current).into_owned();
        self.current.clear();
        Some(line)
    }
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Read `source` until its end in a thread of its own, appending each read's complete lines
/// as one `Console` record of `stream` (timed when the read returned), then the unfinished
/// last line. A writer that has closed ends the recording, not the reading: the stream is
/// drained so its writer never blocks.
pub fn spawn_reader<R: Read + Send + 'static>(
    mut source: R,
    stream: String,
    sender: RecordSender,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("fwtrack-console-{stream}"))
        .spawn(move || {
            let mut split = LineSplitter::default();
            let mut buf = vec![0u8; READ_SIZE];
            let mut recording = true;
            let send = |lines: Vec<String>, recording: &mut bool| {
                if lines.is_empty() || !*recording {
                    return;
                }
                let t = now_unix();
                let record = Record::Console(ConsoleLines {
                    stream: stream.clone(),
                    lines: lines.into_iter().map(|l| (t, l)).collect(),
                });
                if sender.send_all(vec![record]).is_err() {
                    *recording = false;
                }
            };
            loop {
                let n = match source.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                let mut lines = Vec::new();
                split.feed(&buf[..n], &mut lines);
                send(lines, &mut recording);
            }
            send(split.rest().into_iter().collect(), &mut recording);
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, &mut out);
        }
        out.extend(s.rest());
        out
    }

    #[test]
    fn lines_and_redraws() {
        assert_eq!(split(&[b"a\nb", b"c\n"]), ["a", "bc"]);
        assert_eq!(split(&[b"\r 10%\r 50%", b"\r100%\n"]), ["100%"]);
        assert_eq!(split(&[b"windows\r\n", b"tail"]), ["windows", "tail"]);
        assert_eq!(split(&[b"\n\n"]), ["", ""]);
        assert_eq!(split(&[b"bar\r"]), ["bar"]);
    }

    #[test]
    fn utf8_split_across_reads_and_invalid_bytes() {
        let text = "é→ok\n".as_bytes();
        assert_eq!(split(&[&text[..1], &text[1..3], &text[3..]]), ["é→ok"]);
        assert_eq!(split(&[b"a\xffb\n"]), ["a\u{fffd}b"]);
    }

    #[test]
    fn a_line_without_an_end_is_cut_at_the_limit() {
        let long = vec![b'x'; MAX_LINE + 5];
        let lines = split(&[&long]);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1].len(), 5);
    }
}
