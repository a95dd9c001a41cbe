//! The policy file replaced while the server runs: new decisions within the
//! reload interval, a broken file keeps the last good policy (and says so
//! on `/readyz` and `/metrics`), and a policy flipping under load never
//! yields an answer neither policy would give.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

use super::{POD, Review, eventually, metric, metrics, own_server, post_review, world};
use crate::support::webhook::replace_file;

/// A policy for the shared registry: `prod/**` needs a `release` signature
/// (`strict`) or nothing at all; nothing else has a rule.
fn policy(host: &str, strict: bool) -> String {
    let check = if strict {
        "signatures: {anyOf: [release]}"
    } else {
        "allowUnverified: true"
    };
    format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"{host}/prod/**\"]\n    {check}\n"
    )
}

fn setup(dir: &Path, strict: bool) -> std::path::PathBuf {
    let w = world();
    std::fs::copy(w.release_pub(), dir.join("release.pub")).expect("copy the key");
    let path = dir.join("policy.yaml");
    replace_file(&path, policy(&w.registry.host(), strict).as_bytes());
    path
}

#[test]
fn a_new_policy_is_picked_up_and_a_broken_one_keeps_the_last_good() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = setup(dir.path(), true);
    let (server, pki) = own_server(dir.path(), &path, &["--reload-interval", "200ms"]);
    let client = pki.client();
    let unsigned = || {
        post_review(
            &client,
            &server,
            "/validate",
            "10s",
            &Review::of_images(POD, &[&w.img.unsigned]),
        )
    };
    let signed = || {
        post_review(
            &client,
            &server,
            "/validate",
            "10s",
            &Review::of_images(POD, &[&w.img.signed]),
        )
    };
    unsigned().assert_denied();
    signed().assert_allowed();
    let reloads_ok =
        |text: &str| metric(text, "sigil_admission_policy_reloads_total", &[("result", "ok")]).unwrap_or(0.0);
    let ok_before = reloads_ok(&metrics(&client, &server));

    // lenient now: the unsigned image is allowed within the interval
    replace_file(&path, policy(&w.registry.host(), false).as_bytes());
    assert!(
        eventually(Duration::from_secs(5), || unsigned().allowed().then_some(())).is_some(),
        "the lenient policy is in force within 5 s:\n{}",
        server.logs()
    );
    assert!(reloads_ok(&metrics(&client, &server)) > ok_before);

    // broken: an unknown key. The lenient policy stays in force.
    let broken = policy(&w.registry.host(), true).replace("    signatures:", "    colour: red\n    signatures:");
    replace_file(&path, broken.as_bytes());
    let failed = eventually(Duration::from_secs(5), || {
        metric(
            &metrics(&client, &server),
            "sigil_admission_policy_reloads_total",
            &[("result", "failed")],
        )
        .filter(|n| *n >= 1.0)
    });
    assert!(failed.is_some(), "the failed reload is counted:\n{}", server.logs());
    unsigned().assert_allowed();
    signed().assert_allowed();
    // README: `sigil_admission_policy_stale` is 1 while the file on disk cannot be loaded
    let stale = |text: &str| metric(text, "sigil_admission_policy_stale", &[]);
    assert_eq!(stale(&metrics(&client, &server)), Some(1.0), "stale while broken");
    let ready = client.get(server.url("/readyz")).send().expect("GET /readyz");
    assert_eq!(ready.status(), StatusCode::OK, "the last good policy still serves");
    let body = ready.text().expect("body").to_ascii_lowercase();
    assert!(
        body.contains("fail") || body.contains("error") || body.contains("colour"),
        "/readyz says the last reload failed: {body}"
    );
    // still the last good one a few intervals later
    std::thread::sleep(Duration::from_millis(600));
    unsigned().assert_allowed();

    // fixed: strict again
    replace_file(&path, policy(&w.registry.host(), true).as_bytes());
    assert!(
        eventually(Duration::from_secs(5), || (!unsigned().allowed()).then_some(())).is_some(),
        "the strict policy is back within 5 s:\n{}",
        server.logs()
    );
    unsigned()
        .assert_denied()
        .assert_names("spec.containers[0].image", &w.img.unsigned);
    signed().assert_allowed();
    assert_eq!(stale(&metrics(&client, &server)), Some(0.0), "not stale once fixed");
}

#[test]
fn a_policy_flipping_under_load_gives_only_its_two_answers() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = setup(dir.path(), true);
    let (server, pki) = own_server(dir.path(), &path, &["--reload-interval", "200ms"]);
    let client = pki.client();
    let stop = AtomicBool::new(false);
    // (image, allowed) of every answer
    let seen: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
    let images = [w.img.signed.as_str(), w.img.unsigned.as_str(), w.img.no_rule.as_str()];

    std::thread::scope(|scope| {
        for worker in 0..3 {
            let (client, server, stop, seen) = (&client, &server, &stop, &seen);
            scope.spawn(move || {
                let mut n = worker;
                while !stop.load(Ordering::Relaxed) {
                    let image = images[n % images.len()];
                    n += 1;
                    let endpoint = if n % 2 == 0 { "/validate" } else { "/mutate" };
                    // post_review asserts HTTP 200 and a well-formed AdmissionReview with our uid
                    let answer = post_review(client, server, endpoint, "10s", &Review::of_images(POD, &[image]));
                    if !answer.allowed() {
                        answer.assert_denied().assert_names("spec.containers[0].image", image);
                    }
                    seen.lock().expect("lock").push((image.to_owned(), answer.allowed()));
                }
            });
        }
        for flip in 0..10 {
            std::thread::sleep(Duration::from_millis(350));
            replace_file(&path, policy(&w.registry.host(), flip % 2 == 1).as_bytes());
        }
        std::thread::sleep(Duration::from_millis(350));
        stop.store(true, Ordering::Relaxed);
    });

    let seen = seen.into_inner().expect("lock");
    let of = |image: &str, allowed: bool| seen.iter().filter(|(i, a)| i == image && *a == allowed).count();
    assert!(seen.len() >= 30, "enough load: {} answers", seen.len());
    assert_eq!(of(&w.img.signed, false), 0, "both policies allow the signed image");
    assert_eq!(
        of(&w.img.no_rule, true),
        0,
        "neither policy allows an image no rule matches"
    );
    assert!(
        of(&w.img.unsigned, true) > 0 && of(&w.img.unsigned, false) > 0,
        "the unsigned image saw both policies (allowed {}, denied {})",
        of(&w.img.unsigned, true),
        of(&w.img.unsigned, false)
    );
    let text = metrics(&client, &server);
    assert!(
        metric(&text, "sigil_admission_policy_reloads_total", &[("result", "ok")]).is_some_and(|n| n >= 5.0),
        "the flips were reloads:\n{text}"
    );
    // the last flip (strict) is the policy in force
    assert!(
        eventually(Duration::from_secs(5), || {
            (!post_review(
                &client,
                &server,
                "/validate",
                "10s",
                &Review::of_images(POD, &[&w.img.unsigned]),
            )
            .allowed())
            .then_some(())
        })
        .is_some(),
        "the final strict policy is in force"
    );
}

#[test]
fn a_replaced_key_file_changes_decisions_cached_ones_included() {
    let w = world();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = setup(dir.path(), true);
    let (server, pki) = own_server(dir.path(), &path, &["--reload-interval", "200ms"]);
    let client = pki.client();
    let pod = |image: &str| post_review(&client, &server, "/validate", "10s", &Review::of_images(POD, &[image]));
    // allowed twice: the second from the cache
    pod(&w.img.signed).assert_allowed();
    pod(&w.img.signed).assert_allowed();
    pod(&w.img.stranger).assert_denied();

    // the publisher `release` is now the stranger's key
    let stranger = std::fs::read(w.dir.path().join("stranger.pub")).expect("read the stranger's key");
    replace_file(&dir.path().join("release.pub"), &stranger);
    let flipped = eventually(Duration::from_secs(5), || {
        (!pod(&w.img.signed).allowed() && pod(&w.img.stranger).allowed()).then_some(())
    });
    assert!(
        flipped.is_some(),
        "the new key decides within 5 s, the cached allowance does not outlive it:\n{}",
        server.logs()
    );
    pod(&w.img.signed)
        .assert_denied()
        .assert_names("spec.containers[0].image", &w.img.signed);
}
