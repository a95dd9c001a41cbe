//! Reloading: a changed policy or key file swaps in a new generation; a
//! broken one leaves the last good policy serving and is reported once; the
//! TLS pair is reloaded the same way.

use std::fs;
use std::path::Path;

use sigil_verifier::registry::RegistryOptions;
use tempfile::TempDir;

use super::*;

const NOW: OffsetDateTime = time::macros::datetime!(2026-12-01 00:00 UTC);

fn policy_text(rule: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: {rule}\n    images: [\"registry.example/**\"]\n    signatures: {{anyOf: [release]}}\n"
    )
}

fn key(name: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/keys");
    fs::read(root.join(name)).expect("an example key")
}

/// Writes `bytes` to `path` as an editor or a ConfigMap update would: a new
/// file renamed over the old.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).expect("write");
    fs::rename(&tmp, path).expect("rename");
}

fn setup() -> (TempDir, PathBuf, Current) {
    let dir = TempDir::new().expect("temp dir");
    let policy = dir.path().join("policy.yaml");
    fs::write(&policy, policy_text("first")).expect("write");
    fs::write(dir.path().join("release.pub"), key("release.pub")).expect("write");
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let current = Current::new(policy.clone(), client, Settings::default(), NOW).expect("loads");
    (dir, policy, current)
}

fn rule(current: &Current) -> String {
    current.get().policy.rules[0].name.clone()
}

#[test]
fn nothing_changed_is_no_reload() {
    let (_dir, _policy, current) = setup();
    let before = current.get().generation.clone();
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Unchanged);
    assert_eq!(current.get().generation, before);
}

#[test]
fn a_changed_policy_is_swapped_in_whole() {
    let (_dir, policy, current) = setup();
    let before = current.get();
    replace(&policy, policy_text("second").as_bytes());
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Swapped);
    assert_eq!(rule(&current), "second");
    assert_ne!(current.get().generation, before.generation);
    // A request that took the old policy keeps judging by it.
    assert_eq!(before.policy.rules[0].name, "first");
}

#[test]
fn a_changed_key_file_is_a_new_generation() {
    let (dir, _policy, current) = setup();
    let before = current.get();
    replace(&dir.path().join("release.pub"), &key("security.pub"));
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Swapped);
    let after = current.get();
    // Same policy text, other trust: no cached decision may carry over.
    assert_eq!(after.policy.digest, before.policy.digest);
    assert_ne!(after.generation, before.generation);
}

#[test]
fn a_broken_policy_keeps_the_last_good_one_and_is_reported_once() {
    let (dir, policy, current) = setup();
    let good = current.get().generation.clone();
    replace(&policy, b"apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\nrules: [");
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Failed);
    assert_eq!(current.get().generation, good);
    let failure = current.failure().expect("the failure is kept");
    assert!(failure.error.contains("error"), "{}", failure.error);
    // Still broken: not reported again.
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Unchanged);
    // A key file that vanishes is broken too.
    replace(&policy, policy_text("third").as_bytes());
    fs::remove_file(dir.path().join("release.pub")).expect("remove");
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Failed);
    assert_eq!(current.get().generation, good);
    // Fixed: swapped, and the failure is gone.
    fs::write(dir.path().join("release.pub"), key("release.pub")).expect("write");
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Swapped);
    assert_eq!(rule(&current), "third");
    assert!(current.failure().is_none());
}

/// A `notation` publisher's trust store directory: a certificate added,
/// replaced or removed is a new generation (or a failed reload when the
/// store is left empty); nothing changed is no reload.
#[test]
fn a_changed_notation_trust_store_is_a_new_generation() {
    let dir = TempDir::new().expect("temp dir");
    let notation = |name: &str| {
        fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../testdata/notation/localkeys")
                .join(name),
        )
        .expect("a notation certificate")
    };
    let store = dir.path().join("store");
    fs::create_dir_all(&store).expect("store");
    fs::write(store.join("e2e.crt"), notation("e2e.crt")).expect("write");
    let policy = dir.path().join("policy.yaml");
    fs::write(
        &policy,
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  n:\n    notation: {trustStore: store, trustedIdentities: [\"*\"]}\nrules:\n  - name: r\n    images: [\"registry.example/**\"]\n    signatures: {anyOf: [n]}\n",
    )
    .expect("write");
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let current = Current::new(policy, client, Settings::default(), NOW).expect("loads");
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Unchanged);
    let first = current.get().generation.clone();
    // Another CA added beside it.
    fs::write(store.join("other.crt"), notation("new_e2e.crt")).expect("write");
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Swapped);
    let second = current.get().generation.clone();
    assert_ne!(second, first);
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Unchanged);
    // A certificate replaced in place.
    replace(&store.join("other.crt"), &notation("expired_e2e.crt"));
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Swapped);
    assert_ne!(current.get().generation, second);
    // Emptied: the last good policy keeps serving.
    let good = current.get().generation.clone();
    fs::remove_file(store.join("e2e.crt")).expect("remove");
    fs::remove_file(store.join("other.crt")).expect("remove");
    assert_eq!(current.reload_if_changed(NOW), Reloaded::Failed);
    assert_eq!(current.get().generation, good);
}

#[test]
fn a_policy_with_errors_does_not_start() {
    let dir = TempDir::new().expect("temp dir");
    let policy = dir.path().join("policy.yaml");
    fs::write(&policy, policy_text("only")).expect("write");
    let client = Arc::new(RegistryClient::new(RegistryOptions::default()).expect("client"));
    let error = Current::new(policy, client, Settings::default(), NOW)
        .err()
        .expect("the key file is missing");
    assert!(error.contains("release.pub"), "{error}");
}

fn write_pki(dir: &Path, chain: bool) -> (PathBuf, PathBuf, String) {
    let pki = sigil_testkit::tls::server_pki();
    let cert = dir.join("tls.crt");
    let key = dir.join("tls.key");
    let mut pem = pki.server_cert_pem.clone();
    if chain {
        pem.push_str(&pki.ca_cert_pem);
    }
    replace(&cert, pem.as_bytes());
    replace(&key, pki.server_key_pem.as_bytes());
    (cert, key, pki.server_cert_pem)
}

fn serving(certs: &Certificates) -> Vec<u8> {
    certs.current.read().expect("lock").0.cert[0].as_ref().to_vec()
}

#[test]
fn certificates_load_alone_or_with_their_chain_and_reload() {
    let dir = TempDir::new().expect("temp dir");
    let (cert, key, _) = write_pki(dir.path(), false);
    let certs = Certificates::load(&cert, &key).expect("leaf alone");
    assert_eq!(certs.current.read().expect("lock").0.cert.len(), 1);
    assert!(certs.reload_if_changed().is_none());
    let first = serving(&certs);

    write_pki(dir.path(), true);
    assert_eq!(certs.reload_if_changed(), Some(Ok(())));
    assert_eq!(certs.current.read().expect("lock").0.cert.len(), 2);
    assert_ne!(serving(&certs), first);
}

#[test]
fn a_broken_certificate_keeps_the_last_good_one() {
    let dir = TempDir::new().expect("temp dir");
    let (cert, key, _) = write_pki(dir.path(), false);
    let certs = Certificates::load(&cert, &key).expect("loads");
    let good = serving(&certs);
    // A key that is not the certificate's.
    let other = sigil_testkit::tls::server_pki();
    replace(&key, other.server_key_pem.as_bytes());
    assert!(matches!(certs.reload_if_changed(), Some(Err(_))));
    assert_eq!(serving(&certs), good);
    // Reported once while it stays broken.
    assert!(certs.reload_if_changed().is_none());
    // Garbage in the certificate file.
    replace(&cert, b"not a certificate");
    assert!(matches!(certs.reload_if_changed(), Some(Err(e)) if e.contains("CERTIFICATE")));
    assert_eq!(serving(&certs), good);
}

#[test]
fn unusable_tls_files_do_not_start() {
    let dir = TempDir::new().expect("temp dir");
    let (cert, key, _) = write_pki(dir.path(), false);
    replace(&key, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    assert!(Certificates::load(&cert, &key).is_err());
    assert!(Certificates::load(&dir.path().join("missing.crt"), &key).is_err());
}
