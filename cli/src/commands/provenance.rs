//! `sigil provenance`: a SLSA provenance v1 predicate for the running CI job.

use anyhow::Context as _;
use sigil_verifier::predicate::slsa::generate::{self as provenance, Ci, Inputs};
use sigil_verifier::store::AnyStore;

use super::resolve;
use crate::Outcome;
use crate::args::{OutputFormat, ProvenanceArgs};
use crate::common::{parse_images, print, registry_client};

pub async fn run(args: ProvenanceArgs, _output: OutputFormat) -> anyhow::Result<Outcome> {
    let image = parse_images(std::slice::from_ref(&args.image))?.remove(0);
    let (ci, detected) = Inputs::from_ci(|name| std::env::var(name).ok());
    let overrides = Inputs {
        builder_id: args.builder_id,
        build_type: args.build_type,
        source_repository: args.source_repository,
        source_ref: args.source_ref,
        source_commit: args.source_commit,
        workflow: args.workflow,
        invocation_id: args.invocation_id,
        runner_environment: args.runner_environment,
        trigger: args.trigger,
        started_on: args.started_on,
        finished_on: args.finished_on,
    };
    let predicate = provenance::predicate(&detected.with_overrides(overrides).complete(ci))?;
    let client = registry_client(&args.registry, std::slice::from_ref(&image))?;
    let store = AnyStore::open(&image, &client, false)?;
    let descriptor = resolve(&store, &image).await?;
    let text = serde_json::to_string_pretty(&predicate)?;
    let source = match ci {
        Ci::GitHubActions => "GitHub Actions",
        Ci::GitLab => "GitLab CI",
        Ci::Unknown => "flags only (no recognised CI)",
    };
    match &args.output_file {
        Some(path) => {
            std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "provenance for {image}@{} from {source} written to {}",
                descriptor.digest,
                path.display()
            );
        }
        None => print(&text)?,
    }
    Ok(Outcome::Success)
}
