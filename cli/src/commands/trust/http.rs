//! The TUF mirror as sigstore-tuf's [`Repository`]: HTTPS (plain HTTP only
//! on loopback, redirects included), every body bounded by the length the
//! client allows for that file, timeouts against a stalling mirror.

use std::time::Duration;

use sigil_verifier::reference::host_is_loopback;
use sigstore_tuf::Error;
use sigstore_tuf::transport::{FetchFuture, Repository};
use url::Url;

/// Most redirects followed for one file.
const MAX_REDIRECTS: usize = 5;

/// Whether sigil may fetch TUF metadata from `url`: HTTPS, or plain HTTP to
/// a loopback host.
pub fn allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => url.host_str().is_some_and(host_is_loopback),
        _ => false,
    }
}

/// A TUF repository over HTTP(S): metadata at `BASE/NAME`, targets at
/// `BASE/targets/PATH`.
pub struct Mirror {
    metadata: Url,
    targets: Url,
    client: reqwest::Client,
}

impl Mirror {
    /// A client for the mirror at `base` (already checked with [`allowed`]).
    pub fn new(base: &Url) -> anyhow::Result<Mirror> {
        let mut metadata = base.clone();
        if !metadata.path().ends_with('/') {
            metadata.set_path(&format!("{}/", metadata.path()));
        }
        let targets = metadata.join("targets/")?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(120))
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    attempt.error("too many redirects")
                } else if !allowed(attempt.url()) {
                    attempt.error("a redirect to plain HTTP off loopback")
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        Ok(Mirror {
            metadata,
            targets,
            client,
        })
    }

    async fn get(&self, url: Url, max_length: u64) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Error::transport(format!("GET {url}: {}", chain(&e))))?;
        // S3 and GCS answer 403 for a missing object; the root walk ends at
        // the first version that is not there.
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(Error::transport(format!("GET {url}: HTTP {status}")));
        }
        if response.content_length().is_some_and(|n| n > max_length) {
            return Err(Error::transport(format!(
                "{url} is larger than the {max_length} bytes allowed"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Error::transport(format!("reading {url}: {}", chain(&e))))?
        {
            if (body.len() + chunk.len()) as u64 > max_length {
                return Err(Error::transport(format!(
                    "{url} is larger than the {max_length} bytes allowed"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }
}

use sigil_verifier::keyless::http::chain;

impl Repository for Mirror {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(async move {
            let url = self
                .metadata
                .join(name)
                .map_err(|e| Error::transport(format!("{name}: {e}")))?;
            self.get(url, max_length).await
        })
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        Box::pin(async move {
            let url = self
                .targets
                .join(path)
                .map_err(|e| Error::transport(format!("{path}: {e}")))?;
            self.get(url, max_length).await
        })
    }
}
