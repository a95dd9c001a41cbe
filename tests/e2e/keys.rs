//! `sigil key generate | public | import` and the key files they write, used
//! for real signing in a registry.

use crate::fixtures::{keypair, push_sample, s};
use crate::support::{Registry, sigil};

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/keys")
        .join(name)
}

#[test]
fn generated_keys_are_encrypted_cosign_files_and_key_public_matches() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "gen");
    let text = std::fs::read_to_string(&key).expect("key file");
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
        0o600
    );
    let out = sigil(&["key", "public", "--key", s(&key)])
        .env("COSIGN_PASSWORD", "pw")
        .run();
    out.assert_exit(0);
    assert_eq!(out.stdout, std::fs::read_to_string(&public).expect("pub"));
    // twins: wrong password, and SIGIL_PASSWORD wins over COSIGN_PASSWORD
    sigil(&["key", "public", "--key", s(&key)])
        .env("SIGIL_PASSWORD", "nope")
        .run()
        .assert_exit(2)
        .assert_one_line_error();
    sigil(&["key", "public", "--key", s(&key)])
        .env("SIGIL_PASSWORD", "nope")
        .env("COSIGN_PASSWORD", "pw")
        .run()
        .assert_exit(2);
    // an existing key is not overwritten without --force
    let prefix = dir.path().join("gen");
    let again = sigil(&["key", "generate", "--output-key-prefix", s(&prefix)])
        .env("SIGIL_PASSWORD", "pw")
        .run();
    again.assert_exit(2);
    assert!(again.assert_one_line_error().contains("--force"));
    assert_eq!(
        std::fs::read_to_string(&key).expect("key"),
        text,
        "the key file is untouched"
    );
}

#[test]
fn empty_password_is_a_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = dir.path().join("empty");
    sigil(&["key", "generate", "--output-key-prefix", s(&prefix)])
        .env("SIGIL_PASSWORD", "")
        .run()
        .assert_exit(0);
    let key = prefix.with_extension("key");
    sigil(&["key", "public", "--key", s(&key)])
        .env("SIGIL_PASSWORD", "")
        .run()
        .assert_exit(0);
    sigil(&["key", "public", "--key", s(&key)])
        .env("SIGIL_PASSWORD", "x")
        .run()
        .assert_exit(2);
    // a key file cosign itself wrote with an empty password opens too
    let cosign = testdata("cosign-generated-empty-password.key");
    sigil(&["key", "public", "--key", s(&cosign)])
        .env("COSIGN_PASSWORD", "")
        .run()
        .assert_exit(0);
}

#[test]
fn imported_keys_of_every_kind_sign_what_their_openssl_public_keys_verify() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    push_sample(&registry, "imports", "v1", 21);
    let image = registry.image("imports:v1");
    let (_, stranger) = keypair(dir.path(), "stranger");
    for (private, public) in [
        ("p256-pkcs8.pem", "p256-pub.pem"),
        ("p256-sec1.pem", "p256-pub.pem"),
        ("p384-sec1.pem", "p384-pub.pem"),
        ("ed25519-pkcs8.pem", "ed25519-pub.pem"),
        ("rsa2048-pkcs1.pem", "rsa2048-pub.pem"),
        ("rsa2048-pkcs8.pem", "rsa2048-pub.pem"),
    ] {
        let prefix = dir.path().join(private.trim_end_matches(".pem"));
        sigil(&[
            "key",
            "import",
            "--key",
            s(&testdata(private)),
            "--output-key-prefix",
            s(&prefix),
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
        let imported_pub = std::fs::read_to_string(prefix.with_extension("pub")).expect("pub");
        let openssl_pub = std::fs::read_to_string(testdata(public)).expect("openssl pub");
        assert_eq!(
            imported_pub.trim(),
            openssl_pub.trim(),
            "{private}: same public key as OpenSSL's"
        );
        sigil(&["sign", &image, "--key", s(&prefix.with_extension("key"))])
            .env("SIGIL_PASSWORD", "pw")
            .run()
            .assert_exit(0);
        sigil(&["verify", &image, "--key", s(&testdata(public))])
            .run()
            .assert_exit(0);
    }
    sigil(&["verify", &image, "--key", s(&stranger)]).run().assert_exit(1);
    // keys sigil refuses to import, each with one line and exit 2
    for refused in [
        "secp256k1-pkcs8.pem",
        "p256-pkcs8-openssl-encrypted.pem",
        "p256-pub.pem",
    ] {
        let prefix = dir.path().join("refused");
        sigil(&[
            "key",
            "import",
            "--key",
            s(&testdata(refused)),
            "--output-key-prefix",
            s(&prefix),
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(2)
        .assert_one_line_error();
        assert!(!prefix.with_extension("key").exists(), "{refused}: nothing written");
    }
}

/// The README's main command: the demo signs, attests, refuses every
/// tampered twin, lets a policy allow the good image and deny the others
/// with their reasons, and leaves files the printed commands work on.
#[test]
fn demo_shows_the_whole_job_and_its_output_verifies_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = || {
        let out = sigil(&["demo", "--dir", s(dir.path()), "--output", "json"]).run();
        out.assert_exit(0);
        out.stdout_json()
    };
    let report = run();
    let steps = report["steps"].as_array().expect("steps");
    assert!(steps.len() >= 4, "{report}");
    for step in steps {
        let expected = if step["expected"] == "accept" {
            "accepted"
        } else {
            "refused"
        };
        assert_eq!(step["result"], expected, "{step}");
    }
    assert!(steps.iter().any(|s| s["expected"] == "accept"), "an accepting step");
    let decisions = |report: &serde_json::Value| -> Vec<(String, String, String)> {
        report["decisions"]
            .as_array()
            .expect("decisions")
            .iter()
            .map(|d| {
                let image = d["image"].as_str().expect("image");
                let tag = image.rsplit(':').next().expect("tag").to_owned();
                let reason = d["reason"].as_str().expect("reason");
                let code = reason.split(':').next().expect("code").to_owned();
                assert_eq!(d["decision"], d["expected"], "{d}");
                (tag, d["decision"].as_str().expect("decision").to_owned(), code)
            })
            .collect()
    };
    let got = decisions(&report);
    let want = [
        (
            "good",
            "allow",
            "signed by release; 1 verified attestation(s) by [release], passing slsa; 1 verified attestation(s) by [release], passing sbom",
        ),
        ("unsigned", "deny", "no-signatures"),
        ("stranger", "deny", "signature-invalid"),
        ("log4j", "deny", "content-check-failed"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned())),
        "{report}"
    );
    assert!(
        report["decisions"][3]["reason"]
            .as_str()
            .expect("reason")
            .contains("log4j-core@2.14.1 is denied")
    );
    // the HTML audit report names every image and decision
    let page = std::fs::read_to_string(report["report"].as_str().expect("report path")).expect("report");
    for needle in [
        ":good",
        ":unsigned",
        ":stranger",
        ":log4j",
        "ALLOW",
        "DENY",
        "log4j-core",
    ] {
        assert!(page.contains(needle), "{needle} in the report");
    }
    // the commands it prints work on what it left
    let image = report["image"]["reference"].as_str().expect("reference").to_owned();
    let public = dir.path().join("demo.pub");
    sigil(&["verify", &image, "--key", s(&public)]).run().assert_exit(0);
    let stranger = dir.path().join("stranger.pub");
    sigil(&["verify", &image, "--key", s(&stranger)]).run().assert_exit(1);
    let layout = image.trim_end_matches(":good");
    let all: Vec<String> = ["good", "unsigned", "stranger", "log4j"]
        .iter()
        .map(|t| format!("{layout}:{t}"))
        .collect();
    let policy = dir.path().join("policy.yaml");
    let mut args = vec!["verify", "--policy", s(&policy), "--output", "json"];
    args.extend(all.iter().map(String::as_str));
    let by_hand = sigil(&args).run();
    by_hand.assert_exit(1);
    let decided: Vec<String> = by_hand.stdout_json()["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["decision"].as_str().expect("decision").to_owned())
        .collect();
    assert_eq!(decided, ["allow", "deny", "deny", "deny"]);
    sigil(&[
        "sign",
        &image,
        "--key",
        s(&dir.path().join("demo.key")),
        "-a",
        "env=demo",
    ])
    .env("SIGIL_PASSWORD", "")
    .run()
    .assert_exit(0);
    // a re-run in the used directory starts afresh: the same outcomes
    assert_eq!(decisions(&run()), got);
    // a directory the demo did not make is refused, untouched
    let foreign = tempfile::tempdir().expect("tempdir");
    std::fs::write(foreign.path().join("mine.txt"), "keep").expect("write");
    sigil(&["demo", "--dir", s(foreign.path())])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
    assert_eq!(
        std::fs::read_to_string(foreign.path().join("mine.txt")).expect("kept"),
        "keep"
    );
    // without --dir, the temporary directory is removed
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = sigil(&["demo"]).env("TMPDIR", s(tmp.path())).run();
    out.assert_exit(0);
    assert!(
        out.stdout.contains("ALLOW good") && out.stdout.contains("DENY  log4j"),
        "{out}"
    );
    let left: Vec<std::path::PathBuf> = std::fs::read_dir(tmp.path())
        .expect("tmp")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(left.len(), 1, "only the report is left behind: {left:?}");
    assert!(out.stdout.contains(s(&left[0])), "the report's path is printed: {out}");
    let page = std::fs::read_to_string(&left[0]).expect("report");
    assert!(page.starts_with("<!DOCTYPE html>"), "{page:.80}");
}
