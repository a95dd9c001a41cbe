//! `sigil verify IMAGE... --key PUB`: many images at once through the
//! library's decision pipeline, each digest gathered (within the evidence
//! budgets) and judged once, the whole run within `--timeout` when one is
//! given.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::bail;
use serde_json::json;
use sigil_verifier::digest::Digest;
use sigil_verifier::gather::SignatureEvidence;
use sigil_verifier::pipeline::{Decided, Outcome as Decision, Settings, Signatures};
use sigil_verifier::verify::{Authority, SignatureCheck, judge_signatures_by};
use time::OffsetDateTime;

use super::batch::{Line, decide, finish, human_report, require_trust};
use crate::Outcome;
use crate::args::{OutputFormat, VerifyArgs};
use crate::common::{authority, describe, parse_annotations, parse_images, print, print_json, registry_client, within};

/// The decision about one image argument.
type ImageResult = Decided<Vec<SignatureCheck>>;

pub async fn run(args: VerifyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let timeout = args.run.timeout;
    within(timeout, verify(args, output)).await
}

async fn verify(args: VerifyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    // Settings first: every argument is checked before a file is read or a
    // registry contacted.
    let images = parse_images(&args.images)?;
    if let Some(config) = &args.notation_config {
        let client = registry_client(&args.registry, &images)?;
        let crls = &args.notation_crls;
        return super::verify_notation::run(images, config, crls, usize::from(args.concurrency), client, output).await;
    }
    let required = parse_annotations(&args.annotations)?;
    require_trust(args.key.as_deref(), &args.identity, args.policy.as_deref(), true)?;
    let settings = Settings {
        concurrency: usize::from(args.concurrency),
        limits: args.evidence.limits(),
        ..Settings::default()
    };
    if let Some(policy) = &args.policy {
        if args.key.is_some() && !args.emit_vsa {
            bail!(
                "--key and --policy: the policy names the keys it trusts; --key goes with --policy only with --emit-vsa, as the key the summaries are signed with"
            );
        }
        let emit = if args.emit_vsa {
            let keyless = crate::args::KeylessArgs {
                identity_token: args.identity_token.clone(),
                fulcio_url: args.fulcio_url.clone(),
                rekor_url: args.rekor_url.clone(),
                timestamp_server_url: args.timestamp_server_url.clone(),
                trusted_root: args.identity.trusted_root.clone(),
                tlog_upload: false,
                yes: false,
            };
            Some(super::vsa::Emit {
                signer: super::signing::choose(args.key.as_deref(), &keyless).await?,
                verifier_id: args.vsa_verifier_id.clone(),
            })
        } else {
            None
        };
        let client = registry_client(&args.registry, &images)?;
        return super::verify_policy::run(images, policy, args.at, settings, client, output, emit.as_ref()).await;
    }
    let trusted = Arc::new(authority(args.key.as_deref(), &args.identity)?);
    let client = registry_client(&args.registry, &images)?;
    let judge = {
        let (trusted, required) = (trusted.clone(), required.clone());
        Signatures(
            move |evidence: &[SignatureEvidence], digest: &Digest, now: OffsetDateTime| {
                judge_signatures_by(evidence, &trusted, digest, &required, now)
            },
        )
    };
    let decided = decide(images, client, judge, settings, OffsetDateTime::now_utc()).await;
    render(&decided, &trusted, &required, output)?;
    Ok(finish(&decided).into())
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
    match (&r.error, &r.digest, &r.verdict) {
        (None, Some(digest), Some(checks)) => json!({
            "image": r.image.to_string(),
            "digest": digest,
            "verified": r.outcome == Decision::Allowed,
            "signatures": checks.iter().map(|c| match &c.outcome {
                Ok(s) => json!({
                    "origin": c.origin, "valid": true, "signer": s.signer,
                    "dockerReference": s.docker_reference, "annotations": s.annotations,
                }),
                Err(why) => json!({"origin": c.origin, "valid": false, "reason": why.to_string()}),
            }).collect::<Vec<_>>(),
        }),
        (error, _, _) => json!({
            "image": r.image.to_string(),
            "verified": false,
            "error": error.as_ref().map(ToString::to_string),
        }),
    }
}
