//! `sigil copy` (the air-gapped path) and interop with skopeo as a transport
//! peer that carries sigstore attachments.

use crate::fixtures::{keypair, push_sample, s};
use crate::support::{Registry, Skopeo, sigil, write_registries_d};

fn verify_json(image: &str, public: &std::path::Path) -> crate::support::Output {
    sigil(&["verify", image, "--key", s(public), "--output", "json"]).run()
}

#[test]
fn air_gapped_copy_keeps_digests_and_every_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let layout = dir.path().join("export");
    let layout_ref = format!("oci:{}:app", layout.display());
    let far = Registry::start();
    let digest;
    {
        let near = Registry::start();
        digest = push_sample(&near, "app", "v1", 11);
        let image = near.image("app:v1");
        for format in ["tag", "bundle"] {
            sigil(&["sign", &image, "--key", s(&key), "--format", format])
                .env("SIGIL_PASSWORD", "pw")
                .run()
                .assert_exit(0);
        }
        let out = sigil(&["copy", &image, &layout_ref, "--output", "json"]).run();
        out.assert_exit(0).assert_quiet_stderr();
        assert_eq!(out.stdout_json()["report"]["digest"], digest.to_string());
        // `near` stops here: what follows needs no network to it.
    }
    let offline = verify_json(&layout_ref, &public);
    offline.assert_exit(0);
    let report = offline.stdout_json();
    assert_eq!(report["images"][0]["digest"], digest.to_string());
    let forms: Vec<&str> = report["images"][0]["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| s["origin"]["form"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(forms, ["tag", "referrer"], "both storage forms travel");

    let destination = far.image("mirror/app:1.0");
    sigil(&["copy", &layout_ref, &destination]).run().assert_exit(0);
    let mirrored = verify_json(&destination, &public);
    mirrored.assert_exit(0);
    assert_eq!(mirrored.stdout_json()["images"][0]["digest"], digest.to_string());
    assert_eq!(
        mirrored.stdout_json()["images"][0]["signatures"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // twin: another key refuses the copy just as it refuses the original
    let (_, stranger) = keypair(dir.path(), "stranger");
    verify_json(&destination, &stranger).assert_exit(1);
    // a destination digest that is not the source's is refused before anything is written
    let wrong = format!("{}@sha256:{}", far.image("mirror/other"), "0".repeat(64));
    sigil(&["copy", &layout_ref, &wrong])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
}

#[test]
fn skopeo_carries_sigil_signatures_with_sigstore_attachments() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let digest = push_sample(&registry, "src/app", "v1", 12);
    sigil(&["sign", &registry.image("src/app:v1"), "--key", s(&key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let registries_d = dir.path().join("registries.d");
    write_registries_d(&registries_d);
    let from = format!("docker://{}", registry.image("src/app:v1"));
    let to = format!("docker://{}", registry.image("dst/app:v1"));
    let tls = [
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--preserve-digests",
    ];
    let mut args = vec!["copy"];
    args.extend(tls);
    args.extend([from.as_str(), to.as_str()]);
    Skopeo::new().registries_d(&registries_d).run(&args).assert_exit(0);
    let out = verify_json(&registry.image("dst/app:v1"), &public);
    out.assert_exit(0);
    assert_eq!(out.stdout_json()["images"][0]["digest"], digest.to_string());

    // twin: without use-sigstore-attachments skopeo leaves the signatures behind
    let bare = format!("docker://{}", registry.image("bare/app:v1"));
    let mut args = vec!["copy"];
    args.extend(tls);
    args.extend([from.as_str(), bare.as_str()]);
    let empty_dir = dir.path().join("empty.d");
    std::fs::create_dir_all(&empty_dir).expect("mkdir");
    Skopeo::new().registries_d(&empty_dir).run(&args).assert_exit(0);
    verify_json(&registry.image("bare/app:v1"), &public).assert_exit(1);
}

#[test]
fn copying_onto_an_image_signed_at_the_destination_keeps_both_signatures() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (source_key, source_pub) = keypair(dir.path(), "source");
    let (mirror_key, mirror_pub) = keypair(dir.path(), "mirror");
    push_sample(&registry, "upstream/app", "v1", 13);
    let upstream = registry.image("upstream/app:v1");
    let mirror = registry.image("mirror/app:v1");
    sigil(&["sign", &upstream, "--key", s(&source_key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    // the mirror already holds the image, signed by the mirror's own key
    sigil(&["copy", &upstream, &mirror]).run().assert_exit(0);
    sigil(&["sign", &mirror, "--key", s(&mirror_key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    // upstream signs again; copying again must add it, not replace the mirror's signature
    sigil(&["sign", &upstream, "--key", s(&source_key), "-a", "round=2"])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    sigil(&["copy", &upstream, &mirror]).run().assert_exit(0);
    verify_json(&mirror, &mirror_pub).assert_exit(0);
    let out = sigil(&["verify", &mirror, "--key", s(&source_pub), "-a", "round=2"]).run();
    out.assert_exit(0);
    let report = verify_json(&mirror, &source_pub).stdout_json();
    assert_eq!(
        report["images"][0]["signatures"].as_array().map(Vec::len),
        Some(3),
        "{report}"
    );
}

#[test]
fn a_layout_copy_records_its_source_and_is_judged_as_the_original() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    keypair(dir.path(), "release");
    let (dev, _) = keypair(dir.path(), "dev");
    let digest = push_sample(&registry, "prod/app", "v1.3.0", 14);
    let original = registry.image("prod/app:v1.3.0");
    sigil(&["sign", &original, "--key", s(&dev)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let host = registry.host();
    let policy = crate::fixtures::write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\n  dev: {{key: dev.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: release-v1.3.0\n    images: [\"{host}/prod/app:v1.3.0\"]\n    signatures: {{anyOf: [dev]}}\n"
        ),
    );
    let judge = |image: &str| {
        let out = sigil(&["verify", image, "--policy", s(&policy), "--output", "json"]).run();
        let report = out.stdout_json()["images"][0].clone();
        (out.code, report)
    };
    let (code, report) = judge(&original);
    assert_eq!(
        (code, report["rule"].as_str()),
        (Some(0), Some("release-v1.3.0")),
        "{report}"
    );

    // no tag in the destination: the entry takes the source's tag, and the
    // layout records repository, tag and digest
    let export = dir.path().join("export");
    let out = sigil(&["copy", &original, &format!("oci:{}", s(&export)), "--output", "json"]).run();
    out.assert_exit(0);
    let json = out.stdout_json();
    assert_eq!(json["destination"], format!("oci:{}:v1.3.0", s(&export)));
    assert_eq!(json["recordedName"], format!("{host}/prod/app:v1.3.0@{digest}"));
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export.join("index.json")).expect("index.json")).expect("json");
    let entry = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|e| e["digest"] == digest.to_string())
        .expect("the image's entry");
    assert_eq!(entry["annotations"]["org.opencontainers.image.ref.name"], "v1.3.0");
    assert_eq!(
        entry["annotations"]["dev.sigil.image.name"],
        format!("{host}/prod/app:v1.3.0@{digest}")
    );
    // the copy decides as the original does: the rule pinned to the source's tag
    let (code, report) = judge(&format!("oci:{}:v1.3.0", s(&export)));
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["rule"], "release-v1.3.0");
    assert_eq!(report["matchedName"], format!("{host}/prod/app:v1.3.0"));
    drop(registry);
    let (code, report) = judge(&format!("oci:{}", s(&export)));
    assert_eq!(
        (code, report["rule"].as_str()),
        (Some(0), Some("release-v1.3.0")),
        "{report}"
    );

    // twin: a layout-to-layout copy carries the name along and decides the same
    let second = dir.path().join("second");
    sigil(&[
        "copy",
        &format!("oci:{}:v1.3.0", s(&export)),
        &format!("oci:{}", s(&second)),
    ])
    .run()
    .assert_exit(0);
    let (code, report) = judge(&format!("oci:{}:v1.3.0", s(&second)));
    assert_eq!(
        (code, report["rule"].as_str()),
        (Some(0), Some("release-v1.3.0")),
        "{report}"
    );
}

#[test]
fn a_copy_by_digest_records_no_tag() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    keypair(dir.path(), "release");
    let (dev, _) = keypair(dir.path(), "dev");
    let digest = push_sample(&registry, "prod/app", "v1.3.0", 15);
    sigil(&["sign", &registry.image("prod/app:v1.3.0"), "--key", s(&dev)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let host = registry.host();
    let policy = crate::fixtures::write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\n  dev: {{key: dev.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: release-v1.3.0\n    images: [\"{host}/prod/app:v1.3.0\"]\n    signatures: {{anyOf: [dev]}}\n"
        ),
    );
    // a source that pins a digest: its tag was never resolved, so it is not recorded
    let export = dir.path().join("export");
    let source = format!("{}@{digest}", registry.image("prod/app:v1.3.0"));
    let out = sigil(&["copy", &source, &format!("oci:{}", s(&export)), "--output", "json"]).run();
    out.assert_exit(0);
    assert_eq!(out.stdout_json()["recordedName"], format!("{host}/prod/app@{digest}"));
    let out = sigil(&[
        "verify",
        &format!("oci:{}:v1.3.0", s(&export)),
        "--policy",
        s(&policy),
        "--output",
        "json",
    ])
    .run();
    out.assert_exit(1);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(report["rule"], "prod", "{report}");
    assert_eq!(report["checks"][0]["reason"], "no valid signature by any of [release]");
}
