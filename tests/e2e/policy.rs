//! `sigil verify --policy`, `sigil policy lint` and `sigil policy test`
//! against a real registry: images signed and attested by different keys,
//! each semantic of DESIGN §4 shown allowing and denying, reasons asserted.

use std::path::Path;

use serde_json::{Value, json};
use sigil_verifier::keys::{self, SigningKey};
use sigil_verifier::reference::Target;

use crate::fixtures::{self, block_on, keypair, push_sample, s, write_policy};
use crate::support::{Registry, sigil};

fn sign(image: &str, key: &Path, extra: &[&str]) {
    let mut args = vec!["sign", image, "--key", s(key)];
    args.extend_from_slice(extra);
    sigil(&args).env("SIGIL_PASSWORD", "pw").run().assert_exit(0);
}

fn signing_key(path: &Path) -> SigningKey {
    keys::decrypt(&std::fs::read_to_string(path).expect("key file"), b"pw").expect("decrypt")
}

/// Pushes a signed in-toto attestation about `repo:tag` as a bundle referrer.
fn attest(registry: &Registry, repo: &str, tag: &str, key: &Path, predicate_type: &str, predicate: &Value) {
    let (descriptor, _) = fixtures::manifest(registry, repo, Target::Tag(tag.into()));
    let raw = serde_json::value::to_raw_value(predicate).expect("raw json");
    let statement =
        sigil_verifier::intoto::Statement::about(&registry.image(repo), &descriptor.digest, predicate_type, raw);
    let store = fixtures::store(registry, repo);
    let bundle = sigil_verifier::sign::key_signed_bundle(&statement.to_json(), &signing_key(key)).expect("sign");
    block_on(sigil_verifier::sign::push_bundle_referrer(
        &store,
        &descriptor,
        &bundle,
        predicate_type,
        "2026-01-01T00:00:00Z",
    ))
    .expect("push attestation");
}

fn verify(policy: &Path, images: &[&str], extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["verify"];
    args.extend_from_slice(images);
    args.extend_from_slice(&["--policy", s(policy), "--output", "json"]);
    args.extend_from_slice(extra);
    sigil(&args).run()
}

fn reasons(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["reason"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn publishers_decide_and_unmatched_images_are_denied() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    let (stranger, _) = keypair(dir.path(), "stranger");
    for (tag, seed) in [("signed", 1), ("stranger", 2), ("unsigned", 3)] {
        push_sample(&registry, "prod/app", tag, seed);
    }
    push_sample(&registry, "elsewhere", "v1", 4);
    sign(&registry.image("prod/app:signed"), &release, &[]);
    sign(&registry.image("prod/app:stranger"), &stranger, &[]);
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    let images = [
        registry.image("prod/app:signed"),
        registry.image("prod/app:stranger"),
        registry.image("prod/app:unsigned"),
        registry.image("elsewhere:v1"),
        registry.image("prod/app:signed"),
    ];
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let out = verify(&policy, &refs, &[]);
    out.assert_exit(1).assert_quiet_stderr();
    let json = out.stdout_json();
    assert_eq!(json["apiVersion"], "sigil.dev/report/v1");
    assert_eq!(
        json["summary"],
        json!({"images": 5, "allowed": 2, "denied": 3, "errors": 0})
    );
    let report = |i: usize| &json["images"][i];
    assert_eq!(report(0)["decision"], "allow");
    assert_eq!(report(0)["rule"], "prod");
    assert_eq!(report(0)["checks"][0]["reason"], "signed by release");
    assert_eq!(report(0)["checks"][0]["code"], "satisfied");
    assert_eq!(report(1)["checks"][0]["code"], "signature-invalid");
    assert_eq!(report(2)["checks"][0]["code"], "no-signatures");
    assert_eq!(report(3)["checks"][0]["code"], "no-matching-rule");
    assert_eq!(report(1)["decision"], "deny");
    assert_eq!(reasons(report(1)), ["no valid signature by any of [release]"]);
    assert!(
        report(1)["checks"][0]["details"][0]
            .as_str()
            .expect("detail")
            .contains("signature does not verify"),
        "{}",
        report(1)
    );
    assert_eq!(report(2)["decision"], "deny");
    assert_eq!(
        report(2)["checks"][0]["details"][0],
        "release: the image has no signatures"
    );
    assert_eq!(report(3)["decision"], "deny");
    assert_eq!(reasons(report(3)), [format!("no rule matches {host}/elsewhere:v1")]);
    assert_eq!(report(4)["decision"], "allow");
    assert_eq!(report(0)["policyDigest"], json["policy"]["digest"]);

    verify(&policy, &[&images[0]], &[]).assert_exit(0);
    // a missing image cannot be evaluated: exit 2, denied in the report too
    let missing = registry.image("prod/app:nope");
    let out = verify(&policy, &[&images[0], &missing], &[]);
    out.assert_exit(2);
    let failed = out.stdout_json()["images"][1].clone();
    assert_eq!(failed["decision"], "deny");
    assert_eq!(failed["rule"], "prod");
    assert_eq!(failed["checks"][0]["code"], "evidence-unavailable");
    assert!(out.stderr.contains("prod/app:nope"), "{out}");
    // human output names the rule and the reason
    let out = sigil(&["verify", &images[1], "--policy", s(&policy)]).run();
    out.assert_exit(1);
    assert!(
        out.stdout.contains("DENY")
            && out.stdout.contains("rule prod, enforce")
            && out
                .stdout
                .contains("no valid signature by any of [release] [signature-invalid]"),
        "{out}"
    );
    // and why the signature did not count
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("              release: ") && l.contains("signature does not verify")),
        "{out}"
    );
}

#[test]
fn thresholds_count_distinct_keys_and_attestations_are_checked() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _) = keypair(dir.path(), "a");
    let (b, _) = keypair(dir.path(), "b");
    push_sample(&registry, "shared/base", "v1", 10);
    let image = registry.image("shared/base:v1");
    sign(&image, &a, &[]);
    sign(&image, &a, &["--format", "bundle"]);
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  a: {{key: a.pub}}\n  b: {{key: b.pub}}\nrules:\n  - name: shared\n    images: [\"{host}/shared/**\"]\n    signatures: {{threshold: {{count: 2, of: [a, b]}}}}\n    attestations:\n      - predicateType: https://slsa.dev/provenance/v1\n        signedBy: [b]\n        slsa: {{builderIds: [\"https://ci.acme.example/*\"]}}\n"
        ),
    );
    let out = verify(&policy, &[&image], &[]);
    out.assert_exit(1);
    let report = out.stdout_json()["images"][0].clone();
    assert!(
        reasons(&report)[0].starts_with("1 distinct publisher(s), 2 required"),
        "{report}"
    );

    sign(&image, &b, &[]);
    let provenance = |builder: &str| json!({"buildDefinition": {"buildType": "https://x"}, "runDetails": {"builder": {"id": builder}}});
    attest(
        &registry,
        "shared/base",
        "v1",
        &b,
        "https://slsa.dev/provenance/v1",
        &provenance("https://evil.example/builder"),
    );
    let out = verify(&policy, &[&image], &[]);
    out.assert_exit(1);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(report["checks"][0]["result"], "pass");
    assert_eq!(
        reasons(&report)[1],
        "attestation https://slsa.dev/provenance/v1 by b: builder id https://evil.example/builder is not one of [https://ci.acme.example/*]"
    );

    // a fresh image with a good provenance by b, and one signed by a: allowed
    push_sample(&registry, "shared/tool", "v1", 11);
    let tool = registry.image("shared/tool:v1");
    sign(&tool, &a, &[]);
    sign(&tool, &b, &[]);
    attest(
        &registry,
        "shared/tool",
        "v1",
        &b,
        "https://slsa.dev/provenance/v1",
        &provenance("https://ci.acme.example/runner"),
    );
    // provenance by a publisher not listed for it does not count
    attest(
        &registry,
        "shared/tool",
        "v1",
        &a,
        "https://slsa.dev/provenance/v1",
        &provenance("https://evil.example/builder"),
    );
    let out = verify(&policy, &[&tool], &[]);
    out.assert_exit(0);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(reasons(&report)[1], "1 verified attestation(s) by [b], passing slsa");
}

#[test]
fn modes_exemptions_and_time() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    keypair(dir.path(), "release");
    push_sample(&registry, "upstream/tool", "v1", 20);
    push_sample(&registry, "prod/legacy", "v1", 21);
    push_sample(&registry, "audit/thing", "v1", 22);
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: upstream\n    images: [\"{host}/upstream/*\"]\n    signatures: {{anyOf: [release]}}\n    mode: warn\n  - name: audit\n    images: [\"{host}/audit/*\"]\n    signatures: {{anyOf: [release]}}\n    mode: audit\n  - name: prod\n    images: [\"{host}/prod/*\"]\n    signatures: {{anyOf: [release]}}\nexemptions:\n  - images: [\"{host}/prod/legacy\"]\n    waive: signatures\n    reason: rebuilt next sprint\n    owner: platform\n    expires: 2027-01-31T00:00:00Z\n"
        ),
    );
    // warn: allowed, exit 0, the finding on stderr and in the report
    let out = verify(&policy, &[&registry.image("upstream/tool:v1")], &[]);
    out.assert_exit(0);
    assert!(
        out.stderr
            .contains("rule upstream (warn) would deny: no valid signature by any of [release]"),
        "{out}"
    );
    assert_eq!(out.stdout_json()["images"][0]["checks"][0]["result"], "fail");
    // audit: allowed, exit 0, nothing on stderr, the finding in the report
    let out = verify(&policy, &[&registry.image("audit/thing:v1")], &[]);
    out.assert_exit(0).assert_quiet_stderr();
    assert_eq!(out.stdout_json()["images"][0]["mode"], "audit");
    assert_eq!(out.stdout_json()["images"][0]["checks"][0]["result"], "fail");
    // evidence that cannot be gathered: warn and audit rules let the image through and report it, exit 2
    for (missing, mode) in [("upstream/missing:v1", "warn"), ("audit/missing:v1", "audit")] {
        let out = verify(&policy, &[&registry.image(missing)], &[]);
        out.assert_exit(2);
        let report = out.stdout_json()["images"][0].clone();
        assert_eq!(report["decision"], "allow", "{report}");
        assert_eq!(report["mode"], mode);
        assert_eq!(report["checks"][0]["code"], "evidence-unavailable");
        assert!(report["error"].is_string(), "{report}");
        assert_eq!(out.stdout_json()["summary"]["errors"], 1);
    }
    let out = sigil(&["verify", &registry.image("upstream/missing:v1"), "--policy", s(&policy)]).run();
    out.assert_exit(2);
    assert!(
        out.stdout.contains("rule upstream, warn") && out.stdout.contains("[evidence-unavailable]"),
        "{out}"
    );
    // exemption until it expires
    let legacy = registry.image("prod/legacy:v1");
    let out = verify(&policy, &[&legacy], &["--at", "2026-06-01T00:00:00Z"]);
    out.assert_exit(0);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(report["checks"][0]["result"], "waived");
    assert_eq!(report["exemptions"][0]["owner"], "platform");
    assert_eq!(report["exemptions"][0]["expired"], false);
    let out = verify(&policy, &[&legacy], &["--at", "2027-02-01T00:00:00Z"]);
    out.assert_exit(1);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(report["exemptions"][0]["expired"], true);
    assert_eq!(report["checks"][0]["result"], "fail");
    assert!(out.stderr.contains("warning[expired-exemption]"), "{out}");
    sigil(&["verify", &legacy, "--policy", s(&policy), "--at", "yesterday"])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
}

#[test]
fn lint_reports_everything_and_verify_refuses_a_broken_policy() {
    let dir = tempfile::tempdir().expect("tempdir");
    keypair(dir.path(), "release");
    let policy = write_policy(
        dir.path(),
        "publishers:\n  release: {key: release.pub}\n  gone: {key: missing.pub}\nrules:\n  - name: r\n    images: [alpine]\n    signatures: {anyOf: [nobody]}\n    colour: red\n",
    );
    let out = sigil(&["policy", "lint", s(&policy), "--output", "json"]).run();
    out.assert_exit(2);
    let json = out.stdout_json();
    let codes: Vec<(String, u64, u64)> = json["diagnostics"]
        .as_array()
        .expect("diagnostics")
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_owned(),
                d["span"]["line"].as_u64().unwrap_or(0),
                d["span"]["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            ("unreadable-file".to_owned(), 5, 15),
            ("never-matches".to_owned(), 8, 14),
            ("unknown-publisher".to_owned(), 9, 26),
            ("unknown-field".to_owned(), 10, 5)
        ]
    );
    let human = sigil(&["policy", "lint", s(&policy)]).run();
    human.assert_exit(2);
    assert!(human.stdout.contains("policy.yaml:10:5"), "{human}");
    let out = sigil(&["verify", "localhost:1/x:v1", "--policy", s(&policy)]).run();
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("has 4 error(s)"), "{out}");
    // the examples lint clean
    for example in [
        "production.yaml",
        "rollout-audit.yaml",
        "multi-team.yaml",
        "notation.yaml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").join(example);
        sigil(&["policy", "lint", s(&path)]).run().assert_exit(0);
    }
}

#[test]
fn policy_test_runs_hermetically_on_a_copied_layout() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    push_sample(&registry, "prod/app", "v1", 30);
    push_sample(&registry, "prod/app", "unsigned", 31);
    sign(&registry.image("prod/app:v1"), &release, &[]);
    let recorded = dir.path().join("recorded");
    sigil(&[
        "copy",
        &registry.image("prod/app:v1"),
        &format!("oci:{}:app-v1", s(&recorded)),
    ])
    .run()
    .assert_exit(0);
    sigil(&[
        "copy",
        &registry.image("prod/app:unsigned"),
        &format!("oci:{}:app-unsigned", s(&recorded)),
    ])
    .run()
    .assert_exit(0);
    let host = registry.host();
    drop(registry); // no network from here on
    // `sigil copy` recorded each image's registry name in the layout: rules match that name.
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"registry.acme.example/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: recorded\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    let expectations = dir.path().join("expect.yaml");
    let write = |cases: &str| {
        std::fs::write(
            &expectations,
            format!("apiVersion: sigil.dev/v1alpha1\nkind: PolicyTest\nat: 2026-06-01T00:00:00Z\ncases:\n{cases}"),
        )
        .expect("write")
    };
    write(
        "  - {image: \"oci:recorded:app-v1\", name: registry.acme.example/prod/app:v1, expect: allow}\n  - {image: \"oci:recorded:app-unsigned\", name: registry.acme.example/prod/app:v2, expect: deny, reason: no valid signature}\n  - {image: \"oci:recorded:app-v1\", expect: allow}\n  - {image: \"oci:recorded:app-v1\", name: registry.acme.example/dev/app:v1, expect: deny, reason: no rule matches}\n",
    );
    let out = sigil(&["policy", "test", s(&policy), s(&expectations)]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("4 passed, 0 failed"), "{out}");
    // an expectation can name the failed check's code; a wrong code fails the run and says what it got
    write(
        "  - {image: \"oci:recorded:app-unsigned\", name: registry.acme.example/prod/app:v2, expect: deny, code: no-signatures}\n  - {image: \"oci:recorded:app-v1\", name: registry.acme.example/dev/app:v1, expect: deny, code: no-matching-rule}\n",
    );
    let out = sigil(&["policy", "test", s(&policy), s(&expectations)]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("2 passed, 0 failed"), "{out}");
    write(
        "  - {image: \"oci:recorded:app-unsigned\", name: registry.acme.example/prod/app:v2, expect: deny, code: signature-invalid}\n",
    );
    let out = sigil(&["policy", "test", s(&policy), s(&expectations)]).run();
    out.assert_exit(1);
    assert!(
        out.stdout.contains(
            "FAIL case 1: oci:recorded:app-unsigned expected deny, a failed check with code signature-invalid, got deny with failed check code(s) no-signatures"
        ),
        "{out}"
    );
    let out = sigil(&["policy", "test", s(&policy), s(&expectations), "--output", "json"]).run();
    out.assert_exit(1);
    let case = out.stdout_json()["cases"][0].clone();
    assert_eq!(
        (case["passed"].clone(), case["expectCode"].clone()),
        (json!(false), json!("signature-invalid"))
    );
    assert_eq!(case["report"]["checks"][0]["code"], "no-signatures");
    // a code that does not exist is an error in the expectations
    write("  - {image: \"oci:recorded:app-v1\", expect: allow, code: signature-broken}\n");
    let out = sigil(&["policy", "test", s(&policy), s(&expectations)]).run();
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("signature-broken"), "{out}");
    // `verify --policy` matches a copied layout image by its recorded name too
    let layout_image = format!("oci:{}:app-v1", s(&recorded));
    sigil(&["verify", &layout_image, "--policy", s(&policy)])
        .run()
        .assert_exit(0);
    let unsigned = format!("oci:{}:app-unsigned", s(&recorded));
    sigil(&["verify", &unsigned, "--policy", s(&policy)])
        .run()
        .assert_exit(1);
    write("  - {image: \"oci:recorded:app-unsigned\", name: registry.acme.example/prod/app:v2, expect: allow}\n");
    let out = sigil(&["policy", "test", s(&policy), s(&expectations), "--output", "json"]).run();
    out.assert_exit(1);
    assert_eq!(out.stdout_json()["cases"][0]["report"]["decision"], "deny");
    write("  - {image: \"localhost:5000/app:v1\", expect: allow}\n");
    sigil(&["policy", "test", s(&policy), s(&expectations)])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
}

#[test]
fn a_tag_beside_a_digest_is_ignored_for_matching() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    keypair(dir.path(), "release");
    push_sample(&registry, "prod/app", "legacy-1.0", 40);
    let other = push_sample(&registry, "prod/app", "fresh", 41);
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\nexemptions:\n  - images: [\"{host}/prod/app:legacy-1.0\"]\n    waive: signatures\n    reason: vendor build\n    owner: platform\n    expires: 2027-01-31T00:00:00Z\n"
        ),
    );
    let at = ["--at", "2026-06-01T00:00:00Z"];
    // the exemption for the tag does not follow the tag onto another digest
    let smuggled = format!("{}@{other}", registry.image("prod/app:legacy-1.0"));
    let out = verify(&policy, &[&smuggled], &at);
    out.assert_exit(1);
    let report = out.stdout_json()["images"][0].clone();
    assert_eq!(report["exemptions"], json!([]), "{report}");
    assert_eq!(report["matchedName"], format!("{host}/prod/app"));
    assert_eq!(report["digest"], other.to_string());
    assert_eq!(reasons(&report), ["no valid signature by any of [release]"]);
    assert_eq!(
        report["notes"][0],
        "tag legacy-1.0 is ignored: a reference that pins a digest is matched by its digest only (nothing checked that the tag points at it)"
    );
    // twin: the tag itself is exempted
    let out = verify(&policy, &[&registry.image("prod/app:legacy-1.0")], &at);
    out.assert_exit(0);
    assert_eq!(out.stdout_json()["images"][0]["checks"][0]["result"], "waived");
}

#[test]
fn registry_host_names_are_matched_in_canonical_form() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    keypair(dir.path(), "release");
    push_sample(&registry, "prod/app", "v1", 42);
    push_sample(&registry, "team/app", "v1", 45);
    let port = registry
        .host()
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .expect("port");
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"localhost:{port}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: shouting\n    images: [\"LOCALHOST:{port}/team/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: rest\n    images: [\"**\"]\n    allowUnverified: true\n"
        ),
    );
    for image in [
        format!("LOCALHOST:{port}/prod/app:v1"),
        format!("LocalHost:{port}/prod/app:v1"),
        format!("localhost:{port}/prod/app:v1"),
    ] {
        let out = verify(&policy, &[&image], &[]);
        out.assert_exit(1);
        let report = out.stdout_json()["images"][0].clone();
        assert_eq!(report["rule"], "prod", "{image}: {report}");
        assert_eq!(report["image"], format!("localhost:{port}/prod/app:v1"));
        assert_eq!(reasons(&report), ["no valid signature by any of [release]"]);
    }
    // a pattern written in upper case matches the canonical name
    let out = verify(&policy, &[&format!("localhost:{port}/team/app:v1")], &[]);
    out.assert_exit(1);
    assert_eq!(out.stdout_json()["images"][0]["rule"], "shouting", "{out}");
    // twin: another host (the same address, another name) is another rule's
    let out = verify(&policy, &[&registry.image("prod/app:v1")], &[]);
    out.assert_exit(0);
    assert_eq!(out.stdout_json()["images"][0]["rule"], "rest");
    // repository paths stay case-sensitive: an upper-case one is a usage error
    sigil(&[
        "verify",
        &format!("localhost:{port}/Prod/app:v1"),
        "--policy",
        s(&policy),
    ])
    .run()
    .assert_exit(2)
    .assert_one_line_error();
}

/// Sets (or with `None` removes) the recorded name of the image entries in
/// `layout`'s index.json, as an attacker who writes the layout can.
fn set_recorded_name(layout: &Path, value: Option<&str>) {
    let path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&path).expect("index.json")).expect("json");
    for entry in index["manifests"].as_array_mut().expect("manifests") {
        let tag = entry["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .unwrap_or_default();
        if tag.starts_with("sha256-") {
            continue;
        }
        let Some(annotations) = entry["annotations"].as_object_mut() else {
            continue;
        };
        match value {
            Some(v) => annotations.insert("dev.sigil.image.name".into(), json!(v)),
            None => annotations.remove("dev.sigil.image.name"),
        };
    }
    std::fs::write(&path, serde_json::to_vec(&index).expect("json")).expect("write index.json");
}

#[test]
fn a_layout_does_not_choose_its_own_rule() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    push_sample(&registry, "prod/app", "v1", 43);
    let unsigned_digest = push_sample(&registry, "prod/app", "unsigned", 44);
    sign(&registry.image("prod/app:v1"), &release, &[]);
    let host = registry.host();
    let root = dir.path().to_path_buf();
    let layout = |name: &str| root.join(name);
    for (tag, to) in [
        ("v1", "airgap/signed"),
        ("unsigned", "airgap/unsigned"),
        ("unsigned", "trusted/unsigned"),
        ("unsigned", "loose"),
    ] {
        let source = registry.image(&format!("prod/app:{tag}"));
        sigil(&["copy", &source, &format!("oci:{}:{tag}", s(&layout(to)))])
            .run()
            .assert_exit(0);
    }
    drop(registry); // no network from here on
    let r = s(&root);
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: sandbox\n    images: [\"{host}/sandbox/**\"]\n    allowUnverified: true\n  - name: upstream\n    images: [\"docker.io/library/*\"]\n    signatures: {{anyOf: [release]}}\n    mode: warn\n  - name: airgap\n    images: [\"oci:{r}/airgap/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: trusted\n    images: [\"oci:{r}/trusted/**\"]\n    allowUnverified: true\n"
        ),
    );
    let judge = |image: String| {
        let out = verify(&policy, &[&image], &[]);
        let report = out.stdout_json()["images"][0].clone();
        (out.code, report)
    };
    // honest copies: judged by their directory's rule and by the recorded source
    let (code, report) = judge(format!("oci:{}:unsigned", s(&layout("trusted/unsigned"))));
    assert_eq!(code, Some(1), "the recorded name is stricter: {report}");
    assert_eq!(report["rule"], "prod");
    assert_eq!(reasons(&report)[0], "no valid signature by any of [release]");
    let (code, report) = judge(format!("oci:{}:v1", s(&layout("airgap/signed"))));
    assert_eq!(code, Some(0), "{report}");

    // renamed after a lenient rule, with a rule for its directory: it cannot loosen it
    let sandbox = format!("{host}/sandbox/x@{unsigned_digest}");
    set_recorded_name(&layout("airgap/unsigned"), Some(&sandbox));
    let (code, report) = judge(format!("oci:{}:unsigned", s(&layout("airgap/unsigned"))));
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["rule"], "airgap");
    assert_eq!(reasons(&report)[0], "no valid signature by any of [release]");
    // without a rule for its directory, the recorded name decides, without leniency
    for (value, rule) in [
        (sandbox.clone(), "sandbox"),
        (format!("docker.io/library/alpine@{unsigned_digest}"), "upstream"),
    ] {
        set_recorded_name(&layout("loose"), Some(&value));
        let (code, report) = judge(format!("oci:{}:unsigned", s(&layout("loose"))));
        assert_eq!(code, Some(1), "{value}: {report}");
        assert_eq!(report["rule"], rule);
        assert_eq!(report["mode"], "enforce");
    }
    // a recorded name that names another image is malformed evidence
    set_recorded_name(
        &layout("loose"),
        Some(&format!("{host}/sandbox/x@sha256:{}", "0".repeat(64))),
    );
    let out = verify(&policy, &[&format!("oci:{}:unsigned", s(&layout("loose")))], &[]);
    out.assert_exit(2);
    assert!(out.stderr.contains("pins another digest"), "{out}");

    // `..` does not take a layout into the trusted directory's rule
    set_recorded_name(&layout("loose"), None);
    let escaped = format!("oci:{r}/trusted/../loose:unsigned");
    let (code, report) = judge(escaped);
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["image"], format!("oci:{}:unsigned", s(&layout("loose"))));
    assert_eq!(
        reasons(&report),
        [format!("no rule matches oci:{}:unsigned", s(&layout("loose")))]
    );
    // twin: the trusted directory itself
    set_recorded_name(&layout("trusted/unsigned"), None);
    let (code, report) = judge(format!("oci:{r}/trusted/./unsigned:unsigned"));
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["rule"], "trusted");
}

/// `policies/multi-team.test.yaml`, the README's example expectations, run
/// against layouts signed with the example keys' private halves.
#[test]
fn the_example_expectations_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let policies = dir.path().join("policies");
    std::fs::create_dir_all(policies.join("keys")).expect("mkdir");
    for file in ["multi-team.yaml", "multi-team.test.yaml"] {
        std::fs::copy(examples.join(file), policies.join(file)).expect("copy");
    }
    for key in ["team-payments.pub", "team-search.pub", "security.pub"] {
        std::fs::copy(examples.join("keys").join(key), policies.join("keys").join(key)).expect("copy");
    }
    let import = |name: &str| {
        let prefix = dir.path().join(name);
        sigil(&[
            "key",
            "import",
            "--key",
            s(&fixtures::testdata(&format!("policy-keys/{name}.key"))),
            "--output-key-prefix",
            s(&prefix),
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
        prefix.with_extension("key")
    };
    let (payments, security) = (import("team-payments"), import("security"));
    let layouts = policies.join("layouts");
    for (layout, signers) in [
        ("payments-signed", vec![&payments]),
        ("payments-and-security", vec![&payments, &security]),
    ] {
        let path = layouts.join(layout);
        sigil_testkit::image::sample_layout(&path);
        for key in signers {
            sign(&format!("oci:{}:v1", s(&path)), key, &[]);
        }
    }
    let expectations = policies.join("multi-team.test.yaml");
    let out = sigil(&["policy", "test", s(&policies.join("multi-team.yaml")), s(&expectations)]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("6 passed, 0 failed"), "{out}");
    // The twin: with the security signature gone, the shared case fails.
    std::fs::remove_dir_all(layouts.join("payments-and-security")).expect("rm");
    let path = layouts.join("payments-and-security");
    sigil_testkit::image::sample_layout(&path);
    sign(&format!("oci:{}:v1", s(&path)), &payments, &[]);
    let out = sigil(&["policy", "test", s(&policies.join("multi-team.yaml")), s(&expectations)]).run();
    out.assert_exit(1);
    assert!(out.stdout.contains("5 passed, 1 failed"), "{out}");
}

/// Replaces the one DSSE layer of `image`'s `.att` tag by `change` of its
/// envelope (annotations kept).
fn rewrite_attestation(
    registry: &Registry,
    repo: &str,
    image: &sigil_verifier::digest::Digest,
    change: impl Fn(&mut sigil_verifier::dsse::Envelope),
) {
    use sigil_verifier::oci::{self, Descriptor, ImageManifest};
    use sigil_verifier::store::Store as _;
    let store = fixtures::store(registry, repo);
    let tag = sigil_verifier::cosign::attestation_tag(image);
    let (_, manifest) = fixtures::manifest(registry, repo, Target::Tag(tag.clone()));
    let mut manifest: ImageManifest = serde_json::from_value(manifest).expect("image manifest");
    let layer = manifest.layers[0].clone();
    let bytes = block_on(store.fetch_blob(&layer, 1 << 30)).expect("envelope");
    let mut envelope = sigil_verifier::dsse::Envelope::parse(&bytes).expect("envelope");
    change(&mut envelope);
    let bytes = envelope.to_json();
    let replaced = Descriptor {
        annotations: layer.annotations.clone(),
        ..Descriptor::of(&layer.media_type, &bytes)
    };
    block_on(store.push_blob(&replaced, &bytes)).expect("push envelope");
    manifest.layers = vec![replaced];
    block_on(store.push_manifest(&Target::Tag(tag), oci::OCI_MANIFEST, &oci::to_bytes(&manifest)))
        .expect("push attestation tag");
}

#[test]
fn an_sbom_is_read_only_by_a_rule_that_checks_it_and_always_verified() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _) = keypair(dir.path(), "a");
    let digest = push_sample(&registry, "lazy/app", "v1", 12);
    let image = registry.image("lazy/app:v1");
    sign(&image, &a, &[]);
    let bom = json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [
        {"name": "ok", "purl": "pkg:npm/ok@1.0.0", "licenses": [{"license": {"id": "MIT"}}]},
        {"name": "agpl", "purl": "pkg:npm/agpl@1.0.0", "licenses": [{"license": {"id": "AGPL-3.0-only"}}]}
    ]});
    let predicate = dir.path().join("bom.json");
    std::fs::write(&predicate, bom.to_string()).expect("write bom");
    sigil(&[
        "attest",
        &image,
        "--key",
        s(&a),
        "--type",
        "cyclonedx",
        "--predicate",
        s(&predicate),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
    .assert_exit(0);
    let host = registry.host();
    let rule = |checks: &str| {
        format!(
            "publishers:\n  a: {{key: a.pub}}\nrules:\n  - name: app\n    images: [\"{host}/lazy/**\"]\n    signatures: {{anyOf: [a]}}\n    attestations:\n      - predicateType: https://cyclonedx.org/bom\n        signedBy: [a]\n{checks}"
        )
    };
    let presence = write_policy(dir.path(), &rule(""));
    let out = verify(&presence, &[&image], &[]);
    out.assert_exit(0);
    assert_eq!(
        reasons(&out.stdout_json()["images"][0])[1],
        "1 verified attestation(s) by [a]"
    );
    let with_rule = dir.path().join("sbom.yaml");
    std::fs::write(
        &with_rule,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\n{}",
            rule("        sbom: {deniedLicenses: [AGPL-3.0-only]}\n")
        ),
    )
    .expect("write policy");
    let out = verify(&with_rule, &[&image], &[]);
    out.assert_exit(1);
    assert_eq!(
        reasons(&out.stdout_json()["images"][0])[1],
        "attestation https://cyclonedx.org/bom by a: license AGPL-3.0-only of pkg:npm/agpl@1.0.0 is denied"
    );
    // tampered twin: one payload byte flipped (in the predicate, which the presence policy never reads)
    rewrite_attestation(&registry, "lazy/app", &digest, |e| {
        let mut payload = e.payload_bytes().expect("payload");
        let at = payload.len() - 10;
        payload[at] ^= 1;
        e.payload = STANDARD.encode(payload);
    });
    for policy in [&presence, &with_rule] {
        let out = verify(policy, &[&image], &[]);
        out.assert_exit(1);
        let report = out.stdout_json()["images"][0].clone();
        assert_eq!(report["checks"][1]["code"], "signature-invalid", "{report}");
    }
}

/// cosign's `spdx` type stores the document's text as a JSON string, which
/// an `sbom` rule does not read: it fails closed instead of finding no
/// components. The same document attested as `spdxjson` is read.
#[test]
fn an_sbom_rule_refuses_an_spdx_document_stored_as_text() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, _) = keypair(dir.path(), "a");
    let spdx = fixtures::testdata("sbom/cosign/bom-go-mod.spdx.json");
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  a: {{key: a.pub}}\nrules:\n  - name: app\n    images: [\"{host}/spdx/**\"]\n    signatures: {{anyOf: [a]}}\n    attestations:\n      - predicateType: https://spdx.dev/Document\n        signedBy: [a]\n        sbom: {{deniedPackages: [\"pkg:golang/not-in-the-document\"]}}\n"
        ),
    );
    for (tag, ty, exit, seed) in [("text", "spdx", 1, 12), ("json", "spdxjson", 0, 13)] {
        push_sample(&registry, "spdx/app", tag, seed);
        let image = registry.image(&format!("spdx/app:{tag}"));
        sign(&image, &a, &[]);
        sigil(&["attest", &image, "--key", s(&a), "--type", ty, "--predicate", s(&spdx)])
            .env("SIGIL_PASSWORD", "pw")
            .run()
            .assert_exit(0);
        let out = verify(&policy, &[&image], &[]);
        out.assert_exit(exit);
        let reasons = reasons(&out.stdout_json()["images"][0]);
        if exit == 1 {
            assert!(reasons[1].contains("is a JSON string"), "{reasons:?}");
        }
    }
}
