//! The registries behind the server: a tag moved to another image is
//! re-resolved on the next request, a registry that dies or stalls makes a
//! denial that comes before the apiserver's timeout, and a TLS registry with
//! basic auth is reached with the same flags `verify` takes (and refused
//! without them).

use std::time::Duration;

use super::{POD, Review, metric, metrics, own_server, post_review, sign, warm, world};
use crate::fixtures::{copy_tag, push_sample, s};
use crate::support::{Hostile, Mode, Registry, sample_layout, sigil};

/// True when `reason` says the registry did not answer in time or could not
/// be reached (the wording is the server's; these are the words it can use).
fn says_unreachable(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    [
        "time",
        "deadline",
        "answer",
        "reach",
        "connect",
        "refused",
        "unavailable",
        "down",
    ]
    .iter()
    .any(|word| reason.contains(word))
}

#[test]
fn a_moved_tag_is_re_resolved_on_every_request() {
    let w = world();
    let repo = "prod/moving";
    let good = push_sample(&w.registry, repo, "build-1", 201).to_string();
    let bad = push_sample(&w.registry, repo, "build-2", 202).to_string();
    sign(&[&w.registry.image(&format!("{repo}:build-1"))], &w.release_key(), &[]);
    copy_tag(&w.registry, repo, "build-1", "live");
    let live = w.registry.image(&format!("{repo}:live"));
    let review = || Review::of_images(POD, &[&live]);

    let answer = w.mutate(&review());
    answer.assert_allowed();
    assert_eq!(
        answer.patch(),
        Some(vec![
            serde_json::json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{live}@{good}")})
        ])
    );
    // the tag now names the unsigned build: the very next request sees it
    copy_tag(&w.registry, repo, "build-2", "live");
    let answer = w.validate(&review());
    answer.assert_denied();
    answer.assert_names("spec.containers[0].image", &live);
    let answer = w.mutate(&review());
    answer.assert_denied();
    assert_eq!(answer.patch(), None);
    // and back
    copy_tag(&w.registry, repo, "build-1", "live");
    let answer = w.mutate(&review());
    answer.assert_allowed();
    let value = answer.patch().expect("a patch")[0]["value"].clone();
    assert_eq!(
        value,
        format!("{live}@{good}"),
        "pinned to the signed build, never {bad}"
    );
}

#[test]
fn a_registry_that_dies_mid_run_denies_within_the_timeout() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::start();
    push_sample(&registry, "prod/app", "v1", 301);
    push_sample(&registry, "warn/app", "v1", 302);
    let image = registry.image("prod/app:v1");
    let warned = registry.image("warn/app:v1");
    sign(&[&image, &warned], &w.release_key(), &[]);
    std::fs::copy(w.release_pub(), dir.path().join("release.pub")).expect("copy the key");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: warned\n    images: [\"{host}/warn/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: warn\n",
            host = registry.host()
        ),
    )
    .expect("write the policy");
    let (server, pki) = own_server(dir.path(), &policy, &[]);
    let client = pki.client();
    warm(&client, &server);
    let pod = |image: &str| post_review(&client, &server, "/validate", "2s", &Review::of_images(POD, &[image]));
    pod(&image).assert_allowed();
    let answer = pod(&warned);
    answer.assert_allowed();
    assert!(answer.warnings().is_empty(), "signed, nothing to warn about: {answer}");

    drop(registry); // kills the process: connections are refused from now on
    for endpoint in ["/validate", "/mutate"] {
        let answer = post_review(&client, &server, endpoint, "2s", &Review::of_images(POD, &[&image]));
        answer.assert_denied();
        let reason = answer.assert_names("spec.containers[0].image", &image);
        assert!(
            says_unreachable(&reason),
            "{endpoint}: the reason says the registry is unreachable: {answer}"
        );
        assert!(
            answer.elapsed < Duration::from_secs(2),
            "{endpoint}: within the timeout: {answer}"
        );
        assert_eq!(answer.patch(), None);
    }
    // a warn rule lets the image through, and says what could not be checked
    // (DESIGN §4.1). With a deadline that leaves the server time to give up on
    // the registry itself: under ?timeout=2s its retries of the refused
    // connection (about 1.8 s) race the deadline, which the test below covers.
    let answer = post_review(
        &client,
        &server,
        "/validate",
        "10s",
        &Review::of_images(POD, &[&warned]),
    );
    answer.assert_allowed();
    assert!(
        answer
            .warnings()
            .iter()
            .any(|w| w.contains("spec.containers[0].image") && w.contains(warned.as_str()) && says_unreachable(w)),
        "a warning names the image the registry could not be read for: {answer}"
    );
    let text = metrics(&client, &server);
    assert!(
        metric(&text, "sigil_admission_registry_errors_total", &[]).is_some_and(|n| n >= 1.0),
        "registry errors are counted:\n{text}"
    );
    // the server itself stays healthy
    let health = client.get(server.url("/healthz")).send().expect("GET /healthz");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
}

#[test]
fn a_stalled_registry_is_denied_before_the_apiserver_gives_up() {
    let w = world();
    let image = &w.img.stalled;
    warm(&w.client, &w.server);
    std::thread::scope(|scope| {
        let stalled = scope.spawn(|| {
            post_review(
                &w.client,
                &w.server,
                "/validate",
                "2s",
                &Review::of_images(POD, &[&w.img.signed, image]),
            )
        });
        // meanwhile the server answers others, without waiting for the stall
        std::thread::sleep(Duration::from_millis(200));
        let other = w.validate(&Review::of_images(POD, &[&w.img.web]));
        other.assert_allowed();
        assert!(
            !stalled.is_finished(),
            "answered while the stalled request still waits: {other}"
        );

        let answer = stalled.join().expect("the stalled request");
        answer.assert_denied();
        let reason = answer.assert_names("spec.containers[1].image", image);
        assert!(
            says_unreachable(&reason),
            "the reason says the registry did not answer: {answer}"
        );
        assert!(
            answer.elapsed < Duration::from_secs(2),
            "answered within ?timeout=2s: {answer}"
        );
        answer.assert_not_named("spec.containers[0].image");
    });
    // another deadline is read from the request as well, on /mutate too
    let answer = post_review(&w.client, &w.server, "/mutate", "3s", &Review::of_images(POD, &[image]));
    answer.assert_denied();
    assert!(
        answer.elapsed < Duration::from_secs(3),
        "answered within ?timeout=3s: {answer}"
    );
    assert_eq!(answer.patch(), None);
    assert!(w.stall.requests() >= 1, "the server did ask the stalled registry");
}

#[test]
fn a_tls_registry_with_basic_auth_is_reached_with_the_registry_flags() {
    const USER: &str = "alice";
    const PASSWORD: &str = "s3cret-for-the-webhook";
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::start_tls_auth(USER, PASSWORD);
    let ca = registry.ca_cert_path();
    let credentials = ["--registry-username", USER, "--registry-password", PASSWORD];
    let layout = dir.path().join("layout");
    let tiny = sample_layout(&layout);
    let image = registry.image("prod/app:v1");
    let source = format!("oci:{}:v1", s(&layout));
    let mut copy = vec!["copy", source.as_str(), image.as_str(), "--registry-cacert", s(&ca)];
    copy.extend_from_slice(&credentials);
    sigil(&copy).run().assert_exit(0);
    let release_key = w.release_key();
    let mut signing = vec![
        "sign",
        image.as_str(),
        "--key",
        s(&release_key),
        "--registry-cacert",
        s(&ca),
    ];
    signing.extend_from_slice(&credentials);
    sigil(&signing).env("SIGIL_PASSWORD", "pw").run().assert_exit(0);

    std::fs::copy(w.release_pub(), dir.path().join("release.pub")).expect("copy the key");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n",
            registry.host()
        ),
    )
    .expect("write the policy");

    // a server sees images of every registry: the credentials are for this one only
    let host = registry.host();
    let mut flags = vec!["--registry-cacert", s(&ca), "--registry-host", host.as_str()];
    flags.extend_from_slice(&credentials);
    let (server, pki) = own_server(dir.path(), &policy, &flags);
    let client = pki.client();
    warm(&client, &server);
    let answer = post_review(&client, &server, "/mutate", "10s", &Review::of_images(POD, &[&image]));
    answer.assert_allowed();
    assert_eq!(
        answer.patch(),
        Some(vec![
            serde_json::json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{image}@{}", tiny.manifest.digest)})
        ]),
        "{answer}"
    );
    assert!(
        !server.logs().contains(PASSWORD),
        "the password is never logged:\n{}",
        server.logs()
    );

    // twins: no credentials, a wrong password, no CA
    let wrong = [
        "--registry-cacert",
        s(&ca),
        "--registry-username",
        USER,
        "--registry-password",
        "wrong",
        "--registry-host",
        host.as_str(),
    ];
    let no_credentials = ["--registry-cacert", s(&ca)];
    let mut no_ca: Vec<&str> = credentials.to_vec();
    no_ca.extend(["--registry-host", host.as_str()]);
    for (what, flags) in [
        ("no credentials", no_credentials.as_slice()),
        ("a wrong password", wrong.as_slice()),
        ("no CA", no_ca.as_slice()),
    ] {
        let (server, pki) = own_server(dir.path(), &policy, flags);
        let answer = post_review(
            &pki.client(),
            &server,
            "/validate",
            "10s",
            &Review::of_images(POD, &[&image]),
        );
        assert!(!answer.allowed(), "{what}: {answer}");
        answer.assert_denied().assert_names("spec.containers[0].image", &image);
        assert!(!answer.message().contains(PASSWORD), "{what}: {answer}");
    }
}

#[test]
fn an_image_signed_after_its_denial_is_allowed_once_the_denial_expires() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = "prod/late";
    push_sample(&w.registry, repo, "v1", 401);
    let image = w.registry.image(&format!("{repo}:v1"));
    let (server, pki) = own_server(dir.path(), &w.policy, &["--deny-cache-ttl", "1s"]);
    let client = pki.client();
    warm(&client, &server);
    let pod = || post_review(&client, &server, "/validate", "10s", &Review::of_images(POD, &[&image]));
    pod().assert_denied().assert_names("spec.containers[0].image", &image);
    sign(&[&image], &w.release_key(), &[]);
    let allowed = super::eventually(Duration::from_secs(5), || pod().allowed().then_some(()));
    assert!(
        allowed.is_some(),
        "allowed within the 1 s denial cache (and some slack)"
    );
    // twin: a stranger's signature added after the denial changes nothing
    push_sample(&w.registry, repo, "v2", 402);
    let other = w.registry.image(&format!("{repo}:v2"));
    post_review(&client, &server, "/validate", "10s", &Review::of_images(POD, &[&other])).assert_denied();
    let stranger_key = w.dir.path().join("stranger.key");
    sign(&[&other], &stranger_key, &[]);
    std::thread::sleep(Duration::from_millis(1200));
    post_review(&client, &server, "/validate", "10s", &Review::of_images(POD, &[&other]))
        .assert_denied()
        .assert_names("spec.containers[0].image", &other);
}

#[test]
fn misbehaving_registries_are_cut_off_at_the_deadline() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let modes = [
        ("drip", Mode::Drip(Duration::from_millis(200))),
        ("429", Mode::TooManyRequests),
        ("503", Mode::ServerError),
        ("endless", Mode::EndlessBody),
        ("honest", Mode::Honest),
    ];
    let hostiles: Vec<(&str, Hostile)> = modes
        .iter()
        .map(|(name, mode)| (*name, Hostile::start(*mode)))
        .collect();
    std::fs::copy(w.release_pub(), dir.path().join("release.pub")).expect("copy the key");
    let mut policy = String::from(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {key: release.pub}\nrules:\n",
    );
    for (name, hostile) in &hostiles {
        policy.push_str(&format!(
            "  - name: {name}\n    images: [\"{}/**\"]\n    signatures: {{anyOf: [release]}}\n",
            hostile.host()
        ));
    }
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, policy).expect("write the policy");
    let (server, pki) = own_server(dir.path(), &path, &[]);
    let client = pki.client();
    warm(&client, &server);
    for (name, hostile) in &hostiles {
        let image = hostile.image("app:v1");
        let answer = post_review(&client, &server, "/validate", "2s", &Review::of_images(POD, &[&image]));
        answer.assert_denied();
        let reason = answer.assert_names("spec.containers[0].image", &image);
        assert!(
            answer.elapsed < Duration::from_secs(2),
            "{name}: within ?timeout=2s: {answer}"
        );
        assert!(hostile.requests() >= 1, "{name}: the registry was asked");
        if *name == "honest" {
            // the control: the image is there, unsigned, and the reason says so
            assert!(!says_unreachable(&reason), "honest: {answer}");
        }
    }
    let health = client.get(server.url("/healthz")).send().expect("GET /healthz");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
}

#[test]
fn registry_timeout_bounds_each_registry_request() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, pki) = own_server(dir.path(), &w.policy, &["--registry-timeout", "500ms"]);
    let started = std::time::Instant::now();
    let answer = post_review(
        &pki.client(),
        &server,
        "/validate",
        "10s",
        &Review::of_images(POD, &[&w.img.stalled]),
    );
    answer.assert_denied();
    let reason = answer.assert_names("spec.containers[0].image", &w.img.stalled);
    assert!(says_unreachable(&reason), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "--registry-timeout 500ms, not the apiserver's 10 s, ends the wait: {answer}"
    );
}

/// Deletes the cosign signature tag of `digest` in `repo` (the manifest it names).
fn delete_signature(registry: &Registry, repo: &str, digest: &str) {
    let tag = format!("{}.sig", digest.replacen(':', "-", 1));
    let signature = super::registry_digest(registry, repo, &tag);
    let response = registry
        .client()
        .delete(format!("{}/v2/{repo}/manifests/{signature}", registry.url()))
        .send()
        .expect("DELETE the signature manifest");
    assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED, "delete {repo}:{tag}");
}

#[test]
fn allowed_decisions_are_cached_for_cache_ttl() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = "prod/revoked";
    let digest = push_sample(&w.registry, repo, "v1", 501).to_string();
    let image = w.registry.image(&format!("{repo}:v1"));
    sign(&[&image], &w.release_key(), &[]);
    let (cached, cached_pki) = own_server(dir.path(), &w.policy, &[]);
    let (short, short_pki) = own_server(dir.path(), &w.policy, &["--cache-ttl", "1s"]);
    let (cached_client, short_client) = (cached_pki.client(), short_pki.client());
    let ask = |client: &reqwest::blocking::Client, server: &crate::support::webhook::Webhook| {
        post_review(client, server, "/validate", "10s", &Review::of_images(POD, &[&image]))
    };
    ask(&cached_client, &cached).assert_allowed();
    ask(&short_client, &short).assert_allowed();

    delete_signature(&w.registry, repo, &digest);
    // with a 1 s cache the missing signature shows soon
    let denied = super::eventually(Duration::from_secs(5), || {
        (!ask(&short_client, &short).allowed()).then_some(())
    });
    assert!(denied.is_some(), "denied once the 1 s allowance expired");
    ask(&short_client, &short)
        .assert_denied()
        .assert_names("spec.containers[0].image", &image);
    // with the default 5 minutes the allowance stands (by digest: the tag is resolved again)
    ask(&cached_client, &cached).assert_allowed();
    let text = metrics(&cached_client, &cached);
    assert!(
        metric(&text, "sigil_admission_cache_hits_total", &[]).is_some_and(|n| n >= 1.0),
        "{text}"
    );
}

#[test]
fn warn_and_audit_rules_let_images_through_a_stalled_registry() {
    // DESIGN §4.1 "Outcomes", README ("a warn or audit rule lets an image
    // through even when its registry could not be read"), docs/security.md
    // ("Warn and audit rules allow ... including an image whose evidence
    // could not be gathered"): a registry that does not answer by the
    // deadline is one whose evidence could not be gathered.
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let stall = Hostile::start(Mode::Stall);
    std::fs::copy(w.release_pub(), dir.path().join("release.pub")).expect("copy the key");
    let path = dir.path().join("policy.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: enforced\n    images: [\"{host}/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: warned\n    images: [\"{host}/warn/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: warn\n  - name: audited\n    images: [\"{host}/audit/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: audit\n",
            host = stall.host()
        ),
    )
    .expect("write the policy");
    let (server, pki) = own_server(dir.path(), &path, &[]);
    let client = pki.client();
    warm(&client, &server);
    let (enforced, warned, audited) = (
        stall.image("prod/app:v1"),
        stall.image("warn/app:v1"),
        stall.image("audit/app:v1"),
    );

    // the control: enforce denies, in time
    let answer = post_review(
        &client,
        &server,
        "/validate",
        "2s",
        &Review::of_images(POD, &[&enforced]),
    );
    answer.assert_denied();
    assert!(answer.elapsed < Duration::from_secs(2), "{answer}");

    let answer = post_review(&client, &server, "/validate", "2s", &Review::of_images(POD, &[&warned]));
    assert!(answer.elapsed < Duration::from_secs(2), "{answer}");
    answer.assert_allowed();
    assert!(
        answer
            .warnings()
            .iter()
            .any(|x| x.contains("spec.containers[0].image") && x.contains(warned.as_str()) && says_unreachable(x)),
        "the warning says the registry did not answer: {answer}"
    );
    let answer = post_review(
        &client,
        &server,
        "/validate",
        "2s",
        &Review::of_images(POD, &[&audited]),
    );
    assert!(answer.elapsed < Duration::from_secs(2), "{answer}");
    answer.assert_allowed();
    let annotations = answer.response()["auditAnnotations"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(
        annotations
            .values()
            .filter_map(|v| v.as_str())
            .any(|v| v.contains(audited.as_str())),
        "{answer}"
    );
}
