//! `sigil sign-blob` and `sigil attest-blob`: the bundles they write verify
//! with `sigil verify-bundle --key` and with an independent reader (the
//! protobuf-specs models of sigstore-python plus Python's `cryptography`
//! checking the signatures), and every tampered twin fails. Bad input is
//! exit 2 with one line, and leaves `--bundle` as it was.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::fixtures::{keypair, s};
use crate::support::{Proc, sigil};

fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(path)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

/// The fingerprint sigil reports for a public key file: sha256 of its SPKI DER.
fn fingerprint(public: &Path) -> String {
    let pem = std::fs::read_to_string(public).expect("public key");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    sha256_hex(&STANDARD.decode(body).expect("base64"))
}

fn sign_blob(file: &Path, key: &Path, bundle: &Path) -> crate::support::Output {
    sigil(&["sign-blob", s(file), "--key", s(key), "--bundle", s(bundle)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
}

fn attest_blob(file: &Path, key: &Path, kind: &str, predicate: &Path, bundle: &Path) -> crate::support::Output {
    sigil(&[
        "attest-blob",
        s(file),
        "--key",
        s(key),
        "--type",
        kind,
        "--predicate",
        s(predicate),
        "--bundle",
        s(bundle),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
}

fn verify(bundle: &Path, public: &Path, artifact: &str, extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["verify-bundle", "--bundle", s(bundle), "--key", s(public)];
    args.extend_from_slice(extra);
    args.push(artifact);
    sigil(&args).run()
}

/// A copy of `bundle` with `edit` applied.
fn twin(bundle: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(bundle).expect("bundle")).expect("json");
    edit(&mut v);
    let path = bundle.with_file_name(name);
    std::fs::write(&path, v.to_string()).expect("write twin");
    path
}

/// Flips one bit in the middle of a base64 field.
fn flip_base64(field: &mut Value) {
    let mut bytes = STANDARD.decode(field.as_str().expect("string")).expect("base64");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    *field = STANDARD.encode(bytes).into();
}

fn bundle_json(bundle: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(bundle).expect("bundle")).expect("json")
}

/// The in-toto statement inside a DSSE bundle.
fn statement(bundle: &Path) -> Value {
    let v = bundle_json(bundle);
    let payload = STANDARD
        .decode(v["dsseEnvelope"]["payload"].as_str().expect("payload"))
        .expect("base64");
    serde_json::from_slice(&payload).expect("statement json")
}

#[test]
fn sign_blob_bundle_verifies_and_its_twins_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "release");
    let (_, other_public) = keypair(dir.path(), "other");
    let file = dir.path().join("app.tar.gz");
    std::fs::write(&file, b"the release artifact\n").expect("write");
    let bundle = dir.path().join("app.tar.gz.sigstore.json");
    let digest = format!("sha256:{}", sha256_hex(b"the release artifact\n"));

    let out = sigil(&[
        "sign-blob",
        s(&file),
        "--key",
        s(&key),
        "--bundle",
        s(&bundle),
        "--output",
        "json",
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run();
    out.assert_exit(0).assert_quiet_stderr();
    assert_eq!(
        out.stdout_json(),
        json!({
            "apiVersion": "sigil.dev/sign-blob/v1",
            "file": s(&file),
            "digest": digest,
            "bundle": s(&bundle),
            "key": {"fingerprint": fingerprint(&public)},
        })
    );
    // the bundle's shape: v0.3, a message signature over sha256, the key hint, no log entry
    let v = bundle_json(&bundle);
    assert_eq!(v["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(v["verificationMaterial"]["tlogEntries"], json!([]));
    assert!(v["verificationMaterial"]["publicKey"]["hint"].is_string(), "{v}");
    assert_eq!(v["messageSignature"]["messageDigest"]["algorithm"], "SHA2_256");
    assert_eq!(
        hex::encode(
            STANDARD
                .decode(
                    v["messageSignature"]["messageDigest"]["digest"]
                        .as_str()
                        .expect("digest")
                )
                .expect("base64")
        ),
        sha256_hex(b"the release artifact\n")
    );
    assert!(v.get("dsseEnvelope").is_none(), "{v}");

    let verified = verify(&bundle, &public, s(&file), &["--output", "json"]);
    verified.assert_exit(0);
    let report = verified.stdout_json();
    assert_eq!(report["verified"], true);
    assert_eq!(
        report["signer"],
        json!({"kind": "key", "fingerprint": fingerprint(&public)})
    );
    assert_eq!(report["content"], json!({"kind": "messageSignature", "digest": digest}));
    assert_eq!(report["logEntries"], json!([]));
    // by digest as well
    verify(&bundle, &public, &digest, &[]).assert_exit(0);
    // the human line
    let human = sign_blob(&file, &key, &bundle);
    human.assert_exit(0);
    assert_eq!(
        human.stdout,
        format!("signed {} ({digest}) -> {}\n", s(&file), s(&bundle))
    );

    // twins: a flipped byte of the file
    let flipped = dir.path().join("flipped.tar.gz");
    std::fs::write(&flipped, b"the release artifact\x0b").expect("write");
    verify(&bundle, &public, s(&flipped), &[]).assert_exit(1);
    // another key
    let other = verify(&bundle, &other_public, s(&file), &[]);
    other.assert_exit(1);
    assert!(other.stdout.starts_with("not verified:"), "{}", other.stdout);
    // a flipped signature byte
    let bad_signature = twin(&bundle, "bad-signature.json", |v| {
        flip_base64(&mut v["messageSignature"]["signature"])
    });
    verify(&bad_signature, &public, s(&file), &[]).assert_exit(1);
    // a bundle for another file
    let another = dir.path().join("another.tar.gz");
    std::fs::write(&another, b"another artifact\n").expect("write");
    let another_bundle = dir.path().join("another.sigstore.json");
    sign_blob(&another, &key, &another_bundle).assert_exit(0);
    verify(&another_bundle, &public, s(&another), &[]).assert_exit(0);
    verify(&another_bundle, &public, s(&file), &[]).assert_exit(1);
    // its digest field rewritten to the file's, the other file's signature kept
    let rebound = twin(&another_bundle, "rebound.json", |v| {
        v["messageSignature"]["messageDigest"]["digest"] = STANDARD
            .encode(hex::decode(sha256_hex(b"the release artifact\n")).expect("hex"))
            .into();
    });
    verify(&rebound, &public, s(&file), &[]).assert_exit(1);
    // a message signature is no attestation of any type
    let typed = verify(&bundle, &public, s(&file), &["--type", "custom"]);
    typed.assert_exit(1);
    assert!(
        typed.stdout.contains("a message signature, not an attestation"),
        "{}",
        typed.stdout
    );
}

#[test]
fn attest_blob_bundle_verifies_and_its_twins_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "release");
    let (_, other_public) = keypair(dir.path(), "other");
    let file = dir.path().join("app.tar.gz");
    std::fs::write(&file, b"the release artifact\n").expect("write");
    let sbom = testdata("sbom/cosign/bom-go-mod.cyclonedx.json");
    let bundle = dir.path().join("app.intoto.json");
    let digest = format!("sha256:{}", sha256_hex(b"the release artifact\n"));

    let out = sigil(&[
        "attest-blob",
        s(&file),
        "--key",
        s(&key),
        "--type",
        "cyclonedx",
        "--predicate",
        s(&sbom),
        "--bundle",
        s(&bundle),
        "--output",
        "json",
    ])
    .env("COSIGN_PASSWORD", "pw")
    .run();
    out.assert_exit(0).assert_quiet_stderr();
    assert_eq!(
        out.stdout_json(),
        json!({
            "apiVersion": "sigil.dev/attest-blob/v1",
            "file": s(&file),
            "digest": digest,
            "bundle": s(&bundle),
            "key": {"fingerprint": fingerprint(&public)},
            "predicateType": "https://cyclonedx.org/bom",
        })
    );
    let v = bundle_json(&bundle);
    assert_eq!(v["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
    assert_eq!(v["dsseEnvelope"]["payloadType"], "application/vnd.in-toto+json");
    assert!(v.get("messageSignature").is_none(), "{v}");
    let st = statement(&bundle);
    assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(
        st["subject"],
        json!([{"name": "app.tar.gz", "digest": {"sha256": sha256_hex(b"the release artifact\n")}}])
    );
    assert_eq!(st["predicateType"], "https://cyclonedx.org/bom");
    let sbom_json: Value = serde_json::from_slice(&std::fs::read(&sbom).expect("sbom")).expect("json");
    assert_eq!(st["predicate"], sbom_json);

    // the type asked by short name or URI
    verify(&bundle, &public, s(&file), &[]).assert_exit(0);
    verify(&bundle, &public, s(&file), &["--type", "cyclonedx"]).assert_exit(0);
    let report = verify(
        &bundle,
        &public,
        &digest,
        &["--type", "https://cyclonedx.org/bom", "--output", "json"],
    );
    report.assert_exit(0);
    assert_eq!(
        report.stdout_json()["content"],
        json!({"kind": "dsse", "payloadType": "application/vnd.in-toto+json"})
    );

    // twins: the wrong predicate type asked
    let wrong = verify(&bundle, &public, s(&file), &["--type", "spdxjson", "--output", "json"]);
    wrong.assert_exit(1);
    assert_eq!(
        wrong.stdout_json()["reason"],
        "the bundle holds an in-toto statement of predicate type https://cyclonedx.org/bom, but predicate type https://spdx.dev/Document was required"
    );
    // a flipped byte of the file
    let flipped = dir.path().join("flipped.tar.gz");
    std::fs::write(&flipped, b"the release artifact\x0b").expect("write");
    verify(&bundle, &public, s(&flipped), &[]).assert_exit(1);
    // another key
    verify(&bundle, &other_public, s(&file), &[]).assert_exit(1);
    // a flipped signature byte
    let bad_signature = twin(&bundle, "bad-signature.json", |v| {
        flip_base64(&mut v["dsseEnvelope"]["signatures"][0]["sig"])
    });
    verify(&bad_signature, &public, s(&file), &[]).assert_exit(1);
    // the statement for another digest, signed by the right key, under the file's name
    let elsewhere_dir = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere_dir).expect("mkdir");
    let impostor = elsewhere_dir.join("app.tar.gz");
    std::fs::write(&impostor, b"not the release\n").expect("write");
    let elsewhere = dir.path().join("elsewhere.json");
    attest_blob(&impostor, &key, "cyclonedx", &sbom, &elsewhere).assert_exit(0);
    assert_eq!(statement(&elsewhere)["subject"][0]["name"], "app.tar.gz");
    verify(&elsewhere, &public, s(&impostor), &[]).assert_exit(0);
    let refused = verify(&elsewhere, &public, s(&file), &["--output", "json"]);
    refused.assert_exit(1);
    assert_eq!(refused.stdout_json()["verified"], false);
    // the payload swapped for that statement, the signature kept
    let swapped = twin(&bundle, "swapped.json", |v| {
        v["dsseEnvelope"]["payload"] = bundle_json(&elsewhere)["dsseEnvelope"]["payload"].clone();
    });
    verify(&swapped, &public, s(&impostor), &[]).assert_exit(1);

    // the default type is custom: the file's text wrapped as cosign does
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "built on a clean runner").expect("write");
    let custom = dir.path().join("custom.json");
    sigil(&[
        "attest-blob",
        s(&file),
        "--key",
        s(&key),
        "--predicate",
        s(&note),
        "--bundle",
        s(&custom),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
    .assert_exit(0);
    let st = statement(&custom);
    assert_eq!(st["predicateType"], "https://cosign.sigstore.dev/attestation/v1");
    assert_eq!(st["predicate"]["Data"], "built on a clean runner");
    verify(&custom, &public, s(&file), &["--type", "custom"]).assert_exit(0);
    verify(&custom, &public, s(&file), &["--type", "cyclonedx"]).assert_exit(1);
}

#[test]
fn bad_input_is_exit_2_with_one_line_and_the_bundle_is_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, _) = keypair(dir.path(), "release");
    let file = dir.path().join("app.tar.gz");
    std::fs::write(&file, b"artifact").expect("write");
    let bundle = dir.path().join("out.json");
    std::fs::write(&bundle, b"previous bundle").expect("write");
    let untouched = |what: &str| {
        assert_eq!(
            std::fs::read(&bundle).expect("bundle"),
            b"previous bundle",
            "{what} changed --bundle"
        );
    };
    let sbom = testdata("sbom/cosign/bom-go-mod.cyclonedx.json");

    // the wrong password, SIGIL_PASSWORD winning over COSIGN_PASSWORD
    let wrong = sigil(&["sign-blob", s(&file), "--key", s(&key), "--bundle", s(&bundle)])
        .env("SIGIL_PASSWORD", "nope")
        .env("COSIGN_PASSWORD", "pw")
        .run();
    wrong.assert_exit(2);
    assert!(
        wrong.assert_one_line_error().contains("wrong password"),
        "{}",
        wrong.stderr
    );
    untouched("a wrong password");
    let wrong = sigil(&[
        "attest-blob",
        s(&file),
        "--key",
        s(&key),
        "--type",
        "cyclonedx",
        "--predicate",
        s(&sbom),
        "--bundle",
        s(&bundle),
    ])
    .env("COSIGN_PASSWORD", "nope")
    .run();
    wrong.assert_exit(2);
    wrong.assert_one_line_error();
    untouched("a wrong password (attest-blob)");
    // no password and no terminal
    sigil(&["sign-blob", s(&file), "--key", s(&key), "--bundle", s(&bundle)])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
    untouched("a missing password");

    // a missing file, a missing key, a key that is not an encrypted key file
    let missing = dir.path().join("missing.tar.gz");
    let out = sign_blob(&missing, &key, &bundle);
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("missing.tar.gz"), "{}", out.stderr);
    let out = sign_blob(&file, &dir.path().join("missing.key"), &bundle);
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("missing.key"), "{}", out.stderr);
    let plain = sign_blob(&file, &testdata("keys/p256-pkcs8.pem"), &bundle);
    plain.assert_exit(2);
    assert!(
        plain.assert_one_line_error().contains("sigil key import"),
        "{}",
        plain.stderr
    );
    // a directory is not a file to sign
    sign_blob(dir.path(), &key, &bundle)
        .assert_exit(2)
        .assert_one_line_error();
    // a FIFO is refused without blocking (a hang would fail at the runner's timeout)
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success(), "mkfifo failed");
    let out = sign_blob(&fifo, &key, &bundle);
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("not a regular file"),
        "{}",
        out.stderr
    );
    let out = attest_blob(&fifo, &key, "cyclonedx", &sbom, &bundle);
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("not a regular file"),
        "{}",
        out.stderr
    );
    untouched("a bad file or key");

    // a predicate that is not what its type says, an unknown type, a missing predicate
    let not_a_bom = dir.path().join("not-a-bom.json");
    std::fs::write(&not_a_bom, br#"{"hello": "world"}"#).expect("write");
    let out = attest_blob(&file, &key, "cyclonedx", &not_a_bom, &bundle);
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("not a valid cyclonedx document"),
        "{}",
        out.stderr
    );
    attest_blob(&file, &key, "no-such-type", &sbom, &bundle)
        .assert_exit(2)
        .assert_one_line_error();
    attest_blob(&file, &key, "cyclonedx", &dir.path().join("missing.json"), &bundle)
        .assert_exit(2)
        .assert_one_line_error();
    attest_blob(&missing, &key, "cyclonedx", &sbom, &bundle)
        .assert_exit(2)
        .assert_one_line_error();
    untouched("a bad predicate");

    // an output directory that does not exist: exit 2, nothing left behind
    let nowhere = dir.path().join("no-such-dir/out.json");
    sign_blob(&file, &key, &nowhere).assert_exit(2).assert_one_line_error();

    // verify-bundle --type with an unknown name is bad input too
    sign_blob(&file, &key, &bundle).assert_exit(0);
    sigil(&[
        "verify-bundle",
        "--bundle",
        s(&bundle),
        "--key",
        s(&dir.path().join("release.pub")),
        "--type",
        "nonsense",
        s(&file),
    ])
    .run()
    .assert_exit(2)
    .assert_one_line_error();

    // success replaced the old bundle through a temporary file that is gone
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

/// An independent reading of what sigil wrote: sigstore-python's protobuf
/// models (`sigstore_models`, what `sigstore.models.Bundle.from_json` parses
/// with; the `Bundle` class itself refuses key-signed bundles, since
/// sigstore-python verifies keyless ones only) parse the bundle, and
/// Python's `cryptography` checks the ECDSA signature over the file or over
/// the DSSE PAE, the message digest and the statement subject.
const PYTHON_CHECK: &str = r#"
import base64, hashlib, json, sys
from sigstore_models.bundle.v1 import Bundle
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

bundle_path, key_path, file_path = sys.argv[1:4]
text = open(bundle_path).read()
model = Bundle.from_json(text)
assert model.media_type == "application/vnd.dev.sigstore.bundle.v0.3+json", model.media_type
assert model.verification_material.public_key is not None
key = load_pem_public_key(open(key_path, "rb").read())
data = open(file_path, "rb").read()
doc = json.loads(text)
if "messageSignature" in doc:
    ms = doc["messageSignature"]
    assert ms["messageDigest"]["algorithm"] == "SHA2_256"
    assert base64.b64decode(ms["messageDigest"]["digest"]) == hashlib.sha256(data).digest(), "digest"
    key.verify(base64.b64decode(ms["signature"]), data, ec.ECDSA(hashes.SHA256()))
    print("message signature verified")
else:
    env = doc["dsseEnvelope"]
    payload = base64.b64decode(env["payload"])
    kind = env["payloadType"].encode()
    pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
    key.verify(base64.b64decode(env["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
    statement = json.loads(payload)
    assert statement["subject"][0]["digest"]["sha256"] == hashlib.sha256(data).hexdigest(), "subject"
    print("dsse verified", statement["predicateType"])
"#;

fn python_check(bundle: &Path, public: &Path, file: &Path) -> crate::support::Output {
    Proc::new("python3")
        .args(["-c", PYTHON_CHECK, s(bundle), s(public), s(file)])
        .run()
}

#[test]
fn python_sigstore_models_and_cryptography_read_what_sigil_writes() {
    crate::support::require_binary("python3", "apt-get install -y python3");
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, public) = keypair(dir.path(), "release");
    let (_, other_public) = keypair(dir.path(), "other");
    let file = dir.path().join("app.tar.gz");
    std::fs::write(&file, b"the release artifact\n").expect("write");
    let flipped = dir.path().join("flipped.tar.gz");
    std::fs::write(&flipped, b"the release artifact\x0b").expect("write");
    let signed = dir.path().join("signed.json");
    sign_blob(&file, &key, &signed).assert_exit(0);
    let attested = dir.path().join("attested.json");
    attest_blob(
        &file,
        &key,
        "cyclonedx",
        &testdata("sbom/cosign/bom-go-mod.cyclonedx.json"),
        &attested,
    )
    .assert_exit(0);

    let out = python_check(&signed, &public, &file);
    assert_eq!(
        out.code,
        Some(0),
        "the Python reader refused sigil's sign-blob bundle: {}",
        out.stderr
    );
    assert_eq!(out.stdout, "message signature verified\n");
    let out = python_check(&attested, &public, &file);
    assert_eq!(
        out.code,
        Some(0),
        "the Python reader refused sigil's attest-blob bundle: {}",
        out.stderr
    );
    assert_eq!(out.stdout, "dsse verified https://cyclonedx.org/bom\n");
    // the reader is no rubber stamp: twins fail there too
    for (bundle, public, file, why, error) in [
        (&signed, &other_public, &file, "another key", "InvalidSignature"),
        (
            &signed,
            &public,
            &flipped,
            "a flipped byte of the file",
            "AssertionError: digest",
        ),
        (&attested, &other_public, &file, "another key", "InvalidSignature"),
        (
            &attested,
            &public,
            &flipped,
            "a flipped byte of the file",
            "AssertionError: subject",
        ),
    ] {
        let out = python_check(bundle, public, file);
        assert_ne!(out.code, Some(0), "the Python reader accepted {why}: {}", out.stdout);
        assert!(out.stderr.contains(error), "{why}: {}", out.stderr);
    }
    let mut v = bundle_json(&signed);
    v.as_object_mut().expect("object").remove("verificationMaterial");
    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, v.to_string()).expect("write");
    assert_ne!(
        python_check(&malformed, &public, &file).code,
        Some(0),
        "a malformed bundle parsed"
    );
}

/// The member names of a JSON object, sorted.
fn members(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
    names.sort();
    names
}

#[test]
fn sign_blob_writes_the_shape_sigstore_go_writes_for_a_key() {
    // sigstore-go's key-signed message-signature bundle (testdata/bundles/shared,
    // sigstore-go pkg/testing/data/bundles/public-key-validity.sigstore.json),
    // which differs only by its RFC 3161 timestamp where sigil's has none
    let theirs = bundle_json(&testdata(
        "bundles/shared/sigstore-go/public-key-validity.sigstore.json",
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, _) = keypair(dir.path(), "release");
    let file = dir.path().join("f");
    std::fs::write(&file, b"x").expect("write");
    let bundle = dir.path().join("f.json");
    sign_blob(&file, &key, &bundle).assert_exit(0);
    let ours = bundle_json(&bundle);
    assert_eq!(ours["mediaType"], theirs["mediaType"]);
    assert_eq!(members(&ours), members(&theirs));
    assert_eq!(members(&ours["messageSignature"]), members(&theirs["messageSignature"]));
    assert_eq!(
        members(&ours["messageSignature"]["messageDigest"]),
        members(&theirs["messageSignature"]["messageDigest"])
    );
    assert_eq!(
        ours["messageSignature"]["messageDigest"]["algorithm"],
        theirs["messageSignature"]["messageDigest"]["algorithm"]
    );
    assert_eq!(
        members(&ours["verificationMaterial"]["publicKey"]),
        members(&theirs["verificationMaterial"]["publicKey"])
    );
    let hint = |v: &Value| {
        STANDARD
            .decode(v["verificationMaterial"]["publicKey"]["hint"].as_str().expect("hint"))
            .expect("base64")
            .len()
    };
    assert_eq!(hint(&ours), hint(&theirs), "both hints are a sha256");
}
