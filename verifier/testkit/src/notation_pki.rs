//! A generated Notary Project PKI for revocation tests: a root, an
//! intermediate and a code-signing leaf (ECDSA P-256), CRLs issued by the
//! root or the intermediate, and JWS envelopes signed by the leaf over a
//! given descriptor, as notation writes them.

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

/// Root → intermediate → leaf, valid 2020..2040.
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
        leaf.distinguished_name.push(DnType::CommonName, "sigil notation test signer");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        leaf.serial_number = Some(SerialNumber::from(LEAF_SERIAL));
        leaf.not_before = datetime!(2020-01-01 00:00 UTC);
        leaf.not_after = datetime!(2040-01-01 00:00 UTC);
        let leaf = leaf.signed_by(&leaf_key, &intermediate.issuer()).expect("leaf").der().to_vec();
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
    pub fn crl(&self, by_root: bool, revoked: &[u64], this_update: OffsetDateTime, next_update: OffsetDateTime) -> Vec<u8> {
        let authority = if by_root { &self.root } else { &self.intermediate };
        self.crl_signed(authority.issuer(), revoked, this_update, next_update)
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
