//! `sigil demo`: the main job on a built-in sample, with nothing to install.
//! A release signs and attests (an SBOM and a SLSA provenance) images in a
//! fresh OCI layout, tampered twins are refused, and a policy decides who may
//! deploy what, each denial with its reason. It runs the library calls
//! `sign`, `attest` and `verify --policy` run, and prints those commands so a
//! reader can repeat them by hand.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::json;
use sigil_verifier::gather::{self, SignatureContent, SignatureEvidence};
use sigil_verifier::keyless::Signer;
use sigil_verifier::keys::{self, PublicKey, SigningKey};
use sigil_verifier::layout::LayoutStore;
use sigil_verifier::oci::Descriptor;
use sigil_verifier::pipeline::{Outcome as Decision, PolicyJudge, Settings, at_least_one_valid};
use sigil_verifier::policy::{CheckResult, Report};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::{RegistryClient, RegistryOptions};
use sigil_verifier::sign::{self, AttestOptions, Format, SignOptions};
use sigil_verifier::verify::judge_signatures;
use sigil_verifier::{cosign, predicate, sample};
use time::OffsetDateTime;

use super::batch::decide;
use crate::Outcome;
use crate::args::{DemoArgs, OutputFormat};
use crate::common::{now_rfc3339, print, print_json};

/// What the demo writes into its directory (and clears on a re-run there).
const MARKER: &str = ".sigil-demo";
const WRITTEN: &[&str] = &[
    MARKER,
    "layout",
    "demo.key",
    "demo.pub",
    "stranger.pub",
    "sbom.json",
    "sbom-log4j.json",
    "provenance.json",
    "policy.yaml",
    "audit.html",
];

/// The registry name the layout records for each sample image, which the
/// policy's rule matches (as it would after `sigil copy` from a registry).
const REPOSITORY: &str = "registry.demo.example/shop";
const BUILDER: &str = "https://github.com/actions/runner/github-hosted";
const DENIED: &str = "pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1";

/// One signature check of the demo and whether sigil did what it should.
struct Step {
    title: String,
    expected_valid: bool,
    valid: bool,
    detail: String,
}

/// One policy decision and the one the demo expects.
struct Decided {
    image: String,
    expected_allow: bool,
    report: Report,
}

impl Decided {
    fn allowed(&self) -> bool {
        self.report.error.is_none() && self.report.decision == sigil_verifier::policy::Decision::Allow
    }

    /// The first failed check, as `code: reason`.
    fn reason(&self) -> String {
        if let Some(e) = &self.report.error {
            return format!("not evaluated: {e}");
        }
        self.report
            .checks
            .iter()
            .find(|c| c.result == CheckResult::Fail)
            .map(|c| format!("{}: {}", c.code.as_str(), c.reason))
            .unwrap_or_else(|| {
                let passed: Vec<&str> = self.report.checks.iter().map(|c| c.reason.as_str()).collect();
                passed.join("; ")
            })
    }
}

struct Shown {
    dir: PathBuf,
    /// The HTML audit report (kept even when the directory is removed).
    report: PathBuf,
    layout: String,
    good: Descriptor,
    steps: Vec<Step>,
    decisions: Vec<Decided>,
    commands: Vec<String>,
}

pub async fn run(args: DemoArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let (dir, temporary) = match args.dir {
        Some(dir) => (prepare(dir)?, false),
        None => (tempdir()?, true),
    };
    // A temporary directory is removed afterwards; its report is kept beside it.
    let report = if temporary {
        dir.with_extension("html")
    } else {
        dir.join("audit.html")
    };
    let shown = demo(&dir, &report).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let shown = shown?;
    let as_expected = shown.steps.iter().all(|s| s.valid == s.expected_valid)
        && shown.decisions.iter().all(|d| d.allowed() == d.expected_allow);
    match output {
        OutputFormat::Human => print(&human(&shown, temporary))?,
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/demo/v1",
            "directory": if temporary { None } else { Some(&shown.dir) },
            "image": {"reference": format!("{}:good", shown.layout), "digest": shown.good.digest},
            "steps": shown.steps.iter().map(|s| json!({
                "title": s.title, "expected": if s.expected_valid {"accept"} else {"refuse"},
                "result": if s.valid {"accepted"} else {"refused"}, "detail": s.detail,
            })).collect::<Vec<_>>(),
            "decisions": shown.decisions.iter().map(|d| json!({
                "image": d.image,
                "expected": if d.expected_allow {"allow"} else {"deny"},
                "decision": if d.allowed() {"allow"} else {"deny"},
                "reason": d.reason(),
            })).collect::<Vec<_>>(),
            "commands": shown.commands,
            "report": shown.report,
        }))?,
    }
    Ok(if as_expected { Outcome::Success } else { Outcome::Failed })
}

/// A `--dir` to run in: new, empty, or one an earlier demo made (whose
/// files are removed first, so a re-run starts from nothing).
fn prepare(dir: PathBuf) -> anyhow::Result<PathBuf> {
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.count(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(e).with_context(|| format!("cannot read --dir {}", dir.display())),
    };
    if entries > 0 {
        if !dir.join(MARKER).is_file() {
            anyhow::bail!(
                "--dir {} is not empty and was not made by sigil demo; give a new or empty directory",
                dir.display()
            );
        }
        for name in WRITTEN {
            let path = dir.join(name);
            let removed = match std::fs::symlink_metadata(&path) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&path),
                Ok(_) => std::fs::remove_file(&path),
                Err(_) => Ok(()),
            };
            removed.with_context(|| format!("cannot clear {} from the last demo", path.display()))?;
        }
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by sigil demo; a re-run clears what it wrote\n")?;
    Ok(dir)
}

/// Runs the demo in `dir`, writing the HTML audit report to `report`.
async fn demo(dir: &Path, report: &Path) -> anyhow::Result<Shown> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let layout_dir = dir.join("layout");
    let store = LayoutStore::create(&layout_dir)?;
    let layout = format!("oci:{}", layout_dir.display());
    let mut images = Vec::new();
    for (seed, tag) in [(1, "good"), (2, "unsigned"), (3, "stranger"), (4, "log4j")] {
        let image = sample::write(&store, seed, Some(tag)).await?;
        store
            .record_source_name(&image.digest, &format!("{REPOSITORY}/{tag}"))
            .await?;
        images.push(image);
    }
    let [good, unsigned, stranger_signed, log4j] = <[Descriptor; 4]>::try_from(images).expect("four images");
    let key = SigningKey::generate()?;
    let stranger = SigningKey::generate()?;
    let path = |name: &str| dir.join(name);
    std::fs::write(path("demo.pub"), key.public_key().to_pem())?;
    std::fs::write(path("demo.key"), keys::encrypt(&key, b"")?)?;
    std::fs::write(path("stranger.pub"), stranger.public_key().to_pem())?;
    std::fs::write(path("sbom.json"), sbom(false).to_string())?;
    std::fs::write(path("sbom-log4j.json"), sbom(true).to_string())?;
    std::fs::write(path("provenance.json"), provenance().to_string())?;
    std::fs::write(path("policy.yaml"), policy())?;

    // The release: sign (both forms for the good image) and attest.
    let created = now_rfc3339();
    let signing = |key| SignOptions {
        signer: Signer::key(key),
        annotations: [("env".to_owned(), "demo".to_owned())].into(),
        format: Format::Tag,
        recursive: false,
        created: created.clone(),
        certificate: None,
        upload: true,
    };
    // The repository name written into payloads, as `sigil sign` writes it
    // for this layout (so signing again by hand finds its duplicate).
    let layout_name = format!("{layout}:good").parse::<ImageRef>()?.repository_name();
    let name = |_tag: &str| layout_name.clone();
    sign::sign(&store, &name("good"), &good, &signing(&key)).await?;
    let bundle = SignOptions {
        format: Format::Bundle,
        ..signing(&key)
    };
    sign::sign(&store, &name("good"), &good, &bundle).await?;
    sign::sign(&store, &name("log4j"), &log4j, &signing(&key)).await?;
    sign::sign(&store, &name("stranger"), &stranger_signed, &signing(&stranger)).await?;
    for (image, tag, by, sbom_file) in [
        (&good, "good", &key, "sbom.json"),
        (&log4j, "log4j", &key, "sbom-log4j.json"),
        (&stranger_signed, "stranger", &stranger, "sbom.json"),
    ] {
        for (ty, file) in [("cyclonedx", sbom_file), ("slsaprovenance1", "provenance.json")] {
            let encoded = predicate::encode(ty, std::fs::read(path(file))?, &created)?;
            let options = AttestOptions {
                signer: Signer::key(by),
                predicate_type: encoded.predicate_type,
                predicate: encoded.json,
                format: Format::Tag,
                recursive: false,
                created: created.clone(),
                certificate: None,
            };
            sign::attest(&store, &name(tag), image, &options).await?;
        }
    }

    let steps = signature_steps(&store, &key.public_key(), &stranger.public_key(), &good, &unsigned).await?;

    // The deploy side: one policy decides about every image.
    let now = OffsetDateTime::now_utc();
    let policy = Arc::new(super::verify_policy::load_policy(&path("policy.yaml"), now)?);
    let client = Arc::new(RegistryClient::new(RegistryOptions::default())?);
    let expectations = [
        ("good", true),
        ("unsigned", false),
        ("stranger", false),
        ("log4j", false),
    ];
    let refs = expectations
        .iter()
        .map(|(tag, _)| format!("{layout}:{tag}").parse::<ImageRef>())
        .collect::<Result<Vec<_>, _>>()?;
    let decided = decide(
        refs.clone(),
        client.clone(),
        PolicyJudge(policy.clone()),
        Settings::default(),
        now,
    )
    .await;
    let decisions = decided
        .into_iter()
        .zip(expectations)
        .map(|(d, (tag, expected_allow))| {
            let report = d.verdict.context("the policy judges every image")?;
            Ok(Decided {
                image: format!("{layout}:{tag}"),
                expected_allow,
                report,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    // The auditor's view of the same images, as one HTML page.
    let page = super::audit::html_report(&refs, policy, client, now).await;
    std::fs::write(report, page).with_context(|| format!("cannot write {}", report.display()))?;

    let d = dir.display();
    let commands = vec![
        format!("export SIGIL_PASSWORD=    # demo.key has an empty password"),
        format!("sigil sign {layout}:good --key {d}/demo.key -a env=demo"),
        format!("sigil attest {layout}:good --key {d}/demo.key --type cyclonedx --predicate {d}/sbom.json"),
        format!("sigil attest {layout}:good --key {d}/demo.key --type slsaprovenance1 --predicate {d}/provenance.json"),
        format!("sigil verify {layout}:good --key {d}/demo.pub -a env=demo"),
        format!(
            "sigil verify {layout}:good {layout}:unsigned {layout}:stranger {layout}:log4j --policy {d}/policy.yaml"
        ),
        format!("sigil tree {layout}:good"),
        format!(
            "sigil audit {layout}:good {layout}:unsigned {layout}:stranger {layout}:log4j --policy {d}/policy.yaml --html {}",
            report.display()
        ),
    ];
    Ok(Shown {
        report: report.to_owned(),
        dir: dir.to_owned(),
        layout,
        good,
        steps,
        decisions,
        commands,
    })
}

/// Signatures judged by key: the good image verifies, and its tampered
/// twins (another key, a flipped byte, the signatures moved onto another
/// image) are refused.
async fn signature_steps(
    store: &LayoutStore,
    public: &PublicKey,
    stranger: &PublicKey,
    good: &Descriptor,
    other: &Descriptor,
) -> anyhow::Result<Vec<Step>> {
    let evidence = gather::signatures(store, &good.digest).await?;
    let judge =
        |title: &str, expected_valid: bool, evidence: &[SignatureEvidence], key: &PublicKey, image: &Descriptor| {
            let checks = judge_signatures(evidence, key, &image.digest, &Default::default());
            let valid = at_least_one_valid(checks.iter().map(|c| &c.outcome)) == Decision::Allowed;
            let detail = if checks.is_empty() {
                "no signatures found".to_owned()
            } else {
                checks
                    .iter()
                    .map(|c| match &c.outcome {
                        Ok(s) => format!("valid ({}, {})", c.origin, s.signer),
                        Err(why) => format!("refused: {why}"),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            Step {
                title: title.to_owned(),
                expected_valid,
                valid,
                detail,
            }
        };
    Ok(vec![
        judge(
            "the signed image verifies with its public key (tag and bundle forms)",
            true,
            &evidence,
            public,
            good,
        ),
        judge("another key is refused", false, &evidence, stranger, good),
        judge(
            "a signature with one flipped byte is refused",
            false,
            &flip_signature_bytes(&evidence),
            public,
            good,
        ),
        judge(
            "the same signatures moved onto another image are refused",
            false,
            &evidence,
            public,
            other,
        ),
    ])
}

fn human(shown: &Shown, temporary: bool) -> String {
    let mut text = format!(
        "sigil demo: a release signs and attests, a policy decides\n  layout   {} (images good, unsigned, stranger, log4j)\n  key      demo.key (empty password), demo.pub\n  policy   policy.yaml: signed by demo.pub, built by {BUILDER}, no {DENIED}\n\nSignatures, by key:\n",
        shown.layout
    );
    for s in &shown.steps {
        let mark = if s.valid == s.expected_valid { "ok  " } else { "BAD " };
        let verdict = if s.valid { "accepted" } else { "refused" };
        text.push_str(&format!("{mark} {}: {verdict}\n       {}\n", s.title, s.detail));
    }
    text.push_str("\nThe policy's decisions:\n");
    for d in &shown.decisions {
        let mark = if d.allowed() == d.expected_allow {
            "ok  "
        } else {
            "BAD "
        };
        let verdict = if d.allowed() { "ALLOW" } else { "DENY " };
        let tag = d.image.rsplit(':').next().unwrap_or(&d.image);
        text.push_str(&format!("{mark} {verdict} {tag:<9} {}\n", d.reason()));
    }
    text.push_str(&format!(
        "\nThe audit report (signers, SBOM, provenance, decisions): {}\n",
        shown.report.display()
    ));
    if temporary {
        text.push_str(
            "\nThe files were in a temporary directory, now removed. Keep them with\n  sigil demo --dir DIR\nand then repeat by hand:\n",
        );
    } else {
        text.push_str(&format!(
            "\nThe files are in {}. Repeat by hand:\n",
            shown.dir.display()
        ));
    }
    for c in &shown.commands {
        text.push_str(&format!("  {c}\n"));
    }
    text
}

/// A CycloneDX SBOM of the sample image; with `log4j`, one that lists a
/// log4j-core the policy denies.
fn sbom(log4j: bool) -> serde_json::Value {
    let mut components = vec![json!({
        "type": "library", "name": "zlib", "version": "1.3.1",
        "purl": "pkg:generic/zlib@1.3.1", "licenses": [{"license": {"id": "Zlib"}}]
    })];
    if log4j {
        components.push(json!({
            "type": "library", "name": "log4j-core", "version": "2.14.1",
            "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
            "licenses": [{"license": {"id": "Apache-2.0"}}]
        }));
    }
    json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1, "components": components})
}

/// A SLSA v1 provenance as a GitHub-hosted workflow would write it.
fn provenance() -> serde_json::Value {
    json!({
        "buildDefinition": {
            "buildType": "https://actions.github.io/buildtypes/workflow/v1",
            "externalParameters": {"workflow": {
                "ref": "refs/tags/v1.0.0", "repository": "https://github.com/demo/shop", "path": ".github/workflows/release.yml"
            }},
            "internalParameters": {"github": {"runner_environment": "github-hosted"}},
            "resolvedDependencies": [{"uri": "git+https://github.com/demo/shop@refs/tags/v1.0.0",
                                      "digest": {"gitCommit": "c27d339ee6075c1f744c5d4b200f7901aad2c369"}}]
        },
        "runDetails": {
            "builder": {"id": BUILDER},
            "metadata": {"invocationId": "https://github.com/demo/shop/actions/runs/1/attempts/1"}
        }
    })
}

fn policy() -> String {
    format!(
        r#"# The demo's policy: what may run from {REPOSITORY}.
apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release:
    key: demo.pub
rules:
  - name: shop
    images: ["{REPOSITORY}/**"]
    signatures: {{ anyOf: [release] }}
    attestations:
      - predicateType: https://slsa.dev/provenance/v1
        signedBy: [release]
        slsa: {{ builderIds: ["{BUILDER}"] }}
      - predicateType: https://cyclonedx.org/bom
        signedBy: [release]
        sbom: {{ deniedPackages: ["{DENIED}"] }}
    mode: enforce
"#
    )
}

/// The evidence with the last byte of every signature flipped.
fn flip_signature_bytes(evidence: &[SignatureEvidence]) -> Vec<SignatureEvidence> {
    let b64 = base64::engine::general_purpose::STANDARD;
    evidence
        .iter()
        .map(|e| {
            let mut e = e.clone();
            match &mut e.content {
                SignatureContent::SimpleSigning { annotations, .. } => {
                    if let Some(sig) = annotations.get_mut(cosign::SIGNATURE_ANNOTATION) {
                        let mut raw = b64.decode(sig.as_bytes()).unwrap_or_default();
                        if let Some(last) = raw.last_mut() {
                            *last ^= 1;
                        }
                        *sig = b64.encode(raw);
                    }
                }
                SignatureContent::Bundle(bytes) => {
                    let mut bundle: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
                    if let Some(sig) = bundle.pointer_mut("/dsseEnvelope/signatures/0/sig") {
                        let mut raw = b64.decode(sig.as_str().unwrap_or_default()).unwrap_or_default();
                        if let Some(last) = raw.last_mut() {
                            *last ^= 1;
                        }
                        *sig = b64.encode(raw).into();
                    }
                    *bytes = serde_json::to_vec(&bundle).unwrap_or_default();
                }
                SignatureContent::Unreadable(_) => {}
            }
            e
        })
        .collect()
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let dir = std::env::temp_dir().join(format!("sigil-demo-{}", hex::encode(random)));
    Ok(dir)
}
