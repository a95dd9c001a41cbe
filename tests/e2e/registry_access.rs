//! Registry access as users have it: a TLS registry with basic auth, reached
//! with credentials from flags, the environment, a docker config or a
//! credential helper; each accepting case with its rejecting twins (wrong
//! password, no credentials, untrusted certificate, plain HTTP where it is
//! not allowed), and the password never shown or sent in clear text, nor to
//! any registry but the one it is for (`--registry-host`).

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use tempfile::TempDir;

use crate::fixtures::{keypair, s};
use crate::support::{Hostile, Mode, Output, Proc, Registry, sample_layout, sigil};

const USER: &str = "alice";
const PASSWORD: &str = "s3cret";
/// Far longer than any of these runs takes; a hang fails instead of stalling.
const BOUND: Duration = Duration::from_secs(30);

/// A TLS + basic-auth registry holding `app:v1` (pushed by `sigil copy`), and a key pair.
struct Setup {
    registry: Registry,
    dir: TempDir,
    key: PathBuf,
    public: PathBuf,
    image: String,
}

impl Setup {
    fn new() -> Setup {
        let registry = Registry::start_tls_auth(USER, PASSWORD);
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = dir.path().join("layout");
        sample_layout(&layout);
        let image = registry.image("app:v1");
        let source = format!("oci:{}:v1", s(&layout));
        let ca = registry.ca_cert_path();
        let mut args = vec!["copy", source.as_str(), image.as_str()];
        args.extend(flags(&ca));
        sigil(&args).timeout(BOUND).run().assert_exit(0);
        let (key, public) = keypair(dir.path(), "release");
        Setup {
            registry,
            dir,
            key,
            public,
            image,
        }
    }

    fn ca(&self) -> String {
        s(&self.registry.ca_cert_path()).to_owned()
    }

    /// `sigil sign IMAGE --key KEY --registry-cacert CA EXTRA...`, password set.
    fn sign(&self, extra: &[&str]) -> Proc {
        let ca = self.ca();
        let mut args = vec![
            "sign",
            self.image.as_str(),
            "--key",
            s(&self.key),
            "--registry-cacert",
            &ca,
        ];
        args.extend_from_slice(extra);
        sigil(&args).env("SIGIL_PASSWORD", "pw").timeout(BOUND)
    }

    /// `sigil verify IMAGE --key PUB --registry-cacert CA EXTRA...`
    fn verify(&self, extra: &[&str]) -> Proc {
        let ca = self.ca();
        let mut args = vec![
            "verify",
            self.image.as_str(),
            "--key",
            s(&self.public),
            "--registry-cacert",
            &ca,
        ];
        args.extend_from_slice(extra);
        sigil(&args).timeout(BOUND)
    }
}

/// The right credentials and CA as flags.
fn flags(ca: &Path) -> [&str; 6] {
    [
        "--registry-cacert",
        s(ca),
        "--registry-username",
        USER,
        "--registry-password",
        PASSWORD,
    ]
}

/// `Basic` credentials as they travel in an `Authorization` header.
fn basic_token(password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"))
}

/// Panics when `secret` (or its basic-auth encoding) shows in stdout or stderr.
#[track_caller]
fn assert_no_secret(out: &Output, secret: &str) {
    for shown in [secret.to_owned(), basic_token(secret)] {
        assert!(
            !out.stdout.contains(&shown) && !out.stderr.contains(&shown),
            "the secret {shown:?} was shown\n{out}"
        );
    }
}

/// One line on stderr, exit 2, naming failed authentication and where credentials come from.
#[track_caller]
fn assert_auth_refused(out: &Output) {
    out.assert_exit(2);
    let line = out.assert_one_line_error().to_lowercase();
    assert!(line.contains("authentication failed"), "{line}");
    assert!(line.contains("credentials"), "{line}");
}

#[test]
fn credentials_from_flags_sign_and_verify_and_wrong_or_missing_ones_are_refused() {
    let setup = Setup::new();
    let ok = ["--registry-username", USER, "--registry-password", PASSWORD];
    let signed = setup.sign(&ok).run();
    signed.assert_exit(0).assert_quiet_stderr();
    assert_no_secret(&signed, PASSWORD);
    let verified = setup.verify(&ok).run();
    verified.assert_exit(0).assert_quiet_stderr();
    assert_no_secret(&verified, PASSWORD);

    // twins: a wrong password, for reading and for writing
    let wrong = ["--registry-username", USER, "--registry-password", "wr0ng-pa55"];
    for out in [setup.verify(&wrong).run(), setup.sign(&wrong).run()] {
        assert_auth_refused(&out);
        assert_no_secret(&out, "wr0ng-pa55");
    }
    let wrong_user = setup
        .verify(&["--registry-username", "mallory", "--registry-password", PASSWORD])
        .run();
    assert_auth_refused(&wrong_user);
    assert_no_secret(&wrong_user, PASSWORD);

    // twins: no credentials at all, and half of them
    let anonymous = setup.verify(&[]).run();
    assert_auth_refused(&anonymous);
    assert!(anonymous.stderr.contains("none are configured"), "{anonymous}");
    let half = setup.verify(&["--registry-username", USER]).run();
    half.assert_exit(2);
    assert!(half.assert_one_line_error().contains("--registry-password"), "{half}");
}

#[test]
fn credentials_from_the_environment() {
    let setup = Setup::new();
    let env = |proc: Proc, password: &str| {
        proc.env("SIGIL_REGISTRY_USERNAME", USER)
            .env("SIGIL_REGISTRY_PASSWORD", password)
    };
    env(setup.sign(&[]), PASSWORD)
        .run()
        .assert_exit(0)
        .assert_quiet_stderr();
    env(setup.verify(&[]), PASSWORD)
        .run()
        .assert_exit(0)
        .assert_quiet_stderr();

    let wrong = env(setup.verify(&[]), "wr0ng-pa55").run();
    assert_auth_refused(&wrong);
    assert_no_secret(&wrong, "wr0ng-pa55");
    // `--help` shows where the password may come from, never its value
    let help = env(sigil(&["verify", "--help"]), PASSWORD).run();
    help.assert_exit(0);
    assert!(help.stdout.contains("SIGIL_REGISTRY_PASSWORD"), "{help}");
    assert_no_secret(&help, PASSWORD);
}

#[test]
fn credentials_from_a_docker_config() {
    let setup = Setup::new();
    let config = setup.dir.path().join("docker");
    setup.registry.write_docker_config(&config);
    let with_config = |proc: Proc| proc.env("DOCKER_CONFIG", &config);
    with_config(setup.sign(&[])).run().assert_exit(0).assert_quiet_stderr();
    with_config(setup.verify(&[]))
        .run()
        .assert_exit(0)
        .assert_quiet_stderr();

    // `~/.docker/config.json` is read when DOCKER_CONFIG is not set
    let home = setup.dir.path().join("home");
    setup.registry.write_docker_config(&home.join(".docker"));
    setup.verify(&[]).home(&home).run().assert_exit(0);

    // twins: a wrong password in the config, and an entry for another registry only
    let wrong = setup.dir.path().join("wrong");
    std::fs::create_dir_all(&wrong).expect("mkdir");
    let auths = |host: &str, password: &str| {
        serde_json::json!({ "auths": { host: { "auth": basic_token(password) } } }).to_string()
    };
    std::fs::write(wrong.join("config.json"), auths(&setup.registry.host(), "wr0ng-pa55")).expect("write config");
    let out = setup.verify(&[]).env("DOCKER_CONFIG", &wrong).run();
    assert_auth_refused(&out);
    assert_no_secret(&out, "wr0ng-pa55");
    // explicit credentials win over the config
    setup
        .verify(&["--registry-username", USER, "--registry-password", PASSWORD])
        .env("DOCKER_CONFIG", &wrong)
        .run()
        .assert_exit(0);
    let other = setup.dir.path().join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::write(other.join("config.json"), auths("registry.example", PASSWORD)).expect("write config");
    let out = setup.verify(&[]).env("DOCKER_CONFIG", &other).run();
    assert_auth_refused(&out);
    assert!(out.stderr.contains("none are configured"), "{out}");

    // a config that is not JSON is one clear line
    std::fs::write(other.join("config.json"), "{ not json").expect("write config");
    let out = setup.verify(&[]).env("DOCKER_CONFIG", &other).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(line.contains("config.json") && line.contains("not valid JSON"), "{out}");
    assert_eq!(
        line.matches("line 1 column").count(),
        1,
        "the cause is said once\n{out}"
    );
}

/// Writes `dir/docker-credential-sigiltest`, which answers `registry` with
/// `password` and anything else with "credentials not found".
fn credential_helper(dir: &Path, registry: &str, body: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let script = dir.join("docker-credential-sigiltest");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread server\nif [ \"$server\" = \"{registry}\" ]; then\n{body}\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n"
        ),
    )
    .expect("write the helper");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn credentials_from_a_credential_helper() {
    let setup = Setup::new();
    let host = setup.registry.host();
    let config = setup.dir.path().join("docker");
    std::fs::create_dir_all(&config).expect("mkdir");
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({ "credHelpers": { &host: "sigiltest" } }).to_string(),
    )
    .expect("write config");
    let bin = setup.dir.path().join("bin");
    let path = format!("{}:{}", s(&bin), std::env::var("PATH").unwrap_or_default());
    let with_helper = |proc: Proc| proc.env("DOCKER_CONFIG", &config).env("PATH", &path);

    credential_helper(
        &bin,
        &host,
        &format!("  echo '{{\"ServerURL\":\"{host}\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'"),
    );
    let signed = with_helper(setup.sign(&[])).run();
    signed.assert_exit(0).assert_quiet_stderr();
    let verified = with_helper(setup.verify(&["-vv"])).run();
    verified.assert_exit(0);
    assert_no_secret(&verified, PASSWORD);

    // twins: the helper knows a wrong secret; knows nothing; fails
    credential_helper(
        &bin,
        &host,
        &format!("  echo '{{\"ServerURL\":\"{host}\",\"Username\":\"{USER}\",\"Secret\":\"wr0ng-pa55\"}}'"),
    );
    let out = with_helper(setup.verify(&[])).run();
    assert_auth_refused(&out);
    assert_no_secret(&out, "wr0ng-pa55");
    credential_helper(&bin, "some.other.registry", "  exit 0");
    let out = with_helper(setup.verify(&[])).run();
    assert_auth_refused(&out);
    assert!(out.stderr.contains("none are configured"), "{out}");
    credential_helper(&bin, &host, "  echo 'keychain locked' >&2; exit 1");
    let out = with_helper(setup.verify(&[])).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(
        line.contains("docker-credential-sigiltest") && line.contains("keychain locked"),
        "{out}"
    );
    // a helper that is not installed
    let out = setup.verify(&[]).env("DOCKER_CONFIG", &config).run();
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("docker-credential-sigiltest"),
        "{out}"
    );

    // the same helper as the default store (`credsStore`), as Docker Desktop writes it
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({ "credsStore": "sigiltest", "auths": { &host: {} } }).to_string(),
    )
    .expect("write config");
    credential_helper(
        &bin,
        &host,
        &format!("  echo '{{\"ServerURL\":\"{host}\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}'"),
    );
    with_helper(setup.verify(&[])).run().assert_exit(0);
    credential_helper(&bin, "some.other.registry", "  exit 0");
    assert_auth_refused(&with_helper(setup.verify(&[])).run());
}

#[test]
fn secrets_never_appear_in_verbose_logs() {
    let setup = Setup::new();
    let ok = ["--registry-username", USER, "--registry-password", PASSWORD, "-vv"];
    let signed = setup.sign(&ok).run();
    signed.assert_exit(0);
    assert_no_secret(&signed, PASSWORD);
    let verified = setup.verify(&ok).run();
    verified.assert_exit(0);
    assert_no_secret(&verified, PASSWORD);
    // -v names each exchange: method, URL, status, time
    let exchanges: Vec<&str> = verified
        .stderr
        .lines()
        .filter(|l| l.contains("GET https://") && l.contains(" -> ") && l.ends_with(" ms"))
        .collect();
    assert!(
        exchanges.iter().any(|l| l.contains("/v2/") && l.contains("-> 200")),
        "{verified}"
    );
    assert!(
        exchanges.iter().any(|l| l.contains("-> 401")),
        "the challenge is logged too: {verified}"
    );
    assert!(!verified.stderr.contains("scope="), "no query strings: {verified}");
    // -v names the evidence found and each verification step
    assert!(
        verified
            .stderr
            .contains(".sig: found application/vnd.dev.cosign.simplesigning.v1+json layer sha256:"),
        "{verified}"
    );
    assert!(verified.stderr.contains(": verified, signed by "), "{verified}");
    let wrong = ["--registry-username", USER, "--registry-password", "wr0ng-pa55", "-vv"];
    let out = setup.verify(&wrong).arg("--output").arg("json").run();
    out.assert_exit(2);
    assert_no_secret(&out, "wr0ng-pa55");
    // every crate's logs, the HTTP and TLS stacks included
    for proc in [setup.verify(&ok), setup.verify(&wrong)] {
        let out = proc.env("SIGIL_LOG", "trace").run();
        assert!(!out.stderr.is_empty(), "SIGIL_LOG=trace logs something\n{out}");
        assert_no_secret(&out, PASSWORD);
        assert_no_secret(&out, "wr0ng-pa55");
    }
}

/// The bytes one client connection sent, filled in as they pass.
type Sent = Arc<Mutex<Vec<u8>>>;

/// A loopback TCP relay to `upstream` that keeps every byte clients send,
/// one buffer per connection: what a network observer would see.
struct Recorder {
    addr: SocketAddr,
    connections: Arc<Mutex<Vec<Sent>>>,
    stop: Arc<AtomicBool>,
}

impl Recorder {
    fn start(upstream: &str) -> Recorder {
        let upstream: SocketAddr = upstream.parse().expect("upstream is IP:PORT");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound socket has an address");
        let connections: Arc<Mutex<Vec<Sent>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (conns, stopped) = (Arc::clone(&connections), Arc::clone(&stop));
        thread::spawn(move || {
            for client in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let seen = Arc::new(Mutex::new(Vec::new()));
                conns.lock().expect("no panic while locked").push(Arc::clone(&seen));
                relay(client, server, seen);
            }
        });
        Recorder {
            addr,
            connections,
            stop,
        }
    }

    /// `127.0.0.1:PORT/app:v1`
    fn image(&self) -> String {
        format!("{}/app:v1", self.addr)
    }

    /// What each connection's client sent so far.
    fn sent(&self) -> Vec<Vec<u8>> {
        let conns = self.connections.lock().expect("no panic while locked");
        conns
            .iter()
            .map(|c| c.lock().expect("no panic while locked").clone())
            .collect()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Copies both ways between `client` and `server`, recording the client's bytes.
fn relay(client: TcpStream, server: TcpStream, seen: Sent) {
    let (mut client_read, mut server_write) = (
        client.try_clone().expect("clone socket"),
        server.try_clone().expect("clone socket"),
    );
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = client_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.lock().expect("no panic while locked").extend_from_slice(&buf[..n]);
            if server_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server_write.shutdown(Shutdown::Write);
    });
    let (mut server_read, mut client_write) = (server, client);
    thread::spawn(move || {
        let _ = std::io::copy(&mut server_read, &mut client_write);
        let _ = client_write.shutdown(Shutdown::Write);
    });
}

/// True when `haystack` contains `needle`, case-insensitively for ASCII.
fn contains(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.to_ascii_lowercase();
    haystack
        .to_ascii_lowercase()
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Panics unless every connection began with a TLS handshake record and no
/// byte of plain HTTP, credentials included, was sent.
#[track_caller]
fn assert_only_tls_sent(recorder: &Recorder) {
    let sent = recorder.sent();
    assert!(!sent.is_empty(), "sigil connected through the recorder");
    for bytes in &sent {
        // 0x16 = TLS handshake record (the ClientHello), 0x03 = TLS major version.
        assert!(
            bytes.len() >= 2 && bytes[..2] == [0x16, 0x03],
            "not TLS: {:?}",
            String::from_utf8_lossy(bytes)
        );
        // A request line ends in " HTTP/1.1\r\n"; the ClientHello's ALPN list names "http/1.1" bare.
        for clear in [
            "authorization",
            PASSWORD,
            &basic_token(PASSWORD),
            " HTTP/1.1\r\n",
            "/v2/",
        ] {
            assert!(!contains(bytes, clear), "{clear:?} went out in clear text");
        }
    }
}

#[test]
fn untrusted_certificate_is_refused_and_nothing_goes_out_in_clear_text() {
    let setup = Setup::new();
    setup
        .sign(&["--registry-username", USER, "--registry-password", PASSWORD])
        .run()
        .assert_exit(0);
    let creds = ["--registry-username", USER, "--registry-password", PASSWORD];

    // accepting twin through the recorder: the CA given, everything encrypted
    let recorder = Recorder::start(&setup.registry.host());
    let (ca, image) = (setup.ca(), recorder.image());
    let mut args = vec![
        "verify",
        image.as_str(),
        "--key",
        s(&setup.public),
        "--registry-cacert",
        &ca,
    ];
    args.extend(creds);
    let ok = sigil(&args).timeout(BOUND).run();
    ok.assert_exit(0);
    assert_only_tls_sent(&recorder);

    // without the CA: refused on the TLS handshake, no fallback to plain HTTP
    let recorder = Recorder::start(&setup.registry.host());
    let image = recorder.image();
    let mut args = vec!["verify", image.as_str(), "--key", s(&setup.public)];
    args.extend(creds);
    let out = sigil(&args).timeout(BOUND).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(
        line.contains("not trusted") && line.contains("--registry-cacert"),
        "{out}"
    );
    assert_no_secret(&out, PASSWORD);
    assert_only_tls_sent(&recorder);

    // the same for sign, which would push: refused before anything is written
    let recorder = Recorder::start(&setup.registry.host());
    let image = format!("{}/app:v1", recorder.addr);
    let mut args = vec!["sign", image.as_str(), "--key", s(&setup.key)];
    args.extend(creds);
    let out = sigil(&args).env("SIGIL_PASSWORD", "pw").timeout(BOUND).run();
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("--registry-cacert"), "{out}");
    assert_only_tls_sent(&recorder);
    // the registry saw the refused handshakes and never the password
    let log = setup.registry.log();
    assert!(log.contains("TLS handshake error"), "{log}");
    assert!(
        !log.contains(PASSWORD) && !log.contains(&basic_token(PASSWORD)),
        "{log}"
    );
}

#[test]
fn plain_http_is_refused_for_registries_that_are_not_loopback() {
    let public = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keys/p256-pub.pem");
    // `.invalid` never resolves (RFC 6761): no traffic leaves the machine.
    let out = sigil(&["verify", "example.invalid:5000/app:v1", "--key", s(&public)])
        .timeout(BOUND)
        .run();
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error()
            .contains("cannot reach example.invalid:5000"),
        "{out}"
    );

    // `127.1` is not a loopback *name* to sigil (only localhost, 127.x.x.x and
    // [::1] are), yet the URL parser maps it to 127.0.0.1: a plain-HTTP
    // registry that is reachable but not loopback by name, without leaving the machine.
    let hostile = Hostile::start(Mode::Honest);
    let port = hostile
        .host()
        .rsplit_once(':')
        .map(|(_, p)| p.to_owned())
        .expect("IP:PORT");
    let image = format!("127.1:{port}/app:v1");
    let out = sigil(&["verify", &image, "--key", s(&public)]).timeout(BOUND).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(line.contains(&format!("cannot reach 127.1:{port}")), "{out}");
    assert!(
        line.contains("--allow-insecure-registry"),
        "the way out is named\n{out}"
    );
    assert_eq!(
        hostile.request_log(),
        Vec::<String>::new(),
        "plain HTTP was sent without --allow-insecure-registry"
    );

    // accepting twin: with the dangerous switch, plain HTTP is used, with a warning
    let out = sigil(&["verify", &image, "--key", s(&public), "--allow-insecure-registry"])
        .timeout(BOUND)
        .run();
    out.assert_exit(1); // reached and evaluated: the image is not signed
    assert!(out.stdout.contains("no signatures found"), "{out}");
    assert!(
        out.stderr.contains("--allow-insecure-registry"),
        "the switch warns\n{out}"
    );
    assert!(out.stderr.contains("plain HTTP"), "the switch warns\n{out}");
    assert!(
        hostile
            .request_log()
            .iter()
            .any(|r| r.starts_with("GET /v2/app/manifests/v1")),
        "{:?}",
        hostile.request_log()
    );
}

#[test]
fn ipv6_loopback_registries_are_reached_over_plain_http() {
    let registry = Registry::start_ipv6();
    assert!(registry.host().starts_with("[::1]:"), "{}", registry.host());
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let (other, _) = keypair(dir.path(), "other");
    let other_public = other.with_extension("pub");
    crate::fixtures::push_sample(&registry, "v6", "v1", 91);
    let image = registry.image("v6:v1");
    sigil(&["sign", &image, "--key", s(&key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let ok = sigil(&["verify", &image, "--key", s(&public), "--output", "json"]).run();
    ok.assert_exit(0);
    assert_eq!(ok.stdout_json()["images"][0]["image"], image.as_str());
    // twin: another key
    sigil(&["verify", &image, "--key", s(&other_public)])
        .run()
        .assert_exit(1);
}

/// `sigil verify OURS THEIRS --key PUB --registry-cacert CA --registry-username alice --registry-password ... EXTRA... --output json`
fn verify_two(setup: &Setup, theirs: &str, extra: &[&str]) -> Proc {
    let ca = setup.ca();
    let mut args = vec![
        "verify",
        setup.image.as_str(),
        theirs,
        "--key",
        s(&setup.public),
        "--registry-cacert",
        &ca,
        "--registry-username",
        USER,
        "--registry-password",
        PASSWORD,
        "--output",
        "json",
    ];
    args.extend_from_slice(extra);
    sigil(&args).timeout(BOUND)
}

#[test]
fn explicit_credentials_go_only_to_the_registry_they_are_for() {
    let setup = Setup::new();
    setup
        .sign(&["--registry-username", USER, "--registry-password", PASSWORD])
        .run()
        .assert_exit(0);
    let ours = setup.registry.host();
    let alice = format!("Basic {}", basic_token(PASSWORD));

    // images on two registries and no --registry-host: refused before any request
    let hostile = Hostile::start(Mode::BasicAuth);
    let theirs = hostile.image("app:v1");
    let out = verify_two(&setup, &theirs, &[]).run();
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(
        line.contains("several registries") && line.contains("--registry-host"),
        "{out}"
    );
    assert_eq!(hostile.requests(), 0, "{:?}", hostile.request_log());

    // --registry-host names ours: ours verifies; the other registry asks for
    // basic auth too and is sent nothing
    let out = verify_two(&setup, &theirs, &["--registry-host", &ours]).run();
    out.assert_exit(2); // the other image cannot be evaluated
    let report = out.stdout_json();
    assert_eq!(report["images"][0]["verified"], true, "{out}");
    let refused = report["images"][1]["error"].as_str().unwrap_or_default();
    assert!(refused.contains("none are configured"), "{out}");
    assert!(hostile.requests() > 0, "the other registry was reached");
    assert_eq!(hostile.authorizations(), Vec::<String>::new(), "credentials leaked");
    assert_no_secret(&out, PASSWORD);
    // the same through the environment variable
    let out = verify_two(&setup, &theirs, &[]).env("SIGIL_REGISTRY_HOST", &ours).run();
    out.assert_exit(2);
    assert_eq!(out.stdout_json()["images"][0]["verified"], true, "{out}");
    assert_eq!(hostile.authorizations(), Vec::<String>::new(), "credentials leaked");

    // twin: naming the other registry sends them there (the recorder does
    // see credentials when they come), and ours gets nothing
    let out = verify_two(&setup, &theirs, &["--registry-host", &hostile.host()]).run();
    out.assert_exit(2);
    assert!(
        hostile.authorizations().contains(&alice),
        "{:?}",
        hostile.authorizations()
    );
    let report = out.stdout_json();
    assert!(
        report["images"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("none are configured"),
        "{out}"
    );

    // the other registry gets its own docker config entry, never the explicit credentials
    let hostile = Hostile::start(Mode::BasicAuth);
    let theirs = hostile.image("app:v1");
    let config = setup.dir.path().join("their-config");
    std::fs::create_dir_all(&config).expect("mkdir");
    let bob = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:their-pw")
    );
    std::fs::write(
        config.join("config.json"),
        serde_json::json!({ "auths": { hostile.host(): { "auth": bob.trim_start_matches("Basic ") } } }).to_string(),
    )
    .expect("write config");
    let out = verify_two(&setup, &theirs, &["--registry-host", &ours])
        .env("DOCKER_CONFIG", &config)
        .run();
    out.assert_exit(2);
    assert_eq!(out.stdout_json()["images"][0]["verified"], true, "{out}");
    let seen = hostile.authorizations();
    assert!(!seen.is_empty() && seen.iter().all(|a| *a == bob), "{seen:?}");

    // a --registry-host that is none of the images' registries is a usage error
    let out = verify_two(&setup, &theirs, &["--registry-host", "registry.example"]).run();
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("is not the registry of any image"),
        "{out}"
    );
    let out = verify_two(&setup, &theirs, &["--registry-host", "https://registry.example/"]).run();
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("without a scheme"), "{out}");
}

#[test]
fn one_registry_needs_no_registry_host_and_a_copy_across_two_does() {
    let setup = Setup::new();
    let creds = ["--registry-username", USER, "--registry-password", PASSWORD];
    // accepting twin: every image on one registry, the credentials go there
    setup.verify(&creds).run().assert_exit(1); // reached and evaluated: not signed yet
    // a layout image beside it does not count as a registry
    let dir = tempfile::tempdir().expect("tempdir");
    sample_layout(&dir.path().join("layout"));
    let layout = format!("oci:{}:v1", s(&dir.path().join("layout")));
    let ca = setup.ca();
    let mut args = vec!["copy", layout.as_str(), setup.image.as_str(), "--registry-cacert", &ca];
    args.extend(creds);
    sigil(&args).timeout(BOUND).run().assert_exit(0);

    // copying from another registry into ours with credentials needs --registry-host
    let hostile = Hostile::start(Mode::Honest);
    let source = hostile.image("app:v1");
    let mut args = vec!["copy", source.as_str(), setup.image.as_str(), "--registry-cacert", &ca];
    args.extend(creds);
    let out = sigil(&args).timeout(BOUND).run();
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("--registry-host"), "{out}");
    assert_eq!(hostile.requests(), 0);
    let ours = setup.registry.host();
    args.extend(["--registry-host", ours.as_str()]);
    sigil(&args).timeout(BOUND).run().assert_exit(0);
    assert_eq!(
        hostile.authorizations(),
        Vec::<String>::new(),
        "credentials leaked to the source"
    );
}
