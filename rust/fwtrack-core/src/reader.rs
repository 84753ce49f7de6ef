//! Reading run logs back: a log still being written, or one cut short by a crash, reads up
//! to its last whole frame; the reason the scan stopped is reported, never raised.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::{self, FRAME_HEADER_LEN, HEADER_LEN, MAX_FRAME_BODY, RawStep, Tail};
use crate::columns::{ColumnsBuilder, HistoryFilter, RowDecoder};
use crate::error::{Error, Result};
use crate::histogram::Hist;
use crate::meta::RunMeta;
use crate::record::{Key, MediaRecord, Record, Row, SummarySnapshot, SystemSample, Value, kind};

/// Everything read from a log file.
#[derive(Debug)]
pub struct LogContents {
    pub records: Vec<Record>,
    /// Sequence number of the first record of each frame, with its record count.
    pub next_seq: u64,
    /// Length of the valid prefix (header and whole frames).
    pub valid_len: u64,
    pub tail: Tail,
}

/// The log file of a run directory, or `path` itself when it is a file.
pub fn log_path(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(crate::LOG_FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Read a whole log file.
pub fn read_log(path: &Path) -> Result<LogContents> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_log(&bytes, &path.display().to_string())
}

/// Decode the bytes of a log file (`name` only labels errors).
pub fn decode_log(bytes: &[u8], name: &str) -> Result<LogContents> {
    codec::check_header(bytes, name)?;
    let (frames, tail) = codec::scan_frames(&bytes[HEADER_LEN..], HEADER_LEN as u64);
    let mut valid_len = HEADER_LEN as u64;
    let mut next_seq = 0;
    let mut records = Vec::new();
    for f in frames {
        valid_len = f.offset + f.len;
        next_seq = f.first_seq + f.records.len() as u64;
        records.extend(f.records);
    }
    Ok(LogContents {
        records,
        next_seq,
        valid_len,
        tail,
    })
}

/// Whole frames of a log file, read one at a time: memory holds one frame. Reading can
/// start at any frame boundary, so a reader that already consumed a prefix of a growing log
/// (an indexer, an uploader) continues where it stopped.
pub struct FrameReader {
    file: BufReader<File>,
    offset: u64,
    tail: Option<Tail>,
}

impl FrameReader {
    /// Open a log file and check its header; reading starts after it.
    pub fn open(path: &Path) -> Result<FrameReader> {
        Self::open_at(path, HEADER_LEN as u64)
    }

    /// Open a log file, check its header and start reading at byte `offset`, which must be
    /// a frame boundary (the end of the header or of a whole frame; smaller values mean the
    /// end of the header). An offset past the end of the file reads nothing.
    pub fn open_at(path: &Path, offset: u64) -> Result<FrameReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut file = BufReader::with_capacity(1 << 16, file);
        let mut header = Vec::with_capacity(HEADER_LEN);
        (&mut file)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut header)
            .map_err(|e| Error::io(path, e))?;
        codec::check_header(&header, &path.display().to_string())?;
        let offset = offset.max(HEADER_LEN as u64);
        if offset > HEADER_LEN as u64 {
            file.seek(SeekFrom::Start(offset))
                .map_err(|e| Error::io(path, e))?;
        }
        Ok(FrameReader {
            file,
            offset,
            tail: None,
        })
    }

    /// The file offset just past the last whole frame read (where the next one starts).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Why reading ended, once it has.
    pub fn tail(&self) -> Option<&Tail> {
        self.tail.as_ref()
    }

    fn read_up_to(&mut self, buf: &mut Vec<u8>, n: usize) -> std::io::Result<()> {
        (&mut self.file).take(n as u64).read_to_end(buf).map(|_| ())
    }
}

impl Iterator for FrameReader {
    type Item = codec::Frame;

    fn next(&mut self) -> Option<codec::Frame> {
        if self.tail.is_some() {
            return None;
        }
        let mut bytes = Vec::with_capacity(FRAME_HEADER_LEN);
        let read = self
            .read_up_to(&mut bytes, FRAME_HEADER_LEN)
            .and_then(|()| {
                if bytes.len() == FRAME_HEADER_LEN {
                    let body =
                        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
                    if body <= MAX_FRAME_BODY {
                        bytes.reserve(body);
                        return self.read_up_to(&mut bytes, body);
                    }
                }
                Ok(())
            });
        if let Err(e) = read {
            self.tail = Some(Tail::Corrupt {
                offset: self.offset,
                reason: format!("read error: {e}"),
            });
            return None;
        }
        let (frames, tail) = codec::scan_frames(&bytes, self.offset);
        let Some(f) = frames.into_iter().next() else {
            self.tail = Some(tail);
            return None;
        };
        self.offset += f.len;
        Some(f)
    }
}

/// Records of a log read frame by frame: memory holds one frame at a time.
pub struct RecordStream {
    frames: FrameReader,
    queue: VecDeque<Record>,
}

impl RecordStream {
    /// Open a log file and check its header.
    pub fn open(path: &Path) -> Result<RecordStream> {
        Ok(RecordStream {
            frames: FrameReader::open(path)?,
            queue: VecDeque::new(),
        })
    }

    /// Why the stream ended, once it has.
    pub fn tail(&self) -> Option<&Tail> {
        self.frames.tail()
    }
}

impl Iterator for RecordStream {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Some(r);
            }
            let frame = self.frames.next()?;
            self.queue.extend(frame.records);
        }
    }
}

/// History rows of a log, merged by step, read frame by frame. History records are decoded
/// straight into rows holding only the wanted keys ([`crate::columns`]); rows outside the
/// wanted steps are left out.
pub struct RowStream {
    file: BufReader<File>,
    path: PathBuf,
    offset: u64,
    done: bool,
    filter: HistoryFilter,
    decoder: RowDecoder,
    queue: VecDeque<Row>,
    pending: Option<Row>,
}

impl RowStream {
    /// Stream the rows of a run directory (or a log file).
    pub fn open(path: &Path) -> Result<RowStream> {
        Self::open_filtered(path, HistoryFilter::default())
    }

    /// Stream the rows of a run directory (or a log file) that `filter` wants, with only
    /// its keys.
    pub fn open_filtered(path: &Path, filter: HistoryFilter) -> Result<RowStream> {
        let path = log_path(path);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut file = BufReader::with_capacity(1 << 16, file);
        let mut header = Vec::with_capacity(HEADER_LEN);
        (&mut file)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut header)
            .map_err(|e| Error::io(&path, e))?;
        codec::check_header(&header, &path.display().to_string())?;
        Ok(RowStream {
            file,
            path,
            offset: HEADER_LEN as u64,
            done: false,
            decoder: RowDecoder::new(filter.keys.as_deref()),
            filter,
            queue: VecDeque::new(),
            pending: None,
        })
    }

    /// Decode the next whole frame's history records into the queue; false at the end.
    fn fill(&mut self) -> bool {
        if self.done {
            return false;
        }
        let mut bytes = Vec::new();
        let ok = read_frame_bytes(&mut self.file, &mut bytes).is_ok();
        let frame = if ok {
            codec::next_raw_frame(&bytes, 0, self.offset)
        } else {
            RawStep::End(Tail::Clean)
        };
        let RawStep::Frame(f) = frame else {
            self.done = true;
            return false;
        };
        let rows = codec::records(&f.raw, f.count).and_then(|recs| {
            let mut rows = Vec::new();
            let filter = &self.filter;
            for (k, body) in recs {
                if k == kind::HISTORY {
                    rows.push(self.decoder.row(body, |s| filter.wants_step(s))?);
                } else if matches!(k, 1..=kind::LAST_KNOWN) {
                    // Checked as a generic reader would: a bad record ends the log here.
                    Record::decode(k, body)?;
                }
            }
            Ok(rows)
        });
        if let Ok(rows) = rows {
            self.offset += f.len;
            self.queue.extend(rows);
            true
        } else {
            self.done = true;
            false
        }
    }

    /// The log file read.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Read the next frame's bytes (header and as much of the body as there is).
fn read_frame_bytes(file: &mut BufReader<File>, bytes: &mut Vec<u8>) -> std::io::Result<()> {
    (&mut *file)
        .take(FRAME_HEADER_LEN as u64)
        .read_to_end(bytes)?;
    if bytes.len() == FRAME_HEADER_LEN {
        let body = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if body <= MAX_FRAME_BODY {
            bytes.reserve(body);
            (&mut *file).take(body as u64).read_to_end(bytes)?;
        }
    }
    Ok(())
}

impl Iterator for RowStream {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        loop {
            let Some(row) = self.queue.pop_front() else {
                if self.fill() {
                    continue;
                }
                let last = self.pending.take()?;
                if self.filter.wants_step(last.step) {
                    return Some(last);
                }
                continue;
            };
            match &mut self.pending {
                Some(prev) if prev.step == row.step => merge_row(prev, row),
                _ => {
                    if let Some(done) = self.pending.replace(row)
                        && self.filter.wants_step(done.step)
                    {
                        return Some(done);
                    }
                }
            }
        }
    }
}

fn merge_row(prev: &mut Row, row: Row) {
    prev.timestamp = row.timestamp;
    prev.runtime = row.runtime;
    for (k, val) in row.values {
        if let Some(slot) = prev.values.iter_mut().find(|(x, _)| *x == k) {
            slot.1 = val;
        } else {
            prev.values.push((k, val));
        }
    }
}

/// A run as its log tells it.
#[derive(Debug, Default)]
pub struct RunView {
    /// The metadata (`RunReader.meta()`), folded as the history index folds it; its
    /// summary is the last snapshot's values.
    pub meta: RunMeta,
    /// The last summary snapshot.
    pub summary: Option<SummarySnapshot>,
    pub rows: Vec<Row>,
    pub hists: Vec<(u64, Key, Hist)>,
    /// System-metric samples, in log order.
    pub system: Vec<SystemSample>,
    /// Console lines in log order: (Unix time, stream, text).
    pub console: Vec<(f64, Arc<str>, String)>,
    /// Media values in log order.
    pub media: Vec<MediaRecord>,
    pub next_seq: u64,
    pub valid_len: u64,
}

impl RunView {
    /// Fold a log's records into a view. Rows with the same step are merged.
    pub fn from_contents(c: LogContents) -> RunView {
        let mut v = RunView {
            next_seq: c.next_seq,
            valid_len: c.valid_len,
            ..RunView::default()
        };
        let mut last_row_step = None;
        for r in c.records {
            v.fold(r, &mut last_row_step, true);
        }
        v.finish(&c.tail);
        v
    }

    /// Fold one record; history rows are kept only with `rows`.
    fn fold(&mut self, r: Record, last_row_step: &mut Option<u64>, rows: bool) {
        self.meta.fold(&r, last_row_step);
        match r {
            Record::History(row) => {
                if rows {
                    match self.rows.last_mut() {
                        Some(prev) if prev.step == row.step => merge_row(prev, row),
                        _ => self.rows.push(row),
                    }
                }
            }
            Record::Histogram(h) => self.hists.push((h.step, h.key, h.hist)),
            Record::Summary(s) => self.summary = Some(s),
            Record::System(x) => self.system.push(x),
            Record::Console(c) => {
                let stream: Arc<str> = Arc::from(c.stream.as_str());
                self.console
                    .extend(c.lines.into_iter().map(|(t, l)| (t, stream.clone(), l)));
            }
            Record::Media(m) => self.media.push(m),
            // Metadata only: folded above.
            Record::RunStart(_)
            | Record::Config(_)
            | Record::MetricDef(_)
            | Record::Finish(_)
            | Record::ArtifactLogged(_)
            | Record::ArtifactUsed(_)
            | Record::Alert(_)
            | Record::RunEdit(_)
            | Record::Unknown { .. } => {}
        }
    }

    fn finish(&mut self, tail: &Tail) {
        if let Some(s) = &self.summary {
            self.meta.summary = s.values.clone();
        }
        self.meta.tail_error = tail.describe();
    }

    /// The system samples as columns: Unix times, run times and one column per key (NaN
    /// where a sample lacks the key), keys in order of first appearance.
    pub fn system_columns(&self) -> SystemColumns {
        let n = self.system.len();
        let mut out = SystemColumns {
            timestamp: Vec::with_capacity(n),
            runtime: Vec::with_capacity(n),
            columns: Vec::new(),
        };
        let mut index: HashMap<Key, usize> = HashMap::new();
        for (i, s) in self.system.iter().enumerate() {
            out.timestamp.push(s.timestamp);
            out.runtime.push(s.runtime);
            for (k, x) in &s.values {
                let c = *index.entry(k.clone()).or_insert_with(|| {
                    out.columns.push((k.clone(), vec![f64::NAN; n]));
                    out.columns.len() - 1
                });
                out.columns[c].1[i] = *x;
            }
        }
        out
    }

    /// Read and fold the log of a run directory (or a log file).
    pub fn open(path: &Path) -> Result<RunView> {
        Ok(RunView::from_contents(read_log(&log_path(path))?))
    }

    /// The history as columns.
    pub fn columns(&self, keys: Option<&[String]>) -> Columns {
        Columns::build(&self.rows, keys)
    }
}

/// A run log opened for reading without decoding its history: the metadata, histograms,
/// system samples, console lines and media of a [`RunView`] (its `rows` empty), read in one
/// pass that checks every history record but decodes only its step and times. The history
/// is decoded on demand, straight into typed columns ([`RunLog::history`]), from the
/// snapshot of the log taken at open (its first `valid_len` bytes).
#[derive(Debug)]
pub struct RunLog {
    pub view: RunView,
    /// The log file.
    pub path: PathBuf,
}

impl RunLog {
    /// Read the log of a run directory (or a log file) up to its last whole frame.
    pub fn open(path: &Path) -> Result<RunLog> {
        let path = log_path(path);
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let view = Self::fold_bytes(&bytes, &path.display().to_string())?;
        Ok(RunLog { view, path })
    }

    /// The view of the bytes of a log file (`name` only labels errors).
    pub fn fold_bytes(bytes: &[u8], name: &str) -> Result<RunView> {
        codec::check_header(bytes, name)?;
        let mut v = RunView {
            valid_len: HEADER_LEN as u64,
            ..RunView::default()
        };
        let mut last_row_step = None;
        let mut pos = HEADER_LEN;
        let tail = loop {
            let f = match codec::next_raw_frame(bytes, pos, 0) {
                RawStep::Frame(f) => f,
                RawStep::End(tail) => break tail,
            };
            let decoded: Result<Vec<Record>> = codec::records(&f.raw, f.count).and_then(|recs| {
                recs.into_iter()
                    .map(|(k, body)| {
                        if k == kind::HISTORY {
                            let h = crate::columns::check_record(body)?;
                            Ok(Record::History(Row {
                                step: h.step,
                                timestamp: h.timestamp,
                                runtime: h.runtime,
                                values: Vec::new(),
                            }))
                        } else {
                            Record::decode(k, body)
                        }
                    })
                    .collect()
            });
            match decoded {
                Ok(records) => {
                    v.next_seq = f.first_seq + records.len() as u64;
                    for r in records {
                        v.fold(r, &mut last_row_step, false);
                    }
                    pos += f.len as usize;
                    v.valid_len = pos as u64;
                }
                Err(e) => {
                    break Tail::Corrupt {
                        offset: f.offset,
                        reason: e.to_string(),
                    };
                }
            }
        };
        v.finish(&tail);
        Ok(v)
    }

    /// The history of the snapshot as columns, decoded straight from the records: only the
    /// filter's keys and steps (rows merged by step as [`Columns::build`] merges them).
    pub fn history(&self, filter: &HistoryFilter) -> Result<Columns> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut bytes = Vec::with_capacity(self.view.valid_len as usize);
        file.take(self.view.valid_len)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(history_columns(&bytes, filter))
    }
}

/// The history columns of the whole frames in a log's bytes (header included), decoded
/// straight from the records; decoding stops at the first frame that does not read.
pub fn history_columns(bytes: &[u8], filter: &HistoryFilter) -> Columns {
    let mut b = ColumnsBuilder::new(filter.clone());
    let mut pos = HEADER_LEN.min(bytes.len());
    while let RawStep::Frame(f) = codec::next_raw_frame(bytes, pos, 0) {
        let Ok(recs) = codec::records(&f.raw, f.count) else {
            break;
        };
        let mut ok = true;
        for (k, body) in recs {
            if k == kind::HISTORY && b.push(body).is_err() {
                ok = false;
                break;
            }
        }
        if !ok {
            break;
        }
        pos += f.len as usize;
    }
    b.finish()
}

/// The system samples, column by column.
#[derive(Debug, Default)]
pub struct SystemColumns {
    pub timestamp: Vec<f64>,
    pub runtime: Vec<f64>,
    pub columns: Vec<(Key, Vec<f64>)>,
}

/// One metric's column.
#[derive(Debug, PartialEq)]
pub enum Column {
    /// Every present value is a number: NaN where absent.
    Numeric(Vec<f64>),
    /// Strings or bools: `None` where absent.
    Mixed(Vec<Option<Value>>),
}

/// The history, column by column.
#[derive(Debug, Default)]
pub struct Columns {
    pub step: Vec<u64>,
    pub timestamp: Vec<f64>,
    pub runtime: Vec<f64>,
    pub columns: Vec<(Key, Column)>,
}

impl Columns {
    /// Build columns from merged rows; `keys` restricts the metric columns.
    pub fn build(rows: &[Row], keys: Option<&[String]>) -> Columns {
        let wanted: Option<HashSet<&str>> = keys.map(|k| k.iter().map(String::as_str).collect());
        let n = rows.len();
        let mut out = Columns {
            step: Vec::with_capacity(n),
            timestamp: Vec::with_capacity(n),
            runtime: Vec::with_capacity(n),
            columns: Vec::new(),
        };
        let mut index: HashMap<Key, usize> = HashMap::new();
        for (i, row) in rows.iter().enumerate() {
            out.step.push(row.step);
            out.timestamp.push(row.timestamp);
            out.runtime.push(row.runtime);
            for (k, v) in &row.values {
                if let Some(w) = &wanted
                    && !w.contains(&**k)
                {
                    continue;
                }
                let c = *index.entry(k.clone()).or_insert_with(|| {
                    out.columns
                        .push((k.clone(), Column::Numeric(vec![f64::NAN; n])));
                    out.columns.len() - 1
                });
                let col = &mut out.columns[c].1;
                match (col, v.as_f64()) {
                    (Column::Numeric(xs), Some(x)) => xs[i] = x,
                    (Column::Mixed(xs), _) => xs[i] = Some(v.clone()),
                    (col @ Column::Numeric(_), None) => {
                        let Column::Numeric(xs) = &*col else {
                            unreachable!()
                        };
                        let mut mixed: Vec<Option<Value>> = xs
                            .iter()
                            .map(|x| (!x.is_nan()).then_some(Value::Float(*x)))
                            .collect();
                        // A NaN that was logged as such stays NaN, not absent.
                        for (j, r) in rows.iter().enumerate().take(i) {
                            if let Some((_, val)) = r.values.iter().find(|(kk, _)| kk == k) {
                                mixed[j] = Some(val.clone());
                            }
                        }
                        mixed[i] = Some(v.clone());
                        *col = Column::Mixed(mixed);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_stream_matches_the_view() {
        use crate::record::Record;
        use crate::writer::{Writer, WriterOptions};
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let opts = WriterOptions {
            block_bytes: 256,
            ..WriterOptions::default()
        };
        let (w, _) = Writer::open(dir.path(), Record::RunStart(rmpv::Value::Nil), false, opts)
            .unwrap_or_else(|e| panic!("{e}"));
        for i in 0..500u64 {
            // every step twice: the stream merges them
            for k in ["a", "b"] {
                let r = row(i, &[(k, Value::Int(i as i64))]);
                w.send(Record::History(r)).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        w.close().unwrap_or_else(|e| panic!("{e}"));
        let streamed: Vec<Row> = RowStream::open(dir.path())
            .unwrap_or_else(|e| panic!("{e}"))
            .collect();
        let view = RunView::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(streamed.len(), 500);
        assert_eq!(streamed, view.rows);
        assert_eq!(streamed[7].values.len(), 2);
    }

    fn row(step: u64, vals: &[(&str, Value)]) -> Row {
        Row {
            step,
            timestamp: step as f64,
            runtime: 0.0,
            values: vals
                .iter()
                .map(|(k, v)| (Key::from(*k), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn system_samples_and_console_lines_fold_in_order() {
        use crate::record::{ConsoleLines, SystemSample};
        let sample = |t: f64, vals: &[(&str, f64)]| {
            Record::System(SystemSample {
                timestamp: t,
                runtime: t - 100.0,
                values: vals.iter().map(|(k, v)| (Key::from(*k), *v)).collect(),
            })
        };
        let lines = |stream: &str, ls: &[(f64, &str)]| {
            Record::Console(ConsoleLines {
                stream: stream.into(),
                lines: ls.iter().map(|(t, l)| (*t, (*l).to_owned())).collect(),
            })
        };
        let view = RunView::from_contents(LogContents {
            records: vec![
                sample(100.0, &[("system/a", 1.0)]),
                lines("stdout", &[(100.5, "one"), (100.6, "two")]),
                sample(101.0, &[("system/b", 2.0), ("system/a", 3.0)]),
                lines("stderr", &[(101.5, "three")]),
            ],
            next_seq: 4,
            valid_len: 0,
            tail: Tail::Clean,
        });
        assert!(view.rows.is_empty());
        let cols = view.system_columns();
        assert_eq!(cols.timestamp, vec![100.0, 101.0]);
        assert_eq!(cols.runtime, vec![0.0, 1.0]);
        assert_eq!(&*cols.columns[0].0, "system/a");
        assert_eq!(cols.columns[0].1, vec![1.0, 3.0]);
        assert_eq!(&*cols.columns[1].0, "system/b");
        assert!(cols.columns[1].1[0].is_nan());
        assert!((cols.columns[1].1[1] - 2.0).abs() < f64::EPSILON);
        let console: Vec<(f64, &str, &str)> = view
            .console
            .iter()
            .map(|(t, s, l)| (*t, &**s, l.as_str()))
            .collect();
        assert_eq!(
            console,
            vec![
                (100.5, "stdout", "one"),
                (100.6, "stdout", "two"),
                (101.5, "stderr", "three")
            ]
        );
    }

    #[test]
    fn columns_numeric_and_mixed() {
        let rows = vec![
            row(
                0,
                &[("a", Value::Float(1.0)), ("s", Value::Float(f64::NAN))],
            ),
            row(1, &[("b", Value::Int(2)), ("s", Value::Str("x".into()))]),
        ];
        let c = Columns::build(&rows, None);
        assert_eq!(c.step, vec![0, 1]);
        assert_eq!(c.columns.len(), 3);
        let Column::Numeric(a) = &c.columns[0].1 else {
            panic!("a should be numeric")
        };
        assert!(a[0] == 1.0 && a[1].is_nan());
        let Column::Mixed(s) = &c.columns[1].1 else {
            panic!("s should be mixed")
        };
        assert!(matches!(s[0], Some(Value::Float(x)) if x.is_nan()));
        assert_eq!(s[1], Some(Value::Str("x".into())));
        let only_b = Columns::build(&rows, Some(&["b".to_owned()]));
        assert_eq!(only_b.columns.len(), 1);
    }
}
