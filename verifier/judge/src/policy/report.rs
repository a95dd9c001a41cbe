//! The answer for one image: allow or deny, the rule and exemptions that
//! applied, and every check with its result, a stable [`ReasonCode`] and a
//! reason a person understands. Serialised as the versioned JSON of
//! `docs/report-schema.md` (`apiVersion: sigil.dev/report/v1`) or rendered as
//! text.
//!
//! The codes of rejected evidence are derived here, in one place, from the
//! typed [`Rejection`] and [`BundleRejection`] variants (exhaustive matches,
//! so a new variant cannot go without a code).

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use super::model::{Mode, Waiver};
use crate::digest::Digest;
use crate::sigstore::{BundleRejection, CertificateError};
use crate::verify::Rejection;

/// The report format's version.
pub const REPORT_API_VERSION: &str = "sigil.dev/report/v1";

/// Defines [`ReasonCode`] with its text and the list of every code from one
/// table, so the list cannot miss a code.
macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, )*) => {
        /// Why a check came out as it did, as a stable kebab-case code (the
        /// `code` beside `reason` in JSON reports). Every check has one:
        /// passing and waived checks too. `docs/report-schema.md` says what
        /// each means and what to do about it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ReasonCode {
            $( $(#[$doc])* #[serde(rename = $text)] $variant, )*
        }

        impl ReasonCode {
            /// Every code, in the order `docs/report-schema.md` lists them.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant),*];

            /// The code as reports spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $text,)*
                }
            }
        }
    };
}

reason_codes! {
    /// The requirement holds.
    Satisfied = "satisfied",
    /// The rule requires no evidence and says `allowUnverified: true`.
    AllowUnverified = "allow-unverified",
    /// An unexpired exemption covers the requirement; it was not evaluated.
    Waived = "waived",
    /// No rule's patterns match the image.
    NoMatchingRule = "no-matching-rule",
    /// Two equally specific rules match the image.
    RuleTie = "rule-tie",
    /// The rule requires nothing and does not say `allowUnverified`.
    NoRequirements = "no-requirements",
    /// `allowUnverified` met an image matched only by the name its layout records.
    UnverifiedNotAllowed = "unverified-not-allowed",
    /// `anyOf`, `allOf`, `threshold.of` or `signedBy` lists no publishers.
    EmptyPublisherList = "empty-publisher-list",
    /// A threshold count below 1 or above the number of publishers.
    InvalidThreshold = "invalid-threshold",
    /// A requirement names a publisher the policy does not define.
    UnknownPublisher = "unknown-publisher",
    /// A publisher's identity requirements or private roots cannot be used.
    PublisherUnusable = "publisher-unusable",
    /// A publisher's trusted root cannot be used.
    TrustedRootUnusable = "trusted-root-unusable",
    /// The image has no signatures at all.
    NoSignatures = "no-signatures",
    /// Some publishers verified, but fewer distinct ones than the threshold.
    ThresholdNotMet = "threshold-not-met",
    /// No attestation of the predicate type was found to verify.
    NoVerifiedAttestation = "no-verified-attestation",
    /// A verified attestation fails the requirement's content checks.
    ContentCheckFailed = "content-check-failed",
    /// A signature does not verify with the publisher's key or certificate.
    SignatureInvalid = "signature-invalid",
    /// Signed with a key where a certificate is required, or the reverse.
    SignerKindMismatch = "signer-kind-mismatch",
    /// The certificate's identity, issuer or extensions are not the publisher's.
    IdentityMismatch = "identity-mismatch",
    /// A required signed annotation is missing or different.
    AnnotationMismatch = "annotation-mismatch",
    /// The signature or statement is about another image.
    DigestMismatch = "digest-mismatch",
    /// The DSSE payload type is not in-toto.
    PayloadTypeMismatch = "payload-type-mismatch",
    /// The signed statement has another predicate type.
    PredicateTypeMismatch = "predicate-type-mismatch",
    /// The certificate does not chain to a trusted certificate authority.
    CertificateUntrusted = "certificate-untrusted",
    /// The certificate expired before the proven signing time.
    CertificateExpired = "certificate-expired",
    /// The certificate was not yet valid at the proven signing time.
    CertificateNotYetValid = "certificate-not-yet-valid",
    /// The key was used outside the validity window the trusted root gives it.
    KeyNotValidAtTime = "key-not-valid-at-time",
    /// The evidence proves a signing time later than the evaluation time.
    SignedAfterEvaluation = "signed-after-evaluation",
    /// No signing time is proven (no verifiable log entry or timestamp).
    NoSigningTime = "no-signing-time",
    /// The transparency log entry, its proof or promise does not verify.
    TransparencyLogInvalid = "transparency-log-invalid",
    /// The log entry is from a log the trusted root does not list.
    UnknownLog = "unknown-log",
    /// A signed certificate timestamp is missing or invalid.
    SctInvalid = "sct-invalid",
    /// An RFC 3161 timestamp does not verify.
    TimestampInvalid = "timestamp-invalid",
    /// A Notary Project signature's `io.cncf.notary.expiry` has passed.
    SignatureExpired = "signature-expired",
    /// The evidence cannot be read as a signature or attestation.
    EvidenceMalformed = "evidence-malformed",
    /// Evidence of a form this publisher cannot vouch through.
    UnsupportedEvidence = "unsupported-evidence",
    /// Sigstore verification refused the evidence for another reason.
    VerificationFailed = "verification-failed",
    /// The image's evidence could not be gathered.
    EvidenceUnavailable = "evidence-unavailable",
    /// A `required` base image check found no base image.
    NoBaseImage = "no-base-image",
    /// A base image is named without a digest, or without a name.
    BaseImageUnidentified = "base-image-unidentified",
    /// A base image matches none of the `baseImage.images` patterns.
    BaseImageNotListed = "base-image-not-listed",
    /// A base image is not allowed by the policy (or its chain is too deep,
    /// a cycle, or its evidence could not be gathered).
    BaseImageDenied = "base-image-denied",
    /// The base image was never decided (only the decision pipeline
    /// decides base images; fails closed).
    BaseImageUndecided = "base-image-undecided",
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl ReasonCode {
    /// The code standing for several rejections: the most telling one,
    /// that is the one whose evidence got furthest through verification (a
    /// signature that verified but lacks an annotation says more than
    /// another key's signature), with problems of the policy itself first.
    /// `None` for no codes.
    pub fn most_telling(codes: impl IntoIterator<Item = ReasonCode>) -> Option<ReasonCode> {
        codes.into_iter().min_by_key(|c| c.precedence())
    }

    /// Lower is more telling (see [`ReasonCode::most_telling`]).
    fn precedence(self) -> u8 {
        use ReasonCode::*;
        match self {
            UnknownPublisher | PublisherUnusable | TrustedRootUnusable | EmptyPublisherList | InvalidThreshold => 0,
            AnnotationMismatch => 1,
            DigestMismatch => 2,
            PayloadTypeMismatch | PredicateTypeMismatch => 3,
            CertificateExpired
            | CertificateNotYetValid
            | KeyNotValidAtTime
            | SignedAfterEvaluation
            | SignatureExpired => 4,
            IdentityMismatch => 5,
            CertificateUntrusted
            | NoSigningTime
            | TransparencyLogInvalid
            | UnknownLog
            | SctInvalid
            | TimestampInvalid => 6,
            SignerKindMismatch => 7,
            SignatureInvalid => 8,
            UnsupportedEvidence | VerificationFailed => 9,
            EvidenceMalformed => 10,
            NoSignatures | NoVerifiedAttestation | ThresholdNotMet | ContentCheckFailed => 11,
            Satisfied | AllowUnverified | Waived | NoMatchingRule | RuleTie | NoRequirements | UnverifiedNotAllowed
            | EvidenceUnavailable => 12,
            NoBaseImage | BaseImageUnidentified | BaseImageNotListed | BaseImageDenied | BaseImageUndecided => 12,
        }
    }
}

impl From<&Rejection> for ReasonCode {
    fn from(rejection: &Rejection) -> ReasonCode {
        use ReasonCode as C;
        match rejection {
            Rejection::BadSignature(_) => C::SignatureInvalid,
            Rejection::WrongImage { .. } | Rejection::Subject { .. } => C::DigestMismatch,
            Rejection::Annotation { .. } => C::AnnotationMismatch,
            Rejection::PayloadType(_) => C::PayloadTypeMismatch,
            Rejection::PredicateType { .. } | Rejection::ClaimedType { .. } => C::PredicateTypeMismatch,
            Rejection::NoCertificate => C::SignerKindMismatch,
            Rejection::MessageSignature | Rejection::CertificateBundle | Rejection::NotationOnly => {
                C::UnsupportedEvidence
            }
            Rejection::Notation { failure, .. } => {
                use crate::verify::NotationFailure as F;
                match failure {
                    F::Malformed => C::EvidenceMalformed,
                    F::Signature => C::SignatureInvalid,
                    F::OtherImage => C::DigestMismatch,
                    F::Untrusted => C::CertificateUntrusted,
                    F::Identity => C::IdentityMismatch,
                    F::Expired => C::SignatureExpired,
                    F::CertificateValidity => C::CertificateExpired,
                    F::Timestamp => C::TimestampInvalid,
                }
            }
            Rejection::SignatureEncoding
            | Rejection::Payload(_)
            | Rejection::Unsigned
            | Rejection::Bundle(_)
            | Rejection::Envelope(_)
            | Rejection::Statement(_)
            | Rejection::SignatureCount(_)
            | Rejection::Unreadable(_) => C::EvidenceMalformed,
            Rejection::Sigstore(b) => C::from(b),
        }
    }
}

impl From<&BundleRejection> for ReasonCode {
    fn from(rejection: &BundleRejection) -> ReasonCode {
        use ReasonCode as C;
        match rejection {
            BundleRejection::Malformed(_) | BundleRejection::InvalidBundle { .. } => C::EvidenceMalformed,
            BundleRejection::TrustedRoot(_) => C::TrustedRootUnusable,
            BundleRejection::Policy(_) => C::PublisherUnusable,
            BundleRejection::SignerKind { .. } => C::SignerKindMismatch,
            BundleRejection::Certificate(CertificateError::Chain { .. }) | BundleRejection::Chain { .. } => {
                C::CertificateUntrusted
            }
            BundleRejection::Certificate(CertificateError::Pem { .. } | CertificateError::Der { .. }) => {
                C::EvidenceMalformed
            }
            BundleRejection::Identity { .. } | BundleRejection::Issuer { .. } | BundleRejection::Extension { .. } => {
                C::IdentityMismatch
            }
            BundleRejection::CertificateValidity { expired: true, .. } => C::CertificateExpired,
            BundleRejection::CertificateValidity { expired: false, .. } => C::CertificateNotYetValid,
            BundleRejection::Sct { .. } => C::SctInvalid,
            BundleRejection::UnknownLog { .. } => C::UnknownLog,
            BundleRejection::TransparencyLog { .. } => C::TransparencyLogInvalid,
            BundleRejection::NoSigningTime => C::NoSigningTime,
            BundleRejection::Timestamp { .. } => C::TimestampInvalid,
            BundleRejection::Signature { .. } => C::SignatureInvalid,
            BundleRejection::ArtifactMismatch { .. } => C::DigestMismatch,
            BundleRejection::KeyValidity { .. } => C::KeyNotValidAtTime,
            BundleRejection::SignedAfterEvaluation { .. } => C::SignedAfterEvaluation,
            BundleRejection::PredicateType { .. } => C::PredicateTypeMismatch,
            BundleRejection::Other { .. } => C::VerificationFailed,
        }
    }
}

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Pass,
    Fail,
    /// Not evaluated because an exemption waives it.
    Waived,
}

/// One check and why it came out as it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// `signatures`, `attestation`, `rule` or `evidence`.
    pub kind: &'static str,
    /// What was required (`anyOf [a, b]`, a predicate type, ...).
    pub requirement: String,
    pub result: CheckResult,
    /// Why, as a stable code.
    pub code: ReasonCode,
    /// Why, in a sentence.
    pub reason: String,
    /// Per-evidence details: what verified, what was rejected and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// An exemption that matched the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptionUse {
    /// 1-based position in the policy's `exemptions`.
    pub index: usize,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    /// Expired exemptions are listed but ignored.
    pub expired: bool,
    pub waive: Waiver,
}

/// The decision for one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The image as the user named it.
    pub image: String,
    /// The name rules were matched against (normalised repository, tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    pub decision: Decision,
    /// Set when the image could not be evaluated: denied unless a `warn` or
    /// `audit` rule matched its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rule: Option<String>,
    pub mode: Option<Mode>,
    pub exemptions: Vec<ExemptionUse>,
    /// The policy file's sha256.
    pub policy_digest: Digest,
    /// The evaluation time (RFC 3339).
    pub evaluated_at: String,
    /// How the image was named and matched, where that is not obvious: a
    /// tag ignored beside a digest, a layout's recorded name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub checks: Vec<Check>,
    /// The layer digests of the attestations that counted (a verification
    /// summary's `inputAttestations`); not part of the report's JSON.
    #[serde(skip)]
    pub inputs: Vec<Digest>,
    /// The base images a `baseImage` requirement held to the policy, each
    /// with the decision about it.
    #[serde(rename = "baseImages", skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<BaseDecision>,
    /// Bases the `baseImage` check waits on: the decision pipeline decides
    /// each and calls [`super::Policy::complete_bases`]. Until then the
    /// check fails (`base-image-undecided`).
    #[serde(skip)]
    pub pending_bases: Vec<PendingBase>,
}

/// A base image to decide, by its canonical reference pinned to its digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingBase {
    /// `REPOSITORY@sha256:...`.
    pub reference: String,
    pub digest: Digest,
    /// `annotation` or `provenance`.
    pub source: &'static str,
}

/// The decision about one base image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseDecision {
    /// `REPOSITORY@sha256:...`.
    pub image: String,
    /// `annotation` or `provenance`.
    pub source: &'static str,
    pub allowed: bool,
    /// The rule that decided it, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Why it was allowed or denied.
    pub reason: String,
    /// Its own bases, as decided.
    #[serde(rename = "baseImages", skip_serializing_if = "Vec::is_empty")]
    pub bases: Vec<BaseDecision>,
}

/// Human output shows at most this many details under a failed check.
const HUMAN_DETAILS: usize = 5;

impl Report {
    /// True when some check failed (whatever the mode decided).
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.result == CheckResult::Fail)
    }

    /// The codes of the failed checks, in check order.
    pub fn failure_codes(&self) -> impl Iterator<Item = ReasonCode> + '_ {
        self.checks
            .iter()
            .filter(|c| c.result == CheckResult::Fail)
            .map(|c| c.code)
    }

    /// Text for people: a verdict line, then one line per check; a failed
    /// check is followed by its code and why each piece of evidence did not
    /// count (the first few; the JSON report has them all).
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let verdict = match (self.decision, self.error.is_some()) {
            (_, true) => "ERROR",
            (Decision::Allow, _) if self.has_failures() && self.mode == Some(Mode::Warn) => "WARN ",
            (Decision::Allow, _) => "ALLOW",
            (Decision::Deny, _) => "DENY ",
        };
        let digest = self.digest.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
        let rule = match (&self.rule, self.mode) {
            (Some(r), Some(m)) => format!(" rule {r}, {m}"),
            _ => " no rule".to_owned(),
        };
        let _ = writeln!(out, "{verdict}  {}{digest}:{rule}", self.image);
        if let Some(e) = &self.error {
            let _ = writeln!(out, "       error  {e}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "       note   {n}");
        }
        for e in &self.exemptions {
            let state = if e.expired { "expired, ignored" } else { "applied" };
            let _ = writeln!(
                out,
                "       exemption {} ({state}, owner {}, until {}): {}",
                e.index, e.owner, e.expires, e.reason
            );
        }
        for c in &self.checks {
            let word = match c.result {
                CheckResult::Pass => "pass  ",
                CheckResult::Fail if self.mode == Some(Mode::Warn) => "warn  ",
                CheckResult::Fail if self.mode == Some(Mode::Audit) => "audit ",
                CheckResult::Fail => "fail  ",
                CheckResult::Waived => "waived",
            };
            if c.result != CheckResult::Fail {
                let _ = writeln!(out, "       {word} {} {}: {}", c.kind, c.requirement, c.reason);
                continue;
            }
            let _ = writeln!(
                out,
                "       {word} {} {}: {} [{}]",
                c.kind, c.requirement, c.reason, c.code
            );
            for d in c.details.iter().take(HUMAN_DETAILS) {
                let _ = writeln!(out, "              {}", abbreviate_digests(d));
            }
            if c.details.len() > HUMAN_DETAILS {
                let _ = writeln!(
                    out,
                    "              ... and {} more (--output json lists every one)",
                    c.details.len() - HUMAN_DETAILS
                );
            }
        }
        out
    }

    /// The JSON of one image (see `docs/report-schema.md`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// `text` with each full sha256 digest (`sha256:HEX`, or `sha256-HEX` in a
/// cosign tag) cut to its first 12 hex digits and an ellipsis (the JSON
/// report keeps them whole).
fn abbreviate_digests(text: &str) -> String {
    const ALGORITHM: &str = "sha256";
    const HEX: usize = 64;
    const KEPT: usize = 12;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(ALGORITHM) {
        let (before, from) = rest.split_at(at + ALGORITHM.len());
        out.push_str(before);
        rest = from;
        let Some(hex) = from.strip_prefix([':', '-']) else {
            continue;
        };
        if hex.bytes().take_while(u8::is_ascii_hexdigit).count() == HEX {
            out.push_str(&from[..1]);
            out.push_str(&hex[..KEPT]);
            out.push('…');
            rest = &hex[HEX..];
        }
    }
    out.push_str(rest);
    out
}

/// The JSON document for a run over many images.
pub fn reports_json(reports: &[Report], policy_file: &str, policy_digest: &Digest) -> serde_json::Value {
    let count = |d: Decision| reports.iter().filter(|r| r.decision == d).count();
    serde_json::json!({
        "apiVersion": REPORT_API_VERSION,
        "policy": {"file": policy_file, "digest": policy_digest},
        "summary": {
            "images": reports.len(),
            "allowed": count(Decision::Allow),
            "denied": count(Decision::Deny),
            "errors": reports.iter().filter(|r| r.error.is_some()).count(),
        },
        "images": reports.iter().map(Report::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::abbreviate_digests;

    #[test]
    fn full_digests_are_cut_short_and_nothing_else_is() {
        let hex = "0123456789abcdef".repeat(4);
        assert_eq!(
            abbreviate_digests(&format!("tag sha256-{hex}.sig layer sha256:{hex}: bad")),
            "tag sha256-0123456789ab….sig layer sha256:0123456789ab…: bad"
        );
        // twins: a short or an overlong run of hex, another algorithm, no separator
        for text in [
            "sha256:abc".to_owned(),
            format!("sha256:{hex}0"),
            format!("sha512:{hex}"),
            format!("sha256{hex}"),
            "sha256".to_owned(),
        ] {
            assert_eq!(abbreviate_digests(&text), text);
        }
    }
}
