//! `tuf-conformance` client-under-test adapter.
//!
//! Implements the CLI protocol that the
//! [tuf-conformance](https://github.com/theupdateframework/tuf-conformance)
//! suite drives, so `sigstore-tuf` can be tested for cross-implementation
//! conformance alongside `python-tuf` and `go-tuf`:
//!
//! ```text
//! conformance_client --metadata-dir <DIR> init <TRUSTED_ROOT>
//! conformance_client --metadata-dir <DIR> --metadata-url <URL> refresh
//! conformance_client --metadata-dir <DIR> --metadata-url <URL> \
//!     --target-name <PATH> [--target-name <PATH> ...] \
//!     --target-base-url <URL> --target-dir <DIR> download
//! ```
//!
//! Exit code 0 on success, 1 on any failure. The harness wraps invocations in
//! `faketime`, so we use the real system clock (`jiff::Timestamp::now`) for
//! expiry — letting the harness drive time forward for expiration tests.

use std::path::{Path, PathBuf};

use sigstore_tuf::cache::MetadataStore;
use sigstore_tuf::client::{HttpRepository, Updater};
use sigstore_tuf::{Error, Result};

/// A metadata store that persists trusted metadata under the canonical,
/// non-versioned file names (`root.json`, `timestamp.json`, ...) the
/// conformance harness inspects. Versioned files (`2.root.json`) and cached
/// targets (`targets/...`) are intentionally not persisted into the trusted
/// metadata dir so the harness's role enumeration sees exactly the trusted set.
struct ConformanceStore {
    dir: PathBuf,
}

impl MetadataStore for ConformanceStore {
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match std::fs::read(self.dir.join(name)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::transport_with_source(format!("reading {name}"), e)),
        }
    }

    fn store(&self, name: &str, bytes: &[u8]) -> Result<()> {
        // Skip cached target artifacts.
        if name.contains('/') {
            return Ok(());
        }
        // Skip version-prefixed file names like "2.root.json".
        let stem = name.split('.').next().unwrap_or("");
        if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(());
        }
        std::fs::write(self.dir.join(name), bytes)
            .map_err(|e| Error::transport_with_source("cache write {name}", e))
    }
}

#[derive(Default)]
struct Args {
    metadata_dir: Option<String>,
    metadata_url: Option<String>,
    target_names: Vec<String>,
    target_dir: Option<String>,
    target_base_url: Option<String>,
    positionals: Vec<String>,
}

fn parse_args() -> std::result::Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(tok) = it.next() {
        let mut take = |a: &mut Option<String>| -> std::result::Result<(), String> {
            *a = Some(
                it.next()
                    .ok_or_else(|| format!("missing value for {tok}"))?,
            );
            Ok(())
        };
        match tok.as_str() {
            "--metadata-dir" => take(&mut args.metadata_dir)?,
            "--metadata-url" => take(&mut args.metadata_url)?,
            "--target-name" => args.target_names.push(
                it.next()
                    .ok_or_else(|| format!("missing value for {tok}"))?,
            ),
            "--target-dir" => take(&mut args.target_dir)?,
            "--target-base-url" => take(&mut args.target_base_url)?,
            "-v" | "--verbose" => {}
            other if other.starts_with('-') => return Err(format!("unknown flag {other}")),
            _ => args.positionals.push(tok),
        }
    }
    Ok(args)
}

fn metadata_dir(args: &Args) -> Result<PathBuf> {
    args.metadata_dir
        .as_ref()
        .map(PathBuf::from)
        .ok_or_else(|| Error::transport("--metadata-dir is required"))
}

/// `init`: copy the given trusted root into the metadata dir as `root.json`.
fn cmd_init(args: &Args) -> Result<()> {
    let dir = metadata_dir(args)?;
    let trusted_root = args
        .positionals
        .get(1)
        .ok_or_else(|| Error::transport("init requires a trusted root path"))?;
    let bytes = std::fs::read(trusted_root)
        .map_err(|e| Error::transport_with_source("reading trusted root", e))?;
    // Validate it parses & self-verifies before trusting it on first use.
    sigstore_tuf::TrustedMetadataSet::from_root(&bytes)?;
    std::fs::write(dir.join("root.json"), &bytes)
        .map_err(|e| Error::transport_with_source("writing root.json", e))?;
    Ok(())
}

fn build_updater(args: &Args) -> Result<Updater> {
    let dir = metadata_dir(args)?;
    let url = args
        .metadata_url
        .as_ref()
        .ok_or_else(|| Error::transport("--metadata-url is required"))?;
    let root = std::fs::read(dir.join("root.json"))
        .map_err(|e| Error::transport_with_source("no trusted root in metadata dir", e))?;
    let mut repo = HttpRepository::new(url)?;
    if let Some(target_base) = &args.target_base_url {
        repo = repo.with_targets_base(target_base)?;
    }
    Ok(Updater::new(repo, &root)?.with_store(ConformanceStore { dir }))
}

/// `refresh`: run the TUF refresh workflow, persisting trusted metadata.
async fn cmd_refresh(args: &Args) -> Result<()> {
    let mut updater = build_updater(args)?;
    updater.refresh(jiff::Timestamp::now()).await
}

/// `download`: refresh, resolve the target (walking delegations), verify and
/// write it into the target dir.
async fn cmd_download(args: &Args) -> Result<()> {
    if args.target_names.is_empty() {
        return Err(Error::transport("--target-name is required"));
    }
    let target_dir = args
        .target_dir
        .as_ref()
        .map(PathBuf::from)
        .ok_or_else(|| Error::transport("--target-dir is required"))?;

    let mut updater = build_updater(args)?;
    let now = jiff::Timestamp::now();
    updater.refresh(now).await?;

    for target_name in &args.target_names {
        // Resolve each target with the same updater so delegation-cache state is
        // retained across all requested target lookups.
        let info = updater
            .get_target_info(target_name, now)
            .await?
            .ok_or_else(|| Error::TargetNotFound(target_name.clone()))?;
        let out = target_dir.join(safe_target_filename(target_name));

        // Artifact cache: if we already have a byte-identical copy, don't download
        // it again (tuf-conformance's test_artifact_cache checks this).
        if let Ok(existing) = std::fs::read(&out) {
            if target_bytes_match(&existing, &info) {
                continue;
            }
        }

        let bytes = updater.download_target(&info, target_name).await?;
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::transport_with_source("creating target dir", e))?;
        }
        std::fs::write(&out, &bytes)
            .map_err(|e| Error::transport_with_source("writing target", e))?;
    }
    Ok(())
}

/// Whether `bytes` already satisfies a target's pinned length and hash.
fn target_bytes_match(bytes: &[u8], info: &sigstore_tuf::TargetFile) -> bool {
    if bytes.len() as u64 != info.length {
        return false;
    }
    info.hashes.iter().any(|(algo, expected)| {
        let actual = match algo.as_str() {
            "sha256" => sigstore_crypto::sha256(bytes).to_hex(),
            "sha512" => sigstore_crypto::sha512(bytes).to_hex(),
            _ => return false,
        };
        actual.eq_ignore_ascii_case(expected)
    })
}

/// Map a TUF target path to a safe relative path under the target dir.
fn safe_target_filename(target_name: &str) -> PathBuf {
    let rel = Path::new(target_name.trim_start_matches('/'));
    if rel
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        // Fall back to the basename if the path tries to escape.
        return PathBuf::from(rel.file_name().unwrap_or(rel.as_os_str()));
    }
    rel.to_path_buf()
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("conformance_client: {e}");
            std::process::exit(1);
        }
    };

    let result = match args.positionals.first().map(String::as_str) {
        Some("init") => cmd_init(&args),
        Some("refresh") => cmd_refresh(&args).await,
        Some("download") => cmd_download(&args).await,
        other => Err(Error::transport(format!(
            "expected subcommand init|refresh|download, got {other:?}"
        ))),
    };

    if let Err(e) = result {
        // `Error`'s Display omits the underlying cause; print the whole chain.
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        eprintln!("conformance_client: {message}");
        std::process::exit(1);
    }
}
