//! Judging the Notary Project signatures of one image under the trust
//! policy that applies to it (trust-store-trust-policy.md, "Signature
//! Verification"): integrity, authenticity, authentic timestamp, expiry and
//! revocation, each enforced, logged or skipped as the policy's level and
//! overrides say. The image is verified when one signature passes every
//! enforced validation, as `notation verify` decides.

use time::OffsetDateTime;

use super::certs;
use super::envelope::{self, Envelope, SigningScheme};
use super::trustpolicy::{Action, Identities, Level, StoreType, TrustPolicy, VerifyTimestamp};
use super::truststore::{TrustStoreError, TrustStores};
use crate::oci::Descriptor;
use crate::sigstore::Certificate;

/// One signature as gathered: where it was found and its envelope layer.
#[derive(Clone, Debug)]
pub struct SignatureInput {
    /// The signature manifest's digest (or another name for reports).
    pub origin: String,
    /// The envelope layer's media type.
    pub media_type: String,
    /// The envelope bytes, or why they could not be fetched.
    pub envelope: Result<Vec<u8>, String>,
}

/// The five validations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// The envelope is well formed, its signature verifies, and it signs this image.
    Integrity,
    /// The chain leads to the trust store and the signer is a trusted identity.
    Authenticity,
    /// The chain was valid when the signature was made (proven time), else now.
    AuthenticTimestamp,
    /// The signature's expiry has not passed.
    Expiry,
    /// The chain is not revoked.
    Revocation,
}

impl Validation {
    /// The name notation uses.
    pub fn name(self) -> &'static str {
        match self {
            Validation::Integrity => "integrity",
            Validation::Authenticity => "authenticity",
            Validation::AuthenticTimestamp => "authenticTimestamp",
            Validation::Expiry => "expiry",
            Validation::Revocation => "revocation",
        }
    }
}

/// How one validation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckResult {
    /// It passed.
    Passed,
    /// It failed, with the reason.
    Failed(String),
    /// It was not performed, with the reason.
    NotPerformed(String),
}

/// One validation of one signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Which.
    pub validation: Validation,
    /// What a failure does.
    pub action: Action,
    /// How it ended.
    pub result: CheckResult,
}

impl Check {
    /// A failure the policy enforces.
    pub fn is_critical(&self) -> bool {
        self.action == Action::Enforce && matches!(self.result, CheckResult::Failed(_))
    }
}

/// The verdict on one signature.
#[derive(Clone, Debug)]
pub struct SignatureVerdict {
    /// Where the signature was found.
    pub origin: String,
    /// The signing certificate's subject, when the envelope could be read.
    pub signer: Option<String>,
    /// The validations performed, in order; the first critical failure is the last.
    pub checks: Vec<Check>,
    accepted: bool,
    unreadable: bool,
}

impl SignatureVerdict {
    /// True when no enforced validation failed.
    pub fn accepted(&self) -> bool {
        self.accepted
    }

    /// True when the envelope could not be read at all (fetch failed,
    /// unsupported media type, malformed envelope): bad input rather than
    /// a signature that failed its checks.
    pub fn unreadable(&self) -> bool {
        self.unreadable
    }

    /// The critical failure, when there is one.
    pub fn failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.is_critical())
    }
}

/// The verdict on one image.
#[derive(Clone, Debug)]
pub enum ImageVerdict {
    /// No statement applies: untrusted.
    NoPolicy,
    /// The statement's level is `skip`: allowed without verification.
    Skipped {
        /// The statement.
        policy: String,
    },
    /// Signatures were judged.
    Judged {
        /// The statement.
        policy: String,
        /// One verdict per signature, in the order given.
        signatures: Vec<SignatureVerdict>,
    },
}

impl ImageVerdict {
    /// True when the image may be used.
    pub fn allowed(&self) -> bool {
        match self {
            ImageVerdict::NoPolicy => false,
            ImageVerdict::Skipped { .. } => true,
            ImageVerdict::Judged { signatures, .. } => signatures.iter().any(SignatureVerdict::accepted),
        }
    }
}

/// Judges the signatures of the image `target` under `policy` (the one
/// [`super::TrustPolicyDocument::select`] chose), at `now`. `Err` when a
/// trust store the policy needs is missing or empty (a broken
/// configuration, not a failed signature).
pub fn judge(
    policy: Option<&TrustPolicy>,
    stores: &TrustStores,
    target: &Descriptor,
    signatures: &[SignatureInput],
    now: OffsetDateTime,
) -> Result<ImageVerdict, TrustStoreError> {
    let Some(policy) = policy else {
        return Ok(ImageVerdict::NoPolicy);
    };
    if policy.verification.level == Level::Skip {
        return Ok(ImageVerdict::Skipped {
            policy: policy.name.clone(),
        });
    }
    // Every store the policy names must be usable, whatever the signatures.
    for store in &policy.trust_stores {
        stores.get(store)?;
    }
    let verdicts = signatures
        .iter()
        .map(|s| judge_one(policy, stores, target, s, now))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ImageVerdict::Judged {
        policy: policy.name.clone(),
        signatures: verdicts,
    })
}

/// Collects checks, stopping at the first critical failure.
struct Checks {
    checks: Vec<Check>,
}

impl Checks {
    /// Records a check; `false` when it is a critical failure (stop).
    fn record(&mut self, validation: Validation, action: Action, result: CheckResult) -> bool {
        let check = Check {
            validation,
            action,
            result,
        };
        let critical = check.is_critical();
        self.checks.push(check);
        !critical
    }

    /// Runs `f` unless `action` is skip.
    fn run(&mut self, validation: Validation, action: Action, f: impl FnOnce() -> CheckResult) -> bool {
        let result = if action == Action::Skip {
            CheckResult::NotPerformed("skipped by the trust policy".into())
        } else {
            f()
        };
        self.record(validation, action, result)
    }
}

fn outcome(result: Result<(), String>) -> CheckResult {
    match result {
        Ok(()) => CheckResult::Passed,
        Err(reason) => CheckResult::Failed(reason),
    }
}

fn judge_one(
    policy: &TrustPolicy,
    stores: &TrustStores,
    target: &Descriptor,
    input: &SignatureInput,
    now: OffsetDateTime,
) -> Result<SignatureVerdict, TrustStoreError> {
    let v = policy.verification;
    let mut checks = Checks { checks: Vec::new() };
    let finish = |checks: Checks, signer: Option<String>| {
        let accepted = !checks.checks.iter().any(Check::is_critical);
        SignatureVerdict {
            origin: input.origin.clone(),
            unreadable: signer.is_none(),
            signer,
            checks: checks.checks,
            accepted,
        }
    };

    // Integrity: always enforced.
    let parsed = input
        .envelope
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|bytes| envelope::parse(&input.media_type, bytes).map_err(|e| e.to_string()));
    let envelope = match parsed {
        Ok(envelope) => envelope,
        Err(reason) => {
            checks.record(Validation::Integrity, Action::Enforce, CheckResult::Failed(reason));
            return Ok(finish(checks, None));
        }
    };
    let signer = Some(certs::subject_text(envelope.leaf()));
    let integrity = integrity(&envelope, target);
    if !checks.record(Validation::Integrity, Action::Enforce, outcome(integrity)) {
        return Ok(finish(checks, signer));
    }

    // Authenticity: the chain to the stores of the scheme's type, checked at
    // the signing time the envelope states, and the trusted identity.
    let store_type = match envelope.scheme {
        SigningScheme::X509 => StoreType::Ca,
        SigningScheme::SigningAuthority => StoreType::SigningAuthority,
    };
    let mut roots: Vec<Certificate> = Vec::new();
    for store in policy.trust_stores.iter().filter(|s| s.kind == store_type) {
        roots.extend_from_slice(stores.get(store)?);
    }
    let authenticity = || {
        if roots.is_empty() {
            return Err(format!(
                "the trust policy names no {} trust store for {} signatures",
                store_type.name(),
                envelope.scheme.name()
            ));
        }
        let at = envelope.claimed_time().ok_or("the envelope states no signing time")?;
        certs::verify_chain(&envelope.chain, &roots, at)?;
        match &policy.identities {
            Identities::Any => Ok(()),
            Identities::Subjects(subjects) => {
                let subject = certs::subject_attributes(envelope.leaf())?;
                if subjects.iter().any(|dn| dn.matches(&subject)) {
                    Ok(())
                } else {
                    Err(format!(
                        "signing certificate {:?} is not one of the trusted identities",
                        certs::subject_text(envelope.leaf())
                    ))
                }
            }
        }
    };
    if !checks.run(Validation::Authenticity, v.authenticity, || outcome(authenticity())) {
        return Ok(finish(checks, signer));
    }

    // Expiry.
    let expiry = || match envelope.expiry {
        Some(expiry) if now >= expiry => CheckResult::Failed(format!("the signature expired at {expiry}")),
        _ => CheckResult::Passed,
    };
    if !checks.run(Validation::Expiry, v.expiry, expiry) {
        return Ok(finish(checks, signer));
    }

    // Authentic timestamp.
    let has_tsa = policy.trust_stores.iter().any(|s| s.kind == StoreType::Tsa);
    let authentic_timestamp = || match envelope.scheme {
        SigningScheme::SigningAuthority => {
            // Parsing guarantees the authentic signing time is present.
            let at = envelope.authentic_signing_time.unwrap_or(now);
            outcome(certs::check_validity(&envelope.chain, at))
        }
        SigningScheme::X509 => {
            let triggered =
                has_tsa && (v.verify_timestamp == VerifyTimestamp::Always || certs::any_expired(&envelope.chain, now));
            if triggered && !envelope.has_timestamp {
                return CheckResult::Failed(
                    "the trust policy asks for a timestamp countersignature and the signature has none".into(),
                );
            }
            // RFC 3161 timestamps are not verified by sigil: a timestamped
            // signature is judged as one without, at the present time.
            match certs::check_validity(&envelope.chain, now) {
                Ok(()) => CheckResult::Passed,
                Err(reason) if envelope.has_timestamp => CheckResult::Failed(format!(
                    "{reason} (sigil does not verify RFC 3161 timestamps, so the chain must be valid now)"
                )),
                Err(reason) => CheckResult::Failed(reason),
            }
        }
    };
    if !checks.run(
        Validation::AuthenticTimestamp,
        v.authentic_timestamp,
        authentic_timestamp,
    ) {
        return Ok(finish(checks, signer));
    }

    // Revocation: sigil is offline; nothing is fetched.
    let revocation = if v.revocation == Action::Skip {
        CheckResult::NotPerformed("skipped by the trust policy".into())
    } else {
        CheckResult::NotPerformed("not checked: sigil fetches no CRL or OCSP answer (offline)".into())
    };
    checks.record(Validation::Revocation, v.revocation, revocation);
    Ok(finish(checks, signer))
}

/// The envelope's signature and the signed target.
fn integrity(envelope: &Envelope, target: &Descriptor) -> Result<(), String> {
    certs::check_leaf_profile(envelope.leaf())?;
    certs::verify_signature(envelope)?;
    let signed = &envelope.target;
    if signed.digest != target.digest {
        return Err(format!(
            "the signature is for {}, not for this image ({})",
            signed.digest, target.digest
        ));
    }
    if signed.size != target.size || signed.media_type != target.media_type {
        return Err(format!(
            "the signed descriptor ({}, {} bytes) differs from the image's ({}, {} bytes)",
            signed.media_type, signed.size, target.media_type, target.size
        ));
    }
    Ok(())
}
