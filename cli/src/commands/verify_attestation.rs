//! `sigil verify-attestation IMAGE... --type T --key PUB`.

use std::io::Write as _;
use std::sync::Arc;

use serde::Serialize;
use sigil_verifier::digest::Digest;
use sigil_verifier::gather::{AttestationEvidence, Origin};
use sigil_verifier::intoto::Statement;
use sigil_verifier::pipeline::{Attestations, Decided, Outcome as Decision, Settings};
use sigil_verifier::predicate;
use sigil_verifier::verify::{AttestationCheck, Signer, judge_attestations_by};
use time::OffsetDateTime;

use super::batch::{Line, decide, finish, human_report, require_trust};
use crate::Outcome;
use crate::args::{OutputFormat, VerifyAttestationArgs};
use crate::common::{authority, describe, parse_images, print, registry_client, within};

/// The decision about one image argument.
type ImageResult = Decided<Vec<AttestationCheck>>;

pub async fn run(args: VerifyAttestationArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let timeout = args.run.timeout;
    within(timeout, verify_attestations(args, output)).await
}

async fn verify_attestations(args: VerifyAttestationArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let predicate_type = predicate::resolve_type(&args.predicate_type)?;
    require_trust(args.key.as_deref(), &args.identity, None, false)?;
    let trusted = Arc::new(authority(args.key.as_deref(), &args.identity)?);
    let client = registry_client(&args.registry, &images)?;
    let settings = Settings {
        concurrency: usize::from(args.concurrency),
        limits: args.evidence.limits(),
        ..Settings::default()
    };
    let judge = {
        let (trusted, predicate_type) = (trusted.clone(), predicate_type.clone());
        Attestations(
            move |evidence: &[AttestationEvidence], digest: &Digest, now: OffsetDateTime| {
                judge_attestations_by(evidence, &trusted, digest, &predicate_type, now)
            },
        )
    };
    let results = decide(images, client, judge, settings, OffsetDateTime::now_utc()).await;
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
    Ok(finish(&results).into())
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
    error: Option<String>,
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
    match (&r.error, &r.digest, &r.verdict) {
        (None, Some(digest), Some(checks)) => ImageReport {
            image: r.image.to_string(),
            digest: Some(digest),
            verified: r.outcome == Decision::Allowed,
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
        (error, _, _) => ImageReport {
            image: r.image.to_string(),
            digest: None,
            verified: false,
            error: error.as_ref().map(ToString::to_string),
            attestations: None,
        },
    }
}
