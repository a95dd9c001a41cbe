//! Everything attached to an image, in both storage forms, for `sigil tree`:
//! cosign tags, referrers (and their referrers), and for an index the same
//! for each platform manifest. Gathering only; rendering is the CLI's.

use std::collections::HashSet;

use futures::future::BoxFuture;

use crate::cosign;
use crate::digest::Digest;
use crate::oci::{Descriptor, Manifest};
use crate::reference::Target;
use crate::referrers;
use crate::store::{Store, StoreError};

/// How deep referrers of referrers are followed.
const MAX_DEPTH: usize = 4;

/// A manifest and what hangs off it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<crate::oci::Platform>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// cosign's `.sig`, `.att`, `.sbom` tags.
    pub tags: Vec<TagNode>,
    /// OCI 1.1 referrers.
    pub referrers: Vec<Node>,
    /// Platform manifests of an index.
    pub manifests: Vec<Node>,
    /// Layers of an attachment manifest (signatures, attestations, bundles).
    pub layers: Vec<Descriptor>,
}

/// A cosign attachment tag and its layers.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TagNode {
    pub kind: &'static str,
    pub tag: String,
    pub digest: Digest,
    pub layers: Vec<Descriptor>,
}

/// Collects the tree under the manifest `root`.
pub async fn collect<S: Store>(store: &S, root: &Descriptor) -> Result<Node, StoreError> {
    collect_within(store, root, MAX_DEPTH, usize::MAX).await
}

/// Collects the tree under `root`, following referrers of referrers
/// `max_depth` deep and reading at most `max_nodes` manifests (what is
/// beyond is left out).
pub async fn collect_within<S: Store>(
    store: &S,
    root: &Descriptor,
    max_depth: usize,
    max_nodes: usize,
) -> Result<Node, StoreError> {
    let mut seen = HashSet::new();
    let bounds = Bounds { max_depth, max_nodes };
    node(store, root.clone(), 0, bounds, &mut seen).await
}

#[derive(Clone, Copy)]
struct Bounds {
    max_depth: usize,
    max_nodes: usize,
}

fn node<'a, S: Store>(
    store: &'a S,
    descriptor: Descriptor,
    depth: usize,
    bounds: Bounds,
    seen: &'a mut HashSet<Digest>,
) -> BoxFuture<'a, Result<Node, StoreError>> {
    Box::pin(async move {
        seen.insert(descriptor.digest.clone());
        let parsed = match store.fetch_manifest(&Target::Digest(descriptor.digest.clone())).await? {
            Some(f) => Manifest::parse(&f.descriptor.media_type, &f.bytes).ok(),
            None => None,
        };
        let mut out = Node {
            digest: descriptor.digest.clone(),
            media_type: descriptor.media_type.clone(),
            size: descriptor.size,
            platform: descriptor.platform.clone(),
            artifact_type: descriptor.artifact_type.clone().or_else(|| {
                parsed
                    .as_ref()
                    .and_then(Manifest::artifact_type)
                    .filter(|_| depth > 0)
                    .map(str::to_owned)
            }),
            annotations: descriptor.annotations.clone(),
            tags: Vec::new(),
            referrers: Vec::new(),
            manifests: Vec::new(),
            layers: match &parsed {
                Some(Manifest::Image(m)) if depth > 0 => m.layers.clone(),
                _ => Vec::new(),
            },
        };
        for (kind, tag) in [
            ("signatures", cosign::signature_tag(&descriptor.digest)),
            ("attestations", cosign::attestation_tag(&descriptor.digest)),
            ("sbom", cosign::sbom_tag(&descriptor.digest)),
        ] {
            if let Some(fetched) = store.fetch_manifest(&Target::Tag(tag.clone())).await? {
                let layers = match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
                    Ok(Manifest::Image(m)) => m.layers,
                    _ => Vec::new(),
                };
                out.tags.push(TagNode {
                    kind,
                    tag,
                    digest: fetched.descriptor.digest,
                    layers,
                });
            }
        }
        if depth < bounds.max_depth {
            for referrer in referrers::list(store, &descriptor.digest, None).await? {
                if seen.len() < bounds.max_nodes && !seen.contains(&referrer.digest) {
                    out.referrers
                        .push(node(store, referrer, depth + 1, bounds, seen).await?);
                }
            }
        }
        if let Some(Manifest::Index(index)) = parsed {
            for child in index.manifests {
                if seen.len() < bounds.max_nodes && !seen.contains(&child.digest) {
                    out.manifests.push(node(store, child, depth, bounds, seen).await?);
                }
            }
        }
        Ok(out)
    })
}
