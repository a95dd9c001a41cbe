//! Running `sigil admission` as a long-lived server for a test: a fresh TLS
//! PKI for it, the process started on `127.0.0.1:0` with its bound address
//! read from its stderr (drained on a thread so the pipe never fills),
//! HTTPS clients that trust only its CA, and a guard that kills processes a
//! test binary shares between tests when the binary exits.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::sigil::SIGIL;

/// How long the server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What the server prints once it listens, followed by the address.
const LISTENING: &str = "listening on https://";

/// PEM texts of a fresh CA and of a server certificate it signed for
/// `127.0.0.1` and `localhost` (ECDSA P-256; the key in PKCS#8).
pub struct Pki {
    pub ca_cert_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
}

impl Pki {
    /// A new CA and leaf (`sigil_testkit::tls::server_pki`).
    pub fn new() -> Pki {
        let pki = sigil_testkit::tls::server_pki();
        Pki {
            ca_cert_pem: pki.ca_cert_pem,
            server_cert_pem: pki.server_cert_pem,
            server_key_pem: pki.server_key_pem,
        }
    }

    /// Writes `dir/tls.crt` (the leaf alone, or the leaf then the CA when
    /// `with_chain`) and `dir/tls.key`, each by writing a temporary file and
    /// renaming it over the old one. Returns (cert, key).
    pub fn write(&self, dir: &Path, with_chain: bool) -> (PathBuf, PathBuf) {
        let cert = dir.join("tls.crt");
        let key = dir.join("tls.key");
        let mut chain = self.server_cert_pem.clone();
        if with_chain {
            chain.push_str(&self.ca_cert_pem);
        }
        replace_file(&key, self.server_key_pem.as_bytes());
        replace_file(&cert, chain.as_bytes());
        (cert, key)
    }

    /// A blocking client trusting only this CA; HTTP/1.1 only.
    pub fn client(&self) -> reqwest::blocking::Client {
        self.client_builder()
            .http1_only()
            .build()
            .expect("build the HTTP client")
    }

    /// A blocking client trusting only this CA that speaks HTTP/2 only (ALPN `h2`).
    pub fn client_h2(&self) -> reqwest::blocking::Client {
        self.client_builder()
            .http2_prior_knowledge()
            .build()
            .expect("build the HTTP/2 client")
    }

    /// A builder trusting only this CA, without proxies, with generous
    /// timeouts (a hang fails the test, slowly).
    pub fn client_builder(&self) -> reqwest::blocking::ClientBuilder {
        let ca = reqwest::Certificate::from_pem(self.ca_cert_pem.as_bytes()).expect("the test CA is valid PEM");
        reqwest::blocking::Client::builder()
            .no_proxy()
            .tls_certs_only([ca])
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `path` by writing `path.tmp` and renaming it over `path`, so a
/// reader polling `path` sees the old content or the new, never half.
pub fn replace_file(path: &Path, bytes: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).unwrap_or_else(|e| panic!("write {}: {e}", tmp.display()));
    fs::rename(&tmp, path).unwrap_or_else(|e| panic!("rename {} over {}: {e}", tmp.display(), path.display()));
}

/// A running `sigil admission`; dropping it kills the process.
pub struct Webhook {
    child: Child,
    addr: SocketAddr,
    logs: Arc<Mutex<String>>,
    // Kept alive until the process is gone: its HOME.
    home: TempDir,
}

impl Webhook {
    /// Starts `sigil admission ARGS... --listen 127.0.0.1:0` in a hermetic
    /// environment (fresh `HOME`, only `PATH` and `TMPDIR` passed through)
    /// and waits for its `listening on https://ADDR` line; panics with its
    /// output when it exits or stays silent instead.
    pub fn start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Webhook {
        Self::try_start(args).unwrap_or_else(|failure| panic!("{failure}"))
    }

    /// As [`Webhook::start`], but a server that exits before listening is an
    /// `Err` with its exit status and stderr, for tests that expect it to
    /// refuse to start. Still panics when it neither listens nor exits.
    pub fn try_start<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Webhook, String> {
        let home = TempDir::with_prefix("sigil-e2e-webhook-home-").expect("create a temporary HOME");
        let mut command = Command::new(SIGIL);
        command
            .arg("admission")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env_clear()
            .env("HOME", home.path());
        for key in ["PATH", "TMPDIR", "LLVM_PROFILE_FILE"] {
            if let Some(value) = std::env::var_os(key) {
                command.env(key, value);
            }
        }
        let command_line: Vec<OsString> = std::iter::once(OsString::from("sigil admission"))
            .chain(args.iter().map(|a| a.as_ref().to_owned()))
            .collect();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {SIGIL} admission: {e}"));

        let logs = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr was requested as a pipe");
        let sink = Arc::clone(&logs);
        thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split_once(LISTENING).map(|(_, rest)| rest) {
                    let addr = rest
                        .split(|c: char| c.is_whitespace() || c == '/')
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut logs = sink.lock().expect("no panics while holding the log");
                logs.push_str(&line);
                logs.push('\n');
            }
        });

        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().ok();
                    thread::sleep(Duration::from_millis(50));
                    return Err(format!(
                        "{:?} exited ({status:?}) without printing `{LISTENING}ADDR`\n--- stderr ---\n{}",
                        command_line,
                        logs.lock().expect("log")
                    ));
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                thread::sleep(Duration::from_millis(100));
                return Err(format!(
                    "{command_line:?} exited with {status} before listening\n--- stderr ---\n{}",
                    logs.lock().expect("log")
                ));
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{command_line:?} printed no `{LISTENING}ADDR` line within {START_TIMEOUT:?}\n--- stderr ---\n{}",
                    logs.lock().expect("log")
                );
            }
        };
        let addr: SocketAddr = addr
            .parse()
            .unwrap_or_else(|e| panic!("`{LISTENING}{addr}`: not an address ({e})"));
        Ok(Webhook {
            child,
            addr,
            logs,
            home,
        })
    }

    /// The bound address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process's `HOME`, removed when the handle is dropped.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Everything the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        self.logs.lock().expect("no panics while holding the log").clone()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Established TCP connections whose local port is `port` (the server side
/// of connections to a server listening there), counted from
/// `/proc/net/tcp` and `/proc/net/tcp6`.
pub fn established_connections_to(port: u16) -> usize {
    let port = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|file| fs::read_to_string(file).ok())
        .map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // fields[1] = local "ADDR:PORT", fields[3] = state (01 = ESTABLISHED)
                    fields.len() > 3 && fields[1].rsplit(':').next() == Some(port.as_str()) && fields[3] == "01"
                })
                .count()
        })
        .sum()
}

/// Kills processes and removes directories when the test binary exits,
/// however it exits: a `sh` reading a pipe whose only writer is this
/// process gets end-of-file when this process is gone. For peers shared by
/// several tests through a `static`, which Rust never drops.
pub struct ExitGuard {
    _pipe: ChildStdin,
    // Never waited for: it outlives this process on purpose.
    _shell: Child,
}

impl ExitGuard {
    /// Arms the guard for `pids` and `dirs`.
    pub fn new(pids: &[u32], dirs: &[&Path]) -> ExitGuard {
        let mut script = String::from("read _ignored; ");
        for pid in pids {
            script.push_str(&format!("kill -9 {pid} 2>/dev/null; "));
        }
        for dir in dirs {
            let quoted = dir.to_string_lossy().replace('\'', r"'\''");
            script.push_str(&format!("rm -rf '{quoted}'; "));
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the exit guard shell");
        // Nothing is ever written: the pipe is only closed, by this process's end.
        let pipe = child.stdin.take().expect("stdin was requested as a pipe");
        ExitGuard {
            _pipe: pipe,
            _shell: child,
        }
    }
}
