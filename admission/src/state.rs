//! The policy and the TLS certificate a server answers with, and their
//! reloading.
//!
//! A [`Loaded`] policy is immutable: a request takes the current one once
//! (an `Arc`) and is judged by it from start to end, so no request ever
//! sees a half-loaded policy or two policies. Every file the policy read
//! (the policy itself, keys, trusted roots, CA roots) is recorded with its
//! digest; [`Loaded::generation`] digests them all, and keys the decision
//! cache, so changing a key file changes every cached decision's key.
//!
//! [`Current::reload_if_changed`] re-reads those files; when any differs
//! it compiles the policy afresh and swaps it in only if it has no errors.
//! A broken new policy leaves the last good one serving and is reported
//! (log, `/readyz`, `sigil_admission_policy_stale`). The certificate and
//! key are watched the same way ([`Certificates`]).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sigil_verifier::digest::Digest;
use sigil_verifier::files::Disk;
use sigil_verifier::pipeline::{Pipeline, PolicyJudge, Settings};
use sigil_verifier::policy::{FileReader, Policy};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::{RegistryClient, RegistryStore};
use sigil_verifier::store::StoreError;
use time::OffsetDateTime;

/// How a pipeline opens the store of an image: registries only (the
/// webhook never reads a local directory a Pod names).
pub type Open = Box<dyn Fn(&ImageRef) -> Result<RegistryStore, StoreError> + Send + Sync>;

/// One loaded policy with its pipeline.
pub struct Loaded {
    pub policy: Arc<Policy>,
    pub pipeline: Pipeline<Open, PolicyJudge>,
    /// Digest of every file the policy was compiled from, with their paths.
    pub generation: Digest,
    /// What was read, for change detection.
    files: Vec<(PathBuf, Digest)>,
    pub loaded_at: OffsetDateTime,
}

/// A [`FileReader`] that remembers what it read.
struct Recording {
    read: Mutex<Vec<(PathBuf, Digest)>>,
}

impl FileReader for Recording {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        let bytes = Disk.read(path)?;
        lock(&self.read).push((path.to_owned(), Digest::sha256_of(&bytes)));
        Ok(bytes)
    }

    /// A directory listed (a notation trust store) is recorded by its
    /// listing, so a certificate added or removed is a change.
    fn list(&self, path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        let listed = Disk.list(path)?;
        if let Some(files) = &listed {
            lock(&self.read).push((path.to_owned(), listing_digest(files)));
        }
        Ok(listed)
    }
}

/// The digest standing for a directory's listing.
fn listing_digest(files: &[PathBuf]) -> Digest {
    let mut text = String::from("directory\0");
    for file in files {
        text.push_str(&format!("{}\n", file.display()));
    }
    Digest::sha256_of(text.as_bytes())
}

/// What `path` holds now, as [`Recording`] recorded it: a directory's
/// listing, else the file's bytes.
fn digest_now(path: &Path) -> Result<Digest, String> {
    match Disk.list(path)? {
        Some(files) => Ok(listing_digest(&files)),
        None => Disk.read(path).map(|b| Digest::sha256_of(&b)),
    }
}

impl Loaded {
    /// Loads the policy at `path`, refusing one with errors (the first
    /// three, one line).
    pub fn load(
        path: &Path,
        client: &Arc<RegistryClient>,
        settings: Settings,
        now: OffsetDateTime,
    ) -> Result<Loaded, String> {
        let recording = Recording {
            read: Mutex::new(Vec::new()),
        };
        let policy = match Policy::load(path, now, &recording) {
            Ok((policy, warnings)) => {
                for w in &warnings.items {
                    tracing::warn!("policy {}: {}: {}", path.display(), w.code.as_str(), w.message);
                }
                policy
            }
            Err(e) => return Err(e.summary()),
        };
        let files = recording.read.into_inner().unwrap_or_else(PoisonError::into_inner);
        let generation = generation_of(&files);
        let policy = Arc::new(policy);
        let client = client.clone();
        let open: Open = Box::new(move |image| match image {
            ImageRef::Registry(r) => Ok(RegistryStore::new(client.clone(), r)),
            ImageRef::Layout(l) => Err(StoreError::NotFound {
                location: l.to_string(),
                what: "a layout directory (the webhook reads registries only)".into(),
            }),
        });
        Ok(Loaded {
            pipeline: Pipeline::new(open, PolicyJudge(policy.clone()), settings),
            policy,
            generation,
            files,
            loaded_at: now,
        })
    }

    /// Whether any file this policy was compiled from now reads otherwise
    /// (or not at all).
    fn changed(&self) -> bool {
        self.files
            .iter()
            .any(|(path, digest)| digest_now(path).as_ref() != Ok(digest))
    }
}

fn generation_of(files: &[(PathBuf, Digest)]) -> Digest {
    let mut text = String::new();
    for (path, digest) in files {
        text.push_str(&format!("{}\0{digest}\n", path.display()));
    }
    Digest::sha256_of(text.as_bytes())
}

/// A failed reload, kept until a later one succeeds.
#[derive(Clone, Debug)]
pub struct ReloadFailure {
    pub at: OffsetDateTime,
    pub error: String,
    /// The generation of the files that failed, so a file that stays broken
    /// is reported once, not every poll.
    generation: Digest,
}

/// The policy serving now, and the last reload that failed.
pub struct Current {
    path: PathBuf,
    client: Arc<RegistryClient>,
    settings: Settings,
    loaded: RwLock<Arc<Loaded>>,
    failure: Mutex<Option<ReloadFailure>>,
}

/// What a reload did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reloaded {
    Unchanged,
    Swapped,
    /// The new files have errors; the last good policy still serves.
    Failed,
}

impl Current {
    pub fn new(
        path: PathBuf,
        client: Arc<RegistryClient>,
        settings: Settings,
        now: OffsetDateTime,
    ) -> Result<Current, String> {
        let loaded = Loaded::load(&path, &client, settings, now)?;
        Ok(Current {
            path,
            client,
            settings,
            loaded: RwLock::new(Arc::new(loaded)),
            failure: Mutex::new(None),
        })
    }

    /// The policy to judge one request by, start to end.
    pub fn get(&self) -> Arc<Loaded> {
        self.loaded.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn failure(&self) -> Option<ReloadFailure> {
        lock(&self.failure).clone()
    }

    /// Reloads the policy if any of its files changed.
    pub fn reload_if_changed(&self, now: OffsetDateTime) -> Reloaded {
        let current = self.get();
        if !current.changed() {
            return Reloaded::Unchanged;
        }
        match Loaded::load(&self.path, &self.client, self.settings, now) {
            Ok(loaded) if loaded.generation == current.generation => Reloaded::Unchanged,
            Ok(loaded) => {
                tracing::info!(
                    "policy {} reloaded: {} (was {})",
                    self.path.display(),
                    loaded.policy.digest,
                    current.policy.digest
                );
                *self.loaded.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(loaded);
                *lock(&self.failure) = None;
                Reloaded::Swapped
            }
            Err(error) => {
                // What failed, by content, so a file that stays broken is reported once.
                let generation = generation_of(&self.snapshot());
                let mut failure = lock(&self.failure);
                if failure.as_ref().is_some_and(|f| f.generation == generation) {
                    return Reloaded::Unchanged;
                }
                tracing::error!(
                    "policy {} not reloaded, the last good one ({}) still serves: {error}",
                    self.path.display(),
                    current.policy.digest
                );
                *failure = Some(ReloadFailure {
                    at: now,
                    error,
                    generation,
                });
                Reloaded::Failed
            }
        }
    }

    /// The digests of the files the serving policy was read from, as they are now.
    fn snapshot(&self) -> Vec<(PathBuf, Digest)> {
        self.get()
            .files
            .iter()
            .map(|(path, _)| {
                let digest = digest_now(path).unwrap_or_else(|e| Digest::sha256_of(e.as_bytes()));
                (path.clone(), digest)
            })
            .collect()
    }
}

/// The server certificate, reloaded when its files change: rustls asks for
/// it on every handshake.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<(Arc<CertifiedKey>, Digest)>,
    failed: Mutex<Option<Digest>>,
}

impl Certificates {
    pub fn load(cert: &Path, key: &Path) -> Result<Certificates, String> {
        let (certified, digest) = read_certified(cert, key)?;
        Ok(Certificates {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new((Arc::new(certified), digest)),
            failed: Mutex::new(None),
        })
    }

    /// Reloads the certificate and key if either changed; `Some(result)`
    /// when a reload was tried.
    pub fn reload_if_changed(&self) -> Option<Result<(), String>> {
        let digest = files_digest(&self.cert, &self.key);
        let serving = self.current.read().unwrap_or_else(PoisonError::into_inner).1.clone();
        if digest == serving || lock(&self.failed).as_ref() == Some(&digest) {
            return None;
        }
        match read_certified(&self.cert, &self.key) {
            Ok((certified, digest)) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = (Arc::new(certified), digest);
                *lock(&self.failed) = None;
                tracing::info!("TLS certificate {} reloaded", self.cert.display());
                Some(Ok(()))
            }
            Err(e) => {
                *lock(&self.failed) = Some(digest);
                tracing::error!("TLS certificate not reloaded, the last good one still serves: {e}");
                Some(Err(e))
            }
        }
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(PoisonError::into_inner).0.clone())
    }
}

fn files_digest(cert: &Path, key: &Path) -> Digest {
    let read = |p: &Path| Disk.read(p).unwrap_or_else(|e| e.into_bytes());
    let mut both = read(cert);
    both.extend_from_slice(b"\0key\0");
    both.extend(read(key));
    Digest::sha256_of(&both)
}

/// The certificate chain (leaf first) and private key (PKCS#8, SEC1 or
/// PKCS#1 PEM) from two files, checked to belong together.
fn read_certified(cert: &Path, key: &Path) -> Result<(CertifiedKey, Digest), String> {
    let digest = files_digest(cert, key);
    let cert_pem = Disk
        .read(cert)
        .map_err(|e| format!("cannot read --tls-cert {}: {e}", cert.display()))?;
    let key_pem = Disk
        .read(key)
        .map_err(|e| format!("cannot read --tls-key {}: {e}", key.display()))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--tls-cert {} is not PEM certificates: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {} holds no CERTIFICATE block (give the server certificate, then its chain)",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "--tls-key {} is not a PEM private key ({e}); give a PKCS#8 `PRIVATE KEY` file",
            key.display()
        )
    })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let certified = CertifiedKey::from_der(chain, key_der, &provider)
        .map_err(|e| format!("--tls-cert and --tls-key do not make a usable pair: {e}"))?;
    Ok((certified, digest))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
