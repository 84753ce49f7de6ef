//! Content addresses: the name of a blob (a media payload, a run file) is the hash of its
//! bytes, written with its algorithm, `blake3:<64 lowercase hex>`.
//!
//! BLAKE3 is the one algorithm new data is hashed with. `sha256:<hex>` addresses (media of
//! older logs) are parsed and verified, never produced. Large inputs are hashed on the rayon
//! pool; files are read (never mapped) and never followed through a symbolic link.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rayon::prelude::*;
use sha2::Digest;

/// The prefix of every address written for new data.
pub const BLAKE3_PREFIX: &str = "blake3:";
/// The prefix of the addresses of older logs (read and verified only).
pub const SHA256_PREFIX: &str = "sha256:";
/// Inputs at least this long are hashed on several threads.
pub const PARALLEL_MIN: usize = 128 << 10;
/// Files at least this long are read in blocks of this size, each hashed on several threads
/// while the next one is read.
pub const LARGE_FILE_MIN: u64 = 1 << 20;

const HEX_LEN: usize = 64;
const READ_BUF: usize = 64 << 10;
const BLOCK: usize = LARGE_FILE_MIN as usize;

/// The hash function an address was computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Blake3,
    Sha256,
}

impl Algorithm {
    /// The name written before the colon.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Blake3 => "blake3",
            Algorithm::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a string is not a content address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{value:?} is not a content address: {reason}; expected \"blake3:\" followed by 64 hex digits"
)]
pub struct AddressError {
    /// The refused string (cut to 100 characters).
    pub value: String,
    pub reason: String,
}

/// A content address: the algorithm and the 32-byte digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    pub algo: Algorithm,
    pub digest: [u8; 32],
}

impl Address {
    /// The BLAKE3 address of a finished hash.
    pub fn blake3(hash: blake3::Hash) -> Self {
        Address {
            algo: Algorithm::Blake3,
            digest: *hash.as_bytes(),
        }
    }

    /// Parse `blake3:<hex>` or `sha256:<hex>` (64 hex digits, either case; the address is
    /// normalised to lowercase when written back).
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        let refuse = |reason: String| AddressError {
            value: s.chars().take(100).collect(),
            reason,
        };
        let Some((name, hex)) = s.split_once(':') else {
            return Err(refuse("it has no algorithm prefix".to_owned()));
        };
        let algo = match name {
            "blake3" => Algorithm::Blake3,
            "sha256" => Algorithm::Sha256,
            other => {
                let other: String = other.chars().take(20).collect();
                return Err(refuse(format!(
                    "unknown algorithm {other:?} (known: blake3, sha256)"
                )));
            }
        };
        if hex.len() != HEX_LEN {
            return Err(refuse(format!(
                "the digest has {} characters, not {HEX_LEN}",
                hex.chars().count()
            )));
        }
        let mut digest = [0u8; 32];
        for (i, pair) in hex.as_bytes().chunks_exact(2).enumerate() {
            match (hex_value(pair[0]), hex_value(pair[1])) {
                (Some(hi), Some(lo)) => digest[i] = hi << 4 | lo,
                _ => return Err(refuse("the digest is not hexadecimal".to_owned())),
            }
        }
        Ok(Address { algo, digest })
    }

    /// The digest as 64 lowercase hex digits (the name of a media payload file).
    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(HEX_LEN);
        for b in self.digest {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
        s
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algo, self.hex())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({self})")
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

/// The BLAKE3 address of `data` (on several threads for inputs of 128 KiB and more).
pub fn hash_bytes(data: &[u8]) -> Address {
    let mut h = Hasher::new();
    h.update(data);
    h.finalize()
}

/// Incremental BLAKE3 hashing of a stream of pieces.
#[derive(Clone, Debug, Default)]
pub struct Hasher {
    inner: blake3::Hasher,
    len: u64,
}

impl Hasher {
    pub fn new() -> Self {
        Hasher::default()
    }

    /// Add `data` (on several threads when it is 128 KiB or more).
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        if data.len() >= PARALLEL_MIN {
            self.inner.update_rayon(data);
        } else {
            self.inner.update(data);
        }
        self.len += data.len() as u64;
        self
    }

    /// The number of bytes hashed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of everything added so far (the hasher may go on).
    pub fn finalize(&self) -> Address {
        Address::blake3(self.inner.finalize())
    }
}

/// The error of a file operation, naming the file.
pub(crate) fn named(path: &Path, e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Open a regular file for reading, refusing a symbolic link at the last component.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is a symbolic link; links are never followed when hashing",
                    path.display()
                ),
            ));
        }
        Err(e) => return Err(named(path, &e)),
    };
    let meta = file.metadata().map_err(|e| named(path, &e))?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    Ok((file, meta.len()))
}

/// Read into `buf` until it is full or the file ends; the number of bytes read.
pub(crate) fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The BLAKE3 address and size of the file at `path`. Files of 1 MiB and more are read in
/// 1 MiB blocks, each hashed on several threads while the next is read; smaller ones are
/// read and hashed on the calling thread. A symbolic link is refused (`O_NOFOLLOW`), as is
/// anything but a regular file; errors name the path.
///
/// Files are read, not memory-mapped: a mapped file cut shorter by its writer meanwhile (a
/// user rewriting a file in the run's folder) kills the process with SIGBUS, where a read
/// just ends early. A file that changes while it is hashed gets an address that does not
/// match its bytes, which every reader of a blob checks.
pub fn hash_file(path: &Path) -> io::Result<(Address, u64)> {
    let (mut file, size) = open_regular(path)?;
    let mut hasher = blake3::Hasher::new();
    if size >= LARGE_FILE_MIN {
        let (mut cur, mut next) = (vec![0u8; BLOCK], vec![0u8; BLOCK]);
        let mut n = fill(&mut file, &mut cur).map_err(|e| named(path, &e))?;
        let mut total = n as u64;
        while n == BLOCK {
            let ((), read) = rayon::join(
                || {
                    hasher.update_rayon(&cur[..n]);
                },
                || fill(&mut file, &mut next),
            );
            std::mem::swap(&mut cur, &mut next);
            n = read.map_err(|e| named(path, &e))?;
            total += n as u64;
        }
        hasher.update_rayon(&cur[..n]);
        return Ok((Address::blake3(hasher.finalize()), total));
    }
    let mut buf = vec![0u8; READ_BUF];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(named(path, &e)),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((Address::blake3(hasher.finalize()), total))
}

/// [`hash_file`] of every path, the files spread over the rayon pool; results in order.
pub fn hash_files(paths: &[PathBuf]) -> Vec<io::Result<(Address, u64)>> {
    paths.par_iter().map(|p| hash_file(p)).collect()
}

/// True when `data` hashes to `address` (either algorithm).
pub fn verify(address: &Address, data: &[u8]) -> bool {
    match address.algo {
        Algorithm::Blake3 => hash_bytes(data).digest == address.digest,
        Algorithm::Sha256 => {
            let digest: [u8; 32] = sha2::Sha256::digest(data).into();
            digest == address.digest
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const EMPTY: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

    /// The input of the official BLAKE3 test vectors: bytes 0, 1, .., 250, 0, 1, ...
    fn vector_input(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn known_vectors() {
        assert_eq!(hash_bytes(b"").to_string(), format!("blake3:{EMPTY}"));
        // From test_vectors.json of the BLAKE3 reference (first 32 bytes of the output).
        let cases = [
            (
                1,
                "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213",
            ),
            (
                1024,
                "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7",
            ),
            (
                1025,
                "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444",
            ),
            (
                102_400,
                "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085",
            ),
        ];
        for (len, hex) in cases {
            assert_eq!(hash_bytes(&vector_input(len)).hex(), hex, "length {len}");
        }
    }

    #[test]
    fn parallel_and_incremental_match_one_shot() {
        let data = vector_input(3 * PARALLEL_MIN + 17);
        let one = Address::blake3(blake3::hash(&data));
        assert_eq!(hash_bytes(&data), one);
        let mut h = Hasher::new();
        for piece in data.chunks(PARALLEL_MIN / 3 + 1) {
            h.update(piece);
        }
        assert_eq!(h.finalize(), one);
        assert_eq!(h.len(), data.len() as u64);
    }

    #[test]
    fn parse_and_display_round_trip() {
        let text = format!("blake3:{EMPTY}");
        let a = Address::parse(&text).unwrap();
        assert_eq!(a.algo, Algorithm::Blake3);
        assert_eq!(a.to_string(), text);
        assert_eq!(a.hex(), EMPTY);
        let upper = Address::parse(&format!("blake3:{}", EMPTY.to_uppercase())).unwrap();
        assert_eq!(upper, a);
        let sha = Address::parse(&format!("sha256:{EMPTY}")).unwrap();
        assert_eq!(sha.algo, Algorithm::Sha256);
        assert_eq!(sha.to_string(), format!("sha256:{EMPTY}"));
        assert_eq!(text.parse::<Address>().unwrap(), a);
    }

    #[test]
    fn parse_errors_name_the_value() {
        for (bad, reason) in [
            (EMPTY.to_owned(), "no algorithm prefix"),
            (format!("md5:{EMPTY}"), "unknown algorithm \"md5\""),
            ("blake3:abc".to_owned(), "has 3 characters"),
            (format!("blake3:{}", &EMPTY[1..]), "has 63 characters"),
            (format!("blake3:{}g", &EMPTY[1..]), "not hexadecimal"),
            (format!("BLAKE3:{EMPTY}"), "unknown algorithm"),
            (format!("blake3:{EMPTY} "), "has 65 characters"),
        ] {
            let e = Address::parse(&bad).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.contains(reason), "{msg}");
            assert!(msg.contains("expected \"blake3:\" followed by 64 hex digits"));
        }
        // A multi-byte character where a hex digit belongs is refused, not a panic.
        let e = Address::parse(&format!("blake3:é{}", &EMPTY[2..])).unwrap_err();
        assert!(e.to_string().contains("not hexadecimal"), "{e}");
    }

    #[test]
    fn verify_either_algorithm() {
        let data = b"abc";
        assert!(verify(&hash_bytes(data), data));
        assert!(!verify(&hash_bytes(data), b"abd"));
        // SHA-256("abc") from FIPS 180-2.
        let sha = Address::parse(
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        )
        .unwrap();
        assert!(verify(&sha, data));
        assert!(!verify(&sha, b"abd"));
        // The same digest under the other algorithm does not verify.
        let swapped = Address {
            algo: Algorithm::Blake3,
            digest: sha.digest,
        };
        assert!(!verify(&swapped, data));
    }

    #[test]
    fn files_hash_like_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for len in [
            0,
            1,
            READ_BUF + 1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            3 * BLOCK,
            (3 << 20) + 12_345,
        ] {
            let data = vector_input(len);
            let p = dir.path().join(format!("f{len}"));
            std::fs::write(&p, &data).unwrap();
            let (a, size) = hash_file(&p).unwrap();
            assert_eq!(a, hash_bytes(&data), "length {len}");
            assert_eq!(size, len as u64);
            paths.push(p);
        }
        paths.push(dir.path().join("missing"));
        let all = hash_files(&paths);
        assert_eq!(all.len(), paths.len());
        for (p, r) in paths.iter().zip(&all).take(paths.len() - 1) {
            assert_eq!(r.as_ref().unwrap(), &hash_file(p).unwrap());
        }
        let e = all.last().unwrap().as_ref().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn symlinks_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"data").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = hash_file(&link).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert!(e.to_string().contains(&link.display().to_string()), "{e}");
        let e = hash_file(dir.path()).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        assert!(hash_file(&target).is_ok());
    }
}
