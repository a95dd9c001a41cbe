//! `baseImage` rules against a real registry, decided by `sigil verify
//! --policy`: an image whose annotated base is signed is allowed; one whose
//! base is unsigned, missing, not listed, too deep in the chain, or (through
//! provenance) in a cycle is denied, each with its reason code.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sigil_verifier::digest::Digest;
use sigil_verifier::reference::Target;

use crate::fixtures::{self, keypair, push_sample, s, write_policy};
use crate::support::{Registry, sigil};

fn sign(image: &str, key: &Path) {
    sigil(&["sign", image, "--key", s(key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
}

/// Pushes a sample image (by `seed`) as `repo:1`, its manifest naming `base`
/// (`REPO@DIGEST` or `REPO:TAG` and its digest) when given; returns its digest.
fn push_with_base(registry: &Registry, repo: &str, seed: u64, base: Option<(&str, &Digest)>) -> Digest {
    push_sample(registry, repo, "plain", seed);
    let (_, mut manifest) = fixtures::manifest(registry, repo, Target::Tag("plain".into()));
    if let Some((name, digest)) = base {
        manifest["annotations"] = json!({
            "org.opencontainers.image.base.name": name,
            "org.opencontainers.image.base.digest": digest.to_string(),
        });
    }
    fixtures::put_manifest(registry, repo, Target::Tag("1".into()), &manifest)
}

pub struct World {
    pub registry: Registry,
    _dir: tempfile::TempDir,
    pub policy: PathBuf,
}

impl World {
    fn verify(&self, repo: &str) -> Value {
        let out = sigil(&[
            "verify",
            &self.registry.image(&format!("{repo}:1")),
            "--policy",
            s(&self.policy),
            "--output",
            "json",
        ])
        .run();
        let report = out.stdout_json();
        let code = out.code.unwrap_or(-1);
        let decision = report["images"][0]["decision"].as_str().unwrap_or_default().to_owned();
        assert_eq!(code, if decision == "allow" { 0 } else { 1 }, "{out}");
        report["images"][0].clone()
    }
}

fn base_check(report: &Value) -> &Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["kind"] == "baseImage"))
        .unwrap_or_else(|| panic!("no baseImage check: {report:#}"))
}

/// The registry, its images and the policy (see the module docs); shared
/// with the gate's test.
pub fn world() -> World {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, release_pub) = keypair(dir.path(), "release");
    let reg = registry.host();

    // bases/root: signed, matched by a rule that asks nothing of its own base
    let root = push_with_base(&registry, "bases/root", 601, None);
    sign(&registry.image("bases/root:1"), &release);
    let unsigned = push_with_base(&registry, "bases/unsigned", 602, None);
    let elsewhere = push_with_base(&registry, "elsewhere/base", 603, None);
    sign(&registry.image("elsewhere/base:1"), &release);

    let root_name = format!("{reg}/bases/root:1");
    for (repo, seed, base) in [
        ("apps/good", 611, Some((root_name.as_str(), &root))),
        (
            "apps/unsigned-base",
            612,
            Some((&*format!("{reg}/bases/unsigned"), &unsigned)),
        ),
        (
            "apps/unlisted-base",
            613,
            Some((&*format!("{reg}/elsewhere/base"), &elsewhere)),
        ),
        ("apps/no-base", 614, None),
    ] {
        let name = base.map(|(n, d)| (n.to_owned(), d.clone()));
        push_with_base(&registry, repo, seed, name.as_ref().map(|(n, d)| (n.as_str(), d)));
        sign(&registry.image(&format!("{repo}:1")), &release);
    }

    // chain/c1 .. chain/c6, each built from the one before, c1 from bases/root;
    // apps/shallow is built from c2 (3 bases deep), apps/deep from c6 (7 deep).
    let mut previous = (root_name.clone(), root.clone());
    let mut chain = Vec::new();
    for i in 1..=6u64 {
        let repo = format!("chain/c{i}");
        let d = push_with_base(&registry, &repo, 620 + i, Some((&previous.0, &previous.1)));
        sign(&registry.image(&format!("{repo}:1")), &release);
        previous = (format!("{reg}/{repo}"), d.clone());
        chain.push(previous.clone());
    }
    for (repo, seed, (name, digest)) in [("apps/shallow", 631, &chain[1]), ("apps/deep", 632, &chain[5])] {
        push_with_base(&registry, repo, seed, Some((name, digest)));
        sign(&registry.image(&format!("{repo}:1")), &release);
    }

    // cycle/a and cycle/b: signed, each with a signed provenance naming the other as its base
    let a = push_with_base(&registry, "cycle/a", 641, None);
    let b = push_with_base(&registry, "cycle/b", 642, None);
    for (repo, other, other_digest) in [("cycle/a", "cycle/b", &b), ("cycle/b", "cycle/a", &a)] {
        let image = registry.image(&format!("{repo}:1"));
        sign(&image, &release);
        let predicate = dir.path().join(format!("{}.json", repo.replace('/', "-")));
        let hex = other_digest.to_string().trim_start_matches("sha256:").to_owned();
        std::fs::write(
            &predicate,
            json!({"buildDefinition": {"buildType": "https://mobyproject.org/buildkit@v1", "externalParameters": {},
                     "resolvedDependencies": [{"uri": format!("pkg:docker/{reg}/{other}@1?platform=linux%2Famd64"), "digest": {"sha256": hex}}]},
                   "runDetails": {"builder": {"id": "https://ci.example.test/builder"}}})
            .to_string(),
        )
        .expect("predicate");
        sigil(&[
            "attest",
            &image,
            "--key",
            s(&release),
            "--type",
            "slsaprovenance1",
            "--predicate",
            s(&predicate),
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    }

    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:
  release: {{key: {release}}}
rules:
  - name: bases
    images: [\"{reg}/bases/**\", \"{reg}/elsewhere/**\"]
    signatures: {{anyOf: [release]}}
  - name: apps
    images: [\"{reg}/apps/**\", \"{reg}/chain/**\"]
    signatures: {{anyOf: [release]}}
    baseImage: {{required: true, images: [\"{reg}/bases/**\", \"{reg}/chain/**\"]}}
  - name: cycles
    images: [\"{reg}/cycle/**\"]
    signatures: {{anyOf: [release]}}
    attestations:
      - predicateType: https://slsa.dev/provenance/v1
        signedBy: [release]
    baseImage: {{required: true}}
",
            release = s(&release_pub)
        ),
    );
    World {
        registry,
        _dir: dir,
        policy,
    }
}

#[test]
fn base_images_are_held_to_the_policy_recursively() {
    let w = world();
    let reg = w.registry.host();

    let good = w.verify("apps/good");
    assert_eq!(good["decision"], "allow", "{good:#}");
    assert_eq!(base_check(&good)["result"], "pass");
    let root = &good["baseImages"][0];
    assert_eq!(
        root["image"]
            .as_str()
            .map(|i| i.starts_with(&format!("{reg}/bases/root@sha256:"))),
        Some(true),
        "{good:#}"
    );
    assert_eq!(root["source"], "annotation");
    assert_eq!(root["allowed"], true);
    assert_eq!(root["rule"], "bases");

    // three bases deep: every link decided and allowed, the chain nested in the report
    let shallow = w.verify("apps/shallow");
    assert_eq!(shallow["decision"], "allow", "{shallow:#}");
    assert_eq!(shallow["baseImages"][0]["rule"], "apps");
    assert_eq!(
        shallow["baseImages"][0]["baseImages"][0]["baseImages"][0]["rule"],
        "bases"
    );

    let cases = [
        (
            "apps/unsigned-base",
            "base-image-denied",
            "is denied: no valid signature by any of [release]",
        ),
        ("apps/unlisted-base", "base-image-not-listed", "matches none of"),
        ("apps/no-base", "no-base-image", "no base image found"),
        ("apps/deep", "base-image-denied", "deeper than 4"),
        ("cycle/a", "base-image-denied", "a cycle"),
    ];
    for (repo, code, reason) in cases {
        let report = w.verify(repo);
        assert_eq!(report["decision"], "deny", "{repo}: {report:#}");
        let check = base_check(&report);
        assert_eq!(check["code"], code, "{repo}: {check:#}");
        assert!(
            report.to_string().contains(reason),
            "{repo}: expected {reason:?} in {report:#}"
        );
    }
}

#[test]
fn human_output_and_verbose_logs_name_the_base_decision() {
    let w = world();
    let out = sigil(&[
        "verify",
        &w.registry.image("apps/unsigned-base:1"),
        "--policy",
        s(&w.policy),
        "-v",
    ])
    .run();
    out.assert_exit(1);
    assert!(out.stdout.contains("baseImage"), "{out}");
    assert!(out.stdout.contains("base-image-denied"), "{out}");
    assert!(
        out.stderr.contains("bases/unsigned@sha256:"),
        "-v names the base it decided: {out}"
    );
}

#[test]
fn the_admission_webhook_holds_base_images_to_the_policy_too() {
    use crate::admission::{POD, Review, own_server, post_review, warm};
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, pki) = own_server(dir.path(), &w.policy, &[]);
    let client = pki.client();
    warm(&client, &server);
    let pod = |repo: &str| {
        let image = w.registry.image(&format!("{repo}:1"));
        (
            post_review(&client, &server, "/validate", "10s", &Review::of_images(POD, &[&image])),
            image,
        )
    };
    let (answer, _) = pod("apps/shallow");
    answer.assert_allowed();
    let (answer, image) = pod("apps/unsigned-base");
    answer.assert_denied();
    let reason = answer.assert_names("spec.containers[0].image", &image);
    assert!(
        reason.contains("bases/unsigned@sha256:"),
        "the denial names the base: {answer}"
    );
    let (answer, _) = pod("apps/deep");
    answer.assert_denied();
    assert!(answer.message().contains("deeper than 4"), "{answer}");
}
