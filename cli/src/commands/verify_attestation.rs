//! `sigil verify-attestation IMAGE... --type T --key PUB`.

use std::io::Write as _;

use serde::Serialize;
use sigil_verifier::digest::Digest;
use sigil_verifier::gather::{self, Origin};
use sigil_verifier::intoto::Statement;
use sigil_verifier::predicate;
use sigil_verifier::verify::{AttestationCheck, Signer, judge_attestations_by};

use super::batch::{Judged, Line, gather_each, human_report, judge_images, resolve_all};
use super::verify::finish;
use crate::Outcome;
use crate::args::{OutputFormat, VerifyAttestationArgs};
use crate::common::{authority, describe, parse_images, print, registry_client, within};

/// The result for one image argument.
type ImageResult = Judged<Vec<AttestationCheck>>;

pub async fn run(args: VerifyAttestationArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let timeout = args.run.timeout;
    within(timeout, verify_attestations(args, output)).await
}

async fn verify_attestations(args: VerifyAttestationArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let predicate_type = predicate::resolve_type(&args.predicate_type)?;
    let trusted = authority(args.key.as_deref(), &args.identity)?;
    // A private-PKI chain without a log entry is checked at the time of the run.
    let now = time::OffsetDateTime::now_utc();
    let client = registry_client(&args.registry, &images)?;
    let limits = args.evidence.limits();
    let resolved = resolve_all(images, &client, usize::from(args.concurrency)).await;
    let gathered = gather_each(&resolved, usize::from(args.concurrency), |store, digest| async move {
        gather::Gatherer::new(store, digest, limits)
            .attestations()
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    let results = judge_images(&resolved, gathered, |evidence, digest| {
        judge_attestations_by(evidence, &trusted, digest, &predicate_type, now)
    });
    match output {
        OutputFormat::Human => print(&human(&results, &predicate_type))?,
        OutputFormat::Json => {
            let report = Report {
                api_version: "sigil.dev/verify-attestation/v1",
                predicate_type: &predicate_type,
                trusted: describe(&trusted),
                images: results.iter().map(image_report).collect(),
            };
            // Written straight to stdout: a statement can hold a 100 MB SBOM.
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &report)?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    finish(results.iter().map(|r| {
        (
            &r.image,
            r.outcome.as_ref().map(|(_, c)| c.iter().any(|c| c.outcome.is_ok())),
        )
    }))
}

fn human(results: &[ImageResult], predicate_type: &str) -> String {
    human_report(results, &format!("{predicate_type} attestations"), |c| {
        Line::of(&c.origin, c.outcome.as_ref().map(|v| &v.signer))
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    api_version: &'static str,
    predicate_type: &'a str,
    trusted: serde_json::Value,
    images: Vec<ImageReport<'a>>,
}

#[derive(Serialize)]
struct ImageReport<'a> {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'a Digest>,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attestations: Option<Vec<AttestationReport<'a>>>,
}

#[derive(Serialize)]
struct AttestationReport<'a> {
    origin: &'a Origin,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    signer: Option<&'a Signer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<&'a Statement>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn image_report(r: &ImageResult) -> ImageReport<'_> {
    match &r.outcome {
        Err(e) => ImageReport {
            image: r.image.to_string(),
            digest: None,
            verified: false,
            error: Some(e),
            attestations: None,
        },
        Ok((digest, checks)) => ImageReport {
            image: r.image.to_string(),
            digest: Some(digest),
            verified: checks.iter().any(|c| c.outcome.is_ok()),
            error: None,
            attestations: Some(
                checks
                    .iter()
                    .map(|c| match &c.outcome {
                        Ok(a) => AttestationReport {
                            origin: &c.origin,
                            valid: true,
                            signer: Some(&a.signer),
                            statement: Some(&a.statement),
                            reason: None,
                        },
                        Err(why) => AttestationReport {
                            origin: &c.origin,
                            valid: false,
                            signer: None,
                            statement: None,
                            reason: Some(why.to_string()),
                        },
                    })
                    .collect(),
            ),
        },
    }
}
