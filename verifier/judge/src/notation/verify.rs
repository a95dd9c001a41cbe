//! Judging the Notary Project signatures of one image under the trust
//! policy that applies to it (trust-store-trust-policy.md, "Signature
//! Verification"): integrity, authenticity, authentic timestamp, expiry and
//! revocation, each enforced, logged or skipped as the policy's level and
//! overrides say. The image is verified when one signature passes every
//! enforced validation, as `notation verify` decides.

use time::OffsetDateTime;

use super::certs;
use super::crl::{self, Crls};
use super::envelope::{self, Envelope, SigningScheme};
use super::timestamp::{self, ProvenTime};
use super::trustpolicy::{Action, Identities, Level, StoreRef, StoreType, TrustPolicy, VerifyTimestamp};
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
    judge_with_crls(policy, stores, &Crls::new(), target, signatures, now)
}

/// [`judge`], with the revocation check made against `crls` (the CRL files
/// the user gave); with none, revocation is reported as not performed.
pub fn judge_with_crls(
    policy: Option<&TrustPolicy>,
    stores: &TrustStores,
    crls: &Crls,
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
        .map(|s| judge_one(policy, stores, crls, target, s, now))
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
    crls: &Crls,
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

    // Authentic timestamp. The time it proves (a verified RFC 3161
    // timestamp, or the signing authority's authentic signing time) is the
    // one revocation entries are weighed against.
    let mut proven: Option<OffsetDateTime> = None;
    let tsa_stores: Vec<&StoreRef> = policy
        .trust_stores
        .iter()
        .filter(|s| s.kind == StoreType::Tsa)
        .collect();
    let mut tsa_roots: Vec<Certificate> = Vec::new();
    for store in &tsa_stores {
        tsa_roots.extend_from_slice(stores.get(store)?);
    }
    let authentic_timestamp = || match envelope.scheme {
        SigningScheme::SigningAuthority => {
            // Parsing guarantees the authentic signing time is present.
            let at = envelope.authentic_signing_time.unwrap_or(now);
            proven = Some(at);
            outcome(certs::check_validity(&envelope.chain, at))
        }
        SigningScheme::X509 => {
            let triggered = !tsa_stores.is_empty()
                && (v.verify_timestamp == VerifyTimestamp::Always || certs::any_expired(&envelope.chain, now));
            if !triggered {
                // No timestamp is asked for: the chain must be valid now.
                return match certs::check_validity(&envelope.chain, now) {
                    Ok(()) => CheckResult::Passed,
                    Err(reason) if envelope.has_timestamp && tsa_stores.is_empty() => CheckResult::Failed(format!(
                        "{reason} (the timestamp countersignature is not used: the trust policy names no tsa trust store)"
                    )),
                    Err(reason) => CheckResult::Failed(reason),
                };
            }
            let Some(token) = envelope.timestamp_token.as_deref() else {
                return CheckResult::Failed(
                    "the trust policy asks for a timestamp countersignature and the signature has none".into(),
                );
            };
            match timestamped(token, &envelope, &tsa_roots) {
                Ok(time) => {
                    // The TSA's chain, against the CRL files too.
                    if let CheckResult::Failed(reason) = crl::check(crls, &time.chain, &tsa_roots, now, None) {
                        return CheckResult::Failed(format!("the timestamping certificate chain: {reason}"));
                    }
                    proven = Some(time.latest);
                    CheckResult::Passed
                }
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

    // Revocation: offline, from the CRL files given; nothing is fetched.
    let revocation = if v.revocation == Action::Skip {
        CheckResult::NotPerformed("skipped by the trust policy".into())
    } else if crls.is_empty() {
        CheckResult::NotPerformed(
            "not checked: no CRL file was given (--notation-crl) and sigil fetches no CRL or OCSP answer".into(),
        )
    } else {
        crl::check(crls, &envelope.chain, &roots, now, proven)
    };
    checks.record(Validation::Revocation, v.revocation, revocation);
    Ok(finish(checks, signer))
}

/// Verifies the envelope's RFC 3161 countersignature under the `tsa`
/// stores and checks that the time it proves lies within the validity of
/// every certificate of the signing chain.
fn timestamped(token: &[u8], envelope: &Envelope, tsa_roots: &[Certificate]) -> Result<ProvenTime, String> {
    let time = timestamp::verify(token, &envelope.signature, tsa_roots)
        .map_err(|e| format!("the timestamp countersignature is not valid: {e}"))?;
    for (subject, not_before, not_after) in certs::validities(&envelope.chain)? {
        if time.earliest < not_before {
            return Err(format!(
                "the timestamp ({} ± accuracy) can be before certificate {subject:?} is valid (from {not_before})",
                time.earliest
            ));
        }
        if time.latest > not_after {
            return Err(format!(
                "the timestamp ({} ± accuracy) can be after certificate {subject:?} expired ({not_after})",
                time.latest
            ));
        }
    }
    Ok(time)
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
