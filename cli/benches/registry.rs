//! Benchmark: sign then verify many distinct images in a local registry
//! (CNCF distribution from Debian's `docker-registry`), sequentially and
//! concurrently, with the release `sigil` binary; prints images per second
//! and peak memory of each run.
//!
//!     cargo bench -p sigil --bench registry            # 500 images
//!     cargo bench -p sigil --bench registry -- 100     # another count
//!
//! Figures are recorded in docs/benchmarks.md.

#[path = "../../tests/e2e/support/mod.rs"]
mod support;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt as _, stream};
use sigil_verifier::keys::{self, SigningKey};
use sigil_verifier::reference::RegistryRef;
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::sample;

const SIGIL: &str = env!("CARGO_BIN_EXE_sigil");

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(500);
    let registry = support::Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = SigningKey::generate().expect("key");
    let key_path = dir.path().join("bench.key");
    let pub_path = dir.path().join("bench.pub");
    std::fs::write(&key_path, keys::encrypt(&key, b"").expect("encrypt")).expect("write key");
    std::fs::write(&pub_path, key.public_key().to_pem()).expect("write pub");

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
    let registry_cpu_before = cpu_seconds(registry_pid).unwrap_or_default();
    let mut child = Command::new(SIGIL)
        .args(args)
        .args(images)
        .env("SIGIL_PASSWORD", "")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start sigil");
    let started = Instant::now();
    let peak = Arc::new(AtomicU64::new(0));
    let cpu_ms = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, cpu_ms, done, pid) = (peak.clone(), cpu_ms.clone(), done.clone(), child.id());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) = vm_hwm_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                if let Some(cpu) = cpu_seconds(pid) {
                    cpu_ms.fetch_max((cpu * 1000.0) as u64, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let status = child.wait().expect("sigil runs");
    let seconds = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    assert!(status.success(), "{title}: sigil exited with {status}");
    let n = images.len() as f64;
    let registry_cpu = cpu_seconds(registry_pid).unwrap_or_default() - registry_cpu_before;
    println!(
        "{title:<44} {seconds:>8.2} {:>9.1} {:>9.2} {:>6.1} MiB {:>8.2} s {:>10.2} s",
        n / seconds,
        seconds * 1000.0 / n,
        peak.load(Ordering::Relaxed) as f64 / 1024.0,
        cpu_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        registry_cpu,
    );
}

/// User + system CPU time of a process so far, in seconds (`/proc/PID/stat`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Peak resident set size of a process so far (`VmHWM`), in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
