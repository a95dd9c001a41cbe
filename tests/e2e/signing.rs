//! `sigil sign` and `sigil verify` against a real registry, in both storage
//! forms, each accepting case with its tampered twins.

use base64::Engine as _;
use serde_json::{Value, json};
use sigil_verifier::reference::Target;

use crate::fixtures::{self, keypair, push_index, push_sample, s};
use crate::support::{Registry, sigil};

fn sign(image: &str, key: &std::path::Path, extra: &[&str]) {
    let mut args = vec!["sign", image, "--key", s(key)];
    args.extend_from_slice(extra);
    sigil(&args)
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0)
        .assert_quiet_stderr();
}

fn verify(image: &str, public: &std::path::Path, extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["verify", image, "--key", s(public), "--output", "json"];
    args.extend_from_slice(extra);
    sigil(&args).run()
}

fn reasons(out: &crate::support::Output) -> Vec<String> {
    let json = out.stdout_json();
    json["images"][0]["signatures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s["reason"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn tag_form_signs_and_verifies_and_refuses_its_twins() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "release");
    let (_, stranger) = keypair(dir.path(), "stranger");
    let digest = push_sample(&registry, "app", "v1", 1);
    let image = registry.image("app:v1");
    sign(&image, &key, &["-a", "env=prod"]);

    let ok = verify(&image, &public, &["-a", "env=prod"]);
    ok.assert_exit(0).assert_quiet_stderr();
    let report = ok.stdout_json();
    assert_eq!(report["apiVersion"], "sigil.dev/verify/v1");
    assert_eq!(report["images"][0]["digest"], digest.to_string());
    assert_eq!(report["images"][0]["signatures"][0]["origin"]["form"], "tag");
    assert_eq!(report["images"][0]["signatures"][0]["annotations"]["env"], "prod");
    assert_eq!(
        report["images"][0]["signatures"][0]["dockerReference"],
        registry.image("app")
    );

    // by digest too
    verify(&format!("{}@{digest}", registry.image("app")), &public, &[]).assert_exit(0);
    // the stored payload is cosign's, byte for byte
    let (_, sig_manifest) = fixtures::manifest(&registry, "app", Target::Tag(format!("{}.sig", digest.tag_prefix())));
    let layer = &sig_manifest["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.dev.cosign.simplesigning.v1+json");
    assert!(layer["annotations"]["dev.cosignproject.cosign/signature"].is_string());

    // twins: wrong key, wrong annotation, unsigned image
    let wrong_key = verify(&image, &stranger, &[]);
    wrong_key.assert_exit(1);
    assert!(
        reasons(&wrong_key)[0].contains("does not verify"),
        "{:?}",
        reasons(&wrong_key)
    );
    let wrong_annotation = verify(&image, &public, &["-a", "env=dev"]);
    wrong_annotation.assert_exit(1);
    assert!(
        reasons(&wrong_annotation)[0].contains("env=dev is required"),
        "{:?}",
        reasons(&wrong_annotation)
    );
    push_sample(&registry, "app", "unsigned", 2);
    let unsigned = verify(&registry.image("app:unsigned"), &public, &[]);
    unsigned.assert_exit(1);
    assert_eq!(unsigned.stdout_json()["images"][0]["signatures"], json!([]));
}

#[test]
fn flipped_signature_byte_in_the_registry_is_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let digest = push_sample(&registry, "app", "v1", 3);
    sign(&registry.image("app:v1"), &key, &[]);
    let tag = Target::Tag(format!("{}.sig", digest.tag_prefix()));
    let (_, mut manifest) = fixtures::manifest(&registry, "app", tag.clone());
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .expect("sig")
        .to_owned();
    let mut raw = b64.decode(sig).expect("b64");
    let mid = raw.len() / 2;
    raw[mid] ^= 0x01;
    manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = Value::from(b64.encode(raw));
    fixtures::put_manifest(&registry, "app", tag, &manifest);
    let out = verify(&registry.image("app:v1"), &public, &[]);
    out.assert_exit(1);
    assert!(reasons(&out)[0].contains("does not verify"), "{:?}", reasons(&out));
}

#[test]
fn signature_copied_onto_another_image_is_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let signed = push_sample(&registry, "app", "signed", 4);
    let victim = push_sample(&registry, "app", "victim", 5);
    sign(&registry.image("app:signed"), &key, &[]);
    // the .sig manifest (payload names the signed digest) copied to the victim's tag
    fixtures::copy_tag(
        &registry,
        "app",
        &sigil_verifier::cosign::signature_tag(&signed),
        &sigil_verifier::cosign::signature_tag(&victim),
    );
    let out = verify(&registry.image("app:victim"), &public, &[]);
    out.assert_exit(1);
    assert!(
        reasons(&out)[0].contains(&format!("signature is for image {signed}")),
        "{:?}",
        reasons(&out)
    );
    verify(&registry.image("app:signed"), &public, &[]).assert_exit(0);
}

#[test]
fn bundle_form_is_a_referrer_with_a_fallback_index_and_refuses_its_twins() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let (_, stranger) = keypair(dir.path(), "other");
    let digest = push_sample(&registry, "app", "v1", 6);
    let victim = push_sample(&registry, "app", "victim", 7);
    sign(
        &registry.image("app:v1"),
        &key,
        &["--format", "bundle", "-a", "team=core"],
    );

    let out = verify(&registry.image("app:v1"), &public, &["-a", "team=core"]);
    out.assert_exit(0);
    let sig = &out.stdout_json()["images"][0]["signatures"][0];
    assert_eq!(sig["origin"]["form"], "referrer");

    // Debian's distribution 2.8 has no referrers API: the fallback index is maintained.
    let (_, index) = fixtures::manifest(&registry, "app", Target::Tag(digest.tag_prefix()));
    let entry = &index["manifests"][0];
    assert_eq!(entry["artifactType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(
        entry["annotations"]["dev.sigstore.bundle.predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    let referrer: sigil_verifier::digest::Digest = entry["digest"].as_str().expect("digest").parse().expect("digest");
    let (_, referrer_manifest) = fixtures::manifest(&registry, "app", Target::Digest(referrer));
    assert_eq!(referrer_manifest["subject"]["digest"], digest.to_string());
    assert_eq!(
        referrer_manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );

    verify(&registry.image("app:v1"), &stranger, &[]).assert_exit(1);
    verify(&registry.image("app:v1"), &public, &["-a", "team=other"]).assert_exit(1);

    // The same bundle made a referrer of another image: its statement names the first digest.
    let mut copied = referrer_manifest.clone();
    copied["subject"]["digest"] = Value::from(victim.to_string());
    let copied_digest = fixtures::put_manifest(
        &registry,
        "app",
        Target::Digest(sigil_verifier::digest::Digest::sha256_of(
            &serde_json::to_vec(&copied).expect("json"),
        )),
        &copied,
    );
    let mut victim_index = index.clone();
    victim_index["manifests"][0]["digest"] = Value::from(copied_digest.to_string());
    victim_index["manifests"][0]["size"] = Value::from(serde_json::to_vec(&copied).expect("json").len());
    fixtures::put_manifest(&registry, "app", Target::Tag(victim.tag_prefix()), &victim_index);
    let out = verify(&registry.image("app:victim"), &public, &[]);
    out.assert_exit(1);
    assert!(
        reasons(&out)[0].contains("no subject with digest"),
        "{:?}",
        reasons(&out)
    );
}

#[test]
fn signing_again_appends_and_never_drops_a_signature() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (k1, p1) = keypair(dir.path(), "one");
    let (k2, p2) = keypair(dir.path(), "two");
    let digest = push_sample(&registry, "app", "v1", 8);
    let image = registry.image("app:v1");
    sign(&image, &k1, &[]);
    sign(&image, &k2, &[]);
    sign(&image, &k1, &["-a", "second=yes"]);
    let (_, manifest) = fixtures::manifest(&registry, "app", Target::Tag(format!("{}.sig", digest.tag_prefix())));
    assert_eq!(manifest["layers"].as_array().map(Vec::len), Some(3));
    verify(&image, &p1, &["-a", "second=yes"]).assert_exit(0);
    verify(&image, &p2, &[]).assert_exit(0);
}

#[test]
fn racing_signers_lose_no_signature() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let keys: Vec<_> = (0..6).map(|i| keypair(dir.path(), &format!("racer{i}"))).collect();
    push_sample(&registry, "race", "v1", 9);
    let image = registry.image("race:v1");
    std::thread::scope(|scope| {
        for (key, _) in &keys {
            let image = &image;
            scope.spawn(move || sign(image, key, &[]));
        }
    });
    for (_, public) in &keys {
        verify(&image, public, &[]).assert_exit(0);
    }
}

#[test]
fn recursive_signing_covers_every_platform_of_an_index() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let (index, platforms) = push_index(&registry, "multi", "v1");
    let (_, plain) = push_index(&registry, "plain", "v1");
    sign(&registry.image("multi:v1"), &key, &["--recursive"]);
    sign(&registry.image("plain:v1"), &key, &[]);
    let at = |repo: &str, d: &sigil_verifier::digest::Digest| format!("{}@{d}", registry.image(repo));
    verify(&at("multi", &index), &public, &[]).assert_exit(0);
    for p in &platforms {
        verify(&at("multi", p), &public, &[]).assert_exit(0);
    }
    // without --recursive only the index digest is signed
    verify(&registry.image("plain:v1"), &public, &[]).assert_exit(0);
    verify(&at("plain", &plain[0]), &public, &[]).assert_exit(1);
}

#[test]
fn many_images_in_one_run_report_each_and_fail_if_any_fails() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    for i in 0..5 {
        push_sample(&registry, &format!("many/app{i}"), "v1", 100 + i);
    }
    let images: Vec<String> = (0..5).map(|i| registry.image(&format!("many/app{i}:v1"))).collect();
    let signed: Vec<&str> = images[..4].iter().map(String::as_str).collect();
    let mut args = vec!["sign", "--key", s(&key)];
    args.extend(&signed);
    sigil(&args).env("SIGIL_PASSWORD", "pw").run().assert_exit(0);
    let mut args = vec!["verify", "--key", s(&public), "--output", "json", "--concurrency", "3"];
    args.extend(images.iter().map(String::as_str));
    args.push(&images[0]); // the same image twice is verified once and reported twice
    let out = sigil(&args).run();
    out.assert_exit(1);
    let report = out.stdout_json();
    let verified: Vec<bool> = report["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["verified"] == true)
        .collect();
    assert_eq!(verified, [true, true, true, true, false, true]);
    // human output names each image with its verdict
    let mut args = vec!["verify", "--key", s(&public)];
    args.extend(signed.iter().copied());
    let out = sigil(&args).run();
    out.assert_exit(0);
    assert_eq!(
        out.stdout.lines().filter(|l| l.starts_with("PASS")).count(),
        4,
        "{}",
        out.stdout
    );
}

#[test]
fn a_failed_image_does_not_hide_the_ones_signed() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    push_sample(&registry, "partial/ok", "v1", 120);
    let good = registry.image("partial/ok:v1");
    let missing = registry.image("partial/missing:v1");
    let out = sigil(&["sign", "--key", s(&key), "--output", "json", &missing, &good])
        .env("SIGIL_PASSWORD", "pw")
        .run();
    out.assert_exit(2);
    let report = out.stdout_json();
    assert_eq!(report["apiVersion"], "sigil.dev/sign/v1");
    assert_eq!(report["signed"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report["signed"][0]["image"], good);
    assert_eq!(report["failed"][0]["image"], missing);
    assert!(out.stderr.contains("partial/missing"), "{}", out.stderr);
    sigil(&["verify", &good, "--key", s(&public)]).run().assert_exit(0);
    // attest likewise
    let predicate = dir.path().join("note.txt");
    std::fs::write(&predicate, "ok").expect("write");
    let out = sigil(&[
        "attest",
        "--key",
        s(&key),
        "--predicate",
        s(&predicate),
        "--output",
        "json",
        &missing,
        &good,
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run();
    out.assert_exit(2);
    let report = out.stdout_json();
    assert_eq!(report["attested"][0]["image"], good);
    assert_eq!(report["failed"][0]["image"], missing);
    // tree says so when nothing is attached
    push_sample(&registry, "partial/bare", "v1", 121);
    let out = sigil(&["tree", &registry.image("partial/bare:v1")]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("nothing attached"), "{}", out.stdout);
    let out = sigil(&["tree", &good]).run();
    assert!(!out.stdout.contains("nothing attached"), "{}", out.stdout);
}

/// cosign's duplicate detection: signing or attesting again with the same
/// key, payload and annotations keeps the layer that is there; another key,
/// other annotations, or a layer whose signature does not verify with the
/// key (a copied payload with a forged signature) get a new one.
#[test]
fn signing_again_with_the_same_key_adds_no_duplicate() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (k1, p1) = keypair(dir.path(), "one");
    let (k2, _) = keypair(dir.path(), "two");
    let digest = push_sample(&registry, "dupes", "v1", 21);
    let image = registry.image("dupes:v1");
    let run = |command: &str, key: &std::path::Path, extra: &[&str]| -> Value {
        let mut args = vec![command, image.as_str(), "--key", s(key), "--output", "json"];
        args.extend(extra);
        let out = sigil(&args).env("SIGIL_PASSWORD", "pw").run();
        out.assert_exit(0);
        out.stdout_json()
    };
    let layers = |suffix: &str| {
        let (_, m) = fixtures::manifest(
            &registry,
            "dupes",
            Target::Tag(format!("{}.{suffix}", digest.tag_prefix())),
        );
        m["layers"].as_array().map(Vec::len).unwrap_or(0)
    };
    assert_eq!(run("sign", &k1, &["-a", "x=1"])["signed"][0]["kept"], false);
    assert_eq!(run("sign", &k1, &["-a", "x=1"])["signed"][0]["kept"], true);
    assert_eq!(layers("sig"), 1);
    // twins: another key, other annotations
    assert_eq!(run("sign", &k2, &["-a", "x=1"])["signed"][0]["kept"], false);
    assert_eq!(run("sign", &k1, &["-a", "x=2"])["signed"][0]["kept"], false);
    assert_eq!(layers("sig"), 3);
    verify(&image, &p1, &["-a", "x=1"]).assert_exit(0);

    let bom = dir.path().join("bom.json");
    std::fs::copy(fixtures::testdata("sbom/cosign/bom-go-mod.cyclonedx.json"), &bom).expect("bom");
    let attest = |key: &std::path::Path| run("attest", key, &["--type", "cyclonedx", "--predicate", s(&bom)]);
    assert_eq!(attest(&k1)["attested"][0]["kept"], false);
    assert_eq!(attest(&k1)["attested"][0]["kept"], true);
    assert_eq!(layers("att"), 1);
    assert_eq!(attest(&k2)["attested"][0]["kept"], false);
    assert_eq!(layers("att"), 2);

    // a forged twin: the same payload under a signature another key made
    // (the layer's own signature annotation replaced) is no duplicate
    let tag = format!("{}.sig", digest.tag_prefix());
    let (_, mut manifest) = fixtures::manifest(&registry, "dupes", Target::Tag(tag.clone()));
    let forged = manifest["layers"][1]["annotations"]["dev.cosignproject.cosign/signature"].clone();
    let layers_json = manifest["layers"].as_array_mut().expect("layers");
    layers_json.truncate(1);
    layers_json[0]["annotations"]["dev.cosignproject.cosign/signature"] = forged;
    fixtures::put_manifest(&registry, "dupes", Target::Tag(tag), &manifest);
    assert_eq!(run("sign", &k1, &["-a", "x=1"])["signed"][0]["kept"], false);
    assert_eq!(layers("sig"), 2);
    verify(&image, &p1, &["-a", "x=1"]).assert_exit(0);
}

/// `--upload=false` with cosign's `--output-*` files: nothing is stored,
/// the files hold a signature that verifies over the payload; with upload,
/// the file holds the signature stored.
#[test]
fn signing_without_upload_writes_only_the_output_files() {
    use base64::engine::general_purpose::STANDARD;
    use sigil_verifier::store::Store as _;
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (secret, public) = keypair(dir.path(), "k");
    let digest = push_sample(&registry, "detached", "v1", 31);
    let image = registry.image("detached:v1");
    let (sig, payload) = (dir.path().join("sig.b64"), dir.path().join("payload.json"));
    let sign = |extra: &[&str]| {
        let mut args = vec!["sign", image.as_str(), "--key", s(&secret)];
        args.extend(extra);
        sigil(&args).env("SIGIL_PASSWORD", "pw").run()
    };
    sign(&[
        "--upload=false",
        "--output-signature",
        s(&sig),
        "--output-payload",
        s(&payload),
    ])
    .assert_exit(0);
    let tag = Target::Tag(format!("{}.sig", digest.tag_prefix()));
    let stored = fixtures::block_on(fixtures::store(&registry, "detached").fetch_manifest(&tag)).expect("fetch");
    assert!(stored.is_none(), "nothing uploaded");
    verify(&image, &public, &[]).assert_exit(1);
    let key = sigil_verifier::keys::PublicKey::from_pem(&std::fs::read_to_string(&public).expect("pub")).expect("key");
    let signature = STANDARD.decode(std::fs::read(&sig).expect("sig")).expect("base64");
    let mut signed = std::fs::read(&payload).expect("payload");
    key.verify(&signed, &signature)
        .expect("the written signature verifies over the written payload");
    let claims: Value = serde_json::from_slice(&signed).expect("payload json");
    assert_eq!(
        claims["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    // the twin: one flipped payload byte
    signed[10] ^= 1;
    assert!(key.verify(&signed, &signature).is_err());
    // uploaded: the file holds exactly the signature stored
    sign(&["--output-signature", s(&sig)]).assert_exit(0);
    let (_, manifest) = fixtures::manifest(&registry, "detached", tag);
    assert_eq!(
        manifest["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"],
        std::fs::read_to_string(&sig).expect("sig")
    );
    // bad input: nothing to keep, bundle form, an index's platforms, several images
    sign(&["--upload=false"]).assert_exit(2).assert_one_line_error();
    sign(&["--upload=false", "--format", "bundle", "--output-signature", s(&sig)])
        .assert_exit(2)
        .assert_one_line_error();
    sign(&["--output-signature", s(&sig), "--recursive"])
        .assert_exit(2)
        .assert_one_line_error();
    sign(&[image.as_str(), "--output-signature", s(&sig)])
        .assert_exit(2)
        .assert_one_line_error();
}

/// cosign's `COSIGN_REPOSITORY`: signatures, attestations and referrers are
/// written to and read from another repository; the image's own repository
/// gets none of them.
#[test]
fn cosign_repository_keeps_attachments_elsewhere() {
    use sigil_verifier::store::Store as _;
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let digest = push_sample(&registry, "redirected/app", "v1", 51);
    let image = registry.image("redirected/app:v1");
    let elsewhere = registry.image("redirected/sigs");
    let run = |args: &[&str], repository: &str| {
        sigil(args)
            .env("SIGIL_PASSWORD", "pw")
            .env("COSIGN_REPOSITORY", repository)
            .run()
    };
    run(&["sign", &image, "--key", s(&key)], &elsewhere).assert_exit(0);
    run(&["sign", &image, "--key", s(&key), "--format", "bundle"], &elsewhere).assert_exit(0);
    let bom = fixtures::testdata("sbom/cosign/bom-go-mod.cyclonedx.json");
    run(
        &[
            "attest",
            &image,
            "--key",
            s(&key),
            "--type",
            "cyclonedx",
            "--predicate",
            s(&bom),
        ],
        &elsewhere,
    )
    .assert_exit(0);
    // stored there, not beside the image
    let sig = Target::Tag(format!("{}.sig", digest.tag_prefix()));
    let att = Target::Tag(format!("{}.att", digest.tag_prefix()));
    let fetch = |repo: &str, target: &Target| {
        fixtures::block_on(fixtures::store(&registry, repo).fetch_manifest(target)).expect("fetch")
    };
    assert!(fetch("redirected/sigs", &sig).is_some() && fetch("redirected/sigs", &att).is_some());
    assert!(fetch("redirected/app", &sig).is_none() && fetch("redirected/app", &att).is_none());
    // read from there: both signature forms, the attestation, the tree
    let out = run(&["verify", &image, "--key", s(&public), "--output", "json"], &elsewhere);
    out.assert_exit(0);
    assert_eq!(
        out.stdout_json()["images"][0]["signatures"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );
    run(
        &["verify-attestation", &image, "--key", s(&public), "--type", "cyclonedx"],
        &elsewhere,
    )
    .assert_exit(0);
    let tree = run(&["tree", &image], &elsewhere);
    tree.assert_exit(0);
    assert!(
        tree.stdout.contains("signatures") && tree.stdout.contains("attestations"),
        "{tree}"
    );
    // twins: without it, or pointing at another repository, nothing is found
    sigil(&["verify", &image, "--key", s(&public)]).run().assert_exit(1);
    run(
        &["verify", &image, "--key", s(&public)],
        &registry.image("redirected/other"),
    )
    .assert_exit(1);
    // bad values and copy: one line, exit 2
    for bad in [
        format!("{elsewhere}:tag"),
        format!("{elsewhere}@{digest}"),
        "oci:/tmp/x".to_owned(),
    ] {
        run(&["verify", &image, "--key", s(&public)], &bad).assert_exit(2);
        run(&["sign", &image, "--key", s(&key)], &bad)
            .assert_exit(2)
            .assert_one_line_error();
    }
    // copy reads the attachments from there and puts them beside the copy,
    // to a layout and to another repository; twin: without it, none travel
    let target = dir.path().join("copied");
    let layout = format!("oci:{}:v1", s(&target));
    run(&["copy", &image, &layout], &elsewhere).assert_exit(0);
    sigil(&["verify", &layout, "--key", s(&public)]).run().assert_exit(0);
    let copied = registry.image("redirected/copied:v1");
    run(&["copy", &image, &copied], &elsewhere).assert_exit(0);
    assert!(fetch("redirected/copied", &sig).is_some() && fetch("redirected/copied", &att).is_some());
    let out = sigil(&["verify", &copied, "--key", s(&public), "--output", "json"]).run();
    out.assert_exit(0);
    assert_eq!(
        out.stdout_json()["images"][0]["signatures"].as_array().map(Vec::len),
        Some(2),
        "both forms travel: {out}"
    );
    sigil(&[
        "verify-attestation",
        &copied,
        "--key",
        s(&public),
        "--type",
        "cyclonedx",
    ])
    .run()
    .assert_exit(0);
    let bare = registry.image("redirected/bare:v1");
    sigil(&["copy", &image, &bare]).run().assert_exit(0);
    sigil(&["verify", &bare, "--key", s(&public)]).run().assert_exit(1);
}
