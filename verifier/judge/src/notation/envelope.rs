//! Notary Project signature envelopes: the JWS JSON serialization
//! (`application/jose+json`) and COSE_Sign1 (`application/cose`), read into
//! one [`Envelope`] whose signature is not yet checked.
//!
//! Both profiles sign the same things: the payload (a descriptor of the
//! signed artifact), the content type, the signing scheme, the signing time
//! and an optional expiry. Everything a verifier relies on is in the
//! protected (signed) header; the certificate chain and the timestamp
//! countersignature sit in the unprotected header and are judged on their
//! own (the chain to the trust store, the timestamp by its TSA).
//!
//! Parsing is strict where the specifications are: an unknown `crit`
//! entry, a missing required attribute, an algorithm outside the profile or
//! a payload that is not a single descriptor refuse the envelope.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::digest::Digest;
use crate::sigstore::Certificate;

/// The payload content type both envelope profiles require.
pub const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
/// Media type of a JWS envelope layer.
pub const JWS_MEDIA_TYPE: &str = "application/jose+json";
/// Media type of a COSE envelope layer.
pub const COSE_MEDIA_TYPE: &str = "application/cose";

const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
const EXPIRY: &str = "io.cncf.notary.expiry";
const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";
/// Most certificates an envelope's chain may carry.
pub const MAX_CHAIN: usize = 10;

/// The signing scheme the envelope declares (signing-scheme.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigningScheme {
    /// `notary.x509`: the signing time is the signer's claim; an RFC 3161
    /// timestamp may prove it.
    X509,
    /// `notary.x509.signingAuthority`: a signing authority vouches for the
    /// authentic signing time.
    SigningAuthority,
}

impl SigningScheme {
    fn parse(text: &str) -> Option<SigningScheme> {
        match text {
            "notary.x509" => Some(SigningScheme::X509),
            "notary.x509.signingAuthority" => Some(SigningScheme::SigningAuthority),
            _ => None,
        }
    }

    /// The scheme's name as envelopes write it.
    pub fn name(self) -> &'static str {
        match self {
            SigningScheme::X509 => "notary.x509",
            SigningScheme::SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// The signature algorithms of the Notary Project profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PSS with SHA-256 (RSA 2048).
    Ps256,
    /// RSASSA-PSS with SHA-384 (RSA 3072).
    Ps384,
    /// RSASSA-PSS with SHA-512 (RSA 4096).
    Ps512,
    /// ECDSA P-256 with SHA-256.
    Es256,
    /// ECDSA P-384 with SHA-384.
    Es384,
    /// ECDSA P-521 with SHA-512.
    Es512,
}

impl Algorithm {
    fn from_jws(name: &str) -> Option<Algorithm> {
        match name {
            "PS256" => Some(Algorithm::Ps256),
            "PS384" => Some(Algorithm::Ps384),
            "PS512" => Some(Algorithm::Ps512),
            "ES256" => Some(Algorithm::Es256),
            "ES384" => Some(Algorithm::Es384),
            "ES512" => Some(Algorithm::Es512),
            _ => None,
        }
    }

    /// COSE algorithm identifiers (RFC 9053): PS256 -37, PS384 -38, PS512
    /// -39, ES256 -7, ES384 -35, ES512 -36.
    pub(crate) fn from_cose(id: i64) -> Option<Algorithm> {
        match id {
            -37 => Some(Algorithm::Ps256),
            -38 => Some(Algorithm::Ps384),
            -39 => Some(Algorithm::Ps512),
            -7 => Some(Algorithm::Es256),
            -35 => Some(Algorithm::Es384),
            -36 => Some(Algorithm::Es512),
            _ => None,
        }
    }

    /// The JWS name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
        }
    }
}

/// Which profile an envelope was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JWS JSON serialization.
    Jws,
    /// COSE_Sign1.
    Cose,
}

/// The descriptor the payload names (`targetArtifact`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetArtifact {
    /// Media type of the signed manifest.
    pub media_type: String,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// A parsed envelope, its signature not yet checked.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// JWS or COSE.
    pub format: Format,
    /// The algorithm the protected header names.
    pub algorithm: Algorithm,
    /// The bytes the signature covers (JWS signing input, COSE Sig_structure).
    pub(crate) signed: Vec<u8>,
    /// The signature (RSA-PSS bytes, or fixed-width ECDSA `r||s`).
    pub(crate) signature: Vec<u8>,
    /// The payload's target artifact.
    pub target: TargetArtifact,
    /// The declared signing scheme.
    pub scheme: SigningScheme,
    /// `io.cncf.notary.signingTime` (the signer's claim; `notary.x509`).
    pub signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.authenticSigningTime` (`notary.x509.signingAuthority`).
    pub authentic_signing_time: Option<OffsetDateTime>,
    /// `io.cncf.notary.expiry`, when the signer set one.
    pub expiry: Option<OffsetDateTime>,
    /// The certificate chain, leaf first (never empty).
    pub chain: Vec<Certificate>,
    /// An RFC 3161 timestamp countersignature is attached.
    pub has_timestamp: bool,
    /// The countersignature's DER TimeStampToken, when attached.
    pub(crate) timestamp_token: Option<Vec<u8>>,
}

impl Envelope {
    /// The signing certificate.
    pub fn leaf(&self) -> &Certificate {
        // Invariant: parsing refuses an empty chain.
        &self.chain[0]
    }

    /// The time the chain is checked at for authenticity: the authentic
    /// signing time, else the signer's claimed signing time.
    pub fn claimed_time(&self) -> Option<OffsetDateTime> {
        self.authentic_signing_time.or(self.signing_time)
    }
}

/// Why an envelope cannot be read.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The layer media type is neither JWS nor COSE.
    #[error("unsupported signature envelope media type {0:?} (expected application/jose+json or application/cose)")]
    MediaType(String),
    /// The envelope's structure is wrong.
    #[error("malformed {format} envelope: {reason}")]
    Malformed {
        /// `JWS` or `COSE`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
}

/// Reads an envelope of layer media type `media_type`.
pub fn parse(media_type: &str, bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    match media_type {
        JWS_MEDIA_TYPE => parse_jws(bytes),
        COSE_MEDIA_TYPE => super::cose::parse(bytes),
        other => Err(EnvelopeError::MediaType(other.to_owned())),
    }
}

fn jws_error(reason: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Malformed {
        format: "JWS",
        reason: reason.into(),
    }
}

fn parse_jws(bytes: &[u8]) -> Result<Envelope, EnvelopeError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Jws {
        payload: String,
        protected: String,
        header: Map<String, Value>,
        signature: String,
    }
    let jws: Jws = serde_json::from_slice(bytes).map_err(|e| jws_error(e.to_string()))?;
    let protected_bytes = URL_SAFE_NO_PAD
        .decode(&jws.protected)
        .map_err(|e| jws_error(format!("protected header is not base64url: {e}")))?;
    let payload = URL_SAFE_NO_PAD
        .decode(&jws.payload)
        .map_err(|e| jws_error(format!("payload is not base64url: {e}")))?;
    let signature = URL_SAFE_NO_PAD
        .decode(&jws.signature)
        .map_err(|e| jws_error(format!("signature is not base64url: {e}")))?;
    let protected: Map<String, Value> = serde_json::from_slice(&protected_bytes)
        .map_err(|e| jws_error(format!("protected header is not a JSON object: {e}")))?;

    let text = |name: &str| -> Result<Option<&str>, EnvelopeError> {
        match protected.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(jws_error(format!("protected header {name} is not a string"))),
        }
    };
    let alg = text("alg")?.ok_or_else(|| jws_error("protected header has no alg"))?;
    let algorithm = Algorithm::from_jws(alg).ok_or_else(|| jws_error(format!("unsupported alg {alg:?}")))?;
    let cty = text("cty")?.ok_or_else(|| jws_error("protected header has no cty"))?;
    if cty != PAYLOAD_CONTENT_TYPE {
        return Err(jws_error(format!("unsupported content type {cty:?}")));
    }
    let scheme_text = text(SIGNING_SCHEME)?.ok_or_else(|| jws_error("protected header has no signing scheme"))?;
    let scheme = SigningScheme::parse(scheme_text)
        .ok_or_else(|| jws_error(format!("unknown signing scheme {scheme_text:?}")))?;
    let time = |name: &str| -> Result<Option<OffsetDateTime>, EnvelopeError> {
        text(name)?
            .map(|t| OffsetDateTime::parse(t, &Rfc3339).map_err(|e| jws_error(format!("{name} {t:?}: {e}"))))
            .transpose()
    };
    let signing_time = time(SIGNING_TIME)?;
    let authentic_signing_time = time(AUTHENTIC_SIGNING_TIME)?;
    let expiry = time(EXPIRY)?;

    let crit: Vec<&str> = match protected.get("crit") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| jws_error("crit holds a non-string")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(jws_error("crit is not an array")),
        None => return Err(jws_error("protected header has no crit")),
    };
    let mut critical = Critical::default();
    for name in &crit {
        critical.mark(name, protected.contains_key(*name))?;
    }
    critical.require(SIGNING_SCHEME)?;
    if expiry.is_some() {
        critical.require(EXPIRY)?;
    }
    if authentic_signing_time.is_some() {
        critical.require(AUTHENTIC_SIGNING_TIME)?;
    }
    check_times(scheme, signing_time, authentic_signing_time, "JWS")?;

    let chain = match jws.header.get("x5c") {
        Some(Value::Array(items)) => {
            if items.is_empty() || items.len() > MAX_CHAIN {
                return Err(jws_error(format!(
                    "x5c holds {} certificates (1 to {MAX_CHAIN})",
                    items.len()
                )));
            }
            items
                .iter()
                .map(|v| {
                    let b64 = v.as_str().ok_or_else(|| jws_error("x5c holds a non-string"))?;
                    let der = STANDARD
                        .decode(b64)
                        .map_err(|e| jws_error(format!("x5c entry is not base64: {e}")))?;
                    Certificate::from_der(&der).map_err(|e| jws_error(format!("x5c: {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(_) => return Err(jws_error("x5c is not an array")),
        None => return Err(jws_error("unprotected header has no x5c")),
    };
    for (name, _) in &jws.header {
        if protected.contains_key(name) {
            return Err(jws_error(format!(
                "{name} is in both the protected and the unprotected header"
            )));
        }
    }
    let timestamp_token = match jws.header.get(TIMESTAMP_SIGNATURE) {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(
            STANDARD
                .decode(s)
                .map_err(|e| jws_error(format!("timestamp signature is not base64: {e}")))?,
        ),
        Some(_) => return Err(jws_error("timestamp signature is not a string")),
    };
    let has_timestamp = timestamp_token.is_some();
    let mut signed = Vec::with_capacity(jws.protected.len() + 1 + jws.payload.len());
    signed.extend_from_slice(jws.protected.as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(jws.payload.as_bytes());
    Ok(Envelope {
        format: Format::Jws,
        algorithm,
        signed,
        signature,
        target: parse_payload(&payload).map_err(jws_error)?,
        scheme,
        signing_time,
        authentic_signing_time,
        expiry,
        chain,
        has_timestamp,
        timestamp_token,
    })
}

/// The `crit` list as read: which known attributes it names.
#[derive(Default)]
pub(crate) struct Critical {
    names: Vec<String>,
}

impl Critical {
    /// Records a `crit` entry; unknown critical attributes refuse the
    /// envelope (RFC 7515 §4.1.11, RFC 9052 §3.1), as do entries absent
    /// from the protected header.
    pub(crate) fn mark(&mut self, name: &str, present: bool) -> Result<(), EnvelopeError> {
        const KNOWN: [&str; 3] = [SIGNING_SCHEME, EXPIRY, AUTHENTIC_SIGNING_TIME];
        let bad = |reason: String| EnvelopeError::Malformed {
            format: "signature",
            reason,
        };
        if !KNOWN.contains(&name) {
            return Err(bad(format!("unsupported critical header {name:?}")));
        }
        if !present {
            return Err(bad(format!("critical header {name:?} is missing")));
        }
        if self.names.iter().any(|n| n == name) {
            return Err(bad(format!("critical header {name:?} is listed twice")));
        }
        self.names.push(name.to_owned());
        Ok(())
    }

    pub(crate) fn require(&self, name: &str) -> Result<(), EnvelopeError> {
        if self.names.iter().any(|n| n == name) {
            Ok(())
        } else {
            Err(EnvelopeError::Malformed {
                format: "signature",
                reason: format!("{name} is not marked critical"),
            })
        }
    }
}

/// The time attributes each signing scheme requires.
pub(crate) fn check_times(
    scheme: SigningScheme,
    signing_time: Option<OffsetDateTime>,
    authentic: Option<OffsetDateTime>,
    format: &'static str,
) -> Result<(), EnvelopeError> {
    let bad = |reason: &str| EnvelopeError::Malformed {
        format,
        reason: reason.to_owned(),
    };
    match scheme {
        SigningScheme::X509 if signing_time.is_none() => Err(bad("notary.x509 envelope without a signing time")),
        SigningScheme::X509 if authentic.is_some() => Err(bad("notary.x509 envelope with an authentic signing time")),
        SigningScheme::SigningAuthority if authentic.is_none() => Err(bad(
            "notary.x509.signingAuthority envelope without an authentic signing time",
        )),
        _ => Ok(()),
    }
}

/// Reads the payload: exactly `{"targetArtifact": DESCRIPTOR}`.
pub(crate) fn parse_payload(bytes: &[u8]) -> Result<TargetArtifact, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Payload {
        target_artifact: Target,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Target {
        media_type: String,
        digest: Digest,
        size: u64,
        // `annotations`, `urls`, `artifactType`... may appear; they are not
        // part of what is checked against the image.
    }
    let payload: Payload = serde_json::from_slice(bytes).map_err(|e| format!("payload: {e}"))?;
    let t = payload.target_artifact;
    Ok(TargetArtifact {
        media_type: t.media_type,
        digest: t.digest,
        size: t.size,
    })
}
