//! `sigil verify IMAGE... --policy P [--at RFC3339]`: many images against one
//! policy, through the library's decision pipeline with the policy as its
//! judge: digests are resolved concurrently, the evidence of each distinct
//! (repository, digest) is gathered once, and the decision is the library's
//! pure `Policy::evaluate`. Exit 2 if any image could not be evaluated
//! (whatever the mode of the rule it is reported under), else 1 if any was
//! denied, else 0; `warn`/`audit` rules never change it.

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use sigil_verifier::pipeline::{PolicyJudge, Settings};
use sigil_verifier::policy::{self, Decision, Mode, Policy, Report};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use time::OffsetDateTime;

use super::batch::decide;
use crate::Outcome;
use crate::args::OutputFormat;
use crate::common::{print, print_json};

/// Runs the policy over `images`, evaluated at `at` (else now).
pub async fn run(
    images: Vec<ImageRef>,
    policy: &Path,
    at: Option<OffsetDateTime>,
    settings: Settings,
    client: Arc<RegistryClient>,
    output: OutputFormat,
    emit: Option<&super::vsa::Emit>,
) -> anyhow::Result<Outcome> {
    let now = at.unwrap_or_else(OffsetDateTime::now_utc);
    let policy_file = policy;
    let policy = Arc::new(load_policy(policy, now)?);
    let decided = decide(
        images.clone(),
        client.clone(),
        PolicyJudge(policy.clone()),
        settings,
        now,
    )
    .await;
    let outcome = sigil_verifier::pipeline::Outcome::of_run(decided.iter().map(|d| d.outcome));
    // The policy judges every image, those it could not evaluate included.
    let reports: Vec<Report> = decided.into_iter().filter_map(|d| d.verdict).collect();
    render(&reports, &policy, output)?;
    let outcome: Outcome = outcome.into();
    let Some(emit) = emit else {
        return Ok(outcome);
    };
    let failed = super::vsa::emit(emit, &images, &reports, policy_file, &client, now).await;
    for (_, e) in &failed {
        eprintln!("error: {}", format!("{e:#}").replace(['\n', '\r'], " "));
    }
    Ok(if failed.is_empty() { outcome } else { Outcome::Error })
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
        Err(e) => bail!(e.summary()),
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
