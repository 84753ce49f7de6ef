//! Errors of the run-log engine.

use std::io;

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a fwtrack run log: {reason}")]
    NotALog { path: String, reason: String },
    #[error(
        "{path} has format version {found}; this fwtrack reads versions up to {supported}. hint: upgrade fwtrack"
    )]
    UnsupportedVersion {
        path: String,
        found: u16,
        supported: u16,
    },
    #[error(
        "the run in {path} is already being written by another live process (its lock is held)"
    )]
    Locked { path: String },
    #[error(
        "the run is finished; nothing more can be logged to it. hint: start a new run with fwtrack.init()"
    )]
    Finished,
    #[error("the writer thread stopped: {0}")]
    WriterGone(String),
    #[error("invalid record: {0}")]
    Decode(String),
}

/// Result alias for the core.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wrap an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<std::path::Path>, source: io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
