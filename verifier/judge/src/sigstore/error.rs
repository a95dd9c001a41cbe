//! Why a Sigstore bundle or keyless signature does not count, in words a
//! person understands, with the facts (expected, found, times) as fields.
//!
//! sigstore-rust's errors are mapped here once, so the rest of sigil never
//! sees them. [`BundleRejection::is_bad_input`] separates input that could
//! not be judged at all (exit 2) from evidence that was judged and failed
//! (exit 1).

use time::OffsetDateTime;

use super::certificate::CertificateError;
use super::identity::PolicyError;
use super::to_offset;
use super::trust::TrustedRootError;

/// Why a bundle (or a cosign v2 keyless signature) was not verified.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum BundleRejection {
    /// The bytes are not a Sigstore bundle sigil reads (not judged: exit 2).
    #[error("{0}")]
    Malformed(#[from] crate::bundle::BundleError),
    /// A trusted root that cannot be used (not judged: exit 2).
    #[error("{0}")]
    TrustedRoot(#[from] TrustedRootError),
    /// An identity policy that cannot be built (not judged: exit 2).
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// The bundle is signed by a certificate and a key was given, or the reverse.
    #[error("the bundle is signed with {found}, but {expected} was required")]
    SignerKind {
        /// What the caller trusts.
        expected: &'static str,
        /// What the bundle holds.
        found: &'static str,
    },
    /// The bundle is structurally valid JSON but breaks the bundle rules.
    #[error("invalid Sigstore bundle: {reason}")]
    InvalidBundle {
        /// What rule it breaks.
        reason: String,
    },
    /// The signing certificate cannot be read.
    #[error("signing certificate: {0}")]
    Certificate(CertificateError),
    /// No SAN matches the policy.
    #[error("certificate identity {} is not {expected}", if found.is_empty() { "(none)".to_owned() } else { found.join(", ") })]
    Identity {
        /// The policy's subject requirement.
        expected: String,
        /// Every SAN of the certificate.
        found: Vec<String>,
    },
    /// The OIDC issuer does not match.
    #[error("certificate OIDC issuer {} is not {expected}", found.as_deref().unwrap_or("(none)"))]
    Issuer {
        /// The policy's issuer requirement.
        expected: String,
        /// The certificate's issuer, if any.
        found: Option<String>,
    },
    /// A required Fulcio extension is missing or different.
    #[error("certificate extension {name} is {}, not {expected}", found.as_deref().unwrap_or("absent"))]
    Extension {
        /// The extension's name.
        name: String,
        /// The requirement.
        expected: String,
        /// Its value, if present.
        found: Option<String>,
    },
    /// The certificate does not chain to a trusted CA valid at the signing time.
    #[error("certificate does not chain to a certificate authority in the trusted root: {reason}")]
    Chain {
        /// The chain builder's reason.
        reason: String,
    },
    /// The certificate was not valid at the signing time (or, when the
    /// evidence proves none, at the evaluation time).
    #[error("{}", validity_message(*signed_at, *bound, *expired, *basis))]
    CertificateValidity {
        /// The time it was judged at: see `basis`.
        signed_at: OffsetDateTime,
        /// Where that time comes from.
        basis: TimeBasis,
        /// `not_after` when expired, else `not_before`.
        bound: OffsetDateTime,
        /// Expired (true) or not yet valid (false).
        expired: bool,
    },
    /// A signed certificate timestamp is missing or invalid.
    #[error("certificate transparency: {reason}")]
    Sct {
        /// What failed.
        reason: String,
    },
    /// No log entry from a log the root trusts.
    #[error("no transparency log entry from a log in the trusted root ({reason})")]
    UnknownLog {
        /// Details.
        reason: String,
    },
    /// The log entry, its proof or promise does not verify.
    #[error("transparency log entry does not verify: {reason}")]
    TransparencyLog {
        /// What failed.
        reason: String,
    },
    /// No signing time could be proven.
    #[error("the bundle proves no signing time: it has no verifiable transparency log entry or RFC 3161 timestamp")]
    NoSigningTime,
    /// An RFC 3161 timestamp does not verify.
    #[error("RFC 3161 timestamp does not verify: {reason}")]
    Timestamp {
        /// What failed.
        reason: String,
    },
    /// The signature does not verify.
    #[error("signature does not verify: {reason}")]
    Signature {
        /// Details.
        reason: String,
    },
    /// The artifact is not what was signed.
    #[error("the artifact is not what the bundle signs: {reason}")]
    ArtifactMismatch {
        /// Details.
        reason: String,
    },
    /// The key was used outside its validity window.
    #[error("the key was trusted from {start} to {}, but {}", end.map_or("(open)".to_owned(), |e| e.to_string()), basis.describe(*signed_at))]
    KeyValidity {
        /// The time it was judged at: see `basis`.
        signed_at: OffsetDateTime,
        /// Where that time comes from.
        basis: TimeBasis,
        /// Window start.
        start: OffsetDateTime,
        /// Window end.
        end: Option<OffsetDateTime>,
    },
    /// The evidence proves a signing time after the evaluation time.
    #[error("the bundle proves signing at {signed_at}, after the evaluation time {now}")]
    SignedAfterEvaluation {
        /// The proven signing time.
        signed_at: OffsetDateTime,
        /// The evaluation time.
        now: OffsetDateTime,
    },
    /// The bundle is not an attestation of the predicate type the caller
    /// asked for (DESIGN §3.2: GHSA-w6c6-c85g-mmv6).
    #[error("the bundle holds {found}, but predicate type {expected} was required")]
    PredicateType {
        /// The predicate type URI asked for.
        expected: String,
        /// What the bundle holds instead.
        found: String,
    },
    /// Anything else sigstore-rust refused.
    #[error("bundle does not verify: {reason}")]
    Other {
        /// sigstore-rust's description.
        reason: String,
    },
}

impl BundleRejection {
    /// True when the input could not be judged at all (exit 2), false when
    /// it was judged and failed (exit 1).
    pub fn is_bad_input(&self) -> bool {
        // An ambiguous bundle was read and refused as evidence: exit 1.
        matches!(
            self,
            BundleRejection::Malformed(e) if !matches!(e, crate::bundle::BundleError::Ambiguous(_))
        ) || matches!(self, BundleRejection::TrustedRoot(_) | BundleRejection::Policy(_))
    }
}

/// Where the time a validity window was judged at comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeBasis {
    /// A signing time the evidence proves (log entry or RFC 3161 timestamp).
    Proven,
    /// The caller's evaluation time, because the evidence proves no signing
    /// time: the same evidence can pass at one time and fail at another.
    Evaluation,
}

impl TimeBasis {
    fn describe(self, at: OffsetDateTime) -> String {
        match self {
            TimeBasis::Proven => format!("the bundle proves signing at {at}"),
            TimeBasis::Evaluation => format!("the bundle proves no signing time and the evaluation time is {at}"),
        }
    }
}

fn validity_message(at: OffsetDateTime, bound: OffsetDateTime, expired: bool, basis: TimeBasis) -> String {
    let when = match basis {
        TimeBasis::Proven => "the signing time",
        TimeBasis::Evaluation => "the evaluation time (the evidence proves no signing time)",
    };
    if expired {
        format!("certificate expired before {when} {at} (not after {bound})")
    } else {
        format!("certificate was not yet valid at {when} {at} (not before {bound})")
    }
}

impl From<sigstore_verify::Error> for BundleRejection {
    fn from(e: sigstore_verify::Error) -> BundleRejection {
        use sigstore_verify::{CertificateError as C, Error as E, TransparencyLogError as T};
        match e {
            E::Certificate(c) => match c {
                C::NotYetValid { time, not_before } => BundleRejection::CertificateValidity {
                    signed_at: to_offset(time),
                    basis: TimeBasis::Proven,
                    bound: to_offset(not_before),
                    expired: false,
                },
                C::Expired { time, not_after } => BundleRejection::CertificateValidity {
                    signed_at: to_offset(time),
                    basis: TimeBasis::Proven,
                    bound: to_offset(not_after),
                    expired: true,
                },
                C::Sct(reason) => BundleRejection::Sct { reason },
                other => BundleRejection::Chain {
                    reason: other.to_string(),
                },
            },
            E::TransparencyLog(t) => match t {
                T::UnknownLog { .. } => BundleRejection::UnknownLog { reason: t.to_string() },
                other => BundleRejection::TransparencyLog {
                    reason: other.to_string(),
                },
            },
            E::Timestamp(t) => BundleRejection::Timestamp { reason: t.to_string() },
            E::SignatureInvalid(reason) => BundleRejection::Signature { reason },
            E::ArtifactMismatch(reason) => BundleRejection::ArtifactMismatch { reason },
            E::InvalidBundle(reason) | E::UnsupportedBundle(reason) => BundleRejection::InvalidBundle { reason },
            E::Bundle(b) => BundleRejection::InvalidBundle { reason: b.to_string() },
            other => BundleRejection::Other {
                reason: other.to_string(),
            },
        }
    }
}
