//! Verification Summary Attestations end to end: `verify --policy
//! --emit-vsa` attaches a signed summary to each image decided, and a
//! downstream policy accepts the summary (`vsa:`) instead of the evidence.

use serde_json::Value;
use sigil_verifier::reference::Target;

use crate::fixtures::{self, keypair, push_sample, s, write_policy};
use crate::support::{Registry, sigil};

#[test]
fn a_decision_made_once_is_accepted_downstream_and_its_twins_are_not() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (release, _) = keypair(dir.path(), "release");
    let (verifier, _) = keypair(dir.path(), "verifier");
    let (stranger, _) = keypair(dir.path(), "stranger");
    let good = push_sample(&registry, "vsa/app", "good", 41);
    let bad = push_sample(&registry, "vsa/app", "bad", 42);
    let (good_image, bad_image) = (registry.image("vsa/app:good"), registry.image("vsa/app:bad"));
    sigil(&["sign", &good_image, "--key", s(&release)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let host = registry.host();
    // CI's policy: signed by the release key
    let ci = write_policy(
        dir.path(),
        &format!(
            "publishers:\n  release: {{key: release.pub}}\nrules:\n  - name: app\n    images: [\"{host}/vsa/**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    let ci_digest = sigil_verifier::digest::Digest::sha256_of(&std::fs::read(&ci).expect("policy"));
    let out = sigil(&[
        "verify",
        &good_image,
        &bad_image,
        "--policy",
        s(&ci),
        "--emit-vsa",
        "--key",
        s(&verifier),
        "--vsa-verifier-id",
        "https://ci.acme.example/sigil",
        "--output",
        "json",
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run();
    out.assert_exit(1);
    assert!(
        out.stderr.contains("vsa: PASSED summary for") && out.stderr.contains("vsa: FAILED summary for"),
        "{out}"
    );
    // the summary as stored: its predicate says what was decided, about what, under which policy
    let (_, manifest) = fixtures::manifest(&registry, "vsa/app", Target::Tag(format!("{}.att", good.tag_prefix())));
    let layer = &manifest["layers"][0];
    assert_eq!(
        layer["annotations"]["predicateType"],
        "https://slsa.dev/verification_summary/v1"
    );
    let summary = summary_of(&registry, "vsa/app", layer);
    assert_eq!(summary["verificationResult"], "PASSED");
    assert_eq!(summary["verifier"]["id"], "https://ci.acme.example/sigil");
    assert_eq!(summary["resourceUri"], format!("{host}/vsa/app@{good}"));
    assert_eq!(summary["policy"]["digest"]["sha256"], ci_digest.hex());
    assert_eq!(summary["verifiedLevels"], serde_json::json!(["SIGIL_POLICY_ALLOW"]));
    // an independent check (Python's cryptography): the DSSE signature, the
    // statement and every field the specification requires; and its twin
    let envelope = dir.path().join("vsa.dsse.json");
    std::fs::write(&envelope, envelope_of(&registry, "vsa/app", layer)).expect("envelope");
    let verifier_pub = dir.path().join("verifier.pub");
    let checked = python_check(&envelope, &verifier_pub, good.hex());
    checked.assert_exit(0);
    assert!(checked.stdout.contains("vsa verified PASSED"), "{checked}");
    let mut tampered: Value = serde_json::from_slice(&std::fs::read(&envelope).expect("read")).expect("json");
    let payload = tampered["payload"].as_str().expect("payload").to_owned();
    // `eyJ...` is `{"...`; `fyJ...` decodes to other bytes under the same signature
    assert!(payload.starts_with('e'), "{payload:.10}");
    let flipped = payload.replacen('e', "f", 1);
    tampered["payload"] = Value::String(flipped);
    std::fs::write(&envelope, tampered.to_string()).expect("write");
    let refused = python_check(&envelope, &verifier_pub, good.hex());
    refused.assert_exit(1);
    assert!(refused.stdout.contains("signature refused"), "{refused}");

    // downstream: a VSA by the verifier key is enough
    let downstream = |vsa: &str| {
        let path = dir
            .path()
            .join(format!("downstream-{}.yaml", ci_digest.hex().len() + vsa.len()));
        std::fs::write(
            &path,
            format!(
                "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  ci: {{key: verifier.pub}}\n  stranger: {{key: stranger.pub}}\nrules:\n  - name: app\n    images: [\"{host}/vsa/**\"]\n    attestations:\n      - predicateType: https://slsa.dev/verification_summary/v1\n        signedBy: [ci]\n        vsa: {vsa}\n"
            ),
        )
        .expect("policy");
        path
    };
    let accepting = downstream(&format!(
        "{{verifierIds: [\"https://ci.acme.example/sigil\"], policyDigests: [\"sha256:{}\"], maxAge: 1h}}",
        ci_digest.hex()
    ));
    let decide = |policy: &std::path::Path, image: &str, extra: &[&str]| -> (i32, Value) {
        let mut args = vec!["verify", image, "--policy", s(policy), "--output", "json"];
        args.extend(extra);
        let out = sigil(&args).run();
        let code = out.code.unwrap_or(-1);
        (code, out.stdout_json()["images"][0].clone())
    };
    let (code, report) = decide(&accepting, &good_image, &[]);
    assert_eq!(code, 0, "{report}");
    // twins: the FAILED summary of the other image, another verifier id,
    // another policy digest, too old, and a summary signed by a key not trusted
    let (code, report) = decide(&accepting, &bad_image, &[]);
    assert_eq!(code, 1, "{report}");
    assert!(report.to_string().contains("not PASSED"), "{report}");
    let other_verifier = downstream("{verifierIds: [\"https://other.example\"]}");
    assert_eq!(decide(&other_verifier, &good_image, &[]).0, 1);
    let other_policy = downstream(&format!(
        "{{verifierIds: [\"https://ci.acme.example/sigil\"], policyDigests: [\"{}\"]}}",
        "0".repeat(64)
    ));
    assert_eq!(decide(&other_policy, &good_image, &[]).0, 1);
    let later = (time::OffsetDateTime::now_utc() + time::Duration::hours(2))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    let (code, report) = decide(&accepting, &good_image, &["--at", &later]);
    assert_eq!(code, 1);
    assert!(report.to_string().contains("older than the maximum age"), "{report}");
    let by_stranger = std::fs::read_to_string(&accepting)
        .expect("policy")
        .replace("signedBy: [ci]", "signedBy: [stranger]");
    let by_stranger_path = dir.path().join("by-stranger.yaml");
    std::fs::write(&by_stranger_path, by_stranger).expect("policy");
    assert_eq!(decide(&by_stranger_path, &good_image, &[]).0, 1);
    // the summary moved onto the other image (its .att replaced by good's)
    let bytes = serde_json::to_vec(&manifest).expect("manifest");
    let _ = fixtures::put_manifest(
        &registry,
        "vsa/app",
        Target::Tag(format!("{}.att", bad.tag_prefix())),
        &serde_json::from_slice(&bytes).expect("json"),
    );
    let (code, report) = decide(&accepting, &bad_image, &[]);
    assert_eq!(code, 1, "{report}");
    // bad input: --emit-vsa without a key; --key with --policy alone
    sigil(&["verify", &good_image, "--policy", s(&ci), "--emit-vsa"])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
    sigil(&["verify", &good_image, "--policy", s(&ci), "--key", s(&stranger)])
        .run()
        .assert_exit(2)
        .assert_one_line_error();
    // a vsa check under another predicate type checks nothing: lint refuses it
    let misplaced = dir.path().join("misplaced.yaml");
    std::fs::write(
        &misplaced,
        std::fs::read_to_string(&accepting).expect("policy").replace(
            "https://slsa.dev/verification_summary/v1",
            "https://slsa.dev/provenance/v1",
        ),
    )
    .expect("policy");
    let out = sigil(&["policy", "lint", s(&misplaced)]).run();
    out.assert_exit(2);
    assert!(
        out.stderr.contains("inapplicable-check") || out.stdout.contains("inapplicable-check"),
        "{out}"
    );
}

/// Checks a VSA envelope with Python's `cryptography`, sharing no code
/// with sigil: argv is the envelope, the PEM public key, the image digest's hex.
const PYTHON_CHECK: &str = r#"
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
env = json.load(open(sys.argv[1]))
key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
payload = base64.b64decode(env["payload"])
kind = env["payloadType"].encode()
assert kind == b"application/vnd.in-toto+json", kind
pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)
try:
    key.verify(base64.b64decode(env["signatures"][0]["sig"]), pae, ec.ECDSA(hashes.SHA256()))
except Exception as e:
    print("signature refused", e); sys.exit(1)
st = json.loads(payload)
assert st["_type"] == "https://in-toto.io/Statement/v1", st["_type"]
assert st["predicateType"] == "https://slsa.dev/verification_summary/v1"
assert [s["digest"]["sha256"] for s in st["subject"]] == [sys.argv[3]], st["subject"]
p = st["predicate"]
for field in ["verifier", "timeVerified", "resourceUri", "policy", "verificationResult", "verifiedLevels"]:
    assert field in p, field
assert p["verifier"]["id"] and p["resourceUri"].endswith("@sha256:" + sys.argv[3])
assert p["verificationResult"] in ("PASSED", "FAILED")
print("vsa verified", p["verificationResult"])
"#;

fn python_check(envelope: &std::path::Path, public: &std::path::Path, digest_hex: &str) -> crate::support::Output {
    crate::support::require_binary("python3", "apt-get install -y python3");
    crate::support::Proc::new("python3")
        .args(["-c", PYTHON_CHECK, s(envelope), s(public), digest_hex])
        .run()
}

/// The DSSE envelope bytes of `layer`.
fn envelope_of(registry: &Registry, repo: &str, layer: &Value) -> Vec<u8> {
    use sigil_verifier::store::Store as _;
    let descriptor: sigil_verifier::oci::Descriptor = serde_json::from_value(layer.clone()).expect("descriptor");
    fixtures::block_on(fixtures::store(registry, repo).fetch_blob(&descriptor, 1 << 20)).expect("envelope")
}

/// The statement's predicate in the DSSE envelope of `layer`.
fn summary_of(registry: &Registry, repo: &str, layer: &Value) -> Value {
    use base64::Engine as _;
    let bytes = envelope_of(registry, repo, layer);
    let envelope: Value = serde_json::from_slice(&bytes).expect("envelope json");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().expect("payload"))
        .expect("base64");
    let statement: Value = serde_json::from_slice(&payload).expect("statement");
    statement["predicate"].clone()
}
