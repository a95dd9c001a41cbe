//! `sigil audit` against a real registry: images with key signatures in
//! both forms, an SBOM, a provenance, a vulnerability scan and an annotated
//! base image; an unsigned one, one signed by another key and one with a
//! tampered attestation. Audited as JSON without and with a policy (exact
//! expectations, exit codes), and as HTML opened in headless Chromium.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sigil_verifier::cosign;
use sigil_verifier::digest::Digest;
use sigil_verifier::reference::Target;

use crate::fixtures::{self, keypair, push_sample, s, testdata, write_policy};
use crate::support::{Proc, Registry, sigil};

const HOSTILE: &str = "<script>alert(1)</script>";

fn sign(image: &str, key: &Path, extra: &[&str]) {
    let mut args = vec!["sign", image, "--key", s(key)];
    args.extend_from_slice(extra);
    sigil(&args).env("SIGIL_PASSWORD", "pw").run().assert_exit(0);
}

fn attest(image: &str, key: &Path, kind: &str, predicate: &Path) {
    sigil(&[
        "attest",
        image,
        "--key",
        s(key),
        "--type",
        kind,
        "--predicate",
        s(predicate),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
    .assert_exit(0);
}

struct World {
    registry: Registry,
    dir: tempfile::TempDir,
    base: Digest,
    app: Digest,
    policy: PathBuf,
}

impl World {
    fn images(&self) -> Vec<String> {
        [
            "audit/app:1",
            "audit/unsigned:1",
            "audit/stranger:1",
            "audit/tampered:1",
        ]
        .iter()
        .map(|i| self.registry.image(i))
        .collect()
    }
}

/// The registry and its images (see the module docs).
fn world() -> World {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    let (stranger, _) = keypair(dir.path(), "stranger");
    let base = push_sample(&registry, "audit/base", "1", 501);
    sign(&registry.image("audit/base:1"), &release, &[]);

    // the app: a sample whose manifest names its base and carries a hostile annotation
    push_sample(&registry, "audit/app", "plain", 502);
    let (_, mut manifest) = fixtures::manifest(&registry, "audit/app", Target::Tag("plain".into()));
    manifest["annotations"] = json!({
        "org.opencontainers.image.base.name": registry.image("audit/base:1"),
        "org.opencontainers.image.base.digest": base.to_string(),
        "org.example.note": HOSTILE,
    });
    let app = fixtures::put_manifest(&registry, "audit/app", Target::Tag("1".into()), &manifest);
    let image = registry.image("audit/app:1");
    sign(&image, &release, &[]);
    sign(&image, &release, &["--format", "bundle"]);
    let provenance = dir.path().join("provenance.json");
    std::fs::write(
        &provenance,
        json!({
            "buildDefinition": {
                "buildType": "https://example.test/build/v1",
                "externalParameters": {},
                "resolvedDependencies": [{
                    "uri": "git+https://github.com/acme/app@refs/heads/main",
                    "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}
                }]
            },
            "runDetails": {
                "builder": {"id": "https://ci.example.test/builder"},
                "metadata": {"invocationId": "run-42"}
            }
        })
        .to_string(),
    )
    .expect("write provenance");
    attest(
        &image,
        &release,
        "cyclonedx",
        &testdata("sbom/guac/small-legal-cyclonedx.json"),
    );
    attest(&image, &release, "slsaprovenance1", &provenance);
    attest(&image, &release, "vuln", &testdata("sbom/cosign/vuln-predicate.json"));

    push_sample(&registry, "audit/unsigned", "1", 503);
    push_sample(&registry, "audit/stranger", "1", 504);
    sign(&registry.image("audit/stranger:1"), &stranger, &[]);

    // signed, and an SBOM attestation whose signed statement had a byte changed after signing
    let tampered = push_sample(&registry, "audit/tampered", "1", 505);
    sign(&registry.image("audit/tampered:1"), &release, &[]);
    let key = sigil_verifier::keys::decrypt(&std::fs::read_to_string(&release).expect("key"), b"pw").expect("key");
    let cdx = "https://cyclonedx.org/bom";
    let statement = sigil_verifier::intoto::Statement::encode_raw(
        "x",
        &tampered,
        cdx,
        &std::fs::read(testdata("sbom/guac/small-legal-cyclonedx.json")).expect("sbom"),
    );
    let pae = sigil_verifier::dsse::pae("application/vnd.in-toto+json", &statement);
    let signature = key.sign(&pae).expect("sign");
    let mut flipped = statement.clone();
    flipped[0] ^= 0x01;
    let envelope = sigil_verifier::dsse::envelope_json("application/vnd.in-toto+json", &flipped, &signature);
    let store = fixtures::store(&registry, "audit/tampered");
    let mut layer = sigil_verifier::oci::Descriptor::of(cosign::DSSE_MEDIA_TYPE, &envelope);
    layer.annotations.insert("predicateType".into(), cdx.into());
    fixtures::block_on(async {
        use sigil_verifier::store::Store as _;
        store.push_blob(&layer, &envelope).await.expect("blob");
        sigil_verifier::sign::append_layer(&store, &cosign::attestation_tag(&tampered), layer)
            .await
            .expect("append");
    });

    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: app\n    images: [\"{host}/audit/app\"]\n    signatures: {{anyOf: [release]}}\n    attestations:\n      - predicateType: {cdx}\n        signedBy: [release]\n        sbom: {{deniedPackages: [\"pkg:npm/left-pad\"]}}\n  - name: rest\n    images: [\"{host}/audit/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    World {
        registry,
        dir,
        base,
        app,
        policy,
    }
}

fn audit(images: &[String], extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["audit"];
    args.extend(images.iter().map(String::as_str));
    args.extend_from_slice(&["--output", "json"]);
    args.extend_from_slice(extra);
    sigil(&args).timeout(Duration::from_secs(120)).run()
}

fn statuses(items: &Value) -> Vec<String> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| i["verification"]["status"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[test]
fn audit_reports_evidence_signers_summaries_and_decisions() {
    let w = world();
    let images = w.images();

    // without a policy: everything unverified, exit 0
    let out = audit(&images, &[]);
    out.assert_exit(0);
    let json = out.stdout_json();
    assert_eq!(json["apiVersion"], "sigil.dev/audit/v1");
    assert_eq!(json["policy"], Value::Null);
    let app = &json["images"][0];
    assert_eq!(app["image"], images[0]);
    assert_eq!(app["digest"], w.app.to_string());
    assert_eq!(app["annotations"]["org.example.note"], HOSTILE);
    assert_eq!(statuses(&app["signatures"]), ["unverified", "unverified"]);
    let forms: Vec<&str> = app["signatures"]
        .as_array()
        .expect("signatures")
        .iter()
        .map(|s| s["origin"]["form"].as_str().expect("form"))
        .collect();
    assert_eq!(forms, ["tag", "referrer"]);
    assert!(
        app["signatures"]
            .as_array()
            .expect("signatures")
            .iter()
            .all(|s| s["statedSigner"]["kind"] == "key")
    );
    assert_eq!(statuses(&app["attestations"]), ["unverified"; 3]);
    assert_eq!(
        app["sboms"][0],
        json!({
            "origin": app["attestations"][0]["origin"],
            "content": "unverified-content",
            "predicateType": "https://cyclonedx.org/bom",
            "components": 6,
            "ecosystems": ["deb", "maven"],
            "licenses": app["sboms"][0]["licenses"],
        })
    );
    assert_eq!(
        app["provenance"][0],
        json!({
            "origin": app["attestations"][1]["origin"],
            "content": "unverified-content",
            "predicateType": "https://slsa.dev/provenance/v1",
            "builderId": "https://ci.example.test/builder",
            "buildType": "https://example.test/build/v1",
            "sourceRepository": "git+https://github.com/acme/app@refs/heads/main",
            "sourceCommit": "0123456789abcdef0123456789abcdef01234567",
            "invocationId": "run-42",
        })
    );
    assert_eq!(
        app["vulnerabilities"][0],
        json!({
            "origin": app["attestations"][2]["origin"],
            "content": "unverified-content",
            "scanner": "fakescanner.example.com/cosign-testing",
            "finishedOn": "2022-04-12T00:10:00Z",
            "counts": {},
        })
    );
    assert_eq!(
        app["baseChain"],
        json!([{"image": w.registry.image("audit/base:1"), "digest": w.base.to_string(), "source": "annotation"}])
    );
    // the .sig and .att tags and the bundle referrer are listed
    let kinds: Vec<&str> = app["attached"]
        .as_array()
        .expect("attached")
        .iter()
        .map(|a| a["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["signatures", "attestations", "referrer"]);
    // referrers of referrers: a signature on the bundle referrer is listed one level deeper
    let referrer = app["attached"][2]["digest"]
        .as_str()
        .expect("referrer digest")
        .to_owned();
    let release = w.dir.path().join("release.key");
    sign(&format!("{}@{referrer}", w.registry.image("audit/app")), &release, &[]);
    let again = audit(&images[..1], &[]);
    again.assert_exit(0);
    let attached = again.stdout_json()["images"][0]["attached"].clone();
    let shape: Vec<(String, u64)> = attached
        .as_array()
        .expect("attached")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().expect("kind").to_owned(),
                a["depth"].as_u64().expect("depth"),
            )
        })
        .collect();
    let expected: Vec<(String, u64)> = [
        ("signatures", 1),
        ("attestations", 1),
        ("referrer", 1),
        ("signatures", 2),
    ]
    .iter()
    .map(|(k, d)| ((*k).to_owned(), *d))
    .collect();
    assert_eq!(shape, expected);

    let unsigned = &json["images"][1];
    assert_eq!(unsigned["signatures"], json!([]));
    assert_eq!(unsigned["attached"], json!([]));
    // the tampered statement cannot be read even unverified
    assert_eq!(statuses(&json["images"][3]["attestations"]), ["failed"]);

    // with the policy: decisions, publishers, exit 1
    let out = audit(&images, &["--policy", s(&w.policy)]);
    out.assert_exit(1);
    let json = out.stdout_json();
    let decisions: Vec<&str> = json["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["decision"].as_str().expect("decision"))
        .collect();
    assert_eq!(decisions, ["allow", "deny", "deny", "allow"]);
    let app = &json["images"][0];
    assert_eq!(statuses(&app["signatures"]), ["verified", "verified"]);
    assert!(
        app["signatures"]
            .as_array()
            .expect("sigs")
            .iter()
            .all(|s| s["verification"]["publisher"] == "release")
    );
    assert_eq!(statuses(&app["attestations"]), ["verified"; 3]);
    assert_eq!(app["sboms"][0]["content"], "verified");
    assert_eq!(app["sboms"][0]["denied"], json!([]));
    assert_eq!(app["provenance"][0]["content"], "verified");
    assert_eq!(app["policy"]["rule"], "app");
    assert_eq!(app["baseChain"][0]["decision"], "allow");
    // every check of the policy report is there
    let results: Vec<&str> = app["policy"]["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["result"].as_str().expect("result"))
        .collect();
    assert_eq!(results, ["pass", "pass"]);
    // twins: no signature; another key's signature is not trusted; a changed byte fails
    assert_eq!(json["images"][1]["policy"]["checks"][0]["code"], "no-signatures");
    let stranger = &json["images"][2]["signatures"][0]["verification"];
    assert_eq!(stranger["status"], "not-trusted");
    assert_eq!(stranger["code"], "signature-invalid");
    let tampered = &json["images"][3];
    assert_eq!(statuses(&tampered["signatures"]), ["verified"]);
    assert_eq!(tampered["attestations"][0]["verification"]["status"], "failed");
    assert_eq!(
        tampered["attestations"][0]["verification"]["code"],
        "evidence-malformed"
    );
    assert_eq!(tampered["sboms"], json!([]));

    // an allowed image alone exits 0 under the policy
    audit(&images[..1], &["--policy", s(&w.policy)]).assert_exit(0);
    // twin: a policy denying a package the SBOM lists denies the app and names it
    let denying = std::fs::read_to_string(&w.policy)
        .expect("policy")
        .replace("pkg:npm/left-pad", "pkg:deb/debian/netbase");
    let denying_path = w.dir.path().join("denying.yaml");
    std::fs::write(&denying_path, denying).expect("write");
    let out = audit(&images[..1], &["--policy", s(&denying_path)]);
    out.assert_exit(1);
    let app = &out.stdout_json()["images"][0];
    assert_eq!(app["decision"], "deny");
    assert_eq!(
        app["sboms"][0]["denied"],
        json!(["package pkg:deb/debian/netbase@6.3?arch=all&distro=debian-11 is denied by pkg:deb/debian/netbase"])
    );

    // human output names every image and decision
    let human = sigil(&["audit", &images[0], &images[2], "--policy", s(&w.policy)]).run();
    human.assert_exit(1);
    assert!(human.stdout.contains(&format!("ALLOW  {}", images[0])), "{human}");
    assert!(human.stdout.contains(&format!("DENY   {}", images[2])), "{human}");
    assert!(human.stdout.contains("not trusted"), "{human}");

    html_in_chromium(&w, &images);
}

/// The HTML report opened in headless Chromium: every image, decision and
/// signer in the DOM, the hostile annotation as text, no script but the page's.
fn html_in_chromium(w: &World, images: &[String]) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {chromium}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "chromium is needed for the HTML report test: apt-get install -y chromium (or set CHROMIUM)"
    );
    let page = w.dir.path().join("audit.html");
    let mut args = images.to_vec();
    args.splice(0..0, ["audit".to_owned()]);
    args.extend(["--policy".into(), s(&w.policy).into(), "--html".into(), s(&page).into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sigil(&refs).timeout(Duration::from_secs(120)).run().assert_exit(1);
    let html = std::fs::read_to_string(&page).expect("html written");
    assert!(!html.contains("<script>alert"), "the hostile annotation is not escaped");
    assert!(!html.contains("src=\"http"), "the page loads nothing");

    let profile = w.dir.path().join("chromium-profile");
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
    ];
    let run = |extra: &[String]| {
        Proc::new(&chromium)
            .args(common)
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(&url)
            .timeout(Duration::from_secs(90))
            .run()
    };
    let dom = run(&["--dump-dom".to_owned()]);
    dom.assert_exit(0);
    let dom = &dom.stdout;
    for image in images {
        assert!(dom.contains(image.as_str()), "{image} is not in the DOM");
    }
    for text in [
        "✔ ALLOW",
        "✖ DENY",
        "publisher release",
        "✔ verified",
        "✖ not trusted",
        "✖ failed",
    ] {
        assert!(dom.contains(text), "{text:?} is not in the DOM");
    }
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the hostile annotation is not shown as text"
    );
    assert_eq!(dom.matches("<script").count(), 1, "a script was injected");
    assert!(!dom.contains("<script>alert"));

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shot = shots.join("audit-report.png");
    let _ = std::fs::remove_file(&shot);
    run(&[
        format!("--screenshot={}", shot.display()),
        "--window-size=1280,2000".to_owned(),
    ])
    .assert_exit(0);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
    println!("audit report screenshot: {}", shot.display());
}

/// Pushes `repo:1`, a sample whose manifest names `base` as its base.
fn push_on(registry: &Registry, repo: &str, seed: u64, base: Option<(&str, &Digest)>) -> Digest {
    let digest = push_sample(registry, repo, "plain", seed);
    let Some((name, base)) = base else {
        fixtures::copy_tag(registry, repo, "plain", "1");
        return digest;
    };
    let (_, mut manifest) = fixtures::manifest(registry, repo, Target::Tag("plain".into()));
    manifest["annotations"] = json!({
        "org.opencontainers.image.base.name": registry.image(name),
        "org.opencontainers.image.base.digest": base.to_string(),
    });
    fixtures::put_manifest(registry, repo, Target::Tag("1".into()), &manifest)
}

#[test]
fn base_chains_stop_at_the_bound_and_at_cycles_and_bases_are_decided() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    let host = registry.host();

    // an image that is not there cannot be audited: exit 2, said in the report
    let out = audit(&[registry.image("chain/missing:1")], &[]);
    out.assert_exit(2);
    assert!(
        out.stdout_json()["images"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found")),
        "{out}"
    );

    // a chain six deep: c5 -> c4 -> ... -> c0
    let mut below = push_on(&registry, "chain/c0", 600, None);
    for n in 1..=5u64 {
        let name = format!("chain/c{}:1", n - 1);
        below = push_on(&registry, &format!("chain/c{n}"), 600 + n, Some((&name, &below)));
    }
    let out = audit(&[registry.image("chain/c5:1")], &[]);
    out.assert_exit(0);
    let chain = out.stdout_json()["images"][0]["baseChain"].clone();
    let names: Vec<&str> = chain
        .as_array()
        .expect("chain")
        .iter()
        .map(|l| l["image"].as_str().expect("image"))
        .collect();
    let expected: Vec<String> = (0..5).rev().map(|n| registry.image(&format!("chain/c{n}:1"))).collect();
    assert_eq!(names, expected);
    assert_eq!(chain[3]["note"], Value::Null);
    assert_eq!(chain[4]["note"], "not followed: the chain is deeper than 4 bases");

    // a signed app on an unsigned base: the app is allowed, its base denied
    let base = push_on(&registry, "chain/unsigned-base", 610, None);
    push_on(&registry, "chain/app", 611, Some(("chain/unsigned-base:1", &base)));
    sign(&registry.image("chain/app:1"), &release, &[]);
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: all\n    images: [\"{host}/chain/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    let out = audit(&[registry.image("chain/app:1")], &["--policy", s(&policy)]);
    out.assert_exit(0);
    let app = out.stdout_json()["images"][0].clone();
    assert_eq!(app["decision"], "allow");
    assert_eq!(
        app["baseChain"],
        json!([{
            "image": registry.image("chain/unsigned-base:1"),
            "digest": base.to_string(),
            "source": "annotation",
            "decision": "deny",
        }])
    );

    // twin: the same app under a rule holding its base to the policy is denied
    let holding_dir = dir.path().join("holding");
    std::fs::create_dir(&holding_dir).expect("mkdir");
    let holding = write_policy(
        &holding_dir,
        &format!(
            "publishers:\n  release: {{key: ../release.pub}}\nrules:\n  - name: all\n    images: [\"{host}/chain/**\"]\n    signatures: {{anyOf: [release]}}\n    baseImage: {{required: true}}\n"
        ),
    );
    let out = audit(&[registry.image("chain/app:1")], &["--policy", s(&holding)]);
    out.assert_exit(1);
    let app = out.stdout_json()["images"][0].clone();
    assert_eq!(app["decision"], "deny");
    let base_check = app["policy"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["kind"] == "baseImage"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(base_check["code"], "base-image-denied", "{app:#}");
    assert_eq!(
        app["policy"]["baseImages"][0]["image"],
        format!("{host}/chain/unsigned-base@{base}")
    );
    assert_eq!(app["baseChain"][0]["decision"], "deny");

    // two images whose provenance names each other: the cycle is stopped
    let p1 = push_sample(&registry, "chain/p1", "1", 620);
    let p2 = push_sample(&registry, "chain/p2", "1", 621);
    for (repo, other, other_repo) in [("chain/p1", &p2, "chain/p2"), ("chain/p2", &p1, "chain/p1")] {
        let predicate = dir.path().join(format!("{}.json", repo.replace('/', "-")));
        let hex = other.to_string().trim_start_matches("sha256:").to_owned();
        std::fs::write(
            &predicate,
            json!({
                "buildDefinition": {
                    "buildType": "https://mobyproject.org/buildkit@v1",
                    "externalParameters": {},
                    "resolvedDependencies": [{
                        "uri": format!("pkg:docker/{host}/{other_repo}@1?platform=linux%2Famd64"),
                        "digest": {"sha256": hex}
                    }]
                },
                "runDetails": {"builder": {"id": "https://ci.example.test/builder"}}
            })
            .to_string(),
        )
        .expect("write");
        attest(
            &registry.image(&format!("{repo}:1")),
            &release,
            "slsaprovenance1",
            &predicate,
        );
    }
    let out = audit(&[registry.image("chain/p1:1")], &[]);
    out.assert_exit(0);
    let p = out.stdout_json()["images"][0].clone();
    assert_eq!(
        p["bases"],
        json!([{"source": "provenance", "name": format!("{host}/chain/p2"), "digest": p2.to_string()}])
    );
    assert_eq!(
        p["baseChain"],
        json!([
            {"image": format!("{host}/chain/p2"), "digest": p2.to_string(), "source": "provenance"},
            {"image": format!("{host}/chain/p1"), "digest": p1.to_string(), "source": "provenance",
             "note": "a cycle: this image is already in the chain"},
        ])
    );
}

/// Keyless signatures in both forms and a keyless provenance naming an
/// unsigned base, made by sigil against the loopback Sigstore instance:
/// the audit shows each signer's identity, issuer and Fulcio extensions;
/// with a policy it verifies them, and denies the image until its base is
/// signed too.
#[test]
fn keyless_signers_are_shown_verified_and_their_base_decided() {
    use crate::keyless_signing::{github_identity, via_actions, write_root};
    use sigil_testkit::sigstore_instance::{GITHUB_ISSUER, GithubClaims, Instance};

    let instance = Instance::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let root = write_root(dir.path(), "root.json", &instance);
    let host = registry.host();
    let base = push_sample(&registry, "audit/kbase", "1", 530);
    push_sample(&registry, "audit/keyless", "1", 531);
    let image = registry.image("audit/keyless:1");
    via_actions(&instance, &["sign", &image]).assert_exit(0);
    via_actions(&instance, &["sign", &image, "--format", "bundle"]).assert_exit(0);
    let claims = GithubClaims::default();
    let provenance = dir.path().join("provenance.json");
    std::fs::write(
        &provenance,
        json!({
            "buildDefinition": {
                "buildType": "https://mobyproject.org/buildkit@v1",
                "externalParameters": {"workflow": {"repository": format!("https://github.com/{}", claims.repository), "ref": claims.r#ref}},
                "resolvedDependencies": [{
                    "uri": format!("pkg:docker/{host}/audit/kbase@1?platform=linux%2Famd64"),
                    "digest": {"sha256": base.hex()}
                }]
            },
            "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}
        })
        .to_string(),
    )
    .expect("write provenance");
    via_actions(
        &instance,
        &[
            "attest",
            &image,
            "--type",
            "slsaprovenance1",
            "--predicate",
            s(&provenance),
        ],
    )
    .assert_exit(0);

    // without a policy: the signers as the certificates state them
    let out = audit(std::slice::from_ref(&image), &[]);
    out.assert_exit(0);
    let audited = out.stdout_json()["images"][0].clone();
    let stated = json!({
        "kind": "certificate",
        "identity": github_identity(),
        "issuer": GITHUB_ISSUER,
        "repository": format!("https://github.com/{}", claims.repository),
        "workflow": format!("https://github.com/{}", claims.workflow_ref),
        "ref": claims.r#ref,
    });
    let signatures = audited["signatures"].as_array().expect("signatures");
    let forms: Vec<&str> = signatures
        .iter()
        .map(|s| s["origin"]["form"].as_str().expect("form"))
        .collect();
    assert_eq!(forms, ["tag", "referrer"], "{audited:#}");
    for signature in signatures {
        assert_eq!(signature["statedSigner"], stated, "{signature:#}");
        assert_eq!(signature["verification"]["status"], "unverified");
    }
    assert_eq!(
        audited["bases"],
        json!([{"source": "provenance", "name": format!("{host}/audit/kbase"), "digest": base.to_string()}])
    );

    // with a policy trusting the CI identity and holding the base to it
    let policy = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  ci:\n    keyless: {{issuer: {GITHUB_ISSUER}, subject: \"{}\", trustedRoot: {}}}\nrules:\n  - name: app\n    images: [\"{host}/audit/keyless\"]\n    signatures: {{anyOf: [ci]}}\n    attestations:\n      - predicateType: https://slsa.dev/provenance/v1\n        signedBy: [ci]\n    baseImage: {{required: true, images: [\"{host}/audit/kbase\"]}}\n  - name: bases\n    images: [\"{host}/audit/kbase\"]\n    signatures: {{anyOf: [ci]}}\n",
            github_identity(),
            s(&root)
        ),
    );
    let out = audit(std::slice::from_ref(&image), &["--policy", s(&policy)]);
    out.assert_exit(1);
    let audited = out.stdout_json()["images"][0].clone();
    assert_eq!(audited["decision"], "deny");
    assert_eq!(statuses(&audited["signatures"]), ["verified", "verified"]);
    assert_eq!(statuses(&audited["attestations"]), ["verified"]);
    assert_eq!(audited["signatures"][1]["verification"]["publisher"], "ci");
    let base_check = audited["policy"]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["kind"] == "baseImage"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(base_check["code"], "base-image-denied", "{audited:#}");
    assert_eq!(audited["baseChain"][0]["decision"], "deny");

    // twin: once the base is signed by the same CI identity, the image is allowed
    via_actions(&instance, &["sign", &registry.image("audit/kbase:1")]).assert_exit(0);
    let page = dir.path().join("keyless.html");
    let out = audit(
        std::slice::from_ref(&image),
        &["--policy", s(&policy), "--html", s(&page)],
    );
    out.assert_exit(0);
    let audited = out.stdout_json()["images"][0].clone();
    assert_eq!(audited["decision"], "allow", "{audited:#}");
    assert_eq!(audited["baseChain"][0]["decision"], "allow");
    let html = std::fs::read_to_string(&page).expect("html");
    assert!(html.contains(&github_identity()), "the HTML names the keyless signer");
}
