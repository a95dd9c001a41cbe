//! Benchmark of `sigil verify --policy` on an image whose attestation is a
//! large CycloneDX SBOM (issue 12 point 7): 250,000 components, about 37 MB,
//! signed with a key in cosign's tag form, in a local registry (CNCF
//! distribution) and in an OCI layout copied from it. Each run is the
//! release `sigil` binary, measured for wall time and peak RSS:
//!
//! - `verify-attestation --type cyclonedx`, the reference;
//! - `verify --policy` with a policy that asks only for a signature
//!   (the attestation is never needed);
//! - with one that also asks for a verified CycloneDX attestation, no content
//!   check (the envelope is verified, the SBOM is not read into a view);
//! - with one that adds an `sbom:` rule (denied packages and licences), which
//!   reads every component.
//!
//! ```sh
//! cargo bench -p sigil --bench sbom_policy              # 250k components
//! cargo bench -p sigil --bench sbom_policy -- 100000    # another count
//! SIGIL_BENCH_BIN=/path/to/sigil cargo bench -p sigil --bench sbom_policy
//! ```
//!
//! `SIGIL_BENCH_BIN` measures another build of sigil (an older one, for a
//! before/after comparison) with the same images and policies.
//! Figures are recorded in docs/benchmarks.md.

mod common;
use sigil_testkit as support;

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sigil_verifier::reference::RegistryRef;
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::sample;

const CDX: &str = "https://cyclonedx.org/bom";

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(250_000);
    let measured = std::env::var("SIGIL_BENCH_BIN").unwrap_or_else(|_| common::SIGIL.to_owned());
    let registry = support::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_path, pub_path) = common::key_files(dir.path());
    let (k, p) = (key_path.to_str().expect("utf8"), pub_path.to_str().expect("utf8"));
    let sbom = dir.path().join("bom.json");
    let bytes = write_cyclonedx(&sbom, count);
    let image = registry.image("bench/sbom:v1");
    push_sample(&image);
    // The images are made by this tree's sigil, whichever is measured.
    for (what, args) in [
        ("sign", vec!["sign", &image, "--key", k]),
        (
            "attest",
            vec![
                "attest",
                &image,
                "--key",
                k,
                "--type",
                "cyclonedx",
                "--predicate",
                sbom.to_str().expect("utf8"),
            ],
        ),
    ] {
        let m = common::run_sigil(&args, registry.pid());
        println!(
            "made with this tree's sigil {what}: {:.2} s, {:.0} MiB peak, {:.2} s CPU (registry {:.2} s)",
            m.seconds, m.peak_rss_mib, m.cpu_seconds, m.registry_cpu_seconds
        );
    }
    let layout = format!("oci:{}:v1", dir.path().join("layout").display());
    common::run_sigil(&["copy", &image, &layout], registry.pid());
    let policies = [
        ("signature only", write_policy(dir.path(), "signature", false, false)),
        (
            "signature + attestation",
            write_policy(dir.path(), "attestation", true, false),
        ),
        (
            "signature + attestation + sbom rule",
            write_policy(dir.path(), "sbom", true, true),
        ),
    ];
    println!(
        "sigil verify --policy with a {:.1} MB CycloneDX SBOM ({count} components), release build: {measured}",
        bytes as f64 / 1e6
    );
    println!(
        "{:<58} {:>8} {:>10} {:>8} {:>10}",
        "run", "seconds", "peak RSS", "RSS/doc", "sigil CPU"
    );
    for (place, target) in [("registry", &image), ("layout", &layout)] {
        let mut runs: Vec<(String, Vec<String>)> = vec![(
            format!("verify-attestation --type cyclonedx ({place})"),
            ["verify-attestation", target, "--key", p, "--type", "cyclonedx"]
                .map(str::to_owned)
                .to_vec(),
        )];
        for (title, policy) in &policies {
            runs.push((
                format!("verify --policy, {title} ({place})"),
                ["verify", target, "--policy", policy].map(str::to_owned).to_vec(),
            ));
        }
        for (title, args) in runs {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let m = measure(&measured, &args);
            println!(
                "{title:<58} {:>8.2} {:>6.0} MiB {:>7.2}x {:>8.2} s",
                m.seconds,
                m.peak_rss_mib,
                m.peak_rss_mib * 1_048_576.0 / bytes as f64,
                m.cpu_seconds,
            );
        }
    }
}

/// A policy in `dir` for every image, trusting `bench.pub`: a signature,
/// then (with `attestation`) a CycloneDX attestation, then (with `sbom`) an
/// `sbom:` rule over it that the synthetic document passes.
fn write_policy(dir: &std::path::Path, name: &str, attestation: bool, sbom: bool) -> String {
    let mut text = String::from(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  bench: {key: bench.pub}\nrules:\n  - name: all\n    images: [\"**\"]\n    signatures: {anyOf: [bench]}\n",
    );
    if attestation {
        text.push_str(&format!(
            "    attestations:\n      - predicateType: {CDX}\n        signedBy: [bench]\n"
        ));
    }
    if sbom {
        text.push_str(
            "        sbom: {deniedPackages: [\"pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1\"], deniedLicenses: [AGPL-3.0-only]}\n",
        );
    }
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write policy");
    path.to_str().expect("utf8").to_owned()
}

fn push_sample(image: &str) {
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let store = RegistryStore::new(client, &RegistryRef::parse(image).expect("reference"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(sample::write(&store, 12_007, Some("v1")))
        .expect("push sample");
}

/// Writes a CycloneDX 1.5 document of `count` library components of about
/// 150 bytes each (name, version, purl, licence, as syft writes them);
/// returns its size.
fn write_cyclonedx(path: &std::path::Path, count: usize) -> usize {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let head = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"metadata":{"component":{"type":"container","name":"bench"}},"components":["#;
    let mut written = head.len();
    out.write_all(head.as_bytes()).expect("write");
    for n in 0..count {
        let component = format!(
            r#"{}{{"type":"library","name":"bench-package-{n}","version":"1.{}.{}","purl":"pkg:npm/bench-package-{n}@1.{}.{}","licenses":[{{"license":{{"id":"MIT"}}}}]}}"#,
            if n == 0 { "" } else { "," },
            n % 97,
            n % 13,
            n % 97,
            n % 13,
        );
        written += component.len();
        out.write_all(component.as_bytes()).expect("write");
    }
    out.write_all(b"]}").expect("write");
    written + 2
}

/// What one run cost.
struct Measured {
    seconds: f64,
    peak_rss_mib: f64,
    cpu_seconds: f64,
}

/// Runs `binary ARGS...`, which must succeed, sampling `/proc` every 2 ms
/// (as [`common::run_sigil`] does, for any binary).
fn measure(binary: &str, args: &[&str]) -> Measured {
    let mut child = Command::new(binary)
        .args(args)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start sigil");
    let started = Instant::now();
    let (peak, cpu_ms, done) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let watcher = {
        let (peak, cpu_ms, done, pid) = (peak.clone(), cpu_ms.clone(), done.clone(), child.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
                    && let Some(kib) = status
                        .lines()
                        .find(|l| l.starts_with("VmHWM:"))
                        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
                {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    && let Some((_, rest)) = stat.rsplit_once(')')
                {
                    let fields: Vec<&str> = rest.split_whitespace().collect();
                    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
                    cpu_ms.fetch_max((ticks(11) + ticks(12)) * 10, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let status = child.wait().expect("sigil runs");
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    assert!(status.success(), "{binary} {args:?} exited with {status}");
    Measured {
        seconds,
        peak_rss_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        cpu_seconds: cpu_ms.load(Ordering::Relaxed) as f64 / 1000.0,
    }
}
