//! The run directory's lock: held (flock) by a live writer, so a reader tells a running run
//! from a crashed one. The lock dies with its process, `kill -9` included.
//!
//! A forked child inherits the parent's lock descriptors; [`after_fork_child`] closes them
//! so that a child outliving a crashed parent does not keep the run "running".

use std::fs::OpenOptions;
use std::os::fd::IntoRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::error::{Error, Result};

const SLOTS: usize = 64;
static LOCK_FDS: [AtomicI32; SLOTS] = [const { AtomicI32::new(-1) }; SLOTS];
static FORK_GENERATION: AtomicU64 = AtomicU64::new(0);

/// Bumped in every forked child; objects created before a fork compare it to go inert.
pub fn fork_generation() -> u64 {
    FORK_GENERATION.load(Ordering::Relaxed)
}

/// Call in a forked child (async-signal-safe: atomics and `close` only).
pub fn after_fork_child() {
    FORK_GENERATION.fetch_add(1, Ordering::Relaxed);
    for slot in &LOCK_FDS {
        let fd = slot.swap(-1, Ordering::AcqRel);
        if fd >= 0 {
            // SAFETY: the descriptor was opened by `DirLock::acquire` and is owned here.
            unsafe { libc::close(fd) };
        }
    }
}

/// An exclusive lock on `<run dir>/.lock`, released on drop.
#[derive(Debug)]
pub struct DirLock {
    fd: i32,
    registered: bool,
}

impl DirLock {
    /// Take the lock, failing with [`Error::Locked`] when a live process holds it.
    pub fn acquire(path: &Path) -> Result<DirLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let fd = file.into_raw_fd();
        // SAFETY: fd is a valid, open descriptor.
        let rc = unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            // SAFETY: fd is ours and still open.
            unsafe { libc::close(fd) };
            return Err(Error::Locked {
                path: path.display().to_string(),
            });
        }
        let registered = LOCK_FDS.iter().any(|s| {
            s.compare_exchange(-1, fd, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        });
        Ok(DirLock { fd, registered })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Close only if a fork handler has not already closed (and forgotten) the descriptor.
        let owned = !self.registered
            || LOCK_FDS.iter().any(|s| {
                s.compare_exchange(self.fd, -1, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
            });
        if owned {
            // SAFETY: the descriptor is ours and open.
            unsafe { libc::close(self.fd) };
        }
    }
}

/// True when a live process holds the lock at `path`.
pub fn is_locked(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).open(path) else {
        return false;
    };
    let fd = file.into_raw_fd();
    // SAFETY: fd is a valid, open descriptor, closed below.
    let held = unsafe { libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) } != 0;
    // SAFETY: as above; closing also drops our shared lock if we took it.
    unsafe { libc::close(fd) };
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_seen_and_released() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join(".lock");
        assert!(!is_locked(&p));
        let l = DirLock::acquire(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(is_locked(&p));
        assert!(matches!(DirLock::acquire(&p), Err(Error::Locked { .. })));
        drop(l);
        assert!(!is_locked(&p));
    }
}
