//! OCI image-layout directories (`oci:DIR`) as a [`Store`], so everything
//! sigil does against a registry also works offline against a directory.
//!
//! A layout is an `oci-layout` marker file, an `index.json` (an OCI index
//! whose entries are the layout's manifests) and content-addressed blobs under
//! `blobs/sha256/HEX` (image-spec `image-layout.md`). Tags are the
//! `org.opencontainers.image.ref.name` annotations of `index.json` entries, so
//! cosign's `sha256-HEX.sig` tags and the referrers fallback tag live there
//! exactly as in a registry (DESIGN §2). Layouts written by `cosign save`
//! carry `kind` annotations instead of tags and are read too.
//!
//! Like every store this one trusts nothing it reads: every file is opened
//! without blocking ([`open_regular`]: a FIFO, socket or device planted as
//! `index.json` or as a blob is refused, never waited on), every manifest and
//! blob is refused by its file length before it is read and checked against
//! its digest after. Writes are atomic (a temporary file renamed into place),
//! go only into the layout's own `blobs/` directories (never through a
//! symlink out of it), and `index.json` is changed under an exclusive file
//! lock, so concurrent writers, in one process or several, lose nothing.

mod blobs;
mod index;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use index::{COSIGN_KIND, KIND_ATTS, KIND_IMAGE, KIND_IMAGE_INDEX, KIND_SBOM, KIND_SIGS, REF_NAME, SOURCE_NAME};

use crate::digest::{Digest, DigestError};
use crate::oci::{self, Descriptor, Manifest, limits};
use crate::reference::Target;
use crate::store::{BlobStream, Fetched, Pushed, Store, StoreError, Swap, check_manifest};
use index::{Change, INDEX_FILE, Index, Limited};

/// The tag asked for when a reference names none (`oci:DIR`).
pub const DEFAULT_TAG: &str = "latest";
const LAYOUT_FILE: &str = "oci-layout";
const LAYOUT_CONTENTS: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const LAYOUT_FILE_BYTES: u64 = 64 << 10;
/// Most untagged candidates examined when looking for a layout's one image.
const MAX_DEFAULT_CANDIDATES: usize = 64;

/// A file of a layout that is not a regular file (a FIFO, socket, device or
/// directory), refused before a byte of it is read.
#[derive(Debug, thiserror::Error)]
#[error("{path} is {kind}, not a regular file; an oci image layout holds only regular files")]
pub struct NotRegular {
    path: String,
    kind: &'static str,
}

/// What a file type is, for messages.
fn file_kind(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a fifo"
    } else if file_type.is_socket() {
        "a socket"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

/// Opens a layout file for reading without ever blocking on it, and refuses
/// anything that is not a regular file (after following symlinks, which may
/// point anywhere: the content is checked against its digest after).
///
/// A FIFO blocks `open` until a writer appears, so the type is checked first
/// (which also names a socket, whose `open` fails obscurely), and the open
/// itself is non-blocking: a FIFO swapped in between the check and the open
/// is still not waited on, and the type of what was opened (`fstat`) is
/// checked again.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    let refuse = |file_type| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            NotRegular {
                path: path
                    .file_name()
                    .map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned()),
                kind: file_kind(file_type),
            },
        )
    };
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse(meta.file_type()));
    }
    Ok(file)
}

/// An OCI image-layout directory.
#[derive(Clone, Debug)]
pub struct LayoutStore {
    dir: PathBuf,
    /// `oci:DIR`, for messages.
    location: String,
}

impl LayoutStore {
    /// Opens an existing layout; refuses a directory that is missing or is
    /// not a layout (no `oci-layout` or `index.json`, or either malformed).
    pub fn open(dir: &Path) -> Result<LayoutStore, StoreError> {
        let store = LayoutStore::at(dir);
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(store.refused("not a directory; an oci image layout is a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(store.refused("no such directory")),
            Err(e) => return Err(store.io_error("reading the layout directory", e)),
        }
        store.check_layout_file()?;
        index::load(&store.dir, &store.location)?;
        Ok(store)
    }

    /// Opens the layout at `dir`, first creating the directory, `oci-layout`
    /// and an empty `index.json` where absent. Refuses a directory that has
    /// other files but is no layout, rather than writing blobs among them.
    pub fn create(dir: &Path) -> Result<LayoutStore, StoreError> {
        let store = LayoutStore::at(dir);
        std::fs::create_dir_all(dir).map_err(|e| store.io_error("creating the layout directory", e))?;
        let exists = |name: &str| {
            dir.join(name)
                .try_exists()
                .map_err(|e| store.io_error(format!("reading {name}"), e))
        };
        if !exists(LAYOUT_FILE)? && !exists(INDEX_FILE)? {
            let empty = index::is_empty_dir(dir).map_err(|e| store.io_error("reading the layout directory", e))?;
            if !empty {
                return Err(store.refused(
                    "directory is not empty and is not an oci image layout; choose a new or empty directory",
                ));
            }
        }
        store.blob_dir(crate::digest::Algorithm::Sha256)?;
        // index.json before oci-layout: a layout is complete once its marker exists.
        index::create_empty(dir).map_err(|e| store.io_error("creating index.json", e))?;
        index::create_if_absent(&dir.join(LAYOUT_FILE), LAYOUT_CONTENTS)
            .map_err(|e| store.io_error("creating oci-layout", e))?;
        LayoutStore::open(dir)
    }

    /// The layout directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn at(dir: &Path) -> LayoutStore {
        LayoutStore {
            dir: dir.to_path_buf(),
            location: format!("oci:{}", dir.display()),
        }
    }

    fn check_layout_file(&self) -> Result<(), StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct LayoutFile {
            image_layout_version: String,
        }
        let bytes = match index::read_limited(&self.dir.join(LAYOUT_FILE), LAYOUT_FILE_BYTES) {
            Ok(Limited::Bytes(bytes)) => bytes,
            Ok(Limited::TooLarge(size)) => return Err(self.too_large(LAYOUT_FILE, size, LAYOUT_FILE_BYTES)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(self.refused("not an oci image layout: the oci-layout file is missing"));
            }
            Err(e) => return Err(self.io_error("reading oci-layout", e)),
        };
        let file: LayoutFile =
            serde_json::from_slice(&bytes).map_err(|e| self.malformed(LAYOUT_FILE, e.to_string()))?;
        let version = file.image_layout_version;
        if version.split('.').next() != Some("1") {
            return Err(self.refused(format!(
                "unsupported image layout version {version:?} (version 1.x is supported)"
            )));
        }
        Ok(())
    }

    /// Records the repository the image `digest` was copied from
    /// ([`SOURCE_NAME`]), so policies match it by that name.
    pub async fn record_source_name(&self, digest: &Digest, name: &str) -> Result<(), StoreError> {
        let change = Change::Annotate {
            digest: digest.clone(),
            key: SOURCE_NAME.to_owned(),
            value: name.to_owned(),
        };
        let (dir, location) = (self.dir.clone(), self.location.clone());
        self.blocking(move || index::update(&dir, &location, &change)).await
    }

    /// The repository recorded for `digest` by [`LayoutStore::record_source_name`].
    pub async fn source_name(&self, digest: &Digest) -> Result<Option<String>, StoreError> {
        Ok(self.index().await?.annotation(digest, SOURCE_NAME).map(str::to_owned))
    }

    async fn index(&self) -> Result<Index, StoreError> {
        let (dir, location) = (self.dir.clone(), self.location.clone());
        self.blocking(move || index::load(&dir, &location)).await
    }

    /// Runs blocking file work (locks, small files) off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| self.io_error("a background file task failed", io::Error::other(e)))?
    }

    /// The entry a tag names, including the default tag's fallback.
    async fn resolve_tag(&self, index: &Index, tag: &str) -> Result<Option<Descriptor>, StoreError> {
        if let Some(entry) = index.resolve(tag).map_err(|detail| self.refused(detail))? {
            return Ok(Some(entry.clone()));
        }
        if tag != DEFAULT_TAG {
            return Ok(None);
        }
        let candidates = index.default_candidates();
        let found = match candidates.as_slice() {
            [] => None,
            [only] => Some((*only).clone()),
            many if many.len() > MAX_DEFAULT_CANDIDATES => None,
            _ => self.sole_root(candidates).await?,
        };
        if let Some(entry) = &found {
            tracing::debug!(location = %self.location, digest = %entry.digest, "no tag {DEFAULT_TAG}; using the layout's one image");
        }
        Ok(found)
    }

    /// Among several untagged candidates, the one that is neither a referrer
    /// (has a `subject`) nor a child of another candidate index, if exactly
    /// one is: so signing `oci:DIR` in bundle format (which adds an untagged
    /// referrer) or copying a multi-platform index (which lists its platform
    /// manifests) leaves `oci:DIR` naming the same image.
    async fn sole_root(&self, candidates: Vec<&Descriptor>) -> Result<Option<Descriptor>, StoreError> {
        let mut children = HashSet::new();
        let mut roots = Vec::new();
        for candidate in candidates {
            let what = format!("manifest {}", candidate.digest);
            let bytes = self
                .read_blob(&what, &candidate.digest, Some(candidate.size), limits::MANIFEST_BYTES)
                .await?
                .ok_or_else(|| self.missing(&Target::Digest(candidate.digest.clone()), &candidate.digest))?;
            let manifest =
                Manifest::parse(&candidate.media_type, &bytes).map_err(|e| self.malformed(&what, e.to_string()))?;
            if manifest.subject().is_some() {
                continue;
            }
            if let Manifest::Index(index) = &manifest {
                children.extend(index.manifests.iter().map(|m| m.digest.clone()));
            }
            roots.push(candidate);
        }
        roots.retain(|r| !children.contains(&r.digest));
        Ok(match roots.as_slice() {
            [only] => Some((*only).clone()),
            _ => None,
        })
    }

    fn missing(&self, target: &Target, digest: &Digest) -> StoreError {
        let blob = format!("blobs/{}/{}", digest.algorithm().name(), digest.hex());
        let detail = match target {
            Target::Tag(tag) => {
                format!("tag {tag} points at {digest}, but {blob} is missing (the layout is incomplete)")
            }
            Target::Digest(_) => format!("index.json lists {digest}, but {blob} is missing (the layout is incomplete)"),
        };
        self.refused(detail)
    }

    fn refused(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Refused {
            location: self.location.clone(),
            detail: detail.into(),
        }
    }

    fn io_error(&self, what: impl Into<String>, source: io::Error) -> StoreError {
        StoreError::Io {
            location: self.location.clone(),
            what: what.into(),
            cause: source,
        }
    }

    fn malformed(&self, what: &str, detail: impl Into<String>) -> StoreError {
        StoreError::Malformed {
            location: self.location.clone(),
            what: what.to_owned(),
            detail: detail.into(),
        }
    }

    fn too_large(&self, what: &str, size: u64, limit: u64) -> StoreError {
        StoreError::TooLarge {
            location: self.location.clone(),
            what: what.to_owned(),
            size,
            limit,
        }
    }

    fn digest_error(&self, source: DigestError) -> StoreError {
        StoreError::Digest {
            location: self.location.clone(),
            cause: source,
        }
    }

    fn not_found(&self, what: String) -> StoreError {
        StoreError::NotFound {
            location: self.location.clone(),
            what,
        }
    }
}

impl LayoutStore {
    /// Writes a manifest and points `target` at it; with `expected`, only if
    /// the tag still resolves to that digest (`None` inside: to nothing),
    /// else `Ok(None)` and the index is unchanged (the blob may stay).
    async fn put_manifest(
        &self,
        target: &Target,
        media_type: &str,
        bytes: &[u8],
        expected: Option<Option<&Digest>>,
    ) -> Result<Option<Pushed>, StoreError> {
        let what = format!("manifest {target}");
        let size = bytes.len() as u64;
        if size > limits::MANIFEST_BYTES {
            return Err(self.too_large(&what, size, limits::MANIFEST_BYTES));
        }
        let digest = match target {
            Target::Digest(digest) => {
                digest.verify(bytes).map_err(|source| self.digest_error(source))?;
                digest.clone()
            }
            Target::Tag(tag) if tag.is_empty() => return Err(self.refused("cannot push a manifest to an empty tag")),
            Target::Tag(_) => Digest::sha256_of(bytes),
        };
        // Refuse what no reader could use, as a registry would.
        let manifest = Manifest::parse(media_type, bytes).map_err(|e| self.malformed(&what, e.to_string()))?;
        let mut descriptor = Descriptor {
            media_type: match media_type {
                "" => manifest.media_type().to_owned(),
                given => given.to_owned(),
            },
            digest: digest.clone(),
            size,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
        };
        self.write_blob(&descriptor, bytes).await?;
        let change = match target {
            Target::Tag(tag) => {
                descriptor.annotations.insert(REF_NAME.to_owned(), tag.clone());
                Change::Tag {
                    tag: tag.clone(),
                    descriptor,
                }
            }
            Target::Digest(_) => {
                if manifest.subject().is_some() {
                    descriptor.artifact_type = manifest.artifact_type().map(str::to_owned);
                }
                Change::Untagged(descriptor)
            }
        };
        let (dir, location) = (self.dir.clone(), self.location.clone());
        let expected: Option<(String, Option<Digest>)> = match (target, expected) {
            (Target::Tag(tag), Some(at)) => Some((tag.clone(), at.cloned())),
            _ => None,
        };
        let written = self
            .blocking(move || {
                let expected = expected.as_ref().map(|(tag, at)| (tag.as_str(), at.as_ref()));
                index::update_if(&dir, &location, &change, expected)
            })
            .await?;
        Ok(written.then_some(Pushed {
            digest,
            subject_indexed: false,
        }))
    }
}

impl Store for LayoutStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    async fn fetch_manifest(&self, target: &Target) -> Result<Option<Fetched>, StoreError> {
        let index = self.index().await?;
        let listed = match target {
            Target::Tag(tag) => match self.resolve_tag(&index, tag).await? {
                Some(entry) => Some(entry),
                None => return Ok(None),
            },
            Target::Digest(digest) => index.by_digest(digest).cloned(),
        };
        let what = format!("manifest {target}");
        let (digest, bytes, media_type) = match (listed, target) {
            (Some(entry), _) => {
                let bytes = self
                    .read_blob(&what, &entry.digest, Some(entry.size), limits::MANIFEST_BYTES)
                    .await?
                    .ok_or_else(|| self.missing(target, &entry.digest))?;
                (entry.digest, bytes, entry.media_type)
            }
            // Not in index.json, as the platform manifests of an index are not.
            (None, Target::Digest(digest)) => {
                match self.read_blob(&what, digest, None, limits::MANIFEST_BYTES).await? {
                    Some(bytes) => (digest.clone(), bytes, String::new()),
                    None => return Ok(None),
                }
            }
            (None, Target::Tag(_)) => return Ok(None),
        };
        let media_type = match media_type {
            declared if !declared.is_empty() => declared,
            _ => oci::sniff_media_type(&bytes).ok_or_else(|| self.malformed(&what, "not a json manifest"))?,
        };
        check_manifest(&self.location, target, &media_type, bytes, Some(&digest)).map(Some)
    }

    async fn fetch_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>, StoreError> {
        let what = format!("blob {}", descriptor.digest);
        self.read_blob(&what, &descriptor.digest, Some(descriptor.size), limit)
            .await?
            .ok_or_else(|| self.not_found(what))
    }

    async fn stream_blob(&self, descriptor: &Descriptor) -> Result<BlobStream, StoreError> {
        self.blob_stream(descriptor).await
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(self.blob_len(digest).await?.is_some())
    }

    async fn push_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        self.write_blob(descriptor, bytes).await
    }

    async fn push_blob_stream(&self, descriptor: &Descriptor, stream: BlobStream) -> Result<(), StoreError> {
        self.write_blob_stream(descriptor, stream).await
    }

    async fn push_manifest(&self, target: &Target, media_type: &str, bytes: &[u8]) -> Result<Pushed, StoreError> {
        let pushed = self.put_manifest(target, media_type, bytes, None).await?;
        pushed.ok_or_else(|| self.refused("internal: an unconditional manifest write was not made"))
    }

    /// The index lock makes the comparison and the write one step.
    async fn swap_tag(
        &self,
        tag: &str,
        expected: Option<&Digest>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Swap, StoreError> {
        let target = Target::Tag(tag.to_owned());
        Ok(
            match self.put_manifest(&target, media_type, bytes, Some(expected)).await? {
                Some(pushed) => Swap::Swapped(pushed),
                None => Swap::Moved,
            },
        )
    }

    async fn referrers_api(&self, _digest: &Digest) -> Result<Option<Vec<Descriptor>>, StoreError> {
        // A layout has no referrers API; callers read the fallback tag `sha256-HEX`.
        Ok(None)
    }
}
