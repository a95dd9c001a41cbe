//! `sigil verify-bundle`: the built binary on real Sigstore bundles and their
//! tampered twins, bad input, and the Python `sigstore` CLI (4.x) as an
//! independent peer run offline on the same bundles.
//!
//! The peer must be installed (`pip install "sigstore>=4,<5"`, which
//! `scripts/test.sh` does); a missing or broken peer fails the test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Proc, sigil};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(path)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

const OCI: &str = "bundles/shared/cosign/oci-attestation.sigstore.json";
const OCI_DIGEST: &str = "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4";
const CODY: [&str; 4] = [
    "--certificate-identity",
    "cody@soyland.com",
    "--certificate-oidc-issuer",
    "https://github.com/login/oauth",
];
const OTHERNAME: &str = "bundles/shared/sigstore-go/othername.sigstore.json";
const OTHERNAME_DIGEST: &str = "sha256:bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b";
const SCAFFOLDING: &str = "bundles/shared/trusted_roots/sigstore-go-scaffolding.json";
const CONTENT: &str = "bundles/shared/artifacts/test-content.txt";

fn verify(bundle: &Path, extra: &[&str], artifact: &str) -> crate::support::Output {
    let mut args = vec!["verify-bundle", "--bundle", s(bundle)];
    args.extend_from_slice(extra);
    args.push(artifact);
    sigil(&args).run()
}

/// A copy of a bundle with `edit` applied, in `dir`.
fn twin(dir: &Path, bundle: &str, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_slice(&std::fs::read(data(bundle)).expect("bundle")).expect("json");
    edit(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).expect("write twin");
    path
}

#[test]
fn production_bundles_verify_and_their_twins_fail() {
    let dir = tempfile::tempdir().expect("tempdir");
    verify(&data(OCI), &CODY, OCI_DIGEST).assert_exit(0);
    let json = sigil(&[
        "verify-bundle",
        "--output",
        "json",
        "--bundle",
        s(&data(OCI)),
        CODY[0],
        CODY[1],
        CODY[2],
        CODY[3],
        OCI_DIGEST,
    ])
    .run();
    json.assert_exit(0);
    let report = json.stdout_json();
    assert_eq!(report["apiVersion"], "sigil.dev/verify-bundle/v1");
    assert_eq!(report["verified"], true);
    assert_eq!(report["signingTime"], "2025-02-28T19:18:11Z");
    assert_eq!(report["signer"]["identity"][0]["value"], "cody@soyland.com");
    assert_eq!(report["logEntries"][0]["logIndex"], 175508996);
    let scaffolding = data(SCAFFOLDING);
    let other_root = ["--trusted-root", s(&scaffolding)];
    let othername_ok = [
        other_root.as_slice(),
        &[
            "--certificate-identity",
            "foo!oidc.local",
            "--certificate-oidc-issuer",
            "http://oidc.local:8080",
        ],
    ]
    .concat();
    verify(&data(OTHERNAME), &othername_ok, OTHERNAME_DIGEST).assert_exit(0);
    let key_root = data("bundles/shared/trusted_roots/sigstore-go-public-key-validity.json");
    let key = data("bundles/shared/sigstore-go/public-key-validity.pem");
    let key_args = ["--key", s(&key), "--trusted-root", s(&key_root)];
    verify(
        &data("bundles/shared/sigstore-go/public-key-validity.sigstore.json"),
        &key_args,
        s(&data(CONTENT)),
    )
    .assert_exit(0);

    // Twins: each must be judged and fail (exit 1), with the reason on stdout.
    let failed = |out: crate::support::Output, why: &str| {
        out.assert_exit(1);
        assert!(out.stdout.contains(why), "expected {why:?} in {}", out.stdout);
    };
    failed(
        verify(&data(OCI), &CODY, s(&data(CONTENT))),
        "not what the bundle signs",
    );
    let flipped = twin(dir.path(), OCI, "flipped.json", |v| {
        let sig = v["dsseEnvelope"]["signatures"][0]["sig"]
            .as_str()
            .expect("sig")
            .to_owned();
        let mut chars: Vec<char> = sig.chars().collect();
        chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
        v["dsseEnvelope"]["signatures"][0]["sig"] = chars.into_iter().collect::<String>().into();
    });
    failed(verify(&flipped, &CODY, OCI_DIGEST), "not verified");
    failed(
        verify(
            &data(OCI),
            &["--certificate-identity", "eve@example.com", CODY[2], CODY[3]],
            OCI_DIGEST,
        ),
        "certificate identity cody@soyland.com is not eve@example.com",
    );
    failed(
        verify(
            &data(OCI),
            &[
                CODY[0],
                CODY[1],
                "--certificate-oidc-issuer-regexp",
                "https://accounts\\.google\\.com",
            ],
            OCI_DIGEST,
        ),
        "OIDC issuer",
    );
    let mut root: Value =
        serde_json::from_slice(&std::fs::read(data("trust/trusted_root.json")).expect("root")).expect("json");
    root["tlogs"] = json!([]);
    let no_log = dir.path().join("no-log.json");
    std::fs::write(&no_log, root.to_string()).expect("write");
    failed(
        verify(
            &data(OCI),
            &[&["--trusted-root", s(&no_log)], CODY.as_slice()].concat(),
            OCI_DIGEST,
        ),
        "no transparency log entry from a log in the trusted root",
    );
    failed(
        verify(
            &data(OTHERNAME),
            &[
                other_root.as_slice(),
                &[
                    "--certificate-identity",
                    "foo@oidc.local",
                    "--certificate-oidc-issuer",
                    "http://oidc.local:8080",
                ],
            ]
            .concat(),
            OTHERNAME_DIGEST,
        ),
        "certificate identity foo!oidc.local is not foo@oidc.local",
    );
    let other_key = data("keys/p256-pub.pem");
    failed(
        verify(
            &data("bundles/shared/sigstore-go/public-key-validity.sigstore.json"),
            &["--key", s(&other_key), "--trusted-root", s(&key_root)],
            s(&data(CONTENT)),
        ),
        "not verified",
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.json");
    verify(&missing, &CODY, OCI_DIGEST)
        .assert_exit(2)
        .assert_one_line_error();
    let malformed = dir.path().join("malformed.json");
    std::fs::write(&malformed, "{\"mediaType\": ").expect("write");
    verify(&malformed, &CODY, OCI_DIGEST)
        .assert_exit(2)
        .assert_one_line_error();
    let not_bundle = twin(dir.path(), OCI, "v9.json", |v| {
        v["mediaType"] = "application/vnd.dev.sigstore.bundle.v9+json".into()
    });
    verify(&not_bundle, &CODY, OCI_DIGEST)
        .assert_exit(2)
        .assert_one_line_error();
    for short in [
        "sha256:1234",
        &format!("sha384:{}", "a".repeat(95)),
        &format!("sha512:{}", "g".repeat(128)),
    ] {
        let out = verify(&data(OCI), &CODY, short);
        out.assert_exit(2);
        assert!(
            out.assert_one_line_error().contains("neither a file nor a digest"),
            "{}",
            out.stderr
        );
    }
    verify(&data(OCI), &CODY, s(&dir.path().join("no-such-artifact")))
        .assert_exit(2)
        .assert_one_line_error();
    verify(&data(OCI), &["--certificate-identity", "x"], OCI_DIGEST)
        .assert_exit(2)
        .assert_one_line_error();
    verify(
        &data(OCI),
        &[CODY[0], CODY[1], "--certificate-oidc-issuer-regexp", "("],
        OCI_DIGEST,
    )
    .assert_exit(2)
    .assert_one_line_error();
    let bad_root = dir.path().join("root.json");
    std::fs::write(&bad_root, "{}").expect("write");
    verify(
        &data(OCI),
        &[&["--trusted-root", s(&bad_root)], CODY.as_slice()].concat(),
        OCI_DIGEST,
    )
    .assert_exit(2)
    .assert_one_line_error();
}

/// A sigstore-python client trust config for `root` (the signing config is
/// never used offline, but the format requires one).
fn trust_config(dir: &Path, root: &Path, name: &str) -> PathBuf {
    let root: Value = serde_json::from_slice(&std::fs::read(root).expect("root")).expect("json");
    let signing: Value =
        serde_json::from_slice(&std::fs::read(data("trust/signing_config.v0.2.json")).expect("signing config"))
            .expect("json");
    let path = dir.join(name);
    let config = json!({"mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json", "trustedRoot": root, "signingConfig": signing});
    std::fs::write(&path, config.to_string()).expect("write");
    path
}

fn python_verifies(config: &Path, bundle: &Path, identity: &str, issuer: &str, artifact: &str) -> (bool, String) {
    let out = Proc::new("sigstore")
        .args([
            "--trust-config",
            s(config),
            "verify",
            "identity",
            "--offline",
            "--bundle",
            s(bundle),
        ])
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer, artifact])
        .timeout(Duration::from_secs(120))
        .run();
    let code = out
        .code
        .unwrap_or_else(|| panic!("sigstore-python was killed: {}", out.stderr));
    assert!(
        code == 0 || code == 1,
        "sigstore-python could not run offline (exit {code}); install it with pip install \"sigstore>=4,<5\": {}",
        out.stderr
    );
    (code == 0, out.stderr)
}

/// One comparison with the peer.
struct PeerCase<'a> {
    bundle: &'a str,
    config: &'a Path,
    /// `--trusted-root` for sigil (the embedded public-good root otherwise).
    root: Option<&'a str>,
    identity: &'a str,
    issuer: &'a str,
    artifact: &'a str,
    /// What sigil must answer.
    sigil_verifies: bool,
    /// Why sigstore-python answers differently, when it does.
    python_differs_because: Option<&'a str>,
}

fn compare(case: &PeerCase<'_>) {
    let root_path = case.root.map(data);
    let mut extra: Vec<&str> = Vec::new();
    if let Some(r) = &root_path {
        extra.extend(["--trusted-root", s(r)]);
    }
    extra.extend([
        "--certificate-identity",
        case.identity,
        "--certificate-oidc-issuer",
        case.issuer,
    ]);
    let ours = verify(&data(case.bundle), &extra, case.artifact);
    assert!(
        ours.code == Some(0) || ours.code == Some(1),
        "{}: {}",
        case.bundle,
        ours.stderr
    );
    let ours_ok = ours.code == Some(0);
    assert_eq!(
        ours_ok, case.sigil_verifies,
        "{} {} {}: {}",
        case.bundle, case.identity, case.artifact, ours.stdout
    );
    let (theirs_ok, detail) = python_verifies(
        case.config,
        &data(case.bundle),
        case.identity,
        case.issuer,
        case.artifact,
    );
    match case.python_differs_because {
        None => assert_eq!(
            ours_ok, theirs_ok,
            "{} {} {}: sigil and sigstore-python disagree: {detail}",
            case.bundle, case.identity, case.artifact
        ),
        Some(reason) => assert!(
            ours_ok && !theirs_ok,
            "{}: the documented difference ({reason}) no longer holds: {detail}",
            case.bundle
        ),
    }
}

#[test]
fn python_sigstore_agrees_or_the_difference_is_explained() {
    crate::support::require_binary("sigstore", "python3 -m pip install \"sigstore>=4,<5\"");
    let dir = tempfile::tempdir().expect("tempdir");
    let public = trust_config(dir.path(), &data("trust/trusted_root.json"), "public.json");
    let scaffolding = trust_config(dir.path(), &data(SCAFFOLDING), "scaffolding.json");
    let content = data(CONTENT);
    let cody = |artifact, identity, sigil_verifies, why| PeerCase {
        bundle: OCI,
        config: &public,
        root: None,
        identity,
        issuer: "https://github.com/login/oauth",
        artifact,
        sigil_verifies,
        python_differs_because: why,
    };
    let foo = |identity, sigil_verifies, why| PeerCase {
        bundle: OTHERNAME,
        config: &scaffolding,
        root: Some(SCAFFOLDING),
        identity,
        issuer: "http://oidc.local:8080",
        artifact: OTHERNAME_DIGEST,
        sigil_verifies,
        python_differs_because: why,
    };
    let mut cases = vec![
        cody(
            OCI_DIGEST,
            "cody@soyland.com",
            true,
            Some(
                "sigstore-python's CLI accepts only in-toto Statement v1; cosign attest writes v0.1, which sigil reads (DESIGN §3.2)",
            ),
        ),
        cody(s(&content), "cody@soyland.com", false, None),
        cody(OCI_DIGEST, "eve@example.com", false, None),
        foo(
            "foo!oidc.local",
            true,
            Some(
                "sigstore-python cannot load a trusted root whose CA subject has no commonName (the scaffolding root); sigil does not need one",
            ),
        ),
        foo("foo@oidc.local", false, None),
    ];
    // The npm bundles name their artifact by sha512 only: neither CLI can be
    // given it, so both must refuse a sha256 they cannot bind.
    let npm: Vec<String> = [
        "bundleV01-dsse-with-proof",
        "bundleV02-dsse",
        "bundleV03-dsse",
        "bundleV03-intoto",
    ]
    .iter()
    .map(|b| format!("bundles/shared/sigstore-js/{b}.sigstore"))
    .collect();
    for bundle in &npm {
        cases.push(PeerCase {
            bundle,
            config: &public,
            root: None,
            identity: "brian@dehamer.com",
            issuer: "https://github.com/login/oauth",
            artifact: OCI_DIGEST,
            sigil_verifies: false,
            python_differs_because: None,
        });
    }
    for case in &cases {
        compare(case);
    }
    assert_eq!(cases.len(), 9);
}

/// A bundle file written from JSON text (duplicate and reordered members are
/// what an attacker writes and `serde_json::Value` cannot hold).
fn forged(dir: &Path, name: &str, text: String) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write forgery");
    path
}

/// The bundle's JSON text with `member` (`"key":value`) inserted first into
/// the object that follows the first occurrence of `anchor` (`""` for the
/// top-level object).
fn insert_after(bundle: &str, anchor: &str, member: &str) -> String {
    let text = String::from_utf8(std::fs::read(data(bundle)).expect("bundle")).expect("utf-8");
    let from = text.find(anchor).unwrap_or_else(|| panic!("{anchor} not in {bundle}"));
    let at = from + text[from..].find('{').expect("an object follows") + 1;
    format!("{}{member},{}", &text[..at], &text[at..])
}

/// Issue 8, points 1 and 2, with production bundles and no private key:
/// another identity's certificate beside a real chain, and a forged envelope
/// beside a genuine message signature. Each must be refused (exit 1), never
/// reported as verified; the untouched bundles are the twins that verify.
#[test]
fn second_readings_of_production_bundles_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    // (1) bundleV02-dsse is signed by brian@dehamer.com through an
    // x509CertificateChain; cody's real Fulcio leaf goes beside it.
    let v02 = "bundles/shared/sigstore-js/bundleV02-dsse.sigstore";
    let v02_digest = "sha512:7bea9f6e7ff37f5fab0b36bf061200fff03099fd2fd696b91d04bc5e4f225eb9fd6e0cadcad54ba980f43fb352a99e8810b4e0abeb5c0ef2cf9108cd1f258b36";
    let brian = [
        "--certificate-identity",
        "brian@dehamer.com",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
    ];
    verify(&data(v02), &brian, v02_digest).assert_exit(0);
    // npm binds its tarball by sha512: another sha512, or a sha384 of the
    // same length class, is not it.
    let mut other_sha512 = v02_digest.to_owned();
    other_sha512.replace_range(10..11, if &v02_digest[10..11] == "0" { "1" } else { "0" });
    let out = verify(&data(v02), &brian, &other_sha512);
    out.assert_exit(1);
    assert!(out.stdout.contains("does not match any subject"), "{}", out.stdout);
    verify(&data(v02), &brian, &format!("sha384:{}", &v02_digest[7..103])).assert_exit(1);
    let oci: Value = serde_json::from_slice(&std::fs::read(data(OCI)).expect("bundle")).expect("json");
    let cody_leaf = oci["verificationMaterial"]["certificate"].to_string();
    // Beside the chain of v0.2, and (a duplicated member) beside the
    // certificate of v0.3: both signed by brian, both for the same artifact.
    let v03 = "bundles/shared/sigstore-js/bundleV03-dsse.sigstore";
    verify(&data(v03), &brian, v02_digest).assert_exit(0);
    for (bundle, name, refusal) in [
        (v02, "extra-certificate.json", "more than one of publicKey, certificate"),
        (v03, "duplicate-certificate.json", "duplicate field `certificate`"),
    ] {
        let extra = insert_after(
            bundle,
            r#""verificationMaterial""#,
            &format!(r#""certificate":{cody_leaf}"#),
        );
        let path = forged(dir.path(), name, extra);
        for who in [&CODY, &brian] {
            let out = verify(&path, who, v02_digest);
            out.assert_exit(1);
            assert!(out.stdout.contains(refusal), "{name}: {}", out.stdout);
        }
    }

    // (2) othername holds a genuine keyless message signature over
    // OTHERNAME_DIGEST; a forged envelope naming that digest goes beside it.
    let scaffolding = data(SCAFFOLDING);
    let othername = [
        "--trusted-root",
        s(&scaffolding),
        "--certificate-identity",
        "foo!oidc.local",
        "--certificate-oidc-issuer",
        "http://oidc.local:8080",
    ];
    verify(&data(OTHERNAME), &othername, OTHERNAME_DIGEST).assert_exit(0);
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "blob", "digest": {"sha256": OTHERNAME_DIGEST.trim_start_matches("sha256:")}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"runDetails": {"builder": {"id": "https://evil.example"}}}
    });
    use base64::Engine as _;
    let envelope = json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64::engine::general_purpose::STANDARD.encode(statement.to_string()),
        "signatures": [{"sig": "MEUCIQ=="}]
    });
    let with_envelope = forged(
        dir.path(),
        "extra-envelope.json",
        insert_after(OTHERNAME, "", &format!(r#""dsseEnvelope":{envelope}"#)),
    );
    let out = verify(&with_envelope, &othername, OTHERNAME_DIGEST);
    out.assert_exit(1);
    assert!(
        out.stdout.contains("both a DSSE envelope and a message signature"),
        "{}",
        out.stdout
    );
    let json = sigil(&[
        "verify-bundle",
        "--output",
        "json",
        "--bundle",
        s(&with_envelope),
        othername[0],
        othername[1],
        othername[2],
        othername[3],
        othername[4],
        othername[5],
        OTHERNAME_DIGEST,
    ])
    .run();
    json.assert_exit(1);
    assert_eq!(json.stdout_json()["verified"], false, "{}", json.stdout);
}
