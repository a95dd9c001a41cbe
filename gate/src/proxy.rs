//! One request at the gate: authenticate, refuse writes, and answer each
//! read from the upstream only when the policy allows what it belongs to.
//!
//! - A manifest is fetched from the upstream (checked against its digest),
//!   then allowed as a child of an allowed index, as an attachment of an
//!   allowed image (its tag is `sha256-HEX.sig|.att|.sbom` or the referrers
//!   fallback `sha256-HEX`, or it has a `subject`, and it carries no
//!   container layer), or by the policy's decision about it (the
//!   [`Decider`], cached by policy, reference and digest). A tag is judged
//!   as `UPSTREAM/NAME:TAG@DIGEST`, pinned to the digest fetched, so the
//!   bytes served are the bytes judged.
//! - A blob is served only when an allowed manifest the gate answered
//!   named it ([`Grants`]); it is streamed and checked as it ends.
//! - Tag lists pass through; referrers only of allowed images.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LINK, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use sigil_admission::decisions::Decider;
use sigil_admission::state::{Current, Loaded};
use sigil_verifier::digest::Digest;
use sigil_verifier::oci::{self, Descriptor, Manifest};
use sigil_verifier::reference::{RegistryRef, Target};
use sigil_verifier::registry::client::{self, read_limited};
use sigil_verifier::registry::{RegistryClient, RegistryStore};
use sigil_verifier::store::{Store as _, StoreError};
use tokio::time::Instant;

use crate::answer::{self, Body};
use crate::grants::{Grants, Parent};
use crate::route::{self, Repository, Route};
use crate::users::Users;

/// Largest tag list or referrers answer passed through.
const LIST_BYTES: u64 = 4 << 20;

/// Everything a request needs.
pub struct Gate {
    /// The upstream registry, canonical (`registry.example:5000`).
    pub upstream: String,
    pub client: Arc<RegistryClient>,
    pub current: Current,
    pub decider: Decider,
    pub grants: Grants,
    pub users: Option<Users>,
    /// The longest a request waits for a decision.
    pub decision_timeout: Duration,
}

/// What the policy said about one manifest.
enum Verdict {
    /// Serve it; `children` when it is an index allowed for what it is.
    Allowed {
        children: bool,
    },
    Denied(String),
    /// The evidence could not be read (the upstream failed meanwhile).
    Unavailable(String),
}

/// The media types a client accepts, from all its `Accept` headers (skopeo
/// sends one per type).
struct Accepted(Vec<String>);

impl Accepted {
    fn of(headers: &HeaderMap) -> Accepted {
        Accepted(
            headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|t| t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
                .filter(|t| !t.is_empty())
                .collect(),
        )
    }

    /// No `Accept` at all accepts anything, as registries treat it.
    fn allows(&self, media_type: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|t| t == "*/*" || t.eq_ignore_ascii_case(media_type))
    }
}

impl Gate {
    /// Answers one request.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let head = request.method() == Method::HEAD;
        let path = request.uri().path().to_owned();
        if !(path == "/v2" || path.starts_with("/v2/")) {
            return answer::error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "sigil gate serves the distribution API under /v2/ only",
                head,
            );
        }
        if let Some(users) = &self.users
            && !users
                .authorised(request.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes))
                .await
        {
            let mut response = answer::error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required (a user of the gate's --htpasswd file)",
                head,
            );
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sigil gate\""));
            return response;
        }
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            let mut response = answer::error(
                StatusCode::METHOD_NOT_ALLOWED,
                "UNSUPPORTED",
                &format!("sigil gate is read-only: {} is refused", request.method()),
                false,
            );
            response
                .headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match route::parse(&self.upstream, &path) {
            Route::Base => answer::bytes(StatusCode::OK, "application/json", b"{}".to_vec(), head),
            Route::Manifest { repository, target } => {
                let accepted = Accepted::of(request.headers());
                self.manifest(&repository, &target, &accepted, head).await
            }
            Route::Blob { repository, digest } => self.blob(&repository, &digest, head).await,
            Route::Tags { repository } => self.tags(&repository, request.uri().query(), head).await,
            Route::Referrers { repository, digest } => {
                self.referrers(&repository, &digest, request.uri().query(), head).await
            }
            Route::Invalid { code, message } => answer::error(StatusCode::BAD_REQUEST, code, &message, head),
            Route::Unknown => answer::error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "sigil gate answers /v2/, manifests, blobs, tags/list and referrers",
                head,
            ),
        }
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.decision_timeout
    }

    async fn manifest(
        &self,
        repository: &Repository,
        target: &Target,
        accepted: &Accepted,
        head: bool,
    ) -> Response<Body> {
        let name = repository.name();
        let mut parent = None;
        if let Target::Digest(digest) = target {
            parent = self.grants.parent(&name, digest);
            if let Some(Parent::Denied(reason)) = &parent {
                return answer::denied(&format!("{name}@{digest} is listed by a denied index: {reason}"), head);
            }
        }
        let store = RegistryStore::new(self.client.clone(), &repository.upstream);
        let fetched = match store.fetch_manifest(target).await {
            Ok(Some(fetched)) => fetched,
            Ok(None) => {
                return answer::error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    &format!("manifest {target} not found in {name}"),
                    head,
                );
            }
            Err(e) => return answer::upstream(&e, head),
        };
        let manifest = match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
            Ok(m) => m,
            Err(e) => {
                return answer::error(
                    StatusCode::BAD_GATEWAY,
                    "UNAVAILABLE",
                    &format!("upstream: manifest {target} of {name}: {e}"),
                    head,
                );
            }
        };
        let media_type = match fetched.descriptor.media_type.as_str() {
            "" => manifest.media_type().to_owned(),
            declared => declared.to_owned(),
        };
        if !accepted.allows(&media_type) {
            return answer::error(
                StatusCode::NOT_FOUND,
                "MANIFEST_UNKNOWN",
                &format!("manifest {target} of {name} is a {media_type}, which the request does not accept"),
                head,
            );
        }
        let digest = &fetched.descriptor.digest;
        let loaded = self.current.get();
        let verdict = if parent == Some(Parent::Allowed) {
            Verdict::Allowed { children: true }
        } else if let Some(subject) = attachment_subject(target, &manifest) {
            match self.image_allowed(&loaded, repository, &subject).await {
                Verdict::Allowed { .. } => Verdict::Allowed { children: false },
                Verdict::Denied(reason) => {
                    Verdict::Denied(format!("{name}:{target} is attached to a denied image: {reason}"))
                }
                unavailable => unavailable,
            }
        } else {
            let tag = match target {
                Target::Tag(tag) => Some(tag.as_str()),
                Target::Digest(_) => None,
            };
            self.judge(&loaded, &repository.pinned(tag, digest)).await
        };
        match verdict {
            Verdict::Allowed { children } => {
                self.grants.allow(&name, digest, &manifest, children);
                answer::manifest(&media_type, digest, fetched.bytes, head)
            }
            Verdict::Denied(reason) => {
                tracing::info!("denied: {reason}");
                self.grants.deny_children(&name, &manifest, &reason);
                answer::denied(&reason, head)
            }
            Verdict::Unavailable(reason) => {
                answer::error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", &reason, head)
            }
        }
    }

    /// Whether the image `digest` of `repository` is allowed: granted
    /// already, else decided.
    async fn image_allowed(&self, loaded: &Arc<Loaded>, repository: &Repository, digest: &Digest) -> Verdict {
        if self.grants.image_allowed(&repository.name(), digest) {
            return Verdict::Allowed { children: false };
        }
        self.judge(loaded, &repository.pinned(None, digest)).await
    }

    /// The policy's decision about `image` (which pins a digest).
    async fn judge(&self, loaded: &Arc<Loaded>, image: &RegistryRef) -> Verdict {
        let decision = self.decider.decide(loaded, image, self.deadline()).await;
        let report = decision.report.as_ref();
        if decision.allowed() {
            if report.is_some_and(|r| r.has_failures()) {
                tracing::warn!(
                    "{image}: rule {} ({}) would deny: {}",
                    report.and_then(|r| r.rule.as_deref()).unwrap_or("none"),
                    report
                        .and_then(|r| r.mode)
                        .map_or_else(|| "warn".to_owned(), |m| m.to_string()),
                    decision.failures()
                );
            }
            return Verdict::Allowed { children: true };
        }
        let reason = decision
            .reason
            .clone()
            .or_else(|| report.and_then(|r| r.error.clone()))
            .unwrap_or_else(|| decision.failures());
        let reason = match report.and_then(|r| r.rule.as_deref()) {
            Some(rule) => format!("{image}: rule {rule}: {reason}"),
            None => format!("{image}: {reason}"),
        };
        if decision.registry_error {
            Verdict::Unavailable(format!("{reason} (the upstream could not be read; try again)"))
        } else {
            Verdict::Denied(reason)
        }
    }

    async fn blob(&self, repository: &Repository, digest: &Digest, head: bool) -> Response<Body> {
        let name = repository.name();
        let Some(size) = self.grants.blob(&name, digest) else {
            return answer::denied(
                &format!(
                    "blob {digest} of {name} belongs to no image the gate allowed (fetch the image's manifest through the gate first)"
                ),
                head,
            );
        };
        if head {
            return answer::blob_head(digest, size);
        }
        let store = RegistryStore::new(self.client.clone(), &repository.upstream);
        let descriptor = Descriptor {
            digest: digest.clone(),
            size,
            ..Descriptor::of("application/octet-stream", b"")
        };
        match store.stream_blob(&descriptor).await {
            Ok(stream) => answer::blob(digest, size, stream),
            Err(StoreError::NotFound { .. }) => answer::error(
                StatusCode::NOT_FOUND,
                "BLOB_UNKNOWN",
                &format!("blob {digest} not found in {name}"),
                head,
            ),
            Err(e) => answer::upstream(&e, head),
        }
    }

    async fn tags(&self, repository: &Repository, query: Option<&str>, head: bool) -> Response<Body> {
        let mut path = format!("/v2/{}/tags/list", repository.upstream.repository());
        let kept = pass_query(query, &["n", "last"]);
        if !kept.is_empty() {
            path = format!("{path}?{kept}");
        }
        self.pass_through(repository, path, HeaderMap::new(), "NAME_UNKNOWN", head)
            .await
    }

    async fn referrers(
        &self,
        repository: &Repository,
        digest: &Digest,
        query: Option<&str>,
        head: bool,
    ) -> Response<Body> {
        let loaded = self.current.get();
        match self.image_allowed(&loaded, repository, digest).await {
            Verdict::Allowed { .. } => {}
            Verdict::Denied(reason) => return answer::denied(&format!("referrers of a denied image: {reason}"), head),
            Verdict::Unavailable(reason) => {
                return answer::error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", &reason, head);
            }
        }
        let mut path = format!("/v2/{}/referrers/{digest}", repository.upstream.repository());
        let kept = pass_query(query, &["artifactType"]);
        if !kept.is_empty() {
            path = format!("{path}?{kept}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(oci::OCI_INDEX));
        self.pass_through(repository, path, headers, "MANIFEST_UNKNOWN", head)
            .await
    }

    /// A GET of the upstream answered as it came (status, JSON body, the
    /// headers clients page and filter by).
    async fn pass_through(
        &self,
        repository: &Repository,
        path: String,
        headers: HeaderMap,
        not_found: &str,
        head: bool,
    ) -> Response<Body> {
        let request = client::Request {
            push: false,
            method: Method::GET,
            path,
            headers,
            body: client::Body::Empty,
            timeout: None,
        };
        let upstream = &repository.upstream;
        let location = upstream.name();
        let response = match self
            .client
            .send(upstream.registry(), upstream.repository(), request)
            .await
        {
            Ok(r) => r,
            Err(e) => return answer::upstream(&e, head),
        };
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        if status == StatusCode::NOT_FOUND {
            return answer::error(status, not_found, &format!("not found in {location}"), head);
        }
        if !status.is_success() {
            return answer::error(
                StatusCode::BAD_GATEWAY,
                "UNAVAILABLE",
                &format!("upstream: {location} answered HTTP {status}"),
                head,
            );
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        let kept: Vec<(hyper::header::HeaderName, HeaderValue)> = response
            .headers()
            .iter()
            .filter(|(name, value)| {
                (*name == LINK && value.to_str().is_ok_and(|v| v.starts_with("</v2/")))
                    || name.as_str().eq_ignore_ascii_case("oci-filters-applied")
            })
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let body = match read_limited(&location, "list", response, LIST_BYTES).await {
            Ok(body) => body,
            Err(e) => return answer::upstream(&e, head),
        };
        let mut answered = answer::bytes(status, &content_type, body, head);
        for (name, value) in kept {
            answered.headers_mut().append(name, value);
        }
        answered
    }
}

/// The image an attachment is about: by its tag (cosign's scheme, the
/// referrers fallback tag) or its `subject`. A manifest with container
/// layers is never taken for an attachment, whatever its tag or subject
/// say: it is judged as the image it can be run as.
fn attachment_subject(target: &Target, manifest: &Manifest) -> Option<Digest> {
    let by_tag = match target {
        Target::Tag(tag) => route::attachment_subject(tag),
        Target::Digest(_) => None,
    };
    let subject = by_tag.or_else(|| manifest.subject().map(|s| s.digest.clone()))?;
    (!runnable(manifest)).then_some(subject)
}

/// Whether a manifest holds what a runtime would unpack and run: an image
/// with a container layer, or an index listing an image manifest for a
/// platform.
fn runnable(manifest: &Manifest) -> bool {
    match manifest {
        Manifest::Image(m) => m.layers.iter().any(|l| {
            let t = l.media_type.to_ascii_lowercase();
            t.starts_with("application/vnd.oci.image.layer.")
                || t.starts_with("application/vnd.docker.image.rootfs.")
                || t.starts_with("application/vnd.oci.image.layer.nondistributable.")
        }),
        Manifest::Index(i) => i.manifests.iter().any(|d| d.platform.is_some()),
    }
}

/// The query parameters in `keep`, as given (already URL-encoded).
fn pass_query(query: Option<&str>, keep: &[&str]) -> String {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            keep.contains(&key)
                && pair
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=%-._~+:".contains(&b))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use sigil_verifier::oci::{ImageIndex, ImageManifest, Platform};

    use super::*;

    fn image(layer_type: &str, subject: Option<Descriptor>) -> Manifest {
        Manifest::Image(ImageManifest {
            schema_version: 2,
            media_type: Some(oci::OCI_MANIFEST.into()),
            artifact_type: None,
            config: Descriptor::of(oci::OCI_EMPTY, b"{}"),
            layers: vec![Descriptor::of(layer_type, b"x")],
            subject,
            annotations: BTreeMap::new(),
        })
    }

    #[test]
    fn attachments_are_found_by_tag_or_subject_and_never_run() {
        let d = Digest::sha256_of(b"image");
        let sig = Target::Tag(sigil_verifier::cosign::signature_tag(&d));
        let signature = image(sigil_verifier::cosign::SIMPLESIGNING_MEDIA_TYPE, None);
        assert_eq!(attachment_subject(&sig, &signature), Some(d.clone()));
        let subject = Some(Descriptor::of(oci::OCI_MANIFEST, b"image"));
        let referrer = image("application/vnd.dev.sigstore.bundle.v0.3+json", subject.clone());
        let by_digest = Target::Digest(Digest::sha256_of(b"referrer"));
        assert_eq!(attachment_subject(&by_digest, &referrer), Some(d.clone()));
        // Twins: a runnable image under an attachment tag or with a subject
        // is judged on its own.
        assert_eq!(attachment_subject(&sig, &image(oci::OCI_LAYER_GZIP, None)), None);
        let layer = "application/vnd.docker.image.rootfs.diff.tar.gzip";
        assert_eq!(attachment_subject(&by_digest, &image(layer, subject)), None);
        assert_eq!(attachment_subject(&Target::Tag("v1".into()), &signature), None);
        let mut platforms = ImageIndex::empty();
        platforms.manifests.push(Descriptor {
            platform: Some(Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                variant: None,
            }),
            ..Descriptor::of(oci::OCI_MANIFEST, b"x")
        });
        let fallback = Target::Tag(sigil_verifier::referrers::fallback_tag(&d));
        assert_eq!(
            attachment_subject(&fallback, &Manifest::Index(ImageIndex::empty())),
            Some(d)
        );
        assert_eq!(attachment_subject(&fallback, &Manifest::Index(platforms)), None);
    }

    #[test]
    fn every_accept_header_counts() {
        let mut headers = HeaderMap::new();
        headers.append(ACCEPT, HeaderValue::from_static(oci::OCI_MANIFEST));
        headers.append(
            ACCEPT,
            HeaderValue::from_static("application/vnd.oci.image.index.v1+json; q=0.9, text/plain"),
        );
        let accepted = Accepted::of(&headers);
        assert!(accepted.allows(oci::OCI_MANIFEST));
        assert!(accepted.allows(oci::OCI_INDEX));
        assert!(!accepted.allows(oci::DOCKER_MANIFEST));
        assert!(Accepted::of(&HeaderMap::new()).allows(oci::DOCKER_MANIFEST));
        let mut any = HeaderMap::new();
        any.append(ACCEPT, HeaderValue::from_static("*/*"));
        assert!(Accepted::of(&any).allows(oci::DOCKER_MANIFEST));
    }

    #[test]
    fn only_paging_parameters_pass() {
        assert_eq!(pass_query(Some("n=10&last=v1&x=y"), &["n", "last"]), "n=10&last=v1");
        assert_eq!(pass_query(Some("n=1%26x"), &["n"]), "n=1%26x");
        assert_eq!(pass_query(Some("n=<script>"), &["n"]), "");
        assert_eq!(pass_query(None, &["n"]), "");
    }
}
