//! The one HTTP client keyless signing uses for Fulcio, Rekor, the
//! timestamp authority and the CI token endpoint: HTTPS (plain HTTP only to
//! loopback hosts), no redirect at all (a signing service that redirects is
//! refused rather than followed to another host), timeouts against a
//! stalling service, and every response body bounded. Each request is traced
//! at `-v` with its method, URL, status and time; the token never is.

use std::time::{Duration, Instant};

use url::Url;

use super::KeylessError;
use crate::reference::host_is_loopback;

/// The largest response body read from any signing service: a certificate
/// chain, a log entry with its inclusion proof, a timestamp token or a JWT
/// are all a few kilobytes.
pub const MAX_RESPONSE: u64 = 1 << 20;

/// Whether sigil may talk to `url`: HTTPS, or plain HTTP to a loopback host.
pub fn allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(host_is_loopback),
        _ => false,
    }
}

/// Parses a service URL given on the command line or in a signing config,
/// refusing what [`allowed`] refuses.
pub fn service_url(what: &'static str, text: &str) -> Result<Url, KeylessError> {
    let url = Url::parse(text).map_err(|e| KeylessError::Config {
        detail: format!("{what} {text:?} is not a URL: {e}"),
    })?;
    if !allowed(&url) {
        return Err(KeylessError::Config {
            detail: format!("{what} {text} must be https (plain http only to a loopback address)"),
        });
    }
    Ok(url)
}

/// A response read whole: status and bounded body.
pub struct Response {
    pub status: reqwest::StatusCode,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text for an error message: at most 200 characters of
    /// one line (a service's refusal, never echoed at length).
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let line: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(200)
            .collect();
        line.trim().to_owned()
    }
}

/// The client, built once per run.
#[derive(Clone)]
pub struct Client {
    inner: reqwest::Client,
}

impl Client {
    pub fn new() -> Result<Client, KeylessError> {
        let inner = reqwest::Client::builder()
            .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(20))
            .read_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| KeylessError::Config {
                detail: format!("cannot set up the HTTP client: {e}"),
            })?;
        Ok(Client { inner })
    }

    /// Sends `request` to `service` (named in errors) and reads the answer,
    /// at most [`MAX_RESPONSE`] bytes.
    pub async fn send(
        &self,
        service: &'static str,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, KeylessError> {
        let request = request.build().map_err(|e| KeylessError::Transport {
            service,
            detail: chain(&e),
        })?;
        let (method, url) = (request.method().clone(), redacted(request.url()));
        if !allowed(request.url()) {
            return Err(KeylessError::Config {
                detail: format!("{service} URL {url} must be https (plain http only to a loopback address)"),
            });
        }
        let started = Instant::now();
        let sent = self.inner.execute(request).await;
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => {
                tracing::info!("{method} {url} failed after {:?}", started.elapsed());
                return Err(KeylessError::Transport {
                    service,
                    detail: format!("{method} {url}: {}", chain(&e)),
                });
            }
        };
        let status = response.status();
        let too_large = || KeylessError::Transport {
            service,
            detail: format!("{method} {url}: the answer is larger than {MAX_RESPONSE} bytes"),
        };
        if response.content_length().is_some_and(|n| n > MAX_RESPONSE) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            let chunk = response.chunk().await.map_err(|e| KeylessError::Transport {
                service,
                detail: format!("{method} {url}: reading the answer: {}", chain(&e)),
            })?;
            let Some(chunk) = chunk else { break };
            if (body.len() + chunk.len()) as u64 > MAX_RESPONSE {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        tracing::info!("{method} {url} -> {} in {:?}", status.as_u16(), started.elapsed());
        Ok(Response { status, body })
    }

    /// POSTs `body` as JSON to `service` at `url`, asking for JSON back.
    pub async fn post_json(
        &self,
        service: &'static str,
        url: Url,
        body: &serde_json::Value,
    ) -> Result<Response, KeylessError> {
        let request = self
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.to_string());
        self.send(service, request).await
    }

    pub fn post(&self, url: Url) -> reqwest::RequestBuilder {
        self.inner.post(url)
    }

    pub fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.inner.get(url)
    }
}

/// A URL for the logs: without its query (the GitHub token endpoint's query
/// is harmless, but a query is where a credential would go) or user info.
fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// An error with its causes, on one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "https://fulcio.sigstore.dev",
            "http://127.0.0.1:8080/fulcio",
            "http://[::1]:1/",
            "http://localhost:3000",
        ] {
            assert!(allowed(&Url::parse(ok).expect("url")), "{ok}");
        }
        for bad in [
            "http://fulcio.sigstore.dev",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
            "file:///etc/passwd",
        ] {
            assert!(!allowed(&Url::parse(bad).expect("url")), "{bad}");
            assert!(service_url("--fulcio-url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logged_urls_lose_query_and_credentials() {
        let url = Url::parse("https://u:p@example.com/token?api-version=2.0&audience=sigstore").expect("url");
        assert_eq!(redacted(&url), "https://example.com/token");
    }
}
