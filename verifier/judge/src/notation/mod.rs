//! Notary Project (notation) signatures, judged: the envelopes (JWS and
//! COSE_Sign1), the OCI trust policy document, the named trust stores and
//! the verification of one image's signatures under the statement that
//! applies to it.
//!
//! Finding the signatures (OCI referrers whose artifact type or config media
//! type is [`SIGNATURE_ARTIFACT_TYPE`]) and reading the configuration
//! directory are the front end's job (`sigil_verifier::notation`); here
//! everything arrives as bytes and the time is a parameter.
//!
//! What sigil supports of the specifications, and where it chooses:
//! - RFC 3161 timestamp countersignatures are verified ([`timestamp`])
//!   when the policy names a `tsa` store and `verifyTimestamp` asks for it;
//!   the chain is then judged at the proven time instead of now.
//! - Revocation is offline: CRL files handed in ([`crl`]); no CRL or OCSP
//!   answer is ever fetched, and without CRL files the check is reported as
//!   not performed.
//! - The envelope's `x5c` chain need not end at the root: the path is built
//!   from the leaf through the chain's other certificates to a trust-store
//!   certificate.

mod certs;
mod cose;
pub mod crl;
pub mod envelope;
pub mod identity;
pub mod timestamp;
pub mod trustpolicy;
pub mod truststore;
mod verify;

pub use crl::{CrlError, Crls};
pub use envelope::{COSE_MEDIA_TYPE, Envelope, EnvelopeError, JWS_MEDIA_TYPE, PAYLOAD_CONTENT_TYPE};
pub use timestamp::ProvenTime;
pub use trustpolicy::{Action, Level, StoreRef, StoreType, TrustPolicy, TrustPolicyDocument, TrustPolicyError};
pub use truststore::{TrustStoreError, TrustStores};
pub use verify::{
    Check, CheckResult, ImageVerdict, SignatureInput, SignatureVerdict, Validation, judge, judge_with_crls,
};

/// The artifact type (or, in older signatures, the config media type) of a
/// Notary Project signature manifest.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";

#[cfg(test)]
mod tests;
