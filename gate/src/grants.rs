//! What the gate learnt from the manifests it answered, so that what
//! follows a manifest is judged by it: the blobs of an allowed image (its
//! config and layers, or an attachment's), the children of an allowed
//! index, the children of a denied index (refused with the index's reason,
//! not a 404), and the images known to be allowed (subjects of
//! attachments).
//!
//! Every entry is keyed by repository (`UPSTREAM/NAME`) and digest, expires
//! `ttl` after it was last granted, and each table holds at most `entries`:
//! when full, expired entries go first, then the oldest. A forgotten grant
//! fails closed: the client fetches the manifest again, which is judged
//! again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sigil_verifier::digest::Digest;
use sigil_verifier::oci::{Descriptor, Manifest};
use tokio::time::Instant;

/// Why a child manifest is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parent {
    /// An index the policy allowed lists it.
    Allowed,
    /// An index the policy denied lists it; the index's denial.
    Denied(Arc<str>),
}

/// One table of expiring entries.
struct Expiring<K, V> {
    ttl: Duration,
    entries: usize,
    map: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> Expiring<K, V> {
    fn new(ttl: Duration, entries: usize) -> Self {
        Expiring {
            ttl,
            entries: entries.max(1),
            map: Mutex::default(),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        let map = lock(&self.map);
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    fn insert(&self, key: K, value: V) {
        let mut map = lock(&self.map);
        if map.len() >= self.entries && !map.contains_key(&key) {
            map.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if map.len() >= self.entries {
                // Still full of live entries: the older half goes.
                let mut ages: Vec<Instant> = map.values().map(|(at, _)| *at).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, (at, _)| *at > cut);
            }
        }
        map.insert(key, (Instant::now(), value));
    }

    fn purge(&self) {
        lock(&self.map).retain(|_, (at, _)| at.elapsed() < self.ttl);
    }

    fn len(&self) -> usize {
        lock(&self.map).len()
    }
}

type Key = (String, Digest);

/// Everything granted or refused by earlier answers.
pub struct Grants {
    /// Images (manifests) allowed, by the policy or as a child of an allowed index.
    images: Expiring<Key, ()>,
    /// Children of indexes the gate answered.
    children: Expiring<Key, Parent>,
    /// Blobs that may be served, with their size.
    blobs: Expiring<Key, u64>,
}

impl Grants {
    pub fn new(ttl: Duration, entries: usize) -> Grants {
        Grants {
            images: Expiring::new(ttl, entries),
            children: Expiring::new(ttl, entries),
            blobs: Expiring::new(ttl, entries.saturating_mul(8)),
        }
    }

    /// Records an allowed manifest: itself, its blobs, and, when
    /// `children_too` (an index allowed for what it is, not as an
    /// attachment), the manifests it lists.
    pub fn allow(&self, repository: &str, digest: &Digest, manifest: &Manifest, children_too: bool) {
        self.images.insert((repository.to_owned(), digest.clone()), ());
        match manifest {
            Manifest::Image(m) => {
                for blob in std::iter::once(&m.config).chain(&m.layers) {
                    self.allow_blob(repository, blob);
                }
            }
            Manifest::Index(i) if children_too => {
                for child in &i.manifests {
                    self.children
                        .insert((repository.to_owned(), child.digest.clone()), Parent::Allowed);
                }
            }
            Manifest::Index(_) => {}
        }
    }

    /// Records a denied index: its children are refused with its reason
    /// (unless an allowed index lists them too).
    pub fn deny_children(&self, repository: &str, manifest: &Manifest, reason: &str) {
        let Manifest::Index(index) = manifest else { return };
        let reason: Arc<str> = Arc::from(reason);
        for child in &index.manifests {
            let key = (repository.to_owned(), child.digest.clone());
            if self.children.get(&key) != Some(Parent::Allowed) {
                self.children.insert(key, Parent::Denied(reason.clone()));
            }
        }
    }

    fn allow_blob(&self, repository: &str, blob: &Descriptor) {
        self.blobs
            .insert((repository.to_owned(), blob.digest.clone()), blob.size);
    }

    /// Whether the image `digest` was allowed (and not forgotten since).
    pub fn image_allowed(&self, repository: &str, digest: &Digest) -> bool {
        let key = (repository.to_owned(), digest.clone());
        self.images.get(&key).is_some() || self.children.get(&key) == Some(Parent::Allowed)
    }

    /// The index an answered manifest was listed by, if any.
    pub fn parent(&self, repository: &str, digest: &Digest) -> Option<Parent> {
        self.children.get(&(repository.to_owned(), digest.clone()))
    }

    /// The size of a blob that may be served; `None` when no allowed
    /// manifest named it.
    pub fn blob(&self, repository: &str, digest: &Digest) -> Option<u64> {
        self.blobs.get(&(repository.to_owned(), digest.clone()))
    }

    /// Drops what expired.
    pub fn purge(&self) {
        self.images.purge();
        self.children.purge();
        self.blobs.purge();
    }

    /// Entries held, for tests and logs.
    pub fn len(&self) -> usize {
        self.images.len() + self.children.len() + self.blobs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use sigil_verifier::oci::{self, ImageIndex, ImageManifest};

    use super::*;

    fn image(seed: &[u8]) -> (Digest, Manifest) {
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(oci::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::of(oci::OCI_CONFIG, seed),
            layers: vec![Descriptor::of(oci::OCI_LAYER_GZIP, &[seed, b"layer"].concat())],
            subject: None,
            annotations: Default::default(),
        };
        let digest = Digest::sha256_of(&oci::to_bytes(&manifest));
        (digest, Manifest::Image(manifest))
    }

    fn index(children: &[&Digest]) -> Manifest {
        Manifest::Index(ImageIndex {
            manifests: children
                .iter()
                .map(|d| Descriptor {
                    digest: (*d).clone(),
                    ..Descriptor::of(oci::OCI_MANIFEST, b"")
                })
                .collect(),
            ..ImageIndex::empty()
        })
    }

    #[test]
    fn an_allowed_image_grants_its_blobs_in_its_repository_only() {
        let grants = Grants::new(Duration::from_secs(60), 100);
        let (digest, manifest) = image(b"a");
        let Manifest::Image(m) = &manifest else { unreachable!() };
        assert_eq!(grants.blob("r/app", &m.layers[0].digest), None);
        grants.allow("r/app", &digest, &manifest, true);
        assert_eq!(grants.blob("r/app", &m.layers[0].digest), Some(m.layers[0].size));
        assert_eq!(grants.blob("r/app", &m.config.digest), Some(m.config.size));
        assert_eq!(grants.blob("r/other", &m.layers[0].digest), None);
        assert!(grants.image_allowed("r/app", &digest));
        assert!(!grants.image_allowed("r/other", &digest));
    }

    #[test]
    fn children_follow_their_index_and_allowed_wins() {
        let grants = Grants::new(Duration::from_secs(60), 100);
        let (a, _) = image(b"a");
        let (b, _) = image(b"b");
        let denied = index(&[&a, &b]);
        grants.deny_children("r", &denied, "r:bad: rule prod: unsigned");
        assert_eq!(
            grants.parent("r", &a),
            Some(Parent::Denied("r:bad: rule prod: unsigned".into()))
        );
        assert!(!grants.image_allowed("r", &a));
        let allowed = index(&[&a]);
        grants.allow("r", &Digest::sha256_of(b"index"), &allowed, true);
        assert_eq!(grants.parent("r", &a), Some(Parent::Allowed));
        assert!(grants.image_allowed("r", &a));
        // A later denial does not take back what an allowed index granted.
        grants.deny_children("r", &denied, "again");
        assert_eq!(grants.parent("r", &a), Some(Parent::Allowed));
        assert_eq!(grants.parent("r", &b), Some(Parent::Denied("again".into())));
    }

    #[test]
    fn an_attachment_index_grants_no_children() {
        let grants = Grants::new(Duration::from_secs(60), 100);
        let (a, _) = image(b"a");
        grants.allow("r", &Digest::sha256_of(b"fallback"), &index(&[&a]), false);
        assert_eq!(grants.parent("r", &a), None);
        assert!(!grants.image_allowed("r", &a));
    }

    #[test]
    fn grants_expire_and_stay_bounded() {
        let grants = Grants::new(Duration::ZERO, 100);
        let (digest, manifest) = image(b"a");
        grants.allow("r", &digest, &manifest, true);
        assert!(!grants.image_allowed("r", &digest));
        grants.purge();
        assert!(grants.is_empty());

        let grants = Grants::new(Duration::from_secs(60), 4);
        for i in 0..50u8 {
            let (digest, manifest) = image(&[i]);
            grants.allow("r", &digest, &manifest, true);
            assert!(grants.image_allowed("r", &digest), "the newest entry is kept");
        }
        assert!(grants.images.len() <= 4 && grants.blobs.len() <= 32, "{}", grants.len());
    }
}
