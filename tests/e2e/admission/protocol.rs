//! The HTTPS surface: bodies that are not AdmissionReviews, uids echoed,
//! health, readiness and metrics, HTTP/1.1 keep-alive and HTTP/2, a
//! certificate chain, clients that do not trust the server, TLS files
//! replaced while it runs.

use std::time::Duration;

use reqwest::{StatusCode, Version};
use serde_json::json;

use super::{CONFIG_MAP, POD, Review, eventually, metric, metrics, own_server, post_review, world};
use crate::support::webhook::{Pki, Webhook, established_connections_to};

#[test]
fn bodies_that_are_not_admission_reviews_are_refused() {
    let w = world();
    let good = Review::of_images(POD, &[&w.img.signed]);
    let request = good.body["request"].to_string();
    let pod = good.body["request"]["object"].to_string();
    let garbage: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("not JSON", "this is not json".to_owned()),
        ("truncated", good.body.to_string()[..40].to_owned()),
        ("a JSON array", "[]".to_owned()),
        ("a bare Pod", pod.clone()),
        (
            "no request",
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_owned(),
        ),
        (
            "request null",
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}"#.to_owned(),
        ),
        (
            "v1beta1",
            format!(r#"{{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{request}}}"#),
        ),
        (
            "another kind",
            format!(r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionResponse","request":{request}}}"#),
        ),
        (
            "duplicate request",
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{request},"request":{request}}}"#
            ),
        ),
        (
            "duplicate apiVersion",
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{request}}}"#
            ),
        ),
        (
            "duplicate uid",
            format!(
                r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}}"#,
                request.replacen('{', r#"{"uid":"other-uid","#, 1)
            ),
        ),
        (
            "duplicate image in the object",
            good.body
                .to_string()
                .replacen(r#""image":"#, &format!(r#""image":"{}","image":"#, w.img.signed), 1),
        ),
    ];
    for endpoint in ["/validate", "/mutate"] {
        for (what, body) in &garbage {
            let url = w.server.url(&format!("{endpoint}?timeout=10s"));
            let response = w
                .client
                .post(&url)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .send()
                .unwrap_or_else(|e| panic!("{what}: POST {url}: {e}"));
            let status = response.status();
            let text = response.text().unwrap_or_default();
            assert_eq!(status, StatusCode::BAD_REQUEST, "{endpoint} {what}: {text}");
        }
        // twin: the well-formed review itself
        w.admit(endpoint, &good).assert_allowed();
    }
}

#[test]
fn uids_are_echoed_in_every_answer() {
    let w = world();
    for uid in [
        "705ab4f5-6393-11e8-b7cc-42010a800002",
        "x",
        "a uid with spaces, \"quotes\" and ünïcödé",
    ] {
        for images in [vec![w.img.signed.as_str()], vec![w.img.unsigned.as_str()]] {
            let mut review = Review::of_images(POD, &images);
            review.uid = uid.to_owned();
            review.body["request"]["uid"] = json!(uid);
            for endpoint in ["/validate", "/mutate"] {
                // post_review asserts response.uid == uid
                w.admit(endpoint, &review);
            }
        }
    }
    // the apiserver's timeout is optional
    let review = Review::of_images(POD, &[&w.img.signed]);
    let response = w
        .client
        .post(w.server.url("/validate"))
        .header("Content-Type", "application/json")
        .body(review.body.to_string())
        .send()
        .expect("POST /validate");
    assert_eq!(response.status(), StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&response.text().expect("body")).expect("JSON");
    assert_eq!(json["response"]["uid"], review.uid.as_str());
    assert_eq!(json["response"]["allowed"], true, "{json}");
}

#[test]
fn health_readiness_and_metrics() {
    let w = world();
    for path in ["/healthz", "/readyz"] {
        let response = w.client.get(w.server.url(path)).send().expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // some traffic of every outcome, twice for a cache hit
    for _ in 0..2 {
        w.validate(&Review::of_images(POD, &[&w.img.signed])).assert_allowed();
        w.validate(&Review::of_images(POD, &[&w.img.unsigned])).assert_denied();
    }
    let text = metrics(&w.client, &w.server);
    // every name is there: as samples, or (a labelled family nothing has
    // touched yet) at least as its TYPE line
    for name in [
        "sigil_admission_requests_total",
        "sigil_admission_decisions_total",
        "sigil_admission_request_duration_seconds",
        "sigil_admission_cache_hits_total",
        "sigil_admission_registry_errors_total",
        "sigil_admission_policy_reloads_total",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("# TYPE {name} ")) || (l.starts_with(name) && !l.starts_with('#'))),
            "/metrics names {name}:\n{text}"
        );
    }
    for (name, kind) in [
        ("sigil_admission_requests_total", "counter"),
        ("sigil_admission_request_duration_seconds", "histogram"),
        ("sigil_admission_decisions_total", "counter"),
        ("sigil_admission_cache_hits_total", "counter"),
        ("sigil_admission_registry_errors_total", "counter"),
        ("sigil_admission_policy_reloads_total", "counter"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} is a {kind}:\n{text}"
        );
    }
    let requests = metric(&text, "sigil_admission_requests_total", &[]).expect("requests");
    assert!(requests >= 4.0, "{text}");
    // decisions by rule and outcome: rule prod has allowed and denied ones, under two outcome values
    let prod: Vec<_> = super::samples(&text, "sigil_admission_decisions_total")
        .into_iter()
        .filter(|(labels, _)| labels.get("rule").map(String::as_str) == Some("prod"))
        .collect();
    let outcomes: std::collections::BTreeSet<&str> = prod
        .iter()
        .filter_map(|(labels, _)| labels.get("outcome").map(String::as_str))
        .collect();
    assert!(
        outcomes.len() >= 2,
        "allowed and denied are two outcomes of rule prod:\n{text}"
    );
    assert!(prod.iter().map(|(_, n)| n).sum::<f64>() >= 4.0, "{text}");
    let count = metric(&text, "sigil_admission_request_duration_seconds_count", &[]).expect("count");
    let inf = metric(
        &text,
        "sigil_admission_request_duration_seconds_bucket",
        &[("le", "+Inf")],
    )
    .expect("+Inf bucket");
    assert_eq!(count, inf, "the +Inf bucket counts every request:\n{text}");
    assert!(count >= 4.0, "{text}");
    let hits = metric(&text, "sigil_admission_cache_hits_total", &[]).expect("cache hits");
    assert!(hits >= 1.0, "the second identical request is a cache hit:\n{text}");
    assert!(
        metric(&text, "sigil_admission_policy_reloads_total", &[("result", "failed")]).is_none_or(|n| n == 0.0),
        "the shared policy never failed to load:\n{text}"
    );
    // counters only grow
    w.validate(&Review::of_images(POD, &[&w.img.signed])).assert_allowed();
    let later = metrics(&w.client, &w.server);
    assert!(metric(&later, "sigil_admission_requests_total", &[]).expect("requests") > requests);
}

#[test]
fn keep_alive_and_http2_use_one_connection() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    // A server of its own, so that only this test's connections are counted.
    let (server, pki) = own_server(dir.path(), &w.policy, &[]);
    let port = server.addr().port();
    let exchange = |client: &reqwest::blocking::Client, version: Version| {
        for path in ["/healthz", "/readyz", "/metrics"] {
            let response = client.get(server.url(path)).send().expect("GET");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.version(), version, "{path}");
            response.text().expect("read the whole body");
        }
        for endpoint in ["/validate", "/mutate"] {
            let answer = post_review(
                client,
                &server,
                endpoint,
                "10s",
                &Review::of_images(POD, &[&w.img.signed]),
            );
            answer.assert_allowed();
            assert_eq!(answer.version, version);
            post_review(
                client,
                &server,
                endpoint,
                "10s",
                &Review::of_images(POD, &[&w.img.unsigned]),
            )
            .assert_denied();
            post_review(
                client,
                &server,
                endpoint,
                "10s",
                &Review::create(CONFIG_MAP, CONFIG_MAP.object(json!({}))),
            )
            .assert_allowed();
        }
    };

    let http1 = pki
        .client_builder()
        .http1_only()
        .pool_max_idle_per_host(4)
        .build()
        .expect("client");
    exchange(&http1, Version::HTTP_11);
    assert_eq!(
        established_connections_to(port),
        1,
        "eight HTTP/1.1 requests, one connection"
    );
    drop(http1);
    assert!(
        eventually(Duration::from_secs(5), || (established_connections_to(port) == 0)
            .then_some(()))
        .is_some(),
        "the server closes the connection the client dropped"
    );

    let http2 = pki.client_h2();
    exchange(&http2, Version::HTTP_2);
    assert_eq!(established_connections_to(port), 1, "HTTP/2: one connection");
    // concurrent streams share it
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                post_review(
                    &http2,
                    &server,
                    "/validate",
                    "10s",
                    &Review::of_images(POD, &[&w.img.web]),
                )
                .assert_allowed();
            });
        }
    });
    assert_eq!(established_connections_to(port), 1, "HTTP/2 multiplexes");
}

#[test]
fn a_chained_certificate_serves_and_untrusting_clients_are_refused() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new();
    let (cert, key) = pki.write(dir.path(), true);
    let cert_text = std::fs::read_to_string(&cert).expect("cert");
    assert_eq!(cert_text.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA");
    let server = Webhook::start(&[
        "--policy",
        super::s(&w.policy),
        "--tls-cert",
        super::s(&cert),
        "--tls-key",
        super::s(&key),
        "--reload-interval",
        "200ms",
    ]);
    let client = pki.client();
    let healthz = client.get(server.url("/healthz")).send().expect("GET /healthz");
    assert_eq!(healthz.status(), StatusCode::OK);
    post_review(
        &client,
        &server,
        "/validate",
        "10s",
        &Review::of_images(POD, &[&w.img.signed]),
    )
    .assert_allowed();

    // twins: a client that trusts another CA, and one that speaks plain HTTP
    let stranger = Pki::new().client();
    assert!(
        stranger.get(server.url("/healthz")).send().is_err(),
        "a client that does not trust the server's CA must not get through"
    );
    let plain = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let http = format!("http://{}/healthz", server.addr());
    if let Ok(response) = plain.get(&http).send() {
        assert_ne!(response.status(), StatusCode::OK, "plain HTTP is not served");
    }

    // new TLS files (leaf only this time) are picked up within the reload interval
    let next = Pki::new();
    next.write(dir.path(), false);
    let served = eventually(Duration::from_secs(5), || {
        next.client()
            .get(server.url("/healthz"))
            .send()
            .ok()
            .filter(|r| r.status() == StatusCode::OK)
    });
    assert!(served.is_some(), "the new certificate is served:\n{}", server.logs());
    assert!(
        pki.client().get(server.url("/healthz")).send().is_err(),
        "the old CA no longer verifies new connections"
    );
    post_review(
        &next.client(),
        &server,
        "/validate",
        "10s",
        &Review::of_images(POD, &[&w.img.unsigned]),
    )
    .assert_denied();
    // a broken key file is not taken: the last good pair stays
    std::fs::write(
        dir.path().join("tls.key"),
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .expect("write");
    std::thread::sleep(Duration::from_millis(800));
    let response = next
        .client()
        .get(server.url("/healthz"))
        .send()
        .expect("still served with the last good files");
    assert_eq!(response.status(), StatusCode::OK);
}

#[test]
fn a_policy_that_cannot_be_loaded_never_serves() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = Pki::new();
    let (cert, key) = pki.write(dir.path(), false);
    let broken = dir.path().join("policy.yaml");
    std::fs::write(
        &broken,
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\nrules:\n  - name: r\n    images: [\"**\"]\n    signatures: {anyOf: [nobody]}\n",
    )
    .expect("write");
    for policy in [broken, dir.path().join("missing.yaml")] {
        let args = [
            "--policy",
            super::s(&policy),
            "--tls-cert",
            super::s(&cert),
            "--tls-key",
            super::s(&key),
        ];
        match Webhook::try_start(&args) {
            // refusing to start is one way
            Err(failure) => {
                let stderr = failure.split_once("--- stderr ---").map(|(_, e)| e).unwrap_or_default();
                let file = policy.file_name().expect("a file name").to_string_lossy();
                assert!(stderr.contains(&*file), "the error names {file}: {failure}");
            }
            // listening but never ready, and never allowing, is the other
            Ok(server) => {
                let client = pki.client();
                let ready = client.get(server.url("/readyz")).send().expect("GET /readyz");
                assert_ne!(ready.status(), StatusCode::OK, "{}: not ready", policy.display());
                let response = client
                    .post(server.url("/validate?timeout=10s"))
                    .body(Review::of_images(POD, &[&w.img.signed]).body.to_string())
                    .send()
                    .expect("POST");
                let text = response.text().unwrap_or_default();
                assert!(!text.contains("\"allowed\":true"), "{text}");
            }
        }
    }
    // twin: the same flags with a good policy serve
    let (cert, key) = pki.write(dir.path(), false);
    let server = Webhook::start(&[
        "--policy",
        super::s(&w.policy),
        "--tls-cert",
        super::s(&cert),
        "--tls-key",
        super::s(&key),
    ]);
    let ready = pki.client().get(server.url("/readyz")).send().expect("GET /readyz");
    assert_eq!(ready.status(), StatusCode::OK);
}
