//! `sigil copy`.

use anyhow::{Context as _, bail};
use sigil_verifier::reference::{ImageRef, Target};
use sigil_verifier::store::{AnyStore, Store as _};

use super::resolve;
use crate::Outcome;
use crate::args::{CopyArgs, OutputFormat};
use crate::common::{parse_images, print, print_json, registry_client};

pub async fn run(args: CopyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let refs = parse_images(&[args.source.clone(), args.destination.clone()])?;
    let (src_ref, dst_ref) = (&refs[0], &refs[1]);
    let client = registry_client(&args.registry)?;
    let src = AnyStore::open(src_ref, &client, false)?;
    let root = resolve(&src, src_ref).await?;
    let dst_tag = match dst_ref.target() {
        Target::Tag(tag) => Some(tag),
        Target::Digest(d) if d == root.digest => None,
        Target::Digest(d) => bail!("destination names digest {d}, but the source is {}", root.digest),
    };
    let dst = AnyStore::open(dst_ref, &client, true)?;
    let report = sigil_verifier::copy::copy(&src, &dst, &root, dst_tag.as_deref())
        .await
        .with_context(|| format!("copying {src_ref} to {dst_ref}"))?;
    // A layout remembers where the image came from, so a policy matches it by
    // that name (DESIGN §4.1); a layout-to-layout copy carries the name along.
    if let AnyStore::Layout(layout) = &dst {
        let source = match (&src, src_ref) {
            (_, ImageRef::Registry(r)) => Some(r.name()),
            (AnyStore::Layout(from), _) => from.source_name(&root.digest).await?,
            _ => None,
        };
        if let Some(name) = source {
            layout.record_source_name(&root.digest, &name).await?;
        }
    }
    match output {
        OutputFormat::Human => print(&format!(
            "copied {src_ref} -> {} ({}): {} manifests, {} blobs copied ({} bytes), {} already present; tags: {}",
            dst.location(),
            root.digest,
            report.manifests,
            report.blobs_copied,
            report.bytes_copied,
            report.blobs_present,
            if report.tags.is_empty() {
                "none".to_owned()
            } else {
                report.tags.join(", ")
            }
        ))?,
        OutputFormat::Json => print_json(&serde_json::json!({
            "apiVersion": "sigil.dev/copy/v1",
            "source": src_ref.to_string(),
            "destination": dst_ref.to_string(),
            "report": report,
        }))?,
    }
    Ok(Outcome::Success)
}
