//! Console lines in the index, so that a page of lines (a poll of a live run's last page)
//! reads only its own bytes.
//!
//! ```text
//! console.txt    the lines' UTF-8 text, one after the other (no separators)
//! console.idx    per line, 24 bytes: end of its text in console.txt (u64), Unix time (f64),
//!                stream number (u32; the manifest's `console.streams` names them), 0 (u32)
//! console.s<i>   per line of stream i, its line number (u64)
//! ```
//!
//! Line `n`'s text is `console.txt[end(n - 1) .. end(n)]`; lines are numbered from 0 over
//! the whole log, in log order.

use std::path::Path;

use rmpv::Value as Mp;

use super::parts::{
    self, Writer, f64_at, read_range, strings_from_mp, strings_to_mp, u32_at, u64_at,
};
use crate::error::Result;
use crate::meta::{entry, field};
use crate::record::ConsoleLines;

const TEXT: &str = "console.txt";
const INDEX: &str = "console.idx";
/// Bytes per line in `console.idx`.
pub const LINE_BYTES: u64 = 24;

fn stream_file(i: usize) -> String {
    format!("console.s{i}")
}

/// The streams seen so far (their numbers are their positions).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsoleState {
    pub streams: Vec<String>,
}

impl ConsoleState {
    pub(crate) fn to_mp(&self) -> Mp {
        Mp::Map(vec![entry("streams", strings_to_mp(&self.streams))])
    }

    pub(crate) fn from_mp(v: &Mp) -> Option<ConsoleState> {
        Some(ConsoleState {
            streams: strings_from_mp(field(v, "streams")?)?,
        })
    }

    /// Append a batch of lines.
    pub(crate) fn fold(&mut self, c: ConsoleLines, w: &mut Writer) -> Result<()> {
        let sid = if let Some(i) = self.streams.iter().position(|s| *s == c.stream) {
            i
        } else {
            self.streams.push(c.stream.clone());
            self.streams.len() - 1
        };
        let mut end = w.len(TEXT);
        let mut text = Vec::new();
        let mut index = Vec::with_capacity(c.lines.len() * LINE_BYTES as usize);
        let mut numbers = Vec::with_capacity(c.lines.len() * 8);
        for (n, (ts, line)) in (w.len(INDEX) / LINE_BYTES..).zip(&c.lines) {
            text.extend_from_slice(line.as_bytes());
            end += line.len() as u64;
            index.extend_from_slice(&end.to_le_bytes());
            index.extend_from_slice(&ts.to_le_bytes());
            index.extend_from_slice(&(sid as u32).to_le_bytes());
            index.extend_from_slice(&0u32.to_le_bytes());
            numbers.extend_from_slice(&n.to_le_bytes());
        }
        w.append(TEXT, &text)?;
        w.append(INDEX, &index)?;
        w.append(&stream_file(sid), &numbers)
    }
}

/// One console line.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Its number in the whole log.
    pub n: u64,
    pub stream: String,
    pub ts: f64,
    pub text: String,
}

/// The console lines of an index, as a manifest names them.
pub struct Console<'a> {
    dir: &'a Path,
    parts: &'a parts::Parts,
}

impl<'a> Console<'a> {
    pub fn new(dir: &'a Path, parts: &'a parts::Parts) -> Self {
        Console { dir, parts }
    }

    /// Lines in the log (of `stream` only, when given).
    pub fn total(&self, stream: Option<&str>) -> u64 {
        match stream {
            None => self.parts.len(INDEX) / LINE_BYTES,
            Some(s) => self
                .parts
                .console
                .streams
                .iter()
                .position(|x| x == s)
                .map_or(0, |i| self.parts.len(&stream_file(i)) / 8),
        }
    }

    /// The numbers of lines `[offset, offset + limit)` of the log (of `stream` only, when
    /// given).
    pub fn numbers(&self, stream: Option<&str>, offset: u64, limit: u64) -> Result<Vec<u64>> {
        let total = self.total(stream);
        let end = offset.saturating_add(limit).min(total);
        if end <= offset {
            return Ok(Vec::new());
        }
        let Some(s) = stream else {
            return Ok((offset..end).collect());
        };
        let Some(i) = self.parts.console.streams.iter().position(|x| x == s) else {
            return Ok(Vec::new());
        };
        let b = read_range(self.dir, &stream_file(i), offset * 8, end * 8)?;
        Ok((0..b.len() / 8).map(|k| u64_at(&b, k * 8)).collect())
    }

    /// The lines numbered `numbers` (ascending; numbers past the end are left out).
    pub fn lines(&self, numbers: &[u64]) -> Result<Vec<Line>> {
        let total = self.total(None);
        let numbers: Vec<u64> = numbers.iter().copied().filter(|&n| n < total).collect();
        let (Some(&first), Some(&last)) = (numbers.first(), numbers.last()) else {
            return Ok(Vec::new());
        };
        if last - first + 1 > 4 * numbers.len() as u64 + 64 {
            // Sparse (one stream among many lines): each line on its own.
            let mut out = Vec::with_capacity(numbers.len());
            for &n in &numbers {
                out.extend(self.span(n, n + 1)?);
            }
            return Ok(out);
        }
        let span = self.span(first, last + 1)?;
        let mut out = Vec::with_capacity(numbers.len());
        let mut want = numbers.iter().peekable();
        for line in span {
            if want.peek() == Some(&&line.n) {
                want.next();
                out.push(line);
            }
        }
        Ok(out)
    }

    /// Lines `[from, to)`, read with two reads: their index rows and their text.
    fn span(&self, from: u64, to: u64) -> Result<Vec<Line>> {
        let lo = from.saturating_sub(1);
        let idx = read_range(self.dir, INDEX, lo * LINE_BYTES, to * LINE_BYTES)?;
        let rows = idx.len() / LINE_BYTES as usize;
        let skip = usize::from(from > 0);
        if rows <= skip {
            return Ok(Vec::new());
        }
        let start = if from > 0 { u64_at(&idx, 0) } else { 0 };
        let end = u64_at(&idx, (rows - 1) * LINE_BYTES as usize);
        let text = read_range(self.dir, TEXT, start, end)?;
        let mut out = Vec::with_capacity(rows - skip);
        let mut prev = start;
        for r in skip..rows {
            let at = r * LINE_BYTES as usize;
            let e = u64_at(&idx, at);
            let (a, b) = ((prev - start) as usize, (e - start) as usize);
            let s = text.get(a..b.min(text.len())).unwrap_or_default();
            let sid = u32_at(&idx, at + 16) as usize;
            out.push(Line {
                n: lo + r as u64,
                stream: self
                    .parts
                    .console
                    .streams
                    .get(sid)
                    .cloned()
                    .unwrap_or_default(),
                ts: f64_at(&idx, at + 8),
                text: String::from_utf8_lossy(s).into_owned(),
            });
            prev = e;
        }
        Ok(out)
    }

    /// Lines (of `stream`, when given) that may contain `needle`, which must be casefolded
    /// already: `(n, None)` for an ASCII line that contains it ignoring ASCII case (an exact
    /// answer: the casefold of ASCII text is its ASCII lowercase), `(n, Some(text))` for a
    /// line with other characters, which the caller checks with its own casefold.
    pub fn search(&self, stream: Option<&str>, needle: &str) -> Result<Vec<(u64, Option<String>)>> {
        let total = self.total(None);
        let idx = read_range(self.dir, INDEX, 0, total * LINE_BYTES)?;
        let text = read_range(self.dir, TEXT, 0, self.parts.len(TEXT))?;
        let sid = match stream {
            None => None,
            Some(s) => match self.parts.console.streams.iter().position(|x| x == s) {
                Some(i) => Some(i as u32),
                None => return Ok(Vec::new()),
            },
        };
        let needle = needle.as_bytes();
        let ascii_needle = needle.is_ascii();
        let mut out = Vec::new();
        let mut prev = 0usize;
        for r in 0..idx.len() / LINE_BYTES as usize {
            let at = r * LINE_BYTES as usize;
            let e = usize::try_from(u64_at(&idx, at))
                .unwrap_or(usize::MAX)
                .min(text.len());
            let line = text.get(prev..e).unwrap_or_default();
            prev = e;
            if sid.is_some_and(|s| u32_at(&idx, at + 16) != s) {
                continue;
            }
            if line.is_ascii() {
                if ascii_needle && contains_ignore_ascii_case(line, needle) {
                    out.push((r as u64, None));
                }
            } else {
                out.push((r as u64, Some(String::from_utf8_lossy(line).into_owned())));
            }
        }
        Ok(out)
    }
}

fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_case_search() {
        assert!(contains_ignore_ascii_case(b"Loss: NaN", b"nan"));
        assert!(!contains_ignore_ascii_case(b"na", b"nan"));
        assert!(contains_ignore_ascii_case(b"x", b""));
    }
}
