//! The example policies in `policies/` lint clean and decide as their
//! comments say, with evidence signed by the example keys in
//! `testdata/policy-keys/`.

use serde_json::json;

use super::support::*;
use crate::keys::SigningKey;
use crate::policy::{Code, Decision, Mode, Policy, load};

fn example(name: &str) -> Policy {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(name);
    let (policy, diagnostics) = load(&path, NOW, &crate::testdata::disk);
    // Allowed warnings, each explained in the policy's comments: none so far.
    let warnings: Vec<Code> = diagnostics.items.iter().map(|d| d.code).collect();
    assert_eq!(warnings, [], "{name}:\n{}", diagnostics.render_human());
    policy.unwrap_or_else(|| panic!("{name} has errors"))
}

fn example_key(name: &str) -> SigningKey {
    SigningKey::import_pem(&crate::testdata::text(format!("policy-keys/{name}.key"))).expect("key")
}

#[test]
fn production() {
    let p = example("production.yaml");
    let release = example_key("release");
    let security = example_key("security");
    let image = "registry.acme.example/prod/payments/api:v3";
    let d = digest_of(image);
    let provenance = json!({"buildDefinition": {"buildType": "https://actions.github.io/buildtypes/workflow/v1",
        "externalParameters": {"workflow": {"repository": "https://github.com/acme/api", "ref": "refs/tags/v3"}}},
        "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}});
    let bom = json!({"bomFormat": "CycloneDX", "components": [{"name": "log4j-core", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1"}]});
    let scan = json!({"scanner": {"result": {"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "LOW"}]}]}},
        "metadata": {"scanFinishedOn": "2026-05-30T00:00:00Z"}});
    let all = vec![
        attestation(&release, &d, "https://slsa.dev/provenance/v1", &provenance),
        attestation(&release, &d, "https://cyclonedx.org/bom", &bom),
        attestation(&security, &d, "https://cosign.sigstore.dev/attestation/vuln/v1", &scan),
    ];
    let r = p.evaluate(&evidence(image, vec![signature(&release, &d, &[])], all.clone()), NOW);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    // the scan goes stale a week after it finished
    let r = p.evaluate(
        &evidence(image, vec![signature(&release, &d, &[])], all.clone()),
        time::macros::datetime!(2026-06-07 00:00:01 UTC),
    );
    assert_eq!(r.decision, Decision::Deny);
    assert!(
        r.checks[3].reason.contains("older than the maximum age"),
        "{}",
        r.render_human()
    );
    // no signature: denied; the keyless publisher cannot vouch yet
    let r = p.evaluate(&evidence(image, vec![], all), NOW);
    assert_eq!(r.decision, Decision::Deny);
    // upstream images: warn mode never blocks, but reports
    let r = p.evaluate(&evidence("alpine:3.19", vec![], vec![]), NOW);
    assert_eq!(
        (r.decision, r.mode, r.rule.as_deref()),
        (Decision::Allow, Some(Mode::Warn), Some("upstream"))
    );
    assert!(r.has_failures());
    // unmatched
    assert_eq!(
        p.evaluate(&evidence("ghcr.io/someone/else:v1", vec![], vec![]), NOW)
            .decision,
        Decision::Deny
    );
}

#[test]
fn rollout_audit() {
    let p = example("rollout-audit.yaml");
    let r = p.evaluate(&evidence("ghcr.io/anything/at-all:v1", vec![], vec![]), NOW);
    assert_eq!((r.decision, r.mode), (Decision::Allow, Some(Mode::Audit)));
    assert!(r.has_failures(), "audit records what would have failed");
    let r = p.evaluate(&evidence("registry.acme.example/prod/app:v1", vec![], vec![]), NOW);
    assert_eq!(
        (r.decision, r.rule.as_deref()),
        (Decision::Allow, Some("production-provenance"))
    );
}

#[test]
fn multi_team() {
    let p = example("multi-team.yaml");
    let (payments, search, security) = (
        example_key("team-payments"),
        example_key("team-search"),
        example_key("security"),
    );
    let run = |image: &str, signers: &[(&SigningKey, &[(&str, &str)])]| {
        let d = digest_of(image);
        let sigs = signers.iter().map(|(k, a)| signature(k, &d, a)).collect();
        p.evaluate(&evidence(image, sigs, vec![]), NOW)
    };
    assert_eq!(
        run("registry.acme.example/payments/ledger:v1", &[(&payments, &[])]).decision,
        Decision::Allow
    );
    assert_eq!(
        run("registry.acme.example/payments/ledger:v1", &[(&search, &[])]).decision,
        Decision::Deny
    );
    let r = run(
        "registry.acme.example/payments/release/ledger:v1",
        &[(&payments, &[("env", "prod")])],
    );
    assert_eq!(r.rule.as_deref(), Some("payments-release"));
    assert_eq!(r.decision, Decision::Deny, "provenance missing");
    let image = "registry.acme.example/payments/release/ledger:v1";
    let d = digest_of(image);
    let prov = |r: &str| json!({"buildDefinition": {"externalParameters": {"workflow": {"ref": r}}}});
    for (git_ref, want) in [("refs/tags/v1", Decision::Allow), ("refs/heads/main", Decision::Deny)] {
        let e = evidence(
            image,
            vec![signature(&payments, &d, &[("env", "prod")])],
            vec![attestation(
                &payments,
                &d,
                "https://slsa.dev/provenance/v1",
                &prov(git_ref),
            )],
        );
        let r = p.evaluate(&e, NOW);
        assert_eq!(r.decision, want, "{git_ref}: {}", r.render_human());
    }
    assert_eq!(
        run(
            "registry.acme.example/shared/base:v1",
            &[(&payments, &[]), (&payments, &[])]
        )
        .decision,
        Decision::Deny
    );
    assert_eq!(
        run(
            "registry.acme.example/shared/base:v1",
            &[(&payments, &[]), (&security, &[])]
        )
        .decision,
        Decision::Allow
    );
    let r = run("registry.acme.example/search/experiments/x:v1", &[]);
    assert_eq!((r.decision, r.mode), (Decision::Allow, Some(Mode::Warn)));
}

#[test]
fn base_images() {
    use std::borrow::Cow;
    let p = example("base-images.yaml");
    let release = example_key("release");
    let image = "registry.acme.example/apps/shop:v1";
    let d = digest_of(image);
    let base = digest("golden");
    let provenance = json!({"buildDefinition": {"buildType": "https://mobyproject.org/buildkit@v1", "externalParameters": {}},
        "runDetails": {"builder": {"id": "https://ci.acme.example"}}});
    let run = |annotations: &[(&str, String)]| {
        let annotations = annotations.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        let e = evidence(
            image,
            vec![signature(&release, &d, &[])],
            vec![attestation(&release, &d, "https://slsa.dev/provenance/v1", &provenance)],
        )
        .with_annotations(Cow::Owned(annotations));
        p.evaluate(&e, NOW)
    };
    let mut r = run(&[
        (
            "org.opencontainers.image.base.name",
            "registry.acme.example/base/debian:12".into(),
        ),
        ("org.opencontainers.image.base.digest", base.to_string()),
    ]);
    assert_eq!(r.pending_bases.len(), 1, "{}", r.render_human());
    let decided = crate::policy::report::BaseDecision {
        image: r.pending_bases[0].reference.clone(),
        source: "annotation",
        allowed: true,
        rule: Some("golden-bases".into()),
        reason: "allowed".into(),
        bases: Vec::new(),
    };
    p.complete_bases(&mut r, vec![decided]);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    // twins: no base named; a base from elsewhere
    assert_eq!(run(&[]).decision, Decision::Deny);
    let elsewhere = run(&[
        (
            "org.opencontainers.image.base.name",
            "docker.io/library/debian:12".into(),
        ),
        ("org.opencontainers.image.base.digest", base.to_string()),
    ]);
    assert_eq!(elsewhere.decision, Decision::Deny);
    assert!(elsewhere.pending_bases.is_empty());
}
