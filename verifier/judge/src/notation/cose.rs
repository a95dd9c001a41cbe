//! COSE_Sign1 envelopes (signature-envelope-cose.md), read with `coset`.
//!
//! The envelope must be `COSE_Sign1_Tagged` with an embedded payload. The
//! protected header carries `alg` (label 1), `crit` (2), the content type
//! (3) and the `io.cncf.notary.*` attributes, times as tag-1 epoch
//! integers; the unprotected header carries `x5chain` (33) and the optional
//! timestamp countersignature. The signature covers the COSE
//! `Sig_structure` of the protected header's original bytes.

use ciborium::value::Value;
use coset::{CoseSign1, Label, RegisteredLabel, RegisteredLabelWithPrivate, TaggedCborSerializable as _};
use time::OffsetDateTime;

use super::envelope::{
    self, Algorithm, Critical, Envelope, EnvelopeError, Format, MAX_CHAIN, PAYLOAD_CONTENT_TYPE, SigningScheme,
};
use crate::sigstore::Certificate;

const X5CHAIN: i64 = 33;

fn bad(reason: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed {
        format: "COSE",
        reason: reason.into(),
    }
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    let sign1 = CoseSign1::from_tagged_slice(bytes).map_err(|e| bad(format!("not a COSE_Sign1_Tagged: {e}")))?;
    let header = &sign1.protected.header;
    let algorithm = match &header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(a)) => {
            Algorithm::from_cose(*a as i64).ok_or_else(|| bad(format!("unsupported alg {a:?}")))?
        }
        Some(other) => return Err(bad(format!("unsupported alg {other:?}"))),
        None => return Err(bad("protected header has no alg")),
    };
    match &header.content_type {
        Some(RegisteredLabel::Text(cty)) if cty == PAYLOAD_CONTENT_TYPE => {}
        other => return Err(bad(format!("unsupported content type {other:?}"))),
    }
    let attribute = |name: &str| -> Option<&Value> {
        header
            .rest
            .iter()
            .find(|(label, _)| matches!(label, Label::Text(t) if t == name))
            .map(|(_, v)| v)
    };
    let scheme = match attribute("io.cncf.notary.signingScheme") {
        Some(Value::Text(text)) => match text.as_str() {
            "notary.x509" => SigningScheme::X509,
            "notary.x509.signingAuthority" => SigningScheme::SigningAuthority,
            other => return Err(bad(format!("unknown signing scheme {other:?}"))),
        },
        Some(_) => return Err(bad("signing scheme is not text")),
        None => return Err(bad("protected header has no signing scheme")),
    };
    let time = |name: &str| -> Result<Option<OffsetDateTime>, EnvelopeError> {
        match attribute(name) {
            None => Ok(None),
            Some(Value::Tag(1, inner)) => match inner.as_ref() {
                Value::Integer(i) => i64::try_from(i128::from(*i))
                    .ok()
                    .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                    .map(Some)
                    .ok_or_else(|| bad(format!("{name} is out of range"))),
                _ => Err(bad(format!("{name} is not an integer epoch time"))),
            },
            Some(_) => Err(bad(format!("{name} is not a tag-1 date/time"))),
        }
    };
    let signing_time = time("io.cncf.notary.signingTime")?;
    let authentic_signing_time = time("io.cncf.notary.authenticSigningTime")?;
    let expiry = time("io.cncf.notary.expiry")?;
    let mut critical = Critical::default();
    if header.crit.is_empty() {
        return Err(bad("protected header has no crit"));
    }
    for entry in &header.crit {
        match entry {
            RegisteredLabel::Text(name) => critical.mark(name, attribute(name).is_some())?,
            RegisteredLabel::Assigned(label) => {
                return Err(bad(format!("crit names the registered header {label:?}")));
            }
        }
    }
    critical.require("io.cncf.notary.signingScheme")?;
    if expiry.is_some() {
        critical.require("io.cncf.notary.expiry")?;
    }
    if authentic_signing_time.is_some() {
        critical.require("io.cncf.notary.authenticSigningTime")?;
    }
    envelope::check_times(scheme, signing_time, authentic_signing_time, "COSE")?;

    let unprotected = &sign1.unprotected;
    let chain_value = unprotected
        .rest
        .iter()
        .find(|(label, _)| *label == Label::Int(X5CHAIN))
        .map(|(_, v)| v)
        .ok_or_else(|| bad("unprotected header has no x5chain"))?;
    let ders: Vec<&Vec<u8>> = match chain_value {
        Value::Bytes(der) => vec![der],
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Bytes(der) => Ok(der),
                _ => Err(bad("x5chain holds a non-bstr")),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad("x5chain is neither a bstr nor an array")),
    };
    if ders.is_empty() || ders.len() > MAX_CHAIN {
        return Err(bad(format!(
            "x5chain holds {} certificates (1 to {MAX_CHAIN})",
            ders.len()
        )));
    }
    let chain = ders
        .into_iter()
        .map(|der| Certificate::from_der(der).map_err(|e| bad(format!("x5chain: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp_token = match unprotected
        .rest
        .iter()
        .find(|(label, _)| matches!(label, Label::Text(t) if t == "io.cncf.notary.timestampSignature"))
    {
        None => None,
        Some((_, Value::Bytes(b))) if b.is_empty() => None,
        Some((_, Value::Bytes(b))) => Some(b.clone()),
        Some(_) => return Err(bad("timestamp signature is not a bstr")),
    };
    let has_timestamp = timestamp_token.is_some();
    let payload = sign1
        .payload
        .as_ref()
        .ok_or_else(|| bad("detached payloads are not supported"))?;
    let target = envelope::parse_payload(payload).map_err(bad)?;
    // The Sig_structure over the protected header's bytes as received.
    let signed = sign1.tbs_data(b"");
    Ok(Envelope {
        format: Format::Cose,
        algorithm,
        signed,
        signature: sign1.signature.clone(),
        target,
        scheme,
        signing_time,
        authentic_signing_time,
        expiry,
        chain,
        has_timestamp,
        timestamp_token,
    })
}
