//! The disk side of policy loading: the [`FileReader`] the CLI and servers
//! hand to the pure loader of `sigil-judge`, and the policy file itself.
//!
//! Files named by a policy are operator-chosen, but a policy can be shared
//! and reviewed as text, so reading stays bounded: regular files only
//! (a FIFO or `/dev/zero` is refused, never read), at most
//! [`MAX_POLICY_FILE_BYTES`] each.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use crate::layout::open_regular;
use crate::policy::{self, Diagnostics, FileReader, Policy, PolicyError};

/// The most a policy, key, certificate or trusted-root file may hold: 16 MiB.
pub const MAX_POLICY_FILE_BYTES: u64 = 16 << 20;

/// Reads files from the local file system, bounded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Disk;

impl FileReader for Disk {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        let file = open_regular(path).map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        file.take(MAX_POLICY_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| e.to_string())?;
        if bytes.len() as u64 > MAX_POLICY_FILE_BYTES {
            return Err(format!("larger than {MAX_POLICY_FILE_BYTES} bytes"));
        }
        Ok(bytes)
    }

    /// The regular files directly inside a directory (a `notation`
    /// publisher's trust store), sorted; subdirectories are skipped, and
    /// at most [`MAX_DIRECTORY_ENTRIES`] entries are looked at.
    fn list(&self, path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
        let mut files = Vec::new();
        for (n, entry) in std::fs::read_dir(path).map_err(|e| e.to_string())?.enumerate() {
            if n >= MAX_DIRECTORY_ENTRIES {
                return Err(format!("more than {MAX_DIRECTORY_ENTRIES} entries"));
            }
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                files.push(path);
            }
        }
        files.sort();
        Ok(Some(files))
    }
}

/// The most entries of a directory a policy names that are looked at.
pub const MAX_DIRECTORY_ENTRIES: usize = 10_000;

/// Loads and lints the policy file at `path` from disk: the policy when it
/// has no errors, and every diagnostic.
pub fn load_policy(path: &Path, now: OffsetDateTime) -> (Option<Policy>, Diagnostics) {
    policy::load(path, now, &Disk)
}

/// Loads the policy file at `path` from disk for evaluation, refusing one
/// with errors; warnings come back beside it.
pub fn load_checked(path: &Path, now: OffsetDateTime) -> Result<(Policy, Diagnostics), PolicyError> {
    Policy::load(path, now, &Disk)
}
