//! `sigil verify --notation-config DIR` with the two offline proofs the
//! Notary Project adds to a signature: an RFC 3161 timestamp
//! countersignature judged under the policy's `tsa` stores, and revocation
//! checked against `--notation-crl` files. A generated PKI and test TSA
//! (sigil-testkit) sign notation-go's manifest; notation's own timestamped
//! layout gives the real-material twin.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::Value;
use sigil_testkit::notation_pki::{LEAF_SERIAL, NotationPki, TestTsa};
use time::macros::datetime;

use crate::fixtures::{s, testdata};
use crate::notation::{config, layout, notation_go_layout, refusal, verify, verify_json};
use crate::support::{Output, sigil};

const JWS: &str = "application/jose+json";
/// notation-go's signed manifest (testdata/notation/notation-go/alpine-manifest.json).
const ALPINE: &str = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).expect("write");
    path
}

/// A configuration directory whose trust policy is `policy` (JSON text).
fn config_with(dir: &Path, policy: &str, stores: &[(&str, &[PathBuf])]) -> PathBuf {
    let root = config(dir, "trustpolicy.json", stores);
    fs::write(root.join("trustpolicy.json"), policy).expect("policy");
    root
}

fn policy(level: &str, extra: &str, stores: &str) -> String {
    format!(
        r#"{{"version":"1.0","trustPolicies":[{{"name":"t","registryScopes":["*"],"signatureVerification":{{"level":"{level}"{extra}}},"trustStores":[{stores}],"trustedIdentities":["*"]}}]}}"#
    )
}

fn verify_crls(image: &str, config: &Path, crls: &[&Path], json_output: bool) -> Output {
    let mut args = vec!["verify", image, "--notation-config", s(config)];
    for crl in crls {
        args.extend(["--notation-crl", s(crl)]);
    }
    if json_output {
        args.extend(["--output", "json"]);
    }
    sigil(&args).run()
}

fn check<'a>(report: &'a Value, validation: &str) -> &'a Value {
    report["signatures"][0]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["validation"] == validation))
        .unwrap_or_else(|| panic!("no {validation} check in {report}"))
}

/// The PKI's signature of notation-go's manifest, in a layout.
fn signed_layout(dir: &Path, pki: &NotationPki, name: &str) -> String {
    let envelope = pki.sign_jws(OCI_MANIFEST, ALPINE, 481);
    notation_go_layout(dir, name, JWS, &envelope)
}

#[test]
fn crl_files_decide_revocation_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = NotationPki::new();
    let image = signed_layout(dir.path(), &pki, "pki");
    let root = [write(dir.path(), "root.cer", pki.root())];
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &root)]);
    let permissive = config(dir.path(), "permissive_trustpolicy.json", &[("ca/e2e", &root)]);
    // CRLs valid around the present (the test's own clock).
    let now = time::OffsetDateTime::now_utc();
    let (from, to) = (now - time::Duration::days(1), now + time::Duration::days(7));
    let revoking = write(dir.path(), "revoking.crl", &pki.crl(false, &[LEAF_SERIAL], from, to));
    let clean = write(dir.path(), "clean.crl", &pki.crl(false, &[LEAF_SERIAL + 1], from, to));
    let forged = write(dir.path(), "forged.crl", &pki.forged_crl(&[], from, to));
    let expired = write(
        dir.path(),
        "expired.crl",
        &pki.crl(
            false,
            &[],
            datetime!(2025-01-01 00:00 UTC),
            datetime!(2025-02-01 00:00 UTC),
        ),
    );

    // Without CRL files: verified, revocation not performed (as before).
    verify(&image, &strict).assert_exit(0).assert_quiet_stderr();
    let report = verify_crls(&image, &strict, &[], true).stdout_json()["images"][0].clone();
    assert_eq!(check(&report, "revocation")["result"], "not-performed", "{report}");
    // A CRL that does not list the leaf: revocation passed.
    let out = verify_crls(&image, &strict, &[&clean], true);
    out.assert_exit(0);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(check(&report, "revocation")["result"], "passed", "{report}");
    // The leaf revoked: refused under strict, logged under permissive.
    let out = verify_crls(&image, &strict, &[&revoking], false);
    out.assert_exit(1);
    assert!(
        out.stdout.contains("invalid") && out.stdout.contains("is revoked"),
        "{out}"
    );
    let report = verify_crls(&image, &strict, &[&clean, &revoking], true).stdout_json()["images"][0].clone();
    assert!(refusal(&report).starts_with("revocation: certificate"), "{report}");
    let out = verify_crls(&image, &permissive, &[&revoking], false);
    out.assert_exit(0);
    assert!(
        out.stdout.contains("logged") && out.stdout.contains("revocation (log)"),
        "{out}"
    );
    // A CRL under the issuer's name signed by another key, and an expired one.
    let report = verify_crls(&image, &strict, &[&forged], true).stdout_json()["images"][0].clone();
    assert!(
        refusal(&report).contains("does not verify under its issuer's key"),
        "{report}"
    );
    verify_crls(&image, &strict, &[&forged], false).assert_exit(1);
    let report = verify_crls(&image, &strict, &[&expired], true).stdout_json()["images"][0].clone();
    assert!(refusal(&report).contains("expired"), "{report}");
    verify_crls(&image, &strict, &[&expired], false).assert_exit(1);
    // As PEM.
    let b64 = STANDARD.encode(fs::read(&revoking).expect("crl"));
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|l| std::str::from_utf8(l).expect("ascii"))
        .collect();
    let pem = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        lines.join("\n")
    );
    let pem = write(dir.path(), "revoking.pem", pem.as_bytes());
    verify_crls(&image, &strict, &[&pem], false).assert_exit(1);
}

#[test]
fn bad_crl_files_are_one_line_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = NotationPki::new();
    let image = signed_layout(dir.path(), &pki, "pki");
    let root = [write(dir.path(), "root.cer", pki.root())];
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &root)]);
    let junk = write(dir.path(), "junk.crl", b"not a CRL");
    let out = verify_crls(&image, &strict, &[&junk], false);
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("CRL file"), "{out}");
    let missing = dir.path().join("missing.crl");
    verify_crls(&image, &strict, &[&missing], false)
        .assert_exit(2)
        .assert_one_line_error();
    // Only with --notation-config.
    sigil(&["verify", &image, "--notation-crl", s(&junk), "--key", s(&junk)])
        .run()
        .assert_exit(2);
}

/// The PKI's envelope with a countersignature by `tsa` at `gen_time`.
fn stamped(pki: &NotationPki, tsa: &TestTsa, gen_time: &str) -> Vec<u8> {
    let envelope = pki.sign_jws(OCI_MANIFEST, ALPINE, 481);
    let mut value: Value = serde_json::from_slice(&envelope).expect("json");
    let signature = URL_SAFE_NO_PAD
        .decode(value["signature"].as_str().expect("signature"))
        .expect("b64");
    value["header"]["io.cncf.notary.timestampSignature"] = STANDARD.encode(tsa.stamp(&signature, gen_time)).into();
    serde_json::to_vec(&value).expect("json")
}

#[test]
fn timestamp_countersignatures_are_verified_under_the_tsa_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = NotationPki::new();
    let tsa = TestTsa::new(Some(true));
    let root = [write(dir.path(), "root.cer", pki.root())];
    let tsa_root = [write(dir.path(), "tsa-root.cer", &tsa.root)];
    let other_root = [write(dir.path(), "other-tsa-root.cer", &TestTsa::new(Some(true)).root)];
    let stores = r#""ca:e2e","tsa:e2e""#;
    let timestamped = config_with(
        dir.path(),
        &policy("strict", r#","verifyTimestamp":"always""#, stores),
        &[("ca/e2e", &root), ("tsa/e2e", &tsa_root)],
    );
    let elsewhere = config_with(
        dir.path(),
        &policy("strict", "", stores),
        &[("ca/e2e", &root), ("tsa/e2e", &other_root)],
    );

    let good = notation_go_layout(dir.path(), "stamped", JWS, &stamped(&pki, &tsa, "20250601000005Z"));
    let out = verify(&good, &timestamped);
    out.assert_exit(0).assert_quiet_stderr();
    let report = verify_json(&good, &timestamped);
    assert_eq!(check(&report, "authenticTimestamp")["result"], "passed", "{report}");
    // The TSA is not in the tsa store.
    let report = verify_json(&good, &elsewhere);
    assert!(
        refusal(&report).starts_with("authenticTimestamp: the timestamp countersignature is not valid")
            && refusal(&report).contains("tsa trust store"),
        "{report}"
    );
    verify(&good, &elsewhere).assert_exit(1);
    // A flipped byte of the token (its last: the TSA's signature).
    let mut value: Value = serde_json::from_slice(&stamped(&pki, &tsa, "20250601000005Z")).expect("json");
    let mut token = STANDARD
        .decode(
            value["header"]["io.cncf.notary.timestampSignature"]
                .as_str()
                .expect("token"),
        )
        .expect("b64");
    let last = token.len() - 1;
    token[last] ^= 1;
    value["header"]["io.cncf.notary.timestampSignature"] = STANDARD.encode(&token).into();
    let flipped = notation_go_layout(dir.path(), "flipped", JWS, &serde_json::to_vec(&value).expect("json"));
    let report = verify_json(&flipped, &timestamped);
    assert!(
        refusal(&report).contains("the timestamp signature does not verify"),
        "{report}"
    );
    // A timestamp before the signer's certificate was valid (2021-01-01).
    let early = notation_go_layout(dir.path(), "early", JWS, &stamped(&pki, &tsa, "20200601000000Z"));
    let report = verify_json(&early, &timestamped);
    assert!(refusal(&report).contains("before certificate"), "{report}");
    // A TSA certificate without the timeStamping extended key usage.
    let no_eku = TestTsa::new(None);
    let no_eku_root = [write(dir.path(), "no-eku-root.cer", &no_eku.root)];
    let no_eku_config = config_with(
        dir.path(),
        &policy("strict", "", stores),
        &[("ca/e2e", &root), ("tsa/e2e", &no_eku_root)],
    );
    let image = notation_go_layout(dir.path(), "no-eku", JWS, &stamped(&pki, &no_eku, "20250601000005Z"));
    let report = verify_json(&image, &no_eku_config);
    assert!(refusal(&report).contains("timeStamping"), "{report}");
    verify(&image, &no_eku_config).assert_exit(1);
    // Under permissive, a failing timestamp is logged.
    let permissive = config_with(
        dir.path(),
        &policy("permissive", "", stores),
        &[("ca/e2e", &root), ("tsa/e2e", &other_root)],
    );
    let out = verify(&good, &permissive);
    out.assert_exit(0);
    assert!(out.stdout.contains("authenticTimestamp (log)"), "{out}");
}

/// notation's own timestamped layout: a Microsoft TSA token (fractional
/// genTime) that sigil reads; with GlobalSign's root as the tsa store the
/// TSA is not trusted, and with the expiry only logged the refusal is the
/// authentic timestamp's.
#[test]
fn notations_timestamped_layout_is_refused_by_another_tsa_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let envelope = testdata(
        "notation/layouts/e2e-with-timestamped-signature/blobs/sha256/603ff134e97a79cd7a15560b76137c2c4a10451daab11327a7c6f86dac250fee",
    );
    let value: Value = serde_json::from_slice(&fs::read(envelope).expect("envelope")).expect("json");
    let signer = STANDARD
        .decode(value["header"]["x5c"][0].as_str().expect("x5c"))
        .expect("b64");
    let mut chain = vec![write(dir.path(), "signer.cer", &signer)];
    if let Some(ca) = value["header"]["x5c"][1].as_str() {
        chain = vec![write(dir.path(), "signer-ca.cer", &STANDARD.decode(ca).expect("b64"))];
    }
    let globalsign = [testdata("notation/notation-go/globalsignRoot.cer")];
    let root = config_with(
        dir.path(),
        &policy("strict", r#","override":{"expiry":"log"}"#, r#""ca:e2e","tsa:e2e""#),
        &[("ca/e2e", &chain), ("tsa/e2e", &globalsign)],
    );
    let report = verify_json(&layout("e2e-with-timestamped-signature"), &root);
    let why = refusal(&report);
    assert!(
        why.starts_with("authenticTimestamp: the timestamp countersignature is not valid")
            && why.contains("does not lead to the tsa trust store"),
        "{report}"
    );
}
