//! A predicate's content is read only for the rules that read it: a signed
//! SBOM with a denied licence passes a rule without an `sbom` check (and no
//! component view is built) and fails one with it, while the envelope is
//! verified and the predicate validated as JSON whatever the rule reads
//! (tampered twins are refused either way).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::support::*;
use crate::dsse::Envelope;
use crate::evidence::{AttestationContent, AttestationEvidence};
use crate::policy::{CheckResult, Decision, ReasonCode, Report};
use crate::predicate::sbom::{MAX_COMPONENT_DEPTH, VIEWS_READ};

const CDX: &str = "https://cyclonedx.org/bom";
const IMAGE: &str = "registry.acme.example/prod/app:v1";

/// A rule asking for a signature and a CycloneDX attestation by `release`,
/// with `checks` (YAML lines) on the attestation.
fn yaml(checks: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: production\n    images: [\"registry.acme.example/prod/**\"]\n    signatures: {{anyOf: [release]}}\n    attestations:\n      - predicateType: {CDX}\n        signedBy: [release]\n{checks}"
    )
}

const SBOM_RULE: &str = "        sbom: {deniedLicenses: [AGPL-3.0-only]}\n";

/// A CycloneDX BOM whose one component nests `depth` levels of components.
fn nested_bom(depth: usize) -> Value {
    let mut component = json!({"name": "leaf", "purl": "pkg:npm/leaf@1.0.0"});
    for n in 0..depth {
        component = json!({"name": format!("level{n}"), "components": [component]});
    }
    json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [component]})
}

fn decide(release: &crate::keys::SigningKey, checks: &str, attestation: AttestationEvidence) -> Report {
    let policy = policy(&yaml(checks), &[("release", release)]);
    let image = digest_of(IMAGE);
    let e = evidence(IMAGE, vec![signature(release, &image, &[])], vec![attestation]);
    policy.evaluate(&e, NOW)
}

fn attestation_check(report: &Report) -> &crate::policy::report::Check {
    report
        .checks
        .iter()
        .find(|c| c.kind == "attestation")
        .expect("an attestation check")
}

/// How many component views judging `report()` built.
fn views_built(report: impl FnOnce() -> Report) -> (Report, usize) {
    let before = VIEWS_READ.with(std::cell::Cell::get);
    let report = report();
    (report, VIEWS_READ.with(std::cell::Cell::get) - before)
}

#[test]
fn the_components_are_read_only_for_a_rule_that_checks_them() {
    let release = key();
    let image = digest_of(IMAGE);
    // a signed BOM with a denied licence ten levels down
    let mut bom = nested_bom(10);
    bom["components"][0]["licenses"] = json!([{"license": {"id": "AGPL-3.0-only"}}]);
    let denied_inside = attestation(&release, &image, CDX, &bom);
    // no rule reads the components: the verified attestation is enough, and no view is built
    let (report, views) = views_built(|| decide(&release, "", denied_inside.clone()));
    assert_eq!(report.decision, Decision::Allow, "{}", report.render_human());
    assert_eq!(attestation_check(&report).result, CheckResult::Pass);
    assert_eq!(views, 0);
    // the sbom rule reads them once, and says what it found
    let (report, views) = views_built(|| decide(&release, SBOM_RULE, denied_inside));
    assert_eq!(report.decision, Decision::Deny, "{}", report.render_human());
    let check = attestation_check(&report);
    assert_eq!(check.code, ReasonCode::ContentCheckFailed);
    assert!(
        check.reason.contains("license AGPL-3.0-only of level9 is denied"),
        "{}",
        check.reason
    );
    assert_eq!(views, 1);
    // twin: a clean BOM passes the rule
    let clean = attestation(&release, &image, CDX, &nested_bom(10));
    let (report, views) = views_built(|| decide(&release, SBOM_RULE, clean));
    assert_eq!(report.decision, Decision::Allow, "{}", report.render_human());
    assert_eq!(views, 1);
}

#[test]
fn a_signed_predicate_a_json_parse_refuses_is_refused_whatever_the_rule_reads() {
    let release = key();
    let image = digest_of(IMAGE);
    // nested past serde_json's recursion limit (and MAX_COMPONENT_DEPTH), signed
    let too_deep = attestation(&release, &image, CDX, &nested_bom(MAX_COMPONENT_DEPTH + 1));
    for checks in ["", SBOM_RULE] {
        let report = decide(&release, checks, too_deep.clone());
        assert_eq!(report.decision, Decision::Deny, "{checks}: {}", report.render_human());
        let check = attestation_check(&report);
        assert_eq!(check.code, ReasonCode::ContentCheckFailed, "{checks}");
        assert!(check.reason.contains("recursion limit exceeded"), "{}", check.reason);
    }
}

/// `attestation` with its envelope rewritten by `change`.
fn tampered(attestation: &AttestationEvidence, change: impl Fn(&mut Envelope)) -> AttestationEvidence {
    let AttestationContent::Envelope { envelope, annotations } = &attestation.content else {
        panic!("an envelope");
    };
    let mut parsed = Envelope::parse(envelope).expect("envelope");
    change(&mut parsed);
    AttestationEvidence {
        content: AttestationContent::Envelope {
            envelope: parsed.to_json(),
            annotations: annotations.clone(),
        },
        ..attestation.clone()
    }
}

#[test]
fn a_tampered_envelope_is_refused_though_no_rule_reads_its_content() {
    let release = key();
    let image = digest_of(IMAGE);
    let good = attestation(&release, &image, CDX, &nested_bom(3));
    let flipped_payload = tampered(&good, |e| {
        let mut payload = e.payload_bytes().expect("payload");
        // a byte inside the predicate, which no check of the first policy reads
        let at = payload.len() - 20;
        payload[at] ^= 1;
        e.payload = STANDARD.encode(payload);
    });
    let flipped_signature = tampered(&good, |e| {
        let mut sig = STANDARD.decode(&e.signatures[0].sig).expect("sig");
        let last = sig.len() - 1;
        sig[last] ^= 1;
        e.signatures[0].sig = STANDARD.encode(sig);
    });
    let other_key = attestation(&key(), &image, CDX, &nested_bom(3));
    let other_image = attestation(&release, &digest("another image"), CDX, &nested_bom(3));
    for checks in ["", SBOM_RULE] {
        let report = decide(&release, checks, good.clone());
        assert_eq!(report.decision, Decision::Allow, "{checks}: {}", report.render_human());
        for (what, bad, code) in [
            ("flipped payload byte", &flipped_payload, ReasonCode::SignatureInvalid),
            (
                "flipped signature byte",
                &flipped_signature,
                ReasonCode::SignatureInvalid,
            ),
            ("another key", &other_key, ReasonCode::SignatureInvalid),
            ("another image", &other_image, ReasonCode::DigestMismatch),
        ] {
            let report = decide(&release, checks, bad.clone());
            assert_eq!(
                report.decision,
                Decision::Deny,
                "{what} {checks}: {}",
                report.render_human()
            );
            assert_eq!(attestation_check(&report).code, code, "{what} {checks}");
        }
    }
}

#[test]
fn only_rules_with_attestation_requirements_read_attestations() {
    let release = key();
    let signatures_only = policy(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {key: release.pub}\nrules:\n  - name: production\n    images: [\"**\"]\n    signatures: {anyOf: [release]}\n",
        &[("release", &release)],
    );
    assert!(!signatures_only.reads_attestation(None));
    assert!(!signatures_only.reads_attestation(Some(CDX)));
    let cdx = policy(&yaml(""), &[("release", &release)]);
    assert!(cdx.reads_attestation(None));
    assert!(cdx.reads_attestation(Some(CDX)));
    assert!(!cdx.reads_attestation(Some("https://slsa.dev/provenance/v1")));
}
