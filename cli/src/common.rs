//! Settings shared by commands: image references, annotations, keys and the
//! registry client, each validated before any work starts.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sigil_verifier::keys::{self, PublicKey, SigningKey};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::{
    Credential, DockerConfig, RegistryClient, RegistryHost, RegistryOptions, ScopedCredential, Secret,
};
use sigil_verifier::sign::CertificateMaterial;
use sigil_verifier::sigstore::{Certificate, IdentityPolicy, Matcher, TrustedRoot};
use sigil_verifier::verify::{Authority, SigstoreRoot};

use crate::args::{CertificateArgs, IdentityArgs, RegistryArgs, SignatureFormat};
use crate::password;

/// Parses every image argument, reporting the first bad one.
pub fn parse_images(images: &[String]) -> anyhow::Result<Vec<ImageRef>> {
    images
        .iter()
        .map(|i| i.parse::<ImageRef>().map_err(anyhow::Error::from))
        .collect()
}

/// Parses `-a KEY=VALUE` flags.
pub fn parse_annotations(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("annotation {pair:?} is not KEY=VALUE");
        };
        if k.is_empty() {
            bail!("annotation {pair:?} has an empty key");
        }
        if out.insert(k.to_owned(), v.to_owned()).is_some() {
            bail!("annotation key {k:?} is given twice");
        }
    }
    Ok(out)
}

/// Reads a public key file.
pub fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read public key {}", path.display()))?;
    PublicKey::from_pem(&text).with_context(|| format!("public key {}", path.display()))
}

/// Reads and decrypts an encrypted private key file.
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    if !keys::is_encrypted_pem(&text) {
        bail!(
            "key file {} is not an encrypted cosign/sigil private key; import it first with `sigil key import`",
            path.display()
        );
    }
    let password = password::for_reading(&format!("key file {}", path.display()))?;
    keys::decrypt(&text, password.value.as_bytes()).with_context(|| format!("key file {}", path.display()))
}

/// Builds the one registry client of a run over `images` (every image
/// argument of the command: explicit credentials are scoped by them).
pub fn registry_client(args: &RegistryArgs, images: &[ImageRef]) -> anyhow::Result<Arc<RegistryClient>> {
    client_with(args, scoped_credential(args, images)?)
}

/// The registry client of a server, which sees images of any registry:
/// `--registry-username/--registry-password` go to `--registry-host` only,
/// which must be given with them.
pub fn server_registry_client(args: &RegistryArgs) -> anyhow::Result<Arc<RegistryClient>> {
    let credential = match (&args.registry_username, &args.registry_password, &args.registry_host) {
        (None, None, None) => None,
        (Some(u), Some(p), Some(host)) => Some(ScopedCredential {
            host: RegistryHost::parse(host)?,
            credential: Credential::Basic {
                username: u.clone(),
                password: Secret::new(p.clone()),
            },
        }),
        (_, _, None) => bail!(
            "--registry-username/--registry-password need --registry-host HOST[:PORT] here: a server sees images of any registry, and the password must go to one only (others use ~/.docker/config.json)"
        ),
        _ => bail!(
            "--registry-host needs both --registry-username and --registry-password (or SIGIL_REGISTRY_USERNAME/SIGIL_REGISTRY_PASSWORD)"
        ),
    };
    client_with(args, credential)
}

fn client_with(args: &RegistryArgs, credential: Option<ScopedCredential>) -> anyhow::Result<Arc<RegistryClient>> {
    let mut ca_certs_pem = Vec::new();
    for path in &args.registry_cacert {
        ca_certs_pem
            .push(std::fs::read(path).with_context(|| format!("cannot read --registry-cacert {}", path.display()))?);
    }
    if args.allow_insecure_registry {
        tracing::warn!("--allow-insecure-registry: plain HTTP may be used for non-loopback registries");
    }
    let docker_config = DockerConfig::load_default()?;
    let options = RegistryOptions {
        credential,
        docker_config,
        ca_certs_pem,
        allow_insecure: args.allow_insecure_registry,
        request_timeout: args.registry_timeout,
        ..RegistryOptions::default()
    };
    Ok(Arc::new(RegistryClient::new(options)?))
}

/// `--registry-username/--registry-password` and the one registry they go
/// to: `--registry-host`, else the registry of the image arguments when they
/// share one. Images on several registries and no `--registry-host` is an
/// error: sending the password to all of them is what scoping prevents.
fn scoped_credential(args: &RegistryArgs, images: &[ImageRef]) -> anyhow::Result<Option<ScopedCredential>> {
    let credential = match (&args.registry_username, &args.registry_password) {
        (Some(u), Some(p)) => Some(Credential::Basic {
            username: u.clone(),
            password: Secret::new(p.clone()),
        }),
        (None, None) => None,
        (Some(_), None) => bail!("--registry-username needs --registry-password (or SIGIL_REGISTRY_PASSWORD)"),
        (None, Some(_)) => bail!("--registry-password needs --registry-username (or SIGIL_REGISTRY_USERNAME)"),
    };
    let named = args.registry_host.as_deref().map(RegistryHost::parse).transpose()?;
    let Some(credential) = credential else {
        if let Some(host) = named {
            bail!(
                "--registry-host {host} says where --registry-username/--registry-password go, but none are given (set them, or SIGIL_REGISTRY_USERNAME/SIGIL_REGISTRY_PASSWORD)"
            );
        }
        return Ok(None);
    };
    let registries: BTreeSet<RegistryHost> = images
        .iter()
        .filter_map(|image| match image {
            ImageRef::Registry(r) => Some(RegistryHost::of(r.registry())),
            ImageRef::Layout(_) => None,
        })
        .collect();
    let listed = || {
        registries
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let host = match (named, registries.len()) {
        (Some(host), _) if registries.contains(&host) => host,
        (Some(host), 0) => bail!("--registry-host {host}: no image is in a registry (all are oci: layouts)"),
        (Some(host), _) => bail!(
            "--registry-host {host} is not the registry of any image given ({}); name one of them",
            listed()
        ),
        // Only layouts: there is no registry to send credentials to.
        (None, 0) => return Ok(None),
        (None, 1) => registries.into_iter().next().context("one registry")?,
        (None, _) => bail!(
            "the images are on several registries ({}); say which one --registry-username/--registry-password are for with --registry-host HOST[:PORT] (the others use ~/.docker/config.json)",
            listed()
        ),
    };
    Ok(Some(ScopedCredential { host, credential }))
}

/// Runs a command's work within its `--timeout`, when one is given; past it
/// the run is an error (exit 2) and nothing is decided.
pub async fn within<T>(timeout: Option<Duration>, work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    let Some(limit) = timeout else {
        return work.await;
    };
    match tokio::time::timeout(limit, work).await {
        Ok(done) => done,
        Err(_) => bail!(
            "the run did not finish within --timeout {limit:?}; nothing was decided (raise --timeout, or find the slow registry with -v)"
        ),
    }
}

/// The current time as RFC 3339 (for `org.opencontainers.image.created`).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

/// Writes `text` to stdout (results only; logs go to stderr).
pub fn print(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes a JSON document to stdout.
pub fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    print(&serde_json::to_string_pretty(value)?)
}

/// How the report names what was trusted.
pub fn describe(authority: &Authority) -> serde_json::Value {
    match authority {
        Authority::Key(key) => serde_json::json!({"key": {"fingerprint": key.fingerprint()}}),
        Authority::Notation(trust) => serde_json::json!({"notation": {"trustStore": trust.label()}}),
        Authority::Keyless { identity, .. } | Authority::Certificate { identity, .. } => {
            serde_json::json!({"identity": {
                "subject": identity.subject().to_string(),
                "issuer": identity.issuer().map(ToString::to_string),
            }})
        }
    }
}

/// Who a `--key` or the identity flags trust, compiled once before any work
/// starts: the key parsed, roots decoded, the trusted root prepared,
/// regexps compiled.
pub fn authority(key: Option<&Path>, identity: &IdentityArgs) -> anyhow::Result<Authority> {
    if let Some(key) = key {
        return Ok(Authority::Key(read_public_key(key)?));
    }
    let policy = identity_policy(identity)?;
    let root = trusted_root(identity)?;
    if let Some(path) = &identity.certificate_roots {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read --certificate-roots {}", path.display()))?;
        return Authority::certificate(&pem, policy, root)
            .with_context(|| format!("--certificate-roots {}", path.display()));
    }
    Ok(Authority::Keyless { identity: policy, root })
}

/// The identity the flags require: subject, issuer (optional only for a
/// private PKI) and Fulcio extensions.
pub fn identity_policy(identity: &IdentityArgs) -> anyhow::Result<IdentityPolicy> {
    let subject = match (&identity.certificate_identity, &identity.certificate_identity_regexp) {
        (Some(exact), None) => Matcher::exact(exact.as_str()),
        (None, Some(re)) => Matcher::regex(re).context("--certificate-identity-regexp")?,
        _ => bail!("give --key, or --certificate-identity / --certificate-identity-regexp"),
    };
    let issuer = match (
        &identity.certificate_oidc_issuer,
        &identity.certificate_oidc_issuer_regexp,
    ) {
        (Some(exact), None) => Some(Matcher::exact(exact.as_str())),
        (None, Some(re)) => Some(Matcher::regex(re).context("--certificate-oidc-issuer-regexp")?),
        _ if identity.certificate_roots.is_some() => None,
        _ => bail!("give --certificate-oidc-issuer or --certificate-oidc-issuer-regexp with the identity"),
    };
    let mut policy = match issuer {
        Some(issuer) => IdentityPolicy::new(subject, issuer),
        None => IdentityPolicy::subject_only(subject),
    };
    for pair in &identity.certificate_extensions {
        let Some((name, value)) = pair.split_once('=') else {
            bail!("--certificate-extension {pair:?} is not NAME=VALUE");
        };
        policy = policy
            .require_extension(name, Matcher::exact(value))
            .context("--certificate-extension")?;
    }
    Ok(policy)
}

/// `--trusted-root`, else the one `sigil trust update` cached while its TUF
/// metadata is fresh, else the embedded public-good root (never the
/// network).
pub fn trusted_root(identity: &IdentityArgs) -> anyhow::Result<SigstoreRoot> {
    trusted_root_from(identity.trusted_root.as_deref())
}

/// [`trusted_root`] for a `--trusted-root` given or not.
pub fn trusted_root_from(path: Option<&Path>) -> anyhow::Result<SigstoreRoot> {
    match path {
        None => match crate::trust_cache::in_use(jiff::Timestamp::now()) {
            crate::trust_cache::InUse::Cached(cached) => {
                let root = TrustedRoot::from_json(&cached.trusted_root)
                    .with_context(|| format!("the cached trusted root in {}", cached.dir.display()))?;
                Ok(SigstoreRoot::from(root))
            }
            embedded => {
                crate::commands::trust::warn_unusable(&embedded);
                Ok(SigstoreRoot::PublicGood)
            }
        },
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read --trusted-root {}", path.display()))?;
            let root = TrustedRoot::from_json(&bytes).with_context(|| format!("--trusted-root {}", path.display()))?;
            Ok(SigstoreRoot::from(root))
        }
    }
}

/// Reads `--certificate` / `--certificate-chain` and checks that the
/// certificate holds the signing key (a signature must verify with it).
pub fn certificate_material(
    args: &CertificateArgs,
    format: SignatureFormat,
    key: &SigningKey,
) -> anyhow::Result<Option<CertificateMaterial>> {
    let Some(path) = &args.certificate else {
        return Ok(None);
    };
    if format != SignatureFormat::Tag {
        anyhow::bail!("--certificate is attached to the tag form (cosign's .sig and .att layers); use --format tag");
    }
    let certificate_pem =
        std::fs::read_to_string(path).with_context(|| format!("cannot read --certificate {}", path.display()))?;
    let certificates = Certificate::from_pem_chain(&certificate_pem)
        .with_context(|| format!("--certificate {} is not a PEM certificate", path.display()))?;
    let leaf = certificates.first().context("--certificate holds no certificate")?;
    let holds_key = leaf
        .public_key()
        .map(|k| k.spki_der() == key.public_key().spki_der())
        .unwrap_or(false);
    if !holds_key {
        anyhow::bail!(
            "--certificate {} is not for the signing key (--key); signatures would not verify",
            path.display()
        );
    }
    let chain_pem = match &args.certificate_chain {
        Some(chain) => {
            let pem = std::fs::read_to_string(chain)
                .with_context(|| format!("cannot read --certificate-chain {}", chain.display()))?;
            Certificate::from_pem_chain(&pem)
                .with_context(|| format!("--certificate-chain {} is not PEM certificates", chain.display()))?;
            Some(pem)
        }
        None => None,
    };
    Ok(Some(CertificateMaterial {
        certificate_pem,
        chain_pem,
    }))
}

/// The pipeline and cache settings of a server (`admission`, `gate`): the
/// evidence budgets, how long decisions are reused, and a gathering bound no
/// shorter than one registry request may take.
pub fn server_settings(
    evidence: &crate::args::EvidenceArgs,
    registry: &RegistryArgs,
    allowed: Duration,
    denied: Duration,
    tags: Duration,
) -> (
    sigil_verifier::pipeline::Settings,
    sigil_admission::decisions::CacheSettings,
) {
    let defaults = sigil_admission::decisions::CacheSettings::default();
    let pipeline = sigil_verifier::pipeline::Settings {
        limits: evidence.limits(),
        ..sigil_verifier::pipeline::Settings::default()
    };
    let cache = sigil_admission::decisions::CacheSettings {
        allowed,
        denied,
        tags,
        work: registry.registry_timeout.max(defaults.work),
        ..defaults
    };
    (pipeline, cache)
}

/// cosign's `COSIGN_REPOSITORY`: the registry repository that holds the
/// signatures, attestations and referrers of the images named (a
/// repository: no tag, no digest); `None` when unset or empty.
pub fn cosign_repository() -> anyhow::Result<Option<sigil_verifier::reference::RegistryRef>> {
    let Some(value) = std::env::var_os("COSIGN_REPOSITORY").filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| anyhow::anyhow!("COSIGN_REPOSITORY is not UTF-8"))?;
    let last = value.rsplit('/').next().unwrap_or_default();
    if value.contains('@') || last.contains(':') || value.starts_with("oci:") {
        bail!("COSIGN_REPOSITORY={value:?} must name a registry repository (REGISTRY/REPO), without a tag or digest");
    }
    let repository = sigil_verifier::reference::RegistryRef::parse(&value)
        .with_context(|| format!("COSIGN_REPOSITORY={value:?} is not a registry repository"))?;
    Ok(Some(repository))
}

/// Reads and checks `--predicate FILE` for `--type`, as cosign's `attest`
/// builds it, printing one warning per tolerated lapse. On error nothing was
/// `done` (the word the message ends with: "pushed", "written").
pub fn read_predicate(
    path: &Path,
    predicate_type: &str,
    done: &str,
) -> anyhow::Result<sigil_verifier::predicate::Encoded> {
    let document = std::fs::read(path).with_context(|| format!("cannot read predicate file {}", path.display()))?;
    let encoded = sigil_verifier::predicate::encode(predicate_type, document, &now_rfc3339()).with_context(|| {
        format!(
            "predicate {} is not a valid {predicate_type} document; nothing was {done}",
            path.display()
        )
    })?;
    for lapse in &encoded.lapses {
        eprintln!(
            "warning: {lapse}; its specification requires it, but real producers omit it and verifiers accept such predicates, so sigil attests it"
        );
    }
    Ok(encoded)
}
