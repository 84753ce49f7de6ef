//! The run's files as blobs: finding them under `<run dir>/files/` without following a
//! symbolic link, hashing the ones that changed (the cache is `upload.json`'s `files`), and
//! the pack format of `POST .../blobs`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use fwtrack_core::address::{Address, hash_bytes, hash_files};

use crate::state::{FileEntry, Files};

/// A file modified less than this long before it was hashed is hashed again at the next
/// scan: a write within the file system's timestamp granularity may leave its modification
/// time unchanged.
const RACY_NS: i64 = 2_000_000_000;

/// A regular file found under `files/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// Its path under `files/`, `/`-separated.
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
}

/// What a scan of `files/` found.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Regular files, sorted by name.
    pub files: Vec<Found>,
    /// Entries left out, each with the warning that says why (symbolic links, entries that
    /// are not regular files, names that are not UTF-8).
    pub skipped: Vec<(PathBuf, String)>,
}

fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// The warning for an entry of a run's files that is left out: a symbolic link (naming
/// where it leads), or something that is not a regular file.
pub(crate) fn skipped_message(path: &Path, is_link: bool) -> String {
    if is_link {
        let to = std::fs::read_link(path)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        format!(
            "fwtrack: {} is a symbolic link{to}: it was not uploaded, since fwtrack never \
             follows links in a run's files\nhint: to keep that file with the run, copy it in \
             (`run.save(path)` copies)",
            path.display()
        )
    } else {
        format!(
            "fwtrack: {} is not a regular file: it was not uploaded",
            path.display()
        )
    }
}

/// Every regular file under `root` (a run's `files/`), never following a symbolic link:
/// links (to files or folders, wherever they lead) and entries that are not regular files
/// are skipped with a warning, as is all of `root` when it is a link itself. Names whose last
/// component starts with `.` are temporary files, left out silently. A missing `root` holds
/// nothing.
pub(crate) fn scan(root: &Path) -> Scan {
    let mut out = Scan::default();
    match std::fs::symlink_metadata(root) {
        Ok(m) if m.file_type().is_symlink() => {
            out.skipped
                .push((root.to_owned(), skipped_message(root, true)));
            return out;
        }
        Ok(m) if m.is_dir() => {}
        _ => return out,
    }
    let mut stack = vec![(root.to_owned(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue; // removed meanwhile, or unreadable: nothing to upload there
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let raw = entry.file_name();
            let Some(name) = raw.to_str() else {
                out.skipped.push((
                    path.clone(),
                    format!(
                        "fwtrack: {} has a name that is not valid UTF-8: it was not uploaded\n\
                         hint: rename it",
                        path.display()
                    ),
                ));
                continue;
            };
            let rel = format!("{prefix}{name}");
            if kind.is_dir() {
                stack.push((path, format!("{rel}/")));
            } else if name.starts_with('.') {
                // A temporary file (written, then renamed into place).
            } else if kind.is_symlink() {
                let msg = skipped_message(&path, true);
                out.skipped.push((path, msg));
            } else if !kind.is_file() {
                let msg = skipped_message(&path, false);
                out.skipped.push((path, msg));
            } else if let Ok(meta) = std::fs::symlink_metadata(&path) {
                out.files.push(Found {
                    name: rel,
                    size: meta.len(),
                    mtime_ns: mtime_ns(&meta),
                    path,
                });
            }
        }
    }
    out.files.sort_by(|a, b| a.name.cmp(&b.name));
    out.skipped.sort();
    out
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// The result of bringing the cache up to date with a scan.
#[derive(Debug, Default)]
pub(crate) struct Refresh {
    /// Files hashed now (the others were known by size and modification time).
    pub hashed: usize,
    /// Files that changed while they were hashed, or could not be read: left for the
    /// next scan.
    pub unsettled: Vec<String>,
    /// An entry was added, removed, or now has another size or address (a file hashed
    /// again to the same content, now trusted by its modification time, is no change).
    pub changed: bool,
}

/// Bring `files` (the cache, by name) up to date with `scan`: keep the entries of files whose
/// size and modification time are unchanged, hash the others (on several threads), drop the
/// entries of files that are gone. An entry keeps `recorded`/`refused` only while its address
/// is unchanged.
pub(crate) fn update(files: &mut Files, scan: &Scan) -> Refresh {
    let mut out = Refresh::default();
    let mut todo: Vec<&Found> = Vec::new();
    for f in &scan.files {
        let known = files
            .get(&f.name)
            .is_some_and(|e| e.size == f.size && e.mtime_ns == Some(f.mtime_ns));
        if !known {
            todo.push(f);
        }
    }
    let before = files.len();
    files.retain(|name, _| {
        scan.files
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .is_ok()
    });
    out.changed = files.len() != before;
    if todo.is_empty() {
        return out;
    }
    let started = now_ns();
    let paths: Vec<PathBuf> = todo.iter().map(|f| f.path.clone()).collect();
    let results = hash_files(&paths);
    out.hashed = todo.len();
    for (f, res) in todo.into_iter().zip(results) {
        // Settled: the file has the size and modification time it had before it was hashed
        // (else it changed meanwhile and the address may not be its bytes').
        let after = std::fs::symlink_metadata(&f.path).ok();
        let settled = |size: u64| {
            after.as_ref().is_some_and(|m| {
                m.is_file() && size == f.size && m.len() == f.size && mtime_ns(m) == f.mtime_ns
            })
        };
        let address = match res {
            Ok((address, size)) if settled(size) => address,
            _ => {
                out.changed |= files.remove(&f.name).is_some();
                out.unsettled.push(f.name.clone());
                continue;
            }
        };
        let address = address.to_string();
        let old = files.get(&f.name);
        let same = old.is_some_and(|e| e.address == address);
        out.changed |= !same || old.is_some_and(|e| e.size != f.size);
        let entry = FileEntry {
            size: f.size,
            mtime_ns: (started.saturating_sub(f.mtime_ns) >= RACY_NS).then_some(f.mtime_ns),
            recorded: same && old.is_some_and(|e| e.recorded),
            refused: same && old.is_some_and(|e| e.refused),
            address,
        };
        files.insert(f.name.clone(), entry);
    }
    out
}

/// Open a regular file for reading, never through a symbolic link (nor blocking on a FIFO
/// swapped in); its size.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((file, meta.len()))
}

/// The bytes of `path` when they still are `size` bytes hashing to `address`; `None` when
/// the file changed (or went away) since it was hashed.
pub(crate) fn read_verified(path: &Path, size: u64, address: &str) -> Option<Vec<u8>> {
    let (file, len) = open_regular(path).ok()?;
    if len != size {
        return None;
    }
    let mut data = Vec::with_capacity(size as usize);
    file.take(size + 1).read_to_end(&mut data).ok()?;
    let want = Address::parse(address).ok()?;
    (data.len() as u64 == size && hash_bytes(&data) == want).then_some(data)
}

/// Append one pack entry: `u16 LE address length`, the address, `u64 LE size`, the bytes.
pub(crate) fn push_entry(pack: &mut Vec<u8>, address: &str, data: &[u8]) {
    pack.extend_from_slice(&(address.len() as u16).to_le_bytes());
    pack.extend_from_slice(address.as_bytes());
    pack.extend_from_slice(&(data.len() as u64).to_le_bytes());
    pack.extend_from_slice(data);
}

/// The overhead of one pack entry besides its bytes.
pub(crate) fn entry_overhead(address: &str) -> usize {
    2 + address.len() + 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    fn write(p: &Path, data: &[u8]) {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(p, data).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn scan_lists_regular_files_and_names_each_link() {
        let dir = tmp();
        let root = dir.path().join("files");
        write(&root.join("a.txt"), b"a");
        write(&root.join("media/x.png"), b"png");
        write(&root.join("media/.x.png.tmp"), b"partial");
        write(&dir.path().join("secret"), b"key");
        symlink(dir.path().join("secret"), root.join("creds.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        symlink(dir.path(), root.join("up")).unwrap_or_else(|e| panic!("{e}"));
        let s = scan(&root);
        let names: Vec<&str> = s.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "media/x.png"]);
        assert_eq!(s.skipped.len(), 2);
        let (path, msg) = &s.skipped[0];
        assert_eq!(path, &root.join("creds.json"));
        assert!(
            msg.starts_with(&format!(
                "fwtrack: {} is a symbolic link (to {}): it was not uploaded, since fwtrack \
                 never follows links in a run's files\nhint:",
                root.join("creds.json").display(),
                dir.path().join("secret").display()
            )),
            "{msg}"
        );
        assert!(s.skipped[1].1.contains("up is a symbolic link"));

        // `files/` itself a link: everything is left out, with one warning.
        let other = tmp();
        symlink(&root, other.path().join("files")).unwrap_or_else(|e| panic!("{e}"));
        let s = scan(&other.path().join("files"));
        assert!(s.files.is_empty());
        assert_eq!(s.skipped.len(), 1);
        assert!(scan(&other.path().join("nothing")).files.is_empty());
    }

    #[test]
    fn update_hashes_only_what_changed_and_keeps_recorded_state() {
        let dir = tmp();
        let root = dir.path().join("files");
        write(&root.join("a.txt"), b"one");
        write(&root.join("b.txt"), b"two");
        let mut files = Files::new();
        let first = update(&mut files, &scan(&root));
        assert_eq!(first.hashed, 2);
        assert!(first.unsettled.is_empty());
        let a = files.get("a.txt").cloned().unwrap_or_else(|| panic!("a"));
        assert_eq!(a.address, hash_bytes(b"one").to_string());
        assert_eq!(a.size, 3);
        // Just written: not trusted by its modification time yet.
        assert_eq!(a.mtime_ns, None);
        for e in files.values_mut() {
            e.recorded = true;
            e.mtime_ns = Some(e.mtime_ns.unwrap_or(0));
        }
        // Trusted entries (as after an old enough write) are not hashed again.
        let s = scan(&root);
        for f in &s.files {
            if let Some(e) = files.get_mut(&f.name) {
                e.mtime_ns = Some(f.mtime_ns);
            }
        }
        assert_eq!(update(&mut files, &s).hashed, 0);
        // A changed file is hashed again and is no longer recorded; a removed one is gone.
        write(&root.join("a.txt"), b"changed");
        std::fs::remove_file(root.join("b.txt")).unwrap_or_else(|e| panic!("{e}"));
        let third = update(&mut files, &scan(&root));
        assert_eq!(third.hashed, 1);
        let a = files.get("a.txt").cloned().unwrap_or_else(|| panic!("a"));
        assert_eq!(a.address, hash_bytes(b"changed").to_string());
        assert!(!a.recorded);
        assert!(!files.contains_key("b.txt"));
    }

    #[test]
    fn read_verified_refuses_changed_bytes_and_links() {
        let dir = tmp();
        let p = dir.path().join("f");
        write(&p, b"hello");
        let addr = hash_bytes(b"hello").to_string();
        assert_eq!(read_verified(&p, 5, &addr).as_deref(), Some(&b"hello"[..]));
        write(&p, b"jello");
        assert_eq!(read_verified(&p, 5, &addr), None);
        assert_eq!(read_verified(&p, 4, &addr), None);
        let link = dir.path().join("l");
        symlink(&p, &link).unwrap_or_else(|e| panic!("{e}"));
        let jello = hash_bytes(b"jello").to_string();
        assert_eq!(read_verified(&link, 5, &jello), None);
        assert!(read_verified(&p, 5, &jello).is_some());
    }

    #[test]
    fn pack_entries_are_length_prefixed() {
        let mut pack = Vec::new();
        push_entry(&mut pack, "blake3:ab", b"xyz");
        assert_eq!(pack.len(), entry_overhead("blake3:ab") + 3);
        assert_eq!(&pack[..2], &9u16.to_le_bytes());
        assert_eq!(&pack[2..11], b"blake3:ab");
        assert_eq!(&pack[11..19], &3u64.to_le_bytes());
        assert_eq!(&pack[19..], b"xyz");
    }
}
