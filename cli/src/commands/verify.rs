//! `sigil verify IMAGE... --key PUB`: many images at once, each digest
//! gathered (within the evidence budgets) and judged once, the whole run
//! within `--timeout` when one is given.

use std::collections::BTreeMap;

use serde_json::json;
use sigil_verifier::gather;
use sigil_verifier::reference::ImageRef;
use sigil_verifier::verify::{Authority, SignatureCheck, judge_signatures_by};

use super::batch::{Judged, Line, gather_each, human_report, judge_images, resolve_all};
use crate::Outcome;
use crate::args::{OutputFormat, VerifyArgs};
use crate::common::{authority, describe, parse_annotations, parse_images, print, print_json, registry_client, within};

/// The result for one image argument.
type ImageResult = Judged<Vec<SignatureCheck>>;

pub async fn run(args: VerifyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let timeout = args.run.timeout;
    within(timeout, verify(args, output)).await
}

async fn verify(args: VerifyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let client = registry_client(&args.registry, &images)?;
    let concurrency = usize::from(args.concurrency);
    let limits = args.evidence.limits();
    let trusted = match (&args.key, &args.policy) {
        (_, Some(policy)) => {
            return super::verify_policy::run(images, policy, args.at, concurrency, limits, client, output).await;
        }
        (key, None) => authority(key.as_deref(), &args.identity)?,
    };
    // A private-PKI chain without a log entry is checked at the time of the run.
    let now = time::OffsetDateTime::now_utc();
    let required = parse_annotations(&args.annotations)?;
    let resolved = resolve_all(images, &client, concurrency).await;
    let gathered = gather_each(&resolved, concurrency, |store, digest| async move {
        gather::Gatherer::new(store, digest, limits)
            .signatures()
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let results = judge_images(&resolved, gathered, |evidence, digest| {
        judge_signatures_by(evidence, &trusted, digest, &required, now)
    });
    render(&results, &trusted, &required, output)?;
    finish(results.iter().map(|r| {
        (
            &r.image,
            r.outcome
                .as_ref()
                .map(|(_, checks)| checks.iter().any(|c| c.outcome.is_ok())),
        )
    }))
}

/// Prints one line per image that could not be evaluated and picks the exit:
/// 2 if any could not be evaluated, else 1 if any failed, else 0.
pub fn finish<'a>(results: impl Iterator<Item = (&'a ImageRef, Result<bool, &'a String>)>) -> anyhow::Result<Outcome> {
    let mut outcome = Outcome::Success;
    for (image, result) in results {
        match result {
            Err(e) => {
                eprintln!("error: {image}: {e}");
                outcome = Outcome::Error;
            }
            Ok(false) if outcome == Outcome::Success => outcome = Outcome::Failed,
            Ok(_) => {}
        }
    }
    Ok(outcome)
}

fn render(
    results: &[ImageResult],
    trusted: &Authority,
    required: &BTreeMap<String, String>,
    output: OutputFormat,
) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/verify/v1",
            "trusted": describe(trusted),
            "requiredAnnotations": required,
            "images": results.iter().map(image_json).collect::<Vec<_>>(),
        })),
        OutputFormat::Human => print(&human_report(results, "signatures", |c| {
            Line::of(&c.origin, c.outcome.as_ref().map(|v| &v.signer))
        })),
    }
}

fn image_json(r: &ImageResult) -> serde_json::Value {
    match &r.outcome {
        Err(e) => json!({"image": r.image.to_string(), "verified": false, "error": e}),
        Ok((digest, checks)) => json!({
            "image": r.image.to_string(),
            "digest": digest,
            "verified": checks.iter().any(|c| c.outcome.is_ok()),
            "signatures": checks.iter().map(|c| match &c.outcome {
                Ok(s) => json!({
                    "origin": c.origin, "valid": true, "signer": s.signer,
                    "dockerReference": s.docker_reference, "annotations": s.annotations,
                }),
                Err(why) => json!({"origin": c.origin, "valid": false, "reason": why.to_string()}),
            }).collect::<Vec<_>>(),
        }),
    }
}
