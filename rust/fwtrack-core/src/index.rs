//! The history index of a run: one column file per metric key, derived from the run log, so
//! that a chart reads one key's points without decoding the log.
//!
//! ```text
//! <index dir>/manifest.json   {"log_offset", "log_id", "columns": {"<key>": {"file", "rows"}},
//!                              "meta": <the run's metadata>, "state": <what folding continues from>}
//! <index dir>/<n>.col         rows of (step f64, timestamp f64, value f64), little-endian
//! ```
//!
//! [`index_update`] folds the log from `log_offset` on (whole frames only: a log still being
//! written is picked up where its last whole frame ends), appends each history record's
//! numeric values (floats, ints, and bools as 0/1) to their keys' columns, fsyncs the
//! columns and then replaces the manifest atomically. Readers use only the first `rows`
//! rows of a column, so rows appended by an update that was interrupted are invisible, and
//! the next update truncates them away before it redoes the work. A value logged again at
//! the same step as the column's last row replaces that row, as readers of the log merge
//! rows with the same step.
//!
//! The manifest also carries the run's metadata in the shape of `RunReader.meta()`, with
//! the summary kept up to date as the writer computes it, so a server shows a live run
//! without decoding its whole log.
//!
//! Column files are named `<n>.col` after the column's position in the manifest, never
//! after the key. A log shorter than `log_offset`, or one whose first frame changed, was
//! replaced: the index is rebuilt from scratch.

pub mod console;
pub mod hist;
pub mod json;
pub mod media;
pub mod parts;
pub mod pyramid;
pub mod system;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rmpv::Value as Mp;

use crate::codec::{HEADER_LEN, Tail};
use crate::downsample::{ROW_BYTES, Series};
use crate::error::{Error, Result};
pub use crate::meta::{Artifacts, RunMeta};
use crate::meta::{entry, field, opt_u64};
use crate::reader::FrameReader;
use crate::record::{Record, SummarySnapshot, Value};
use crate::summary::SummaryState;

/// The manifest's file name inside the index directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The lock an update holds inside the index directory.
pub const LOCK_FILE: &str = ".lock";
/// The manifest layout version. Version 2 added the parts (console, system, media,
/// histograms; [`parts`]); an index of an older version is rebuilt by the next update
/// (its history columns stay readable until then).
pub const INDEX_VERSION: u64 = 2;
/// The oldest layout whose columns readers still use.
const OLDEST_READABLE: u64 = 1;
/// Column bytes buffered in memory before an update appends them to the files.
const FLUSH_BYTES: usize = 16 << 20;
/// How the error about a column file shorter than its manifest says begins.
const DAMAGED: &str = "damaged index column";

/// One metric key's column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnEntry {
    pub key: String,
    /// The file name inside the index directory: `<n>.col`.
    pub file: String,
    /// Rows readers may use.
    pub rows: u64,
    /// Min/max pyramid levels built over those rows ([`pyramid`]; 0 in a manifest written
    /// before pyramids: the next update builds them).
    pub levels: u32,
}

impl ColumnEntry {
    /// Whether the column lacks pyramid levels it should have.
    fn pyramid_stale(&self) -> bool {
        self.levels < pyramid::levels_for(self.rows)
    }
}

/// What folding the log continues from at the next update.
#[derive(Debug, Default)]
struct FoldState {
    /// The summary as the writer computes it.
    summary: SummaryState,
    /// The last summary snapshot in the log (a resumed writer restores from it).
    last_snapshot: Option<SummarySnapshot>,
    /// The step of the last history record (a record with the same step merges into it).
    last_row_step: Option<u64>,
}

/// The index manifest: how far the log is indexed, the columns, and the run's metadata.
#[derive(Debug, Default)]
pub struct Manifest {
    /// The log is indexed up to here (the end of its last whole frame read).
    pub log_offset: u64,
    /// The CRC of the log's first frame: a log whose first frame changed was replaced.
    pub log_id: Option<u32>,
    /// Columns in the order their keys were first logged.
    pub columns: Vec<ColumnEntry>,
    pub meta: RunMeta,
    /// The layout version the manifest was written with (0: no manifest).
    pub version: u64,
    /// Console lines, system samples, media descriptors and histograms ([`parts`]).
    pub parts: parts::Parts,
    state: FoldState,
}

fn column_file_ok(name: &str) -> bool {
    name.strip_suffix(".col")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

fn snapshot_to_mp(s: &SummarySnapshot) -> Mp {
    Mp::Map(vec![
        entry("values", s.values.clone()),
        entry(
            "explicit",
            Mp::Array(s.explicit.iter().map(|k| Mp::from(k.as_str())).collect()),
        ),
    ])
}

fn snapshot_from_mp(v: &Mp) -> Option<SummarySnapshot> {
    Some(SummarySnapshot {
        values: field(v, "values")?.clone(),
        explicit: field(v, "explicit")?
            .as_array()?
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect(),
    })
}

impl Manifest {
    /// The manifest as JSON text.
    pub fn to_json(&self) -> String {
        let columns = self
            .columns
            .iter()
            .map(|c| {
                (
                    Mp::from(c.key.as_str()),
                    Mp::Map(vec![
                        entry("file", Mp::from(c.file.as_str())),
                        entry("rows", Mp::from(c.rows)),
                        entry("levels", Mp::from(c.levels)),
                    ]),
                )
            })
            .collect();
        let state = Mp::Map(vec![
            entry("summary", self.state.summary.to_mp()),
            entry(
                "last_snapshot",
                self.state
                    .last_snapshot
                    .as_ref()
                    .map_or(Mp::Nil, snapshot_to_mp),
            ),
            entry("last_row_step", opt_u64(self.state.last_row_step)),
        ]);
        json::to_string(&Mp::Map(vec![
            entry("version", Mp::from(INDEX_VERSION)),
            entry("log_offset", Mp::from(self.log_offset)),
            entry("log_id", self.log_id.map_or(Mp::Nil, Mp::from)),
            entry("columns", Mp::Map(columns)),
            entry("meta", self.meta.to_mp()),
            entry("state", state),
            entry("parts", self.parts.to_mp()),
        ]))
    }

    /// Parse manifest JSON text (`name` labels errors).
    pub fn from_json(text: &str, name: &str) -> Result<Manifest> {
        let bad = |why: &str| Error::Decode(format!("index manifest {name}: {why}"));
        let v = json::parse(text).map_err(|e| bad(&e))?;
        let version = field(&v, "version").and_then(Mp::as_u64);
        let Some(version) = version.filter(|v| (OLDEST_READABLE..=INDEX_VERSION).contains(v))
        else {
            return Err(bad(&format!(
                "layout version {version:?} is not {INDEX_VERSION}; hint: delete the index \
                 directory, it is rebuilt from the run log"
            )));
        };
        let log_offset = field(&v, "log_offset")
            .and_then(Mp::as_u64)
            .ok_or_else(|| bad("no log_offset"))?;
        let log_id = field(&v, "log_id")
            .and_then(Mp::as_u64)
            .and_then(|x| u32::try_from(x).ok());
        let mut columns = Vec::new();
        if let Some(Mp::Map(cols)) = field(&v, "columns") {
            for (k, c) in cols {
                let key = k
                    .as_str()
                    .ok_or_else(|| bad("a column key is not a string"))?;
                let file = field(c, "file")
                    .and_then(Mp::as_str)
                    .filter(|f| column_file_ok(f))
                    .ok_or_else(|| bad(&format!("column {key:?} has no valid file name")))?;
                let rows = field(c, "rows")
                    .and_then(Mp::as_u64)
                    .ok_or_else(|| bad(&format!("column {key:?} has no row count")))?;
                let levels = field(c, "levels")
                    .and_then(Mp::as_u64)
                    .and_then(|l| u32::try_from(l).ok())
                    .unwrap_or(0);
                columns.push(ColumnEntry {
                    key: key.to_owned(),
                    file: file.to_owned(),
                    rows,
                    levels,
                });
            }
        } else {
            return Err(bad("no columns"));
        }
        let meta = field(&v, "meta")
            .and_then(RunMeta::from_mp)
            .ok_or_else(|| bad("the run metadata is malformed"))?;
        let st = field(&v, "state").ok_or_else(|| bad("no state"))?;
        let state = FoldState {
            summary: field(st, "summary")
                .and_then(|s| SummaryState::from_mp(s, meta.metrics.clone()))
                .ok_or_else(|| bad("the summary state is malformed"))?,
            last_snapshot: field(st, "last_snapshot").and_then(snapshot_from_mp),
            last_row_step: field(st, "last_row_step").and_then(Mp::as_u64),
        };
        let parts = match field(&v, "parts") {
            Some(p) => parts::Parts::from_mp(p).ok_or_else(|| bad("the parts are malformed"))?,
            None => parts::Parts::default(),
        };
        Ok(Manifest {
            log_offset,
            log_id,
            columns,
            meta,
            version,
            parts,
            state,
        })
    }

    /// The keys that have columns, in the order they were first logged.
    pub fn keys(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.key.clone()).collect()
    }

    /// The column of `key`.
    pub fn column(&self, key: &str) -> Option<&ColumnEntry> {
        self.columns.iter().find(|c| c.key == key)
    }
}

/// Read the manifest of `index_dir`; a missing one is an empty index.
pub fn read_manifest(index_dir: &Path) -> Result<Manifest> {
    let path = index_dir.join(MANIFEST_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Manifest::from_json(&text, &path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// What an update did, and the index as it now is.
#[derive(Debug)]
pub struct IndexUpdate {
    /// The log is indexed up to this byte offset.
    pub log_offset: u64,
    /// Rows appended to columns by this update.
    pub rows_added: u64,
    /// Keys with a column, in the order they were first logged.
    pub keys: Vec<String>,
    pub meta: RunMeta,
}

impl IndexUpdate {
    fn of(m: Manifest, rows_added: u64) -> IndexUpdate {
        IndexUpdate {
            log_offset: m.log_offset,
            rows_added,
            keys: m.keys(),
            meta: m.meta,
        }
    }
}

/// The index of `index_dir` as it is, without updating it.
pub fn index_read_meta(index_dir: &Path) -> Result<IndexUpdate> {
    Ok(IndexUpdate::of(read_manifest(index_dir)?, 0))
}

/// An exclusive, blocking lock on a file, released on drop.
struct UpdateLock {
    _file: File,
}

impl UpdateLock {
    fn acquire(path: &Path) -> Result<UpdateLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        loop {
            // SAFETY: the descriptor is open for the lifetime of `file`.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(UpdateLock { _file: file });
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::io(path, err));
            }
        }
    }
}

/// The CRC field of the first frame of the log, if it has one.
fn read_log_id(log: &File, path: &Path) -> Result<Option<u32>> {
    let mut crc = [0u8; 4];
    match log.read_exact_at(&mut crc, HEADER_LEN as u64 + 4) {
        Ok(()) => Ok(Some(u32::from_le_bytes(crc))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A column being appended to during an update. Its file is opened only to write (and
/// closed again), so an update over a run with thousands of keys holds no descriptors.
struct OpenColumn {
    path: PathBuf,
    /// Rows in the file (appended ones included).
    file_rows: u64,
    /// Step of the column's last row.
    last_step: Option<f64>,
    /// Rows not yet written to the file.
    buf: Vec<u8>,
    /// A new version of the file's last row (a value logged again at its step).
    patch: Option<[u8; ROW_BYTES]>,
    /// Written since the last fsync.
    unsynced: bool,
    /// Pyramid levels built over `file_rows`.
    levels: u32,
}

impl OpenColumn {
    /// Write the pending rows, bring the pyramid up to date (and fsync when `sync`).
    fn write(&mut self, sync: bool) -> Result<()> {
        let stale = self.levels < pyramid::levels_for(self.file_rows);
        if self.buf.is_empty() && self.patch.is_none() && !stale && !(sync && self.unsynced) {
            return Ok(());
        }
        let io = |e| Error::io(&self.path, e);
        let file = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        // Rows from here on changed: their pyramid nodes are recomputed.
        let mut dirty = self.file_rows;
        if let Some(row) = self.patch.take() {
            dirty = self.file_rows - 1;
            file.write_all_at(&row, dirty * ROW_BYTES as u64)
                .map_err(io)?;
        }
        let tail_start = self.file_rows;
        if !self.buf.is_empty() {
            let at = self.file_rows * ROW_BYTES as u64;
            file.write_all_at(&self.buf, at).map_err(io)?;
            self.file_rows += (self.buf.len() / ROW_BYTES) as u64;
        }
        if dirty < self.file_rows || self.levels < pyramid::levels_for(self.file_rows) {
            self.levels = pyramid::update(
                &self.path,
                self.file_rows,
                dirty,
                self.levels,
                Some((tail_start, &self.buf)),
            )?;
        }
        self.buf.clear();
        self.unsynced = true;
        if sync {
            file.sync_data().map_err(io)?;
            pyramid::sync(&self.path, self.levels)?;
            self.unsynced = false;
        }
        Ok(())
    }
}

/// The columns of an update in progress.
struct Columns<'a> {
    dir: &'a Path,
    entries: &'a mut Vec<ColumnEntry>,
    by_key: HashMap<String, usize>,
    open: Vec<Option<OpenColumn>>,
    buffered: usize,
    rows_added: u64,
}

impl<'a> Columns<'a> {
    fn new(dir: &'a Path, entries: &'a mut Vec<ColumnEntry>) -> Self {
        let by_key = entries
            .iter()
            .enumerate()
            .map(|(i, c)| (c.key.clone(), i))
            .collect();
        let open = entries.iter().map(|_| None).collect();
        Columns {
            dir,
            entries,
            by_key,
            open,
            buffered: 0,
            rows_added: 0,
        }
    }

    /// Prepare column `i` for appending: cut rows an interrupted update left past `rows`,
    /// and read the step of its last row.
    fn open_existing(&self, i: usize) -> Result<OpenColumn> {
        let c = &self.entries[i];
        let path = self.dir.join(&c.file);
        let io = |e| Error::io(&path, e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let want = c.rows * ROW_BYTES as u64;
        let len = file.metadata().map_err(io)?.len();
        if len < want {
            return Err(Error::Decode(format!(
                "{DAMAGED} {} has {len} bytes, fewer than its {} rows",
                path.display(),
                c.rows
            )));
        }
        let mut unsynced = false;
        if len > want {
            file.set_len(want).map_err(io)?;
            unsynced = true;
        }
        let last_step = if c.rows > 0 {
            let mut b = [0u8; 8];
            file.read_exact_at(&mut b, want - ROW_BYTES as u64)
                .map_err(io)?;
            Some(f64::from_le_bytes(b))
        } else {
            None
        };
        Ok(OpenColumn {
            path,
            file_rows: c.rows,
            last_step,
            buf: Vec::new(),
            patch: None,
            unsynced,
            levels: c.levels,
        })
    }

    /// Start a column for a key logged for the first time.
    fn add_column(&mut self, key: &str) -> Result<usize> {
        let i = self.entries.len();
        let file = format!("{i}.col");
        let path = self.dir.join(&file);
        // A file left by an interrupted update (or an earlier index) is cut to zero.
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        self.entries.push(ColumnEntry {
            key: key.to_owned(),
            file,
            rows: 0,
            levels: 0,
        });
        self.by_key.insert(key.to_owned(), i);
        self.open.push(Some(OpenColumn {
            path,
            file_rows: 0,
            last_step: None,
            buf: Vec::new(),
            patch: None,
            unsynced: true,
            levels: 0,
        }));
        Ok(i)
    }

    fn column(&mut self, key: &str) -> Result<&mut OpenColumn> {
        let i = match self.by_key.get(key) {
            Some(&i) => i,
            None => self.add_column(key)?,
        };
        if self.open[i].is_none() {
            self.open[i] = Some(self.open_existing(i)?);
        }
        match &mut self.open[i] {
            Some(c) => Ok(c),
            None => unreachable!("the column was just opened"),
        }
    }

    fn push(&mut self, key: &str, step: f64, timestamp: f64, value: f64) -> Result<()> {
        let c = self.column(key)?;
        let mut row = [0u8; ROW_BYTES];
        row[..8].copy_from_slice(&step.to_le_bytes());
        row[8..16].copy_from_slice(&timestamp.to_le_bytes());
        row[16..].copy_from_slice(&value.to_le_bytes());
        if c.last_step == Some(step) {
            // Same step as the last row: the later value replaces it (readers merge rows).
            if c.buf.is_empty() {
                c.patch = Some(row);
            } else {
                let n = c.buf.len();
                c.buf[n - ROW_BYTES..].copy_from_slice(&row);
            }
            return Ok(());
        }
        c.buf.extend_from_slice(&row);
        c.last_step = Some(step);
        self.buffered += ROW_BYTES;
        self.rows_added += 1;
        if self.buffered >= FLUSH_BYTES {
            for c in self.open.iter_mut().flatten() {
                c.write(false)?;
            }
            self.buffered = 0;
        }
        Ok(())
    }

    /// Open the columns whose pyramid lacks levels (a manifest written before pyramids, or
    /// an interrupted build), so that finishing the update builds them.
    fn open_stale(&mut self) -> Result<()> {
        for i in 0..self.entries.len() {
            if self.open[i].is_none() && self.entries[i].pyramid_stale() {
                self.open[i] = Some(self.open_existing(i)?);
            }
        }
        Ok(())
    }

    /// Write everything, fsync the touched columns and record their new row counts.
    fn finish(mut self) -> Result<u64> {
        for (entry, c) in self.entries.iter_mut().zip(&mut self.open) {
            if let Some(c) = c {
                c.write(true)?;
                entry.rows = c.file_rows;
                entry.levels = c.levels;
            }
        }
        Ok(self.rows_added)
    }
}

/// The numeric value of a history value, if it is indexed.
fn indexed(v: &Value) -> Option<f64> {
    match v {
        Value::Float(x) => Some(*x),
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Str(_) => None,
    }
}

/// The summary values without clearing the dirty flag.
fn summary_values(s: &mut SummaryState) -> Mp {
    let dirty = s.is_dirty();
    let snap = s.snapshot();
    if dirty {
        s.mark_dirty();
    }
    snap.values
}

impl Manifest {
    /// Fold one record into the metadata (the one fold, [`RunMeta::fold`]), the summary
    /// and the columns.
    fn fold(&mut self, r: Record, cols: &mut Columns<'_>, parts: &mut parts::Writer) -> Result<()> {
        let st = &mut self.state;
        self.meta.fold(&r, &mut st.last_row_step);
        match r {
            Record::RunStart(_) => {
                // A (re)started writer continues from the last snapshot and definitions, and
                // each mean from every value logged before.
                let means = st.summary.means();
                st.summary =
                    SummaryState::restore(st.last_snapshot.as_ref(), self.meta.metrics.clone());
                st.summary.restore_means(means);
            }
            Record::History(row) => {
                let step = row.step as f64;
                for (k, v) in &row.values {
                    st.summary.observe(k, v);
                    if let Some(x) = indexed(v) {
                        cols.push(k, step, row.timestamp, x)?;
                    }
                }
            }
            Record::Summary(s) => {
                st.summary.sync_explicit(&s);
                st.last_snapshot = Some(s);
            }
            Record::MetricDef(d) => st.summary.define(d),
            Record::Histogram(h) => self.parts.hist.fold(h, parts)?,
            Record::System(x) => self.parts.system.fold(&x, parts)?,
            Record::Console(c) => self.parts.console.fold(c, parts)?,
            Record::Media(x) => self.parts.media.fold(&x, parts)?,
            // The rest is metadata only.
            Record::Config(_)
            | Record::Finish(_)
            | Record::ArtifactLogged(_)
            | Record::ArtifactUsed(_)
            | Record::Alert(_)
            | Record::RunEdit(_)
            | Record::Unknown { .. } => {}
        }
        Ok(())
    }
}

/// Remove the column files of `index_dir` (a rebuild starts from nothing).
fn remove_columns(index_dir: &Path) -> Result<()> {
    let rd = std::fs::read_dir(index_dir).map_err(|e| Error::io(index_dir, e))?;
    for e in rd {
        let e = e.map_err(|e| Error::io(index_dir, e))?;
        let name = e.file_name();
        if name.to_str().is_some_and(|n| {
            column_file_ok(n) || parts::part_file_ok(n) || pyramid::is_level_file(n)
        }) {
            let p = e.path();
            std::fs::remove_file(&p).map_err(|err| Error::io(&p, err))?;
        }
    }
    Ok(())
}

/// Replace the manifest atomically: temp file, fsync, rename, fsync the directory.
fn write_manifest(index_dir: &Path, m: &Manifest) -> Result<()> {
    let tmp = index_dir.join(format!("{MANIFEST_FILE}.tmp"));
    let dst = index_dir.join(MANIFEST_FILE);
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(m.to_json().as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    File::open(index_dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(index_dir, e))
}

/// Bring the index in `index_dir` (created if missing) up to date with the run log at
/// `log_path`: fold the whole frames after `log_offset`, append their numeric history
/// values to the columns, fsync them and replace the manifest. Stops cleanly at a torn or
/// corrupt tail (reported in `meta.tail_error`); the next update continues from there.
/// Updates of one index are serialized by a lock file in the directory.
pub fn index_update(log_path: &Path, index_dir: &Path) -> Result<IndexUpdate> {
    std::fs::create_dir_all(index_dir).map_err(|e| Error::io(index_dir, e))?;
    let _lock = UpdateLock::acquire(&index_dir.join(LOCK_FILE))?;
    // An unreadable manifest (or one of another layout) is rebuilt from the log.
    let mut m = read_manifest(index_dir).unwrap_or_default();
    let log = File::open(log_path).map_err(|e| Error::io(log_path, e))?;
    let len = log.metadata().map_err(|e| Error::io(log_path, e))?.len();
    let log_id = read_log_id(&log, log_path)?;
    drop(log);
    // A log that was replaced, or an index of an older layout, is rebuilt from scratch.
    let replaced = len < m.log_offset
        || (m.log_id.is_some() && m.log_id != log_id)
        || m.version != INDEX_VERSION;
    if replaced {
        m = Manifest::default();
        remove_columns(index_dir)?;
    }
    let stale = m.columns.iter().any(ColumnEntry::pyramid_stale);
    if len < HEADER_LEN as u64 || (len == m.log_offset && m.log_id == log_id && !stale) {
        // Nothing (new) to read: a log just created, or no growth since the last update.
        if replaced {
            write_manifest(index_dir, &m)?;
        }
        return Ok(IndexUpdate::of(m, 0));
    }
    match update_from(&mut m, log_path, index_dir, log_id) {
        Ok(added) => Ok(IndexUpdate::of(m, added)),
        Err(Error::Decode(why)) if why.starts_with(DAMAGED) => {
            // A damaged column (shorter than its manifest says): rebuild from scratch.
            let mut fresh = Manifest::default();
            remove_columns(index_dir)?;
            let added = update_from(&mut fresh, log_path, index_dir, log_id)?;
            Ok(IndexUpdate::of(fresh, added))
        }
        Err(e) => Err(e),
    }
}

fn update_from(
    m: &mut Manifest,
    log_path: &Path,
    index_dir: &Path,
    log_id: Option<u32>,
) -> Result<u64> {
    let mut frames = FrameReader::open_at(log_path, m.log_offset)?;
    let mut columns = std::mem::take(&mut m.columns);
    let mut cols = Columns::new(index_dir, &mut columns);
    let mut parts = parts::Writer::new(index_dir, std::mem::take(&mut m.parts.files));
    let mut folded = cols.open_stale();
    for frame in frames.by_ref() {
        if folded.is_err() {
            break;
        }
        for r in frame.records {
            folded = m.fold(r, &mut cols, &mut parts);
            if folded.is_err() {
                break;
            }
        }
        if folded.is_err() {
            break;
        }
    }
    let added = folded.and_then(|()| cols.finish());
    m.columns = columns;
    let added = added?;
    m.parts.files = parts.finish()?;
    m.version = INDEX_VERSION;
    m.log_offset = frames.offset();
    m.log_id = log_id.filter(|_| m.log_offset > HEADER_LEN as u64);
    m.meta.tail_error = match frames.tail() {
        Some(t @ (Tail::Torn { .. } | Tail::Corrupt { .. })) => t.describe(),
        _ => None,
    };
    // The writer's last snapshot is the summary, unless values were logged after it (a
    // log written without snapshots): then it is computed as the writer would.
    m.meta.summary = if m.state.summary.is_dirty() {
        summary_values(&mut m.state.summary)
    } else {
        m.state
            .last_snapshot
            .as_ref()
            .map_or(Mp::Map(Vec::new()), |s| s.values.clone())
    };
    write_manifest(index_dir, m)?;
    Ok(added)
}

/// First row index in `[0, n)` whose step is not `below` the target (binary search on
/// the column file, steps being non-decreasing).
fn partition(file: &File, path: &Path, n: u64, below: impl Fn(f64) -> bool) -> Result<u64> {
    let (mut lo, mut hi) = (0u64, n);
    let mut b = [0u8; 8];
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        file.read_exact_at(&mut b, mid * ROW_BYTES as u64)
            .map_err(|e| Error::io(path, e))?;
        if below(f64::from_le_bytes(b)) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// A column's file opened for reading, its usable rows, and the rows `[lo, hi)` with
/// `min_step <= step <= max_step` (bounds optional).
struct ColumnRange {
    path: PathBuf,
    file: File,
    rows: u64,
    lo: u64,
    hi: u64,
}

fn column_range(
    index_dir: &Path,
    column: &ColumnEntry,
    min_step: Option<f64>,
    max_step: Option<f64>,
) -> Result<ColumnRange> {
    if !column_file_ok(&column.file) {
        return Err(Error::Decode(format!(
            "index column file name {:?} is not <n>.col",
            column.file
        )));
    }
    let path = index_dir.join(&column.file);
    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    // A column cut short (the index is being rebuilt) yields what is there.
    let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    let n = column.rows.min(len / ROW_BYTES as u64);
    let lo = match min_step {
        Some(lo) if !lo.is_nan() => partition(&file, &path, n, |s| s < lo)?,
        _ => 0,
    };
    let hi = match max_step {
        Some(hi) if !hi.is_nan() => partition(&file, &path, n, |s| s <= hi)?,
        _ => n,
    };
    Ok(ColumnRange {
        path,
        file,
        rows: n,
        lo,
        hi,
    })
}

/// The rows of one column with `min_step <= step <= max_step` (bounds optional), as raw
/// 24-byte rows. Only that byte range of the file is read.
pub fn read_column(
    index_dir: &Path,
    column: &ColumnEntry,
    min_step: Option<f64>,
    max_step: Option<f64>,
) -> Result<Vec<u8>> {
    let ColumnRange {
        path, file, lo, hi, ..
    } = column_range(index_dir, column, min_step, max_step)?;
    if hi <= lo {
        return Ok(Vec::new());
    }
    let want = (hi - lo) * ROW_BYTES as u64;
    let mut buf = Vec::with_capacity(want as usize);
    let mut reader = &file;
    reader
        .seek(SeekFrom::Start(lo * ROW_BYTES as u64))
        .and_then(|_| reader.take(want).read_to_end(&mut buf))
        .map_err(|e| Error::io(&path, e))?;
    let got = buf.len();
    buf.truncate(got - got % ROW_BYTES);
    Ok(buf)
}

/// One column's rows in `[min_step, max_step]` downsampled to `samples` points: through
/// its pyramid when the range holds many more rows than `samples` (the same answer as
/// downsampling every row, from O(samples) nodes), from the rows themselves otherwise.
fn read_downsampled(
    index_dir: &Path,
    column: &ColumnEntry,
    samples: usize,
    min_step: Option<f64>,
    max_step: Option<f64>,
) -> Result<Series> {
    let r = column_range(index_dir, column, min_step, max_step)?;
    let n = r.hi.saturating_sub(r.lo);
    let levels = if samples > 0 && n > samples as u64 * pyramid::FANOUT {
        pyramid::usable_levels(&r.path, r.rows, column.levels)
    } else {
        0
    };
    if levels > 0 {
        // A level file that cannot be read (being rebuilt) leaves the rows to read.
        if let Ok(s) = pyramid::downsample_range(&r.path, &r.file, levels, (r.lo, r.hi), samples) {
            return Ok(s);
        }
    }
    pyramid::downsample_range(&r.path, &r.file, 0, (r.lo, r.hi), samples)
}

/// Series of `keys` (all keys when None; unknown keys are left out) with steps in
/// `[min_step, max_step]`, downsampled to `samples` points (0 = full resolution).
pub fn read_series(
    index_dir: &Path,
    keys: Option<&[String]>,
    samples: usize,
    min_step: Option<f64>,
    max_step: Option<f64>,
) -> Result<Vec<(String, Series)>> {
    let m = read_manifest(index_dir)?;
    let wanted: Vec<&ColumnEntry> = match keys {
        None => m.columns.iter().collect(),
        Some(keys) => {
            let mut seen = std::collections::HashSet::new();
            keys.iter()
                .filter(|k| seen.insert(k.as_str()))
                .filter_map(|k| m.column(k))
                .collect()
        }
    };
    let mut out = Vec::with_capacity(wanted.len());
    for c in wanted {
        out.push((
            c.key.clone(),
            read_downsampled(index_dir, c, samples, min_step, max_step)?,
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec;
    use crate::record::{Key, Row};

    fn log_with(dir: &Path, blocks: &[Vec<Record>]) -> PathBuf {
        let bytes = codec::log_of(blocks);
        let p = dir.join("run.fwlog");
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{e}"));
        p
    }

    fn row(step: u64, vals: &[(&str, Value)]) -> Record {
        Record::History(Row {
            step,
            timestamp: step as f64 + 0.5,
            runtime: step as f64,
            values: vals
                .iter()
                .map(|(k, v)| (Key::from(*k), v.clone()))
                .collect(),
        })
    }

    #[test]
    fn columns_and_merged_steps() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = log_with(
            tmp.path(),
            &[
                vec![
                    Record::RunStart(Mp::Nil),
                    row(0, &[("a", Value::Float(1.0))]),
                ],
                vec![
                    row(
                        0,
                        &[("a", Value::Float(2.0)), ("s", Value::Str("x".into()))],
                    ),
                    row(1, &[("b", Value::Bool(true)), ("a", Value::Int(3))]),
                ],
            ],
        );
        let idx = tmp.path().join("index");
        let u = index_update(&log, &idx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.keys, vec!["a", "b"]);
        assert_eq!(u.rows_added, 3);
        assert_eq!(u.meta.rows, 2);
        assert_eq!(u.meta.records, 4);
        assert_eq!(u.meta.last_step, Some(1));
        let s = read_series(&idx, None, 0, None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s[0].1.step, vec![0.0, 1.0]);
        assert_eq!(s[0].1.value, vec![2.0, 3.0]);
        assert_eq!(s[1].1.value, vec![1.0]);
        let again = index_update(&log, &idx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.rows_added, 0);
        assert_eq!(again.log_offset, u.log_offset);
        let only = read_series(&idx, Some(&["b".into(), "zz".into()]), 0, None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(only.len(), 1);
        let ranged = read_series(&idx, Some(&["a".into()]), 0, Some(0.5), Some(9.0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ranged[0].1.step, vec![1.0]);
    }

    #[test]
    fn bad_file_names_are_refused() {
        assert!(column_file_ok("12.col"));
        assert!(!column_file_ok("../1.col"));
        assert!(!column_file_ok(".col"));
        assert!(!column_file_ok("a.col"));
    }

    fn artifact(kind: u8, name: &str) -> Record {
        let body = Mp::Map(vec![
            entry("name", Mp::from(name)),
            entry("digest", Mp::from(format!("blake3:{name}"))),
            entry("metadata", Mp::Map(vec![entry("rows", Mp::from(3))])),
        ]);
        if kind == crate::record::kind::ARTIFACT_LOGGED {
            Record::ArtifactLogged(body)
        } else {
            Record::ArtifactUsed(body)
        }
    }

    #[test]
    fn artifact_records_fold_into_the_meta_in_log_order() {
        use crate::record::kind::{ARTIFACT_LOGGED, ARTIFACT_USED};
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let first = vec![
            Record::RunStart(Mp::Nil),
            artifact(ARTIFACT_USED, "in1"),
            artifact(ARTIFACT_LOGGED, "out1"),
        ];
        let second = vec![
            artifact(ARTIFACT_LOGGED, "out2"),
            artifact(ARTIFACT_USED, "in2"),
        ];
        let idx = tmp.path().join("index");
        // The first block alone, then both: the second update continues from the manifest.
        let log = log_with(tmp.path(), std::slice::from_ref(&first));
        index_update(&log, &idx).unwrap_or_else(|e| panic!("{e}"));
        let log = log_with(tmp.path(), &[first, second]);
        let u = index_update(&log, &idx).unwrap_or_else(|e| panic!("{e}"));
        let names = |bodies: &[Mp]| -> Vec<String> {
            bodies
                .iter()
                .filter_map(|b| field(b, "name").and_then(Mp::as_str).map(str::to_owned))
                .collect()
        };
        assert_eq!(names(&u.meta.artifacts.logged), ["out1", "out2"]);
        assert_eq!(names(&u.meta.artifacts.used), ["in1", "in2"]);
        // The whole body is kept, through the manifest too.
        let read = index_read_meta(&idx).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.meta.artifacts, u.meta.artifacts);
        assert_eq!(
            field(&read.meta.artifacts.logged[0], "metadata"),
            Some(&Mp::Map(vec![entry("rows", Mp::from(3))]))
        );
        // The reader folds them the same way.
        let view = crate::reader::RunView::open(&log).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(view.meta.artifacts, u.meta.artifacts);
        assert_eq!(view.meta.records, 5);
    }
}
