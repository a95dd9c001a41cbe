//! Shared by the benchmarks: run the release `sigil` binary once and measure
//! wall time, peak RSS and CPU of it (and of the registry).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub const SIGIL: &str = env!("CARGO_BIN_EXE_sigil");

/// A new key pair in `dir` as `bench.key` (encrypted, empty password, which
/// `run_sigil` passes) and `bench.pub`; returns their paths.
#[allow(
    dead_code,
    reason = "each bench binary compiles this module; the policy bench brings its own keys"
)]
pub fn key_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use sigil_verifier::keys::{self, SigningKey};
    let key = SigningKey::generate().expect("key");
    let key_path = dir.join("bench.key");
    let pub_path = dir.join("bench.pub");
    std::fs::write(&key_path, keys::encrypt(&key, b"").expect("encrypt")).expect("write key");
    std::fs::write(&pub_path, key.public_key().to_pem()).expect("write pub");
    (key_path, pub_path)
}

/// What one run of sigil cost.
pub struct Measured {
    pub seconds: f64,
    pub peak_rss_mib: f64,
    pub cpu_seconds: f64,
    pub registry_cpu_seconds: f64,
}

/// Runs `sigil ARGS...`, which must succeed, sampling `/proc` every 2 ms.
pub fn run_sigil(args: &[&str], registry_pid: u32) -> Measured {
    let registry_cpu_before = cpu_seconds(registry_pid).unwrap_or_default();
    let mut child = Command::new(SIGIL)
        .args(args)
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
    assert!(status.success(), "sigil {args:?} exited with {status}");
    Measured {
        seconds,
        peak_rss_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
        cpu_seconds: cpu_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        registry_cpu_seconds: cpu_seconds(registry_pid).unwrap_or_default() - registry_cpu_before,
    }
}

/// Peak resident set size of a process so far (`VmHWM`), in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
