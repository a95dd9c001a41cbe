//! The HTTP side of the distribution API: scheme selection (TLS, or plain HTTP
//! only for loopback or with `--allow-insecure-registry`), authentication
//! (basic, bearer-token challenge), bounded retries with backoff, and bounded
//! reads. Nothing here knows about manifests or signatures.
//!
//! Time is bounded three ways: a connect timeout, a read timeout (the longest
//! silence), and a [`Deadline`] for each request as a whole (retries,
//! authentication round trips and reading the body included), so a registry
//! that drips one byte every few seconds cannot hold a run forever.
//! Explicit credentials go only to the registry they are scoped to
//! ([`ScopedCredential`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::Mutex;
use url::Url;

use super::auth::{self, Challenge, TokenAnswer};
use super::credentials::{Credential, DockerConfig, ScopedCredential};
use super::tls::{self, CaCertError, OnDemandRoots};
use crate::reference::{DOCKER_HUB, canonical_host, host_is_loopback};
use crate::store::StoreError;

/// Where Docker Hub serves the distribution API. Images on Docker Hub are
/// named `docker.io/...` (and reported so), but `https://docker.io/v2/` is
/// not a registry: docker, containerd and go-containerregistry all send the
/// API requests for `docker.io` to this host.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// The `HOST[:PORT]` that serves the distribution API of `registry`, a
/// registry name as references carry it: [`DOCKER_HUB_API`] for Docker Hub
/// (`docker.io` and its aliases), `registry` itself for every other one.
/// The one place registry names become network addresses; names in
/// reports, errors, credentials and policies stay `docker.io`.
pub fn api_host(registry: &str) -> &str {
    if canonical_host(registry) == DOCKER_HUB {
        DOCKER_HUB_API
    } else {
        registry
    }
}

/// How to reach registries. Built once from the command line.
#[derive(Debug)]
pub struct RegistryOptions {
    /// Credentials given explicitly (flags or environment) and the one
    /// registry they are for; there they win over the docker config, and no
    /// other registry ever sees them.
    pub credential: Option<ScopedCredential>,
    /// The docker config to look credentials up in.
    pub docker_config: DockerConfig,
    /// Extra trusted CA certificates, PEM (`--registry-cacert`).
    pub ca_certs_pem: Vec<Vec<u8>>,
    /// Allow plain HTTP to non-loopback registries (`--allow-insecure-registry`).
    pub allow_insecure: bool,
    pub connect_timeout: Duration,
    /// Longest silence while waiting for an answer or the next chunk of a body.
    pub read_timeout: Duration,
    /// Longest a whole request may take, answer body included
    /// (`--registry-timeout`); streamed layers get it once per
    /// [`STREAM_DEADLINE_BYTES`] of their size.
    pub request_timeout: Duration,
    /// Retries after a 429, a 5xx or a dropped connection.
    pub retries: u32,
    /// First backoff delay; it doubles each retry.
    pub backoff: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            credential: None,
            docker_config: DockerConfig::default(),
            ca_certs_pem: Vec::new(),
            allow_insecure: false,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// The longest `Retry-After` sigil honours before giving up on a registry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// The default deadline of one request (`--registry-timeout`).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// A streamed blob (an image layer being copied) gets the request deadline
/// once for every this many bytes of its size: about 1 MiB/s at the default.
pub const STREAM_DEADLINE_BYTES: u64 = 64 << 20;

/// When a request must be over, and the limit it came from (for messages).
/// Travels with an answer (as a response extension) so reading its body
/// stays under the same deadline.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub fn after(limit: Duration) -> Deadline {
        Deadline {
            at: tokio::time::Instant::now() + limit,
            limit,
        }
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(tokio::time::Instant::now())
    }

    fn passed(&self) -> bool {
        self.remaining().is_zero()
    }

    /// The error for `what` at `location` not done in time.
    pub fn error(&self, location: &str, what: &str) -> StoreError {
        StoreError::Deadline {
            location: location.to_owned(),
            what: what.to_owned(),
            limit: self.limit,
        }
    }

    /// Runs `work`, or gives the deadline error once the deadline passes.
    pub async fn bound<T>(
        &self,
        location: &str,
        what: &str,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout_at(self.at, work)
            .await
            .unwrap_or_else(|_| Err(self.error(location, what)))
    }
}

/// Per-registry state learned while talking to it.
#[derive(Default)]
struct Host {
    base: Option<Url>,
    credential: Option<Option<Credential>>,
    /// The registry asked for basic auth.
    basic: bool,
    /// Bearer tokens by scope.
    tokens: HashMap<String, String>,
}

/// One request to a registry, replayable on retry.
#[derive(Clone)]
pub struct Request {
    /// Needs push (write) access, which widens the token scope.
    pub push: bool,
    pub method: Method,
    /// `/v2/...`, or an absolute URL (upload locations).
    pub path: String,
    pub headers: HeaderMap,
    pub body: Body,
    /// The whole request's time limit; the client's `request_timeout` when `None`.
    pub timeout: Option<Duration>,
}

/// One request as sent (and sent again on retry), within its deadline.
#[derive(Clone, Copy)]
struct Exchange<'a> {
    url: &'a Url,
    method: &'a Method,
    headers: &'a HeaderMap,
    body: &'a Body,
    deadline: Deadline,
}

/// A body that can be sent again on retry.
#[derive(Clone)]
pub enum Body {
    Empty,
    Bytes { content_type: String, bytes: Bytes },
}

/// One HTTP client for every registry of a run. Its TLS trust (system roots
/// and `--registry-cacert`) is loaded by the first TLS handshake, so a run
/// that only talks plain HTTP to loopback never reads it ([`tls`]).
pub struct RegistryClient {
    http: reqwest::Client,
    roots: Arc<OnDemandRoots>,
    options: RegistryOptions,
    hosts: Mutex<HashMap<String, Arc<Mutex<Host>>>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("--registry-cacert: {0}")]
    BadCaCert(CaCertError),
    #[error("cannot set up the HTTP client: {0}")]
    Build(String),
}

impl RegistryClient {
    /// A client for `options`. Cheap: `--registry-cacert` files are parsed
    /// and checked here, but nothing else about TLS is set up until a
    /// registry speaks it.
    pub fn new(options: RegistryOptions) -> Result<RegistryClient, ClientError> {
        let mut extra_roots = Vec::new();
        for pem in &options.ca_certs_pem {
            extra_roots.extend(tls::parse_ca_certs(pem).map_err(ClientError::BadCaCert)?);
        }
        let (tls_config, roots) = tls::client_config(extra_roots).map_err(|e| ClientError::Build(e.to_string()))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .pool_max_idle_per_host(64)
            .tls_backend_preconfigured(tls_config)
            .build()
            .map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(RegistryClient {
            http,
            roots,
            options,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    /// How many times TLS trust was set up (system roots and
    /// `--registry-cacert` loaded): 0 until a registry or token service
    /// presents a TLS certificate, then 1 for the life of the client.
    pub fn tls_setups(&self) -> usize {
        self.roots.setups()
    }

    async fn host(&self, registry: &str) -> Arc<Mutex<Host>> {
        self.hosts.lock().await.entry(registry.to_owned()).or_default().clone()
    }

    /// The deadline of a streamed transfer of `size` bytes: the request
    /// deadline once per [`STREAM_DEADLINE_BYTES`].
    pub fn streaming_timeout(&self, size: u64) -> Duration {
        let units = size.div_ceil(STREAM_DEADLINE_BYTES).max(1);
        self.options
            .request_timeout
            .saturating_mul(u32::try_from(units).unwrap_or(u32::MAX))
    }

    /// Sends a request to `registry`, authenticating and retrying as needed,
    /// all within the request's deadline, which also bounds reading the
    /// answer's body (see [`read_limited`]). The answer may be any status;
    /// callers map statuses to meaning.
    pub async fn send(&self, registry: &str, repository: &str, request: Request) -> Result<Response, StoreError> {
        let deadline = Deadline::after(request.timeout.unwrap_or(self.options.request_timeout));
        let what = format!("{} {}", request.method, describe_path(&request.path));
        let mut response = deadline
            .bound(registry, &what, self.send_by(registry, repository, request, deadline))
            .await?;
        response.extensions_mut().insert(deadline);
        Ok(response)
    }

    async fn send_by(
        &self,
        registry: &str,
        repository: &str,
        request: Request,
        deadline: Deadline,
    ) -> Result<Response, StoreError> {
        let Request {
            push,
            method,
            path,
            headers,
            body,
            timeout: _,
        } = request;
        let path = path.as_str();
        let host = self.host(registry).await;
        let base = self.base_url(registry, &host, deadline).await?;
        let url = base.join(path).map_err(|e| StoreError::Malformed {
            location: registry.to_owned(),
            what: "request URL".into(),
            detail: e.to_string(),
        })?;
        if url.host_str() != base.host_str() || url.port_or_known_default() != base.port_or_known_default() {
            // Upload locations may point elsewhere; never send our credentials there.
            let exchange = Exchange {
                url: &url,
                method: &method,
                headers: &headers,
                body: &body,
                deadline,
            };
            return self.send_with_retries(registry, &exchange, None).await;
        }
        let exchange = Exchange {
            url: &url,
            method: &method,
            headers: &headers,
            body: &body,
            deadline,
        };
        let scope = auth::scope(repository, push);
        let mut authorized_once = false;
        loop {
            let authorization = self.authorization(registry, &host, &scope).await?;
            let response = self.send_with_retries(registry, &exchange, authorization).await?;
            if response.status() != StatusCode::UNAUTHORIZED || authorized_once {
                return Ok(response);
            }
            authorized_once = true;
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_challenge);
            match challenge {
                Some(Challenge::Basic) => host.lock().await.basic = true,
                Some(Challenge::Bearer { realm, service, .. }) => {
                    let token = self
                        .fetch_token(registry, &host, &realm, service.as_deref(), &scope, deadline)
                        .await?;
                    host.lock().await.tokens.insert(scope.clone(), token);
                }
                None => return Ok(response),
            }
        }
    }

    /// The Authorization header to send, from what the registry asked for before.
    async fn authorization(
        &self,
        registry: &str,
        host: &Mutex<Host>,
        scope: &str,
    ) -> Result<Option<String>, StoreError> {
        let (basic, token) = {
            let h = host.lock().await;
            (h.basic, h.tokens.get(scope).cloned())
        };
        if let Some(token) = token {
            return Ok(Some(format!("Bearer {token}")));
        }
        if !basic {
            return Ok(None);
        }
        match self.credential(registry, host).await? {
            Some(Credential::Basic { username, password }) => {
                use base64::Engine as _;
                let raw = zeroize::Zeroizing::new(format!("{username}:{}", password.expose()));
                Ok(Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw.as_bytes())
                )))
            }
            Some(Credential::IdentityToken(_)) => Err(StoreError::Unauthorized {
                location: registry.to_owned(),
                detail: "the registry wants basic auth but only an identity token is configured".into(),
            }),
            None => Err(StoreError::Unauthorized {
                location: registry.to_owned(),
                detail: "the registry requires credentials and none are configured".into(),
            }),
        }
    }

    async fn credential(&self, registry: &str, host: &Mutex<Host>) -> Result<Option<Credential>, StoreError> {
        let mut h = host.lock().await;
        if let Some(found) = &h.credential {
            return Ok(found.clone());
        }
        // Explicit credentials only for the registry they are scoped to; any
        // other registry gets its docker config entry, or nothing.
        let explicit = self
            .options
            .credential
            .as_ref()
            .and_then(|scoped| scoped.for_registry(registry));
        let found = match explicit {
            Some(explicit) => Some(explicit.clone()),
            None => self
                .options
                .docker_config
                .credential_for(registry)
                .map_err(|e| StoreError::Unauthorized {
                    location: registry.to_owned(),
                    detail: e.to_string(),
                })?,
        };
        h.credential = Some(found.clone());
        Ok(found)
    }

    /// Exchanges credentials (or nothing) for a bearer token at `realm`.
    async fn fetch_token(
        &self,
        registry: &str,
        host: &Mutex<Host>,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        deadline: Deadline,
    ) -> Result<String, StoreError> {
        let unauthorized = |detail: String| StoreError::Unauthorized {
            location: registry.to_owned(),
            detail,
        };
        let mut url =
            Url::parse(realm).map_err(|e| unauthorized(format!("token realm {realm:?} is not a URL: {e}")))?;
        let realm_host = url.host_str().unwrap_or_default().to_owned();
        let plain_ok = url.scheme() == "https" || host_is_loopback(&realm_host) || self.options.allow_insecure;
        if !plain_ok {
            return Err(StoreError::Refused {
                location: registry.to_owned(),
                detail: format!(
                    "refusing to send credentials to a plain-HTTP token service {realm} (needs --allow-insecure-registry)"
                ),
            });
        }
        let credential = self.credential(registry, host).await?;
        let request = match &credential {
            Some(Credential::IdentityToken(token)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", token.expose())
                    .append_pair("client_id", "sigil")
                    .append_pair("scope", scope);
                if let Some(service) = service {
                    form.append_pair("service", service);
                }
                self.http
                    .post(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form.finish())
            }
            other => {
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(service) = service {
                        q.append_pair("service", service);
                    }
                    q.append_pair("scope", scope);
                }
                let request = self.http.get(url);
                match other {
                    Some(Credential::Basic { username, password }) => {
                        request.basic_auth(username, Some(password.expose()))
                    }
                    _ => request,
                }
            }
        };
        let request = request.timeout(deadline.remaining());
        let mut response = logged(request, "GET")
            .await
            .map_err(|e| transport_error(&format!("token service of {registry}"), "token request", &e, deadline))?;
        response.extensions_mut().insert(deadline);
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let who = credential
                .as_ref()
                .map_or("anonymous access".to_owned(), Credential::describe);
            return Err(unauthorized(format!(
                "the token service refused {who} (HTTP {})",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(unauthorized(format!(
                "the token service answered HTTP {}",
                status.as_u16()
            )));
        }
        let body = read_limited(registry, "token answer", response, 1 << 20).await?;
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| unauthorized(format!("the token service answered something that is not a token: {e}")))?;
        answer
            .into_token()
            .ok_or_else(|| unauthorized("the token service answered without a token".into()))
    }

    /// Finds out, once per registry, whether it speaks HTTPS or (when allowed) plain HTTP.
    async fn base_url(&self, registry: &str, host: &Mutex<Host>, deadline: Deadline) -> Result<Url, StoreError> {
        let mut h = host.lock().await;
        if let Some(base) = &h.base {
            return Ok(base.clone());
        }
        let endpoint = api_host(registry);
        let parse = |scheme: &str| {
            Url::parse(&format!("{scheme}://{endpoint}/")).map_err(|e| StoreError::Malformed {
                location: registry.to_owned(),
                what: "registry address".into(),
                detail: e.to_string(),
            })
        };
        let https = parse("https")?;
        let probe = |base: &Url| {
            let request = self
                .http
                .get(base.join("/v2/").unwrap_or_else(|_| base.clone()))
                .timeout(deadline.remaining());
            logged(request, "GET")
        };
        let tls_error = match probe(&https).await {
            Ok(_) => {
                h.base = Some(https.clone());
                return Ok(https);
            }
            Err(e) => e,
        };
        // Say which host failed when it is not the one the user named.
        let at = if endpoint == registry {
            String::new()
        } else {
            format!("{endpoint}: ")
        };
        let unreachable = |detail: String| StoreError::Unreachable {
            location: registry.to_owned(),
            detail: format!("{at}{detail}"),
        };
        if is_certificate_error(&tls_error) {
            return Err(unreachable(format!(
                "the TLS certificate is not trusted ({}); pass the registry's CA with --registry-cacert FILE",
                describe_reqwest(&tls_error)
            )));
        }
        let loopback = host_is_loopback(registry);
        // Docker Hub always speaks TLS: a failed handshake there is an
        // attacker or a broken network, never a reason to send credentials
        // in clear text, whatever --allow-insecure-registry says.
        let hub = endpoint == DOCKER_HUB_API;
        if hub || (!loopback && !self.options.allow_insecure) {
            let hint = if rustls_error(&tls_error).is_some() {
                "; it does not speak TLS, and plain HTTP to a registry that is not on loopback needs --allow-insecure-registry"
            } else {
                ""
            };
            return Err(unreachable(format!("{}{hint}", describe_reqwest(&tls_error))));
        }
        let http = parse("http")?;
        match probe(&http).await {
            Ok(_) => {
                if !loopback {
                    tracing::warn!(
                        "using plain HTTP for {registry}: traffic is readable and changeable in transit (--allow-insecure-registry)"
                    );
                }
                h.base = Some(http.clone());
                Ok(http)
            }
            Err(e) => Err(unreachable(describe_reqwest(&e))),
        }
    }

    /// Sends one request, retrying dropped connections, 429 and 5xx answers
    /// a bounded number of times with exponential backoff.
    async fn send_with_retries(
        &self,
        registry: &str,
        exchange: &Exchange<'_>,
        authorization: Option<String>,
    ) -> Result<Response, StoreError> {
        let Exchange {
            url,
            method,
            headers,
            body,
            deadline,
        } = *exchange;
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .timeout(deadline.remaining());
            if let Some(a) = &authorization {
                request = request.header(AUTHORIZATION, a);
            }
            if let Body::Bytes { content_type, bytes } = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes.clone());
            }
            let outcome = logged(request, method.as_str()).await;
            let retry_in = match &outcome {
                Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS || r.status().is_server_error() => {
                    Some(retry_after(r.headers()).unwrap_or(self.backoff(attempt)))
                }
                Ok(_) => None,
                // A timeout is not retried: 30 s of silence, four times over, would be a hang.
                Err(e) if !e.is_timeout() && (e.is_connect() || e.is_request()) => Some(self.backoff(attempt)),
                Err(_) => None,
            };
            match retry_in {
                Some(delay)
                    if attempt < self.options.retries && delay <= MAX_RETRY_AFTER && delay < deadline.remaining() =>
                {
                    tracing::debug!("{registry}: retrying {method} {} in {delay:?}", url.path());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => {
                    return outcome.map_err(|e| {
                        if e.is_timeout() && deadline.passed() {
                            return deadline.error(registry, &format!("{method} {}", describe_path(url.path())));
                        }
                        StoreError::Unreachable {
                            location: registry.to_owned(),
                            detail: format!("{} (after {} attempts)", describe_reqwest(&e), attempt + 1),
                        }
                    });
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.options.backoff.saturating_mul(1 << attempt.min(8))
    }

    /// Sends a streamed upload body once (streams cannot be replayed), within
    /// the streaming deadline for its length.
    pub async fn send_stream(
        &self,
        registry: &str,
        repository: &str,
        url: &str,
        body: reqwest::Body,
        length: u64,
    ) -> Result<Response, StoreError> {
        let deadline = Deadline::after(self.streaming_timeout(length));
        let what = format!("uploading {length} bytes");
        let mut response = deadline
            .bound(
                registry,
                &what,
                self.send_stream_by(registry, repository, url, body, length, deadline),
            )
            .await?;
        response.extensions_mut().insert(deadline);
        Ok(response)
    }

    async fn send_stream_by(
        &self,
        registry: &str,
        repository: &str,
        url: &str,
        body: reqwest::Body,
        length: u64,
        deadline: Deadline,
    ) -> Result<Response, StoreError> {
        let host = self.host(registry).await;
        let base = self.base_url(registry, &host, deadline).await?;
        let url = base.join(url).map_err(|e| StoreError::Malformed {
            location: registry.to_owned(),
            what: "upload location".into(),
            detail: e.to_string(),
        })?;
        let same_host =
            url.host_str() == base.host_str() && url.port_or_known_default() == base.port_or_known_default();
        let authorization = if same_host {
            self.authorization(registry, &host, &auth::scope(repository, true))
                .await?
        } else {
            None
        };
        let mut request = self
            .http
            .put(url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, length)
            .timeout(deadline.remaining())
            .body(body);
        if let Some(a) = authorization {
            request = request.header(AUTHORIZATION, a);
        }
        logged(request, "PUT")
            .await
            .map_err(|e| transport_error(registry, "upload", &e, deadline))
    }
}

/// Sends `request` and logs the exchange at info level (`-v`): method, URL
/// without query, fragment or userinfo (upload state, token scopes), status
/// and time. Headers, and so credentials, are never logged.
async fn logged(request: reqwest::RequestBuilder, method: &str) -> Result<Response, reqwest::Error> {
    let started = std::time::Instant::now();
    let shown = request.try_clone().and_then(|r| r.build().ok()).map(|r| {
        let mut url = r.url().clone();
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.to_string()
    });
    let outcome = request.send().await;
    let url = shown.as_deref().unwrap_or("(streamed request)");
    let took = started.elapsed().as_millis();
    match &outcome {
        Ok(r) => tracing::info!("{method} {url} -> {} in {took} ms", r.status().as_u16()),
        Err(e) => tracing::info!("{method} {url} -> {} in {took} ms", describe_reqwest(e)),
    }
    outcome
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Reads a response body, refusing more than `limit` bytes (announced or
/// actual), and giving up when the request's [`Deadline`] (carried by the
/// answer) passes.
pub async fn read_limited(location: &str, what: &str, response: Response, limit: u64) -> Result<Vec<u8>, StoreError> {
    let too_large = |size| StoreError::TooLarge {
        location: location.to_owned(),
        what: what.to_owned(),
        size,
        limit,
    };
    if let Some(len) = response.content_length()
        && len > limit
    {
        return Err(too_large(len));
    }
    let deadline = response
        .extensions()
        .get::<Deadline>()
        .copied()
        .unwrap_or_else(|| Deadline::after(DEFAULT_REQUEST_TIMEOUT));
    let capacity = response.content_length().unwrap_or(0).min(limit);
    let read = async move {
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| transport_error(location, &format!("reading {what}"), &e, deadline))?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large(body.len() as u64 + chunk.len() as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    deadline.bound(location, &format!("reading {what}"), read).await
}

/// A transport error as a store error: the deadline's when it has passed
/// (reqwest reports both silence and the total limit as a timeout).
pub fn transport_error(location: &str, what: &str, e: &reqwest::Error, deadline: Deadline) -> StoreError {
    if e.is_timeout() && deadline.passed() {
        return deadline.error(location, what);
    }
    StoreError::Unreachable {
        location: location.to_owned(),
        detail: format!("{what}: {}", describe_reqwest(e)),
    }
}

/// A request path for messages: printable and bounded, whatever a registry
/// put in an upload location.
fn describe_path(path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let mut shown: String = path.chars().filter(|c| !c.is_control()).take(120).collect();
    if path.chars().count() > 120 {
        shown.push_str("...");
    }
    shown
}

/// A one-line description of a transport error, with its innermost cause.
pub fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        causes.push(s.to_string());
        source = s.source();
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed"
    } else {
        "request failed"
    };
    match causes.last() {
        Some(cause) => format!("{kind}: {cause}"),
        None => kind.to_owned(),
    }
}

/// True when TLS failed because the peer's certificate is not trusted (as
/// opposed to the peer not speaking TLS at all).
fn is_certificate_error(e: &reqwest::Error) -> bool {
    matches!(
        rustls_error(e),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
    )
}

/// The TLS error under a transport error, when the peer was reached and the
/// handshake failed.
fn rustls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        // hyper nests the rustls error in two io::Errors, and io::Error's
        // `source()` skips what it wraps: unwrap them by hand.
        let mut inner = s;
        while let Some(wrapped) = inner.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            inner = wrapped;
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_reached_at_its_api_host() {
        for name in [
            "docker.io",
            "Docker.IO",
            "docker.io:443",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            assert_eq!(api_host(name), "registry-1.docker.io", "{name}");
        }
        // twins: every other registry is reached where it is named, Docker
        // Hub's host names on another port included.
        for name in [
            "docker.io:5000",
            "index.docker.io:5000",
            "registry.docker.io",
            "docker.io.example",
            "mirror.gcr.io",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert_eq!(api_host(name), name, "{name}");
        }
    }
}
