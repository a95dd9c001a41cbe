//! A Sigstore instance made by the tests: a P-384 root and intermediate, a
//! ten-minute P-256 leaf for `dev@example.com` with Fulcio's OIDC-issuer
//! extension (and any others asked for), and a log key that signs entry
//! timestamps. It writes what cosign v2 writes (Rekor bundle annotations
//! over `hashedrekord` and `intoto 0.0.2` entries) and the
//! `trusted_root.json` that trusts it.
//!
//! Shared by the judge's unit tests (`pki_tests.rs`, `time_tests.rs`), the
//! end-to-end tests and the benchmarks; it depends on no sigil crate, so
//! the judge's own tests use it without a second copy of the judge.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData as _, SanType, SigningKey as _,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

pub const ISSUER_URL: &str = "https://issuer.example";
pub const IDENTITY: &str = "dev@example.com";
/// The leaf is valid for ten minutes from here.
pub const ISSUED: OffsetDateTime = datetime!(2025-01-01 12:00:00 UTC);
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// Fulcio's OID arc for certificate extensions (`1.3.6.1.4.1.57264.1.N`).
pub const FULCIO_ARC: [u64; 9] = [1, 3, 6, 1, 4, 1, 57264, 1, 0];

pub struct TestSigstore {
    pub root_pem: String,
    pub intermediate_pem: String,
    pub leaf_pem: String,
    pub leaf_key: KeyPair,
    pub log_key: KeyPair,
}

/// A DER UTF8String (short-form length: the values here are short).
fn der_utf8(s: &str) -> Vec<u8> {
    assert!(
        s.len() < 128,
        "extension value too long for a short-form DER length: {s}"
    );
    let mut out = vec![0x0c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

/// A certificate authority's parameters and key, valid 2024-2034.
pub fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = datetime!(2024-01-01 0:00 UTC);
    p.not_after = datetime!(2034-01-01 0:00 UTC);
    (p, key)
}

/// The DER inside a one-certificate PEM.
pub fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("pem body")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes))
}

/// A log's id: the sha256 of its public key (SPKI DER).
pub fn log_id(log_key: &KeyPair) -> Vec<u8> {
    digest(&SHA256, &log_key.subject_public_key_info()).as_ref().to_vec()
}

impl TestSigstore {
    /// A new instance; the leaf carries `extensions` (Fulcio extension
    /// number, UTF-8 value) besides the OIDC issuer (number 8).
    pub fn new(extensions: &[(u64, &str)]) -> TestSigstore {
        let (root_params, root_key) = ca("test root");
        let root = root_params.self_signed(&root_key).expect("root");
        let root_issuer = Issuer::new(root_params, root_key);
        let (int_params, int_key) = ca("test intermediate");
        let intermediate = int_params.signed_by(&int_key, &root_issuer).expect("intermediate");
        let int_issuer = Issuer::new(int_params, int_key);
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.subject_alt_names = vec![SanType::Rfc822Name(IDENTITY.try_into().expect("ia5"))];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.not_before = ISSUED;
        p.not_after = ISSUED + time::Duration::minutes(10);
        let extension = |number: u64, value: &str| {
            let mut oid = FULCIO_ARC;
            oid[8] = number;
            CustomExtension::from_oid_content(&oid, der_utf8(value))
        };
        p.custom_extensions = std::iter::once(extension(8, ISSUER_URL))
            .chain(extensions.iter().map(|(n, v)| extension(*n, v)))
            .collect();
        let leaf = p.signed_by(&leaf_key, &int_issuer).expect("leaf");
        TestSigstore {
            root_pem: root.pem(),
            intermediate_pem: intermediate.pem(),
            leaf_pem: leaf.pem(),
            leaf_key,
            log_key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("log key"),
        }
    }

    /// A trusted_root.json holding this instance's CA and `log_key` as its log.
    pub fn trusted_root_with_log(&self, log_key: &KeyPair) -> String {
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(log_key.subject_public_key_info()),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2024-01-01T00:00:00Z"}},
                "logId": {"keyId": STANDARD.encode(log_id(log_key))}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "test", "commonName": "test"}, "uri": "https://ca.test",
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(der(&self.intermediate_pem))},
                    {"rawBytes": STANDARD.encode(der(&self.root_pem))}
                ]},
                "validFor": {"start": "2024-01-01T00:00:00Z"}
            }],
            "ctlogs": [], "timestampAuthorities": []
        })
        .to_string()
    }

    /// The trusted_root.json for this instance.
    pub fn trusted_root(&self) -> String {
        self.trusted_root_with_log(&self.log_key)
    }

    /// A cosign v2 Rekor bundle annotation for `body` in this instance's log,
    /// integrated at `at`, with a SET by `signer` (the log key, or a forger)
    /// over the canonical (sorted-key) JSON of the four logged fields.
    pub fn rekor_bundle(&self, body: &Value, at: OffsetDateTime, signer: &KeyPair) -> String {
        let body = STANDARD.encode(body.to_string());
        let id = hex::encode(log_id(&self.log_key));
        let t = at.unix_timestamp();
        let canonical = format!(r#"{{"body":"{body}","integratedTime":{t},"logID":"{id}","logIndex":7}}"#);
        let set = STANDARD.encode(signer.sign(canonical.as_bytes()).expect("set"));
        json!({"SignedEntryTimestamp": set, "Payload": {"body": body, "integratedTime": t, "logIndex": 7, "logID": id}})
            .to_string()
    }

    /// A `.sig` layer's signature over `payload` (base64) and its Rekor
    /// bundle: a `hashedrekord` entry for `logged`, SET by `signer` at `at`.
    pub fn sign_message(
        &self,
        payload: &[u8],
        logged: &[u8],
        at: OffsetDateTime,
        signer: &KeyPair,
    ) -> (String, String) {
        let signature = STANDARD.encode(self.leaf_key.sign(payload).expect("sign"));
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": sha256_hex(logged)}},
                "signature": {"content": signature, "publicKey": {"content": STANDARD.encode(&self.leaf_pem)}}
            }
        });
        let rekor = self.rekor_bundle(&body, at, signer);
        (signature, rekor)
    }

    /// A `.att` layer: a DSSE envelope of `statement` signed by the leaf, and
    /// the Rekor bundle of the `intoto 0.0.2` entry cosign v2 writes, logged
    /// for the payload `logged`, SET by `signer` at `at`.
    pub fn sign_envelope(
        &self,
        statement: &[u8],
        logged: &[u8],
        at: OffsetDateTime,
        signer: &KeyPair,
    ) -> (Vec<u8>, String) {
        let mut pae = format!(
            "DSSEv1 {} {IN_TOTO_PAYLOAD_TYPE} {} ",
            IN_TOTO_PAYLOAD_TYPE.len(),
            statement.len()
        )
        .into_bytes();
        pae.extend_from_slice(statement);
        let signature = self.leaf_key.sign(&pae).expect("sign");
        let envelope = json!({
            "payloadType": IN_TOTO_PAYLOAD_TYPE,
            "payload": STANDARD.encode(statement),
            "signatures": [{"keyid": "", "sig": STANDARD.encode(&signature)}]
        })
        .to_string()
        .into_bytes();
        let body = json!({
            "apiVersion": "0.0.2", "kind": "intoto",
            "spec": {"content": {
                "envelope": {
                    "payloadType": IN_TOTO_PAYLOAD_TYPE,
                    "signatures": [{
                        "sig": STANDARD.encode(STANDARD.encode(&signature)),
                        "publicKey": STANDARD.encode(&self.leaf_pem)
                    }]
                },
                "hash": {"algorithm": "sha256", "value": sha256_hex(&envelope)},
                "payloadHash": {"algorithm": "sha256", "value": sha256_hex(logged)}
            }}
        });
        let rekor = self.rekor_bundle(&body, at, signer);
        (envelope, rekor)
    }
}
