//! Statement subjects named by sha384 and sha512 (npm provenance binds its
//! tarball by sha512; other producers use sha384): a DSSE attestation binds
//! an artifact given by such a digest only when a subject names exactly it.

use serde_json::json;
use sigil_testkit::test_sigstore::{ISSUED, ISSUER_URL, TestSigstore};

use super::*;
use crate::digest::{Algorithm, Digest};

const BLOB: &[u8] = b"package/app-1.2.3.tgz contents";

fn verify(pki: &TestSigstore, envelope: &[u8], rekor: &str, artifact: &Digest) -> Result<(), BundleRejection> {
    verify_cosign_v2_layer(
        LayerContent::Envelope {
            envelope,
            image: artifact,
        },
        LayerCertificate {
            certificate_pem: &pki.leaf_pem,
            chain_pem: Some(&pki.intermediate_pem),
            rekor_bundle_json: Some(rekor),
        },
        &IdentityPolicy::new(Matcher::exact("dev@example.com"), Matcher::exact(ISSUER_URL)),
        &TrustedRoot::from_json(pki.trusted_root().as_bytes()).expect("root"),
        TEST_NOW,
    )
    .map(|_| ())
}

#[test]
fn sha384_and_sha512_subjects_bind_exactly_their_artifact() {
    let pki = TestSigstore::new(&[]);
    let at = ISSUED + time::Duration::minutes(1);
    for algorithm in [Algorithm::Sha384, Algorithm::Sha512] {
        let name = algorithm.name();
        let digest = Digest::of(algorithm, BLOB);
        let statement = json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app-1.2.3.tgz", "digest": {name: digest.hex()}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {}
        })
        .to_string();
        let (envelope, rekor) = pki.sign_envelope(statement.as_bytes(), statement.as_bytes(), at, &pki.log_key);
        verify(&pki, &envelope, &rekor, &digest).unwrap_or_else(|e| panic!("{name}: {e}"));

        // Twins: another artifact, the same artifact under another algorithm.
        let other = Digest::of(algorithm, b"another tarball");
        assert!(
            verify(&pki, &envelope, &rekor, &other).is_err(),
            "{name}: another artifact"
        );
        let sha256 = Digest::sha256_of(BLOB);
        assert!(
            verify(&pki, &envelope, &rekor, &sha256).is_err(),
            "{name}: no sha256 subject"
        );
        // A subject written in upper case is not the digest in-toto writes.
        let shouting = statement.replace(digest.hex(), &digest.hex().to_ascii_uppercase());
        let (envelope, rekor) = pki.sign_envelope(shouting.as_bytes(), shouting.as_bytes(), at, &pki.log_key);
        if algorithm == Algorithm::Sha384 {
            assert!(verify(&pki, &envelope, &rekor, &digest).is_err(), "upper-case sha384");
        }
    }
}

#[test]
fn digests_name_their_algorithm() {
    let hex384 = "a".repeat(96);
    let d: Digest = format!("sha384:{hex384}").parse().expect("sha384");
    assert_eq!(d.algorithm(), Algorithm::Sha384);
    assert!(format!("sha384:{}", "a".repeat(64)).parse::<Digest>().is_err());
    assert!(format!("sha384:{}", "A".repeat(96)).parse::<Digest>().is_err());
    Digest::of(Algorithm::Sha384, BLOB).verify(BLOB).expect("round trip");
}
