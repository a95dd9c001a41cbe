//! `sigil verify --notation-config DIR`: Notary Project signatures, on
//! notation's own e2e layouts (testdata/notation/README.md) read from disk
//! and pushed to a real registry, each accepted case with the twins that
//! must be refused for their own reason.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::fixtures::{s, testdata};
use crate::support::{Output, Registry, sha256_digest, sigil};

const IMAGE: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";
const VALID_ENVELOPE: &str = "c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50";

/// A notation configuration directory: `policy` (a file of
/// testdata/notation/trustpolicies, written as trustpolicy.json) and the
/// stores as (TYPE/NAME, certificate files).
pub(crate) fn config(dir: &Path, policy: &str, stores: &[(&str, &[PathBuf])]) -> PathBuf {
    let root = dir.join(format!(
        "config-{}",
        fs::read_dir(dir).map(Iterator::count).unwrap_or(0)
    ));
    fs::create_dir_all(&root).expect("config dir");
    fs::copy(
        testdata(&format!("notation/trustpolicies/{policy}")),
        root.join("trustpolicy.json"),
    )
    .expect("policy");
    for (store, files) in stores {
        let store_dir = root.join("truststore/x509").join(store);
        fs::create_dir_all(&store_dir).expect("store dir");
        for file in *files {
            fs::copy(file, store_dir.join(file.file_name().expect("name"))).expect("cert");
        }
    }
    root
}

pub(crate) fn key(name: &str) -> PathBuf {
    testdata(&format!("notation/localkeys/{name}"))
}

pub(crate) fn layout(name: &str) -> String {
    format!("oci:{}:v1", s(&testdata(&format!("notation/layouts/{name}"))))
}

pub(crate) fn verify(image: &str, config: &Path) -> Output {
    sigil(&["verify", image, "--notation-config", s(config)]).run()
}

pub(crate) fn verify_json(image: &str, config: &Path) -> Value {
    let out = sigil(&["verify", image, "--notation-config", s(config), "--output", "json"]).run();
    out.stdout_json()["images"][0].clone()
}

/// The first enforced failure of the only signature, as `validation: reason`.
pub(crate) fn refusal(report: &Value) -> String {
    let checks = report["signatures"][0]["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    checks
        .iter()
        .find(|c| c["action"] == "enforce" && c["result"] == "failed")
        .map(|c| {
            format!(
                "{}: {}",
                c["validation"].as_str().unwrap_or(""),
                c["reason"].as_str().unwrap_or("")
            )
        })
        .unwrap_or_else(|| panic!("no enforced failure in {report}"))
}

/// Writes the signer's certificate (the first of an envelope's x5c) to `dir`.
fn signer_certificate(envelope: &Path, dir: &Path) -> PathBuf {
    let value: Value = serde_json::from_slice(&fs::read(envelope).expect("envelope")).expect("json");
    let der = STANDARD
        .decode(value["header"]["x5c"][0].as_str().expect("x5c"))
        .expect("b64");
    let path = dir.join("signer.cer");
    fs::write(&path, der).expect("write");
    path
}

#[test]
fn notation_e2e_layouts_are_judged_as_notation_judges_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e2e = [key("e2e.crt")];
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &e2e)]);

    // Valid: one signature by the trusted e2e certificate.
    let out = verify(&layout("e2e-valid-signature"), &strict);
    out.assert_exit(0).assert_quiet_stderr();
    assert!(out.stdout.contains("1 of 1 notation signatures valid"), "{out}");
    assert!(out.stdout.contains("CN=e2e,O=Notary"), "{out}");
    // Two signatures, one by a certificate no store holds: one is enough.
    let report = verify_json(&layout("e2e-valid-multiple-signatures"), &strict);
    assert_eq!(report["verified"], true);
    let valid: Vec<bool> = report["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| s["valid"].as_bool().unwrap_or(true))
        .collect();
    assert_eq!(valid.iter().filter(|v| **v).count(), 1, "{report}");
    assert_eq!(valid.len(), 2);

    // Unsigned.
    let out = verify(&layout("e2e"), &strict);
    out.assert_exit(1);
    assert!(out.stdout.contains("no notation signatures found"), "{out}");
    // Expired signature: the expiry check.
    verify(&layout("e2e-expired-signature"), &strict).assert_exit(1);
    let report = verify_json(&layout("e2e-expired-signature"), &strict);
    assert!(
        refusal(&report).starts_with("expiry: the signature expired"),
        "{report}"
    );
    // The layer is not an envelope: bad input, one line, exit 2.
    let out = verify(&layout("e2e-invalid-signature"), &strict);
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error()
            .contains("unsupported signature envelope media type"),
        "{out}"
    );

    // Expired certificate, trusted: the authentic-timestamp check (no timestamp, so now).
    let expired = [key("expired_e2e.crt")];
    let strict_expired = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &expired)]);
    verify(&layout("e2e-with-expired-cert"), &strict_expired).assert_exit(1);
    let report = verify_json(&layout("e2e-with-expired-cert"), &strict_expired);
    assert!(
        refusal(&report).starts_with("authenticTimestamp: certificate"),
        "{report}"
    );
    assert!(refusal(&report).contains("expired"), "{report}");
    // permissive only logs it, as notation does.
    let permissive = config(dir.path(), "permissive_trustpolicy.json", &[("ca/e2e", &expired)]);
    let out = verify(&layout("e2e-with-expired-cert"), &permissive);
    out.assert_exit(0);
    assert!(
        out.stdout.contains("logged") && out.stdout.contains("authenticTimestamp (log)"),
        "{out}"
    );
    // ...and with the other store, it is not the trusted signer at all.
    let report = verify_json(&layout("e2e-with-expired-cert"), &strict);
    assert!(refusal(&report).starts_with("authenticity:"), "{report}");
}

#[test]
fn timestamped_layouts_are_refused_for_their_own_reasons() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layouts = testdata("notation/layouts");
    let signer = signer_certificate(
        &layouts.join("e2e-with-timestamped-signature/blobs/sha256/603ff134e97a79cd7a15560b76137c2c4a10451daab11327a7c6f86dac250fee"),
        dir.path(),
    );
    let tsa = [key("e2e.crt")];
    let signers = [signer];
    let timestamp = config(
        dir.path(),
        "timestamp_trustpolicy.json",
        &[("ca/e2e", &signers), ("tsa/e2e", &tsa)],
    );
    // Found by their subject (the layouts have no fallback index).
    let report = verify_json(&layout("e2e-with-timestamped-signature"), &timestamp);
    assert_eq!(report["verified"], false);
    assert!(refusal(&report).starts_with("expiry:"), "{report}");
    let report = verify_json(&layout("e2e-with-invalid-timestamped-signature"), &timestamp);
    assert_eq!(report["verified"], false);
    let why = refusal(&report);
    assert!(
        why.starts_with("authenticTimestamp: the timestamp countersignature is not valid: malformed timestamp token"),
        "{report}"
    );
    verify(&layout("e2e-with-invalid-timestamped-signature"), &timestamp).assert_exit(1);
}

#[test]
fn levels_decide_what_a_failure_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = [key("new_e2e.crt")];
    // A trust store that holds another certificate: authenticity.
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &other)]);
    verify(&layout("e2e-valid-signature"), &strict).assert_exit(1);
    assert!(refusal(&verify_json(&layout("e2e-valid-signature"), &strict)).starts_with("authenticity:"));
    let permissive = config(dir.path(), "permissive_trustpolicy.json", &[("ca/e2e", &other)]);
    verify(&layout("e2e-valid-signature"), &permissive).assert_exit(1);
    // audit logs authenticity...
    let audit = config(dir.path(), "audit_trustpolicy.json", &[("ca/e2e", &other)]);
    let out = verify(&layout("e2e-valid-signature"), &audit);
    out.assert_exit(0);
    assert!(out.stdout.contains("authenticity (log)"), "{out}");
    // ...but never integrity.
    let tampered = tamper(dir.path(), "e2e-valid-signature", "tampered-audit", flip_signature_byte);
    verify(&tampered, &audit).assert_exit(1);
    // skip verifies nothing, and says so.
    let skip = config(dir.path(), "skip_trustpolicy.json", &[]);
    let out = verify(&layout("e2e"), &skip);
    out.assert_exit(0);
    assert!(out.stderr.contains("level skip"), "{out}");
    // strict with every overridable check logged still enforces integrity.
    let overridden = config(dir.path(), "override_strict_trustpolicy.json", &[("ca/e2e", &other)]);
    verify(&layout("e2e-valid-signature"), &overridden).assert_exit(0);
    verify(&tampered, &overridden).assert_exit(1);
}

#[test]
fn tampered_twins_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e2e = [key("e2e.crt")];
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &e2e)]);
    // A flipped byte in the envelope's signature.
    let flipped = tamper(dir.path(), "e2e-valid-signature", "flipped", flip_signature_byte);
    let report = verify_json(&flipped, &strict);
    assert!(
        refusal(&report).starts_with("integrity: the signature does not verify"),
        "{report}"
    );
    verify(&flipped, &strict).assert_exit(1);
    // The untouched copy still verifies (the rewrite itself is sound).
    let copy = tamper(dir.path(), "e2e-valid-signature", "untouched", |_| {});
    verify(&copy, &strict).assert_exit(0);
    // The valid signature moved onto another image.
    let moved = signature_on_another_image(dir.path());
    let report = verify_json(&moved, &strict);
    assert!(refusal(&report).contains("not for this image"), "{report}");
    verify(&moved, &strict).assert_exit(1);
}

#[test]
fn trusted_identities_and_scopes_select_who_may_sign() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e2e = [key("e2e.crt")];
    let named = config(
        dir.path(),
        "valid_trusted_identity_trustpolicy.json",
        &[("ca/e2e", &e2e)],
    );
    verify(&layout("e2e-valid-signature"), &named).assert_exit(0);
    // The same policy naming someone else.
    let wrong = dir.path().join("wrong");
    fs::create_dir_all(wrong.join("truststore/x509/ca/e2e")).expect("dir");
    fs::copy(key("e2e.crt"), wrong.join("truststore/x509/ca/e2e/e2e.crt")).expect("cert");
    let text = fs::read_to_string(testdata(
        "notation/trustpolicies/valid_trusted_identity_trustpolicy.json",
    ))
    .expect("policy")
    .replace("CN=e2e", "CN=someone-else");
    fs::write(wrong.join("trustpolicy.json"), text).expect("write");
    let report = verify_json(&layout("e2e-valid-signature"), &wrong);
    assert!(
        refusal(&report).contains("not one of the trusted identities"),
        "{report}"
    );
    verify(&layout("e2e-valid-signature"), &wrong).assert_exit(1);
    // A policy scoped to one repository does not apply to a layout: untrusted.
    let scoped = config(dir.path(), "registry_scope_trustpolicy.json", &[("ca/e2e", &e2e)]);
    let out = verify(&layout("e2e-valid-signature"), &scoped);
    out.assert_exit(1);
    assert!(out.stdout.contains("no notation trust policy applies"), "{out}");
}

#[test]
fn signatures_pushed_to_a_real_registry_verify_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::start();
    let valid = registry.image("notation/valid:v1");
    let expired = registry.image("notation/expired:v1");
    sigil(&["copy", &layout("e2e-valid-signature"), &valid])
        .run()
        .assert_exit(0);
    sigil(&["copy", &layout("e2e-expired-signature"), &expired])
        .run()
        .assert_exit(0);

    // An exact scope for the valid repository (trusting e2e) wins over the
    // global statement (trusting another certificate).
    let e2e = [key("e2e.crt")];
    let other = [key("new_e2e.crt")];
    let root = config(
        dir.path(),
        "trustpolicy.json",
        &[("ca/e2e", &e2e), ("ca/other", &other)],
    );
    let policy = json!({"version": "1.0", "trustPolicies": [
        {"name": "exact", "registryScopes": [format!("{}/notation/valid", registry.host()), format!("{}/notation/expired", registry.host())],
         "signatureVerification": {"level": "strict"}, "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]},
        {"name": "global", "registryScopes": ["*"],
         "signatureVerification": {"level": "strict"}, "trustStores": ["ca:other"], "trustedIdentities": ["*"]},
    ]});
    fs::write(root.join("trustpolicy.oci.json"), policy.to_string()).expect("policy");
    let out = verify(&valid, &root);
    out.assert_exit(0).assert_quiet_stderr();
    assert!(out.stdout.contains("trust policy \"exact\""), "{out}");
    let report = verify_json(&expired, &root);
    assert!(refusal(&report).starts_with("expiry:"), "{report}");
    verify(&expired, &root).assert_exit(1);
    // The same image under another name falls to the global statement: another CA.
    let renamed = registry.image("notation/renamed:v1");
    sigil(&["copy", &valid, &renamed]).run().assert_exit(0);
    let report = verify_json(&renamed, &root);
    assert_eq!(report["trustPolicy"], "global");
    assert!(refusal(&report).starts_with("authenticity:"), "{report}");
    verify(&renamed, &root).assert_exit(1);
    // trustpolicy.oci.json is preferred over trustpolicy.json (global, e2e).
    fs::remove_file(root.join("trustpolicy.oci.json")).expect("remove");
    verify(&renamed, &root).assert_exit(0);
    assert_eq!(verify_json(&valid, &root)["digest"], IMAGE);
}

#[test]
fn bad_notation_configuration_is_one_line_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e2e = [key("e2e.crt")];
    let image = layout("e2e-valid-signature");
    for policy in [
        "invalid_format_trustpolicy.json",
        "malformed_trust_store_trustpolicy.json",
        "override_integrity_for_permissive_trustpolicy.json",
        "missing_state_trusted_identity_trustpolicy.json",
    ] {
        let root = config(dir.path(), policy, &[("ca/e2e", &e2e)]);
        let out = verify(&image, &root);
        out.assert_exit(2);
        assert!(out.assert_one_line_error().contains("trust policy"), "{policy}: {out}");
    }
    // No policy file at all.
    let out = verify(&image, dir.path());
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("trustpolicy.oci.json"), "{out}");
    // The store the policy names does not exist.
    let missing = config(dir.path(), "trustpolicy.json", &[]);
    let out = verify(&image, &missing);
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("trust store ca:e2e"), "{out}");
    // A store file that is not a certificate.
    let junk = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &e2e)]);
    fs::write(junk.join("truststore/x509/ca/e2e/junk.pem"), "not a certificate").expect("write");
    verify(&image, &junk).assert_exit(2).assert_one_line_error();
    // A malformed envelope.
    let broken = tamper(dir.path(), "e2e-valid-signature", "broken", |envelope| {
        *envelope = json!({"payload": "not base64!"});
    });
    let out = verify(&broken, &config(dir.path(), "trustpolicy.json", &[("ca/e2e", &e2e)]));
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("malformed JWS envelope"), "{out}");
}

// --- layout rewriting ---------------------------------------------------------

fn flip_signature_byte(envelope: &mut Value) {
    let mut sig = URL_SAFE_NO_PAD
        .decode(envelope["signature"].as_str().expect("signature"))
        .expect("b64");
    sig[7] ^= 1;
    envelope["signature"] = URL_SAFE_NO_PAD.encode(sig).into();
}

/// Writes `bytes` as a blob of `layout` and returns its descriptor fields.
fn put_blob(layout: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = sha256_digest(bytes);
    fs::write(layout.join("blobs/sha256").join(&digest[7..]), bytes).expect("blob");
    (digest, bytes.len())
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).expect("read")).expect("json")
}

fn blob_json(layout: &Path, digest: &str) -> Value {
    read_json(&layout.join("blobs/sha256").join(&digest[7..]))
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("blobs/sha256")).expect("dirs");
    for name in ["index.json", "oci-layout"] {
        fs::copy(from.join(name), to.join(name)).expect("copy");
    }
    for entry in fs::read_dir(from.join("blobs/sha256")).expect("blobs") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), to.join("blobs/sha256").join(entry.file_name())).expect("copy blob");
    }
}

/// A copy of a notation layout whose one signature's envelope is edited by
/// `edit`, with the signature manifest, the fallback index and index.json
/// rewritten to the new digests (so every digest still checks out).
fn tamper(dir: &Path, source: &str, name: &str, edit: impl FnOnce(&mut Value)) -> String {
    let to = dir.join(name);
    copy_dir(&testdata(&format!("notation/layouts/{source}")), &to);
    let mut envelope = blob_json(&to, &format!("sha256:{VALID_ENVELOPE}"));
    edit(&mut envelope);
    let (env_digest, env_size) = put_blob(&to, &serde_json::to_vec(&envelope).expect("json"));
    let mut index = read_json(&to.join("index.json"));
    let manifests = index["manifests"].as_array_mut().expect("manifests");
    let fallback = manifests
        .iter_mut()
        .find(|m| m["mediaType"] == "application/vnd.oci.image.index.v1+json")
        .expect("fallback index entry");
    let mut referrers = blob_json(&to, fallback["digest"].as_str().expect("digest"));
    let entry = &mut referrers["manifests"][0];
    let old_signature = entry["digest"].clone();
    let mut signature = blob_json(&to, old_signature.as_str().expect("digest"));
    signature["layers"][0]["digest"] = env_digest.into();
    signature["layers"][0]["size"] = env_size.into();
    let (sig_digest, sig_size) = put_blob(&to, &serde_json::to_vec(&signature).expect("json"));
    entry["digest"] = sig_digest.clone().into();
    entry["size"] = sig_size.into();
    let (ref_digest, ref_size) = put_blob(&to, &serde_json::to_vec(&referrers).expect("json"));
    fallback["digest"] = ref_digest.into();
    fallback["size"] = ref_size.into();
    // The layout lists the signature manifest itself too: the new one replaces it.
    for m in manifests.iter_mut().filter(|m| m["digest"] == old_signature) {
        m["digest"] = sig_digest.clone().into();
        m["size"] = sig_size.into();
    }
    fs::write(to.join("index.json"), serde_json::to_vec(&index).expect("json")).expect("index");
    format!("oci:{}:v1", s(&to))
}

/// The e2e-with-timestamped-signature layout's image (`sha256:53b01912…`)
/// given the valid e2e signature (which signs `sha256:b8479de3…`), as a
/// referrer in its fallback index.
fn signature_on_another_image(dir: &Path) -> String {
    let to = dir.join("moved");
    copy_dir(&testdata("notation/layouts/e2e-with-timestamped-signature"), &to);
    let from = testdata("notation/layouts/e2e-valid-signature");
    let envelope = fs::read(from.join("blobs/sha256").join(VALID_ENVELOPE)).expect("envelope");
    put_blob(&to, &envelope);
    let mut index = read_json(&to.join("index.json"));
    let image = index["manifests"][0].clone();
    let mut signature = blob_json(
        &from,
        "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f",
    );
    signature["subject"] = json!({"mediaType": image["mediaType"], "digest": image["digest"], "size": image["size"]});
    let (sig_digest, sig_size) = put_blob(&to, &serde_json::to_vec(&signature).expect("json"));
    let referrers = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sig_digest, "size": sig_size,
         "artifactType": "application/vnd.cncf.notary.signature"}]});
    let (ref_digest, ref_size) = put_blob(&to, &serde_json::to_vec(&referrers).expect("json"));
    let tag = format!("sha256-{}", &image["digest"].as_str().expect("digest")[7..]);
    let manifests = index["manifests"].as_array_mut().expect("manifests");
    // Only the moved signature refers to the image now.
    manifests.truncate(1);
    manifests.push(
        json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": ref_digest, "size": ref_size,
        "annotations": {"org.opencontainers.image.ref.name": tag}}),
    );
    fs::write(to.join("index.json"), serde_json::to_vec(&index).expect("json")).expect("index");
    format!("oci:{}:v1", s(&to))
}

/// A layout holding notation-go's signed manifest (`sha256:19dbd2e4…`, the
/// manifest only: verification needs no layer) and one signature of it
/// whose envelope layer is `envelope` of `media_type`.
pub(crate) fn notation_go_layout(dir: &Path, name: &str, media_type: &str, envelope: &[u8]) -> String {
    let to = dir.join(name);
    fs::create_dir_all(to.join("blobs/sha256")).expect("dirs");
    fs::write(to.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
    let manifest = fs::read(testdata("notation/notation-go/alpine-manifest.json")).expect("manifest");
    let (image, image_size) = put_blob(&to, &manifest);
    let (empty, _) = put_blob(&to, b"{}");
    let (env_digest, env_size) = put_blob(&to, envelope);
    let signature = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.cncf.notary.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": media_type, "digest": env_digest, "size": env_size}],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": image_size}});
    let (sig_digest, sig_size) = put_blob(&to, &serde_json::to_vec(&signature).expect("json"));
    let referrers = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sig_digest, "size": sig_size,
         "artifactType": "application/vnd.cncf.notary.signature"}]});
    let (ref_digest, ref_size) = put_blob(&to, &serde_json::to_vec(&referrers).expect("json"));
    let index = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image, "size": image_size,
         "annotations": {"org.opencontainers.image.ref.name": "v2"}},
        {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": ref_digest, "size": ref_size,
         "annotations": {"org.opencontainers.image.ref.name": format!("sha256-{}", &image[7..])}}]});
    fs::write(to.join("index.json"), serde_json::to_vec(&index).expect("json")).expect("index");
    format!("oci:{}:v2", s(&to))
}

#[test]
fn notation_go_jws_and_cose_envelopes_verify_from_a_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jws = fs::read(testdata("notation/notation-go/jws_signature.sig")).expect("jws");
    let cose = fs::read(testdata("notation/notation-go/cose_signature.sig")).expect("cose");
    // Both envelopes are signed by notation-go's self-signed CN=alpine certificate.
    let signer = [signer_certificate(
        &testdata("notation/notation-go/jws_signature.sig"),
        dir.path(),
    )];
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &signer)]);
    for (name, media_type, bytes) in [
        ("jws", "application/jose+json", &jws),
        ("cose", "application/cose", &cose),
    ] {
        let image = notation_go_layout(dir.path(), name, media_type, bytes);
        let out = verify(&image, &strict);
        out.assert_exit(0).assert_quiet_stderr();
        assert!(out.stdout.contains("CN=alpine"), "{out}");
        // The flipped-byte twin: the last byte of the COSE envelope is the
        // signature's; in the JWS, a byte of the decoded signature.
        let flipped = if media_type == "application/cose" {
            let mut b = bytes.clone();
            let last = b.len() - 1;
            b[last] ^= 1;
            b
        } else {
            let mut value: Value = serde_json::from_slice(bytes).expect("json");
            flip_signature_byte(&mut value);
            serde_json::to_vec(&value).expect("json")
        };
        let twin = notation_go_layout(dir.path(), &format!("{name}-flipped"), media_type, &flipped);
        let report = verify_json(&twin, &strict);
        assert!(
            refusal(&report).starts_with("integrity: the signature does not verify"),
            "{name}: {report}"
        );
        verify(&twin, &strict).assert_exit(1);
        // Another store: not trusted.
        let other = [key("e2e.crt")];
        let elsewhere = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &other)]);
        verify(&image, &elsewhere).assert_exit(1);
    }
}

#[test]
fn notation_config_is_its_own_way_to_trust() {
    let dir = tempfile::tempdir().expect("tempdir");
    let e2e = [key("e2e.crt")];
    let strict = config(dir.path(), "trustpolicy.json", &[("ca/e2e", &e2e)]);
    let image = layout("e2e-valid-signature");
    let public = testdata("notation/localkeys/e2e.crt");
    for extra in [["--key", s(&public)], ["--policy", s(&public)], ["-a", "k=v"]] {
        let mut args = vec!["verify", image.as_str(), "--notation-config", s(&strict)];
        args.extend(extra);
        sigil(&args).run().assert_exit(2).assert_one_line_error();
    }
    // Several images at once: the run's exit code is the worst.
    let out = sigil(&[
        "verify",
        &image,
        &layout("e2e-expired-signature"),
        "--notation-config",
        s(&strict),
    ])
    .run();
    out.assert_exit(1);
    assert!(out.stdout.contains("PASS ") && out.stdout.contains("FAIL "), "{out}");
}

// --- policy publishers of kind notation ---------------------------------------

const E2E_DN: &str = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=e2e";

/// A policy file in `dir` with trust stores beside it (`stores/e2e`: the
/// e2e certificate; `stores/other`: another CA; `stores/expired`: the
/// expired e2e certificate), a key publisher `release` (`release.pub`,
/// made by the caller), notation publishers `e2e` (the e2e identity),
/// `other`, `someone` (another identity), `expired`, and one rule for
/// every image with `signatures`.
fn notation_policy(dir: &Path, signatures: &str) -> PathBuf {
    for (store, cert) in [
        ("e2e", "e2e.crt"),
        ("other", "new_e2e.crt"),
        ("expired", "expired_e2e.crt"),
    ] {
        let to = dir.join("stores").join(store);
        fs::create_dir_all(&to).expect("store dir");
        fs::copy(key(cert), to.join(cert)).expect("cert");
    }
    let policy = dir.join("policy.yaml");
    fs::write(
        &policy,
        format!(
            r#"apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release: {{key: release.pub}}
  e2e:
    notation:
      trustStore: stores/e2e
      trustedIdentities: ["{E2E_DN}"]
  other:
    notation: {{trustStore: stores/other, trustedIdentities: ["*"]}}
  someone:
    notation: {{trustStore: stores/e2e, trustedIdentities: ["x509.subject: C=US, ST=WA, O=Notary, CN=someone-else"]}}
  expired:
    notation: {{trustStore: [stores/expired], trustedIdentities: ["*"]}}
rules:
  - name: all
    images: ["**"]
    signatures: {signatures}
"#
        ),
    )
    .expect("policy");
    policy
}

/// `sigil verify IMAGE --policy POLICY --output json`: the exit code and
/// the image's signatures check.
fn policy_check(image: &str, policy: &Path) -> (i32, Value) {
    let out = sigil(&["verify", image, "--policy", s(policy), "--output", "json"]).run();
    let code = out.code.unwrap_or(-1);
    let report = out.stdout_json()["images"][0].clone();
    let check = report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["kind"] == "signatures").cloned())
        .unwrap_or_else(|| panic!("no signatures check: {report}"));
    (code, check)
}

fn assert_policy(image: &str, policy: &Path, exit: i32, code: &str) -> Value {
    let (found, check) = policy_check(image, policy);
    assert_eq!(
        (found, check["code"].as_str().unwrap_or("")),
        (exit, code),
        "{image}: {check}"
    );
    check
}

#[test]
fn notation_publishers_count_in_a_policy_from_layouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::fixtures::keypair(dir.path(), "release");
    let any_of = |publisher: &str| notation_policy(&dir.path().join(publisher), &format!("{{anyOf: [{publisher}]}}"));
    for p in ["e2e", "other", "someone", "expired"] {
        fs::create_dir_all(dir.path().join(p)).expect("dir");
        fs::copy(dir.path().join("release.pub"), dir.path().join(p).join("release.pub")).expect("pub");
    }
    let e2e = any_of("e2e");

    // Allowed: the right store and identity; the report names the signer and the store.
    let check = assert_policy(&layout("e2e-valid-signature"), &e2e, 0, "satisfied");
    let details = check["details"].to_string();
    assert!(
        details.contains("CN=e2e") && details.contains("notation trust store stores/e2e"),
        "{check}"
    );
    let out = sigil(&["verify", &layout("e2e-valid-signature"), "--policy", s(&e2e)]).run();
    out.assert_exit(0).assert_quiet_stderr();
    // One valid signature among others is enough.
    assert_policy(&layout("e2e-valid-multiple-signatures"), &e2e, 0, "satisfied");

    // Twins, each refused for its own reason.
    assert_policy(
        &layout("e2e-valid-signature"),
        &any_of("other"),
        1,
        "certificate-untrusted",
    );
    assert_policy(
        &layout("e2e-valid-signature"),
        &any_of("someone"),
        1,
        "identity-mismatch",
    );
    let moved = signature_on_another_image(dir.path());
    assert_policy(&moved, &e2e, 1, "digest-mismatch");
    assert_policy(&layout("e2e-expired-signature"), &e2e, 1, "signature-expired");
    let flipped = tamper(dir.path(), "e2e-valid-signature", "flipped", flip_signature_byte);
    assert_policy(&flipped, &e2e, 1, "signature-invalid");
    let untouched = tamper(dir.path(), "e2e-valid-signature", "untouched", |_| {});
    assert_policy(&untouched, &e2e, 0, "satisfied");
    assert_policy(
        &layout("e2e-with-expired-cert"),
        &any_of("expired"),
        1,
        "certificate-expired",
    );
    assert_policy(&layout("e2e"), &e2e, 1, "no-signatures");
    // The layer is no envelope: the evidence is malformed, the image denied.
    assert_policy(&layout("e2e-invalid-signature"), &e2e, 1, "evidence-malformed");
    // A cosign key publisher finds nothing in a notation-signed layout.
    let release = notation_policy(&dir.path().join("e2e"), "{anyOf: [release]}");
    assert_policy(&layout("e2e-valid-signature"), &release, 1, "no-signatures");
}

#[test]
fn notation_policy_errors_are_lint_errors_with_their_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    crate::fixtures::keypair(dir.path(), "release");
    let policy = notation_policy(dir.path(), "{anyOf: [e2e]}");
    sigil(&["policy", "lint", s(&policy)]).run().assert_exit(0);
    fs::create_dir_all(dir.path().join("stores/empty")).expect("dir");
    fs::write(dir.path().join("stores/junk.pem"), "not a certificate").expect("junk");
    let text = fs::read_to_string(&policy)
        .expect("policy")
        .replace("trustStore: stores/other", "trustStore: stores/empty")
        .replace("trustStore: [stores/expired]", "trustStore: [stores/junk.pem]")
        .replace(&format!("[\"{E2E_DN}\"]"), "[\"CN=e2e\"]");
    fs::write(&policy, &text).expect("write");
    let out = sigil(&["policy", "lint", s(&policy)]).run();
    out.assert_exit(2);
    for (needle, code) in [
        ("stores/empty", "invalid-trust-root"),
        ("[stores/junk.pem]", "invalid-trust-root"),
        ("\"CN=e2e\"", "invalid-value"),
    ] {
        let offset = text.find(needle).expect("needle");
        let line = text[..offset].matches('\n').count() + 1;
        let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
        let place = format!("policy.yaml:{line}:{column}");
        assert!(
            out.stdout.contains(&place) || out.stderr.contains(&place),
            "{code} at {place}: {out}"
        );
        assert!(out.stdout.contains(code) || out.stderr.contains(code), "{code}: {out}");
    }
    // verify refuses the policy before any image is looked at.
    let out = sigil(&["verify", &layout("e2e-valid-signature"), "--policy", s(&policy)]).run();
    out.assert_exit(2);
}

#[test]
fn notation_and_key_publishers_combine_in_a_real_registry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = crate::fixtures::keypair(dir.path(), "release");
    let registry = Registry::start();
    // Notation signatures copied with the image (as referrers), then a cosign key signature.
    let both = registry.image("notation/both:v1");
    let notation_only = registry.image("notation/only:v1");
    let expired = registry.image("notation/expired:v1");
    for (from, to) in [
        ("e2e-valid-signature", &both),
        ("e2e-valid-signature", &notation_only),
        ("e2e-expired-signature", &expired),
    ] {
        sigil(&["copy", &layout(from), to]).run().assert_exit(0);
    }
    sigil(&["sign", &both, "--key", s(&release)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    crate::fixtures::push_sample(&registry, "notation/key-only", "v1", 7);
    let key_only = registry.image("notation/key-only:v1");
    sigil(&["sign", &key_only, "--key", s(&release)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    sigil(&["sign", &expired, "--key", s(&release)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);

    let any_of = notation_policy(&dir.path().join("any"), "{anyOf: [e2e]}");
    fs::copy(dir.path().join("release.pub"), dir.path().join("any/release.pub")).expect("pub");
    let check = assert_policy(&notation_only, &any_of, 0, "satisfied");
    assert!(check["details"].to_string().contains("CN=e2e"), "{check}");
    assert_policy(&expired, &any_of, 1, "signature-expired");
    assert_policy(&key_only, &any_of, 1, "no-signatures");

    // allOf [key, notation] needs both.
    let all_of = notation_policy(&dir.path().join("all"), "{allOf: [release, e2e]}");
    fs::copy(dir.path().join("release.pub"), dir.path().join("all/release.pub")).expect("pub");
    assert_policy(&both, &all_of, 0, "satisfied");
    assert_policy(&notation_only, &all_of, 1, "no-signatures");
    assert_policy(&key_only, &all_of, 1, "no-signatures");
    assert_policy(&expired, &all_of, 1, "signature-expired");

    // threshold 2 of [notation, key].
    let threshold = notation_policy(&dir.path().join("two"), "{threshold: {count: 2, of: [e2e, release]}}");
    fs::copy(dir.path().join("release.pub"), dir.path().join("two/release.pub")).expect("pub");
    assert_policy(&both, &threshold, 0, "satisfied");
    assert_policy(&notation_only, &threshold, 1, "threshold-not-met");
    assert_policy(&key_only, &threshold, 1, "threshold-not-met");
    assert_policy(&expired, &threshold, 1, "threshold-not-met");
    // Another store's CA in the threshold: one publisher short.
    let other = notation_policy(
        &dir.path().join("other"),
        "{threshold: {count: 2, of: [other, release]}}",
    );
    fs::copy(dir.path().join("release.pub"), dir.path().join("other/release.pub")).expect("pub");
    assert_policy(&both, &other, 1, "threshold-not-met");
    // Several images in one run: exit 1, each decided on its own.
    let out = sigil(&[
        "verify",
        &both,
        &notation_only,
        "--policy",
        s(&all_of),
        "--output",
        "json",
    ])
    .run();
    out.assert_exit(1);
    let json = out.stdout_json();
    assert_eq!(json["images"][0]["decision"], "allow");
    assert_eq!(json["images"][1]["decision"], "deny");
}
