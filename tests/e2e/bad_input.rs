//! Bad input gets one clear line on stderr and exit 2: never a panic, never
//! a hang, and nothing lost. Hostile registries (wrong digests, oversized,
//! endless and stalled bodies, 429/5xx storms, auth dead ends), malformed
//! references, missing images, unreachable registries, corrupt and hostile
//! key files, missing passwords and bad flags.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine as _;
use sigil_verifier::reference::Target;
use sigil_verifier::store::Store as _;

use crate::fixtures::{self, keypair, push_sample, s};
use crate::support::{Hostile, Mode, Output, Registry, sample_layout, sigil};

/// Far beyond what a refusal takes; reaching it means a hang (or a download
/// that should have been refused) and fails the test.
const QUICK: Duration = Duration::from_secs(20);

/// A public key from the test data (no key generation needed to verify).
fn public_key() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/keys/p256-pub.pem")
}

/// `sigil verify HOSTILE/app:v1`; returns the server (for its request log) and the output.
fn verify_hostile(mode: Mode, timeout: Duration) -> (Hostile, Output) {
    let hostile = Hostile::start(mode);
    let out = sigil(&["verify", &hostile.image("app:v1"), "--key", s(&public_key())])
        .timeout(timeout)
        .run();
    (hostile, out)
}

/// Exit 2 with one line on stderr that contains each of `words` (case-insensitive).
#[track_caller]
fn assert_error_line(out: &Output, words: &[&str]) {
    out.assert_exit(2);
    let line = out.assert_one_line_error().to_lowercase();
    assert!(line.starts_with("error: "), "{out}");
    for word in words {
        assert!(
            line.contains(&word.to_lowercase()),
            "expected {word:?} in the error\n{out}"
        );
    }
    assert!(!out.stderr.contains("panicked"), "{out}");
}

// --- hostile registries -------------------------------------------------------

#[test]
fn honest_hostile_registry_is_evaluated() {
    // the control case: the same server, behaving, gives a verdict (unsigned: 1)
    let (_hostile, out) = verify_hostile(Mode::Honest, QUICK);
    out.assert_exit(1).assert_quiet_stderr();
}

#[test]
fn wrong_digest_is_refused() {
    let (_hostile, out) = verify_hostile(Mode::WrongDigest, QUICK);
    assert_error_line(&out, &["digest"]);
    // by digest too: the bytes do not hash to what was asked for
    let hostile = Hostile::start(Mode::WrongDigest);
    let image = format!("{}@{}", hostile.image("app"), hostile.tiny_image().manifest.digest);
    let out = sigil(&["verify", &image, "--key", s(&public_key())])
        .timeout(QUICK)
        .run();
    assert_error_line(&out, &["digest"]);
    // and while signing: nothing is signed for bytes that do not match
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, _) = keypair(dir.path(), "k");
    let out = sigil(&["sign", &hostile.image("app:v1"), "--key", s(&key)])
        .env("SIGIL_PASSWORD", "pw")
        .timeout(QUICK)
        .run();
    assert_error_line(&out, &["digest"]);
    assert!(
        hostile
            .request_log()
            .iter()
            .all(|r| r.starts_with("GET ") || r.starts_with("HEAD ")),
        "{:?}",
        hostile.request_log()
    );
}

#[test]
fn oversized_manifest_is_refused_before_it_is_downloaded() {
    let (_hostile, out) = verify_hostile(Mode::OversizedManifest, QUICK);
    assert_error_line(&out, &["limit"]);
    // the announced size is what was refused, not a body read to the limit
    assert!(
        out.stderr.contains(&crate::support::hostile::OVERSIZED_LEN.to_string()),
        "{out}"
    );
}

#[test]
fn endless_body_is_cut_at_the_limit() {
    let (_hostile, out) = verify_hostile(Mode::EndlessBody, QUICK);
    assert_error_line(&out, &["limit"]);
}

#[test]
fn stalled_registry_times_out() {
    // 30 s of silence is the read timeout; 90 s means a hang.
    let (hostile, out) = verify_hostile(Mode::Stall, Duration::from_secs(90));
    assert_error_line(&out, &["timed out"]);
    assert!(hostile.requests() >= 1, "the stall was reached");
}

#[test]
fn a_dripping_registry_ends_at_the_request_deadline() {
    // one byte every half second: never silent for the 30 s read timeout,
    // and the tiny manifest would take minutes
    let hostile = Hostile::start(Mode::Drip(Duration::from_millis(500)));
    let image = hostile.image("app:v1");
    let key = public_key();
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = format!("oci:{}", s(&dir.path().join("copy")));
    let runs: [Vec<&str>; 4] = [
        vec!["verify", &image, "--key", s(&key)],
        vec![
            "verify-attestation",
            &image,
            "--type",
            "slsaprovenance1",
            "--key",
            s(&key),
        ],
        vec!["tree", &image],
        vec!["copy", &image, &layout],
    ];
    for args in &runs {
        let mut args = args.clone();
        args.extend(["--registry-timeout", "2s"]);
        let out = sigil(&args).timeout(QUICK).run();
        assert_error_line(&out, &["timed out", "2s deadline", "--registry-timeout"]);
    }
    // the whole run's --timeout, with a request deadline too long to matter
    for args in &runs {
        let mut args = args.clone();
        args.extend(["--registry-timeout", "10m", "--timeout", "2s"]);
        let out = sigil(&args).timeout(QUICK).run();
        assert_error_line(&out, &["did not finish within --timeout 2s"]);
    }
    // twin: an honest registry under the same limits is evaluated (unsigned: 1)
    let honest = Hostile::start(Mode::Honest);
    let out = sigil(&[
        "verify",
        &honest.image("app:v1"),
        "--key",
        s(&key),
        "--registry-timeout",
        "2s",
        "--timeout",
        "15s",
    ])
    .timeout(QUICK)
    .run();
    out.assert_exit(1).assert_quiet_stderr();
    // bad values are usage errors
    for bad in [["--registry-timeout", "0s"], ["--timeout", "soon"]] {
        let mut args = vec!["verify", image.as_str(), "--key", s(&key)];
        args.extend(bad);
        let out = sigil(&args).timeout(QUICK).run();
        out.assert_exit(2);
        assert!(out.stderr.contains("not a duration"), "{out}");
    }
}

#[test]
fn a_blob_listed_a_thousand_times_is_fetched_once() {
    let hostile = Hostile::start(Mode::RepeatedSignature(1000));
    let out = sigil(&[
        "verify",
        &hostile.image("app:v1"),
        "--key",
        s(&public_key()),
        "--output",
        "json",
    ])
    .timeout(QUICK)
    .run();
    // evaluated: a thousand signatures (each its own annotation), none valid for this key
    out.assert_exit(1);
    let report = out.stdout_json();
    let signatures = report["images"][0]["signatures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(signatures.len(), 1000, "{out}");
    assert!(signatures.iter().all(|s| s["valid"] == false), "{out}");
    assert_eq!(
        hostile.blob_gets(),
        1,
        "one distinct blob is fetched once: {:?}",
        hostile.request_log()
    );
}

#[test]
fn evidence_beyond_the_budgets_is_refused_with_the_budget_named() {
    let key = public_key();
    let verify = |hostile: &Hostile, budget: &[&str]| {
        let image = hostile.image("app:v1");
        let mut args = vec!["verify", image.as_str(), "--key", s(&key)];
        args.extend_from_slice(budget);
        sigil(&args).timeout(QUICK).run()
    };
    // 40 distinct blobs of 64 KiB (2.5 MiB) against a 1 MiB budget
    let flood = Mode::SignatureFlood {
        count: 40,
        size: 64 * 1024,
    };
    let hostile = Hostile::start(flood);
    let out = verify(&hostile, &["--max-evidence-bytes", "1MiB"]);
    assert_error_line(
        &out,
        &["1048576-byte budget", "--max-evidence-bytes", "cannot be evaluated"],
    );
    assert_eq!(hostile.blob_gets(), 0, "refused before the blobs were fetched");
    // the same flood against the item budget
    let out = verify(&hostile, &["--max-evidence-items", "39"]);
    assert_error_line(&out, &["more than 39", "--max-evidence-items", "cannot be evaluated"]);
    assert_eq!(hostile.blob_gets(), 0);
    // twins: budgets that hold them, and the defaults (512 MiB, 10,000): evaluated, each blob once
    for budget in [
        vec!["--max-evidence-bytes", "4MiB", "--max-evidence-items", "40"],
        vec![],
    ] {
        let hostile = Hostile::start(flood);
        let out = verify(&hostile, &budget);
        out.assert_exit(1).assert_quiet_stderr();
        assert!(out.stdout.contains("0 of 40 signatures valid"), "{out}");
        assert_eq!(hostile.blob_gets(), 40, "{:?}", hostile.request_log());
    }
    // bad values are usage errors
    let out = verify(&hostile, &["--max-evidence-bytes", "lots"]);
    out.assert_exit(2);
    assert!(out.stderr.contains("not a byte count"), "{out}");
}

#[test]
fn a_fifo_or_socket_in_a_layout_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = public_key();
    let verify = |layout: &Path| {
        let image = format!("oci:{}:v1", s(layout));
        sigil(&["verify", &image, "--key", s(&key)]).timeout(QUICK).run()
    };
    let mkfifo = |path: &Path| {
        let status = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .expect("run mkfifo");
        assert!(status.success());
    };
    // twin: the intact layout is evaluated (unsigned: 1)
    let layout = dir.path().join("intact");
    sample_layout(&layout);
    verify(&layout).assert_exit(1);

    // a fifo, then a socket, as index.json
    let layout = dir.path().join("index-fifo");
    sample_layout(&layout);
    std::fs::remove_file(layout.join("index.json")).expect("rm");
    mkfifo(&layout.join("index.json"));
    assert_error_line(&verify(&layout), &["index.json is a fifo, not a regular file"]);
    let layout = dir.path().join("index-socket");
    sample_layout(&layout);
    std::fs::remove_file(layout.join("index.json")).expect("rm");
    let _index = std::os::unix::net::UnixListener::bind(layout.join("index.json")).expect("bind");
    assert_error_line(&verify(&layout), &["index.json is a socket, not a regular file"]);

    // a fifo, then a socket, as the image's manifest blob
    let image = sample_layout(&dir.path().join("scratch"));
    let hex = image.manifest.digest.trim_start_matches("sha256:").to_owned();
    let layout = dir.path().join("blob-fifo");
    sample_layout(&layout);
    let blob = layout.join("blobs").join("sha256").join(&hex);
    std::fs::remove_file(&blob).expect("rm");
    mkfifo(&blob);
    assert_error_line(&verify(&layout), &[&format!("blobs/sha256/{hex} is a fifo")]);
    let layout = dir.path().join("blob-socket");
    sample_layout(&layout);
    let blob = layout.join("blobs").join("sha256").join(&hex);
    std::fs::remove_file(&blob).expect("rm");
    let _blob = std::os::unix::net::UnixListener::bind(&blob).expect("bind");
    assert_error_line(&verify(&layout), &[&format!("blobs/sha256/{hex} is a socket")]);
}

/// A registry that answers `GET /v2/` and then falls silent on every other
/// request (what `Mode::Stall` cannot show: it stalls the probe too). Returns
/// its address and the request lines it received.
fn stall_after_probe() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address")
        .to_string();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                    let request = line.trim_end().to_owned();
                    // skip the headers
                    let mut header = String::new();
                    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                        header.clear();
                    }
                    log.lock().expect("no panic while locked").push(request.clone());
                    if !request.starts_with("GET /v2/ ") {
                        // Silence until the client gives up and closes.
                        let _ = std::io::copy(&mut reader, &mut std::io::sink());
                        return;
                    }
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    (addr, seen)
}

#[test]
fn registry_that_stalls_after_answering_times_out_once() {
    let (addr, seen) = stall_after_probe();
    let out = sigil(&["verify", &format!("{addr}/app:v1"), "--key", s(&public_key())])
        .timeout(Duration::from_secs(90))
        .run();
    assert_error_line(&out, &["timed out"]);
    // silence is not retried: four times 30 s would be a hang
    let seen = seen.lock().expect("no panic while locked").clone();
    let manifests = seen.iter().filter(|r| r.contains("/manifests/")).count();
    assert_eq!(manifests, 1, "{seen:?}");
}

/// Each distinct request at most 1 + 3 retries; the probe once.
#[track_caller]
fn assert_bounded_retries(hostile: &Hostile) {
    let log = hostile.request_log();
    assert!(log.len() <= 12, "{} requests: {log:?}", log.len());
    let manifest = log.iter().filter(|r| r.contains("/manifests/")).count();
    assert_eq!(manifest, 4, "one try and three retries: {log:?}");
    for request in &log {
        let same = log.iter().filter(|r| *r == request).count();
        assert!(same <= 4, "{request} sent {same} times: {log:?}");
    }
}

#[test]
fn rate_limiting_is_retried_a_bounded_number_of_times() {
    let (hostile, out) = verify_hostile(Mode::TooManyRequests, QUICK);
    assert_error_line(&out, &["429"]);
    assert_bounded_retries(&hostile);
}

#[test]
fn server_errors_are_retried_a_bounded_number_of_times() {
    let (hostile, out) = verify_hostile(Mode::ServerError, QUICK);
    assert_error_line(&out, &["503"]);
    assert_bounded_retries(&hostile);
}

#[test]
fn unauthorized_everywhere_is_one_line() {
    let (hostile, out) = verify_hostile(Mode::Unauthorized, QUICK);
    assert_error_line(&out, &["authentication failed"]);
    assert!(hostile.requests() <= 12, "{:?}", hostile.request_log());
}

#[test]
fn forbidden_is_one_line_saying_denied() {
    let (_hostile, out) = verify_hostile(Mode::Forbidden, QUICK);
    assert_error_line(&out, &["denied", "permission"]);
}

// --- references, images, registries -------------------------------------------

#[test]
fn malformed_references_are_refused_before_any_request() {
    let hostile = Hostile::start(Mode::Honest);
    let host = hostile.host();
    let key = public_key();
    for bad in [
        "UPPER/Case".to_owned(),
        "a//b".to_owned(),
        "app@sha256:zz".to_owned(),
        String::new(),
        format!("{host}/App:v1"),
        format!("{host}//app:v1"),
        format!("{host}/app:-v1"),
        format!("{host}/app@sha256:{}", "0".repeat(63)),
        format!("{host}/app v1"),
        "oci:".to_owned(),
    ] {
        let out = sigil(&["verify", &bad, "--key", s(&key)]).timeout(QUICK).run();
        assert_error_line(&out, &["invalid image reference"]);
        let out = sigil(&["sign", &bad, "--key", s(&key)]).timeout(QUICK).run();
        assert_error_line(&out, &["invalid image reference"]);
    }
    assert_eq!(hostile.requests(), 0, "{:?}", hostile.request_log());
}

#[test]
fn missing_images_and_unreachable_registries_are_errors() {
    let registry = Registry::start();
    push_sample(&registry, "app", "v1", 1);
    let key = public_key();
    let verify = |image: &str| sigil(&["verify", image, "--key", s(&key)]).timeout(QUICK).run();
    assert_error_line(&verify(&registry.image("app:nope")), &["not found"]);
    assert_error_line(&verify(&registry.image("nosuch/repo:v1")), &["not found"]);
    let absent = format!("{}@sha256:{}", registry.image("app"), "0".repeat(64));
    assert_error_line(&verify(&absent), &["not found"]);
    // one bad image among good ones still makes the run an error
    let out = sigil(&[
        "verify",
        &registry.image("app:v1"),
        &registry.image("app:nope"),
        "--key",
        s(&key),
    ])
    .timeout(QUICK)
    .run();
    assert_error_line(&out, &["not found"]);
    // a missing layout directory
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = format!("oci:{}:v1", s(&dir.path().join("absent")));
    assert_error_line(&verify(&layout), &["absent"]);

    // a closed loopback port: refused at once
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    assert_error_line(
        &verify(&format!("127.0.0.1:{port}/app:v1")),
        &["cannot reach", "refused"],
    );
}

// --- keys and passwords ---------------------------------------------------------

/// An OCI layout holding the sample image as `v1`: signing it needs no network.
fn layout(dir: &Path) -> String {
    sample_layout(&dir.join("layout"));
    format!("oci:{}:v1", s(&dir.join("layout")))
}

/// The PEM with its body JSON changed by `edit`.
fn edit_key_file(pem: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let lines: Vec<&str> = pem.lines().collect();
    let (begin, end) = (lines[0], lines[lines.len() - 1]);
    let body = b64.decode(lines[1..lines.len() - 1].concat()).expect("base64 PEM body");
    let mut json: serde_json::Value = serde_json::from_slice(&body).expect("JSON body");
    edit(&mut json);
    let encoded = b64.encode(serde_json::to_vec(&json).expect("json"));
    let wrapped: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!("{begin}\n{}\n{end}\n", wrapped.join("\n"))
}

#[test]
fn corrupt_and_hostile_key_files_are_refused_quickly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = layout(dir.path());
    let (key, public) = keypair(dir.path(), "k");
    let pem = std::fs::read_to_string(&key).expect("read key");
    let sign = |key_file: &Path| {
        sigil(&["sign", &image, "--key", s(key_file)])
            .env("SIGIL_PASSWORD", "pw")
            .timeout(QUICK)
            .run()
    };
    let write = |name: &str, contents: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write key file");
        path
    };

    // corrupt files: truncated, garbage, empty, a public key, missing
    let truncated = write("truncated.key", &pem.as_bytes()[..pem.len() / 2]);
    assert_error_line(&sign(&truncated), &["truncated.key"]);
    let cut_body = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let lines: Vec<&str> = pem.lines().collect();
    let damaged = format!(
        "{}\n{}\n{}\n",
        lines[0],
        &cut_body[..cut_body.len() / 2],
        lines[lines.len() - 1]
    );
    assert_error_line(&sign(&write("damaged.key", damaged.as_bytes())), &["damaged.key"]);
    assert_error_line(
        &sign(&write("garbage.key", b"\x00\xffnot a key at all\x89PNG")),
        &["garbage.key"],
    );
    assert_error_line(&sign(&write("empty.key", b"")), &["empty.key"]);
    assert_error_line(&sign(&public), &["k.pub"]);
    assert_error_line(&sign(&dir.path().join("missing.key")), &["missing.key"]);
    // and for verify, a corrupt public key
    let out = sigil(&["verify", &image, "--key", s(&truncated)]).timeout(QUICK).run();
    assert_error_line(&out, &["truncated.key"]);

    // hostile scrypt parameters are refused before scrypt runs (N=2^20 would
    // take a GiB and seconds): the message names the parameters, not a wrong password
    for (name, field, value) in [
        ("big-n.key", "N", 1_048_576),
        ("big-r.key", "r", 16),
        ("big-p.key", "p", 4),
    ] {
        let hostile = edit_key_file(&pem, |json| json["kdf"]["params"][field] = value.into());
        let out = sign(&write(name, hostile.as_bytes()));
        assert_error_line(&out, &["scrypt parameters", name]);
        assert!(!out.stderr.contains("wrong password"), "{out}");
    }
    let out = sign(&write(
        "md5.key",
        edit_key_file(&pem, |json| json["kdf"]["name"] = "md5".into()).as_bytes(),
    ));
    assert_error_line(&out, &["key derivation function"]);

    // the untouched key still signs: the twins above fail for their damage alone
    sign(&key).assert_exit(0);
}

#[test]
fn wrong_or_missing_password_is_one_line_and_never_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = layout(dir.path());
    let (key, _) = keypair(dir.path(), "k");
    let sign = || sigil(&["sign", &image, "--key", s(&key)]).timeout(QUICK);

    let out = sign().env("SIGIL_PASSWORD", "hunter2-not-it").run();
    assert_error_line(&out, &["wrong password"]);
    assert!(
        !out.stderr.contains("hunter2") && !out.stdout.contains("hunter2"),
        "{out}"
    );
    // COSIGN_PASSWORD is the fallback, and it is checked the same way
    assert_error_line(&sign().env("COSIGN_PASSWORD", "wrong").run(), &["wrong password"]);
    // an empty variable is the empty password (cosign allows it): wrong here
    assert_error_line(&sign().env("SIGIL_PASSWORD", "").run(), &["wrong password"]);
    // no variable, stdin null: no terminal to ask on
    assert_error_line(&sign().run(), &["SIGIL_PASSWORD"]);
    // stdin with a password on it is not a terminal either: never read from a pipe
    assert_error_line(&sign().stdin("pw\n").run(), &["SIGIL_PASSWORD"]);
    // `key generate` without a password does not hang either, and writes nothing
    let prefix = dir.path().join("new");
    let out = sigil(&["key", "generate", "--output-key-prefix", s(&prefix)])
        .timeout(QUICK)
        .run();
    assert_error_line(&out, &["SIGIL_PASSWORD"]);
    assert!(!prefix.with_extension("key").exists() && !prefix.with_extension("pub").exists());
    // the accepting twin
    sign().env("SIGIL_PASSWORD", "pw").run().assert_exit(0);
    sign().env("COSIGN_PASSWORD", "pw").run().assert_exit(0);
}

#[test]
fn a_failed_sign_loses_nothing_in_the_registry() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "k");
    let digest = push_sample(&registry, "app", "v1", 7);
    let image = registry.image("app:v1");
    let sign = |password: &str, extra: &[&str]| {
        let mut args = vec!["sign", image.as_str(), "--key", s(&key)];
        args.extend_from_slice(extra);
        sigil(&args).env("SIGIL_PASSWORD", password).timeout(QUICK).run()
    };
    sign("pw", &["-a", "run=1"]).assert_exit(0);
    let sig_tag = Target::Tag(format!("{}.sig", digest.tag_prefix()));
    let (before, _) = fixtures::manifest(&registry, "app", sig_tag.clone());

    assert_error_line(&sign("wrong", &["-a", "run=2"]), &["wrong password"]);
    assert_error_line(&sign("pw", &["-a", "run"]), &["KEY=VALUE"]);
    assert_error_line(&sign("pw", &["--format", "bundle", "-a", "=x"]), &["empty key"]);
    let (after, _) = fixtures::manifest(&registry, "app", sig_tag);
    assert_eq!(
        before.digest, after.digest,
        "the .sig manifest changed after failed signs"
    );
    // nor was a referrer (bundle form) left behind
    let store = fixtures::store(&registry, "app");
    let fallback = fixtures::block_on(store.fetch_manifest(&Target::Tag(digest.tag_prefix())));
    assert!(
        fallback.expect("the registry answers").is_none(),
        "a referrers fallback index appeared"
    );

    let out = sigil(&["verify", &image, "--key", s(&public), "-a", "run=1"])
        .timeout(QUICK)
        .run();
    out.assert_exit(0).assert_quiet_stderr();
}

// --- the command line ----------------------------------------------------------

#[test]
fn bad_flags_exit_2() {
    let key = public_key();
    let dir = tempfile::tempdir().expect("tempdir");
    let image = layout(dir.path());
    // `-a` without `=`, and with an empty key, and twice the same key
    for annotation in [vec!["-a", "novalue"], vec!["-a", "=v"], vec!["-a", "k=1", "-a", "k=2"]] {
        let mut args = vec!["verify", image.as_str(), "--key", s(&key)];
        args.extend(annotation);
        assert_error_line(&sigil(&args).timeout(QUICK).run(), &["annotation"]);
    }
    // clap's usage errors: exit 2, never a panic (clap prints a usage hint too)
    for args in [
        vec!["verify", image.as_str(), "--key", s(&key), "--no-such-flag"],
        vec!["verify", image.as_str()],
        vec!["verify", "--key", s(&key)],
        vec!["sign", image.as_str(), "--key", s(&key), "--format", "zip"],
        vec!["verify", image.as_str(), "--key", s(&key), "--concurrency", "0"],
        vec!["no-such-command"],
        vec![],
    ] {
        let out = sigil(&args).timeout(QUICK).run();
        out.assert_exit(2);
        assert!(
            out.stderr.starts_with("error:") || out.stderr.contains("Usage:"),
            "{out}"
        );
        assert!(!out.stderr.contains("panicked"), "{out}");
    }
}

/// An address that never answers (TEST-NET-1, RFC 5737): trying to reach it
/// would stall past [`QUICK`], so an answer in time proves nothing was tried.
const UNREACHABLE: &str = "192.0.2.1:5000";

/// A policy that lints clean, from the examples.
fn example_policy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/production.yaml")
}

#[test]
fn a_bad_evaluation_time_is_a_usage_error_before_any_work() {
    let image = format!("{UNREACHABLE}/app:v1");
    let policy = example_policy();
    let dir = tempfile::tempdir().expect("tempdir");
    let expectations = dir.path().join("never-read.yaml");
    for args in [
        vec!["verify", image.as_str(), "--policy", s(&policy), "--at", "yesterday"],
        vec!["policy", "lint", s(&policy), "--at", "yesterday"],
        vec!["policy", "test", s(&policy), s(&expectations), "--at", "yesterday"],
    ] {
        let out = sigil(&args).timeout(QUICK).run();
        // clap's own message, on one line: the value, the flag and what it should be
        assert_error_line(&out, &["invalid value 'yesterday' for '--at", "not an rfc 3339 time"]);
        assert!(!out.stderr.contains("never-read"), "{out}");
    }
}

#[test]
fn a_bad_annotation_is_refused_before_the_key_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing_key = dir.path().join("no-such-key.pub");
    let image = format!("{UNREACHABLE}/app:v1");
    for (annotation, words) in [
        (vec!["-a", "novalue"], ["annotation \"novalue\"", "not key=value"]),
        (vec!["-a", "=v"], ["annotation \"=v\"", "empty key"]),
        (vec!["-a", "k=1", "-a", "k=2"], ["annotation key \"k\"", "twice"]),
    ] {
        let mut args = vec!["verify", image.as_str(), "--key", s(&missing_key)];
        args.extend(annotation);
        let out = sigil(&args).timeout(QUICK).run();
        assert_error_line(&out, &words);
        assert!(!out.stderr.contains("no-such-key"), "the key was read first\n{out}");
    }
    // the twin: a good annotation gets as far as the key, which is missing
    let out = sigil(&["verify", &image, "--key", s(&missing_key), "-a", "k=v"])
        .timeout(QUICK)
        .run();
    assert_error_line(&out, &["cannot read public key", "no-such-key.pub"]);
}

#[test]
fn verify_without_a_way_to_trust_names_every_way() {
    let image = format!("{UNREACHABLE}/app:v1");
    for args in [
        vec!["verify", image.as_str()],
        // an issuer or private roots alone say nothing about who signed
        vec![
            "verify",
            image.as_str(),
            "--certificate-oidc-issuer",
            "https://issuer.example",
        ],
        vec!["verify", image.as_str(), "--certificate-roots", "roots.pem"],
    ] {
        let out = sigil(&args).timeout(QUICK).run();
        assert_error_line(
            &out,
            &[
                "--key",
                "--certificate-identity ",
                "--certificate-identity-regexp",
                "--certificate-oidc-issuer",
                "--certificate-roots",
                "--policy",
            ],
        );
    }
    // verify-attestation has no --policy, so it names the others
    let out = sigil(&["verify-attestation", &image, "--type", "cyclonedx"])
        .timeout(QUICK)
        .run();
    assert_error_line(&out, &["--key", "--certificate-identity-regexp", "--certificate-roots"]);
    assert!(!out.stderr.contains("--policy"), "{out}");
}

#[test]
fn help_of_every_command_exits_0_and_teaches() {
    let commands: [&[&str]; 9] = [
        &[],
        &["key"],
        &["key", "generate"],
        &["key", "public"],
        &["key", "import"],
        &["sign"],
        &["verify"],
        &["copy"],
        &["demo"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let out = sigil(&args).timeout(QUICK).run();
        out.assert_exit(0).assert_quiet_stderr();
        let usage = format!("Usage: sigil {}", command.join(" "));
        assert!(out.stdout.contains(usage.trim_end()), "{out}");
    }
    // the commands that take images show how, with a runnable example
    for command in ["sign", "verify", "copy"] {
        let out = sigil(&[command, "--help"]).timeout(QUICK).run();
        assert!(out.stdout.contains("Examples:"), "{out}");
        assert!(out.stdout.contains(&format!("  sigil {command} ")), "{out}");
    }
    // `-h` is the short form
    sigil(&["verify", "-h"]).timeout(QUICK).run().assert_exit(0);
}

#[test]
fn cosign_command_names_are_answered_with_sigils_equivalent() {
    for (name, equivalent) in [
        ("generate-key-pair", "sigil key generate"),
        ("public-key", "sigil key public"),
        ("import-key-pair", "sigil key import"),
        ("verify-blob", "sigil verify-bundle"),
        ("verify-blob-attestation", "sigil verify-bundle"),
        ("save", "sigil copy IMAGE oci:DIR"),
        ("load", "sigil copy oci:DIR IMAGE"),
        ("download", "sigil tree IMAGE --output json"),
        ("triangulate", "sigil tree IMAGE"),
    ] {
        let out = sigil(&[name, "whatever"]).run();
        out.assert_exit(2);
        let line = out.assert_one_line_error();
        assert!(
            line.contains(&format!("no `{name}` command")) && line.contains(equivalent),
            "{name}: {line}"
        );
    }
    // A name cosign does not have either is clap's usage error.
    let out = sigil(&["frobnicate"]).run();
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("unrecognized subcommand"),
        "{}",
        out.stderr
    );
}

#[test]
fn version_and_completion_scripts() {
    let out = sigil(&["version", "--output", "json"]).run();
    out.assert_exit(0);
    let report = out.stdout_json();
    assert_eq!(report["apiVersion"], "sigil.dev/version/v1");
    assert_eq!(report["version"], env!("CARGO_PKG_VERSION"));
    let embedded = sigil_verifier::digest::Digest::sha256_of(
        &std::fs::read(fixtures::testdata("trust/trusted_root.json")).expect("root"),
    );
    assert_eq!(report["embeddedTrustedRoot"]["sha256"], embedded.hex());
    let human = sigil(&["version"]).run();
    human.assert_exit(0);
    assert!(
        human
            .stdout
            .starts_with(&format!("sigil {}\n", env!("CARGO_PKG_VERSION"))),
        "{}",
        human.stdout
    );
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sigil"),
        ("fish", "complete -c sigil"),
    ] {
        let out = sigil(&["completion", shell]).run();
        out.assert_exit(0);
        assert!(out.stdout.contains(marker), "{shell}: no {marker:?}");
        assert!(out.stdout.contains("verify-bundle"), "{shell}: commands are completed");
    }
    let bash = sigil(&["completion", "bash"]).run();
    let script = std::env::temp_dir().join(format!("sigil-completion-{}.bash", std::process::id()));
    std::fs::write(&script, &bash.stdout).expect("write");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash");
    std::fs::remove_file(&script).ok();
    assert!(syntax.success(), "the bash script parses");
    sigil(&["completion", "tcsh"])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
}
