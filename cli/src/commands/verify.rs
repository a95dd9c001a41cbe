//! `sigil verify IMAGE... --key PUB`: many images at once, each digest
//! gathered and judged once.

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;

use futures::{StreamExt as _, stream};
use serde_json::json;
use sigil_verifier::digest::Digest;
use sigil_verifier::gather::{self, SignatureEvidence};
use sigil_verifier::keys::PublicKey;
use sigil_verifier::reference::ImageRef;
use sigil_verifier::store::{AnyStore, Store as _, StoreError};
use sigil_verifier::verify::{SignatureCheck, judge_signatures};

use super::resolve;
use crate::Outcome;
use crate::args::{OutputFormat, VerifyArgs};
use crate::common::{parse_annotations, parse_images, print, print_json, read_public_key, registry_client};

/// An image argument and the store and digest it resolved to.
type Resolved = (ImageRef, Result<(AnyStore, Digest), StoreError>);

/// The result for one image argument.
struct ImageResult {
    image: ImageRef,
    outcome: Result<(Digest, Vec<SignatureCheck>), String>,
}

pub async fn run(args: VerifyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let required = parse_annotations(&args.annotations)?;
    let key = read_public_key(&args.key)?;
    let client = registry_client(&args.registry)?;
    let concurrency = usize::from(args.concurrency);
    let progress = Progress::new(images.len());

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
    let gathered: Vec<Result<Vec<SignatureEvidence>, String>> = stream::iter(unique)
        .map(|(store, digest)| {
            let progress = &progress;
            async move {
                let result = gather::signatures(store, digest).await.map_err(|e| e.to_string());
                progress.tick();
                result
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    progress.finish();

    // Phase 3: judge (pure) and report.
    let results: Vec<ImageResult> = resolved
        .into_iter()
        .map(|(image, outcome)| {
            let outcome = match outcome {
                Err(e) => Err(e.to_string()),
                Ok((store, digest)) => {
                    let index = seen[&(store.location(), digest.clone())];
                    match &gathered[index] {
                        Err(e) => Err(e.clone()),
                        Ok(evidence) => Ok((digest.clone(), judge_signatures(evidence, &key, &digest, &required))),
                    }
                }
            };
            ImageResult { image, outcome }
        })
        .collect();
    render(&results, &key, &required, output)?;
    let errors = results.iter().filter(|r| r.outcome.is_err()).count();
    let failed = results
        .iter()
        .filter(|r| matches!(&r.outcome, Ok((_, checks)) if !checks.iter().any(|c| c.outcome.is_ok())))
        .count();
    if errors > 0 {
        for r in &results {
            if let Err(e) = &r.outcome {
                eprintln!("error: {}: {e}", r.image);
            }
        }
        return Ok(Outcome::Error);
    }
    Ok(if failed > 0 { Outcome::Failed } else { Outcome::Success })
}

fn render(
    results: &[ImageResult],
    key: &PublicKey,
    required: &BTreeMap<String, String>,
    output: OutputFormat,
) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/verify/v1",
            "key": {"fingerprint": key.fingerprint()},
            "requiredAnnotations": required,
            "images": results.iter().map(image_json).collect::<Vec<_>>(),
        })),
        OutputFormat::Human => {
            let mut text = String::new();
            for r in results {
                match &r.outcome {
                    Err(_) => text.push_str(&format!("ERROR  {}: could not be evaluated (see stderr)\n", r.image)),
                    Ok((digest, checks)) => {
                        let valid = checks.iter().filter(|c| c.outcome.is_ok()).count();
                        let verdict = if valid > 0 { "PASS " } else { "FAIL " };
                        let summary = if checks.is_empty() {
                            "no signatures found".to_owned()
                        } else {
                            format!("{valid} of {} signatures valid", checks.len())
                        };
                        text.push_str(&format!("{verdict}  {} ({digest}): {summary}\n", r.image));
                        for c in checks {
                            match &c.outcome {
                                Ok(s) => {
                                    text.push_str(&format!("         valid    {} signed by {}\n", c.origin, s.signer))
                                }
                                Err(why) => text.push_str(&format!("         invalid  {}: {why}\n", c.origin)),
                            }
                        }
                    }
                }
            }
            print(&text)
        }
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

/// A progress counter on stderr, shown only on a terminal and for many images.
struct Progress {
    total: usize,
    done: std::sync::atomic::AtomicUsize,
    visible: bool,
}

impl Progress {
    fn new(total: usize) -> Progress {
        Progress {
            total,
            done: 0.into(),
            visible: total > 1 && std::io::stderr().is_terminal(),
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if self.visible {
            eprint!("\rverifying: {done}/{} images", self.total);
        }
    }

    fn finish(&self) {
        if self.visible {
            eprint!("\r\x1b[2K");
        }
    }
}
