//! cosign v2 keyless image signatures and attestations (`.sig` and `.att`
//! layers carrying a Fulcio-style certificate, its chain and a Rekor bundle
//! of a `hashedrekord` or `intoto 0.0.2` entry) verified by `sigil verify`,
//! `verify-attestation` and policies, against the test Sigstore instance
//! (`support/test_sigstore.rs`). The signing time is the log's, long after
//! the certificate expired: verification must use it, never "now".

use std::collections::BTreeMap;
use std::path::Path;

use sigil_verifier::cosign;
use sigil_verifier::digest::Digest;
use sigil_verifier::oci::Descriptor;
use sigil_verifier::reference::Target;
use time::OffsetDateTime;

use crate::fixtures::{block_on, copy_tag, push_sample, s, store, write_policy};
use crate::support::test_sigstore::{IDENTITY, ISSUED, ISSUER_URL, TestSigstore};
use crate::support::{Output, Registry, sigil};

/// When the test log integrates every entry: inside the leaf's ten minutes.
const LOGGED: OffsetDateTime = ISSUED.saturating_add(time::Duration::minutes(5));

/// Appends `layer` with `content` to the cosign tag `tag` of `repo`.
fn push_layer(registry: &Registry, repo: &str, tag: &str, layer: Descriptor, content: &[u8]) {
    let store = store(registry, repo);
    block_on(async {
        use sigil_verifier::store::Store as _;
        store.push_blob(&layer, content).await.expect("layer");
        sigil_verifier::sign::append_layer(&store, tag, layer)
            .await
            .expect("append");
    });
}

/// cosign's certificate annotations on a keyless layer.
fn certificate_annotations(inst: &TestSigstore, rekor: String) -> BTreeMap<String, String> {
    BTreeMap::from([
        (cosign::CERTIFICATE_ANNOTATION.to_owned(), inst.leaf_pem.clone()),
        (
            cosign::CHAIN_ANNOTATION.to_owned(),
            format!("{}{}", inst.intermediate_pem, inst.root_pem),
        ),
        (cosign::REKOR_BUNDLE_ANNOTATION.to_owned(), rekor),
    ])
}

/// Stores a cosign v2 keyless signature layer for `image` in `repo`.
fn push_keyless_signature(
    registry: &Registry,
    repo: &str,
    image: &Digest,
    inst: &TestSigstore,
    annotations: BTreeMap<String, String>,
) {
    let payload = sigil_verifier::simplesigning::payload(&registry.image(repo), image, &BTreeMap::new());
    let (signature, rekor) = inst.sign_message(&payload, &payload, LOGGED, &inst.log_key);
    let mut layer = Descriptor::of(cosign::SIMPLESIGNING_MEDIA_TYPE, &payload);
    layer.annotations = certificate_annotations(inst, rekor);
    layer
        .annotations
        .insert(cosign::SIGNATURE_ANNOTATION.to_owned(), signature);
    layer.annotations.extend(annotations);
    push_layer(registry, repo, &cosign::signature_tag(image), layer, &payload);
}

#[test]
fn cosign_v2_keyless_signatures_verify_at_the_logged_time_and_twins_fail() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let inst = TestSigstore::new(&[]);
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, inst.trusted_root()).expect("root");
    let digest = push_sample(&registry, "v2", "v1", 81);
    push_keyless_signature(&registry, "v2", &digest, &inst, BTreeMap::new());
    let image = registry.image("v2:v1");
    let verify_image = |image: &str, identity: &str, issuer: &str, root: &std::path::Path| {
        sigil(&[
            "verify",
            image,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            s(root),
            "--output",
            "json",
        ])
        .run()
    };
    let verify = |identity: &str, issuer: &str, root: &std::path::Path| verify_image(&image, identity, issuer, root);
    let ok = verify(IDENTITY, ISSUER_URL, &root);
    ok.assert_exit(0);
    assert_eq!(
        ok.stdout_json()["images"][0]["signatures"][0]["signer"]["subject"],
        IDENTITY
    );

    // twins: another identity, another issuer, the public-good root (no such CA or log)
    verify("eve@example.com", ISSUER_URL, &root).assert_exit(1);
    verify(IDENTITY, "https://other.example", &root).assert_exit(1);
    sigil(&[
        "verify",
        &image,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER_URL,
    ])
    .run()
    .assert_exit(1);
    // another instance's log and CA
    let stranger = dir.path().join("stranger.json");
    std::fs::write(&stranger, TestSigstore::new(&[]).trusted_root()).expect("root");
    verify(IDENTITY, ISSUER_URL, &stranger).assert_exit(1);

    // the same layer copied onto another image: the payload names the first digest
    let other = push_sample(&registry, "v2", "other", 82);
    copy_tag(
        &registry,
        "v2",
        &cosign::signature_tag(&digest),
        &cosign::signature_tag(&other),
    );
    let out = verify_image(&registry.image("v2:other"), IDENTITY, ISSUER_URL, &root);
    out.assert_exit(1);
    assert!(out.stdout.contains("signature is for image"), "{}", out.stdout);

    // a layer whose Rekor bundle was dropped cannot prove when it was signed
    let third = push_sample(&registry, "v2", "third", 83);
    push_keyless_signature(&registry, "v2", &third, &inst, BTreeMap::new());
    let tag = Target::Tag(cosign::signature_tag(&third));
    let (_, mut manifest) = crate::fixtures::manifest(&registry, "v2", tag.clone());
    manifest["layers"][0]["annotations"]
        .as_object_mut()
        .expect("annotations")
        .remove(cosign::REKOR_BUNDLE_ANNOTATION);
    crate::fixtures::put_manifest(&registry, "v2", tag, &manifest);
    let out = verify_image(&registry.image("v2:third"), IDENTITY, ISSUER_URL, &root);
    out.assert_exit(1);
    assert!(out.stdout.contains("Rekor bundle"), "{}", out.stdout);
}

const PROVENANCE: &str = "https://slsa.dev/provenance/v1";
const PREDICATE: &[u8] = br#"{"buildDefinition":{"buildType":"https://build.example/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://builder.example"}}}"#;

/// An SLSA v1 statement naming `image` in `repo`.
fn statement(registry: &Registry, repo: &str, image: &Digest) -> Vec<u8> {
    sigil_verifier::intoto::Statement::encode_raw(&registry.image(repo), image, PROVENANCE, PREDICATE)
}

/// Stores a cosign v2 keyless attestation layer for `image` in `repo`: a
/// DSSE envelope of `statement` and an `intoto 0.0.2` entry logging `logged`.
fn push_keyless_attestation(
    registry: &Registry,
    repo: &str,
    image: &Digest,
    inst: &TestSigstore,
    statement: &[u8],
    logged: &[u8],
) {
    let (envelope, rekor) = inst.sign_envelope(statement, logged, LOGGED, &inst.log_key);
    let mut layer = Descriptor::of(cosign::DSSE_MEDIA_TYPE, &envelope);
    layer.annotations = certificate_annotations(inst, rekor);
    layer
        .annotations
        .insert(cosign::SIGNATURE_ANNOTATION.to_owned(), String::new());
    layer
        .annotations
        .insert(cosign::PREDICATE_TYPE_ANNOTATION.to_owned(), PROVENANCE.to_owned());
    push_layer(registry, repo, &cosign::attestation_tag(image), layer, &envelope);
}

fn verify_attestation(image: &str, identity: &str, root: &Path) -> Output {
    sigil(&[
        "verify-attestation",
        image,
        "--type",
        "slsaprovenance1",
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        ISSUER_URL,
        "--trusted-root",
        s(root),
        "--output",
        "json",
    ])
    .run()
}

fn first_reason(out: &Output) -> String {
    out.stdout_json()["images"][0]["attestations"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn cosign_v2_keyless_attestations_verify_and_twins_fail() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let inst = TestSigstore::new(&[]);
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, inst.trusted_root()).expect("root");
    let digest = push_sample(&registry, "att", "v1", 84);
    let signed = statement(&registry, "att", &digest);
    push_keyless_attestation(&registry, "att", &digest, &inst, &signed, &signed);
    let image = registry.image("att:v1");

    let ok = verify_attestation(&image, IDENTITY, &root);
    ok.assert_exit(0);
    let attestation = &ok.stdout_json()["images"][0]["attestations"][0];
    assert_eq!(attestation["signer"]["subject"], IDENTITY);
    assert_eq!(attestation["signer"]["issuer"], ISSUER_URL);
    assert_eq!(attestation["statement"]["predicateType"], PROVENANCE);
    assert_eq!(
        attestation["statement"]["predicate"]["runDetails"]["builder"]["id"],
        "https://builder.example"
    );

    // twins: another identity; another instance's CA and log
    let out = verify_attestation(&image, "eve@example.com", &root);
    out.assert_exit(1);
    assert!(first_reason(&out).contains("eve@example.com"), "{}", out.stdout);
    let stranger = dir.path().join("stranger.json");
    std::fs::write(&stranger, TestSigstore::new(&[]).trusted_root()).expect("root");
    verify_attestation(&image, IDENTITY, &stranger).assert_exit(1);

    // the `.att` manifest copied onto another image: its statement names the first digest
    let other = push_sample(&registry, "att", "other", 85);
    copy_tag(
        &registry,
        "att",
        &cosign::attestation_tag(&digest),
        &cosign::attestation_tag(&other),
    );
    let out = verify_attestation(&registry.image("att:other"), IDENTITY, &root);
    out.assert_exit(1);
    assert!(first_reason(&out).contains("no subject"), "{}", out.stdout);

    // the log entry is for another payload than the envelope's
    let third = push_sample(&registry, "att", "third", 86);
    push_keyless_attestation(
        &registry,
        "att",
        &third,
        &inst,
        &statement(&registry, "att", &third),
        b"{}",
    );
    let out = verify_attestation(&registry.image("att:third"), IDENTITY, &root);
    out.assert_exit(1);
    assert!(first_reason(&out).contains("hash"), "{}", out.stdout);

    // the same evidence through a policy's keyless publisher with its own root
    let policy = write_policy(
        dir.path(),
        &format!(
            r#"publishers:
  ci:
    keyless: {{ issuer: "{ISSUER_URL}", subject: "{IDENTITY}", trustedRoot: trusted_root.json }}
  eve:
    keyless: {{ issuer: "{ISSUER_URL}", subject: eve@example.com, trustedRoot: trusted_root.json }}
rules:
  - name: built-by-ci
    images: ["{host}/att"]
    attestations:
      - predicateType: {PROVENANCE}
        signedBy: [ci]
        slsa: {{ builderIds: ["https://builder.example"] }}
  - name: built-by-eve
    images: ["{host}/att2"]
    attestations:
      - predicateType: {PROVENANCE}
        signedBy: [eve]
"#,
            host = registry.host()
        ),
    );
    sigil(&["policy", "lint", s(&policy)]).run().assert_exit(0);
    sigil(&["verify", &image, "--policy", s(&policy)]).run().assert_exit(0);
    sigil(&["verify", &registry.image("att:third"), "--policy", s(&policy)])
        .run()
        .assert_exit(1);
    sigil(&["copy", &image, &registry.image("att2:v1")])
        .run()
        .assert_exit(0);
    let denied = sigil(&[
        "verify",
        &registry.image("att2:v1"),
        "--policy",
        s(&policy),
        "--output",
        "json",
    ])
    .run();
    denied.assert_exit(1);
    assert!(denied.stdout.contains("eve"), "{}", denied.stdout);
}
