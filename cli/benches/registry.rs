//! Benchmark: sign then verify many distinct images in a local registry
//! (CNCF distribution from Debian's `docker-registry`), sequentially and
//! concurrently, with the release `sigil` binary; prints images per second
//! and peak memory of each run.
//!
//!     cargo bench -p sigil --bench registry            # 500 images
//!     cargo bench -p sigil --bench registry -- 100     # another count
//!
//! Figures are recorded in docs/benchmarks.md.

mod common;
#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::Instant;

use futures::{StreamExt as _, stream};
use sigil_verifier::reference::RegistryRef;
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::sample;

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500);
    let registry = support::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key_path, pub_path) = common::key_files(dir.path());

    let sequential: Vec<String> = (0..count)
        .map(|i| registry.image(&format!("bench/seq{i}:v1")))
        .collect();
    let concurrent: Vec<String> = (0..count)
        .map(|i| registry.image(&format!("bench/par{i}:v1")))
        .collect();
    let started = Instant::now();
    populate(&sequential, 0);
    populate(&concurrent, 1_000_000);
    eprintln!(
        "pushed {} sample images in {:.1} s",
        2 * count,
        started.elapsed().as_secs_f64()
    );

    println!("sigil registry benchmark: {count} distinct images, local docker-registry on loopback, release build");
    println!(
        "{:<44} {:>8} {:>9} {:>9} {:>10} {:>10} {:>12}",
        "run", "seconds", "images/s", "ms/image", "peak RSS", "sigil CPU", "registry CPU"
    );
    let registry_pid = registry.pid();
    let key_arg = key_path.to_str().expect("utf8");
    let pub_arg = pub_path.to_str().expect("utf8");
    let run = |title: &str, args: &[&str], images: &[String]| run(title, args, images, registry_pid);
    run(
        "sign, sequential (--concurrency 1)",
        &["sign", "--key", key_arg, "--concurrency", "1"],
        &sequential,
    );
    run(
        "sign, concurrent (--concurrency 16)",
        &["sign", "--key", key_arg, "--concurrency", "16"],
        &concurrent,
    );
    run(
        "verify, sequential (--concurrency 1)",
        &["verify", "--key", pub_arg, "--concurrency", "1"],
        &sequential,
    );
    run(
        "verify, concurrent (--concurrency 16)",
        &["verify", "--key", pub_arg, "--concurrency", "16"],
        &sequential,
    );
    run(
        "verify, concurrent (--concurrency 64)",
        &["verify", "--key", pub_arg, "--concurrency", "64"],
        &concurrent,
    );
    run(
        "verify one image (process start included)",
        &["verify", "--key", pub_arg],
        &sequential[..1],
    );
}

/// Pushes one distinct sample image per reference.
fn populate(images: &[String], seed: u64) {
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(
        stream::iter(images.iter().enumerate()).for_each_concurrent(16, |(i, image)| {
            let client = client.clone();
            async move {
                let reference = RegistryRef::parse(image).expect("reference");
                let store = RegistryStore::new(client, &reference);
                sample::write(&store, seed + i as u64, Some("v1"))
                    .await
                    .expect("push sample");
            }
        }),
    );
}

/// Runs sigil once over `images`, printing wall time, rate, peak RSS and the
/// CPU time sigil and the registry spent.
fn run(title: &str, args: &[&str], images: &[String], registry_pid: u32) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(images.iter().map(String::as_str));
    let m = common::run_sigil(&all, registry_pid);
    let n = images.len() as f64;
    println!(
        "{title:<44} {:>8.2} {:>9.1} {:>9.2} {:>6.1} MiB {:>8.2} s {:>10.2} s",
        m.seconds,
        n / m.seconds,
        m.seconds * 1000.0 / n,
        m.peak_rss_mib,
        m.cpu_seconds,
        m.registry_cpu_seconds,
    );
}
