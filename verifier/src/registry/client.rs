//! The HTTP side of the distribution API: scheme selection (TLS, or plain HTTP
//! only for loopback or with `--allow-insecure-registry`), authentication
//! (basic, bearer-token challenge), bounded retries with backoff, and bounded
//! reads. Nothing here knows about manifests or signatures.

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
use super::credentials::{Credential, DockerConfig};
use crate::reference::host_is_loopback;
use crate::store::StoreError;

/// How to reach registries. Built once from the command line.
#[derive(Debug)]
pub struct RegistryOptions {
    /// Credentials given explicitly (flags or environment); they win over the docker config.
    pub credential: Option<Credential>,
    /// The docker config to look credentials up in.
    pub docker_config: DockerConfig,
    /// Extra trusted CA certificates, PEM (`--registry-cacert`).
    pub ca_certs_pem: Vec<Vec<u8>>,
    /// Allow plain HTTP to non-loopback registries (`--allow-insecure-registry`).
    pub allow_insecure: bool,
    pub connect_timeout: Duration,
    /// Longest silence while waiting for an answer or the next chunk of a body.
    pub read_timeout: Duration,
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
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// The longest `Retry-After` sigil honours before giving up on a registry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

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
}

/// A body that can be sent again on retry.
#[derive(Clone)]
pub enum Body {
    Empty,
    Bytes { content_type: String, bytes: Bytes },
}

/// One HTTP client for every registry of a run.
pub struct RegistryClient {
    http: reqwest::Client,
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
    #[error("--registry-cacert: no PEM certificate found in the file ({0})")]
    BadCaCert(String),
    #[error("cannot set up the HTTP client: {0}")]
    Build(String),
}

impl RegistryClient {
    pub fn new(options: RegistryOptions) -> Result<RegistryClient, ClientError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .pool_max_idle_per_host(64);
        for pem in &options.ca_certs_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(|e| ClientError::BadCaCert(e.to_string()))?;
            if certs.is_empty() {
                return Err(ClientError::BadCaCert("empty".into()));
            }
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder.build().map_err(|e| ClientError::Build(e.to_string()))?;
        Ok(RegistryClient {
            http,
            options,
            hosts: Mutex::new(HashMap::new()),
        })
    }

    async fn host(&self, registry: &str) -> Arc<Mutex<Host>> {
        self.hosts.lock().await.entry(registry.to_owned()).or_default().clone()
    }

    /// Sends a request to `registry`, authenticating and retrying as needed.
    /// The answer may be any status; callers map statuses to meaning.
    pub async fn send(&self, registry: &str, repository: &str, request: Request) -> Result<Response, StoreError> {
        let Request {
            push,
            method,
            path,
            headers,
            body,
        } = request;
        let path = path.as_str();
        let host = self.host(registry).await;
        let base = self.base_url(registry, &host).await?;
        let url = base.join(path).map_err(|e| StoreError::Malformed {
            location: registry.to_owned(),
            what: "request URL".into(),
            detail: e.to_string(),
        })?;
        if url.host_str() != base.host_str() || url.port_or_known_default() != base.port_or_known_default() {
            // Upload locations may point elsewhere; never send our credentials there.
            return self
                .send_with_retries(registry, &url, method, headers, body, None)
                .await;
        }
        let scope = auth::scope(repository, push);
        let mut authorized_once = false;
        loop {
            let authorization = self.authorization(registry, &host, &scope).await?;
            let response = self
                .send_with_retries(
                    registry,
                    &url,
                    method.clone(),
                    headers.clone(),
                    body.clone(),
                    authorization,
                )
                .await?;
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
                        .fetch_token(registry, &host, &realm, service.as_deref(), &scope)
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
        let found = match &self.options.credential {
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
        let response = request.send().await.map_err(|e| StoreError::Unreachable {
            location: format!("token service of {registry}"),
            detail: describe_reqwest(&e),
        })?;
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
    async fn base_url(&self, registry: &str, host: &Mutex<Host>) -> Result<Url, StoreError> {
        let mut h = host.lock().await;
        if let Some(base) = &h.base {
            return Ok(base.clone());
        }
        let parse = |scheme: &str| {
            Url::parse(&format!("{scheme}://{registry}/")).map_err(|e| StoreError::Malformed {
                location: registry.to_owned(),
                what: "registry address".into(),
                detail: e.to_string(),
            })
        };
        let https = parse("https")?;
        let probe = |base: &Url| self.http.get(base.join("/v2/").unwrap_or_else(|_| base.clone())).send();
        let tls_error = match probe(&https).await {
            Ok(_) => {
                h.base = Some(https.clone());
                return Ok(https);
            }
            Err(e) => e,
        };
        let unreachable = |detail: String| StoreError::Unreachable {
            location: registry.to_owned(),
            detail,
        };
        if is_certificate_error(&tls_error) {
            return Err(unreachable(format!(
                "the TLS certificate is not trusted ({}); pass the registry's CA with --registry-cacert FILE",
                describe_reqwest(&tls_error)
            )));
        }
        let loopback = host_is_loopback(registry);
        if !loopback && !self.options.allow_insecure {
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
        url: &Url,
        method: Method,
        headers: HeaderMap,
        body: Body,
        authorization: Option<String>,
    ) -> Result<Response, StoreError> {
        let mut attempt = 0;
        loop {
            let mut request = self.http.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(a) = &authorization {
                request = request.header(AUTHORIZATION, a);
            }
            if let Body::Bytes { content_type, bytes } = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, content_type)
                    .body(bytes.clone());
            }
            let outcome = request.send().await;
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
                Some(delay) if attempt < self.options.retries && delay <= MAX_RETRY_AFTER => {
                    tracing::debug!("{registry}: retrying {method} {} in {delay:?}", url.path());
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                _ => {
                    return outcome.map_err(|e| StoreError::Unreachable {
                        location: registry.to_owned(),
                        detail: format!("{} (after {} attempts)", describe_reqwest(&e), attempt + 1),
                    });
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        self.options.backoff.saturating_mul(1 << attempt.min(8))
    }

    /// Sends a streamed upload body once (streams cannot be replayed).
    pub async fn send_stream(
        &self,
        registry: &str,
        repository: &str,
        url: &str,
        body: reqwest::Body,
        length: u64,
    ) -> Result<Response, StoreError> {
        let host = self.host(registry).await;
        let base = self.base_url(registry, &host).await?;
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
            .body(body);
        if let Some(a) = authorization {
            request = request.header(AUTHORIZATION, a);
        }
        request.send().await.map_err(|e| StoreError::Unreachable {
            location: registry.to_owned(),
            detail: describe_reqwest(&e),
        })
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Reads a response body, refusing more than `limit` bytes (announced or actual).
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
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| StoreError::Unreachable {
            location: location.to_owned(),
            detail: format!("reading {what}: {}", describe_reqwest(&e)),
        })?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(too_large(body.len() as u64 + chunk.len() as u64));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
