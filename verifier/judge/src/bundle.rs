//! Sigstore bundles (`application/vnd.dev.sigstore.bundle*`): the wire shape,
//! enough to write cosign v3's key-signed image signatures and to read the
//! content and verification material of any bundle version.
//!
//! Bundles are read **strictly**, because two readers see every bundle: sigil
//! and sigstore-rust's verifier. A bundle that one of them could read
//! differently from the other is refused before either acts on it:
//! duplicate members, members this module does not know (in the bundle, its
//! verification material, envelope, signatures, log entries and timestamps),
//! both content kinds (`dsseEnvelope` and `messageSignature`), and more than
//! one form of verification material (`publicKey`, `certificate`,
//! `x509CertificateChain`). Every object is a typed struct (no free-form JSON
//! maps), so serde's own duplicate-field check covers every level.
//!
//! Certificate chains, transparency-log proofs and timestamps are read here
//! but judged elsewhere.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize};

use crate::digest::{Algorithm, Digest};
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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
}

/// Keys, certificates and proofs that come with a bundle.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationMaterial {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub certificate: Option<RawBytes>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    #[serde(default)]
    pub tlog_entries: Vec<TlogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyHint {
    #[serde(default)]
    pub hint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawBytes {
    /// Base64 of DER.
    pub raw_bytes: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateChain {
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

/// A transparency-log entry, as the bundle states it (proven elsewhere).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlogEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<Integer>,
    pub log_id: LogId,
    pub kind_version: KindVersion,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrated_time: Option<Integer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    pub canonicalized_body: String,
}

/// A protobuf JSON integer: a string of digits, or a JSON number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Integer {
    Text(String),
    Number(serde_json::Number),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogId {
    /// Base64 of the log's key id.
    pub key_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KindVersion {
    pub kind: String,
    pub version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionPromise {
    pub signed_entry_timestamp: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InclusionProof {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<Integer>,
    pub root_hash: String,
    pub tree_size: Integer,
    #[serde(default)]
    pub hashes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    #[serde(default)]
    pub envelope: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimestampVerificationData {
    #[serde(default)]
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rfc3161Timestamp {
    /// Base64 of the DER timestamp token.
    pub signed_timestamp: String,
}

/// A signature over an artifact digest (`cosign sign-blob`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageSignature {
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<MessageDigest>,
    pub signature: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessageDigest {
    pub algorithm: String,
    pub digest: String,
}

/// An optional member that, when present, must hold a value: an explicit
/// `null` is refused (it is a second way of saying "absent", and readers
/// disagree on which one wins).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
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
    /// Evidence that could be read in more than one way: refused as
    /// evidence (a failed check), not as unreadable input.
    #[error("Sigstore bundle refused: {0}")]
    Ambiguous(String),
}

impl BundleError {
    /// serde's duplicate- and unknown-field errors mean a bundle another
    /// reader could see differently; every other error is malformed JSON.
    fn from_json(e: serde_json::Error) -> BundleError {
        let text = e.to_string();
        if text.starts_with("duplicate field") || text.starts_with("unknown field") {
            BundleError::Ambiguous(text)
        } else {
            BundleError::Json(text)
        }
    }
}

/// The checks both readings share: a known media type, exactly one content
/// kind, at most one form of verification material.
fn check_shape(
    media_type: &str,
    material: &VerificationMaterial,
    dsse: bool,
    message: bool,
) -> Result<(), BundleError> {
    if !is_bundle_media_type(media_type) {
        return Err(BundleError::MediaType(media_type.to_owned()));
    }
    match (dsse, message) {
        (false, false) => return Err(BundleError::NoContent),
        (true, true) => {
            return Err(BundleError::Ambiguous(
                "it holds both a DSSE envelope and a message signature".into(),
            ));
        }
        _ => {}
    }
    let forms = [
        material.public_key.is_some(),
        material.certificate.is_some(),
        material.x509_certificate_chain.is_some(),
    ];
    match forms.iter().filter(|f| **f).count() {
        0 => Err(BundleError::Ambiguous(
            "its verification material has no public key, certificate or certificate chain".into(),
        )),
        1 => Ok(()),
        _ => Err(BundleError::Ambiguous(
            "its verification material holds more than one of publicKey, certificate and x509CertificateChain".into(),
        )),
    }
}

impl Bundle {
    /// Parses a bundle of any supported version, strictly (module docs).
    pub fn parse(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let bundle: Bundle = serde_json::from_slice(bytes).map_err(BundleError::from_json)?;
        check_shape(
            &bundle.media_type,
            &bundle.verification_material,
            bundle.dsse_envelope.is_some(),
            bundle.message_signature.is_some(),
        )?;
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
        out.push_str(r#"},"tlogEntries":[]},"dsseEnvelope":"#);
        crate::dsse::write_envelope_json(&mut out, payload_type, payload, signature);
        out.push('}');
        out.into_bytes()
    }

    /// The JSON of a v0.3 bundle for a key-signed message signature over a
    /// blob (`cosign sign-blob --new-bundle-format --key`): the blob's
    /// `digest` as `messageDigest` (the hash the signature was made over),
    /// the signature, the key hint and no log entry.
    pub fn message_signed_json(digest: &Digest, signature: &[u8], key_hint: &str) -> Vec<u8> {
        let bundle = Bundle {
            media_type: BUNDLE_V03.to_owned(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint {
                    hint: key_hint.to_owned(),
                }),
                ..VerificationMaterial::default()
            },
            dsse_envelope: None,
            message_signature: Some(MessageSignature {
                message_digest: Some(MessageDigest {
                    algorithm: protobuf_hash_name(digest.algorithm()).to_owned(),
                    digest: STANDARD.encode(digest.raw()),
                }),
                signature: STANDARD.encode(signature),
            }),
        };
        bundle.to_json()
    }

    pub fn to_json(&self) -> Vec<u8> {
        crate::oci::to_bytes(self)
    }
}

/// A hash algorithm as the Sigstore protobuf specs spell it (`HashAlgorithm`).
pub fn protobuf_hash_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Sha256 => "SHA2_256",
        Algorithm::Sha384 => "SHA2_384",
        Algorithm::Sha512 => "SHA2_512",
    }
}

/// A bundle read for its DSSE envelope without copying the payload text,
/// which can be a 100 MB SBOM: all that key-based attestation checks need.
/// It is read exactly as strictly as [`Bundle::parse`] reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleView<'a> {
    #[serde(borrow)]
    pub media_type: std::borrow::Cow<'a, str>,
    pub verification_material: VerificationMaterial,
    #[serde(borrow, default, deserialize_with = "present")]
    pub dsse_envelope: Option<EnvelopeView<'a>>,
    #[serde(default, deserialize_with = "present")]
    pub message_signature: Option<MessageSignature>,
}

impl<'a> BundleView<'a> {
    /// Parses a bundle of any supported version, borrowing from `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<BundleView<'a>, BundleError> {
        let view: BundleView<'a> = serde_json::from_slice(bytes).map_err(BundleError::from_json)?;
        check_shape(
            &view.media_type,
            &view.verification_material,
            view.dsse_envelope.is_some(),
            view.message_signature.is_some(),
        )?;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn reads_real_bundles_of_every_version() {
        let mut read = 0;
        for (path, bytes) in crate::testdata::files("bundles", &["json", "sigstore"]) {
            {
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
        assert!(read >= 3, "expected real bundles in testdata/bundles");
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
    fn message_signed_json_is_a_v03_bundle_that_reads_back() {
        let digest = Digest::sha256_of(b"blob");
        let json = Bundle::message_signed_json(&digest, b"sig", "h<int>");
        for parsed in [
            Bundle::parse(&json).expect("parses"),
            serde_json::from_slice::<Bundle>(&json).expect("serde"),
        ] {
            assert_eq!(parsed.media_type, BUNDLE_V03);
            assert!(parsed.dsse_envelope.is_none());
            let material = parsed.verification_material;
            assert_eq!(material.public_key.map(|k| k.hint).as_deref(), Some("h<int>"));
            assert!(material.certificate.is_none() && material.x509_certificate_chain.is_none());
            assert!(material.tlog_entries.is_empty() && material.timestamp_verification_data.is_none());
            let message = parsed.message_signature.expect("message signature");
            assert_eq!(STANDARD.decode(&message.signature).as_deref(), Ok(&b"sig"[..]));
            let md = message.message_digest.expect("digest");
            assert_eq!(md.algorithm, "SHA2_256");
            assert_eq!(STANDARD.decode(&md.digest), Ok(digest.raw()));
        }
        let view = BundleView::parse(&json).expect("the view reads it too");
        assert!(view.dsse_envelope.is_none() && view.message_signature.is_some());
        let v: Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(v["verificationMaterial"]["tlogEntries"], serde_json::json!([]));
        let sha384 = Digest::of(Algorithm::Sha384, b"blob");
        let v: Value = serde_json::from_slice(&Bundle::message_signed_json(&sha384, b"s", "h")).expect("json");
        assert_eq!(v["messageSignature"]["messageDigest"]["algorithm"], "SHA2_384");
        let v: Value = serde_json::from_slice(&Bundle::key_signed_json("t", b"p", b"s", "h")).expect("json");
        assert_eq!(v["verificationMaterial"]["tlogEntries"], serde_json::json!([]));
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
