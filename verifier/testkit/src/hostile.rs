//! An in-process registry that misbehaves on purpose, for what a real
//! registry never does: wrong digests, oversized, endless or dripping bodies,
//! stalls, 429/5xx storms, authentication dead ends, `.sig` manifests that
//! list one blob a thousand times or more blobs than any budget. It serves
//! the minimal read surface of the distribution API v2 for one tiny image
//! (tag `v1`, any repository name) and accepts no writes. It records every
//! request line and every `Authorization` header it receives.
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
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
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
    /// Every request gets 401 with a `Basic` challenge, whatever credentials
    /// it carries (they are recorded: see [`Hostile::authorizations`]).
    BasicAuth,
    /// The image is served honestly, and its `.sig` tag lists one small blob
    /// this many times, each layer with its own signature annotation.
    RepeatedSignature(usize),
    /// The image is served honestly, and its `.sig` tag lists `count`
    /// distinct blobs of `size` bytes each.
    SignatureFlood { count: usize, size: usize },
    /// Manifests are served with an honest `Content-Length`, one byte every
    /// this long: never silent long enough for a read timeout.
    Drip(Duration),
}

/// The payload of the blob [`Mode::RepeatedSignature`] lists.
const REPEATED_PAYLOAD: &[u8] = br#"{"critical":{"identity":{"docker-reference":"hostile/app"},"image":{"docker-manifest-digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"type":"cosign container image signature"},"optional":null}"#;
const SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// A `.sig` tag served for the image: its manifest and the blobs it lists.
struct SignatureTag {
    manifest: Blob,
    blobs: Vec<Blob>,
}

impl SignatureTag {
    /// A `.sig` manifest whose layers are `layers` (blob index, annotation).
    fn new(blobs: Vec<Blob>, layers: impl Iterator<Item = (usize, String)>) -> SignatureTag {
        let config = sha256_digest(b"{}");
        let layers: Vec<serde_json::Value> = layers
            .map(|(i, signature)| {
                let mut layer = blobs[i].descriptor();
                layer["annotations"] = serde_json::json!({ "dev.cosignproject.cosign/signature": signature });
                layer
            })
            .collect();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": super::image::OCI_MANIFEST,
            "config": { "mediaType": super::image::OCI_CONFIG, "digest": config, "size": 2 },
            "layers": layers,
        });
        let bytes = serde_json::to_vec(&manifest).expect("a serde_json::Value always serializes");
        SignatureTag {
            manifest: Blob {
                media_type: super::image::OCI_MANIFEST,
                digest: sha256_digest(&bytes),
                bytes,
            },
            blobs,
        }
    }

    fn for_mode(mode: Mode) -> Option<SignatureTag> {
        let blob = |bytes: Vec<u8>| Blob {
            media_type: SIMPLESIGNING,
            digest: sha256_digest(&bytes),
            bytes,
        };
        match mode {
            Mode::RepeatedSignature(copies) => Some(SignatureTag::new(
                vec![blob(REPEATED_PAYLOAD.to_vec())],
                (0..copies).map(|n| (0, format!("MEUCIQ{n:08}"))),
            )),
            Mode::SignatureFlood { count, size } => {
                let blobs: Vec<Blob> = (0..count)
                    .map(|n| {
                        let mut bytes = format!("{n:08}").into_bytes();
                        bytes.resize(size.max(8), b'x');
                        blob(bytes)
                    })
                    .collect();
                Some(SignatureTag::new(
                    blobs,
                    (0..count).map(|n| (n, format!("MEUCIQ{n:08}"))),
                ))
            }
            _ => None,
        }
    }
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
    /// The `.sig` tag of the modes that serve one.
    signature_tag: Option<SignatureTag>,
    requests: AtomicUsize,
    log: Mutex<Vec<String>>,
    authorizations: Mutex<Vec<String>>,
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
            signature_tag: SignatureTag::for_mode(mode),
            requests: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            authorizations: Mutex::new(Vec::new()),
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

    /// Every `Authorization` header received so far, in order.
    pub fn authorizations(&self) -> Vec<String> {
        self.state
            .authorizations
            .lock()
            .expect("no handler panics while holding the log")
            .clone()
    }

    /// How many `GET`s of blobs were received.
    pub fn blob_gets(&self) -> usize {
        self.request_log()
            .iter()
            .filter(|r| r.starts_with("GET ") && r.contains("/blobs/"))
            .count()
    }

    /// The tag `sha256-HEX.sig` of the tiny image, which the signature modes serve.
    pub fn signature_tag(&self) -> String {
        let hex = self
            .state
            .image
            .manifest
            .digest
            .strip_prefix("sha256:")
            .expect("sha256_digest writes the prefix");
        format!("sha256-{hex}.sig")
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

async fn handle(State(state): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if let Some(authorization) = headers.get(header::AUTHORIZATION) {
        state
            .authorizations
            .lock()
            .expect("no handler panics while holding the log")
            .push(String::from_utf8_lossy(authorization.as_bytes()).into_owned());
    }
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
        Mode::BasicAuth => {
            let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "authentication required");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="hostile""#),
            );
            response
        }
        Mode::Honest
        | Mode::WrongDigest
        | Mode::OversizedManifest
        | Mode::EndlessBody
        | Mode::RepeatedSignature(_)
        | Mode::SignatureFlood { .. }
        | Mode::Drip(_) => serve_read_api(&state, &method, path),
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
    if let Some(tag) = &state.signature_tag {
        let signature_tag = format!(
            "sha256-{}.sig",
            honest
                .digest
                .strip_prefix("sha256:")
                .expect("sha256_digest writes the prefix")
        );
        if reference == signature_tag || reference == tag.manifest.digest {
            let m = &tag.manifest;
            return content(m.media_type, &m.digest, m.bytes.len(), Body::from(m.bytes.clone()));
        }
    }
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
        Mode::Drip(gap) if !head => {
            let bytes = honest.bytes.clone();
            let drip = stream::unfold(0usize, move |at| {
                let bytes = bytes.clone();
                async move {
                    if at >= bytes.len() {
                        return None;
                    }
                    if at > 0 {
                        tokio::time::sleep(gap).await;
                    }
                    Some((Ok::<_, std::io::Error>(Bytes::copy_from_slice(&bytes[at..=at])), at + 1))
                }
            });
            content(
                honest.media_type,
                &honest.digest,
                honest.bytes.len(),
                Body::from_stream(drip),
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
    let attached = state.signature_tag.iter().flat_map(|t| t.blobs.iter());
    let Some(found) = state
        .image
        .blobs()
        .into_iter()
        .chain(attached)
        .find(|b| b.digest == digest)
    else {
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
