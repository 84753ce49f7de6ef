//! The parts of the index besides the history columns: console lines ([`super::console`]),
//! system samples ([`super::system`]), media descriptors ([`super::media`]) and histograms
//! ([`super::hist`]), each in append-only files of the index directory.
//!
//! Like the columns, a part file is only ever appended to, and the manifest names how many
//! of its bytes readers may use (`"parts": {"files": {"<name>": <bytes>}, ...}`). An update
//! first cuts what an interrupted update left past that length, appends, fsyncs, and then
//! the manifest is replaced; a file shorter than its manifest says makes the update rebuild
//! the index from the log. A poll of a live run reads only the bytes it asks for.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rmpv::Value as Mp;

use super::{DAMAGED, console, hist, media, system};
use crate::error::{Error, Result};
use crate::meta::{entry, field};

/// Bytes buffered in memory before an update appends them to their files.
const FLUSH_BYTES: usize = 16 << 20;

/// Whether `name` may be a part file: `[a-z]+(.[a-z0-9]+)*`, never a path.
pub fn part_file_ok(name: &str) -> bool {
    let mut pieces = name.split('.');
    let first = pieces.next().unwrap_or("");
    matches!(first, "console" | "system" | "media" | "hist")
        && name.len() <= 64
        && pieces.all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_alphanumeric()))
        && name.contains('.')
}

/// The parts' state, kept in the manifest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts {
    /// Bytes readers may use of each part file.
    pub files: BTreeMap<String, u64>,
    pub console: console::ConsoleState,
    pub system: system::SystemState,
    pub media: media::MediaState,
    pub hist: hist::HistState,
}

impl Parts {
    /// The manifest's `parts` entry.
    pub fn to_mp(&self) -> Mp {
        let files = self
            .files
            .iter()
            .map(|(k, v)| (Mp::from(k.as_str()), Mp::from(*v)))
            .collect();
        Mp::Map(vec![
            entry("files", Mp::Map(files)),
            entry("console", self.console.to_mp()),
            entry("system", self.system.to_mp()),
            entry("media", self.media.to_mp()),
            entry("hist", self.hist.to_mp()),
        ])
    }

    /// Parse the manifest's `parts` entry.
    pub fn from_mp(v: &Mp) -> Option<Parts> {
        let mut files = BTreeMap::new();
        for (k, n) in field(v, "files")?.as_map()? {
            let name = k.as_str().filter(|n| part_file_ok(n))?;
            files.insert(name.to_owned(), n.as_u64()?);
        }
        Some(Parts {
            files,
            console: console::ConsoleState::from_mp(field(v, "console")?)?,
            system: system::SystemState::from_mp(field(v, "system")?)?,
            media: media::MediaState::from_mp(field(v, "media")?)?,
            hist: hist::HistState::from_mp(field(v, "hist")?)?,
        })
    }

    /// Bytes readers may use of part file `name` (0 when it has none).
    pub fn len(&self, name: &str) -> u64 {
        self.files.get(name).copied().unwrap_or(0)
    }
}

/// A part file being appended to during an update.
struct Pending {
    path: PathBuf,
    /// Bytes in the file (appended ones included).
    len: u64,
    buf: Vec<u8>,
}

/// The part files of an update in progress.
pub struct Writer {
    dir: PathBuf,
    files: BTreeMap<String, u64>,
    open: HashMap<String, Pending>,
    buffered: usize,
}

impl Writer {
    /// Start appending to the part files of `dir`, `files` naming their usable lengths.
    pub fn new(dir: &Path, files: BTreeMap<String, u64>) -> Writer {
        Writer {
            dir: dir.to_path_buf(),
            files,
            open: HashMap::new(),
            buffered: 0,
        }
    }

    /// Bytes of `name` so far (committed and appended).
    pub fn len(&self, name: &str) -> u64 {
        match self.open.get(name) {
            Some(p) => p.len + p.buf.len() as u64,
            None => self.files.get(name).copied().unwrap_or(0),
        }
    }

    /// Open `name` for appending: cut what an interrupted update left past its length.
    fn pending(&mut self, name: &str) -> Result<&mut Pending> {
        if !self.open.contains_key(name) {
            let path = self.dir.join(name);
            let io = |e| Error::io(&path, e);
            let want = self.files.get(name).copied().unwrap_or(0);
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(io)?;
            let len = file.metadata().map_err(io)?.len();
            if len < want {
                return Err(Error::Decode(format!(
                    "{DAMAGED} {} has {len} bytes, fewer than its {want}",
                    path.display()
                )));
            }
            if len > want {
                file.set_len(want).map_err(io)?;
            }
            self.open.insert(
                name.to_owned(),
                Pending {
                    path,
                    len: want,
                    buf: Vec::new(),
                },
            );
        }
        match self.open.get_mut(name) {
            Some(p) => Ok(p),
            None => unreachable!("the part file was just opened"),
        }
    }

    /// Append `bytes` to part file `name`.
    pub fn append(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        let p = self.pending(name)?;
        p.buf.extend_from_slice(bytes);
        self.buffered += bytes.len();
        if self.buffered >= FLUSH_BYTES {
            for p in self.open.values_mut() {
                p.write(false)?;
            }
            self.buffered = 0;
        }
        Ok(())
    }

    /// Write everything, fsync the touched files and return the new usable lengths.
    pub fn finish(mut self) -> Result<BTreeMap<String, u64>> {
        for (name, p) in &mut self.open {
            p.write(true)?;
            self.files.insert(name.clone(), p.len);
        }
        Ok(self.files)
    }
}

impl Pending {
    fn write(&mut self, sync: bool) -> Result<()> {
        let io = |e| Error::io(&self.path, e);
        let file = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        if !self.buf.is_empty() {
            file.write_all_at(&self.buf, self.len).map_err(io)?;
            self.len += self.buf.len() as u64;
            self.buf.clear();
        }
        if sync {
            file.sync_data().map_err(io)?;
        }
        Ok(())
    }
}

/// Read bytes `[from, to)` of part file `name` of `dir` (fewer when the file is shorter:
/// an index being rebuilt).
pub fn read_range(dir: &Path, name: &str, from: u64, to: u64) -> Result<Vec<u8>> {
    if to <= from {
        return Ok(Vec::new());
    }
    let path = dir.join(name);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let want = usize::try_from(to - from)
        .map_err(|_| Error::Decode(format!("{} is too large to read", path.display())))?;
    let mut buf = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match file.read_at(&mut buf[got..], from + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// The little-endian u64 at `at` of `b`.
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// The little-endian f64 at `at` of `b`.
pub(crate) fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_bits(u64_at(b, at))
}

/// The little-endian u32 at `at` of `b`.
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(x)
}

/// A list of strings in the manifest.
pub(crate) fn strings_to_mp(xs: &[String]) -> Mp {
    Mp::Array(xs.iter().map(|s| Mp::from(s.as_str())).collect())
}

/// A list of strings from the manifest.
pub(crate) fn strings_from_mp(v: &Mp) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|s| s.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::histogram::Hist;
    use crate::index::{INDEX_VERSION, index_update, read_manifest};
    use crate::record::{ConsoleLines, HistRecord, MediaRecord, Record, SystemSample};

    fn write_log(path: &Path, blocks: &[Vec<Record>]) {
        let bytes = codec::log_of(blocks);
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{e}"));
    }

    fn block(i: u64) -> Vec<Record> {
        vec![
            Record::Console(ConsoleLines {
                stream: if i % 2 == 0 { "stdout" } else { "stderr" }.into(),
                lines: vec![
                    (i as f64, format!("line {i}a")),
                    (i as f64, format!("é {i}b")),
                ],
            }),
            Record::System(SystemSample {
                timestamp: i as f64,
                runtime: 1.0,
                values: vec![(format!("system/k{}", i % 2).as_str().into(), i as f64)],
            }),
            Record::Media(MediaRecord {
                step: i,
                timestamp: 0.5,
                key: "img".into(),
                value: Mp::Map(vec![entry("_type", Mp::from("image"))]),
            }),
            Record::Histogram(HistRecord {
                step: i,
                timestamp: 0.5,
                key: "w".into(),
                hist: Hist {
                    edges: vec![0.0, 0.5, 1.0],
                    counts: vec![i, 1],
                    nan: 1,
                    pos_inf: 0,
                    neg_inf: 2,
                },
            }),
        ]
    }

    #[test]
    fn parts_are_appended_and_read_back() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (log, idx) = (tmp.path().join("run.fwlog"), tmp.path().join("index"));
        write_log(&log, &[block(0), block(1)]);
        index_update(&log, &idx).unwrap_or_else(|e| panic!("{e}"));
        write_log(&log, &[block(0), block(1), block(2)]);
        index_update(&log, &idx).unwrap_or_else(|e| panic!("{e}"));
        let m = read_manifest(&idx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.version, INDEX_VERSION);
        let c = console::Console::new(&idx, &m.parts);
        assert_eq!(c.total(None), 6);
        assert_eq!(c.total(Some("stderr")), 2);
        let n = c
            .numbers(Some("stdout"), 1, 10)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(n, [1, 4, 5]);
        let lines = c.lines(&[3, 4]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lines[0].text, "é 1b");
        assert_eq!(lines[0].stream, "stderr");
        assert_eq!(lines[1].text, "line 2a");
        let found = c.search(None, "line 1").unwrap_or_else(|e| panic!("{e}"));
        // "line 1a" is sure; the lines with other characters are the caller's to check.
        let sure: Vec<u64> = found
            .iter()
            .filter(|(_, t)| t.is_none())
            .map(|f| f.0)
            .collect();
        assert_eq!(sure, [2]);
        assert_eq!(found.len(), 4);
        let sys = system::read_columns(&idx, &m.parts, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sys.timestamp, [0.0, 1.0, 2.0]);
        assert_eq!(sys.columns[0].0, "system/k0");
        assert_eq!(sys.columns[0].1[0], 0.0);
        assert!(sys.columns[0].1[1].is_nan());
        let media =
            media::read_items(&idx, &m.parts, Some("img")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(media.len(), 3);
        assert_eq!(m.parts.media.keys[0].count, 3);
        let h = hist::read_key(&idx, &m.parts, "w").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(h.len(), 3);
        assert_eq!(h[2].0, 2);
        assert_eq!(h[2].1.counts, [2, 1]);
        assert_eq!(h[2].1.neg_inf, 2);
    }

    #[test]
    fn part_file_names() {
        assert!(part_file_ok("console.txt"));
        assert!(part_file_ok("hist.12.bin"));
        assert!(!part_file_ok("console"));
        assert!(!part_file_ok("../console.txt"));
        assert!(!part_file_ok("hist..bin"));
        assert!(!part_file_ok("manifest.json"));
        assert!(!part_file_ok("console.a/b"));
    }
}
