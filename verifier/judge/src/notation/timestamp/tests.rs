//! Timestamp countersignatures: notation-go's timestamped envelopes
//! (GlobalSign TSA) accepted under the `tsa` store holding GlobalSign's
//! root, and the twins refused by the authentic-timestamp check for their
//! own reason. Tokens for the TSA-profile cases are made here, by a test
//! TSA (rcgen) over the real envelopes' signatures.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cms::cert::IssuerAndSerialNumber;
use cms::content_info::CmsVersion;
use cms::signed_data::{CertificateSet, EncapsulatedContentInfo, SignerInfos};
use der::asn1::SetOfVec;
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::macros::datetime;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifier;

use super::super::*;
use super::*;
use crate::testdata;

pub(crate) const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const DIR: &str = "notation/notation-go";

pub(crate) fn read(file: &str) -> Vec<u8> {
    testdata::read(format!("{DIR}/{file}"))
}

fn media_type(file: &str) -> &'static str {
    if read(file).starts_with(b"{") {
        JWS_MEDIA_TYPE
    } else {
        COSE_MEDIA_TYPE
    }
}

pub(crate) fn input(media_type: &str, bytes: Vec<u8>) -> SignatureInput {
    SignatureInput {
        origin: "test".into(),
        media_type: media_type.into(),
        envelope: Ok(bytes),
    }
}

/// The descriptor an envelope signs (the image it is judged against).
pub(crate) fn target_of(media_type: &str, bytes: &[u8]) -> crate::oci::Descriptor {
    let parsed = envelope::parse(media_type, bytes).expect("parse");
    let mut d = crate::oci::Descriptor::of(&parsed.target.media_type, b"");
    d.digest = parsed.target.digest.clone();
    d.size = parsed.target.size;
    d
}

fn store(kind: StoreType, name: &str) -> StoreRef {
    StoreRef {
        kind,
        name: name.into(),
    }
}

/// `ca:signer` holding the envelope's own (self-signed) signer, `tsa:tsa`
/// holding `tsa_roots`.
fn stores(media_type: &str, bytes: &[u8], tsa_roots: &[(&str, Vec<u8>)]) -> TrustStores {
    let parsed = envelope::parse(media_type, bytes).expect("parse");
    let mut stores = TrustStores::new();
    stores
        .add_file(&store(StoreType::Ca, "signer"), "signer.cer", parsed.leaf().der())
        .expect("ca");
    for (name, der) in tsa_roots {
        stores.add_file(&store(StoreType::Tsa, "tsa"), name, der).expect("tsa");
    }
    stores
}

fn globalsign() -> Vec<(&'static str, Vec<u8>)> {
    vec![("globalsignRoot.cer", read("globalsignRoot.cer"))]
}

pub(crate) fn doc(level: &str, extra: &str, tsa: bool) -> TrustPolicyDocument {
    let stores = if tsa {
        r#""ca:signer","tsa:tsa""#
    } else {
        r#""ca:signer""#
    };
    let text = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"t","registryScopes":["*"],"signatureVerification":{{"level":"{level}"{extra}}},"trustStores":[{stores}],"trustedIdentities":["*"]}}]}}"#
    );
    TrustPolicyDocument::parse(text.as_bytes()).expect("policy")
}

fn judge_at(doc: &TrustPolicyDocument, stores: &TrustStores, media_type: &str, bytes: Vec<u8>) -> ImageVerdict {
    let target = target_of(media_type, &bytes);
    judge(doc.select(None), stores, &target, &[input(media_type, bytes)], NOW).expect("judged")
}

fn check(verdict: &ImageVerdict, validation: Validation) -> Check {
    match verdict {
        ImageVerdict::Judged { signatures, .. } => signatures[0]
            .checks
            .iter()
            .find(|c| c.validation == validation)
            .cloned()
            .unwrap_or_else(|| panic!("no {validation:?} check in {verdict:?}")),
        other => panic!("not judged: {other:?}"),
    }
}

/// The enforced authentic-timestamp failure's reason.
fn refused(verdict: &ImageVerdict) -> String {
    assert!(!verdict.allowed(), "{verdict:?}");
    let c = check(verdict, Validation::AuthenticTimestamp);
    assert_eq!(c.action, Action::Enforce);
    match c.result {
        CheckResult::Failed(reason) => reason,
        other => panic!("{other:?}"),
    }
}

/// The envelope with its countersignature replaced by `token`.
fn with_token(media_type: &str, bytes: &[u8], token: &[u8]) -> Vec<u8> {
    if media_type == JWS_MEDIA_TYPE {
        let mut value: serde_json::Value = serde_json::from_slice(bytes).expect("json");
        value["header"]["io.cncf.notary.timestampSignature"] = STANDARD.encode(token).into();
        serde_json::to_vec(&value).expect("json")
    } else {
        use coset::TaggedCborSerializable as _;
        let mut sign1 = coset::CoseSign1::from_tagged_slice(bytes).expect("cose");
        for (label, value) in sign1.unprotected.rest.iter_mut() {
            if matches!(label, coset::Label::Text(t) if t == "io.cncf.notary.timestampSignature") {
                *value = ciborium::value::Value::Bytes(token.to_vec());
            }
        }
        sign1.to_tagged_vec().expect("cbor")
    }
}

fn token_of(media_type: &str, bytes: &[u8]) -> Vec<u8> {
    envelope::parse(media_type, bytes)
        .expect("parse")
        .timestamp_token
        .expect("a token")
}

#[test]
fn notation_go_timestamped_envelopes_verify_at_the_timestamp() {
    for file in [
        "jwsWithTimestamp.sig",
        "coseWithTimestamp.sig",
        "jwsExpiredWithTimestamp.sig",
        "coseExpiredWithTimestamp.sig",
    ] {
        let (mt, bytes) = (media_type(file), read(file));
        let stores = stores(mt, &bytes, &globalsign());
        for extra in [
            "",
            r#","verifyTimestamp":"always""#,
            r#","verifyTimestamp":"afterCertExpiry""#,
        ] {
            let verdict = judge_at(&doc("strict", extra, true), &stores, mt, bytes.clone());
            assert!(verdict.allowed(), "{file} {extra}: {verdict:?}");
            assert_eq!(
                check(&verdict, Validation::AuthenticTimestamp).result,
                CheckResult::Passed
            );
        }
        let proven = timestamp::verify(
            &token_of(mt, &bytes),
            &envelope::parse(mt, &bytes).expect("parse").signature,
            &stores.get(&store(StoreType::Tsa, "tsa")).expect("tsa").to_vec(),
        )
        .expect("token");
        assert!(proven.tsa.contains("Globalsign TSA"), "{}", proven.tsa);
        assert_eq!(
            proven.latest - proven.earliest,
            Duration::seconds(2),
            "{file}: accuracy 1 s"
        );
    }
    // The expired signers without a tsa store: the chain must be valid now.
    for file in ["jwsExpiredWithTimestamp.sig", "coseExpiredWithTimestamp.sig"] {
        let (mt, bytes) = (media_type(file), read(file));
        let reason = refused(&judge_at(
            &doc("strict", "", false),
            &stores(mt, &bytes, &[]),
            mt,
            bytes,
        ));
        assert!(
            reason.contains("expired") && reason.contains("no tsa trust store"),
            "{reason}"
        );
    }
}

#[test]
fn a_flipped_token_byte_fails_the_authentic_timestamp() {
    for file in ["jwsExpiredWithTimestamp.sig", "coseExpiredWithTimestamp.sig"] {
        let (mt, bytes) = (media_type(file), read(file));
        let stores = stores(mt, &bytes, &globalsign());
        let token = token_of(mt, &bytes);
        // The last byte is the TSA's signature's (no unsigned attributes).
        let mut flipped = token.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let reason = refused(&judge_at(
            &doc("strict", "", true),
            &stores,
            mt,
            with_token(mt, &bytes, &flipped),
        ));
        assert!(
            reason.contains("the timestamp signature does not verify"),
            "{file}: {reason}"
        );
        // A byte of genTime inside the TSTInfo: the signed digest no longer matches.
        let at = token
            .windows(4)
            .position(|w| w == b"2024")
            .expect("genTime in the token");
        let mut flipped = token.clone();
        flipped[at + 3] = b'3';
        let reason = refused(&judge_at(
            &doc("strict", "", true),
            &stores,
            mt,
            with_token(mt, &bytes, &flipped),
        ));
        assert!(reason.contains("message digest"), "{file}: {reason}");
        // Truncated.
        let reason = refused(&judge_at(
            &doc("strict", "", true),
            &stores,
            mt,
            with_token(mt, &bytes, &token[..100]),
        ));
        assert!(reason.contains("malformed timestamp token"), "{file}: {reason}");
        // Permissive logs it (and the expired chain is then not excused).
        let verdict = judge_at(
            &doc("permissive", "", true),
            &stores,
            mt,
            with_token(mt, &bytes, &flipped),
        );
        let c = check(&verdict, Validation::AuthenticTimestamp);
        assert_eq!(c.action, Action::Log);
        assert!(matches!(c.result, CheckResult::Failed(_)), "{c:?}");
        assert!(verdict.allowed(), "{verdict:?}");
    }
}

#[test]
fn a_token_over_another_signature_fails_the_authentic_timestamp() {
    // jwsWithTimestamp's token, stamped over another signature, put on the
    // expired envelope: the imprint is not this signature's hash.
    let other = token_of(JWS_MEDIA_TYPE, &read("jwsWithTimestamp.sig"));
    for file in ["jwsExpiredWithTimestamp.sig", "coseExpiredWithTimestamp.sig"] {
        let (mt, bytes) = (media_type(file), read(file));
        let stores = stores(mt, &bytes, &globalsign());
        let reason = refused(&judge_at(
            &doc("strict", "", true),
            &stores,
            mt,
            with_token(mt, &bytes, &other),
        ));
        assert!(
            reason.contains("message imprint is not the hash of this signature"),
            "{reason}"
        );
    }
}

#[test]
fn a_tsa_store_holding_another_ca_fails_the_authentic_timestamp() {
    let digicert = vec![("DigiCertTSARootSHA384.cer", read("DigiCertTSARootSHA384.cer"))];
    for file in ["jwsWithTimestamp.sig", "coseExpiredWithTimestamp.sig"] {
        let (mt, bytes) = (media_type(file), read(file));
        let reason = refused(&judge_at(
            &doc("strict", "", true),
            &stores(mt, &bytes, &digicert),
            mt,
            bytes,
        ));
        assert!(reason.contains("does not lead to the tsa trust store"), "{reason}");
    }
    // A signature without a timestamp, under a policy that asks for one.
    let bytes = read("jws_signature.sig");
    let reason = refused(&judge_at(
        &doc("strict", "", true),
        &stores(JWS_MEDIA_TYPE, &bytes, &globalsign()),
        JWS_MEDIA_TYPE,
        bytes,
    ));
    assert!(reason.contains("has none"), "{reason}");
}

#[test]
fn a_timestamp_outside_the_signers_validity_fails() {
    // notation-go's twins: the signer is valid from 2099 (token of 2024),
    // or expired before the token's time. Authenticity is logged so that
    // the authentic-timestamp check is reached.
    let extra = r#","override":{"authenticity":"log"}"#;
    for (file, word) in [
        ("timestampBeforeNotBefore.sig", "before certificate"),
        ("timestampAfterNotAfter.sig", "after certificate"),
    ] {
        let (mt, bytes) = (media_type(file), read(file));
        let stores = stores(mt, &bytes, &globalsign());
        let reason = refused(&judge_at(&doc("strict", extra, true), &stores, mt, bytes));
        assert!(reason.contains(word), "{file}: {reason}");
    }
}

/// A test TSA: a root and a TSA certificate under it, with or without the
/// critical timeStamping extended key usage.
pub(crate) struct TestTsa {
    pub root: Vec<u8>,
    cert: Vec<u8>,
    key: KeyPair,
}

impl TestTsa {
    pub(crate) fn new(eku: Option<bool>) -> TestTsa {
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
        let issuer = Issuer::new(root, root_key);
        let cert = tsa.signed_by(&key, &issuer).expect("tsa");
        TestTsa {
            root: root_cert.der().to_vec(),
            cert: cert.der().to_vec(),
            key,
        }
    }

    /// A TimeStampToken over `signature` at `gen_time` (GeneralizedTime text).
    pub(crate) fn stamp(&self, signature: &[u8], gen_time: &str) -> Vec<u8> {
        let sha256 = |b: &[u8]| digest::digest(&digest::SHA256, b).as_ref().to_vec();
        let alg = |oid| AlgorithmIdentifierOwned { oid, parameters: None };
        let tst = TstInfo {
            version: TspVersion::V1,
            policy: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.1"),
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifier {
                    oid: rfc5912::ID_SHA_256,
                    parameters: None,
                },
                hashed_message: OctetString::new(sha256(signature)).expect("octets"),
            },
            serial_number: Int::new(&[1]).expect("int"),
            gen_time: Any::new(Tag::GeneralizedTime, gen_time.as_bytes().to_vec()).expect("time"),
            accuracy: None,
            ordering: false,
            nonce: None,
            tsa: None,
            extensions: None,
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

#[test]
fn the_tsa_certificate_must_be_for_timestamping_only() {
    let file = "jwsExpiredWithTimestamp.sig";
    let bytes = read(file);
    let signature = envelope::parse(JWS_MEDIA_TYPE, &bytes).expect("parse").signature;
    // Within the signer's validity (2024-06-18 07:20:31..07:30:31).
    let gen_time = "20240618072500Z";
    let judged = |tsa: &TestTsa, gen_time: &str| {
        let envelope = with_token(JWS_MEDIA_TYPE, &bytes, &tsa.stamp(&signature, gen_time));
        let stores = stores(JWS_MEDIA_TYPE, &envelope, &[("root.cer", tsa.root.clone())]);
        judge_at(&doc("strict", "", true), &stores, JWS_MEDIA_TYPE, envelope)
    };
    // The control: a proper TSA's token is accepted, so each twin below
    // fails for its own reason.
    let good = TestTsa::new(Some(true));
    let verdict = judged(&good, gen_time);
    assert!(verdict.allowed(), "{verdict:?}");
    // Fractional seconds are read.
    assert!(judged(&good, "20240618072500.25Z").allowed());
    // Without the extended key usage, and with it not critical.
    let reason = refused(&judged(&TestTsa::new(None), gen_time));
    assert!(reason.contains("has no timeStamping extended key usage"), "{reason}");
    let reason = refused(&judged(&TestTsa::new(Some(false)), gen_time));
    assert!(reason.contains("critical"), "{reason}");
    // genTime outside the signer's validity, on either side.
    let reason = refused(&judged(&good, "20240618072000Z"));
    assert!(reason.contains("before certificate"), "{reason}");
    let reason = refused(&judged(&good, "20240618073100Z"));
    assert!(reason.contains("after certificate"), "{reason}");
    // Another TSA's root in the store.
    let other = TestTsa::new(Some(true));
    let envelope = with_token(JWS_MEDIA_TYPE, &bytes, &good.stamp(&signature, gen_time));
    let stores = stores(JWS_MEDIA_TYPE, &envelope, &[("root.cer", other.root.clone())]);
    let reason = refused(&judge_at(&doc("strict", "", true), &stores, JWS_MEDIA_TYPE, envelope));
    assert!(reason.contains("does not lead to the tsa trust store"), "{reason}");
}
