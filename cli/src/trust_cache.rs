//! sigil's cache of Sigstore trust fetched through TUF (`sigil trust
//! update`), and the choice of the trusted root a verification uses when no
//! `--trusted-root` is given: the cached one while its TUF metadata is
//! fresh, else the embedded public-good root. Nothing here touches the
//! network.
//!
//! Layout under the cache directory (`SIGIL_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/sigil`, else `~/.cache/sigil`):
//!
//! ```text
//! tuf/current                the mirror in use: its key, one line
//! tuf/KEY/current            that mirror's last good state: a generation name, one line
//! tuf/KEY/GENERATION/        mirror.txt (the URL as given), root.json,
//!                            root_history/N.root.json, timestamp.json,
//!                            snapshot.json, targets.json,
//!                            targets/trusted_root.json,
//!                            targets/signing_config.v0.2.json
//! ```
//!
//! A generation is written whole before a pointer names it, and pointers are
//! replaced by rename, so a failed or interrupted update leaves the last good
//! state in place. A cached state is verified again (signatures, versions,
//! expiry, target hashes) each time it is read: it is never trusted just for
//! being on disk.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sigil_verifier::digest::Digest;
use sigstore_tuf::{Root, TrustedMetadataSet};

/// The public-good TUF `root.json` (root-signing `metadata/root.json`, v15;
/// `testdata/sigstore-root-signing/README.md`): where an update of the
/// default mirror starts when the cache holds nothing for it.
pub const EMBEDDED_TUF_ROOT: &[u8] = include_bytes!("../../testdata/sigstore-root-signing/root.json");

/// The public-good TUF mirror.
pub const DEFAULT_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";

/// The target holding the Sigstore trusted root.
pub const TRUSTED_ROOT_TARGET: &str = "trusted_root.json";

/// The target holding the signing config (service URLs) that sigil caches.
pub const SIGNING_CONFIG_TARGET: &str = "signing_config.v0.2.json";

/// The file of a state naming its mirror (the URL as given).
pub const MIRROR_FILE: &str = "mirror.txt";

/// Most files one cached generation may hold (roots of a long history
/// included); a directory with more is not sigil's.
const MAX_FILES: usize = 256;

/// Largest cached file read back (the largest TUF target sigil fetches is
/// far smaller).
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Where sigil caches: `SIGIL_CACHE_DIR`, else `$XDG_CACHE_HOME/sigil`, else
/// `~/.cache/sigil`; `None` when none of them is set.
pub fn cache_dir() -> Option<PathBuf> {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set("SIGIL_CACHE_DIR") {
        return Some(dir);
    }
    // The XDG spec says a relative value is to be ignored.
    if let Some(xdg) = set("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
        return Some(xdg.join("sigil"));
    }
    set("HOME").map(|home| home.join(".cache").join("sigil"))
}

/// A mirror URL as the cache keys it: trailing slashes dropped.
pub fn normalise_mirror(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The directory name of a mirror's states: its host (for people reading
/// the cache) and a hash of the whole URL (so two mirrors never share one).
pub fn mirror_key(mirror: &str) -> String {
    let mirror = normalise_mirror(mirror);
    let host = url::Url::parse(mirror)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let hash = Digest::sha256_of(mirror.as_bytes());
    format!("{host}-{}", &hash.hex()[..16])
}

/// The files of one state, by name relative to its directory.
pub type Files = BTreeMap<String, Vec<u8>>;

/// The last good state of the mirror with this key: its directory, if the
/// pointer names one that exists.
pub fn last_good(cache: &Path, key: &str) -> Option<PathBuf> {
    let dir = cache.join("tuf").join(key);
    let generation = read_pointer(&dir.join("current"))?;
    let state = dir.join(generation);
    state.is_dir().then_some(state)
}

/// The state in use: the last good state of the mirror updated last.
fn in_use_dir(cache: &Path) -> Option<PathBuf> {
    let key = read_pointer(&cache.join("tuf").join("current"))?;
    last_good(cache, &key)
}

/// A pointer file's one line, when it is a plain name (never a path).
fn read_pointer(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let name = text.trim();
    let plain = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && !name.starts_with('.');
    plain.then(|| name.to_owned())
}

/// Every file of a state directory (two levels deep, bounded), for seeding
/// an update.
pub fn read_state(dir: &Path) -> std::io::Result<Files> {
    let mut files = Files::new();
    read_into(dir, "", 0, &mut files)?;
    Ok(files)
}

fn read_into(dir: &Path, prefix: &str, depth: usize, files: &mut Files) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let kind = entry.file_type()?;
        let relative = format!("{prefix}{name}");
        if kind.is_dir() && depth == 0 {
            read_into(&entry.path(), &format!("{relative}/"), 1, files)?;
        } else if kind.is_file() && entry.metadata()?.len() <= MAX_FILE_BYTES {
            if files.len() >= MAX_FILES {
                return Err(std::io::Error::other(format!("{} holds too many files", dir.display())));
            }
            files.insert(relative, std::fs::read(entry.path())?);
        }
    }
    Ok(())
}

/// Writes a new state for the mirror `key` and makes it the one in use:
/// the generation directory first, then the mirror's pointer, then the
/// in-use pointer, each replaced by rename. Older generations of the mirror
/// are removed afterwards (best effort).
pub fn commit(cache: &Path, key: &str, files: &Files) -> std::io::Result<PathBuf> {
    let mirror_dir = cache.join("tuf").join(key);
    std::fs::create_dir_all(&mirror_dir)?;
    let staging = tempfile::Builder::new().prefix(".new-").tempdir_in(&mirror_dir)?;
    for (name, bytes) in files {
        let path = staging.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut file = std::fs::File::create(&path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut random = [0u8; 4];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let generation = format!("g{nanos}-{}", hex::encode(random));
    let state = mirror_dir.join(&generation);
    std::fs::rename(staging.keep(), &state)?;
    write_atomically(&mirror_dir.join("current"), format!("{generation}\n").as_bytes())?;
    write_atomically(&cache.join("tuf").join("current"), format!("{key}\n").as_bytes())?;
    if let Ok(entries) = std::fs::read_dir(&mirror_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let old = name.to_str().is_some_and(|n| n.starts_with('g') && n != generation);
            if old && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(state)
}

/// Replaces `path` by a fully written temporary file in the same directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A role's version and expiry.
#[derive(Clone, Copy, Debug)]
pub struct RoleState {
    pub version: u64,
    pub expires: jiff::Timestamp,
}

/// A cached state, verified.
#[derive(Debug)]
pub struct Verified {
    /// The mirror URL as it was given to `sigil trust update`.
    pub mirror: String,
    pub dir: PathBuf,
    pub trusted_root: Vec<u8>,
    pub signing_config: Option<Vec<u8>>,
    pub root: RoleState,
    pub timestamp: RoleState,
    pub snapshot: RoleState,
    pub targets: RoleState,
}

impl Verified {
    /// When the first of the four roles expires: the end of the state's
    /// validity.
    pub fn expires(&self) -> jiff::Timestamp {
        [self.root, self.timestamp, self.snapshot, self.targets]
            .iter()
            .map(|r| r.expires)
            .min()
            .unwrap_or(self.root.expires)
    }
}

/// Which trusted root a verification without `--trusted-root` uses.
#[derive(Debug)]
pub enum InUse {
    /// The one embedded in sigil. `unusable` says why a cached state that
    /// exists is not used (expired, damaged), to be reported.
    Embedded { unusable: Option<Unusable> },
    /// The cached one, verified and fresh.
    Cached(Box<Verified>),
}

/// A cached state that exists but is not used, and why.
#[derive(Debug)]
pub struct Unusable {
    pub mirror: String,
    pub dir: PathBuf,
    pub reason: String,
}

/// The trusted root in use at `now`: the cached state of the mirror updated
/// last if it verifies and none of its metadata has expired, else the
/// embedded root.
pub fn in_use(now: jiff::Timestamp) -> InUse {
    let Some(dir) = cache_dir().and_then(|cache| in_use_dir(&cache)) else {
        return InUse::Embedded { unusable: None };
    };
    match verify_state(&dir, now) {
        Ok(verified) => InUse::Cached(Box::new(verified)),
        Err(reason) => InUse::Embedded {
            unusable: Some(Unusable {
                mirror: std::fs::read_to_string(dir.join(MIRROR_FILE))
                    .map(|m| m.trim().to_owned())
                    .unwrap_or_default(),
                dir,
                reason,
            }),
        },
    }
}

/// Verifies a state directory offline at `now` ([`verify_files`]).
pub fn verify_state(dir: &Path, now: jiff::Timestamp) -> Result<Verified, String> {
    let files = read_state(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    verify_files(&files, dir, now)
}

/// Verifies a state offline at `now`: the root self-signed, the timestamp,
/// snapshot and targets signed by the root's keys and consistent with one
/// another, none expired, and the cached targets of the lengths and hashes
/// `targets.json` pins. The error is one phrase starting with the role.
pub fn verify_files(files: &Files, dir: &Path, now: jiff::Timestamp) -> Result<Verified, String> {
    let read = |name: &str| files.get(name).ok_or_else(|| format!("{name}: missing from the cache"));
    let role = |name: &str, e: sigstore_tuf::Error| format!("{name}: {}", crate::commands::trust::why(&e));
    let mut set = TrustedMetadataSet::from_root(read("root.json")?).map_err(|e| role("root", e))?;
    set.check_root_expired(now).map_err(|e| role("root", e))?;
    set.update_timestamp(read("timestamp.json")?, now)
        .map_err(|e| role("timestamp", e))?;
    set.update_snapshot(read("snapshot.json")?, now)
        .map_err(|e| role("snapshot", e))?;
    set.update_targets(read("targets.json")?, now)
        .map_err(|e| role("targets", e))?;
    let root = role_state(set.root());
    let (Some(timestamp), Some(snapshot), Some(targets)) =
        (set.timestamp(), set.snapshot(), set.targets_role("targets"))
    else {
        return Err("targets: incomplete cached metadata".to_owned());
    };
    let timestamp = RoleState {
        version: timestamp.version,
        expires: timestamp.expires,
    };
    let snapshot = RoleState {
        version: snapshot.version,
        expires: snapshot.expires,
    };
    let pinned = |name: &str| -> Result<Option<Vec<u8>>, String> {
        let Some(info) = targets.target(name) else {
            return Ok(None);
        };
        let bytes = read(&format!("targets/{name}"))?;
        check_target(bytes, info).map_err(|why| format!("{name}: {why}"))?;
        Ok(Some(bytes.clone()))
    };
    let trusted_root =
        pinned(TRUSTED_ROOT_TARGET)?.ok_or_else(|| format!("targets: lists no {TRUSTED_ROOT_TARGET}"))?;
    let signing_config = pinned(SIGNING_CONFIG_TARGET)?;
    let targets = RoleState {
        version: targets.version,
        expires: targets.expires,
    };
    let mirror = String::from_utf8_lossy(read(MIRROR_FILE)?).trim().to_owned();
    Ok(Verified {
        mirror,
        dir: dir.to_owned(),
        trusted_root,
        signing_config,
        root,
        timestamp,
        snapshot,
        targets,
    })
}

fn role_state(root: &Root) -> RoleState {
    RoleState {
        version: root.version,
        expires: root.expires,
    }
}

/// Bytes against a target's pinned length and sha256 (every target of the
/// public-good repository pins one).
pub fn check_target(bytes: &[u8], info: &sigstore_tuf::TargetFile) -> Result<(), String> {
    if bytes.len() as u64 != info.length {
        return Err(format!(
            "length {} is not the pinned {} (hash mismatch)",
            bytes.len(),
            info.length
        ));
    }
    let Some(expected) = info.hashes.get("sha256") else {
        return Err("targets pins no sha256 hash".to_owned());
    };
    if !Digest::sha256_of(bytes).hex().eq_ignore_ascii_case(expected) {
        return Err("sha256 hash mismatch".to_owned());
    }
    Ok(())
}
