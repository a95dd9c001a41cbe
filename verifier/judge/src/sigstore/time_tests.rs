//! A long-running evaluator (an admission controller, a pull gate) judges
//! the same evidence at many times in one process, with the result memo on.
//! Where the evidence proves no signing time, the evaluation time decides,
//! so the same bytes must pass on one side of a validity boundary and fail
//! on the other, whichever side was judged first: a remembered answer from
//! one time must never leak into another.
//!
//! The memo is on (the default; only benchmarks turn it off). Evidence: a private-PKI certificate layer without a log entry (the test
//! instance's ten-minute leaf), a key-signed bundle whose log entry proves no
//! time under a key validity window, and a keyless layer whose log
//! entry lies after the evaluation time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, SigningKey as _};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::keys::PublicKey;
use sigil_testkit::test_sigstore::{ISSUED, ISSUER_URL, TestSigstore};

const PAYLOAD: &[u8] = b"{\"critical\":{\"image\":{\"docker-manifest-digest\":\"sha256:00\"}}}";

/// Inside the leaf's ten minutes, and after them.
const VALID: OffsetDateTime = ISSUED.saturating_add(Duration::minutes(5));
const EXPIRED: OffsetDateTime = ISSUED.saturating_add(Duration::minutes(11));

/// Judges `at` in the order given and returns the outcomes in that order.
fn in_order<T>(times: [OffsetDateTime; 2], judge: impl Fn(OffsetDateTime) -> T) -> [T; 2] {
    times.map(judge)
}

fn policy() -> IdentityPolicy {
    IdentityPolicy::new(Matcher::exact("dev@example.com"), Matcher::exact(ISSUER_URL))
}

#[test]
fn a_private_pki_certificate_without_a_log_is_judged_at_each_evaluation_time() {
    let pki = TestSigstore::new(&[]);
    let roots = Certificate::from_pem_chain(&pki.root_pem).expect("root");
    let who = IdentityPolicy::subject_only(Matcher::exact("dev@example.com"));
    let (signature, _) = pki.sign_message(PAYLOAD, PAYLOAD, VALID, &pki.log_key);
    let judge = |now| {
        verify_certificate_signature(
            LayerContent::Message {
                payload: PAYLOAD,
                signature_b64: &signature,
            },
            LayerCertificate {
                certificate_pem: &pki.leaf_pem,
                chain_pem: Some(&pki.intermediate_pem),
                rekor_bundle_json: None,
            },
            &roots,
            &who,
            TrustedRoot::public_good(),
            now,
        )
        .map(|v| v.into_inner())
    };
    let expired = |outcome: &Result<CertificateClaims, BundleRejection>| {
        matches!(
            outcome,
            Err(BundleRejection::CertificateValidity {
                expired: true,
                basis: TimeBasis::Evaluation,
                signed_at,
                ..
            }) if *signed_at == EXPIRED
        )
    };
    for _ in 0..2 {
        let [first, second] = in_order([VALID, EXPIRED], judge);
        assert!(first.is_ok(), "accepted first: {first:?}");
        assert!(expired(&second), "then rejected: {second:?}");
        let [first, second] = in_order([EXPIRED, VALID], judge);
        assert!(expired(&first), "rejected first: {first:?}");
        assert!(second.is_ok(), "then accepted: {second:?}");
    }
    // Before the leaf's window, the other side of the other bound.
    assert!(matches!(
        judge(ISSUED - Duration::MINUTE),
        Err(BundleRejection::CertificateValidity {
            expired: false,
            basis: TimeBasis::Evaluation,
            ..
        })
    ));
}

/// A v0.1 bundle signed by `key` over `artifact` whose one log entry, in
/// `pki`'s log, carries a signed entry timestamp but no integrated time: the
/// log vouches for the entry, and the bundle proves no signing time.
fn key_signed_bundle(pki: &TestSigstore, key: &KeyPair, artifact: &[u8]) -> Vec<u8> {
    let signature = STANDARD.encode(key.sign(artifact).expect("sign"));
    let digest = Digest::sha256_of(artifact);
    let body = json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": signature, "publicKey": {"content": STANDARD.encode(key.public_key_pem())}}
        }
    });
    // The SET covers integratedTime 0, the wire form of "absent".
    let rekor: serde_json::Value =
        serde_json::from_str(&pki.rekor_bundle(&body, OffsetDateTime::UNIX_EPOCH, &pki.log_key)).expect("json");
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "publicKey": {"hint": "time-tests"},
            "tlogEntries": [{
                "logIndex": "7",
                "logId": {"keyId": STANDARD.encode(sigil_testkit::test_sigstore::log_id(&pki.log_key))},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
                "canonicalizedBody": rekor["Payload"]["body"]
            }]
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest.raw())},
            "signature": signature
        }
    })
    .to_string()
    .into_bytes()
}

#[test]
fn a_key_window_without_a_proven_time_is_judged_at_each_evaluation_time() {
    let signer = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let key = PublicKey::from_pem(&signer.public_key_pem()).expect("public key");
    let artifact = b"an artifact judged twice";
    let pki = TestSigstore::new(&[]);
    let bundle = key_signed_bundle(&pki, &signer, artifact);
    let window = TimeWindow {
        start: ISSUED,
        end: Some(ISSUED + Duration::DAY),
    };
    let who = Signatory::Key {
        key: key.clone(),
        valid_for: Some(window),
    };
    let inside = ISSUED + Duration::HOUR;
    let after = ISSUED + Duration::DAY;
    // A root whose log keys are all in force before either time, so that the
    // memo keeps the cryptographic outcome and only the window is judged anew.
    let root = &TrustedRoot::from_json(pki.trusted_root().as_bytes()).expect("test root");
    let judge = |now| verify_bundle(&bundle, Artifact::Bytes(artifact), &who, root, now).map(|v| v.into_inner());
    let outside = |outcome: &Result<BundleClaims, BundleRejection>, at: OffsetDateTime| {
        matches!(
            outcome,
            Err(BundleRejection::KeyValidity {
                basis: TimeBasis::Evaluation,
                signed_at,
                ..
            }) if *signed_at == at
        )
    };
    for _ in 0..2 {
        let [first, second] = in_order([inside, after], judge);
        let accepted = first.expect("accepted first");
        assert_eq!(accepted.signing_time, None);
        assert!(outside(&second, after), "then rejected: {second:?}");
        let [first, second] = in_order([after, inside], judge);
        assert!(outside(&first, after), "rejected first: {first:?}");
        assert!(second.is_ok(), "then accepted: {second:?}");
    }
    // The window's other bound, and twins that fail at any time.
    let before = ISSUED - Duration::SECOND;
    assert!(outside(&judge(before), before), "before the window");
    let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    assert!(matches!(
        verify_bundle(
            &key_signed_bundle(&pki, &other, artifact),
            Artifact::Bytes(artifact),
            &who,
            root,
            inside
        ),
        Err(BundleRejection::Signature { .. })
    ));
    assert!(matches!(
        verify_bundle(&bundle, Artifact::Bytes(b"another artifact"), &who, root, inside),
        Err(BundleRejection::ArtifactMismatch { .. } | BundleRejection::Signature { .. })
    ));
    // Without a window the key is trusted at any time.
    for now in [before, inside, after] {
        assert!(
            verify_bundle(
                &bundle,
                Artifact::Bytes(artifact),
                &Signatory::key(key.clone()),
                root,
                now
            )
            .is_ok()
        );
    }
}

#[test]
fn a_logged_time_after_the_evaluation_time_is_refused_until_it_has_passed() {
    let pki = TestSigstore::new(&[]);
    let root = TrustedRoot::from_json(pki.trusted_root().as_bytes()).expect("test root");
    let (signature, rekor) = pki.sign_message(PAYLOAD, PAYLOAD, VALID, &pki.log_key);
    let judge = |now| {
        verify_cosign_v2_layer(
            LayerContent::Message {
                payload: PAYLOAD,
                signature_b64: &signature,
            },
            LayerCertificate {
                certificate_pem: &pki.leaf_pem,
                chain_pem: Some(&pki.intermediate_pem),
                rekor_bundle_json: Some(&rekor),
            },
            &policy(),
            &root,
            now,
        )
        .map(|v| v.into_inner())
    };
    // Before the logged time the log entry vouches for a signature from the
    // future; from it on, for one made at VALID (even after the leaf expired:
    // the logged time is what counts, not "now").
    let early = VALID - Duration::MINUTE;
    let later = EXPIRED + Duration::DAY;
    let future = |outcome: &Result<CertificateClaims, BundleRejection>| matches!(outcome, Err(BundleRejection::TransparencyLog { reason }) if reason.contains("in the future"));
    for _ in 0..2 {
        let [first, second] = in_order([later, early], judge);
        assert_eq!(first.expect("accepted first").signing_time, Some(VALID));
        assert!(future(&second), "then rejected: {second:?}");
        let [first, second] = in_order([early, later], judge);
        assert!(future(&first), "rejected first: {first:?}");
        assert_eq!(second.expect("then accepted").signing_time, Some(VALID));
        assert!(judge(VALID).is_ok(), "at the logged time itself");
    }
}
