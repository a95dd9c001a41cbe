//! `sigil gate`: the registry gate (`sigil-gate`), with the upstream's
//! registry client built from the same flags as `verify` (explicit
//! credentials go to the upstream only).

use std::sync::Arc;

use sigil_verifier::reference::{ImageRef, RegistryRef};

use crate::Outcome;
use crate::args::GateArgs;
use crate::common::{registry_client, server_settings};

pub async fn run(args: GateArgs) -> anyhow::Result<Outcome> {
    let upstream = sigil_gate::upstream_host(&args.upstream)?;
    let registry = &args.registry;
    // Credentials are scoped by the images a command names: here, any image of the upstream.
    let probe = RegistryRef::parse(&format!("{upstream}/probe"))?;
    let client = registry_client(registry, &[ImageRef::Registry(probe)])?;
    // Tags are never resolved by the gate's decisions: it judges the digest it fetched.
    let (pipeline, cache) = server_settings(
        &args.evidence,
        registry,
        args.cache_ttl,
        args.deny_cache_ttl,
        sigil_admission::decisions::CacheSettings::default().tags,
    );
    let config = sigil_gate::Config {
        policy: args.policy,
        listen: args.listen,
        upstream,
        tls: args.tls_cert.zip(args.tls_key),
        htpasswd: args.htpasswd,
        client: Arc::clone(&client),
        pipeline,
        cache,
        grant_ttl: args.grant_ttl,
        decision_timeout: args.decision_timeout,
        reload_interval: args.reload_interval,
    };
    sigil_gate::run(config).await?;
    Ok(Outcome::Success)
}
