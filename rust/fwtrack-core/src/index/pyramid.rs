//! The min/max pyramid of an index column: summary levels that let a chart downsample any
//! step range of a long column without reading every row.
//!
//! ```text
//! <n>.col   rows (step, timestamp, value)                        level 0
//! <n>.p1    one node per FANOUT rows                             level 1
//! <n>.p2    one node per FANOUT level-1 nodes (FANOUT² rows)     level 2 ...
//! ```
//!
//! A node (`NODE_BYTES`, little-endian f64) summarizes its rows: the least and greatest
//! step, the last row (step, timestamp, value), and the least and greatest finite value
//! (+inf/-inf when it has none). Level `l` exists once a column has more than
//! `FANOUT^(l+1)` rows, so the top level has between FANOUT and FANOUT² nodes and a column
//! of at most FANOUT² rows has no pyramid at all. The index update maintains the levels
//! incrementally: rows appended (or a last row replaced) from row `d` on rewrite only the
//! nodes from `d / FANOUT^l` on at each level.
//!
//! [`downsample_range`] gives exactly what [`crate::downsample::downsample_rows`] gives
//! over the same rows (same equal-width buckets over the same first and last step; per
//! bucket its last point and the min/max of its finite values) while reading only: the
//! nodes of the top level in the range, and the children of every node that straddles a
//! bucket boundary or an end of the range. A boundary straddles at most one node per
//! level, so a range cut into N buckets reads O(N · FANOUT · levels) nodes and rows,
//! whatever its length.
//!
//! Readers use a node only when all of its rows are below the manifest's row count, so a
//! node still being extended by an update (the last one of each level) is never used as a
//! whole: its children are read instead.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::downsample::{self, ROW_BYTES, Series, row_at};
use crate::error::{Error, Result};

/// Rows (or nodes) summarized by one node of the level above.
pub const FANOUT: u64 = 64;
/// Size of one node: step min/max, the last row (step, timestamp, value), value min/max.
pub const NODE_BYTES: usize = 56;
/// Children read at once while (re)building a level.
const CHUNK_CHILDREN: u64 = FANOUT * 4096;

/// Pyramid levels a column of `rows` rows has.
pub fn levels_for(rows: u64) -> u32 {
    let mut levels = 0;
    let mut span = FANOUT * FANOUT;
    while rows > span {
        levels += 1;
        match span.checked_mul(FANOUT) {
            Some(s) => span = s,
            None => break,
        }
    }
    levels
}

/// Rows under one node of `level` (level 0: a row).
fn span(level: u32) -> u64 {
    FANOUT.saturating_pow(level)
}

/// Nodes of `level` for a column of `rows` rows (the last one may be partial).
fn nodes(rows: u64, level: u32) -> u64 {
    rows.div_ceil(span(level))
}

/// The file of `level` (>= 1) of the column at `col_path` (`<n>.col` -> `<n>.p<level>`).
pub fn level_path(col_path: &Path, level: u32) -> PathBuf {
    col_path.with_extension(format!("p{level}"))
}

/// Whether `name` is a pyramid level file name (`<n>.p<level>`).
pub fn is_level_file(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    name.split_once(".p")
        .is_some_and(|(stem, level)| digits(stem) && digits(level))
}

/// One node (or one row, as a node of level 0).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Node {
    step_min: f64,
    step_max: f64,
    last: (f64, f64, f64),
    min: f64,
    max: f64,
}

#[inline]
fn f64_at(b: &[u8], at: usize) -> f64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    f64::from_le_bytes(x)
}

impl Node {
    #[inline]
    fn of_row(rows: &[u8], i: usize) -> Node {
        let (step, ts, value) = row_at(rows, i);
        let finite = value.is_finite();
        Node {
            step_min: step,
            step_max: step,
            last: (step, ts, value),
            min: if finite { value } else { f64::INFINITY },
            max: if finite { value } else { f64::NEG_INFINITY },
        }
    }

    #[inline]
    fn decode(b: &[u8], i: usize) -> Node {
        let at = i * NODE_BYTES;
        let x = |k: usize| f64_at(b, at + 8 * k);
        Node {
            step_min: x(0),
            step_max: x(1),
            last: (x(2), x(3), x(4)),
            min: x(5),
            max: x(6),
        }
    }

    /// The `i`-th child in `b`, of `level` (0: rows).
    #[inline]
    fn child(b: &[u8], i: usize, level: u32) -> Node {
        if level == 0 {
            Node::of_row(b, i)
        } else {
            Node::decode(b, i)
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        for x in [
            self.step_min,
            self.step_max,
            self.last.0,
            self.last.1,
            self.last.2,
            self.min,
            self.max,
        ] {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }

    /// Take in the node that follows this one.
    #[inline]
    fn then(&mut self, next: &Node) {
        self.step_min = self.step_min.min(next.step_min);
        self.step_max = self.step_max.max(next.step_max);
        self.last = next.last;
        self.min = self.min.min(next.min);
        self.max = self.max.max(next.max);
    }
}

fn read_at(file: &File, path: &Path, at: u64, len: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, at)
        .map_err(|e| Error::io(path, e))?;
    Ok(buf)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// Bring the pyramid of the column at `col_path` (`rows` rows now) up to date after its
/// rows from `dirty` on were appended or replaced; `built` levels were complete before.
/// `tail` holds rows `[tail.0, rows)` when the caller has them in memory (they are read
/// from the file otherwise). Returns the levels built.
pub(crate) fn update(
    col_path: &Path,
    rows: u64,
    dirty: u64,
    built: u32,
    tail: Option<(u64, &[u8])>,
) -> Result<u32> {
    let want = levels_for(rows);
    if want == 0 {
        return Ok(0);
    }
    let col = File::open(col_path).map_err(|e| Error::io(col_path, e))?;
    // First child (of the level below) whose parent must be recomputed.
    let mut from = dirty.min(rows);
    for level in 1..=want {
        let path = level_path(col_path, level);
        let mut first = from / FANOUT * FANOUT;
        // A level not built yet, or missing nodes (an index restored without its
        // pyramid), is built from its start.
        if level > built || file_len(&path) < first / FANOUT * NODE_BYTES as u64 {
            first = 0;
        }
        let below = level - 1;
        let children = nodes(rows, below);
        let below_file = if below == 0 {
            None
        } else {
            let p = level_path(col_path, below);
            let f = File::open(&p).map_err(|e| Error::io(&p, e))?;
            Some((f, p))
        };
        let out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut c = first;
        let mut enc = Vec::new();
        while c < children {
            let end = (c + CHUNK_CHILDREN).min(children);
            let bytes: Cow<'_, [u8]> = match &below_file {
                Some((f, p)) => Cow::Owned(read_at(
                    f,
                    p,
                    c * NODE_BYTES as u64,
                    ((end - c) as usize) * NODE_BYTES,
                )?),
                None => rows_between(&col, col_path, c, end, tail)?,
            };
            enc.clear();
            let n = (end - c) as usize;
            let mut i = 0;
            while i < n {
                let stop = (i + FANOUT as usize).min(n);
                let mut node = Node::child(&bytes, i, below);
                for j in i + 1..stop {
                    node.then(&Node::child(&bytes, j, below));
                }
                node.encode(&mut enc);
                i = stop;
            }
            out.write_all_at(&enc, c / FANOUT * NODE_BYTES as u64)
                .map_err(|e| Error::io(&path, e))?;
            c = end;
        }
        let len = nodes(rows, level) * NODE_BYTES as u64;
        if file_len(&path) > len {
            out.set_len(len).map_err(|e| Error::io(&path, e))?;
        }
        from = first / FANOUT;
    }
    Ok(want)
}

/// Rows `[a, b)` of the column, from `tail` where it has them.
fn rows_between<'t>(
    col: &File,
    path: &Path,
    a: u64,
    b: u64,
    tail: Option<(u64, &'t [u8])>,
) -> Result<Cow<'t, [u8]>> {
    let row = ROW_BYTES as u64;
    match tail {
        Some((start, bytes)) if a >= start && (b - start) * row <= bytes.len() as u64 => Ok(
            Cow::Borrowed(&bytes[((a - start) * row) as usize..((b - start) * row) as usize]),
        ),
        Some((start, bytes))
            if a < start && b > start && (b - start) * row <= bytes.len() as u64 =>
        {
            let mut v = read_at(col, path, a * row, ((start - a) * row) as usize)?;
            v.extend_from_slice(&bytes[..((b - start) * row) as usize]);
            Ok(Cow::Owned(v))
        }
        _ => Ok(Cow::Owned(read_at(
            col,
            path,
            a * row,
            ((b - a) * row) as usize,
        )?)),
    }
}

/// Make the level files durable.
pub(crate) fn sync(col_path: &Path, levels: u32) -> Result<()> {
    for level in 1..=levels {
        let path = level_path(col_path, level);
        File::open(&path)
            .and_then(|f| f.sync_data())
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The levels of a column of `rows` rows a reader may use: of the `built` ones, those
/// whose files hold every node.
pub(crate) fn usable_levels(col_path: &Path, rows: u64, built: u32) -> u32 {
    let mut ok = 0;
    for level in 1..=built.min(levels_for(rows)) {
        if file_len(&level_path(col_path, level)) < nodes(rows, level) * NODE_BYTES as u64 {
            break;
        }
        ok = level;
    }
    ok
}

/// Per bucket: the index of its last row (u64::MAX: empty), that row, and its finite
/// min/max.
struct Buckets {
    last: Vec<u64>,
    point: Vec<(f64, f64, f64)>,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl Buckets {
    fn new(n: usize) -> Buckets {
        Buckets {
            last: vec![u64::MAX; n],
            point: vec![(0.0, 0.0, 0.0); n],
            min: vec![f64::INFINITY; n],
            max: vec![f64::NEG_INFINITY; n],
        }
    }

    #[inline]
    fn add(&mut self, b: usize, last_row: u64, node: &Node) {
        if self.last[b] == u64::MAX || last_row > self.last[b] {
            self.last[b] = last_row;
            self.point[b] = node.last;
        }
        self.min[b] = self.min[b].min(node.min);
        self.max[b] = self.max[b].max(node.max);
    }

    fn series(self) -> Series {
        let kept = self.last.iter().filter(|&&i| i != u64::MAX).count();
        let mut s = Series {
            step: Vec::with_capacity(kept),
            value: Vec::with_capacity(kept),
            timestamp: Vec::with_capacity(kept),
            min: Some(Vec::with_capacity(kept)),
            max: Some(Vec::with_capacity(kept)),
        };
        for b in 0..self.last.len() {
            if self.last[b] == u64::MAX {
                continue;
            }
            let (st, ts, v) = self.point[b];
            s.step.push(st);
            s.timestamp.push(ts);
            s.value.push(v);
            let finite = self.min[b] <= self.max[b];
            if let (Some(mn), Some(mx)) = (&mut s.min, &mut s.max) {
                mn.push(if finite { self.min[b] } else { f64::NAN });
                mx.push(if finite { self.max[b] } else { f64::NAN });
            }
        }
        s
    }
}

/// Rows `[r0, r1)` of the column at `col_path` (open as `col`, with `levels` usable
/// levels), downsampled to `samples` points: the same answer as
/// [`downsample::downsample_rows`] over those rows.
pub(crate) fn downsample_range(
    col_path: &Path,
    col: &File,
    levels: u32,
    (r0, r1): (u64, u64),
    samples: usize,
) -> Result<Series> {
    let n = r1.saturating_sub(r0);
    if samples == 0 || n <= samples as u64 || levels == 0 {
        let bytes = rows_between(col, col_path, r0, r1.max(r0), None)?;
        return Ok(downsample::downsample_rows(&bytes, samples));
    }
    let row = ROW_BYTES as u64;
    let lo = row_at(&read_at(col, col_path, r0 * row, ROW_BYTES)?, 0).0;
    let hi = row_at(&read_at(col, col_path, (r1 - 1) * row, ROW_BYTES)?, 0).0;
    let scale = downsample::bucket_scale(lo, hi, samples);
    let bucket = |step: f64| downsample::bucket_scaled(step, lo, scale, samples);
    let mut acc = Buckets::new(samples);
    let files = (1..=levels)
        .map(|l| {
            let p = level_path(col_path, l);
            File::open(&p)
                .map(|f| (f, p.clone()))
                .map_err(|e| Error::io(&p, e))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut level = levels;
    let mut frontier = vec![(r0 / span(level), r1.div_ceil(span(level)))];
    loop {
        let sp = span(level);
        let child_sp = if level == 0 { 1 } else { span(level - 1) };
        let (clo, chi) = (r0 / child_sp, r1.div_ceil(child_sp));
        let mut next: Vec<(u64, u64)> = Vec::new();
        for &(a, b) in &frontier {
            let bytes = if level == 0 {
                read_at(col, col_path, a * row, ((b - a) * row) as usize)?
            } else {
                let (f, p) = &files[level as usize - 1];
                read_at(f, p, a * NODE_BYTES as u64, ((b - a) as usize) * NODE_BYTES)?
            };
            for i in a..b {
                let node = Node::child(&bytes, (i - a) as usize, level);
                let (s0, s1) = (i * sp, (i + 1) * sp);
                if s1 <= r0 || s0 >= r1 {
                    continue;
                }
                if s0 >= r0 && s1 <= r1 {
                    let bk = bucket(node.step_min);
                    if level == 0 || bk == bucket(node.step_max) {
                        acc.add(bk, s1 - 1, &node);
                        continue;
                    }
                }
                // Straddles a bucket boundary or an end of the range: its children.
                let (c0, c1) = ((i * FANOUT).max(clo), ((i + 1) * FANOUT).min(chi));
                match next.last_mut() {
                    Some(last) if last.1 == c0 => last.1 = c1,
                    _ => next.push((c0, c1)),
                }
            }
        }
        if level == 0 || next.is_empty() {
            break;
        }
        frontier = next;
        level -= 1;
    }
    Ok(acc.series())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_counts_and_names() {
        assert_eq!(levels_for(0), 0);
        assert_eq!(levels_for(4096), 0);
        assert_eq!(levels_for(4097), 1);
        assert_eq!(levels_for(262_144), 1);
        assert_eq!(levels_for(262_145), 2);
        assert_eq!(levels_for(10_000_000), 2);
        assert_eq!(levels_for(u64::MAX), 9);
        assert_eq!(level_path(Path::new("/x/12.col"), 3), Path::new("/x/12.p3"));
        assert!(is_level_file("12.p3"));
        assert!(!is_level_file("12.col"));
        assert!(!is_level_file(".p1"));
        assert!(!is_level_file("a.p1"));
        assert!(!is_level_file("1.p"));
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// `n` rows with increasing steps (gaps of 1..=3), values with spikes, NaNs and infs.
    fn random_rows(rng: &mut Rng, n: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(n as usize * ROW_BYTES);
        let mut step = rng.below(10) as f64;
        for i in 0..n {
            step += (1 + rng.below(3)) as f64;
            let value = match rng.below(200) {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => 1e12 * (rng.below(3) as f64 - 1.0),
                _ => (rng.below(1_000_000) as f64) / 1e3 - (i as f64) * 1e-4,
            };
            for x in [step, 1e9 + step / 2.0, value] {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    fn write_rows(path: &Path, rows: &[u8]) {
        std::fs::write(path, rows).unwrap_or_else(|e| panic!("{e}"));
    }

    fn levels_bytes(col: &Path, levels: u32) -> Vec<Vec<u8>> {
        (1..=levels)
            .map(|l| std::fs::read(level_path(col, l)).unwrap_or_else(|e| panic!("{e}")))
            .collect()
    }

    fn same(a: &Series, b: &Series) -> bool {
        // NaN-aware equality of every column, bit for bit.
        let eq = |x: &[f64], y: &[f64]| {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits())
        };
        let opt = |x: &Option<Vec<f64>>, y: &Option<Vec<f64>>| match (x, y) {
            (Some(x), Some(y)) => eq(x, y),
            (None, None) => true,
            _ => false,
        };
        eq(&a.step, &b.step)
            && eq(&a.value, &b.value)
            && eq(&a.timestamp, &b.timestamp)
            && opt(&a.min, &b.min)
            && opt(&a.max, &b.max)
    }

    #[test]
    fn downsampling_through_the_pyramid_equals_every_row() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let col = tmp.path().join("0.col");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let n = 300_000;
        let rows = random_rows(&mut rng, n);
        write_rows(&col, &rows);
        let levels = update(&col, n, 0, 0, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(levels, 2);
        assert_eq!(usable_levels(&col, n, levels), 2);
        let file = File::open(&col).unwrap_or_else(|e| panic!("{e}"));
        let mut ranges = vec![
            (0, n),
            (0, 1),
            (n - 1, n),
            (n - 5000, n),
            (12_345, 12_345 + 70_000),
        ];
        for _ in 0..40 {
            let a = rng.below(n);
            let len = match rng.below(3) {
                0 => rng.below(200),
                1 => rng.below(20_000),
                _ => rng.below(n),
            };
            ranges.push((a, (a + len + 1).min(n)));
        }
        for (r0, r1) in ranges {
            for samples in [1, 7, 100, 1000] {
                let want = downsample::downsample_rows(
                    &rows[r0 as usize * ROW_BYTES..r1 as usize * ROW_BYTES],
                    samples,
                );
                for l in 0..=levels {
                    let got = downsample_range(&col, &file, l, (r0, r1), samples)
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert!(
                        same(&got, &want),
                        "rows [{r0}, {r1}) into {samples} through {l} levels: {got:?} != {want:?}"
                    );
                }
            }
        }
    }

    /// A bucket's last row and the min/max of its finite values.
    type Bucket = ((f64, f64, f64), f64, f64);

    #[test]
    fn brute_force_min_max_per_bucket() {
        // Independent of downsample_rows: every bucket's min/max is the min/max of the
        // finite values of the rows whose step falls in it.
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let col = tmp.path().join("3.col");
        let mut rng = Rng(42);
        let n = 100_000;
        let rows = random_rows(&mut rng, n);
        write_rows(&col, &rows);
        let levels = update(&col, n, 0, 0, None).unwrap_or_else(|e| panic!("{e}"));
        let file = File::open(&col).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..20 {
            let r0 = rng.below(n / 2);
            let r1 = r0 + 10_000 + rng.below(n / 2 - 10_000);
            let samples = 1 + rng.below(500) as usize;
            let got = downsample_range(&col, &file, levels, (r0, r1), samples)
                .unwrap_or_else(|e| panic!("{e}"));
            let (lo, hi) = (
                row_at(&rows, r0 as usize).0,
                row_at(&rows, r1 as usize - 1).0,
            );
            let width = (hi - lo) / samples as f64;
            let (mn, mx) = (
                got.min.clone().unwrap_or_default(),
                got.max.clone().unwrap_or_default(),
            );
            // Brute force, one pass over the rows: per bucket its last row and the
            // min/max of its finite values.
            let mut want: Vec<Option<Bucket>> = vec![None; samples];
            for i in r0..r1 {
                let r = row_at(&rows, i as usize);
                let b = downsample::bucket_of(r.0, lo, hi, samples);
                let e = want[b].get_or_insert((r, f64::INFINITY, f64::NEG_INFINITY));
                e.0 = r;
                if r.2.is_finite() {
                    e.1 = e.1.min(r.2);
                    e.2 = e.2.max(r.2);
                }
            }
            assert!(width > 0.0);
            let want: Vec<_> = want.into_iter().flatten().collect();
            assert_eq!(want.len(), got.len());
            for (k, (last, want_min, want_max)) in want.into_iter().enumerate() {
                assert_eq!((got.step[k], got.timestamp[k]), (last.0, last.1));
                assert_eq!(got.value[k].to_bits(), last.2.to_bits());
                if want_min <= want_max {
                    assert_eq!((mn[k], mx[k]), (want_min, want_max));
                } else {
                    assert!(mn[k].is_nan() && mx[k].is_nan());
                }
            }
            // The range's last row is the last point.
            assert_eq!(got.step.last().copied(), Some(hi));
        }
    }

    #[test]
    fn many_small_updates_equal_one_build() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut rng = Rng(7);
        let n = 280_000;
        let rows = random_rows(&mut rng, n);
        let whole = tmp.path().join("0.col");
        write_rows(&whole, &rows);
        let levels = update(&whole, n, 0, 0, None).unwrap_or_else(|e| panic!("{e}"));
        // The same rows appended in chunks of random size, sometimes replacing the last row
        // first (a value logged again at its step), from memory or from the file.
        let inc = tmp.path().join("1.col");
        let f = File::create(&inc).unwrap_or_else(|e| panic!("{e}"));
        let (mut have, mut built) = (0u64, 0u32);
        let mut junk = rows[..ROW_BYTES].to_vec();
        junk[16..24].copy_from_slice(&(-5e15f64).to_le_bytes());
        while have < n {
            let mut dirty = have;
            if have > 0 && rng.below(4) == 0 {
                // Replace the last row by a wrong value, update, then put it back.
                let at = (have - 1) * ROW_BYTES as u64;
                f.write_all_at(&junk, at).unwrap_or_else(|e| panic!("{e}"));
                built = update(&inc, have, have - 1, built, None).unwrap_or_else(|e| panic!("{e}"));
                let right = &rows[at as usize..at as usize + ROW_BYTES];
                f.write_all_at(right, at).unwrap_or_else(|e| panic!("{e}"));
                dirty = have - 1;
            }
            let step = 1 + match rng.below(3) {
                0 => rng.below(10),
                1 => rng.below(3000),
                _ => rng.below(70_000),
            };
            let end = (have + step).min(n);
            let chunk = &rows[have as usize * ROW_BYTES..end as usize * ROW_BYTES];
            f.write_all_at(chunk, have * ROW_BYTES as u64)
                .unwrap_or_else(|e| panic!("{e}"));
            let tail = (rng.below(2) == 0).then_some((have, chunk));
            built = update(&inc, end, dirty, built, tail).unwrap_or_else(|e| panic!("{e}"));
            have = end;
        }
        assert_eq!(built, levels);
        assert_eq!(levels_bytes(&inc, built), levels_bytes(&whole, levels));
        // A level file lost (an index restored without its pyramid) is rebuilt.
        std::fs::remove_file(level_path(&inc, 1)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(usable_levels(&inc, n, built), 0);
        built = update(&inc, n, n, built, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(levels_bytes(&inc, built), levels_bytes(&whole, levels));
    }
}
