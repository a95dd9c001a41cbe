//! Publishers of kind `notation`: notation's own e2e signatures
//! (testdata/notation) counted in `anyOf`, `allOf` and thresholds beside
//! key publishers, each accepted case with the twins refused for their own
//! reason, and the loader's diagnostics at their line and column.

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::support::{DIR, NOW, evidence, key, key_files, signature};
use crate::digest::Digest;
use crate::evidence::NotationEvidence;
use crate::keys::SigningKey;
use crate::notation::{JWS_MEDIA_TYPE, SignatureInput};
use crate::oci::{Descriptor, OCI_MANIFEST};
use crate::policy::{Code, Decision, Diagnostics, Evidence, MemoryFiles, Policy, ReasonCode, Report, compile};
use crate::testdata;

/// The image every notation e2e layout signs, and its manifest's size.
const E2E_IMAGE: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";
const E2E_SIZE: u64 = 517;
const E2E_DN: &str = "x509.subject: C=US, ST=WA, L=Seattle, O=Notary, CN=e2e";

const VALID: (&str, &str) = (
    "e2e-valid-signature",
    "c9af07e038b2b1a463e648986ad7273157511ffeba0b689f33e5472bae471f50",
);
const EXPIRED_SIGNATURE: (&str, &str) = (
    "e2e-expired-signature",
    "b5f927564088f65dad86c81bcdd0b55415a8b4c9a0a5391107210e0cdb305cc7",
);
const EXPIRED_CERT: (&str, &str) = (
    "e2e-with-expired-cert",
    "8513a5ba473f32b78a87518b732700632c05cde0d59d179275c5c5a8096beeed",
);

fn envelope((layout, hex): (&str, &str)) -> Vec<u8> {
    testdata::read(format!("notation/layouts/{layout}/blobs/sha256/{hex}"))
}

fn input(bytes: Vec<u8>) -> SignatureInput {
    SignatureInput {
        origin: "sha256:5151".into(),
        media_type: JWS_MEDIA_TYPE.into(),
        envelope: Ok(bytes),
    }
}

/// The valid e2e envelope with one byte of its signature flipped.
fn flipped() -> Vec<u8> {
    let mut value: serde_json::Value = serde_json::from_slice(&envelope(VALID)).expect("json");
    let mut sig = URL_SAFE_NO_PAD
        .decode(value["signature"].as_str().expect("signature"))
        .expect("b64");
    sig[7] ^= 1;
    value["signature"] = URL_SAFE_NO_PAD.encode(sig).into();
    serde_json::to_vec(&value).expect("json")
}

fn descriptor(digest: &str, size: u64) -> Descriptor {
    let mut d = Descriptor::of(OCI_MANIFEST, b"");
    d.digest = Digest::from_str(digest).expect("digest");
    d.size = size;
    d
}

/// Evidence about the e2e image: cosign `signatures` and notation `envelopes`.
fn image_evidence(signatures: Vec<crate::evidence::SignatureEvidence>, envelopes: Vec<Vec<u8>>) -> Evidence<'static> {
    evidence_for(E2E_IMAGE, E2E_SIZE, signatures, envelopes)
}

fn evidence_for(
    digest: &str,
    size: u64,
    signatures: Vec<crate::evidence::SignatureEvidence>,
    envelopes: Vec<Vec<u8>>,
) -> Evidence<'static> {
    evidence(&format!("registry.example/app@{digest}"), signatures, Vec::new()).with_notation(Cow::Owned(
        NotationEvidence {
            target: descriptor(digest, size),
            signatures: envelopes.into_iter().map(input).collect(),
        },
    ))
}

/// The trust store directories beside the policy: `notation/e2e` (the e2e
/// certificate), `notation/other` (another CA) and `notation/expired`.
fn files(keys: &[(&str, &SigningKey)]) -> MemoryFiles {
    let cert = |name: &str| testdata::read(format!("notation/localkeys/{name}"));
    key_files(keys)
        .with(format!("{DIR}/notation/e2e/e2e.crt"), cert("e2e.crt"))
        .with(format!("{DIR}/notation/e2e/README.txt"), "not a certificate: ignored")
        .with(format!("{DIR}/notation/other/new_e2e.crt"), cert("new_e2e.crt"))
        .with(
            format!("{DIR}/notation/expired/expired_e2e.crt"),
            cert("expired_e2e.crt"),
        )
        .with(format!("{DIR}/notation/junk/junk.pem"), "not a certificate")
        .with(format!("{DIR}/notation/empty/README.txt"), "no certificates here")
        .with(format!("{DIR}/notation/key/key.pem"), key().public_key().to_pem())
        .with(
            format!("{DIR}/notation/leaf/leaf.pem"),
            super::support::TestCa::new("corp").leaf("release@acme.example").1,
        )
}

fn load(yaml: &str, keys: &[(&str, &SigningKey)]) -> (Option<Policy>, Diagnostics) {
    compile(yaml, &Path::new(DIR).join("policy.yaml"), NOW, &files(keys))
}

fn policy(yaml: &str, keys: &[(&str, &SigningKey)]) -> Policy {
    let (policy, diagnostics) = load(yaml, keys);
    policy.unwrap_or_else(|| panic!("policy has errors:\n{}", diagnostics.render_human()))
}

/// A policy with the publishers `release` (key), `e2e` (notation, the e2e
/// store and identity), `anyone` (the e2e store, any identity), `other`
/// (another CA), `someone` (the e2e store, another identity), `expired`
/// (the expired certificate's store) and the rule's `signatures:`.
fn with_signatures(signatures: &str) -> String {
    format!(
        r#"apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release: {{key: release.pub}}
  e2e:
    notation:
      trustStore: notation/e2e
      trustedIdentities: ["{E2E_DN}"]
  anyone:
    notation: {{trustStore: [notation/e2e], trustedIdentities: ["*"]}}
  other:
    notation: {{trustStore: notation/other, trustedIdentities: ["*"]}}
  someone:
    notation: {{trustStore: notation/e2e, trustedIdentities: ["x509.subject: C=US, ST=WA, O=Notary, CN=someone-else"]}}
  expired:
    notation: {{trustStore: notation/expired/expired_e2e.crt, trustedIdentities: ["*"]}}
  authority:
    notation: {{trustStore: notation/e2e, signingScheme: notary.x509.signingAuthority, trustedIdentities: ["*"]}}
rules:
  - name: app
    images: ["registry.example/**"]
    signatures: {signatures}
"#
    )
}

fn decide(signatures: &str, release: &SigningKey, e: &Evidence<'_>) -> Report {
    policy(&with_signatures(signatures), &[("release", release)]).evaluate(e, NOW)
}

fn signature_check(report: &Report) -> &crate::policy::report::Check {
    report
        .checks
        .iter()
        .find(|c| c.kind == "signatures")
        .unwrap_or_else(|| panic!("no signatures check:\n{}", report.render_human()))
}

fn assert_denied(report: &Report, code: ReasonCode) {
    assert_eq!(report.decision, Decision::Deny, "{}", report.render_human());
    assert_eq!(signature_check(report).code, code, "{}", report.render_human());
}

fn assert_allowed(report: &Report) {
    assert_eq!(report.decision, Decision::Allow, "{}", report.render_human());
}

#[test]
fn a_notation_signature_counts_for_its_publisher() {
    let release = key();
    let report = decide(
        "{anyOf: [e2e]}",
        &release,
        &image_evidence(vec![], vec![envelope(VALID)]),
    );
    assert_allowed(&report);
    let details = signature_check(&report).details.join("\n");
    assert!(
        details.contains("CN=e2e") && details.contains("notation trust store notation/e2e"),
        "{details}"
    );
    // Any identity the store vouches for; and a list of store paths.
    assert_allowed(&decide(
        "{anyOf: [anyone]}",
        &release,
        &image_evidence(vec![], vec![envelope(VALID)]),
    ));
    // One valid signature among refused ones is enough.
    assert_allowed(&decide(
        "{anyOf: [e2e]}",
        &release,
        &image_evidence(vec![], vec![flipped(), envelope(EXPIRED_SIGNATURE), envelope(VALID)]),
    ));
}

#[test]
fn twins_are_refused_for_their_own_reasons() {
    let release = key();
    let valid = || image_evidence(vec![], vec![envelope(VALID)]);
    // A store that holds another CA.
    assert_denied(
        &decide("{anyOf: [other]}", &release, &valid()),
        ReasonCode::CertificateUntrusted,
    );
    // The right store, an identity not listed.
    let report = decide("{anyOf: [someone]}", &release, &valid());
    assert_denied(&report, ReasonCode::IdentityMismatch);
    assert!(
        signature_check(&report)
            .details
            .join("\n")
            .contains("not one of the trusted identities"),
        "{}",
        report.render_human()
    );
    // The valid signature presented for another image.
    let other = "sha256:53b019120e3d6e5a5a8bd2e3fe8a6c0f0b3b2d4be6a0d0c6c3f27c1cb8bb4b8b";
    assert_denied(
        &decide(
            "{anyOf: [e2e]}",
            &release,
            &evidence_for(other, E2E_SIZE, vec![], vec![envelope(VALID)]),
        ),
        ReasonCode::DigestMismatch,
    );
    // The same image described with another size: the signed descriptor differs.
    assert_denied(
        &decide(
            "{anyOf: [e2e]}",
            &release,
            &evidence_for(E2E_IMAGE, E2E_SIZE + 1, vec![], vec![envelope(VALID)]),
        ),
        ReasonCode::DigestMismatch,
    );
    // An expired signature (io.cncf.notary.expiry, 2023).
    assert_denied(
        &decide(
            "{anyOf: [e2e]}",
            &release,
            &image_evidence(vec![], vec![envelope(EXPIRED_SIGNATURE)]),
        ),
        ReasonCode::SignatureExpired,
    );
    // A flipped signature byte.
    assert_denied(
        &decide("{anyOf: [e2e]}", &release, &image_evidence(vec![], vec![flipped()])),
        ReasonCode::SignatureInvalid,
    );
    // A certificate that expired in 2023, trusted: no timestamp, so it must be valid now.
    assert_denied(
        &decide(
            "{anyOf: [expired]}",
            &release,
            &image_evidence(vec![], vec![envelope(EXPIRED_CERT)]),
        ),
        ReasonCode::CertificateExpired,
    );
    // A notary.x509 signature for a signingAuthority publisher.
    assert_denied(
        &decide("{anyOf: [authority]}", &release, &valid()),
        ReasonCode::CertificateUntrusted,
    );
    // Not an envelope at all.
    assert_denied(
        &decide(
            "{anyOf: [e2e]}",
            &release,
            &image_evidence(vec![], vec![b"not json".to_vec()]),
        ),
        ReasonCode::EvidenceMalformed,
    );
    // No notation signatures; and none gathered.
    assert_denied(
        &decide("{anyOf: [e2e]}", &release, &image_evidence(vec![], vec![])),
        ReasonCode::NoSignatures,
    );
    let ungathered = evidence(&format!("registry.example/app@{E2E_IMAGE}"), vec![], vec![]);
    assert_denied(
        &decide("{anyOf: [e2e]}", &release, &ungathered),
        ReasonCode::NoSignatures,
    );
    // Signed annotations cannot be required of notation signatures.
    assert_denied(
        &decide("{anyOf: [e2e], annotations: {env: prod}}", &release, &valid()),
        ReasonCode::AnnotationMismatch,
    );
}

#[test]
fn kinds_do_not_vouch_for_each_other() {
    let release = key();
    let image = Digest::from_str(E2E_IMAGE).expect("digest");
    // A cosign signature does not count for a notation publisher...
    assert_denied(
        &decide(
            "{anyOf: [e2e]}",
            &release,
            &image_evidence(vec![signature(&release, &image, &[])], vec![]),
        ),
        ReasonCode::NoSignatures,
    );
    // ...nor a notation signature for a key publisher.
    assert_denied(
        &decide(
            "{anyOf: [release]}",
            &release,
            &image_evidence(vec![], vec![envelope(VALID)]),
        ),
        ReasonCode::NoSignatures,
    );
    // A notation authority judges no cosign evidence, whatever it is.
    let p = policy(&with_signatures("{anyOf: [e2e]}"), &[("release", &release)]);
    let authority = &p.publishers["e2e"].authority;
    let checks = crate::verify::judge_signatures_by(
        &[signature(&release, &image, &[])],
        authority,
        &image,
        &Default::default(),
        NOW,
    );
    assert!(matches!(checks[0].outcome, Err(crate::verify::Rejection::NotationOnly)));
}

#[test]
fn all_of_a_key_and_a_notation_publisher_needs_both() {
    let release = key();
    let stranger = key();
    let image = Digest::from_str(E2E_IMAGE).expect("digest");
    let rule = "{allOf: [release, e2e]}";
    assert_allowed(&decide(
        rule,
        &release,
        &image_evidence(vec![signature(&release, &image, &[])], vec![envelope(VALID)]),
    ));
    // Each alone, and each with the other's twin.
    assert_denied(
        &decide(rule, &release, &image_evidence(vec![], vec![envelope(VALID)])),
        ReasonCode::NoSignatures,
    );
    assert_denied(
        &decide(
            rule,
            &release,
            &image_evidence(vec![signature(&release, &image, &[])], vec![]),
        ),
        ReasonCode::NoSignatures,
    );
    assert_denied(
        &decide(
            rule,
            &release,
            &image_evidence(vec![signature(&release, &image, &[])], vec![flipped()]),
        ),
        ReasonCode::SignatureInvalid,
    );
    assert_denied(
        &decide(
            rule,
            &release,
            &image_evidence(vec![signature(&stranger, &image, &[])], vec![envelope(VALID)]),
        ),
        ReasonCode::SignatureInvalid,
    );
}

#[test]
fn a_threshold_counts_a_notation_publisher_once() {
    let release = key();
    let image = Digest::from_str(E2E_IMAGE).expect("digest");
    let both = || image_evidence(vec![signature(&release, &image, &[])], vec![envelope(VALID)]);
    assert_allowed(&decide(
        "{threshold: {count: 2, of: [e2e, release]}}",
        &release,
        &both(),
    ));
    // One of the two.
    let report = decide(
        "{threshold: {count: 2, of: [e2e, release]}}",
        &release,
        &image_evidence(vec![], vec![envelope(VALID), envelope(VALID)]),
    );
    assert_denied(&report, ReasonCode::ThresholdNotMet);
    assert_denied(
        &decide(
            "{threshold: {count: 2, of: [e2e, release]}}",
            &release,
            &image_evidence(vec![signature(&release, &image, &[])], vec![flipped()]),
        ),
        ReasonCode::ThresholdNotMet,
    );
    // Two notation publishers whose stores accept the same signer count once.
    assert_denied(
        &decide("{threshold: {count: 2, of: [e2e, anyone]}}", &release, &both()),
        ReasonCode::ThresholdNotMet,
    );
    assert_allowed(&decide("{threshold: {count: 1, of: [e2e, anyone]}}", &release, &both()));
    // anyOf over kinds: either suffices.
    assert_allowed(&decide(
        "{anyOf: [release, e2e]}",
        &release,
        &image_evidence(vec![], vec![envelope(VALID)]),
    ));
}

/// (code, line, column) of every diagnostic of `yaml`.
fn diagnostics(yaml: &str) -> Vec<(Code, usize, usize)> {
    let (_, d) = load(yaml, &[]);
    d.items
        .iter()
        .map(|d| {
            let (l, c) = d.line_column().unwrap_or((0, 0));
            (d.code, l, c)
        })
        .collect()
}

/// The 1-based line and column where `needle` starts in `text`.
fn place(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in text"));
    let before = &text[..offset];
    (
        before.matches('\n').count() + 1,
        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
    )
}

fn publisher(body: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  n:\n    notation: {body}\nrules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {{anyOf: [n]}}\n"
    )
}

fn assert_at(body: &str, code: Code, needle: &str) {
    let yaml = publisher(body);
    let (line, column) = place(&yaml, needle);
    let found = diagnostics(&yaml);
    assert!(
        found.contains(&(code, line, column)),
        "want {} at {line}:{column}, found {found:?}\n{yaml}",
        code.as_str()
    );
}

#[test]
fn notation_publishers_are_checked_at_load_time() {
    let ok = publisher(&format!(
        "{{trustStore: notation/e2e, trustedIdentities: [\"{E2E_DN}\"]}}"
    ));
    assert_eq!(diagnostics(&ok), vec![]);
    assert_at(
        "{trustStore: notation/missing, trustedIdentities: [\"*\"]}",
        Code::UnreadableFile,
        "notation/missing",
    );
    assert_at(
        "{trustStore: notation/empty, trustedIdentities: [\"*\"]}",
        Code::InvalidTrustRoot,
        "notation/empty",
    );
    assert_at(
        "{trustStore: notation/junk, trustedIdentities: [\"*\"]}",
        Code::InvalidTrustRoot,
        "notation/junk",
    );
    assert_at("{trustStore: [], trustedIdentities: [\"*\"]}", Code::InvalidValue, "[]");
    // A key is not a certificate, and a leaf (neither a CA nor self-signed) no anchor.
    assert_at(
        "{trustStore: notation/key, trustedIdentities: [\"*\"]}",
        Code::InvalidTrustRoot,
        "notation/key",
    );
    assert_at(
        "{trustStore: [notation/e2e, notation/leaf/leaf.pem], trustedIdentities: [\"*\"]}",
        Code::InvalidTrustRoot,
        "[notation/e2e",
    );
    // Identities: required, each well formed, no overlap, `*` alone.
    assert_at("{trustStore: notation/e2e}", Code::MissingField, "{trustStore");
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: [\"*\", \"CN=e2e\"]}",
        Code::InvalidValue,
        "\"CN=e2e\"",
    );
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: [\"x509.subject: C=US, ST=WA\"]}",
        Code::InvalidValue,
        "\"x509.subject: C=US, ST=WA\"",
    );
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: [\"*\", \"x509.subject: C=US, ST=WA, O=x\"]}",
        Code::InvalidValue,
        "[\"*\"",
    );
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: [\"x509.subject: C=US, ST=WA, O=x\", \"x509.subject: C=US, ST=WA, O=x, CN=y\"]}",
        Code::InvalidValue,
        "[\"x509",
    );
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: []}",
        Code::InvalidValue,
        "[]",
    );
    // Unknown fields, and schemes notation does not define.
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: [\"*\"], level: permissive}",
        Code::UnknownField,
        "level",
    );
    assert_at(
        "{trustStore: notation/e2e, trustedIdentities: [\"*\"], signingScheme: notary.x509.tsa}",
        Code::InvalidValue,
        "notary.x509.tsa",
    );
    // Two kinds at once.
    let both = "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  n:\n    key: release.pub\n    notation: {trustStore: notation/e2e, trustedIdentities: [\"*\"]}\nrules: []\n";
    assert!(diagnostics(both).iter().any(|(c, ..)| *c == Code::ConflictingFields));
    // A notation publisher cannot sign attestations.
    let attested = "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  n:\n    notation: {trustStore: notation/e2e, trustedIdentities: [\"*\"]}\nrules:\n  - name: r\n    images: [\"r.io/**\"]\n    attestations:\n      - predicateType: https://slsa.dev/provenance/v1\n        signedBy: [n]\n";
    let (line, column) = place(attested, "[n]");
    assert!(
        diagnostics(attested).contains(&(Code::InvalidValue, line, column)),
        "{:?}",
        diagnostics(attested)
    );
}

#[test]
fn the_trust_store_is_read_once_at_load() {
    use std::cell::RefCell;
    use std::path::PathBuf;

    /// Files of [`files`], counting reads and listings.
    struct Counting(MemoryFiles, RefCell<Vec<PathBuf>>);
    impl crate::policy::FileReader for Counting {
        fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
            self.1.borrow_mut().push(path.to_owned());
            self.0.read(path)
        }
        fn list(&self, path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
            self.1.borrow_mut().push(path.to_owned());
            self.0.list(path)
        }
    }
    let release = key();
    let counting = Counting(files(&[("release", &release)]), RefCell::new(Vec::new()));
    let (policy, d) = compile(
        &with_signatures("{anyOf: [e2e]}"),
        &Path::new(DIR).join("policy.yaml"),
        NOW,
        &counting,
    );
    let policy = policy.unwrap_or_else(|| panic!("{}", d.render_human()));
    let loaded = counting.1.borrow().len();
    // The README beside the certificate is not read.
    assert!(
        !counting.1.borrow().iter().any(|p| p.ends_with("e2e/README.txt")),
        "{:?}",
        counting.1.borrow()
    );
    assert!(policy.reads_notation());
    for _ in 0..3 {
        assert_allowed(&policy.evaluate(&image_evidence(vec![], vec![envelope(VALID)]), NOW));
    }
    assert_eq!(counting.1.borrow().len(), loaded, "judging read files");
    // A policy without notation publishers does not ask for their evidence.
    let keys_only = super::support::policy(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {key: release.pub}\nrules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: [release]}\n",
        &[("release", &release)],
    );
    assert!(!keys_only.reads_notation());
}

/// `policies/notation.yaml` lints clean and decides as its comments say.
#[test]
fn the_example_policy_decides_as_documented() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/notation.yaml");
    let (policy, diagnostics) = crate::policy::load(&path, NOW, &testdata::Disk);
    assert_eq!(diagnostics.items.len(), 0, "{}", diagnostics.render_human());
    let policy = policy.expect("loads");
    let release = SigningKey::import_pem(&testdata::text("policy-keys/release.key")).expect("key");
    let image = Digest::from_str(E2E_IMAGE).expect("digest");
    let at = |repo: &str, signatures, envelopes: Vec<Vec<u8>>| {
        evidence(
            &format!("registry.acme.example/{repo}@{E2E_IMAGE}"),
            signatures,
            Vec::new(),
        )
        .with_notation(Cow::Owned(NotationEvidence {
            target: descriptor(E2E_IMAGE, E2E_SIZE),
            signatures: envelopes.into_iter().map(input).collect(),
        }))
    };
    let decision = |e: &Evidence<'_>| policy.evaluate(e, NOW).decision;
    assert_eq!(
        decision(&at("azure/app", vec![], vec![envelope(VALID)])),
        Decision::Allow
    );
    assert_eq!(decision(&at("azure/app", vec![], vec![flipped()])), Decision::Deny);
    let signed = || vec![signature(&release, &image, &[])];
    assert_eq!(
        decision(&at("prod/app", signed(), vec![envelope(VALID)])),
        Decision::Allow
    );
    assert_eq!(decision(&at("prod/app", vec![], vec![envelope(VALID)])), Decision::Deny);
    assert_eq!(decision(&at("prod/app", signed(), vec![])), Decision::Deny);
}
