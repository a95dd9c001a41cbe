//! Every diagnostic code, with its line and column.

use super::support::{NOW, key, load};
use crate::policy::{Code, Severity};

const HEAD: &str =
    "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  a: {key: a.pub}\n  b: {key: b.pub}\n";

/// Compiles `HEAD + body` and returns (code, line, column) of every diagnostic.
fn diagnostics(body: &str) -> Vec<(Code, usize, usize)> {
    let (ka, kb) = (key(), key());
    let (_, d) = load(&format!("{HEAD}{body}"), &[("a", &ka), ("b", &kb)]);
    d.items
        .iter()
        .map(|d| {
            (
                d.code,
                d.line_column().map_or(0, |p| p.0),
                d.line_column().map_or(0, |p| p.1),
            )
        })
        .collect()
}

/// The 1-based line and column where `needle` (the `nth` occurrence, from 1) starts in `text`.
fn place(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset = text
        .match_indices(needle)
        .nth(nth - 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Asserts a diagnostic `code` starting exactly where `needle` (nth occurrence) is written.
fn assert_at(body: &str, code: Code, needle: &str, nth: usize) {
    let (line, column) = place(&format!("{HEAD}{body}"), needle, nth);
    let found = diagnostics(body);
    assert!(
        found.contains(&(code, line, column)),
        "want {} at {line}:{column}, found {found:?}",
        code.as_str()
    );
}

#[test]
fn each_code_at_its_place() {
    let rule = "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: [a]}\n";
    // line 6 is "rules:", rule body from line 7
    assert_at(&format!("{rule}    colour: blue\n"), Code::UnknownField, "colour", 1);
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: [nobody]}\n",
        Code::UnknownPublisher,
        "nobody",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: []}\n",
        Code::EmptyAnyOf,
        "[]}",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {allOf: []}\n",
        Code::EmptyAnyOf,
        "[]}",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {threshold: {count: 3, of: [a, b]}}\n",
        Code::InvalidThreshold,
        "3,",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {threshold: {count: 0, of: [a]}}\n",
        Code::InvalidThreshold,
        "0,",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: [a], allOf: [b]}\n",
        Code::ConflictingFields,
        "allOf",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    attestations:\n      - predicateType: https://x/y\n        signedBy: [a]\n        condition: \"predicate.x == )\"\n",
        Code::InvalidCel,
        ")",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n",
        Code::NoRequirements,
        "name: r",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    allowUnverified: true\n",
        Code::AllowUnverified,
        "allowUnverified",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [alpine]\n    signatures: {anyOf: [a]}\n",
        Code::NeverMatches,
        "alpine",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"docker.io/*\"]\n    signatures: {anyOf: [a]}\n",
        Code::NeverMatches,
        "\"docker.io",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"acme/**\"]\n    signatures: {anyOf: [a]}\n",
        Code::NeverMatches,
        "\"acme",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: []\n    signatures: {anyOf: [a]}\n",
        Code::NeverMatches,
        "[]",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/app:v1\"]\n    signatures: {anyOf: [a]}\n",
        Code::MutableTag,
        "\"r.io/app:v1",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/a/***\"]\n    signatures: {anyOf: [a]}\n",
        Code::InvalidPattern,
        "\"r.io/a/***",
        1,
    );
    assert_at(
        "rules:\n  - name: one\n    images: [\"r.io/*/x*\"]\n    signatures: {anyOf: [a]}\n  - name: two\n    images: [\"r.io/*/*x\"]\n    signatures: {anyOf: [b]}\n",
        Code::OverlappingRules,
        "\"r.io/*/*x",
        1,
    );
    // more specific patterns win, so these do not tie
    let ranked = "rules:\n  - name: one\n    images: [\"r.io/prod/*\"]\n    signatures: {anyOf: [a]}\n  - name: two\n    images: [\"r.io/*/app\", \"r.io/prod/**\"]\n    signatures: {anyOf: [b]}\n";
    assert_eq!(diagnostics(ranked), []);
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: [a]}\n  - name: r\n    images: [\"q.io/**\"]\n    signatures: {anyOf: [a]}\n",
        Code::DuplicateRuleName,
        "name: r",
        2,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {anyOf: [a]}\n    mode: loud\n",
        Code::InvalidValue,
        "loud",
        1,
    );
    let exemption = |expires: &str| {
        format!(
            "{rule}exemptions:\n  - images: [\"r.io/legacy\"]\n    waive: [attestations]\n    reason: vendor\n    owner: platform\n    expires: {expires}\n"
        )
    };
    assert_at(
        &exemption("2026-01-01T00:00:00Z"),
        Code::ExpiredExemption,
        "images: [\"r.io/legacy",
        1,
    );
    assert_at(&exemption("next tuesday"), Code::InvalidDate, "next tuesday", 1);
    assert!(
        !diagnostics(&exemption("2027-01-31T00:00:00Z"))
            .iter()
            .any(|d| d.0 == Code::ExpiredExemption)
    );
    assert_at(
        &format!("{rule}exemptions:\n  - images: [\"r.io/x\"]\n    waive: all\n    reason: r\n    owner: o\n"),
        Code::MissingField,
        "images: [\"r.io/x",
        1,
    );
    assert_at(
        "rules:\n  - name: r\n    images: [r.io/a, r.io/a]\n    signatures: {anyOf: [a, b], annotations: x}\n",
        Code::InvalidValue,
        "x}",
        1,
    );
}

#[test]
fn publisher_codes() {
    let k = key();
    let cases: Vec<(String, Code, &str)> = vec![
        ("publishers:\n  a: {key: missing.pub}\nrules: []\n".into(), Code::UnreadableFile, "missing.pub"),
        ("publishers:\n  a: {keyData: not a key}\nrules: []\n".into(), Code::InvalidKey, "not a key"),
        ("publishers:\n  a: {key: a.pub, keyData: x}\nrules: []\n".into(), Code::ConflictingFields, "keyData"),
        ("publishers:\n  a: {}\nrules: []\n".into(), Code::MissingField, "a: {}"),
        ("publishers:\n  gh:\n    keyless: {issuer: https://x, subjectRegExp: \"(unclosed\"}\nrules: []\n".into(), Code::InvalidRegex, "\"(unclosed"),
        ("publishers:\n  gh:\n    keyless: {issuer: https://x, issuerRegExp: x, subject: s}\nrules: []\n".into(), Code::ConflictingFields, "issuerRegExp"),
        ("publishers:\n  gh:\n    keyless: {issuer: https://x, subject: s, extensions: {sourceRepoOwner: x}}\nrules: []\n".into(), Code::UnknownField, "sourceRepoOwner"),
        ("publishers:\n  gh:\n    keyless: {issuer: https://x, subject: s, trustedRoot: nope.json}\nrules: []\n".into(), Code::UnreadableFile, "nope.json"),
        ("publishers:\n  ca:\n    certificate: {roots: a.pub, identity: x}\nrules: []\n".into(), Code::InvalidTrustRoot, "a.pub, identity"),
        ("publishers:\n  gh:\n    keyless: {issuer: https://x, subject: s, trustedRoot: a.pub}\nrules: []\n".into(), Code::InvalidTrustRoot, "a.pub}"),
        ("publishers:\n  a: {key: a.pub}\n  a2: {key: a.pub}\nrules:\n  - name: r\n    images: [\"r.io/**\"]\n    signatures: {threshold: {count: 1, of: [a, a2]}}\n".into(), Code::DuplicatePublisher, "{threshold"),
        ("publishers: {}\nrules: []\nextra: 1\n".into(), Code::UnknownField, "extra"),
    ];
    for (body, code, needle) in cases {
        let text = format!("apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\n{body}");
        let (line, column) = place(&text, needle, 1);
        let (_, d) = load(&text, &[("a", &k)]);
        let found: Vec<_> = d.items.iter().map(|d| (d.code, d.line_column())).collect();
        assert!(
            found.contains(&(code, Some((line, column)))),
            "want {} at {line}:{column} in\n{body}\nfound {found:?}",
            code.as_str()
        );
    }
}

/// Trust material a publisher names is parsed when the policy loads: a
/// broken trusted root or CA roots file is an `invalid-trust-root` error at
/// the file name, and a good one loads without a diagnostic.
#[test]
fn trust_material_is_checked_at_load_time() {
    use crate::policy::{MemoryFiles, compile};
    use std::path::Path;

    let ca = super::support::TestCa::new("corp");
    let media = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";
    let good_root = crate::testdata::read("trust/trusted_root.json");
    let broken_cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_owned();
    let files = MemoryFiles::default()
        .with("/policies/root.json", good_root)
        .with("/policies/not-json.json", "{{{")
        .with("/policies/other.json", r#"{"mediaType": "application/json"}"#)
        .with(
            "/policies/shape.json",
            format!(r#"{{"mediaType": "{media}", "tlogs": "x"}}"#),
        )
        .with("/policies/ca.pem", ca.pem.clone())
        .with("/policies/broken.pem", broken_cert)
        .with(
            "/policies/mixed.pem",
            format!("{}-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", ca.pem),
        )
        .with("/policies/empty.pem", "");
    let keyless = |root: &str| {
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  gh:\n    keyless: {{issuer: https://x, subject: s, trustedRoot: {root}}}\nrules: []\n"
        )
    };
    let certificate = |roots: &str| {
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  ca:\n    certificate: {{roots: {roots}, identity: x}}\nrules: []\n"
        )
    };
    let codes = |text: &str| {
        let (_, d) = compile(text, Path::new("/policies/policy.yaml"), NOW, &files);
        d.items.iter().map(|d| (d.code, d.line_column())).collect::<Vec<_>>()
    };
    assert_eq!(codes(&keyless("root.json")), []);
    assert_eq!(codes(&certificate("ca.pem")), []);
    for name in ["not-json.json", "other.json", "shape.json"] {
        let text = keyless(name);
        assert_eq!(
            codes(&text),
            [(Code::InvalidTrustRoot, Some(place(&text, name, 1)))],
            "{name}"
        );
    }
    for name in ["broken.pem", "mixed.pem", "empty.pem", "root.json"] {
        let text = certificate(name);
        assert_eq!(
            codes(&text),
            [(Code::InvalidTrustRoot, Some(place(&text, name, 1)))],
            "{name}"
        );
    }
    assert_eq!(Code::InvalidTrustRoot.as_str(), "invalid-trust-root");
    assert_eq!(Code::InvalidTrustRoot.severity(), Severity::Error);
}

#[test]
fn syntax_kind_and_duplicates() {
    let cases = [
        (
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\nrules: [\n",
            Code::Syntax,
        ),
        (
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\nrules: []\nrules: []\n",
            Code::DuplicateKey,
        ),
        (
            "apiVersion: sigil.dev/v2\nkind: ImagePolicy\nrules: []\n",
            Code::WrongKind,
        ),
        ("", Code::MissingField),
    ];
    for (text, code) in cases {
        let (p, d) = load(text, &[]);
        assert!(p.is_none());
        assert!(d.items.iter().any(|x| x.code == code), "{text:?}: {:?}", d.items);
    }
}

#[test]
fn all_problems_are_reported_at_once_and_rendered() {
    let k = key();
    let text = "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  a: {key: a.pub, colour: red}\nrules:\n  - name: r\n    images: [alpine]\n    signatures: {anyOf: [b]}\n    mode: loud\n";
    let (p, d) = load(text, &[("a", &k)]);
    assert!(p.is_none());
    let codes: Vec<&str> = d.items.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(
        codes,
        ["unknown-field", "never-matches", "unknown-publisher", "invalid-value"]
    );
    let human = d.render_human();
    assert!(
        human.contains("error[unknown-field]: unknown field `colour` in publisher `a`"),
        "{human}"
    );
    assert!(human.contains("policy.yaml:4:19"), "{human}");
    assert!(
        human.contains("4 |   a: {key: a.pub, colour: red}\n  |                   ^^^^^^"),
        "{human}"
    );
    assert!(human.contains("= help: write \"docker.io/library/alpine\""), "{human}");
    let json = d.to_json();
    assert_eq!(json["errors"], 4);
    assert_eq!(json["diagnostics"][0]["code"], "unknown-field");
    assert_eq!(json["diagnostics"][0]["span"]["line"], 4);
    assert_eq!(json["diagnostics"][0]["span"]["column"], 19);
    assert!(d.items.iter().all(|d| d.severity == Severity::Error));
    let _ = NOW;
}

#[test]
fn json_policies_get_the_same_spans() {
    let k = key();
    let text = "{\"apiVersion\": \"sigil.dev/v1alpha1\", \"kind\": \"ImagePolicy\",\n \"publishers\": {\"a\": {\"key\": \"a.pub\"}},\n \"rules\": [{\"name\": \"r\", \"images\": [\"r.io/**\"], \"signatures\": {\"anyOf\": [\"zz\"]}}]}\n";
    let (_, d) = load(text, &[("a", &k)]);
    let found: Vec<_> = d.items.iter().map(|d| (d.code, d.line_column())).collect();
    assert_eq!(found, [(Code::UnknownPublisher, Some(place(text, "\"zz\"", 1)))]);
}

#[test]
fn every_problem_is_reported_at_once() {
    // A broken publisher, a rule naming it, a typo'd publisher, and two rules
    // that tie: each reported once, in one run, without a cascade.
    let body = concat!(
        "  broken: {key: missing.pub}\n",
        "rules:\n  - name: one\n    images: [\"r.io/app/**\"]\n    signatures: {anyOf: [broken]}\n",
        "  - name: two\n    images: [\"r.io/app/**\"]\n    signatures: {anyOf: [bb]}\n",
    );
    let found = diagnostics(body);
    let codes: Vec<Code> = found.iter().map(|f| f.0).collect();
    assert!(codes.contains(&Code::UnreadableFile), "{found:?}");
    assert!(
        codes.contains(&Code::OverlappingRules),
        "ties are reported beside other errors: {found:?}"
    );
    let unknown: Vec<_> = found.iter().filter(|f| f.0 == Code::UnknownPublisher).collect();
    assert_eq!(unknown.len(), 1, "only `bb`, not the broken publisher: {found:?}");
    let (ka, kb) = (key(), key());
    let (_, d) = load(&format!("{HEAD}{body}"), &[("a", &ka), ("b", &kb)]);
    let typo = d.items.iter().find(|d| d.code == Code::UnknownPublisher).expect("typo");
    assert!(
        typo.help.as_deref().is_some_and(|h| h.starts_with("did you mean `b`?")),
        "{typo:?}"
    );
}

#[test]
fn a_content_check_under_a_type_it_cannot_read_is_an_error() {
    let rule = |predicate: &str, check: &str| {
        format!(
            "rules:\n  - name: r\n    images: [\"r.io/**\"]\n    attestations:\n      - predicateType: {predicate}\n        signedBy: [a]\n        {check}\n"
        )
    };
    let sbom = "sbom: {deniedPackages: [\"pkg:npm/left-pad\"]}";
    assert_at(
        &rule("https://slsa.dev/provenance/v1", sbom),
        Code::InapplicableCheck,
        "sbom",
        1,
    );
    assert_at(
        &rule("https://cyclonedx.org/bom", "slsa: {builderIds: [\"https://b\"]}"),
        Code::InapplicableCheck,
        "slsa",
        1,
    );
    assert_at(
        &rule("https://spdx.dev/Document", "vulnerabilities: {maxSeverity: high}"),
        Code::InapplicableCheck,
        "vulnerabilities",
        1,
    );
    // Twins: each where it reads.
    for ok in [
        rule("https://cyclonedx.org/bom", sbom),
        rule("https://spdx.dev/Document", sbom),
        rule(
            "https://slsa.dev/provenance/v0.2",
            "slsa: {builderIds: [\"https://b\"]}",
        ),
        rule("https://example.com/any/v1", "condition: \"true\""),
    ] {
        let found = diagnostics(&ok);
        assert!(!found.iter().any(|f| f.0 == Code::InapplicableCheck), "{ok}: {found:?}");
    }
}
