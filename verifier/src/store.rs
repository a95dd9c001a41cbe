//! The one interface over where images live: an OCI registry or an OCI
//! image-layout directory.
//!
//! Every implementation checks every manifest and blob it returns against its
//! digest, and refuses content larger than the limits in [`crate::oci::limits`]
//! before reading it into memory. Callers can therefore trust the bytes they
//! get back to be the bytes the digest names.

use std::future::Future;
use std::pin::Pin;

use futures::Stream;

use crate::digest::{Digest, DigestError};
use crate::oci::Descriptor;
use crate::reference::Target;

/// A stream of blob bytes, checked against the digest as it ends.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, StoreError>> + Send>>;

/// A manifest as fetched: its descriptor (digest and media type) and exact bytes.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub descriptor: Descriptor,
    pub bytes: Vec<u8>,
}

/// What a manifest push told us.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub digest: Digest,
    /// The store indexed the manifest's `subject` itself (registry answered
    /// `OCI-Subject`); when false the client maintains the fallback tag.
    pub subject_indexed: bool,
}

/// What [`Store::swap_tag`] did.
#[derive(Clone, Debug)]
pub enum Swap {
    /// The tag now points at the new manifest.
    Swapped(Pushed),
    /// The tag no longer points where the caller read it: nothing written.
    Moved,
    /// This store cannot compare and swap (a registry): nothing written.
    Unsupported,
}

/// Why a store could not do what was asked. `location` names the registry
/// repository or layout directory.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} not found in {location}")]
    NotFound { location: String, what: String },
    #[error("{location}: {cause}")]
    Digest { location: String, cause: DigestError },
    #[error("{location}: {what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        location: String,
        what: String,
        size: u64,
        limit: u64,
    },
    #[error(
        "{location}: authentication failed ({detail}); check the credentials (--registry-username/--registry-password, SIGIL_REGISTRY_USERNAME/SIGIL_REGISTRY_PASSWORD or ~/.docker/config.json)"
    )]
    Unauthorized { location: String, detail: String },
    #[error("{location}: access denied (HTTP 403); the credentials lack permission for this repository")]
    Denied { location: String },
    #[error("cannot reach {location}: {detail}")]
    Unreachable { location: String, detail: String },
    /// A request (answer body included) did not finish within its deadline.
    #[error(
        "{location}: {what} timed out: no complete answer within the {limit:?} deadline (raise --registry-timeout if the registry is only slow)"
    )]
    Deadline {
        location: String,
        what: String,
        limit: std::time::Duration,
    },
    #[error("{location}: {what} failed with HTTP {status}{}", detail_suffix(.detail))]
    Http {
        location: String,
        what: String,
        status: u16,
        detail: String,
    },
    #[error("{location}: {what}: {cause}")]
    Io {
        location: String,
        what: String,
        cause: std::io::Error,
    },
    #[error("{location}: {what} is malformed: {detail}")]
    Malformed {
        location: String,
        what: String,
        detail: String,
    },
    #[error("{location}: {detail}")]
    Refused { location: String, detail: String },
    /// Refused for now; the same write made again from a fresh read may
    /// succeed (see [`crate::tag::update`]).
    #[error("{location}: {what} was refused for now ({detail}); run the command again")]
    Transient {
        location: String,
        what: String,
        detail: String,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {detail}")
    }
}

impl StoreError {
    /// True when the thing asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// True when the same write, made again from a fresh read, may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient { .. })
    }
}

/// Where images live. Two implementations: [`crate::registry::RegistryStore`]
/// and [`crate::layout::LayoutStore`]; [`AnyStore`] picks one at run time.
///
/// A store is scoped to one repository (a registry repository, or a layout
/// directory).
pub trait Store: Send + Sync {
    /// The repository, for messages: `localhost:5000/app` or `oci:/path`.
    fn location(&self) -> String;

    /// Fetches a manifest by tag or digest; `Ok(None)` when it does not exist.
    /// The returned bytes hash to the returned descriptor's digest, and, for a
    /// digest target, that digest is the one asked for.
    fn fetch_manifest(&self, target: &Target) -> impl Future<Output = Result<Option<Fetched>, StoreError>> + Send;

    /// Reads a whole blob into memory, refusing blobs over `limit` bytes and
    /// content that does not match `descriptor.digest`.
    fn fetch_blob(
        &self,
        descriptor: &Descriptor,
        limit: u64,
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Streams a blob of any size (for copying image layers). The stream ends
    /// with an error if the content does not match the digest or size.
    fn stream_blob(&self, descriptor: &Descriptor) -> impl Future<Output = Result<BlobStream, StoreError>> + Send;

    /// True when the blob is already present.
    fn has_blob(&self, digest: &Digest) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a blob held in memory (skips the upload when already present).
    fn push_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a blob from a stream; the store refuses it unless it matches the descriptor.
    fn push_blob_stream(
        &self,
        descriptor: &Descriptor,
        stream: BlobStream,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores a manifest under a tag, or by its digest.
    fn push_manifest(
        &self,
        target: &Target,
        media_type: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Pushed, StoreError>> + Send;

    /// The referrers API answer for `digest` (all pages), or `Ok(None)` when
    /// the store has no referrers API and the fallback tag must be read.
    fn referrers_api(
        &self,
        digest: &Digest,
    ) -> impl Future<Output = Result<Option<Vec<Descriptor>>, StoreError>> + Send;

    /// Stores a manifest under `tag` only if the tag still points at
    /// `expected` (`None`: the tag does not exist), in one atomic step.
    /// Stores that cannot do that answer [`Swap::Unsupported`] (the
    /// distribution API has no compare-and-swap; [`crate::tag`] settles
    /// and reads again instead).
    fn swap_tag(
        &self,
        tag: &str,
        expected: Option<&Digest>,
        media_type: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Swap, StoreError>> + Send {
        let _ = (tag, expected, media_type, bytes);
        async { Ok(Swap::Unsupported) }
    }
}

/// Fetches a manifest that must exist.
pub async fn require_manifest<S: Store>(store: &S, target: &Target) -> Result<Fetched, StoreError> {
    store.fetch_manifest(target).await?.ok_or_else(|| StoreError::NotFound {
        location: store.location(),
        what: format!("manifest {target}"),
    })
}

/// Checks fetched manifest bytes against the target and the size limit and
/// builds their descriptor. Shared by both store implementations.
pub fn check_manifest(
    location: &str,
    target: &Target,
    media_type: &str,
    bytes: Vec<u8>,
    claimed: Option<&Digest>,
) -> Result<Fetched, StoreError> {
    let limit = crate::oci::limits::MANIFEST_BYTES;
    if bytes.len() as u64 > limit {
        return Err(StoreError::TooLarge {
            location: location.to_owned(),
            what: format!("manifest {target}"),
            size: bytes.len() as u64,
            limit,
        });
    }
    let mut descriptor = Descriptor::of(media_type, &bytes);
    let expected = match target {
        Target::Digest(d) => Some(d),
        Target::Tag(_) => claimed,
    };
    if let Some(expected) = expected {
        expected.verify(&bytes).map_err(|source| StoreError::Digest {
            location: location.to_owned(),
            cause: source,
        })?;
        descriptor.digest = expected.clone();
    }
    Ok(Fetched { descriptor, bytes })
}

/// A store chosen at run time from an image reference.
#[derive(Debug)]
pub enum AnyStore {
    Registry(crate::registry::RegistryStore),
    Layout(crate::layout::LayoutStore),
    /// A registry image whose attachments live in another repository (`COSIGN_REPOSITORY`).
    Redirected(Box<crate::redirect::Redirected<crate::registry::RegistryStore>>),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Registry($s) => $call,
            AnyStore::Layout($s) => $call,
            AnyStore::Redirected($s) => $call,
        }
    };
}

impl Store for AnyStore {
    fn location(&self) -> String {
        delegate!(self, s => s.location())
    }
    async fn fetch_manifest(&self, target: &Target) -> Result<Option<Fetched>, StoreError> {
        delegate!(self, s => s.fetch_manifest(target).await)
    }
    async fn fetch_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>, StoreError> {
        delegate!(self, s => s.fetch_blob(descriptor, limit).await)
    }
    async fn stream_blob(&self, descriptor: &Descriptor) -> Result<BlobStream, StoreError> {
        delegate!(self, s => s.stream_blob(descriptor).await)
    }
    async fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        delegate!(self, s => s.has_blob(digest).await)
    }
    async fn push_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        delegate!(self, s => s.push_blob(descriptor, bytes).await)
    }
    async fn push_blob_stream(&self, descriptor: &Descriptor, stream: BlobStream) -> Result<(), StoreError> {
        delegate!(self, s => s.push_blob_stream(descriptor, stream).await)
    }
    async fn push_manifest(&self, target: &Target, media_type: &str, bytes: &[u8]) -> Result<Pushed, StoreError> {
        delegate!(self, s => s.push_manifest(target, media_type, bytes).await)
    }
    async fn referrers_api(&self, digest: &Digest) -> Result<Option<Vec<Descriptor>>, StoreError> {
        delegate!(self, s => s.referrers_api(digest).await)
    }
    async fn swap_tag(
        &self,
        tag: &str,
        expected: Option<&Digest>,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Swap, StoreError> {
        delegate!(self, s => s.swap_tag(tag, expected, media_type, bytes).await)
    }
}

impl AnyStore {
    /// Opens the store an image reference names. Layout directories must
    /// exist unless `create` is set (destinations of `copy`).
    pub fn open(
        reference: &crate::reference::ImageRef,
        client: &std::sync::Arc<crate::registry::RegistryClient>,
        create: bool,
    ) -> Result<AnyStore, StoreError> {
        use crate::reference::ImageRef;
        match reference {
            ImageRef::Registry(r) => Ok(AnyStore::Registry(crate::registry::RegistryStore::new(
                client.clone(),
                r,
            ))),
            ImageRef::Layout(l) if create => crate::layout::LayoutStore::create(&l.dir).map(AnyStore::Layout),
            ImageRef::Layout(l) => crate::layout::LayoutStore::open(&l.dir).map(AnyStore::Layout),
        }
    }

    /// [`AnyStore::open`], with a registry image's signatures, attestations
    /// and referrers in the registry repository `attachments` when one is
    /// given (cosign's `COSIGN_REPOSITORY`; a layout keeps its own).
    pub fn open_with_attachments(
        reference: &crate::reference::ImageRef,
        client: &std::sync::Arc<crate::registry::RegistryClient>,
        create: bool,
        attachments: Option<&crate::reference::RegistryRef>,
    ) -> Result<AnyStore, StoreError> {
        use crate::reference::ImageRef;
        match (reference, attachments) {
            (ImageRef::Registry(r), Some(repository)) => {
                Ok(AnyStore::Redirected(Box::new(crate::redirect::Redirected {
                    image: crate::registry::RegistryStore::new(client.clone(), r),
                    attachments: crate::registry::RegistryStore::new(client.clone(), repository),
                })))
            }
            _ => AnyStore::open(reference, client, create),
        }
    }
}
