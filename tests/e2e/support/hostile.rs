//! An in-process registry that misbehaves on purpose, for what a real
//! registry never does: wrong digests, oversized or endless bodies, stalls,
//! 429/5xx storms, authentication dead ends. It serves the minimal read
//! surface of the distribution API v2 for one tiny image (tag `v1`, any
//! repository name) and accepts no writes.
//!
//! It runs on its own tokio runtime, so synchronous tests can use it and the
//! blocking sigil binary can talk to it.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, StreamExt};

use super::image::{Blob, TinyImage, sha256_digest};

/// Size of the body [`Mode::OversizedManifest`] serves: 64 MiB.
pub const OVERSIZED_LEN: usize = 64 * 1024 * 1024;
/// [`Mode::EndlessBody`] gives up (by breaking the connection, never by
/// ending the body cleanly) after this long, so a client that never stops
/// reading cannot keep the machine busy forever.
const ENDLESS_LIMIT: Duration = Duration::from_secs(120);
const CHUNK: usize = 64 * 1024;
/// Start of the oversized and endless manifests: valid JSON up to the padding.
const PADDED_PREFIX: &[u8] =
    br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"padding":""#;
const PADDED_SUFFIX: &[u8] = br#""}}"#;

/// How the hostile registry misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serves the image correctly: the control case.
    Honest,
    /// Manifests and blobs come with bytes that do not hash to the digest
    /// asked for, nor to the `Docker-Content-Digest` header sent with them.
    WrongDigest,
    /// Tag `v1` is a 64 MiB manifest, streamed, with an honest
    /// `Content-Length` and an honest `Docker-Content-Digest`.
    OversizedManifest,
    /// Manifest bodies are streamed forever, without `Content-Length`.
    EndlessBody,
    /// Accepts connections, reads requests, never answers.
    Stall,
    /// Every request gets 429 with `Retry-After: 1`.
    TooManyRequests,
    /// Every request gets 503.
    ServerError,
    /// Every request gets 401 with a bearer challenge whose token endpoint
    /// (on this server) also answers 401.
    Unauthorized,
    /// Every request gets 403.
    Forbidden,
}

/// A running hostile registry; dropping it stops it.
pub struct Hostile {
    addr: SocketAddr,
    state: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

struct Shared {
    mode: Mode,
    host: String,
    image: TinyImage,
    /// Digest of the [`Mode::OversizedManifest`] body (computed only in that mode).
    oversized_digest: Option<String>,
    requests: AtomicUsize,
    log: Mutex<Vec<String>>,
}

impl Hostile {
    /// Starts a hostile registry on a free port of 127.0.0.1.
    pub fn start(mode: Mode) -> Hostile {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("a bound socket has an address");
        let state = Arc::new(Shared {
            mode,
            host: addr.to_string(),
            image: TinyImage::new(),
            oversized_digest: (mode == Mode::OversizedManifest).then(|| {
                let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
                for chunk in oversized_chunks() {
                    context.update(&chunk);
                }
                format!("sha256:{}", hex::encode(context.finish()))
            }),
            requests: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        });

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hostile-registry")
            .enable_all()
            .build()
            .expect("build the hostile registry's runtime");
        let app = Router::new().fallback(handle).with_state(Arc::clone(&state));
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).expect("hand the listener to tokio")
        };
        runtime.spawn(async move {
            axum::serve(listener, app).await.expect("serve the hostile registry");
        });
        Hostile {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT/` + `repo_and_tag`; any repository name serves the
    /// image, and only tag `v1` exists.
    pub fn image(&self, repo_and_tag: &str) -> String {
        format!("{}/{repo_and_tag}", self.addr)
    }

    /// The valid image this server holds (and, depending on the mode,
    /// misrepresents).
    pub fn tiny_image(&self) -> &TinyImage {
        &self.state.image
    }

    /// Digest of the 64 MiB manifest of [`Mode::OversizedManifest`].
    pub fn oversized_digest(&self) -> Option<&str> {
        self.state.oversized_digest.as_deref()
    }

    /// Requests received so far, answered or not.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// `METHOD /path?query` of every request received so far, in order.
    pub fn request_log(&self) -> Vec<String> {
        self.state
            .log
            .lock()
            .expect("no handler panics while holding the log")
            .clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        // Drops every task, stalled handlers and endless bodies included;
        // allowed inside an async context, unlike dropping the runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn handle(State(state): State<Arc<Shared>>, method: Method, uri: Uri) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    state
        .log
        .lock()
        .expect("no handler panics while holding the log")
        .push(format!("{method} {path_and_query}"));
    let path = uri.path();

    match state.mode {
        Mode::Stall => std::future::pending::<Response>().await,
        Mode::TooManyRequests => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", "too many requests");
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        Mode::ServerError => error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", "service unavailable"),
        Mode::Forbidden => error(
            StatusCode::FORBIDDEN,
            "DENIED",
            "requested access to the resource is denied",
        ),
        Mode::Unauthorized if path == "/token" => {
            error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required")
        }
        Mode::Unauthorized => {
            let mut challenge = format!(r#"Bearer realm="http://{}/token",service="hostile""#, state.host);
            if let Some((name, _, _)) = parse_v2_path(path) {
                write!(challenge, r#",scope="repository:{name}:pull""#).expect("writing into a String is infallible");
            }
            let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_str(&challenge).expect("ASCII challenge"),
            );
            response
        }
        Mode::Honest | Mode::WrongDigest | Mode::OversizedManifest | Mode::EndlessBody => {
            serve_read_api(&state, &method, path)
        }
    }
}

/// The v2 read surface for the modes that answer.
fn serve_read_api(state: &Shared, method: &Method, path: &str) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this registry accepts no writes",
        );
    }
    let head = method == Method::HEAD;
    if path == "/v2/" || path == "/v2" {
        return with_api_version((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{}").into_response());
    }
    let response = match parse_v2_path(path) {
        Some((_, "manifests", reference)) => manifest(state, reference, head),
        Some((_, "blobs", digest)) => blob(state, digest),
        Some((_, "referrers", _)) => error(StatusCode::NOT_FOUND, "NOT_FOUND", "referrers API not supported"),
        _ => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint"),
    };
    with_api_version(response)
}

fn manifest(state: &Shared, reference: &str, head: bool) -> Response {
    let image = &state.image;
    let honest = &image.manifest;
    let unknown = || error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown");
    match state.mode {
        Mode::OversizedManifest => {
            let digest = state
                .oversized_digest
                .as_deref()
                .expect("computed at start in this mode");
            if reference != "v1" && reference != digest {
                return unknown();
            }
            let body = Body::from_stream(stream::iter(oversized_chunks()).map(Ok::<_, std::io::Error>));
            content(honest.media_type, digest, OVERSIZED_LEN, body)
        }
        _ if reference != "v1" && reference != honest.digest => unknown(),
        Mode::WrongDigest => {
            let tampered = tamper_manifest(&honest.bytes);
            content(
                honest.media_type,
                &claimed_digest(reference, honest),
                tampered.len(),
                Body::from(tampered),
            )
        }
        Mode::EndlessBody if !head => {
            let started = Instant::now();
            let padding = Bytes::from(vec![b'a'; CHUNK]);
            let endless = stream::once(async { Ok::<_, std::io::Error>(Bytes::from_static(PADDED_PREFIX)) }).chain(
                stream::unfold((), move |()| {
                    let chunk = if started.elapsed() < ENDLESS_LIMIT {
                        Ok(padding.clone())
                    } else {
                        Err(std::io::Error::other("endless body: time limit of the test server"))
                    };
                    async move { Some((chunk, ())) }
                }),
            );
            let mut response = Response::new(Body::from_stream(endless));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(honest.media_type));
            headers.insert(
                "docker-content-digest",
                HeaderValue::from_str(&honest.digest).expect("ASCII digest"),
            );
            response
        }
        _ => content(
            honest.media_type,
            &honest.digest,
            honest.bytes.len(),
            Body::from(honest.bytes.clone()),
        ),
    }
}

fn blob(state: &Shared, digest: &str) -> Response {
    let Some(found) = state.image.blobs().into_iter().find(|b| b.digest == digest) else {
        return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry");
    };
    let mut bytes = found.bytes.clone();
    if state.mode == Mode::WrongDigest {
        // Same length, one flipped bit: only hashing notices.
        bytes[0] ^= 1;
    }
    content(
        "application/octet-stream",
        &found.digest,
        bytes.len(),
        Body::from(bytes),
    )
}

/// The digest the server claims: the one asked for, or the real one for a tag.
fn claimed_digest(reference: &str, honest: &Blob) -> String {
    if reference.starts_with("sha256:") {
        reference.to_owned()
    } else {
        honest.digest.clone()
    }
}

/// The manifest with an extra annotation: still a valid manifest, other bytes.
fn tamper_manifest(bytes: &[u8]) -> Vec<u8> {
    let mut manifest: serde_json::Value = serde_json::from_slice(bytes).expect("TinyImage writes a JSON manifest");
    manifest["annotations"] = serde_json::json!({ "tampered": "true" });
    let tampered = serde_json::to_vec(&manifest).expect("a serde_json::Value always serializes");
    debug_assert_ne!(sha256_digest(&tampered), sha256_digest(bytes));
    tampered
}

/// The 64 MiB body of [`Mode::OversizedManifest`] in chunks sharing one buffer.
fn oversized_chunks() -> Vec<Bytes> {
    let padding_len = OVERSIZED_LEN - PADDED_PREFIX.len() - PADDED_SUFFIX.len();
    let padding = Bytes::from(vec![b'a'; CHUNK]);
    let mut chunks = vec![Bytes::from_static(PADDED_PREFIX)];
    chunks.extend(std::iter::repeat_n(padding.clone(), padding_len / CHUNK));
    chunks.push(padding.slice(..padding_len % CHUNK));
    chunks.push(Bytes::from_static(PADDED_SUFFIX));
    chunks
}

/// Splits `/v2/NAME/KIND/REFERENCE` (NAME may contain slashes).
fn parse_v2_path(path: &str) -> Option<(&str, &str, &str)> {
    let rest = path.strip_prefix("/v2/")?;
    ["manifests", "blobs", "referrers"].into_iter().find_map(|kind| {
        let (name, reference) = rest.rsplit_once(&format!("/{kind}/"))?;
        (!name.is_empty() && !reference.is_empty() && !reference.contains('/')).then_some((name, kind, reference))
    })
}

/// A 200 answer with explicit length, type and digest headers. HEAD gets the
/// same body as GET: hyper does not send it but keeps its length, whereas an
/// empty body would turn `Content-Length` into 0.
fn content(media_type: &str, digest: &str, len: usize, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media_type).expect("ASCII media type"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(
        "docker-content-digest",
        HeaderValue::from_str(digest).expect("ASCII digest"),
    );
    response
}

/// An error in the distribution API's JSON shape.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "code": code, "message": message, "detail": null }] });
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn with_api_version(mut response: Response) -> Response {
    response.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    response
}
