//! Tests of the test harness itself, against the real peers: if these fail,
//! no other end-to-end failure means anything.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use tempfile::TempDir;

use crate::support::hostile::OVERSIZED_LEN;
use crate::support::sigil::SIGIL;
use crate::support::{Hostile, Mode, Proc, Registry, Skopeo, TinyImage, sample_layout, sha256_digest, skopeo};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";

fn client(timeout: Duration) -> Client {
    Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("build the HTTP client")
}

fn header<'a>(response: &'a reqwest::blocking::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

// --- the real registry -------------------------------------------------------

#[test]
fn plain_registry_answers_v2() {
    let registry = Registry::start();
    let response = registry
        .client()
        .get(format!("{}/v2/", registry.url()))
        .send()
        .expect("GET /v2/");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        Some("registry/2.0")
    );
    assert!(registry.host().starts_with("127.0.0.1:"));
    assert_eq!(registry.image("sample:v1"), format!("{}/sample:v1", registry.host()));
    assert!(registry.storage_dir().is_dir());
}

#[test]
fn tls_auth_registry_refuses_anonymous_requests() {
    let registry = Registry::start_tls_auth(USER, PASSWORD);
    assert!(registry.url().starts_with("https://127.0.0.1:"));
    let response = registry
        .client()
        .get(format!("{}/v2/", registry.url()))
        .send()
        .expect("GET /v2/");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&response, "www-authenticate").expect("a 401 carries a challenge");
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
}

#[test]
fn tls_auth_registry_accepts_the_right_password_only() {
    let registry = Registry::start_tls_auth(USER, PASSWORD);
    let client = registry.client();
    let url = format!("{}/v2/", registry.url());
    let right = client
        .get(&url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .expect("GET /v2/");
    assert_eq!(right.status(), StatusCode::OK);
    let wrong = client
        .get(&url)
        .basic_auth(USER, Some("wrong password"))
        .send()
        .expect("GET /v2/");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let wrong_user = client
        .get(&url)
        .basic_auth("mallory", Some(PASSWORD))
        .send()
        .expect("GET /v2/");
    assert_eq!(wrong_user.status(), StatusCode::UNAUTHORIZED);
}

#[test]
fn tls_auth_registry_refuses_plain_http() {
    let registry = Registry::start_tls_auth(USER, PASSWORD);
    let url = format!("http://{}/v2/", registry.host());
    match client(Duration::from_secs(2))
        .get(&url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
    {
        // Go's TLS server answers a plain request with 400.
        Ok(response) => assert_eq!(response.status(), StatusCode::BAD_REQUEST),
        Err(e) => assert!(!e.is_timeout(), "plain HTTP should be refused, not hang: {e}"),
    }
}

#[test]
fn tls_registry_is_untrusted_without_the_test_ca() {
    let registry = Registry::start_tls_auth(USER, PASSWORD);
    let pem = std::fs::read_to_string(registry.ca_cert_path()).expect("read the CA certificate");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let error = client(Duration::from_secs(2))
        .get(format!("{}/v2/", registry.url()))
        .send()
        .expect_err("the server certificate chains to a CA made by the test");
    assert!(error.is_connect(), "{error:?}");
}

// --- skopeo ------------------------------------------------------------------

#[test]
fn skopeo_copies_a_layout_into_the_plain_registry() {
    let work = TempDir::new().expect("create a temporary directory");
    let layout = work.path().join("layout");
    let image = sample_layout(&layout);
    let registry = Registry::start();
    let target = format!("docker://{}", registry.image("sample:v1"));

    // With the sigstore-attachments registries.d the lead's interop tests use.
    let registries_d = crate::support::write_registries_d(&work.path().join("registries.d"));
    Skopeo::new()
        .registries_d(&registries_d)
        .run(&[
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &target,
        ])
        .assert_success();

    let inspect = skopeo(&["inspect", "--tls-verify=false", &target]);
    inspect.assert_success();
    let json = inspect.stdout_json();
    assert_eq!(json["Digest"], image.manifest.digest.as_str());
    assert_eq!(json["Architecture"], "amd64");
    let stored = registry.storage_dir().join("docker/registry/v2/repositories/sample");
    assert!(stored.is_dir(), "{} missing", stored.display());

    // `--preserve-digests`: without it skopeo gzips the uncompressed layer on
    // the way to a registry and the manifest digest changes.
    let raw = skopeo(&["inspect", "--raw", "--tls-verify=false", &target]);
    raw.assert_success();
    assert_eq!(sha256_digest(raw.stdout.as_bytes()), image.manifest.digest);
}

#[test]
fn skopeo_copies_into_the_tls_auth_registry_with_a_docker_config() {
    let work = TempDir::new().expect("create a temporary directory");
    let layout = work.path().join("layout");
    let image = sample_layout(&layout);
    let registry = Registry::start_tls_auth(USER, PASSWORD);
    let auth_file = registry.write_docker_config(&work.path().join("docker"));
    let cert_dir = registry.cert_dir();
    let target = format!("docker://{}", registry.image("sample:v1"));
    let (auth_file, cert_dir) = (path(&auth_file), path(&cert_dir));

    skopeo(&[
        "copy",
        "--preserve-digests",
        "--dest-cert-dir",
        cert_dir,
        "--dest-authfile",
        auth_file,
        &format!("oci:{}:v1", layout.display()),
        &target,
    ])
    .assert_success();

    let anonymous = skopeo(&["inspect", "--cert-dir", cert_dir, &target]);
    assert_ne!(anonymous.code, Some(0), "anonymous inspect should fail\n{anonymous}");
    let inspect = skopeo(&["inspect", "--cert-dir", cert_dir, "--authfile", auth_file, &target]);
    inspect.assert_success();
    assert_eq!(inspect.stdout_json()["Digest"], image.manifest.digest.as_str());
}

fn path(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

#[test]
fn sample_layout_is_a_valid_oci_layout() {
    let dir = TempDir::new().expect("create a temporary directory");
    let image = sample_layout(dir.path());
    assert_eq!(
        image.manifest.digest,
        TinyImage::new().manifest.digest,
        "the sample image is deterministic"
    );
    for blob in [&image.config, &image.layer, &image.manifest] {
        let hex = blob.digest.strip_prefix("sha256:").expect("sha256 digests");
        let stored = std::fs::read(dir.path().join("blobs/sha256").join(hex)).expect("read a blob");
        assert_eq!(sha256_digest(&stored), blob.digest);
    }
    // ustar: the magic, then data and padding to whole 512-byte blocks.
    assert_eq!(&image.layer.bytes[257..263], b"ustar\0");
    assert_eq!(image.layer.bytes.len() % 512, 0);
}

// --- the process runner --------------------------------------------------------

#[test]
fn runner_has_a_hermetic_environment() {
    let output = Proc::new("sh").args(["-c", "env"]).env("SIGIL_PASSWORD", "").run();
    output.assert_success().assert_quiet_stderr();
    let vars: Vec<(&str, &str)> = output.stdout.lines().filter_map(|line| line.split_once('=')).collect();
    let home = vars.iter().find(|(k, _)| *k == "HOME").expect("HOME is set").1;
    let real_home = std::env::var("HOME").unwrap_or_default();
    assert_ne!(home, real_home, "HOME must not be the real one");
    assert!(home.contains("sigil-e2e-home-"), "{home}");
    assert!(
        vars.contains(&("SIGIL_PASSWORD", "")),
        "an explicitly set variable passes: {vars:?}"
    );
    for (key, _) in &vars {
        assert!(
            [
                "HOME",
                "PATH",
                "TMPDIR",
                "LLVM_PROFILE_FILE",
                "SIGIL_PASSWORD",
                "PWD",
                "SHLVL",
                "_"
            ]
            .contains(key),
            "{key} leaked into the child's environment"
        );
    }
}

#[test]
fn runner_kills_a_hang() {
    let timed_out = Proc::new("sleep")
        .arg("30")
        .timeout(Duration::from_millis(300))
        .try_run()
        .expect_err("sleep 30 outlives a 300 ms timeout");
    assert!(timed_out.to_string().contains("a hang is a bug"));
}

#[test]
fn runner_assertions_accept_one_line_errors() {
    let output = Proc::new("sh")
        .args(["-c", "echo 'error: no such image' >&2; exit 2"])
        .run();
    assert_eq!(output.assert_exit(2).assert_one_line_error(), "error: no such image");
    let fed = Proc::new("cat").stdin("piped").run();
    assert_eq!(fed.assert_success().stdout, "piped");
}

#[test]
#[should_panic(expected = "exactly one non-empty line")]
fn runner_assertions_reject_two_line_errors() {
    Proc::new("sh")
        .args(["-c", "echo warning >&2; echo error >&2; exit 2"])
        .run()
        .assert_one_line_error();
}

#[test]
fn sigil_binary_is_built() {
    assert!(Path::new(SIGIL).is_file(), "{SIGIL} missing");
}

// --- the hostile registry ----------------------------------------------------

#[test]
fn hostile_honest_serves_the_image() {
    let hostile = Hostile::start(Mode::Honest);
    let image = hostile.tiny_image().clone();
    let http = client(Duration::from_secs(2));
    let base = format!("{}/v2", hostile.url());

    assert_eq!(
        http.get(format!("{base}/")).send().expect("GET /v2/").status(),
        StatusCode::OK
    );
    for reference in ["v1", image.manifest.digest.as_str()] {
        let url = format!("{base}/some/repo/manifests/{reference}");
        let response = http.get(&url).send().expect("GET manifest");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            header(&response, "docker-content-digest"),
            Some(image.manifest.digest.as_str())
        );
        assert_eq!(header(&response, "content-type"), Some(image.manifest.media_type));
        assert_eq!(
            sha256_digest(&response.bytes().expect("read the manifest")),
            image.manifest.digest
        );
        let head = http.head(&url).send().expect("HEAD manifest");
        assert_eq!(head.status(), StatusCode::OK);
        // reqwest's `content_length()` is the body's size, 0 for HEAD: read the header.
        let length = image.manifest.bytes.len().to_string();
        assert_eq!(header(&head, "content-length"), Some(length.as_str()));
    }
    for blob in image.blobs() {
        let response = http
            .get(format!("{base}/some/repo/blobs/{}", blob.digest))
            .send()
            .expect("GET blob");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(sha256_digest(&response.bytes().expect("read the blob")), blob.digest);
    }
    let missing = http
        .get(format!("{base}/some/repo/manifests/v2"))
        .send()
        .expect("GET unknown tag");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let referrers = http
        .get(format!("{base}/some/repo/referrers/{}", image.manifest.digest))
        .send();
    assert_eq!(referrers.expect("GET referrers").status(), StatusCode::NOT_FOUND);
    let put = http
        .put(format!("{base}/some/repo/manifests/v1"))
        .body("{}")
        .send()
        .expect("PUT manifest");
    assert_eq!(put.status(), StatusCode::METHOD_NOT_ALLOWED);
    let post = http
        .post(format!("{base}/some/repo/blobs/uploads/"))
        .send()
        .expect("POST upload");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(hostile.requests(), 11);
    assert_eq!(hostile.request_log()[0], "GET /v2/");
}

#[test]
fn hostile_wrong_digest_serves_bytes_that_do_not_hash_to_the_digest() {
    let hostile = Hostile::start(Mode::WrongDigest);
    let image = hostile.tiny_image().clone();
    let http = client(Duration::from_secs(2));
    let base = format!("{}/v2/repo", hostile.url());
    for reference in ["v1", image.manifest.digest.as_str()] {
        let response = http
            .get(format!("{base}/manifests/{reference}"))
            .send()
            .expect("GET manifest");
        assert_eq!(response.status(), StatusCode::OK);
        let claimed = header(&response, "docker-content-digest")
            .expect("a digest header")
            .to_owned();
        assert_eq!(claimed, image.manifest.digest);
        let body = response.bytes().expect("read the manifest");
        assert_ne!(sha256_digest(&body), claimed);
        serde_json::from_slice::<serde_json::Value>(&body).expect("still a JSON manifest");
    }
    for blob in image.blobs() {
        let response = http
            .get(format!("{base}/blobs/{}", blob.digest))
            .send()
            .expect("GET blob");
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.bytes().expect("read the blob");
        assert_eq!(body.len(), blob.bytes.len());
        assert_ne!(sha256_digest(&body), blob.digest);
    }
}

#[test]
fn hostile_oversized_manifest_is_64_mib_with_honest_headers() {
    let hostile = Hostile::start(Mode::OversizedManifest);
    let digest = hostile.oversized_digest().expect("set in this mode").to_owned();
    let http = client(Duration::from_secs(30));
    let url = format!("{}/v2/repo/manifests/v1", hostile.url());
    let head = http.head(&url).send().expect("HEAD manifest");
    assert_eq!(
        header(&head, "content-length"),
        Some(OVERSIZED_LEN.to_string().as_str())
    );
    let response = http.get(&url).send().expect("GET manifest");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(OVERSIZED_LEN as u64));
    assert_eq!(header(&response, "docker-content-digest"), Some(digest.as_str()));
    let body = response.bytes().expect("read 64 MiB");
    assert_eq!(body.len(), OVERSIZED_LEN);
    assert_eq!(sha256_digest(&body), digest);
}

#[test]
fn hostile_endless_body_has_no_length_and_does_not_end() {
    let hostile = Hostile::start(Mode::EndlessBody);
    let response = client(Duration::from_secs(10))
        .get(format!("{}/v2/repo/manifests/v1", hostile.url()))
        .send()
        .expect("GET manifest");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), None);
    // Far more than any manifest: 16 MiB, and it is still going.
    let limit = 16 * 1024 * 1024;
    let mut read = Vec::new();
    response
        .take(limit)
        .read_to_end(&mut read)
        .expect("read the endless body");
    assert_eq!(read.len() as u64, limit);
}

#[test]
fn hostile_stall_times_out() {
    let hostile = Hostile::start(Mode::Stall);
    let error = client(Duration::from_secs(1))
        .get(format!("{}/v2/", hostile.url()))
        .send()
        .expect_err("a stalled server never answers");
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(hostile.requests(), 1, "the request arrived and was held");
}

#[test]
fn hostile_storms_answer_every_request_with_their_status() {
    let cases = [
        (Mode::TooManyRequests, StatusCode::TOO_MANY_REQUESTS),
        (Mode::ServerError, StatusCode::SERVICE_UNAVAILABLE),
        (Mode::Forbidden, StatusCode::FORBIDDEN),
    ];
    let http = client(Duration::from_secs(2));
    for (mode, status) in cases {
        let hostile = Hostile::start(mode);
        for path in ["/v2/", "/v2/repo/manifests/v1", "/v2/repo/blobs/sha256:00"] {
            let response = http.get(format!("{}{path}", hostile.url())).send().expect("GET");
            assert_eq!(response.status(), status, "{mode:?} {path}");
            if mode == Mode::TooManyRequests {
                assert_eq!(header(&response, "retry-after"), Some("1"));
            }
        }
        let put = http
            .put(format!("{}/v2/repo/manifests/v1", hostile.url()))
            .send()
            .expect("PUT");
        assert_eq!(put.status(), status, "{mode:?} write");
        assert_eq!(hostile.requests(), 4, "{mode:?}: one request each, no client retries");
    }
}

#[test]
fn hostile_unauthorized_sends_a_challenge_that_leads_nowhere() {
    let hostile = Hostile::start(Mode::Unauthorized);
    let http = client(Duration::from_secs(2));
    let response = http
        .get(format!("{}/v2/some/repo/manifests/v1", hostile.url()))
        .send()
        .expect("GET");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&response, "www-authenticate")
        .expect("a bearer challenge")
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(r#"scope="repository:some/repo:pull""#),
        "{challenge}"
    );
    let realm = challenge
        .split(r#"realm=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the challenge names a realm");
    assert_eq!(realm, format!("{}/token", hostile.url()));
    let token = http
        .get(format!("{realm}?service=hostile&scope=repository:some/repo:pull"))
        .send()
        .expect("GET token");
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(hostile.requests(), 2);
}

#[test]
fn skopeo_pulls_from_the_honest_hostile_and_looks_for_sigstore_attachments() {
    let hostile = Hostile::start(Mode::Honest);
    let work = TempDir::new().expect("create a temporary directory");
    let registries_d = crate::support::write_registries_d(&work.path().join("registries.d"));
    let layout = work.path().join("pulled");
    Skopeo::new()
        .registries_d(&registries_d)
        .run(&[
            "copy",
            "--preserve-digests",
            "--src-tls-verify=false",
            &format!("docker://{}", hostile.image("some/repo:v1")),
            &format!("oci:{}:v1", layout.display()),
        ])
        .assert_success();
    let digest = &hostile.tiny_image().manifest.digest;
    let hex = digest.strip_prefix("sha256:").expect("sha256 digests");
    assert!(
        layout.join("blobs/sha256").join(hex).is_file(),
        "the manifest was copied unchanged"
    );
    // The registries.d file took effect: skopeo asked for cosign's signature tag.
    let wanted = format!("/v2/some/repo/manifests/sha256-{hex}.sig");
    let log = hostile.request_log();
    assert!(log.iter().any(|line| line.ends_with(&wanted)), "{log:#?}");
}

#[test]
#[should_panic(expected = "apt-get install -y docker-registry skopeo")]
fn a_missing_tool_fails_with_an_install_hint() {
    crate::support::require_binary("sigil-e2e-no-such-tool", "sigil-e2e-no-such-package");
}

#[tokio::test]
async fn the_peers_work_from_async_tests_too() {
    let registry = Registry::start();
    let hostile = Hostile::start(Mode::Honest);
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("build the HTTP client");
    for url in [registry.url(), hostile.url()] {
        let response = http.get(format!("{url}/v2/")).send().await.expect("GET /v2/");
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    // Both are dropped here, inside the runtime: that must not panic.
}
