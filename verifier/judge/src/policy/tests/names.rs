//! Which name decides: `NAME:TAG@DIGEST` by its digest only, canonical
//! registry hosts, and layout images whose recorded name can add
//! requirements but never remove any (issue 8, points 4, 5 and 7).

use super::support::*;
use crate::policy::{CheckResult, Decision, Mode, Policy, Report};

fn yaml() -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release: {{key: release.pub}}
  dev: {{key: dev.pub}}
rules:
  - name: prod
    images: [\"registry.acme.example/prod/**\", \"LOCALHOST:5000/prod/**\"]
    signatures: {{anyOf: [release]}}
  - name: pinned-release
    images: [\"registry.acme.example/prod/app:v1.3.0\"]
    signatures: {{anyOf: [dev]}}
  - name: legacy-tag
    images: [\"registry.acme.example/prod/app:legacy-1.0\"]
    signatures: {{anyOf: [dev]}}
  - name: sandbox
    images: [\"registry.acme.example/sandbox/**\"]
    allowUnverified: true
  - name: upstream
    images: [\"docker.io/library/*\"]
    signatures: {{anyOf: [release]}}
    mode: warn
  - name: legacy
    images: [\"registry.acme.example/legacy/**\"]
    signatures: {{anyOf: [release]}}
  - name: airgap
    images: [\"oci:/mnt/airgap/**\"]
    signatures: {{anyOf: [release]}}
  - name: trusted-copies
    images: [\"oci:/mnt/trusted/**\"]
    allowUnverified: true
  - name: everything-else
    images: [\"**\"]
    allowUnverified: true
exemptions:
  - images: [\"registry.acme.example/legacy/**\"]
    waive: all
    reason: rebuilt next quarter
    owner: platform
    expires: 2027-01-01T00:00:00Z
  - images: [\"registry.acme.example/legacy/pinned@{pinned}\"]
    waive: signatures
    reason: vendor image
    owner: platform
    expires: 2027-01-01T00:00:00Z
  - images: [\"registry.acme.example/prod/app:legacy-1.0\"]
    waive: signatures
    reason: the tag legacy-1.0 is a known vendor build
    owner: platform
    expires: 2027-01-01T00:00:00Z
",
        pinned = digest("pinned")
    )
}

struct Keys {
    release: crate::keys::SigningKey,
    dev: crate::keys::SigningKey,
}

fn setup() -> (Policy, Keys) {
    let keys = Keys {
        release: key(),
        dev: key(),
    };
    let p = policy(&yaml(), &[("release", &keys.release), ("dev", &keys.dev)]);
    (p, keys)
}

fn reasons(r: &Report) -> Vec<&str> {
    r.checks.iter().map(|c| c.reason.as_str()).collect()
}

#[test]
fn a_reference_with_tag_and_digest_gets_nothing_written_for_the_tag() {
    let (policy, k) = setup();
    let other = digest("some other build");
    // `app:legacy-1.0` is exempted (and has its own rule); a reference naming that
    // tag beside another digest is judged by repository and digest only
    let both = format!("registry.acme.example/prod/app:legacy-1.0@{other}");
    let r = policy.evaluate(&evidence(&both, vec![], vec![]), NOW);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("prod"));
    assert!(r.exemptions.is_empty());
    assert_eq!(r.matched_name.as_deref(), Some("registry.acme.example/prod/app"));
    assert_eq!(reasons(&r), ["no valid signature by any of [release]"]);
    assert_eq!(
        r.notes,
        [
            "tag legacy-1.0 is ignored: a reference that pins a digest is matched by its digest only (nothing checked that the tag points at it)"
        ]
    );
    assert!(r.render_human().contains("note   tag legacy-1.0 is ignored"));
    // twin: the tag alone (the registry resolved it) gets its rule and exemption
    let tag = "registry.acme.example/prod/app:legacy-1.0";
    let r = policy.evaluate(&evidence(tag, vec![], vec![]), NOW);
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("legacy-tag"));
    assert_eq!(r.checks[0].result, CheckResult::Waived);
    assert!(r.notes.is_empty());
    // twin: with a release signature over its digest, the pinned reference passes
    let r = policy.evaluate(&evidence(&both, vec![signature(&k.release, &other, &[])], vec![]), NOW);
    assert_eq!(r.decision, Decision::Allow);
    // a digest-pinned exemption applies whatever tag is written beside the digest
    let pinned = format!("registry.acme.example/legacy/pinned:anything@{}", digest("pinned"));
    let r = policy.evaluate(&evidence(&pinned, vec![], vec![]), NOW);
    assert_eq!(r.exemptions.len(), 2);
    assert_eq!(r.decision, Decision::Allow);
}

#[test]
fn registry_hosts_are_matched_in_canonical_form() {
    let (policy, k) = setup();
    for image in [
        "LOCALHOST:5000/prod/app:v1",
        "localhost:5000/prod/app:v1",
        "Registry.Acme.Example/prod/app:v1",
        "registry.acme.example:443/prod/app:v1",
    ] {
        let r = policy.evaluate(&evidence(image, vec![], vec![]), NOW);
        assert_eq!(r.rule.as_deref(), Some("prod"), "{image}");
        assert_eq!(r.decision, Decision::Deny, "{image}");
        assert_eq!(reasons(&r), ["no valid signature by any of [release]"], "{image}");
        let d = digest_of(image);
        let r = policy.evaluate(&evidence(image, vec![signature(&k.release, &d, &[])], vec![]), NOW);
        assert_eq!(r.decision, Decision::Allow, "{image}");
    }
    assert_eq!(
        policy
            .evaluate(&evidence("LOCALHOST:5000/prod/app:v1", vec![], vec![]), NOW)
            .matched_name
            .as_deref(),
        Some("localhost:5000/prod/app:v1")
    );
    // twins: another port is another registry
    for image in ["localhost:5001/prod/app:v1", "registry.acme.example:8443/prod/app:v1"] {
        let r = policy.evaluate(&evidence(image, vec![], vec![]), NOW);
        assert_eq!(r.rule.as_deref(), Some("everything-else"), "{image}");
    }
}

/// A layout image in `dir` with tag `copy`, recording `recorded` (with the image's digest).
fn layout(policy: &Policy, dir: &str, recorded: Option<&str>, signers: &[&crate::keys::SigningKey]) -> Report {
    let d = digest("layout image");
    let recorded = recorded.map(|r| format!("{r}@{d}"));
    let sigs = signers.iter().map(|k| signature(k, &d, &[])).collect();
    let e = layout_evidence(
        &format!("oci:{dir}:copy"),
        "layout image",
        recorded.as_deref(),
        sigs,
        vec![],
    );
    policy.evaluate(&e, NOW)
}

#[test]
fn a_recorded_name_cannot_loosen_a_layout_judged_by_its_own_rule() {
    let (policy, k) = setup();
    // the layout claims to be a sandbox image (allowUnverified); its directory's rule still applies
    let r = layout(&policy, "/mnt/airgap/x", Some("registry.acme.example/sandbox/x"), &[]);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("airgap"));
    assert_eq!(r.checks[0].reason, "no valid signature by any of [release]");
    assert_eq!(
        r.checks[1].requirement,
        "rule sandbox for the name its layout records, registry.acme.example/sandbox/x"
    );
    assert_eq!(r.checks[1].result, CheckResult::Pass);
    // the recorded name is stricter: its rule must pass too
    let r = layout(&policy, "/mnt/trusted/x", Some("registry.acme.example/prod/app"), &[]);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("prod"));
    assert_eq!(r.matched_name.as_deref(), Some("registry.acme.example/prod/app"));
    assert_eq!(r.checks[0].reason, "no valid signature by any of [release]");
    assert_eq!(
        r.checks[1].requirement,
        "rule trusted-copies for the image's own name, oci:/mnt/trusted/x:copy"
    );
    assert_eq!(r.checks[1].result, CheckResult::Pass);
    let r = layout(
        &policy,
        "/mnt/airgap/app",
        Some("registry.acme.example/prod/app:v1.3.0"),
        &[&k.release],
    );
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("pinned-release"));
    assert_eq!(r.checks[0].reason, "no valid signature by any of [dev]");
    // twins: evidence for both rules allows; without a recorded name the directory's rule alone decides
    let r = layout(
        &policy,
        "/mnt/airgap/app",
        Some("registry.acme.example/prod/app:v1.3.0"),
        &[&k.release, &k.dev],
    );
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("airgap"));
    assert_eq!(r.checks[1].reason, "allowed");
    assert_eq!(
        layout(&policy, "/mnt/airgap/app", None, &[&k.release]).decision,
        Decision::Allow
    );
    assert_eq!(layout(&policy, "/mnt/trusted/x", None, &[]).decision, Decision::Allow);
    let r = layout(
        &policy,
        "/mnt/trusted/x",
        Some("registry.acme.example/prod/app"),
        &[&k.release],
    );
    assert_eq!(r.decision, Decision::Allow, "{}", r.render_human());
}

#[test]
fn a_layout_judged_by_its_recorded_name_alone_gets_no_leniency() {
    let (policy, k) = setup();
    // a policy whose only catch-all... is replaced by one with no rule for the layout's directory
    let mut strict = policy.clone();
    strict.rules.retain(|r| r.name != "everything-else");
    let dir = "/srv/export";
    // allowUnverified, warn mode and repository exemptions need a name that is proven
    let r = layout(&strict, dir, Some("registry.acme.example/sandbox/x"), &[]);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.rule.as_deref(), Some("sandbox"));
    assert_eq!(
        r.checks[0].reason,
        "allowUnverified does not apply to an image matched only by the name its layout records (write a rule for its oci: directory)"
    );
    assert!(r.notes[0].starts_with("no rule matches oci:/srv/export:copy, so the image is judged by the name its layout records, registry.acme.example/sandbox/x"));
    let r = layout(&strict, dir, Some("docker.io/library/alpine"), &[]);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!((r.rule.as_deref(), r.mode), (Some("upstream"), Some(Mode::Enforce)));
    let r = layout(&strict, dir, Some("registry.acme.example/legacy/tool"), &[]);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert!(r.exemptions.is_empty());
    assert_eq!(
        r.notes[1],
        "exemption 1 matches only the name the layout records and does not pin the digest: not applied"
    );
    // twins: the evidence the rule asks for allows, as it does online
    for recorded in ["docker.io/library/alpine", "registry.acme.example/legacy/tool"] {
        let r = layout(&strict, dir, Some(recorded), &[&k.release]);
        assert_eq!(r.decision, Decision::Allow, "{recorded}: {}", r.render_human());
    }
    // the recorded tag is the source's: a rule pinned to it decides, as it does online
    let online = "registry.acme.example/prod/app:v1.3.0";
    let r = policy.evaluate(
        &evidence(online, vec![signature(&k.dev, &digest_of(online), &[])], vec![]),
        NOW,
    );
    assert_eq!(
        (r.rule.as_deref(), r.decision),
        (Some("pinned-release"), Decision::Allow)
    );
    let r = layout(&strict, dir, Some(online), &[&k.dev]);
    assert_eq!(
        (r.rule.as_deref(), r.decision),
        (Some("pinned-release"), Decision::Allow),
        "{}",
        r.render_human()
    );
    assert_eq!(r.matched_name.as_deref(), Some(online));
    // the layout's own tag (`copy`) is not a registry tag: the older repository-only record
    // is matched by repository alone
    let d = digest("layout image");
    let legacy = layout_evidence(
        &format!("oci:{dir}:v1.3.0"),
        "layout image",
        Some("registry.acme.example/prod/app"),
        vec![signature(&k.dev, &d, &[])],
        vec![],
    );
    let r = strict.evaluate(&legacy, NOW);
    assert_eq!((r.rule.as_deref(), r.decision), (Some("prod"), Decision::Deny));
    // neither name matches: denied, both named
    let r = layout(&strict, dir, Some("registry.acme.example/nowhere/x"), &[&k.release]);
    assert_eq!(r.decision, Decision::Deny);
    assert_eq!(
        reasons(&r),
        ["no rule matches oci:/srv/export:copy or the name its layout records, registry.acme.example/nowhere/x"]
    );
}

#[test]
fn dot_dot_cannot_take_a_layout_into_a_trusted_directory_rule() {
    let (policy, _) = setup();
    let mut strict = policy.clone();
    strict.rules.retain(|r| r.name != "everything-else");
    let r = layout(&strict, "/mnt/trusted/../attacker-dir", None, &[]);
    assert_eq!(r.decision, Decision::Deny, "{}", r.render_human());
    assert_eq!(r.matched_name.as_deref(), Some("oci:/mnt/attacker-dir:copy"));
    assert_eq!(reasons(&r), ["no rule matches oci:/mnt/attacker-dir:copy"]);
    // twin: the trusted directory itself
    assert_eq!(layout(&strict, "/mnt/trusted/./x", None, &[]).decision, Decision::Allow);
}
