//! X.509 certificates as identities: the SANs, OIDC issuer and Fulcio
//! extensions (DESIGN §3.5) of a leaf, read with `x509-cert`, and chains to a
//! caller's private roots checked with `rustls-webpki` on aws-lc-rs.
//!
//! sigstore-rust reads only the first email or URI SAN; sigil reads them
//! all, including the `otherName` SAN (`1.3.6.1.4.1.57264.1.7`, UTF8String)
//! that Fulcio issues for username identities, so a policy can name it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use const_oid::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

use crate::keys::PublicKey;

use super::identity::{EXTENSIONS, Encoding, ISSUER_DEPRECATED_OID, ISSUER_OID};

/// Fulcio's `otherName` SAN type (a username identity).
const OTHERNAME_SAN_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
const SAN_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// DER body of id-kp-codeSigning (1.3.6.1.5.5.7.3.3).
const CODE_SIGNING_EKU: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// DER body of anyExtendedKeyUsage (2.5.29.37.0).
const ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

/// The extended key usage a code-signing chain may carry, on every
/// certificate of the path (as Go's crypto/x509, which cosign and
/// containers/image use, nests EKUs): no EKU extension at all (RFC 5280
/// §4.2.1.12: any purpose), or a list naming codeSigning or
/// anyExtendedKeyUsage. A list naming only other purposes (serverAuth, say) is
/// refused, as is an empty EKU extension.
struct CodeSigningUsage;

impl webpki::ExtendedKeyUsageValidator for CodeSigningUsage {
    fn validate(&self, iter: webpki::KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let wanted = [
            webpki::KeyPurposeId::new(CODE_SIGNING_EKU),
            webpki::KeyPurposeId::new(ANY_EKU),
        ];
        let (mut present, mut found) = (Vec::new(), false);
        // Every member is read, so a malformed list fails even after a match.
        for id in iter {
            let id = id?;
            found |= wanted.contains(&id);
            present.push(id.to_decoded_oid());
        }
        if found || present.is_empty() {
            return Ok(());
        }
        Err(webpki::Error::RequiredEkuNotFoundContext(
            webpki::RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::required(CODE_SIGNING_EKU),
                present,
            },
        ))
    }
}

/// Why a certificate cannot be read or does not chain.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// Not a PEM certificate block.
    #[error("not a PEM certificate: {reason}")]
    Pem {
        /// What is wrong.
        reason: String,
    },
    /// Not a DER X.509 certificate.
    #[error("malformed X.509 certificate: {reason}")]
    Der {
        /// The decoder's description.
        reason: String,
    },
    /// The chain to the caller's roots does not verify.
    #[error("certificate does not chain to a trusted root at {at}: {reason}")]
    Chain {
        /// The time the chain was checked at.
        at: OffsetDateTime,
        /// webpki's reason.
        reason: String,
    },
}

/// A DER X.509 certificate, checked to parse.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Certificate({} bytes)", self.der.len())
    }
}

impl Certificate {
    /// Parses DER.
    pub fn from_der(der: &[u8]) -> Result<Certificate, CertificateError> {
        x509_cert::Certificate::from_der(der).map_err(|e| CertificateError::Der { reason: e.to_string() })?;
        Ok(Certificate { der: der.to_vec() })
    }

    /// Parses every `CERTIFICATE` block of a PEM text (a leaf, or a chain).
    pub fn from_pem_chain(pem: &str) -> Result<Vec<Certificate>, CertificateError> {
        const BEGIN: &str = "-----BEGIN ";
        let bad = |reason: String| CertificateError::Pem { reason };
        let mut certs = Vec::new();
        let mut rest = pem;
        while let Some(start) = rest.find(BEGIN) {
            let block_and_more = &rest[start..];
            // The END line of this block ends at the first "-----" after "-----END ".
            let end_line = block_and_more
                .find("-----END ")
                .ok_or_else(|| bad("unterminated PEM block".into()))?;
            let after_end = &block_and_more[end_line + 9..];
            let close = after_end
                .find("-----")
                .ok_or_else(|| bad("unterminated PEM END line".into()))?;
            let block_len = end_line + 9 + close + 5;
            let (label, der) =
                pem_rfc7468::decode_vec(&block_and_more.as_bytes()[..block_len]).map_err(|e| bad(e.to_string()))?;
            if label != "CERTIFICATE" {
                return Err(bad(format!("found a {label} block where a CERTIFICATE was expected")));
            }
            certs.push(Certificate::from_der(&der)?);
            rest = &block_and_more[block_len..];
        }
        if certs.is_empty() {
            return Err(bad("no CERTIFICATE block".into()));
        }
        Ok(certs)
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate's public key (what its signatures are checked with).
    pub fn public_key(&self) -> Result<PublicKey, CertificateError> {
        let bad = |reason: String| CertificateError::Der { reason };
        let cert = x509_cert::Certificate::from_der(&self.der).map_err(|e| bad(e.to_string()))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| bad(e.to_string()))?;
        PublicKey::from_der(&spki).map_err(|e| bad(format!("public key: {e}")))
    }

    /// The identity the certificate states (not yet trusted).
    pub fn identity(&self) -> Result<CertificateIdentity, CertificateError> {
        CertificateIdentity::read(&self.der)
    }

    /// Checks that this leaf chains through `intermediates` to one of `roots`
    /// at `at`, every certificate of the path fit for code signing
    /// ([`CodeSigningUsage`]).
    pub fn verify_chain(
        &self,
        intermediates: &[Certificate],
        roots: &[Certificate],
        at: OffsetDateTime,
    ) -> Result<(), CertificateError> {
        let chain_error = |reason: String| CertificateError::Chain { at, reason };
        // webpki keeps only a root's name and key, so its EKU is judged here,
        // as Go judges the whole chain: a root restricted to other purposes
        // anchors no code-signing chain.
        let (usable, restricted): (Vec<&Certificate>, Vec<&Certificate>) =
            roots.iter().partition(|r| fit_for_code_signing(r.der()));
        if usable.is_empty() && !restricted.is_empty() {
            return Err(chain_error(
                "no root is for code signing (each root's extended key usage names neither codeSigning nor \
                 anyExtendedKeyUsage)"
                    .into(),
            ));
        }
        let root_ders: Vec<CertificateDer<'_>> = usable.iter().map(|c| CertificateDer::from(c.der())).collect();
        let anchors = root_ders
            .iter()
            .map(|der| webpki::anchor_from_trusted_cert(der).map_err(|e| chain_error(format!("root: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let intermediate_ders: Vec<CertificateDer<'_>> =
            intermediates.iter().map(|c| CertificateDer::from(c.der())).collect();
        let leaf_der = CertificateDer::from(self.der());
        let leaf = webpki::EndEntityCert::try_from(&leaf_der).map_err(|e| chain_error(e.to_string()))?;
        let seconds = u64::try_from(at.unix_timestamp()).map_err(|_| chain_error("time before 1970".into()))?;
        leaf.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediate_ders,
            UnixTime::since_unix_epoch(Duration::from_secs(seconds)),
            CodeSigningUsage,
            None,
            None,
        )
        .map_err(|e| match e {
            webpki::Error::RequiredEkuNotFoundContext(_) | webpki::Error::EmptyEkuExtension => chain_error(
                "a certificate of the chain is not for code signing (its extended key usage names neither \
                 codeSigning nor anyExtendedKeyUsage)"
                    .into(),
            ),
            e if !restricted.is_empty() => chain_error(format!(
                "{e} ({} root(s) not for code signing were not used)",
                restricted.len()
            )),
            e => chain_error(e.to_string()),
        })?;
        Ok(())
    }
}

/// Whether a (root) certificate may anchor a code-signing chain: no extended
/// key usage extension, or one naming codeSigning or anyExtendedKeyUsage. A
/// certificate that cannot be read, or has two EKU extensions, is not.
fn fit_for_code_signing(der: &[u8]) -> bool {
    const EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
    const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
    const ANY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
    let Ok(cert) = x509_cert::Certificate::from_der(der) else {
        return false;
    };
    let mut ekus = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .filter(|e| e.extn_id == EKU);
    match (ekus.next(), ekus.next()) {
        (None, _) => true,
        (Some(ext), None) => x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
            .is_ok_and(|eku| eku.0.contains(&CODE_SIGNING) || eku.0.contains(&ANY)),
        (Some(_), Some(_)) => false,
    }
}

/// One subject alternative name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SubjectName {
    /// `rfc822Name`.
    Email(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// Fulcio's `otherName` username (`1.3.6.1.4.1.57264.1.7`).
    OtherName(String),
    /// `dNSName` (private PKIs).
    Dns(String),
}

impl SubjectName {
    /// The name's value, whatever its kind.
    pub fn value(&self) -> &str {
        match self {
            SubjectName::Email(v) | SubjectName::Uri(v) | SubjectName::OtherName(v) | SubjectName::Dns(v) => v,
        }
    }

    /// The kind, as reports name it.
    pub fn kind(&self) -> &'static str {
        match self {
            SubjectName::Email(_) => "email",
            SubjectName::Uri(_) => "uri",
            SubjectName::OtherName(_) => "otherName",
            SubjectName::Dns(_) => "dns",
        }
    }
}

/// What a certificate says about its subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// Every SAN, in certificate order.
    pub subject: Vec<SubjectName>,
    /// The OIDC issuer (`.1.8`, else the deprecated `.1.1`).
    pub issuer: Option<String>,
    /// Fulcio extensions present, by their DESIGN §4.1 names (`issuer` included).
    pub extensions: BTreeMap<String, String>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
}

impl CertificateIdentity {
    /// The identity of a DER certificate, read in one parse (what
    /// [`Certificate::from_der`] then [`Certificate::identity`] give).
    pub(crate) fn from_der(der: &[u8]) -> Result<CertificateIdentity, CertificateError> {
        CertificateIdentity::read(der)
    }

    fn read(der: &[u8]) -> Result<CertificateIdentity, CertificateError> {
        let bad = |reason: String| CertificateError::Der { reason };
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| bad(e.to_string()))?;
        let tbs = &cert.tbs_certificate;
        let mut subject = Vec::new();
        let mut extensions = BTreeMap::new();
        let mut issuer_v2 = None;
        let mut issuer_v1 = None;
        for ext in tbs.extensions.iter().flatten() {
            let value = ext.extn_value.as_bytes();
            if ext.extn_id == SAN_OID {
                let san = SubjectAltName::from_der(value).map_err(|e| bad(format!("subject alternative name: {e}")))?;
                subject.extend(san.0.iter().filter_map(subject_name));
            } else if ext.extn_id == ISSUER_OID {
                issuer_v2 = Some(utf8_string(value).ok_or_else(|| bad("issuer extension is not a UTF8String".into()))?);
            } else if ext.extn_id == ISSUER_DEPRECATED_OID {
                issuer_v1 = Some(String::from_utf8_lossy(value).into_owned());
            } else if let Some(known) = EXTENSIONS.iter().find(|e| e.oid == ext.extn_id) {
                let text = match known.encoding {
                    Encoding::Raw => Some(String::from_utf8_lossy(value).into_owned()),
                    Encoding::Utf8String => utf8_string(value),
                };
                let text = text.ok_or_else(|| bad(format!("extension {} is not a UTF8String", known.name)))?;
                extensions.insert(known.name.to_owned(), text);
            }
        }
        let issuer = issuer_v2.or(issuer_v1);
        if let Some(issuer) = &issuer {
            extensions.insert("issuer".to_owned(), issuer.clone());
        }
        let time = |t: &x509_cert::time::Time| {
            OffsetDateTime::from_unix_timestamp(t.to_unix_duration().as_secs() as i64)
                .map_err(|e| bad(format!("validity: {e}")))
        };
        Ok(CertificateIdentity {
            subject,
            issuer,
            extensions,
            not_before: time(&tbs.validity.not_before)?,
            not_after: time(&tbs.validity.not_after)?,
        })
    }
}

fn subject_name(name: &GeneralName) -> Option<SubjectName> {
    match name {
        GeneralName::Rfc822Name(v) => Some(SubjectName::Email(v.to_string())),
        GeneralName::UniformResourceIdentifier(v) => Some(SubjectName::Uri(v.to_string())),
        GeneralName::DnsName(v) => Some(SubjectName::Dns(v.to_string())),
        GeneralName::OtherName(other) if other.type_id == OTHERNAME_SAN_OID => other
            .value
            .decode_as::<der::asn1::Utf8StringRef<'_>>()
            .ok()
            .map(|s| SubjectName::OtherName(s.as_str().to_owned())),
        _ => None,
    }
}

fn utf8_string(der: &[u8]) -> Option<String> {
    der::asn1::Utf8StringRef::from_der(der)
        .ok()
        .map(|s| s.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(matches!(
            Certificate::from_der(b"nope"),
            Err(CertificateError::Der { .. })
        ));
        assert!(matches!(
            Certificate::from_pem_chain("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            Err(CertificateError::Pem { .. })
        ));
        assert!(matches!(
            Certificate::from_pem_chain(""),
            Err(CertificateError::Pem { .. })
        ));
    }
}
