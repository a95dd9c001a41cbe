//! Gathering for `sigil audit`: what is attached to one image (the tree,
//! referrers of referrers two deep, a bounded number of manifests), its
//! manifest's annotations, and every signature and attestation within the
//! evidence [`Limits`]. The audit itself is built without I/O by
//! [`sigil_judge::audit::build`].

use std::collections::BTreeMap;

use crate::audit::{Attachment, PREDICATE_TYPE_REFERRER_ANNOTATION};
use crate::cosign::{PREDICATE_TYPE_ANNOTATION, annotation};
use crate::gather::{AttestationEvidence, GatherError, Gatherer, Limits, SignatureEvidence};
use crate::oci::{Descriptor, Manifest};
use crate::reference::Target;
use crate::store::Store;
use crate::tree::{self, Node};

/// Referrers of referrers are followed this deep.
pub const MAX_DEPTH: usize = 2;
/// At most this many manifests are listed per image.
pub const MAX_ATTACHED: usize = 256;

/// Everything gathered about one image for its audit.
pub struct Gathered {
    pub annotations: BTreeMap<String, String>,
    pub attached: Vec<Attachment>,
    pub signatures: Vec<SignatureEvidence>,
    pub attestations: Vec<AttestationEvidence>,
}

/// Gathers the audit material of the manifest `root`.
pub async fn gather<S: Store>(store: &S, root: &Descriptor, limits: Limits) -> Result<Gathered, GatherError> {
    let annotations = match store.fetch_manifest(&Target::Digest(root.digest.clone())).await? {
        Some(f) => Manifest::parse(&f.descriptor.media_type, &f.bytes)
            .map(|m| m.annotations().clone())
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let attached = attachments(store, root).await?;
    let mut gatherer = Gatherer::new(store, &root.digest, limits);
    let signatures = gatherer.signatures().await?;
    let attestations = gatherer.attestations().await?;
    Ok(Gathered {
        annotations,
        attached,
        signatures,
        attestations,
    })
}

/// What is attached to `root` (tags and referrers, [`MAX_DEPTH`] deep), the
/// rest of an audit's material having been gathered by the decision
/// pipeline ([`crate::pipeline::WithEvidence`]).
pub async fn attachments<S: Store>(store: &S, root: &Descriptor) -> Result<Vec<Attachment>, GatherError> {
    let node = tree::collect_within(store, root, MAX_DEPTH, MAX_ATTACHED).await?;
    let mut attached = Vec::new();
    flatten(&node, 0, &mut attached);
    Ok(attached)
}

/// The tags and referrers under `node`, depth first.
fn flatten(node: &Node, depth: usize, out: &mut Vec<Attachment>) {
    for tag in &node.tags {
        let predicate_type = tag
            .layers
            .iter()
            .find_map(|l| annotation(&l.annotations, PREDICATE_TYPE_ANNOTATION))
            .map(str::to_owned);
        out.push(Attachment {
            kind: tag.kind.to_owned(),
            form: "tag",
            tag: Some(tag.tag.clone()),
            digest: tag.digest.clone(),
            artifact_type: None,
            predicate_type,
            layers: tag.layers.len(),
            depth: depth + 1,
        });
    }
    for r in &node.referrers {
        out.push(Attachment {
            kind: "referrer".to_owned(),
            form: "referrer",
            tag: None,
            digest: r.digest.clone(),
            artifact_type: r.artifact_type.clone(),
            predicate_type: r.annotations.get(PREDICATE_TYPE_REFERRER_ANNOTATION).cloned(),
            layers: r.layers.len(),
            depth: depth + 1,
        });
        flatten_referrer(r, depth + 1, out);
    }
}

/// What hangs off a referrer (its cosign tags, its referrers).
fn flatten_referrer(node: &Node, depth: usize, out: &mut Vec<Attachment>) {
    if depth < MAX_DEPTH {
        flatten(node, depth, out);
    }
}
