//! Docker Hub without the internet. Images there are named `docker.io/...`
//! (or `alpine`, `index.docker.io/...`), but the distribution API is served
//! by `registry-1.docker.io`, and docker keeps the login under the
//! `https://index.docker.io/v1/` key of `config.json`.
//!
//! Each test runs its body again, as this test binary, inside a private
//! network, mount and PID namespace (`unshare`): only `lo` is up, and a
//! temporary `/etc/hosts` maps Docker Hub's host names to loopback:
//! `registry-1.docker.io` (and `auth.docker.io`) to `127.0.0.1`, where a
//! real `docker-registry` serves TLS on port 443 with a certificate from a
//! test CA and requires basic auth (htpasswd), and `docker.io` and
//! `index.docker.io` to `127.0.0.2`, where nothing listens. Nothing can
//! reach the real Docker Hub, and only requests sent to the API host reach
//! the registry.
//!
//! `unshare` (util-linux) and `ip` (iproute2) are required; as root the
//! namespaces are made directly, otherwise with `--map-root-user`. When
//! either is missing or the kernel refuses, the test fails, it does not skip.

use std::fs;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;
use tempfile::TempDir;

use crate::fixtures::{keypair, s, write_policy};
use crate::support::tls::htpasswd_line;
use crate::support::{Output, Proc, require_binary, sample_layout, sigil};

/// Set for the body run inside the namespaces; its absence means "outside".
const INSIDE: &str = "SIGIL_E2E_DOCKER_HUB_NAMESPACE";
/// Docker Hub's host names, all on the server certificate.
const HUB_NAMES: [&str; 4] = ["registry-1.docker.io", "index.docker.io", "docker.io", "auth.docker.io"];
/// Inside, the API host is `127.0.0.1`, where the registry listens, and the
/// token service `127.0.0.3`; the names images carry are `127.0.0.2`, where
/// nothing listens, so a request sent to `https://docker.io/v2/` fails
/// instead of finding the registry.
const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost\n127.0.0.1 registry-1.docker.io\n127.0.0.2 docker.io index.docker.io\n127.0.0.3 auth.docker.io\n";
/// The token service's address, as Docker Hub's challenge names it.
const REALM: &str = "https://auth.docker.io/token";
/// The `service` of Docker Hub's challenge, the tokens' audience.
const SERVICE: &str = "registry.docker.io";
const ISSUER: &str = "sigil-e2e-auth";
const USER: &str = "hubuser";
const PASSWORD: &str = "hub-pa55word";
/// docker's key for Docker Hub in `auths`.
const DOCKER_KEY: &str = "https://index.docker.io/v1/";
const BOUND: Duration = Duration::from_secs(60);

// --- outside: run a body in the namespaces ----------------------------------

/// Runs the ignored test `docker_hub::inside::NAME` of this binary inside
/// fresh network, mount and PID namespaces, and fails with its output
/// unless it passed.
fn run_inside(name: &str) {
    let unshare = require_binary("unshare", "util-linux");
    require_binary("ip", "iproute2");
    require_binary("mount", "mount");
    require_binary("docker-registry", "docker-registry");
    let dir = TempDir::with_prefix("sigil-e2e-hub-").expect("tempdir");
    let hosts = dir.path().join("hosts");
    fs::write(&hosts, HOSTS).expect("write hosts");
    let me = std::env::current_exe().expect("the test binary's path");
    let root = fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mut args: Vec<String> = ["--net", "--mount", "--pid", "--fork", "--kill-child"]
        .map(str::to_owned)
        .to_vec();
    if !root.expect("read /proc/self") {
        args.push("--map-root-user".into());
    }
    let script = "ip link set lo up && mount --bind \"$1\" /etc/hosts && shift && exec \"$@\"";
    args.extend([
        "sh".into(),
        "-ec".into(),
        script.into(),
        "sh".into(),
        s(&hosts).to_owned(),
    ]);
    args.extend([
        s(&me).to_owned(),
        format!("docker_hub::inside::{name}"),
        "--exact".into(),
        "--ignored".into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
    ]);
    let out = Proc::new(unshare)
        .args(&args)
        .env(INSIDE, "1")
        .env("RUST_BACKTRACE", "1")
        .timeout(Duration::from_secs(300))
        .run();
    assert!(
        out.code == Some(0) && out.stdout.contains("1 passed"),
        "the Docker Hub test {name} failed inside its namespaces \
         (needs root or user namespaces, `unshare` and `ip`)\n{out}"
    );
}

#[test]
fn docker_hub_names_reach_registry_1_with_dockers_credentials() {
    run_inside("names_and_credentials");
}

#[test]
fn docker_hub_with_a_certificate_from_another_ca_is_refused() {
    run_inside("untrusted_certificate");
}

#[test]
fn docker_hub_tokens_come_from_the_realm_on_auth_docker_io() {
    run_inside("bearer_tokens");
}

// --- inside: a fake Docker Hub on 127.0.0.1:443 ------------------------------

/// A test CA, and a server certificate for Docker Hub's names.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).expect("self-sign the CA");
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().expect("server key");
        let mut server = CertificateParams::new(HUB_NAMES.map(str::to_owned).to_vec()).expect("SANs");
        server
            .distinguished_name
            .push(DnType::CommonName, "registry-1.docker.io");
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.use_authority_key_identifier_extension = true;
        let cert = server.signed_by(&key, &issuer).expect("sign the server certificate");
        Pki {
            ca_pem: ca_cert.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

/// How the hub authenticates clients.
enum Auth<'a> {
    /// HTTP basic auth for [`USER`] (htpasswd).
    Basic,
    /// Docker Hub's way: bearer tokens from [`REALM`], signed by the
    /// certificate of this PEM text (distribution's `rootcertbundle`).
    Token(&'a str),
}

/// `docker-registry` on `127.0.0.1:443`, TLS with `pki`; killed on drop.
struct Hub {
    child: Child,
    dir: TempDir,
}

impl Hub {
    fn start(pki: &Pki, auth: Auth<'_>) -> Hub {
        assert_inside();
        let binary = require_binary("docker-registry", "docker-registry");
        let dir = TempDir::with_prefix("sigil-e2e-hub-registry-").expect("tempdir");
        // Paths as YAML double-quoted scalars (JSON strings are valid YAML).
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            fs::write(&path, text).expect("write a registry file");
            serde_json::to_string(s(&path)).expect("a string serializes")
        };
        let own_ca = dir.path().join("ca.pem");
        fs::write(&own_ca, &pki.ca_pem).expect("write the CA");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  maintenance:\n    uploadpurging:\n      enabled: false\nhttp:\n  addr: \"127.0.0.1:443\"\n  secret: sigil-e2e-not-a-secret\n  tls:\n    certificate: {cert}\n    key: {key}\nauth:\n{auth}",
            storage = serde_json::to_string(s(&dir.path().join("storage"))).expect("a string serializes"),
            cert = file("server.crt", &pki.cert_pem),
            key = file("server.key", &pki.key_pem),
            auth = match auth {
                Auth::Basic => format!(
                    "  htpasswd:\n    realm: sigil-e2e-hub\n    path: {}\n",
                    file("htpasswd", &htpasswd_line(USER, PASSWORD))
                ),
                Auth::Token(bundle) => format!(
                    "  token:\n    realm: {REALM}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                    file("token-signer.pem", bundle)
                ),
            },
        );
        let config_path = dir.path().join("config.yml");
        fs::write(&config_path, config).expect("write the registry config");
        let log = fs::File::create(dir.path().join("registry.log")).expect("create the log");
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config_path)
            .env_clear()
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup the log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let mut hub = Hub { child, dir };
        hub.wait_ready(&own_ca);
        hub
    }

    /// Until `https://registry-1.docker.io/v2/` answers (401: auth is on).
    fn wait_ready(&mut self, ca: &Path) {
        let ca = reqwest::Certificate::from_pem(&fs::read(ca).expect("read the CA")).expect("a PEM CA");
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .tls_certs_only([ca])
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("docker-registry exited with {status}:\n{}", self.log());
            }
            match client.get("https://registry-1.docker.io/v2/").send() {
                Ok(answer) => {
                    assert_eq!(answer.status(), 401, "the registry requires credentials");
                    return;
                }
                Err(e) if Instant::now() > deadline => panic!("no answer from the hub: {e:?}\n{}", self.log()),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The repositories stored, by name (`library/alpine`, ...).
    fn repositories(&self) -> Vec<String> {
        let root = self.dir.path().join("storage/docker/registry/v2/repositories");
        let mut found = Vec::new();
        for namespace in fs::read_dir(&root).into_iter().flatten().flatten() {
            for repo in fs::read_dir(namespace.path()).into_iter().flatten().flatten() {
                found.push(format!(
                    "{}/{}",
                    namespace.file_name().to_string_lossy(),
                    repo.file_name().to_string_lossy()
                ));
            }
        }
        found.sort();
        found
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Panics unless this runs inside the namespaces [`run_inside`] makes:
/// Docker Hub's names resolve to loopback and no other network exists.
fn assert_inside() {
    assert!(
        std::env::var_os(INSIDE).is_some(),
        "this body is run by docker_hub::docker_hub_* inside a private network namespace; \
         run those tests, not this one"
    );
    for name in HUB_NAMES {
        let addresses: Vec<_> = (name, 443).to_socket_addrs().expect(name).collect();
        assert!(
            !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback()),
            "{name} is {addresses:?}"
        );
    }
    // The names images carry lead nowhere: only the API host is served.
    for name in ["docker.io", "index.docker.io"] {
        let address = (name, 443).to_socket_addrs().expect(name).next().expect("an address");
        assert!(
            TcpStream::connect(address).is_err(),
            "nothing listens at {name} ({address})"
        );
    }
    // No route out: the real Docker Hub (or anything else) is unreachable.
    let outside = TcpStream::connect_timeout(&"192.0.2.1:443".parse().expect("an address"), Duration::from_secs(1));
    assert!(outside.is_err(), "a private network namespace has no route out");
}

/// `DIR/config.json` with `auths` entries `key: user:password`.
fn docker_config(dir: &Path, entries: &[(&str, &str, &str)]) -> PathBuf {
    let auths: serde_json::Map<String, serde_json::Value> = entries
        .iter()
        .map(|(key, user, password)| {
            let auth = STANDARD.encode(format!("{user}:{password}"));
            ((*key).to_owned(), json!({ "auth": auth }))
        })
        .collect();
    fs::create_dir_all(dir).expect("create the docker config directory");
    fs::write(dir.join("config.json"), json!({ "auths": auths }).to_string()).expect("write config.json");
    dir.to_owned()
}

/// Runs `sigil ARGS --registry-cacert CA` with `DOCKER_CONFIG=config`.
fn hub_sigil(config: &Path, ca: &Path, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--registry-cacert", s(ca)]);
    sigil(&all)
        .env("DOCKER_CONFIG", config)
        .env("SIGIL_PASSWORD", "pw")
        .timeout(BOUND)
        .run()
}

#[track_caller]
fn assert_refused_for_docker_io(out: &Output, wanted: &str) {
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(line.contains("docker.io"), "{line}");
    assert!(line.contains(wanted), "{line}");
    assert!(!line.contains(PASSWORD), "{line}");
}

/// Docker's token service on `auth.docker.io:443` (`127.0.0.3`), TLS with
/// the hub's certificate: `GET /token?service=...&scope=...` with basic auth
/// for [`USER`] is answered with a JWT (ES256, its signing certificate in
/// `x5c`) granting the scopes asked for; anything else with 401. Runs on
/// threads for the rest of the (namespaced) test process.
struct TokenService {
    /// The self-signed certificate tokens are signed with, PEM: the hub's
    /// `rootcertbundle`.
    signer_pem: String,
    /// One line per request: `SNI PATH service=S scope=S,... user=U|-`.
    log: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    fn start(tls: &Pki) -> TokenService {
        let signer_key = KeyPair::generate().expect("token signing key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, "sigil e2e token signer");
        let signer_cert = params.self_signed(&signer_key).expect("self-sign the token signer");
        let signer = Arc::new(Signer {
            key: EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &signer_key.serialize_der())
                .expect("a P-256 PKCS#8 key"),
            cert_der: signer_cert.der().to_vec(),
        });
        let config =
            rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![CertificateDer::from(tls.cert_der.clone())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(tls.key_der.clone())),
                )
                .expect("the hub's certificate and key");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.3:443").expect("bind auth.docker.io:443");
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = log.clone();
        thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let (config, signer, log) = (config.clone(), signer.clone(), shared.clone());
                thread::spawn(move || serve_token(tcp, config, &signer, &log));
            }
        });
        TokenService {
            signer_pem: signer_cert.pem(),
            log,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().expect("not poisoned").clone()
    }
}

struct Signer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
}

impl Signer {
    /// A registry token for `scopes` (`repository:NAME:ACTIONS`), as
    /// distribution's token authenticator reads it.
    fn token(&self, scopes: &[String]) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|scope| {
                let (kind_and_name, actions) = scope.rsplit_once(':')?;
                let (kind, name) = kind_and_name.split_once(':')?;
                Some(json!({ "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>() }))
            })
            .collect();
        let header = json!({ "typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)] });
        let claims = json!({
            "iss": ISSUER, "sub": USER, "aud": SERVICE,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", scopes.join(" ")),
            "access": access,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign the token");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }
}

/// One HTTP/1.1 exchange over TLS, then the connection is closed.
fn serve_token(tcp: TcpStream, config: Arc<rustls::ServerConfig>, signer: &Signer, log: &Mutex<Vec<String>>) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let target = lines.next().and_then(|l| l.split(' ').nth(1)).unwrap_or_default();
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| value.trim().to_owned());
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let values = |name: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let scopes = values("scope");
    let right = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    let user = match &authorization {
        Some(a) if *a == right => USER,
        Some(_) => "wrong",
        None => "-",
    };
    let sni = tls.conn.server_name().unwrap_or("-").to_owned();
    log.lock().expect("not poisoned").push(format!(
        "{sni} {path} service={} scope={} user={user}",
        values("service").join(","),
        scopes.join(" ")
    ));
    let (status, body) = if path != "/token" {
        ("404 Not Found", String::new())
    } else if user == USER && values("service") == [SERVICE] {
        let token = signer.token(&scopes);
        ("200 OK", json!({ "token": token, "expires_in": 300 }).to_string())
    } else {
        (
            "401 Unauthorized",
            r#"{"details":"incorrect username or password"}"#.to_owned(),
        )
    };
    let _ = write!(
        tls,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// `%XX` and `+` of a query string decoded (bytes that are not UTF-8 are replaced).
fn percent_decode(text: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some(hex(bytes[i + 1])? * 16 + hex(bytes[i + 2])?))
            .flatten();
        match (escaped, bytes[i]) {
            (Some(byte), _) => {
                out.push(u8::try_from(byte).expect("two hex digits are a byte"));
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

mod inside {
    use super::*;

    #[test]
    #[ignore = "run inside its namespaces by docker_hub::docker_hub_names_reach_registry_1_with_dockers_credentials"]
    fn names_and_credentials() {
        let work = TempDir::new().expect("tempdir");
        let pki = Pki::new("sigil e2e hub CA");
        let ca = work.path().join("ca.pem");
        fs::write(&ca, &pki.ca_pem).expect("write the CA");
        let hub = Hub::start(&pki, Auth::Basic);
        let layout = work.path().join("layout");
        let image = sample_layout(&layout);
        let source = format!("oci:{}:v1", s(&layout));
        let (key, public) = keypair(work.path(), "release");

        // docker's key, and a wrong password under another Docker Hub
        // spelling that sorts first: docker's key is the one read.
        let config = docker_config(
            &work.path().join("docker"),
            &[(DOCKER_KEY, USER, PASSWORD), ("docker.io", USER, "stale-password")],
        );
        let run = |args: &[&str]| hub_sigil(&config, &ca, args);

        // Every spelling of Docker Hub lands in this registry.
        run(&["copy", &source, "alpine:latest"]).assert_exit(0);
        run(&["copy", &source, "index.docker.io/library/x:1"]).assert_exit(0);
        run(&["copy", &source, "registry-1.docker.io/acme/tool:2"]).assert_exit(0);
        assert_eq!(hub.repositories(), ["acme/tool", "library/alpine", "library/x"]);

        run(&["sign", "alpine", "--key", s(&key)])
            .assert_exit(0)
            .assert_quiet_stderr();
        run(&["sign", "index.docker.io/library/x:1", "--key", s(&key)]).assert_exit(0);
        for name in [
            "alpine",
            "library/alpine",
            "docker.io/alpine",
            "docker.io/library/alpine:latest",
            "index.docker.io/library/alpine",
            "registry-1.docker.io/library/alpine",
        ] {
            let out = run(&["verify", name, "--key", s(&public), "--output", "json"]);
            out.assert_exit(0).assert_quiet_stderr();
            let report = &out.stdout_json()["images"][0];
            assert_eq!(report["image"], "docker.io/library/alpine:latest", "{name}");
            assert_eq!(report["digest"], image.manifest.digest.as_str(), "{name}");
            assert_eq!(
                report["signatures"][0]["dockerReference"], "docker.io/library/alpine",
                "{name}"
            );
            let human = run(&["verify", name, "--key", s(&public)]);
            human.assert_exit(0);
            assert!(
                human.stdout.starts_with("PASS   docker.io/library/alpine:latest ("),
                "{name}: {human}"
            );
            assert!(!human.stdout.contains("registry-1"), "{human}");
        }
        let x = run(&[
            "verify",
            "docker.io/library/x:1",
            "--key",
            s(&public),
            "--output",
            "json",
        ]);
        x.assert_exit(0);
        assert_eq!(x.stdout_json()["images"][0]["image"], "docker.io/library/x:1");
        // twin: the unsigned image on the same hub fails (exit 1), named as docker.io
        let unsigned = run(&["verify", "acme/tool:2", "--key", s(&public)]);
        unsigned.assert_exit(1);
        assert!(
            unsigned.stdout.starts_with("FAIL   docker.io/acme/tool:2 ("),
            "{unsigned}"
        );

        // Policies match the docker.io name whatever spelling was given.
        let policy = write_policy(
            work.path(),
            "publishers:\n  release: {key: release.pub}\nrules:\n  - name: hub-library\n    images: [\"docker.io/library/*\"]\n    signatures: {anyOf: [release]}\n",
        );
        for name in ["alpine", "registry-1.docker.io/library/x:1"] {
            let out = run(&["verify", name, "--policy", s(&policy), "--output", "json"]);
            out.assert_exit(0);
            assert_eq!(out.stdout_json()["images"][0]["rule"], "hub-library", "{name}");
        }
        let out = run(&[
            "verify",
            "docker.io/acme/tool:2",
            "--policy",
            s(&policy),
            "--output",
            "json",
        ]);
        out.assert_exit(1);

        // Credentials: only the key docker reads, or another Docker Hub
        // spelling when it is absent (containers/image reads those too).
        let other = |name: &str, entries: &[(&str, &str, &str)]| docker_config(&work.path().join(name), entries);
        let podman = other("podman", &[("docker.io", USER, PASSWORD)]);
        hub_sigil(&podman, &ca, &["verify", "alpine", "--key", s(&public)]).assert_exit(0);
        let verify = |config: &Path| hub_sigil(config, &ca, &["verify", "alpine", "--key", s(&public)]);
        // twins: the right password under names that are not Docker Hub's
        // registry, the wrong one under docker's key, and no config at all.
        for (name, key) in [
            ("website", "https://hub.docker.com/"),
            ("lookalike", "docker.io.example"),
        ] {
            let config = other(name, &[(key, USER, PASSWORD)]);
            assert_refused_for_docker_io(&verify(&config), "none are configured");
        }
        let wrong = other(
            "wrong",
            &[(DOCKER_KEY, USER, "wrong-password"), ("docker.io", USER, PASSWORD)],
        );
        assert_refused_for_docker_io(&verify(&wrong), "authentication failed");
        assert_refused_for_docker_io(&verify(&work.path().join("absent")), "none are configured");
        // the push side reads the same key
        let signed = hub_sigil(&wrong, &ca, &["sign", "alpine", "--key", s(&key)]);
        assert_refused_for_docker_io(&signed, "authentication failed");
    }

    #[test]
    #[ignore = "run inside its namespaces by docker_hub::docker_hub_with_a_certificate_from_another_ca_is_refused"]
    fn untrusted_certificate() {
        let work = TempDir::new().expect("tempdir");
        let test_ca = Pki::new("sigil e2e hub CA");
        let impostor = Pki::new("sigil e2e impostor CA");
        let ca = work.path().join("ca.pem");
        fs::write(&ca, &test_ca.ca_pem).expect("write the CA");
        let hub = Hub::start(&impostor, Auth::Basic);
        let config = docker_config(&work.path().join("docker"), &[(DOCKER_KEY, USER, PASSWORD)]);
        let (_, public) = keypair(work.path(), "release");
        for name in ["alpine", "docker.io/library/alpine", "index.docker.io/library/alpine"] {
            let out = hub_sigil(&config, &ca, &["verify", name, "--key", s(&public)]);
            out.assert_exit(2);
            let line = out.assert_one_line_error();
            assert!(line.contains("docker.io/library/alpine"), "{line}");
            assert!(line.contains("registry-1.docker.io"), "{line}");
            assert!(line.contains("not trusted"), "{line}");
        }
        // without --registry-cacert: the system roots do not know either CA
        let out = sigil(&["verify", "alpine", "--key", s(&public)])
            .env("DOCKER_CONFIG", &config)
            .timeout(BOUND)
            .run();
        out.assert_exit(2);
        assert!(out.assert_one_line_error().contains("not trusted"), "{out}");
        drop(hub);

        // Something on Docker Hub's port that does not speak TLS: even with
        // --allow-insecure-registry, sigil does not fall back to plain HTTP
        // there, so docker's password is never offered to it in clear text.
        // (port 443 for the TLS attempt, port 80 where plain HTTP would go)
        let heard = Arc::new(Mutex::new(String::new()));
        for port in [443, 80] {
            let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind");
            let log = heard.clone();
            thread::spawn(move || {
                for stream in listener.incoming().flatten().take(8) {
                    let mut stream = stream;
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut buf = [0_u8; 4096];
                    let n = stream.read(&mut buf).unwrap_or(0);
                    log.lock()
                        .expect("log")
                        .push_str(&String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase());
                    let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"hub\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                }
            });
        }
        let out = sigil(&["verify", "alpine", "--key", s(&public), "--allow-insecure-registry"])
            .env("DOCKER_CONFIG", &config)
            .timeout(BOUND)
            .run();
        out.assert_exit(2);
        // the flag's own warning, then the one error line
        let errors: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(errors.len(), 1, "{out}");
        assert!(errors[0].contains("registry-1.docker.io"), "{out}");
        let heard = heard.lock().expect("log").clone();
        assert!(
            !heard.contains("authorization:"),
            "credentials were offered over plain HTTP: {heard}"
        );
        assert!(
            !heard.contains("get /v2/"),
            "sigil fell back to plain HTTP for Docker Hub: {heard}"
        );
    }

    #[test]
    #[ignore = "run inside its namespaces by docker_hub::docker_hub_tokens_come_from_the_realm_on_auth_docker_io"]
    fn bearer_tokens() {
        let work = TempDir::new().expect("tempdir");
        let pki = Pki::new("sigil e2e hub CA");
        let ca = work.path().join("ca.pem");
        fs::write(&ca, &pki.ca_pem).expect("write the CA");
        let tokens = TokenService::start(&pki);
        let hub = Hub::start(&pki, Auth::Token(&tokens.signer_pem));
        let layout = work.path().join("layout");
        let image = sample_layout(&layout);
        let source = format!("oci:{}:v1", s(&layout));
        let (key, public) = keypair(work.path(), "release");
        let config = docker_config(&work.path().join("docker"), &[(DOCKER_KEY, USER, PASSWORD)]);
        let run = |args: &[&str]| hub_sigil(&config, &ca, args);

        run(&["copy", &source, "alpine:3"]).assert_exit(0);
        run(&["sign", "alpine:3", "--key", s(&key)]).assert_exit(0);
        let out = run(&[
            "verify",
            "docker.io/library/alpine:3",
            "--key",
            s(&public),
            "--output",
            "json",
        ]);
        out.assert_exit(0).assert_quiet_stderr();
        let report = &out.stdout_json()["images"][0];
        assert_eq!(report["image"], "docker.io/library/alpine:3");
        assert_eq!(report["digest"], image.manifest.digest.as_str());
        assert_eq!(hub.repositories(), ["library/alpine"]);

        // The tokens came from the realm's host, for Docker Hub's service and
        // the repository's scopes, with docker's credentials.
        let log = tokens.log();
        assert!(!log.is_empty(), "no token was asked for");
        for line in &log {
            assert!(
                line.starts_with("auth.docker.io /token service=registry.docker.io scope=repository:library/alpine:"),
                "{log:#?}"
            );
            assert!(line.ends_with(" user=hubuser"), "{log:#?}");
        }
        assert!(log.iter().any(|l| l.contains(":pull,push ")), "{log:#?}");
        assert!(log.iter().any(|l| l.contains(":pull ")), "{log:#?}");

        // twins: the token service refuses a wrong password and anonymous
        // access, and so the run fails (exit 2), naming docker.io.
        let wrong = docker_config(&work.path().join("wrong"), &[(DOCKER_KEY, USER, "wrong-password")]);
        let out = hub_sigil(&wrong, &ca, &["verify", "alpine:3", "--key", s(&public)]);
        assert_refused_for_docker_io(&out, "the token service refused user \"hubuser\"");
        let out = hub_sigil(
            &work.path().join("absent"),
            &ca,
            &["verify", "alpine:3", "--key", s(&public)],
        );
        assert_refused_for_docker_io(&out, "the token service refused anonymous access");
        assert!(tokens.log().iter().any(|l| l.ends_with(" user=wrong")));
        assert!(tokens.log().iter().any(|l| l.ends_with(" user=-")));
    }
}
