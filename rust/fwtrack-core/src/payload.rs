//! Media payloads on the client: hashed and written once, in one call.
//!
//! A payload is named by its content address, `<dir>/<hex>.<ext>`. [`store`] hashes it
//! (BLAKE3), and unless that file exists writes it through a temporary file in the same
//! directory (named `.<name>.<pid>.<n>.tmp`, so that uploads skip it), fsynced and renamed
//! into place: a file that exists holds all of its bytes, so a log record written after
//! `store` returns never names a partial or missing payload, a crash included.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::address::{Address, Hasher, PARALLEL_MIN};
use crate::lock::fork_generation;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The address of `data`. In a forked child the data is hashed on this thread only (in
/// pieces below the size that would spread it over the thread pool, whose threads do not
/// exist in the child).
pub fn address_of(data: &[u8]) -> Address {
    let mut h = Hasher::new();
    if fork_generation() == 0 {
        h.update(data);
    } else {
        for piece in data.chunks(PARALLEL_MIN - 1) {
            h.update(piece);
        }
    }
    h.finalize()
}

/// What [`store`] did.
#[derive(Debug, PartialEq, Eq)]
pub struct Stored {
    pub address: Address,
    /// The file's name in the directory: `<hex>.<ext>`.
    pub name: String,
    /// False when the file existed already (the same payload, stored before).
    pub written: bool,
}

/// Hash `data` and write it to `dir/<hex>.<ext>` unless that file exists (see the module
/// docs). `dir` is created when missing. On an error nothing is left behind.
pub fn store(dir: &Path, ext: &str, data: &[u8]) -> io::Result<Stored> {
    let address = address_of(data);
    let name = if ext.is_empty() {
        address.hex()
    } else {
        format!("{}.{ext}", address.hex())
    };
    let path = dir.join(&name);
    if path.symlink_metadata().is_ok() {
        return Ok(Stored {
            address,
            name,
            written: false,
        });
    }
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
    let written = (|| {
        std::fs::create_dir_all(dir)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io::Error::new(
            e.kind(),
            format!("cannot write {}: {e}", path.display()),
        ));
    }
    Ok(Stored {
        address,
        name,
        written: true,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::address::hash_bytes;

    #[test]
    fn stores_once_under_its_address_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("files").join("media");
        let data = vec![7u8; 300 << 10];
        let first = store(&dir, "png", &data).unwrap();
        assert!(first.written);
        assert_eq!(first.address, hash_bytes(&data));
        assert_eq!(first.name, format!("{}.png", first.address.hex()));
        assert_eq!(std::fs::read(dir.join(&first.name)).unwrap(), data);
        let again = store(&dir, "png", &data).unwrap();
        assert!(!again.written);
        assert_eq!(again.address, first.address);
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("media");
        std::fs::write(&blocker, b"").unwrap(); // a file where the directory should be
        let err = store(&blocker, "png", b"payload").unwrap_err();
        assert!(err.to_string().contains("media"), "{err}");
        assert_eq!(std::fs::read(&blocker).unwrap(), b"");
    }

    #[test]
    fn hashing_in_pieces_gives_the_same_address() {
        let data: Vec<u8> = (0..(1u32 << 20)).map(|i| (i % 251) as u8).collect();
        let mut h = Hasher::new();
        for piece in data.chunks(PARALLEL_MIN - 1) {
            h.update(piece);
        }
        assert_eq!(h.finalize(), hash_bytes(&data));
    }
}
