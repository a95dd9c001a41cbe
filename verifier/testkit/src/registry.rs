//! A real CNCF distribution registry (`docker-registry`, Debian package of
//! distribution 2.8) started by a test on a free loopback port, with its own
//! temporary storage, and killed when the handle is dropped.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use tempfile::TempDir;

use super::require_binary;
use super::tls::{htpasswd_line, server_pki};

/// How long a registry may take to answer `GET /v2/`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts when another process takes the port between probe and bind.
const PORT_ATTEMPTS: usize = 5;

/// A running `docker-registry`; dropping it kills the process and deletes
/// its storage.
pub struct Registry {
    child: Child,
    /// The loopback address it listens on: `127.0.0.1` or `[::1]`.
    ip: &'static str,
    port: u16,
    tls: bool,
    credentials: Option<(String, String)>,
    // Declared last: removed only after the process is gone (see `Drop`).
    dir: TempDir,
}

impl Registry {
    /// A plain-HTTP registry without authentication, deletes enabled.
    pub fn start() -> Registry {
        Self::start_with(None, "127.0.0.1")
    }

    /// A plain-HTTP registry on the IPv6 loopback address, `[::1]:PORT`.
    pub fn start_ipv6() -> Registry {
        Self::start_with(None, "[::1]")
    }

    /// A registry served over TLS (a CA made for this registry, see
    /// [`Registry::ca_cert_path`]) that demands HTTP basic authentication
    /// with `user` and `password` for everything, `GET /v2/` included.
    pub fn start_tls_auth(user: &str, password: &str) -> Registry {
        Self::start_with(Some((user.to_owned(), password.to_owned())), "127.0.0.1")
    }

    fn start_with(credentials: Option<(String, String)>, ip: &'static str) -> Registry {
        let binary = require_binary("docker-registry", "docker-registry");
        let dir = TempDir::with_prefix("sigil-e2e-registry-").expect("create the registry's temporary directory");
        let storage = dir.path().join("storage");
        fs::create_dir(&storage).expect("create the registry storage directory");

        let tls = credentials.is_some();
        let mut tls_and_auth = String::new();
        if let Some((user, password)) = &credentials {
            let pki = server_pki();
            let certs = dir.path().join("certs");
            fs::create_dir(&certs).expect("create the certificate directory");
            // `ca.crt` alone in its folder: the layout `skopeo --*-cert-dir` expects.
            fs::write(certs.join("ca.crt"), &pki.ca_cert_pem).expect("write the CA certificate");
            let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
            fs::write(&cert, &pki.server_cert_pem).expect("write the server certificate");
            fs::write(&key, &pki.server_key_pem).expect("write the server key");
            let htpasswd = dir.path().join("htpasswd");
            fs::write(&htpasswd, htpasswd_line(user, password)).expect("write htpasswd");
            write!(
                tls_and_auth,
                "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: sigil-e2e\n    path: {}\n",
                yaml_path(&cert),
                yaml_path(&key),
                yaml_path(&htpasswd)
            )
            .expect("writing into a String is infallible");
        }

        let log_path = dir.path().join("registry.log");
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port(ip);
            let config = format!(
                "version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: \"{ip}:{port}\"
  secret: sigil-e2e-not-a-secret
{tls_and_auth}",
                storage = yaml_path(&storage),
            );
            let config_path = dir.path().join("config.yml");
            fs::write(&config_path, config).expect("write the registry config");

            let log = File::create(&log_path).expect("create the registry log");
            let mut child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                // distribution reads REGISTRY_* overrides from the environment.
                .env_clear()
                .env("HOME", dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("duplicate the log file handle"))
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let scheme = if tls { "https" } else { "http" };
            let url = format!("{scheme}://{ip}:{port}/v2/");
            let ca = tls.then(|| dir.path().join("certs").join("ca.crt"));
            // On its own thread: reqwest's blocking client must not be dropped
            // inside an async runtime, and a test might be running in one.
            let ready = thread::scope(|s| {
                s.spawn(|| wait_ready(&mut child, &url, ca.as_deref()))
                    .join()
                    .expect("the readiness probe does not panic")
            });
            match ready {
                Ok(()) => {
                    return Registry {
                        child,
                        ip,
                        port,
                        tls,
                        credentials,
                        dir,
                    };
                }
                Err(failure) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = fs::read_to_string(&log_path).unwrap_or_default();
                    if !log.contains("address already in use") {
                        panic!("docker-registry did not start: {failure}\n--- registry log ---\n{log}");
                    }
                    last_failure = failure;
                }
            }
        }
        panic!("docker-registry found no free port in {PORT_ATTEMPTS} attempts: {last_failure}");
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The registry process id (benchmarks read its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:PORT` (or `[::1]:PORT`)
    pub fn host(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    /// `http://127.0.0.1:PORT`, or `https://...` for [`Registry::start_tls_auth`].
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.host())
    }

    /// `127.0.0.1:PORT/` + `repo_and_tag`, e.g. `image("sample:v1")`.
    pub fn image(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.host())
    }

    /// The filesystem driver's root directory, for tests that tamper with
    /// stored blobs behind the registry's back.
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// PEM file of the CA that signed this registry's certificate. Panics for
    /// a plain-HTTP registry.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.cert_dir().join("ca.crt")
    }

    /// A folder holding only `ca.crt`, for `skopeo --src-cert-dir` /
    /// `--dest-cert-dir`. Panics for a plain-HTTP registry.
    pub fn cert_dir(&self) -> PathBuf {
        assert!(
            self.tls,
            "a plain-HTTP registry has no CA; use Registry::start_tls_auth"
        );
        self.dir.path().join("certs")
    }

    /// `(user, password)` for [`Registry::start_tls_auth`], `None` otherwise.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Writes `dir/config.json` in the `~/.docker/config.json` format with this
    /// registry's credentials, for `DOCKER_CONFIG=dir`. Returns its path.
    pub fn write_docker_config(&self, dir: &Path) -> PathBuf {
        let (user, password) = self
            .credentials()
            .expect("only a registry with credentials has a docker config");
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let config = serde_json::json!({ "auths": { self.host(): { "auth": auth } } });
        fs::create_dir_all(dir).expect("create the docker config directory");
        let path = dir.join("config.json");
        fs::write(&path, config.to_string()).expect("write config.json");
        path
    }

    /// A blocking HTTP client that trusts this registry's CA (and nothing
    /// else) and sends no credentials; 2 s timeout. Not for use inside an
    /// async runtime (reqwest's blocking client owns one).
    pub fn client(&self) -> reqwest::blocking::Client {
        http_client(self.tls.then(|| self.ca_cert_path()).as_deref())
    }

    /// What the registry logged so far (errors only).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `url` until any HTTP answer, the process exits, or
/// [`READY_TIMEOUT`] passes.
fn wait_ready(child: &mut Child, url: &str, ca: Option<&Path>) -> Result<(), String> {
    let client = http_client(ca);
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("cannot wait for it: {e}"))? {
            return Err(format!("it exited with {status}"));
        }
        let Err(last_error) = client.get(url).send() else {
            return Ok(());
        };
        if Instant::now() >= deadline {
            return Err(format!("no answer on {url} within {READY_TIMEOUT:?}: {last_error}"));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A blocking client without proxies, trusting only `ca` when given.
fn http_client(ca: Option<&Path>) -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2));
    if let Some(ca) = ca {
        let pem = fs::read(ca).expect("read the CA certificate");
        let ca = reqwest::Certificate::from_pem(&pem).expect("the test CA is valid PEM");
        builder = builder.tls_certs_only([ca]);
    }
    builder.build().expect("build the HTTP client")
}

/// A port the kernel just handed out on `ip`; taken again by the registry a
/// moment later, hence the retry in `start_with`.
fn free_port(ip: &str) -> u16 {
    let listener = TcpListener::bind(format!("{ip}:0")).unwrap_or_else(|e| panic!("bind {ip}:0: {e}"));
    listener.local_addr().expect("a bound socket has an address").port()
}

/// A path as a YAML double-quoted scalar (JSON string syntax is valid YAML).
fn yaml_path(path: &Path) -> String {
    serde_json::to_string(&path.to_string_lossy()).expect("a string always serializes")
}
