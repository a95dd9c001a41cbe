//! The Notary Project's own signatures (notation's e2e layouts, notation-go's
//! envelopes; testdata/notation/README.md), each accepted case with the
//! twins that must fail for their own reason.

use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::digest::Digest;
use crate::oci::{Descriptor, OCI_MANIFEST};
use crate::testdata;

/// The image every notation e2e layout signs.
const E2E_IMAGE: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";
const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);

fn image(digest: &str, size: u64) -> Descriptor {
    let mut d = Descriptor::of(OCI_MANIFEST, b"");
    d.digest = Digest::from_str(digest).expect("digest");
    d.size = size;
    d
}

fn e2e_image() -> Descriptor {
    image(E2E_IMAGE, 517)
}

fn blob(layout: &str, hex: &str) -> Vec<u8> {
    testdata::read(format!("notation/layouts/{layout}/blobs/sha256/{hex}"))
}

fn jws(bytes: Vec<u8>) -> SignatureInput {
    SignatureInput {
        origin: "test".into(),
        media_type: JWS_MEDIA_TYPE.into(),
        envelope: Ok(bytes),
    }
}

const VALID: (&str, &str) = (
    "e2e-valid-signature",
    "c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50",
);
const EXPIRED_SIGNATURE: (&str, &str) = (
    "e2e-expired-signature",
    "b5f927564088f65dad86c81bcdd0b55415a8b4c9a0a5391107210e0cdb305cc7",
);
const EXPIRED_CERT: (&str, &str) = (
    "e2e-with-expired-cert",
    "8513a5ba473f32b78a87518b732700632c05cde0d59d179275c5c5a8096beeed",
);
const MULTIPLE_OTHER: (&str, &str) = (
    "e2e-valid-multiple-signatures",
    "a54333638acfa773a6b25429ee409b558d39c6f3c45dd14f714d72452bc36481",
);

fn envelope((layout, hex): (&str, &str)) -> SignatureInput {
    jws(blob(layout, hex))
}

fn policy(level: &str, extra: &str, identities: &str) -> TrustPolicyDocument {
    let text = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"e2e","registryScopes":["*"],"signatureVerification":{{"level":"{level}"{extra}}},"trustStores":["ca:e2e"],"trustedIdentities":[{identities}]}}]}}"#
    );
    TrustPolicyDocument::parse(text.as_bytes()).expect("policy")
}

fn strict() -> TrustPolicyDocument {
    policy("strict", "", r#""*""#)
}

fn store_with(file: &str) -> TrustStores {
    let mut stores = TrustStores::new();
    let store = StoreRef {
        kind: StoreType::Ca,
        name: "e2e".into(),
    };
    stores
        .add_file(&store, file, &testdata::read(format!("notation/localkeys/{file}")))
        .expect("store");
    stores
}

fn run(doc: &TrustPolicyDocument, stores: &TrustStores, target: &Descriptor, sigs: &[SignatureInput]) -> ImageVerdict {
    judge(doc.select(None), stores, target, sigs, NOW).expect("judged")
}

fn only(verdict: &ImageVerdict) -> &SignatureVerdict {
    match verdict {
        ImageVerdict::Judged { signatures, .. } => {
            assert_eq!(signatures.len(), 1);
            &signatures[0]
        }
        other => panic!("not judged: {other:?}"),
    }
}

fn failed(verdict: &ImageVerdict) -> (Validation, String) {
    assert!(!verdict.allowed(), "{verdict:?}");
    let check = only(verdict).failure().expect("a critical failure");
    match &check.result {
        CheckResult::Failed(reason) => (check.validation, reason.clone()),
        other => panic!("{other:?}"),
    }
}

fn logged(verdict: &ImageVerdict, validation: Validation) -> bool {
    only(verdict)
        .checks
        .iter()
        .any(|c| c.validation == validation && c.action == Action::Log && matches!(c.result, CheckResult::Failed(_)))
}

#[test]
fn notation_e2e_valid_signature_verifies() {
    let verdict = run(&strict(), &store_with("e2e.crt"), &e2e_image(), &[envelope(VALID)]);
    assert!(verdict.allowed(), "{verdict:?}");
    let sig = only(&verdict);
    assert!(sig.signer.as_deref().is_some_and(|s| s.contains("CN=e2e")));
    assert!(
        sig.checks
            .iter()
            .all(|c| c.result == CheckResult::Passed || c.validation == Validation::Revocation)
    );
}

#[test]
fn a_flipped_byte_in_the_signature_fails_integrity() {
    let bytes = blob(VALID.0, VALID.1);
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let mut sig = URL_SAFE_NO_PAD
        .decode(value["signature"].as_str().expect("sig"))
        .expect("b64");
    sig[10] ^= 1;
    value["signature"] = URL_SAFE_NO_PAD.encode(sig).into();
    let verdict = run(
        &strict(),
        &store_with("e2e.crt"),
        &e2e_image(),
        &[jws(value.to_string().into_bytes())],
    );
    let (validation, reason) = failed(&verdict);
    assert_eq!(validation, Validation::Integrity);
    assert!(reason.contains("does not verify"), "{reason}");
}

#[test]
fn a_flipped_byte_in_the_payload_fails_integrity() {
    let bytes = blob(VALID.0, VALID.1);
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let payload = URL_SAFE_NO_PAD
        .decode(value["payload"].as_str().expect("payload"))
        .expect("b64");
    let text = String::from_utf8(payload)
        .expect("utf8")
        .replace("\"size\":517", "\"size\":518");
    value["payload"] = URL_SAFE_NO_PAD.encode(text).into();
    let verdict = run(
        &strict(),
        &store_with("e2e.crt"),
        &image(E2E_IMAGE, 518),
        &[jws(value.to_string().into_bytes())],
    );
    assert_eq!(failed(&verdict).0, Validation::Integrity);
}

#[test]
fn a_signature_for_another_image_fails_integrity() {
    let other = image(
        "sha256:53b0191218aed9a3c1f7c661736ac40cfc8eb928642348fd843ba3f0483c0c20",
        582,
    );
    let (validation, reason) = failed(&run(&strict(), &store_with("e2e.crt"), &other, &[envelope(VALID)]));
    assert_eq!(validation, Validation::Integrity);
    assert!(reason.contains("not for this image"), "{reason}");
    // Same digest, another size or media type: still not this image.
    let mut resized = e2e_image();
    resized.size = 516;
    assert_eq!(
        failed(&run(&strict(), &store_with("e2e.crt"), &resized, &[envelope(VALID)])).0,
        Validation::Integrity
    );
    let mut retyped = e2e_image();
    retyped.media_type = crate::oci::DOCKER_MANIFEST.into();
    assert_eq!(
        failed(&run(&strict(), &store_with("e2e.crt"), &retyped, &[envelope(VALID)])).0,
        Validation::Integrity
    );
}

#[test]
fn a_trust_store_with_another_certificate_fails_authenticity() {
    let stores = store_with("new_e2e.crt");
    let (validation, _) = failed(&run(&strict(), &stores, &e2e_image(), &[envelope(VALID)]));
    assert_eq!(validation, Validation::Authenticity);
    // permissive enforces authenticity too; audit only logs it.
    assert!(
        !run(
            &policy("permissive", "", r#""*""#),
            &stores,
            &e2e_image(),
            &[envelope(VALID)]
        )
        .allowed()
    );
    let audit = run(
        &policy("audit", "", r#""*""#),
        &stores,
        &e2e_image(),
        &[envelope(VALID)],
    );
    assert!(audit.allowed());
    assert!(logged(&audit, Validation::Authenticity));
    // ...and strict with authenticity overridden to log.
    let overridden = policy("strict", r#","override":{"authenticity":"log"}"#, r#""*""#);
    assert!(run(&overridden, &stores, &e2e_image(), &[envelope(VALID)]).allowed());
}

#[test]
fn trusted_identities_must_name_the_signer() {
    let stores = store_with("e2e.crt");
    let right = policy("strict", "", r#""x509.subject: CN=e2e,O=Notary,L=Seattle,ST=WA,C=US""#);
    assert!(run(&right, &stores, &e2e_image(), &[envelope(VALID)]).allowed());
    let partial = policy("strict", "", r#""x509.subject: C=US, ST=WA, O=Notary""#);
    assert!(run(&partial, &stores, &e2e_image(), &[envelope(VALID)]).allowed());
    let wrong = policy(
        "strict",
        "",
        r#""x509.subject: CN=someone-else,O=Notary,L=Seattle,ST=WA,C=US""#,
    );
    let (validation, reason) = failed(&run(&wrong, &stores, &e2e_image(), &[envelope(VALID)]));
    assert_eq!(validation, Validation::Authenticity);
    assert!(reason.contains("trusted identities"), "{reason}");
}

#[test]
fn an_expired_signature_fails_strict_and_is_logged_by_permissive() {
    let stores = store_with("e2e.crt");
    let (validation, reason) = failed(&run(&strict(), &stores, &e2e_image(), &[envelope(EXPIRED_SIGNATURE)]));
    assert_eq!(validation, Validation::Expiry);
    assert!(reason.contains("expired"), "{reason}");
    let permissive = run(
        &policy("permissive", "", r#""*""#),
        &stores,
        &e2e_image(),
        &[envelope(EXPIRED_SIGNATURE)],
    );
    assert!(permissive.allowed());
    assert!(logged(&permissive, Validation::Expiry));
    let enforced = policy("permissive", r#","override":{"expiry":"enforce"}"#, r#""*""#);
    assert!(!run(&enforced, &stores, &e2e_image(), &[envelope(EXPIRED_SIGNATURE)]).allowed());
    // Before the expiry, the same signature passes.
    let before = judge(
        strict().select(None),
        &stores,
        &e2e_image(),
        &[envelope(EXPIRED_SIGNATURE)],
        datetime!(2023-06-27 05:20:50 UTC),
    )
    .expect("judged");
    assert!(before.allowed(), "{before:?}");
}

#[test]
fn an_expired_certificate_fails_the_authentic_timestamp() {
    let stores = store_with("expired_e2e.crt");
    let (validation, reason) = failed(&run(&strict(), &stores, &e2e_image(), &[envelope(EXPIRED_CERT)]));
    assert_eq!(validation, Validation::AuthenticTimestamp);
    assert!(reason.contains("expired"), "{reason}");
    let permissive = run(
        &policy("permissive", "", r#""*""#),
        &stores,
        &e2e_image(),
        &[envelope(EXPIRED_CERT)],
    );
    assert!(permissive.allowed());
    assert!(logged(&permissive, Validation::AuthenticTimestamp));
    // While the certificate was valid, strict accepts it.
    let then = judge(
        strict().select(None),
        &stores,
        &e2e_image(),
        &[envelope(EXPIRED_CERT)],
        datetime!(2023-06-27 00:00 UTC),
    )
    .expect("judged");
    assert!(then.allowed(), "{then:?}");
}

#[test]
fn one_good_signature_among_several_is_enough() {
    let stores = store_with("e2e.crt");
    let verdict = run(
        &strict(),
        &stores,
        &e2e_image(),
        &[envelope(MULTIPLE_OTHER), envelope(VALID)],
    );
    assert!(verdict.allowed());
    let ImageVerdict::Judged { signatures, .. } = &verdict else {
        panic!("not judged")
    };
    assert!(!signatures[0].accepted() && signatures[1].accepted());
    assert!(!run(&strict(), &stores, &e2e_image(), &[envelope(MULTIPLE_OTHER)]).allowed());
    assert!(
        !run(&strict(), &stores, &e2e_image(), &[]).allowed(),
        "no signature, no trust"
    );
}

#[test]
fn skip_allows_and_no_policy_refuses() {
    let skip =
        TrustPolicyDocument::parse(&testdata::read("notation/trustpolicies/skip_trustpolicy.json")).expect("skip");
    let verdict = judge(skip.select(None), &TrustStores::new(), &e2e_image(), &[], NOW).expect("judged");
    assert!(matches!(verdict, ImageVerdict::Skipped { .. }) && verdict.allowed());
    let scoped = TrustPolicyDocument::parse(&testdata::read(
        "notation/trustpolicies/registry_scope_trustpolicy.json",
    ))
    .expect("scoped");
    assert!(scoped.select(None).is_none());
    let verdict = judge(
        scoped.select(None),
        &store_with("e2e.crt"),
        &e2e_image(),
        &[envelope(VALID)],
        NOW,
    )
    .expect("judged");
    assert!(matches!(verdict, ImageVerdict::NoPolicy) && !verdict.allowed());
    assert!(scoped.select(Some("localhost:5000/test-repo")).is_some());
}

#[test]
fn a_missing_trust_store_is_an_error() {
    let err = judge(
        strict().select(None),
        &TrustStores::new(),
        &e2e_image(),
        &[envelope(VALID)],
        NOW,
    );
    assert!(matches!(err, Err(TrustStoreError::Empty(_))));
}

#[test]
fn malformed_and_foreign_envelopes_fail_integrity() {
    let stores = store_with("e2e.crt");
    let layer_type = SignatureInput {
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        ..envelope(VALID)
    };
    let (validation, reason) = failed(&run(&strict(), &stores, &e2e_image(), &[layer_type]));
    assert_eq!(validation, Validation::Integrity);
    assert!(reason.contains("media type"), "{reason}");
    for bad in [b"{".to_vec(), b"{}".to_vec(), b"[]".to_vec()] {
        assert_eq!(
            failed(&run(&strict(), &stores, &e2e_image(), &[jws(bad)])).0,
            Validation::Integrity
        );
    }
    assert!(matches!(
        envelope::parse(JWS_MEDIA_TYPE, b"{"),
        Err(EnvelopeError::Malformed { .. })
    ));
}

/// Rewrites the protected header of the valid envelope (the signature no
/// longer matches, but parsing must refuse first).
fn with_protected(edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let bytes = blob(VALID.0, VALID.1);
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let protected = URL_SAFE_NO_PAD
        .decode(value["protected"].as_str().expect("p"))
        .expect("b64");
    let mut header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&protected).expect("header");
    edit(&mut header);
    value["protected"] = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&header).expect("json"))
        .into();
    value.to_string().into_bytes()
}

#[test]
fn the_jws_profile_is_enforced() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "unknown crit",
            with_protected(|h| {
                h.insert(
                    "crit".into(),
                    serde_json::json!(["io.cncf.notary.signingScheme", "x-unknown"]),
                );
                h.insert("x-unknown".into(), "1".into());
            }),
        ),
        (
            "wrong cty",
            with_protected(|h| {
                h.insert("cty".into(), "application/json".into());
            }),
        ),
        (
            "alg none",
            with_protected(|h| {
                h.insert("alg".into(), "none".into());
            }),
        ),
        (
            "no signing time",
            with_protected(|h| {
                h.remove("io.cncf.notary.signingTime");
            }),
        ),
        (
            "expiry not critical",
            with_protected(|h| {
                h.insert("io.cncf.notary.expiry".into(), "2100-01-01T00:00:00Z".into());
            }),
        ),
        (
            "unknown scheme",
            with_protected(|h| {
                h.insert("io.cncf.notary.signingScheme".into(), "notary.other".into());
            }),
        ),
    ];
    for (name, bytes) in cases {
        let err = envelope::parse(JWS_MEDIA_TYPE, &bytes);
        assert!(matches!(err, Err(EnvelopeError::Malformed { .. })), "{name}: {err:?}");
    }
    // An algorithm the leaf's key does not dictate: ES256 on an RSA key.
    let es256 = with_protected(|h| {
        h.insert("alg".into(), "ES256".into());
    });
    let (validation, reason) = failed(&run(&strict(), &store_with("e2e.crt"), &e2e_image(), &[jws(es256)]));
    assert_eq!(validation, Validation::Integrity);
    assert!(reason.contains("ES256"), "{reason}");
}

/// notation-go's JWS envelope (self-signed "alpine" signer): trusted when
/// its own certificate is the store's.
#[test]
fn notation_go_jws_envelope_verifies() {
    let bytes = testdata::read("notation/notation-go/jws_signature.sig");
    let parsed = envelope::parse(JWS_MEDIA_TYPE, &bytes).expect("parse");
    let stores = self_signed_store(parsed.leaf().der());
    let alpine = image(
        "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
        481,
    );
    assert!(run(&strict(), &stores, &alpine, &[jws(bytes.clone())]).allowed());
    // The same envelope with one signature byte flipped.
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    let mut sig = URL_SAFE_NO_PAD
        .decode(value["signature"].as_str().expect("sig"))
        .expect("b64");
    sig[0] ^= 0x80;
    value["signature"] = URL_SAFE_NO_PAD.encode(sig).into();
    assert_eq!(
        failed(&run(
            &strict(),
            &stores,
            &alpine,
            &[jws(value.to_string().into_bytes())]
        ))
        .0,
        Validation::Integrity
    );
    // Another store: authenticity.
    assert_eq!(
        failed(&run(&strict(), &store_with("e2e.crt"), &alpine, &[jws(bytes)])).0,
        Validation::Authenticity
    );
}

fn self_signed_store(der: &[u8]) -> TrustStores {
    let mut stores = TrustStores::new();
    let store = StoreRef {
        kind: StoreType::Ca,
        name: "e2e".into(),
    };
    stores
        .add_file(&store, "signer.cer", der)
        .unwrap_or_else(|e| panic!("{e}"));
    stores
}

#[test]
fn trust_store_files_are_checked() {
    let store = StoreRef {
        kind: StoreType::Ca,
        name: "e2e".into(),
    };
    let mut stores = TrustStores::new();
    assert!(
        stores
            .add_file(
                &store,
                "junk.pem",
                b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            )
            .is_err()
    );
    assert!(stores.add_file(&store, "junk.der", b"\x30\x03\x02\x01\x00").is_err());
    // DER is read too.
    let pem = testdata::text("notation/localkeys/e2e.crt");
    let der = crate::sigstore::Certificate::from_pem_chain(&pem).expect("pem")[0]
        .der()
        .to_vec();
    stores.add_file(&store, "e2e.cer", &der).expect("der");
    assert_eq!(stores.get(&store).expect("store").len(), 1);
}

#[test]
fn notation_trust_policy_files_parse_or_fail_as_notation_does() {
    for good in [
        "trustpolicy.json",
        "audit_trustpolicy.json",
        "permissive_trustpolicy.json",
        "skip_trustpolicy.json",
        "override_strict_trustpolicy.json",
        "override_permissive_trustpolicy.json",
        "timestamp_trustpolicy.json",
        "registry_scope_trustpolicy.json",
        "valid_trusted_identity_trustpolicy.json",
        "invalid_registry_scope_trustpolicy.json",
        "override_audit_trustpolicy.json",
        "multiple_trusted_identity_trustpolicy.json",
        "multi_statements_with_wildcard_registry_scope_trustpolicy.json",
    ] {
        TrustPolicyDocument::parse(&testdata::read(format!("notation/trustpolicies/{good}")))
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
    for bad in [
        "invalid_format_trustpolicy.json",
        "overlapped_registry_scope_trustpolicy.json",
        "overlapped_trust_store_trustpolicy.json",
        "wildcard_trust_store_trustpolicy.json",
        "malformed_registry_scope_trustpolicy.json",
        "malformed_trust_store_trustpolicy.json",
        "malformed_trusted_identity_trustpolicy.json",
        "missing_country_trusted_identity_trustpolicy.json",
        "missing_organization_trusted_identity_trustpolicy.json",
        "missing_state_trusted_identity_trustpolicy.json",
        "multi_statements_with_the_same_name_trustpolicy.json",
        "multi_statements_with_the_same_registry_scope_trustpolicy.json",
        "multi_statements_with_multi_wildcard_registry_scope_trustpolicy.json",
        "override_integrity_for_permissive_trustpolicy.json",
        "overlapped_trusted_identity_trustpolicy.json",
        "wildcard_plus_other_registry_scope_trustpolicy.json",
        "wildcard_plus_other_trusted_identity_trustpolicy.json",
        "empty_registry_scope_trustpolicy.json",
        "empty_trusted_identity_trustpolicy.json",
        "unset_trust_store_trustpolicy.json",
        "unset_trusted_identity_trustpolicy.json",
    ] {
        assert!(
            TrustPolicyDocument::parse(&testdata::read(format!("notation/trustpolicies/{bad}"))).is_err(),
            "{bad} must be refused"
        );
    }
}

fn cose(bytes: Vec<u8>) -> SignatureInput {
    SignatureInput {
        origin: "test".into(),
        media_type: COSE_MEDIA_TYPE.into(),
        envelope: Ok(bytes),
    }
}

/// notation-go's COSE_Sign1 envelope, with its flipped-byte twins.
#[test]
fn notation_go_cose_envelope_verifies() {
    let bytes = testdata::read("notation/notation-go/cose_signature.sig");
    let parsed = envelope::parse(COSE_MEDIA_TYPE, &bytes).expect("parse");
    assert_eq!(parsed.format, envelope::Format::Cose);
    let stores = self_signed_store(parsed.leaf().der());
    let alpine = image(
        "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
        481,
    );
    let verdict = run(&strict(), &stores, &alpine, &[cose(bytes.clone())]);
    assert!(verdict.allowed(), "{verdict:?}");
    // The last byte is the signature's.
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let (validation, reason) = failed(&run(&strict(), &stores, &alpine, &[cose(flipped)]));
    assert_eq!(validation, Validation::Integrity);
    assert!(reason.contains("does not verify"), "{reason}");
    // A byte of the payload (the size 481 becomes 491).
    let at = bytes.windows(4).position(|w| w == b"481}").expect("size in payload");
    let mut payload = bytes.clone();
    payload[at + 1] = b'9';
    assert_eq!(
        failed(&run(&strict(), &stores, &alpine, &[cose(payload)])).0,
        Validation::Integrity
    );
    // The JWS media type on COSE bytes, and garbage.
    assert!(envelope::parse(JWS_MEDIA_TYPE, &bytes).is_err());
    assert!(matches!(
        envelope::parse(COSE_MEDIA_TYPE, b"\xd2\x84"),
        Err(EnvelopeError::Malformed { .. })
    ));
    // Another image, another store.
    assert_eq!(
        failed(&run(&strict(), &stores, &e2e_image(), &[cose(bytes.clone())])).0,
        Validation::Integrity
    );
    assert_eq!(
        failed(&run(&strict(), &store_with("e2e.crt"), &alpine, &[cose(bytes)])).0,
        Validation::Authenticity
    );
}

/// notation-go's timestamped envelopes: read (JWS and COSE), the
/// countersignature kept for the authentic-timestamp check
/// (`timestamp::tests` judges it).
#[test]
fn timestamped_envelopes_are_read_with_their_countersignature() {
    for (media_type, file) in [
        (JWS_MEDIA_TYPE, "notation/notation-go/jwsWithTimestamp.sig"),
        (COSE_MEDIA_TYPE, "notation/notation-go/coseWithTimestamp.sig"),
    ] {
        let bytes = testdata::read(file);
        let parsed = envelope::parse(media_type, &bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(parsed.has_timestamp, "{file}");
        assert!(
            parsed.timestamp_token.as_ref().is_some_and(|t| t.len() > 1000),
            "{file}"
        );
    }
}
