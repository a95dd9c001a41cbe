//! Benchmark: attach and verify large CycloneDX SBOM attestations (10 MB and
//! 100 MB predicates) in a local registry, printing MB/s and peak memory of
//! the release `sigil` binary.
//!
//!     cargo bench -p sigil --bench attest              # 10 and 100 MB
//!     cargo bench -p sigil --bench attest -- 10        # sizes in MB
//!
//! Figures are recorded in docs/benchmarks.md.

mod common;
use sigil_testkit as support;

use std::io::Write as _;
use std::sync::Arc;

use sigil_verifier::reference::RegistryRef;
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::sample;

fn main() {
    let sizes: Vec<usize> = {
        let given: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
        if given.is_empty() { vec![10, 100] } else { given }
    };
    let registry = support::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_path, pub_path) = common::key_files(dir.path());
    println!("sigil attestation benchmark: CycloneDX predicates, local docker-registry on loopback, release build");
    println!(
        "{:<38} {:>9} {:>8} {:>8} {:>10} {:>8} {:>10} {:>12}",
        "run", "doc MB", "seconds", "MB/s", "peak RSS", "RSS/doc", "sigil CPU", "registry CPU"
    );
    for (i, mb) in sizes.iter().enumerate() {
        let sbom = dir.path().join(format!("bom-{mb}.json"));
        let bytes = write_cyclonedx(&sbom, mb * 1_000_000);
        let doc_mb = bytes as f64 / 1e6;
        let image = registry.image(&format!("bench/sbom{i}:v1"));
        let bundled = registry.image(&format!("bench/sbom-bundle{i}:v1"));
        push_sample(&image, i as u64);
        push_sample(&bundled, 100 + i as u64);
        let (k, p, s) = (
            key_path.to_str().expect("utf8"),
            pub_path.to_str().expect("utf8"),
            sbom.to_str().expect("utf8"),
        );
        let attest = |image: &str, format: &str| -> Vec<String> {
            [
                "attest",
                image,
                "--key",
                k,
                "--type",
                "cyclonedx",
                "--predicate",
                s,
                "--format",
                format,
            ]
            .map(str::to_owned)
            .to_vec()
        };
        let verify = |image: &str| -> Vec<String> {
            ["verify-attestation", image, "--key", p, "--type", "cyclonedx"]
                .map(str::to_owned)
                .to_vec()
        };
        for (title, args) in [
            ("attest (tag form)", attest(&image, "tag")),
            ("verify-attestation (tag form)", verify(&image)),
            ("attest (bundle form)", attest(&bundled, "bundle")),
            ("verify-attestation (bundle form)", verify(&bundled)),
        ] {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let m = common::run_sigil(&args, registry.pid());
            println!(
                "{:<38} {doc_mb:>9.1} {:>8.2} {:>8.1} {:>6.0} MiB {:>7.2}x {:>8.2} s {:>10.2} s",
                format!("{title}, {mb} MB"),
                m.seconds,
                doc_mb / m.seconds,
                m.peak_rss_mib,
                m.peak_rss_mib * 1_048_576.0 / bytes as f64,
                m.cpu_seconds,
                m.registry_cpu_seconds,
            );
        }
    }
}

fn push_sample(image: &str, seed: u64) {
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let store = RegistryStore::new(client, &RegistryRef::parse(image).expect("reference"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime
        .block_on(sample::write(&store, 7_000 + seed, Some("v1")))
        .expect("push sample");
}

/// Writes a CycloneDX 1.5 document of about `target` bytes (many components,
/// as a large image's SBOM has); returns its size.
fn write_cyclonedx(path: &std::path::Path, target: usize) -> usize {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let head = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,"metadata":{"component":{"type":"container","name":"bench"}},"components":["#;
    let mut written = head.len();
    out.write_all(head.as_bytes()).expect("write");
    let mut n = 0usize;
    while written < target {
        let component = format!(
            r#"{}{{"type":"library","bom-ref":"pkg:npm/bench-package-{n}@1.{}.{}","name":"bench-package-{n}","version":"1.{}.{}","purl":"pkg:npm/bench-package-{n}@1.{}.{}","licenses":[{{"license":{{"id":"MIT"}}}}],"hashes":[{{"alg":"SHA-256","content":"{:064x}"}}],"description":"synthetic component number {n} of a large SBOM"}}"#,
            if n == 0 { "" } else { "," },
            n % 97,
            n % 13,
            n % 97,
            n % 13,
            n % 97,
            n % 13,
            n
        );
        written += component.len();
        out.write_all(component.as_bytes()).expect("write");
        n += 1;
    }
    out.write_all(b"]}").expect("write");
    written + 2
}
