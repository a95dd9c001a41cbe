//! Attestation requirements, content checks on verified statements only,
//! exemptions and their expiry, most-specific-rule selection.

use serde_json::{Value, json};

use super::support::*;
use crate::policy::{CheckResult, Decision};

const PROV: &str = "https://slsa.dev/provenance/v1";
const CDX: &str = "https://cyclonedx.org/bom";
const IMAGE: &str = "registry.acme.example/prod/app:v1";

fn yaml() -> String {
    "apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release: {key: release.pub}
  ci: {key: ci.pub}
  gh:
    keyless: {issuer: https://token.actions.githubusercontent.com, subjectRegExp: 'https://github\\.com/acme/.+'}
rules:
  - name: production
    images: [\"registry.acme.example/prod/**\"]
    signatures: {anyOf: [release]}
    attestations:
      - predicateType: https://slsa.dev/provenance/v1
        signedBy: [ci]
        slsa: {builderIds: [\"https://github.com/actions/runner/*\"], sourceRepositories: [\"github.com/acme/*\"]}
        condition: \"statement.predicateType == 'https://slsa.dev/provenance/v1'\"
      - predicateType: https://cyclonedx.org/bom
        signedBy: [ci, release]
        sbom: {deniedPackages: [\"pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1\"]}
  - name: keyless-only
    images: [\"registry.acme.example/oss/*\"]
    signatures: {anyOf: [gh]}
  - name: app-exact
    images: [\"registry.acme.example/prod/special\"]
    signatures: {anyOf: [ci]}
exemptions:
  - images: [\"registry.acme.example/prod/legacy\"]
    waive: [https://cyclonedx.org/bom]
    reason: SBOM pending
    owner: platform
    expires: 2026-12-31T00:00:00Z
  - images: [\"registry.acme.example/prod/old\"]
    waive: all
    reason: was fine last year
    owner: platform
    expires: 2026-01-01T00:00:00Z
"
    .to_owned()
}

fn provenance(builder: &str) -> Value {
    json!({"buildDefinition": {"buildType": "https://x/t", "externalParameters": {"workflow": {"repository": "https://github.com/acme/app"}}},
           "runDetails": {"builder": {"id": builder}}})
}

fn bom(log4j: &str) -> Value {
    json!({"bomFormat": "CycloneDX", "components": [{"name": "log4j-core", "purl": format!("pkg:maven/org.apache.logging.log4j/log4j-core@{log4j}")}]})
}

struct Keys {
    release: crate::keys::SigningKey,
    ci: crate::keys::SigningKey,
}

fn setup() -> (crate::policy::Policy, Keys) {
    let keys = Keys {
        release: key(),
        ci: key(),
    };
    (policy(&yaml(), &[("release", &keys.release), ("ci", &keys.ci)]), keys)
}

const GOOD_BUILDER: &str = "https://github.com/actions/runner/github-hosted";

#[test]
fn attestation_requirements() {
    let (policy, k) = setup();
    let d = digest_of(IMAGE);
    let sig = || signature(&k.release, &d, &[]);
    let run = |atts| policy.evaluate(&evidence(IMAGE, vec![sig()], atts), NOW);

    let ok = run(vec![
        attestation(&k.ci, &d, PROV, &provenance(GOOD_BUILDER)),
        attestation(&k.release, &d, CDX, &bom("2.17.1")),
    ]);
    assert_eq!(ok.decision, Decision::Allow, "{}", ok.render_human());
    assert_eq!(ok.rule.as_deref(), Some("production"));

    // wrong builder: the reason says which and what was allowed
    let r = run(vec![
        attestation(&k.ci, &d, PROV, &provenance("https://evil.example/builder")),
        attestation(&k.ci, &d, CDX, &bom("2.17.1")),
    ]);
    assert_eq!(r.decision, Decision::Deny);
    assert_eq!(
        r.checks[1].reason,
        "attestation https://slsa.dev/provenance/v1 by ci: builder id https://evil.example/builder is not one of [https://github.com/actions/runner/*]"
    );

    // two provenance documents that disagree deny
    let r = run(vec![
        attestation(&k.ci, &d, PROV, &provenance(GOOD_BUILDER)),
        attestation(&k.ci, &d, PROV, &provenance("https://evil.example/builder")),
        attestation(&k.ci, &d, CDX, &bom("2.17.1")),
    ]);
    assert_eq!(r.decision, Decision::Deny);

    // signed by a publisher not listed for it: does not count
    let r = run(vec![
        attestation(&k.release, &d, PROV, &provenance(GOOD_BUILDER)),
        attestation(&k.ci, &d, CDX, &bom("2.17.1")),
    ]);
    assert_eq!(r.decision, Decision::Deny);
    assert!(
        r.checks[1]
            .reason
            .starts_with("no verified attestation of type https://slsa.dev/provenance/v1 by any of [ci]"),
        "{}",
        r.checks[1].reason
    );

    // bound to another image: does not count
    let other = digest_of("registry.acme.example/prod/other:v1");
    let r = run(vec![
        attestation(&k.ci, &other, PROV, &provenance(GOOD_BUILDER)),
        attestation(&k.ci, &d, CDX, &bom("2.17.1")),
    ]);
    assert_eq!(r.decision, Decision::Deny);
    assert!(
        r.checks[1].details.iter().any(|l| l.contains("no subject with digest")),
        "{:?}",
        r.checks[1].details
    );

    // a statement of another type stored under this type's claim does not count
    let mut lying = attestation(&k.ci, &d, CDX, &provenance(GOOD_BUILDER));
    lying.claimed_type = Some(PROV.to_owned());
    let r = run(vec![lying, attestation(&k.ci, &d, CDX, &bom("2.17.1"))]);
    assert_eq!(r.decision, Decision::Deny);

    // a denied package
    let r = run(vec![
        attestation(&k.ci, &d, PROV, &provenance(GOOD_BUILDER)),
        attestation(&k.ci, &d, CDX, &bom("2.14.1")),
    ]);
    assert_eq!(r.decision, Decision::Deny);
    assert!(
        r.checks[2]
            .reason
            .contains("package pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 is denied"),
        "{}",
        r.checks[2].reason
    );
}

#[test]
fn a_key_signature_does_not_satisfy_a_keyless_publisher() {
    let (policy, k) = setup();
    let image = "registry.acme.example/oss/tool:v1";
    let r = policy.evaluate(
        &evidence(image, vec![signature(&k.release, &digest_of(image), &[])], vec![]),
        NOW,
    );
    assert_eq!(r.decision, Decision::Deny);
    assert!(
        r.checks[0].details.iter().any(|l| l.starts_with("gh: ")
            && l.ends_with("signature carries no certificate, so it cannot prove an identity")),
        "{:?}",
        r.checks[0].details
    );
}

#[test]
fn the_most_specific_rule_decides() {
    let (policy, k) = setup();
    let image = "registry.acme.example/prod/special:v1";
    let r = policy.evaluate(
        &evidence(image, vec![signature(&k.ci, &digest_of(image), &[])], vec![]),
        NOW,
    );
    assert_eq!(r.rule.as_deref(), Some("app-exact"));
    assert_eq!(r.decision, Decision::Allow);
}

#[test]
fn exemptions_waive_until_they_expire() {
    let (policy, k) = setup();
    let legacy = "registry.acme.example/prod/legacy:v1";
    let d = digest_of(legacy);
    let e = evidence(
        legacy,
        vec![signature(&k.release, &d, &[])],
        vec![attestation(&k.ci, &d, PROV, &provenance(GOOD_BUILDER))],
    );
    let r = policy.evaluate(&e, NOW);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    assert_eq!(r.exemptions.len(), 1);
    assert!(!r.exemptions[0].expired);
    assert_eq!(r.checks[2].result, CheckResult::Waived);
    // only the listed predicate type is waived
    assert_eq!(r.checks[1].result, CheckResult::Pass);
    // after expiry the exemption is ignored, and the report says so
    let later = time::macros::datetime!(2027-01-01 00:00 UTC);
    let r = policy.evaluate(&e, later);
    assert_eq!(r.decision, Decision::Deny);
    assert!(r.exemptions[0].expired);

    let old = "registry.acme.example/prod/old:v1";
    let r = policy.evaluate(&evidence(old, vec![], vec![]), NOW);
    assert_eq!(r.decision, Decision::Deny, "expired `waive: all` is ignored");
    assert!(r.exemptions[0].expired);
    let r = policy.evaluate(
        &evidence(old, vec![], vec![]),
        time::macros::datetime!(2025-12-01 00:00 UTC),
    );
    assert_eq!(r.decision, Decision::Allow);
    assert!(r.checks.iter().all(|c| c.result == CheckResult::Waived));
}
