//! HTTPS: rustls with the reloadable certificate, HTTP/1.1 keep-alive and
//! HTTP/2 (by ALPN), and the routes. Every wait is bounded: the TLS
//! handshake, the request headers, the body (by size and by the review's
//! deadline), the number of connections.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use sigil_verifier::pipeline::Settings;
use sigil_verifier::registry::RegistryClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::decisions::{CacheSettings, Decider};
use crate::metrics::Metrics;
use crate::review;
use crate::state::{Certificates, Current, Reloaded};
use crate::webhook::{self, Endpoint};

/// The largest review body read: the apiserver's own request limit is
/// 3 MiB, and a review carries the object and the old object.
const MAX_BODY: usize = 8 << 20;
/// The apiserver's default webhook timeout, and its ceiling.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_TIMEOUT: Duration = Duration::from_secs(30);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_CONNECTIONS: usize = 4096;

/// How `sigil admission` was asked to run.
pub struct Config {
    pub policy: PathBuf,
    pub listen: SocketAddr,
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    pub client: Arc<RegistryClient>,
    pub pipeline: Settings,
    pub cache: CacheSettings,
    /// How often the policy and TLS files are checked for changes.
    pub reload_interval: Duration,
}

struct App {
    current: Current,
    certificates: Arc<Certificates>,
    decider: Decider,
    metrics: Arc<Metrics>,
}

/// Loads the policy and certificate, listens, and serves until the process
/// is stopped. Returns early (an error) only when it cannot start.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let now = OffsetDateTime::now_utc();
    let current =
        Current::new(config.policy.clone(), config.client.clone(), config.pipeline, now).map_err(anyhow::Error::msg)?;
    let certificates = Arc::new(Certificates::load(&config.tls_cert, &config.tls_key).map_err(anyhow::Error::msg)?);
    let acceptor = tls_acceptor(certificates.clone())?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr().context("the listening address")?;
    let metrics = Arc::new(Metrics::default());
    let app = Arc::new(App {
        decider: Decider::new(config.cache, config.client.clone(), metrics.clone()),
        current,
        certificates,
        metrics,
    });
    eprintln!(
        "sigil admission: listening on https://{address} (policy {}, {})",
        config.policy.display(),
        app.current.get().policy.digest
    );
    tokio::spawn(reload(app.clone(), config.reload_interval));

    let handler = move |request| {
        let app = app.clone();
        async move { route(request, &app).await }
    };
    match serve(listener, Some(acceptor), handler).await {}
}

/// The TLS side of a server: rustls with `certificates` (asked on every
/// handshake, so a reloaded certificate serves the next connection), ALPN
/// `h2` then `http/1.1`.
pub fn tls_acceptor(certificates: Arc<Certificates>) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .context("TLS configuration")?
        .with_no_client_auth()
        .with_cert_resolver(certificates);
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(tls)))
}

/// Accepts connections on `listener` until the process is stopped and
/// answers each request with `handler`: HTTP/1.1 (keep-alive) and HTTP/2,
/// over TLS when `tls` is given (a failed or slow handshake ends that
/// connection only), else plain (HTTP/2 by prior knowledge). The handshake,
/// the request headers and the number of open connections are bounded; a
/// connection that does not speak HTTP (a TLS ClientHello on a plain port)
/// is closed and harms no other.
pub async fn serve<H, F, B>(listener: TcpListener, tls: Option<tokio_rustls::TlsAcceptor>, handler: H) -> Infallible
where
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let handler = Arc::new(handler);
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::warn!("{MAX_CONNECTIONS} connections open: refusing another");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (tls, handler) = (tls.clone(), handler.clone());
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = tls else {
                return serve_connection(TokioIo::new(tcp), handler).await;
            };
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return tracing::debug!("TLS handshake: {e}"),
                Err(_) => return tracing::debug!("TLS handshake: timed out"),
            };
            serve_connection(TokioIo::new(tls), handler).await;
        });
    }
}

async fn serve_connection<I, H, F, B>(io: I, handler: Arc<H>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    H: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = hyper::service::service_fn(move |request| {
        let answer = handler(request);
        async move { Ok::<_, Infallible>(answer.await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    if let Err(e) = builder.serve_connection(io, service).await {
        tracing::debug!("connection: {e}");
    }
}

/// Checks the policy and certificate files every `interval`.
async fn reload(app: Arc<App>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let app = app.clone();
        // File reads and compiling a policy block: off the async threads.
        let _ = tokio::task::spawn_blocking(move || {
            let m = &app.metrics;
            match app.current.reload_if_changed(OffsetDateTime::now_utc()) {
                Reloaded::Unchanged => {}
                Reloaded::Swapped => Metrics::count(&m.policy_reloads_ok),
                Reloaded::Failed => Metrics::count(&m.policy_reloads_failed),
            }
            m.policy_stale
                .store(u64::from(app.current.failure().is_some()), Ordering::Relaxed);
            app.decider.purge();
            match app.certificates.reload_if_changed() {
                None => {}
                Some(Ok(())) => Metrics::count(&m.tls_reloads_ok),
                Some(Err(_)) => Metrics::count(&m.tls_reloads_failed),
            }
        })
        .await;
    }
}

async fn route(request: Request<Incoming>, app: &App) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let endpoint = match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => return text(StatusCode::OK, "ok\n".into()),
        (&Method::GET, "/readyz") => return ready(app),
        (&Method::GET, "/metrics") => {
            let mut response = text(
                StatusCode::OK,
                app.metrics.render(&app.current.get().policy.digest.to_string()),
            );
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            return response;
        }
        (&Method::POST, "/validate") => Endpoint::Validate,
        (&Method::POST, "/mutate") => Endpoint::Mutate,
        (_, "/validate" | "/mutate" | "/healthz" | "/readyz" | "/metrics") => {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n".into());
        }
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "not found: sigil admission serves POST /validate, POST /mutate, GET /healthz, /readyz, /metrics\n"
                    .into(),
            );
        }
    };
    let response = review(request, endpoint, app, started).await;
    app.metrics
        .request(endpoint.label(), response.status().as_u16(), started.elapsed());
    response
}

/// The deadline of a review: the apiserver's `?timeout=` (10 s by default,
/// at most 30 s) less a margin for the answer to travel back.
fn deadline(query: Option<&str>, started: Instant) -> Instant {
    let timeout = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("timeout="))
        .and_then(go_duration)
        .unwrap_or(DEFAULT_TIMEOUT)
        .min(MAX_TIMEOUT);
    let margin = (timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(1));
    started + timeout.saturating_sub(margin)
}

/// A Go `time.Duration` string as the apiserver writes it (`10s`, `1m30s`, `500ms`).
fn go_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_end);
        let value: f64 = number.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let seconds = match unit {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += Duration::try_from_secs_f64(value * seconds).ok()?;
        rest = tail;
    }
    Some(total)
}

async fn review(request: Request<Incoming>, endpoint: Endpoint, app: &App, started: Instant) -> Response<Full<Bytes>> {
    let deadline = deadline(request.uri().query(), started);
    let body = Limited::new(request.into_body(), MAX_BODY);
    let bytes = match tokio::time::timeout_at(deadline, body.collect()).await {
        Err(_) => {
            return text(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time\n".into(),
            );
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("an AdmissionReview is at most {MAX_BODY} bytes\n"),
            );
        }
        Ok(Err(e)) => return text(StatusCode::BAD_REQUEST, format!("cannot read the request body: {e}\n")),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let review = match review::parse(&bytes) {
        Ok(review) => review,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("not an AdmissionReview v1: {e}\n")),
    };
    // One policy for the whole review, whatever reloads meanwhile.
    let loaded = app.current.get();
    let answer = webhook::answer(&review, endpoint, &loaded, &app.decider, &app.metrics, deadline).await;
    if !answer.allowed {
        tracing::info!(
            "{} {}: denied: {}",
            endpoint.label(),
            review.uid,
            answer.message.as_deref().unwrap_or_default()
        );
    }
    let mut response = Response::new(Full::new(Bytes::from(review::respond(&review, &answer))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `/readyz`: the policy is loaded and its trust material compiled (it
/// could not serve otherwise); a failed reload is said, with the policy
/// still serving.
fn ready(app: &App) -> Response<Full<Bytes>> {
    let loaded = app.current.get();
    let when = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let mut body = format!(
        "ready: policy {} ({}, loaded {}, {} rules)\n",
        loaded.policy.file.display(),
        loaded.policy.digest,
        when(loaded.loaded_at),
        loaded.policy.rules.len()
    );
    if let Some(failure) = app.current.failure() {
        body.push_str(&format!(
            "policy reload failed at {}: {}; the policy above still serves\n",
            when(failure.at),
            failure.error
        ));
    }
    text(StatusCode::OK, body)
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_durations() {
        for (text, want) in [
            ("10s", Some(Duration::from_secs(10))),
            ("1m30s", Some(Duration::from_secs(90))),
            ("500ms", Some(Duration::from_millis(500))),
            ("1.5s", Some(Duration::from_millis(1500))),
            ("", None),
            ("10", None),
            ("s", None),
            ("10x", None),
            ("-1s", None),
        ] {
            assert_eq!(go_duration(text), want, "{text:?}");
        }
    }

    #[test]
    fn the_deadline_leaves_a_margin_within_the_apiservers_timeout() {
        let t0 = Instant::now();
        assert_eq!(deadline(Some("timeout=10s"), t0), t0 + Duration::from_secs(9));
        assert_eq!(deadline(Some("x=1&timeout=2s"), t0), t0 + Duration::from_millis(1800));
        assert_eq!(deadline(None, t0), t0 + Duration::from_secs(9));
        assert_eq!(deadline(Some("timeout=garbage"), t0), t0 + Duration::from_secs(9));
        // Past the apiserver's ceiling: 30 s.
        assert_eq!(deadline(Some("timeout=5m"), t0), t0 + Duration::from_secs(29));
    }
}
