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

/// The README's main command: the demo signs, verifies and refuses every
/// tampered twin, and leaves a layout and key that `sigil verify` accepts.
#[test]
fn demo_shows_the_whole_job_and_its_output_verifies_by_hand() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = sigil(&["demo", "--dir", s(dir.path()), "--output", "json"]).run();
    out.assert_exit(0);
    let report = out.stdout_json();
    let steps = report["steps"].as_array().expect("steps");
    assert!(steps.len() >= 5, "{report}");
    for step in steps {
        let expected = if step["expected"] == "accept" {
            "accepted"
        } else {
            "refused"
        };
        assert_eq!(step["result"], expected, "{step}");
    }
    assert!(steps.iter().any(|s| s["expected"] == "accept"), "an accepting step");
    let image = report["image"]["reference"].as_str().expect("reference").to_owned();
    let public = dir.path().join("demo.pub");
    sigil(&["verify", &image, "--key", s(&public)]).run().assert_exit(0);
    let (_, stranger) = keypair(dir.path(), "stranger");
    sigil(&["verify", &image, "--key", s(&stranger)]).run().assert_exit(1);
}
