//! Offline revocation on a generated PKI (root → intermediate → leaf):
//! a CRL listing the leaf refuses under strict and is logged under
//! permissive; one not listing it passes; a forged, an expired or a
//! not-yet-valid CRL fails the check; a root's CRL revoking the
//! intermediate fails it; unusable files are refused when read.

use std::str::FromStr as _;

use sigil_testkit::notation_pki::{INTERMEDIATE_SERIAL, LEAF_SERIAL, NotationPki, TSA_SERIAL, TestTsa};
use time::macros::datetime;

use super::super::*;
use super::*;
use crate::digest::Digest;
use crate::oci::{Descriptor, OCI_MANIFEST};

const NOW: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
const DIGEST: &str = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0";
const JAN: OffsetDateTime = datetime!(2025-12-01 00:00 UTC);
const FEB: OffsetDateTime = datetime!(2026-02-01 00:00 UTC);

fn target() -> Descriptor {
    let mut d = Descriptor::of(OCI_MANIFEST, b"");
    d.digest = Digest::from_str(DIGEST).expect("digest");
    d.size = 481;
    d
}

fn doc(level: &str) -> TrustPolicyDocument {
    let text = format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"t","registryScopes":["*"],"signatureVerification":{{"level":"{level}"}},"trustStores":["ca:pki"],"trustedIdentities":["*"]}}]}}"#
    );
    TrustPolicyDocument::parse(text.as_bytes()).expect("policy")
}

fn judged(pki: &NotationPki, level: &str, crl_files: &[Vec<u8>]) -> ImageVerdict {
    let mut stores = TrustStores::new();
    let store = StoreRef {
        kind: StoreType::Ca,
        name: "pki".into(),
    };
    stores.add_file(&store, "root.cer", pki.root()).expect("store");
    let mut crls = Crls::new();
    for (i, file) in crl_files.iter().enumerate() {
        crls.add_file(&format!("{i}.crl"), file).expect("crl");
    }
    let envelope = pki.sign_jws(OCI_MANIFEST, DIGEST, 481);
    let input = SignatureInput {
        origin: "test".into(),
        media_type: JWS_MEDIA_TYPE.into(),
        envelope: Ok(envelope),
    };
    judge_with_crls(doc(level).select(None), &stores, &crls, &target(), &[input], NOW).expect("judged")
}

fn revocation(verdict: &ImageVerdict) -> Check {
    match verdict {
        ImageVerdict::Judged { signatures, .. } => signatures[0]
            .checks
            .iter()
            .find(|c| c.validation == Validation::Revocation)
            .cloned()
            .unwrap_or_else(|| panic!("no revocation check: {verdict:?}")),
        other => panic!("{other:?}"),
    }
}

fn failed_reason(verdict: &ImageVerdict) -> String {
    match revocation(verdict).result {
        CheckResult::Failed(reason) => reason,
        other => panic!("not failed: {other:?}"),
    }
}

#[test]
fn without_crls_revocation_is_not_performed() {
    let pki = NotationPki::new();
    let verdict = judged(&pki, "strict", &[]);
    assert!(verdict.allowed(), "{verdict:?}");
    assert!(matches!(revocation(&verdict).result, CheckResult::NotPerformed(r) if r.contains("--notation-crl")));
}

#[test]
fn a_crl_revoking_the_leaf_refuses_under_strict_and_is_logged_under_permissive() {
    let pki = NotationPki::new();
    let crl = pki.crl(false, &[LEAF_SERIAL], JAN, FEB);
    let verdict = judged(&pki, "strict", std::slice::from_ref(&crl));
    assert!(!verdict.allowed(), "{verdict:?}");
    assert_eq!(revocation(&verdict).action, Action::Enforce);
    let reason = failed_reason(&verdict);
    assert!(
        reason.contains("sigil notation test signer") && reason.contains("is revoked"),
        "{reason}"
    );
    let verdict = judged(&pki, "permissive", std::slice::from_ref(&crl));
    assert!(verdict.allowed(), "{verdict:?}");
    assert_eq!(revocation(&verdict).action, Action::Log);
    assert!(failed_reason(&verdict).contains("is revoked"));
    // The same CRL as PEM.
    let pem = pem_rfc7468::encode_string("X509 CRL", pem_rfc7468::LineEnding::LF, &crl).expect("pem");
    assert!(!judged(&pki, "strict", &[pem.into_bytes()]).allowed());
}

#[test]
fn a_crl_not_listing_the_chain_passes() {
    let pki = NotationPki::new();
    let verdict = judged(
        &pki,
        "strict",
        &[
            pki.crl(false, &[LEAF_SERIAL + 1], JAN, FEB),
            pki.crl(true, &[], JAN, FEB),
        ],
    );
    assert!(verdict.allowed(), "{verdict:?}");
    assert_eq!(revocation(&verdict).result, CheckResult::Passed);
    // Another PKI's intermediate of the same name: its CRL is taken as this
    // issuer's (names decide) and its signature refuses it.
    let other = NotationPki::new();
    let verdict = judged(&pki, "strict", &[other.crl(false, &[], JAN, FEB)]);
    assert!(
        failed_reason(&verdict).contains("does not verify under its issuer's key"),
        "{verdict:?}"
    );
}

#[test]
fn the_roots_crl_revoking_the_intermediate_refuses() {
    let pki = NotationPki::new();
    let verdict = judged(&pki, "strict", &[pki.crl(true, &[INTERMEDIATE_SERIAL], JAN, FEB)]);
    assert!(!verdict.allowed());
    assert!(failed_reason(&verdict).contains("intermediate"), "{verdict:?}");
}

#[test]
fn a_forged_expired_or_future_crl_fails_the_check() {
    let pki = NotationPki::new();
    // Signed by another key under the intermediate's name, listing nothing.
    let verdict = judged(&pki, "strict", &[pki.forged_crl(&[], JAN, FEB)]);
    assert!(!verdict.allowed());
    assert!(failed_reason(&verdict).contains("does not verify under its issuer's key"));
    // Expired: nextUpdate before now.
    let verdict = judged(
        &pki,
        "strict",
        &[pki.crl(
            false,
            &[],
            datetime!(2025-10-01 00:00 UTC),
            datetime!(2025-11-01 00:00 UTC),
        )],
    );
    assert!(!verdict.allowed());
    assert!(failed_reason(&verdict).contains("expired"), "{verdict:?}");
    // Not yet valid.
    let verdict = judged(
        &pki,
        "strict",
        &[pki.crl(false, &[], FEB, datetime!(2026-03-01 00:00 UTC))],
    );
    assert!(failed_reason(&verdict).contains("not valid before"), "{verdict:?}");
    // Under permissive, an expired CRL is logged.
    let verdict = judged(
        &pki,
        "permissive",
        &[pki.crl(
            false,
            &[],
            datetime!(2025-10-01 00:00 UTC),
            datetime!(2025-11-01 00:00 UTC),
        )],
    );
    assert!(verdict.allowed());
}

#[test]
fn unusable_crl_files_are_refused_when_read() {
    let pki = NotationPki::new();
    let mut crls = Crls::new();
    let good = pki.crl(false, &[], JAN, FEB);
    crls.add_file("good.crl", &good).expect("good");
    assert!(!crls.is_empty());
    let mut truncated = good.clone();
    truncated.truncate(good.len() - 3);
    for (name, bytes) in [
        ("garbage.crl", b"not a crl".to_vec()),
        ("truncated.crl", truncated),
        ("empty.crl", Vec::new()),
        (
            "cert.pem",
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, pki.root())
                .expect("pem")
                .into_bytes(),
        ),
        (
            "nopem.pem",
            b"-----BEGIN X509 CRL-----\n!!!\n-----END X509 CRL-----\n".to_vec(),
        ),
    ] {
        let err = crls.add_file(name, &bytes).expect_err(name);
        assert!(err.to_string().starts_with(&format!("CRL file {name}: ")), "{err}");
    }
}

/// With a verified RFC 3161 timestamp, an entry whose invalidity date is
/// after the timestamp did not revoke the signature (notation-core-go's
/// rule); one before it, or the same entry without a timestamp, does.
#[test]
fn the_timestamp_decides_whether_a_revocation_came_before_the_signature() {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let pki = NotationPki::new();
    let tsa = TestTsa::new(Some(true));
    let mut envelope: serde_json::Value =
        serde_json::from_slice(&pki.sign_jws(OCI_MANIFEST, DIGEST, 481)).expect("json");
    let signature = URL_SAFE_NO_PAD
        .decode(envelope["signature"].as_str().expect("signature"))
        .expect("b64");
    // Stamped 2025-06-01.
    envelope["header"]["io.cncf.notary.timestampSignature"] =
        STANDARD.encode(tsa.stamp(&signature, "20250601000000Z")).into();
    let envelope = serde_json::to_vec(&envelope).expect("json");
    let text = r#"{"version":"1.0","trustPolicies":[{"name":"t","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:pki","tsa:tsa"],"trustedIdentities":["*"]}]}"#;
    let doc = TrustPolicyDocument::parse(text.as_bytes()).expect("policy");
    let mut stores = TrustStores::new();
    let ca = StoreRef {
        kind: StoreType::Ca,
        name: "pki".into(),
    };
    let tsa_store = StoreRef {
        kind: StoreType::Tsa,
        name: "tsa".into(),
    };
    stores.add_file(&ca, "root.cer", pki.root()).expect("ca");
    stores.add_file(&tsa_store, "tsa.cer", &tsa.root).expect("tsa");
    let stamped_with = |files: &[Vec<u8>]| {
        let mut crls = Crls::new();
        for (i, crl) in files.iter().enumerate() {
            crls.add_file(&format!("{i}.crl"), crl).expect("crl");
        }
        let input = SignatureInput {
            origin: "test".into(),
            media_type: JWS_MEDIA_TYPE.into(),
            envelope: Ok(envelope.clone()),
        };
        judge_with_crls(doc.select(None), &stores, &crls, &target(), &[input], NOW).expect("judged")
    };
    let stamped = |crl: Vec<u8>| stamped_with(&[crl]);
    let after = pki.crl_invalid_from(LEAF_SERIAL, datetime!(2025-09-01 00:00 UTC), JAN, FEB);
    let verdict = stamped(after.clone());
    assert!(verdict.allowed(), "{verdict:?}");
    assert_eq!(revocation(&verdict).result, CheckResult::Passed);
    let before = pki.crl_invalid_from(LEAF_SERIAL, datetime!(2025-03-01 00:00 UTC), JAN, FEB);
    assert!(failed_reason(&stamped(before)).contains("is revoked"));
    // The TSA's own chain is checked against the CRL files too: revoked,
    // the timestamp proves nothing and the authentic-timestamp check fails.
    let clean = pki.crl(false, &[], JAN, FEB);
    let verdict = stamped_with(&[clean.clone(), tsa.crl(&[TSA_SERIAL + 1], JAN, FEB)]);
    assert!(verdict.allowed(), "{verdict:?}");
    let verdict = stamped_with(&[clean.clone(), tsa.crl(&[TSA_SERIAL], JAN, FEB)]);
    assert!(!verdict.allowed());
    let ImageVerdict::Judged { signatures, .. } = &verdict else {
        panic!("{verdict:?}")
    };
    let failure = signatures[0].failure().expect("failure");
    assert_eq!(failure.validation, Validation::AuthenticTimestamp);
    assert!(
        matches!(&failure.result, CheckResult::Failed(r) if r.contains("timestamping certificate chain") && r.contains("sigil test TSA")),
        "{failure:?}"
    );
    // Without a timestamp nothing proves when the signature was made.
    assert!(failed_reason(&judged(&pki, "strict", &[after])).contains("is revoked"));
}

/// Every one-bit flip and truncation of notation's real `leaf_revoked.crl`
/// (testdata/notation/crl) and of a generated CRL: read or refused, never a
/// panic; a flipped generated CRL that still reads never verifies under its
/// issuer unless the flip was outside the signed part.
#[test]
fn flipped_and_truncated_crls_never_panic() {
    let real = crate::testdata::read("notation/crl/leaf_revoked.crl");
    let pki = NotationPki::new();
    let generated = pki.crl(false, &[LEAF_SERIAL], JAN, FEB);
    for crl in [&real, &generated] {
        for at in 0..crl.len() {
            let mut flipped = crl.clone();
            flipped[at] ^= 0x01;
            let _ = Crls::new().add_file("flipped.crl", &flipped);
            assert!(
                Crls::new().add_file("cut.crl", &crl[..at]).is_err(),
                "truncated at {at}"
            );
        }
    }
    // Flips of the generated CRL that still read: the leaf is still refused
    // (revoked, or the CRL no longer verifies), or the CRL names another issuer.
    let mut admitted = 0;
    for at in 0..generated.len() {
        let mut flipped = generated.clone();
        flipped[at] ^= 0x01;
        let mut crls = Crls::new();
        if crls.add_file("flipped.crl", &flipped).is_err() {
            continue;
        }
        let verdict = {
            let mut stores = TrustStores::new();
            let store = StoreRef {
                kind: StoreType::Ca,
                name: "pki".into(),
            };
            stores.add_file(&store, "root.cer", pki.root()).expect("store");
            let input = SignatureInput {
                origin: "test".into(),
                media_type: JWS_MEDIA_TYPE.into(),
                envelope: Ok(pki.sign_jws(OCI_MANIFEST, DIGEST, 481)),
            };
            judge_with_crls(doc("strict").select(None), &stores, &crls, &target(), &[input], NOW).expect("judged")
        };
        if verdict.allowed() {
            // Only a CRL that no longer names this issuer may let it pass.
            assert!(
                matches!(revocation(&verdict).result, CheckResult::NotPerformed(_)),
                "byte {at}: {verdict:?}"
            );
            admitted += 1;
        }
    }
    assert!(admitted < generated.len() / 4, "{admitted}");
}
