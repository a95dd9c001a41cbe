//! The loopback Sigstore instance ([`sigil_testkit::sigstore_instance`])
//! judged by independent verifiers. A minimal reference client written
//! here (blocking reqwest: Actions token -> Fulcio -> TSA -> Rekor) makes a
//! v0.3 bundle, and sigstore-python 4.x, sigstore-js (`@sigstore/verify`)
//! and `sigil verify-bundle --trusted-root` all accept it; they all refuse
//! its twins (another instance's trusted root, a wrong identity, a flipped
//! signature) and the bundles the instance's faults produce. The faults of
//! the services themselves show as the HTTP failures a client sees.
//!
//! Needs `python3 -m pip install "sigstore>=4,<5"` and `npm ci --prefix
//! tests/js` (scripts/test.sh does both); a missing peer fails the test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, SigningKey as _};
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};

use crate::support::sigil;
use crate::support::sigstore_instance::peers::{PeerVerdict, sigstore_js_verify, sigstore_python_verify};
use crate::support::sigstore_instance::{EMAIL_ISSUER, Fault, GITHUB_ISSUER, GithubClaims, Instance, pae};

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .expect("a client")
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .to_vec()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The GitHub Actions token endpoint, as a workflow step asks it.
fn actions_token(instance: &Instance, bearer: &str, audience: &str) -> Result<String, StatusCode> {
    let response = client()
        .get(format!("{}&audience={audience}", instance.actions_token_url()))
        .header("Authorization", format!("bearer {bearer}"))
        .send()
        .expect("the token endpoint answers");
    if !response.status().is_success() {
        return Err(response.status());
    }
    let body: Value = serde_json::from_str(&response.text().expect("a body")).expect("json");
    Ok(body["value"].as_str().expect("a token").to_string())
}

/// The leaf (DER) and its chain (PEM) for `key`, by proving possession over `subject`.
fn fulcio(
    instance: &Instance,
    token: &str,
    key: &KeyPair,
    subject: &str,
) -> Result<(Vec<u8>, Vec<String>), (StatusCode, String)> {
    let request = json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key_pem()},
            "proofOfPossession": STANDARD.encode(key.sign(subject.as_bytes()).expect("sign")),
        }
    });
    let response = client()
        .post(format!("{}/api/v2/signingCert", instance.fulcio_url()))
        .header("Content-Type", "application/json")
        .body(request.to_string())
        .send()
        .expect("fulcio answers");
    let status = response.status();
    let body = response.text().expect("a body");
    if !status.is_success() {
        return Err((status, body));
    }
    let body: Value = serde_json::from_str(&body).expect("json");
    let chain: Vec<String> = body["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .expect("a chain")
        .iter()
        .map(|c| c.as_str().expect("PEM").to_string())
        .collect();
    let leaf = pem_der(&chain[0]);
    Ok((leaf, chain))
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("PEM body")
}

/// (header length, content length) of the DER element at the start of `der`.
fn der_header(der: &[u8]) -> (usize, usize) {
    match der[1] {
        n if n < 0x80 => (2, n as usize),
        0x81 => (3, der[2] as usize),
        0x82 => (4, u16::from_be_bytes([der[2], der[3]]) as usize),
        n => panic!("unexpected DER length byte {n:#x}"),
    }
}

/// An RFC 3161 TimeStampResp over `signature` (sha256 imprint, a nonce,
/// certReq), checked granted: what a bundle's `signedTimestamp` holds.
fn timestamp(instance: &Instance, signature: &[u8]) -> Vec<u8> {
    let mut request = vec![0x02, 0x01, 0x01]; // version 1
    request.extend_from_slice(&[
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
        0x20,
    ]);
    request.extend_from_slice(&sha256(signature));
    request.extend_from_slice(&[0x02, 0x08, 0x31, 0x41, 0x59, 0x26, 0x53, 0x58, 0x97, 0x93]); // nonce
    request.extend_from_slice(&[0x01, 0x01, 0xff]); // certReq
    let mut der = vec![0x30, request.len() as u8];
    der.extend_from_slice(&request);
    let response = client()
        .post(instance.tsa_url())
        .header("Content-Type", "application/timestamp-query")
        .body(der)
        .send()
        .expect("the TSA answers");
    assert_eq!(response.status(), StatusCode::OK);
    let response = response.bytes().expect("a body").to_vec();
    // TimeStampResp { status (granted), timeStampToken }
    let (outer, _) = der_header(&response);
    let inner = &response[outer..];
    let (status_header, status_len) = der_header(inner);
    assert_eq!(
        &inner[..status_header + status_len],
        &[0x30, 0x03, 0x02, 0x01, 0x00],
        "status granted"
    );
    assert!(inner.len() > status_header + status_len, "a token follows the status");
    response
}

/// Posts a proposed entry; the one `LogEntry` of a 201, or the status and message.
fn rekor(instance: &Instance, proposed: &Value) -> Result<Value, (StatusCode, String)> {
    let response = client()
        .post(format!("{}/api/v1/log/entries", instance.rekor_url()))
        .header("Content-Type", "application/json")
        .body(proposed.to_string())
        .send()
        .expect("rekor answers");
    let status = response.status();
    let body = response.text().expect("a body");
    if status != StatusCode::CREATED {
        return Err((status, body));
    }
    let body: Value = serde_json::from_str(&body).expect("json");
    let (_, entry) = body.as_object().expect("an object").iter().next().expect("one entry");
    Ok(entry.clone())
}

/// A Rekor `LogEntry` as a bundle's `tlogEntries` item.
fn tlog_entry(entry: &Value, kind: &str) -> Value {
    let proof = &entry["verification"]["inclusionProof"];
    let b64_hex = |h: &Value| STANDARD.encode(hex::decode(h.as_str().expect("hex")).expect("hex"));
    json!({
        "logIndex": entry["logIndex"].to_string(),
        "logId": {"keyId": b64_hex(&entry["logID"])},
        "kindVersion": {"kind": kind, "version": "0.0.1"},
        "integratedTime": entry["integratedTime"].to_string(),
        "inclusionPromise": {"signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]},
        "inclusionProof": {
            "logIndex": proof["logIndex"].to_string(),
            "rootHash": b64_hex(&proof["rootHash"]),
            "treeSize": proof["treeSize"].to_string(),
            "hashes": proof["hashes"].as_array().expect("hashes").iter().map(b64_hex).collect::<Vec<_>>(),
            "checkpoint": {"envelope": proof["checkpoint"]},
        },
        "canonicalizedBody": entry["body"],
    })
}

/// What the reference client made: the bundle and the log entry it holds.
struct Signed {
    bundle: Value,
    entry: Value,
}

/// The whole keyless flow for `artifact` with an identity token.
fn sign_blob(instance: &Instance, token: &str, subject: &str, artifact: &[u8]) -> Signed {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let (leaf, chain) = fulcio(instance, token, &key, subject).expect("a certificate");
    let signature = key.sign(artifact).expect("sign");
    let digest = sha256(artifact);
    let stamp = timestamp(instance, &signature);
    let proposed = json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(&digest)}},
            "signature": {"content": STANDARD.encode(&signature), "publicKey": {"content": STANDARD.encode(&chain[0])}},
        }
    });
    let entry = rekor(instance, &proposed).expect("logged");
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": STANDARD.encode(&leaf)},
            "tlogEntries": [tlog_entry(&entry, "hashedrekord")],
            "timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": STANDARD.encode(stamp)}]},
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(&digest)},
            "signature": STANDARD.encode(&signature),
        }
    });
    Signed { bundle, entry }
}

/// The trust files of an instance, written to `dir`.
struct Trust {
    config: PathBuf,
    root: PathBuf,
}

fn trust(instance: &Instance, dir: &Path, name: &str) -> Trust {
    let config = dir.join(format!("{name}.trust-config.json"));
    let root = dir.join(format!("{name}.trusted_root.json"));
    std::fs::write(&config, instance.client_trust_config_json()).expect("write");
    std::fs::write(&root, instance.trusted_root_json()).expect("write");
    Trust { config, root }
}

/// The three verdicts on `bundle` for `artifact`: sigstore-python, sigstore-js, sigil.
fn verdicts(
    trust: &Trust,
    bundle: &Path,
    artifact: &Path,
    identity: &str,
    issuer: &str,
) -> [(String, bool, String); 3] {
    let python: PeerVerdict = sigstore_python_verify(&trust.config, bundle, artifact, identity, issuer);
    let js = sigstore_js_verify(&trust.root, bundle, artifact, identity, issuer);
    let out = sigil(&[
        "verify-bundle",
        "--trusted-root",
        s(&trust.root),
        "--bundle",
        s(bundle),
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        s(artifact),
    ])
    .run();
    let code = out.code.expect("sigil exited");
    assert!(code == 0 || code == 1, "sigil crashed: {}{}", out.stdout, out.stderr);
    [
        ("sigstore-python".into(), python.accepted, python.output),
        ("sigstore-js".into(), js.accepted, js.output),
        ("sigil".into(), code == 0, format!("{}{}", out.stdout, out.stderr)),
    ]
}

fn assert_all(expected: bool, case: &str, verdicts: [(String, bool, String); 3]) {
    for (peer, accepted, output) in verdicts {
        assert_eq!(
            accepted,
            expected,
            "{case}: {peer} {}: {output}",
            if accepted { "accepted" } else { "refused" }
        );
    }
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path
}

#[test]
fn sigstore_instance_bundle_is_accepted_by_three_verifiers_and_its_twins_refused() {
    let instance = Instance::start();
    let other = Instance::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("app.tar.gz");
    std::fs::write(&artifact, b"the artifact of octo-org/app").expect("write");
    let mine = trust(&instance, dir.path(), "mine");
    let theirs = trust(&other, dir.path(), "theirs");

    let claims = GithubClaims::default();
    let token = actions_token(&instance, Instance::ACTIONS_REQUEST_TOKEN, "sigstore").expect("a token");
    let sub = format!("repo:{}:ref:{}", claims.repository, claims.r#ref);
    let signed = sign_blob(&instance, &token, &sub, &std::fs::read(&artifact).expect("read"));
    assert_eq!(instance.entries(), 1);
    let bundle = write(dir.path(), "app.sigstore.json", &signed.bundle);
    let identity = claims.identity();
    assert_eq!(
        identity,
        "https://github.com/octo-org/app/.github/workflows/release.yml@refs/heads/main"
    );

    assert_all(
        true,
        "the bundle",
        verdicts(&mine, &bundle, &artifact, &identity, GITHUB_ISSUER),
    );
    assert_all(
        false,
        "another instance's trusted root",
        verdicts(&theirs, &bundle, &artifact, &identity, GITHUB_ISSUER),
    );
    let wrong_identity = "https://github.com/octo-org/evil/.github/workflows/release.yml@refs/heads/main";
    assert_all(
        false,
        "a wrong identity",
        verdicts(&mine, &bundle, &artifact, wrong_identity, GITHUB_ISSUER),
    );
    assert_all(
        false,
        "a wrong issuer",
        verdicts(&mine, &bundle, &artifact, &identity, EMAIL_ISSUER),
    );

    let mut flipped = signed.bundle.clone();
    let mut signature = STANDARD
        .decode(flipped["messageSignature"]["signature"].as_str().expect("b64"))
        .expect("b64");
    let last = signature.len() - 1;
    signature[last] ^= 1;
    flipped["messageSignature"]["signature"] = STANDARD.encode(&signature).into();
    let flipped = write(dir.path(), "flipped.sigstore.json", &flipped);
    assert_all(
        false,
        "a flipped signature",
        verdicts(&mine, &flipped, &artifact, &identity, GITHUB_ISSUER),
    );

    let another = dir.path().join("another.tar.gz");
    std::fs::write(&another, b"another artifact").expect("write");
    assert_all(
        false,
        "another artifact",
        verdicts(&mine, &bundle, &another, &identity, GITHUB_ISSUER),
    );
    assert!(signed.entry["logIndex"] == 0);
}

#[test]
fn sigstore_instance_email_identity_is_accepted_by_three_verifiers() {
    let instance = Instance::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("notes.txt");
    std::fs::write(&artifact, b"release notes").expect("write");
    let mine = trust(&instance, dir.path(), "mine");
    let token = instance.email_token("dev@example.com");
    let signed = sign_blob(&instance, &token, "dev@example.com", b"release notes");
    let bundle = write(dir.path(), "notes.sigstore.json", &signed.bundle);
    assert_all(
        true,
        "an email identity",
        verdicts(&mine, &bundle, &artifact, "dev@example.com", EMAIL_ISSUER),
    );
    assert_all(
        false,
        "another email",
        verdicts(&mine, &bundle, &artifact, "eve@example.com", EMAIL_ISSUER),
    );
}

#[test]
fn sigstore_instance_dsse_bundle_is_accepted_by_three_verifiers() {
    let instance = Instance::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("app.tar.gz");
    std::fs::write(&artifact, b"the artifact of octo-org/app").expect("write");
    let mine = trust(&instance, dir.path(), "mine");
    let claims = GithubClaims::default();
    let token = instance.github_token(&claims);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let (leaf, chain) = fulcio(
        &instance,
        &token,
        &key,
        &format!("repo:{}:ref:{}", claims.repository, claims.r#ref),
    )
    .expect("a certificate");
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app.tar.gz", "digest": {"sha256": hex::encode(sha256(b"the artifact of octo-org/app"))}}],
        "predicateType": "https://example.com/test/v1",
        "predicate": {}
    })
    .to_string();
    let payload_type = "application/vnd.in-toto+json";
    let signature = key.sign(&pae(payload_type, statement.as_bytes())).expect("sign");
    let envelope = json!({
        "payload": STANDARD.encode(&statement), "payloadType": payload_type,
        "signatures": [{"sig": STANDARD.encode(&signature)}]
    });
    let proposed = json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope.to_string(), "verifiers": [STANDARD.encode(&chain[0])]}}
    });
    let entry = rekor(&instance, &proposed).expect("logged");
    let body: Value =
        serde_json::from_slice(&STANDARD.decode(entry["body"].as_str().expect("b64")).expect("b64")).expect("json");
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        hex::encode(sha256(statement.as_bytes()))
    );
    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": STANDARD.encode(&leaf)},
            "tlogEntries": [tlog_entry(&entry, "dsse")],
            "timestampVerificationData": {"rfc3161Timestamps": [{"signedTimestamp": STANDARD.encode(timestamp(&instance, &signature))}]},
        },
        "dsseEnvelope": envelope,
    });
    let path = write(dir.path(), "app.intoto.json", &bundle);
    assert_all(
        true,
        "a DSSE bundle",
        verdicts(&mine, &path, &artifact, &claims.identity(), GITHUB_ISSUER),
    );
    let mut flipped = bundle.clone();
    let mut sig = signature.clone();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    flipped["dsseEnvelope"]["signatures"][0]["sig"] = STANDARD.encode(&sig).into();
    let flipped = write(dir.path(), "flipped.intoto.json", &flipped);
    assert_all(
        false,
        "a flipped DSSE signature",
        verdicts(&mine, &flipped, &artifact, &claims.identity(), GITHUB_ISSUER),
    );
}

#[test]
fn sigstore_instance_refuses_what_the_services_refuse() {
    let instance = Instance::start();
    let other = Instance::start();
    let claims = GithubClaims::default();
    let sub = format!("repo:{}:ref:{}", claims.repository, claims.r#ref);
    // The token endpoint: wrong bearer, wrong audience.
    assert_eq!(
        actions_token(&instance, "wrong", "sigstore"),
        Err(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        actions_token(&instance, Instance::ACTIONS_REQUEST_TOKEN, "other"),
        Err(StatusCode::FORBIDDEN)
    );
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let token = instance.github_token(&claims);
    // Fulcio: another instance's token, a proof over another subject, a forged token.
    let refused = |token: &str, subject: &str| fulcio(&instance, token, &key, subject).expect_err("refused");
    assert_eq!(refused(&other.github_token(&claims), &sub).0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused(&token, "repo:octo-org/evil:ref:refs/heads/main").0,
        StatusCode::BAD_REQUEST
    );
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert_eq!(refused(&forged, &sub).0, StatusCode::UNAUTHORIZED);
    // Rekor: a signature by another key than the certificate's.
    let (_, chain) = fulcio(&instance, &token, &key, &sub).expect("a certificate");
    let stranger = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let proposed = json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(sha256(b"x"))}},
            "signature": {"content": STANDARD.encode(stranger.sign(b"x").expect("sign")), "publicKey": {"content": STANDARD.encode(&chain[0])}},
        }
    });
    assert_eq!(
        rekor(&instance, &proposed).expect_err("refused").0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(instance.entries(), 0);
}

#[test]
fn sigstore_instance_faults_fail_as_a_client_sees_them() {
    let instance = Instance::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let artifact = dir.path().join("app.tar.gz");
    std::fs::write(&artifact, b"the artifact of octo-org/app").expect("write");
    let bytes = std::fs::read(&artifact).expect("read");
    let mine = trust(&instance, dir.path(), "mine");
    let claims = GithubClaims::default();
    let sub = format!("repo:{}:ref:{}", claims.repository, claims.r#ref);
    let token = instance.github_token(&claims);
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");

    instance.set_fault(Fault::TokenEndpointRefuses);
    assert_eq!(
        actions_token(&instance, Instance::ACTIONS_REQUEST_TOKEN, "sigstore"),
        Err(StatusCode::FORBIDDEN)
    );
    instance.set_fault(Fault::FulcioRefusesToken);
    assert_eq!(
        fulcio(&instance, &token, &key, &sub).expect_err("refused").0,
        StatusCode::UNAUTHORIZED
    );
    instance.set_fault(Fault::Fulcio500);
    assert_eq!(
        fulcio(&instance, &token, &key, &sub).expect_err("refused").0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    instance.set_fault(Fault::RekorDown);
    assert_eq!(
        rekor(&instance, &json!({})).expect_err("down").0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    instance.set_fault(Fault::None);
    // A first honest entry, so that every later proof has a hash to flip.
    sign_blob(&instance, &token, &sub, b"first");

    for (fault, case) in [
        (Fault::RekorWrongEntry, "an entry for another artifact"),
        (Fault::RekorBadProof, "a flipped inclusion-proof hash"),
        (Fault::RekorBadSet, "a SET that does not verify"),
        (Fault::FulcioExpiredCert, "a certificate expired before the log time"),
    ] {
        instance.set_fault(fault);
        let signed = sign_blob(&instance, &token, &sub, &bytes);
        instance.set_fault(Fault::None);
        if fault == Fault::RekorWrongEntry {
            let body: Value = serde_json::from_slice(
                &STANDARD
                    .decode(signed.entry["body"].as_str().expect("b64"))
                    .expect("b64"),
            )
            .expect("json");
            assert_ne!(body["spec"]["data"]["hash"]["value"], hex::encode(sha256(&bytes)));
        }
        let bundle = write(dir.path(), "faulty.sigstore.json", &signed.bundle);
        let verdicts = verdicts(&mine, &bundle, &artifact, &claims.identity(), GITHUB_ISSUER);
        if fault == Fault::RekorBadSet {
            // sigstore-python verifies the inclusion proof and checkpoint
            // offline; the SET is checked by the other two.
            for (peer, accepted, output) in verdicts.into_iter().skip(1) {
                assert!(!accepted, "{case}: {peer} accepted: {output}");
            }
        } else {
            assert_all(false, case, verdicts);
        }
    }
}
