//! Keyless and certificate signatures in cosign's tag scheme (DESIGN §3.1):
//! a simple-signing layer whose annotations carry the leaf certificate, its
//! chain and a Rekor bundle (`{"SignedEntryTimestamp", "Payload": {body,
//! integratedTime, logIndex, logID}}`).
//!
//! Such a signature is exactly a v0.1 Sigstore bundle with a message
//! signature over the payload and a log entry with only an inclusion
//! promise, written in another shape. It is rewritten into that bundle and
//! judged by the same verifier, so image signatures and blob bundles cannot
//! drift apart. The kind and version of the log entry are read from the
//! logged body itself; the SET covers the body, time, index and log id, so a
//! rewritten field cannot verify.
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
use super::error::BundleRejection;
use super::verify::{Chain, verify_bundle_with};
use super::{Artifact, BundleSigner, CertificateClaims, IdentityPolicy, Signatory, TrustedRoot, verify_bundle};
use crate::verify::Verified;

/// Verifies a cosign v2 keyless signature layer against the public (or a
/// given) Sigstore root: the certificate chains to a Fulcio CA valid at the
/// time the Rekor entry proves, the entry matches this signature, and the
/// identity passes `who`. The caller then checks the payload's digest binding
/// (simple signing).
pub fn verify_cosign_v2_layer(
    payload: &[u8],
    signature_b64: &str,
    certificate_pem: &str,
    chain_pem: Option<&str>,
    rekor_bundle_json: Option<&str>,
    who: &IdentityPolicy,
    root: &TrustedRoot,
) -> Result<Verified<CertificateClaims>, BundleRejection> {
    let rekor = rekor_bundle_json.ok_or_else(|| BundleRejection::UnknownLog {
        reason: "the signature has no Rekor bundle annotation".into(),
    })?;
    let bundle = as_bundle(payload, signature_b64, certificate_pem, chain_pem, rekor)?;
    let verified = verify_bundle(
        &bundle,
        Some(Artifact::Bytes(payload)),
        &Signatory::Identity(who.clone()),
        root,
    )?
    .into_inner();
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
    }))
}

/// Verifies a signature made with a certificate from a private PKI: the leaf
/// chains through `chain_pem` to one of `roots`, its identity passes `who`
/// (use [`IdentityPolicy::subject_only`] when there is no OIDC issuer), and
/// the signature over `payload` verifies with its key. With a Rekor bundle the
/// time is the one the log proves (the log must be in `log_root`); without
/// one the chain is checked at `now`.
#[allow(clippy::too_many_arguments, reason = "mirrors the layer's annotations one by one")]
pub fn verify_certificate_signature(
    payload: &[u8],
    signature_b64: &str,
    certificate_pem: &str,
    chain_pem: Option<&str>,
    rekor_bundle_json: Option<&str>,
    roots: &[Certificate],
    who: &IdentityPolicy,
    log_root: &TrustedRoot,
    now: OffsetDateTime,
) -> Result<Verified<CertificateClaims>, BundleRejection> {
    let leaf = first_certificate(certificate_pem)?;
    let intermediates = match chain_pem {
        Some(pem) => Certificate::from_pem_chain(pem).map_err(BundleRejection::Certificate)?,
        None => Vec::new(),
    };
    if let Some(rekor) = rekor_bundle_json {
        // The log evidence (SET, entry matching this signature and
        // certificate, the signature itself) is judged against `log_root`;
        // the chain is then checked against the caller's roots at the time the
        // log proves, never against certificates the signature brought along.
        let bundle = as_bundle(payload, signature_b64, certificate_pem, chain_pem, rekor)?;
        let verified = verify_bundle_with(
            &bundle,
            Some(Artifact::Bytes(payload)),
            &Signatory::Identity(who.clone()),
            log_root,
            Chain::Caller,
        )?
        .into_inner();
        let signed_at = verified.signing_time.ok_or(BundleRejection::NoSigningTime)?;
        leaf.verify_chain(&intermediates, roots, signed_at)
            .map_err(|e| BundleRejection::Chain { reason: e.to_string() })?;
        let BundleSigner::Certificate(identity) = verified.signer else {
            return Err(BundleRejection::SignerKind {
                expected: "a certificate identity",
                found: "a public key",
            });
        };
        return Ok(Verified::new(CertificateClaims {
            identity,
            signing_time: Some(signed_at),
            log_entry: verified.log_entries.into_iter().next(),
        }));
    }
    leaf.verify_chain(&intermediates, roots, now)
        .map_err(|e| BundleRejection::Chain { reason: e.to_string() })?;
    let signature = STANDARD
        .decode(signature_b64.trim())
        .map_err(|_| BundleRejection::Signature {
            reason: "signature is not valid base64".into(),
        })?;
    let key = leaf.public_key().map_err(BundleRejection::Certificate)?;
    key.verify(payload, &signature)
        .map_err(|e| BundleRejection::Signature { reason: e.to_string() })?;
    let identity = leaf.identity().map_err(BundleRejection::Certificate)?;
    who.check(&identity)?;
    Ok(Verified::new(CertificateClaims {
        identity,
        signing_time: None,
        log_entry: None,
    }))
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

/// Rewrites a cosign v2 layer's annotations into a v0.1 Sigstore bundle.
fn as_bundle(
    payload: &[u8],
    signature_b64: &str,
    certificate_pem: &str,
    chain_pem: Option<&str>,
    rekor_bundle_json: &str,
) -> Result<Vec<u8>, BundleRejection> {
    let invalid = |reason: &str| BundleRejection::InvalidBundle {
        reason: format!("Rekor bundle annotation: {reason}"),
    };
    let mut certificates = vec![first_certificate(certificate_pem)?];
    if let Some(chain) = chain_pem {
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
    let bundle = json!({
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
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest(&SHA256, payload))},
            "signature": signature_b64.trim()
        }
    });
    Ok(bundle.to_string().into_bytes())
}
