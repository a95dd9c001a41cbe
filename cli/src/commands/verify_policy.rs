//! `sigil verify IMAGE... --policy P [--at RFC3339]`: many images against one
//! policy. Digests are resolved concurrently, the evidence of each distinct
//! (repository, digest) is gathered once, and the decision is the library's
//! pure `Policy::evaluate`. Exit 2 if any image could not be evaluated, else
//! 1 if any was denied, else 0; `warn`/`audit` rules never change it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use futures::{StreamExt as _, stream};
use sigil_verifier::digest::Digest;
use sigil_verifier::gather::{self, AttestationEvidence, SignatureEvidence};
use sigil_verifier::policy::{self, Decision, Evidence, ImageName, Mode, Policy, Report, Severity};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::store::{AnyStore, Store as _, StoreError};
use time::OffsetDateTime;

use super::resolve;
use crate::Outcome;
use crate::args::OutputFormat;
use crate::common::{print, print_json};

type Gathered = Result<(Vec<SignatureEvidence>, Vec<AttestationEvidence>), String>;
/// An image argument and the store and digest it resolved to.
type Resolved = (ImageRef, Result<(AnyStore, Digest), StoreError>);

/// Runs the policy over `images`.
pub async fn run(
    images: Vec<ImageRef>,
    policy: &Path,
    at: Option<String>,
    concurrency: usize,
    client: Arc<RegistryClient>,
    output: OutputFormat,
) -> anyhow::Result<Outcome> {
    let now = evaluation_time(at.as_deref())?;
    let policy = load_policy(policy, now)?;
    let concurrency = concurrency.max(1);

    // Phase 1: resolve every argument to a digest (concurrently, in order).
    let resolved: Vec<Resolved> = stream::iter(images)
        .map(|image| {
            let client = client.clone();
            async move {
                let outcome = async {
                    let store = AnyStore::open(&image, &client, false)?;
                    let descriptor = resolve(&store, &image).await?;
                    Ok((store, descriptor.digest))
                }
                .await;
                (image, outcome)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;

    // Phase 2: gather evidence once per distinct (repository, digest).
    let mut unique: Vec<(&AnyStore, &Digest)> = Vec::new();
    let mut seen = HashMap::new();
    for (_, outcome) in &resolved {
        if let Ok((store, digest)) = outcome {
            seen.entry((store.location(), digest.clone())).or_insert_with(|| {
                unique.push((store, digest));
                unique.len() - 1
            });
        }
    }
    let gathered: Vec<Gathered> = stream::iter(unique)
        .map(|(store, digest)| async move {
            let signatures = gather::signatures(store, digest).await.map_err(|e| e.to_string())?;
            let attestations = gather::attestations(store, digest).await.map_err(|e| e.to_string())?;
            Ok((signatures, attestations))
        })
        .buffered(concurrency)
        .collect()
        .await;

    // Phase 3: judge (pure) and report.
    let reports: Vec<Report> = resolved
        .into_iter()
        .map(|(image, outcome)| match outcome {
            Err(e) => policy.evaluate_failure(&image.to_string(), &e.to_string(), now),
            Ok((store, digest)) => match &gathered[seen[&(store.location(), digest.clone())]] {
                Err(e) => policy.evaluate_failure(&image.to_string(), e, now),
                Ok((signatures, attestations)) => policy.evaluate(
                    &Evidence {
                        image: image.to_string(),
                        name: image_name(&image, digest),
                        signatures: signatures.clone(),
                        attestations: attestations.clone(),
                    },
                    now,
                ),
            },
        })
        .collect();
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
    match Policy::load(path, now) {
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

/// The name rules match: the normalised repository and tag, or `oci:DIR`.
pub fn image_name(image: &ImageRef, digest: Digest) -> ImageName {
    match image {
        ImageRef::Registry(r) => ImageName {
            repository: r.name(),
            tag: r.tag().map(str::to_owned),
            digest,
        },
        ImageRef::Layout(l) => ImageName {
            repository: format!("oci:{}", l.dir.display()),
            tag: l.tag.clone(),
            digest,
        },
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
        if r.mode == Some(Mode::Warn) && r.decision == Decision::Allow {
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
