//! Soak: `sigil admission` (the release binary) under a steady load of
//! `/validate` and `/mutate` reviews for a long time while its policy file
//! and its registry change under it. A command to run by hand, not a CI step:
//!
//!     cargo bench -p sigil --bench admission_soak            # 600 s at 200 req/s
//!     cargo bench -p sigil --bench admission_soak -- 60      # 60 s
//!     cargo bench -p sigil --bench admission_soak -- 600 400 # 600 s at 400 req/s
//!
//! Images in a local `docker-registry`: signed by the release key (allowed
//! by both policy versions), a "flip" set signed by another key (allowed by
//! version 1, denied by version 2), unsigned ones, ones signed by a key no
//! version trusts, never-seen digests and tags, and names no rule matches.
//! Pods mix them (half by tag, half pinned `NAME:TAG@sha256:...`), sent
//! open loop at a fixed rate by 16 keep-alive HTTPS clients, alternating
//! `/validate` and `/mutate`.
//!
//! Meanwhile, every 30 s the policy file is replaced (written aside, then
//! renamed over it), alternating between the two valid versions, and every
//! fourth time by a broken one (an unknown publisher, a YAML syntax error,
//! a missing key file), which the server must ignore; every 60 s (15 s
//! after a policy change) the registry is killed (SIGKILL) and started
//! again 2 s later on the same port and storage.
//!
//! Checks, each failing the run (after the summary is printed):
//! - no wrong allow: a Pod with an unsigned, wrongly signed, never-seen or
//!   unmatched image is never allowed, and a flip image never once only
//!   version 2 can be in force (a policy change counts from its rename plus
//!   5 s: two reload intervals and a second for the load);
//! - no false denial of a Pod every policy in force allows, except while
//!   the registry is down or within 3 s of it coming back (those are
//!   counted: failing closed is the point);
//! - `/mutate` pins exactly the tag references, each to its image's digest;
//! - no 5xx, no other non-200, no request without an answer, every uid
//!   echoed; no "panicked" on the server's stderr; the server answers
//!   `/healthz` and allows a signed Pod at the end;
//! - memory flat: the server's RSS at the end within 20 % of its RSS after
//!   the first minute (sampled every second).

mod common;
mod webhook;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use sigil_verifier::digest::Digest;
use webhook::{Registry, Reply, Server, Tls};

const CLIENTS: usize = 16;
const POLICY_EVERY: Duration = Duration::from_secs(30);
const REGISTRY_EVERY: Duration = Duration::from_secs(60);
/// When the registry restarts, relative to a policy change.
const REGISTRY_OFFSET: Duration = Duration::from_secs(15);
const REGISTRY_DOWN: Duration = Duration::from_secs(2);
const RELOAD_INTERVAL: &str = "2s";
/// How long after its rename a policy change may take to be in force.
const POLICY_GRACE: Duration = Duration::from_secs(5);
/// How long after the registry is back denials are still its fault.
const REGISTRY_GRACE: Duration = Duration::from_secs(3);
const MEMORY_SLACK: f64 = 0.20;

/// One image the load may name.
#[derive(Clone)]
struct Image {
    /// `HOST/REPO:TAG`
    tag_ref: String,
    digest: String,
}

impl Image {
    fn pinned(&self) -> String {
        format!("{}@{}", self.tag_ref, self.digest)
    }
}

/// What a Pod must get.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    Allow,
    /// Allowed under policy version 1 only.
    Flip,
    Deny,
}

/// One Pod: its containers' images (written), which of them are tag
/// references (with the digest they must be pinned to), what it must get,
/// the container that must be named in a denial.
struct Pod {
    kind: &'static str,
    images: Vec<String>,
    pins: Vec<(usize, String)>,
    expect: Expect,
    culprit: Option<usize>,
}

/// Times of policy changes and registry outages, as they happened.
#[derive(Default)]
struct Timeline {
    /// (renamed at, version) of each valid policy written; version 1 first.
    policies: Vec<(Instant, u8)>,
    /// (killed at, back at) of each registry outage; `None` while down.
    outages: Vec<(Instant, Option<Instant>)>,
}

impl Timeline {
    /// The policy versions that may be in force for a request sent at
    /// `sent` and answered at `done`.
    fn versions(&self, sent: Instant, done: Instant) -> Vec<u8> {
        let from = sent.checked_sub(POLICY_GRACE).unwrap_or(sent);
        let mut versions = Vec::new();
        if let Some((_, v)) = self.policies.iter().rev().find(|(t, _)| *t <= from) {
            versions.push(*v);
        }
        versions.extend(
            self.policies
                .iter()
                .filter(|(t, _)| *t > from && *t <= done)
                .map(|(_, v)| *v),
        );
        versions
    }

    /// Whether the registry was down (or just back) at any time of a request.
    fn registry_trouble(&self, sent: Instant, done: Instant) -> bool {
        self.outages.iter().any(|(down, up)| {
            let until = up.map_or(done, |u| u + REGISTRY_GRACE);
            *down <= done && until >= sent
        })
    }
}

/// Counts of everything the load saw.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    validate: AtomicU64,
    mutate: AtomicU64,
    allowed: AtomicU64,
    denied: AtomicU64,
    denied_in_outage: AtomicU64,
    flip_allowed: AtomicU64,
    flip_denied: AtomicU64,
    patches_checked: AtomicU64,
    not_sent: AtomicU64,
    latency_over_1s: AtomicU64,
    max_latency_us: AtomicU64,
    // Failures.
    wrong_allows: AtomicU64,
    false_denials: AtomicU64,
    bad_patches: AtomicU64,
    server_errors: AtomicU64,
    other_status: AtomicU64,
    no_answer: AtomicU64,
    bad_uid: AtomicU64,
    bad_message: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Tally {
    fn fail(&self, counter: &AtomicU64, what: String) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut samples = self.samples.lock().expect("not poisoned");
        if samples.len() < 10 {
            samples.push(what);
        }
    }

    fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

fn main() {
    let numbers: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let seconds = numbers.first().copied().unwrap_or(600);
    let rate = numbers.get(1).copied().unwrap_or(200) as f64;
    let duration = Duration::from_secs(seconds);

    let dir = tempfile::tempdir().expect("tempdir");
    let mut registry = Registry::start(&dir.path().join("registry"));
    let host = registry.host();
    let keys = |name: &str| {
        let d = dir.path().join("keys").join(name);
        std::fs::create_dir_all(&d).expect("key directory");
        common::key_files(&d)
    };
    let (release_key, _) = keys("release");
    let (other_key, _) = keys("other");
    let (rogue_key, _) = keys("rogue");

    let names = |prefix: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("soak/{prefix}{i}:v1")).collect() };
    let sets = [
        ("app/signed", 6, Some(&release_key)),
        ("flip/img", 3, Some(&other_key)),
        ("app/unsigned", 3, None),
        ("app/rogue", 3, Some(&rogue_key)),
    ];
    let mut images = sets.iter().enumerate().map(|(seed, (prefix, n, key))| {
        let set = names(prefix, *n);
        let digests = webhook::push_samples(&host, &set, seed as u64 * 100);
        let set: Vec<Image> = set
            .iter()
            .zip(digests)
            .map(|(name, digest)| Image {
                tag_ref: format!("{host}/{name}"),
                digest,
            })
            .collect();
        if let Some(key) = key {
            let mut sign = vec!["sign", "--key", key.to_str().expect("utf8")];
            sign.extend(set.iter().map(|i| i.tag_ref.as_str()));
            let m = common::run_sigil(&sign, registry.pid());
            eprintln!(
                "signed {} images under soak/{prefix}* in {:.1} s ({:.1} MiB, {:.1} s CPU, registry {:.1} s CPU)",
                set.len(),
                m.seconds,
                m.peak_rss_mib,
                m.cpu_seconds,
                m.registry_cpu_seconds
            );
        }
        set
    });
    let mut next = || images.next().expect("four sets");
    let (signed, flip, unsigned, rogue) = (next(), next(), next(), next());

    let policy = dir.path().join("policy.yaml");
    let versions = [policy_text(&host, 1), policy_text(&host, 2)];
    let broken = [
        // An unknown publisher.
        policy_text(&host, 1).replace("anyOf: [other]", "anyOf: [nobody]"),
        // Not YAML.
        format!("{}\n  - name: [unclosed\n", policy_text(&host, 2)),
        // A key file that does not exist.
        policy_text(&host, 1).replace("keys/other/bench.pub", "keys/missing/bench.pub"),
    ];
    replace_file(&policy, &versions[0]);
    let tls = Tls::write(dir.path());
    let mut server = Server::start(
        &policy,
        &tls,
        &[
            "--cache-ttl",
            "20s",
            "--deny-cache-ttl",
            "5s",
            "--reload-interval",
            RELOAD_INTERVAL,
        ],
    );
    let timeline = Arc::new(Mutex::new(Timeline::default()));
    timeline
        .lock()
        .expect("not poisoned")
        .policies
        .push((Instant::now(), 1));
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));

    println!(
        "sigil admission soak: {seconds} s at {rate} req/s ({CLIENTS} keep-alive HTTPS clients, /validate and /mutate \
         alternating), policy replaced every {}s (every 4th broken), registry killed every {}s",
        POLICY_EVERY.as_secs(),
        REGISTRY_EVERY.as_secs()
    );
    let pods = Arc::new(Pods {
        host: host.clone(),
        signed,
        flip,
        unsigned,
        rogue,
    });
    let start = Instant::now() + Duration::from_millis(200);
    let end = start + duration;
    let workers: Vec<_> = (0..CLIENTS)
        .map(|k| {
            let (pods, tally, timeline, stop) = (pods.clone(), tally.clone(), timeline.clone(), stop.clone());
            let client = webhook::client(&tls.ca_pem);
            let (validate, mutate) = (server.url("/validate?timeout=10s"), server.url("/mutate?timeout=10s"));
            thread::spawn(move || {
                // (latency, whether the registry was down or just back).
                let mut latencies: Vec<(Duration, bool)> = Vec::new();
                let mut j = k as u64;
                loop {
                    let scheduled = start + Duration::from_secs_f64(j as f64 / rate);
                    if scheduled >= end || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let now = Instant::now();
                    if scheduled > now {
                        thread::sleep(scheduled - now);
                    } else if now - scheduled > Duration::from_secs(5) {
                        tally.not_sent.fetch_add(1, Ordering::Relaxed);
                        j += CLIENTS as u64;
                        continue;
                    }
                    let pod = pods.pod(j);
                    let mutating = j % 2 == 1;
                    let uid = format!("soak-{j}");
                    let body = webhook::pod_review(&uid, &pod.images);
                    let sent = Instant::now();
                    let reply = webhook::post(&client, if mutating { &mutate } else { &validate }, &body);
                    let done = Instant::now();
                    let latency = done - scheduled;
                    tally
                        .max_latency_us
                        .fetch_max(latency.as_micros() as u64, Ordering::Relaxed);
                    if latency > Duration::from_secs(1) {
                        tally.latency_over_1s.fetch_add(1, Ordering::Relaxed);
                    }
                    let trouble = timeline.lock().expect("not poisoned").registry_trouble(sent, done);
                    latencies.push((latency, trouble));
                    judge(&pod, &uid, mutating, reply, sent, done, &tally, &timeline);
                    j += CLIENTS as u64;
                }
                latencies
            })
        })
        .collect();

    // The conductor: RSS every second, policy changes, registry restarts.
    let pid = server.pid();
    let mut rss: Vec<(u64, u64)> = Vec::new();
    let mut policy_changes = 0usize;
    let mut broken_written = 0usize;
    let mut good_written = 0usize;
    let mut restarts = 0usize;
    let mut next_policy = start + POLICY_EVERY;
    let mut next_registry = start + REGISTRY_OFFSET + POLICY_EVERY;
    let mut next_report = start + Duration::from_secs(60);
    let mut version = 1u8;
    let mut second = 0u64;
    while Instant::now() < end {
        second += 1;
        let tick = start + Duration::from_secs(second);
        if let Some(wait) = tick.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        if let Some(kib) = webhook::vm_kib(pid, "VmRSS:") {
            rss.push((second, kib));
        }
        let now = Instant::now();
        if now >= next_policy && now + Duration::from_secs(10) < end {
            policy_changes += 1;
            if policy_changes.is_multiple_of(4) {
                replace_file(&policy, &broken[broken_written % broken.len()]);
                broken_written += 1;
            } else {
                version = 3 - version;
                // Recorded before the rename: a request answered before it
                // is judged by the old version alone.
                timeline
                    .lock()
                    .expect("not poisoned")
                    .policies
                    .push((Instant::now(), version));
                replace_file(&policy, &versions[usize::from(version - 1)]);
                good_written += 1;
            }
            next_policy += POLICY_EVERY;
        }
        if now >= next_registry && now + Duration::from_secs(10) < end {
            let index = {
                let mut t = timeline.lock().expect("not poisoned");
                t.outages.push((Instant::now(), None));
                t.outages.len() - 1
            };
            registry.kill();
            thread::sleep(REGISTRY_DOWN);
            registry.restart();
            timeline.lock().expect("not poisoned").outages[index].1 = Some(Instant::now());
            restarts += 1;
            next_registry += REGISTRY_EVERY;
        }
        if now >= next_report {
            println!(
                "  t={:>4}s sent {:>7} allowed {:>7} denied {:>7} (registry down: {:>5}) RSS {:>6.1} MiB, failures so far {}",
                second,
                Tally::get(&tally.sent),
                Tally::get(&tally.allowed),
                Tally::get(&tally.denied),
                Tally::get(&tally.denied_in_outage),
                rss.last().map_or(0.0, |r| r.1 as f64 / 1024.0),
                failures(&tally),
            );
            next_report += Duration::from_secs(60);
        }
        if server.stderr.panics.load(Ordering::Relaxed) > 0 {
            stop.store(true, Ordering::Relaxed);
            break;
        }
    }
    let mut calm: Vec<Duration> = Vec::new();
    let mut troubled: Vec<Duration> = Vec::new();
    for w in workers {
        for (latency, trouble) in w.join().expect("a client thread") {
            if trouble {
                troubled.push(latency)
            } else {
                calm.push(latency)
            }
        }
    }
    calm.sort();
    troubled.sort();

    // The end: the server still answers and allows a signed Pod.
    thread::sleep(REGISTRY_GRACE);
    server.assert_running();
    let client = webhook::client(&tls.ca_pem);
    let healthz = webhook::get(&client, &server.url("/healthz"));
    let metrics = webhook::get(&client, &server.url("/metrics"))
        .map(|r| r.1)
        .unwrap_or_default();
    let final_reply = webhook::post(
        &client,
        &server.url("/validate?timeout=10s"),
        &webhook::pod_review("final", &pods.signed_pod(0).images),
    );
    let final_mutate = webhook::post(
        &client,
        &server.url("/mutate?timeout=10s"),
        &webhook::pod_review("final-mutate", &pods.signed_pod(1).images),
    );
    let peak_hwm = webhook::vm_kib(pid, "VmHWM:").unwrap_or_default();
    let cpu = webhook::cpu_seconds(pid);

    let mib = |kib: u64| kib as f64 / 1024.0;
    let at = |s: u64| rss.iter().find(|r| r.0 >= s).or(rss.last()).map_or(0, |r| r.1);
    let (rss_start, rss_minute, rss_end) = (at(1), at(60), rss.last().map_or(0, |r| r.1));
    let rss_peak = rss.iter().map(|r| r.1).max().unwrap_or_default();
    let elapsed = (Instant::now() - start).as_secs_f64().min(duration.as_secs_f64());
    let sent = Tally::get(&tally.sent);
    println!("summary after {elapsed:.0} s:");
    println!(
        "  requests: {sent} answered ({:.1}/s; {} validate, {} mutate), {} not sent (clients > 5 s behind), \
         max latency {:.1} ms, {} over 1 s",
        sent as f64 / elapsed,
        Tally::get(&tally.validate),
        Tally::get(&tally.mutate),
        Tally::get(&tally.not_sent),
        Tally::get(&tally.max_latency_us) as f64 / 1000.0,
        Tally::get(&tally.latency_over_1s),
    );
    for (title, l) in [("registry up", &calm), ("registry down or just back", &troubled)] {
        println!(
            "  latency from the scheduled send, {title}: {} requests, p50 {} p99 {} p99.9 {} max {} ms",
            l.len(),
            webhook::ms(webhook::quantile(l, 0.5)),
            webhook::ms(webhook::quantile(l, 0.99)),
            webhook::ms(webhook::quantile(l, 0.999)),
            webhook::ms(webhook::quantile(l, 1.0)),
        );
    }
    println!(
        "  decisions: {} allowed, {} denied ({} of them while the registry was down or just back); \
         flip set: {} allowed, {} denied; {} patches checked",
        Tally::get(&tally.allowed),
        Tally::get(&tally.denied),
        Tally::get(&tally.denied_in_outage),
        Tally::get(&tally.flip_allowed),
        Tally::get(&tally.flip_denied),
        Tally::get(&tally.patches_checked),
    );
    println!(
        "  policy: {good_written} valid versions and {broken_written} broken ones written; server counted \
         {} reloads ok, {} failed, stale now {}",
        webhook::metric(&metrics, "sigil_admission_policy_reloads_total{result=\"ok\"}"),
        webhook::metric(&metrics, "sigil_admission_policy_reloads_total{result=\"failed\"}"),
        webhook::metric(&metrics, "sigil_admission_policy_stale"),
    );
    println!(
        "  registry: {restarts} kills and restarts; {} registry requests in all; server counted {} registry errors, \
         {} deadline denials, cache {} hits / {} misses, {} decided without I/O",
        registry.requests(),
        webhook::metric(&metrics, "sigil_admission_registry_errors_total"),
        webhook::metric(&metrics, "sigil_admission_deadline_denials_total"),
        webhook::metric(&metrics, "sigil_admission_cache_hits_total"),
        webhook::metric(&metrics, "sigil_admission_cache_misses_total"),
        webhook::metric(&metrics, "sigil_admission_decided_without_io_total"),
    );
    println!(
        "  server: RSS start {:.1} MiB, after 1 min {:.1} MiB, peak {:.1} MiB (VmHWM {:.1} MiB), end {:.1} MiB; \
         CPU {cpu:.1} s; {} stderr lines, {} panics",
        mib(rss_start),
        mib(rss_minute),
        mib(rss_peak),
        mib(peak_hwm),
        mib(rss_end),
        server.stderr.lines.load(Ordering::Relaxed),
        server.stderr.panics.load(Ordering::Relaxed),
    );
    println!(
        "  failures: wrong allows {}, false denials {}, bad patches {}, bad denial messages {}, 5xx {}, other \
         status {}, no answer {}, wrong uid {}",
        Tally::get(&tally.wrong_allows),
        Tally::get(&tally.false_denials),
        Tally::get(&tally.bad_patches),
        Tally::get(&tally.bad_message),
        Tally::get(&tally.server_errors),
        Tally::get(&tally.other_status),
        Tally::get(&tally.no_answer),
        Tally::get(&tally.bad_uid),
    );
    for s in tally.samples.lock().expect("not poisoned").iter() {
        println!("    e.g. {s}");
    }

    let mut problems = Vec::new();
    if failures(&tally) > 0 {
        problems.push(format!("{} requests failed their checks (see above)", failures(&tally)));
    }
    if let Some(panic) = server.stderr.first_panic() {
        problems.push(format!("the server panicked: {panic}"));
    }
    if !matches!(&healthz, Ok((200, _))) {
        problems.push(format!("/healthz at the end: {healthz:?}"));
    }
    if !final_reply.as_ref().is_ok_and(Reply::allowed) {
        problems.push(format!("a signed Pod at the end was not allowed: {final_reply:?}"));
    }
    if !final_mutate.as_ref().is_ok_and(Reply::allowed) {
        problems.push(format!(
            "a signed Pod at the end was not allowed by /mutate: {final_mutate:?}"
        ));
    }
    if elapsed >= 90.0 && (rss_end as f64) > (rss_minute as f64) * (1.0 + MEMORY_SLACK) {
        problems.push(format!(
            "memory grew: RSS {:.1} MiB at the end, {:.1} MiB after the first minute (more than {:.0} %)",
            mib(rss_end),
            mib(rss_minute),
            MEMORY_SLACK * 100.0
        ));
    }
    let reloads_failed = webhook::metric(&metrics, "sigil_admission_policy_reloads_total{result=\"failed\"}");
    if (reloads_failed as usize) < broken_written {
        problems.push(format!(
            "{broken_written} broken policies were written but the server counted {reloads_failed} failed reloads"
        ));
    }
    if problems.is_empty() {
        println!("soak passed");
    } else {
        println!("server stderr (last lines):\n{}", server.stderr.tail());
        panic!("the admission soak failed:\n- {}", problems.join("\n- "));
    }
}

fn failures(t: &Tally) -> u64 {
    [
        &t.wrong_allows,
        &t.false_denials,
        &t.bad_patches,
        &t.bad_message,
        &t.server_errors,
        &t.other_status,
        &t.no_answer,
        &t.bad_uid,
    ]
    .iter()
    .map(|c| Tally::get(c))
    .sum()
}

/// The policy: version 1 trusts the `other` key for the flip set, version
/// 2 the release key only; both require the release key for `soak/app/**`.
fn policy_text(host: &str, version: u8) -> String {
    let flip = if version == 1 { "other" } else { "release" };
    format!(
        "apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
# soak policy version {version}
publishers:
  release:
    key: keys/release/bench.pub
  other:
    key: keys/other/bench.pub
rules:
  - name: app
    images: [\"{host}/soak/app/**\"]
    signatures:
      anyOf: [release]
  - name: flip
    images: [\"{host}/soak/flip/**\"]
    signatures:
      anyOf: [{flip}]
"
    )
}

/// Writes `text` beside `path`, then renames it over `path`.
fn replace_file(path: &Path, text: &str) {
    let aside: PathBuf = path.with_extension("yaml.new");
    std::fs::write(&aside, text).expect("write the new policy");
    std::fs::rename(&aside, path).expect("rename the new policy over the old");
}

struct Pods {
    host: String,
    signed: Vec<Image>,
    flip: Vec<Image>,
    unsigned: Vec<Image>,
    rogue: Vec<Image>,
}

impl Pods {
    /// The `j`-th request's Pod, chosen by a hash of `j`.
    fn pod(&self, j: u64) -> Pod {
        let h = j.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11;
        let pick = |set: &[Image], salt: u64| set[((h >> (salt * 5)) % set.len() as u64) as usize].clone();
        let roll = h % 100;
        match roll {
            0..40 => self.signed_pod(h),
            40..55 => {
                let mut pod = self.build("flip", &[pick(&self.signed, 1)], h);
                self.push(&mut pod, &pick(&self.flip, 2), true);
                self.push(&mut pod, &pick(&self.flip, 3), false);
                pod.expect = Expect::Flip;
                pod
            }
            55..70 => self.bad(
                "unsigned",
                h,
                &[pick(&self.signed, 1), pick(&self.signed, 2)],
                &pick(&self.unsigned, 3).tag_ref,
            ),
            70..85 => self.bad("rogue", h, &[pick(&self.signed, 1)], &pick(&self.rogue, 3).pinned()),
            85..90 => self.bad(
                "unmatched",
                h,
                &[pick(&self.signed, 1)],
                &format!("{}/elsewhere/tool:v1", self.host),
            ),
            90..95 => {
                let ghost = Digest::sha256_of(format!("ghost {j}").as_bytes());
                self.bad(
                    "never-seen digest",
                    h,
                    &[pick(&self.signed, 1)],
                    &format!("{}/soak/app/ghost:v1@{ghost}", self.host),
                )
            }
            _ => self.bad(
                "never-seen tag",
                h,
                &[pick(&self.signed, 1)],
                &format!("{}/soak/app/signed0:ghost-{j}", self.host),
            ),
        }
    }

    /// Four signed images, two by tag, two pinned.
    fn signed_pod(&self, h: u64) -> Pod {
        let n = self.signed.len() as u64;
        let mut pod = self.build("signed", &[], h);
        for i in 0..4u64 {
            let image = &self.signed[((h + i * 5) % n) as usize];
            self.push(&mut pod, image, i.is_multiple_of(2));
        }
        pod
    }

    fn build(&self, kind: &'static str, signed: &[Image], h: u64) -> Pod {
        let mut pod = Pod {
            kind,
            images: Vec::new(),
            pins: Vec::new(),
            expect: Expect::Allow,
            culprit: None,
        };
        for (i, image) in signed.iter().enumerate() {
            self.push(&mut pod, image, (h >> i).is_multiple_of(2));
        }
        pod
    }

    fn push(&self, pod: &mut Pod, image: &Image, by_tag: bool) {
        if by_tag {
            pod.pins.push((pod.images.len(), image.digest.clone()));
            pod.images.push(image.tag_ref.clone());
        } else {
            pod.images.push(image.pinned());
        }
    }

    /// Signed images and one that must deny the Pod, at a position of `h`.
    fn bad(&self, kind: &'static str, h: u64, signed: &[Image], culprit: &str) -> Pod {
        let mut pod = self.build(kind, signed, h);
        let at = (h >> 20) as usize % (pod.images.len() + 1);
        pod.images.insert(at, culprit.to_owned());
        for pin in &mut pod.pins {
            if pin.0 >= at {
                pin.0 += 1;
            }
        }
        pod.expect = Expect::Deny;
        pod.culprit = Some(at);
        pod
    }
}

/// Judges one answer against what the Pod must get.
#[allow(clippy::too_many_arguments, reason = "one call site")]
fn judge(
    pod: &Pod,
    uid: &str,
    mutating: bool,
    reply: Result<Reply, String>,
    sent: Instant,
    done: Instant,
    tally: &Tally,
    timeline: &Mutex<Timeline>,
) {
    let what = format!(
        "{} {uid} ({} Pod {:?})",
        if mutating { "/mutate" } else { "/validate" },
        pod.kind,
        pod.images
    );
    let reply = match reply {
        Ok(r) => r,
        Err(e) => return tally.fail(&tally.no_answer, format!("{what}: no answer: {e}")),
    };
    tally.sent.fetch_add(1, Ordering::Relaxed);
    if mutating {
        tally.mutate.fetch_add(1, Ordering::Relaxed);
    } else {
        tally.validate.fetch_add(1, Ordering::Relaxed);
    }
    if reply.status >= 500 {
        return tally.fail(
            &tally.server_errors,
            format!("{what}: HTTP {}: {:?}", reply.status, reply.text),
        );
    }
    if reply.status != 200 {
        return tally.fail(
            &tally.other_status,
            format!("{what}: HTTP {}: {:?}", reply.status, reply.text),
        );
    }
    if reply.uid.as_deref() != Some(uid) {
        return tally.fail(&tally.bad_uid, format!("{what}: answered uid {:?}", reply.uid));
    }
    let Some(allowed) = reply.allowed else {
        return tally.fail(&tally.other_status, format!("{what}: not an answer: {:?}", reply.text));
    };
    let (versions, trouble) = {
        let t = timeline.lock().expect("not poisoned");
        (t.versions(sent, done), t.registry_trouble(sent, done))
    };
    if allowed {
        tally.allowed.fetch_add(1, Ordering::Relaxed);
    } else {
        tally.denied.fetch_add(1, Ordering::Relaxed);
    }
    match pod.expect {
        Expect::Deny if allowed => {
            return tally.fail(&tally.wrong_allows, format!("{what}: ALLOWED"));
        }
        Expect::Deny => {
            let culprit = pod.culprit.expect("a Pod that must be denied names its culprit");
            let message = reply.message.as_deref().unwrap_or_default();
            if !message.contains(&format!("containers[{culprit}]")) {
                tally.fail(
                    &tally.bad_message,
                    format!("{what}: the denial does not name containers[{culprit}]: {message:?}"),
                );
            }
            return;
        }
        Expect::Flip if allowed && !versions.contains(&1) => {
            return tally.fail(
                &tally.wrong_allows,
                format!("{what}: ALLOWED although only policy version 2 can be in force"),
            );
        }
        Expect::Flip if allowed => {
            tally.flip_allowed.fetch_add(1, Ordering::Relaxed);
        }
        Expect::Flip if versions.contains(&2) => {
            tally.flip_denied.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Expect::Flip | Expect::Allow if !allowed => {
            if trouble {
                tally.denied_in_outage.fetch_add(1, Ordering::Relaxed);
            } else {
                tally.fail(
                    &tally.false_denials,
                    format!(
                        "{what}: denied (policy versions {versions:?}, registry up): {:?}",
                        reply.message
                    ),
                );
            }
            return;
        }
        _ => {}
    }
    // Allowed, as it should be: /mutate pins exactly the tag references.
    if !mutating {
        if reply.patch.is_some() {
            tally.fail(&tally.bad_patches, format!("{what}: /validate answered a patch"));
        }
        return;
    }
    let mut want: Vec<(String, String)> = pod
        .pins
        .iter()
        .map(|(i, digest)| (format!("/spec/containers/{i}/image"), digest.clone()))
        .collect();
    want.sort();
    let ops = reply
        .patch
        .as_ref()
        .and_then(|p| p.as_array().cloned())
        .unwrap_or_default();
    let mut got: Vec<(String, String)> = Vec::new();
    for op in &ops {
        let (Some("replace"), Some(path), Some(value)) = (op["op"].as_str(), op["path"].as_str(), op["value"].as_str())
        else {
            return tally.fail(&tally.bad_patches, format!("{what}: patch operation {op}"));
        };
        let index: Option<usize> = path
            .strip_prefix("/spec/containers/")
            .and_then(|r| r.strip_suffix("/image"))
            .and_then(|i| i.parse().ok());
        let written = index.and_then(|i| pod.images.get(i));
        let digest = value.rsplit_once('@').map(|(_, d)| d.to_owned()).unwrap_or_default();
        // The image as written, `@DIGEST` appended (admission/src/patch.rs).
        if written.is_none_or(|w| *value != format!("{w}@{digest}")) {
            return tally.fail(&tally.bad_patches, format!("{what}: patch {path} = {value}"));
        }
        got.push((path.to_owned(), digest));
    }
    got.sort();
    if got != want {
        return tally.fail(&tally.bad_patches, format!("{what}: patch {got:?}, want {want:?}"));
    }
    tally.patches_checked.fetch_add(1, Ordering::Relaxed);
}
