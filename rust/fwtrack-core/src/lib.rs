//! fwtrack's run-log engine.
//!
//! Pure Rust, no Python: the record model ([`record`]), the on-disk codec ([`codec`]), the
//! writer thread ([`writer`]) and the records it waits for ([`pending`]), console line
//! capture ([`console`]), the reader with tail recovery ([`reader`]), step handling
//! ([`steps`]), summaries ([`summary`]), histograms ([`histogram`]), the run metadata and
//! its one fold ([`meta`]), content addresses of blobs ([`address`]) and the directories
//! that store blobs by address ([`blobdir`]), and the server-side
//! history index ([`index`]) with its downsampling ([`downsample`]). The format is specified in `docs/format.md`.

pub mod address;
pub mod blobdir;
pub mod codec;
pub mod columns;
pub mod console;
pub mod downsample;
pub mod error;
pub mod histogram;
pub mod index;
pub mod lock;
pub mod meta;
pub mod payload;
pub mod pending;
pub mod reader;
pub mod record;
pub mod steps;
pub mod summary;
pub mod writer;

pub use error::{Error, Result};

/// The crate version, also the package version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The file name of a run log inside its run directory.
pub const LOG_FILE_NAME: &str = "run.fwlog";
/// The file name of the lock a live writer holds inside its run directory.
pub const LOCK_FILE_NAME: &str = ".lock";
