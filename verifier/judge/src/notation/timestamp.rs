//! RFC 3161 timestamp countersignatures (`io.cncf.notary.timestampSignature`),
//! verified as notation-go and its tspclient-go do: the token is a CMS
//! SignedData whose content is a TSTInfo; its message imprint must be the
//! hash of the envelope's signature bytes; one signer info must verify
//! (signed attributes present, content type id-ct-TSTInfo, message digest
//! of the TSTInfo, a signing-certificate-v2 attribute naming the signer's
//! certificate by hash) under a certificate that chains, at the timestamp's
//! time, to a certificate of the policy's `tsa` trust stores, and whose
//! only extended key usage is a critical timeStamping.
//!
//! The result is a time interval (genTime ± accuracy), not a point: the
//! authentic-timestamp check asks that the whole interval lie within the
//! signing chain's validity.
//!
//! The types come from RustCrypto's `cms` and `x509-tsp`, except TSTInfo
//! itself: `x509-tsp` decodes `genTime` with `der`'s GeneralizedTime, which
//! refuses the fractional seconds that real TSAs write (Microsoft's does),
//! so the structure is restated here with the time read by hand.

use aws_lc_rs::digest;
use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{Int, OctetString};
use der::{Any, Decode as _, Encode as _, Sequence, Tag, Tagged as _};
use time::{Duration, OffsetDateTime};
use x509_cert::ext::Extensions;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_tsp::{Accuracy, MessageImprint, TspVersion};

use super::certs;
use crate::sigstore::Certificate;

/// Largest token read (a token with a four-certificate chain is ~6 KB).
pub const MAX_TOKEN_BYTES: usize = 64 << 10;
/// Most certificates a token may carry.
const MAX_TOKEN_CERTIFICATES: usize = 10;
/// Most signer infos tried.
const MAX_SIGNERS: usize = 4;

/// id-ct-TSTInfo.
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// id-aa-signingCertificateV2 (RFC 5035).
const SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// The ETSI baseline timestamp policy: a token under it without an
/// accuracy is accurate to one second (trust-store-trust-policy.md).
const BASELINE_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.4.0.2023.1.1");

/// TSTInfo (RFC 3161 §2.4.2), `genTime` kept raw (see the module comment).
#[derive(Clone, Debug, Sequence)]
struct TstInfo {
    version: TspVersion,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Extensions>,
}

/// SigningCertificateV2 (RFC 5035 §3).
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

/// ESSCertIDv2; the hash algorithm defaults to SHA-256.
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<IssuerSerial>,
}

#[derive(Clone, Debug, Sequence)]
struct IssuerSerial {
    issuer: GeneralNames,
    serial_number: SerialNumber,
}

/// What a verified token proves: the signature existed within
/// `earliest..=latest`, by the word of the TSA `tsa`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenTime {
    /// genTime minus the accuracy.
    pub earliest: OffsetDateTime,
    /// genTime plus the accuracy.
    pub latest: OffsetDateTime,
    /// The TSA certificate's subject.
    pub tsa: String,
    /// The TSA certificate, then the token's other certificates (for the
    /// revocation check of the timestamping chain).
    pub chain: Vec<Certificate>,
}

/// Verifies `token` (DER TimeStampToken) as a countersignature over
/// `signature` (the envelope's signature bytes), its signer chaining to one
/// of `roots` (the policy's `tsa` stores) at the timestamp's time.
pub fn verify(token: &[u8], signature: &[u8], roots: &[Certificate]) -> Result<ProvenTime, String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!("the timestamp token is larger than {MAX_TOKEN_BYTES} bytes"));
    }
    let info = ContentInfo::from_der(token).map_err(|e| format!("malformed timestamp token: {e}"))?;
    if info.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(format!(
            "the timestamp token is a {}, not a SignedData",
            info.content_type
        ));
    }
    let signed: SignedData = info
        .content
        .decode_as()
        .map_err(|e| format!("malformed timestamp SignedData: {e}"))?;
    if signed.encap_content_info.econtent_type != TST_INFO {
        return Err(format!(
            "the timestamp token's content is {}, not a TSTInfo",
            signed.encap_content_info.econtent_type
        ));
    }
    let content = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the timestamp token has no content")?;
    if content.tag() != Tag::OctetString {
        return Err("the timestamp token's content is not an OCTET STRING".into());
    }
    let tst_bytes = content.value();
    let tst = TstInfo::from_der(tst_bytes).map_err(|e| format!("malformed TSTInfo: {e}"))?;

    // The imprint: the hash of the envelope's signature.
    let imprint_alg = hash_algorithm(&tst.message_imprint.hash_algorithm.oid)
        .ok_or_else(|| format!("unsupported imprint hash {}", tst.message_imprint.hash_algorithm.oid))?;
    if digest::digest(imprint_alg, signature).as_ref() != tst.message_imprint.hashed_message.as_bytes() {
        return Err("the timestamp's message imprint is not the hash of this signature".into());
    }
    let gen_time = generalized_time(&tst.gen_time)?;
    let accuracy = accuracy(&tst);
    let (earliest, latest) = (gen_time - accuracy, gen_time + accuracy);

    let mut certificates = Vec::new();
    for choice in signed.certificates.iter().flat_map(|set| set.0.iter()) {
        if certificates.len() >= MAX_TOKEN_CERTIFICATES {
            return Err(format!(
                "the timestamp token carries more than {MAX_TOKEN_CERTIFICATES} certificates"
            ));
        }
        if let CertificateChoices::Certificate(cert) = choice {
            let der = cert.to_der().map_err(|e| format!("timestamp certificate: {e}"))?;
            let ours = Certificate::from_der(&der).map_err(|e| format!("timestamp certificate: {e}"))?;
            certificates.push((cert, ours));
        }
    }
    if signed.signer_infos.0.is_empty() {
        return Err("the timestamp token has no signer".into());
    }
    let mut last_error = String::new();
    for signer in signed.signer_infos.0.iter().take(MAX_SIGNERS) {
        match verify_signer(signer, tst_bytes, &certificates, roots, gen_time) {
            Ok((tsa, chain)) => {
                return Ok(ProvenTime {
                    earliest,
                    latest,
                    tsa,
                    chain,
                });
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn verify_signer(
    signer: &SignerInfo,
    tst_bytes: &[u8],
    certificates: &[(&x509_cert::Certificate, Certificate)],
    roots: &[Certificate],
    at: OffsetDateTime,
) -> Result<(String, Vec<Certificate>), String> {
    // Version 1 goes with an issuer-and-serial identifier (RFC 5652 §5.3).
    if signer.version != CmsVersion::V1 {
        return Err(format!(
            "the timestamp signer info has version {:?} (only 1 is supported)",
            signer.version
        ));
    }
    let SignerIdentifier::IssuerAndSerialNumber(id) = &signer.sid else {
        return Err("the timestamp signer is named by key identifier (only issuer and serial is supported)".into());
    };
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or("the timestamp signer has no signed attributes")?;
    let attribute = |oid: ObjectIdentifier| -> Result<&Any, String> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        match (found.next(), found.next()) {
            (Some(a), None) if a.values.len() == 1 => {
                a.values.get(0).ok_or_else(|| format!("attribute {oid} is empty"))
            }
            (None, _) => Err(format!("the timestamp signer has no {oid} attribute")),
            _ => Err(format!("the timestamp signer's {oid} attribute is not single-valued")),
        }
    };
    let content_type: ObjectIdentifier = attribute(rfc5911::ID_CONTENT_TYPE)?
        .decode_as()
        .map_err(|e| format!("content-type attribute: {e}"))?;
    if content_type != TST_INFO {
        return Err(format!("the timestamp signer signs a {content_type}, not a TSTInfo"));
    }
    let message_digest: OctetString = attribute(rfc5911::ID_MESSAGE_DIGEST)?
        .decode_as()
        .map_err(|e| format!("message-digest attribute: {e}"))?;
    let digest_alg = hash_algorithm(&signer.digest_alg.oid)
        .ok_or_else(|| format!("unsupported timestamp digest algorithm {}", signer.digest_alg.oid))?;
    if digest::digest(digest_alg, tst_bytes).as_ref() != message_digest.as_bytes() {
        return Err("the timestamp signer's message digest is not the TSTInfo's".into());
    }

    // The signer's certificate: named by the signer info, pinned by hash.
    let (cert, ours) = certificates
        .iter()
        .find(|(c, _)| c.tbs_certificate.issuer == id.issuer && c.tbs_certificate.serial_number == id.serial_number)
        .ok_or("the timestamp token does not carry its signer's certificate")?;
    let pin: SigningCertificateV2 = attribute(SIGNING_CERTIFICATE_V2)?
        .decode_as()
        .map_err(|e| format!("signing-certificate-v2 attribute: {e}"))?;
    let first = pin
        .certs
        .first()
        .ok_or("the signing-certificate-v2 attribute is empty")?;
    let pin_alg = match &first.hash_algorithm {
        None => &digest::SHA256,
        Some(a) => hash_algorithm(&a.oid).ok_or_else(|| format!("unsupported certificate hash {}", a.oid))?,
    };
    if digest::digest(pin_alg, ours.der()).as_ref() != first.cert_hash.as_bytes() {
        return Err("the signing-certificate-v2 attribute names another certificate".into());
    }
    if let Some(serial) = &first.issuer_serial {
        let issuer_named = serial
            .issuer
            .iter()
            .any(|n| matches!(n, GeneralName::DirectoryName(name) if *name == cert.tbs_certificate.issuer));
        if !issuer_named || serial.serial_number != cert.tbs_certificate.serial_number {
            return Err("the signing-certificate-v2 attribute names another issuer and serial".into());
        }
    }

    // The signature over the DER SET OF the signed attributes.
    let signed_bytes = attrs.to_der().map_err(|e| format!("signed attributes: {e}"))?;
    certs::verify_signed_by(
        &cert.tbs_certificate.subject_public_key_info,
        &signer.signature_algorithm,
        Some(&signer.digest_alg.oid),
        &signed_bytes,
        signer.signature.as_bytes(),
    )
    .map_err(|e| format!("the timestamp signature does not verify: {e}"))?;

    // The TSA certificate: timeStamping only, critical (RFC 3161 §2.3), and
    // a chain to the tsa store at the timestamp's time.
    certs::check_timestamping_profile(ours)?;
    let intermediates: Vec<Certificate> = certificates
        .iter()
        .filter(|(_, c)| c.der() != ours.der())
        .map(|(_, c)| c.clone())
        .collect();
    certs::verify_tsa_chain(ours, &intermediates, roots, at)?;
    let mut chain = vec![ours.clone()];
    chain.extend(intermediates);
    Ok((certs::subject_text(ours), chain))
}

fn hash_algorithm(oid: &ObjectIdentifier) -> Option<&'static digest::Algorithm> {
    match *oid {
        rfc5912::ID_SHA_256 => Some(&digest::SHA256),
        rfc5912::ID_SHA_384 => Some(&digest::SHA384),
        rfc5912::ID_SHA_512 => Some(&digest::SHA512),
        _ => None,
    }
}

fn accuracy(tst: &TstInfo) -> Duration {
    let a = tst.accuracy.as_ref();
    let seconds = a.and_then(|a| a.seconds).unwrap_or(0);
    let millis = a.and_then(|a| a.millis).unwrap_or(0);
    let micros = a.and_then(|a| a.micros).unwrap_or(0);
    if seconds == 0 && millis == 0 && micros == 0 && tst.policy == BASELINE_POLICY {
        return Duration::seconds(1);
    }
    // Bounded: seconds is at most u64, but no accuracy beyond a day is
    // meaningful; cap it so the arithmetic cannot overflow.
    let seconds = i64::try_from(seconds).unwrap_or(i64::MAX).min(86_400);
    Duration::seconds(seconds)
        + Duration::milliseconds(i64::from(millis.clamp(0, 999)))
        + Duration::microseconds(i64::from(micros.clamp(0, 999)))
}

/// A GeneralizedTime as RFC 3161 writes it: `YYYYMMDDHHMMSS[.f+]Z`.
fn generalized_time(value: &Any) -> Result<OffsetDateTime, String> {
    let bad = || "the timestamp's genTime is not a UTC GeneralizedTime".to_owned();
    if value.tag() != Tag::GeneralizedTime {
        return Err(bad());
    }
    let text = std::str::from_utf8(value.value()).map_err(|_| bad())?;
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let field = |range: std::ops::Range<usize>| whole[range].parse::<u16>().map_err(|_| bad());
    let month = time::Month::try_from(u8::try_from(field(4..6)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(
        i32::from(field(0..4)?),
        month,
        u8::try_from(field(6..8)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let time = time::Time::from_hms(
        u8::try_from(field(8..10)?).map_err(|_| bad())?,
        u8::try_from(field(10..12)?).map_err(|_| bad())?,
        u8::try_from(field(12..14)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let mut at = date.with_time(time).assume_utc();
    if let Some(fraction) = fraction {
        // DER: no trailing zeros, at least one digit.
        if fraction.is_empty()
            || fraction.len() > 9
            || fraction.ends_with('0')
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let nanos: i64 = format!("{fraction:0<9}").parse().map_err(|_| bad())?;
        at += Duration::nanoseconds(nanos);
    }
    Ok(at)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn gt(text: &str) -> Any {
        Any::new(Tag::GeneralizedTime, text.as_bytes().to_vec()).expect("any")
    }

    #[test]
    fn generalized_times_with_and_without_fractions() {
        let at = generalized_time(&gt("20250121091746.641Z")).expect("fraction");
        assert_eq!(at.unix_timestamp(), 1_737_451_066);
        assert_eq!(at.millisecond(), 641);
        assert!(generalized_time(&gt("20240618062937Z")).is_ok());
        for bad in [
            "20240618062937",
            "20240618062937.Z",
            "20240618062937.50Z",
            "2024061806293Z",
            "20241318062937Z",
        ] {
            assert!(generalized_time(&gt(bad)).is_err(), "{bad}");
        }
        assert!(generalized_time(&Any::new(Tag::UtcTime, b"240618062937Z".to_vec()).expect("any")).is_err());
    }
}

#[cfg(test)]
pub(crate) mod tests;
