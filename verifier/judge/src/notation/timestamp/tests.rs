//! Timestamp countersignatures: notation-go's timestamped envelopes
//! (GlobalSign TSA) accepted under the `tsa` store holding GlobalSign's
//! root, and the twins refused by the authentic-timestamp check for their
//! own reason. Tokens for the TSA-profile cases are made here, by a test
//! TSA (rcgen) over the real envelopes' signatures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sigil_testkit::notation_pki::TestTsa;
use time::macros::datetime;

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
            stores.get(&store(StoreType::Tsa, "tsa")).expect("tsa"),
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

/// Every one-bit flip of a real token (GlobalSign's, over jwsWithTimestamp's
/// signature) and every truncation: never a panic, and a flipped token
/// that still verifies proves exactly the original time and was flipped
/// only in what no signature covers and nothing relies on: the SignedData
/// version and its informational digestAlgorithms set, or the copy of
/// GlobalSign's root the token carries (the store's root anchors the path).
#[test]
fn every_flipped_bit_of_a_real_token_is_refused_or_changes_nothing() {
    let bytes = read("jwsWithTimestamp.sig");
    let parsed = envelope::parse(JWS_MEDIA_TYPE, &bytes).expect("parse");
    let token = parsed.timestamp_token.clone().expect("token");
    let root_der = read("globalsignRoot.cer");
    let root_at = token
        .windows(root_der.len())
        .position(|w| w == root_der.as_slice())
        .expect("the token carries the root");
    let unused = root_at..root_at + root_der.len();
    let root = Certificate::from_der(&root_der).expect("root");
    let roots = [root];
    let original = verify(&token, &parsed.signature, &roots).expect("the real token verifies");
    let mut accepted = 0;
    for at in 0..token.len() {
        let mut flipped = token.clone();
        flipped[at] ^= 0x01;
        if let Ok(proven) = verify(&flipped, &parsed.signature, &roots) {
            assert_eq!(
                (proven.earliest, proven.latest),
                (original.earliest, original.latest),
                "byte {at}"
            );
            // Bytes 25 (version) and 32..=40 (the sha256 OID of digestAlgorithms).
            assert!(
                unused.contains(&at) || at == 25 || (32..=40).contains(&at),
                "a flip at byte {at} verified"
            );
            accepted += 1;
        }
        assert!(
            verify(&token[..at], &parsed.signature, &roots).is_err(),
            "truncated at {at}"
        );
    }
    assert!(accepted > 0 && accepted < root_der.len(), "{accepted}");
}
