//! Read-modify-write of a manifest behind a tag, safe against lost updates.
//!
//! The distribution API has no compare-and-swap, so two signers appending to
//! `sha256-HEX.sig` at once can each overwrite the other's write. sigil
//! guards this by detecting and retrying: after writing, it waits a settle
//! time (three times the longest read-to-write window of its attempts, at
//! least 150 ms, plus jitter), reads the tag
//! again and, if its change is missing, merges it into what is there now and
//! writes again. A concurrent writer that overwrote it is thereby merged, not
//! lost. The remaining window: a writer whose own read-to-write takes longer
//! than the settle time can still drop a change made after its read; sigil
//! keeps that window small by uploading blobs before it reads the tag. A
//! write the registry refuses for now ([`StoreError::is_transient`]) is never
//! sent again as it was: the tag is read and merged again first.
//! OCI layout directories compare and swap under their index file lock
//! ([`Store::swap_tag`]): exact, and without the settle time.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::digest::Digest;
use crate::oci::{Descriptor, Manifest};
use crate::reference::Target;
use crate::store::{Store, StoreError, Swap};

/// How many times to merge again before giving up.
const ATTEMPTS: u32 = 8;

/// How many lost compare-and-swap races before giving up (each one is
/// another writer's success, so this bounds the writers racing at once).
const SWAP_ATTEMPTS: u32 = 256;

/// The shortest settle time: a writer on a loaded machine can take this
/// long from its read to its write even when this one was quick.
const MIN_SETTLE: Duration = Duration::from_millis(150);

/// A new manifest for the tag, and small blobs it needs that depend on it.
pub struct Update {
    pub media_type: String,
    pub bytes: Vec<u8>,
    /// Blobs to upload before the manifest (e.g. a config listing the layers).
    pub blobs: Vec<(Descriptor, Vec<u8>)>,
}

/// Applies `change` to the manifest at `tag` until `present` holds for what
/// the tag serves. `change` receives the current manifest (`None` when the
/// tag does not exist yet). Returns the digest the tag ends at.
pub async fn update<S, P, C>(store: &S, tag: &str, present: P, mut change: C) -> Result<Digest, StoreError>
where
    S: Store,
    P: Fn(&Manifest) -> bool,
    C: FnMut(Option<Manifest>) -> Result<Update, StoreError>,
{
    let target = Target::Tag(tag.to_owned());
    // The longest read-to-write window of this update: under contention a
    // later attempt can be quick while other writers are still slow.
    let mut longest = Duration::ZERO;
    let (mut settled, mut swaps) = (0, 0);
    while settled < ATTEMPTS && swaps < SWAP_ATTEMPTS {
        let started = Instant::now();
        let current = read(store, &target).await?;
        if let Some((digest, manifest)) = &current
            && present(manifest)
        {
            return Ok(digest.clone());
        }
        let (read_at, current) = match current {
            Some((digest, manifest)) => (Some(digest), Some(manifest)),
            None => (None, None),
        };
        let update = change(current)?;
        for (descriptor, bytes) in &update.blobs {
            store.push_blob(descriptor, bytes).await?;
        }
        // A store that compares and swaps (a layout, under its file lock)
        // is exact: no settle time, and a lost race is simply read again.
        match store
            .swap_tag(tag, read_at.as_ref(), &update.media_type, &update.bytes)
            .await?
        {
            Swap::Swapped(pushed) => return Ok(pushed.digest),
            Swap::Moved => {
                // Another writer got in first: progress was made, so this
                // loses a race at most once per concurrent writer.
                swaps += 1;
                tracing::debug!("{}: tag {tag} moved since it was read; merging again", store.location());
                tokio::time::sleep(jitter() / 8).await;
                continue;
            }
            Swap::Unsupported => {}
        }
        settled += 1;
        let pushed = match store.push_manifest(&target, &update.media_type, &update.bytes).await {
            Ok(pushed) => pushed,
            Err(e) if e.is_transient() => {
                tracing::debug!("{e}; reading tag {tag} and merging again");
                tokio::time::sleep(jitter() * 2).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        longest = longest.max(started.elapsed());
        settle((longest * 3).max(MIN_SETTLE) + jitter()).await;
        match read(store, &target).await? {
            Some((digest, manifest)) if present(&manifest) => return Ok(digest),
            _ => tracing::debug!(
                "{}: tag {tag} changed under a concurrent writer after {}; merging again",
                store.location(),
                pushed.digest
            ),
        }
    }
    Err(StoreError::Refused {
        location: store.location(),
        detail: format!(
            "tag {tag} kept changing under concurrent writers; gave up after {} attempts; the change may be missing, run the command again",
            settled + swaps
        ),
    })
}

tokio::task_local! {
    /// The work slot of the task an update runs in, when its caller paces
    /// work with [`paced`]: given up while the update settles.
    static SLOT: RefCell<Option<OwnedSemaphorePermit>>;
}

/// Runs `work` holding one of `slots`' permits, except while a tag update
/// in it waits its settle time. Many images signed at once then settle
/// together: a run costs its round trips (at most `slots` at a time) plus
/// about one settle time, not one settle time per image.
pub async fn paced<F: Future>(slots: &Arc<Semaphore>, work: F) -> F::Output {
    // The semaphore is never closed.
    let permit = slots.clone().acquire_owned().await.ok();
    SLOT.scope(RefCell::new(permit), work).await
}

/// Waits `time`, without holding a [`paced`] work slot meanwhile.
async fn settle(time: Duration) {
    let held = SLOT.try_with(|slot| slot.borrow_mut().take()).ok().flatten();
    let slots = held.as_ref().map(|p| p.semaphore().clone());
    drop(held);
    tokio::time::sleep(time).await;
    if let Some(slots) = slots {
        let again = slots.acquire_owned().await.ok();
        let _ = SLOT.try_with(|slot| *slot.borrow_mut() = again);
    }
}

async fn read<S: Store>(store: &S, target: &Target) -> Result<Option<(Digest, Manifest)>, StoreError> {
    let Some(fetched) = store.fetch_manifest(target).await? else {
        return Ok(None);
    };
    let manifest =
        Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes).map_err(|e| StoreError::Malformed {
            location: store.location(),
            what: format!("manifest at tag {target}"),
            detail: e.to_string(),
        })?;
    Ok(Some((fetched.descriptor.digest, manifest)))
}

/// 20-60 ms of randomness, so racing writers do not stay in lock step.
fn jitter() -> Duration {
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    Duration::from_millis(20 + u64::from(b[0]) % 40)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use futures::{StreamExt as _, stream};

    use super::*;
    use crate::oci::{self, Descriptor, ImageManifest};
    use crate::store::{BlobStream, Fetched, Pushed};

    /// A stored manifest: digest, media type, bytes.
    type Held = (Digest, String, Vec<u8>);

    /// A registry as the distribution API is: tags without compare-and-swap.
    #[derive(Default)]
    struct Memory {
        manifests: Mutex<HashMap<String, Held>>,
    }

    impl Store for Memory {
        fn location(&self) -> String {
            "memory".to_owned()
        }
        async fn fetch_manifest(&self, target: &Target) -> Result<Option<Fetched>, StoreError> {
            let held = self.manifests.lock().expect("lock").get(&target.to_string()).cloned();
            Ok(held.map(|(digest, media_type, bytes)| Fetched {
                descriptor: Descriptor {
                    media_type,
                    digest,
                    size: bytes.len() as u64,
                    artifact_type: None,
                    annotations: Default::default(),
                    platform: None,
                },
                bytes,
            }))
        }
        async fn fetch_blob(&self, d: &Descriptor, _: u64) -> Result<Vec<u8>, StoreError> {
            Err(StoreError::NotFound {
                location: self.location(),
                what: d.digest.to_string(),
            })
        }
        async fn stream_blob(&self, d: &Descriptor) -> Result<BlobStream, StoreError> {
            Err(StoreError::NotFound {
                location: self.location(),
                what: d.digest.to_string(),
            })
        }
        async fn has_blob(&self, _: &Digest) -> Result<bool, StoreError> {
            Ok(true)
        }
        async fn push_blob(&self, _: &Descriptor, _: &[u8]) -> Result<(), StoreError> {
            Ok(())
        }
        async fn push_blob_stream(&self, _: &Descriptor, _: BlobStream) -> Result<(), StoreError> {
            Ok(())
        }
        async fn push_manifest(&self, target: &Target, media_type: &str, bytes: &[u8]) -> Result<Pushed, StoreError> {
            let digest = Digest::sha256_of(bytes);
            self.manifests.lock().expect("lock").insert(
                target.to_string(),
                (digest.clone(), media_type.to_owned(), bytes.to_vec()),
            );
            Ok(Pushed {
                digest,
                subject_indexed: false,
            })
        }
        async fn referrers_api(&self, _: &Digest) -> Result<Option<Vec<Descriptor>>, StoreError> {
            Ok(None)
        }
    }

    /// Appends one layer to each of `tags` tags, four at a time; how long
    /// that took on the paused clock (settle times are the only waits).
    async fn append_many(tags: usize, pace: bool) -> Duration {
        let store = Memory::default();
        let slots = Arc::new(Semaphore::new(4));
        let started = tokio::time::Instant::now();
        let work = |i: usize| {
            let store = &store;
            async move {
                let layer = Descriptor::of(crate::cosign::SIMPLESIGNING_MEDIA_TYPE, format!("{i}").as_bytes());
                crate::sign::append_layer(store, &format!("sha256-{i}.sig"), layer)
                    .await
                    .expect("append")
            }
        };
        let done: Vec<Digest> = if pace {
            stream::iter(0..tags)
                .map(|i| paced(&slots, work(i)))
                .buffered(tags)
                .collect()
                .await
        } else {
            stream::iter(0..tags).map(work).buffered(4).collect().await
        };
        for (i, digest) in done.iter().enumerate() {
            let held = store.manifests.lock().expect("lock")[&format!("sha256-{i}.sig")]
                .0
                .clone();
            assert_eq!(&held, digest);
            let bytes = store.manifests.lock().expect("lock")[&format!("sha256-{i}.sig")]
                .2
                .clone();
            let manifest: ImageManifest = serde_json::from_slice(&bytes).expect("manifest");
            assert_eq!(manifest.layers.len(), 1, "{}", oci::OCI_MANIFEST);
        }
        started.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn many_updates_paced_settle_together_not_one_after_another() {
        let paced = append_many(32, true).await;
        let serial = append_many(32, false).await;
        // one settle time (150 ms plus at most 60 ms of jitter) for all 32 ...
        assert!(paced < Duration::from_millis(400), "paced: {paced:?}");
        // ... where four at a time settle eight times over
        assert!(serial >= MIN_SETTLE * 8, "unpaced: {serial:?}");
    }
}
