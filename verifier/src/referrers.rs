//! OCI 1.1 referrers: discovery (the API, else the fallback tag
//! `sha256-HEX`) and the client-maintained fallback index when a store does
//! not index subjects itself (DESIGN §3.3).

use crate::digest::Digest;
use crate::oci::{self, Descriptor, ImageIndex, Manifest};
use crate::reference::Target;
use crate::store::{Store, StoreError};
use crate::tag;

/// Everything that refers to `subject`: the referrers API answer, or the
/// fallback index's entries. Entries whose `artifactType` is not
/// `artifact_type` are dropped when a filter is given (registries may ignore
/// the filter).
pub async fn list<S: Store>(
    store: &S,
    subject: &Digest,
    artifact_type: Option<&str>,
) -> Result<Vec<Descriptor>, StoreError> {
    let mut found = match store.referrers_api(subject).await? {
        Some(found) => found,
        None => read_fallback(store, subject)
            .await?
            .map(|i| i.manifests)
            .unwrap_or_default(),
    };
    if let Some(wanted) = artifact_type {
        found.retain(|d| d.artifact_type.as_deref() == Some(wanted));
    }
    Ok(found)
}

/// The fallback tag for a subject: `sha256-HEX`.
pub fn fallback_tag(subject: &Digest) -> String {
    subject.tag_prefix()
}

async fn read_fallback<S: Store>(store: &S, subject: &Digest) -> Result<Option<ImageIndex>, StoreError> {
    let Some(fetched) = store.fetch_manifest(&Target::Tag(fallback_tag(subject))).await? else {
        return Ok(None);
    };
    match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
        Ok(Manifest::Index(index)) => Ok(Some(index)),
        // Something else squats on the tag: treat as no referrers, as the spec's clients do.
        Ok(Manifest::Image(_)) | Err(_) => Ok(None),
    }
}

/// Pushes a manifest that has a `subject` by its digest and, when the store
/// did not index the subject itself, adds it to the fallback index.
pub async fn push<S: Store>(store: &S, manifest: &oci::ImageManifest) -> Result<Descriptor, StoreError> {
    let subject = manifest.subject.as_ref().ok_or_else(|| StoreError::Refused {
        location: store.location(),
        detail: "internal: a referrer manifest needs a subject".into(),
    })?;
    let bytes = oci::to_bytes(manifest);
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| oci::OCI_MANIFEST.to_owned());
    let mut descriptor = Descriptor::of(&media_type, &bytes);
    descriptor.artifact_type = manifest
        .artifact_type
        .clone()
        .or_else(|| Some(manifest.config.media_type.clone()));
    descriptor.annotations = manifest.annotations.clone();
    let pushed = store
        .push_manifest(&Target::Digest(descriptor.digest.clone()), &media_type, &bytes)
        .await?;
    if !pushed.subject_indexed {
        add_to_fallback(store, &subject.digest, &descriptor).await?;
    }
    Ok(descriptor)
}

/// Adds `entry` to the fallback index of `subject` (idempotent, race-checked).
pub async fn add_to_fallback<S: Store>(store: &S, subject: &Digest, entry: &Descriptor) -> Result<(), StoreError> {
    let tag = fallback_tag(subject);
    let present =
        |m: &Manifest| matches!(m, Manifest::Index(i) if i.manifests.iter().any(|d| d.digest == entry.digest));
    tag::update(store, &tag, present, |current| {
        let mut index = match current {
            Some(Manifest::Index(index)) => index,
            _ => ImageIndex::empty(),
        };
        index.manifests.push(entry.clone());
        Ok(tag::Update {
            media_type: oci::OCI_INDEX.to_owned(),
            bytes: oci::to_bytes(&index),
            blobs: Vec::new(),
        })
    })
    .await
    .map(|_| ())
}
