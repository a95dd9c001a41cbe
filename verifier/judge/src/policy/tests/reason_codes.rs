//! Reason codes: the documented list is the enum's, each decision of the
//! engine carries the code that says why, and rejections map to codes by
//! their variants.

use std::collections::BTreeSet;

use serde_json::json;

use super::support::*;
use crate::policy::model::Combinator;
use crate::policy::{CheckResult, Decision, Policy, ReasonCode, Report};
use crate::sigstore::{BundleRejection, CertificateError, TimeBasis};
use crate::verify::{Rejection, Signer};

/// The report format's documentation, read at compile time (the judge reads no files).
const SCHEMA: &str = include_str!("../../../../../docs/report-schema.md");

/// The codes in the first column of the doc's reason-code table.
fn documented_codes() -> Vec<String> {
    let section = SCHEMA
        .split("### Reason codes")
        .nth(1)
        .expect("docs/report-schema.md has a `### Reason codes` section");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(code, _)| code.to_owned()))
        .collect()
}

#[test]
fn the_doc_lists_every_code_exactly_once_and_no_other() {
    let known: Vec<&str> = ReasonCode::ALL.iter().map(|c| c.as_str()).collect();
    let distinct: BTreeSet<&str> = known.iter().copied().collect();
    assert_eq!(distinct.len(), known.len(), "a code is listed twice: {known:?}");
    let documented = documented_codes();
    for code in &known {
        let rows = documented.iter().filter(|d| d == code).count();
        assert_eq!(rows, 1, "docs/report-schema.md has {rows} rows for `{code}`");
    }
    for code in &documented {
        assert!(
            known.contains(&code.as_str()),
            "docs/report-schema.md names `{code}`, which is no reason code"
        );
    }
    assert_eq!(documented.len(), known.len());
}

#[test]
fn codes_are_kebab_case_and_serialise_as_written() {
    for code in ReasonCode::ALL {
        let text = code.as_str();
        assert!(
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !text.starts_with('-')
                && !text.ends_with('-'),
            "{text}"
        );
        assert_eq!(serde_json::to_value(code).expect("json"), json!(text));
        let back: ReasonCode = serde_json::from_value(json!(text)).expect("parses back");
        assert_eq!(back, *code);
        assert_eq!(code.to_string(), text);
    }
    assert!(serde_json::from_value::<ReasonCode>(json!("no-such-code")).is_err());
}

#[test]
fn rejections_map_by_variant() {
    let image = digest("image");
    let other = digest("other");
    let at = NOW;
    let cases: Vec<(Rejection, ReasonCode)> = vec![
        (
            Rejection::BadSignature(Signer::Key {
                fingerprint: "ab".into(),
            }),
            ReasonCode::SignatureInvalid,
        ),
        (
            Rejection::WrongImage {
                signed: other.clone(),
                image: image.clone(),
            },
            ReasonCode::DigestMismatch,
        ),
        (Rejection::Subject { image: image.clone() }, ReasonCode::DigestMismatch),
        (
            Rejection::Annotation {
                key: "env".into(),
                expected: "prod".into(),
                found: None,
            },
            ReasonCode::AnnotationMismatch,
        ),
        (
            Rejection::PayloadType("text/plain".into()),
            ReasonCode::PayloadTypeMismatch,
        ),
        (
            Rejection::PredicateType {
                found: "a".into(),
                expected: "b".into(),
            },
            ReasonCode::PredicateTypeMismatch,
        ),
        (Rejection::NoCertificate, ReasonCode::SignerKindMismatch),
        (Rejection::CertificateBundle, ReasonCode::UnsupportedEvidence),
        (Rejection::SignatureEncoding, ReasonCode::EvidenceMalformed),
        (Rejection::Unsigned, ReasonCode::EvidenceMalformed),
        (
            Rejection::Sigstore(BundleRejection::Identity {
                expected: "a@example.com".into(),
                found: vec!["b@example.com".into()],
            }),
            ReasonCode::IdentityMismatch,
        ),
        (
            Rejection::Sigstore(BundleRejection::Issuer {
                expected: "https://issuer".into(),
                found: None,
            }),
            ReasonCode::IdentityMismatch,
        ),
        (
            Rejection::Sigstore(BundleRejection::CertificateValidity {
                signed_at: at,
                basis: TimeBasis::Proven,
                bound: at,
                expired: true,
            }),
            ReasonCode::CertificateExpired,
        ),
        (
            Rejection::Sigstore(BundleRejection::CertificateValidity {
                signed_at: at,
                basis: TimeBasis::Evaluation,
                bound: at,
                expired: false,
            }),
            ReasonCode::CertificateNotYetValid,
        ),
        (
            Rejection::Sigstore(BundleRejection::KeyValidity {
                signed_at: at,
                basis: TimeBasis::Proven,
                start: at,
                end: None,
            }),
            ReasonCode::KeyNotValidAtTime,
        ),
        (
            Rejection::Sigstore(BundleRejection::SignedAfterEvaluation { signed_at: at, now: at }),
            ReasonCode::SignedAfterEvaluation,
        ),
        (
            Rejection::Sigstore(BundleRejection::Chain { reason: "x".into() }),
            ReasonCode::CertificateUntrusted,
        ),
        (
            Rejection::Sigstore(BundleRejection::Certificate(CertificateError::Chain {
                at,
                reason: "x".into(),
            })),
            ReasonCode::CertificateUntrusted,
        ),
        (
            Rejection::Sigstore(BundleRejection::Certificate(CertificateError::Pem {
                reason: "x".into(),
            })),
            ReasonCode::EvidenceMalformed,
        ),
        (
            Rejection::Sigstore(BundleRejection::NoSigningTime),
            ReasonCode::NoSigningTime,
        ),
        (
            Rejection::Sigstore(BundleRejection::UnknownLog { reason: "x".into() }),
            ReasonCode::UnknownLog,
        ),
        (
            Rejection::Sigstore(BundleRejection::TransparencyLog { reason: "x".into() }),
            ReasonCode::TransparencyLogInvalid,
        ),
        (
            Rejection::Sigstore(BundleRejection::Sct { reason: "x".into() }),
            ReasonCode::SctInvalid,
        ),
        (
            Rejection::Sigstore(BundleRejection::Timestamp { reason: "x".into() }),
            ReasonCode::TimestampInvalid,
        ),
        (
            Rejection::Sigstore(BundleRejection::Signature { reason: "x".into() }),
            ReasonCode::SignatureInvalid,
        ),
        (
            Rejection::Sigstore(BundleRejection::SignerKind {
                expected: "a certificate",
                found: "a key",
            }),
            ReasonCode::SignerKindMismatch,
        ),
        (
            Rejection::Sigstore(BundleRejection::Other { reason: "x".into() }),
            ReasonCode::VerificationFailed,
        ),
    ];
    for (rejection, want) in cases {
        assert_eq!(ReasonCode::from(&rejection), want, "{rejection:?}");
    }
}

#[test]
fn the_most_telling_rejection_names_a_failure() {
    use ReasonCode::*;
    assert_eq!(ReasonCode::most_telling([]), None);
    assert_eq!(
        ReasonCode::most_telling([SignatureInvalid, AnnotationMismatch, EvidenceMalformed]),
        Some(AnnotationMismatch)
    );
    assert_eq!(
        ReasonCode::most_telling([SignatureInvalid, DigestMismatch]),
        Some(DigestMismatch)
    );
    assert_eq!(
        ReasonCode::most_telling([AnnotationMismatch, PublisherUnusable]),
        Some(PublisherUnusable)
    );
}

const IMAGE: &str = "registry.example/prod/app:v1";
const PROV: &str = "https://slsa.dev/provenance/v1";

struct Keys {
    a: crate::keys::SigningKey,
    b: crate::keys::SigningKey,
    stranger: crate::keys::SigningKey,
}

fn setup(signatures: &str) -> (Policy, Keys) {
    let keys = Keys {
        a: key(),
        b: key(),
        stranger: key(),
    };
    let yaml = format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  a: {{key: a.pub}}\n  b: {{key: b.pub}}\nrules:\n  - name: prod\n    images: [\"registry.example/prod/**\"]\n    signatures: {signatures}\n    attestations:\n      - predicateType: {PROV}\n        signedBy: [b]\n        slsa: {{builderIds: [\"https://ci.example/*\"]}}\n  - name: open\n    images: [\"registry.example/open/**\"]\n    allowUnverified: true\nexemptions:\n  - images: [\"registry.example/prod/legacy\"]\n    waive: all\n    reason: vendor image\n    owner: platform\n    expires: 2027-01-31T00:00:00Z\n"
    );
    let p = policy(&yaml, &[("a", &keys.a), ("b", &keys.b)]);
    (p, keys)
}

fn provenance(builder: &str) -> serde_json::Value {
    json!({"buildDefinition": {"buildType": "https://x/t", "externalParameters": {}}, "runDetails": {"builder": {"id": builder}}})
}

/// (result, code) of each check.
fn outcome(r: &Report) -> Vec<(CheckResult, ReasonCode)> {
    r.checks.iter().map(|c| (c.result, c.code)).collect()
}

use CheckResult::{Fail, Pass, Waived};

#[test]
fn each_decision_carries_its_code() {
    let (mut policy, k) = setup("{anyOf: [a]}");
    let d = digest_of(IMAGE);
    let good_att = || attestation(&k.b, &d, PROV, &provenance("https://ci.example/runner"));
    let run = |p: &Policy, sigs, atts| p.evaluate(&evidence(IMAGE, sigs, atts), NOW);

    let r = run(&policy, vec![signature(&k.a, &d, &[])], vec![good_att()]);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    assert_eq!(
        outcome(&r),
        [(Pass, ReasonCode::Satisfied), (Pass, ReasonCode::Satisfied)]
    );
    assert_eq!(r.to_json()["checks"][0]["code"], "satisfied");

    // tampered twins, one at a time
    let r = run(&policy, vec![], vec![good_att()]);
    assert_eq!(r.checks[0].code, ReasonCode::NoSignatures);
    let r = run(&policy, vec![signature(&k.stranger, &d, &[])], vec![good_att()]);
    assert_eq!(r.checks[0].code, ReasonCode::SignatureInvalid);
    let r = run(&policy, vec![signature(&k.a, &digest("other"), &[])], vec![good_att()]);
    assert_eq!(r.checks[0].code, ReasonCode::DigestMismatch);
    let r = run(
        &policy,
        vec![signature(&k.a, &d, &[])],
        vec![attestation(&k.b, &d, PROV, &provenance("https://evil.example/b"))],
    );
    assert_eq!(outcome(&r)[1], (Fail, ReasonCode::ContentCheckFailed));
    let r = run(&policy, vec![signature(&k.a, &d, &[])], vec![]);
    assert_eq!(outcome(&r)[1], (Fail, ReasonCode::NoVerifiedAttestation));
    let r = run(
        &policy,
        vec![signature(&k.a, &d, &[])],
        vec![attestation(&k.stranger, &d, PROV, &provenance("https://ci.example/r"))],
    );
    assert_eq!(outcome(&r)[1], (Fail, ReasonCode::SignatureInvalid));
    let r = run(
        &policy,
        vec![signature(&k.a, &d, &[])],
        vec![attestation(
            &k.b,
            &digest("other"),
            PROV,
            &provenance("https://ci.example/r"),
        )],
    );
    assert_eq!(outcome(&r)[1], (Fail, ReasonCode::DigestMismatch));
    // an attestation of another type, stored without a type claim, is about something else
    let mut other_type = attestation(&k.b, &d, "https://spdx.dev/Document", &json!({}));
    other_type.claimed_type = None;
    let r = run(&policy, vec![signature(&k.a, &d, &[])], vec![other_type]);
    assert_eq!(outcome(&r)[1], (Fail, ReasonCode::NoVerifiedAttestation));

    // required annotations: the signature that verified says more than another key's
    policy.rules[0]
        .signatures
        .as_mut()
        .expect("signatures")
        .annotations
        .insert("env".into(), "prod".into());
    let r = run(
        &policy,
        vec![signature(&k.stranger, &d, &[]), signature(&k.a, &d, &[("env", "dev")])],
        vec![good_att()],
    );
    assert_eq!(r.checks[0].code, ReasonCode::AnnotationMismatch, "{}", r.render_human());
    let r = run(&policy, vec![signature(&k.a, &d, &[("env", "prod")])], vec![good_att()]);
    assert_eq!(r.checks[0].code, ReasonCode::Satisfied);

    // policy defects the engine meets
    fn signatures(p: &mut Policy) -> &mut Combinator {
        &mut p.rules[0].signatures.as_mut().expect("signatures").combinator
    }
    *signatures(&mut policy) = Combinator::AnyOf(vec![]);
    assert_eq!(
        run(&policy, vec![], vec![]).checks[0].code,
        ReasonCode::EmptyPublisherList
    );
    *signatures(&mut policy) = Combinator::AnyOf(vec!["ghost".into()]);
    assert_eq!(
        run(&policy, vec![], vec![]).checks[0].code,
        ReasonCode::UnknownPublisher
    );
    *signatures(&mut policy) = Combinator::Threshold {
        count: 3,
        of: vec!["a".into(), "b".into()],
    };
    assert_eq!(
        run(&policy, vec![], vec![]).checks[0].code,
        ReasonCode::InvalidThreshold
    );
}

#[test]
fn thresholds_not_met_and_met() {
    let (policy, k) = setup("{threshold: {count: 2, of: [a, b]}}");
    let d = digest_of(IMAGE);
    let run = |sigs| policy.evaluate(&evidence(IMAGE, sigs, vec![]), NOW);
    assert_eq!(
        run(vec![signature(&k.a, &d, &[]), signature(&k.a, &d, &[])]).checks[0].code,
        ReasonCode::ThresholdNotMet
    );
    // nobody counted: the evidence says why
    assert_eq!(
        run(vec![signature(&k.stranger, &d, &[])]).checks[0].code,
        ReasonCode::SignatureInvalid
    );
    assert_eq!(
        run(vec![signature(&k.a, &d, &[]), signature(&k.b, &d, &[])]).checks[0].code,
        ReasonCode::Satisfied
    );
}

#[test]
fn rules_exemptions_and_selection_have_codes() {
    let (mut policy, _) = setup("{anyOf: [a]}");
    let run = |p: &Policy, image: &str| p.evaluate(&evidence(image, vec![], vec![]), NOW);
    assert_eq!(
        outcome(&run(&policy, "registry.example/elsewhere/x:v1")),
        [(Fail, ReasonCode::NoMatchingRule)]
    );
    assert_eq!(
        outcome(&run(&policy, "registry.example/prod/legacy:v1")),
        [(Waived, ReasonCode::Waived), (Waived, ReasonCode::Waived)]
    );
    assert_eq!(
        outcome(&run(&policy, "registry.example/open/x:v1")),
        [(Pass, ReasonCode::AllowUnverified)]
    );
    policy.rules[1].allow_unverified = false;
    assert_eq!(
        outcome(&run(&policy, "registry.example/open/x:v1")),
        [(Fail, ReasonCode::NoRequirements)]
    );
    // a tie (a lint error) met anyway
    let mut twin = policy.rules[0].clone();
    twin.name = "twin".into();
    policy.rules.push(twin);
    assert_eq!(outcome(&run(&policy, IMAGE)), [(Fail, ReasonCode::RuleTie)]);
}

#[test]
fn a_layout_judged_under_its_recorded_name_carries_that_judgements_code() {
    let (policy, k) = setup("{anyOf: [a]}");
    let d = digest("layout");
    let recorded = format!("registry.example/prod/app:v1@{d}");
    // no rule for oci:DIR: the recorded name's rule decides, with its codes
    let e = layout_evidence("oci:copied:v1", "layout", Some(&recorded), vec![], vec![]);
    let r = policy.evaluate(&e, NOW);
    assert_eq!(r.rule.as_deref(), Some("prod"));
    assert_eq!(r.checks[0].code, ReasonCode::NoSignatures);
    // signed: the signatures check passes (the attestation is still missing)
    let e = layout_evidence(
        "oci:copied:v1",
        "layout",
        Some(&recorded),
        vec![signature(&k.a, &d, &[])],
        vec![],
    );
    let r = policy.evaluate(&e, NOW);
    assert_eq!(
        outcome(&r),
        [(Pass, ReasonCode::Satisfied), (Fail, ReasonCode::NoVerifiedAttestation)]
    );
}

#[test]
fn certificate_publishers_say_which_part_failed() {
    let corp = TestCa::new("corp");
    let elsewhere = TestCa::new("elsewhere");
    let yaml = "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  corp:\n    certificate: {roots: corp.pem, identity: alice@corp.example}\nrules:\n  - name: prod\n    images: [\"registry.example/prod/**\"]\n    signatures: {anyOf: [corp]}\n";
    let policy = policy_with_roots(yaml, &[], &[("corp", &corp)]);
    let d = digest_of(IMAGE);
    let run = |sig| policy.evaluate(&evidence(IMAGE, vec![sig], vec![]), NOW);
    let (alice, alice_cert) = corp.leaf("alice@corp.example");
    assert_eq!(
        run(certificate_signature(&alice, &alice_cert, &d)).checks[0].code,
        ReasonCode::Satisfied
    );
    let (bob, bob_cert) = corp.leaf("bob@corp.example");
    let r = run(certificate_signature(&bob, &bob_cert, &d));
    assert_eq!(r.checks[0].code, ReasonCode::IdentityMismatch, "{}", r.render_human());
    let (mallory, mallory_cert) = elsewhere.leaf("alice@corp.example");
    let r = run(certificate_signature(&mallory, &mallory_cert, &d));
    assert_eq!(
        r.checks[0].code,
        ReasonCode::CertificateUntrusted,
        "{}",
        r.render_human()
    );
    let r = run(signature(&alice, &d, &[]));
    assert_eq!(r.checks[0].code, ReasonCode::SignerKindMismatch, "{}", r.render_human());
}

#[test]
fn human_output_says_why_a_signature_did_not_count() {
    let (mut policy, k) = setup("{anyOf: [a]}");
    policy.rules[0].attestations.clear();
    policy.rules[0]
        .signatures
        .as_mut()
        .expect("signatures")
        .annotations
        .insert("env".into(), "prod".into());
    let d = digest_of(IMAGE);
    let r = policy.evaluate(&evidence(IMAGE, vec![signature(&k.a, &d, &[])], vec![]), NOW);
    let text = r.render_human();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[1],
        "       fail   signatures anyOf [a] with env=prod: no valid signature by any of [a] [annotation-mismatch]",
        "{text}"
    );
    assert!(
        lines[2].starts_with("              a: tag sha256-x.sig layer sha256:")
            && lines[2].ends_with("…: signed annotation env=prod is required; the signature has none"),
        "{text}"
    );
    // many rejected signatures: the first five, then a count
    let many = (0..8).map(|_| signature(&k.stranger, &d, &[])).collect();
    let text = policy.evaluate(&evidence(IMAGE, many, vec![]), NOW).render_human();
    assert_eq!(
        text.lines().filter(|l| l.contains("signature does not verify")).count(),
        5,
        "{text}"
    );
    assert!(
        text.contains("              ... and 3 more (--output json lists every one)"),
        "{text}"
    );
    // passing checks stay one line, without a code
    let text = policy
        .evaluate(
            &evidence(IMAGE, vec![signature(&k.a, &d, &[("env", "prod")])], vec![]),
            NOW,
        )
        .render_human();
    assert_eq!(text.lines().count(), 2, "{text}");
    // digests in detail lines are cut short; the JSON keeps them whole
    let r = policy.evaluate(&evidence(IMAGE, vec![signature(&k.a, &d, &[])], vec![]), NOW);
    let full = &r.checks[0].details[0];
    let layer = full
        .split("layer sha256:")
        .nth(1)
        .and_then(|rest| rest.get(..64))
        .expect("a full layer digest in the detail");
    let text = r.render_human();
    assert!(
        !text.contains(layer) && text.contains(&format!("layer sha256:{}…:", &layer[..12])),
        "{text}"
    );
    assert!(!text.contains("[satisfied]"), "{text}");
}
