//! Judgement by identity rather than by one key: keyless (Fulcio)
//! certificates under a Sigstore trusted root, and certificates from a
//! private PKI, for image signatures in both storage forms and for bundle
//! attestations. The cryptography is [`crate::sigstore`]'s; this module binds
//! what it verified to the image, as the key-based functions do.

use std::collections::BTreeMap;

use super::*;

/// Who may have signed: one public key, or a keyless identity under a trusted
/// root (DESIGN §3.5).
#[derive(Clone, Copy, Debug)]
pub enum Authority<'a> {
    Key(&'a PublicKey),
    Identity {
        policy: &'a crate::sigstore::IdentityPolicy,
        root: &'a crate::sigstore::TrustedRoot,
    },
    /// A certificate from a private PKI (cosign's `--certificate-chain`):
    /// the leaf must chain to `roots` at the time a log entry proves (checked
    /// against `log_root`), else at `now`.
    Certificate {
        roots: &'a [crate::sigstore::Certificate],
        policy: &'a crate::sigstore::IdentityPolicy,
        log_root: &'a crate::sigstore::TrustedRoot,
        now: time::OffsetDateTime,
    },
}

fn certificate_signer(identity: &crate::sigstore::CertificateIdentity) -> Signer {
    let subject = identity
        .subject
        .first()
        .map(|s| s.value().to_owned())
        .unwrap_or_default();
    Signer::Certificate {
        subject,
        issuer: identity.issuer.clone(),
    }
}

/// A keyless DSSE bundle's verified payload and signer.
fn keyless_dsse(
    bundle: &[u8],
    policy: &crate::sigstore::IdentityPolicy,
    root: &crate::sigstore::TrustedRoot,
) -> Result<(Vec<u8>, Signer), Rejection> {
    use crate::sigstore::{BundleSigner, Signatory, SignedContent};
    let claims = crate::sigstore::verify_bundle(bundle, None, &Signatory::Identity(policy.clone()), root)
        .map_err(|e| Rejection::Keyless(e.to_string()))?
        .into_inner();
    let signer = match &claims.signer {
        BundleSigner::Certificate(identity) => certificate_signer(identity),
        BundleSigner::Key { fingerprint } => Signer::Key {
            fingerprint: fingerprint.clone(),
        },
    };
    match claims.content {
        SignedContent::Dsse { payload_type, payload } if payload_type == IN_TOTO_PAYLOAD_TYPE => Ok((payload, signer)),
        SignedContent::Dsse { payload_type, .. } => Err(Rejection::PayloadType(payload_type)),
        SignedContent::Message { .. } => Err(Rejection::MessageSignature),
    }
}

/// [`judge_signatures`] for any [`Authority`]: keyless identities verify
/// cosign v2 layers by their certificate, chain and Rekor bundle
/// annotations, and cosign v3 bundles by their certificate and log entry.
pub fn judge_signatures_by(
    evidence: &[crate::gather::SignatureEvidence],
    authority: Authority<'_>,
    image: &Digest,
    required: &BTreeMap<String, String>,
) -> Vec<SignatureCheck> {
    let (policy, root, pki) = match authority {
        Authority::Key(key) => return judge_signatures(evidence, key, image, required),
        Authority::Identity { policy, root } => (policy, root, None),
        Authority::Certificate {
            roots,
            policy,
            log_root,
            now,
        } => (policy, log_root, Some((roots, now))),
    };
    use crate::cosign::{
        CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, REKOR_BUNDLE_ANNOTATION, SIGNATURE_ANNOTATION, annotation,
    };
    use crate::gather::SignatureContent;
    evidence
        .iter()
        .map(|e| {
            let outcome = match &e.content {
                SignatureContent::SimpleSigning { payload, annotations } => (|| {
                    let signature = annotation(annotations, SIGNATURE_ANNOTATION).ok_or(Rejection::Unsigned)?;
                    let certificate =
                        annotation(annotations, CERTIFICATE_ANNOTATION).ok_or(Rejection::NoCertificate)?;
                    let chain = annotation(annotations, CHAIN_ANNOTATION);
                    let rekor = annotation(annotations, REKOR_BUNDLE_ANNOTATION);
                    let claims = match pki {
                        None => crate::sigstore::verify_cosign_v2_layer(
                            payload,
                            signature,
                            certificate,
                            chain,
                            rekor,
                            policy,
                            root,
                        ),
                        Some((roots, now)) => crate::sigstore::verify_certificate_signature(
                            payload,
                            signature,
                            certificate,
                            chain,
                            rekor,
                            roots,
                            policy,
                            root,
                            now,
                        ),
                    }
                    .map_err(|e| Rejection::Keyless(e.to_string()))?
                    .into_inner();
                    bound_payload(payload, image, certificate_signer(&claims.identity))
                })(),
                SignatureContent::Bundle(_) if pki.is_some() => Err(Rejection::CertificateBundle),
                SignatureContent::Bundle(bytes) => keyless_dsse(bytes, policy, root)
                    .and_then(|(payload, signer)| signed_image_statement(&payload, image, signer)),
                SignatureContent::Unreadable(reason) => Err(Rejection::Unreadable(reason.clone())),
            };
            let outcome = outcome.and_then(|signed| require_annotations(&signed, required).map(|()| signed));
            SignatureCheck {
                origin: e.origin.clone(),
                outcome,
            }
        })
        .collect()
}

/// [`attestation`] for any [`Authority`]. Keyless attestations are read from
/// Sigstore bundles (cosign v3, GitHub `attest-build-provenance`).
pub fn attestation_by(
    content: &crate::gather::AttestationContent,
    authority: Authority<'_>,
    image: &Digest,
    predicate_type: &str,
) -> Result<Verified<AttestedStatement>, Rejection> {
    use crate::gather::AttestationContent;
    let (policy, root) = match authority {
        Authority::Key(key) => return attestation(content, key, image, predicate_type),
        Authority::Identity { policy, root } => (policy, root),
        Authority::Certificate { .. } => return Err(Rejection::CertificateBundle),
    };
    let (payload, signer) = match content {
        AttestationContent::Bundle(bytes) => keyless_dsse(bytes, policy, root)?,
        AttestationContent::Envelope(_) => return Err(Rejection::KeylessEnvelope),
        AttestationContent::Unreadable(reason) => return Err(Rejection::Unreadable(reason.clone())),
    };
    attested_statement(&payload, image, predicate_type, signer)
}

/// [`judge_attestations`] for any [`Authority`].
pub fn judge_attestations_by(
    evidence: &[crate::gather::AttestationEvidence],
    authority: Authority<'_>,
    image: &Digest,
    predicate_type: &str,
) -> Vec<AttestationCheck> {
    evidence
        .iter()
        .filter(|e| e.claimed_type.as_deref().is_none_or(|t| t == predicate_type))
        .map(|e| AttestationCheck {
            origin: e.origin.clone(),
            outcome: attestation_by(&e.content, authority, image, predicate_type),
        })
        .collect()
}
