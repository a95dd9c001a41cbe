//! `sigil gate`: the registry gate (`sigil-gate`), with the upstream's
//! registry client built from the same flags as `verify` (explicit
//! credentials go to the upstream only).

use std::sync::Arc;

use sigil_admission::decisions::CacheSettings;
use sigil_verifier::pipeline::Settings;
use sigil_verifier::reference::{ImageRef, RegistryRef};

use crate::Outcome;
use crate::args::GateArgs;
use crate::common::registry_client;

pub async fn run(args: GateArgs) -> anyhow::Result<Outcome> {
    let upstream = sigil_gate::upstream_host(&args.upstream)?;
    let registry = &args.registry;
    // Credentials are scoped by the images a command names: here, any image of the upstream.
    let probe = RegistryRef::parse(&format!("{upstream}/probe"))?;
    let client = registry_client(registry, &[ImageRef::Registry(probe)])?;
    let defaults = CacheSettings::default();
    let config = sigil_gate::Config {
        policy: args.policy,
        listen: args.listen,
        upstream,
        tls: args.tls_cert.zip(args.tls_key),
        htpasswd: args.htpasswd,
        client: Arc::clone(&client),
        pipeline: Settings {
            limits: args.evidence.limits(),
            ..Settings::default()
        },
        cache: CacheSettings {
            allowed: args.cache_ttl,
            denied: args.deny_cache_ttl,
            work: registry.registry_timeout.max(defaults.work),
            ..defaults
        },
        grant_ttl: args.grant_ttl,
        decision_timeout: args.decision_timeout,
        reload_interval: args.reload_interval,
    };
    sigil_gate::run(config).await?;
    Ok(Outcome::Success)
}
