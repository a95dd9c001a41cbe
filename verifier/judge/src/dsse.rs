//! DSSE envelopes and their pre-authentication encoding (PAE).
//!
//! The signature covers `PAE(payloadType, payload)`, never the JSON, so the
//! envelope's formatting does not matter; the payload bytes and type do.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope as it appears on the wire. Unknown and duplicate members
/// are refused: an envelope must read one way only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    pub payload_type: String,
    /// Base64 (standard) of the payload bytes.
    pub payload: String,
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature in an envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSignature {
    #[serde(default)]
    pub keyid: String,
    /// Base64 (standard) of the signature.
    pub sig: String,
}

/// Why an envelope could not be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("DSSE envelope is not valid JSON: {0}")]
    Json(String),
    #[error("DSSE envelope's {0} is not valid base64")]
    Base64(&'static str),
}

/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let head = pae_head(payload_type, payload.len());
    let mut out = Vec::with_capacity(head.len() + payload.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(payload);
    out
}

/// The PAE up to the body: verifiers hash it and then the body, no copy.
pub fn pae_head(payload_type: &str, payload_len: usize) -> String {
    format!("DSSEv1 {} {payload_type} {payload_len} ", payload_type.len())
}

/// An envelope read without copying its (possibly huge) payload text, as
/// strictly as [`Envelope`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvelopeView<'a> {
    #[serde(borrow)]
    pub payload_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub payload: std::borrow::Cow<'a, str>,
    #[serde(default)]
    pub signatures: Vec<EnvelopeSignature>,
}

impl<'a> EnvelopeView<'a> {
    /// Parses envelope JSON, borrowing from `bytes` where it can.
    pub fn parse(bytes: &'a [u8]) -> Result<EnvelopeView<'a>, EnvelopeError> {
        serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Json(e.to_string()))
    }
}

impl<'a> From<&'a Envelope> for EnvelopeView<'a> {
    fn from(e: &'a Envelope) -> Self {
        EnvelopeView {
            payload_type: std::borrow::Cow::Borrowed(&e.payload_type),
            payload: std::borrow::Cow::Borrowed(&e.payload),
            signatures: e.signatures.clone(),
        }
    }
}

impl Envelope {
    /// Parses envelope JSON.
    pub fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
        serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Json(e.to_string()))
    }

    /// A new envelope with one signature.
    pub fn new(payload_type: &str, payload: &[u8], signature: &[u8]) -> Envelope {
        Envelope {
            payload_type: payload_type.to_owned(),
            payload: STANDARD.encode(payload),
            signatures: vec![EnvelopeSignature {
                keyid: String::new(),
                sig: STANDARD.encode(signature),
            }],
        }
    }

    /// The decoded payload bytes.
    pub fn payload_bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        decode(&self.payload).ok_or(EnvelopeError::Base64("payload"))
    }

    /// The bytes each signature covers.
    pub fn signed_bytes(&self) -> Result<Vec<u8>, EnvelopeError> {
        Ok(pae(&self.payload_type, &self.payload_bytes()?))
    }

    pub fn to_json(&self) -> Vec<u8> {
        crate::oci::to_bytes(self)
    }
}

/// The JSON of a one-signature envelope, written straight into one buffer
/// (the payload may be tens of megabytes).
pub fn envelope_json(payload_type: &str, payload: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut out = String::with_capacity(payload.len() / 3 * 4 + 256);
    write_envelope_json(&mut out, payload_type, payload, signature);
    out.into_bytes()
}

/// Appends [`envelope_json`]'s JSON to `out` (a bundle embeds it).
pub fn write_envelope_json(out: &mut String, payload_type: &str, payload: &[u8], signature: &[u8]) {
    out.reserve(payload.len() / 3 * 4 + 256);
    out.push_str(r#"{"payloadType":"#);
    crate::json::go_string(out, payload_type);
    out.push_str(r#","payload":""#);
    STANDARD.encode_string(payload, out);
    out.push_str(r#"","signatures":[{"keyid":"","sig":""#);
    STANDARD.encode_string(signature, out);
    out.push_str(r#""}]}"#);
}

/// Decodes standard base64, also accepting the URL-safe alphabet that some
/// DSSE producers use (the spec allows either).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
        .or_else(|_| URL_SAFE.decode(text))
        .or_else(|_| URL_SAFE_NO_PAD.decode(text))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_known_answer() {
        let expected = crate::testdata::read("dsse/pae.bin");
        assert_eq!(pae("http://example.com/HelloWorld", b"hello world"), expected);
        assert_ne!(pae("http://example.com/HelloWorle", b"hello world"), expected);
    }

    #[test]
    fn envelope_round_trip_and_errors() {
        let e = Envelope::new(IN_TOTO_PAYLOAD_TYPE, b"{}", b"sig");
        let back = Envelope::parse(&e.to_json()).expect("parses");
        assert_eq!(back, e);
        assert_eq!(back.payload_bytes().expect("b64"), b"{}");
        assert!(matches!(Envelope::parse(b"{"), Err(EnvelopeError::Json(_))));
        let bad = Envelope {
            payload: "!!".into(),
            ..e
        };
        assert_eq!(bad.payload_bytes(), Err(EnvelopeError::Base64("payload")));
    }
}
