//! `sigil attest`, `verify-attestation` and `tree` against a real registry:
//! real SBOMs and provenance round-trip in both storage forms, and every
//! tampered twin is refused.

use base64::Engine as _;
use serde_json::{Value, json};
use sigil_verifier::cosign;
use sigil_verifier::digest::Digest;
use sigil_verifier::reference::Target;

use crate::fixtures::{self, keypair, push_index, push_sample, s, testdata};
use crate::support::{Registry, sigil};

fn attest(
    image: &str,
    key: &std::path::Path,
    kind: &str,
    predicate: &std::path::Path,
    extra: &[&str],
) -> crate::support::Output {
    let mut args = vec![
        "attest",
        image,
        "--key",
        s(key),
        "--type",
        kind,
        "--predicate",
        s(predicate),
    ];
    args.extend_from_slice(extra);
    sigil(&args).env("SIGIL_PASSWORD", "pw").run()
}

fn verify(image: &str, public: &std::path::Path, kind: &str) -> crate::support::Output {
    sigil(&[
        "verify-attestation",
        image,
        "--key",
        s(public),
        "--type",
        kind,
        "--output",
        "json",
    ])
    .run()
}

fn reasons(out: &crate::support::Output) -> Vec<String> {
    out.stdout_json()["images"][0]["attestations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["reason"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The SLSA v1 predicate of the real GitHub statement in testdata, as a file.
fn slsa_v1_predicate(dir: &std::path::Path) -> std::path::PathBuf {
    let statement: Value = serde_json::from_slice(
        &std::fs::read(testdata("slsa/v1/github-actions-npm-sigstore-2.0.0.statement.json")).expect("read"),
    )
    .expect("json");
    let path = dir.join("slsa-v1.json");
    std::fs::write(&path, statement["predicate"].to_string()).expect("write");
    path
}

#[test]
fn real_sboms_and_provenance_round_trip_in_both_forms() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let (_, stranger) = keypair(dir.path(), "stranger");
    let slsa = slsa_v1_predicate(dir.path());
    let v02: Value = serde_json::from_slice(
        &std::fs::read(testdata("slsa/v0.2/github-actions-npm-sigstore-1.3.0.statement.json")).expect("read"),
    )
    .expect("json");
    let v02_path = dir.path().join("v02.json");
    std::fs::write(&v02_path, v02["predicate"].to_string()).expect("write");
    let cases: [(&str, std::path::PathBuf, &str); 6] = [
        ("slsaprovenance1", slsa, "https://slsa.dev/provenance/v1"),
        ("slsaprovenance02", v02_path, "https://slsa.dev/provenance/v0.2"),
        (
            "cyclonedx",
            testdata("sbom/guac/alpine-cyclonedx.json"),
            "https://cyclonedx.org/bom",
        ),
        (
            "spdxjson",
            testdata("sbom/guac/oci-kubectl-linux-amd64-spdx-1.json"),
            "https://spdx.dev/Document",
        ),
        (
            "vuln",
            testdata("sbom/cosign/vuln-predicate.json"),
            "https://cosign.sigstore.dev/attestation/vuln/v1",
        ),
        (
            "openvex",
            testdata("sbom/guac/open-vex-not-affected.json"),
            "https://openvex.dev/ns",
        ),
    ];
    for (form, seed) in [("tag", 31), ("bundle", 32)] {
        let repo = format!("att-{form}");
        let digest = push_sample(&registry, &repo, "v1", seed);
        let image = registry.image(&format!("{repo}:v1"));
        for (kind, predicate, _) in &cases {
            attest(&image, &key, kind, predicate, &["--format", form])
                .assert_exit(0)
                .assert_quiet_stderr();
        }
        for (kind, predicate, uri) in &cases {
            let out = verify(&image, &public, kind);
            out.assert_exit(0);
            let report = out.stdout_json();
            let attestations = report["images"][0]["attestations"]
                .as_array()
                .expect("attestations")
                .clone();
            assert_eq!(
                attestations.len(),
                1,
                "{form} {kind}: exactly the one of that type: {report}"
            );
            let statement = &attestations[0]["statement"];
            assert_eq!(statement["predicateType"], *uri);
            assert_eq!(statement["subject"][0]["digest"]["sha256"], digest.hex());
            let original: Value = serde_json::from_slice(&std::fs::read(predicate).expect("read")).expect("json");
            assert_eq!(
                statement["predicate"], original,
                "{form} {kind}: the predicate round-trips"
            );
            verify(&image, &stranger, kind).assert_exit(1);
        }
        // cosign's slsaprovenance is v0.2: it finds the slsaprovenance02 one
        let v02 = verify(&image, &public, "slsaprovenance");
        v02.assert_exit(0);
        assert_eq!(
            v02.stdout_json()["images"][0]["attestations"][0]["statement"]["predicateType"],
            "https://slsa.dev/provenance/v0.2"
        );
        // a type nobody attested: refused, naming the types that are there
        let absent = verify(&image, &public, "vsa");
        absent.assert_exit(1);
        let listed = absent.stdout_json()["images"][0]["attestations"].clone();
        let mut present: Vec<&str> = listed
            .as_array()
            .expect("attestations")
            .iter()
            .map(|a| {
                assert_eq!(a["valid"], false, "{a}");
                let reason = a["reason"].as_str().expect("reason");
                let uri = cases
                    .iter()
                    .map(|c| c.2)
                    .find(|uri| reason.contains(&format!("{uri:?}")));
                uri.unwrap_or_else(|| panic!("{form}: {reason} names no attested type"))
            })
            .collect();
        present.sort_unstable();
        let mut expected: Vec<&str> = cases.iter().map(|c| c.2).collect();
        expected.sort_unstable();
        assert_eq!(present, expected, "{form}: every type present is named");
        let human = sigil(&["verify-attestation", &image, "--key", s(&public), "--type", "vsa"]).run();
        human.assert_exit(1);
        assert!(human.stdout.contains("https://cyclonedx.org/bom"), "{}", human.stdout);
    }
}

#[test]
fn cosign_short_names_build_the_predicates_cosign_builds() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let (_, stranger) = keypair(dir.path(), "stranger");
    push_sample(&registry, "names", "v1", 35);
    let image = registry.image("names:v1");
    // No --type: cosign's default, custom, wraps the file's text.
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "reviewed by the release team\n").expect("write");
    sigil(&["attest", &image, "--key", s(&key), "--predicate", s(&note)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let out = sigil(&["verify-attestation", &image, "--key", s(&public), "--output", "json"]).run();
    out.assert_exit(0);
    let statement = &out.stdout_json()["images"][0]["attestations"][0]["statement"];
    assert_eq!(statement["predicateType"], "https://cosign.sigstore.dev/attestation/v1");
    assert_eq!(statement["predicate"]["Data"], "reviewed by the release team\n");
    assert!(
        statement["predicate"]["Timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{statement}"
    );
    // spdx: the document's text as a JSON string (tag-value SPDX here).
    let tag_value = dir.path().join("bom.spdx");
    let text = "SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\nSPDXID: SPDXRef-DOCUMENT\n";
    std::fs::write(&tag_value, text).expect("write");
    attest(&image, &key, "spdx", &tag_value, &[]).assert_exit(0);
    let out = verify(&image, &public, "spdx");
    out.assert_exit(0);
    assert_eq!(
        out.stdout_json()["images"][0]["attestations"][0]["statement"]["predicate"],
        text
    );
    verify(&image, &stranger, "spdx").assert_exit(1);
    // link: an in-toto link with every member cosign requires
    let link = dir.path().join("link.json");
    std::fs::write(&link, r#"{"_type":"link","name":"build","materials":{},"products":{},"byproducts":{},"command":["make"],"environment":{}}"#).expect("write");
    attest(&image, &key, "link", &link, &[]).assert_exit(0);
    let out = verify(&image, &public, "link");
    out.assert_exit(0);
    assert_eq!(
        out.stdout_json()["images"][0]["attestations"][0]["statement"]["predicateType"],
        "https://in-toto.io/Link/v1"
    );
    std::fs::write(&link, r#"{"_type":"link","name":"build"}"#).expect("write");
    let out = attest(&image, &key, "link", &link, &[]);
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("materials is missing"),
        "{}",
        out.stderr
    );
    // Kubernetes' real v1.28.1 provenance omits buildType: attested with a
    // warning, as cosign accepts it; without a builder id it is refused.
    let k8s: Value = serde_json::from_slice(
        &std::fs::read(testdata("slsa/v0.2/kubernetes-kubectl-v1.28.1.statement.json")).expect("read"),
    )
    .expect("json");
    let predicate = dir.path().join("k8s.json");
    std::fs::write(&predicate, k8s["predicate"].to_string()).expect("write");
    let out = attest(&image, &key, "slsaprovenance", &predicate, &[]);
    out.assert_exit(0);
    assert!(
        out.stderr
            .contains("warning: SLSA provenance v0.2 predicate: buildType is missing"),
        "{}",
        out.stderr
    );
    let out = verify(&image, &public, "slsaprovenance02");
    out.assert_exit(0);
    let builder = &out.stdout_json()["images"][0]["attestations"][0]["statement"]["predicate"]["builder"]["id"];
    assert_eq!(builder, "Project Collection Build Service (AzureContainerUpstream)");
    let mut no_builder = k8s["predicate"].clone();
    no_builder["builder"] = json!({});
    std::fs::write(&predicate, no_builder.to_string()).expect("write");
    let out = attest(&image, &key, "slsaprovenance", &predicate, &[]);
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("builder.id is missing"),
        "{}",
        out.stderr
    );
}

/// Signs `statement` with the test key and stores it as an extra `.att` layer of `target`.
fn plant_envelope(registry: &Registry, repo: &str, target: &Digest, envelope: &[u8], claimed_type: &str) {
    let store = fixtures::store(registry, repo);
    let mut layer = sigil_verifier::oci::Descriptor::of(cosign::DSSE_MEDIA_TYPE, envelope);
    layer.annotations.insert("predicateType".into(), claimed_type.into());
    fixtures::block_on(async {
        use sigil_verifier::store::Store as _;
        store.push_blob(&layer, envelope).await.expect("blob");
        sigil_verifier::sign::append_layer(&store, &cosign::attestation_tag(target), layer)
            .await
            .expect("append");
    });
}

fn signed_envelope(key: &sigil_verifier::keys::SigningKey, statement: &[u8]) -> Vec<u8> {
    let pae = sigil_verifier::dsse::pae("application/vnd.in-toto+json", statement);
    sigil_verifier::dsse::envelope_json(
        "application/vnd.in-toto+json",
        statement,
        &key.sign(&pae).expect("sign"),
    )
}

#[test]
fn tampered_twins_are_refused() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_path, public) = keypair(dir.path(), "k");
    let key = sigil_verifier::keys::decrypt(&std::fs::read_to_string(&key_path).expect("key"), b"pw").expect("decrypt");
    let sbom = testdata("sbom/guac/alpine-cyclonedx.json");
    let cdx = "https://cyclonedx.org/bom";
    let b64 = base64::engine::general_purpose::STANDARD;

    // an attestation copied onto another image
    let signed = push_sample(&registry, "twins", "signed", 41);
    let victim = push_sample(&registry, "twins", "victim", 42);
    attest(&registry.image("twins:signed"), &key_path, "cyclonedx", &sbom, &[]).assert_exit(0);
    fixtures::copy_tag(
        &registry,
        "twins",
        &cosign::attestation_tag(&signed),
        &cosign::attestation_tag(&victim),
    );
    let out = verify(&registry.image("twins:victim"), &public, "cyclonedx");
    out.assert_exit(1);
    assert!(
        reasons(&out)[0].contains("no subject with digest"),
        "{:?}",
        reasons(&out)
    );

    // right signature, statement about another subject
    let other = push_sample(&registry, "twins", "other", 43);
    let statement =
        sigil_verifier::intoto::Statement::encode_raw("x", &signed, cdx, &std::fs::read(&sbom).expect("sbom"));
    plant_envelope(&registry, "twins", &other, &signed_envelope(&key, &statement), cdx);
    let out = verify(&registry.image("twins:other"), &public, "cyclonedx");
    out.assert_exit(1);
    assert!(
        reasons(&out)[0].contains("no subject with digest"),
        "{:?}",
        reasons(&out)
    );

    // tampered payload (signature over the original), zero signatures, wrong predicate type
    let target = push_sample(&registry, "twins", "tampered", 44);
    let statement = sigil_verifier::intoto::Statement::encode_raw(
        "x",
        &target,
        cdx,
        br#"{"bomFormat":"CycloneDX","specVersion":"1.4"}"#,
    );
    let mut envelope: Value = serde_json::from_slice(&signed_envelope(&key, &statement)).expect("json");
    let mut payload = b64.decode(envelope["payload"].as_str().expect("payload")).expect("b64");
    let at = payload.len() - 5;
    payload[at] ^= 0x01;
    envelope["payload"] = b64.encode(&payload).into();
    plant_envelope(&registry, "twins", &target, envelope.to_string().as_bytes(), cdx);
    let mut unsigned: Value = serde_json::from_slice(&signed_envelope(&key, &statement)).expect("json");
    unsigned["signatures"] = json!([]);
    plant_envelope(&registry, "twins", &target, unsigned.to_string().as_bytes(), cdx);
    // GHSA-w6c6-c85g-mmv6: a statement of another type, even if its layer claims the asked-for one
    let vuln_typo =
        sigil_verifier::intoto::Statement::encode_raw("x", &target, "cosign.sigstore.dev/attestation/vuln/v1", b"{}");
    plant_envelope(
        &registry,
        "twins",
        &target,
        &signed_envelope(&key, &vuln_typo),
        "https://cosign.sigstore.dev/attestation/vuln/v1",
    );
    let out = verify(&registry.image("twins:tampered"), &public, "cyclonedx");
    out.assert_exit(1);
    let why = reasons(&out);
    assert!(why.iter().any(|r| r.contains("does not verify")), "{why:?}");
    assert!(why.iter().any(|r| r.contains("0 signatures")), "{why:?}");
    let out = verify(&registry.image("twins:tampered"), &public, "vuln");
    out.assert_exit(1);
    assert!(
        reasons(&out).iter().any(|r| r.contains("predicate type is")),
        "{:?}",
        reasons(&out)
    );
    // the untampered twin of the same statement verifies
    plant_envelope(&registry, "twins", &target, &signed_envelope(&key, &statement), cdx);
    verify(&registry.image("twins:tampered"), &public, "cyclonedx").assert_exit(0);
}

#[test]
fn bad_input_is_refused_and_nothing_is_pushed() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let digest = push_sample(&registry, "bad", "v1", 51);
    let image = registry.image("bad:v1");
    let sbom = testdata("sbom/guac/alpine-cyclonedx.json");
    let truncated = dir.path().join("truncated.json");
    let bytes = std::fs::read(testdata("sbom/guac/alpine-spdx.json")).expect("read");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let cases: [(&str, std::path::PathBuf, &str); 4] = [
        ("sbom", sbom.clone(), "unknown predicate type"),
        (
            "cyclonedx",
            dir.path().join("missing.json"),
            "cannot read predicate file",
        ),
        ("slsaprovenance1", sbom.clone(), "buildDefinition is missing"),
        ("spdxjson", truncated, "not valid JSON"),
    ];
    for (kind, predicate, message) in cases {
        let out = attest(&image, &key, kind, &predicate, &[]);
        out.assert_exit(2);
        assert!(out.assert_one_line_error().contains(message), "{kind}: {}", out.stderr);
    }
    let store = fixtures::store(&registry, "bad");
    let att = fixtures::block_on(async {
        use sigil_verifier::store::Store as _;
        store
            .fetch_manifest(&Target::Tag(cosign::attestation_tag(&digest)))
            .await
            .expect("fetch")
    });
    assert!(att.is_none(), "nothing was pushed");
    // a layer claiming 2 GB is refused before it is read: exit 2
    let tag = Target::Tag(cosign::attestation_tag(&digest));
    attest(&image, &key, "cyclonedx", &sbom, &[]).assert_exit(0);
    let (_, mut manifest) = fixtures::manifest(&registry, "bad", tag.clone());
    manifest["layers"][0]["size"] = json!(2_147_483_648u64);
    fixtures::put_manifest(&registry, "bad", tag, &manifest);
    let out = verify(&image, &public, "cyclonedx");
    out.assert_exit(2);
    assert!(out.stderr.contains("limit"), "{}", out.stderr);
}

#[test]
fn recursive_attestations_are_found_per_platform_and_tree_shows_everything() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let (index, platforms) = push_index(&registry, "multi", "v1");
    let image = registry.image("multi:v1");
    let slsa = slsa_v1_predicate(dir.path());
    attest(&image, &key, "slsaprovenance1", &slsa, &["--recursive"]).assert_exit(0);
    attest(
        &image,
        &key,
        "cyclonedx",
        &testdata("sbom/guac/alpine-cyclonedx.json"),
        &["--format", "bundle"],
    )
    .assert_exit(0);
    sigil(&["sign", &image, "--key", s(&key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    for p in &platforms {
        verify(&format!("{}@{p}", registry.image("multi")), &public, "slsaprovenance1").assert_exit(0);
        verify(&format!("{}@{p}", registry.image("multi")), &public, "cyclonedx").assert_exit(1);
    }
    verify(&image, &public, "cyclonedx").assert_exit(0);

    let out = sigil(&["tree", &image, "--output", "json"]).run();
    out.assert_exit(0);
    let tree = &out.stdout_json()["tree"];
    assert_eq!(tree["digest"], index.to_string());
    let kinds: Vec<&str> = tree["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, ["signatures", "attestations"]);
    assert_eq!(
        tree["referrers"][0]["annotations"]["dev.sigstore.bundle.predicateType"],
        "https://cyclonedx.org/bom"
    );
    let manifests = tree["manifests"].as_array().expect("platforms");
    assert_eq!(manifests.len(), 2);
    assert_eq!(manifests[0]["tags"][0]["kind"], "attestations");
    let human = sigil(&["tree", &image]).run();
    human.assert_exit(0);
    for needle in [
        "signatures (tag",
        "attestations (tag",
        "predicate type https://slsa.dev/provenance/v1",
        "referrers (1)",
        "platform manifest linux/amd64",
    ] {
        assert!(human.stdout.contains(needle), "{needle} in\n{}", human.stdout);
    }
}

#[test]
fn provenance_is_deterministic_and_ready_for_attest() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    push_sample(&registry, "prov", "v1", 61);
    let image = registry.image("prov:v1");
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_REF", "refs/tags/v1"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        (
            "GITHUB_WORKFLOW_REF",
            "acme/app/.github/workflows/release.yml@refs/tags/v1",
        ),
        ("GITHUB_RUN_ID", "7"),
        ("RUNNER_ENVIRONMENT", "github-hosted"),
    ];
    let run = |out: &std::path::Path| {
        let mut p = sigil(&["provenance", &image, "--output-file", s(out)]);
        for (k, v) in github {
            p = p.env(k, v);
        }
        p.run().assert_exit(0);
        std::fs::read(out).expect("written")
    };
    let first = run(&dir.path().join("a.json"));
    assert_eq!(first, run(&dir.path().join("b.json")), "same inputs, same bytes");
    let predicate: Value = serde_json::from_slice(&first).expect("json");
    assert_eq!(
        predicate["runDetails"]["builder"]["id"],
        "https://github.com/actions/runner/github-hosted"
    );
    attest(&image, &key, "slsaprovenance1", &dir.path().join("a.json"), &[]).assert_exit(0);
    verify(&image, &public, "slsaprovenance1").assert_exit(0);
    // outside CI without flags: one line naming every missing flag
    let out = sigil(&["provenance", &image]).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    for flag in ["--builder-id", "--build-type", "--source-repository", "--source-ref"] {
        assert!(line.contains(flag), "{flag}: {line}");
    }
    // GitHub without RUNNER_ENVIRONMENT: the builder is not guessed
    let mut p = sigil(&["provenance", &image]);
    for (k, v) in &github[..github.len() - 1] {
        p = p.env(k, v);
    }
    let out = p.run();
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("the builder id"), "{}", out.stderr);
    // a time that is not RFC 3339
    let mut p = sigil(&["provenance", &image, "--started-on", "yesterday"]);
    for (k, v) in github {
        p = p.env(k, v);
    }
    let out = p.run();
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("not an RFC 3339 time"),
        "{}",
        out.stderr
    );
}
