//! Who signs for `sign`, `attest`, `sign-blob`, `attest-blob` and
//! `emit-vsa`: the `--key` (with `--tlog-upload`, its signatures logged in
//! Rekor), or, without `--key`, a keyless session started before any image
//! is read (token, certificate), so that a missing token or a refusing
//! Fulcio fails the run before anything is touched.

use std::path::Path;

use anyhow::Context as _;
use sigil_verifier::keyless::signer::KeyLog;
use sigil_verifier::keyless::{self, Services, Session, Signer, http};
use sigil_verifier::keys::SigningKey;
use sigil_verifier::verify::SigstoreRoot;

use crate::args::KeylessArgs;
use crate::common::read_signing_key;

/// The signer a command holds for its whole run.
pub enum Owned {
    Key {
        key: Box<SigningKey>,
        log: Option<Box<KeyLog>>,
    },
    Keyless(Box<Session>),
}

impl Owned {
    pub fn signer(&self) -> Signer<'_> {
        match self {
            Owned::Key { key, log } => Signer::Key {
                key,
                log: log.as_deref(),
            },
            Owned::Keyless(session) => Signer::Keyless(session),
        }
    }

    /// The key, when signing with one.
    pub fn key(&self) -> Option<&SigningKey> {
        match self {
            Owned::Key { key, .. } => Some(key),
            Owned::Keyless(_) => None,
        }
    }

    /// How the reports name the signer.
    pub fn describe(&self) -> serde_json::Value {
        match self {
            Owned::Key { key, log: None } => {
                serde_json::json!({"key": {"fingerprint": key.public_key().fingerprint()}})
            }
            Owned::Key { key, log: Some(_) } => serde_json::json!({
                "key": {"fingerprint": key.public_key().fingerprint()}, "tlogUpload": true,
            }),
            Owned::Keyless(session) => serde_json::json!({
                "keyless": {"identity": session.identity(), "issuer": session.issuer()},
            }),
        }
    }
}

/// Refuses to sign a SLSA provenance v1 keyless when it contradicts the
/// signing certificate's Fulcio extensions (runner environment, repository,
/// ref, commit, workflow): the provenance would claim more than its signer
/// vouches for. Key-based signing has no certificate to compare with.
pub async fn check_provenance(owned: &Owned, predicate_type: &str, predicate: &[u8]) -> anyhow::Result<()> {
    let Owned::Keyless(session) = owned else {
        return Ok(());
    };
    if predicate_type != sigil_verifier::predicate::SLSA_PROVENANCE_V1 {
        return Ok(());
    }
    let tree: serde_json::Value = serde_json::from_slice(predicate).context("the provenance is not JSON")?;
    let extensions = session.extensions().await?;
    let found = sigil_verifier::predicate::slsa::crosscheck::contradictions(&tree, &extensions);
    if !found.is_empty() {
        anyhow::bail!(
            "the provenance contradicts its own signing certificate, so nothing was signed: {}",
            found.join("; ")
        );
    }
    Ok(())
}

/// `--key` (and `--tlog-upload`), else keyless with the token found as
/// [`keyless::token::discover`] says.
pub async fn choose(key: Option<&Path>, args: &KeylessArgs) -> anyhow::Result<Owned> {
    if let Some(path) = key {
        let key = read_signing_key(path)?;
        let log = if args.tlog_upload {
            let rekor = rekor_url(args)?;
            let tsa = tsa_url(args)?;
            let root = trusted_root(args.trusted_root.as_deref())?;
            Some(Box::new(KeyLog::new(rekor, tsa, root)?))
        } else {
            None
        };
        return Ok(Owned::Key {
            key: Box::new(key),
            log,
        });
    }
    let source = keyless::token::discover(args.identity_token.as_deref(), |name| std::env::var(name).ok())?;
    let services = Services {
        fulcio: fulcio_url(args)?,
        rekor: rekor_url(args)?,
        tsa: tsa_url(args)?,
    };
    let root = trusted_root(args.trusted_root.as_deref())?;
    let session = Session::start(source, services, root).await?;
    tracing::info!(
        "keyless signing as {} (issuer {})",
        session.identity(),
        session.issuer()
    );
    Ok(Owned::Keyless(Box::new(session)))
}

/// `--trusted-root`, else the cached TUF root, else the embedded one.
pub fn trusted_root(path: Option<&Path>) -> anyhow::Result<SigstoreRoot> {
    crate::common::trusted_root_from(path)
}

fn fulcio_url(args: &KeylessArgs) -> anyhow::Result<url::Url> {
    let text = match &args.fulcio_url {
        Some(url) => url.clone(),
        None => cached_service("caUrls").unwrap_or_else(|| keyless::PUBLIC_FULCIO.to_owned()),
    };
    Ok(http::service_url("--fulcio-url", &text)?)
}

fn rekor_url(args: &KeylessArgs) -> anyhow::Result<url::Url> {
    let text = match &args.rekor_url {
        Some(url) => url.clone(),
        None => cached_service("rekorTlogUrls").unwrap_or_else(|| keyless::PUBLIC_REKOR.to_owned()),
    };
    Ok(http::service_url("--rekor-url", &text)?)
}

fn tsa_url(args: &KeylessArgs) -> anyhow::Result<Option<url::Url>> {
    args.timestamp_server_url
        .as_deref()
        .map(|text| http::service_url("--timestamp-server-url", text))
        .transpose()
        .context("--timestamp-server-url")
}

/// The first service of `field` in the cached, verified signing config
/// (`sigil trust update`) that speaks the v1 API sigil does and is valid
/// now; `None` without a usable cache.
fn cached_service(field: &str) -> Option<String> {
    let crate::trust_cache::InUse::Cached(cached) = crate::trust_cache::in_use(jiff::Timestamp::now()) else {
        return None;
    };
    let config: serde_json::Value = serde_json::from_slice(cached.signing_config.as_deref()?).ok()?;
    select_service(&config, field, jiff::Timestamp::now())
}

/// [`cached_service`]'s choice in a signing config v0.2 document.
fn select_service(config: &serde_json::Value, field: &str, now: jiff::Timestamp) -> Option<String> {
    let time = |v: Option<&serde_json::Value>| {
        v.and_then(|t| t.as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    config.get(field)?.as_array()?.iter().find_map(|service| {
        let valid = service.get("validFor");
        let started = time(valid.and_then(|v| v.get("start"))).is_none_or(|start| start <= now);
        let ended = time(valid.and_then(|v| v.get("end"))).is_some_and(|end| end <= now);
        let v1 = service.get("majorApiVersion").and_then(|v| v.as_u64()) == Some(1);
        (v1 && started && !ended).then(|| service.get("url")?.as_str().map(str::to_owned))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_config_gives_the_first_valid_v1_service() {
        let config = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [
                {"url": "https://old.example", "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z", "end": "2021-01-01T00:00:00Z"}},
                {"url": "https://fulcio.example", "majorApiVersion": 1, "validFor": {"start": "2022-01-01T00:00:00Z"}},
            ],
            "rekorTlogUrls": [
                {"url": "https://rekor-v2.example", "majorApiVersion": 2, "validFor": {"start": "2022-01-01T00:00:00Z"}},
                {"url": "https://future.example", "majorApiVersion": 1, "validFor": {"start": "2099-01-01T00:00:00Z"}},
                {"url": "https://rekor.example", "majorApiVersion": 1, "validFor": {"start": "2022-01-01T00:00:00Z"}},
            ],
        });
        let now: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
        assert_eq!(
            select_service(&config, "caUrls", now).as_deref(),
            Some("https://fulcio.example")
        );
        assert_eq!(
            select_service(&config, "rekorTlogUrls", now).as_deref(),
            Some("https://rekor.example")
        );
        assert_eq!(select_service(&config, "tsaUrls", now), None);
    }
}
