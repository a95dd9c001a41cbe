//! The `index.json` of an image layout: which entry a tag names (ref-name
//! annotations, `cosign save`'s `kind` annotations, the default tag), and how
//! the file is changed without losing what another process wrote meanwhile.
//!
//! Everything here is blocking `std::fs`; the store runs it on
//! `spawn_blocking`.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::blobs::TempPath;
use crate::digest::Digest;
use crate::oci::{self, Descriptor};
use crate::store::StoreError;

/// The annotation that names a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation `cosign save` puts on each entry it writes.
pub const COSIGN_KIND: &str = "kind";
/// `kind` of the saved image manifest.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `kind` of the saved image index.
pub const KIND_IMAGE_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `kind` of the signatures manifest (what the `sha256-HEX.sig` tag holds).
pub const KIND_SIGS: &str = "dev.cosignproject.cosign/sigs";
/// `kind` of the attestations manifest (`sha256-HEX.att`).
pub const KIND_ATTS: &str = "dev.cosignproject.cosign/atts";
/// `kind` of an SBOM attachment (`sha256-HEX.sbom`).
pub const KIND_SBOM: &str = "dev.cosignproject.cosign/sbom";
/// The reference an image was copied from, recorded by `sigil copy` on its
/// `index.json` entries: `registry/repo:tag@digest` (or `registry/repo@digest`
/// when the source pinned a digest; older layouts hold `registry/repo`).
/// Unsigned and written by whoever wrote the layout, so a policy lets it add
/// requirements, never remove any (`crate::policy::names`, DESIGN §4.1).
pub const SOURCE_NAME: &str = "dev.sigil.image.name";

pub(super) const INDEX_FILE: &str = "index.json";
const LOCK_FILE: &str = "index.json.lock";
/// Largest `index.json` read: a layout may hold many images, each with
/// signatures, attestations and referrers, so this is above the manifest limit.
pub(super) const INDEX_BYTES: u64 = 16 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IndexFile {
    schema_version: u32,
    /// Go writers may emit `null` for an empty list.
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

/// The entries of an `index.json`, in file order.
#[derive(Debug)]
pub(super) struct Index {
    entries: Vec<Descriptor>,
}

impl Index {
    /// Parses `index.json` bytes; the error is a lower-case detail.
    pub(super) fn parse(bytes: &[u8]) -> Result<Index, String> {
        let file: IndexFile = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if file.schema_version != 2 {
            return Err(format!("schemaVersion is {}, expected 2", file.schema_version));
        }
        Ok(Index {
            entries: file.manifests.unwrap_or_default(),
        })
    }

    /// The first entry for `digest`, if `index.json` lists it.
    /// An annotation of any image entry of `digest`.
    pub(super) fn annotation(&self, digest: &Digest, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .filter(|e| &e.digest == digest && !is_cosign_attachment(e))
            .find_map(|e| e.annotations.get(key).map(String::as_str))
    }

    pub(super) fn by_digest(&self, digest: &Digest) -> Option<&Descriptor> {
        self.entries.iter().find(|e| &e.digest == digest)
    }

    /// The entry a tag names: its ref-name entry, else (for `sha256-HEX.sig`,
    /// `.att`, `.sbom`) the `cosign save` entry of that kind belonging to the
    /// image `sha256:HEX`. `Err` when the tag names two different manifests.
    pub(super) fn resolve(&self, tag: &str) -> Result<Option<&Descriptor>, String> {
        let named: Vec<&Descriptor> = self
            .entries
            .iter()
            .filter(|e| ref_name(e) == Some(tag) && !is_cosign_attachment(e))
            .collect();
        if let Some(first) = named.first() {
            let digests: BTreeSet<String> = named.iter().map(|e| e.digest.to_string()).collect();
            if digests.len() > 1 {
                let list = digests.into_iter().collect::<Vec<_>>().join(", ");
                return Err(format!(
                    "tag {tag} names {} different manifests in index.json ({list}); refusing to guess",
                    named.len()
                ));
            }
            return Ok(Some(first));
        }
        let Some((image, Some(suffix))) = attachment_tag(tag) else {
            return Ok(None);
        };
        let kind = match suffix {
            "sig" => KIND_SIGS,
            "att" => KIND_ATTS,
            "sbom" => KIND_SBOM,
            _ => return Ok(None),
        };
        Ok(self.cosign_attachment(&image, kind))
    }

    /// The `cosign save` entry of `kind` that belongs to the image `image`.
    ///
    /// cosign appends the image entry and then its attachments, so an
    /// attachment belongs to the nearest image entry before it; when the
    /// layout holds exactly one image entry, every attachment is its.
    fn cosign_attachment(&self, image: &Digest, kind: &str) -> Option<&Descriptor> {
        let images: Vec<usize> = (0..self.entries.len())
            .filter(|&i| is_cosign_image(&self.entries[i]))
            .collect();
        let sole = match images.as_slice() {
            [only] => Some(*only),
            _ => None,
        };
        self.entries.iter().enumerate().find_map(|(i, entry)| {
            if cosign_kind(entry) != Some(kind) {
                return None;
            }
            let owner = images.iter().rev().find(|&&j| j < i).copied().or(sole)?;
            (&self.entries[owner].digest == image).then_some(entry)
        })
    }

    /// The entries that could be the layout's one image when no tag is given:
    /// manifests and indexes that are no cosign attachment (by `kind`) and
    /// carry no attachment tag (`sha256-HEX`, `sha256-HEX.sig`, ...), one per
    /// digest.
    pub(super) fn default_candidates(&self) -> Vec<&Descriptor> {
        let mut seen = BTreeSet::new();
        self.entries
            .iter()
            .filter(|e| oci::ACCEPTED_MANIFESTS.contains(&e.media_type.as_str()))
            .filter(|e| !is_cosign_attachment(e))
            .filter(|e| ref_name(e).is_none_or(|name| attachment_tag(name).is_none()))
            .filter(|e| seen.insert(e.digest.clone()))
            .collect()
    }
}

fn ref_name(entry: &Descriptor) -> Option<&str> {
    entry.annotations.get(REF_NAME).map(String::as_str)
}

fn cosign_kind(entry: &Descriptor) -> Option<&str> {
    entry.annotations.get(COSIGN_KIND).map(String::as_str)
}

fn is_cosign_image(entry: &Descriptor) -> bool {
    matches!(cosign_kind(entry), Some(KIND_IMAGE | KIND_IMAGE_INDEX))
}

fn is_attachment_kind(kind: Option<&str>) -> bool {
    matches!(kind, Some(KIND_SIGS | KIND_ATTS | KIND_SBOM))
}

fn is_cosign_attachment(entry: &Descriptor) -> bool {
    is_attachment_kind(cosign_kind(entry))
}

/// Splits a tag derived from a digest: `sha256-HEX` (the referrers fallback)
/// or `sha256-HEX.SUFFIX` (cosign's `.sig`, `.att`, `.sbom`).
pub(super) fn attachment_tag(tag: &str) -> Option<(Digest, Option<&str>)> {
    let (prefix, suffix) = match tag.split_once('.') {
        Some((prefix, suffix)) => (prefix, Some(suffix)),
        None => (tag, None),
    };
    let (algorithm, hex) = prefix.split_once('-')?;
    let digest = format!("{algorithm}:{hex}").parse().ok()?;
    Some((digest, suffix))
}

/// One change to `index.json`.
#[derive(Debug)]
pub(super) enum Change {
    /// Point `tag` at `descriptor`, replacing the entries that held the tag.
    Tag { tag: String, descriptor: Descriptor },
    /// List `descriptor` without a tag unless its digest is listed already.
    Untagged(Descriptor),
    /// Set annotation `key` to `value` on every image entry of `digest`.
    Annotate { digest: Digest, key: String, value: String },
}

/// Reads and parses `index.json` (no lock needed: writers replace it by rename).
pub(super) fn load(dir: &Path, location: &str) -> Result<Index, StoreError> {
    let bytes = read_index(dir, location)?;
    Index::parse(&bytes).map_err(|detail| malformed(location, detail))
}

/// Applies `change` to `index.json` under an exclusive lock on
/// `index.json.lock`, writing the new file beside it and renaming it into
/// place, so concurrent writers in any process never lose each other's entries
/// and readers never see a half-written file.
pub(super) fn update(dir: &Path, location: &str, change: &Change) -> Result<(), StoreError> {
    update_if(dir, location, change, None).map(drop)
}

/// [`update`], applied only if `tag` (the first of `expected`) resolves to
/// the digest given (`None`: to nothing) under the lock; `Ok(false)` when
/// it does not and nothing was written.
pub(super) fn update_if(
    dir: &Path,
    location: &str,
    change: &Change,
    expected: Option<(&str, Option<&Digest>)>,
) -> Result<bool, StoreError> {
    let io_err = |what: &str, source: io::Error| StoreError::Io {
        location: location.to_owned(),
        what: what.to_owned(),
        cause: source,
    };
    // The lock file is opened without following a symlink and without
    // blocking, and must be a regular file: a planted FIFO would hang the
    // writer, a planted link would create a file outside the layout.
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(dir.join(LOCK_FILE))
        .map_err(|e| io_err("opening index.json.lock", e))?;
    if !lock
        .metadata()
        .map_err(|e| io_err("reading index.json.lock", e))?
        .is_file()
    {
        return Err(io_err(
            "opening index.json.lock",
            io::Error::new(io::ErrorKind::InvalidInput, "index.json.lock is not a regular file"),
        ));
    }
    lock_exclusive(&lock).map_err(|e| io_err("locking index.json.lock", e))?;

    let bytes = read_index(dir, location)?;
    // The typed parse refuses what readers would refuse; the edit itself is
    // done on the JSON value so fields sigil does not model survive.
    let index = Index::parse(&bytes).map_err(|detail| malformed(location, detail))?;
    if let Some((tag, expected)) = expected {
        let current = index.resolve(tag).map_err(|detail| malformed(location, detail))?;
        if current.map(|d| &d.digest) != expected {
            return Ok(false);
        }
    }
    let mut value: Value = serde_json::from_slice(&bytes).map_err(|e| malformed(location, e.to_string()))?;
    let Some(object) = value.as_object_mut() else {
        return Err(malformed(location, "not a json object".to_owned()));
    };
    let manifests = object
        .entry("manifests")
        .and_modify(|m| {
            if m.is_null() {
                *m = Value::Array(Vec::new());
            }
        })
        .or_insert_with(|| Value::Array(Vec::new()));
    let Some(manifests) = manifests.as_array_mut() else {
        return Err(malformed(location, "manifests is not a list".to_owned()));
    };
    apply(manifests, change);

    let out = serde_json::to_vec(&value).map_err(|e| malformed(location, e.to_string()))?;
    let (mut file, temp) = TempPath::create_sync(dir).map_err(|e| io_err("creating a temporary file", e))?;
    file.write_all(&out)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err("writing index.json", e))?;
    drop(file);
    temp.persist_sync(&dir.join(INDEX_FILE))
        .map_err(|e| io_err("replacing index.json", e))?;
    drop(lock);
    Ok(true)
}

// `File::lock` is std's portable exclusive file lock (flock on Unix,
// LockFileEx on Windows), stable since Rust 1.89.
fn lock_exclusive(file: &File) -> io::Result<()> {
    file.lock()
}

fn apply(manifests: &mut Vec<Value>, change: &Change) {
    match change {
        Change::Tag { tag, descriptor } => {
            let new = descriptor_value(descriptor);
            let digest = descriptor.digest.to_string();
            let mut placed = false;
            let mut out = Vec::with_capacity(manifests.len() + 1);
            for entry in manifests.drain(..) {
                let holds_tag = entry_annotation(&entry, REF_NAME) == Some(tag.as_str())
                    && !is_attachment_kind(entry_annotation(&entry, COSIGN_KIND));
                // A bare entry for the same digest (pushed by digest earlier)
                // says nothing the tagged entry does not.
                let bare_duplicate = entry.get("digest").and_then(Value::as_str) == Some(digest.as_str())
                    && entry
                        .get("annotations")
                        .and_then(Value::as_object)
                        .is_none_or(|a| a.is_empty());
                if holds_tag {
                    if !placed {
                        out.push(new.clone());
                        placed = true;
                    }
                } else if !bare_duplicate {
                    out.push(entry);
                }
            }
            if !placed {
                out.push(new);
            }
            *manifests = out;
        }
        Change::Annotate { digest, key, value } => {
            let digest = digest.to_string();
            for entry in manifests.iter_mut() {
                let ours = entry.get("digest").and_then(Value::as_str) == Some(digest.as_str())
                    && !is_attachment_kind(entry_annotation(entry, COSIGN_KIND));
                if let (true, Some(object)) = (ours, entry.as_object_mut()) {
                    let annotations = object
                        .entry("annotations")
                        .or_insert_with(|| Value::Object(Default::default()));
                    if let Some(map) = annotations.as_object_mut() {
                        map.insert(key.clone(), Value::from(value.clone()));
                    }
                }
            }
        }
        Change::Untagged(descriptor) => {
            let digest = descriptor.digest.to_string();
            let listed = manifests
                .iter()
                .any(|e| e.get("digest").and_then(Value::as_str) == Some(digest.as_str()));
            if !listed {
                manifests.push(descriptor_value(descriptor));
            }
        }
    }
}

fn descriptor_value(descriptor: &Descriptor) -> Value {
    // Invariant: a Descriptor holds only strings, integers and string maps,
    // which always serialise.
    serde_json::to_value(descriptor).unwrap_or(Value::Null)
}

fn entry_annotation<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry.get("annotations")?.get(key)?.as_str()
}

fn read_index(dir: &Path, location: &str) -> Result<Vec<u8>, StoreError> {
    match read_limited(&dir.join(INDEX_FILE), INDEX_BYTES) {
        Ok(Limited::Bytes(bytes)) => Ok(bytes),
        Ok(Limited::TooLarge(size)) => Err(StoreError::TooLarge {
            location: location.to_owned(),
            what: INDEX_FILE.to_owned(),
            size,
            limit: INDEX_BYTES,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::Refused {
            location: location.to_owned(),
            detail: "not an oci image layout: index.json is missing".to_owned(),
        }),
        Err(source) => Err(StoreError::Io {
            location: location.to_owned(),
            what: "reading index.json".to_owned(),
            cause: source,
        }),
    }
}

fn malformed(location: &str, detail: String) -> StoreError {
    StoreError::Malformed {
        location: location.to_owned(),
        what: INDEX_FILE.to_owned(),
        detail,
    }
}

/// A small file read whole, or its size when over the limit.
pub(super) enum Limited {
    Bytes(Vec<u8>),
    TooLarge(u64),
}

/// Reads a file, refusing it by its metadata length before reading when it is
/// over `limit`, and again if it grew past `limit` while being read.
pub(super) fn read_limited(path: &Path, limit: u64) -> io::Result<Limited> {
    let file = super::open_regular(path)?;
    let len = file.metadata()?.len();
    if len > limit {
        return Ok(Limited::TooLarge(len));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Ok(Limited::TooLarge(bytes.len() as u64));
    }
    Ok(Limited::Bytes(bytes))
}

/// Creates `index.json` holding an empty index unless it exists.
pub(super) fn create_empty(dir: &Path) -> io::Result<()> {
    let empty = oci::to_bytes(&oci::ImageIndex::empty());
    create_if_absent(&dir.join(INDEX_FILE), &empty)
}

/// Writes a small file unless it exists (another creator may race us).
pub(super) fn create_if_absent(path: &Path, contents: &[u8]) -> io::Result<()> {
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(mut file) => file.write_all(contents).and_then(|()| file.sync_all()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether a directory has any entry at all.
pub(super) fn is_empty_dir(dir: &Path) -> io::Result<bool> {
    Ok(fs::read_dir(dir)?.next().is_none())
}
