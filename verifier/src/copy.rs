//! Copying an image with everything attached to it (signatures, attestations,
//! SBOMs, referrers and their referrers) between stores, digests unchanged:
//! the air-gapped path registry -> layout directory -> registry.

use std::collections::HashSet;

use futures::future::BoxFuture;

use crate::cosign;
use crate::digest::Digest;
use crate::oci::{Descriptor, Manifest};
use crate::reference::Target;
use crate::referrers;
use crate::store::{Store, StoreError, require_manifest};

/// What a copy moved.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyReport {
    pub digest: Option<Digest>,
    pub manifests: usize,
    pub blobs_copied: usize,
    pub blobs_present: usize,
    pub bytes_copied: u64,
    pub tags: Vec<String>,
}

/// Copies the manifest `root` from `src` to `dst`, with its attachments, and
/// points `dst_tag` at it when given.
pub async fn copy<S: Store, D: Store>(
    src: &S,
    dst: &D,
    root: &Descriptor,
    dst_tag: Option<&str>,
) -> Result<CopyReport, StoreError> {
    let mut state = Copier {
        src,
        dst,
        done: HashSet::new(),
        report: CopyReport::default(),
    };
    state.manifest_tree(root.digest.clone()).await?;
    if let Some(tag) = dst_tag {
        let fetched = require_manifest(src, &Target::Digest(root.digest.clone())).await?;
        dst.push_manifest(
            &Target::Tag(tag.to_owned()),
            &fetched.descriptor.media_type,
            &fetched.bytes,
        )
        .await?;
        state.report.tags.push(tag.to_owned());
    }
    state.report.digest = Some(root.digest.clone());
    Ok(state.report)
}

struct Copier<'a, S, D> {
    src: &'a S,
    dst: &'a D,
    done: HashSet<Digest>,
    report: CopyReport,
}

impl<S: Store, D: Store> Copier<'_, S, D> {
    /// Copies a manifest, what it lists, and everything attached to it.
    fn manifest_tree(&mut self, digest: Digest) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if !self.done.insert(digest.clone()) {
                return Ok(());
            }
            let fetched = require_manifest(self.src, &Target::Digest(digest.clone())).await?;
            self.manifest_contents(&fetched.descriptor, &fetched.bytes).await?;
            let pushed = self
                .dst
                .push_manifest(
                    &Target::Digest(digest.clone()),
                    &fetched.descriptor.media_type,
                    &fetched.bytes,
                )
                .await?;
            self.report.manifests += 1;
            let parsed = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes).ok();
            if let Some(subject) = parsed.as_ref().and_then(Manifest::subject)
                && !pushed.subject_indexed
            {
                let mut entry = fetched.descriptor.clone();
                entry.artifact_type = parsed.as_ref().and_then(Manifest::artifact_type).map(str::to_owned);
                entry.annotations = parsed.as_ref().map(|m| m.annotations().clone()).unwrap_or_default();
                referrers::add_to_fallback(self.dst, &subject.digest, &entry).await?;
            }
            self.attachments(&digest).await
        })
    }

    /// Blobs and child manifests of one manifest.
    async fn manifest_contents(&mut self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        let manifest = Manifest::parse(&descriptor.media_type, bytes).map_err(|e| StoreError::Malformed {
            location: self.src.location(),
            what: format!("manifest {}", descriptor.digest),
            detail: e.to_string(),
        })?;
        match manifest {
            Manifest::Index(index) => {
                for child in index.manifests {
                    self.manifest_tree(child.digest).await?;
                }
            }
            Manifest::Image(image) => {
                self.blob(&image.config).await?;
                for layer in &image.layers {
                    self.blob(layer).await?;
                }
            }
        }
        Ok(())
    }

    async fn blob(&mut self, descriptor: &Descriptor) -> Result<(), StoreError> {
        if self.dst.has_blob(&descriptor.digest).await? {
            self.report.blobs_present += 1;
            return Ok(());
        }
        let stream = self.src.stream_blob(descriptor).await?;
        self.dst.push_blob_stream(descriptor, stream).await?;
        self.report.blobs_copied += 1;
        self.report.bytes_copied += descriptor.size;
        Ok(())
    }

    /// cosign tags (`.sig`, `.att`, `.sbom`) and referrers of `digest`.
    async fn attachments(&mut self, digest: &Digest) -> Result<(), StoreError> {
        let signed = [cosign::signature_tag(digest), cosign::attestation_tag(digest)];
        for tag in [signed[0].clone(), signed[1].clone(), cosign::sbom_tag(digest)] {
            let target = Target::Tag(tag.clone());
            let Some(fetched) = self.src.fetch_manifest(&target).await? else {
                continue;
            };
            self.manifest_contents(&fetched.descriptor, &fetched.bytes).await?;
            let merge = signed.contains(&tag) && self.dst.fetch_manifest(&target).await?.is_some();
            match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
                // The destination has signatures or attestations of its own
                // for this digest: add ours, drop none of theirs.
                Ok(Manifest::Image(manifest)) if merge => {
                    for layer in manifest.layers {
                        crate::sign::append_layer(self.dst, &tag, layer).await?;
                    }
                }
                _ => {
                    self.dst
                        .push_manifest(&target, &fetched.descriptor.media_type, &fetched.bytes)
                        .await?;
                }
            }
            self.report.manifests += 1;
            self.report.tags.push(tag);
        }
        for referrer in referrers::list(self.src, digest, None).await? {
            self.manifest_tree(referrer.digest).await?;
        }
        Ok(())
    }
}
