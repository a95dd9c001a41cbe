//! The registry client against small in-process servers for what the Debian
//! registry cannot do: a bearer-token service, and a referrers API with
//! `Link` pagination.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Credential, RegistryClient, RegistryHost, RegistryOptions, RegistryStore, ScopedCredential, Secret};
use crate::digest::Digest;
use crate::oci::{self, Descriptor, ImageIndex};
use crate::reference::{RegistryRef, Target};
use crate::store::{Store, StoreError};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#;

#[derive(Clone, Default)]
struct Counters {
    token_requests: Arc<AtomicUsize>,
    port: Arc<AtomicUsize>,
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr.to_string()
}

fn store(host: &str, credential: Option<Credential>) -> RegistryStore {
    let client = RegistryClient::new(RegistryOptions {
        credential: credential.map(|credential| ScopedCredential {
            host: RegistryHost::of(host),
            credential,
        }),
        ..RegistryOptions::default()
    })
    .expect("client");
    RegistryStore::new(
        Arc::new(client),
        &RegistryRef::parse(&format!("{host}/app:v1")).expect("ref"),
    )
}

fn challenge(state: &Counters) -> Response {
    let realm = format!("http://127.0.0.1:{}/token", state.port.load(Ordering::Relaxed));
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            format!(r#"Bearer realm="{realm}",service="test""#),
        )],
        "",
    )
        .into_response()
}

async fn manifest(State(state): State<Counters>, headers: HeaderMap) -> Response {
    if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some("Bearer T1") {
        return challenge(&state);
    }
    let digest = Digest::sha256_of(MANIFEST).to_string();
    (
        [
            (header::CONTENT_TYPE, oci::OCI_MANIFEST.to_owned()),
            ("docker-content-digest".parse().expect("name"), digest),
        ],
        MANIFEST,
    )
        .into_response()
}

async fn token(
    State(state): State<Counters>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    // base64("alice:pw")
    let right = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some("Basic YWxpY2U6cHc=");
    let scope_ok = query.get("scope").map(String::as_str) == Some("repository:app:pull")
        && query.get("service").map(String::as_str) == Some("test");
    if right && scope_ok {
        (StatusCode::OK, r#"{"token":"T1"}"#).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn token_registry() -> (String, Counters) {
    let state = Counters::default();
    let router = Router::new()
        .route("/v2/", get(|State(s): State<Counters>| async move { challenge(&s) }))
        .route("/v2/app/manifests/{reference}", get(manifest))
        .route("/token", get(token))
        .with_state(state.clone());
    let host = serve(router).await;
    let port: usize = host.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    state.port.store(port, Ordering::Relaxed);
    (host, state)
}

fn alice(password: &str) -> Option<Credential> {
    Some(Credential::Basic {
        username: "alice".into(),
        password: Secret::new(password),
    })
}

#[tokio::test]
async fn bearer_challenge_is_answered_and_the_token_reused() {
    let (host, counters) = token_registry().await;
    let store = store(&host, alice("pw"));
    for _ in 0..3 {
        let fetched = store
            .fetch_manifest(&Target::Tag("v1".into()))
            .await
            .expect("fetch")
            .expect("exists");
        assert_eq!(fetched.bytes, MANIFEST);
    }
    assert_eq!(
        counters.token_requests.load(Ordering::Relaxed),
        1,
        "one token for the scope, reused"
    );
}

#[tokio::test]
async fn refused_credentials_and_anonymous_access_are_clear_errors() {
    let (host, _) = token_registry().await;
    let err = store(&host, alice("wrong-secret"))
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
    assert!(
        text.contains("user \"alice\"") && !text.contains("wrong-secret"),
        "{text}"
    );
    let err = store(&host, None)
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("anonymous"), "{err}");
}

/// Docker Hub's layout: the registry (`registry-1.docker.io`) sends clients
/// to a token service on another host name (`auth.docker.io`). Here the
/// registry is `127.0.0.1:P` and the token service `localhost:Q`.
#[tokio::test]
async fn a_token_service_on_another_host_gets_the_credentials_and_the_registry_only_tokens() {
    let tokens = Counters::default();
    let token_host = serve(Router::new().route("/token", get(token)).with_state(tokens.clone())).await;
    let token_port = token_host.rsplit(':').next().expect("a port").to_owned();
    let realm = format!("http://localhost:{token_port}/token");
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let registry = {
        let (realm, seen) = (realm.clone(), seen.clone());
        Router::new().fallback(move |headers: HeaderMap| {
            let (realm, seen) = (realm.clone(), seen.clone());
            async move {
                let authorization = headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().expect("not poisoned").push(authorization.clone());
                if authorization != "Bearer T1" {
                    let challenge = format!(r#"Bearer realm="{realm}",service="test""#);
                    return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], "").into_response();
                }
                let digest = Digest::sha256_of(MANIFEST).to_string();
                (
                    [
                        (header::CONTENT_TYPE, oci::OCI_MANIFEST.to_owned()),
                        ("docker-content-digest".parse().expect("name"), digest),
                    ],
                    MANIFEST,
                )
                    .into_response()
            }
        })
    };
    let host = serve(registry).await;
    let fetched = store(&host, alice("pw"))
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect("fetch")
        .expect("exists");
    assert_eq!(fetched.bytes, MANIFEST);
    assert_eq!(tokens.token_requests.load(Ordering::Relaxed), 1);
    let seen = seen.lock().expect("not poisoned").clone();
    assert!(seen.iter().any(|a| a == "Bearer T1"), "{seen:?}");
    assert!(
        seen.iter().all(|a| a.is_empty() || a == "Bearer T1"),
        "the registry never sees the password: {seen:?}"
    );
    // twin: the token service refuses another password, and so the run fails.
    let err = store(&host, alice("wrong"))
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect_err("refused");
    assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn referrers_api_pages_are_followed() {
    let subject = Digest::sha256_of(b"subject");
    let entry = |n: u8| Descriptor::of(oci::OCI_MANIFEST, &[n]);
    let pages = Arc::new(vec![
        ImageIndex {
            manifests: vec![entry(1), entry(2)],
            ..ImageIndex::empty()
        },
        ImageIndex {
            manifests: vec![entry(3)],
            ..ImageIndex::empty()
        },
    ]);
    let router = Router::new().route("/v2/", get(|| async { StatusCode::OK })).route(
        "/v2/app/referrers/{digest}",
        get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
            let pages = pages.clone();
            async move {
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(0);
                let mut headers = HeaderMap::new();
                headers.insert(header::CONTENT_TYPE, oci::OCI_INDEX.parse().expect("value"));
                if page + 1 < pages.len() {
                    let link = format!(r#"</v2/app/referrers/x?page={}>; rel="next""#, page + 1);
                    headers.insert(header::LINK, link.parse().expect("value"));
                }
                (StatusCode::OK, headers, oci::to_bytes(&pages[page]))
            }
        }),
    );
    let host = serve(router).await;
    let found = store(&host, None)
        .referrers_api(&subject)
        .await
        .expect("referrers")
        .expect("api present");
    assert_eq!(
        found.iter().map(|d| d.digest.clone()).collect::<Vec<_>>(),
        [entry(1).digest, entry(2).digest, entry(3).digest]
    );
}

/// A registry of manifests only (every blob "exists") whose first tag write
/// is refused as the Debian registry refuses it while another client commits
/// the same blob, and during which that other client's manifest lands.
#[derive(Clone, Default)]
struct Racing {
    manifests: Arc<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    refused: Arc<AtomicUsize>,
    /// What the concurrent writer puts under the tag at the refusal.
    theirs: Arc<Vec<u8>>,
}

async fn racing_get(
    State(state): State<Racing>,
    axum::extract::Path(reference): axum::extract::Path<String>,
) -> Response {
    let Some(bytes) = state.manifests.lock().expect("lock").get(&reference).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let digest = Digest::sha256_of(&bytes).to_string();
    (
        [
            (header::CONTENT_TYPE, oci::OCI_MANIFEST.to_owned()),
            ("docker-content-digest".parse().expect("name"), digest),
        ],
        bytes,
    )
        .into_response()
}

async fn racing_put(
    State(state): State<Racing>,
    axum::extract::Path(reference): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let is_tag = !reference.starts_with("sha256:");
    if is_tag && state.refused.fetch_add(1, Ordering::SeqCst) == 0 {
        state
            .manifests
            .lock()
            .expect("lock")
            .insert(reference, state.theirs.to_vec());
        return (
            StatusCode::BAD_REQUEST,
            r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
        )
            .into_response();
    }
    let digest = Digest::sha256_of(&body).to_string();
    state.manifests.lock().expect("lock").insert(reference, body.to_vec());
    (
        StatusCode::CREATED,
        [(
            "docker-content-digest".parse::<header::HeaderName>().expect("name"),
            digest,
        )],
    )
        .into_response()
}

#[tokio::test]
async fn a_refused_tag_write_is_merged_again_not_resent() {
    let layer = |payload: &[u8], signature: &str| {
        let mut l = Descriptor::of(crate::cosign::SIMPLESIGNING_MEDIA_TYPE, payload);
        l.annotations
            .insert(crate::cosign::SIGNATURE_ANNOTATION.to_owned(), signature.to_owned());
        l
    };
    let (theirs, ours) = (layer(b"payload", "their-signature"), layer(b"payload", "our-signature"));
    let (_, _, their_manifest) = crate::cosign::attachment_manifest(vec![theirs.clone()]);
    let state = Racing {
        theirs: Arc::new(oci::to_bytes(&their_manifest)),
        ..Racing::default()
    };
    let router = Router::new()
        .route("/v2/", get(|| async { StatusCode::OK }))
        .route("/v2/app/manifests/{reference}", get(racing_get).put(racing_put))
        .route(
            "/v2/app/blobs/{digest}",
            axum::routing::head(|| async { StatusCode::OK }),
        )
        .with_state(state.clone());
    let host = serve(router).await;
    let store = store(&host, None);
    crate::sign::append_layer(&store, "sha256-x.sig", ours.clone())
        .await
        .expect("appended after the refusal");
    let stored = state
        .manifests
        .lock()
        .expect("lock")
        .get("sha256-x.sig")
        .cloned()
        .expect("tag");
    let Ok(oci::Manifest::Image(manifest)) = oci::Manifest::parse(oci::OCI_MANIFEST, &stored) else {
        panic!("an image manifest");
    };
    let signatures: Vec<_> = manifest
        .layers
        .iter()
        .filter_map(|l| crate::cosign::annotation(&l.annotations, crate::cosign::SIGNATURE_ANNOTATION))
        .collect();
    assert_eq!(
        signatures,
        ["their-signature", "our-signature"],
        "the concurrent writer's signature survives"
    );
    assert!(
        state.refused.load(Ordering::SeqCst) >= 2,
        "written again after the refusal"
    );

    // A refusal that never ends is an error, not a hang or a silent loss.
    let err = StoreError::Transient {
        location: "r/app".into(),
        what: "pushing manifest t".into(),
        detail: "MANIFEST_BLOB_UNKNOWN".into(),
    };
    assert!(err.is_transient() && err.to_string().contains("run the command again"));
}

/// A registry whose manifest answer arrives one byte every `gap`, never
/// silent long enough for the read timeout.
async fn dripping_registry(gap: std::time::Duration) -> String {
    let router = Router::new().route("/v2/", get(|| async { StatusCode::OK })).route(
        "/v2/app/manifests/{reference}",
        get(move || async move {
            let drip = futures::stream::unfold(0usize, move |at| async move {
                if at >= MANIFEST.len() {
                    return None;
                }
                if at > 0 {
                    tokio::time::sleep(gap).await;
                }
                Some((
                    Ok::<_, std::io::Error>(axum::body::Bytes::from_static(&MANIFEST[at..=at])),
                    at + 1,
                ))
            });
            (
                [
                    (header::CONTENT_TYPE, oci::OCI_MANIFEST.to_owned()),
                    (header::CONTENT_LENGTH, MANIFEST.len().to_string()),
                ],
                axum::body::Body::from_stream(drip),
            )
        }),
    );
    serve(router).await
}

fn client_with(options: RegistryOptions) -> Arc<RegistryClient> {
    Arc::new(RegistryClient::new(options).expect("client"))
}

fn store_at(client: &Arc<RegistryClient>, host: &str) -> RegistryStore {
    RegistryStore::new(
        client.clone(),
        &RegistryRef::parse(&format!("{host}/app:v1")).expect("ref"),
    )
}

#[tokio::test]
async fn a_dripping_answer_ends_at_the_request_deadline() {
    use std::time::Duration;
    let host = dripping_registry(Duration::from_millis(50)).await;
    let client = client_with(RegistryOptions {
        request_timeout: Duration::from_millis(400),
        read_timeout: Duration::from_secs(30),
        ..RegistryOptions::default()
    });
    let err = store_at(&client, &host)
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect_err("the drip outlasts the deadline");
    assert!(matches!(err, StoreError::Deadline { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("timed out") && text.contains("deadline") && text.contains("--registry-timeout"),
        "{text}"
    );

    // twin: the same drip within a deadline long enough for it is read whole
    let client = client_with(RegistryOptions {
        request_timeout: Duration::from_secs(60),
        ..RegistryOptions::default()
    });
    let host = dripping_registry(Duration::from_millis(1)).await;
    let fetched = store_at(&client, &host)
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(fetched.bytes, MANIFEST);
}

#[tokio::test]
async fn streamed_blobs_get_the_deadline_per_64_mib() {
    use std::time::Duration;
    let client = client_with(RegistryOptions {
        request_timeout: Duration::from_secs(10),
        ..RegistryOptions::default()
    });
    assert_eq!(client.streaming_timeout(0), Duration::from_secs(10));
    assert_eq!(client.streaming_timeout(64 << 20), Duration::from_secs(10));
    assert_eq!(client.streaming_timeout((64 << 20) + 1), Duration::from_secs(20));
    assert_eq!(client.streaming_timeout(1 << 30), Duration::from_secs(160));
    assert!(client.streaming_timeout(u64::MAX) >= Duration::from_secs(10));
}

/// A registry demanding basic auth for everything; records every
/// `Authorization` header it receives.
async fn basic_auth_registry() -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let answer = move |headers: HeaderMap| {
        let log = log.clone();
        async move {
            let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            if let Some(a) = authorization {
                log.lock().expect("lock").push(a.to_owned());
            }
            // base64("alice:pw")
            if authorization == Some("Basic YWxpY2U6cHc=") {
                let digest = Digest::sha256_of(MANIFEST).to_string();
                return (
                    [
                        (header::CONTENT_TYPE, oci::OCI_MANIFEST.to_owned()),
                        ("docker-content-digest".parse().expect("name"), digest),
                    ],
                    MANIFEST,
                )
                    .into_response();
            }
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, r#"Basic realm="test""#)],
                "",
            )
                .into_response()
        }
    };
    let router = Router::new()
        .route("/v2/", get(answer.clone()))
        .route("/v2/app/manifests/{reference}", get(answer));
    (serve(router).await, seen)
}

#[tokio::test]
async fn explicit_credentials_reach_only_their_registry() {
    let (ours, ours_saw) = basic_auth_registry().await;
    let (theirs, theirs_saw) = basic_auth_registry().await;
    let client = client_with(RegistryOptions {
        credential: Some(ScopedCredential {
            // another spelling of the same registry: upper case, the default port dropped
            host: RegistryHost::of(&ours.to_uppercase()),
            credential: alice("pw").expect("a credential"),
        }),
        ..RegistryOptions::default()
    });
    let target = Target::Tag("v1".into());
    let fetched = store_at(&client, &ours)
        .fetch_manifest(&target)
        .await
        .expect("our registry gets the credentials")
        .expect("exists");
    assert_eq!(fetched.bytes, MANIFEST);
    assert!(!ours_saw.lock().expect("lock").is_empty());

    // twin: the other registry challenges for basic auth too, and gets nothing
    let err = store_at(&client, &theirs)
        .fetch_manifest(&target)
        .await
        .expect_err("no credentials for the other registry");
    assert!(matches!(err, StoreError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("none are configured"), "{err}");
    assert_eq!(*theirs_saw.lock().expect("lock"), Vec::<String>::new());
}

/// A CA certificate (PEM) and, signed by it, a server certificate and key for
/// `127.0.0.1` (DER).
fn test_pki() -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_pem = ca_params.self_signed(&ca_key).expect("CA certificate").pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("server params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).expect("server certificate");
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der()).into();
    (ca_pem, cert.der().clone(), key)
}

/// An HTTPS server on 127.0.0.1 (rustls on plain threads, one request per
/// connection, so each request is a new handshake) answering every request
/// `200` with an empty body. Returns its address and the PEM of its CA.
fn https_server() -> (String, String) {
    use std::io::{Read as _, Write as _};
    let (ca_pem, cert, key) = test_pki();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server configuration");
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let (mut seen, mut buf) = (Vec::new(), [0_u8; 4096]);
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (addr.to_string(), ca_pem)
}

fn get_v2() -> super::client::Request {
    super::client::Request {
        push: false,
        method: reqwest::Method::GET,
        path: "/v2/".into(),
        headers: reqwest::header::HeaderMap::new(),
        body: super::client::Body::Empty,
        timeout: None,
    }
}

#[tokio::test]
async fn verifying_from_a_plain_http_loopback_registry_never_sets_up_tls() {
    let hostile = sigil_testkit::Hostile::start(sigil_testkit::Mode::RepeatedSignature(1));
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let reference = RegistryRef::parse(&hostile.image("app:v1")).expect("ref");
    let store = RegistryStore::new(client.clone(), &reference);
    let image = store
        .fetch_manifest(&Target::Tag("v1".into()))
        .await
        .expect("resolve")
        .expect("exists")
        .descriptor
        .digest;
    let signatures = crate::gather::signatures(&store, &image).await.expect("gather");
    assert_eq!(signatures.len(), 1, "the .sig layer was read");
    assert!(
        hostile.request_log().iter().any(|line| line.contains("/blobs/")),
        "{:?}",
        hostile.request_log()
    );
    assert_eq!(client.tls_setups(), 0, "no CA certificates loaded for plain HTTP");
}

#[tokio::test]
async fn tls_is_set_up_once_by_the_first_https_registry() {
    let (host, ca_pem) = https_server();
    let client = RegistryClient::new(RegistryOptions {
        ca_certs_pem: vec![ca_pem.into_bytes()],
        ..RegistryOptions::default()
    })
    .expect("client");
    assert_eq!(
        client.tls_setups(),
        0,
        "nothing is set up before a registry is contacted"
    );
    for _ in 0..3 {
        let response = client.send(&host, "app", get_v2()).await.expect("sent over TLS");
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(client.tls_setups(), 1, "four handshakes, one set-up");
}

#[tokio::test]
async fn an_https_registry_with_an_untrusted_certificate_is_refused_after_setting_up_tls() {
    let (host, _) = https_server();
    // Another CA than the server's, so the test needs no system roots.
    let (other_ca, _, _) = test_pki();
    let client = RegistryClient::new(RegistryOptions {
        ca_certs_pem: vec![other_ca.into_bytes()],
        ..RegistryOptions::default()
    })
    .expect("client");
    let err = client.send(&host, "app", get_v2()).await.expect_err("refused");
    assert!(err.to_string().contains("not trusted"), "{err}");
    assert_eq!(client.tls_setups(), 1);
}
