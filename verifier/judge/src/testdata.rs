//! Test fixtures from the repository's `testdata/`: the one place the
//! judge's tests touch the file system (its `clippy.toml` forbids it
//! everywhere else).
#![allow(clippy::disallowed_methods, reason = "tests read their fixtures from the repository")]

use std::path::{Path, PathBuf};

/// The repository's `testdata/` directory.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The bytes of `testdata/<path>`; panics naming the file when it is missing.
pub fn read(path: impl AsRef<Path>) -> Vec<u8> {
    let full = dir().join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// `testdata/<path>` as text.
pub fn text(path: impl AsRef<Path>) -> String {
    String::from_utf8(read(path)).expect("fixture is UTF-8")
}

/// The files directly in `testdata/<dir>` whose extension is one of
/// `extensions`, sorted by name, with their bytes.
pub fn files(path: impl AsRef<Path>, extensions: &[&str]) -> Vec<(PathBuf, Vec<u8>)> {
    let full = dir().join(path);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&full)
        .unwrap_or_else(|e| panic!("{}: {e}", full.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// A [`crate::policy::FileReader`] over the real file system, for the
/// example policies in the repository's `policies/`.
pub fn disk(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| e.to_string())
}

/// [`disk`], with directories listed: for example policies whose
/// `notation` publishers name a trust store directory.
pub struct Disk;

impl crate::policy::FileReader for Disk {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        disk(path)
    }

    fn list(&self, path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        if !path.is_dir() {
            return Ok(None);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        Ok(Some(files))
    }
}
