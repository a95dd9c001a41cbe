//! Benchmark of `verify --policy`: the pure engine on in-memory evidence
//! (a 50-rule policy, 3 attestation checks per rule), with verification and
//! decision costs measured apart; then `sigil verify --policy` over many
//! distinct images in a local registry (CNCF distribution), cold.
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
use sigil_verifier::policy::{Decision, Evidence, ImageName};
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

fn engine(now: time::OffsetDateTime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = write_keys(dir.path());
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, policy_text("registry.acme.example")).expect("write policy");
    let started = Instant::now();
    let (policy, diagnostics) = sigil_verifier::files::load_policy(&path, now);
    let load_ms = started.elapsed().as_secs_f64() * 1000.0;
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
            }
        })
        .collect();

    let rounds = 40;
    let started = Instant::now();
    for _ in 0..rounds {
        for e in &evidence {
            assert_eq!(policy.evaluate(e, now).decision, Decision::Allow);
        }
    }
    let full = started.elapsed().as_secs_f64() / (rounds * RULES) as f64;

    let types: Vec<&str> = predicates().iter().map(|(t, _)| *t).collect();
    let public: Vec<_> = keys.iter().map(SigningKey::public_key).collect();
    let started = Instant::now();
    for _ in 0..rounds {
        for (r, e) in evidence.iter().enumerate() {
            let key = &public[r % KEYS];
            std::hint::black_box(verify::judge_signatures(
                &e.signatures,
                key,
                &e.name.digest,
                &BTreeMap::new(),
            ));
            for (a, t) in e.attestations.iter().zip(&types) {
                std::hint::black_box(verify::attestation(&a.content, key, &e.name.digest, t).is_ok());
            }
        }
    }
    let verification = started.elapsed().as_secs_f64() / (rounds * RULES) as f64;

    let selections = 100_000;
    let started = Instant::now();
    for i in 0..selections {
        std::hint::black_box(policy.rule_for(&evidence[i % RULES].name).ok());
    }
    let select = started.elapsed().as_secs_f64() / selections as f64;

    println!(
        "pure engine: {RULES} rules x 3 attestation checks (slsa, sbom of 40 components, vuln), 1 signature + 3 attestations per image, ECDSA P-256"
    );
    println!("  policy load + lint (50 rules, 5 key files):        {load_ms:>9.2} ms");
    println!(
        "  full decision incl. verification:                   {:>9.1} µs  ({:>8.0} decisions/s)",
        full * 1e6,
        1.0 / full
    );
    println!(
        "  of which verification (4 signature checks):        {:>9.1} µs",
        verification * 1e6
    );
    println!(
        "  decision cost (full - verification):                {:>9.1} µs",
        (full - verification) * 1e6
    );
    println!(
        "  rule selection alone (most specific of 50):         {:>9.2} µs  ({:>8.0} selections/s)",
        select * 1e6,
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
                    key,
                    annotations: BTreeMap::new(),
                    format: sign::Format::Tag,
                    recursive: false,
                    created: now.to_owned(),
                    certificate: None,
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
