//! Truth tables for anyOf, allOf and threshold, empty lists and repeated
//! signatures included, and the rest of the decision semantics.

use serde_json::json;

use super::support::*;
use crate::policy::model::{Combinator, Rule};
use crate::policy::{CheckResult, Decision, Policy};

const IMAGE: &str = "registry.example/prod/app:v1";

/// Publishers a, b, c (distinct keys) and a2 (the same key as a).
fn setup(signatures: &str) -> (Policy, Vec<crate::keys::SigningKey>) {
    let keys = vec![key(), key(), key()];
    let yaml = format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  a: {{key: a.pub}}\n  b: {{key: b.pub}}\n  c: {{key: c.pub}}\n  a2: {{key: a.pub}}\nrules:\n  - name: prod\n    images: [\"registry.example/prod/**\"]\n    signatures: {signatures}\n"
    );
    let (p, d) = load(&yaml, &[("a", &keys[0]), ("b", &keys[1]), ("c", &keys[2])]);
    let p = p.unwrap_or_else(|| panic!("{}", d.render_human()));
    (p, keys)
}

/// Signers given as letters: "aab" = two signatures by a, one by b.
fn decide(policy: &Policy, keys: &[crate::keys::SigningKey], signers: &str) -> Decision {
    let d = digest_of(IMAGE);
    let sigs = signers
        .chars()
        .map(|c| signature(&keys[usize::from(c as u8 - b'a')], &d, &[]))
        .collect();
    policy.evaluate(&evidence(IMAGE, sigs, vec![]), NOW).decision
}

fn table(signatures: &str, rows: &[(&str, Decision)]) {
    let (policy, keys) = setup(signatures);
    for (signers, want) in rows {
        assert_eq!(
            decide(&policy, &keys, signers),
            *want,
            "{signatures} signed by {signers:?}"
        );
    }
}

use Decision::{Allow as A, Deny as D};

#[test]
fn any_of_truth_table() {
    table(
        "{anyOf: [a, b]}",
        &[
            ("", D),
            ("a", A),
            ("b", A),
            ("ab", A),
            ("c", D),
            ("cc", D),
            ("ac", A),
            ("aa", A),
        ],
    );
    table("{anyOf: [a]}", &[("", D), ("a", A), ("b", D), ("bc", D)]);
}

#[test]
fn all_of_truth_table() {
    table(
        "{allOf: [a, b]}",
        &[
            ("", D),
            ("a", D),
            ("b", D),
            ("ab", A),
            ("ba", A),
            ("aa", D),
            ("abc", A),
            ("ac", D),
            ("c", D),
        ],
    );
    table("{allOf: [a, b, c]}", &[("ab", D), ("abc", A), ("aabbc", A), ("bc", D)]);
}

#[test]
fn threshold_truth_table_counts_distinct_keys() {
    table(
        "{threshold: {count: 2, of: [a, b, c]}}",
        &[
            ("", D),
            ("a", D),
            ("aa", D),
            ("aaa", D),
            ("ab", A),
            ("ac", A),
            ("bc", A),
            ("abc", A),
            ("bb", D),
            ("cbb", A),
        ],
    );
    table(
        "{threshold: {count: 3, of: [a, b, c]}}",
        &[("ab", D), ("abc", A), ("aabb", D)],
    );
    table("{threshold: {count: 1, of: [a, b, c]}}", &[("", D), ("c", A)]);
    // Two names for one key count once (the lint warns about the duplicate).
    table(
        "{threshold: {count: 2, of: [a, a2, b]}}",
        &[("a", D), ("aa", D), ("ab", A)],
    );
}

#[test]
fn empty_lists_and_bad_thresholds_met_by_the_engine_deny() {
    let (mut policy, keys) = setup("{anyOf: [a]}");
    for combinator in [
        Combinator::AnyOf(vec![]),
        Combinator::AllOf(vec![]),
        Combinator::Threshold { count: 1, of: vec![] },
        Combinator::Threshold {
            count: 0,
            of: vec!["a".into()],
        },
        Combinator::Threshold {
            count: 2,
            of: vec!["a".into()],
        },
        Combinator::AnyOf(vec!["nobody".into()]),
    ] {
        policy.rules[0].signatures.as_mut().expect("signatures").combinator = combinator.clone();
        assert_eq!(decide(&policy, &keys, "abc"), D, "{combinator:?}");
    }
}

#[test]
fn signatures_for_another_digest_or_without_annotations_do_not_count() {
    let (policy, keys) = setup("{anyOf: [a], annotations: {env: prod}}");
    let d = digest_of(IMAGE);
    let other = digest_of("registry.example/prod/other:v1");
    let run = |sigs| policy.evaluate(&evidence(IMAGE, sigs, vec![]), NOW);
    assert_eq!(run(vec![signature(&keys[0], &d, &[("env", "prod")])]).decision, A);
    let r = run(vec![signature(&keys[0], &d, &[("env", "dev")])]);
    assert_eq!(r.decision, D);
    assert!(
        r.checks[0].details.iter().any(|l| l.contains("env=prod is required")),
        "{:?}",
        r.checks[0]
    );
    let r = run(vec![signature(&keys[0], &other, &[("env", "prod")])]);
    assert_eq!(r.decision, D);
    assert!(
        r.checks[0].details.iter().any(|l| l.contains("signature is for image")),
        "{:?}",
        r.checks[0]
    );
}

fn rule(policy: &mut Policy) -> &mut Rule {
    &mut policy.rules[0]
}

#[test]
fn unmatched_images_deny_and_modes_never_block() {
    let (mut policy, keys) = setup("{anyOf: [a]}");
    let r = policy.evaluate(&evidence("registry.example/staging/app:v1", vec![], vec![]), NOW);
    assert_eq!(r.decision, D);
    assert_eq!(r.rule, None);
    assert_eq!(r.checks[0].reason, "no rule matches registry.example/staging/app:v1");
    for (mode, want) in [
        (crate::policy::Mode::Warn, A),
        (crate::policy::Mode::Audit, A),
        (crate::policy::Mode::Enforce, D),
    ] {
        rule(&mut policy).mode = mode;
        let r = policy.evaluate(&evidence(IMAGE, vec![], vec![]), NOW);
        assert_eq!(r.decision, want, "{mode}");
        assert_eq!(
            r.checks[0].result,
            CheckResult::Fail,
            "the finding is reported in {mode} mode"
        );
    }
    let _ = keys;
}

#[test]
fn errors_deny_and_the_report_names_everything() {
    let (policy, _) = setup("{anyOf: [a]}");
    let r = policy.evaluate_failure(IMAGE, "cannot reach registry.example: connection refused", NOW);
    assert_eq!(r.decision, D);
    assert_eq!(
        r.error.as_deref(),
        Some("cannot reach registry.example: connection refused")
    );
    let json = r.to_json();
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["policyDigest"], json!(policy.digest.to_string()));
    assert_eq!(json["evaluatedAt"], "2026-06-01T00:00:00Z");
}
