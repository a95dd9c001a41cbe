//! OCI registries over the distribution API v2, as a [`Store`].
//!
//! The transport (TLS, auth, retries, deadlines) is in [`client`]; this
//! module maps the API's endpoints and status codes onto the store interface
//! and checks every manifest and blob against its digest.

pub mod auth;
pub mod client;
pub mod credentials;
#[cfg(test)]
mod server_tests;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, Response, StatusCode};

pub use client::{DEFAULT_REQUEST_TIMEOUT, RegistryClient, RegistryOptions};
pub use credentials::{Credential, DockerConfig, RegistryHost, ScopedCredential, Secret};

use self::client::{Body, Deadline, read_limited, transport_error};
use crate::digest::{Digest, Hasher};
use crate::oci::{ACCEPTED_MANIFESTS, Descriptor, ImageIndex, OCI_INDEX, limits};
use crate::reference::{RegistryRef, Target};
use crate::store::{BlobStream, Fetched, Pushed, Store, StoreError, check_manifest};

/// One repository in a registry.
#[derive(Clone, Debug)]
pub struct RegistryStore {
    client: Arc<RegistryClient>,
    registry: String,
    repository: String,
}

impl RegistryStore {
    pub fn new(client: Arc<RegistryClient>, reference: &RegistryRef) -> RegistryStore {
        RegistryStore {
            client,
            registry: reference.registry().to_owned(),
            repository: reference.repository().to_owned(),
        }
    }

    async fn send(
        &self,
        push: bool,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Body,
    ) -> Result<Response, StoreError> {
        self.send_within(push, method, path, headers, body, None).await
    }

    /// [`RegistryStore::send`] with a deadline other than the client's default.
    async fn send_within(
        &self,
        push: bool,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Body,
        timeout: Option<Duration>,
    ) -> Result<Response, StoreError> {
        let request = client::Request {
            push,
            method,
            path: path.to_owned(),
            headers,
            body,
            timeout,
        };
        self.client.send(&self.registry, &self.repository, request).await
    }

    fn path(&self, kind: &str, reference: &str) -> String {
        format!("/v2/{}/{kind}/{reference}", self.repository)
    }

    /// Maps a non-success answer to an error, with the registry's own error
    /// codes when its answer carries them.
    async fn status_error(&self, what: &str, response: Response) -> StoreError {
        let status = response.status();
        let errors = self.error_answer(what, response).await;
        self.error_for(what, status, &errors)
    }

    /// The distribution spec's error list in an answer (empty when it has none).
    async fn error_answer(&self, what: &str, response: Response) -> Vec<RegistryError> {
        read_limited(&self.location(), what, response, ERROR_BODY_BYTES)
            .await
            .ok()
            .and_then(|body| serde_json::from_slice::<ErrorAnswer>(&body).ok())
            .map(|answer| answer.errors)
            .unwrap_or_default()
    }

    fn error_for(&self, what: &str, status: StatusCode, errors: &[RegistryError]) -> StoreError {
        let location = self.location();
        match status {
            StatusCode::UNAUTHORIZED => StoreError::Unauthorized {
                location,
                detail: format!("the registry refused {what} (HTTP 401)"),
            },
            StatusCode::FORBIDDEN => StoreError::Denied { location },
            StatusCode::NOT_FOUND => StoreError::NotFound {
                location,
                what: what.to_owned(),
            },
            status => {
                let retried = match status {
                    StatusCode::TOO_MANY_REQUESTS => "rate limited; retried with backoff and gave up",
                    s if s.is_server_error() => "registry error; retried with backoff and gave up",
                    _ => "",
                };
                let said = describe_errors(errors);
                let detail = match (said.is_empty(), retried.is_empty()) {
                    (true, _) => retried.to_owned(),
                    (false, true) => said,
                    (false, false) => format!("{said} ({retried})"),
                };
                StoreError::Http {
                    location,
                    what: what.to_owned(),
                    status: status.as_u16(),
                    detail,
                }
            }
        }
    }

    async fn push_bytes(&self, descriptor: &Descriptor, bytes: Bytes) -> Result<(), StoreError> {
        let location = self.start_upload(descriptor).await?;
        let Some(location) = location else { return Ok(()) };
        let url = upload_url(&location, &descriptor.digest);
        let body = Body::Bytes {
            content_type: "application/octet-stream".into(),
            bytes,
        };
        let response = self.send(true, Method::PUT, &url, HeaderMap::new(), body).await?;
        self.finish_upload(descriptor, response).await
    }

    /// Starts an upload; `None` when the blob is already there.
    async fn start_upload(&self, descriptor: &Descriptor) -> Result<Option<String>, StoreError> {
        if self.has_blob(&descriptor.digest).await? {
            return Ok(None);
        }
        let path = format!("/v2/{}/blobs/uploads/", self.repository);
        let response = self
            .send(true, Method::POST, &path, HeaderMap::new(), Body::Empty)
            .await?;
        let what = format!("starting the upload of blob {}", descriptor.digest);
        if response.status() != StatusCode::ACCEPTED {
            return Err(self.status_error(&what, response).await);
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| StoreError::Malformed {
                location: self.location(),
                what,
                detail: "no Location header".into(),
            })?;
        Ok(Some(location.to_owned()))
    }

    async fn finish_upload(&self, descriptor: &Descriptor, response: Response) -> Result<(), StoreError> {
        if response.status() == StatusCode::CREATED {
            Ok(())
        } else {
            Err(self
                .status_error(&format!("uploading blob {}", descriptor.digest), response)
                .await)
        }
    }

    /// `GET` of a blob; `timeout` overrides the request deadline (streams).
    async fn get_blob(&self, descriptor: &Descriptor, timeout: Option<Duration>) -> Result<Response, StoreError> {
        let what = format!("blob {}", descriptor.digest);
        let path = self.path("blobs", &descriptor.digest.to_string());
        let response = self
            .send_within(false, Method::GET, &path, HeaderMap::new(), Body::Empty, timeout)
            .await?;
        if !response.status().is_success() {
            return Err(self.status_error(&what, response).await);
        }
        Ok(response)
    }
}

/// How often a manifest push by digest refused by [`blob_link_race`] is sent again.
const MANIFEST_RETRIES: u32 = 3;

/// How much of an error answer is read for its error codes.
const ERROR_BODY_BYTES: u64 = 16 * 1024;

/// The distribution spec's error answer: `{"errors": [{"code", "message"}]}`.
#[derive(serde::Deserialize)]
struct ErrorAnswer {
    errors: Vec<RegistryError>,
}

#[derive(serde::Deserialize)]
struct RegistryError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// A registry's errors as one line: `MANIFEST_BLOB_UNKNOWN: blob unknown to
/// registry`, without control characters and bounded in length.
fn describe_errors(errors: &[RegistryError]) -> String {
    let said: Vec<String> = errors
        .iter()
        .take(3)
        .map(|e| {
            let mut text = String::new();
            for c in format!("{}: {}", e.code, e.message).chars().filter(|c| printable(*c)) {
                if text.len() + c.len_utf8() > 200 {
                    break;
                }
                text.push(c);
            }
            text.trim_matches([' ', ':']).to_owned()
        })
        .filter(|t| !t.is_empty())
        .collect();
    said.join("; ")
}

/// Whether a registry's text may reach the terminal: no control characters,
/// no bidirectional overrides or other invisible formatting (U+200B-U+200F,
/// U+202A-U+202E, U+2060-U+206F, U+FEFF) that could disguise a message.
fn printable(c: char) -> bool {
    !c.is_control()
        && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// Whether a refused manifest push may succeed when made again: the Debian
/// registry (distribution 2.8, filesystem storage) rewrites a blob's link file
/// in place when another client commits the same blob, and a manifest that
/// references it in that moment is refused with these codes.
fn blob_link_race(status: StatusCode, errors: &[RegistryError]) -> bool {
    status == StatusCode::BAD_REQUEST
        && errors
            .iter()
            .any(|e| e.code == "MANIFEST_BLOB_UNKNOWN" || e.code == "DIGEST_INVALID")
}

/// Adds `digest=` to an upload location, keeping the registry's own query.
fn upload_url(location: &str, digest: &Digest) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    let encoded: String = url::form_urlencoded::byte_serialize(digest.to_string().as_bytes()).collect();
    format!("{location}{separator}digest={encoded}")
}

impl Store for RegistryStore {
    fn location(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    async fn fetch_manifest(&self, target: &Target) -> Result<Option<Fetched>, StoreError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"));
        debug_assert_eq!(ACCEPTED_MANIFESTS.len(), 4);
        let response = self
            .send(
                false,
                Method::GET,
                &self.path("manifests", &target.to_string()),
                headers,
                Body::Empty,
            )
            .await?;
        let what = format!("manifest {target}");
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(self.status_error(&what, response).await);
        }
        let media_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .unwrap_or_default();
        let claimed = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.parse::<Digest>())
            .transpose()
            .map_err(|e| StoreError::Malformed {
                location: self.location(),
                what: what.clone(),
                detail: format!("bad Docker-Content-Digest header: {e}"),
            })?;
        let bytes = read_limited(&self.location(), &what, response, limits::MANIFEST_BYTES).await?;
        check_manifest(&self.location(), target, &media_type, bytes, claimed.as_ref()).map(Some)
    }

    async fn fetch_blob(&self, descriptor: &Descriptor, limit: u64) -> Result<Vec<u8>, StoreError> {
        let what = format!("blob {}", descriptor.digest);
        if descriptor.size > limit {
            return Err(StoreError::TooLarge {
                location: self.location(),
                what,
                size: descriptor.size,
                limit,
            });
        }
        let response = self.get_blob(descriptor, None).await?;
        let bytes = read_limited(&self.location(), &what, response, limit.min(descriptor.size)).await?;
        descriptor.digest.verify(&bytes).map_err(|source| StoreError::Digest {
            location: self.location(),
            cause: source,
        })?;
        Ok(bytes)
    }

    async fn stream_blob(&self, descriptor: &Descriptor) -> Result<BlobStream, StoreError> {
        let timeout = self.client.streaming_timeout(descriptor.size);
        let response = self.get_blob(descriptor, Some(timeout)).await?;
        let deadline = response
            .extensions()
            .get::<Deadline>()
            .copied()
            .unwrap_or_else(|| Deadline::after(timeout));
        let location = self.location();
        let expected = descriptor.clone();
        let mut hasher = Some(Hasher::new(expected.digest.algorithm()));
        let mut seen: u64 = 0;
        let stream = response
            .bytes_stream()
            .map(Some)
            .chain(futures::stream::once(async { None }))
            .filter_map(move |item| {
                let out = match item {
                    Some(Ok(chunk)) => {
                        seen += chunk.len() as u64;
                        if seen > expected.size {
                            Some(Err(StoreError::TooLarge {
                                location: location.clone(),
                                what: format!("blob {}", expected.digest),
                                size: seen,
                                limit: expected.size,
                            }))
                        } else {
                            if let Some(h) = hasher.as_mut() {
                                h.update(&chunk);
                            }
                            Some(Ok(chunk.to_vec()))
                        }
                    }
                    Some(Err(e)) => Some(Err(transport_error(
                        &location,
                        &format!("reading blob {}", expected.digest),
                        &e,
                        deadline,
                    ))),
                    None => hasher.take().and_then(|h| {
                        let found = h.finish();
                        (found != expected.digest || seen != expected.size).then(|| {
                            Err(StoreError::Digest {
                                location: location.clone(),
                                cause: crate::digest::DigestError::Mismatch {
                                    expected: expected.digest.clone(),
                                    found,
                                },
                            })
                        })
                    }),
                };
                futures::future::ready(out)
            });
        Ok(Box::pin(stream))
    }

    async fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        let response = self
            .send(
                false,
                Method::HEAD,
                &self.path("blobs", &digest.to_string()),
                HeaderMap::new(),
                Body::Empty,
            )
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(&format!("checking blob {digest}"), response).await),
        }
    }

    async fn push_blob(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        descriptor.digest.verify(bytes).map_err(|source| StoreError::Digest {
            location: self.location(),
            cause: source,
        })?;
        self.push_bytes(descriptor, Bytes::copy_from_slice(bytes)).await
    }

    async fn push_blob_stream(&self, descriptor: &Descriptor, stream: BlobStream) -> Result<(), StoreError> {
        let Some(location) = self.start_upload(descriptor).await? else {
            return Ok(());
        };
        let url = upload_url(&location, &descriptor.digest);
        let body = reqwest::Body::wrap_stream(stream);
        let response = self
            .client
            .send_stream(&self.registry, &self.repository, &url, body, descriptor.size)
            .await?;
        self.finish_upload(descriptor, response).await
    }

    async fn push_manifest(&self, target: &Target, media_type: &str, bytes: &[u8]) -> Result<Pushed, StoreError> {
        let digest = Digest::sha256_of(bytes);
        if let Target::Digest(d) = target {
            d.verify(bytes).map_err(|source| StoreError::Digest {
                location: self.location(),
                cause: source,
            })?;
        }
        let body = Body::Bytes {
            content_type: media_type.to_owned(),
            bytes: Bytes::copy_from_slice(bytes),
        };
        let what = format!("pushing manifest {target}");
        let path = self.path("manifests", &target.to_string());
        let mut attempt = 0;
        let response = loop {
            let response = self
                .send(true, Method::PUT, &path, HeaderMap::new(), body.clone())
                .await?;
            let status = response.status();
            if status.is_success() {
                break response;
            }
            let errors = self.error_answer(&what, response).await;
            if blob_link_race(status, &errors) {
                // Sending a manifest by digest again is always safe; a tag's
                // new manifest was built from an earlier read and could undo
                // a concurrent writer, so its caller reads and merges again.
                if matches!(target, Target::Digest(_)) && attempt < MANIFEST_RETRIES {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                    continue;
                }
                return Err(StoreError::Transient {
                    location: self.location(),
                    what,
                    detail: describe_errors(&errors),
                });
            }
            return Err(self.error_for(&what, status, &errors));
        };
        if let Some(answered) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && answered != digest.to_string()
        {
            return Err(StoreError::Malformed {
                location: self.location(),
                what: format!("answer to pushing manifest {target}"),
                detail: format!("registry stored it as {answered}, expected {digest}"),
            });
        }
        let subject_indexed = response.headers().contains_key("oci-subject");
        Ok(Pushed {
            digest,
            subject_indexed,
        })
    }

    async fn referrers_api(&self, digest: &Digest) -> Result<Option<Vec<Descriptor>>, StoreError> {
        let mut path = self.path("referrers", &digest.to_string());
        let mut found = Vec::new();
        for _page in 0..100 {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, HeaderValue::from_static(OCI_INDEX));
            let response = self.send(false, Method::GET, &path, headers, Body::Empty).await?;
            let status = response.status();
            if matches!(
                status,
                StatusCode::NOT_FOUND
                    | StatusCode::BAD_REQUEST
                    | StatusCode::NOT_ACCEPTABLE
                    | StatusCode::METHOD_NOT_ALLOWED
            ) {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(self.status_error(&format!("referrers of {digest}"), response).await);
            }
            let is_index = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with(OCI_INDEX));
            let next = response
                .headers()
                .get(reqwest::header::LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let body = read_limited(&self.location(), "referrers answer", response, limits::MANIFEST_BYTES).await?;
            let Some(index) = is_index
                .then(|| serde_json::from_slice::<ImageIndex>(&body).ok())
                .flatten()
            else {
                return Ok(None);
            };
            found.extend(index.manifests);
            if found.len() > limits::DESCRIPTORS {
                return Err(StoreError::TooLarge {
                    location: self.location(),
                    what: format!("referrers of {digest}"),
                    size: found.len() as u64,
                    limit: limits::DESCRIPTORS as u64,
                });
            }
            match next {
                Some(next) => path = next,
                None => return Ok(Some(found)),
            }
        }
        Err(StoreError::Refused {
            location: self.location(),
            detail: format!("referrers of {digest}: more than 100 pages"),
        })
    }
}

/// The target of `Link: <URL>; rel="next"`.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers() {
        assert_eq!(
            next_link(r#"</v2/a/referrers/sha256:x?n=1&last=y>; rel="next""#).as_deref(),
            Some("/v2/a/referrers/sha256:x?n=1&last=y")
        );
        assert_eq!(
            next_link(r#"<https://r/x>; rel="prev", <https://r/y>; rel=next"#).as_deref(),
            Some("https://r/y")
        );
        assert_eq!(next_link(r#"<https://r/x>; rel="prev""#), None);
    }

    #[test]
    fn registry_error_answers_become_one_line() {
        let said = |body: &[u8]| {
            let answer: ErrorAnswer = serde_json::from_slice(body).expect("an error answer");
            describe_errors(&answer.errors)
        };
        assert_eq!(
            said(br#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry","detail":"x"}]}"#),
            "MANIFEST_BLOB_UNKNOWN: blob unknown to registry"
        );
        let hostile = format!(
            r#"{{"errors":[{{"code":"X\n\u001b[31m\u202e","message":"{}"}}]}}"#,
            "ÿ".repeat(500)
        );
        let hostile = said(hostile.as_bytes());
        assert!(hostile.starts_with("X[31m: ÿ"), "{hostile}");
        assert!(hostile.chars().all(printable) && hostile.len() <= 200, "{hostile}");
        assert_eq!(said(br#"{"errors":[]}"#), "");
    }

    #[test]
    fn only_blob_errors_on_a_manifest_push_are_sent_again() {
        let error = |code: &str| RegistryError {
            code: code.into(),
            message: String::new(),
        };
        assert!(blob_link_race(StatusCode::BAD_REQUEST, &[error("DIGEST_INVALID")]));
        assert!(blob_link_race(
            StatusCode::BAD_REQUEST,
            &[error("MANIFEST_BLOB_UNKNOWN")]
        ));
        assert!(!blob_link_race(StatusCode::BAD_REQUEST, &[error("MANIFEST_INVALID")]));
        assert!(!blob_link_race(StatusCode::BAD_REQUEST, &[]));
        assert!(!blob_link_race(StatusCode::FORBIDDEN, &[error("DIGEST_INVALID")]));
    }

    #[test]
    fn upload_urls_keep_state() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(
            upload_url("/v2/a/blobs/uploads/u?_state=s", &d),
            format!("/v2/a/blobs/uploads/u?_state=s&digest=sha256%3A{}", d.hex())
        );
        assert_eq!(
            upload_url("http://h/u", &d),
            format!("http://h/u?digest=sha256%3A{}", d.hex())
        );
    }
}
