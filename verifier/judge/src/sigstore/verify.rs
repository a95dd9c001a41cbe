//! Bundle verification: a Sigstore bundle, an artifact, a signatory and the
//! evaluation time in; a [`Verified<BundleClaims>`] or the reason out. Pure:
//! no I/O, and no clock. Certificates and key windows are judged at the
//! signing times the evidence proves (log entry or RFC 3161 timestamp); only
//! when it proves none is a key window judged at the evaluation time.
//!
//! Time is an input inside sigstore-rust too. `sigstore-verify` 0.15.1 reads
//! the system clock where a bundle proves no time of its own (a logged time
//! must not be in the future; a log key or timestamp authority counts once
//! its window has started), and its API offers no way to pin that clock: the
//! time is not a parameter of `Verifier::verify`, and no wrapper can set it.
//! sigil therefore builds against a minimal fork, `vendor/sigstore-verify`
//! (see its `SIGIL-PATCH.md`), which adds `Verifier::verify_at(.., now)` and
//! threads that time to every place the clock was read; `verify` keeps its
//! meaning by passing the clock. The change is small and meant for upstream.
//!
//! The order is: read the bundle (bad input is an error, exit 2); check that
//! its signer kind is the one trusted; run sigstore-rust's verifier for
//! everything cryptographic (through the memo); then apply what sigstore-rust
//! does not know: the identity policy over every SAN and extension, the key's
//! validity window, and the claims for the report.

use sigstore_verify::types::bundle::{SignatureContent, TransparencyLogEntry, VerificationMaterialContent};
use sigstore_verify::types::{
    Artifact as SigstoreArtifact, ArtifactDigest, Bundle as SigstoreBundle, DerPublicKey, DigestBytes, HashAlgorithm,
};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy};
use time::OffsetDateTime;

use super::certificate::CertificateIdentity;
use super::error::{BundleRejection, TimeBasis};
use super::{
    Artifact, BundleClaims, BundleSigner, LogEntryUsed, Signatory, SignedContent, TrustedRoot, memo, to_offset,
};
use crate::bundle::BundleView;
use crate::digest::{Algorithm, Digest};
use crate::verify::Verified;

/// Verifies a Sigstore bundle (v0.1, v0.2, v0.3; message signature or DSSE)
/// for `artifact`, signed by `who`, against `root`.
///
/// The artifact always comes from the caller (the image digest, the blob or
/// its digest), never from the content being checked: for a DSSE bundle it
/// must be one of the statement's subjects (sha256 or sha512), for a message
/// signature it is the signed message.
///
/// `now` is the evaluation time: the evidence must not prove signing after
/// it, and a key window is judged at it when the bundle proves no signing
/// time. The same inputs at the same `now` always give the same answer.
pub fn verify_bundle(
    bundle: &[u8],
    artifact: Artifact<'_>,
    who: &Signatory,
    root: &TrustedRoot,
    now: OffsetDateTime,
) -> Result<Verified<BundleClaims>, BundleRejection> {
    verify_bundle_with(bundle, artifact, who, root, Chain::Fulcio, None, now)
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

/// One parse: sigil's strict reading ([`BundleView::parse`], as strict as
/// `Bundle::parse`) only decides
/// whether the bytes may be judged at all (it refuses everything two readers
/// could read differently); nothing is taken from it. sigstore-rust's own
/// parse is then the single object that is verified, and the identity, the
/// signed content and the log entries reported are read from that object.
///
/// `logged_envelope` is the DSSE envelope exactly as it was submitted to the
/// log, when the caller holds it (a cosign v2 attestation layer): an
/// `intoto` 0.0.1 entry logs only its hash, so it verifies only with these
/// bytes, which must also decode to the bundle's envelope.
pub(crate) fn verify_bundle_with(
    bundle: &[u8],
    artifact: Artifact<'_>,
    who: &Signatory,
    root: &TrustedRoot,
    chain: Chain,
    logged_envelope: Option<&[u8]>,
    now: OffsetDateTime,
) -> Result<Verified<BundleClaims>, BundleRejection> {
    // The gate reads as strictly as `Bundle::parse` without copying the
    // DSSE payload, since nothing is taken from it.
    BundleView::parse(bundle)?;
    let text = std::str::from_utf8(bundle).map_err(|_| BundleRejection::InvalidBundle {
        reason: "bundle is not UTF-8".into(),
    })?;
    let verified =
        SigstoreBundle::from_json(text).map_err(|e| BundleRejection::InvalidBundle { reason: e.to_string() })?;
    let leaf = match verified.signing_certificate() {
        // One reading of the leaf: its identity (which parses the whole
        // certificate, so malformed DER is refused here as before).
        Some(der) => Some(CertificateIdentity::from_der(der.as_bytes()).map_err(BundleRejection::Certificate)?),
        None if matches!(
            verified.verification_material.content,
            VerificationMaterialContent::PublicKey(_)
        ) =>
        {
            None
        }
        None => {
            return Err(BundleRejection::InvalidBundle {
                reason: "empty certificate chain".into(),
            });
        }
    };
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

    let entries = &verified.verification_material.tlog_entries;
    let log_ids: Vec<String> = entries.iter().map(|e| e.log_id.key_id.to_base64()).collect();
    if !entries.is_empty() && !log_ids.iter().any(|id| root.has_log(id)) {
        return Err(BundleRejection::UnknownLog {
            reason: format!("the bundle's entries are from log {}", log_ids.join(", ")),
        });
    }
    let content = match &verified.content {
        SignatureContent::DsseEnvelope(envelope) => SignedContent::Dsse {
            payload_type: envelope.payload_type.clone(),
            payload: envelope.payload.as_bytes().to_vec(),
        },
        SignatureContent::MessageSignature(_) => SignedContent::Message {
            digest: match &artifact {
                Artifact::Bytes(b) => Digest::sha256_of(b),
                Artifact::Digest(d) => d.clone(),
            },
        },
        _ => {
            return Err(BundleRejection::InvalidBundle {
                reason: "unsupported bundle content".into(),
            });
        }
    };
    let subject_key: Vec<u8> = match &artifact {
        Artifact::Bytes(b) => [b"bytes:".as_slice(), Digest::sha256_of(b).raw().as_slice()].concat(),
        Artifact::Digest(d) => format!("{}:{}", d.algorithm().name(), d.hex()).into_bytes(),
    };
    let has_tlog = !entries.is_empty();
    let signer_key: Vec<u8> = match who {
        Signatory::Key { key, .. } => [b"key:".as_slice(), key.spki_der()].concat(),
        Signatory::Identity(_) if chain == Chain::Fulcio => b"keyless".to_vec(),
        Signatory::Identity(_) => b"keyless-caller-chain".to_vec(),
    };
    // From this time on, sigstore-rust's use of `now` cannot change the
    // answer (memo.rs): every log key and timestamp authority of the root is
    // in force, and no logged time lies after it.
    let settled = entries
        .iter()
        .filter_map(|entry| entry.integrated_time.map(to_offset))
        .chain([root.in_force()])
        .max()
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    // Outside the memo: an answer about the evaluation time itself is no
    // answer about the evidence.
    let at = jiff::Timestamp::from_nanosecond(now.unix_timestamp_nanos()).map_err(|e| BundleRejection::Other {
        reason: format!("evaluation time {now} is out of range: {e}"),
    })?;
    // The logged envelope decides an intoto 0.0.1 entry: part of the key.
    let logged_key: Vec<u8> = match logged_envelope {
        Some(bytes) => [b"logged:".as_slice(), bytes].concat(),
        None => b"-".to_vec(),
    };
    let key = || memo::key(&[root.id(), &signer_key, bundle, &subject_key, &logged_key], settled);
    let times = memo::remember(key, settled, now, || {
        let artifact = to_sigstore(&artifact)?;
        let result = match who {
            Signatory::Key { key, .. } => {
                let mut policy = PublicKeyVerificationPolicy::new(DerPublicKey::new(key.spki_der().to_vec()));
                // sigil is offline-first: a key-signed bundle needs no log
                // entry (DESIGN §2), but entries that are present must verify.
                if !has_tlog {
                    policy = policy.skip_tlog_unsafe();
                }
                verify_at(root, artifact, &verified, &policy, logged_envelope, at)
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
                verify_at(root, artifact, &verified, &policy, logged_envelope, at)
            }
        }?;
        Ok(result.verified_timestamps().iter().copied().map(to_offset).collect())
    })
    .map_err(|e| explain_validity(e, leaf.as_ref(), entries))?;
    // A signature the evidence places after the evaluation time did not
    // exist yet at that time.
    if let Some(later) = times.iter().find(|t| **t > now) {
        return Err(BundleRejection::SignedAfterEvaluation { signed_at: *later, now });
    }
    let signing_time = times.iter().min().copied();

    let signer = match (who, leaf) {
        (Signatory::Key { key, valid_for }, _) => {
            if let Some(window) = valid_for {
                // Every proven time must lie in the window, not just one;
                // without a proven time, the evaluation time must.
                let (judged, basis) = if times.is_empty() {
                    (std::slice::from_ref(&now), TimeBasis::Evaluation)
                } else {
                    (times.as_slice(), TimeBasis::Proven)
                };
                if let Some(outside) = judged.iter().find(|t| !window.contains(**t)) {
                    return Err(BundleRejection::KeyValidity {
                        signed_at: *outside,
                        basis,
                        start: window.start,
                        end: window.end,
                    });
                }
            }
            BundleSigner::Key {
                fingerprint: key.fingerprint(),
            }
        }
        (Signatory::Identity(policy), Some(identity)) => {
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
        log_entries: entries.iter().map(log_entry_used).collect(),
        timestamps: verified
            .verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .len(),
    }))
}

/// sigstore-rust's verifier at `at`, with the logged envelope when there is one.
fn verify_at(
    root: &TrustedRoot,
    artifact: SigstoreArtifact<'_>,
    bundle: &SigstoreBundle,
    policy: &(impl sigstore_verify::Policy + ?Sized),
    logged_envelope: Option<&[u8]>,
    at: jiff::Timestamp,
) -> sigstore_verify::Result<sigstore_verify::VerificationResult> {
    match logged_envelope {
        Some(bytes) => root
            .verifier()
            .verify_logged_envelope_at(artifact, bundle, policy, bytes, at),
        None => root.verifier().verify_at(artifact, bundle, policy, at),
    }
}

/// A chain rejection whose cause is the leaf's validity window, said as such:
/// the time is the one the log entry states (the rejection stands either way).
fn explain_validity(
    e: BundleRejection,
    leaf: Option<&CertificateIdentity>,
    entries: &[TransparencyLogEntry],
) -> BundleRejection {
    let (BundleRejection::Chain { .. }, Some(identity)) = (&e, leaf) else {
        return e;
    };
    let claimed = entries
        .iter()
        .filter_map(|entry| log_entry_used(entry).integrated_time)
        .min();
    match claimed {
        Some(t) if t > identity.not_after => BundleRejection::CertificateValidity {
            signed_at: t,
            basis: TimeBasis::Proven,
            bound: identity.not_after,
            expired: true,
        },
        Some(t) if t < identity.not_before => BundleRejection::CertificateValidity {
            signed_at: t,
            basis: TimeBasis::Proven,
            bound: identity.not_before,
            expired: false,
        },
        _ => e,
    }
}

/// The artifact in sigstore-rust's terms.
fn to_sigstore<'a>(artifact: &Artifact<'a>) -> Result<SigstoreArtifact<'a>, BundleRejection> {
    Ok(match artifact {
        Artifact::Bytes(b) => SigstoreArtifact::Blob(b),
        Artifact::Digest(d) => {
            let algorithm = match d.algorithm() {
                Algorithm::Sha256 => HashAlgorithm::Sha2256,
                Algorithm::Sha384 => HashAlgorithm::Sha2384,
                Algorithm::Sha512 => HashAlgorithm::Sha2512,
            };
            SigstoreArtifact::Digest(
                ArtifactDigest::new(algorithm, DigestBytes::new(d.raw()))
                    .map_err(|e| BundleRejection::Other { reason: e.to_string() })?,
            )
        }
    })
}

/// Report facts about a log entry of the verified bundle.
pub(crate) fn log_entry_used(entry: &TransparencyLogEntry) -> LogEntryUsed {
    LogEntryUsed {
        log_id: hex::encode(entry.log_id.key_id.as_bytes()),
        log_index: entry.log_index.get(),
        kind: format!("{} {}", entry.kind_version.kind(), entry.kind_version.version()),
        integrated_time: entry
            .integrated_time
            .map(to_offset)
            .filter(|t| *t > OffsetDateTime::UNIX_EPOCH),
        inclusion_proof: entry.inclusion_proof.is_some(),
        inclusion_promise: entry.inclusion_promise.is_some(),
    }
}
