//! The answers the gate writes: distribution API errors
//! (`{"errors":[{"code","message"}]}`), manifests, JSON and streamed blobs.
//! Every answer says `Docker-Distribution-API-Version: registry/2.0`.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt as _};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt as _, Empty, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use sigil_verifier::digest::Digest;
use sigil_verifier::store::{BlobStream, StoreError};

/// The body of every answer: bytes in memory, or a blob streamed from the upstream.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

pub const API_VERSION: HeaderName = HeaderName::from_static("docker-distribution-api-version");
pub const CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");

/// The longest message put in an error answer.
const MESSAGE_CHARS: usize = 2000;

/// An answer with `bytes` as its body (none for HEAD: `head`).
pub fn bytes(status: StatusCode, content_type: &str, bytes: Vec<u8>, head: bool) -> Response<Body> {
    let length = bytes.len();
    let body = if head {
        Empty::new().map_err(|never| match never {}).boxed_unsync()
    } else {
        Full::new(Bytes::from(bytes))
            .map_err(|never| match never {})
            .boxed_unsync()
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// A distribution API error answer.
pub fn error(status: StatusCode, code: &str, message: &str, head: bool) -> Response<Body> {
    let mut message: String = message.chars().filter(|c| !c.is_control()).collect();
    if message.chars().count() > MESSAGE_CHARS {
        message = message.chars().take(MESSAGE_CHARS).collect::<String>() + "…";
    }
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
    bytes(status, "application/json", body.to_string().into_bytes(), head)
}

/// 403 DENIED: what the policy refused, and why.
pub fn denied(message: &str, head: bool) -> Response<Body> {
    error(StatusCode::FORBIDDEN, "DENIED", message, head)
}

/// A manifest as the upstream served it, byte for byte.
pub fn manifest(media_type: &str, digest: &Digest, body: Vec<u8>, head: bool) -> Response<Body> {
    let mut response = bytes(StatusCode::OK, media_type, body, head);
    set_digest(&mut response, digest);
    response
}

fn set_digest(response: &mut Response<Body>, digest: &Digest) {
    if let Ok(value) = HeaderValue::from_str(&digest.to_string()) {
        response.headers_mut().insert(CONTENT_DIGEST, value);
    }
}

/// The answer for an upstream that could not give what was asked: never a
/// manifest, always a 5xx with the reason (404 for what it does not have).
pub fn upstream(error_: &StoreError, head: bool) -> Response<Body> {
    let (status, code) = match error_ {
        StoreError::NotFound { .. } => (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        StoreError::Deadline { .. } => (StatusCode::GATEWAY_TIMEOUT, "UNAVAILABLE"),
        StoreError::Http { status, .. } if *status == 429 || *status == 503 => {
            (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE")
        }
        _ => (StatusCode::BAD_GATEWAY, "UNAVAILABLE"),
    };
    error(status, code, &format!("upstream: {error_}"), head)
}

/// A blob streamed from the upstream: `size` bytes announced, the last
/// chunk held back until the stream has checked the digest, so a client
/// never receives the whole body of a blob that does not match (the
/// connection breaks instead).
pub fn blob(digest: &Digest, size: u64, stream: BlobStream) -> Response<Body> {
    let held = HoldLast {
        inner: stream,
        held: None,
        done: false,
        digest: digest.clone(),
    };
    let body = StreamBody::new(held.map(|chunk| chunk.map(Frame::data))).boxed_unsync();
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(API_VERSION, HeaderValue::from_static("registry/2.0"));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(size));
    set_digest(&mut response, digest);
    response
}

/// The headers of a blob answer to HEAD.
pub fn blob_head(digest: &Digest, size: u64) -> Response<Body> {
    let mut response = bytes(StatusCode::OK, "application/octet-stream", Vec::new(), true);
    response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(size));
    set_digest(&mut response, digest);
    response
}

/// Passes a stream on one chunk late; an error drops the chunk held.
struct HoldLast {
    inner: BlobStream,
    held: Option<Vec<u8>>,
    done: bool,
    digest: Digest,
}

impl Stream for HoldLast {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => {}
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Some(previous) = this.held.replace(chunk) {
                        return Poll::Ready(Some(Ok(Bytes::from(previous))));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.held = None;
                    this.done = true;
                    tracing::error!("blob {}: {e}; the connection is broken off", this.digest);
                    return Poll::Ready(Some(Err(std::io::Error::other(e.to_string()))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(this.held.take().map(|b| Ok(Bytes::from(b))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(items: Vec<Result<Vec<u8>, StoreError>>) -> BlobStream {
        Box::pin(futures::stream::iter(items))
    }

    fn mismatch() -> StoreError {
        StoreError::Digest {
            location: "up/app".into(),
            cause: sigil_verifier::digest::DigestError::Mismatch {
                expected: Digest::sha256_of(b"a"),
                found: Digest::sha256_of(b"b"),
            },
        }
    }

    async fn collect(s: BlobStream) -> (Vec<u8>, bool) {
        let mut held = HoldLast {
            inner: s,
            held: None,
            done: false,
            digest: Digest::sha256_of(b""),
        };
        let mut out = Vec::new();
        while let Some(item) = held.next().await {
            match item {
                Ok(b) => out.extend_from_slice(&b),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }

    #[tokio::test]
    async fn a_good_stream_passes_whole_and_a_bad_one_never_ends_cleanly() {
        let good = stream(vec![Ok(b"ab".to_vec()), Ok(Vec::new()), Ok(b"cd".to_vec())]);
        assert_eq!(collect(good).await, (b"abcd".to_vec(), true));
        // The mismatch is found at the end: the last chunk is never sent.
        let bad = stream(vec![Ok(b"ab".to_vec()), Ok(b"cd".to_vec()), Err(mismatch())]);
        assert_eq!(collect(bad).await, (b"ab".to_vec(), false));
        let bad = stream(vec![Ok(b"abcd".to_vec()), Err(mismatch())]);
        assert_eq!(collect(bad).await, (Vec::new(), false));
    }

    #[test]
    fn error_answers_are_the_distribution_shape() {
        let response = denied("up/app:v1: rule prod: unsigned\n", false);
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[API_VERSION], "registry/2.0");
        let head = denied("x", true);
        assert_eq!(head.status(), StatusCode::FORBIDDEN);
        let unreachable = StoreError::Unreachable {
            location: "up".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(upstream(&unreachable, false).status(), StatusCode::BAD_GATEWAY);
    }
}
