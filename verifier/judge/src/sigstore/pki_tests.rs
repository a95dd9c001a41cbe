//! The test Sigstore instance (`test_sigstore.rs`: a
//! P-384 root and intermediate CA, a Fulcio-style leaf with email SAN, issuer
//! and repository extensions and 10-minute validity, and a Rekor log key that
//! signs entry timestamps) drives every failure path with a fixed clock: the
//! integrated time the log signs is the signing time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, SigningKey as _};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use sigil_testkit::test_sigstore::{ISSUED, ISSUER_URL, TestSigstore, ca};

const REPO: &str = "https://github.com/acme/app";

/// The instance, with the `sourceRepositoryURI` extension (12) on its leaf.
struct Pki(TestSigstore);

impl std::ops::Deref for Pki {
    type Target = TestSigstore;
    fn deref(&self) -> &TestSigstore {
        &self.0
    }
}

fn pki() -> Pki {
    Pki(TestSigstore::new(&[(12, REPO)]))
}

impl Pki {
    fn root(&self, log_key: &KeyPair) -> TrustedRoot {
        TrustedRoot::from_json(self.trusted_root_with_log(log_key).as_bytes()).expect("test root")
    }

    fn sign(&self, artifact: &[u8], logged: &[u8], at: OffsetDateTime, log_key: &KeyPair) -> (String, String) {
        self.sign_message(artifact, logged, at, log_key)
    }

    fn layer(
        &self,
        rekor: Option<&str>,
        signature: &str,
        policy: &IdentityPolicy,
        root: &TrustedRoot,
    ) -> Result<CertificateClaims, BundleRejection> {
        verify_cosign_v2_layer(
            message(ARTIFACT, signature),
            self.certificate(rekor),
            policy,
            root,
            TEST_NOW,
        )
        .map(|v| v.into_inner())
    }

    fn certificate<'a>(&'a self, rekor: Option<&'a str>) -> LayerCertificate<'a> {
        LayerCertificate {
            certificate_pem: &self.leaf_pem,
            chain_pem: Some(&self.intermediate_pem),
            rekor_bundle_json: rekor,
        }
    }
}

const ARTIFACT: &[u8] = b"{\"critical\":{}}";

fn message<'a>(payload: &'a [u8], signature_b64: &'a str) -> LayerContent<'a> {
    LayerContent::Message { payload, signature_b64 }
}

fn policy() -> IdentityPolicy {
    IdentityPolicy::new(Matcher::exact("dev@example.com"), Matcher::exact(ISSUER_URL))
}

#[test]
fn the_test_instance_verifies_and_every_check_can_fail() {
    let pki = pki();
    let root = pki.root(&pki.log_key);
    let in_window = ISSUED + time::Duration::minutes(1);
    let (sig, rekor) = pki.sign(ARTIFACT, ARTIFACT, in_window, &pki.log_key);
    let ok = pki.layer(Some(&rekor), &sig, &policy(), &root).expect("verifies");
    assert_eq!(ok.signing_time, Some(in_window));
    assert_eq!(
        ok.identity.extensions.get("sourceRepositoryURI").map(String::as_str),
        Some(REPO)
    );
    assert_eq!(ok.log_entry.as_ref().map(|e| e.log_index), Some(7));

    // Signed after the certificate expired / before it was valid.
    let (s, late) = pki.sign(ARTIFACT, ARTIFACT, ISSUED + time::Duration::minutes(11), &pki.log_key);
    let late = pki.layer(Some(&late), &s, &policy(), &root).expect_err("expired");
    assert!(
        matches!(late, BundleRejection::CertificateValidity { expired: true, .. }),
        "{late}"
    );
    assert!(
        late.to_string()
            .starts_with("certificate expired before the signing time"),
        "{late}"
    );
    let (s, early) = pki.sign(ARTIFACT, ARTIFACT, ISSUED - time::Duration::minutes(1), &pki.log_key);
    assert!(matches!(
        pki.layer(Some(&early), &s, &policy(), &root),
        Err(BundleRejection::CertificateValidity { expired: false, .. })
    ));
    // A SET by a key the root does not hold, or with a flipped byte.
    let stranger = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let (s, forged) = pki.sign(ARTIFACT, ARTIFACT, in_window, &stranger);
    assert!(matches!(
        pki.layer(Some(&forged), &s, &policy(), &root),
        Err(BundleRejection::TransparencyLog { .. })
    ));
    let mut flipped: Value = serde_json::from_str(&rekor).expect("json");
    let mut set = STANDARD
        .decode(flipped["SignedEntryTimestamp"].as_str().expect("set"))
        .expect("b64");
    let n = set.len() - 1;
    set[n] ^= 1;
    flipped["SignedEntryTimestamp"] = STANDARD.encode(set).into();
    assert!(matches!(
        pki.layer(Some(&flipped.to_string()), &sig, &policy(), &root),
        Err(crate::sigstore::BundleRejection::TransparencyLog { .. })
    ));
    // The logged entry is for another artifact than the one signed.
    let (s, other_entry) = pki.sign(ARTIFACT, b"another", in_window, &pki.log_key);
    assert!(matches!(
        pki.layer(Some(&other_entry), &s, &policy(), &root),
        Err(BundleRejection::TransparencyLog { .. } | BundleRejection::ArtifactMismatch { .. })
    ));
    // The signature over the payload is not the leaf's.
    let mut bad_sig = STANDARD.decode(&sig).expect("b64");
    let n = bad_sig.len() - 1;
    bad_sig[n] ^= 1;
    assert!(
        pki.layer(Some(&rekor), &STANDARD.encode(bad_sig), &policy(), &root)
            .is_err()
    );
    // Roots that cannot vouch: another log, no CA, or no Rekor bundle at all.
    let other_log_root = pki.root(&stranger);
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &policy(), &other_log_root),
        Err(BundleRejection::UnknownLog { .. })
    ));
    let public = TrustedRoot::public_good();
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &policy(), public),
        Err(crate::sigstore::BundleRejection::UnknownLog { .. })
    ));
    assert!(matches!(
        pki.layer(None, &sig, &policy(), &root),
        Err(BundleRejection::UnknownLog { .. })
    ));
    // Identity, issuer and extension policies.
    let who = |s: &str, i: &str| IdentityPolicy::new(Matcher::exact(s), Matcher::exact(i));
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &who("eve@example.com", ISSUER_URL), &root),
        Err(BundleRejection::Identity { .. })
    ));
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &who("dev@example.com", "https://other"), &root),
        Err(BundleRejection::Issuer { .. })
    ));
    let repo = |r: &str| {
        policy()
            .require_extension("sourceRepositoryURI", Matcher::exact(r))
            .expect("known")
    };
    assert!(pki.layer(Some(&rekor), &sig, &repo(REPO), &root).is_ok());
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &repo("https://github.com/evil/app"), &root),
        Err(BundleRejection::Extension { .. })
    ));
    // Malformed Rekor bundles are reasons, not panics.
    for bad in [
        "{",
        "{}",
        r#"{"SignedEntryTimestamp":"x","Payload":{"body":"!!","integratedTime":1,"logIndex":1,"logID":"00"}}"#,
    ] {
        assert!(
            matches!(
                pki.layer(Some(bad), &sig, &policy(), &root),
                Err(crate::sigstore::BundleRejection::InvalidBundle { .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn private_pki_certificates_chain_to_the_callers_roots() {
    let pki = pki();
    let roots = Certificate::from_pem_chain(&pki.root_pem).expect("root");
    let sig = STANDARD.encode(pki.leaf_key.sign(ARTIFACT).expect("sign"));
    let who = IdentityPolicy::subject_only(Matcher::exact("dev@example.com"));
    let public = TrustedRoot::public_good();
    let at = |now: OffsetDateTime, roots: &[Certificate], chain: Option<&str>| {
        let certificate = LayerCertificate {
            certificate_pem: &pki.leaf_pem,
            chain_pem: chain,
            rekor_bundle_json: None,
        };
        verify_certificate_signature(message(ARTIFACT, &sig), certificate, roots, &who, public, now)
    };
    let now = ISSUED + time::Duration::minutes(5);
    let ok = at(now, &roots, Some(&pki.intermediate_pem))
        .expect("verifies")
        .into_inner();
    assert_eq!(ok.signing_time, None);
    assert!(matches!(
        at(ISSUED + time::Duration::hours(1), &roots, Some(&pki.intermediate_pem)),
        Err(BundleRejection::CertificateValidity {
            expired: true,
            basis: TimeBasis::Evaluation,
            ..
        })
    ));
    assert!(
        matches!(at(now, &roots, None), Err(BundleRejection::Chain { .. })),
        "the intermediate is needed"
    );
    let other = pki_other_root();
    assert!(matches!(
        at(now, &other, Some(&pki.intermediate_pem)),
        Err(BundleRejection::Chain { .. })
    ));
    let wrong = IdentityPolicy::subject_only(Matcher::exact("eve@example.com"));
    assert!(matches!(
        verify_certificate_signature(
            message(ARTIFACT, &sig),
            pki.certificate(None),
            &roots,
            &wrong,
            public,
            now
        ),
        Err(BundleRejection::Identity { .. })
    ));
    assert!(matches!(
        verify_certificate_signature(
            message(b"other", &sig),
            pki.certificate(None),
            &roots,
            &who,
            public,
            now
        ),
        Err(BundleRejection::Signature { .. })
    ));
    // With a Rekor entry, the time is the log's, and the log must be trusted.
    let log_root = pki.root(&pki.log_key);
    let (sig2, rekor) = pki.sign(ARTIFACT, ARTIFACT, ISSUED + time::Duration::minutes(2), &pki.log_key);
    let with_log = verify_certificate_signature(
        message(ARTIFACT, &sig2),
        pki.certificate(Some(&rekor)),
        &roots,
        &policy(),
        &log_root,
        datetime!(2030-01-01 0:00 UTC),
    )
    .expect("verifies at the logged time, long after expiry")
    .into_inner();
    assert_eq!(with_log.signing_time, Some(ISSUED + time::Duration::minutes(2)));
}

fn pki_other_root() -> Vec<Certificate> {
    let (p, k) = ca("another root");
    Certificate::from_pem_chain(&p.self_signed(&k).expect("root").pem()).expect("pem")
}

/// The digest STATEMENT names as its subject.
fn zero() -> crate::digest::Digest {
    crate::digest::Digest::from_raw(crate::digest::Algorithm::Sha256, &[0; 32]).expect("digest")
}

const STATEMENT: &[u8] = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"0000000000000000000000000000000000000000000000000000000000000000"}}],"predicateType":"https://example.com/p","predicate":{}}"#;

#[test]
fn cosign_v2_attestation_layers_verify_by_certificate_and_twins_fail() {
    let pki = pki();
    let root = pki.root(&pki.log_key);
    let at = ISSUED + time::Duration::minutes(1);
    let keyless = |envelope: &[u8], rekor: &str, who: &IdentityPolicy| {
        verify_cosign_v2_layer(
            LayerContent::Envelope {
                envelope,
                image: &zero(),
            },
            pki.certificate(Some(rekor)),
            who,
            &root,
            TEST_NOW,
        )
        .map(|v| v.into_inner())
    };
    let (envelope, rekor) = pki.sign_envelope(STATEMENT, STATEMENT, at, &pki.log_key);
    let ok = keyless(&envelope, &rekor, &policy()).expect("verifies");
    assert_eq!(
        ok.content,
        SignedContent::Dsse {
            payload_type: crate::dsse::IN_TOTO_PAYLOAD_TYPE.into(),
            payload: STATEMENT.to_vec()
        }
    );
    assert_eq!(ok.signing_time, Some(at));
    assert_eq!(ok.log_entry.map(|e| e.kind).as_deref(), Some("intoto 0.0.2"));

    // Twins: the entry logs another statement; the envelope's payload was
    // swapped after signing; a flipped signature byte; another identity;
    // signed after the certificate expired; a log the root does not hold.
    let (_, other_entry) = pki.sign_envelope(STATEMENT, b"{}", at, &pki.log_key);
    assert!(matches!(
        keyless(&envelope, &other_entry, &policy()),
        Err(BundleRejection::TransparencyLog { .. } | BundleRejection::ArtifactMismatch { .. })
    ));
    let mut swapped: Value = serde_json::from_slice(&envelope).expect("json");
    swapped["payload"] = STANDARD.encode(b"{}").into();
    assert!(matches!(
        keyless(swapped.to_string().as_bytes(), &rekor, &policy()),
        Err(crate::sigstore::BundleRejection::InvalidBundle { .. })
    ));
    let mut flipped: Value = serde_json::from_slice(&envelope).expect("json");
    let mut sig = STANDARD
        .decode(flipped["signatures"][0]["sig"].as_str().expect("sig"))
        .expect("b64");
    let n = sig.len() - 1;
    sig[n] ^= 1;
    flipped["signatures"][0]["sig"] = STANDARD.encode(sig).into();
    assert!(matches!(
        keyless(flipped.to_string().as_bytes(), &rekor, &policy()),
        Err(crate::sigstore::BundleRejection::Signature { .. })
    ));
    let eve = IdentityPolicy::new(Matcher::exact("eve@example.com"), Matcher::exact(ISSUER_URL));
    assert!(matches!(
        keyless(&envelope, &rekor, &eve),
        Err(BundleRejection::Identity { .. })
    ));
    let (late_envelope, late) =
        pki.sign_envelope(STATEMENT, STATEMENT, ISSUED + time::Duration::hours(1), &pki.log_key);
    assert!(matches!(
        keyless(&late_envelope, &late, &policy()),
        Err(BundleRejection::CertificateValidity { expired: true, .. })
    ));
    let stranger = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    assert!(matches!(
        verify_cosign_v2_layer(
            LayerContent::Envelope {
                envelope: &envelope,
                image: &zero()
            },
            pki.certificate(Some(&rekor)),
            &policy(),
            &pki.root(&stranger),
            TEST_NOW
        ),
        Err(BundleRejection::UnknownLog { .. })
    ));
    assert!(matches!(
        keyless(b"not an envelope", &rekor, &policy()),
        Err(crate::sigstore::BundleRejection::InvalidBundle { .. })
    ));

    // A private PKI without a log: the chain at `now`, the signature over the PAE.
    let roots = Certificate::from_pem_chain(&pki.root_pem).expect("root");
    let who = IdentityPolicy::subject_only(Matcher::exact("dev@example.com"));
    let public = TrustedRoot::public_good();
    let pki_verify = |envelope: &[u8], now| {
        verify_certificate_signature(
            LayerContent::Envelope {
                envelope,
                image: &zero(),
            },
            pki.certificate(None),
            &roots,
            &who,
            public,
            now,
        )
        .map(|v| v.into_inner())
    };
    let ok = pki_verify(&envelope, at).expect("verifies");
    assert!(matches!(ok.content, SignedContent::Dsse { ref payload, .. } if payload == STATEMENT));
    assert!(matches!(
        pki_verify(swapped.to_string().as_bytes(), at),
        Err(BundleRejection::Signature { .. })
    ));
    assert!(matches!(
        pki_verify(flipped.to_string().as_bytes(), at),
        Err(BundleRejection::Signature { .. })
    ));
    assert!(matches!(
        pki_verify(&envelope, ISSUED + time::Duration::hours(1)),
        Err(BundleRejection::CertificateValidity {
            expired: true,
            basis: TimeBasis::Evaluation,
            ..
        })
    ));
    // A private PKI with a log: the chain at the logged time, the log against its root.
    let logged = verify_certificate_signature(
        LayerContent::Envelope {
            envelope: &envelope,
            image: &zero(),
        },
        pki.certificate(Some(&rekor)),
        &roots,
        &who,
        &root,
        datetime!(2030-01-01 0:00 UTC),
    )
    .expect("verifies at the logged time")
    .into_inner();
    assert_eq!(logged.signing_time, Some(at));
    assert!(matches!(logged.content, SignedContent::Dsse { ref payload, .. } if payload == STATEMENT));

    // Log entries of the other kind: a hashedrekord entry cannot vouch for
    // an envelope, nor an intoto entry for a message signature.
    let (_, hashedrekord) = pki.sign_message(&envelope, &envelope, at, &pki.log_key);
    assert!(matches!(
        keyless(&envelope, &hashedrekord, &policy()),
        Err(crate::sigstore::BundleRejection::InvalidBundle { .. })
    ));
    let (signature, _) = pki.sign_message(ARTIFACT, ARTIFACT, at, &pki.log_key);
    assert!(matches!(
        pki.layer(Some(&rekor), &signature, &policy(), &root),
        Err(crate::sigstore::BundleRejection::InvalidBundle { .. })
    ));

    let mut two: Value = serde_json::from_slice(&envelope).expect("json");
    let first = two["signatures"][0].clone();
    two["signatures"].as_array_mut().expect("array").push(first);
    assert!(matches!(
        pki_verify(two.to_string().as_bytes(), at),
        Err(BundleRejection::InvalidBundle { .. })
    ));
}
