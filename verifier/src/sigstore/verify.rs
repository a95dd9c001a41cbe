//! Bundle verification: a Sigstore bundle, an artifact and a signatory in;
//! a [`Verified<BundleClaims>`] or the reason out. Pure: no I/O, and the
//! signing time comes from the evidence (log entry or RFC 3161 timestamp),
//! never from the clock.
//!
//! The order is: read the bundle (bad input is an error, exit 2); check that
//! its signer kind is the one trusted; run sigstore-rust's verifier for
//! everything cryptographic (through the memo); then apply what sigstore-rust
//! does not know: the identity policy over every SAN and extension, the key's
//! validity window, and the claims for the report.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sigstore_verify::types::{
    Artifact as SigstoreArtifact, ArtifactDigest, Bundle as SigstoreBundle, DerPublicKey, DigestBytes, HashAlgorithm,
};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};
use time::OffsetDateTime;

use super::certificate::Certificate;
use super::error::BundleRejection;
use super::{
    Artifact, BundleClaims, BundleSigner, LogEntryUsed, Signatory, SignedContent, TrustedRoot, memo, to_offset,
};
use crate::bundle::Bundle;
use crate::digest::{Algorithm, Digest};
use crate::verify::Verified;

/// Verifies a Sigstore bundle (v0.1, v0.2, v0.3; message signature or DSSE)
/// for `artifact`, signed by `who`, against `root`.
///
/// For a DSSE bundle `artifact` may be `None`: the envelope and its log entry
/// are verified and the payload returned for the caller to check (statement
/// type, predicate type, subjects). With an artifact, it must be one of the
/// statement's subjects (sha256 or sha512). A message-signature bundle needs
/// the artifact.
pub fn verify_bundle(
    bundle: &[u8],
    artifact: Option<Artifact<'_>>,
    who: &Signatory,
    root: &TrustedRoot,
) -> Result<Verified<BundleClaims>, BundleRejection> {
    verify_bundle_with(bundle, artifact, who, root, Chain::Fulcio)
}

/// Where a keyless bundle's certificate must chain.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chain {
    /// To a certificate authority of the trusted root (with SCTs when it lists CT logs).
    Fulcio,
    /// Checked by the caller against its own roots at the returned signing
    /// time (a private PKI); only the log evidence is judged here.
    Caller,
}

pub(crate) fn verify_bundle_with(
    bundle: &[u8],
    artifact: Option<Artifact<'_>>,
    who: &Signatory,
    root: &TrustedRoot,
    chain: Chain,
) -> Result<Verified<BundleClaims>, BundleRejection> {
    let ours = Bundle::parse(bundle)?;
    let text = std::str::from_utf8(bundle).map_err(|_| BundleRejection::InvalidBundle {
        reason: "bundle is not UTF-8".into(),
    })?;
    let leaf = leaf_certificate(&ours)?;
    match (who, &leaf) {
        (Signatory::Key { .. }, Some(_)) => {
            return Err(BundleRejection::SignerKind {
                expected: "a public key",
                found: "a certificate",
            });
        }
        (Signatory::Identity(_), None) => {
            return Err(BundleRejection::SignerKind {
                expected: "a certificate identity",
                found: "a public key",
            });
        }
        _ => {}
    }

    let entries = &ours.verification_material.tlog_entries;
    let log_ids: Vec<&str> = entries
        .iter()
        .filter_map(|e| e.pointer("/logId/keyId").and_then(Value::as_str))
        .collect();
    if !entries.is_empty() && !log_ids.iter().any(|id| root.has_log(id)) {
        return Err(BundleRejection::UnknownLog {
            reason: format!("the bundle's entries are from log {}", log_ids.join(", ")),
        });
    }
    let (subject, content) = subject_and_content(&ours, artifact)?;
    let subject_key: Vec<u8> = match &subject {
        Subject::Bytes(b) => [b"bytes:".as_slice(), Digest::sha256_of(b).raw().as_slice()].concat(),
        Subject::Digest(d) => format!("{}:{}", d.algorithm().name(), d.hex()).into_bytes(),
    };
    let has_tlog = !ours.verification_material.tlog_entries.is_empty();
    let signer_key: Vec<u8> = match who {
        Signatory::Key { key, .. } => [b"key:".as_slice(), key.spki_der()].concat(),
        Signatory::Identity(_) if chain == Chain::Fulcio => b"keyless".to_vec(),
        Signatory::Identity(_) => b"keyless-caller-chain".to_vec(),
    };
    let key = memo::key(&[root.id(), &signer_key, bundle, &subject_key]);
    let times = memo::remember(key, || {
        let theirs =
            SigstoreBundle::from_json(text).map_err(|e| BundleRejection::InvalidBundle { reason: e.to_string() })?;
        let artifact = subject.to_sigstore()?;
        let result = match who {
            Signatory::Key { key, .. } => {
                let mut policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(key.spki_der().to_vec()));
                // sigil is offline-first: a key-signed bundle needs no log
                // entry (DESIGN §2), but entries that are present must verify.
                if !has_tlog {
                    policy = policy.skip_tlog_unsafe();
                }
                root.verifier().verify(artifact, &theirs, &policy)
            }
            Signatory::Identity(_) => {
                let mut policy = VerificationPolicy::any_identity();
                // SCTs are required exactly when the root lists CT logs (DESIGN §4.1).
                if root.summary().ctlogs == 0 {
                    policy = policy.skip_sct();
                }
                if chain == Chain::Caller {
                    policy = policy.skip_certificate_chain();
                }
                root.verifier().verify(artifact, &theirs, &policy)
            }
        }?;
        Ok(result.verified_timestamps().iter().copied().map(to_offset).collect())
    })
    .map_err(|e| explain_validity(e, leaf.as_ref(), &ours))?;
    let signing_time = times.iter().min().copied();

    let signer = match (who, leaf) {
        (Signatory::Key { key, valid_for }, _) => {
            if let Some(window) = valid_for {
                if times.is_empty() {
                    return Err(BundleRejection::NoSigningTime);
                }
                // Every proven time must lie in the window, not just one.
                if let Some(outside) = times.iter().find(|t| !window.contains(**t)) {
                    return Err(BundleRejection::KeyValidity {
                        signed_at: *outside,
                        start: window.start,
                        end: window.end,
                    });
                }
            }
            BundleSigner::Key {
                fingerprint: key.fingerprint(),
            }
        }
        (Signatory::Identity(policy), Some(leaf)) => {
            let identity = leaf.identity().map_err(BundleRejection::Certificate)?;
            policy.check(&identity)?;
            BundleSigner::Certificate(identity)
        }
        (Signatory::Identity(_), None) => {
            return Err(BundleRejection::SignerKind {
                expected: "a certificate identity",
                found: "a public key",
            });
        }
    };
    Ok(Verified::new(BundleClaims {
        content,
        signing_time,
        signer,
        log_entries: ours
            .verification_material
            .tlog_entries
            .iter()
            .map(log_entry_used)
            .collect(),
        timestamps: ours
            .verification_material
            .timestamp_verification_data
            .as_ref()
            .and_then(|t| t.get("rfc3161Timestamps"))
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
    }))
}

/// A chain rejection whose cause is the leaf's validity window, said as such:
/// the time is the one the log entry states (the rejection stands either way).
fn explain_validity(e: BundleRejection, leaf: Option<&Certificate>, bundle: &Bundle) -> BundleRejection {
    let (BundleRejection::Chain { .. }, Some(leaf)) = (&e, leaf) else {
        return e;
    };
    let Ok(identity) = leaf.identity() else {
        return e;
    };
    let claimed = bundle
        .verification_material
        .tlog_entries
        .iter()
        .filter_map(|entry| log_entry_used(entry).integrated_time)
        .min();
    match claimed {
        Some(t) if t > identity.not_after => BundleRejection::CertificateValidity {
            signed_at: t,
            bound: identity.not_after,
            expired: true,
        },
        Some(t) if t < identity.not_before => BundleRejection::CertificateValidity {
            signed_at: t,
            bound: identity.not_before,
            expired: false,
        },
        _ => e,
    }
}

/// What the crate is asked to bind: bytes, or a digest.
enum Subject<'a> {
    Bytes(&'a [u8]),
    Digest(Digest),
}

impl Subject<'_> {
    fn to_sigstore(&self) -> Result<SigstoreArtifact<'_>, BundleRejection> {
        Ok(match self {
            Subject::Bytes(b) => SigstoreArtifact::Blob(b),
            Subject::Digest(d) => {
                let algorithm = match d.algorithm() {
                    Algorithm::Sha256 => HashAlgorithm::Sha2256,
                    Algorithm::Sha512 => HashAlgorithm::Sha2512,
                };
                SigstoreArtifact::Digest(
                    ArtifactDigest::new(algorithm, DigestBytes::new(d.raw()))
                        .map_err(|e| BundleRejection::Other { reason: e.to_string() })?,
                )
            }
        })
    }
}

fn subject_and_content<'a>(
    bundle: &Bundle,
    artifact: Option<Artifact<'a>>,
) -> Result<(Subject<'a>, SignedContent), BundleRejection> {
    if let Some(envelope) = &bundle.dsse_envelope {
        let payload = envelope
            .payload_bytes()
            .map_err(|e| BundleRejection::InvalidBundle { reason: e.to_string() })?;
        let subject = match artifact {
            Some(Artifact::Bytes(b)) => Subject::Bytes(b),
            Some(Artifact::Digest(d)) => Subject::Digest(d),
            // The caller checks subjects itself: bind the statement's own first one.
            None => Subject::Digest(first_subject(&payload)?),
        };
        let content = SignedContent::Dsse {
            payload_type: envelope.payload_type.clone(),
            payload,
        };
        return Ok((subject, content));
    }
    match artifact {
        Some(Artifact::Bytes(b)) => Ok((
            Subject::Bytes(b),
            SignedContent::Message {
                digest: Digest::sha256_of(b),
            },
        )),
        Some(Artifact::Digest(d)) => Ok((Subject::Digest(d.clone()), SignedContent::Message { digest: d })),
        None => Err(BundleRejection::ArtifactRequired),
    }
}

fn first_subject(payload: &[u8]) -> Result<Digest, BundleRejection> {
    let invalid = |reason: &str| BundleRejection::InvalidBundle { reason: reason.into() };
    let statement: Value = serde_json::from_slice(payload).map_err(|_| invalid("DSSE payload is not JSON"))?;
    let subjects = statement.get("subject").and_then(Value::as_array);
    subjects
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("digest"))
        .find_map(|d| {
            [("sha256", Algorithm::Sha256), ("sha512", Algorithm::Sha512)]
                .into_iter()
                .find_map(|(name, algorithm)| {
                    d.get(name)
                        .and_then(Value::as_str)
                        .and_then(|h| hex::decode(h).ok())
                        .and_then(|raw| Digest::from_raw(algorithm, &raw).ok())
                })
        })
        .ok_or_else(|| invalid("in-toto statement has no sha256 or sha512 subject"))
}

/// The leaf certificate of a keyless bundle, `None` for a key-signed one.
fn leaf_certificate(bundle: &Bundle) -> Result<Option<Certificate>, BundleRejection> {
    let material = &bundle.verification_material;
    let raw = match (&material.certificate, &material.x509_certificate_chain) {
        (Some(cert), _) => &cert.raw_bytes,
        (None, Some(chain)) => match chain.certificates.first() {
            Some(first) => &first.raw_bytes,
            None => {
                return Err(BundleRejection::InvalidBundle {
                    reason: "empty certificate chain".into(),
                });
            }
        },
        (None, None) => return Ok(None),
    };
    let der = STANDARD.decode(raw).map_err(|_| BundleRejection::InvalidBundle {
        reason: "certificate is not base64".into(),
    })?;
    Certificate::from_der(&der)
        .map(Some)
        .map_err(BundleRejection::Certificate)
}

/// Report facts about a log entry that sigstore-rust verified.
pub(crate) fn log_entry_used(entry: &Value) -> LogEntryUsed {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    let log_id = entry
        .pointer("/logId/keyId")
        .and_then(Value::as_str)
        .and_then(|k| STANDARD.decode(k).ok())
        .map(hex::encode)
        .unwrap_or_default();
    let integrated_time = text(entry.get("integratedTime"))
        .parse::<i64>()
        .ok()
        .filter(|t| *t > 0)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok());
    LogEntryUsed {
        log_id,
        log_index: text(entry.get("logIndex")).parse().unwrap_or_default(),
        kind: format!(
            "{} {}",
            text(entry.pointer("/kindVersion/kind")),
            text(entry.pointer("/kindVersion/version"))
        ),
        integrated_time,
        inclusion_proof: entry.get("inclusionProof").is_some_and(|p| !p.is_null()),
        inclusion_promise: entry.get("inclusionPromise").is_some_and(|p| !p.is_null()),
    }
}
