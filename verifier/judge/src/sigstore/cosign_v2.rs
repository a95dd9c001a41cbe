//! Keyless and certificate signatures in cosign's tag scheme (DESIGN §3.1):
//! a simple-signing (`.sig`) or DSSE (`.att`) layer whose annotations carry
//! the leaf certificate, its chain and a Rekor bundle (`{"SignedEntryTimestamp",
//! "Payload": {body, integratedTime, logIndex, logID}}`).
//!
//! Such a layer is exactly a v0.1 Sigstore bundle (a message signature over
//! the payload, or the DSSE envelope) with a log entry that has only an
//! inclusion promise, written in another shape. It is rewritten into that
//! bundle and judged by the same verifier, so image evidence and blob bundles
//! cannot drift apart. The kind and version of the log entry are read from
//! the logged body itself (`hashedrekord`, `intoto 0.0.1`, `intoto 0.0.2`,
//! `dsse`); the SET covers the body, time, index and log id, so a rewritten
//! field cannot verify. An `intoto 0.0.1` entry (cosign before v2.0, e.g.
//! slsa-github-generator v1.4-v1.9 provenance) logs only the hash of the
//! envelope as submitted, so the layer's exact bytes go to the verifier with
//! the bundle: they must hash to the logged value and decode to the bundle's
//! envelope.
//!
//! Certificates from a private PKI (a `certificate` publisher) chain to the
//! caller's roots instead: at the time a Rekor entry proves when there is
//! one, else at the caller's `now` (DESIGN §4.1).

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::certificate::Certificate;
use super::error::{BundleRejection, TimeBasis};
use super::verify::{Chain, verify_bundle_with};
use super::{
    Artifact, BundleClaims, BundleSigner, CertificateClaims, IdentityPolicy, Signatory, SignedContent, TrustedRoot,
};
use crate::digest::Digest;
use crate::dsse::{Envelope, EnvelopeView};
use crate::verify::Verified;

/// What a cosign v2 layer signs.
#[derive(Clone, Copy, Debug)]
pub enum LayerContent<'a> {
    /// A `.sig` layer: the simple-signing payload and the base64 signature
    /// from its annotation.
    Message { payload: &'a [u8], signature_b64: &'a str },
    /// A `.att` layer: a DSSE envelope (JSON) with one signature, and the
    /// image it is stored for, which must be a subject of its statement.
    Envelope { envelope: &'a [u8], image: &'a Digest },
}

impl<'a> LayerContent<'a> {
    /// What the verifier binds: the signed payload, or the image (never a
    /// subject taken from the statement being checked).
    fn artifact(self) -> Artifact<'a> {
        match self {
            LayerContent::Message { payload, .. } => Artifact::Bytes(payload),
            LayerContent::Envelope { image, .. } => Artifact::Digest(image.clone()),
        }
    }

    /// The envelope exactly as the layer stores it: what cosign submitted to
    /// the log, and what an `intoto` 0.0.1 entry logs the hash of.
    fn logged_envelope(self) -> Option<&'a [u8]> {
        match self {
            LayerContent::Message { .. } => None,
            LayerContent::Envelope { envelope, .. } => Some(envelope),
        }
    }
}

/// A layer's certificate annotations: the leaf, its chain, the Rekor bundle.
#[derive(Clone, Copy, Debug)]
pub struct LayerCertificate<'a> {
    pub certificate_pem: &'a str,
    pub chain_pem: Option<&'a str>,
    pub rekor_bundle_json: Option<&'a str>,
}

/// Verifies a cosign v2 keyless layer against the public (or a given)
/// Sigstore root: the certificate chains to a Fulcio CA valid at the time the
/// Rekor entry proves, the entry matches this signature, and the identity
/// passes `who`. The caller then checks what was signed binds the image
/// (simple-signing payload, or the statement in the returned DSSE payload).
/// `now` is the evaluation time (see [`super::verify_bundle`]).
pub fn verify_cosign_v2_layer(
    content: LayerContent<'_>,
    certificate: LayerCertificate<'_>,
    who: &IdentityPolicy,
    root: &TrustedRoot,
    now: OffsetDateTime,
) -> Result<Verified<CertificateClaims>, BundleRejection> {
    let rekor = certificate
        .rekor_bundle_json
        .ok_or_else(|| BundleRejection::UnknownLog {
            reason: "the signature has no Rekor bundle annotation".into(),
        })?;
    let bundle = as_bundle(content, certificate, rekor)?;
    let verified = verify_bundle_with(
        &bundle,
        content.artifact(),
        &Signatory::Identity(who.clone()),
        root,
        Chain::Fulcio,
        content.logged_envelope(),
        now,
    )?
    .into_inner();
    certificate_claims(verified)
}

/// Verifies a layer signed with a certificate from a private PKI: the leaf
/// chains through the layer's chain to one of `roots`, its identity passes
/// `who` (use [`IdentityPolicy::subject_only`] when there is no OIDC issuer),
/// and the signature verifies with its key. With a Rekor bundle the time is
/// the one the log proves (the log must be in `log_root`); without one the
/// chain is checked at `now`.
pub fn verify_certificate_signature(
    content: LayerContent<'_>,
    certificate: LayerCertificate<'_>,
    roots: &[Certificate],
    who: &IdentityPolicy,
    log_root: &TrustedRoot,
    now: OffsetDateTime,
) -> Result<Verified<CertificateClaims>, BundleRejection> {
    let leaf = first_certificate(certificate.certificate_pem)?;
    let intermediates = match certificate.chain_pem {
        Some(pem) => Certificate::from_pem_chain(pem).map_err(BundleRejection::Certificate)?,
        None => Vec::new(),
    };
    let chain_at = |at, basis| {
        // The leaf's own window first, so that a time outside it is said as
        // such (the chain check would refuse it too).
        let identity = leaf.identity().map_err(BundleRejection::Certificate)?;
        let outside = |bound, expired| BundleRejection::CertificateValidity {
            signed_at: at,
            basis,
            bound,
            expired,
        };
        if at > identity.not_after {
            return Err(outside(identity.not_after, true));
        }
        if at < identity.not_before {
            return Err(outside(identity.not_before, false));
        }
        leaf.verify_chain(&intermediates, roots, at)
            .map_err(|e| BundleRejection::Chain { reason: e.to_string() })
    };
    if let Some(rekor) = certificate.rekor_bundle_json {
        // The log evidence (SET, entry matching this signature and
        // certificate, the signature itself) is judged against `log_root`;
        // the chain is then checked against the caller's roots at the time the
        // log proves, never against certificates the signature brought along.
        let bundle = as_bundle(content, certificate, rekor)?;
        let verified = verify_bundle_with(
            &bundle,
            content.artifact(),
            &Signatory::Identity(who.clone()),
            log_root,
            Chain::Caller,
            content.logged_envelope(),
            now,
        )?
        .into_inner();
        chain_at(
            verified.signing_time.ok_or(BundleRejection::NoSigningTime)?,
            TimeBasis::Proven,
        )?;
        return certificate_claims(verified);
    }
    chain_at(now, TimeBasis::Evaluation)?;
    let key = leaf.public_key().map_err(BundleRejection::Certificate)?;
    let bad_signature = |reason: String| BundleRejection::Signature { reason };
    let signed = match content {
        LayerContent::Message { payload, signature_b64 } => {
            let signature = crate::cosign::decode_signature(signature_b64)
                .ok_or_else(|| bad_signature("signature is not valid base64".into()))?;
            key.verify(payload, &signature)
                .map_err(|e| bad_signature(e.to_string()))?;
            SignedContent::Message {
                digest: crate::digest::Digest::sha256_of(payload),
            }
        }
        LayerContent::Envelope { envelope: bytes, .. } => {
            let envelope = EnvelopeView::parse(bytes).map_err(|e| invalid_bundle(e.to_string()))?;
            let payload = crate::verify::dsse_view(&envelope, &key, true)
                .map_err(|e| match e {
                    crate::verify::Rejection::BadSignature(_) => bad_signature(e.to_string()),
                    _ => invalid_bundle(e.to_string()),
                })?
                .into_inner();
            SignedContent::Dsse {
                payload_type: envelope.payload_type.into_owned(),
                payload,
            }
        }
    };
    let identity = leaf.identity().map_err(BundleRejection::Certificate)?;
    who.check(&identity)?;
    Ok(Verified::new(CertificateClaims {
        identity,
        signing_time: None,
        log_entry: None,
        content: signed,
    }))
}

/// The certificate-shaped view of a verified bundle.
fn certificate_claims(verified: BundleClaims) -> Result<Verified<CertificateClaims>, BundleRejection> {
    let BundleSigner::Certificate(identity) = verified.signer else {
        return Err(BundleRejection::SignerKind {
            expected: "a certificate identity",
            found: "a public key",
        });
    };
    Ok(Verified::new(CertificateClaims {
        identity,
        signing_time: verified.signing_time,
        log_entry: verified.log_entries.into_iter().next(),
        content: verified.content,
    }))
}

fn invalid_bundle(reason: String) -> BundleRejection {
    BundleRejection::InvalidBundle { reason }
}

fn first_certificate(pem: &str) -> Result<Certificate, BundleRejection> {
    Certificate::from_pem_chain(pem)
        .map_err(BundleRejection::Certificate)?
        .into_iter()
        .next()
        .ok_or_else(|| BundleRejection::InvalidBundle {
            reason: "no certificate".into(),
        })
}

/// Rewrites a cosign v2 layer and its annotations into a v0.1 Sigstore bundle.
fn as_bundle(
    content: LayerContent<'_>,
    certificate: LayerCertificate<'_>,
    rekor_bundle_json: &str,
) -> Result<Vec<u8>, BundleRejection> {
    let invalid = |reason: &str| invalid_bundle(format!("Rekor bundle annotation: {reason}"));
    let mut certificates = vec![first_certificate(certificate.certificate_pem)?];
    if let Some(chain) = certificate.chain_pem {
        certificates.extend(Certificate::from_pem_chain(chain).map_err(BundleRejection::Certificate)?);
    }
    let rekor: Value = serde_json::from_str(rekor_bundle_json).map_err(|_| invalid("not JSON"))?;
    let set = rekor
        .get("SignedEntryTimestamp")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no SignedEntryTimestamp"))?;
    let p = rekor.get("Payload").ok_or_else(|| invalid("no Payload"))?;
    let body_b64 = p
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no body"))?;
    let number = |k: &str| {
        p.get(k)
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid(&format!("no {k}")))
    };
    let (integrated_time, log_index) = (number("integratedTime")?, number("logIndex")?);
    let log_id = p
        .get("logID")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("no logID"))?;
    let log_id = hex::decode(log_id).map_err(|_| invalid("logID is not hex"))?;
    let body: Value = STANDARD
        .decode(body_b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("body is not base64 JSON"))?;
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("body has no kind"))?;
    let version = body
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("body has no apiVersion"))?;
    let mut bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {
                "certificates": certificates.iter().map(|c| json!({"rawBytes": STANDARD.encode(c.der())})).collect::<Vec<_>>()
            },
            "tlogEntries": [{
                "logIndex": log_index.to_string(),
                "logId": {"keyId": STANDARD.encode(&log_id)},
                "kindVersion": {"kind": kind, "version": version},
                "integratedTime": integrated_time.to_string(),
                "inclusionPromise": {"signedEntryTimestamp": set},
                "canonicalizedBody": body_b64
            }]
        }
    });
    match content {
        LayerContent::Message { payload, signature_b64 } => {
            let signature =
                crate::cosign::decode_signature(signature_b64).ok_or_else(|| BundleRejection::Signature {
                    reason: "signature is not valid base64".into(),
                })?;
            bundle["messageSignature"] = json!({
                "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest(&SHA256, payload))},
                "signature": STANDARD.encode(signature)
            });
        }
        LayerContent::Envelope { envelope: bytes, .. } => {
            let envelope = Envelope::parse(bytes).map_err(|e| invalid_bundle(e.to_string()))?;
            bundle["dsseEnvelope"] = json!({
                "payload": envelope.payload,
                "payloadType": envelope.payload_type,
                "signatures": envelope.signatures.iter().map(|s| json!({"sig": s.sig, "keyid": s.keyid})).collect::<Vec<_>>()
            });
        }
    }
    Ok(bundle.to_string().into_bytes())
}
