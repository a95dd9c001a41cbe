//! COSE_Sign1 envelopes (signature-envelope-cose.md).

use super::envelope::{Envelope, EnvelopeError};

pub(crate) fn parse(_bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    Err(EnvelopeError::Malformed {
        format: "COSE",
        reason: "not yet supported".into(),
    })
}
