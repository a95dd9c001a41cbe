//! What the Notary Project asks of certificates: the envelope's signature
//! under the leaf's key with the algorithm its key dictates, the leaf's
//! profile (signature-specification.md, "Certificate Requirements"), the
//! chain to a named trust store (rustls-webpki on aws-lc-rs) and the
//! validity periods of every certificate in the chain.

use std::time::Duration;

use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5912;
use der::{Decode as _, Tagged as _};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::envelope::{Algorithm, Envelope};
use crate::sigstore::Certificate;

const KEY_USAGE_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const BASIC_CONSTRAINTS_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const EXTENDED_KEY_USAGE_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// DER body of id-kp-timeStamping (1.3.6.1.5.5.7.3.8).
const TIME_STAMPING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];
/// DER body of id-kp-codeSigning (1.3.6.1.5.5.7.3.3).
const CODE_SIGNING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

fn parse(cert: &Certificate) -> Result<x509_cert::Certificate, String> {
    x509_cert::Certificate::from_der(cert.der()).map_err(|e| format!("malformed certificate: {e}"))
}

/// Checks the envelope's signature with the leaf's public key, the
/// algorithm being the one the key dictates (RSA 2048/3072/4096 with
/// PS256/384/512, P-256/384/521 with ES256/384/512).
pub fn verify_signature(envelope: &Envelope) -> Result<(), String> {
    let leaf = parse(envelope.leaf())?;
    let spki = &leaf.tbs_certificate.subject_public_key_info;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the leaf's public key has unused bits")?;
    let expected = if spki.algorithm.oid == rfc5912::RSA_ENCRYPTION {
        let bits = sig::RsaParameters::public_modulus_len(key).map_err(|_| "the leaf's RSA key is malformed")?;
        match bits {
            2048 => Algorithm::Ps256,
            3072 => Algorithm::Ps384,
            4096 => Algorithm::Ps512,
            other => return Err(format!("RSA {other}-bit keys are outside the Notary Project profile")),
        }
    } else if spki.algorithm.oid == rfc5912::ID_EC_PUBLIC_KEY {
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok())
            .ok_or("the leaf's EC key names no curve")?;
        if curve == rfc5912::SECP_256_R_1 {
            Algorithm::Es256
        } else if curve == rfc5912::SECP_384_R_1 {
            Algorithm::Es384
        } else if curve == rfc5912::SECP_521_R_1 {
            Algorithm::Es512
        } else {
            return Err(format!("EC curve {curve} is outside the Notary Project profile"));
        }
    } else {
        return Err(format!(
            "public key algorithm {} is outside the Notary Project profile",
            spki.algorithm.oid
        ));
    };
    if envelope.algorithm != expected {
        return Err(format!(
            "the envelope says {} but the leaf's key signs with {}",
            envelope.algorithm.name(),
            expected.name()
        ));
    }
    let algorithm: &'static dyn VerificationAlgorithm = match expected {
        Algorithm::Ps256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::Ps384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::Ps512 => &sig::RSA_PSS_2048_8192_SHA512,
        Algorithm::Es256 => &sig::ECDSA_P256_SHA256_FIXED,
        Algorithm::Es384 => &sig::ECDSA_P384_SHA384_FIXED,
        Algorithm::Es512 => &sig::ECDSA_P521_SHA512_FIXED,
    };
    UnparsedPublicKey::new(algorithm, key)
        .verify(&envelope.signed, &envelope.signature)
        .map_err(|_| "the signature does not verify with the signing certificate's key".to_owned())
}

/// The leaf's profile: a key-usage extension with digitalSignature, and no
/// CA basic constraint. (An extended key usage, when present, must allow
/// code signing: webpki checks that while building the chain.)
pub fn check_leaf_profile(leaf: &Certificate) -> Result<(), String> {
    let cert = parse(leaf)?;
    let mut key_usage = None;
    for ext in cert.tbs_certificate.extensions.iter().flatten() {
        if ext.extn_id == KEY_USAGE_OID {
            key_usage = Some(KeyUsage::from_der(ext.extn_value.as_bytes()).map_err(|e| format!("key usage: {e}"))?);
        } else if ext.extn_id == BASIC_CONSTRAINTS_OID {
            let bc =
                BasicConstraints::from_der(ext.extn_value.as_bytes()).map_err(|e| format!("basic constraints: {e}"))?;
            if bc.ca {
                return Err("the signing certificate is a CA certificate".into());
            }
        }
    }
    match key_usage {
        Some(ku) if ku.0.contains(KeyUsages::DigitalSignature) => Ok(()),
        Some(_) => Err("the signing certificate's key usage lacks digitalSignature".into()),
        None => Err("the signing certificate has no key usage extension".into()),
    }
}

/// Checks that `chain[0]` chains through `chain[1..]` to one of `roots`,
/// every certificate on the path valid at `at`, the leaf's extended key
/// usage (when it has one) allowing code signing.
pub fn verify_chain(chain: &[Certificate], roots: &[Certificate], at: OffsetDateTime) -> Result<(), String> {
    let (leaf, intermediates) = chain.split_first().ok_or("empty certificate chain")?;
    build_path(
        leaf,
        intermediates,
        roots,
        at,
        webpki::KeyUsage::required_if_present(CODE_SIGNING_EKU),
    )
    .map_err(|e| format!("the certificate chain does not lead to the trust store at {at}: {e}"))
}

/// Checks that the TSA certificate `tsa` chains through `intermediates` to
/// one of `roots` (the `tsa` stores) at `at`, every certificate's extended
/// key usage, when it has one, allowing timeStamping. (That the TSA's own
/// certificate has it is [`check_timestamping_profile`]'s to check: an
/// intermediate without the extension is valid for any purpose.)
pub fn verify_tsa_chain(
    tsa: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: OffsetDateTime,
) -> Result<(), String> {
    build_path(
        tsa,
        intermediates,
        roots,
        at,
        webpki::KeyUsage::required_if_present(TIME_STAMPING_EKU),
    )
    .map_err(|e| format!("the timestamp's TSA certificate does not lead to the tsa trust store at {at}: {e}"))
}

fn build_path(
    leaf: &Certificate,
    intermediates: &[Certificate],
    roots: &[Certificate],
    at: OffsetDateTime,
    usage: webpki::KeyUsage,
) -> Result<(), String> {
    let root_ders: Vec<CertificateDer<'_>> = roots.iter().map(|c| CertificateDer::from(c.der())).collect();
    let anchors = root_ders
        .iter()
        .map(|der| webpki::anchor_from_trusted_cert(der).map_err(|e| format!("trust store certificate: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let intermediate_ders: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|c| CertificateDer::from(c.der())).collect();
    let leaf_der = CertificateDer::from(leaf.der());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| e.to_string())?;
    let seconds = u64::try_from(at.unix_timestamp()).map_err(|_| "time before 1970")?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediate_ders,
            UnixTime::since_unix_epoch(Duration::from_secs(seconds)),
            usage,
            None,
            None,
        )
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// The TSA certificate's profile (RFC 3161 §2.3, as tspclient-go checks
/// it): exactly one extended key usage, timeStamping, marked critical.
pub fn check_timestamping_profile(tsa: &Certificate) -> Result<(), String> {
    let cert = parse(tsa)?;
    let subject = cert.tbs_certificate.subject.to_string();
    let eku = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|ext| ext.extn_id == EXTENDED_KEY_USAGE_OID)
        .ok_or_else(|| format!("the TSA certificate {subject:?} has no timeStamping extended key usage"))?;
    let usages = ExtendedKeyUsage::from_der(eku.extn_value.as_bytes())
        .map_err(|e| format!("the TSA certificate's extended key usage: {e}"))?;
    if usages.0.as_slice() != [rfc5912::ID_KP_TIME_STAMPING] {
        return Err(format!(
            "the TSA certificate {subject:?} must have timeStamping as its only extended key usage"
        ));
    }
    if !eku.critical {
        return Err(format!(
            "the TSA certificate {subject:?} does not mark its extended key usage critical"
        ));
    }
    Ok(())
}

/// Verifies `signature` over `message` with the key `spki`, the algorithm
/// named by an X.509 or CMS signature algorithm identifier (with `digest`
/// the CMS digest algorithm, for the bare `rsaEncryption` identifier):
/// RSA PKCS#1 v1.5 and ECDSA with SHA-256/384/512.
pub fn verify_signed_by(
    spki: &SubjectPublicKeyInfoOwned,
    algorithm: &AlgorithmIdentifierOwned,
    digest: Option<&ObjectIdentifier>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    #[derive(PartialEq)]
    enum Hash {
        Sha256,
        Sha384,
        Sha512,
    }
    let hash_of = |oid: &ObjectIdentifier| match *oid {
        rfc5912::ID_SHA_256 => Some(Hash::Sha256),
        rfc5912::ID_SHA_384 => Some(Hash::Sha384),
        rfc5912::ID_SHA_512 => Some(Hash::Sha512),
        _ => None,
    };
    let unsupported = || format!("unsupported signature algorithm {}", algorithm.oid);
    // RSA and ECDSA identifiers carry NULL or no parameters: anything else
    // is a second reading of the algorithm.
    if let Some(p) = &algorithm.parameters
        && !(p.tag() == der::Tag::Null && p.value().is_empty())
    {
        return Err(format!("signature algorithm {} has parameters", algorithm.oid));
    }
    let (rsa, hash) = match algorithm.oid {
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION => (true, Hash::Sha256),
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION => (true, Hash::Sha384),
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION => (true, Hash::Sha512),
        rfc5912::RSA_ENCRYPTION => (true, digest.and_then(hash_of).ok_or_else(unsupported)?),
        rfc5912::ECDSA_WITH_SHA_256 => (false, Hash::Sha256),
        rfc5912::ECDSA_WITH_SHA_384 => (false, Hash::Sha384),
        rfc5912::ECDSA_WITH_SHA_512 => (false, Hash::Sha512),
        _ => return Err(unsupported()),
    };
    // A CMS signer's digest algorithm must be the one the signature uses.
    if let Some(d) = digest
        && hash_of(d).is_none_or(|h| h != hash)
    {
        return Err(format!(
            "digest algorithm {d} does not match signature algorithm {}",
            algorithm.oid
        ));
    }
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the public key has unused bits")?;
    let verifier: &'static dyn VerificationAlgorithm = if rsa {
        if spki.algorithm.oid != rfc5912::RSA_ENCRYPTION {
            return Err("an RSA signature from a key that is not RSA".into());
        }
        match hash {
            Hash::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        }
    } else {
        if spki.algorithm.oid != rfc5912::ID_EC_PUBLIC_KEY {
            return Err("an ECDSA signature from a key that is not EC".into());
        }
        let curve: ObjectIdentifier = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as().ok())
            .ok_or("the EC key names no curve")?;
        match (curve, hash) {
            (rfc5912::SECP_256_R_1, Hash::Sha256) => &sig::ECDSA_P256_SHA256_ASN1,
            (rfc5912::SECP_256_R_1, Hash::Sha384) => &sig::ECDSA_P256_SHA384_ASN1,
            (rfc5912::SECP_256_R_1, Hash::Sha512) => &sig::ECDSA_P256_SHA512_ASN1,
            (rfc5912::SECP_384_R_1, Hash::Sha256) => &sig::ECDSA_P384_SHA256_ASN1,
            (rfc5912::SECP_384_R_1, Hash::Sha384) => &sig::ECDSA_P384_SHA384_ASN1,
            (rfc5912::SECP_384_R_1, Hash::Sha512) => &sig::ECDSA_P384_SHA512_ASN1,
            (rfc5912::SECP_521_R_1, Hash::Sha256) => &sig::ECDSA_P521_SHA256_ASN1,
            (rfc5912::SECP_521_R_1, Hash::Sha384) => &sig::ECDSA_P521_SHA384_ASN1,
            (rfc5912::SECP_521_R_1, Hash::Sha512) => &sig::ECDSA_P521_SHA512_ASN1,
            (other, _) => return Err(format!("unsupported EC curve {other}")),
        }
    };
    UnparsedPublicKey::new(verifier, key)
        .verify(message, signature)
        .map_err(|_| "bad signature".to_owned())
}

/// Checks that `at` lies within the validity of every certificate of
/// `chain`; names the first that is not valid.
pub fn check_validity(chain: &[Certificate], at: OffsetDateTime) -> Result<(), String> {
    for cert in chain {
        let (subject, not_before, not_after) = validity(cert)?;
        if at < not_before {
            return Err(format!("certificate {subject:?} is not valid before {not_before}"));
        }
        if at > not_after {
            return Err(format!("certificate {subject:?} expired at {not_after}"));
        }
    }
    Ok(())
}

/// Any certificate of `chain` expired at `at`.
pub fn any_expired(chain: &[Certificate], at: OffsetDateTime) -> bool {
    chain
        .iter()
        .any(|c| validity(c).is_ok_and(|(_, _, not_after)| at > not_after))
}

/// An X.509 time as an `OffsetDateTime`.
pub fn time(t: &x509_cert::time::Time) -> Result<OffsetDateTime, String> {
    i64::try_from(t.to_unix_duration().as_secs())
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| "time out of range".to_owned())
}

/// The validity period of every certificate of `chain`, as (subject, not
/// before, not after).
pub fn validities(chain: &[Certificate]) -> Result<Vec<(String, OffsetDateTime, OffsetDateTime)>, String> {
    chain.iter().map(validity).collect()
}

fn validity(cert: &Certificate) -> Result<(String, OffsetDateTime, OffsetDateTime), String> {
    let parsed = parse(cert)?;
    let v = &parsed.tbs_certificate.validity;
    Ok((
        parsed.tbs_certificate.subject.to_string(),
        time(&v.not_before)?,
        time(&v.not_after)?,
    ))
}

/// True when the certificate may sit in a trust store: a CA certificate,
/// or a self-signed one (subject equal to issuer).
pub fn is_anchor_shaped(cert: &Certificate) -> Result<bool, String> {
    let parsed = parse(cert)?;
    let tbs = &parsed.tbs_certificate;
    let is_ca = tbs.extensions.iter().flatten().any(|ext| {
        ext.extn_id == BASIC_CONSTRAINTS_OID
            && BasicConstraints::from_der(ext.extn_value.as_bytes()).is_ok_and(|bc| bc.ca)
    });
    Ok(is_ca || tbs.subject == tbs.issuer)
}

/// The subject's attributes, as (short type name, value) pairs in
/// certificate order; attribute types without a short name are named by OID.
pub fn subject_attributes(cert: &Certificate) -> Result<Vec<(String, String)>, String> {
    let parsed = parse(cert)?;
    let mut out = Vec::new();
    for rdn in parsed.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let name = super::identity::short_name(&atv.oid).map_or_else(|| atv.oid.to_string(), str::to_owned);
            let value = attribute_text(&atv.value).ok_or_else(|| format!("subject attribute {name} is not text"))?;
            out.push((name, value));
        }
    }
    Ok(out)
}

/// The subject DN as text, for reports.
pub fn subject_text(cert: &Certificate) -> String {
    parse(cert).map_or_else(|e| e, |c| c.tbs_certificate.subject.to_string())
}

fn attribute_text(value: &der::Any) -> Option<String> {
    use der::Tag;
    match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::TeletexString => {
            std::str::from_utf8(value.value()).ok().map(str::to_owned)
        }
        _ => None,
    }
}
