//! `sigil policy export --format containers-policy P`: the part of a sigil
//! policy that containers-policy.json(5) can express, so CRI-O, podman and
//! skopeo enforce it at the node with the containers/image library they
//! already have.
//!
//! The target is containers/image's policy format as documented in its
//! `docs/containers-policy.json.5.md` (v5.37 development branch); a single
//! key uses `keyData`, known to every containers/image that has
//! `sigstoreSigned` (v5.22 onwards); several keys in one `anyOf` use
//! `keyDatas`, which needs containers/image v5.33 or later (an older one
//! refuses the whole file, so it fails closed).
//!
//! The export is all or nothing: every rule, every image pattern and every
//! exemption must map exactly, else nothing is written and each one that
//! cannot is named with the reason. Mapping:
//!
//! - no rule matches (sigil denies) → `"default": [{"type": "reject"}]`;
//! - image pattern `HOST/PATH/**` → docker scope `HOST/PATH`; an exact
//!   repository → that repository; `**` → the docker transport's `""` scope.
//!   containers/image picks the longest matching scope by path components,
//!   which agrees with sigil's "longer literal prefix wins" for these forms.
//!   One widening: the scope `HOST/PATH` also covers the repository
//!   `HOST/PATH` itself, which `HOST/PATH/**` does not match;
//! - `signatures: anyOf: [one key]` → one `sigstoreSigned` with `keyData`
//!   (base64 of the key's PEM) and `signedIdentity: matchRepository` (cosign
//!   signatures name only a repository); `anyOf` of several keys → one
//!   `sigstoreSigned` with `keyDatas`; `allOf` of keys → one `sigstoreSigned`
//!   per key (a scope's requirements are all required);
//! - `allowUnverified: true` → `insecureAcceptAnything`.
//!
//! Everything else is refused: attestations, thresholds, signed-annotation
//! requirements, keyless and certificate publishers, `mode: warn|audit`,
//! patterns with other wildcards, tags, digests or `oci:`, two rules on one
//! scope, and exemptions.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde_json::{Value, json};
use sigil_verifier::policy::glob::Pin;
use sigil_verifier::policy::model::{Combinator, Mode, Rule};
use sigil_verifier::policy::{Pattern, Policy};
use sigil_verifier::verify::Authority;

/// Why one part of a policy has no containers-policy.json equivalent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inexpressible {
    /// `rule NAME` or `exemption N`.
    pub what: String,
    pub why: String,
}

impl fmt::Display for Inexpressible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.why)
    }
}

/// The containers-policy.json document for `policy`, or every reason it
/// cannot be written.
pub fn containers_policy(policy: &Policy) -> Result<Value, Vec<Inexpressible>> {
    let mut problems = Vec::new();
    // scope -> (rule name, requirements)
    let mut scopes: BTreeMap<String, (String, Value)> = BTreeMap::new();
    for rule in &policy.rules {
        let what = format!("rule {}", rule.name);
        let requirements = requirements(policy, rule);
        let mut rule_scopes = Vec::new();
        for (pattern, _) in &rule.images {
            match scope(pattern) {
                Ok(s) => rule_scopes.push(s),
                Err(why) => problems.push(Inexpressible {
                    what: what.clone(),
                    why,
                }),
            }
        }
        let requirements = match requirements {
            Ok(r) => r,
            Err(reasons) => {
                problems.extend(reasons.into_iter().map(|why| Inexpressible {
                    what: what.clone(),
                    why,
                }));
                continue;
            }
        };
        for s in rule_scopes {
            if let Some((other, _)) = scopes.get(&s) {
                if other != &rule.name {
                    problems.push(Inexpressible {
                        what: what.clone(),
                        why: format!(
                            "its scope {} is also rule {other}'s (containers-policy.json has one requirement list per scope)",
                            display_scope(&s)
                        ),
                    });
                }
                continue;
            }
            scopes.insert(s, (rule.name.clone(), requirements.clone()));
        }
    }
    for exemption in &policy.exemptions {
        problems.push(Inexpressible {
            what: format!("exemption {}", exemption.index + 1),
            why:
                "exemptions cannot be expressed (containers-policy.json has no waivers or expiry); remove it to export"
                    .to_owned(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let docker: serde_json::Map<String, Value> = scopes.into_iter().map(|(s, (_, r))| (s, r)).collect();
    Ok(json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": docker},
    }))
}

fn display_scope(scope: &str) -> String {
    if scope.is_empty() {
        "\"\" (every docker image)".to_owned()
    } else {
        scope.to_owned()
    }
}

/// The docker-transport scope a pattern means exactly, or why there is none.
fn scope(pattern: &Pattern) -> Result<String, String> {
    let text = pattern.as_str();
    if text.starts_with("oci:") {
        return Err(format!(
            "pattern {text}: oci: layouts are not registry images (containers-policy.json scopes oci: by path, not by the names sigil matches)"
        ));
    }
    match pattern.pin() {
        Pin::None => {}
        Pin::Tag(_) => {
            return Err(format!(
                "pattern {text}: a tag pin cannot be expressed (a containers-policy.json tag scope misses digest references)"
            ));
        }
        Pin::Digest(_) => {
            return Err(format!(
                "pattern {text}: a digest pin cannot be expressed (a containers-policy.json digest scope misses tag references)"
            ));
        }
    }
    if let Some(repository) = pattern.literal_repository() {
        return Ok(repository);
    }
    if text == "**" {
        return Ok(String::new());
    }
    // `LITERAL/**` as written: no wildcard before the final `/**`. The scope
    // is the canonical literal prefix (host lower-cased, as sigil matches).
    if let Some(literal) = text.strip_suffix("/**")
        && !literal.is_empty()
        && !literal.contains(['*', '?'])
    {
        let prefix = pattern.literal_prefix();
        return Ok(prefix.strip_suffix('/').unwrap_or(&prefix).to_owned());
    }
    Err(format!(
        "pattern {text}: only an exact repository, PREFIX/** and ** can be expressed (containers-policy.json scopes are a repository, a namespace or a host)"
    ))
}

/// The requirement list of a rule, or every reason it has none.
fn requirements(policy: &Policy, rule: &Rule) -> Result<Value, Vec<String>> {
    let mut why = Vec::new();
    if rule.mode != Mode::Enforce {
        why.push(format!(
            "mode {} cannot be expressed (containers-policy.json only accepts or rejects)",
            rule.mode
        ));
    }
    if !rule.attestations.is_empty() {
        why.push("attestations cannot be expressed (containers-policy.json checks signatures only)".to_owned());
    }
    let mut out = Vec::new();
    match &rule.signatures {
        None if rule.allow_unverified && rule.attestations.is_empty() => {
            out.push(json!({"type": "insecureAcceptAnything"}));
        }
        None => {}
        Some(requirement) => {
            if !requirement.annotations.is_empty() {
                why.push("signed annotations cannot be expressed (sigstoreSigned checks no annotations)".to_owned());
            }
            match &requirement.combinator {
                Combinator::Threshold { .. } => {
                    why.push(format!(
                        "{} cannot be expressed (containers-policy.json has no thresholds)",
                        requirement.combinator
                    ));
                }
                combinator => {
                    let mut keys = Vec::new();
                    for name in combinator.publishers() {
                        match policy.publishers.get(name).map(|p| &p.authority) {
                            Some(Authority::Key(key)) => {
                                keys.push(base64::engine::general_purpose::STANDARD.encode(key.to_pem()));
                            }
                            Some(Authority::Keyless { .. }) => why.push(format!(
                                "publisher {name} is keyless: keyless identities need fulcio CA and rekor key files, not exported"
                            )),
                            Some(Authority::Certificate { .. }) => why.push(format!(
                                "publisher {name} is a certificate (PKI) publisher: sigil's certificate identities have no exact pki equivalent, not exported"
                            )),
                            Some(Authority::Notation(_)) => why.push(format!(
                                "publisher {name} is a notation publisher: containers-policy.json cannot verify Notary Project signatures, not exported"
                            )),
                            None => why.push(format!("publisher {name} is not defined")),
                        }
                    }
                    if keys.is_empty() && why.is_empty() {
                        // An empty list denies in sigil (the lint refuses it).
                        out.push(json!({"type": "reject"}));
                    }
                    match combinator {
                        Combinator::AnyOf(_) if keys.len() == 1 => out.push(sigstore_signed("keyData", json!(keys[0]))),
                        Combinator::AnyOf(_) if keys.len() > 1 => out.push(sigstore_signed("keyDatas", json!(keys))),
                        _ => out.extend(keys.iter().map(|k| sigstore_signed("keyData", json!(k)))),
                    }
                }
            }
        }
    }
    if why.is_empty() {
        Ok(Value::Array(out))
    } else {
        Err(why)
    }
}

fn sigstore_signed(field: &str, keys: Value) -> Value {
    json!({
        "type": "sigstoreSigned",
        field: keys,
        "signedIdentity": {"type": "matchRepository"},
    })
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/keys")
            .join(name)
    }

    fn pem(name: &str) -> String {
        std::fs::read_to_string(testdata(name)).expect("key fixture")
    }

    fn b64(text: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(text)
    }

    /// Loads `yaml` with publishers `a` (P-256 key), `b` (P-384 key) and
    /// whatever else the text adds under `publishers:`.
    fn load(yaml: &str) -> Policy {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(testdata("p256-pub.pem"), dir.path().join("a.pub")).expect("copy");
        std::fs::copy(testdata("p384-pub.pem"), dir.path().join("b.pub")).expect("copy");
        let path = dir.path().join("policy.yaml");
        std::fs::write(&path, yaml).expect("write policy");
        let now = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time");
        match sigil_verifier::files::load_checked(&path, now) {
            Ok((policy, _)) => policy,
            Err(e) => panic!("{e}: {:?}", e.0.items),
        }
    }

    const HEAD: &str = "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  a: { key: a.pub }\n  b: { key: b.pub }\n  ci:\n    keyless: { issuer: https://issuer.example, subject: ci@example.com }\n  ci-re:\n    keyless: { issuer: https://issuer.example, subjectRegExp: '^ci@' }\nrules:\n";

    fn export(rules: &str) -> Result<Value, Vec<String>> {
        containers_policy(&load(&format!("{HEAD}{rules}"))).map_err(|e| e.into_iter().map(|p| p.to_string()).collect())
    }

    fn key(field: &str, keys: Value) -> Value {
        json!({"type": "sigstoreSigned", field: keys, "signedIdentity": {"type": "matchRepository"}})
    }

    #[test]
    fn expressible_rules_become_scopes() {
        let out = export(
            "  - name: prod\n    images: ['registry.example/prod/**', 'registry.example/tools/app']\n    signatures: { anyOf: [a] }\n\
             \x20 - name: both\n    images: ['registry.example/critical/**']\n    signatures: { allOf: [a, b] }\n\
             \x20 - name: either\n    images: ['localhost:5000/**']\n    signatures: { anyOf: [a, b] }\n\
             \x20 - name: open\n    images: ['docker.io/library/alpine']\n    allowUnverified: true\n",
        )
        .expect("expressible");
        let (a, b) = (b64(&pem("p256-pub.pem")), b64(&pem("p384-pub.pem")));
        assert_eq!(
            out,
            json!({
                "default": [{"type": "reject"}],
                "transports": {"docker": {
                    "registry.example/prod": [key("keyData", json!(a))],
                    "registry.example/tools/app": [key("keyData", json!(a))],
                    "registry.example/critical": [key("keyData", json!(a)), key("keyData", json!(b))],
                    "localhost:5000": [key("keyDatas", json!([a, b]))],
                    "docker.io/library/alpine": [{"type": "insecureAcceptAnything"}],
                }},
            })
        );
    }

    #[test]
    fn the_pem_exported_is_the_key_file() {
        let out = export("  - name: all\n    images: ['**']\n    signatures: { anyOf: [a] }\n").expect("expressible");
        let data = out["transports"]["docker"][""][0]["keyData"].as_str().expect("keyData");
        let decoded = base64::engine::general_purpose::STANDARD.decode(data).expect("base64");
        let exported = sigil_verifier::keys::PublicKey::from_pem(std::str::from_utf8(&decoded).expect("utf8"))
            .expect("a PEM public key");
        let original = sigil_verifier::keys::PublicKey::from_pem(&pem("p256-pub.pem")).expect("fixture");
        assert_eq!(exported.spki_der(), original.spki_der());
    }

    fn refused(rules: &str, expected: &str) {
        let problems = export(rules).expect_err("inexpressible");
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{expected:?} not in {problems:#?}"
        );
    }

    #[test]
    fn each_inexpressible_feature_is_named() {
        let sig = "    signatures: { anyOf: [a] }\n";
        refused(
            &format!(
                "  - name: att\n    images: ['r.example/x/**']\n{sig}    attestations:\n      - predicateType: https://slsa.dev/provenance/v1\n        signedBy: [a]\n"
            ),
            "rule att: attestations cannot be expressed",
        );
        refused(
            "  - name: th\n    images: ['r.example/x/**']\n    signatures: { threshold: { count: 2, of: [a, b] } }\n",
            "rule th: threshold 2 of [a, b] cannot be expressed",
        );
        refused(
            "  - name: kl\n    images: ['r.example/x/**']\n    signatures: { anyOf: [ci] }\n",
            "rule kl: publisher ci is keyless: keyless identities need fulcio CA and rekor key files, not exported",
        );
        refused(
            "  - name: re\n    images: ['r.example/x/**']\n    signatures: { anyOf: [ci-re] }\n",
            "rule re: publisher ci-re is keyless",
        );
        refused(
            &format!("  - name: w\n    images: ['r.example/x/**']\n{sig}    mode: warn\n"),
            "rule w: mode warn cannot be expressed",
        );
        refused(
            &format!("  - name: au\n    images: ['r.example/x/**']\n{sig}    mode: audit\n"),
            "rule au: mode audit cannot be expressed",
        );
        refused(
            "  - name: ann\n    images: ['r.example/x/**']\n    signatures: { anyOf: [a], annotations: { env: prod } }\n",
            "rule ann: signed annotations cannot be expressed",
        );
        for (pattern, why) in [
            (
                "r.example/x/*",
                "only an exact repository, PREFIX/** and ** can be expressed",
            ),
            ("r.example/*/app", "only an exact repository"),
            ("r.example/x/app-?", "only an exact repository"),
            ("r.example/x**", "only an exact repository"),
            ("*.example.com/**", "only an exact repository"),
            ("r.example/x/**/app", "only an exact repository"),
            ("r.example/x/app:v1", "a tag pin cannot be expressed"),
            (
                "r.example/x/app@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                "a digest pin cannot be expressed",
            ),
            ("oci:layouts/app", "oci: layouts are not registry images"),
        ] {
            refused(
                &format!("  - name: p\n    images: ['{pattern}']\n{sig}"),
                &format!("rule p: pattern {pattern}: {why}"),
            );
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let problems = export(
            "  - name: one\n    images: ['r.example/x/*']\n    signatures: { anyOf: [ci] }\n\
             \x20 - name: two\n    images: ['r.example/y/**']\n    signatures: { anyOf: [a] }\n    mode: warn\n\
             \x20 - name: fine\n    images: ['r.example/z/**']\n    signatures: { anyOf: [a] }\n",
        )
        .expect_err("inexpressible");
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("rule one: pattern r.example/x/*"));
        assert!(problems[1].starts_with("rule one: publisher ci is keyless"));
        assert!(problems[2].starts_with("rule two: mode warn"));
    }

    #[test]
    fn exemptions_are_refused() {
        let text = format!(
            "{HEAD}  - name: r\n    images: ['r.example/x/**']\n    signatures: {{ anyOf: [a] }}\n\
             exemptions:\n  - images: ['r.example/x/tool']\n    waive: [signatures]\n    reason: pending\n    owner: me\n    expires: 2099-01-01T00:00:00Z\n"
        );
        let problems = containers_policy(&load(&text)).expect_err("inexpressible");
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .starts_with("exemption 1: exemptions cannot be expressed")
        );
    }

    #[test]
    fn the_production_example_is_refused_rule_by_rule() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/production.yaml");
        let now = time::OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time");
        let (policy, _) = sigil_verifier::files::load_checked(&path, now).expect("the example loads");
        let problems: Vec<String> = containers_policy(&policy)
            .expect_err("inexpressible")
            .iter()
            .map(|p| p.to_string())
            .collect();
        let starts = [
            "rule production: attestations cannot be expressed",
            "rule production: publisher github-release is keyless",
            "rule production: publisher corp-ca is a certificate (PKI) publisher",
            "rule staging: publisher github-release is keyless",
            "rule upstream: pattern docker.io/library/*: only an exact repository",
            "rule upstream: mode warn cannot be expressed",
            "exemption 1: exemptions cannot be expressed",
        ];
        assert_eq!(problems.len(), starts.len(), "{problems:#?}");
        for (problem, start) in problems.iter().zip(starts) {
            assert!(problem.starts_with(start), "{problem:?} does not start with {start:?}");
        }
    }

    #[test]
    fn two_rules_on_one_scope_are_refused() {
        refused(
            "  - name: repo\n    images: ['r.example/x']\n    signatures: { anyOf: [a] }\n\
             \x20 - name: below\n    images: ['r.example/x/**']\n    signatures: { anyOf: [b] }\n",
            "rule below: its scope r.example/x is also rule repo's",
        );
    }
}
