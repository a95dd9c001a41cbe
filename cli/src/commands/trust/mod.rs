//! `sigil trust update` and `sigil trust show`: the Sigstore trusted root
//! kept fresh through TUF, and the one verification uses.
//!
//! The TUF client is sigstore-rust's `sigstore-tuf` (its `Updater` walks the
//! root chain, each new root signed by the old and the new root's
//! thresholds, then timestamp, snapshot and targets with consistent
//! snapshots, rollback and freeze protection and expiry). This module gives
//! it the mirror, a store seeded with the mirror's last good state (so the
//! cached root and versions are where a later update starts), names the
//! role that failed, and commits the new state only once all of it, the
//! targets included, has verified ([`crate::trust_cache`]).

mod http;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use serde_json::json;
use sigil_verifier::digest::Digest;
use sigil_verifier::sigstore::{TrustedRoot, public_good_json};
use sigstore_tuf::transport::{FetchFuture, Repository};
use sigstore_tuf::{MetadataStore, Updater};

use crate::Outcome;
use crate::args::{OutputFormat, TrustCommand, TrustUpdateArgs};
use crate::common::{print, print_json};
use crate::trust_cache::{
    self, DEFAULT_MIRROR, EMBEDDED_TUF_ROOT, Files, InUse, MIRROR_FILE, SIGNING_CONFIG_TARGET, TRUSTED_ROOT_TARGET,
    Verified,
};

pub async fn run(command: TrustCommand, output: OutputFormat) -> anyhow::Result<Outcome> {
    match command {
        TrustCommand::Update(args) => update(args, output).await,
        TrustCommand::Show => {
            let in_use = trust_cache::in_use(jiff::Timestamp::now());
            warn_unusable(&in_use);
            report(&in_use, output)?;
            Ok(Outcome::Success)
        }
    }
}

/// Says on stderr why a cached state that exists is not used.
pub fn warn_unusable(in_use: &InUse) {
    if let InUse::Embedded { unusable: Some(u) } = in_use {
        tracing::warn!(
            "the cached trusted root from {} is not used ({}); using the embedded one: run `sigil trust update`",
            if u.mirror.is_empty() {
                "an unknown mirror"
            } else {
                &u.mirror
            },
            u.reason
        );
    }
}

async fn update(args: TrustUpdateArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let mirror = args.mirror.as_str();
    let base = url::Url::parse(trust_cache::normalise_mirror(mirror))
        .with_context(|| format!("--mirror {mirror:?} is not a URL"))?;
    if !http::allowed(&base) {
        bail!(
            "--mirror {mirror}: TUF metadata is fetched over https, plain http only from a loopback mirror \
             (elsewhere it could be withheld or replayed unseen)"
        );
    }
    if base.cannot_be_a_base() || !base.username().is_empty() || base.password().is_some() || base.query().is_some() {
        bail!("--mirror {mirror}: give the repository's base URL, without credentials or a query");
    }
    let cache =
        trust_cache::cache_dir().context("no cache directory: set SIGIL_CACHE_DIR (or XDG_CACHE_HOME or HOME)")?;
    let key = trust_cache::mirror_key(mirror);
    let seed = match trust_cache::last_good(&cache, &key) {
        Some(dir) => {
            trust_cache::read_state(&dir).with_context(|| format!("cannot read the cache {}", dir.display()))?
        }
        None => Files::new(),
    };
    let bootstrap = match (seed.get("root.json"), &args.root) {
        (Some(cached), Some(root)) => {
            // Quiet when --root is where the cached chain started (a
            // pipeline that always passes it); a warning when it is not.
            let given = std::fs::read(root).with_context(|| format!("cannot read --root {}", root.display()))?;
            let known = seed
                .iter()
                .any(|(name, bytes)| name.starts_with("root_history/") && *bytes == given);
            if !known {
                tracing::warn!(
                    "--root {} is not used: the cache already trusts a root of {mirror}, and updates start from it \
                 (remove {} to start over)",
                    root.display(),
                    cache.join("tuf").join(&key).display()
                );
            }
            cached.clone()
        }
        (Some(cached), None) => cached.clone(),
        (None, Some(root)) => std::fs::read(root).with_context(|| format!("cannot read --root {}", root.display()))?,
        (None, None) => EMBEDDED_TUF_ROOT.to_vec(),
    };
    let repository = http::Mirror::new(&base)?;
    let now = jiff::Timestamp::now();
    let mut files = refresh(repository, &bootstrap, seed, now)
        .await
        .map_err(anyhow::Error::msg)?;
    files.insert(MIRROR_FILE.to_owned(), format!("{mirror}\n").into_bytes());
    let dir = cache.join("tuf").join(&key);
    let verified = trust_cache::verify_files(&files, &dir, now).map_err(anyhow::Error::msg)?;
    let dir = trust_cache::commit(&cache, &key, &files)
        .with_context(|| format!("cannot write the cache {}", dir.display()))?;
    report(&InUse::Cached(Box::new(Verified { dir, ..verified })), output)?;
    Ok(Outcome::Success)
}

/// The TUF refresh from `bootstrap` against `repository`, starting from the
/// versions of `seed` (the mirror's last good state), then the
/// `trusted_root.json` and signing config targets. The result is the state
/// to cache; the error is one line naming the role or target that failed.
pub(crate) async fn refresh(
    repository: impl Repository + 'static,
    bootstrap: &[u8],
    seed: Files,
    now: jiff::Timestamp,
) -> Result<Files, String> {
    let stage = Arc::new(Mutex::new(String::from("root")));
    let repository = Staged {
        inner: repository,
        stage: Arc::clone(&stage),
    };
    let store = Store(Arc::new(Mutex::new(seed)));
    let fail = |role: &str, e: &sigstore_tuf::Error| format!("{}: {}", role_of(e, role), why(e));
    let mut updater = Updater::new(repository, bootstrap).map_err(|e| fail("root", &e))?;
    updater = updater.with_store(store.clone());
    if let Err(e) = updater.refresh(now).await {
        let role = stage.lock().map(|s| s.clone()).unwrap_or_default();
        return Err(fail(&role, &e));
    }
    let target_fail = |name: &str, e: &sigstore_tuf::Error| format!("{name}: {}", why(e));
    let trusted_root = updater
        .get_target(TRUSTED_ROOT_TARGET, now)
        .await
        .map_err(|e| target_fail(TRUSTED_ROOT_TARGET, &e))?;
    TrustedRoot::from_json(&trusted_root)
        .map_err(|e| format!("{TRUSTED_ROOT_TARGET}: not a usable Sigstore trusted root: {e}"))?;
    let signing_config = match updater.get_target_info(SIGNING_CONFIG_TARGET, now).await {
        Ok(None) => None,
        Ok(Some(_)) => Some(
            updater
                .get_target(SIGNING_CONFIG_TARGET, now)
                .await
                .map_err(|e| target_fail(SIGNING_CONFIG_TARGET, &e))?,
        ),
        Err(e) => return Err(target_fail(SIGNING_CONFIG_TARGET, &e)),
    };
    drop(updater);
    let stored = std::mem::take(
        &mut *store
            .0
            .lock()
            .map_err(|_| "the metadata store was poisoned".to_owned())?,
    );
    // What a later run needs: the root and its history, the top-level
    // metadata as trusted now, and this run's targets (an older signing
    // config that targets no longer lists is dropped).
    let mut files: Files = stored
        .into_iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "root.json" | "timestamp.json" | "snapshot.json" | "targets.json"
            ) || name.starts_with("root_history/")
        })
        .collect();
    files.insert(format!("targets/{TRUSTED_ROOT_TARGET}"), trusted_root);
    if let Some(config) = signing_config {
        files.insert(format!("targets/{SIGNING_CONFIG_TARGET}"), config);
    }
    Ok(files)
}

/// The role of a failure: the one the error names, else the one whose file
/// was fetched last.
fn role_of(e: &sigstore_tuf::Error, stage: &str) -> String {
    use sigstore_tuf::Error as E;
    let named = match e {
        E::Expired { role, .. }
        | E::Rollback { role, .. }
        | E::ThresholdNotMet { role, .. }
        | E::DuplicateSignature { role, .. } => role.as_str(),
        E::BadRootVersion { .. } => "root",
        _ => stage,
    };
    let first = named.split_whitespace().next().unwrap_or(named);
    first.strip_suffix(".json").unwrap_or(first).to_owned()
}

/// Why TUF refused something, in a few words (`expired`, `rollback`,
/// `signature`, `hash`) and the facts.
pub fn why(e: &sigstore_tuf::Error) -> String {
    use sigstore_tuf::Error as E;
    match e {
        E::Expired { expires, .. } => format!("expired at {expires}"),
        E::Rollback { trusted, new, .. } => format!("rollback from version {trusted} to {new}"),
        E::ThresholdNotMet { found, threshold, .. } => {
            format!("bad signature: {found} of the {threshold} required signatures verify")
        }
        E::DuplicateSignature { key_id, .. } => format!("bad signature: key {key_id} signs twice"),
        E::BadRootVersion { trusted, new } => {
            format!("version {new} does not follow the trusted version {trusted}")
        }
        E::IntegrityMismatch(detail) => format!("hash or length mismatch ({detail})"),
        E::TargetNotFound(name) => format!("not listed by targets ({name})"),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// The role a metadata file name belongs to.
fn role_of_file(name: &str) -> &str {
    let base = name.strip_suffix(".json").unwrap_or(name);
    let role = base.rsplit('.').next().unwrap_or(base);
    match role {
        "root" | "timestamp" | "snapshot" | "targets" => role,
        _ => name,
    }
}

/// A repository that records which role's file it was asked for last.
struct Staged<R> {
    inner: R,
    stage: Arc<Mutex<String>>,
}

impl<R: Repository> Repository for Staged<R> {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        if let Ok(mut stage) = self.stage.lock() {
            role_of_file(name).clone_into(&mut stage);
        }
        self.inner.fetch_metadata(name, max_length)
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        self.inner.fetch_target(path, max_length)
    }
}

/// The update's metadata store: the mirror's last good state in memory,
/// written through by the updater after each verification, committed to
/// disk only when the whole update succeeded.
#[derive(Clone)]
struct Store(Arc<Mutex<Files>>);

impl MetadataStore for Store {
    fn load(&self, name: &str) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        Ok(self.0.lock().ok().and_then(|files| files.get(name).cloned()))
    }

    fn store(&self, name: &str, bytes: &[u8]) -> sigstore_tuf::Result<()> {
        if let Ok(mut files) = self.0.lock() {
            files.insert(name.to_owned(), bytes.to_vec());
        }
        Ok(())
    }
}

/// Prints the trusted root in use (`trust show`, and after `trust update`).
fn report(in_use: &InUse, output: OutputFormat) -> anyhow::Result<()> {
    let role = |r: &trust_cache::RoleState| json!({"version": r.version, "expires": r.expires.to_string()});
    let unusable = match in_use {
        InUse::Embedded { unusable: Some(u) } => json!({
            "mirror": u.mirror,
            "dir": u.dir.display().to_string(),
            "reason": u.reason,
        }),
        _ => serde_json::Value::Null,
    };
    let (source, bytes) = match in_use {
        InUse::Cached(v) => (v.mirror.as_str(), v.trusted_root.as_slice()),
        InUse::Embedded { .. } => ("embedded", public_good_json()),
    };
    let sha256 = Digest::sha256_of(bytes);
    let summary = TrustedRoot::from_json(bytes)
        .map(|r| r.summary())
        .context("the trusted root in use does not parse")?;
    match output {
        OutputFormat::Json => {
            let (expires, metadata, signing_config, dir) = match in_use {
                InUse::Cached(v) => (
                    json!(v.expires().to_string()),
                    json!({
                        "root": role(&v.root),
                        "timestamp": role(&v.timestamp),
                        "snapshot": role(&v.snapshot),
                        "targets": role(&v.targets),
                    }),
                    v.signing_config.as_deref().map_or(
                        serde_json::Value::Null,
                        |c| json!({"sha256": Digest::sha256_of(c).hex()}),
                    ),
                    json!(v.dir.display().to_string()),
                ),
                InUse::Embedded { .. } => (
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                ),
            };
            print_json(&json!({
                "apiVersion": "sigil.dev/trust/v1",
                "source": source,
                "trustedRoot": {
                    "sha256": sha256.hex(),
                    "transparencyLogs": summary.tlogs,
                    "certificateAuthorities": summary.certificate_authorities,
                    "ctLogs": summary.ctlogs,
                    "timestampAuthorities": summary.timestamp_authorities,
                },
                "expires": expires,
                "metadata": metadata,
                "signingConfig": signing_config,
                "cacheDir": dir,
                "unusedCache": unusable,
            }))
        }
        OutputFormat::Human => {
            let mut text = format!("trusted root: {source}\nsha256: {sha256}\n");
            match in_use {
                InUse::Cached(v) => {
                    text.push_str(&format!(
                        "valid until: {} (TUF metadata: root v{}, timestamp v{}, snapshot v{}, targets v{})\n",
                        v.expires(),
                        v.root.version,
                        v.timestamp.version,
                        v.snapshot.version,
                        v.targets.version
                    ));
                    if let Some(config) = &v.signing_config {
                        text.push_str(&format!("signing config: {}\n", Digest::sha256_of(config)));
                    }
                    text.push_str(&format!("cache: {}\n", v.dir.display()));
                }
                InUse::Embedded { .. } => text.push_str(&format!(
                    "valid: built into sigil {} (no TUF expiry; `sigil trust update` fetches a fresh one from {DEFAULT_MIRROR})\n",
                    env!("CARGO_PKG_VERSION")
                )),
            }
            text.push_str(&format!(
                "transparency logs: {}, certificate authorities: {}, CT logs: {}, timestamp authorities: {}",
                summary.tlogs, summary.certificate_authorities, summary.ctlogs, summary.timestamp_authorities
            ));
            print(&text)
        }
    }
}
