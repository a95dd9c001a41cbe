//! `sigil verify-attestation IMAGE... --type T --key PUB`.

use serde_json::{Value, json};
use sigil_verifier::gather;
use sigil_verifier::predicate;
use sigil_verifier::verify::judge_attestations;

use super::batch::{gather_each, resolve_all};
use super::verify::finish;
use crate::Outcome;
use crate::args::{OutputFormat, VerifyAttestationArgs};
use crate::common::{parse_images, print, print_json, read_public_key, registry_client};

/// Images verified at once.
const CONCURRENCY: usize = 16;

pub async fn run(args: VerifyAttestationArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let predicate_type = predicate::resolve_type(&args.predicate_type)?;
    let key = read_public_key(&args.key)?;
    let client = registry_client(&args.registry)?;
    let resolved = resolve_all(images, &client, CONCURRENCY).await;
    let gathered = gather_each(&resolved, CONCURRENCY, |store, digest| async move {
        gather::attestations(store, digest).await.map_err(|e| e.to_string())
    })
    .await;
    let mut reports = Vec::new();
    let mut text = String::new();
    let mut verdicts = Vec::new();
    for (r, evidence) in resolved.iter().zip(gathered) {
        let checked = evidence.and_then(|evidence| {
            let (_, digest) = r.outcome.as_ref().map_err(Clone::clone)?;
            Ok((
                digest.clone(),
                judge_attestations(&evidence, &key, digest, &predicate_type),
            ))
        });
        match &checked {
            Err(e) => {
                text.push_str(&format!("ERROR  {}: could not be evaluated (see stderr)\n", r.image));
                reports.push(json!({"image": r.image.to_string(), "verified": false, "error": e}));
                verdicts.push(Err(e.clone()));
            }
            Ok((digest, checks)) => {
                let valid: Vec<_> = checks.iter().filter_map(|c| c.outcome.as_ref().ok()).collect();
                let verdict = if valid.is_empty() { "FAIL " } else { "PASS " };
                let summary = if checks.is_empty() {
                    format!("no {predicate_type} attestations found")
                } else {
                    format!(
                        "{} of {} {predicate_type} attestations valid",
                        valid.len(),
                        checks.len()
                    )
                };
                text.push_str(&format!("{verdict}  {} ({digest}): {summary}\n", r.image));
                for c in checks {
                    match &c.outcome {
                        Ok(a) => text.push_str(&format!("         valid    {} signed by {}\n", c.origin, a.signer)),
                        Err(why) => text.push_str(&format!("         invalid  {}: {why}\n", c.origin)),
                    }
                }
                reports.push(json!({
                    "image": r.image.to_string(),
                    "digest": digest,
                    "verified": !valid.is_empty(),
                    "attestations": checks.iter().map(|c| match &c.outcome {
                        Ok(a) => json!({
                            "origin": c.origin, "valid": true, "signer": a.signer,
                            "statement": serde_json::to_value(&a.statement).unwrap_or(Value::Null),
                        }),
                        Err(why) => json!({"origin": c.origin, "valid": false, "reason": why.to_string()}),
                    }).collect::<Vec<_>>(),
                }));
                verdicts.push(Ok(!valid.is_empty()));
            }
        }
    }
    match output {
        OutputFormat::Human => print(&text)?,
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/verify-attestation/v1",
            "predicateType": predicate_type,
            "key": {"fingerprint": key.fingerprint()},
            "images": reports,
        }))?,
    }
    finish(
        resolved
            .iter()
            .zip(verdicts.iter())
            .map(|(r, v)| (&r.image, v.as_ref().map(|b| *b))),
    )
}
