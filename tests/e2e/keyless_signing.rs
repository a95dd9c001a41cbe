//! Keyless signing (`sign`, `attest`, `sign-blob`, `attest-blob` without
//! `--key`) and key-based `--tlog-upload`, against a real registry and the
//! loopback Sigstore instance (`sigil_testkit::sigstore_instance`): what
//! sigil writes verifies with `sigil verify`/`verify-attestation`/
//! `verify-bundle` and, for bundles, with sigstore-python and
//! @sigstore/verify; wrong identity, another instance's root, an entry for
//! another artifact and an expired certificate are refused; every failure of
//! a service is exit 2 with one line, and nothing is pushed.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sigil_testkit::sigstore_instance::{EMAIL_ISSUER, Fault, GITHUB_ISSUER, GithubClaims, Instance, peers};

use crate::fixtures::{keypair, push_sample, s};
use crate::support::{Registry, sigil};

/// The certificate identity GitHub Actions tokens get from Fulcio.
pub fn github_identity() -> String {
    GithubClaims::default().identity()
}

/// The instance's trusted root, written to `dir`.
pub fn write_root(dir: &Path, name: &str, instance: &Instance) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, instance.trusted_root_json()).expect("write trusted root");
    path
}

/// `sigil ARGS` signing keyless against `instance`, with the token from
/// the GitHub Actions endpoint.
pub fn via_actions(instance: &Instance, args: &[&str]) -> crate::support::Output {
    keyless(instance, args)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", instance.actions_token_url())
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", Instance::ACTIONS_REQUEST_TOKEN)
        .run()
}

/// `sigil ARGS --fulcio-url .. --rekor-url .. --trusted-root ..`.
fn keyless(instance: &Instance, args: &[&str]) -> crate::support::Proc {
    let fulcio = instance.fulcio_url();
    let rekor = instance.rekor_url();
    let dir = tempfile::tempdir().expect("dir").keep();
    let root = write_root(&dir, "root.json", instance);
    let mut all: Vec<&str> = args.to_vec();
    all.extend([
        "--fulcio-url",
        &fulcio,
        "--rekor-url",
        &rekor,
        "--trusted-root",
        s(&root),
    ]);
    sigil(&all)
}

/// Every tag of `repo`, sorted.
fn tags(registry: &Registry, repo: &str) -> Vec<String> {
    let url = format!("{}/v2/{repo}/tags/list", registry.url());
    let body: Value = registry
        .client()
        .get(url)
        .send()
        .and_then(|r| r.text())
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::Null))
        .expect("tags list");
    let mut tags: Vec<String> = body["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    tags.sort();
    tags
}

fn verify(image: &str, identity: &str, issuer: &str, root: &Path, extra: &[&str]) -> crate::support::Output {
    let mut args = vec![
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
    ];
    args.extend_from_slice(extra);
    sigil(&args).run()
}

fn verify_attestation(image: &str, identity: &str, issuer: &str, root: &Path) -> crate::support::Output {
    sigil(&[
        "verify-attestation",
        image,
        "--type",
        "cyclonedx",
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
}

fn write_bom(dir: &Path) -> PathBuf {
    let bom = dir.join("bom.json");
    std::fs::write(
        &bom,
        r#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#,
    )
    .expect("bom");
    bom
}

#[test]
fn keyless_images_via_github_actions_verify_in_both_forms_and_their_twins_fail() {
    let instance = Instance::start();
    let other = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = write_root(dir.path(), "root.json", &instance);
    let other_root = write_root(dir.path(), "other.json", &other);
    let bom = write_bom(dir.path());
    push_sample(&registry, "app", "v1", 1);
    let image = registry.image("app:v1");

    for format in ["tag", "bundle"] {
        let signed = via_actions(&instance, &["sign", &image, "--format", format, "--output", "json"]);
        signed.assert_exit(0);
        assert_eq!(
            signed.stdout_json()["signed"].as_array().map(Vec::len),
            Some(1),
            "{signed}"
        );
        via_actions(
            &instance,
            &[
                "attest",
                &image,
                "--format",
                format,
                "--type",
                "cyclonedx",
                "--predicate",
                s(&bom),
            ],
        )
        .assert_exit(0);
    }
    assert!(instance.entries() >= 4, "every signature is logged");

    let ok = verify(&image, &github_identity(), GITHUB_ISSUER, &root, &[]);
    ok.assert_exit(0);
    let report = ok.stdout_json();
    let forms: Vec<&str> = report["images"][0]["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .filter(|s| s["valid"] == true || s["reason"].is_null())
        .filter_map(|s| s["origin"]["form"].as_str())
        .collect();
    assert!(forms.contains(&"tag") && forms.iter().any(|f| *f != "tag"), "{report}");
    verify_attestation(&image, &github_identity(), GITHUB_ISSUER, &root).assert_exit(0);

    // twins: another identity, another issuer, another instance's root
    verify(
        &image,
        "https://github.com/octo-org/other/.github/workflows/x.yml@refs/heads/main",
        GITHUB_ISSUER,
        &root,
        &[],
    )
    .assert_exit(1);
    verify(&image, &github_identity(), EMAIL_ISSUER, &root, &[]).assert_exit(1);
    verify(&image, &github_identity(), GITHUB_ISSUER, &other_root, &[]).assert_exit(1);
    verify_attestation(&image, &github_identity(), GITHUB_ISSUER, &other_root).assert_exit(1);
    verify_attestation(&image, "someone@example.com", GITHUB_ISSUER, &root).assert_exit(1);
}

#[test]
fn keyless_with_sigstore_id_token_signs_many_images_with_one_certificate() {
    let instance = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = write_root(dir.path(), "root.json", &instance);
    let images: Vec<String> = (0..3)
        .map(|i| {
            push_sample(&registry, &format!("app{i}"), "v1", 10 + i);
            registry.image(&format!("app{i}:v1"))
        })
        .collect();
    let token = instance.email_token("dev@example.com");
    let mut args = vec!["sign"];
    args.extend(images.iter().map(String::as_str));
    keyless(&instance, &args)
        .env("SIGSTORE_ID_TOKEN", &token)
        .run()
        .assert_exit(0);
    assert_eq!(instance.entries(), 3);
    // one certificate for the run: the three layers carry the same one
    let certificates: std::collections::BTreeSet<String> = (0..3)
        .map(|i| {
            let digest = crate::fixtures::manifest(
                &registry,
                &format!("app{i}"),
                sigil_verifier::reference::Target::Tag("v1".into()),
            )
            .0
            .digest;
            let tag = format!("sha256-{}.sig", digest.hex());
            let (_, manifest) = crate::fixtures::manifest(
                &registry,
                &format!("app{i}"),
                sigil_verifier::reference::Target::Tag(tag),
            );
            manifest["layers"][0]["annotations"]["dev.sigstore.cosign/certificate"]
                .as_str()
                .expect("certificate annotation")
                .to_owned()
        })
        .collect();
    assert_eq!(certificates.len(), 1);
    for image in &images {
        verify(image, "dev@example.com", EMAIL_ISSUER, &root, &[]).assert_exit(0);
        verify(image, "other@example.com", EMAIL_ISSUER, &root, &[]).assert_exit(1);
    }
    // the token as a file
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).expect("token file");
    push_sample(&registry, "filed", "v1", 20);
    keyless(
        &instance,
        &["sign", &registry.image("filed:v1"), "--identity-token", s(&file)],
    )
    .run()
    .assert_exit(0);
    verify(&registry.image("filed:v1"), "dev@example.com", EMAIL_ISSUER, &root, &[]).assert_exit(0);
}

#[test]
fn keyless_blob_bundles_verify_with_sigil_and_both_peers_and_their_twins_fail() {
    let instance = Instance::start();
    let other = Instance::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = write_root(dir.path(), "root.json", &instance);
    let other_root = write_root(dir.path(), "other.json", &other);
    let config = dir.path().join("trust-config.json");
    std::fs::write(&config, instance.client_trust_config_json()).expect("config");
    let other_config = dir.path().join("other-config.json");
    std::fs::write(&other_config, other.client_trust_config_json()).expect("config");
    let file = dir.path().join("app.tar.gz");
    std::fs::write(&file, b"release bytes").expect("file");
    let flipped = dir.path().join("flipped.tar.gz");
    std::fs::write(&flipped, b"release bytez").expect("file");
    let bom = write_bom(dir.path());
    let token = instance.email_token("dev@example.com");

    let message = dir.path().join("app.sigstore.json");
    keyless(
        &instance,
        &["sign-blob", s(&file), "--bundle", s(&message), "--output", "json"],
    )
    .env("SIGSTORE_ID_TOKEN", &token)
    .run()
    .assert_exit(0);
    let dsse = dir.path().join("app.intoto.sigstore.json");
    keyless(
        &instance,
        &[
            "attest-blob",
            s(&file),
            "--type",
            "cyclonedx",
            "--predicate",
            s(&bom),
            "--bundle",
            s(&dsse),
        ],
    )
    .env("SIGSTORE_ID_TOKEN", &token)
    .run()
    .assert_exit(0);
    let written: Value = serde_json::from_slice(&std::fs::read(&message).expect("bundle")).expect("json");
    let entry = &written["verificationMaterial"]["tlogEntries"][0];
    assert!(
        entry["inclusionProof"]["checkpoint"]["envelope"].is_string(),
        "{written}"
    );
    assert!(
        entry["inclusionPromise"]["signedEntryTimestamp"].is_string(),
        "{written}"
    );
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");

    let verify_bundle = |bundle: &Path, artifact: &Path, identity: &str, root: &Path, extra: &[&str]| {
        let mut args = vec![
            "verify-bundle",
            "--bundle",
            s(bundle),
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            EMAIL_ISSUER,
            "--trusted-root",
            s(root),
        ];
        args.extend_from_slice(extra);
        args.push(s(artifact));
        sigil(&args).run()
    };
    for (bundle, extra) in [(&message, &[][..]), (&dsse, &["--type", "cyclonedx"][..])] {
        verify_bundle(bundle, &file, "dev@example.com", &root, extra).assert_exit(0);
        verify_bundle(bundle, &file, "other@example.com", &root, extra).assert_exit(1);
        verify_bundle(bundle, &file, "dev@example.com", &other_root, extra).assert_exit(1);
        verify_bundle(bundle, &flipped, "dev@example.com", &root, extra).assert_exit(1);

        let python = peers::sigstore_python_verify(&config, bundle, &file, "dev@example.com", EMAIL_ISSUER);
        assert!(
            python.accepted,
            "sigstore-python refused sigil's bundle {}: {}",
            bundle.display(),
            python.output
        );
        let js = peers::sigstore_js_verify(&root, bundle, &file, "dev@example.com", EMAIL_ISSUER);
        assert!(
            js.accepted,
            "@sigstore/verify refused sigil's bundle {}: {}",
            bundle.display(),
            js.output
        );
        for (twin, config, root, identity) in [
            ("another instance", &other_config, &other_root, "dev@example.com"),
            ("wrong identity", &config, &root, "other@example.com"),
        ] {
            let js = peers::sigstore_js_verify(root, bundle, &file, identity, EMAIL_ISSUER);
            assert!(!js.accepted, "@sigstore/verify accepted {twin}: {}", js.output);
            let python = peers::sigstore_python_verify(config, bundle, &file, identity, EMAIL_ISSUER);
            assert!(!python.accepted, "sigstore-python accepted {twin}: {}", python.output);
        }
        let python = peers::sigstore_python_verify(&config, bundle, &flipped, "dev@example.com", EMAIL_ISSUER);
        assert!(
            !python.accepted,
            "sigstore-python accepted another file: {}",
            python.output
        );
    }
}

#[test]
fn a_log_entry_for_another_artifact_and_a_timestamp_are_judged() {
    let instance = Instance::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = write_root(dir.path(), "root.json", &instance);
    let config = dir.path().join("trust-config.json");
    std::fs::write(&config, instance.client_trust_config_json()).expect("config");
    let token = instance.email_token("dev@example.com");
    let tsa = instance.tsa_url();
    let sign = |name: &str, bytes: &[u8], extra: &[&str]| {
        let file = dir.path().join(name);
        std::fs::write(&file, bytes).expect("file");
        let bundle = dir.path().join(format!("{name}.sigstore.json"));
        let mut args = vec!["sign-blob", s(&file), "--bundle", s(&bundle)];
        args.extend_from_slice(extra);
        keyless(&instance, &args)
            .env("SIGSTORE_ID_TOKEN", &token)
            .run()
            .assert_exit(0);
        (file, bundle)
    };
    let verify = |bundle: &Path, file: &Path| {
        sigil(&[
            "verify-bundle",
            "--bundle",
            s(bundle),
            "--certificate-identity",
            "dev@example.com",
            "--certificate-oidc-issuer",
            EMAIL_ISSUER,
            "--trusted-root",
            s(&root),
            "--output",
            "json",
            s(file),
        ])
        .run()
    };
    let (a, a_bundle) = sign("a.bin", b"artifact a", &["--timestamp-server-url", &tsa]);
    let (_, b_bundle) = sign("b.bin", b"artifact b", &[]);
    let ok = verify(&a_bundle, &a);
    ok.assert_exit(0);
    let written: Value = serde_json::from_slice(&std::fs::read(&a_bundle).expect("bundle")).expect("json");
    assert_eq!(
        written["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{written}"
    );
    let python = peers::sigstore_python_verify(&config, &a_bundle, &a, "dev@example.com", EMAIL_ISSUER);
    assert!(
        python.accepted,
        "sigstore-python refused the timestamped bundle: {}",
        python.output
    );
    let js = peers::sigstore_js_verify(&root, &a_bundle, &a, "dev@example.com", EMAIL_ISSUER);
    assert!(
        js.accepted,
        "@sigstore/verify refused the timestamped bundle: {}",
        js.output
    );

    // a's bundle with b's log entry: an entry for another artifact
    let mut swapped = written.clone();
    let b: Value = serde_json::from_slice(&std::fs::read(&b_bundle).expect("bundle")).expect("json");
    swapped["verificationMaterial"]["tlogEntries"] = b["verificationMaterial"]["tlogEntries"].clone();
    let swapped_path = dir.path().join("swapped.json");
    std::fs::write(&swapped_path, serde_json::to_vec(&swapped).expect("json")).expect("write");
    verify(&swapped_path, &a).assert_exit(1);
    let python = peers::sigstore_python_verify(&config, &swapped_path, &a, "dev@example.com", EMAIL_ISSUER);
    assert!(
        !python.accepted,
        "sigstore-python accepted another artifact's entry: {}",
        python.output
    );
    let js = peers::sigstore_js_verify(&root, &swapped_path, &a, "dev@example.com", EMAIL_ISSUER);
    assert!(
        !js.accepted,
        "@sigstore/verify accepted another artifact's entry: {}",
        js.output
    );
    // a flipped inclusion-proof hash
    let mut flipped = written.clone();
    let root_hash = flipped["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"]
        .as_str()
        .expect("root hash")
        .to_owned();
    let mut raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, root_hash).expect("b64");
    raw[0] ^= 1;
    flipped["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw).into();
    let flipped_path = dir.path().join("flipped.json");
    std::fs::write(&flipped_path, serde_json::to_vec(&flipped).expect("json")).expect("write");
    verify(&flipped_path, &a).assert_exit(1);
}

#[test]
fn every_failing_service_is_one_line_exit_2_and_nothing_is_pushed() {
    let registry = Registry::start();
    push_sample(&registry, "app", "v1", 1);
    let image = registry.image("app:v1");
    let dir = tempfile::tempdir().expect("dir");
    let bom = write_bom(dir.path());
    let before = tags(&registry, "app");
    for (fault, expect) in [
        (Fault::FulcioRefusesToken, "Fulcio"),
        (Fault::Fulcio500, "Fulcio"),
        (Fault::RekorDown, "Rekor"),
        (Fault::RekorWrongEntry, "another artifact"),
        (Fault::RekorBadProof, "does not verify"),
        (Fault::RekorBadSet, "does not verify"),
        (Fault::TokenEndpointRefuses, "token endpoint"),
        (Fault::FulcioExpiredCert, "does not verify"),
    ] {
        let instance = Instance::start();
        instance.set_fault(fault);
        for args in [
            vec!["sign", image.as_str()],
            vec!["sign", image.as_str(), "--format", "bundle"],
            vec!["attest", image.as_str(), "--type", "cyclonedx", "--predicate", s(&bom)],
        ] {
            let out = via_actions(&instance, &args);
            assert_eq!(out.code, Some(2), "{fault:?} {args:?}\n{out}");
            let line = out.assert_one_line_error();
            assert!(line.contains(expect), "{expect:?} for {args:?}: {line}");
            assert!(!line.contains(Instance::ACTIONS_REQUEST_TOKEN), "{line}");
        }
        assert_eq!(tags(&registry, "app"), before, "nothing pushed under {expect}");
        // a blob bundle is not written either
        let bundle = dir.path().join("b.json");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("file");
        via_actions(&instance, &["sign-blob", s(&file), "--bundle", s(&bundle)]).assert_exit(2);
        assert!(!bundle.exists());
    }
}

#[test]
fn no_token_at_all_names_the_three_ways() {
    let registry = Registry::start();
    push_sample(&registry, "app", "v1", 1);
    let before = tags(&registry, "app");
    let out = sigil(&["sign", &registry.image("app:v1")]).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    for way in ["--identity-token", "SIGSTORE_ID_TOKEN", "GitHub Actions"] {
        assert!(line.contains(way), "{line}");
    }
    assert_eq!(tags(&registry, "app"), before);
}

#[test]
fn tlog_upload_logs_a_key_signature_that_verify_key_checks() {
    let instance = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = write_root(dir.path(), "root.json", &instance);
    let (key, public) = keypair(dir.path(), "release");
    push_sample(&registry, "app", "v1", 1);
    let image = registry.image("app:v1");
    let rekor = instance.rekor_url();
    for format in ["tag", "bundle"] {
        sigil(&[
            "sign",
            &image,
            "--key",
            s(&key),
            "--tlog-upload",
            "--rekor-url",
            &rekor,
            "--trusted-root",
            s(&root),
            "--format",
            format,
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    }
    assert_eq!(instance.entries(), 2);
    let ok = sigil(&["verify", &image, "--key", s(&public), "--output", "json"]).run();
    ok.assert_exit(0);
    // the tag-form layer carries the Rekor bundle annotation
    let digest = crate::fixtures::manifest(&registry, "app", sigil_verifier::reference::Target::Tag("v1".into()))
        .0
        .digest;
    let (_, sig) = crate::fixtures::manifest(
        &registry,
        "app",
        sigil_verifier::reference::Target::Tag(format!("sha256-{}.sig", digest.hex())),
    );
    assert!(
        sig["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"].is_string(),
        "{sig}"
    );

    // a blob with its log entry, checked by verify-bundle --key against the root
    let file = dir.path().join("f.bin");
    std::fs::write(&file, b"blob").expect("file");
    let bundle = dir.path().join("f.sigstore.json");
    sigil(&[
        "sign-blob",
        s(&file),
        "--key",
        s(&key),
        "--tlog-upload",
        "--rekor-url",
        &rekor,
        "--trusted-root",
        s(&root),
        "--bundle",
        s(&bundle),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
    .assert_exit(0);
    let written: Value = serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("json");
    assert_eq!(
        written["verificationMaterial"]["tlogEntries"].as_array().map(Vec::len),
        Some(1)
    );
    sigil(&[
        "verify-bundle",
        "--bundle",
        s(&bundle),
        "--key",
        s(&public),
        "--trusted-root",
        s(&root),
        s(&file),
    ])
    .run()
    .assert_exit(0);
    // the same bundle under another instance's root: its log is unknown
    let other = Instance::start();
    let other_root = write_root(dir.path(), "other.json", &other);
    sigil(&[
        "verify-bundle",
        "--bundle",
        s(&bundle),
        "--key",
        s(&public),
        "--trusted-root",
        s(&other_root),
        s(&file),
    ])
    .run()
    .assert_exit(1);
    // without --tlog-upload nothing is logged
    sigil(&["sign", &image, "--key", s(&key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    assert_eq!(instance.entries(), 3);
}

/// Not a test: the figures for docs/benchmarks.md ("keyless signing of 100
/// images"). `cargo test -p sigil --test e2e keyless_signing::bench -- --ignored --nocapture`
/// prints the wall time of one `sigil sign` run over 100 images, keyless
/// and with a key, against the same registry; the difference is the cost
/// keyless adds (one Fulcio request per run, one Rekor entry, the pre-write
/// verification per image), the instance's own work included.
#[test]
#[ignore = "benchmark: run with --ignored --nocapture"]
fn bench_keyless_signing_of_100_images() {
    const IMAGES: usize = 100;
    let instance = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("dir");
    let (key, _) = keypair(dir.path(), "release");
    let images: Vec<String> = (0..IMAGES)
        .map(|i| {
            push_sample(&registry, &format!("bench{i}"), "v1", 1000 + i as u64);
            registry.image(&format!("bench{i}:v1"))
        })
        .collect();
    let timed = |proc: crate::support::Proc| {
        let started = std::time::Instant::now();
        proc.timeout(std::time::Duration::from_secs(600)).run().assert_exit(0);
        started.elapsed()
    };
    let mut args = vec!["sign"];
    args.extend(images.iter().map(String::as_str));
    let token = instance.email_token("dev@example.com");
    let keyless_time = timed(keyless(&instance, &args).env("SIGSTORE_ID_TOKEN", &token));
    assert_eq!(instance.entries(), IMAGES as u64);
    let mut keyed = args.clone();
    keyed.extend(["--key", s(&key)]);
    let key_time = timed(sigil(&keyed).env("SIGIL_PASSWORD", "pw"));
    let mut bundle = args.clone();
    bundle.extend(["--format", "bundle"]);
    let bundle_time = timed(keyless(&instance, &bundle).env("SIGSTORE_ID_TOKEN", &token));
    let per = |d: std::time::Duration| d.as_secs_f64() * 1000.0 / IMAGES as f64;
    println!(
        "{IMAGES} images: keyless tag {:.0} ms ({:.1} ms/image), keyless bundle {:.0} ms ({:.1} ms/image), key {:.0} ms ({:.1} ms/image)",
        keyless_time.as_secs_f64() * 1000.0,
        per(keyless_time),
        bundle_time.as_secs_f64() * 1000.0,
        per(bundle_time),
        key_time.as_secs_f64() * 1000.0,
        per(key_time),
    );
}

#[test]
fn a_provenance_contradicting_its_certificate_is_not_signed() {
    let instance = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("dir");
    push_sample(&registry, "built", "v1", 77);
    let image = registry.image("built:v1");
    let claims = GithubClaims::default();
    let provenance = |runner: &str, repository: &str| {
        let path = dir
            .path()
            .join(format!("{runner}-{}.json", repository.replace('/', "_")));
        let predicate = serde_json::json!({
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {"workflow": {
                    "repository": format!("https://github.com/{repository}"),
                    "ref": claims.r#ref, "path": ".github/workflows/release.yml"}},
                "internalParameters": {"runnerEnvironment": runner},
                "resolvedDependencies": [{"uri": format!("git+https://github.com/{repository}@{}", claims.r#ref),
                                          "digest": {"gitCommit": claims.sha}}]
            },
            "runDetails": {"builder": {"id": format!("https://github.com/actions/runner/{runner}")}}
        });
        std::fs::write(&path, predicate.to_string()).expect("write provenance");
        path
    };
    let attest = |predicate: &Path| {
        via_actions(
            &instance,
            &[
                "attest",
                &image,
                "--type",
                "slsaprovenance1",
                "--predicate",
                s(predicate),
            ],
        )
    };
    // what the certificate says: accepted and stored
    attest(&provenance("github-hosted", &claims.repository)).assert_exit(0);
    let stored = tags(&registry, "built");
    let logged = instance.entries();
    // twins: a self-hosted runner, another repository: refused before anything is signed
    for bad in [
        provenance("self-hosted", &claims.repository),
        provenance("github-hosted", "evil-org/app"),
    ] {
        let out = attest(&bad);
        out.assert_exit(2);
        let line = out.assert_one_line_error();
        assert!(line.contains("contradicts its own signing certificate"), "{out}");
        assert_eq!(tags(&registry, "built"), stored, "nothing pushed");
        assert_eq!(instance.entries(), logged, "nothing logged");
    }
}

#[test]
fn verification_summaries_are_signed_keyless_and_accepted_downstream() {
    let instance = Instance::start();
    let other = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("dir");
    let root = write_root(dir.path(), "root.json", &instance);
    let other_root = write_root(dir.path(), "other-root.json", &other);
    let (release, release_pub) = keypair(dir.path(), "release");
    push_sample(&registry, "vsa", "v1", 88);
    let image = registry.image("vsa:v1");
    sigil(&["sign", &image, "--key", s(&release)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let host = registry.host();
    let ci = crate::fixtures::write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: {}}}\nrules:\n  - name: app\n    images: [\"{host}/**\"]\n    signatures: {{anyOf: [release]}}\n",
            s(&release_pub)
        ),
    );
    // CI decides and signs its summary keyless, with the job's identity
    let out = via_actions(&instance, &["verify", &image, "--policy", s(&ci), "--emit-vsa"]);
    out.assert_exit(0);
    assert!(out.stderr.contains("vsa: PASSED summary for"), "{out}");
    // downstream: a summary by that CI identity is enough; twins: another
    // identity, another instance's root
    let downstream = |identity: &str, trusted_root: &Path| {
        let path = dir
            .path()
            .join(format!("downstream-{}.yaml", identity.len() + s(trusted_root).len()));
        std::fs::write(
            &path,
            format!(
                "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  ci:\n    keyless: {{issuer: {GITHUB_ISSUER}, subject: \"{identity}\", trustedRoot: {}}}\nrules:\n  - name: app\n    images: [\"{host}/**\"]\n    attestations:\n      - predicateType: https://slsa.dev/verification_summary/v1\n        signedBy: [ci]\n        vsa: {{verifierIds: [\"https://sigil.dev/verifier\"], maxAge: 1h}}\n",
                s(trusted_root)
            ),
        )
        .expect("policy");
        path
    };
    let decide = |policy: &Path| sigil(&["verify", &image, "--policy", s(policy)]).run();
    decide(&downstream(&github_identity(), &root)).assert_exit(0);
    decide(&downstream(
        "https://github.com/octo-org/other/.github/workflows/release.yml@refs/heads/main",
        &root,
    ))
    .assert_exit(1);
    decide(&downstream(&github_identity(), &other_root)).assert_exit(1);
}
