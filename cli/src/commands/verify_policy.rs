//! `sigil verify IMAGE... --policy P [--at RFC3339]`: many images against one
//! policy. Digests are resolved concurrently, the evidence of each distinct
//! (repository, digest) is gathered once, and the decision is the library's
//! pure `Policy::evaluate`. Exit 2 if any image could not be evaluated
//! (whatever the mode of the rule it is reported under), else 1 if any was
//! denied, else 0; `warn`/`audit` rules never change it.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use sigil_verifier::gather;
use sigil_verifier::policy::{self, Decision, Evidence, Mode, Policy, Report, Severity, names};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::store::AnyStore;
use time::OffsetDateTime;

use super::batch::{gather_each, judge_all, resolve_all};
use crate::Outcome;
use crate::args::OutputFormat;
use crate::common::{print, print_json};

/// Runs the policy over `images`.
pub async fn run(
    images: Vec<ImageRef>,
    policy: &Path,
    at: Option<String>,
    concurrency: usize,
    limits: gather::Limits,
    client: Arc<RegistryClient>,
    output: OutputFormat,
) -> anyhow::Result<Outcome> {
    let now = evaluation_time(at.as_deref())?;
    let policy = load_policy(policy, now)?;
    let concurrency = concurrency.max(1);

    let resolved = resolve_all(images, &client, concurrency).await;
    let gathered = gather_each(&resolved, concurrency, |store, digest| async move {
        let mut gatherer = gather::Gatherer::new(store, digest, limits);
        let signatures = gatherer.signatures().await.map_err(|e| e.to_string())?;
        let attestations = gatherer.attestations().await.map_err(|e| e.to_string())?;
        let recorded = match store {
            AnyStore::Layout(layout) => layout.source_name(digest).await.map_err(|e| e.to_string())?,
            AnyStore::Registry(_) => None,
        };
        Ok((signatures, attestations, recorded))
    })
    .await;
    // Judge (pure) and report.
    let pairs: Vec<_> = resolved.iter().zip(gathered).collect();
    let reports: Vec<Report> = judge_all(&pairs, |(r, evidence)| match (&r.outcome, evidence) {
        // Judged under the rule the image's name matches (its mode applies); the run exits 2.
        (Err(e), _) => policy.evaluate_failure(&r.image, None, e, now),
        (Ok((_, digest)), Err(e)) => policy.evaluate_failure(&r.image, Some(digest), e, now),
        (Ok((_, digest)), Ok(evidence)) => {
            let (signatures, attestations, recorded) = evidence.as_ref();
            // A recorded name that is no reference, or names another digest, is
            // malformed evidence: the image cannot be evaluated.
            match names::of(&r.image, digest.clone(), recorded.as_deref()) {
                Ok(names) => policy.evaluate(
                    &Evidence::new(
                        r.image.to_string(),
                        names,
                        signatures.as_slice().into(),
                        attestations.as_slice().into(),
                    ),
                    now,
                ),
                Err(e) => policy.evaluate_failure(&r.image, Some(digest), &e.to_string(), now),
            }
        }
    });
    render(&reports, &policy, output)?;
    Ok(outcome(&reports))
}

/// `--at` as a time, else now.
pub fn evaluation_time(at: Option<&str>) -> anyhow::Result<OffsetDateTime> {
    match at {
        Some(text) => policy::parse_time(text)
            .with_context(|| format!("--at {text:?} is not an RFC 3339 time (as in 2026-01-31T12:00:00Z)")),
        None => Ok(OffsetDateTime::now_utc()),
    }
}

/// Loads a policy, refusing one with errors (printed in full on stderr) and
/// printing its warnings one line each.
pub fn load_policy(path: &Path, now: OffsetDateTime) -> anyhow::Result<Policy> {
    match sigil_verifier::files::load_checked(path, now) {
        Ok((policy, diagnostics)) => {
            for d in &diagnostics.items {
                let place = d
                    .line_column()
                    .map(|(l, c)| format!(" ({}:{l}:{c})", path.display()))
                    .unwrap_or_default();
                eprintln!("warning[{}]: {}{place}", d.code.as_str(), d.message);
            }
            Ok(policy)
        }
        Err(e) => {
            let errors: Vec<String> =
                e.0.items
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .take(3)
                    .map(|d| match d.line_column() {
                        Some((l, c)) => format!("{l}:{c}: {}", d.message),
                        None => d.message.clone(),
                    })
                    .collect();
            bail!("{e}: {}", errors.join("; "))
        }
    }
}

/// 2 if any could not be evaluated, else 1 if any denied, else 0.
pub fn outcome(reports: &[Report]) -> Outcome {
    if reports.iter().any(|r| r.error.is_some()) {
        Outcome::Error
    } else if reports.iter().any(|r| r.decision == Decision::Deny) {
        Outcome::Failed
    } else {
        Outcome::Success
    }
}

fn render(reports: &[Report], policy: &Policy, output: OutputFormat) -> anyhow::Result<()> {
    for r in reports {
        if let Some(e) = &r.error {
            eprintln!("error: {}: {e}", r.image);
        }
        if r.mode == Some(Mode::Warn) && r.decision == Decision::Allow && r.error.is_none() {
            for c in r.checks.iter().filter(|c| c.result == policy::CheckResult::Fail) {
                eprintln!(
                    "warning: {}: rule {} (warn) would deny: {}",
                    r.image,
                    r.rule.as_deref().unwrap_or("?"),
                    c.reason
                );
            }
        }
    }
    match output {
        OutputFormat::Json => print_json(&policy::reports_json(
            reports,
            &policy.file.display().to_string(),
            &policy.digest,
        )),
        OutputFormat::Human => {
            let text: String = reports.iter().map(Report::render_human).collect();
            print(&text)
        }
    }
}
