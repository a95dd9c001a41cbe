//! A layout store that counts what is read from it, for tests of how often
//! gathering and the pipeline touch a store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::digest::Digest;
use crate::layout::LayoutStore;
use crate::oci::Descriptor;
use crate::pipeline::ImageStore;
use crate::reference::Target;
use crate::store::{BlobStream, Fetched, Pushed, Store, StoreError};

/// What the stores opened by one test read.
#[derive(Default)]
pub struct Counts {
    pub blobs: AtomicUsize,
    pub signature_tags: AtomicUsize,
    pub recorded_names: AtomicUsize,
    /// Every manifest fetched (by tag or digest).
    pub manifests: AtomicUsize,
    /// Layout scans for notation signatures.
    pub notation_scans: AtomicUsize,
}

/// A layout store that counts blob reads, `.sig` tag reads and recorded-name reads.
#[derive(Clone)]
pub struct Counting {
    pub inner: LayoutStore,
    pub counts: Arc<Counts>,
}

impl Counting {
    pub fn new(inner: LayoutStore) -> Counting {
        Counting {
            inner,
            counts: Arc::default(),
        }
    }

    /// Blobs fetched so far.
    pub fn blob_fetches(&self) -> usize {
        self.counts.blobs.load(Ordering::SeqCst)
    }
}

impl Store for Counting {
    fn location(&self) -> String {
        self.inner.location()
    }
    async fn fetch_manifest(&self, target: &Target) -> Result<Option<Fetched>, StoreError> {
        self.counts.manifests.fetch_add(1, Ordering::SeqCst);
        if matches!(target, Target::Tag(t) if t.ends_with(".sig")) {
            self.counts.signature_tags.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.fetch_manifest(target).await
    }
    async fn fetch_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>, StoreError> {
        self.counts.blobs.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch_blob(descriptor, limit).await
    }
    async fn stream_blob(&self, descriptor: &Descriptor) -> Result<BlobStream, StoreError> {
        self.inner.stream_blob(descriptor).await
    }
    async fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        self.inner.has_blob(digest).await
    }
    async fn push_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        self.inner.push_blob(descriptor, bytes).await
    }
    async fn push_blob_stream(&self, descriptor: &Descriptor, stream: BlobStream) -> Result<(), StoreError> {
        self.inner.push_blob_stream(descriptor, stream).await
    }
    async fn push_manifest(&self, target: &Target, media_type: &str, bytes: &[u8]) -> Result<Pushed, StoreError> {
        self.inner.push_manifest(target, media_type, bytes).await
    }
    async fn referrers_api(&self, digest: &Digest) -> Result<Option<Vec<Descriptor>>, StoreError> {
        self.inner.referrers_api(digest).await
    }
    async fn swap_tag(
        &self,
        tag: &str,
        expected: Option<&Digest>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<crate::store::Swap, StoreError> {
        self.inner.swap_tag(tag, expected, media_type, bytes).await
    }
}

impl ImageStore for Counting {
    async fn recorded_name(&self, digest: &Digest) -> Result<Option<String>, StoreError> {
        self.counts.recorded_names.fetch_add(1, Ordering::SeqCst);
        self.inner.recorded_name(digest).await
    }

    fn notation_candidates(&self, digest: &Digest) -> Result<Vec<Descriptor>, StoreError> {
        self.counts.notation_scans.fetch_add(1, Ordering::SeqCst);
        self.inner.notation_candidates(digest)
    }
}
