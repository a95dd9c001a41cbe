//! `sigil admission`: the Kubernetes admission webhook (`sigil-admission`),
//! with the registry client built from the same flags as `verify`.

use std::sync::Arc;

use sigil_admission::decisions::CacheSettings;
use sigil_verifier::pipeline::Settings;

use crate::Outcome;
use crate::args::AdmissionArgs;
use crate::common::server_registry_client;

pub async fn run(args: AdmissionArgs) -> anyhow::Result<Outcome> {
    let registry = &args.registry;
    let client = server_registry_client(registry)?;
    let defaults = CacheSettings::default();
    let config = sigil_admission::Config {
        policy: args.policy,
        listen: args.listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        client: Arc::clone(&client),
        pipeline: Settings {
            limits: args.evidence.limits(),
            ..Settings::default()
        },
        cache: CacheSettings {
            allowed: args.cache_ttl,
            denied: args.deny_cache_ttl,
            tags: args.tag_ttl,
            work: registry.registry_timeout.max(defaults.work),
            ..defaults
        },
        reload_interval: args.reload_interval,
    };
    sigil_admission::run(config).await?;
    Ok(Outcome::Success)
}
