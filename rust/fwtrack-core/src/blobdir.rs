//! Blob directories: content-addressed files, `<blob_dir>/<hh>/<hex>`, where `<hex>` is the
//! 64 hex digits of a `blake3:` address and `<hh>` its first two. Artifacts keep the bytes
//! of their files in them (the local registry, the download cache, per-call staging).
//!
//! A file is stored by reading it once: its bytes are hashed and copied into
//! `<blob_dir>/tmp/<unique name>` in the same pass, then the copy is renamed to its address
//! (or removed, when that blob is there already). Files up to [`IN_MEMORY_MAX`] are read
//! whole and hashed first, so a blob the directory holds already costs no write. What is stored is exactly what was hashed,
//! whatever the source does meanwhile; a source whose size or modification time changed
//! while it was read is refused, since its bytes may be a mix of two versions.
//!
//! Files are not fsynced one by one: [`store_files`] ends with one `syncfs(2)` of the blob
//! directory's file system when it wrote anything, which makes every blob and rename durable
//! at once (a caller records a version only after that). [`store_blob`], for bytes in memory
//! (a manifest), fsyncs its one file and its directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;

use crate::address::{self, Address, Hasher, fill, named, open_regular};

/// The directory inside a blob directory that holds files being written.
pub const TMP_DIR: &str = "tmp";
/// Bytes read, hashed and written at a time.
const BLOCK: usize = 1 << 20;
/// Files up to this size are read whole before anything is written, so that a blob the
/// directory holds already costs no write at all.
pub const IN_MEMORY_MAX: u64 = 4 << 20;

/// One blob stored: its address and size, and whether this call wrote it (false: the blob
/// directory held it already).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored {
    pub address: Address,
    pub size: u64,
    pub written: bool,
}

/// The path of the blob `address` in `blob_dir`: `<blob_dir>/<hh>/<hex>`.
pub fn blob_path(blob_dir: &Path, address: &Address) -> PathBuf {
    let hex = address.hex();
    blob_dir.join(&hex[..2]).join(hex)
}

/// A temporary file in `<blob_dir>/tmp/`, removed on drop unless it was renamed away.
struct TempFile {
    path: PathBuf,
    file: File,
    keep: bool,
}

impl TempFile {
    fn create(tmp_dir: &Path) -> io::Result<TempFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = tmp_dir.join(format!("{}-{nanos:x}-{n:x}", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_CLOEXEC)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        keep: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(named(&path, &e)),
            }
        }
    }

    /// Move the file to the blob `address` of `blob_dir`; false (and the file removed) when
    /// the blob is there already.
    fn publish(mut self, blob_dir: &Path, address: &Address) -> io::Result<bool> {
        let dest = blob_path(blob_dir, address);
        if fs::symlink_metadata(&dest).is_ok() {
            return Ok(false);
        }
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(|e| named(parent, &e))?;
        }
        fs::rename(&self.path, &dest).map_err(|e| named(&dest, &e))?;
        self.keep = true;
        Ok(true)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// `<blob_dir>/tmp`, created (with the blob directory) when missing.
fn tmp_dir(blob_dir: &Path) -> io::Result<PathBuf> {
    let tmp = blob_dir.join(TMP_DIR);
    fs::create_dir_all(&tmp).map_err(|e| named(&tmp, &e))?;
    Ok(tmp)
}

/// What a file's size and modification time were.
fn stamp(meta: &fs::Metadata) -> (u64, i64, i64) {
    (meta.len(), meta.mtime(), meta.mtime_nsec())
}

fn changed(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} changed while it was being logged; log it again once it is written",
        path.display()
    ))
}

/// Write `data` to a new temporary file and move it to its blob (unless the blob is there).
fn publish_bytes(
    blob_dir: &Path,
    tmp_dir: &Path,
    address: &Address,
    data: &[u8],
) -> io::Result<bool> {
    if fs::symlink_metadata(blob_path(blob_dir, address)).is_ok() {
        return Ok(false);
    }
    let mut tmp = TempFile::create(tmp_dir)?;
    tmp.file.write_all(data).map_err(|e| named(&tmp.path, &e))?;
    tmp.publish(blob_dir, address)
}

/// Store one file; `after_block` is called after each block is read (tests change the file
/// there).
fn store_file_with(
    blob_dir: &Path,
    tmp_dir: &Path,
    path: &Path,
    after_block: &(dyn Fn(u64) + Sync),
) -> io::Result<Stored> {
    let (mut src, _) = open_regular(path)?;
    let before = stamp(&src.metadata().map_err(|e| named(path, &e))?);
    if before.0 <= IN_MEMORY_MAX {
        // One byte more than the size: a file that grew meanwhile shows it.
        let mut data = vec![0u8; before.0 as usize + 1];
        let n = fill(&mut src, &mut data).map_err(|e| named(path, &e))?;
        after_block(n as u64);
        let after = stamp(&src.metadata().map_err(|e| named(path, &e))?);
        if after != before || n as u64 != before.0 {
            return Err(changed(path));
        }
        let address = address::hash_bytes(&data[..n]);
        let written = publish_bytes(blob_dir, tmp_dir, &address, &data[..n])?;
        return Ok(Stored {
            address,
            size: n as u64,
            written,
        });
    }
    let mut tmp = TempFile::create(tmp_dir)?;
    let mut hasher = Hasher::new();
    let (mut cur, mut next) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
    let mut n = fill(&mut src, &mut cur).map_err(|e| named(path, &e))?;
    after_block(n as u64);
    let mut total = n as u64;
    // Each block is hashed and written while the next one is read.
    while n == BLOCK {
        let (written, read) = rayon::join(
            || {
                hasher.update(&cur[..n]);
                tmp.file.write_all(&cur[..n])
            },
            || fill(&mut src, &mut next),
        );
        written.map_err(|e| named(&tmp.path, &e))?;
        std::mem::swap(&mut cur, &mut next);
        n = read.map_err(|e| named(path, &e))?;
        total += n as u64;
        after_block(total);
    }
    hasher.update(&cur[..n]);
    tmp.file
        .write_all(&cur[..n])
        .map_err(|e| named(&tmp.path, &e))?;
    let after = stamp(&src.metadata().map_err(|e| named(path, &e))?);
    if after != before || total != before.0 {
        return Err(changed(path));
    }
    let address = hasher.finalize();
    let written = tmp.publish(blob_dir, &address)?;
    Ok(Stored {
        address,
        size: total,
        written,
    })
}

/// Store the regular file at `path` (a symbolic link at `path` is refused) in `blob_dir`,
/// without any fsync: see [`sync`].
pub fn store_file(blob_dir: &Path, path: &Path) -> io::Result<Stored> {
    store_file_with(blob_dir, &tmp_dir(blob_dir)?, path, &|_| {})
}

/// Store the files of `paths` (on the rayon pool) without any fsync; results in order, an
/// error (naming the file) for each that could not be stored. See [`store_files`].
pub fn store_files_unsynced(blob_dir: &Path, paths: &[PathBuf]) -> Vec<io::Result<Stored>> {
    let tmp = match tmp_dir(blob_dir) {
        Ok(t) => t,
        Err(e) => {
            return paths
                .iter()
                .map(|_| Err(io::Error::new(e.kind(), e.to_string())))
                .collect();
        }
    };
    paths
        .par_iter()
        .map(|p| store_file_with(blob_dir, &tmp, p, &|_| {}))
        .collect()
}

/// Make everything written to the file system of `blob_dir` durable: one `syncfs(2)`.
pub fn sync(blob_dir: &Path) -> io::Result<()> {
    let dir = File::open(blob_dir).map_err(|e| named(blob_dir, &e))?;
    // SAFETY: the descriptor is open for the lifetime of `dir`.
    if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
        return Err(named(blob_dir, &io::Error::last_os_error()));
    }
    Ok(())
}

/// Store the files of `paths` in `blob_dir`, files in parallel, then `syncfs` once when any
/// blob was written. Results in order: the address and size of each file, or an error
/// naming it (missing, a symbolic link, not a regular file, changed while it was read).
/// A failed `syncfs` fails the files this call wrote.
pub fn store_files(blob_dir: &Path, paths: &[PathBuf]) -> Vec<io::Result<Stored>> {
    let mut results = store_files_unsynced(blob_dir, paths);
    if results.iter().any(|r| r.as_ref().is_ok_and(|s| s.written))
        && let Err(e) = sync(blob_dir)
    {
        for r in &mut results {
            if r.as_ref().is_ok_and(|s| s.written) {
                *r = Err(io::Error::new(e.kind(), e.to_string()));
            }
        }
    }
    results
}

/// Store `data` in `blob_dir` (unless the blob is there already), durably: the file and its
/// directory are fsynced before this returns.
pub fn store_blob(blob_dir: &Path, data: &[u8]) -> io::Result<Stored> {
    let address = address::hash_bytes(data);
    let dest = blob_path(blob_dir, &address);
    let size = data.len() as u64;
    if fs::symlink_metadata(&dest).is_ok() {
        return Ok(Stored {
            address,
            size,
            written: false,
        });
    }
    let mut tmp = TempFile::create(&tmp_dir(blob_dir)?)?;
    // Durable before it has its name: fsynced, then renamed, then the directory fsynced.
    tmp.file
        .write_all(data)
        .and_then(|()| tmp.file.sync_all())
        .map_err(|e| named(&tmp.path, &e))?;
    let parent = dest.parent().unwrap_or(blob_dir).to_path_buf();
    let new_parent = !parent.exists();
    let written = tmp.publish(blob_dir, &address)?;
    let fsync_dir = |d: &Path| {
        File::open(d)
            .and_then(|f| f.sync_all())
            .map_err(|e| named(d, &e))
    };
    fsync_dir(&parent)?;
    if new_parent {
        fsync_dir(blob_dir)?;
    }
    Ok(Stored {
        address,
        size,
        written,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    fn bytes(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn tmp_entries(blob_dir: &Path) -> usize {
        fs::read_dir(blob_dir.join(TMP_DIR)).unwrap().count()
    }

    #[test]
    fn files_are_stored_under_their_address_once() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        let mut paths = Vec::new();
        let big = IN_MEMORY_MAX as usize;
        for (i, len) in [
            0,
            1,
            4096,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            big,
            big + 1,
            big + 3 * BLOCK + 17,
        ]
        .into_iter()
        .enumerate()
        {
            let p = dir.path().join(format!("f{i}"));
            fs::write(&p, bytes(len, i as u8)).unwrap();
            paths.push(p);
        }
        // The same content twice in one call: stored once.
        let twin = dir.path().join("twin");
        fs::copy(&paths[3], &twin).unwrap();
        paths.push(twin);
        let first = store_files(&blobs, &paths);
        for (p, r) in paths.iter().zip(&first) {
            let s = r.as_ref().unwrap();
            let (a, size) = address::hash_file(p).unwrap();
            assert_eq!((s.address, s.size), (a, size), "{}", p.display());
            assert_eq!(
                fs::read(blob_path(&blobs, &a)).unwrap(),
                fs::read(p).unwrap()
            );
        }
        let written = first.iter().filter(|r| r.as_ref().unwrap().written).count();
        assert_eq!(written, paths.len() - 1);
        // Again: nothing new is written, nothing is left in tmp/.
        let again = store_files(&blobs, &paths);
        assert!(again.iter().all(|r| !r.as_ref().unwrap().written));
        assert_eq!(tmp_entries(&blobs), 0);
        let path = blob_path(&blobs, &first[2].as_ref().unwrap().address);
        let hex = first[2].as_ref().unwrap().address.hex();
        assert_eq!(path, blobs.join(&hex[..2]).join(&hex));
    }

    #[test]
    fn bad_entries_fail_alone_and_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        let good = dir.path().join("good");
        fs::write(&good, b"good").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&good, &link).unwrap();
        let missing = dir.path().join("missing");
        let paths = vec![
            link.clone(),
            good.clone(),
            missing.clone(),
            dir.path().into(),
        ];
        let r = store_files(&blobs, &paths);
        let e = r[0].as_ref().unwrap_err().to_string();
        assert!(
            e.contains("symbolic link") && e.contains(&link.display().to_string()),
            "{e}"
        );
        assert_eq!(r[1].as_ref().unwrap().address, address::hash_bytes(b"good"));
        let e = r[2].as_ref().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(
            r[3].as_ref()
                .unwrap_err()
                .to_string()
                .contains("not a regular file")
        );
        assert_eq!(tmp_entries(&blobs), 0);
    }

    /// A file appended to (or rewritten in place) while it is read is refused, and nothing
    /// of it stays in the blob directory.
    #[test]
    fn a_file_changed_while_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        let tmp = tmp_dir(&blobs).unwrap();
        let p = dir.path().join("growing");
        let change = |how: &str, len: usize| {
            fs::write(&p, bytes(len, 1)).unwrap();
            let done = AtomicBool::new(false);
            let r = store_file_with(&blobs, &tmp, &p, &|read| {
                if read >= BLOCK as u64 && !done.swap(true, Ordering::Relaxed) {
                    let mut f = OpenOptions::new();
                    match how {
                        "append" => f.append(true),
                        _ => f.write(true),
                    };
                    let mut f = f.open(&p).unwrap();
                    if how == "rewrite" {
                        // Same size, other bytes: only the modification time tells. Make sure
                        // it moves even on a coarse clock.
                        f.write_all(&bytes(16, 9)).unwrap();
                        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(5))
                            .unwrap();
                    } else {
                        f.write_all(b"more").unwrap();
                    }
                }
            });
            assert!(done.load(Ordering::Relaxed));
            r
        };
        // Read whole, then hashed (small files); streamed while hashed (large ones).
        let streamed = IN_MEMORY_MAX as usize + 3 * BLOCK;
        for (how, len) in [
            ("append", 3 * BLOCK),
            ("rewrite", 3 * BLOCK),
            ("append", streamed),
            ("rewrite", streamed),
        ] {
            let how_long = format!("{how} {len}");
            let how_long = how_long.as_str();
            let e = change(how, len).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains(&p.display().to_string())
                    && msg.contains("changed while it was being logged; log it again"),
                "{how_long}: {msg}"
            );
            assert_eq!(tmp_entries(&blobs), 0, "{how_long}");
            let stored: Vec<_> = fs::read_dir(&blobs)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|n| n != TMP_DIR)
                .collect();
            assert!(stored.is_empty(), "{how_long}: {stored:?}");
        }
        // Unchanged, the same file is stored.
        let ok = store_file_with(&blobs, &tmp, &p, &|_| {}).unwrap();
        assert_eq!(ok.address, address::hash_file(&p).unwrap().0);
    }

    #[test]
    fn blobs_from_memory() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = dir.path().join("blobs");
        let data = bytes(100_000, 3);
        let s = store_blob(&blobs, &data).unwrap();
        assert!(s.written);
        assert_eq!(s.address, address::hash_bytes(&data));
        assert_eq!(s.size, 100_000);
        assert_eq!(fs::read(blob_path(&blobs, &s.address)).unwrap(), data);
        let again = store_blob(&blobs, &data).unwrap();
        assert!(!again.written);
        assert_eq!(again.address, s.address);
        assert_eq!(tmp_entries(&blobs), 0);
        // A file of the same bytes is the same blob.
        let p = dir.path().join("f");
        fs::write(&p, &data).unwrap();
        let f = store_file(&blobs, &p).unwrap();
        assert_eq!((f.address, f.written), (s.address, false));
    }
}
