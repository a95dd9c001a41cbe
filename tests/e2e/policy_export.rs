//! `sigil policy export --format containers-policy`: the exported file is
//! understood and enforced by containers/image itself (skopeo `--policy`).
//!
//! Debian's skopeo (1.9.3, bookworm) is built with sigstore verification
//! patched out: every `sigstoreSigned` requirement fails with "Debian-local
//! change: sigstore disabled". On such a build the test still proves that
//! the file parses, that each image lands in the scope it should (an
//! `insecureAcceptAnything` scope copies, an image outside every scope is
//! rejected by `default`, the signed scope reaches `sigstoreSigned`, which
//! refuses an unsigned image before it would verify anything); with
//! a skopeo that verifies sigstore it also proves the signed image copies
//! and the unsigned and wrongly signed ones do not.

use crate::fixtures::{keypair, push_sample, s};
use crate::support::{Registry, Skopeo, sigil, write_registries_d};

#[test]
fn skopeo_enforces_the_exported_policy() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "release");
    let (stranger_key, _) = keypair(dir.path(), "stranger");
    let sign = |image: &str, key: &std::path::Path| {
        sigil(&["sign", &registry.image(image), "--key", s(key)])
            .env("SIGIL_PASSWORD", "pw")
            .run()
            .assert_exit(0);
    };
    push_sample(&registry, "prod/app", "v1", 31);
    sign("prod/app:v1", &key);
    push_sample(&registry, "prod/unsigned", "v1", 32);
    push_sample(&registry, "prod/forged", "v1", 33);
    sign("prod/forged:v1", &stranger_key);
    push_sample(&registry, "elsewhere/app", "v1", 34);
    sign("elsewhere/app:v1", &key);
    push_sample(&registry, "open/app", "v1", 35);

    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{ key: {} }}\n\
             rules:\n  - name: prod\n    images: ['{host}/prod/**']\n    signatures: {{ anyOf: [release] }}\n\
             \x20 - name: open\n    images: ['{host}/open/**']\n    allowUnverified: true\n",
            public.file_name().and_then(|n| n.to_str()).expect("key name"),
            host = registry.host()
        ),
    )
    .expect("write policy");
    let exported = dir.path().join("policy.json");
    let out = sigil(&[
        "policy",
        "export",
        "--format",
        "containers-policy",
        s(&policy),
        "--output-file",
        s(&exported),
    ])
    .run();
    out.assert_exit(0);
    // the lint's warning about allowUnverified, as `verify --policy` prints it
    assert!(
        out.stderr.lines().all(|l| l.starts_with("warning[allow-unverified]")),
        "{out}"
    );
    assert!(out.stdout.is_empty(), "{out}");
    let document: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported).expect("exported file")).expect("JSON");
    assert_eq!(document["default"], serde_json::json!([{"type": "reject"}]));

    let registries_d = write_registries_d(&dir.path().join("registries.d"));
    let copy = |image: &str| {
        let from = format!("docker://{}", registry.image(image));
        let to = format!("dir:{}", dir.path().join(image.replace(['/', ':'], "_")).display());
        Skopeo::new()
            .policy(&exported)
            .registries_d(&registries_d)
            .run(&["copy", "--src-tls-verify=false", &from, &to])
    };
    copy("open/app:v1").assert_exit(0);
    let outside = copy("elsewhere/app:v1");
    assert_ne!(
        outside.code,
        Some(0),
        "outside every scope: the default rejects\n{outside}"
    );
    assert!(outside.stderr.contains("is rejected by policy"), "{outside}");

    let signed = copy("prod/app:v1");
    const DEBIAN: &str = "sigstore disabled";
    if signed.stderr.contains(DEBIAN) {
        // This skopeo cannot verify sigstore signatures at all: the scope
        // reached the sigstoreSigned requirement, which still refuses an
        // image with no signature before it would verify one.
        let unsigned = copy("prod/unsigned:v1");
        assert!(
            unsigned.code != Some(0) && unsigned.stderr.contains("no signature exists"),
            "{unsigned}"
        );
        let forged = copy("prod/forged:v1");
        assert!(forged.code != Some(0) && forged.stderr.contains(DEBIAN), "{forged}");
        return;
    }
    signed.assert_exit(0);
    // twins: unsigned and signed by another key
    for denied in ["prod/unsigned:v1", "prod/forged:v1"] {
        let out = copy(denied);
        assert_ne!(out.code, Some(0), "{denied} must be refused\n{out}");
        assert!(out.stderr.contains("ignature"), "{denied}\n{out}");
    }
}

#[test]
fn an_inexpressible_policy_writes_nothing_and_names_each_rule() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, public) = keypair(dir.path(), "release");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{ key: {} }}\n\
             rules:\n  - name: tools\n    images: ['registry.example/tools/*']\n    signatures: {{ anyOf: [release] }}\n\
             \x20 - name: canary\n    images: ['registry.example/canary/**']\n    signatures: {{ anyOf: [release] }}\n    mode: warn\n",
            s(&public)
        ),
    )
    .expect("write policy");
    let exported = dir.path().join("policy.json");
    let out = sigil(&[
        "policy",
        "export",
        "--format",
        "containers-policy",
        s(&policy),
        "--output-file",
        s(&exported),
    ])
    .run();
    out.assert_exit(2);
    assert!(out.stdout.is_empty(), "{out}");
    assert!(!exported.exists(), "nothing is written");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[0].starts_with("error: policy ") && lines[0].ends_with("containers-policy.json: 2 problems"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("  rule tools: pattern registry.example/tools/*"),
        "{out}"
    );
    assert!(lines[2].starts_with("  rule canary: mode warn"), "{out}");
}
