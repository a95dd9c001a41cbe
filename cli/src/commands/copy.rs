//! `sigil copy`: an image with everything attached to it, between registries
//! and layouts. A layout destination records where the image came from
//! (`dev.sigil.image.name`: the source reference with the tag the source
//! resolved and the digest), so a policy can judge the copy as it judges the
//! original; `oci:DIR` without a tag names the entry with the source's tag.
//! With `COSIGN_REPOSITORY`, the source's signatures, attestations and
//! referrers are read from that repository and written beside the copy.

use anyhow::{Context as _, bail};
use sigil_verifier::policy::names;
use sigil_verifier::reference::{ImageRef, LayoutRef, Target};
use sigil_verifier::store::{AnyStore, Store as _};

use super::resolve;
use crate::Outcome;
use crate::args::{CopyArgs, OutputFormat};
use crate::common::{parse_images, print, print_json, registry_client};

pub async fn run(args: CopyArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let refs = parse_images(&[args.source.clone(), args.destination.clone()])?;
    let src_ref = &refs[0];
    let dst_ref = &with_source_tag(&refs[1], src_ref);
    let client = registry_client(&args.registry, &refs)?;
    // COSIGN_REPOSITORY says where the source's attachments are; the copy
    // puts them beside the destination image, where a verifier of the copy
    // looks without it.
    let attachments = crate::common::cosign_repository()?;
    let src = AnyStore::open_with_attachments(src_ref, &client, false, attachments.as_ref())?;
    let root = resolve(&src, src_ref).await?;
    let dst_tag = match dst_ref.target() {
        Target::Tag(tag) => Some(tag),
        Target::Digest(d) if d == root.digest => None,
        Target::Digest(d) => bail!("destination names digest {d}, but the source is {}", root.digest),
    };
    // What a layout destination will record, worked out (and a carried-along
    // name checked) before anything is written.
    let source_name = match (&src, src_ref) {
        (_, ImageRef::Registry(r)) => Some(names::recorded_value(r, &root.digest)),
        (AnyStore::Layout(from), _) => match from.source_name(&root.digest).await? {
            Some(value) => {
                names::recorded_name(&value, &root.digest).with_context(|| format!("copying {src_ref}"))?;
                Some(value)
            }
            None => None,
        },
        _ => None,
    };
    let dst = AnyStore::open(dst_ref, &client, true)?;
    let report = sigil_verifier::copy::copy(&src, &dst, &root, dst_tag.as_deref())
        .await
        .with_context(|| format!("copying {src_ref} to {dst_ref}"))?;
    if let (AnyStore::Layout(layout), Some(name)) = (&dst, &source_name) {
        layout.record_source_name(&root.digest, name).await?;
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
            "recordedName": source_name,
            "report": report,
        }))?,
    }
    Ok(Outcome::Success)
}

/// `oci:DIR` with neither tag nor digest takes the source's tag, so a copy of
/// `app:v1.3.0` is `oci:DIR:v1.3.0`, not `oci:DIR:latest`.
fn with_source_tag(destination: &ImageRef, source: &ImageRef) -> ImageRef {
    let source_tag = match source {
        ImageRef::Registry(r) => r.tag().map(str::to_owned),
        ImageRef::Layout(l) => l.tag.clone(),
    };
    match destination {
        ImageRef::Layout(l) if l.tag.is_none() && l.digest.is_none() => ImageRef::Layout(LayoutRef {
            tag: source_tag,
            ..l.clone()
        }),
        other => other.clone(),
    }
}
