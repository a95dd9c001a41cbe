//! Policy publishers of kind `notation`: a trust store and trusted
//! identities, judged by [`crate::notation`] exactly as `notation verify`
//! judges at the strict level, then bound to the image as a
//! [`Verified<SignedImage>`] so that they count in `anyOf`, `allOf` and
//! thresholds like any other publisher.
//!
//! The publisher is one trust policy statement made by sigil, not read
//! from a file: global scope, level `strict` (integrity, authenticity,
//! authentic timestamp and expiry enforced; revocation as the judge does
//! it), one store of the type the signing scheme names, and the
//! identities. Nothing here re-checks a signature: the verdict is
//! [`crate::notation::judge`]'s.

use super::*;
use crate::evidence::NotationEvidence;
use crate::notation::envelope::SigningScheme;
use crate::notation::trustpolicy::{Identities, Scopes, Verification, VerifyTimestamp};
use crate::notation::{
    Action, CheckResult, ImageVerdict, Level, StoreRef, StoreType, TrustPolicy, TrustStoreError, TrustStores,
    Validation,
};

/// The trust of one `notation` publisher, its store read and parsed once
/// when the policy loaded.
#[derive(Clone, Debug)]
pub struct NotationTrust {
    statement: TrustPolicy,
    stores: TrustStores,
    /// The store as the policy names it (a path, or several), for reports.
    label: String,
}

impl NotationTrust {
    /// A publisher trusting the certificates of `files` (name, bytes: DER
    /// or PEM, each a CA or self-signed certificate) for signatures of
    /// `scheme` by `identities`. `label` names the store in reports; `name`
    /// is the publisher's. Refused: a file that holds no certificate or a
    /// leaf, and a store with no certificate at all.
    pub fn new(
        name: &str,
        label: &str,
        scheme: SigningScheme,
        identities: Identities,
        files: &[(String, Vec<u8>)],
    ) -> Result<NotationTrust, TrustStoreError> {
        let store = StoreRef {
            kind: match scheme {
                SigningScheme::X509 => StoreType::Ca,
                SigningScheme::SigningAuthority => StoreType::SigningAuthority,
            },
            name: name.to_owned(),
        };
        let mut stores = TrustStores::new();
        stores.declare(&store);
        for (file, bytes) in files {
            stores.add_file(&store, file, bytes)?;
        }
        stores.get(&store)?;
        let statement = TrustPolicy {
            name: name.to_owned(),
            scopes: Scopes::Global,
            verification: Verification {
                level: Level::Strict,
                authenticity: Action::Enforce,
                authentic_timestamp: Action::Enforce,
                expiry: Action::Enforce,
                revocation: Action::Enforce,
                verify_timestamp: VerifyTimestamp::Always,
            },
            trust_stores: vec![store],
            identities,
        };
        Ok(NotationTrust {
            statement,
            stores,
            label: label.to_owned(),
        })
    }

    /// The store as the policy names it.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The trusted identities.
    pub fn identities(&self) -> &Identities {
        &self.statement.identities
    }
}

/// What part of notation's verification refused a signature, for reason
/// codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotationFailure {
    /// The envelope cannot be read.
    Malformed,
    /// The envelope's signature does not verify (or its leaf is unfit).
    Signature,
    /// It signs another artifact than this image's descriptor.
    OtherImage,
    /// The chain does not lead to the store (or is revoked).
    Untrusted,
    /// The signer is not a trusted identity.
    Identity,
    /// `io.cncf.notary.expiry` has passed.
    Expired,
    /// The chain was not valid at the authentic time.
    CertificateValidity,
    /// A timestamp is missing or does not verify.
    Timestamp,
}

/// The judgement of one notation signature for one publisher.
#[derive(Clone, Debug)]
pub struct NotationCheck {
    /// Where it was found (the signature manifest's digest).
    pub origin: String,
    pub outcome: Result<Verified<SignedImage>, Rejection>,
}

/// Judges the notation signatures of `image` for the publisher `trust`, at
/// `now`: each accepted one is a [`Verified<SignedImage>`] whose signer is
/// the leaf's subject DN and the store; each other says which validation
/// refused it. Notation signatures carry no annotations sigil reads, so a
/// rule that requires `required` annotations refuses them.
pub fn notation_signatures_by(
    trust: &NotationTrust,
    evidence: &NotationEvidence,
    image: &Digest,
    required: &BTreeMap<String, String>,
    now: time::OffsetDateTime,
) -> Vec<NotationCheck> {
    let target = &evidence.target;
    if &target.digest != image {
        // The gathering side names the image's own descriptor; anything else is a bug.
        return evidence
            .signatures
            .iter()
            .map(|s| NotationCheck {
                origin: s.origin.clone(),
                outcome: Err(Rejection::Unreadable(format!(
                    "internal: notation evidence for {} judged for {image}",
                    target.digest
                ))),
            })
            .collect();
    }
    let verdicts =
        match crate::notation::judge(Some(&trust.statement), &trust.stores, target, &evidence.signatures, now) {
            Ok(ImageVerdict::Judged { signatures, .. }) => signatures,
            // The statement is strict and its store never empty (checked at
            // construction), so neither happens; refuse if they ever did.
            Ok(_) | Err(_) => {
                return evidence
                    .signatures
                    .iter()
                    .map(|s| NotationCheck {
                        origin: s.origin.clone(),
                        outcome: Err(Rejection::Unreadable("internal: the notation trust is unusable".into())),
                    })
                    .collect();
            }
        };
    verdicts
        .into_iter()
        .zip(&evidence.signatures)
        .map(|(verdict, input)| {
            let outcome = match (verdict.accepted(), &verdict.signer) {
                (true, Some(subject)) => {
                    let signed = Verified::new(SignedImage {
                        image: image.clone(),
                        docker_reference: None,
                        annotations: BTreeMap::new(),
                        signer: Signer::Notation {
                            subject: subject.clone(),
                            trust_store: trust.label.clone(),
                        },
                    });
                    require_annotations(&signed, required).map(|()| signed)
                }
                _ => Err(refusal(&verdict, input, target)),
            };
            NotationCheck {
                origin: verdict.origin,
                outcome,
            }
        })
        .collect()
}

/// The rejection of a signature the judge did not accept: its first
/// enforced failure.
fn refusal(
    verdict: &crate::notation::SignatureVerdict,
    input: &crate::notation::SignatureInput,
    target: &crate::oci::Descriptor,
) -> Rejection {
    let Some(check) = verdict.failure() else {
        return Rejection::Unreadable("the notation signature was not accepted".into());
    };
    let reason = match &check.result {
        CheckResult::Failed(reason) | CheckResult::NotPerformed(reason) => reason.clone(),
        CheckResult::Passed => String::new(),
    };
    let failure = match check.validation {
        Validation::Integrity if verdict.unreadable() => NotationFailure::Malformed,
        Validation::Integrity => {
            // Another artifact's signature, told by its payload (the
            // envelope parsed, or the verdict would say unreadable).
            let signs_other = input
                .envelope
                .as_ref()
                .ok()
                .and_then(|bytes| crate::notation::envelope::parse(&input.media_type, bytes).ok())
                .is_some_and(|e| {
                    e.target.digest != target.digest
                        || e.target.size != target.size
                        || e.target.media_type != target.media_type
                });
            if signs_other {
                NotationFailure::OtherImage
            } else {
                NotationFailure::Signature
            }
        }
        Validation::Authenticity if reason.contains("trusted identities") => NotationFailure::Identity,
        Validation::Authenticity | Validation::Revocation => NotationFailure::Untrusted,
        Validation::Expiry => NotationFailure::Expired,
        Validation::AuthenticTimestamp if reason.contains("timestamp") => NotationFailure::Timestamp,
        Validation::AuthenticTimestamp => NotationFailure::CertificateValidity,
    };
    Rejection::Notation {
        failure,
        validation: check.validation.name(),
        reason,
    }
}
