//! `sigil verify IMAGE... --notation-config DIR`: Notary Project signatures
//! judged under notation's trust policy and trust stores. The configuration
//! is read and validated before any registry is contacted; each image's
//! signatures are found as OCI referrers, fetched and judged by
//! `sigil_judge::notation` at the present time, revocation against the
//! `--notation-crl` files when there are any.
//!
//! Exit 2 if any image could not be evaluated (unreachable, a trust store
//! the policy needs is missing, or no signature could even be read), else 1
//! if any was refused, else 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde_json::json;
use sigil_verifier::digest::Digest;
use sigil_verifier::notation::{self, CheckResult, ImageVerdict, NotationConfig, SignatureVerdict};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::store::AnyStore;
use time::OffsetDateTime;

use crate::Outcome;
use crate::args::OutputFormat;
use crate::common::{print, print_json};

/// What became of one image argument.
struct Judged {
    image: ImageRef,
    digest: Option<Digest>,
    verdict: Result<ImageVerdict, String>,
}

impl Judged {
    fn outcome(&self) -> Outcome {
        match &self.verdict {
            Err(_) => Outcome::Error,
            Ok(v) if v.allowed() => Outcome::Success,
            Ok(ImageVerdict::Judged { signatures, .. })
                if !signatures.is_empty() && signatures.iter().all(SignatureVerdict::unreadable) =>
            {
                Outcome::Error
            }
            Ok(_) => Outcome::Failed,
        }
    }
}

pub async fn run(
    images: Vec<ImageRef>,
    config_dir: &Path,
    crl_files: &[PathBuf],
    concurrency: usize,
    client: Arc<RegistryClient>,
    output: OutputFormat,
) -> anyhow::Result<Outcome> {
    let config = Arc::new(
        NotationConfig::load(config_dir)
            .with_context(|| format!("--notation-config {}", config_dir.display()))?
            .with_crls(crl_files)?,
    );
    let now = OffsetDateTime::now_utc();
    let judged: Vec<Judged> = futures::stream::iter(images)
        .map(|image| {
            let (client, config) = (client.clone(), config.clone());
            async move { judge(image, &client, &config, now).await }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    let mut outcome = Outcome::Success;
    for j in &judged {
        match (&j.verdict, j.outcome()) {
            (Err(e), _) => eprintln!("error: {}: {e}", j.image),
            (Ok(ImageVerdict::Skipped { policy }), _) => eprintln!(
                "warning: {}: trust policy {policy:?} has level skip: its signatures were not verified",
                j.image
            ),
            (Ok(ImageVerdict::Judged { signatures, .. }), Outcome::Error) => eprintln!(
                "error: {}: no notation signature could be read: {}",
                j.image,
                signatures.first().map(first_failure).unwrap_or_default()
            ),
            _ => {}
        }
        outcome = worse(outcome, j.outcome());
    }
    render(&judged, &config, output)?;
    Ok(outcome)
}

fn worse(a: Outcome, b: Outcome) -> Outcome {
    let rank = |o: Outcome| match o {
        Outcome::Success => 0,
        Outcome::Failed => 1,
        Outcome::Error => 2,
    };
    if rank(b) > rank(a) { b } else { a }
}

async fn judge(image: ImageRef, client: &Arc<RegistryClient>, config: &NotationConfig, now: OffsetDateTime) -> Judged {
    let mut digest = None;
    let verdict = async {
        let store = AnyStore::open(&image, client, false).map_err(|e| e.to_string())?;
        let descriptor = notation::image_descriptor(&store, &image.target())
            .await
            .map_err(|e| e.to_string())?;
        digest = Some(descriptor.digest.clone());
        let signatures = notation::signatures(&store, &descriptor.digest)
            .await
            .map_err(|e| e.to_string())?;
        // An OCI layout is judged by the global (`*`) statement only.
        let repository = match &image {
            ImageRef::Registry(r) => Some(r.name()),
            ImageRef::Layout(_) => None,
        };
        let policy = config.policy.select(repository.as_deref());
        notation::judge_with_crls(policy, &config.stores, &config.crls, &descriptor, &signatures, now)
            .map_err(|e| e.to_string())
    }
    .await;
    Judged { image, digest, verdict }
}

fn first_failure(s: &SignatureVerdict) -> String {
    s.failure()
        .map(|c| match &c.result {
            CheckResult::Failed(reason) => format!("{}: {reason}", c.validation.name()),
            _ => c.validation.name().to_owned(),
        })
        .unwrap_or_default()
}

fn render(judged: &[Judged], config: &NotationConfig, output: OutputFormat) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/verify/v1",
            "notationTrustPolicy": config.policy_file.display().to_string(),
            "images": judged.iter().map(image_json).collect::<Vec<_>>(),
        })),
        OutputFormat::Human => print(&judged.iter().map(human).collect::<String>()),
    }
}

fn human(j: &Judged) -> String {
    let digest = j.digest.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
    let head = |verdict: &str, summary: String| format!("{verdict}  {}{digest}: {summary}\n", j.image);
    match &j.verdict {
        Err(_) => head("ERROR", "could not be evaluated (see stderr)".into()),
        Ok(ImageVerdict::NoPolicy) => head("FAIL ", "no notation trust policy applies to this image".into()),
        Ok(ImageVerdict::Skipped { policy }) => head("PASS ", format!("trust policy {policy:?} skips verification")),
        Ok(ImageVerdict::Judged { policy, signatures }) => {
            let valid = signatures.iter().filter(|s| s.accepted()).count();
            let verdict = match j.outcome() {
                Outcome::Success => "PASS ",
                Outcome::Failed => "FAIL ",
                Outcome::Error => "ERROR",
            };
            let summary = if signatures.is_empty() {
                format!("no notation signatures found (trust policy {policy:?})")
            } else {
                format!(
                    "{valid} of {} notation signatures valid (trust policy {policy:?})",
                    signatures.len()
                )
            };
            let mut text = head(verdict, summary);
            for s in signatures {
                if s.accepted() {
                    let signer = s.signer.as_deref().unwrap_or("?");
                    text.push_str(&format!("         valid    {} signed by {signer}\n", s.origin));
                } else {
                    text.push_str(&format!("         invalid  {}: {}\n", s.origin, first_failure(s)));
                }
                for c in s.checks.iter().filter(|c| !c.is_critical()) {
                    if let CheckResult::Failed(reason) = &c.result {
                        text.push_str(&format!(
                            "         logged   {}: {} ({}): {reason}\n",
                            s.origin,
                            c.validation.name(),
                            c.action.name()
                        ));
                    }
                }
            }
            text
        }
    }
}

fn image_json(j: &Judged) -> serde_json::Value {
    let base = json!({"image": j.image.to_string(), "digest": j.digest});
    let mut value = match &j.verdict {
        Err(e) => json!({"verified": false, "error": e}),
        Ok(ImageVerdict::NoPolicy) => json!({"verified": false, "trustPolicy": null}),
        Ok(ImageVerdict::Skipped { policy }) => json!({"verified": true, "trustPolicy": policy, "skipped": true}),
        Ok(v @ ImageVerdict::Judged { policy, signatures }) => json!({
            "verified": v.allowed(),
            "trustPolicy": policy,
            "signatures": signatures.iter().map(|s| json!({
                "origin": s.origin,
                "valid": s.accepted(),
                "signer": s.signer,
                "checks": s.checks.iter().map(|c| {
                    let (result, reason) = match &c.result {
                        CheckResult::Passed => ("passed", None),
                        CheckResult::Failed(r) => ("failed", Some(r)),
                        CheckResult::NotPerformed(r) => ("not-performed", Some(r)),
                    };
                    json!({"validation": c.validation.name(), "action": c.action.name(), "result": result, "reason": reason})
                }).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }),
    };
    if let (Some(v), Some(b)) = (value.as_object_mut(), base.as_object()) {
        for (k, x) in b {
            v.insert(k.clone(), x.clone());
        }
    }
    value
}
