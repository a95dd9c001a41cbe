//! `sigil admission`: the Kubernetes admission webhook (`sigil-admission`),
//! with the registry client built from the same flags as `verify`.

use std::sync::Arc;

use crate::Outcome;
use crate::args::AdmissionArgs;
use crate::common::{server_registry_client, server_settings};

pub async fn run(args: AdmissionArgs) -> anyhow::Result<Outcome> {
    let registry = &args.registry;
    let client = server_registry_client(registry)?;
    let (pipeline, cache) = server_settings(
        &args.evidence,
        registry,
        args.cache_ttl,
        args.deny_cache_ttl,
        args.tag_ttl,
    );
    let config = sigil_admission::Config {
        policy: args.policy,
        listen: args.listen,
        tls_cert: args.tls_cert,
        tls_key: args.tls_key,
        client: Arc::clone(&client),
        pipeline,
        cache,
        reload_interval: args.reload_interval,
    };
    sigil_admission::run(config).await?;
    Ok(Outcome::Success)
}
