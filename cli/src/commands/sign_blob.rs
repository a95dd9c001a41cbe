//! `sigil sign-blob` and `sigil attest-blob`: a file signed into a Sigstore
//! bundle v0.3, with a key (offline, unless `--tlog-upload`) or keyless. Everything is read and checked (file,
//! predicate, key and password) before anything is signed, and the bundle is
//! written to a temporary file next to `--bundle` and renamed over it, so a
//! failed run leaves the old bundle, or none, in place.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use sigil_verifier::blob::{self, SignedBlob};
use sigil_verifier::digest::{Algorithm, Digest, Hasher};
use sigil_verifier::intoto::Statement;
use sigil_verifier::predicate;
use sigil_verifier::sigstore::Artifact;

use super::signing::Owned;

use crate::Outcome;
use crate::args::{AttestBlobArgs, OutputFormat, SignBlobArgs};
use crate::common::{print, print_json};

pub async fn sign(args: SignBlobArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let bytes = read_file(&args.file)?;
    let owned = super::signing::choose(args.key.as_deref(), &args.keyless).await?;
    let signed = match (&owned, &args.key) {
        (Owned::Key { key, log: None }, Some(path)) => {
            blob::sign_blob(&bytes, key).with_context(|| format!("key file {}", path.display()))?
        }
        _ => SignedBlob {
            digest: Digest::sha256_of(&bytes),
            bundle: owned
                .signer()
                .message_bundle(&bytes)
                .await
                .with_context(|| format!("signing {}; no bundle was written", args.file.display()))?,
        },
    };
    drop(bytes);
    write_atomically(&args.bundle, &signed.bundle)?;
    if output == OutputFormat::Json {
        print_json(&report(
            "sigil.dev/sign-blob/v1",
            &args.file,
            &args.bundle,
            &signed,
            &owned,
        ))?;
    } else {
        print(&format!(
            "signed {} ({}) -> {}",
            args.file.display(),
            signed.digest,
            args.bundle.display()
        ))?;
    }
    Ok(Outcome::Success)
}

pub async fn attest(args: AttestBlobArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let name = args
        .file
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| {
            format!(
                "{}: the file name must be UTF-8 text (it is the statement's subject)",
                args.file.display()
            )
        })?
        .to_owned();
    let digest = hash_file(&args.file)?;
    let predicate::Encoded {
        predicate_type, json, ..
    } = crate::common::read_predicate(&args.predicate, &args.predicate_type, "written")?;
    let owned = super::signing::choose(args.key.as_deref(), &args.keyless).await?;
    super::signing::check_provenance(&owned, &predicate_type, &json).await?;
    let signed = match (&owned, &args.key) {
        (Owned::Key { key, log: None }, Some(path)) => blob::attest_blob(&name, &digest, &predicate_type, &json, key)
            .with_context(|| format!("key file {}", path.display()))?,
        _ => {
            let statement = Statement::encode_raw(&name, &digest, &predicate_type, &json);
            SignedBlob {
                digest: digest.clone(),
                bundle: owned
                    .signer()
                    .dsse_bundle(&statement, Artifact::Digest(digest.clone()))
                    .await
                    .with_context(|| format!("attesting {}; no bundle was written", args.file.display()))?,
            }
        }
    };
    drop(json);
    write_atomically(&args.bundle, &signed.bundle)?;
    let mut report = report("sigil.dev/attest-blob/v1", &args.file, &args.bundle, &signed, &owned);
    if output == OutputFormat::Json {
        report["predicateType"] = predicate_type.into();
        print_json(&report)?;
    } else {
        print(&format!(
            "attested {} ({}, {predicate_type}) -> {}",
            args.file.display(),
            signed.digest,
            args.bundle.display()
        ))?;
    }
    Ok(Outcome::Success)
}

/// The `--output json` report both commands share.
fn report(api_version: &str, file: &Path, bundle: &Path, signed: &SignedBlob, owned: &Owned) -> serde_json::Value {
    let mut report = serde_json::json!({
        "apiVersion": api_version,
        "file": file.display().to_string(),
        "digest": signed.digest.to_string(),
        "bundle": bundle.display().to_string(),
    });
    if let (Some(object), serde_json::Value::Object(signer)) = (report.as_object_mut(), owned.describe()) {
        object.extend(signer);
    }
    report
}

/// The file to sign, which must be a regular file (a FIFO or a device would
/// block or never end). It is read into memory once: the signature is made
/// over its bytes (Ed25519 needs them all at once).
fn read_file(path: &Path) -> anyhow::Result<Vec<u8>> {
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read file {}", path.display()))?;
    if !metadata.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    std::fs::read(path).with_context(|| format!("cannot read file {}", path.display()))
}

/// The sha256 of a regular file, read in chunks (the statement needs only
/// its digest, and release artifacts can be large).
fn hash_file(path: &Path) -> anyhow::Result<Digest> {
    use std::io::Read as _;
    let cannot = || format!("cannot read file {}", path.display());
    // Checked before opening: opening a FIFO for reading would block.
    if !std::fs::metadata(path).with_context(cannot)?.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    let mut file = std::fs::File::open(path).with_context(cannot)?;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(read) => hasher.update(&buffer[..read]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(cannot),
        }
    }
}

/// Writes `bytes` to `path` through a new temporary file in the same
/// directory, synced and renamed over `path`; the temporary file is removed
/// when anything fails.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("--bundle {} names no file", path.display()))?;
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("cannot draw a temporary file name: {e}"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", hex::encode(random)));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write bundle {}", path.display()));
    }
    Ok(())
}
