//! `baseImage`: finding the base (annotations, verified provenance only),
//! identifying it, matching its name, failing closed until the pipeline
//! records its decision, and the decision it then makes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::json;

use super::support::*;
use crate::base::{BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION};
use crate::policy::report::BaseDecision;
use crate::policy::{CheckResult, Code, Decision, Evidence, ReasonCode, Report};

const IMAGE: &str = "registry.acme.example/prod/app:v1";
const PROV: &str = "https://slsa.dev/provenance/v1";

fn yaml(base: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release: {{key: release.pub}}
  ci: {{key: ci.pub}}
rules:
  - name: production
    images: [\"registry.acme.example/prod/**\"]
    signatures: {{anyOf: [release]}}
    attestations:
      - predicateType: {PROV}
        signedBy: [ci]
    baseImage: {base}
exemptions:
  - images: [\"registry.acme.example/prod/legacy\"]
    waive: [baseImage]
    reason: rebuilt next sprint
    owner: platform
    expires: 2026-12-31T00:00:00Z
"
    )
}

fn annotations(name: Option<&str>, digest: Option<&str>) -> BTreeMap<String, String> {
    let mut a = BTreeMap::new();
    if let Some(n) = name {
        a.insert(BASE_NAME_ANNOTATION.to_owned(), n.to_owned());
    }
    if let Some(d) = digest {
        a.insert(BASE_DIGEST_ANNOTATION.to_owned(), d.to_owned());
    }
    a
}

fn provenance(base_purl: &str, hex: &str) -> serde_json::Value {
    json!({"buildDefinition": {"buildType": "https://x/t", "externalParameters": {},
             "resolvedDependencies": [{"uri": base_purl, "digest": {"sha256": hex}}]},
           "runDetails": {"builder": {"id": "https://builder.example"}}})
}

struct Setup {
    policy: crate::policy::Policy,
    release: crate::keys::SigningKey,
    ci: crate::keys::SigningKey,
}

fn setup(base: &str) -> Setup {
    let (release, ci) = (key(), key());
    let policy = policy(&yaml(base), &[("release", &release), ("ci", &ci)]);
    Setup { policy, release, ci }
}

impl Setup {
    fn evaluate(
        &self,
        reference: &str,
        annotations: BTreeMap<String, String>,
        provenance_by: Option<(&crate::keys::SigningKey, serde_json::Value)>,
    ) -> Report {
        let d = digest_of(reference);
        // Without one given, a provenance by ci that names no container image.
        let (k, p) =
            provenance_by.unwrap_or((&self.ci, provenance("git+https://github.com/acme/app", &"e".repeat(64))));
        let attestations = vec![attestation(k, &d, PROV, &p)];
        let e: Evidence<'_> = evidence(reference, vec![signature(&self.release, &d, &[])], attestations)
            .with_annotations(Cow::Owned(annotations));
        self.policy.evaluate(&e, NOW)
    }
}

fn base_check(report: &Report) -> &crate::policy::report::Check {
    report
        .checks
        .iter()
        .find(|c| c.kind == "baseImage")
        .unwrap_or_else(|| panic!("no baseImage check: {}", report.render_human()))
}

fn decision(image: &str, allowed: bool) -> BaseDecision {
    BaseDecision {
        image: image.to_owned(),
        source: "annotation",
        allowed,
        rule: Some("bases".into()),
        reason: if allowed {
            "allowed".into()
        } else {
            "no signatures".into()
        },
        bases: Vec::new(),
    }
}

#[test]
fn an_annotated_base_waits_for_its_decision_and_the_decision_decides() {
    let s = setup("{required: true, images: [\"cgr.dev/chainguard/**\"]}");
    let base = digest("base");
    let r = s.evaluate(
        IMAGE,
        annotations(Some("cgr.dev/chainguard/static:latest"), Some(&base.to_string())),
        None,
    );
    // Undecided: fails closed, and names the base to decide, canonical and pinned.
    assert_eq!(r.decision, Decision::Deny);
    assert_eq!(base_check(&r).code, ReasonCode::BaseImageUndecided);
    let wanted = format!("cgr.dev/chainguard/static@{base}");
    assert_eq!(r.pending_bases.len(), 1);
    assert_eq!(r.pending_bases[0].reference, wanted);
    assert_eq!(r.pending_bases[0].digest, base);

    let mut allowed = r.clone();
    s.policy.complete_bases(&mut allowed, vec![decision(&wanted, true)]);
    assert_eq!(allowed.decision, Decision::Allow, "{}", allowed.render_human());
    assert_eq!(base_check(&allowed).result, CheckResult::Pass);
    assert_eq!(allowed.bases.len(), 1);
    let json = serde_json::to_value(&allowed).expect("json");
    assert_eq!(json["baseImages"][0]["image"], wanted.as_str());
    assert_eq!(json["baseImages"][0]["allowed"], true);

    // twins: the base denied; a decision about another image; none at all
    let mut denied = r.clone();
    s.policy.complete_bases(&mut denied, vec![decision(&wanted, false)]);
    assert_eq!(denied.decision, Decision::Deny);
    assert_eq!(base_check(&denied).code, ReasonCode::BaseImageDenied);
    assert!(
        base_check(&denied).reason.contains("no signatures"),
        "{}",
        base_check(&denied).reason
    );
    let mut other = r.clone();
    s.policy.complete_bases(
        &mut other,
        vec![decision(&format!("cgr.dev/chainguard/other@{base}"), true)],
    );
    assert_eq!(other.decision, Decision::Deny);
    assert_eq!(base_check(&other).code, ReasonCode::BaseImageDenied);
    let mut none = r;
    s.policy.complete_bases(&mut none, Vec::new());
    assert_eq!(none.decision, Decision::Deny);
}

#[test]
fn a_required_base_must_be_found_identified_and_listed() {
    let s = setup("{required: true, images: [\"cgr.dev/chainguard/**\"]}");
    let base = digest("base").to_string();
    let code = |a| base_check(&s.evaluate(IMAGE, a, None)).code;
    assert_eq!(code(BTreeMap::new()), ReasonCode::NoBaseImage);
    assert_eq!(
        code(annotations(Some("cgr.dev/chainguard/static"), None)),
        ReasonCode::BaseImageUnidentified
    );
    assert_eq!(code(annotations(None, Some(&base))), ReasonCode::BaseImageUnidentified);
    assert_eq!(
        code(annotations(Some("oci:/tmp/layout"), Some(&base))),
        ReasonCode::BaseImageUnidentified
    );
    let other = digest("other").to_string();
    assert_eq!(
        code(annotations(
            Some(&format!("cgr.dev/chainguard/static@{other}")),
            Some(&base)
        )),
        ReasonCode::BaseImageUnidentified
    );
    // A name that only looks like the pattern before normalisation.
    assert_eq!(
        code(annotations(Some("docker.io/library/alpine"), Some(&base))),
        ReasonCode::BaseImageNotListed
    );
    assert_eq!(
        code(annotations(Some("cgr.dev.evil.example/chainguard/static"), Some(&base))),
        ReasonCode::BaseImageNotListed
    );
    for a in [
        BTreeMap::new(),
        annotations(Some("docker.io/library/alpine"), Some(&base)),
    ] {
        let r = s.evaluate(IMAGE, a, None);
        assert_eq!(r.decision, Decision::Deny);
        assert!(r.pending_bases.is_empty(), "nothing to decide: {:?}", r.pending_bases);
    }
}

#[test]
fn provenance_names_a_base_only_once_verified_under_the_rule() {
    let s = setup("{required: true}");
    let hex = "c".repeat(64);
    let prov = provenance("pkg:docker/alpine@3.19?platform=linux%2Famd64", &hex);
    let r = s.evaluate(IMAGE, BTreeMap::new(), Some((&s.ci, prov.clone())));
    assert_eq!(
        base_check(&r).code,
        ReasonCode::BaseImageUndecided,
        "{}",
        r.render_human()
    );
    assert_eq!(
        r.pending_bases[0].reference,
        format!("docker.io/library/alpine@sha256:{hex}")
    );
    assert_eq!(r.pending_bases[0].source, "provenance");
    // twin: the same provenance signed by someone the rule does not trust names nothing
    let stranger = key();
    let r = s.evaluate(IMAGE, BTreeMap::new(), Some((&stranger, prov)));
    assert_eq!(base_check(&r).code, ReasonCode::NoBaseImage);
    assert!(r.pending_bases.is_empty());
}

#[test]
fn an_annotation_and_a_provenance_naming_one_digest_are_one_base() {
    let s = setup("{required: true}");
    let hex = "d".repeat(64);
    let prov = provenance("pkg:docker/library/alpine@3.19", &hex);
    let r = s.evaluate(
        IMAGE,
        annotations(Some("docker.io/library/alpine:3.19"), Some(&format!("sha256:{hex}"))),
        Some((&s.ci, prov)),
    );
    assert_eq!(r.pending_bases.len(), 1, "{:?}", r.pending_bases);
    assert_eq!(r.pending_bases[0].source, "annotation");
}

#[test]
fn an_optional_base_passes_when_none_is_named_and_exemptions_waive_it() {
    let s = setup("{images: [\"cgr.dev/chainguard/**\"]}");
    let r = s.evaluate(IMAGE, BTreeMap::new(), None);
    assert_eq!(base_check(&r).result, CheckResult::Pass);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    // twin: a named base is still held to the patterns
    let r = s.evaluate(
        IMAGE,
        annotations(Some("docker.io/library/alpine"), Some(&digest("b").to_string())),
        None,
    );
    assert_eq!(base_check(&r).code, ReasonCode::BaseImageNotListed);

    let s = setup("{required: true}");
    let r = s.evaluate("registry.acme.example/prod/legacy:v1", BTreeMap::new(), None);
    assert_eq!(base_check(&r).result, CheckResult::Waived);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
}

#[test]
fn lint_refuses_a_base_requirement_that_checks_nothing() {
    let (_, d) = load(&yaml("{}"), &[("release", &key()), ("ci", &key())]);
    assert!(
        d.items
            .iter()
            .any(|d| d.code == Code::InvalidValue && d.message.contains("baseImage")),
        "{d:?}"
    );
    let (_, d) = load(&yaml("{required: yes-please}"), &[("release", &key()), ("ci", &key())]);
    assert!(d.has_errors(), "{d:?}");
    let only_base = "apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
rules:
  - name: bases-only
    images: [\"registry.acme.example/**\"]
    baseImage: {required: true}
";
    let (p, d) = load(only_base, &[]);
    assert!(p.is_none());
    assert!(
        d.items
            .iter()
            .any(|d| d.code == Code::NoRequirements && d.message.contains("base image")),
        "{d:?}"
    );
}
