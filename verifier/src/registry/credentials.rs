//! Registry credentials as users already have them: explicit flags or
//! environment, then `~/.docker/config.json` (`credHelpers`, `credsStore`,
//! `auths`), the way docker, cosign and skopeo look them up.
//!
//! Explicit credentials are scoped: a [`ScopedCredential`] names the one
//! registry ([`RegistryHost`]) they may be sent to, so a run that also talks
//! to another registry (a second image, a mirror) never hands it the
//! password. Every other registry gets its docker config entry or nothing.
//!
//! Secrets live in [`Secret`], whose `Debug` and `Display` never show them.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use zeroize::Zeroizing;

/// A secret string (password or token). Never printed.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How to authenticate to one registry.
#[derive(Clone, Debug)]
pub enum Credential {
    /// Username and password (or a token used as password).
    Basic { username: String, password: Secret },
    /// An OAuth2 refresh token (`identitytoken` in docker's config).
    IdentityToken(Secret),
}

impl Credential {
    /// A short description for messages: never the secret.
    pub fn describe(&self) -> String {
        match self {
            Credential::Basic { username, .. } => format!("user {username:?}"),
            Credential::IdentityToken(_) => "an identity token".to_owned(),
        }
    }
}

/// A registry host as credentials are scoped to it: lower-case, without the
/// default HTTPS port `:443`, Docker Hub's aliases (`index.docker.io`,
/// `registry-1.docker.io`) folded into `docker.io`. Two spellings of one
/// registry compare equal; two registries never do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryHost(String);

impl RegistryHost {
    /// The canonical form of a registry name taken from a parsed image
    /// reference (already a valid `HOST[:PORT]`).
    pub fn of(registry: &str) -> RegistryHost {
        let lower = registry.to_ascii_lowercase();
        let host = lower.strip_suffix(":443").unwrap_or(&lower);
        let host = match host {
            "index.docker.io" | "registry-1.docker.io" => crate::reference::DOCKER_HUB,
            other => other,
        };
        RegistryHost(host.to_owned())
    }

    /// Parses `HOST[:PORT]` as given on the command line (`--registry-host`).
    pub fn parse(text: &str) -> Result<RegistryHost, CredentialError> {
        let bad = |reason: &'static str| CredentialError::BadHost {
            given: text.chars().filter(|c| !c.is_control()).take(200).collect(),
            reason,
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if text.contains("://") {
            return Err(bad("give HOST[:PORT] without a scheme"));
        }
        if text.contains('/') {
            return Err(bad("give HOST[:PORT] without a path"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || ".-:[]_".contains(c);
        if !text.chars().all(allowed) {
            return Err(bad(
                "a registry host is letters, digits, '.', '-', '_' and an optional :PORT",
            ));
        }
        Ok(RegistryHost::of(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegistryHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Credentials given explicitly (flags or environment) and the one registry
/// they are for. Sent nowhere else.
#[derive(Clone, Debug)]
pub struct ScopedCredential {
    pub host: RegistryHost,
    pub credential: Credential,
}

impl ScopedCredential {
    /// The credential when `registry` is the one it is scoped to.
    pub fn for_registry(&self, registry: &str) -> Option<&Credential> {
        (RegistryHost::of(registry) == self.host).then_some(&self.credential)
    }
}

/// Why credentials could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("--registry-host {given:?} is not a registry host: {reason}")]
    BadHost { given: String, reason: &'static str },
    // The cause is in the message and deliberately not a `source` (a field
    // named `source` would be one): shown once whether printed alone or as a chain.
    #[error("cannot read docker config {path}: {cause}")]
    Read { path: PathBuf, cause: std::io::Error },
    #[error("docker config {path} is not valid JSON: {cause}")]
    Parse { path: PathBuf, cause: serde_json::Error },
    #[error("docker config {path}: the auth entry for {registry} is not base64 of user:password")]
    BadAuth { path: PathBuf, registry: String },
    #[error("credential helper docker-credential-{helper} failed for {registry}: {detail}")]
    Helper {
        helper: String,
        registry: String,
        detail: String,
    },
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// A loaded docker `config.json` (possibly absent, which means anonymous).
#[derive(Default)]
pub struct DockerConfig {
    path: PathBuf,
    file: ConfigFile,
    /// `PATH` for finding credential helpers; the process's own when `None`.
    helper_path: Option<std::ffi::OsString>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Docker Hub's key in `auths`, for historical reasons.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

impl DockerConfig {
    /// Loads `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    /// A missing file is an empty config; an unreadable or invalid one is an error.
    pub fn load_default() -> Result<DockerConfig, CredentialError> {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        match dir {
            Some(dir) => Self::load(&dir.join("config.json")),
            None => Ok(DockerConfig::default()),
        }
    }

    /// Loads a config file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig, CredentialError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig {
                    path: path.to_owned(),
                    ..DockerConfig::default()
                });
            }
            Err(cause) => {
                return Err(CredentialError::Read {
                    path: path.to_owned(),
                    cause,
                });
            }
        };
        let file = serde_json::from_slice(&bytes).map_err(|cause| CredentialError::Parse {
            path: path.to_owned(),
            cause,
        })?;
        Ok(DockerConfig {
            path: path.to_owned(),
            file,
            helper_path: None,
        })
    }

    /// The credential for `registry` (`host[:port]`, canonical as
    /// [`RegistryHost::of`] gives it), if any is configured: a
    /// `credHelpers` entry, else an `auths` entry, else `credsStore`.
    ///
    /// Docker Hub (`docker.io`) is looked up as docker does it, under
    /// [`DOCKER_HUB_KEY`] (`https://index.docker.io/v1/`, the key `docker
    /// login` writes, and the server URL a helper is asked for). Entries
    /// under another Docker Hub host name (`docker.io`, `index.docker.io`,
    /// `registry-1.docker.io`, with or without scheme and path), which
    /// containers/image (podman, skopeo) also reads, are used only when that
    /// key is absent, and in this order.
    pub fn credential_for(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        let docker_hub = RegistryHost::of(registry).as_str() == crate::reference::DOCKER_HUB;
        let helper = if docker_hub {
            DOCKER_HUB_HELPER_KEYS
                .iter()
                .find_map(|key| self.file.cred_helpers.get(*key))
        } else {
            self.file.cred_helpers.get(registry)
        };
        if let Some(helper) = helper {
            return run_helper(helper, registry, self.helper_path.as_deref());
        }
        if let Some(cred) = self.auths_entry(registry, docker_hub)? {
            return Ok(Some(cred));
        }
        match &self.file.creds_store {
            Some(store) if !store.is_empty() => run_helper(store, registry, self.helper_path.as_deref()),
            _ => Ok(None),
        }
    }

    fn auths_entry(&self, registry: &str, docker_hub: bool) -> Result<Option<Credential>, CredentialError> {
        let auths = &self.file.auths;
        let entry = if docker_hub {
            auths.get(DOCKER_HUB_KEY).or_else(|| {
                DOCKER_HUB_HOSTS.iter().find_map(|hub| {
                    auths
                        .get(*hub)
                        .or_else(|| auths.iter().find(|(key, _)| key_host(key) == *hub).map(|(_, v)| v))
                })
            })
        } else {
            auths
                .get(registry)
                .or_else(|| auths.iter().find(|(key, _)| key_host(key) == registry).map(|(_, v)| v))
        };
        let Some(entry) = entry else { return Ok(None) };
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::IdentityToken(Secret::new(token))));
        }
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let bad = || CredentialError::BadAuth {
                path: self.path.clone(),
                registry: registry.to_owned(),
            };
            let decoded = Zeroizing::new(STANDARD.decode(auth.trim()).map_err(|_| bad())?);
            let text = std::str::from_utf8(&decoded).map_err(|_| bad())?;
            let (user, pass) = text.split_once(':').ok_or_else(bad)?;
            return Ok(Some(Credential::Basic {
                username: user.to_owned(),
                password: Secret::new(pass),
            }));
        }
        match (&entry.username, &entry.password) {
            (Some(u), Some(p)) => Ok(Some(Credential::Basic {
                username: u.clone(),
                password: Secret::new(p.clone()),
            })),
            _ => Ok(None),
        }
    }
}

/// Docker Hub's host names, in the order their `auths` entries are tried
/// when [`DOCKER_HUB_KEY`] is absent.
const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The `credHelpers` keys that name Docker Hub, best first: docker's key,
/// then the host names containers/image uses.
const DOCKER_HUB_HELPER_KEYS: [&str; 4] = [DOCKER_HUB_KEY, "docker.io", "index.docker.io", "registry-1.docker.io"];

/// The registry an `auths` key names: docker has written keys as `host`,
/// `https://host`, `http://host/v1/` ...; like docker's
/// `ConvertToHostname`, the scheme and any path go, and the host is
/// compared lower-case and without `:443`, as registry names are.
fn key_host(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    let lower = host.to_ascii_lowercase();
    lower.strip_suffix(":443").unwrap_or(&lower).to_owned()
}

/// Runs `docker-credential-NAME get` with the server on stdin.
fn run_helper(
    name: &str,
    registry: &str,
    search_path: Option<&std::ffi::OsStr>,
) -> Result<Option<Credential>, CredentialError> {
    let fail = |detail: String| CredentialError::Helper {
        helper: name.to_owned(),
        registry: registry.to_owned(),
        detail,
    };
    let server = if RegistryHost::of(registry).as_str() == crate::reference::DOCKER_HUB {
        DOCKER_HUB_KEY
    } else {
        registry
    };
    let mut command = Command::new(format!("docker-credential-{name}"));
    if let Some(path) = search_path {
        command.env("PATH", path);
    }
    let mut child = command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run it ({e}); install it or remove it from the docker config"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading gives a broken pipe; its exit status tells the story.
        let _ = stdin.write_all(server.as_bytes());
    }
    let output = wait_bounded(child, Duration::from_secs(30)).map_err(fail)?;
    if !output.status.success() {
        let text = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
        // Helpers say "credentials not found in native keychain" when there is nothing stored.
        if text.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(fail(format!("exit status {}: {}", output.status, text.trim())));
    }
    let answer: HelperAnswer =
        serde_json::from_slice(&output.stdout).map_err(|e| fail(format!("unreadable answer: {e}")))?;
    if answer.username == "<token>" {
        return Ok(Some(Credential::IdentityToken(Secret::new(answer.secret))));
    }
    Ok(Some(Credential::Basic {
        username: answer.username,
        password: Secret::new(answer.secret),
    }))
}

fn wait_bounded(mut child: std::process::Child, limit: Duration) -> Result<std::process::Output, String> {
    let start = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                return Err(format!("no answer within {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_config(dir: &Path, json: &str) -> PathBuf {
        let path = dir.join("config.json");
        std::fs::write(&path, json).expect("write config");
        path
    }

    #[test]
    fn reads_auths_in_every_spelling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let auth = STANDARD.encode("alice:s3cret");
        let path = write_config(
            dir.path(),
            &format!(
                r#"{{"auths":{{"https://reg.example:5000":{{"auth":"{auth}"}},"https://index.docker.io/v1/":{{"username":"bob","password":"pw"}},"tok.example":{{"identitytoken":"abc"}}}}}}"#
            ),
        );
        let config = DockerConfig::load(&path).expect("loads");
        match config.credential_for("reg.example:5000").expect("ok") {
            Some(Credential::Basic { username, password }) => {
                assert_eq!(username, "alice");
                assert_eq!(password.expose(), "s3cret");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            config.credential_for("docker.io"),
            Ok(Some(Credential::Basic { .. }))
        ));
        assert!(matches!(
            config.credential_for("tok.example"),
            Ok(Some(Credential::IdentityToken(_)))
        ));
        assert!(matches!(config.credential_for("other.example"), Ok(None)));
        // The secret never shows in Debug.
        let shown = format!("{:?}", config.credential_for("reg.example:5000"));
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    fn user_for(config: &DockerConfig, registry: &str) -> Option<String> {
        match config.credential_for(registry).expect("a readable entry") {
            Some(Credential::Basic { username, .. }) => Some(username),
            Some(Credential::IdentityToken(_)) => Some("<token>".to_owned()),
            None => None,
        }
    }

    fn config_with_auths(dir: &Path, keys: &[(&str, &str)]) -> DockerConfig {
        let auths: serde_json::Map<String, serde_json::Value> = keys
            .iter()
            .map(|(key, user)| {
                let auth = STANDARD.encode(format!("{user}:pw"));
                ((*key).to_owned(), serde_json::json!({ "auth": auth }))
            })
            .collect();
        let json = serde_json::json!({ "auths": auths }).to_string();
        DockerConfig::load(&write_config(dir, &json)).expect("loads")
    }

    #[test]
    fn docker_hub_credentials_are_read_under_dockers_key_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let hub = ["docker.io", "index.docker.io", "registry-1.docker.io", "Docker.IO:443"];
        // docker's key wins over every other spelling, whichever sorts first.
        let config = config_with_auths(
            dir.path(),
            &[
                ("https://index.docker.io/v1/", "right"),
                ("docker.io", "podman"),
                ("https://docker.io", "other"),
                ("index.docker.io", "other"),
                ("registry-1.docker.io", "other"),
            ],
        );
        for name in hub {
            assert_eq!(user_for(&config, name).as_deref(), Some("right"), "{name}");
        }
        // Without it, the other Docker Hub spellings (containers/image reads
        // them), in a fixed order.
        for key in [
            "docker.io",
            "https://docker.io/v1/",
            "index.docker.io",
            "http://index.docker.io/v1/",
            "https://registry-1.docker.io",
            "INDEX.docker.io:443",
        ] {
            let config = config_with_auths(dir.path(), &[(key, "hub"), ("quay.io", "quay")]);
            assert_eq!(user_for(&config, "docker.io").as_deref(), Some("hub"), "{key}");
        }
        let config = config_with_auths(
            dir.path(),
            &[
                ("registry-1.docker.io", "third"),
                ("index.docker.io", "second"),
                ("docker.io", "first"),
            ],
        );
        assert_eq!(user_for(&config, "docker.io").as_deref(), Some("first"));
        // twins: names that are not Docker Hub's registry give nothing for it,
        // and Docker Hub's key gives nothing to another registry.
        for key in [
            "hub.docker.com",
            "https://hub.docker.com/",
            "docker.io.evil.example",
            "evil-docker.io",
            "https://evil.example/index.docker.io/v1/",
            "https://index.docker.io.evil.example/v1/",
            "docker.io:5000",
        ] {
            let config = config_with_auths(dir.path(), &[(key, "wrong")]);
            for name in hub {
                assert_eq!(user_for(&config, name), None, "{key} for {name}");
            }
        }
        let config = config_with_auths(dir.path(), &[("https://index.docker.io/v1/", "hub")]);
        for other in ["registry.example", "quay.io", "docker.io:5000", "index.docker.io:5000"] {
            assert_eq!(user_for(&config, other), None, "{other}");
        }
    }

    #[test]
    fn docker_hub_helpers_are_found_and_asked_as_docker_asks_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Answers only for docker's server URL, as docker-credential-desktop
        // and -osxkeychain store Docker Hub's login.
        let helper = dir.path().join("docker-credential-hubtest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\nif [ \"$server\" = \"https://index.docker.io/v1/\" ]; then echo '{\"Username\":\"hub\",\"Secret\":\"pw\"}'; else echo \"credentials not found for $server\"; exit 1; fi\n",
        )
        .expect("write helper");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path_var = std::ffi::OsString::from(format!("{}:/usr/bin:/bin", dir.path().display()));
        let with_helpers = |helpers: &[(&str, &str)]| DockerConfig {
            path: dir.path().join("config.json"),
            file: ConfigFile {
                cred_helpers: helpers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..ConfigFile::default()
            },
            helper_path: Some(path_var.clone()),
        };
        for key in [DOCKER_HUB_KEY, "docker.io", "index.docker.io", "registry-1.docker.io"] {
            let config = with_helpers(&[(key, "hubtest")]);
            assert_eq!(user_for(&config, "docker.io").as_deref(), Some("hub"), "{key}");
        }
        // docker's key wins over another spelling naming a helper that fails.
        let config = with_helpers(&[(DOCKER_HUB_KEY, "hubtest"), ("docker.io", "absent-helper")]);
        assert_eq!(user_for(&config, "docker.io").as_deref(), Some("hub"));
        // twin: the helper of another name is not Docker Hub's.
        let config = with_helpers(&[("hub.docker.com", "hubtest")]);
        assert_eq!(user_for(&config, "docker.io"), None);
        // credsStore asks for Docker Hub under docker's key too.
        let config = DockerConfig {
            file: ConfigFile {
                creds_store: Some("hubtest".to_owned()),
                ..ConfigFile::default()
            },
            ..with_helpers(&[])
        };
        assert_eq!(user_for(&config, "docker.io").as_deref(), Some("hub"));
        assert_eq!(user_for(&config, "registry.example"), None);
    }

    #[test]
    fn registry_hosts_are_compared_in_canonical_form() {
        let reg = RegistryHost::parse("Registry.Example:443").expect("a host");
        assert_eq!(reg.as_str(), "registry.example");
        assert_eq!(reg, RegistryHost::of("registry.example"));
        assert_eq!(RegistryHost::of("index.docker.io"), RegistryHost::of("docker.io"));
        assert_eq!(
            RegistryHost::of("REGISTRY-1.docker.io:443"),
            RegistryHost::of("docker.io")
        );
        assert_eq!(RegistryHost::of("[::1]:5000").as_str(), "[::1]:5000");
        // twins: another port, another host, a longer name are other registries
        for other in [
            "registry.example:5000",
            "registry.example.evil",
            "evil.registry.example",
            "127.0.0.1",
        ] {
            assert_ne!(RegistryHost::of(other), reg, "{other}");
        }
        for (bad, reason) in [
            ("", "empty"),
            ("https://registry.example", "scheme"),
            ("registry.example/app", "path"),
            ("registry example", "letters"),
            ("reg\u{202e}.example", "letters"),
        ] {
            let e = RegistryHost::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("--registry-host") && e.contains(reason), "{bad}: {e}");
        }
    }

    #[test]
    fn scoped_credentials_go_to_their_registry_only() {
        let scoped = ScopedCredential {
            host: RegistryHost::parse("reg.example:5000").expect("a host"),
            credential: Credential::Basic {
                username: "alice".into(),
                password: Secret::new("pw"),
            },
        };
        assert!(scoped.for_registry("reg.example:5000").is_some());
        assert!(scoped.for_registry("REG.example:5000").is_some());
        for other in [
            "reg.example",
            "reg.example:5001",
            "other.example:5000",
            "127.0.0.1:5000",
        ] {
            assert!(scoped.for_registry(other).is_none(), "{other}");
        }
    }

    #[test]
    fn bad_files_are_errors_and_missing_is_anonymous() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(
            DockerConfig::load(&dir.path().join("absent.json"))
                .expect("ok")
                .credential_for("x.io")
                .expect("ok")
                .is_none()
        );
        let path = write_config(dir.path(), "{not json");
        assert!(matches!(DockerConfig::load(&path), Err(CredentialError::Parse { .. })));
        let path = write_config(dir.path(), r#"{"auths":{"x.io":{"auth":"%%%"}}}"#);
        let config = DockerConfig::load(&path).expect("loads");
        assert!(matches!(
            config.credential_for("x.io"),
            Err(CredentialError::BadAuth { .. })
        ));
    }

    #[test]
    fn credential_helpers_are_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let helper = dir.path().join("docker-credential-sigiltest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\nif [ \"$server\" = \"reg.example\" ]; then echo '{\"ServerURL\":\"reg.example\",\"Username\":\"carol\",\"Secret\":\"pw\"}'; else echo 'credentials not found in native keychain'; exit 1; fi\n",
        )
        .expect("write helper");
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let path_var = std::ffi::OsString::from(format!("{}:/usr/bin:/bin", dir.path().display()));
        let config = DockerConfig {
            path: dir.path().join("config.json"),
            file: ConfigFile {
                cred_helpers: [("reg.example".to_owned(), "sigiltest".to_owned())].into(),
                creds_store: Some("sigiltest".to_owned()),
                ..ConfigFile::default()
            },
            helper_path: Some(path_var.clone()),
        };
        let found = config.credential_for("reg.example");
        assert!(matches!(found, Ok(Some(Credential::Basic { ref username, .. })) if username == "carol"));
        let missing = config.credential_for("other.example");
        assert!(matches!(missing, Ok(None)), "{missing:?}");
        let config = DockerConfig {
            path: dir.path().join("config.json"),
            file: ConfigFile {
                creds_store: Some("absent-helper".to_owned()),
                ..ConfigFile::default()
            },
            helper_path: Some(path_var),
        };
        assert!(matches!(
            config.credential_for("x.io"),
            Err(CredentialError::Helper { .. })
        ));
    }
}
