//! Images whose evidence could not be gathered: judged under the rule their
//! name matches (DESIGN §4.1, "Outcomes"). An `enforce` rule denies, `warn`
//! and `audit` rules allow and report the error; no rule, a rule that
//! cannot be told without the digest, and a layout's unknown recorded name
//! all fail closed.

use super::support::*;
use crate::digest::Digest;
use crate::policy::{CheckResult, Decision, Mode, Policy, ReasonCode};
use crate::reference::ImageRef;

const ERROR: &str = "cannot reach registry.example: connection refused";

/// A digest the `pinned` rule pins.
fn pinned_digest() -> Digest {
    digest("the pinned tool")
}

fn setup() -> Policy {
    let yaml = format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release: {{key: release.pub}}\nrules:\n  - name: prod\n    images: [\"registry.example/prod/**\"]\n    signatures: {{anyOf: [release]}}\n  - name: upstream\n    images: [\"registry.example/upstream/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: warn\n  - name: audit\n    images: [\"registry.example/audit/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: audit\n  - name: pinned\n    images: [\"registry.example/upstream/tool@{}\"]\n    signatures: {{anyOf: [release]}}\n  - name: sandbox\n    images: [\"oci:sandbox/**\"]\n    signatures: {{anyOf: [release]}}\n    mode: warn\n",
        pinned_digest()
    );
    policy(&yaml, &[("release", &key())])
}

fn image(reference: &str) -> ImageRef {
    reference.parse().expect("reference")
}

fn codes(r: &crate::policy::Report) -> Vec<ReasonCode> {
    r.checks.iter().map(|c| c.code).collect()
}

#[test]
fn the_mode_of_the_rule_the_name_matches_applies() {
    let policy = setup();
    for (reference, rule, mode, decision) in [
        ("registry.example/prod/app:v1", "prod", Mode::Enforce, Decision::Deny),
        (
            "registry.example/upstream/app:v1",
            "upstream",
            Mode::Warn,
            Decision::Allow,
        ),
        ("registry.example/audit/app:v1", "audit", Mode::Audit, Decision::Allow),
    ] {
        let d = digest(reference);
        let r = policy.evaluate_failure(&image(reference), Some(&d), ERROR, NOW);
        assert_eq!(r.decision, decision, "{reference}");
        assert_eq!(r.rule.as_deref(), Some(rule), "{reference}");
        assert_eq!(r.mode, Some(mode), "{reference}");
        assert_eq!(r.error.as_deref(), Some(ERROR), "{reference}");
        assert_eq!(r.digest.as_ref(), Some(&d));
        assert_eq!(codes(&r), [ReasonCode::EvidenceUnavailable], "{reference}");
        assert_eq!(r.checks[0].result, CheckResult::Fail);
        assert_eq!(r.checks[0].reason, format!("could not be evaluated: {ERROR}"));
        let json = r.to_json();
        assert_eq!(json["checks"][0]["code"], "evidence-unavailable");
        assert_eq!(json["rule"], rule);
    }
}

#[test]
fn no_matching_rule_still_denies() {
    let policy = setup();
    let reference = "registry.example/elsewhere/app:v1";
    for d in [None, Some(digest(reference))] {
        let r = policy.evaluate_failure(&image(reference), d.as_ref(), ERROR, NOW);
        assert_eq!(r.decision, Decision::Deny);
        assert_eq!(r.rule, None);
        assert_eq!(codes(&r), [ReasonCode::EvidenceUnavailable, ReasonCode::NoMatchingRule]);
        assert_eq!(r.checks[1].reason, "no rule matches registry.example/elsewhere/app:v1");
    }
}

#[test]
fn without_the_digest_a_rule_that_pins_one_keeps_the_image_denied() {
    let policy = setup();
    let tool = "registry.example/upstream/tool:v1";
    // unresolved: the image may be the pinned one (enforce) or not (warn)
    let r = policy.evaluate_failure(&image(tool), None, ERROR, NOW);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule, None);
    assert_eq!(r.digest, None);
    assert_eq!(codes(&r), [ReasonCode::EvidenceUnavailable, ReasonCode::NoMatchingRule]);
    // twins: once the digest is known, the rule is too
    let r = policy.evaluate_failure(&image(tool), Some(&pinned_digest()), ERROR, NOW);
    assert_eq!((r.decision, r.rule.as_deref()), (Decision::Deny, Some("pinned")));
    let r = policy.evaluate_failure(&image(tool), Some(&digest("another build")), ERROR, NOW);
    assert_eq!((r.decision, r.rule.as_deref()), (Decision::Allow, Some("upstream")));
    assert_eq!(codes(&r), [ReasonCode::EvidenceUnavailable]);
    // a reference that pins the digest needs no resolution to tell
    let r = policy.evaluate_failure(
        &image(&format!("registry.example/upstream/tool@{}", pinned_digest())),
        None,
        ERROR,
        NOW,
    );
    assert_eq!((r.decision, r.rule.as_deref()), (Decision::Deny, Some("pinned")));
    assert_eq!(r.digest, Some(pinned_digest()));
    // a name no digest-pinning rule can match is told without its digest
    let r = policy.evaluate_failure(&image("registry.example/upstream/other:v1"), None, ERROR, NOW);
    assert_eq!((r.decision, r.rule.as_deref()), (Decision::Allow, Some("upstream")));
    assert_eq!(r.matched_name.as_deref(), Some("registry.example/upstream/other:v1"));
}

#[test]
fn a_layout_image_is_enforced_because_its_recorded_name_is_unknown() {
    let policy = setup();
    let layout = image("oci:sandbox/app:v1");
    let r = policy.evaluate_failure(&layout, Some(&digest("layout")), ERROR, NOW);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("sandbox"));
    assert_eq!(r.mode, Some(Mode::Enforce));
    assert_eq!(codes(&r), [ReasonCode::EvidenceUnavailable]);
    assert!(r.notes[0].contains("is enforced, not warn"), "{:?}", r.notes);
}

#[test]
fn human_output_reports_the_error_under_the_rule() {
    let policy = setup();
    let reference = "registry.example/upstream/app:v1";
    let r = policy.evaluate_failure(&image(reference), Some(&digest(reference)), ERROR, NOW);
    let text = r.render_human();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("ERROR  registry.example/upstream/app:v1 (sha256:"),
        "{text}"
    );
    assert!(lines[0].ends_with(": rule upstream, warn"), "{text}");
    assert_eq!(lines[1], format!("       error  {ERROR}"));
    assert_eq!(
        lines[2],
        format!("       warn   evidence gathering: could not be evaluated: {ERROR} [evidence-unavailable]")
    );
    // no rule: the wording names the selection, not "a matching rule"
    let r = policy.evaluate_failure(&image("registry.example/elsewhere/app:v1"), None, ERROR, NOW);
    assert!(
        r.render_human()
            .contains("fail   rule selection: no rule matches registry.example/elsewhere/app:v1 [no-matching-rule]"),
        "{}",
        r.render_human()
    );
}

/// What a server decides before any registry I/O: only images no rule can
/// match, whatever their digest, are decided (denied); an image some rule
/// may match, a layout, and a tag a digest-pinning rule could claim all
/// need their evidence.
#[test]
fn images_no_rule_can_match_are_denied_without_evidence() {
    let policy = setup();
    for reference in [
        "registry.example/other/app:v1",
        "elsewhere.example/prod/app:v1",
        &format!("registry.example/other/app@{}", digest("x")),
    ] {
        let r = policy
            .evaluate_unmatched(&image(reference), NOW)
            .unwrap_or_else(|| panic!("{reference} is decided without evidence"));
        assert_eq!(r.decision, Decision::Deny, "{reference}");
        assert_eq!(codes(&r), [ReasonCode::NoMatchingRule], "{reference}");
        assert!(r.checks[0].reason.starts_with("no rule matches "), "{reference}");
        assert_eq!(r.rule, None);
        assert_eq!(r.error, None);
    }
    for reference in [
        "registry.example/prod/app:v1",
        "registry.example/audit/app:v1",
        // The `pinned` rule may claim this tag's digest, and `upstream` the rest.
        "registry.example/upstream/tool:v1",
        "oci:sandbox/x",
        "oci:elsewhere",
    ] {
        assert!(
            policy.evaluate_unmatched(&image(reference), NOW).is_none(),
            "{reference}"
        );
    }
    // A digest only the pinned rule names: decided by a rule, not here.
    let pinned = format!("registry.example/upstream/tool@{}", pinned_digest());
    assert!(policy.evaluate_unmatched(&image(&pinned), NOW).is_none());
}
