//! A generated Notary Project PKI for revocation tests: a root, an
//! intermediate and a code-signing leaf (ECDSA P-256), CRLs issued by the
//! root or the intermediate, and JWS envelopes signed by the leaf over a
//! given descriptor, as notation writes them; and a test TSA ([`TestTsa`])
//! making RFC 3161 TimeStampTokens over any signature bytes.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SerialNumber,
};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

/// Serial number of the leaf.
pub const LEAF_SERIAL: u64 = 0x1eaf;
/// Serial number of the intermediate.
pub const INTERMEDIATE_SERIAL: u64 = 0x17e7;

/// One certificate authority: its certificate and what signs with it.
struct Authority {
    der: Vec<u8>,
    params: CertificateParams,
    key: KeyPair,
}

impl Authority {
    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }
}

/// Root → intermediate → leaf; the authorities valid 2020..2040, the
/// leaf 2021..2039 (inside the test TSA's 2020..2040).
pub struct NotationPki {
    root: Authority,
    intermediate: Authority,
    leaf: Vec<u8>,
    leaf_key: KeyPair,
}

fn ca_params(name: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::new(vec![]).expect("params");
    params.distinguished_name.push(DnType::OrganizationName, "sigil test");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.serial_number = Some(SerialNumber::from(serial));
    params.not_before = datetime!(2020-01-01 00:00 UTC);
    params.not_after = datetime!(2040-01-01 00:00 UTC);
    params
}

impl Default for NotationPki {
    fn default() -> Self {
        Self::new()
    }
}

impl NotationPki {
    /// A fresh PKI.
    pub fn new() -> NotationPki {
        let root_key = KeyPair::generate().expect("key");
        let root_params = ca_params("sigil notation test root", 1);
        let root_der = root_params.self_signed(&root_key).expect("root").der().to_vec();
        let root = Authority {
            der: root_der,
            params: root_params,
            key: root_key,
        };
        let intermediate_key = KeyPair::generate().expect("key");
        let intermediate_params = ca_params("sigil notation test intermediate", INTERMEDIATE_SERIAL);
        let intermediate_der = intermediate_params
            .signed_by(&intermediate_key, &root.issuer())
            .expect("intermediate")
            .der()
            .to_vec();
        let intermediate = Authority {
            der: intermediate_der,
            params: intermediate_params,
            key: intermediate_key,
        };
        let leaf_key = KeyPair::generate().expect("key");
        let mut leaf = CertificateParams::new(vec![]).expect("params");
        leaf.distinguished_name.push(DnType::OrganizationName, "sigil test");
        leaf.distinguished_name
            .push(DnType::CommonName, "sigil notation test signer");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        leaf.serial_number = Some(SerialNumber::from(LEAF_SERIAL));
        leaf.not_before = datetime!(2021-01-01 00:00 UTC);
        leaf.not_after = datetime!(2039-01-01 00:00 UTC);
        let leaf = leaf
            .signed_by(&leaf_key, &intermediate.issuer())
            .expect("leaf")
            .der()
            .to_vec();
        NotationPki {
            root,
            intermediate,
            leaf,
            leaf_key,
        }
    }

    /// The root certificate (DER), for the `ca` store.
    pub fn root(&self) -> &[u8] {
        &self.root.der
    }

    /// A JWS envelope (`application/jose+json`) by the leaf, chain leaf and
    /// intermediate in `x5c`, over the descriptor `(media_type, digest, size)`.
    pub fn sign_jws(&self, media_type: &str, digest: &str, size: u64) -> Vec<u8> {
        let protected = json!({
            "alg": "ES256",
            "crit": ["io.cncf.notary.signingScheme"],
            "cty": "application/vnd.cncf.notary.payload.v1+json",
            "io.cncf.notary.signingScheme": "notary.x509",
            "io.cncf.notary.signingTime": "2025-06-01T00:00:00Z",
        });
        let payload = json!({"targetArtifact": {"mediaType": media_type, "digest": digest, "size": size}});
        let protected = URL_SAFE_NO_PAD.encode(protected.to_string());
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &self.leaf_key.serialize_der())
            .expect("leaf key");
        let signature = signer
            .sign(&SystemRandom::new(), format!("{protected}.{payload}").as_bytes())
            .expect("sign");
        serde_json::to_vec(&json!({
            "payload": payload,
            "protected": protected,
            "header": {"x5c": [STANDARD.encode(&self.leaf), STANDARD.encode(&self.intermediate.der)]},
            "signature": URL_SAFE_NO_PAD.encode(signature.as_ref()),
        }))
        .expect("json")
    }

    /// A DER CRL by the intermediate (`by_root`: by the root) valid
    /// `this_update..next_update`, listing `revoked` serials (revoked
    /// 2025-01-01, key compromise).
    pub fn crl(
        &self,
        by_root: bool,
        revoked: &[u64],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Vec<u8> {
        let authority = if by_root { &self.root } else { &self.intermediate };
        self.crl_signed(authority.issuer(), revoked, this_update, next_update)
    }

    /// A CRL by the intermediate revoking `serial` with an
    /// `invalidityDate` (the time its key became unusable).
    pub fn crl_invalid_from(
        &self,
        serial: u64,
        invalidity: OffsetDateTime,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(2u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(serial),
                revocation_time: next_update - time::Duration::days(1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: Some(invalidity),
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&self.intermediate.issuer())
            .expect("crl")
            .der()
            .to_vec()
    }

    /// A CRL naming the intermediate as its issuer, signed by another key.
    pub fn forged_crl(&self, revoked: &[u64], this_update: OffsetDateTime, next_update: OffsetDateTime) -> Vec<u8> {
        let other = KeyPair::generate().expect("key");
        self.crl_signed(
            Issuer::from_params(&self.intermediate.params, &other),
            revoked,
            this_update,
            next_update,
        )
    }

    fn crl_signed(
        &self,
        issuer: Issuer<'_, &KeyPair>,
        revoked: &[u64],
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
    ) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: datetime!(2025-01-01 00:00 UTC),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params.signed_by(&issuer).expect("crl").der().to_vec()
    }
}

// --- a test time-stamping authority -------------------------------------------

use aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{Int, OctetString, SetOfVec};
use der::{Any, Decode as _, Encode as _, Sequence, Tag};
use rcgen::CustomExtension;
use x509_cert::attr::Attribute;
use x509_cert::spki::{AlgorithmIdentifier, AlgorithmIdentifierOwned};
use x509_tsp::{MessageImprint, TspVersion};

const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

/// TSTInfo's required fields, genTime as raw text (so that tests can write
/// fractional seconds, which `der`'s GeneralizedTime refuses).
#[derive(Clone, Debug, Sequence)]
struct TstInfo {
    version: TspVersion,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    nonce: Option<Int>,
}

#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// A test TSA: a root and a TSA certificate under it, with or without the
/// critical timeStamping extended key usage.
pub struct TestTsa {
    /// The root certificate (DER), for a `tsa` store.
    pub root: Vec<u8>,
    root_params: CertificateParams,
    root_key: KeyPair,
    cert: Vec<u8>,
    key: KeyPair,
}

/// Serial number of a [`TestTsa`]'s TSA certificate.
pub const TSA_SERIAL: u64 = 0x75a;

impl TestTsa {
    pub fn new(eku: Option<bool>) -> TestTsa {
        let root_key = KeyPair::generate().expect("key");
        let mut root = CertificateParams::new(vec![]).expect("params");
        root.distinguished_name
            .push(rcgen::DnType::CommonName, "sigil test TSA root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root.not_before = datetime!(2020-01-01 00:00 UTC);
        root.not_after = datetime!(2040-01-01 00:00 UTC);
        let root_cert = root.self_signed(&root_key).expect("root");
        let key = KeyPair::generate().expect("key");
        let mut tsa = CertificateParams::new(vec![]).expect("params");
        tsa.distinguished_name.push(rcgen::DnType::CommonName, "sigil test TSA");
        tsa.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        tsa.not_before = datetime!(2020-01-01 00:00 UTC);
        tsa.not_after = datetime!(2040-01-01 00:00 UTC);
        if let Some(critical) = eku {
            // SEQUENCE { id-kp-timeStamping }
            let mut ext = CustomExtension::from_oid_content(
                &[2, 5, 29, 37],
                vec![0x30, 0x0a, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08],
            );
            ext.set_criticality(critical);
            tsa.custom_extensions.push(ext);
        }
        tsa.serial_number = Some(SerialNumber::from(TSA_SERIAL));
        let cert = tsa
            .signed_by(&key, &Issuer::from_params(&root, &root_key))
            .expect("tsa");
        TestTsa {
            root: root_cert.der().to_vec(),
            root_params: root,
            root_key,
            cert: cert.der().to_vec(),
            key,
        }
    }

    /// A DER CRL by the TSA's root, valid `this_update..next_update`,
    /// listing `revoked` serials.
    pub fn crl(&self, revoked: &[u64], this_update: OffsetDateTime, next_update: OffsetDateTime) -> Vec<u8> {
        let params = CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|serial| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: this_update,
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        };
        params
            .signed_by(&Issuer::from_params(&self.root_params, &self.root_key))
            .expect("crl")
            .der()
            .to_vec()
    }

    /// The TSA certificate (DER).
    pub fn cert(&self) -> &[u8] {
        &self.cert
    }

    /// A TimeStampToken over `signature` at `gen_time` (GeneralizedTime text).
    pub fn stamp(&self, signature: &[u8], gen_time: &str) -> Vec<u8> {
        let imprint = MessageImprint {
            hash_algorithm: AlgorithmIdentifier {
                oid: rfc5912::ID_SHA_256,
                parameters: None,
            },
            hashed_message: OctetString::new(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, signature).as_ref())
                .expect("octets"),
        };
        self.stamp_imprint(imprint, None, gen_time)
    }

    /// A TimeStampToken over a request's `imprint` (echoing its `nonce`) at
    /// `gen_time` (GeneralizedTime text), as an RFC 3161 endpoint answers.
    pub fn stamp_imprint(&self, imprint: MessageImprint, nonce: Option<Int>, gen_time: &str) -> Vec<u8> {
        let sha256 = |b: &[u8]| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b)
                .as_ref()
                .to_vec()
        };
        let alg = |oid| AlgorithmIdentifierOwned { oid, parameters: None };
        let mut serial = [0u8; 8];
        aws_lc_rs::rand::fill(&mut serial).expect("random bytes");
        serial[0] = (serial[0] & 0x7f) | 0x01;
        let tst = TstInfo {
            version: TspVersion::V1,
            policy: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
            message_imprint: imprint,
            serial_number: Int::new(&serial).expect("int"),
            gen_time: Any::new(Tag::GeneralizedTime, gen_time.as_bytes().to_vec()).expect("time"),
            nonce,
        }
        .to_der()
        .expect("tstinfo");
        let attr = |oid, value: Any| Attribute {
            oid,
            values: SetOfVec::try_from(vec![value]).expect("set"),
        };
        let pin = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(sha256(&self.cert)).expect("octets"),
                issuer_serial: None,
            }],
            policies: None,
        };
        let attrs: x509_cert::attr::Attributes = SetOfVec::try_from(vec![
            attr(rfc5911::ID_CONTENT_TYPE, Any::encode_from(&TST_INFO).expect("oid")),
            attr(
                rfc5911::ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(sha256(&tst)).expect("octets")).expect("any"),
            ),
            attr(SIGNING_CERTIFICATE_V2, Any::encode_from(&pin).expect("any")),
        ])
        .expect("attrs");
        let pkcs8 = self.key.serialize_der();
        let signer = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8).expect("key");
        let signature = signer
            .sign(&SystemRandom::new(), &attrs.to_der().expect("der"))
            .expect("sign");
        let cert = x509_cert::Certificate::from_der(&self.cert).expect("cert");
        let info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.tbs_certificate.issuer.clone(),
                serial_number: cert.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: alg(rfc5912::ID_SHA_256),
            signed_attrs: Some(attrs),
            signature_algorithm: alg(rfc5912::ECDSA_WITH_SHA_256),
            signature: OctetString::new(signature.as_ref().to_vec()).expect("octets"),
            unsigned_attrs: None,
        };
        let signed = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![alg(rfc5912::ID_SHA_256)]).expect("set"),
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: TST_INFO,
                econtent: Some(Any::new(Tag::OctetString, tst).expect("any")),
            },
            certificates: Some(CertificateSet(
                SetOfVec::try_from(vec![CertificateChoices::Certificate(cert)]).expect("set"),
            )),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![info]).expect("set")),
        };
        ContentInfo {
            content_type: rfc5911::ID_SIGNED_DATA,
            content: Any::encode_from(&signed).expect("any"),
        }
        .to_der()
        .expect("token")
    }
}
