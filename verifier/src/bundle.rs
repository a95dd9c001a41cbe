//! Sigstore bundles (`application/vnd.dev.sigstore.bundle*`): the wire shape,
//! enough to write cosign v3's key-signed image signatures and to read the
//! content and verification material of any bundle version.
//!
//! Certificate chains, transparency-log proofs and timestamps are read here
//! but judged elsewhere.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::dsse::{Envelope, EnvelopeView};

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

    /// The JSON of a v0.3 bundle for a key-signed DSSE envelope with one
    /// signature and no log entry (sigil is offline-first; key-based
    /// verification needs none), written straight into one buffer: the
    /// payload may be a 100 MB SBOM.
    pub fn key_signed_json(payload_type: &str, payload: &[u8], signature: &[u8], key_hint: &str) -> Vec<u8> {
        let mut out = String::from(r#"{"mediaType":"#);
        crate::json::go_string(&mut out, BUNDLE_V03);
        out.push_str(r#","verificationMaterial":{"publicKey":{"hint":"#);
        crate::json::go_string(&mut out, key_hint);
        out.push_str(r#"}},"dsseEnvelope":"#);
        crate::dsse::write_envelope_json(&mut out, payload_type, payload, signature);
        out.push('}');
        out.into_bytes()
    }

    pub fn to_json(&self) -> Vec<u8> {
        crate::oci::to_bytes(self)
    }
}

/// A bundle read for its DSSE envelope without copying the payload text,
/// which can be a 100 MB SBOM: all that key-based attestation checks need.
/// The media type and the presence of content are checked as
/// [`Bundle::parse`] checks them, and the verification material must be an
/// object; it and a message signature are not read further.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleView<'a> {
    #[serde(borrow)]
    pub media_type: std::borrow::Cow<'a, str>,
    #[serde(rename = "verificationMaterial")]
    _verification_material: serde_json::Map<String, Value>,
    #[serde(borrow, default)]
    pub dsse_envelope: Option<EnvelopeView<'a>>,
    #[serde(default)]
    message_signature: Option<serde::de::IgnoredAny>,
}

impl<'a> BundleView<'a> {
    /// Parses a bundle of any supported version, borrowing from `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<BundleView<'a>, BundleError> {
        let view: BundleView<'a> = serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
        if !is_bundle_media_type(&view.media_type) {
            return Err(BundleError::MediaType(view.media_type.into_owned()));
        }
        if view.dsse_envelope.is_none() && view.message_signature.is_none() {
            return Err(BundleError::NoContent);
        }
        Ok(view)
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
                let view = BundleView::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    view.dsse_envelope
                        .map(|e| (e.payload_type.into_owned(), e.payload.into_owned())),
                    b.dsse_envelope.map(|e| (e.payload_type, e.payload)),
                    "{}",
                    path.display()
                );
                read += 1;
            }
        }
        assert!(read >= 3, "expected real bundles in {dir}");
    }

    #[test]
    fn key_signed_json_is_a_v03_bundle_that_reads_back() {
        let json = Bundle::key_signed_json("application/vnd.in-toto+json", b"{\"a\":1}", b"sig", "a<b");
        let b = Bundle::parse(&json).expect("parses");
        assert_eq!(b.media_type, BUNDLE_V03);
        assert_eq!(
            b.verification_material.public_key.map(|k| k.hint).as_deref(),
            Some("a<b")
        );
        let envelope = b.dsse_envelope.expect("envelope");
        assert_eq!(envelope.payload_type, "application/vnd.in-toto+json");
        assert_eq!(envelope.payload_bytes().as_deref(), Ok(&b"{\"a\":1}"[..]));
        assert_eq!(envelope.signatures.len(), 1);
        assert_eq!(
            crate::dsse::decode(&envelope.signatures[0].sig).as_deref(),
            Some(&b"sig"[..])
        );
    }

    #[test]
    fn refuses_other_media_types_and_empty_content() {
        let mut v: Value = serde_json::from_slice(&Bundle::key_signed_json("t", b"p", b"s", "h")).expect("json");
        v["mediaType"] = "application/vnd.dev.sigstore.bundle.v9+json".into();
        let both = |v: &Value| {
            let text = v.to_string();
            let view = BundleView::parse(text.as_bytes()).map(|_| ());
            let owned = Bundle::parse(text.as_bytes()).map(|_| ());
            assert_eq!(
                view.as_ref().map_err(std::mem::discriminant),
                owned.as_ref().map_err(std::mem::discriminant),
                "the view and the owned parse must agree on {text}: {view:?} {owned:?}"
            );
            owned
        };
        assert!(matches!(both(&v), Err(BundleError::MediaType(_))));
        v["mediaType"] = BUNDLE_V03.into();
        let mut no_material = v.clone();
        no_material
            .as_object_mut()
            .expect("object")
            .remove("verificationMaterial");
        assert!(matches!(both(&no_material), Err(BundleError::Json(_))));
        no_material["verificationMaterial"] = Value::Null;
        assert!(matches!(both(&no_material), Err(BundleError::Json(_))));
        v.as_object_mut().expect("object").remove("dsseEnvelope");
        assert_eq!(both(&v), Err(BundleError::NoContent));
    }
}
