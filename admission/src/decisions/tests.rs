//! The decision cache against an in-process registry that counts requests:
//! names no rule covers cost no I/O, concurrent requests share one
//! gathering, tags are resolved every time, a stalled registry is a denial
//! by the deadline, and errors are not kept.

use std::fs;
use std::path::Path;

use std::sync::atomic::Ordering;

use sigil_testkit::{Hostile, Mode};
use sigil_verifier::pipeline::Settings;
use sigil_verifier::registry::RegistryOptions;
use tempfile::TempDir;

use super::*;

struct Setup {
    _dir: TempDir,
    loaded: Arc<Loaded>,
    decider: Arc<Decider>,
    metrics: Arc<Metrics>,
}

fn setup(registry: &str, cache: CacheSettings) -> Setup {
    let dir = TempDir::new().expect("temp dir");
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/keys/release.pub");
    fs::copy(key, dir.path().join("release.pub")).expect("key");
    let policy = dir.path().join("policy.yaml");
    fs::write(
        &policy,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: covered\n    images: [\"{registry}/covered/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    )
    .expect("policy");
    let client = Arc::new(
        RegistryClient::new(RegistryOptions {
            request_timeout: Duration::from_secs(30),
            retries: 0,
            ..RegistryOptions::default()
        })
        .expect("client"),
    );
    let loaded =
        Arc::new(Loaded::load(&policy, &client, Settings::default(), OffsetDateTime::now_utc()).expect("policy"));
    let metrics = Arc::new(Metrics::default());
    Setup {
        _dir: dir,
        loaded,
        decider: Arc::new(Decider::new(cache, client, metrics.clone())),
        metrics,
    }
}

fn image(reference: &str) -> RegistryRef {
    RegistryRef::parse(reference).expect("reference")
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn manifest_gets(registry: &Hostile, tag: &str) -> usize {
    registry
        .request_log()
        .iter()
        .filter(|r| r.contains(&format!("/manifests/{tag}")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_no_rule_covers_are_denied_without_registry_io() {
    let registry = Hostile::start(Mode::Honest);
    let s = setup(&registry.host(), CacheSettings::default());
    let decision = s
        .decider
        .decide(&s.loaded, &image(&registry.image("elsewhere/app:v1")), soon())
        .await;
    assert!(!decision.allowed());
    assert!(
        decision.failures().contains("no rule matches"),
        "{}",
        decision.failures()
    );
    assert_eq!(registry.requests(), 0);
    assert_eq!(s.metrics.decided_without_io.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_gathering_and_tags_are_resolved_each_time() {
    let registry = Hostile::start(Mode::Honest);
    let s = setup(&registry.host(), CacheSettings::default());
    let reference = image(&registry.image("covered/app:v1"));
    let decisions = futures::future::join_all((0..16).map(|_| {
        let (decider, loaded, reference) = (s.decider.clone(), s.loaded.clone(), reference.clone());
        async move { decider.decide(&loaded, &reference, soon()).await }
    }))
    .await;
    // The tiny image is unsigned: denied, by the policy (not an error).
    for d in &decisions {
        assert!(!d.allowed());
        assert_eq!(d.label(), "denied", "{}", d.failures());
        assert_eq!(
            d.digest.as_ref().map(ToString::to_string),
            Some(registry.tiny_image().manifest.digest.clone())
        );
    }
    let after_first = registry.requests();
    // One resolution of the tag and one gathering for all sixteen (the
    // tag is fetched once more by the gathering, for its descriptor).
    assert!(manifest_gets(&registry, "v1") <= 2, "{:#?}", registry.request_log());
    assert_eq!(s.metrics.cache_misses.load(Ordering::Relaxed), 1);
    assert_eq!(s.metrics.cache_hits.load(Ordering::Relaxed), 15);

    // Again: the tag is resolved again (one request), the decision is reused.
    let again = s.decider.decide(&s.loaded, &reference, soon()).await;
    assert_eq!(again.label(), "denied");
    let resolved_again = registry.requests() - after_first;
    assert_eq!(resolved_again, 1, "{:#?}", &registry.request_log()[after_first..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_ttl_reuses_the_resolution() {
    let registry = Hostile::start(Mode::Honest);
    let cache = CacheSettings {
        tags: Duration::from_secs(60),
        ..CacheSettings::default()
    };
    let s = setup(&registry.host(), cache);
    let reference = image(&registry.image("covered/app:v1"));
    s.decider.decide(&s.loaded, &reference, soon()).await;
    let before = registry.requests();
    s.decider.decide(&s.loaded, &reference, soon()).await;
    assert_eq!(registry.requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_registry_is_a_denial_by_the_deadline_and_is_not_kept() {
    let registry = Hostile::start(Mode::Stall);
    let s = setup(&registry.host(), CacheSettings::default());
    let reference = image(&registry.image("covered/app:v1"));
    let started = Instant::now();
    let decision = s
        .decider
        .decide(&s.loaded, &reference, started + Duration::from_millis(300))
        .await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(800), "{took:?}");
    assert!(!decision.allowed());
    assert_eq!(decision.label(), "timeout");
    assert!(
        decision.failures().contains("did not answer in time"),
        "{}",
        decision.failures()
    );
    assert_eq!(s.metrics.deadline_denials.load(Ordering::Relaxed), 1);

    // Pinned by digest: no tag to resolve, the gathering stalls instead.
    let digest = registry.tiny_image().manifest.digest.clone();
    let pinned = image(&format!("{}/covered/app@{digest}", registry.host()));
    let decision = s
        .decider
        .decide(&s.loaded, &pinned, Instant::now() + Duration::from_millis(300))
        .await;
    assert_eq!(decision.label(), "timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_errors_are_denials_that_are_not_cached() {
    let registry = Hostile::start(Mode::ServerError);
    let s = setup(&registry.host(), CacheSettings::default());
    let digest = registry.tiny_image().manifest.digest.clone();
    let pinned = image(&format!("{}/covered/app@{digest}", registry.host()));
    let first = s.decider.decide(&s.loaded, &pinned, soon()).await;
    assert!(!first.allowed());
    assert_eq!(first.label(), "error", "{}", first.failures());
    assert!(first.registry_error);
    let before = registry.requests();
    let second = s.decider.decide(&s.loaded, &pinned, soon()).await;
    assert_eq!(second.label(), "error");
    assert!(
        registry.requests() > before,
        "the error was reused instead of asking again"
    );
    assert_eq!(s.metrics.cache_misses.load(Ordering::Relaxed), 2);
    assert!(s.metrics.registry_errors.load(Ordering::Relaxed) >= 2);
}
