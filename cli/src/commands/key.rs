//! `sigil key generate | public | import`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sigil_verifier::keys::{self, SigningKey};

use crate::Outcome;
use crate::args::{KeyCommand, OutputFormat};
use crate::common::{print, print_json, read_signing_key};
use crate::password;

pub fn run(command: KeyCommand, output: OutputFormat) -> anyhow::Result<Outcome> {
    match command {
        KeyCommand::Generate {
            output_key_prefix,
            force,
        } => {
            let key = SigningKey::generate()?;
            write_pair(&key, &output_key_prefix, force, output)
        }
        KeyCommand::Public { key } => {
            let key = read_signing_key(&key)?;
            let pem = key.public_key().to_pem();
            match output {
                OutputFormat::Human => print(&pem)?,
                OutputFormat::Json => print_json(&serde_json::json!({
                    "apiVersion": "sigil.dev/key-public/v1",
                    "publicKey": pem,
                    "fingerprint": key.public_key().fingerprint(),
                }))?,
            }
            Ok(Outcome::Success)
        }
        KeyCommand::Import {
            key,
            output_key_prefix,
            force,
        } => {
            let text = std::fs::read_to_string(&key).with_context(|| format!("cannot read {}", key.display()))?;
            if keys::is_encrypted_pem(&text) {
                bail!("{} is already an encrypted key file; nothing to import", key.display());
            }
            let imported = SigningKey::import_pem(&text).with_context(|| format!("importing {}", key.display()))?;
            write_pair(&imported, &output_key_prefix, force, output)
        }
    }
}

fn write_pair(key: &SigningKey, prefix: &Path, force: bool, output: OutputFormat) -> anyhow::Result<Outcome> {
    let key_path = with_suffix(prefix, "key");
    let pub_path = with_suffix(prefix, "pub");
    for path in [&key_path, &pub_path] {
        if path.exists() && !force {
            bail!("{} already exists; pass --force to overwrite it", path.display());
        }
    }
    let password = password::for_writing(&format!("the new key {}", key_path.display()))?;
    let encrypted = keys::encrypt(key, password.value.as_bytes())?;
    write_private(&key_path, encrypted.as_bytes())?;
    let public = key.public_key().to_pem();
    std::fs::write(&pub_path, &public).with_context(|| format!("cannot write {}", pub_path.display()))?;
    match output {
        OutputFormat::Human => print(&format!(
            "Private key written to {} (encrypted; password from {})\nPublic key written to {}",
            key_path.display(),
            password.source,
            pub_path.display()
        ))?,
        OutputFormat::Json => print_json(&serde_json::json!({
            "apiVersion": "sigil.dev/key/v1",
            "privateKey": key_path,
            "publicKey": pub_path,
            "fingerprint": key.public_key().fingerprint(),
        }))?,
    }
    Ok(Outcome::Success)
}

fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes a private key readable by its owner only, replacing atomically.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key")
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
