//! Deciding about one image, fast and never open.
//!
//! 1. An image no rule can match, whatever its digest, is denied at once:
//!    no registry I/O ([`Policy::evaluate_unmatched`]).
//! 2. A tag is resolved to its digest on every request (or, with
//!    `--tag-ttl`, at most that long ago); concurrent requests for one tag
//!    share one resolution. A reference that pins a digest is judged by it.
//! 3. The decision is cached by (policy generation, reference, digest),
//!    never by tag alone: a moved tag resolves to another digest and so to
//!    another entry. Allowed decisions live `--cache-ttl`, denied ones
//!    `--deny-cache-ttl`, and ones that could not be evaluated (a registry
//!    error) are never kept past their request. Concurrent requests for one
//!    key share one gathering (single flight): the work runs as its own
//!    task, so a request that gives up at its deadline leaves it to finish
//!    for the next.
//! 4. Everything a request waits for is bounded by its deadline: past it
//!    the image is denied with that reason, so the apiserver never times out
//!    waiting for sigil (which its `failurePolicy` would decide instead).
//!
//! Nothing in the request but the image reference is read: no annotation
//! or label can stand for a verification.
//!
//! [`Policy::evaluate_unmatched`]: sigil_verifier::policy::Policy::evaluate_unmatched

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use sigil_verifier::digest::Digest;
use sigil_verifier::pipeline::{ImageError, Subject, resolve};
use sigil_verifier::policy::{Decision, Report};
use sigil_verifier::reference::{ImageRef, RegistryRef};
use sigil_verifier::registry::{RegistryClient, RegistryStore};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::metrics::Metrics;
use crate::state::Loaded;

/// How long what was learnt is kept.
#[derive(Clone, Copy, Debug)]
pub struct CacheSettings {
    /// Allowed decisions.
    pub allowed: Duration,
    /// Denied decisions.
    pub denied: Duration,
    /// A tag's digest (zero: resolved on every request).
    pub tags: Duration,
    /// Most entries kept in each cache.
    pub entries: usize,
    /// The longest one gathering may run, whoever waits for it.
    pub work: Duration,
    /// Gatherings running at once, across all requests: a burst of new
    /// images queues here instead of opening connections without bound.
    pub gatherings: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            allowed: Duration::from_secs(300),
            denied: Duration::from_secs(5),
            tags: Duration::ZERO,
            entries: 16_384,
            work: Duration::from_secs(60),
            gatherings: 64,
        }
    }
}

/// What was decided about one image.
#[derive(Debug)]
pub struct ImageDecision {
    /// The digest judged, when it was resolved.
    pub digest: Option<Digest>,
    /// The policy's report (for an image not decided in time, the report
    /// of evidence that could not be gathered, under the rule its name
    /// matches); `None` only if the decision itself failed.
    pub report: Option<Report>,
    /// Why the image was denied when there is no report.
    pub reason: Option<String>,
    /// The registry could not be read.
    pub registry_error: bool,
    /// The deadline came before the registry answered.
    pub timed_out: bool,
}

impl ImageDecision {
    /// Allowed: the report says so (a `warn` or `audit` rule allows what
    /// failed, an error included, and says so).
    pub fn allowed(&self) -> bool {
        self.report.as_ref().is_some_and(|r| r.decision == Decision::Allow)
    }

    /// The outcome label of `/metrics`.
    pub fn label(&self) -> &'static str {
        match &self.report {
            _ if self.timed_out => "timeout",
            None => "error",
            Some(r) if r.error.is_some() => "error",
            Some(r) if r.decision == Decision::Allow => "allowed",
            Some(_) => "denied",
        }
    }

    /// Why it was denied, or what a warn or audit rule found: the failed
    /// checks' reasons.
    pub fn failures(&self) -> String {
        if let Some(reason) = &self.reason {
            return reason.clone();
        }
        let Some(report) = &self.report else {
            return "no decision".into();
        };
        let reasons: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.result == sigil_verifier::policy::CheckResult::Fail)
            .map(|c| c.reason.as_str())
            .collect();
        if reasons.is_empty() {
            "denied".into()
        } else {
            reasons.join("; ")
        }
    }
}

type Flight<T> = Shared<BoxFuture<'static, T>>;

/// A decision's cache key: (policy generation, reference as judged, digest).
type Key = (Digest, String, Digest);

struct Entry<T> {
    flight: Flight<T>,
    started: Instant,
}

/// Decides about images for every request of a server.
pub struct Decider {
    settings: CacheSettings,
    client: Arc<RegistryClient>,
    metrics: Arc<Metrics>,
    gathering: Arc<Semaphore>,
    decisions: Mutex<HashMap<Key, Entry<Arc<ImageDecision>>>>,
    tags: Mutex<HashMap<String, Entry<Result<Digest, String>>>>,
}

impl Decider {
    pub fn new(settings: CacheSettings, client: Arc<RegistryClient>, metrics: Arc<Metrics>) -> Decider {
        Decider {
            gathering: Arc::new(Semaphore::new(settings.gatherings.max(1))),
            settings,
            client,
            metrics,
            decisions: Mutex::default(),
            tags: Mutex::default(),
        }
    }

    /// Decides about `image` under `loaded`, by `deadline`.
    pub async fn decide(&self, loaded: &Arc<Loaded>, image: &RegistryRef, deadline: Instant) -> Arc<ImageDecision> {
        let now = OffsetDateTime::now_utc();
        let reference = ImageRef::Registry(image.clone());
        if let Some(report) = loaded.policy.evaluate_unmatched(&reference, now) {
            Metrics::count(&self.metrics.decided_without_io);
            return Arc::new(ImageDecision {
                digest: image.digest().cloned(),
                report: Some(report),
                reason: None,
                registry_error: false,
                timed_out: false,
            });
        }
        // Judged as evidence that could not be gathered: an enforce rule
        // denies, a warn or audit rule allows and says why (as for any
        // registry error).
        let late = |digest: Option<&Digest>| {
            Metrics::count(&self.metrics.deadline_denials);
            let error = "the registry did not answer in time (before the apiserver's timeout)";
            Arc::new(ImageDecision {
                digest: digest.cloned(),
                report: Some(loaded.policy.evaluate_failure(&reference, digest, error, now)),
                reason: None,
                registry_error: true,
                timed_out: true,
            })
        };
        let digest = match image.digest() {
            Some(d) => d.clone(),
            None => match tokio::time::timeout_at(deadline, self.resolve(image)).await {
                Err(_) => return late(None),
                Ok(Ok(d)) => d,
                Ok(Err(error)) => {
                    Metrics::count(&self.metrics.registry_errors);
                    let report = loaded.policy.evaluate_failure(&reference, None, &error, now);
                    return Arc::new(ImageDecision {
                        digest: None,
                        report: Some(report),
                        reason: None,
                        registry_error: true,
                        timed_out: false,
                    });
                }
            },
        };
        let key = (loaded.generation.clone(), image.to_string(), digest.clone());
        let flight = {
            let mut decisions = lock(&self.decisions);
            let live = decisions.get(&key).filter(|e| self.live(e));
            match live {
                Some(entry) => {
                    Metrics::count(&self.metrics.cache_hits);
                    entry.flight.clone()
                }
                None => {
                    Metrics::count(&self.metrics.cache_misses);
                    let flight = self.gather(loaded.clone(), reference.clone(), digest.clone(), now);
                    self.evict(&mut decisions, |e| self.live(e));
                    decisions.insert(
                        key,
                        Entry {
                            flight: flight.clone(),
                            started: Instant::now(),
                        },
                    );
                    flight
                }
            }
        };
        match tokio::time::timeout_at(deadline, flight).await {
            Ok(decision) => decision,
            Err(_) => late(Some(&digest)),
        }
    }

    /// Drops what can no longer answer (called now and then, so memory
    /// follows the images in use, not every image ever seen).
    pub fn purge(&self) {
        lock(&self.decisions).retain(|_, e| self.live(e));
        lock(&self.tags).retain(|_, e| self.tag_live(e));
    }

    /// Whether an entry may still answer: in flight, or decided less than
    /// its outcome's time to live ago.
    fn live(&self, entry: &Entry<Arc<ImageDecision>>) -> bool {
        let Some(decision) = entry.flight.peek() else {
            return true;
        };
        let ttl = match (&decision.report, decision.registry_error) {
            (Some(_), false) if decision.allowed() => self.settings.allowed,
            (Some(r), false) if r.error.is_none() => self.settings.denied,
            _ => Duration::ZERO,
        };
        entry.started.elapsed() < ttl
    }

    /// Makes room in a full cache: expired entries go, then decided ones.
    fn evict<K, T: Clone>(&self, map: &mut HashMap<K, Entry<T>>, keep: impl Fn(&Entry<T>) -> bool) {
        if map.len() < self.settings.entries {
            return;
        }
        map.retain(|_, e| keep(e));
        if map.len() >= self.settings.entries {
            // Still full of live entries: drop the decided ones; those in flight stay.
            map.retain(|_, e| e.flight.peek().is_none());
        }
    }

    /// Whether a tag's resolution may still answer: in flight, or
    /// resolved less than `--tag-ttl` ago; a failure answers no one else.
    fn tag_live(&self, entry: &Entry<Result<Digest, String>>) -> bool {
        match entry.flight.peek() {
            None => true,
            Some(Ok(_)) => entry.started.elapsed() < self.settings.tags,
            Some(Err(_)) => false,
        }
    }

    /// The one gathering and judgement for (policy, image, digest), as a
    /// task of its own.
    fn gather(
        &self,
        loaded: Arc<Loaded>,
        image: ImageRef,
        digest: Digest,
        now: OffsetDateTime,
    ) -> Flight<Arc<ImageDecision>> {
        let metrics = self.metrics.clone();
        let limit = self.settings.work;
        let gathering = self.gathering.clone();
        let (policy, late_image, late_digest) = (loaded.policy.clone(), image.clone(), digest.clone());
        let work = async move {
            // Never closed, so acquiring cannot fail; the work bound covers the wait.
            let _permit = gathering.acquire_owned().await.ok();
            let subject = Subject {
                image: image.clone(),
                digest: Some(digest.clone()),
                judged_as: None,
                at: None,
            };
            let decided = loaded.pipeline.decide_all(vec![subject], now, &|_| {}).await;
            let decided = decided.into_iter().next();
            let registry_error = decided
                .as_ref()
                .and_then(|d| d.error.as_ref())
                .is_some_and(|e| matches!(e, ImageError::Store(_) | ImageError::Gather(_)));
            if registry_error {
                Metrics::count(&metrics.registry_errors);
            }
            ImageDecision {
                digest: Some(digest),
                reason: match &decided {
                    None => Some("internal: no decision was made; denied".into()),
                    Some(d) if d.verdict.is_none() => Some(match &d.error {
                        Some(e) => format!("could not be evaluated: {e}"),
                        None => "no decision was made; denied".into(),
                    }),
                    Some(_) => None,
                },
                report: decided.and_then(|d| d.verdict),
                registry_error,
                timed_out: false,
            }
        };
        let task = tokio::spawn(async move {
            match tokio::time::timeout(limit, work).await {
                Ok(decision) => Arc::new(decision),
                Err(_) => {
                    let error = format!("gathering the evidence took longer than {limit:?}");
                    Arc::new(ImageDecision {
                        report: Some(policy.evaluate_failure(&late_image, Some(&late_digest), &error, now)),
                        digest: Some(late_digest),
                        reason: None,
                        registry_error: true,
                        timed_out: true,
                    })
                }
            }
        });
        task.map(|joined| {
            joined.unwrap_or_else(|_| {
                Arc::new(ImageDecision {
                    digest: None,
                    report: None,
                    reason: Some("internal: the decision did not finish; denied".into()),
                    registry_error: false,
                    timed_out: false,
                })
            })
        })
        .boxed()
        .shared()
    }

    /// The digest `image`'s tag names now (or within `--tag-ttl`).
    async fn resolve(&self, image: &RegistryRef) -> Result<Digest, String> {
        let key = image.to_string();
        let flight = {
            let mut tags = lock(&self.tags);
            match tags.get(&key).filter(|e| self.tag_live(e)) {
                Some(entry) => entry.flight.clone(),
                None => {
                    let store = RegistryStore::new(self.client.clone(), image);
                    let reference = ImageRef::Registry(image.clone());
                    let task = tokio::spawn(async move {
                        resolve(&store, &reference)
                            .await
                            .map(|d| d.digest)
                            .map_err(|e| e.to_string())
                    });
                    let flight = task
                        .map(|joined| joined.unwrap_or_else(|_| Err("internal: resolution did not finish".into())))
                        .boxed()
                        .shared();
                    self.evict(&mut tags, |e| self.tag_live(e));
                    tags.insert(
                        key,
                        Entry {
                            flight: flight.clone(),
                            started: Instant::now(),
                        },
                    );
                    flight
                }
            }
        };
        flight.await
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
