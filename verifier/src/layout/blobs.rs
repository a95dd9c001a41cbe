//! Content-addressed blob files under `blobs/ALG/HEX`.
//!
//! A blob path is derived only from a parsed [`Digest`] (an algorithm name and
//! validated lower-case hex), so no input can reach outside `blobs/`. Reads
//! open without blocking and only regular files ([`super::open_regular`]),
//! are refused by file length before any byte is read and checked against the
//! digest after; writes go to a temporary file in the layout directory that is
//! renamed into place only once its digest and size are right, and only into
//! `blobs/ALG` directories that are the layout's own: a `blobs` or
//! `blobs/sha256` that is a symlink (to anywhere) is refused, so a hostile
//! layout cannot make sigil write outside it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{LayoutStore, NotRegular, open_regular};
use crate::digest::{Algorithm, Digest, DigestError, Hasher};
use crate::oci::Descriptor;
use crate::store::{BlobStream, StoreError};

/// Size of the chunks a blob stream yields.
const CHUNK: usize = 64 * 1024;

impl LayoutStore {
    /// `DIR/blobs/ALG/HEX`.
    pub(super) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.hex())
    }

    /// `DIR/blobs/ALG`, created where missing; refused when it or `blobs`
    /// is a symlink or anything else but a directory, so writes stay in the
    /// layout. (Blocking file work: async callers use [`Self::write_dir`].)
    pub(super) fn blob_dir(&self, algorithm: Algorithm) -> Result<PathBuf, StoreError> {
        let blobs = self.dir.join("blobs");
        let dir = blobs.join(algorithm.name());
        self.own_dir(&blobs, "blobs")?;
        self.own_dir(&dir, &format!("blobs/{}", algorithm.name()))?;
        Ok(dir)
    }

    /// Makes sure `path` is a directory of the layout itself (not a symlink),
    /// creating it when absent.
    fn own_dir(&self, path: &Path, shown: &str) -> Result<(), StoreError> {
        // Twice: another writer may create it between our look and our mkdir.
        for _ in 0..2 {
            match std::fs::symlink_metadata(path) {
                // `symlink_metadata` does not follow links: a link is never `is_dir` here.
                Ok(meta) if meta.is_dir() => return Ok(()),
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(self.refused(format!(
                        "{shown} is a symlink; sigil writes only into the layout's own directories (make {shown} a real directory)"
                    )));
                }
                Ok(meta) => {
                    return Err(self.refused(format!(
                        "{shown} is {}, not a directory",
                        super::file_kind(meta.file_type())
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => match std::fs::create_dir(path) {
                    Ok(()) => return Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(self.io_error(format!("creating {shown}"), e)),
                },
                Err(e) => return Err(self.io_error(format!("reading {shown}"), e)),
            }
        }
        Err(self.refused(format!("{shown} keeps changing while sigil writes; try again")))
    }

    /// [`Self::blob_dir`] off the async threads.
    async fn write_dir(&self, algorithm: Algorithm) -> Result<PathBuf, StoreError> {
        let store = self.clone();
        self.blocking(move || store.blob_dir(algorithm)).await
    }

    /// The length of the blob's file, or `None` when there is none.
    pub(super) async fn blob_len(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        match tokio::fs::metadata(self.blob_path(digest)).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Err(self.refused(format!("{} is not a regular file", self.relative(digest)))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_error(format!("reading {}", self.relative(digest)), e)),
        }
    }

    /// Opens a blob file and checks its length against the size the caller
    /// expects (if any) and against `limit`, before anything is read.
    async fn open_blob(
        &self,
        what: &str,
        digest: &Digest,
        expected_size: Option<u64>,
        limit: u64,
    ) -> Result<Option<(tokio::fs::File, u64)>, StoreError> {
        if let Some(size) = expected_size
            && size > limit
        {
            return Err(self.too_large(what, size, limit));
        }
        let path = self.blob_path(digest);
        let opened = tokio::task::spawn_blocking(move || open_regular(&path))
            .await
            .map_err(|e| self.io_error("a background file task failed", io::Error::other(e)))?;
        let file = match opened {
            Ok(file) => tokio::fs::File::from_std(file),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                if let Some(refused) = e.get_ref().and_then(|inner| inner.downcast_ref::<NotRegular>()) {
                    return Err(self.refused(format!(
                        "{} is {}, not a regular file; refusing it",
                        self.relative(digest),
                        refused.kind
                    )));
                }
                return Err(self.io_error(format!("opening {}", self.relative(digest)), e));
            }
        };
        let meta = file
            .metadata()
            .await
            .map_err(|e| self.io_error(format!("reading {}", self.relative(digest)), e))?;
        if !meta.is_file() {
            return Err(self.refused(format!("{} is not a regular file", self.relative(digest))));
        }
        let len = meta.len();
        if let Some(size) = expected_size
            && size != len
        {
            return Err(self.refused(format!(
                "{what} should be {size} bytes but {} holds {len}; refusing it",
                self.relative(digest)
            )));
        }
        if len > limit {
            return Err(self.too_large(what, len, limit));
        }
        Ok(Some((file, len)))
    }

    /// Reads a whole blob that hashes to `digest`; `Ok(None)` when absent.
    pub(super) async fn read_blob(
        &self,
        what: &str,
        digest: &Digest,
        expected_size: Option<u64>,
        limit: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let Some((file, len)) = self.open_blob(what, digest, expected_size, limit).await? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(len + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| self.io_error(format!("reading {}", self.relative(digest)), e))?;
        if bytes.len() as u64 != len {
            return Err(self.refused(format!("{} changed while being read; try again", self.relative(digest))));
        }
        digest.verify(&bytes).map_err(|source| self.digest_error(source))?;
        Ok(Some(bytes))
    }

    /// A stream of the blob's bytes that ends in an error unless they match
    /// the descriptor's digest and size.
    pub(super) async fn blob_stream(&self, descriptor: &Descriptor) -> Result<BlobStream, StoreError> {
        let what = format!("blob {}", descriptor.digest);
        let Some((file, _)) = self
            .open_blob(&what, &descriptor.digest, Some(descriptor.size), u64::MAX)
            .await?
        else {
            return Err(self.not_found(what));
        };
        let state = StreamState {
            file,
            hasher: Some(Hasher::new(descriptor.digest.algorithm())),
            read: 0,
            descriptor: descriptor.clone(),
            location: self.location.clone(),
            relative: self.relative(&descriptor.digest),
        };
        Ok(Box::pin(futures::stream::unfold(state, StreamState::next)))
    }

    /// Stores bytes whose digest and size match `descriptor`; a file already
    /// of that size is kept.
    pub(super) async fn write_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        descriptor
            .digest
            .verify(bytes)
            .map_err(|source| self.digest_error(source))?;
        if bytes.len() as u64 != descriptor.size {
            return Err(self.size_mismatch(descriptor, bytes.len() as u64));
        }
        self.write_dir(descriptor.digest.algorithm()).await?;
        if self.blob_len(&descriptor.digest).await? == Some(descriptor.size) {
            return Ok(());
        }
        let (mut file, temp) = self.create_temp().await?;
        file.write_all(bytes)
            .await
            .map_err(|e| self.io_error("writing a temporary file".to_owned(), e))?;
        self.finish(file, temp, &descriptor.digest).await
    }

    /// Stores a streamed blob: hashed while written to a temporary file,
    /// renamed into place only if digest and size match `descriptor`.
    pub(super) async fn write_blob_stream(
        &self,
        descriptor: &Descriptor,
        mut stream: BlobStream,
    ) -> Result<(), StoreError> {
        self.write_dir(descriptor.digest.algorithm()).await?;
        if self.blob_len(&descriptor.digest).await? == Some(descriptor.size) {
            return Ok(());
        }
        let (mut file, temp) = self.create_temp().await?;
        let mut hasher = Hasher::new(descriptor.digest.algorithm());
        let mut written: u64 = 0;
        // On every early return `temp` is dropped, which deletes the file.
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            written += chunk.len() as u64;
            if written > descriptor.size {
                return Err(self.refused(format!(
                    "blob {} is longer than the {} bytes its descriptor states; not stored",
                    descriptor.digest, descriptor.size
                )));
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| self.io_error("writing a temporary file".to_owned(), e))?;
        }
        let found = hasher.finish();
        if found != descriptor.digest {
            return Err(self.digest_error(DigestError::Mismatch {
                expected: descriptor.digest.clone(),
                found,
            }));
        }
        if written != descriptor.size {
            return Err(self.size_mismatch(descriptor, written));
        }
        self.finish(file, temp, &descriptor.digest).await
    }

    async fn create_temp(&self) -> Result<(tokio::fs::File, TempPath), StoreError> {
        let dir = self.dir.clone();
        let created = tokio::task::spawn_blocking(move || TempPath::create_sync(&dir))
            .await
            .map_err(|e| self.io_error("creating a temporary file".to_owned(), io::Error::other(e)))?;
        let (file, temp) = created.map_err(|e| self.io_error("creating a temporary file".to_owned(), e))?;
        Ok((tokio::fs::File::from_std(file), temp))
    }

    /// Flushes a finished temporary file to disk and renames it to the blob's path.
    async fn finish(&self, mut file: tokio::fs::File, temp: TempPath, digest: &Digest) -> Result<(), StoreError> {
        let relative = self.relative(digest);
        file.flush()
            .await
            .map_err(|e| self.io_error("writing a temporary file".to_owned(), e))?;
        file.sync_all()
            .await
            .map_err(|e| self.io_error("writing a temporary file".to_owned(), e))?;
        drop(file);
        // Checked again right before the rename: the directory must still be the layout's own.
        let path = self.write_dir(digest.algorithm()).await?.join(digest.hex());
        tokio::fs::rename(&temp.path, &path)
            .await
            .map_err(|e| self.io_error(format!("moving a temporary file to {relative}"), e))?;
        temp.disarm();
        Ok(())
    }

    /// `blobs/ALG/HEX`, for messages.
    fn relative(&self, digest: &Digest) -> String {
        format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
    }

    fn size_mismatch(&self, descriptor: &Descriptor, found: u64) -> StoreError {
        self.refused(format!(
            "blob {} is {found} bytes but its descriptor states {}; not stored",
            descriptor.digest, descriptor.size
        ))
    }
}

/// What a blob stream carries between chunks.
struct StreamState {
    file: tokio::fs::File,
    /// `None` once the stream has ended (with or without an error).
    hasher: Option<Hasher>,
    read: u64,
    descriptor: Descriptor,
    location: String,
    relative: String,
}

impl StreamState {
    async fn next(mut self) -> Option<(Result<Vec<u8>, StoreError>, StreamState)> {
        self.hasher.as_ref()?;
        let mut buf = vec![0; CHUNK];
        let n = match self.file.read(&mut buf).await {
            Ok(n) => n,
            Err(source) => {
                self.hasher = None;
                let err = StoreError::Io {
                    location: self.location.clone(),
                    what: format!("reading {}", self.relative),
                    cause: source,
                };
                return Some((Err(err), self));
            }
        };
        if n == 0 {
            let found = self.hasher.take()?.finish();
            let result = if found != self.descriptor.digest {
                Err(StoreError::Digest {
                    location: self.location.clone(),
                    cause: DigestError::Mismatch {
                        expected: self.descriptor.digest.clone(),
                        found,
                    },
                })
            } else if self.read != self.descriptor.size {
                Err(self.changed())
            } else {
                return None;
            };
            return Some((result, self));
        }
        self.read += n as u64;
        if self.read > self.descriptor.size {
            self.hasher = None;
            let err = self.changed();
            return Some((Err(err), self));
        }
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&buf[..n]);
        }
        buf.truncate(n);
        Some((Ok(buf), self))
    }

    fn changed(&self) -> StoreError {
        StoreError::Refused {
            location: self.location.clone(),
            detail: format!(
                "{} changed size while being read (expected {} bytes)",
                self.relative, self.descriptor.size
            ),
        }
    }
}

/// A temporary file in the layout directory, deleted when dropped unless it
/// was renamed into place.
pub(super) struct TempPath {
    path: PathBuf,
    armed: bool,
}

impl TempPath {
    /// Creates a new, uniquely named temporary file in `dir`.
    pub(super) fn create_sync(dir: &Path) -> io::Result<(File, TempPath)> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".sigil-tmp-{}-{n}", std::process::id()));
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((file, TempPath { path, armed: true })),
                // A leftover of a crashed process that had our process id.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the file to `dest` (replacing it) and keeps it.
    pub(super) fn persist_sync(self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.disarm();
        Ok(())
    }

    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: a leftover temporary file is harmless clutter.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
