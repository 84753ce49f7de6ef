//! `<run dir>/upload.json`: what the server acknowledged, so a restarted uploader (or
//! `fwtrack sync`) resumes there instead of starting over.
//!
//! One document for one target (server, entity, project, run):
//!
//! ```json
//! {"base_url": "...", "entity": "...", "project": "...", "run_id": "...", "offset": 1234,
//!  "files": {"media/ab12….png": {"size": 912, "mtime_ns": 1765000000000000000,
//!                               "address": "blake3:ab12…", "recorded": true}}}
//! ```
//!
//! `offset` is the log's acknowledged offset; `files` is, per run file (its path under
//! `files/`), the size and modification time it had when it was hashed, its address, and
//! whether the server's manifest holds the path under that address (`recorded`) or refused
//! it (`refused`, warned about once; tried again only once the file changes). A document
//! for another target is ignored (and replaced by the first save). The file is replaced
//! atomically (temporary file + rename). It is a hint: the server's `409`s correct any
//! disagreement.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

/// Where the acknowledged state belongs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub base_url: String,
    pub entity: String,
    pub project: String,
    pub run_id: String,
}

/// What is known of one run file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileEntry {
    pub size: u64,
    /// The modification time (ns since the epoch) the file had when it was hashed; `None`
    /// when it was modified too shortly before (within the file system's timestamp
    /// granularity a later write may not change it): such a file is hashed again.
    pub mtime_ns: Option<i64>,
    pub address: String,
    /// The server's manifest holds the path under `address`.
    pub recorded: bool,
    /// The server refused the path under `address` (a file/folder clash, a bad name).
    pub refused: bool,
}

impl FileEntry {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("size".into(), self.size.into());
        m.insert(
            "mtime_ns".into(),
            self.mtime_ns.map_or(Value::Null, Value::from),
        );
        m.insert("address".into(), self.address.clone().into());
        m.insert("recorded".into(), self.recorded.into());
        if self.refused {
            m.insert("refused".into(), true.into());
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<FileEntry> {
        Some(FileEntry {
            size: v.get("size")?.as_u64()?,
            mtime_ns: v.get("mtime_ns").and_then(Value::as_i64),
            address: v.get("address")?.as_str()?.to_owned(),
            recorded: v.get("recorded").and_then(Value::as_bool) == Some(true),
            refused: v.get("refused").and_then(Value::as_bool) == Some(true),
        })
    }
}

/// The run files' entries, by path under `files/`.
pub(crate) type Files = BTreeMap<String, FileEntry>;

/// The state file of one uploader: what it loaded and last saved, shared by the log and the
/// files threads (each saves its part; a save writes the whole document).
pub(crate) struct Persist {
    path: PathBuf,
    target: Option<Target>,
    offset: Option<u64>,
    files: Files,
    /// `files` as written, kept so that a save of the offset does not serialize it again.
    files_json: String,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Persist {
    pub(crate) fn new(path: PathBuf) -> Persist {
        Persist {
            path,
            target: None,
            offset: None,
            files: Files::new(),
            files_json: "{}".into(),
        }
    }

    /// Read the state file for `target`: the acknowledged offset, if the file exists,
    /// parses and names the same server, entity, project and run (and then its files).
    pub(crate) fn load(&mut self, target: Target) -> Option<u64> {
        let (offset, files) = read(&self.path, &target).unwrap_or_default();
        self.target = Some(target);
        self.offset = offset;
        self.files = files;
        self.files_json = files_to_json(&self.files);
        offset
    }

    /// The files as loaded or last saved.
    pub(crate) fn files(&self) -> Files {
        self.files.clone()
    }

    /// Record the log's acknowledged `offset`.
    pub(crate) fn set_offset(&mut self, offset: u64) -> io::Result<()> {
        self.offset = Some(offset);
        self.write()
    }

    /// Record the run files' entries.
    pub(crate) fn set_files(&mut self, files: &Files) -> io::Result<()> {
        if *files == self.files {
            return Ok(());
        }
        self.files.clone_from(files);
        self.files_json = files_to_json(files);
        self.write()
    }

    fn write(&self) -> io::Result<()> {
        let Some(t) = &self.target else {
            return Ok(());
        };
        let mut head = json!({
            "base_url": t.base_url,
            "entity": t.entity,
            "project": t.project,
            "run_id": t.run_id,
        });
        if let (Some(o), Some(m)) = (self.offset, head.as_object_mut()) {
            m.insert("offset".into(), o.into());
        }
        let head = head.to_string();
        // `{...head...,"files":{...}}`: the files part is kept serialized.
        let mut doc = String::with_capacity(head.len() + self.files_json.len() + 12);
        doc.push_str(&head[..head.len() - 1]);
        doc.push_str(",\"files\":");
        doc.push_str(&self.files_json);
        doc.push_str("}\n");
        write_atomic(&self.path, doc.as_bytes())
    }
}

fn files_to_json(files: &Files) -> String {
    let m: Map<String, Value> = files
        .iter()
        .map(|(k, v)| (k.clone(), v.to_json()))
        .collect();
    Value::Object(m).to_string()
}

/// (offset, files) recorded at `path` for `target`; `None` when the file is missing, does
/// not parse or names another target.
fn read(path: &Path, target: &Target) -> Option<(Option<u64>, Files)> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let same = |key: &str, want: &str| v.get(key).and_then(Value::as_str) == Some(want);
    let base = v
        .get("base_url")
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('/'));
    if base != Some(target.base_url.as_str())
        || !same("entity", &target.entity)
        || !same("project", &target.project)
        || !same("run_id", &target.run_id)
    {
        return None;
    }
    let files = v
        .get("files")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, e)| Some((k.clone(), FileEntry::from_json(e)?)))
                .collect()
        })
        .unwrap_or_default();
    Some((v.get("offset").and_then(Value::as_u64), files))
}

/// Replace `path` with `data` through a temporary file in the same directory.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let name = path.file_name().map_or_else(
        || "upload.json".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(entity: &str) -> Target {
        Target {
            base_url: "http://h:1".into(),
            entity: entity.into(),
            project: "p".into(),
            run_id: "r".into(),
        }
    }

    #[test]
    fn round_trip_and_mismatch() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("upload.json");
        let mut s = Persist::new(p.clone());
        assert_eq!(s.load(target("e")), None);
        s.set_offset(1234).unwrap_or_else(|e| panic!("{e}"));
        let mut files = Files::new();
        files.insert(
            "media/a.png".into(),
            FileEntry {
                size: 3,
                mtime_ns: Some(-5),
                address: "blake3:00".into(),
                recorded: true,
                refused: false,
            },
        );
        files.insert(
            "x/y.txt".into(),
            FileEntry {
                size: 0,
                mtime_ns: None,
                address: "blake3:11".into(),
                recorded: false,
                refused: true,
            },
        );
        s.set_files(&files).unwrap_or_else(|e| panic!("{e}"));
        s.set_offset(2000).unwrap_or_else(|e| panic!("{e}"));

        let mut again = Persist::new(p.clone());
        assert_eq!(again.load(target("e")), Some(2000));
        assert_eq!(again.files(), files);
        let mut other = Persist::new(p.clone());
        assert_eq!(other.load(target("x")), None);
        assert!(other.files().is_empty());

        std::fs::write(&p, "{not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Persist::new(p.clone()).load(target("e")), None);
        let leftovers = std::fs::read_dir(dir.path()).map_or(0, Iterator::count);
        assert_eq!(leftovers, 1);
    }

    #[test]
    fn a_document_without_files_still_gives_its_offset() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("upload.json");
        std::fs::write(
            &p,
            r#"{"base_url": "http://h:1/", "entity": "e", "project": "p", "run_id": "r", "offset": 7}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut s = Persist::new(p);
        assert_eq!(s.load(target("e")), Some(7));
        assert!(s.files().is_empty());
    }
}
