//! Judgement by identity rather than by one key: keyless (Fulcio)
//! certificates under a Sigstore trusted root, and certificates from a
//! private PKI, for image signatures in both storage forms and for bundle
//! attestations. The cryptography is [`crate::sigstore`]'s; this module binds
//! what it verified to the image, as the key-based functions do.

use std::collections::BTreeMap;

use super::*;

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

/// A keyless DSSE bundle's verified payload and signer; the verifier binds
/// the bundle to `image`, which must be a subject of the signed statement.
fn keyless_dsse(
    bundle: &[u8],
    image: &Digest,
    policy: &crate::sigstore::IdentityPolicy,
    root: &crate::sigstore::TrustedRoot,
    now: time::OffsetDateTime,
) -> Result<(Vec<u8>, Signer), Rejection> {
    use crate::sigstore::{Artifact, BundleSigner, Signatory, SignedContent};
    let claims = crate::sigstore::verify_bundle(
        bundle,
        Artifact::Digest(image.clone()),
        &Signatory::Identity(policy.clone()),
        root,
        now,
    )
    .map_err(|e| unbound(e, image))?
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

/// A DSSE rejection in sigil's words: the verifier binds the statement to
/// the image, so its artifact mismatch means the image is not a subject.
fn unbound(e: crate::sigstore::BundleRejection, image: &Digest) -> Rejection {
    match e {
        crate::sigstore::BundleRejection::ArtifactMismatch { .. } => Rejection::Subject { image: image.clone() },
        other => Rejection::Sigstore(other),
    }
}

/// How a non-key [`Authority`] trusts certificates: a Fulcio identity under
/// `root`, or (with `pki`) a private PKI's roots, with `root` trusted for log
/// entries only; judged at the evaluation time `now`.
#[derive(Clone, Copy)]
struct CertificateTrust<'a> {
    policy: &'a crate::sigstore::IdentityPolicy,
    root: &'a crate::sigstore::TrustedRoot,
    pki: Option<&'a [crate::sigstore::Certificate]>,
    now: time::OffsetDateTime,
}

/// How an [`Authority`] judges cosign evidence.
enum CosignTrust<'a> {
    Key(&'a PublicKey),
    Certificates(CertificateTrust<'a>),
    /// A `notation` publisher: no cosign evidence counts.
    None,
}

impl Authority {
    /// How the authority judges cosign evidence at `now`.
    fn cosign_trust(&self, now: time::OffsetDateTime) -> CosignTrust<'_> {
        match self {
            Authority::Key(key) => CosignTrust::Key(key),
            Authority::Notation(_) => CosignTrust::None,
            Authority::Keyless { identity, root } => CosignTrust::Certificates(CertificateTrust {
                policy: identity,
                root: root.get(),
                pki: None,
                now,
            }),
            Authority::Certificate {
                roots,
                identity,
                log_root,
            } => CosignTrust::Certificates(CertificateTrust {
                policy: identity,
                root: log_root.get(),
                pki: Some(roots),
                now,
            }),
        }
    }
}

/// Verifies a cosign v2 layer (`.sig` or `.att`) by the certificate, chain
/// and Rekor bundle in its annotations.
fn certificate_layer(
    content: crate::sigstore::LayerContent<'_>,
    annotations: &BTreeMap<String, String>,
    trust: CertificateTrust<'_>,
) -> Result<crate::sigstore::CertificateClaims, Rejection> {
    use crate::cosign::{CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, REKOR_BUNDLE_ANNOTATION, annotation};
    let certificate = crate::sigstore::LayerCertificate {
        certificate_pem: annotation(annotations, CERTIFICATE_ANNOTATION).ok_or(Rejection::NoCertificate)?,
        chain_pem: annotation(annotations, CHAIN_ANNOTATION),
        rekor_bundle_json: annotation(annotations, REKOR_BUNDLE_ANNOTATION),
    };
    let claims = match trust.pki {
        None => crate::sigstore::verify_cosign_v2_layer(content, certificate, trust.policy, trust.root, trust.now),
        Some(roots) => crate::sigstore::verify_certificate_signature(
            content,
            certificate,
            roots,
            trust.policy,
            trust.root,
            trust.now,
        ),
    };
    Ok(claims.map_err(Rejection::Sigstore)?.into_inner())
}

/// [`signature`] for any [`Authority`]: keyless identities verify cosign v2
/// layers by their certificate, chain and Rekor bundle annotations, and
/// cosign v3 bundles by their certificate and log entry.
///
/// `now` is the evaluation time, at which a private-PKI chain is checked
/// when no log entry proves a signing time.
pub fn signature_by(
    content: &crate::evidence::SignatureContent,
    authority: &Authority,
    image: &Digest,
    now: time::OffsetDateTime,
) -> Result<Verified<SignedImage>, Rejection> {
    use crate::cosign::{SIGNATURE_ANNOTATION, annotation};
    use crate::evidence::SignatureContent;
    let trust = match authority.cosign_trust(now) {
        CosignTrust::Certificates(trust) => trust,
        CosignTrust::Key(key) => return signature(content, key, image),
        CosignTrust::None => return Err(Rejection::NotationOnly),
    };
    match content {
        SignatureContent::SimpleSigning { payload, annotations } => {
            let signature_b64 = annotation(annotations, SIGNATURE_ANNOTATION).ok_or(Rejection::Unsigned)?;
            let content = crate::sigstore::LayerContent::Message { payload, signature_b64 };
            let claims = certificate_layer(content, annotations, trust)?;
            bound_payload(payload, image, certificate_signer(&claims.identity))
        }
        SignatureContent::Bundle(_) if trust.pki.is_some() => Err(Rejection::CertificateBundle),
        SignatureContent::Bundle(bytes) => keyless_dsse(bytes, image, trust.policy, trust.root, trust.now)
            .and_then(|(payload, signer)| signed_image_statement(&payload, image, signer)),
        SignatureContent::Unreadable(reason) => Err(Rejection::Unreadable(reason.clone())),
    }
}

/// Judges every signature found for `image` by `authority` and the required
/// annotations. Pure: the evidence was gathered before.
pub fn judge_signatures_by(
    evidence: &[crate::evidence::SignatureEvidence],
    authority: &Authority,
    image: &Digest,
    required: &BTreeMap<String, String>,
    now: time::OffsetDateTime,
) -> Vec<SignatureCheck> {
    check_each(evidence, required, |content| {
        signature_by(content, authority, image, now)
    })
}

/// [`attestation`] for any [`Authority`]: keyless and private-PKI
/// attestations are read from cosign v2 `.att` layers (certificate, chain and
/// Rekor bundle annotations) and, keyless only, from Sigstore bundles
/// (cosign v3, GitHub `attest-build-provenance`).
pub fn attestation_by(
    content: &crate::evidence::AttestationContent,
    authority: &Authority,
    image: &Digest,
    predicate_type: &str,
    now: time::OffsetDateTime,
) -> Result<Verified<AttestedStatement>, Rejection> {
    use crate::evidence::AttestationContent;
    use crate::sigstore::{LayerContent, SignedContent};
    let trust = match authority.cosign_trust(now) {
        CosignTrust::Certificates(trust) => trust,
        CosignTrust::Key(key) => return attestation(content, key, image, predicate_type),
        CosignTrust::None => return Err(Rejection::NotationOnly),
    };
    let (payload, signer) = match content {
        AttestationContent::Bundle(_) if trust.pki.is_some() => return Err(Rejection::CertificateBundle),
        AttestationContent::Bundle(bytes) => keyless_dsse(bytes, image, trust.policy, trust.root, trust.now)?,
        AttestationContent::Envelope { envelope, annotations } => {
            let claims = certificate_layer(LayerContent::Envelope { envelope, image }, annotations, trust).map_err(
                |e| match e {
                    Rejection::Sigstore(e) => unbound(e, image),
                    other => other,
                },
            )?;
            match claims.content {
                SignedContent::Dsse { payload_type, payload } if payload_type == IN_TOTO_PAYLOAD_TYPE => {
                    (payload, certificate_signer(&claims.identity))
                }
                SignedContent::Dsse { payload_type, .. } => return Err(Rejection::PayloadType(payload_type)),
                SignedContent::Message { .. } => return Err(Rejection::MessageSignature),
            }
        }
        AttestationContent::Unreadable(reason) => return Err(Rejection::Unreadable(reason.clone())),
    };
    attested_statement(payload, image, predicate_type, signer)
}

/// [`judge_attestations`] for any [`Authority`].
pub fn judge_attestations_by(
    evidence: &[crate::evidence::AttestationEvidence],
    authority: &Authority,
    image: &Digest,
    predicate_type: &str,
    now: time::OffsetDateTime,
) -> Vec<AttestationCheck> {
    check_attestations(evidence, predicate_type, |content| {
        attestation_by(content, authority, image, predicate_type, now)
    })
}
