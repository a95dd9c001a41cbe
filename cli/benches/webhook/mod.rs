//! Shared by the admission benchmarks (`admission`, `admission_soak`): a
//! `docker-registry` that can be killed and started again on the same port
//! and storage, with its access log on (to count the requests sigil makes);
//! the release `sigil admission` server with its stderr drained; HTTPS
//! clients trusting the test CA; AdmissionReview bodies; open-loop paced load
//! from many keep-alive connections; latency percentiles; `/proc` readings.

#![allow(dead_code, reason = "each admission bench uses its own part of this module")]

use std::fs::{self, File};
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

// ---------------------------------------------------------------- registry

/// A `docker-registry` (CNCF distribution 2.8) on a loopback port, its
/// storage in `dir`; unlike `sigil_testkit::Registry` it can be killed and
/// started again on the same port and storage, and it keeps an access log.
pub struct Registry {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Registry {
    /// Starts one in `dir` (created), on a free port.
    pub fn start(dir: &Path) -> Registry {
        let binary = sigil_testkit::require_binary("docker-registry", "docker-registry");
        fs::create_dir_all(dir.join("storage")).expect("create the registry storage directory");
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let mut registry = Registry {
                binary: binary.clone(),
                dir: dir.to_owned(),
                port,
                child: None,
            };
            match registry.spawn() {
                Ok(()) => return registry,
                Err(e) => last = e,
            }
        }
        panic!("docker-registry did not start: {last}");
    }

    fn spawn(&mut self) -> Result<(), String> {
        let storage = self.dir.join("storage");
        let config = format!(
            "version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: \"127.0.0.1:{port}\"
  secret: sigil-bench-not-a-secret
",
            storage = serde_json::to_string(&storage.to_string_lossy()).expect("a string serializes"),
            port = self.port
        );
        let config_path = self.dir.join("config.yml");
        fs::write(&config_path, config).expect("write the registry config");
        // Appended to across restarts: request counts only grow.
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the registry log");
        let mut child = Command::new(&self.binary)
            .arg("serve")
            .arg(&config_path)
            .env_clear()
            .env("HOME", &self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("duplicate the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let client = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .expect("a plain HTTP client");
        let deadline = Instant::now() + Duration::from_secs(10);
        let url = format!("http://127.0.0.1:{}/v2/", self.port);
        loop {
            if let Some(status) = child.try_wait().expect("wait for docker-registry") {
                return Err(format!("it exited with {status}: {}", self.log_tail()));
            }
            if client.get(&url).send().is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer on {url} in 10 s: {}", self.log_tail()));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL: no graceful shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and storage; retries while the
    /// port is still held.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!("docker-registry did not restart on port {}: {e}", self.port)
                }
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("registry.log")
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines().rev().take(10).collect::<Vec<_>>().join(" | ")
    }

    /// Requests the registry has answered so far (lines of its access log,
    /// all starts together).
    pub fn requests(&self) -> usize {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines()
            .filter(|l| {
                [
                    "] \"GET ",
                    "] \"HEAD ",
                    "] \"POST ",
                    "] \"PUT ",
                    "] \"PATCH ",
                    "] \"DELETE ",
                ]
                .iter()
                .any(|m| l.contains(m))
            })
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Pushes one distinct sample image per `(repository, tag)` (seeds from
/// `seed`) and returns each one's digest (`sha256:HEX`).
pub fn push_samples(host: &str, names: &[String], seed: u64) -> Vec<String> {
    use futures::{StreamExt as _, stream};
    use sigil_verifier::reference::RegistryRef;
    use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("registry client"));
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let digests: Vec<(usize, String)> = runtime.block_on(
        stream::iter(names.iter().enumerate())
            .map(|(i, name)| {
                let client = client.clone();
                async move {
                    let (repository, tag) = name.rsplit_once(':').expect("NAME:TAG");
                    let reference = RegistryRef::parse(&format!("{host}/{repository}:{tag}")).expect("reference");
                    let store = RegistryStore::new(client, &reference);
                    let pushed = sigil_verifier::sample::write(&store, seed + i as u64, Some(tag))
                        .await
                        .expect("push a sample image");
                    (i, pushed.digest.to_string())
                }
            })
            .buffer_unordered(16)
            .collect(),
    );
    let mut digests = digests;
    digests.sort();
    digests.into_iter().map(|(_, d)| d).collect()
}

// ---------------------------------------------------------------- server

/// A running `sigil admission`; killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`
    pub address: String,
    pub stderr: Arc<Stderr>,
}

/// What the server wrote on stderr: counts and the last lines.
#[derive(Default)]
pub struct Stderr {
    pub lines: AtomicU64,
    pub panics: AtomicU64,
    tail: Mutex<Vec<String>>,
    first_panic: Mutex<Option<String>>,
}

impl Stderr {
    fn push(&self, line: String) {
        self.lines.fetch_add(1, Ordering::Relaxed);
        if line.contains("panicked") {
            self.panics.fetch_add(1, Ordering::Relaxed);
            self.first_panic
                .lock()
                .expect("not poisoned")
                .get_or_insert_with(|| line.clone());
        }
        let mut tail = self.tail.lock().expect("not poisoned");
        if tail.len() >= 40 {
            tail.remove(0);
        }
        tail.push(line);
    }

    /// The last lines, one per line.
    pub fn tail(&self) -> String {
        self.tail.lock().expect("not poisoned").join("\n")
    }

    pub fn first_panic(&self) -> Option<String> {
        self.first_panic.lock().expect("not poisoned").clone()
    }
}

/// The TLS files of a server and the CA its clients trust.
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca_pem: String,
}

impl Tls {
    pub fn write(dir: &Path) -> Tls {
        let pki = sigil_testkit::tls::server_pki();
        let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
        fs::write(&cert, &pki.server_cert_pem).expect("write the server certificate");
        fs::write(&key, &pki.server_key_pem).expect("write the server key");
        Tls {
            cert,
            key,
            ca_pem: pki.ca_cert_pem,
        }
    }
}

impl Server {
    /// Starts `sigil admission --policy POLICY --listen 127.0.0.1:0 ...`
    /// with `extra` flags and waits for its `listening on https://` line.
    pub fn start(policy: &Path, tls: &Tls, extra: &[&str]) -> Server {
        let mut child = Command::new(crate::common::SIGIL)
            .arg("admission")
            .arg("--policy")
            .arg(policy)
            .args(["--listen", "127.0.0.1:0", "--tls-cert"])
            .arg(&tls.cert)
            .arg("--tls-key")
            .arg(&tls.key)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sigil admission");
        let stderr = Arc::new(Stderr::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr is piped");
        {
            let stderr = stderr.clone();
            thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on https://").nth(1) {
                        let address = rest.split_whitespace().next().unwrap_or_default().to_owned();
                        if let Some(tx) = tx.take() {
                            let _ = tx.send(address);
                        }
                    }
                    stderr.push(line);
                }
            });
        }
        let address = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "sigil admission did not say where it listens in 20 s; stderr:\n{}",
                    stderr.tail()
                );
            }
        };
        Server { child, address, stderr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    /// Panics unless the process is still running.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("wait for sigil admission") {
            panic!("sigil admission exited with {status}; stderr:\n{}", self.stderr.tail());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- clients

/// A blocking HTTPS client trusting only the test CA, HTTP/1.1 with
/// keep-alive (one connection per client), no proxy.
pub fn client(ca_pem: &str) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("the test CA is PEM");
    reqwest::blocking::Client::builder()
        .no_proxy()
        .http1_only()
        .tls_certs_only([ca])
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTPS client")
}

/// What the server answered to one review.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// `response.allowed`; `None` when the body is not an answer.
    pub allowed: Option<bool>,
    /// `response.uid`.
    pub uid: Option<String>,
    /// `response.status.message`.
    pub message: Option<String>,
    /// The decoded JSON Patch, when there is one.
    pub patch: Option<Value>,
    /// The body, when it is not JSON.
    pub text: Option<String>,
}

impl Reply {
    fn of(status: u16, body: &[u8]) -> Reply {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return Reply {
                status,
                allowed: None,
                uid: None,
                message: None,
                patch: None,
                text: Some(String::from_utf8_lossy(body).into_owned()),
            };
        };
        let response = &v["response"];
        let patch = response["patch"].as_str().and_then(|p| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(p).ok()?;
            serde_json::from_slice(&bytes).ok()
        });
        Reply {
            status,
            allowed: response["allowed"].as_bool(),
            uid: response["uid"].as_str().map(str::to_owned),
            message: response["status"]["message"].as_str().map(str::to_owned),
            patch,
            text: None,
        }
    }

    /// 200 and allowed.
    pub fn allowed(&self) -> bool {
        self.status == 200 && self.allowed == Some(true)
    }
}

/// POSTs one review; `Err` when no HTTP answer came.
pub fn post(client: &reqwest::blocking::Client, url: &str, body: &[u8]) -> Result<Reply, String> {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().map_err(|e| format!("reading the answer: {e}"))?;
    Ok(Reply::of(status, &bytes))
}

/// GETs `url`: (status, body).
pub fn get(client: &reqwest::blocking::Client, url: &str) -> Result<(u16, String), String> {
    let response = client.get(url).send().map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    Ok((status, response.text().map_err(|e| e.to_string())?))
}

/// An AdmissionReview v1 of a Pod CREATE whose containers run `images`.
pub fn pod_review(uid: &str, images: &[String]) -> Vec<u8> {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "p",
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {"containers": containers}
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    }))
    .expect("a review serializes")
}

// ---------------------------------------------------------------- lean client

/// One keep-alive HTTPS/1.1 connection written by hand over rustls and a
/// blocking socket: a request is one write and the reads of its answer on
/// the calling thread, nothing else (reqwest's blocking client hands each
/// request to a runtime thread and back, which on 2 shared cores costs the
/// server CPU and adds wake-up delays to the figures).
pub struct Connection {
    stream: rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>,
    buffer: Vec<u8>,
}

impl Connection {
    /// Connects to `address` (`127.0.0.1:PORT`) trusting only `ca_pem`,
    /// and completes the handshake.
    pub fn open(address: &str, ca_pem: &str) -> Connection {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, ServerName};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots
                .add(cert.expect("the test CA is PEM"))
                .expect("the test CA is a certificate");
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let host = address.rsplit_once(':').map_or(address, |(h, _)| h).to_owned();
        let name = ServerName::try_from(host).expect("an IP address is a server name");
        let tls = rustls::ClientConnection::new(Arc::new(config), name).expect("a TLS client");
        let tcp = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("connect to {address}: {e}"));
        tcp.set_nodelay(true).expect("TCP_NODELAY");
        let mut connection = Connection {
            stream: rustls::StreamOwned::new(tls, tcp),
            buffer: Vec::with_capacity(4096),
        };
        while connection.stream.conn.is_handshaking() {
            connection
                .stream
                .conn
                .complete_io(&mut connection.stream.sock)
                .unwrap_or_else(|e| panic!("TLS handshake with {address}: {e}"));
        }
        connection
    }

    /// Sends `request` (a whole HTTP/1.1 request, see [`request_bytes`]) and
    /// reads the answer: status and body (`Content-Length` framed, as
    /// hyper frames a full body).
    pub fn round_trip(&mut self, request: &[u8]) -> Result<(u16, &[u8]), String> {
        use std::io::{Read as _, Write as _};
        self.stream.write_all(request).map_err(|e| format!("send: {e}"))?;
        self.stream.flush().map_err(|e| format!("send: {e}"))?;
        self.buffer.clear();
        let mut chunk = [0u8; 4096];
        let (head_end, length) = loop {
            let n = self.stream.read(&mut chunk).map_err(|e| format!("receive: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection".into());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buffer[..end]).map_err(|_| "a non-UTF-8 head")?;
                let length = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .ok_or_else(|| format!("an answer without Content-Length: {head}"))?;
                break (end + 4, length);
            }
        };
        while self.buffer.len() < head_end + length {
            let n = self.stream.read(&mut chunk).map_err(|e| format!("receive: {e}"))?;
            if n == 0 {
                return Err("the server closed the connection mid-body".into());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
        let status = std::str::from_utf8(&self.buffer[..head_end])
            .ok()
            .and_then(|h| h.split(' ').nth(1)?.parse().ok())
            .ok_or("no status line")?;
        Ok((status, &self.buffer[head_end..head_end + length]))
    }
}

/// `POST PATH_AND_QUERY` with a JSON body, keep-alive, as bytes to send.
pub fn request_bytes(address: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

// ---------------------------------------------------------------- load

/// Which HTTP client the load uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// [`Connection`]: one thread, one socket, no runtime.
    Lean,
    /// reqwest's blocking client (a runtime thread per client).
    Reqwest,
}

/// How to load the server.
pub struct Load<'a> {
    /// `https://ADDR/validate?timeout=10s`
    pub url: &'a str,
    pub client: ClientKind,
    pub ca_pem: &'a str,
    /// Bodies sent in turn.
    pub bodies: &'a [Vec<u8>],
    /// Concurrent clients, each on its own keep-alive connection and thread.
    pub clients: usize,
    /// Total requests per second, `None` for as fast as the answers come.
    pub rate: Option<f64>,
    pub duration: Duration,
}

/// What a load run measured.
pub struct Measured {
    /// Latency of each request from the time it was scheduled (open loop:
    /// a request that had to wait for the one before it on its connection
    /// counts that wait), in completion order.
    pub latencies: Vec<Duration>,
    /// Time from sending to the full answer.
    pub service: Vec<Duration>,
    /// Requests that failed the check, with the first few reasons.
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Scheduled requests not sent because the clients fell too far behind.
    pub not_sent: u64,
    /// From the first scheduled send to the last answer.
    pub elapsed: Duration,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `load`: each client thread takes every `clients`-th slot of one
/// global schedule (slot `j` at `start + j / rate`), sleeps until its slot
/// and sends; a client behind schedule sends at once. `ok` judges each
/// answer (an `Err` is an error too).
pub fn run_load(load: &Load<'_>, ok: &(dyn Fn(&Reply) -> Result<(), String> + Sync)) -> Measured {
    let senders: Vec<Sender> = (0..load.clients).map(|_| Sender::new(load)).collect();
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + load.duration;
    let parts: Vec<Measured> = thread::scope(|s| {
        let handles: Vec<_> = senders
            .into_iter()
            .enumerate()
            .map(|(k, sender)| s.spawn(move || one_client(load, sender, k, start, end, ok)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a client thread"))
            .collect()
    });
    let mut measured = Measured {
        latencies: Vec::new(),
        service: Vec::new(),
        errors: 0,
        error_samples: Vec::new(),
        not_sent: 0,
        elapsed: Duration::ZERO,
    };
    for part in parts {
        measured.latencies.extend(part.latencies);
        measured.service.extend(part.service);
        measured.errors += part.errors;
        measured.error_samples.extend(part.error_samples);
        measured.not_sent += part.not_sent;
        measured.elapsed = measured.elapsed.max(part.elapsed);
    }
    measured
}

/// One client of a load run, connected (and its first request answered)
/// before the clock starts: handshakes are not part of the figures.
enum Sender {
    /// With the whole request of each body, built once.
    Lean(Box<Connection>, Vec<Vec<u8>>),
    Reqwest(reqwest::blocking::Client),
}

impl Sender {
    fn new(load: &Load<'_>) -> Sender {
        let mut sender = match load.client {
            ClientKind::Lean => {
                let rest = load.url.strip_prefix("https://").expect("an https:// URL");
                let (address, path) = rest.split_at(rest.find('/').expect("a path"));
                let requests = load.bodies.iter().map(|b| request_bytes(address, path, b)).collect();
                Sender::Lean(Box::new(Connection::open(address, load.ca_pem)), requests)
            }
            ClientKind::Reqwest => Sender::Reqwest(client(load.ca_pem)),
        };
        sender.send(load, 0).expect("a first request");
        sender
    }

    fn send(&mut self, load: &Load<'_>, index: usize) -> Result<Reply, String> {
        match self {
            Sender::Lean(connection, requests) => {
                let (status, body) = connection.round_trip(&requests[index])?;
                Ok(Reply::of(status, body))
            }
            Sender::Reqwest(client) => post(client, load.url, &load.bodies[index]),
        }
    }
}

/// Client `k` of [`run_load`]: its slots of the schedule, from `start`
/// until `end`; `elapsed` is from `start` to its last answer.
fn one_client(
    load: &Load<'_>,
    mut sender: Sender,
    k: usize,
    start: Instant,
    end: Instant,
    ok: &(dyn Fn(&Reply) -> Result<(), String> + Sync),
) -> Measured {
    // A paced client this far behind its schedule stops sending.
    let give_up = Duration::from_secs(5);
    let mut m = Measured {
        latencies: Vec::new(),
        service: Vec::new(),
        errors: 0,
        error_samples: Vec::new(),
        not_sent: 0,
        elapsed: Duration::ZERO,
    };
    let mut j = k;
    loop {
        let scheduled = match load.rate {
            Some(rate) => start + Duration::from_secs_f64(j as f64 / rate),
            None => Instant::now().max(start),
        };
        if scheduled >= end {
            break;
        }
        let now = Instant::now();
        if scheduled > now {
            thread::sleep(scheduled - now);
        } else if now - scheduled > give_up {
            m.not_sent += 1;
            j += load.clients;
            continue;
        }
        let index = j / load.clients % load.bodies.len();
        let sent = Instant::now();
        let result = sender.send(load, index);
        let done = Instant::now();
        m.elapsed = m.elapsed.max(done - start);
        m.latencies.push(done - scheduled.min(sent));
        m.service.push(done - sent);
        if let Err(e) = result.and_then(|r| ok(&r)) {
            m.errors += 1;
            if m.error_samples.len() < 3 {
                m.error_samples.push(e);
            }
        }
        j += load.clients;
    }
    m
}

/// The `p`-quantile (0..=1) of `values`, nearest rank.
pub fn quantile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

// ---------------------------------------------------------------- /proc

/// A `VmXXX:` field of `/proc/PID/status`, in KiB.
pub fn vm_kib(pid: u32, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// User + system CPU seconds of a process so far.
pub fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or_default();
    (tick(11) + tick(12)) / 100.0
}

/// User + system CPU seconds of this process (the load generator) so far.
pub fn own_cpu_seconds() -> f64 {
    cpu_seconds(std::process::id())
}

/// A counter or gauge of the server's `/metrics` (the sum over its labels
/// when `name` has none).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let bare = key.split('{').next()?;
            (key == name || (bare == name && !name.contains('{'))).then(|| value.parse::<f64>().ok())?
        })
        .sum()
}
