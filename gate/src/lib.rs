//! `sigil gate`: a read-only OCI distribution proxy in front of one
//! upstream registry that serves only what the policy allows (DESIGN §6),
//! so any runtime pointed at it (containerd, CRI-O, podman, a CI runner)
//! is refused what `sigil verify --policy` would deny. Repository `NAME` at
//! the gate is `UPSTREAM/NAME` for the policy.
//!
//! It is an adapter over the admission webhook's server parts, with no
//! policy logic of its own: the policy loaded and reloaded
//! ([`sigil_admission::state`]), decisions cached with single flight
//! ([`sigil_admission::decisions`]), HTTP/1.1 and HTTP/2 with or without
//! TLS ([`sigil_admission::server::serve`]).
//!
//! - [`route`] reads what a request asks for;
//! - [`proxy`] answers it: manifests judged, blobs only of what was allowed,
//!   attachments of allowed images, writes refused;
//! - [`grants`] remembers what answered manifests allow or refuse next;
//! - [`answer`] writes distribution API answers and streams blobs;
//! - [`users`] checks the gate's own users (htpasswd, bcrypt).

pub mod answer;
pub mod grants;
pub mod proxy;
pub mod route;
pub mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sigil_admission::decisions::{CacheSettings, Decider};
use sigil_admission::metrics::Metrics;
use sigil_admission::state::{Certificates, Current};
use sigil_verifier::pipeline::Settings;
use sigil_verifier::reference::{RegistryRef, canonical_host};
use sigil_verifier::registry::RegistryClient;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::grants::Grants;
use crate::proxy::Gate;
use crate::users::Users;

/// How `sigil gate` was asked to run.
pub struct Config {
    pub policy: PathBuf,
    pub listen: SocketAddr,
    /// `HOST[:PORT]` of the upstream registry.
    pub upstream: String,
    /// Certificate and key files; plain HTTP without them.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub htpasswd: Option<PathBuf>,
    /// The client for the upstream, with the gate's own credentials.
    pub client: Arc<RegistryClient>,
    pub pipeline: Settings,
    pub cache: CacheSettings,
    /// How long an answered manifest's blobs and children stay fetchable.
    pub grant_ttl: Duration,
    /// The longest a request waits for a decision.
    pub decision_timeout: Duration,
    /// How often the policy and TLS files are checked for changes.
    pub reload_interval: Duration,
}

/// The canonical upstream host, refusing what is not `HOST[:PORT]`.
pub fn upstream_host(upstream: &str) -> anyhow::Result<String> {
    let host = canonical_host(upstream);
    let parsed = RegistryRef::parse(&format!("{upstream}/probe"))
        .ok()
        .filter(|r| r.registry() == host && !upstream.contains('/'));
    anyhow::ensure!(
        parsed.is_some(),
        "--upstream {upstream:?} is not a registry HOST[:PORT] (a host name with a dot, localhost, or an address)"
    );
    Ok(host)
}

/// Loads the policy (and certificate, users), listens, and serves until
/// the process is stopped. Returns early (an error) only when it cannot start.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let upstream = upstream_host(&config.upstream)?;
    let now = OffsetDateTime::now_utc();
    let current =
        Current::new(config.policy.clone(), config.client.clone(), config.pipeline, now).map_err(anyhow::Error::msg)?;
    let certificates = match &config.tls {
        Some((cert, key)) => Some(Arc::new(Certificates::load(cert, key).map_err(anyhow::Error::msg)?)),
        None => None,
    };
    let tls = certificates
        .clone()
        .map(sigil_admission::server::tls_acceptor)
        .transpose()?;
    let users = config
        .htpasswd
        .as_deref()
        .map(Users::load)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr().context("the listening address")?;
    let metrics = Arc::new(Metrics::default());
    let gate = Arc::new(Gate {
        upstream: upstream.clone(),
        decider: Decider::new(config.cache, config.client.clone(), metrics),
        client: config.client,
        grants: Grants::new(config.grant_ttl, config.cache.entries),
        current,
        users,
        decision_timeout: config.decision_timeout,
    });
    eprintln!(
        "sigil gate: listening on {}://{address} for {upstream} (policy {}, {}{})",
        if tls.is_some() { "https" } else { "http" },
        config.policy.display(),
        gate.current.get().policy.digest,
        if gate.users.is_some() {
            ", users from --htpasswd"
        } else {
            ", anonymous clients"
        }
    );
    tokio::spawn(reload(gate.clone(), certificates, config.reload_interval));
    let handler = move |request| {
        let gate = gate.clone();
        async move { gate.handle(request).await }
    };
    match sigil_admission::server::serve(listener, tls, handler).await {}
}

/// Checks the policy and certificate files every `interval`, and forgets
/// what expired.
async fn reload(gate: Arc<Gate>, certificates: Option<Arc<Certificates>>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let (gate, certificates) = (gate.clone(), certificates.clone());
        // File reads and compiling a policy block: off the async threads.
        let _ = tokio::task::spawn_blocking(move || {
            gate.current.reload_if_changed(OffsetDateTime::now_utc());
            gate.decider.purge();
            gate.grants.purge();
            if let Some(certificates) = certificates {
                certificates.reload_if_changed();
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upstream_is_a_host_only() {
        assert_eq!(upstream_host("127.0.0.1:5000").expect("valid"), "127.0.0.1:5000");
        assert_eq!(upstream_host("localhost:5000").expect("valid"), "localhost:5000");
        assert_eq!(upstream_host("Registry.Example").expect("valid"), "registry.example");
        for bad in ["registry", "a.example/path", "", "a.example:x", "https://a.example"] {
            assert!(upstream_host(bad).is_err(), "{bad}");
        }
    }
}
