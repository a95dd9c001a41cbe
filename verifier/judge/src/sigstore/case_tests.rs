//! The 23 real cases of `testdata/bundles/shared/cases.json` (upstream
//! expectations), and tampered twins of every accepting keyless bundle.

use serde_json::Value;
use time::OffsetDateTime;

use super::*;
use crate::digest::{Algorithm, Digest};

pub(super) fn read(path: &str) -> Vec<u8> {
    // cases.json names the public-good root as ../trust/trusted_root.json.
    match path.strip_prefix("../trust/") {
        Some(rest) => crate::testdata::read(format!("trust/{rest}")),
        None => crate::testdata::read(format!("bundles/shared/{path}")),
    }
}

pub(super) fn cases() -> Vec<Value> {
    let all: Value = serde_json::from_slice(&read("cases.json")).expect("cases.json");
    all["cases"].as_array().expect("cases").clone()
}

fn time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("rfc3339")
}

pub(super) fn signatory(case: &Value) -> Signatory {
    if let Some(key) = case["key"].as_str() {
        let key = crate::keys::PublicKey::from_pem(&String::from_utf8(read(key)).expect("utf8")).expect("key");
        let valid_for = case["key_valid_for"].as_object().map(|w| TimeWindow {
            start: time(w["start"].as_str().expect("start")),
            end: w["end"].as_str().map(time),
        });
        return Signatory::Key { key, valid_for };
    }
    let policy = if case["identity"].is_object() {
        IdentityPolicy::new(
            Matcher::exact(case["identity"]["san"].as_str().expect("san")),
            Matcher::exact(case["identity"]["issuer"].as_str().expect("issuer")),
        )
    } else {
        IdentityPolicy::new(
            Matcher::regex(case["identity_regexp"]["san"].as_str().expect("san")).expect("re"),
            Matcher::regex(case["identity_regexp"]["issuer"].as_str().expect("issuer")).expect("re"),
        )
    };
    Signatory::Identity(policy)
}

pub(super) fn artifact(case: &Value) -> (Option<Vec<u8>>, Option<Digest>) {
    let a = &case["artifact"];
    if let Some(path) = a["path"].as_str() {
        return (Some(read(path)), None);
    }
    for (name, algorithm) in [("sha256", Algorithm::Sha256), ("sha512", Algorithm::Sha512)] {
        if let Some(h) = a["digest"][name].as_str() {
            let digest = Digest::from_raw(algorithm, &hex::decode(h).expect("hex")).expect("digest");
            return (None, Some(digest));
        }
    }
    panic!("case has no artifact")
}

pub(super) fn run(
    case: &Value,
    bundle: &[u8],
    root: &TrustedRoot,
    who: &Signatory,
) -> Result<BundleClaims, BundleRejection> {
    let (bytes, digest) = artifact(case);
    let artifact = match (&bytes, digest) {
        (Some(b), _) => Artifact::Bytes(b),
        (None, Some(d)) => Artifact::Digest(d),
        (None, None) => unreachable!("artifact() always gives one"),
    };
    verify_bundle(bundle, artifact, who, root, TEST_NOW).map(|v| v.into_inner())
}

pub(super) fn root_of(case: &Value) -> TrustedRoot {
    TrustedRoot::from_json(&read(case["trusted_root"].as_str().expect("root"))).expect("root parses")
}

#[test]
fn every_shared_case_gives_its_expected_result() {
    let cases = cases();
    assert_eq!(cases.len(), 23);
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("name");
        let bundle = read(case["bundle"].as_str().expect("bundle"));
        let outcome = run(case, &bundle, &root_of(case), &signatory(case));
        let expect = case["expect_verify"].as_bool().expect("bool");
        if outcome.is_ok() != expect {
            failures.push(format!("{name}: expected {expect}, got {outcome:?}"));
        }
        if let Err(e) = &outcome {
            assert!(
                !e.is_bad_input(),
                "{name}: a real bundle is judged, not refused as input: {e}"
            );
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn verified_claims_carry_time_identity_extensions_and_log_entries() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "sigstore-go/sigstore.js@2.0.0-provenance")
        .expect("case");
    let bundle = read(case["bundle"].as_str().expect("bundle"));
    let claims = run(&case, &bundle, &root_of(&case), &signatory(&case)).expect("verifies");
    let BundleSigner::Certificate(identity) = &claims.signer else {
        panic!("keyless")
    };
    assert_eq!(
        identity.extensions.get("sourceRepositoryURI").map(String::as_str),
        Some("https://github.com/sigstore/sigstore-js")
    );
    assert_eq!(
        identity.extensions.get("buildTrigger").map(String::as_str),
        Some("push")
    );
    let signed = claims.signing_time.expect("time");
    assert!(identity.not_before <= signed && signed <= identity.not_after);
    assert_eq!(claims.log_entries.len(), 1);
    assert!(claims.log_entries[0].inclusion_proof && claims.log_entries[0].inclusion_promise);
    assert!(matches!(claims.content, SignedContent::Dsse { .. }));
    // Extensions can be required by name, and fail when different.
    let Signatory::Identity(policy) = signatory(&case) else {
        panic!("keyless")
    };
    let owner = |v: &str| {
        Signatory::Identity(
            policy
                .clone()
                .require_extension("sourceRepositoryOwnerURI", Matcher::exact(v))
                .expect("known"),
        )
    };
    assert!(run(&case, &bundle, &root_of(&case), &owner("https://github.com/sigstore")).is_ok());
    assert!(matches!(
        run(&case, &bundle, &root_of(&case), &owner("https://github.com/evil")),
        Err(BundleRejection::Extension { .. })
    ));
}

/// A copy of `root` with `edit` applied to its JSON.
fn edited(root: &TrustedRoot, edit: impl FnOnce(&mut Value)) -> TrustedRoot {
    let mut json = root.json().clone();
    edit(&mut json);
    TrustedRoot::from_json(json.to_string().as_bytes()).expect("edited root parses")
}

fn flip_signature(bundle: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let mut v: Value = serde_json::from_slice(bundle).expect("json");
    let slot = if v.get("dsseEnvelope").is_some() {
        &mut v["dsseEnvelope"]["signatures"][0]["sig"]
    } else {
        &mut v["messageSignature"]["signature"]
    };
    let mut raw = STANDARD.decode(slot.as_str().expect("b64")).expect("b64");
    let last = raw.len() - 1;
    raw[last] ^= 1;
    *slot = STANDARD.encode(raw).into();
    v.to_string().into_bytes()
}

#[test]
fn every_accepting_keyless_bundle_has_twins_that_fail() {
    let mut checked = 0;
    for case in cases() {
        if case["expect_verify"] != true || !case["identity"].is_object() {
            continue;
        }
        let name = case["name"].as_str().expect("name").to_owned();
        let bundle = read(case["bundle"].as_str().expect("bundle"));
        let root = root_of(&case);
        let who = signatory(&case);
        assert!(run(&case, &bundle, &root, &who).is_ok(), "{name}");
        let fails = |what: &str, outcome: Result<Verified<BundleClaims>, BundleRejection>| match outcome {
            Ok(_) => panic!("{name}: {what} twin verified"),
            Err(e) => assert!(!e.is_bad_input(), "{name}: {what}: {e}"),
        };
        let other = Digest::sha256_of(b"another artifact");
        fails(
            "another artifact",
            verify_bundle(&bundle, Artifact::Digest(other), &who, &root, TEST_NOW),
        );
        let (bytes, digest) = artifact(&case);
        let art = || match (&bytes, &digest) {
            (Some(b), _) => Artifact::Bytes(b),
            (None, Some(d)) => Artifact::Digest(d.clone()),
            (None, None) => unreachable!("artifact() always gives one"),
        };
        fails(
            "flipped signature",
            verify_bundle(&flip_signature(&bundle), art(), &who, &root, TEST_NOW),
        );
        let san = case["identity"]["san"].as_str().expect("san");
        let issuer = case["identity"]["issuer"].as_str().expect("issuer");
        let wrong_id = Signatory::Identity(IdentityPolicy::new(
            Matcher::exact(format!("x{san}")),
            Matcher::exact(issuer),
        ));
        assert!(
            matches!(
                verify_bundle(&bundle, art(), &wrong_id, &root, TEST_NOW),
                Err(BundleRejection::Identity { .. })
            ),
            "{name}"
        );
        let wrong_issuer = Signatory::Identity(IdentityPolicy::new(
            Matcher::exact(san),
            Matcher::exact("https://accounts.google.com"),
        ));
        assert!(
            matches!(
                verify_bundle(&bundle, art(), &wrong_issuer, &root, TEST_NOW),
                Err(BundleRejection::Issuer { .. })
            ),
            "{name}"
        );
        let no_log = edited(&root, |j| j["tlogs"] = Value::Array(Vec::new()));
        fails(
            "root without the log",
            verify_bundle(&bundle, art(), &who, &no_log, TEST_NOW),
        );
        let no_ca = edited(&root, |j| j["certificateAuthorities"] = Value::Array(Vec::new()));
        fails(
            "root without the CA",
            verify_bundle(&bundle, art(), &who, &no_ca, TEST_NOW),
        );
        // Every CA starts trusting after the certificate expired: the
        // certificate is used outside the validity of anything that vouches for it.
        let late = edited(&root, |j| {
            for ca in j["certificateAuthorities"].as_array_mut().expect("cas") {
                ca["validFor"] = serde_json::json!({"start": "2099-01-01T00:00:00Z"});
            }
        });
        fails(
            "CA valid only later",
            verify_bundle(&bundle, art(), &who, &late, TEST_NOW),
        );
        let not_json = verify_bundle(b"{", art(), &who, &root, TEST_NOW).expect_err("not a bundle");
        assert!(not_json.is_bad_input(), "{name}");
        checked += 1;
    }
    assert_eq!(checked, 14, "keyless accepting cases");
}

#[test]
fn key_signed_bundles_refuse_identities_and_other_keys() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "sigstore-go/public-key-validity#key-unbounded")
        .expect("case");
    let bundle = read(case["bundle"].as_str().expect("bundle"));
    let root = root_of(&case);
    let claims = run(&case, &bundle, &root, &signatory(&case)).expect("verifies");
    assert_eq!(claims.timestamps, 1);
    assert!(claims.signing_time.is_some());
    let other = crate::keys::SigningKey::generate().expect("key").public_key();
    assert!(matches!(
        run(&case, &bundle, &root, &Signatory::key(other)),
        Err(crate::sigstore::BundleRejection::Signature { .. })
    ));
    let anyone = Signatory::Identity(IdentityPolicy::new(
        Matcher::regex(".*").expect("re"),
        Matcher::regex(".*").expect("re"),
    ));
    assert!(matches!(
        run(&case, &bundle, &root, &anyone),
        Err(BundleRejection::SignerKind { .. })
    ));
}
