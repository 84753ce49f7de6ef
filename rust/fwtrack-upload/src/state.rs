//! `<run dir>/upload.json`: the offset the server acknowledged, so a restarted uploader (or
//! `fwtrack sync`) resumes there. Replaced atomically (temporary file + rename). It is a hint:
//! the server's `409` corrects any disagreement.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// Where the acknowledged offset belongs.
#[derive(Clone, Debug)]
pub(crate) struct Target<'a> {
    pub base_url: &'a str,
    pub entity: &'a str,
    pub project: &'a str,
    pub run_id: &'a str,
}

/// The acknowledged offset recorded at `path` for `target`, if the file exists, parses and
/// names the same server, entity, project and run.
pub(crate) fn load(path: &Path, target: &Target<'_>) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let same = |key: &str, want: &str| v.get(key).and_then(Value::as_str) == Some(want);
    let base = v
        .get("base_url")
        .and_then(Value::as_str)
        .map(|s| s.trim_end_matches('/'));
    if base == Some(target.base_url)
        && same("entity", target.entity)
        && same("project", target.project)
        && same("run_id", target.run_id)
    {
        v.get("offset").and_then(Value::as_u64)
    } else {
        None
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Record `offset` for `target` at `path`, atomically.
pub(crate) fn save(path: &Path, target: &Target<'_>, offset: u64) -> io::Result<()> {
    let doc = json!({
        "base_url": target.base_url,
        "entity": target.entity,
        "project": target.project,
        "run_id": target.run_id,
        "offset": offset,
    });
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
        f.write_all(doc.to_string().as_bytes())?;
        f.write_all(b"\n")?;
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

    #[test]
    fn round_trip_and_mismatch() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("upload.json");
        let t = Target {
            base_url: "http://h:1",
            entity: "e",
            project: "p",
            run_id: "r",
        };
        assert_eq!(load(&p, &t), None);
        save(&p, &t, 1234).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&p, &t), Some(1234));
        let other = Target {
            entity: "x",
            ..t.clone()
        };
        assert_eq!(load(&p, &other), None);
        std::fs::write(&p, "{not json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(load(&p, &t), None);
        let leftovers = std::fs::read_dir(dir.path()).map_or(0, Iterator::count);
        assert_eq!(leftovers, 1);
    }
}
