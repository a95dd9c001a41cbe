//! Many images in one run, through the library's decision pipeline
//! ([`sigil_verifier::pipeline`]): stores opened from the run's registry
//! client, progress on a terminal, and the human report. Shared by
//! `verify`, `verify-attestation` and `verify --policy`.

use std::io::IsTerminal as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sigil_verifier::digest::Digest;
use sigil_verifier::pipeline::{Decided, Judge, Outcome, Pipeline, Settings, Subject};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::store::{AnyStore, StoreError};
use time::OffsetDateTime;

use crate::args::IdentityArgs;

/// Opens the store each image names: its registry through `client`, or its
/// layout directory (which must exist).
/// Opens each image's store, its attachments in `COSIGN_REPOSITORY` when set
/// (an unusable value makes every image an error naming it).
pub fn open_with(client: Arc<RegistryClient>) -> impl Fn(&ImageRef) -> Result<AnyStore, StoreError> + Send + Sync {
    let attachments = crate::common::cosign_repository().map_err(|e| format!("{e:#}"));
    move |image| match &attachments {
        Ok(attachments) => AnyStore::open_with_attachments(image, &client, false, attachments.as_ref()),
        Err(e) => Err(StoreError::Refused {
            location: image.to_string(),
            detail: e.clone(),
        }),
    }
}

/// Verification needs something to trust, and clap alone cannot name every
/// way to give it: a key, a keyless identity, an identity under your own
/// roots, or a policy (for commands that take `--policy`: `takes_policy`).
pub fn require_trust(
    key: Option<&Path>,
    identity: &IdentityArgs,
    policy: Option<&Path>,
    takes_policy: bool,
) -> anyhow::Result<()> {
    let given = key.is_some()
        || policy.is_some()
        || identity.certificate_identity.is_some()
        || identity.certificate_identity_regexp.is_some();
    if given {
        return Ok(());
    }
    let ways = "--key FILE (a public key), --certificate-identity or --certificate-identity-regexp with --certificate-oidc-issuer[-regexp] (keyless, Sigstore), the identity flags with --certificate-roots FILE (your own PKI)";
    if takes_policy {
        anyhow::bail!("say whom to trust: {ways}, or --policy FILE");
    }
    anyhow::bail!("say whom to trust: {ways}")
}

/// Decides about every image with `judge`, with progress on a terminal;
/// the decisions in argument order.
pub async fn decide<J: Judge>(
    images: Vec<ImageRef>,
    client: Arc<RegistryClient>,
    judge: J,
    settings: Settings,
    now: OffsetDateTime,
) -> Vec<Decided<J::Verdict>> {
    let progress = Progress::new("verifying", images.len());
    let pipeline = Pipeline::new(open_with(client), judge, settings);
    let subjects = images.into_iter().map(Subject::from).collect();
    let decided = pipeline.decide_all(subjects, now, &|_| progress.tick()).await;
    progress.finish();
    decided
}

/// Prints one line on stderr per image that could not be evaluated, and
/// gives the run's outcome.
pub fn finish<V>(decided: &[Decided<V>]) -> Outcome {
    for d in decided {
        if let Some(e) = &d.error {
            eprintln!("error: {}: {e}", d.image);
        }
    }
    Outcome::of_run(decided.iter().map(|d| d.outcome))
}

/// A counter on stderr, shown only on a terminal and for more than one image.
pub struct Progress {
    doing: &'static str,
    total: usize,
    done: AtomicUsize,
    visible: bool,
}

impl Progress {
    /// A counter of `total` images for the work named `doing` ("signing").
    pub fn new(doing: &'static str, total: usize) -> Progress {
        Progress {
            doing,
            total,
            done: AtomicUsize::new(0),
            visible: total > 1 && std::io::stderr().is_terminal(),
        }
    }

    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if self.visible {
            eprint!("\r{}: {done}/{} images", self.doing, self.total);
        }
    }

    pub fn finish(&self) {
        if self.visible {
            eprint!("\r\x1b[2K");
        }
    }
}

/// One judged piece of evidence, for the human report.
pub enum Line {
    Valid { origin: String, signer: String },
    Invalid { origin: String, reason: String },
}

impl Line {
    /// The line for evidence found at `origin` and judged `outcome`.
    pub fn of(
        origin: &sigil_verifier::gather::Origin,
        outcome: Result<&sigil_verifier::verify::Signer, &sigil_verifier::verify::Rejection>,
    ) -> Line {
        match outcome {
            Ok(signer) => Line::Valid {
                origin: origin.to_string(),
                signer: signer.to_string(),
            },
            Err(why) => Line::Invalid {
                origin: origin.to_string(),
                reason: why.to_string(),
            },
        }
    }
}

/// The human report of every image: for each, [`human_lines`] over its
/// checks, each check turned into a [`Line`] by `line`.
pub fn human_report<C>(decided: &[Decided<Vec<C>>], noun: &str, line: impl Fn(&C) -> Line) -> String {
    decided
        .iter()
        .map(|d| match (&d.error, &d.digest, &d.verdict) {
            (None, Some(digest), Some(checks)) => {
                human_lines(&d.image, digest, d.outcome, checks.iter().map(&line).collect(), noun)
            }
            _ => format!("ERROR  {}: could not be evaluated (see stderr)\n", d.image),
        })
        .collect()
}

/// The human report of one judged image: a PASS/FAIL line and one line per
/// piece of evidence. `noun` names the evidence ("signatures", "... attestations").
fn human_lines(image: &ImageRef, digest: &Digest, outcome: Outcome, lines: Vec<Line>, noun: &str) -> String {
    let valid = lines.iter().filter(|l| matches!(l, Line::Valid { .. })).count();
    let verdict = if outcome == Outcome::Allowed { "PASS " } else { "FAIL " };
    let summary = if lines.is_empty() {
        format!("no {noun} found")
    } else {
        format!("{valid} of {} {noun} valid", lines.len())
    };
    let mut text = format!("{verdict}  {image} ({digest}): {summary}\n");
    for line in lines {
        match line {
            Line::Valid { origin, signer } => {
                text.push_str(&format!("         valid    {origin} signed by {signer}\n"))
            }
            Line::Invalid { origin, reason } => text.push_str(&format!("         invalid  {origin}: {reason}\n")),
        }
    }
    text
}
