//! Keyless and Sigstore-bundle verification, fully offline (DESIGN §3.3,
//! §3.5): what the public Sigstore ecosystem signs, judged against a
//! `trusted_root.json` and an identity policy, never against the network and
//! never at "now" when the evidence proves a signing time.
//!
//! The cryptographic core (certificate chain to a Fulcio CA at the signing
//! time, SCTs, signed entry timestamps, inclusion proofs and checkpoints,
//! RFC 3161 timestamps, the log entry's consistency with the bundle) is
//! sigstore-rust's audited `sigstore-verify`, on the aws-lc-rs backend.
//! This module adds what it lacks and what sigil needs around it:
//!
//! - [`TrustedRoot`]: every `trusted_root.json` media type, the embedded
//!   public-good root, a content identity for caching;
//! - [`IdentityPolicy`]: SAN (email, URI, otherName) and issuer, exact or
//!   anchored regexp, and any Fulcio extension by its DESIGN §4.1 name;
//! - key-validity windows for key-signed bundles;
//! - cosign v2 image signatures (certificate, chain and Rekor bundle
//!   annotations) and certificates from a private PKI;
//! - a memo of verification results, so an admission controller that sees the
//!   same evidence again pays for parsing, not for five signature checks
//!   (only outcomes no evaluation time could change are kept: `memo.rs`);
//! - [`Verified`] results and [`BundleRejection`] reasons a person can read.

mod certificate;
mod cosign_v2;
mod error;
mod identity;
mod memo;
mod trust;
mod verify;

#[cfg(test)]
mod case_tests;
#[cfg(test)]
mod eku_tests;
#[cfg(test)]
mod forgery_tests;
#[cfg(test)]
mod intoto_v1_tests;
#[cfg(test)]
mod pki_tests;
#[cfg(test)]
mod subject_tests;
#[cfg(test)]
mod time_tests;

pub use certificate::{Certificate, CertificateError, CertificateIdentity, SubjectName};
pub use cosign_v2::{LayerCertificate, LayerContent, verify_certificate_signature, verify_cosign_v2_layer};
pub use error::{BundleRejection, TimeBasis};
pub use identity::{EXTENSIONS, Encoding, Extension, IdentityPolicy, Matcher, PolicyError, extension};
pub use memo::set_enabled as set_memo_enabled;
pub use trust::{RootSummary, TrustedRoot, TrustedRootError, public_good_json};
pub use verify::verify_bundle;

use time::OffsetDateTime;

use crate::digest::Digest;
use crate::keys::PublicKey;
#[allow(unused_imports, reason = "named in the docs of this module")]
use crate::verify::Verified;

/// What a bundle is checked against: the artifact's bytes or its digest.
///
/// For a DSSE bundle the artifact must be a subject of the in-toto statement;
/// for a message signature it is the signed message.
#[derive(Clone, Debug)]
pub enum Artifact<'a> {
    /// The artifact itself.
    Bytes(&'a [u8]),
    /// Only its digest (sha256 or sha512).
    Digest(Digest),
}

/// Who must have made the signature.
#[derive(Clone, Debug)]
pub enum Signatory {
    /// A public key (`--key`): the bundle carries a key hint, no certificate.
    /// With `valid_for`, every signing time proven by the bundle's log entry
    /// or timestamp must fall inside that window; when the bundle proves
    /// none, the evaluation time must.
    Key {
        /// The trusted key.
        key: PublicKey,
        /// When the key may sign; `None` is unbounded.
        valid_for: Option<TimeWindow>,
    },
    /// A keyless (Fulcio) identity.
    Identity(IdentityPolicy),
}

impl Signatory {
    /// A key trusted at any time.
    pub fn key(key: PublicKey) -> Signatory {
        Signatory::Key { key, valid_for: None }
    }
}

/// A closed-open validity window (`end` excluded; `None` is open-ended).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    /// First instant of validity.
    pub start: OffsetDateTime,
    /// First instant of invalidity, if any.
    pub end: Option<OffsetDateTime>,
}

impl TimeWindow {
    /// Whether `t` lies inside the window.
    pub fn contains(&self, t: OffsetDateTime) -> bool {
        t >= self.start && self.end.is_none_or(|end| t < end)
    }
}

/// What was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignedContent {
    /// A DSSE envelope: its payload type and verified payload bytes. The
    /// caller checks the statement (predicate type, subjects) it needs.
    Dsse {
        /// The envelope's `payloadType`.
        payload_type: String,
        /// The verified payload.
        payload: Vec<u8>,
    },
    /// A signature over a message, named by its digest.
    Message {
        /// The digest of the signed artifact.
        digest: Digest,
    },
}

/// Who signed, as far as the evidence shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleSigner {
    /// The trusted key, by the hex sha256 of its SPKI DER.
    Key {
        /// Key fingerprint.
        fingerprint: String,
    },
    /// A certificate identity that passed the policy.
    Certificate(CertificateIdentity),
}

/// A transparency-log entry that counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntryUsed {
    /// Hex of the log's key id (sha256 of its public key).
    pub log_id: String,
    /// Index of the entry in the log.
    pub log_index: u64,
    /// `kind version` of the entry, e.g. `hashedrekord 0.0.1`.
    pub kind: String,
    /// The log's integrated time, when the entry has one (Rekor v1).
    pub integrated_time: Option<OffsetDateTime>,
    /// Whether an inclusion proof (with checkpoint) was verified.
    pub inclusion_proof: bool,
    /// Whether a signed entry timestamp was verified.
    pub inclusion_promise: bool,
}

/// A verified Sigstore bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleClaims {
    /// What was signed.
    pub content: SignedContent,
    /// The earliest signing time the evidence proves (log integrated time or
    /// RFC 3161 timestamp); `None` for a key-signed bundle without either.
    pub signing_time: Option<OffsetDateTime>,
    /// Who signed.
    pub signer: BundleSigner,
    /// Log entries that were verified.
    pub log_entries: Vec<LogEntryUsed>,
    /// How many RFC 3161 timestamps were verified.
    pub timestamps: usize,
}

impl BundleClaims {
    /// Requires the verified content to be an in-toto statement (DSSE) of
    /// `expected` (a predicate type URI, compared exactly): the check a
    /// caller asking for one kind of attestation must make.
    pub fn require_predicate_type(&self, expected: &str) -> Result<(), BundleRejection> {
        let found = match &self.content {
            SignedContent::Dsse { payload_type, payload } if payload_type == crate::dsse::IN_TOTO_PAYLOAD_TYPE => {
                match crate::intoto::Statement::parse(payload) {
                    Ok(statement) if statement.predicate_type == expected => return Ok(()),
                    Ok(statement) => format!("an in-toto statement of predicate type {}", statement.predicate_type),
                    Err(e) => format!("an unreadable in-toto statement ({e})"),
                }
            }
            SignedContent::Dsse { payload_type, .. } => format!("a DSSE payload of type {payload_type}"),
            SignedContent::Message { .. } => "a message signature, not an attestation".to_owned(),
        };
        Err(BundleRejection::PredicateType {
            expected: expected.to_owned(),
            found,
        })
    }
}

/// A verified certificate-based signature (cosign v2 `.sig` and `.att`
/// layers, keyless or from a private PKI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateClaims {
    /// The certificate's identity, which passed the policy.
    pub identity: CertificateIdentity,
    /// The signing time proven by a log entry, if there was one.
    pub signing_time: Option<OffsetDateTime>,
    /// The log entry that proved it.
    pub log_entry: Option<LogEntryUsed>,
    /// What was signed: the simple-signing payload's digest, or the DSSE
    /// payload for the caller to check.
    pub content: SignedContent,
}

/// Converts a jiff timestamp (sigstore-rust's clock type) to sigil's.
pub(crate) fn to_offset(t: jiff::Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(t.as_nanosecond()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The evaluation time of the tests that do not turn on time: after every
/// signing time of the shared cases and of the test instance.
#[cfg(test)]
pub(crate) const TEST_NOW: OffsetDateTime = time::macros::datetime!(2026-10-01 0:00 UTC);

#[cfg(test)]
mod predicate_type_tests {
    use super::*;

    fn claims(content: SignedContent) -> BundleClaims {
        BundleClaims {
            content,
            signing_time: None,
            signer: BundleSigner::Key {
                fingerprint: "f".into(),
            },
            log_entries: Vec::new(),
            timestamps: 0,
        }
    }

    fn dsse(payload_type: &str, payload: &[u8]) -> BundleClaims {
        claims(SignedContent::Dsse {
            payload_type: payload_type.into(),
            payload: payload.to_vec(),
        })
    }

    #[test]
    fn only_a_statement_of_exactly_the_type_asked_passes() {
        let statement = crate::intoto::Statement::encode_raw(
            "app.tar.gz",
            &Digest::sha256_of(b"x"),
            "https://cyclonedx.org/bom",
            b"{}",
        );
        let intoto = crate::dsse::IN_TOTO_PAYLOAD_TYPE;
        assert_eq!(
            dsse(intoto, &statement).require_predicate_type("https://cyclonedx.org/bom"),
            Ok(())
        );
        let found = |c: BundleClaims, expected: &str| match c.require_predicate_type(expected) {
            Err(BundleRejection::PredicateType { found, .. }) => found,
            other => panic!("expected a predicate-type rejection, got {other:?}"),
        };
        assert_eq!(
            found(dsse(intoto, &statement), "https://cyclonedx.org/bom/"),
            "an in-toto statement of predicate type https://cyclonedx.org/bom"
        );
        assert_eq!(
            found(dsse("application/json", &statement), "https://cyclonedx.org/bom"),
            "a DSSE payload of type application/json"
        );
        assert!(found(dsse(intoto, b"not json"), "https://cyclonedx.org/bom").starts_with("an unreadable"));
        assert_eq!(
            found(
                claims(SignedContent::Message {
                    digest: Digest::sha256_of(b"x")
                }),
                "https://cyclonedx.org/bom"
            ),
            "a message signature, not an attestation"
        );
    }
}
