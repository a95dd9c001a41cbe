//! What `/metrics` shows, in the Prometheus text format (version 0.0.4).
//! Counters are atomics or small maps under a lock; label values come from
//! bounded sets (endpoints, status codes, outcomes, the policy's rule names),
//! never from the request.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds: sub-millisecond
/// resolution where warm answers are, up to the apiserver's 30 s ceiling.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

#[derive(Debug, Default)]
pub struct Metrics {
    /// (endpoint, HTTP status) -> requests.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// (outcome, rule) -> image decisions.
    decisions: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// endpoint -> latency histogram.
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    /// Images decided with no registry I/O (no rule can match them).
    pub decided_without_io: AtomicU64,
    pub registry_errors: AtomicU64,
    pub deadline_denials: AtomicU64,
    pub policy_reloads_ok: AtomicU64,
    pub policy_reloads_failed: AtomicU64,
    pub tls_reloads_ok: AtomicU64,
    pub tls_reloads_failed: AtomicU64,
    /// 1 while the newest policy file could not be loaded (the last good one serves).
    pub policy_stale: AtomicU64,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    pub fn request(&self, endpoint: &'static str, status: u16, took: Duration) {
        *lock(&self.requests).entry((endpoint, status)).or_default() += 1;
        let seconds = took.as_secs_f64();
        let mut latency = lock(&self.latency);
        let h = latency.entry(endpoint).or_default();
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn decision(&self, outcome: &'static str, rule: &str) {
        *lock(&self.decisions).entry((outcome, rule.to_owned())).or_default() += 1;
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The text `/metrics` answers, with the serving policy's digest.
    pub fn render(&self, policy_digest: &str) -> String {
        let mut out = String::new();
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        header(
            &mut out,
            "sigil_admission_requests_total",
            "counter",
            "HTTP requests by endpoint and status code.",
        );
        for ((endpoint, code), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "sigil_admission_requests_total{{endpoint=\"{endpoint}\",code=\"{code}\"}} {n}"
            );
        }
        header(
            &mut out,
            "sigil_admission_decisions_total",
            "counter",
            "Image decisions by outcome (allowed, denied, error, timeout) and deciding rule.",
        );
        for ((outcome, rule), n) in lock(&self.decisions).iter() {
            let _ = writeln!(
                out,
                "sigil_admission_decisions_total{{outcome=\"{outcome}\",rule=\"{}\"}} {n}",
                label(rule)
            );
        }
        header(
            &mut out,
            "sigil_admission_request_duration_seconds",
            "histogram",
            "Time to answer a review, by endpoint.",
        );
        for (endpoint, h) in lock(&self.latency).iter() {
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "sigil_admission_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "sigil_admission_request_duration_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "sigil_admission_request_duration_seconds_sum{{endpoint=\"{endpoint}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "sigil_admission_request_duration_seconds_count{{endpoint=\"{endpoint}\"}} {}",
                h.count
            );
        }
        for (name, help, value) in [
            (
                "sigil_admission_cache_hits_total",
                "Image decisions answered from the cache or shared with a request in flight.",
                get(&self.cache_hits),
            ),
            (
                "sigil_admission_cache_misses_total",
                "Image decisions that gathered evidence.",
                get(&self.cache_misses),
            ),
            (
                "sigil_admission_decided_without_io_total",
                "Images no policy rule can match, denied without registry I/O.",
                get(&self.decided_without_io),
            ),
            (
                "sigil_admission_registry_errors_total",
                "Images whose registry could not be read (each denied unless a warn or audit rule covers it).",
                get(&self.registry_errors),
            ),
            (
                "sigil_admission_deadline_denials_total",
                "Images denied because the registry did not answer within the apiserver's timeout.",
                get(&self.deadline_denials),
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        header(
            &mut out,
            "sigil_admission_policy_reloads_total",
            "counter",
            "Policy reloads after a file changed, by result.",
        );
        let _ = writeln!(
            out,
            "sigil_admission_policy_reloads_total{{result=\"ok\"}} {}",
            get(&self.policy_reloads_ok)
        );
        let _ = writeln!(
            out,
            "sigil_admission_policy_reloads_total{{result=\"failed\"}} {}",
            get(&self.policy_reloads_failed)
        );
        header(
            &mut out,
            "sigil_admission_tls_reloads_total",
            "counter",
            "TLS certificate reloads after a file changed, by result.",
        );
        let _ = writeln!(
            out,
            "sigil_admission_tls_reloads_total{{result=\"ok\"}} {}",
            get(&self.tls_reloads_ok)
        );
        let _ = writeln!(
            out,
            "sigil_admission_tls_reloads_total{{result=\"failed\"}} {}",
            get(&self.tls_reloads_failed)
        );
        header(
            &mut out,
            "sigil_admission_policy_stale",
            "gauge",
            "1 while the policy file on disk could not be loaded and the last good policy serves.",
        );
        let _ = writeln!(out, "sigil_admission_policy_stale {}", get(&self.policy_stale));
        header(
            &mut out,
            "sigil_admission_policy_info",
            "gauge",
            "The digest of the policy serving.",
        );
        let _ = writeln!(
            out,
            "sigil_admission_policy_info{{digest=\"{}\"}} 1",
            label(policy_digest)
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A label value escaped as the text format requires.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_escaped_labels() {
        let m = Metrics::default();
        m.request("validate", 200, Duration::from_micros(700));
        m.request("validate", 200, Duration::from_millis(40));
        m.request("mutate", 400, Duration::from_micros(10));
        m.decision("denied", "prod \"eu\"");
        Metrics::count(&m.cache_hits);
        let text = m.render("sha256:ab");
        for line in [
            "sigil_admission_requests_total{endpoint=\"validate\",code=\"200\"} 2",
            "sigil_admission_requests_total{endpoint=\"mutate\",code=\"400\"} 1",
            "sigil_admission_decisions_total{outcome=\"denied\",rule=\"prod \\\"eu\\\"\"} 1",
            "sigil_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.0005\"} 0",
            "sigil_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.001\"} 1",
            "sigil_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"0.05\"} 2",
            "sigil_admission_request_duration_seconds_bucket{endpoint=\"validate\",le=\"+Inf\"} 2",
            "sigil_admission_request_duration_seconds_count{endpoint=\"validate\"} 2",
            "sigil_admission_cache_hits_total 1",
            "sigil_admission_policy_reloads_total{result=\"failed\"} 0",
            "sigil_admission_policy_info{digest=\"sha256:ab\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
