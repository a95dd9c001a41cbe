//! `sigil tree IMAGE`: everything attached, for people and scripts.

use sigil_verifier::cosign::{PREDICATE_TYPE_ANNOTATION, annotation};
use sigil_verifier::store::AnyStore;
use sigil_verifier::tree::{self, Node};

use super::resolve;
use crate::Outcome;
use crate::args::{OutputFormat, TreeArgs};
use crate::common::{parse_images, print, print_json, registry_client, within};

pub async fn run(args: TreeArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let timeout = args.run.timeout;
    within(timeout, tree(args, output)).await
}

async fn tree(args: TreeArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let image = parse_images(std::slice::from_ref(&args.image))?.remove(0);
    let client = registry_client(&args.registry, std::slice::from_ref(&image))?;
    let attachments = crate::common::cosign_repository()?;
    let store = AnyStore::open_with_attachments(&image, &client, false, attachments.as_ref())?;
    let root = resolve(&store, &image).await?;
    let node = tree::collect(&store, &root).await?;
    match output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "apiVersion": "sigil.dev/tree/v1",
            "image": image.to_string(),
            "tree": node,
        }))?,
        OutputFormat::Human => {
            let mut out = format!("{image}\n");
            render(&node, "", &mut out);
            if nothing_attached(&node) {
                out.push_str("    nothing attached: no signatures, attestations, SBOMs or referrers\n");
            }
            print(&out)?;
        }
    }
    Ok(Outcome::Success)
}

/// No tag, referrer or layer anywhere under `node` (an index counts as
/// bare when every platform manifest is).
fn nothing_attached(node: &Node) -> bool {
    node.tags.is_empty()
        && node.referrers.is_empty()
        && node.layers.is_empty()
        && node.manifests.iter().all(nothing_attached)
}

fn render(node: &Node, indent: &str, out: &mut String) {
    out.push_str(&format!(
        "{indent}{} {} ({} bytes)\n",
        node.digest,
        node.artifact_type.as_deref().unwrap_or(&node.media_type),
        node.size
    ));
    let child = format!("{indent}    ");
    if let Some(p) = node.annotations.get("dev.sigstore.bundle.predicateType") {
        out.push_str(&format!("{child}predicate type {p}\n"));
    }
    for layer in &node.layers {
        out.push_str(&format!(
            "{child}layer {} {} ({} bytes)\n",
            layer.digest, layer.media_type, layer.size
        ));
    }
    for tag in &node.tags {
        out.push_str(&format!(
            "{child}{} (tag {}, {} layers)\n",
            tag.kind,
            tag.tag,
            tag.layers.len()
        ));
        for layer in &tag.layers {
            let predicate = annotation(&layer.annotations, PREDICATE_TYPE_ANNOTATION)
                .map(|p| format!(", predicate type {p}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "{child}    {} {} ({} bytes{predicate})\n",
                layer.digest, layer.media_type, layer.size
            ));
        }
    }
    if !node.referrers.is_empty() {
        out.push_str(&format!("{child}referrers ({})\n", node.referrers.len()));
        for r in &node.referrers {
            render(r, &format!("{child}    "), out);
        }
    }
    for m in &node.manifests {
        let platform = m
            .platform
            .as_ref()
            .map(|p| format!(" {}/{}", p.os, p.architecture))
            .unwrap_or_default();
        out.push_str(&format!("{child}platform manifest{platform}\n"));
        render(m, &format!("{child}    "), out);
    }
}
