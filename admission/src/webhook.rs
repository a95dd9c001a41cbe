//! One review in, one answer out: the images of the object, each decided
//! by the policy ([`crate::decisions`]), and what the answer says about
//! them. The only place that knows what Kubernetes expects of a denial, a
//! warning, an audit annotation and a patch.

use std::sync::Arc;

use sigil_verifier::policy::Mode;
use sigil_verifier::reference::RegistryRef;
use tokio::time::Instant;

use crate::decisions::{Decider, ImageDecision};
use crate::images::{self, FoundImage};
use crate::metrics::Metrics;
use crate::patch;
use crate::review::{Answer, Operation, Review};
use crate::state::Loaded;

/// The most images one object may name. Kubernetes sets no number, only
/// the object's size; past this many, judging them all within one
/// apiserver timeout is not a promise sigil can keep, so it denies.
pub const MAX_IMAGES: usize = 512;

/// Which webhook was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/validate`: allow or deny.
    Validate,
    /// `/mutate`: allow or deny, and pin what was verified.
    Mutate,
}

impl Endpoint {
    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

/// One image of the object and what became of it.
struct Judged<'a> {
    found: &'a FoundImage,
    /// The normalised reference, when the string names a registry image.
    image: Result<RegistryRef, String>,
    decision: Option<Arc<ImageDecision>>,
}

impl Judged<'_> {
    fn allowed(&self) -> bool {
        self.decision.as_ref().is_some_and(|d| d.allowed())
    }

    /// `FIELD IMAGE`, the image as normalised (`HOST[:PORT]/REPO...`), or as
    /// written when it names none.
    fn subject(&self) -> String {
        match &self.image {
            Ok(r) => format!("{} {r}", self.found.field),
            Err(_) => format!("{} {}", self.found.field, self.found.written),
        }
    }

    fn failures(&self) -> String {
        match (&self.image, &self.decision) {
            (Err(reason), _) => reason.clone(),
            (Ok(_), Some(d)) => d.failures(),
            (Ok(_), None) => "no decision".into(),
        }
    }
}

/// Answers `review` for `endpoint` by the policy `loaded`, by `deadline`.
pub async fn answer(
    review: &Review,
    endpoint: Endpoint,
    loaded: &Arc<Loaded>,
    decider: &Decider,
    metrics: &Metrics,
    deadline: Instant,
) -> Answer {
    let allowed = Answer {
        allowed: true,
        ..Answer::default()
    };
    if review.operation == Operation::Delete || review.object.is_none() {
        return allowed;
    }
    let found = match images::images_of(review) {
        Ok(found) => found,
        Err(reason) => {
            return Answer {
                allowed: false,
                message: Some(format!("sigil could not read the object's images: {reason}")),
                ..Answer::default()
            };
        }
    };
    if found.len() > MAX_IMAGES {
        return Answer {
            allowed: false,
            message: Some(format!(
                "the object names {} images; sigil judges at most {MAX_IMAGES} in one object",
                found.len()
            )),
            ..Answer::default()
        };
    }
    let judged = futures::future::join_all(found.iter().map(|found| async move {
        let image = images::reference(&found.written);
        let decision = match &image {
            Ok(r) => Some(decider.decide(loaded, r, deadline).await),
            Err(_) => None,
        };
        Judged { found, image, decision }
    }))
    .await;

    let mut answer = allowed;
    let mut denials = Vec::new();
    for (index, j) in judged.iter().enumerate() {
        let report = j.decision.as_ref().and_then(|d| d.report.as_ref());
        let rule = report.and_then(|r| r.rule.as_deref()).unwrap_or("none");
        metrics.decision(j.decision.as_ref().map_or("denied", |d| d.label()), rule);
        if !j.allowed() {
            denials.push(format!("{}: {}", j.subject(), j.failures()));
            continue;
        }
        let failed = report.is_some_and(|r| r.has_failures());
        match report.and_then(|r| r.mode) {
            Some(Mode::Warn) if failed => answer.warnings.push(format!(
                "{}: rule {rule} (warn) would deny: {}",
                j.subject(),
                j.failures()
            )),
            Some(Mode::Audit) => {
                let result = if failed {
                    format!("would deny: {}", j.failures())
                } else {
                    "allowed".into()
                };
                answer.audit_annotations.insert(
                    format!("image-{index}"),
                    format!("{}: rule {rule} (audit): {result}", j.subject()),
                );
            }
            _ => {}
        }
    }
    if !denials.is_empty() {
        return Answer {
            allowed: false,
            message: Some(denials.join("; ")),
            warnings: answer.warnings,
            audit_annotations: answer.audit_annotations,
            patch: Vec::new(),
        };
    }
    if endpoint == Endpoint::Mutate {
        answer.patch = judged
            .iter()
            .filter(|j| !unchanged(review, j.found))
            .filter_map(|j| {
                let digest = j.decision.as_ref()?.digest.as_ref()?;
                patch::pin(j.found, digest)
            })
            .collect();
    }
    answer
}

/// An image an UPDATE leaves as it was: verified again, but not pinned, as
/// rewriting a running Pod's image restarts its container (and an old
/// workload's template would roll out on any edit, a scale included).
fn unchanged(review: &Review, found: &FoundImage) -> bool {
    review.operation == Operation::Update
        && review
            .old_object
            .as_ref()
            .and_then(|old| old.pointer(&found.pointer))
            .and_then(|v| v.as_str())
            == Some(found.written.as_str())
}
