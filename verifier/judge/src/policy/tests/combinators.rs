//! Truth tables for anyOf, allOf and threshold, empty lists and repeated
//! signatures included, and the rest of the decision semantics.

use serde_json::json;

use super::support::*;
use crate::policy::model::{Combinator, Rule};
use crate::policy::threshold::distinct_publishers;
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
    table(
        "{threshold: {count: 2, of: [a, a2]}}",
        &[("", D), ("a", D), ("aa", D), ("b", D), ("ab", D)],
    );
    table(
        "{threshold: {count: 3, of: [a, a2, b, c]}}",
        &[("ab", D), ("abb", D), ("aabc", A), ("bc", D), ("abc", A)],
    );
}

/// Publisher sets written as letters: "xy" = the publisher verified signers x and y.
fn counted(sets: &[&str]) -> Vec<String> {
    let names = ["p0", "p1", "p2", "p3"];
    let satisfied: Vec<(&str, std::collections::BTreeSet<String>)> = sets
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| (names[i], s.chars().map(String::from).collect()))
        .collect();
    distinct_publishers(&satisfied).into_iter().map(str::to_owned).collect()
}

/// The largest number of publishers that can be given pairwise-distinct
/// signers, by trying every assignment (the definition, slowly).
fn brute_force(sets: &[&str]) -> usize {
    fn best(sets: &[&str], used: &mut Vec<char>) -> usize {
        let Some((first, rest)) = sets.split_first() else {
            return 0;
        };
        let mut most = best(rest, used);
        for signer in first.chars() {
            if !used.contains(&signer) {
                used.push(signer);
                most = most.max(1 + best(rest, used));
                used.pop();
            }
        }
        most
    }
    best(sets, &mut Vec::new())
}

#[test]
fn threshold_counts_each_publisher_once_and_only_with_its_own_signer() {
    // (what each publisher's signatures were verified by) -> publishers counted
    let rows: &[(&[&str], &[&str])] = &[
        (&[], &[]),
        (&["", ""], &[]),
        (&["x"], &["p0"]),
        // two identities matching one publisher are one publisher (issue 8: corp alone met 2-of-[corp, security])
        (&["xy", ""], &["p0"]),
        (&["xyz"], &["p0"]),
        // two names for one key count once
        (&["x", "x"], &["p0"]),
        (&["x", "x", "x"], &["p0"]),
        (&["x", "y"], &["p0", "p1"]),
        // a shared key cannot pay for both, but another signer of one of them can
        (&["x", "xy"], &["p0", "p1"]),
        (&["xy", "x"], &["p0", "p1"]),
        (&["x", "x", "xy"], &["p0", "p2"]),
        (&["xy", "xy", "xy"], &["p0", "p1"]),
        // the first choice must give way (an augmenting path)
        (&["xy", "y", "x"], &["p0", "p1"]),
        (&["xy", "yz", "z"], &["p0", "p1", "p2"]),
        (&["", "x", "", "x"], &["p1"]),
    ];
    for (sets, want) in rows {
        assert_eq!(counted(sets), *want, "{sets:?}");
    }
    // every combination of 3 publishers over 3 signers: the size is the maximum
    // matching, and the publishers returned do have distinct signers
    let subsets = ["", "x", "y", "z", "xy", "xz", "yz", "xyz"];
    for a in subsets {
        for b in subsets {
            for c in subsets {
                let sets = [a, b, c];
                let got = counted(&sets);
                assert_eq!(got.len(), brute_force(&sets), "{sets:?}");
                let chosen: Vec<&str> = got.iter().map(|p| sets[usize::from(p.as_bytes()[1] - b'0')]).collect();
                assert_eq!(
                    brute_force(&chosen),
                    chosen.len(),
                    "{sets:?}: {got:?} share their only signers"
                );
            }
        }
    }
}

#[test]
fn a_threshold_of_publishers_is_not_met_by_two_identities_of_one() {
    let corp_ca = TestCa::new("corp");
    let security_key = key();
    let yaml = "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  corp:\n    certificate: {roots: corp.pem, identityRegExp: '.+@corp\\.example'}\n  corp-all:\n    certificate: {roots: corp.pem, identityRegExp: '.+'}\n  security: {key: security.pub}\nrules:\n  - name: two-orgs\n    images: [\"registry.example/prod/**\"]\n    signatures: {threshold: {count: 2, of: [corp, security]}}\n  - name: overlapping\n    images: [\"registry.example/shared/**\"]\n    signatures: {threshold: {count: 2, of: [corp, corp-all]}}\n";
    let policy = policy_with_roots(yaml, &[("security", &security_key)], &[("corp", &corp_ca)]);
    let (alice, alice_cert) = corp_ca.leaf("alice@corp.example");
    let (bob, bob_cert) = corp_ca.leaf("bob@corp.example");
    let run = |image: &str, who: &[&str]| {
        let d = digest_of(image);
        let sigs = who
            .iter()
            .map(|w| match *w {
                "alice" => certificate_signature(&alice, &alice_cert, &d),
                "bob" => certificate_signature(&bob, &bob_cert, &d),
                _ => signature(&security_key, &d, &[]),
            })
            .collect();
        policy.evaluate(&evidence(image, sigs, vec![]), NOW)
    };
    let prod = "registry.example/prod/app:v1";
    // two corp identities are one publisher: today's bypass, now denied
    let r = run(prod, &["alice", "bob"]);
    assert_eq!(r.decision, D, "{}", r.render_human());
    assert!(
        r.checks[0]
            .reason
            .starts_with("1 distinct publisher(s), 2 required (valid: [corp]"),
        "{}",
        r.checks[0].reason
    );
    assert_eq!(r.checks[0].details[0], "corp: 2 valid signature(s)");
    // twins: corp and security each signing meets it; either alone does not
    let r = run(prod, &["alice", "security"]);
    assert_eq!(r.decision, A, "{}", r.render_human());
    assert_eq!(
        r.checks[0].reason,
        "2 distinct publisher(s) of 2 required: [corp, security]"
    );
    assert_eq!(run(prod, &["alice"]).decision, D);
    assert_eq!(run(prod, &["security", "security"]).decision, D);
    // two publishers whose identities overlap: one signer pays for one publisher only,
    // two distinct signers can pay for both (the maximum matching)
    let shared = "registry.example/shared/app:v1";
    let r = run(shared, &["alice"]);
    assert_eq!(r.decision, D);
    assert!(
        r.checks[0]
            .reason
            .starts_with("1 distinct publisher(s), 2 required (valid: [corp, corp-all]")
    );
    assert_eq!(run(shared, &["alice", "alice"]).decision, D);
    assert_eq!(run(shared, &["alice", "bob"]).decision, A);
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
    let image: crate::reference::ImageRef = IMAGE.parse().expect("reference");
    let r = policy.evaluate_failure(&image, None, "cannot reach registry.example: connection refused", NOW);
    assert_eq!(r.decision, D);
    assert_eq!(r.checks[0].code, crate::policy::ReasonCode::EvidenceUnavailable);
    assert_eq!(
        r.error.as_deref(),
        Some("cannot reach registry.example: connection refused")
    );
    let json = r.to_json();
    assert_eq!(json["decision"], "deny");
    assert_eq!(json["policyDigest"], json!(policy.digest.to_string()));
    assert_eq!(json["evaluatedAt"], "2026-06-01T00:00:00Z");
}
