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
