//! Sigstore bundles (`application/vnd.dev.sigstore.bundle*`): the wire shape,
//! enough to write cosign v3's key-signed image signatures and to read the
//! content and verification material of any bundle version.
//!
//! Certificate chains, transparency-log proofs and timestamps are read here
//! but judged elsewhere.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dsse::Envelope;

/// The media type sigil writes (v0.3, the spelling cosign v3 uses).
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Every bundle media type sigil reads.
pub fn is_bundle_media_type(media_type: &str) -> bool {
    matches!(
        media_type,
        "application/vnd.dev.sigstore.bundle+json;version=0.1"
            | "application/vnd.dev.sigstore.bundle+json;version=0.2"
            | "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json"
    )
}

/// A Sigstore bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
}

/// Keys, certificates and proofs that come with a bundle.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<RawBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    #[serde(default)]
    pub tlog_entries: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PublicKeyHint {
    #[serde(default)]
    pub hint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBytes {
    /// Base64 of DER.
    pub raw_bytes: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CertificateChain {
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

/// A signature over an artifact digest (`cosign sign-blob`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<MessageDigest>,
    pub signature: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MessageDigest {
    pub algorithm: String,
    pub digest: String,
}

/// Why bytes are not a bundle sigil can read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    #[error("Sigstore bundle is not valid JSON of the expected shape: {0}")]
    Json(String),
    #[error("unsupported Sigstore bundle media type {0:?}")]
    MediaType(String),
    #[error("Sigstore bundle has neither a DSSE envelope nor a message signature")]
    NoContent,
}

impl Bundle {
    /// Parses a bundle of any supported version.
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let bundle: Bundle = serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
        if !is_bundle_media_type(&bundle.media_type) {
            return Err(BundleError::MediaType(bundle.media_type));
        }
        if bundle.dsse_envelope.is_none() && bundle.message_signature.is_none() {
            return Err(BundleError::NoContent);
        }
        Ok(bundle)
    }

    /// A v0.3 bundle for a key-signed DSSE envelope, with no log entry
    /// (sigil is offline-first; key-based verification needs none).
    pub fn key_signed(envelope: Envelope, key_hint: String) -> Bundle {
        Bundle {
            media_type: BUNDLE_V03.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint { hint: key_hint }),
                ..VerificationMaterial::default()
            },
            dsse_envelope: Some(envelope),
            message_signature: None,
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        crate::oci::to_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_real_bundles_of_every_version() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/bundles");
        let mut read = 0;
        for entry in std::fs::read_dir(dir).expect("testdata/bundles") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "json" || e == "sigstore") {
                let bytes = std::fs::read(&path).expect("read");
                let b = Bundle::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(b.dsse_envelope.is_some() || b.message_signature.is_some());
                read += 1;
            }
        }
        assert!(read >= 3, "expected real bundles in {dir}");
    }

    #[test]
    fn refuses_other_media_types_and_empty_content() {
        let b = Bundle::key_signed(Envelope::new("t", b"p", b"s"), "h".into());
        let mut v: Value = serde_json::from_slice(&b.to_json()).expect("json");
        v["mediaType"] = "application/vnd.dev.sigstore.bundle.v9+json".into();
        assert!(matches!(
            Bundle::parse(v.to_string().as_bytes()),
            Err(BundleError::MediaType(_))
        ));
        v["mediaType"] = BUNDLE_V03.into();
        v.as_object_mut().expect("object").remove("dsseEnvelope");
        assert_eq!(
            Bundle::parse(v.to_string().as_bytes()).map(|_| ()),
            Err(BundleError::NoContent)
        );
    }
}
