//! OCI manifest, index and descriptor types, and the media types sigil reads
//! and writes.
//!
//! Manifests are always handled as the exact bytes that hash to their digest;
//! these types are views parsed from those bytes, or builders for new ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The empty JSON object `{}` that OCI 1.1 artifacts use as config.
pub const EMPTY_JSON: &[u8] = b"{}";

/// Every manifest media type sigil asks a registry for.
pub const ACCEPTED_MANIFESTS: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/// Limits on what sigil reads into memory from a store (hostile stores exist).
pub mod limits {
    /// Largest manifest accepted (the distribution spec suggests 4 MiB).
    pub const MANIFEST_BYTES: u64 = 4 << 20;
    /// Largest blob read into memory (payloads, envelopes, bundles). SBOM
    /// attestations of 100 MB are normal; their DSSE envelopes are a third
    /// larger (base64).
    pub const BLOB_BYTES: u64 = 256 << 20;
    /// Most layers or index entries sigil looks at in one manifest.
    pub const DESCRIPTORS: usize = 1000;
}

/// A content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A descriptor of `bytes` with no annotations.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::sha256_of(bytes),
            size: bytes.len() as u64,
            artifact_type: None,
            annotations: BTreeMap::new(),
            platform: None,
        }
    }
}

/// The platform of an index entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// An image manifest (OCI or Docker v2 schema 2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI) or manifest list (Docker).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ImageIndex {
    /// An empty OCI index, as the referrers fallback tag starts.
    pub fn empty() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(OCI_INDEX.to_owned()),
            artifact_type: None,
            manifests: Vec::new(),
            subject: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// A parsed manifest of either kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Manifest {
    Image(ImageManifest),
    Index(ImageIndex),
}

/// Why manifest bytes could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is not valid JSON of a known kind: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unsupported manifest media type {0:?}")]
    MediaType(String),
    #[error("manifest lists {count} entries; more than {} are refused", limits::DESCRIPTORS)]
    TooManyEntries { count: usize },
}

/// Just enough of a manifest to tell its kind, without building its entries.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
}

/// The media type manifest bytes declare, else what their shape says (an
/// index lists `manifests`); `None` when they are not JSON.
pub fn sniff_media_type(bytes: &[u8]) -> Option<String> {
    let probe: Probe = serde_json::from_slice(bytes).ok()?;
    Some(match probe.media_type.filter(|m| !m.is_empty()) {
        Some(declared) => declared,
        None if probe.manifests.is_some() => OCI_INDEX.to_owned(),
        None => OCI_MANIFEST.to_owned(),
    })
}

impl Manifest {
    /// Parses manifest bytes; `media_type` is what the store said (may be empty).
    pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Manifest, ManifestError> {
        let probe: Probe = serde_json::from_slice(bytes)?;
        let declared = probe
            .media_type
            .as_deref()
            .filter(|m| !m.is_empty())
            .unwrap_or(media_type);
        let is_index = match declared {
            OCI_INDEX | DOCKER_MANIFEST_LIST => true,
            OCI_MANIFEST | DOCKER_MANIFEST => false,
            "" => probe.manifests.is_some(),
            other => return Err(ManifestError::MediaType(other.to_owned())),
        };
        let manifest = if is_index {
            Manifest::Index(serde_json::from_slice(bytes)?)
        } else {
            Manifest::Image(serde_json::from_slice(bytes)?)
        };
        let count = match &manifest {
            Manifest::Image(m) => m.layers.len(),
            Manifest::Index(i) => i.manifests.len(),
        };
        if count > limits::DESCRIPTORS {
            return Err(ManifestError::TooManyEntries { count });
        }
        Ok(manifest)
    }

    /// The media type to send with these bytes.
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Image(m) => m.media_type.as_deref().unwrap_or(OCI_MANIFEST),
            Manifest::Index(i) => i.media_type.as_deref().unwrap_or(OCI_INDEX),
        }
    }

    pub fn subject(&self) -> Option<&Descriptor> {
        match self {
            Manifest::Image(m) => m.subject.as_ref(),
            Manifest::Index(i) => i.subject.as_ref(),
        }
    }

    pub fn annotations(&self) -> &BTreeMap<String, String> {
        match self {
            Manifest::Image(m) => &m.annotations,
            Manifest::Index(i) => &i.annotations,
        }
    }

    /// The artifact type: `artifactType`, else the config media type of an image manifest.
    pub fn artifact_type(&self) -> Option<&str> {
        match self {
            Manifest::Image(m) => m.artifact_type.as_deref().or(Some(m.config.media_type.as_str())),
            Manifest::Index(i) => i.artifact_type.as_deref(),
        }
    }
}

/// Serialises a manifest to the bytes that will be pushed and hashed.
pub fn to_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    // Invariant: these types hold only strings, integers and maps with string
    // keys, which serde_json always serialises.
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_and_oci_kinds() {
        let cfg = Descriptor::of(OCI_CONFIG, b"{}");
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(DOCKER_MANIFEST.into()),
            artifact_type: None,
            config: cfg.clone(),
            layers: vec![],
            subject: None,
            annotations: BTreeMap::new(),
        };
        let parsed = Manifest::parse("", &to_bytes(&m)).expect("parses");
        assert!(matches!(parsed, Manifest::Image(_)));
        let idx = ImageIndex {
            manifests: vec![cfg],
            ..ImageIndex::empty()
        };
        assert!(matches!(
            Manifest::parse(OCI_INDEX, &to_bytes(&idx)).expect("parses"),
            Manifest::Index(_)
        ));
        assert!(matches!(
            Manifest::parse("", br#"{"schemaVersion":2,"mediaType":"text/plain"}"#),
            Err(ManifestError::MediaType(_))
        ));
        assert!(matches!(Manifest::parse("", b"not json"), Err(ManifestError::Json(_))));
    }

    #[test]
    fn refuses_too_many_layers() {
        let cfg = Descriptor::of(OCI_CONFIG, b"{}");
        let m = ImageManifest {
            schema_version: 2,
            media_type: Some(OCI_MANIFEST.into()),
            artifact_type: None,
            config: cfg.clone(),
            layers: vec![cfg; limits::DESCRIPTORS + 1],
            subject: None,
            annotations: BTreeMap::new(),
        };
        assert!(matches!(
            Manifest::parse("", &to_bytes(&m)),
            Err(ManifestError::TooManyEntries { .. })
        ));
    }
}
