//! Notary Project signatures, gathered: the configuration directory read
//! from disk (trust policy document and the trust stores it names), and an
//! image's notation signatures found as OCI referrers and fetched.
//!
//! Discovery is the one sigil already uses for cosign v3 bundles
//! ([`crate::referrers::list`]: the referrers API, else the `sha256-HEX`
//! fallback index). An OCI layout written by notation (through oras) may
//! also hold signatures that no index names; for layouts the `index.json`
//! entries are scanned for manifests whose `subject` is the image, as
//! notation's own layout store does. Every count and size is bounded: at
//! most [`MAX_SIGNATURES`] signatures are looked at, each envelope at most
//! [`MAX_ENVELOPE_BYTES`].
//!
//! The judgement is `sigil_judge::notation`, re-exported here.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};

pub use sigil_judge::notation::crl::MAX_CRLS;
pub use sigil_judge::notation::*;

use crate::digest::Digest;
use crate::oci::{Descriptor, ImageIndex, Manifest, OCI_MANIFEST, limits};
use crate::reference::Target;
use crate::referrers;
use crate::store::{AnyStore, Store, StoreError};

/// Most signatures of one image looked at (notation's `--max-signatures`
/// default); further ones are ignored, which can only refuse, never admit.
pub const MAX_SIGNATURES: usize = 100;
/// Largest envelope read (a JWS with a ten-certificate chain and a
/// timestamp is tens of kilobytes).
pub const MAX_ENVELOPE_BYTES: u64 = 4 << 20;
/// Largest CRL file read (a large CA's CRL lists ~100k entries in a few MB).
pub const MAX_CRL_BYTES: u64 = 32 << 20;
/// Largest trust policy or certificate file read.
const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most files read from one trust store directory.
const MAX_STORE_FILES: usize = 1000;

/// Why a notation configuration directory is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither policy file exists.
    #[error(
        "{dir}: no trustpolicy.oci.json or trustpolicy.json (the --notation-config directory must be laid out as notation's)"
    )]
    NoPolicy { dir: PathBuf },
    /// A file or directory cannot be read.
    #[error("{path}: {reason}")]
    Read { path: PathBuf, reason: String },
    /// The policy document is refused.
    #[error("{path}: {source}")]
    Policy {
        path: PathBuf,
        #[source]
        source: TrustPolicyError,
    },
    /// A trust store file is refused.
    #[error(transparent)]
    Store(#[from] TrustStoreError),
    /// A CRL file is refused (`--notation-crl`).
    #[error(transparent)]
    Crl(#[from] CrlError),
}

/// A notation configuration directory, read and validated.
#[derive(Clone, Debug)]
pub struct NotationConfig {
    /// The trust policy file used.
    pub policy_file: PathBuf,
    /// The trust policy document.
    pub policy: TrustPolicyDocument,
    /// The stores the document names, loaded.
    pub stores: TrustStores,
    /// The CRL files given ([`NotationConfig::with_crls`]); none by default.
    pub crls: Crls,
}

impl NotationConfig {
    /// Reads `dir/trustpolicy.oci.json` (else `dir/trustpolicy.json`) and
    /// every store it names under `dir/truststore/x509/TYPE/NAME/`: the
    /// `.pem`, `.crt` and `.cer` files directly inside (subdirectories are
    /// ignored, as the specification says). Symbolic links are refused
    /// (the specification requires it). A store that does not exist is
    /// left empty, and is an error when a policy that names it is used.
    pub fn load(dir: &Path) -> Result<NotationConfig, ConfigError> {
        let oci = dir.join("trustpolicy.oci.json");
        let legacy = dir.join("trustpolicy.json");
        let policy_file = if exists(&oci)? {
            oci
        } else if exists(&legacy)? {
            legacy
        } else {
            return Err(ConfigError::NoPolicy { dir: dir.to_owned() });
        };
        let bytes = read_file(&policy_file)?;
        let policy = TrustPolicyDocument::parse(&bytes).map_err(|source| ConfigError::Policy {
            path: policy_file.clone(),
            source,
        })?;
        let mut stores = TrustStores::new();
        for store in policy.stores() {
            let store_dir = dir
                .join("truststore")
                .join("x509")
                .join(store.kind.name())
                .join(&store.name);
            let Some(files) = store_files(&store_dir)? else {
                continue;
            };
            stores.declare(&store);
            for file in files {
                let bytes = read_file(&file)?;
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                stores.add_file(&store, &name, &bytes)?;
            }
        }
        Ok(NotationConfig {
            policy_file,
            policy,
            stores,
            crls: Crls::new(),
        })
    }

    /// Reads the CRL files (`--notation-crl`): each a regular file of at
    /// most [`MAX_CRL_BYTES`], one DER CRL or PEM `X509 CRL` blocks.
    pub fn with_crls(mut self, files: &[PathBuf]) -> Result<NotationConfig, ConfigError> {
        if files.len() > MAX_CRLS {
            return Err(CrlError::TooMany.into());
        }
        for path in files {
            let bytes = read_bounded(path, MAX_CRL_BYTES)?;
            let name = path.display().to_string();
            self.crls.add_file(&name, &bytes)?;
        }
        Ok(self)
    }
}

fn read_error(path: &Path, reason: impl ToString) -> ConfigError {
    ConfigError::Read {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// True when `path` exists; a symbolic link is an error.
fn exists(path: &Path) -> Result<bool, ConfigError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(read_error(path, "symbolic links are not accepted")),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(read_error(path, e)),
    }
}

/// Reads a regular file of at most [`MAX_FILE_BYTES`].
fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    read_bounded(path, MAX_FILE_BYTES)
}

fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, ConfigError> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| read_error(path, e))?;
    if !meta.file_type().is_file() {
        return Err(read_error(path, "not a regular file (symbolic links are not accepted)"));
    }
    let file = std::fs::File::open(path).map_err(|e| read_error(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(read_error(path, format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// The certificate files of a store directory, sorted; `None` when the
/// directory does not exist.
fn store_files(dir: &Path) -> Result<Option<Vec<PathBuf>>, ConfigError> {
    if !exists(dir)? {
        return Ok(None);
    }
    if !std::fs::symlink_metadata(dir).map_err(|e| read_error(dir, e))?.is_dir() {
        return Err(read_error(dir, "a trust store must be a directory"));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let entry = entry.map_err(|e| read_error(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| read_error(&path, e))?;
        if kind.is_symlink() {
            return Err(read_error(&path, "symbolic links are not accepted in a trust store"));
        }
        if kind.is_dir() {
            tracing::warn!("{}: subdirectories of a trust store are ignored", path.display());
            continue;
        }
        let certificate = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| ["pem", "crt", "cer"].contains(&e.to_ascii_lowercase().as_str()));
        if kind.is_file() && certificate {
            files.push(path);
        }
        if files.len() > MAX_STORE_FILES {
            return Err(read_error(
                dir,
                format!("more than {MAX_STORE_FILES} certificate files"),
            ));
        }
    }
    files.sort();
    Ok(Some(files))
}

/// The image as the payload must name it: its manifest descriptor.
pub async fn image_descriptor<S: Store>(store: &S, target: &Target) -> Result<Descriptor, StoreError> {
    let fetched = crate::store::require_manifest(store, target).await?;
    let mut descriptor = fetched.descriptor;
    descriptor.size = fetched.bytes.len() as u64;
    descriptor.annotations.clear();
    descriptor.artifact_type = None;
    descriptor.platform = None;
    Ok(descriptor)
}

/// Every notation signature of `image`: each signature manifest's one
/// envelope layer, fetched (or why it could not be used).
pub async fn signatures(store: &AnyStore, image: &Digest) -> Result<Vec<SignatureInput>, StoreError> {
    let mut candidates: Vec<Descriptor> = referrers::list(store, image, None)
        .await?
        .into_iter()
        .filter(may_be_signature)
        .collect();
    if let AnyStore::Layout(layout) = store {
        candidates.extend(layout_manifests(layout.dir(), image)?);
    }
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for candidate in candidates {
        if found.len() >= MAX_SIGNATURES {
            tracing::warn!("{image}: more than {MAX_SIGNATURES} notation signatures; the rest are ignored");
            break;
        }
        if !seen.insert(candidate.digest.clone()) {
            continue;
        }
        if let Some(input) = signature(store, image, &candidate.digest).await? {
            found.push(input);
        }
    }
    Ok(found)
}

/// Whether a referrer listed for an image may be a notation signature (its
/// artifact type is the signature's, or unstated).
pub fn may_be_signature(referrer: &Descriptor) -> bool {
    referrer
        .artifact_type
        .as_deref()
        .is_none_or(|t| t == SIGNATURE_ARTIFACT_TYPE)
}

/// One signature manifest: `None` when it is not a notation signature of
/// `image` (another artifact, another subject).
pub(crate) async fn signature<S: Store>(
    store: &S,
    image: &Digest,
    digest: &Digest,
) -> Result<Option<SignatureInput>, StoreError> {
    let Some(fetched) = store.fetch_manifest(&Target::Digest(digest.clone())).await? else {
        return Ok(None);
    };
    let Ok(Manifest::Image(manifest)) = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) else {
        return Ok(None);
    };
    let is_signature = manifest.artifact_type.as_deref() == Some(SIGNATURE_ARTIFACT_TYPE)
        || (manifest.artifact_type.is_none() && manifest.config.media_type == SIGNATURE_ARTIFACT_TYPE);
    if !is_signature || manifest.subject.as_ref().is_none_or(|s| &s.digest != image) {
        return Ok(None);
    }
    let origin = digest.to_string();
    let [layer] = manifest.layers.as_slice() else {
        return Ok(Some(SignatureInput {
            origin,
            media_type: String::new(),
            envelope: Err(format!(
                "a notation signature manifest has exactly one layer, this one has {}",
                manifest.layers.len()
            )),
        }));
    };
    let envelope = match store.fetch_blob(layer, MAX_ENVELOPE_BYTES).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => Err(e.to_string()),
    };
    Ok(Some(SignatureInput {
        origin,
        media_type: layer.media_type.clone(),
        envelope,
    }))
}

/// Manifests listed in a layout's `index.json` that may refer to `image`
/// (entries other than the image itself, of the OCI manifest type).
pub(crate) fn layout_manifests(dir: &Path, image: &Digest) -> Result<Vec<Descriptor>, StoreError> {
    let path = dir.join("index.json");
    let refused = |detail: String| StoreError::Refused {
        location: format!("oci:{}", dir.display()),
        detail,
    };
    let meta = std::fs::symlink_metadata(&path).map_err(|e| refused(format!("index.json: {e}")))?;
    if !meta.is_file() || meta.len() > limits::MANIFEST_BYTES {
        return Err(refused(
            "index.json is not a regular file within the manifest size limit".into(),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| refused(format!("index.json: {e}")))?;
    let index: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| refused(format!("index.json: {e}")))?;
    Ok(index
        .manifests
        .into_iter()
        .take(limits::DESCRIPTORS)
        .filter(|d| &d.digest != image && d.media_type == OCI_MANIFEST)
        .collect())
}
