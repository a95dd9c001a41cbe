//! Benchmark of `verify --policy`: the pure engine on in-memory evidence
//! (a 50-rule policy loaded from memory, 3 attestation checks per rule),
//! with the signature checks, the content checks and rule selection
//! measured apart from the whole decision; then `sigil verify --policy`
//! over many distinct images in a local registry (CNCF distribution), cold.
//!
//! The decision cost is what `Policy::evaluate` spends besides the
//! signature checks: the time of evaluating an image minus the time of the
//! same signature checks (`verify::judge_signatures` and
//! `verify::attestation`, which parse the envelopes and statements) made on
//! the same evidence in the engine's order, interleaved with the content
//! checks as the engine interleaves them (so both see the same caches). The
//! content checks (reading the predicate, then slsa / sbom /
//! vulnerabilities) are timed in that replay too, and shown as part of the
//! decision cost; the engine's own work (selection, combinators, report) is
//! evaluate minus the whole replay, timed as one block like evaluate. Each
//! timed evaluate follows an untimed one of the same image, so it finds the
//! caches as warm as the replay that follows it. The signature checks
//! are timed in short sections, which a busy machine interrupts less often
//! than a whole evaluation, so the decision cost errs on the high side.
//! Each image is timed alone in interleaved passes and each figure is its
//! fastest pass, averaged over the images, so a busy machine disturbs the
//! figures little; medians are printed beside.
//!
//!     cargo bench -p sigil --bench policy            # 500 images end to end
//!     cargo bench -p sigil --bench policy -- 100     # another count
//!     cargo bench -p sigil --bench policy -- engine-only
//!
//! Figures are recorded in docs/benchmarks.md.

mod common;
use sigil_testkit as support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use futures::{StreamExt as _, stream};
use serde_json::{Value, json};
use sigil_verifier::digest::Digest;
use sigil_verifier::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, pae};
use sigil_verifier::gather::{AttestationContent, AttestationEvidence, Origin, SignatureContent, SignatureEvidence};
use sigil_verifier::intoto::Statement;
use sigil_verifier::keys::SigningKey;
use sigil_verifier::policy::{self, Decision, Evidence, ImageName, MemoryFiles, checks};
use sigil_verifier::reference::RegistryRef;
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::{sample, sign, verify};

const RULES: usize = 50;
const KEYS: usize = 5;
const PROV: &str = "https://slsa.dev/provenance/v1";
const CDX: &str = "https://cyclonedx.org/bom";
const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

fn policy_text(host: &str) -> String {
    let mut text = String::from("apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n");
    for k in 0..KEYS {
        text.push_str(&format!("  k{k}: {{key: k{k}.pub}}\n"));
    }
    text.push_str("rules:\n");
    for r in 0..RULES {
        let k = r % KEYS;
        text.push_str(&format!(
            "  - name: team{r}\n    images: [\"{host}/team{r}/**\"]\n    signatures: {{anyOf: [k{k}]}}\n    attestations:\n      - predicateType: {PROV}\n        signedBy: [k{k}]\n        slsa: {{builderIds: [\"https://ci.acme.example/*\"], sourceRepositories: [\"github.com/acme/*\"]}}\n      - predicateType: {CDX}\n        signedBy: [k{k}]\n        sbom: {{deniedPackages: [\"pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1\"], deniedLicenses: [AGPL-3.0-only]}}\n      - predicateType: {VULN}\n        signedBy: [k{k}]\n        vulnerabilities: {{maxAge: 168h, maxSeverity: high}}\n"
        ));
    }
    text
}

fn predicates() -> [(&'static str, Value); 3] {
    let components: Vec<Value> = (0..40)
        .map(|i| json!({"name": format!("lib{i}"), "purl": format!("pkg:maven/org.acme/lib{i}@1.{i}.0"), "licenses": [{"license": {"id": "Apache-2.0"}}]}))
        .collect();
    [
        (
            PROV,
            json!({"buildDefinition": {"buildType": "https://ci.acme.example/t", "externalParameters": {"workflow": {"repository": "https://github.com/acme/app"}}}, "runDetails": {"builder": {"id": "https://ci.acme.example/runner"}}}),
        ),
        (CDX, json!({"bomFormat": "CycloneDX", "components": components})),
        (
            VULN,
            json!({"scanner": {"result": {"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "LOW"}]}]}}, "metadata": {"scanFinishedOn": "2026-05-30T00:00:00Z"}}),
        ),
    ]
}

fn statement_bytes(image: &Digest, predicate_type: &str, predicate: &Value) -> Vec<u8> {
    let raw = serde_json::value::to_raw_value(predicate).expect("raw");
    Statement::about("bench/app", image, predicate_type, raw).to_json()
}

fn write_keys(dir: &std::path::Path) -> Vec<SigningKey> {
    (0..KEYS)
        .map(|k| {
            let key = SigningKey::generate().expect("key");
            std::fs::write(dir.join(format!("k{k}.pub")), key.public_key().to_pem()).expect("write key");
            key
        })
        .collect()
}

/// The smallest and the median of some timings, in seconds.
fn min_median(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (samples[0], samples[samples.len() / 2])
}

fn engine(now: time::OffsetDateTime) {
    // The policy and its key files in memory: the pure loader, no disk.
    let keys: Vec<SigningKey> = (0..KEYS).map(|_| SigningKey::generate().expect("key")).collect();
    let files = keys.iter().enumerate().fold(MemoryFiles::default(), |files, (k, key)| {
        files.with(format!("/bench/k{k}.pub"), key.public_key().to_pem())
    });
    let text = policy_text("registry.acme.example");
    let path = std::path::Path::new("/bench/policy.yaml");
    let loads: Vec<f64> = (0..20)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(policy::compile(&text, path, now, &files));
            started.elapsed().as_secs_f64()
        })
        .collect();
    let (load_min, load_median) = min_median(loads);
    let (policy, diagnostics) = policy::compile(&text, path, now, &files);
    let policy = policy.unwrap_or_else(|| panic!("{}", diagnostics.render_human()));

    // One image per rule, each with 1 signature and 3 attestations by its team's key.
    let evidence: Vec<Evidence<'static>> = (0..RULES)
        .map(|r| {
            let digest = Digest::sha256_of(format!("image{r}").as_bytes());
            let key = &keys[r % KEYS];
            let payload = sigil_verifier::simplesigning::payload("bench/app", &digest, &BTreeMap::new());
            let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload).expect("sign"));
            let origin = Origin::Tag {
                tag: "t".into(),
                layer: digest.clone(),
            };
            let signatures = vec![SignatureEvidence {
                origin: origin.clone(),
                content: SignatureContent::SimpleSigning {
                    payload,
                    annotations: BTreeMap::from([("dev.cosignproject.cosign/signature".to_owned(), sig)]),
                },
            }];
            let attestations: Vec<AttestationEvidence> = predicates()
                .iter()
                .map(|(t, p)| {
                    let body = statement_bytes(&digest, t, p);
                    let s = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &body)).expect("sign");
                    AttestationEvidence {
                        origin: origin.clone(),
                        claimed_type: Some((*t).to_owned()),
                        content: AttestationContent::Envelope {
                            envelope: Envelope::new(IN_TOTO_PAYLOAD_TYPE, &body, &s).to_json(),
                            annotations: Default::default(),
                        },
                    }
                })
                .collect();
            let name = ImageName {
                repository: format!("registry.acme.example/team{r}/app"),
                tag: Some("v1".into()),
                digest,
            };
            Evidence {
                image: name.repository.clone(),
                name,
                recorded: None,
                ignored_tag: None,
                signatures: signatures.into(),
                attestations: attestations.into(),
                notation: None,
                annotations: None,
            }
        })
        .collect();
    for e in &evidence {
        let report = policy.evaluate(e, now);
        assert_eq!(report.decision, Decision::Allow, "{}", report.render_human());
        assert_eq!(report.checks.len(), 4, "{}", report.render_human());
    }

    let types: Vec<&str> = predicates().iter().map(|(t, _)| *t).collect();
    // The keys the policy loaded (the very objects the engine verifies with).
    let public: Vec<_> = (0..KEYS)
        .map(|k| {
            policy.publishers[&format!("k{k}")]
                .authority
                .key()
                .expect("a key publisher")
                .clone()
        })
        .collect();
    // The engine's work for image `r` redone piece by piece, in its order
    // (the signature, then each attestation verified, its predicate read
    // and its content checked), each piece timed: (signature checks,
    // predicate reading, content checks), in seconds.
    let replay = |r: usize| {
        let (e, key) = (&evidence[r], &public[r % KEYS]);
        let cx = checks::Context { image: &e.name, now };
        let started = Instant::now();
        let signatures = verify::judge_signatures(&e.signatures, key, &e.name.digest, &BTreeMap::new());
        let mut verifying = started.elapsed().as_secs_f64();
        assert!(signatures.iter().all(|c| c.outcome.is_ok()));
        let (mut parsing, mut checking) = (0.0, 0.0);
        for ((a, t), requirement) in e.attestations.iter().zip(&types).zip(&policy.rules[r].attestations) {
            let started = Instant::now();
            let verified = verify::attestation(&a.content, key, &e.name.digest, t);
            verifying += started.elapsed().as_secs_f64();
            let verified = verified.expect("verifies");
            let started = Instant::now();
            let predicate = checks::Predicate::of(&verified.statement, &requirement.checks).expect("predicate");
            parsing += started.elapsed().as_secs_f64();
            let started = Instant::now();
            for check in &requirement.checks {
                check.run(&verified.statement, &predicate, cx).expect("passes");
            }
            checking += started.elapsed().as_secs_f64();
        }
        (verifying, parsing, checking)
    };

    // Each image is evaluated, then replayed, then its rule selected, pass
    // after pass; each figure is the image's fastest pass, averaged over the
    // images: a pass takes well under a millisecond, so on a busy machine
    // most images get some undisturbed passes. Medians are shown beside.
    let rounds = 200;
    let selections = 50;
    let mut timings = vec![[const { Vec::new() }; 6]; RULES];
    for _ in 0..rounds {
        for (r, e) in evidence.iter().enumerate() {
            let t = &mut timings[r];
            // Untimed: the timed evaluate then finds the caches as warm as
            // the replay after it does, so the subtraction does not charge
            // cold caches to the decision.
            std::hint::black_box(policy.evaluate(e, now));
            let started = Instant::now();
            std::hint::black_box(policy.evaluate(e, now));
            t[0].push(started.elapsed().as_secs_f64());
            let started = Instant::now();
            let (verifying, parsing, checking) = replay(r);
            t[5].push(started.elapsed().as_secs_f64());
            t[1].push(verifying);
            t[2].push(parsing);
            t[3].push(checking);
            let started = Instant::now();
            for _ in 0..selections {
                std::hint::black_box(policy.rule_for(std::hint::black_box(&e.name)).ok());
            }
            t[4].push(started.elapsed().as_secs_f64() / f64::from(selections));
        }
    }
    // (fastest, median) of each kind, averaged over the images.
    let figure = |kind: usize| {
        let (mut fastest, mut median) = (0.0, 0.0);
        for t in &timings {
            let (f, m) = min_median(t[kind].clone());
            fastest += f / RULES as f64;
            median += m / RULES as f64;
        }
        (fastest, median)
    };
    let (full, full_median) = figure(0);
    let (verification, verification_median) = figure(1);
    let (parsing, parsing_median) = figure(2);
    let (checking, checking_median) = figure(3);
    let (select, select_median) = figure(4);
    let (replayed, replayed_median) = figure(5);
    let (content, content_median) = (parsing + checking, parsing_median + checking_median);
    let decision = full - verification;

    let us = |s: f64| s * 1e6;
    println!(
        "pure engine: {RULES} rules x 3 attestation checks (slsa, sbom of 40 components, vuln), 1 signature + 3 attestations per image, ECDSA P-256"
    );
    println!("per image: the fastest of {rounds} interleaved passes, averaged over the {RULES} images (median pass)");
    println!(
        "  policy load + lint (50 rules, 5 key files, in memory): {:>8.2} ms  ({:.2} ms)",
        load_min * 1e3,
        load_median * 1e3
    );
    println!(
        "  full decision incl. verification (evaluate):           {:>8.1} µs  ({:.1} µs; {:.0} decisions/s)",
        us(full),
        us(full_median),
        1.0 / full
    );
    println!(
        "  signature checks alone (4 per image, parsing incl.):   {:>8.1} µs  ({:.1} µs)",
        us(verification),
        us(verification_median)
    );
    println!(
        "  decision cost = evaluate - signature checks:           {:>8.1} µs  ({:.1} µs)",
        us(decision),
        us(full_median - verification_median)
    );
    println!(
        "    of which content checks:                             {:>8.1} µs  ({:.1} µs)",
        us(content),
        us(content_median)
    );
    println!(
        "      reading the 3 predicates (one pass, no JSON tree): {:>8.1} µs  ({:.1} µs)",
        us(parsing),
        us(parsing_median)
    );
    println!(
        "      slsa + sbom (40 package URLs) + vuln on what read: {:>8.1} µs  ({:.1} µs)",
        us(checking),
        us(checking_median)
    );
    println!(
        "    the engine's own work (evaluate - the whole replay): {:>8.1} µs  ({:.1} µs)",
        us(full - replayed),
        us(full_median - replayed_median)
    );
    println!(
        "  rule selection alone (most specific of 50):            {:>8.3} µs  ({:.3} µs; {:.0} selections/s)",
        us(select),
        us(select_median),
        1.0 / select
    );
}

fn end_to_end(count: usize, now: &str) {
    let registry = support::Registry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = write_keys(dir.path());
    let policy_path = dir.path().join("policy.yaml");
    std::fs::write(&policy_path, policy_text(&host)).expect("write policy");
    let images: Vec<String> = (0..count)
        .map(|i| registry.image(&format!("team{}/app{i}:v1", i % RULES)))
        .collect();
    let started = Instant::now();
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(
        stream::iter(images.iter().enumerate()).for_each_concurrent(16, |(i, image)| {
            let client = client.clone();
            let key = &keys[(i % RULES) % KEYS];
            async move {
                let reference = RegistryRef::parse(image).expect("reference");
                let store = RegistryStore::new(client, &reference);
                let descriptor = sample::write(&store, 5_000_000 + i as u64, Some("v1"))
                    .await
                    .expect("push sample");
                let options = sign::SignOptions {
                    signer: sigil_verifier::keyless::Signer::key(key),
                    annotations: BTreeMap::new(),
                    format: sign::Format::Tag,
                    recursive: false,
                    created: now.to_owned(),
                    certificate: None,
                    upload: true,
                };
                sign::sign(&store, &reference.name(), &descriptor, &options)
                    .await
                    .expect("sign");
                for (t, p) in predicates() {
                    let body = statement_bytes(&descriptor.digest, t, &p);
                    let bundle = sign::key_signed_bundle(&body, key).expect("sign");
                    sign::push_bundle_referrer(&store, &descriptor, &bundle, t, now)
                        .await
                        .expect("attest");
                }
            }
        }),
    );
    eprintln!(
        "pushed, signed and attested {count} images in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    println!(
        "end to end: {count} distinct images, 1 signature (tag) + 3 attestations (bundle referrers) each, local docker-registry, release build, cold process"
    );
    println!(
        "{:<52} {:>8} {:>9} {:>9} {:>10} {:>10} {:>12}",
        "run", "seconds", "images/s", "ms/image", "peak RSS", "sigil CPU", "registry CPU"
    );
    let pid = registry.pid();
    let policy_arg = policy_path.to_str().expect("utf8");
    for concurrency in ["1", "16"] {
        let mut args = vec![
            "verify",
            "--policy",
            policy_arg,
            "--at",
            "2026-06-01T00:00:00Z",
            "--concurrency",
            concurrency,
        ];
        args.extend(images.iter().map(String::as_str));
        let m = common::run_sigil(&args, pid);
        let n = count as f64;
        println!(
            "{:<52} {:>8.2} {:>9.1} {:>9.2} {:>6.1} MiB {:>8.2} s {:>10.2} s",
            format!("verify --policy (50 rules), --concurrency {concurrency}"),
            m.seconds,
            n / m.seconds,
            m.seconds * 1000.0 / n,
            m.peak_rss_mib,
            m.cpu_seconds,
            m.registry_cpu_seconds
        );
    }
}

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500);
    engine(time::macros::datetime!(2026-06-01 00:00 UTC));
    if !std::env::args().any(|a| a == "engine-only") {
        end_to_end(count, "2026-06-01T00:00:00Z");
    }
}
