//! cosign's `COSIGN_REPOSITORY`: an image whose signatures, attestations and
//! referrers are stored in, and read from, another registry repository.
//! [`Redirected`] is the image's store with its attachments elsewhere: the
//! cosign tags (`sha256-HEX.sig`, `.att`, `.sbom`), the referrers fallback
//! tag (`sha256-HEX`), the referrers API and referrer manifests go to the
//! attachments repository; everything else stays with the image.
//!
//! Every read is checked against the digest asked for wherever it comes
//! from, so looking in both repositories for content-addressed data cannot
//! be fooled into other content: a manifest by digest or a blob is tried in
//! one repository and, when absent there, in the other.

use crate::digest::Digest;
use crate::oci::{Descriptor, Manifest};
use crate::reference::Target;
use crate::registry::RegistryStore;
use crate::store::{BlobStream, Fetched, Pushed, Store, StoreError, Swap};

/// An image's store with its attachments in another repository.
#[derive(Debug)]
pub struct Redirected<S> {
    pub image: S,
    pub attachments: RegistryStore,
}

/// A tag derived from a digest: `sha256-HEX` or `sha256-HEX.SUFFIX`.
pub fn is_attachment_tag(tag: &str) -> bool {
    let prefix = tag.split_once('.').map_or(tag, |(p, _)| p);
    prefix
        .split_once('-')
        .is_some_and(|(algorithm, hex)| format!("{algorithm}:{hex}").parse::<Digest>().is_ok())
}

fn is_missing(e: &StoreError) -> bool {
    matches!(e, StoreError::NotFound { .. })
}

impl<S: Store> Store for Redirected<S> {
    fn location(&self) -> String {
        format!(
            "{} (attachments in {})",
            self.image.location(),
            self.attachments.location()
        )
    }

    async fn fetch_manifest(&self, target: &Target) -> Result<Option<Fetched>, StoreError> {
        match target {
            Target::Tag(tag) if is_attachment_tag(tag) => self.attachments.fetch_manifest(target).await,
            Target::Tag(_) => self.image.fetch_manifest(target).await,
            Target::Digest(_) => match self.image.fetch_manifest(target).await? {
                Some(found) => Ok(Some(found)),
                None => self.attachments.fetch_manifest(target).await,
            },
        }
    }

    async fn fetch_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>, StoreError> {
        // Blobs read whole are attachment-sized: signatures, envelopes, bundles.
        match self.attachments.fetch_blob(descriptor, limit).await {
            Err(e) if is_missing(&e) => self.image.fetch_blob(descriptor, limit).await,
            other => other,
        }
    }

    async fn stream_blob(&self, descriptor: &Descriptor) -> Result<BlobStream, StoreError> {
        match self.image.stream_blob(descriptor).await {
            Err(e) if is_missing(&e) => self.attachments.stream_blob(descriptor).await,
            other => other,
        }
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(self.attachments.has_blob(digest).await? || self.image.has_blob(digest).await?)
    }

    /// Blobs pushed whole are the attachments' (payloads, envelopes, configs).
    async fn push_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        self.attachments.push_blob(descriptor, bytes).await
    }

    async fn push_blob_stream(&self, descriptor: &Descriptor, stream: BlobStream) -> Result<(), StoreError> {
        self.image.push_blob_stream(descriptor, stream).await
    }

    async fn push_manifest(&self, target: &Target, media_type: &str, bytes: &[u8]) -> Result<Pushed, StoreError> {
        let referrer = matches!(target, Target::Digest(_))
            && Manifest::parse(media_type, bytes).is_ok_and(|m| m.subject().is_some());
        match target {
            Target::Tag(tag) if is_attachment_tag(tag) => {
                self.attachments.push_manifest(target, media_type, bytes).await
            }
            Target::Digest(_) if referrer => self.attachments.push_manifest(target, media_type, bytes).await,
            _ => self.image.push_manifest(target, media_type, bytes).await,
        }
    }

    async fn referrers_api(&self, digest: &Digest) -> Result<Option<Vec<Descriptor>>, StoreError> {
        self.attachments.referrers_api(digest).await
    }

    async fn swap_tag(
        &self,
        tag: &str,
        expected: Option<&Digest>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Swap, StoreError> {
        if is_attachment_tag(tag) {
            self.attachments.swap_tag(tag, expected, media_type, bytes).await
        } else {
            self.image.swap_tag(tag, expected, media_type, bytes).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_attachment_tag;

    #[test]
    fn attachment_tags_are_those_named_by_a_digest() {
        let hex = "a".repeat(64);
        for tag in [
            format!("sha256-{hex}"),
            format!("sha256-{hex}.sig"),
            format!("sha256-{hex}.att"),
        ] {
            assert!(is_attachment_tag(&tag), "{tag}");
        }
        for tag in [
            "latest",
            "v1.2",
            "sha256-abc.sig",
            &format!("sha1-{hex}.sig"),
            "sha256-",
        ] {
            assert!(!is_attachment_tag(tag), "{tag}");
        }
    }
}
