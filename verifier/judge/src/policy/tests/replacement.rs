//! A long-running evaluator whose policy is replaced by one that names the
//! same file paths with different contents judges by the new contents: the
//! trust material belongs to the loaded policy, and nothing is cached by
//! path (a key file, a trusted root, a CA roots file).

use std::collections::BTreeMap;
use std::path::Path;

use sigil_testkit::test_sigstore::{ISSUED, ISSUER_URL, TestSigstore};

use super::support::*;
use crate::evidence::{SignatureContent, SignatureEvidence};
use crate::policy::{CheckResult, Decision, Evidence, MemoryFiles, Policy, Report, compile};

const IMAGE: &str = "registry.acme.example/team/app:v1";

/// What a server holds: the current policy, replaced when its files change.
struct Evaluator {
    policy: Policy,
}

impl Evaluator {
    /// Loads `text` (always the same) with `files` and swaps it in.
    fn reload(&mut self, text: &str, files: &MemoryFiles) {
        self.policy = compiled(text, files);
    }

    fn judge(&self, evidence: &Evidence<'_>) -> Report {
        self.policy.evaluate(evidence, NOW)
    }
}

fn compiled(text: &str, files: &MemoryFiles) -> Policy {
    let (policy, diagnostics) = compile(text, &Path::new(DIR).join("policy.yaml"), NOW, files);
    policy.unwrap_or_else(|| panic!("policy has errors:\n{}", diagnostics.render_human()))
}

fn policy_text(publisher: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  team: {publisher}\nrules:\n  - name: team\n    images: [\"registry.acme.example/team/**\"]\n    signatures: {{anyOf: [team]}}\n"
    )
}

/// Allowed with a passing signature check, or denied by a failing one.
fn assert_judged(report: &Report, allowed: bool, what: &str) {
    let human = report.render_human();
    let want = if allowed { Decision::Allow } else { Decision::Deny };
    assert_eq!(report.decision, want, "{what}:\n{human}");
    assert_eq!(report.rule.as_deref(), Some("team"), "{what}:\n{human}");
    let signatures: Vec<_> = report.checks.iter().filter(|c| c.kind == "signatures").collect();
    assert_eq!(signatures.len(), 1, "{what}:\n{human}");
    let want = if allowed { CheckResult::Pass } else { CheckResult::Fail };
    assert_eq!(signatures[0].result, want, "{what}:\n{human}");
    if !allowed {
        let failing: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.result == CheckResult::Fail)
            .map(|c| c.kind)
            .collect();
        assert_eq!(failing, ["signatures"], "{what}:\n{human}");
    }
}

/// Runs the swap both ways: evidence `a` passes under files `fa` only,
/// evidence `b` under files `fb` only, however often the policy is replaced.
fn swap_both_ways(text: &str, fa: &MemoryFiles, fb: &MemoryFiles, a: &Evidence<'_>, b: &Evidence<'_>) {
    let mut evaluator = Evaluator {
        policy: compiled(text, fa),
    };
    for round in 0..2 {
        assert_judged(&evaluator.judge(a), true, &format!("round {round}: A under files A"));
        assert_judged(&evaluator.judge(b), false, &format!("round {round}: B under files A"));
        evaluator.reload(text, fb);
        assert_judged(&evaluator.judge(a), false, &format!("round {round}: A under files B"));
        assert_judged(&evaluator.judge(b), true, &format!("round {round}: B under files B"));
        evaluator.reload(text, fa);
    }
}

#[test]
fn a_replaced_key_file_is_read_anew() {
    let (ka, kb) = (key(), key());
    let text = policy_text("{key: team.pub}");
    let fa = key_files(&[("team", &ka)]);
    let fb = key_files(&[("team", &kb)]);
    let d = digest_of(IMAGE);
    let a = evidence(IMAGE, vec![signature(&ka, &d, &[])], vec![]);
    let b = evidence(IMAGE, vec![signature(&kb, &d, &[])], vec![]);
    swap_both_ways(&text, &fa, &fb, &a, &b);
}

/// A cosign v2 `.sig` layer signed by the instance's leaf, with its
/// certificate, chain and Rekor bundle.
fn keyless_signature(instance: &TestSigstore, image: &crate::digest::Digest) -> SignatureEvidence {
    let mut evidence = signature(&key(), image, &[]);
    let SignatureContent::SimpleSigning { payload, annotations } = &mut evidence.content else {
        unreachable!("signature() makes simple-signing evidence")
    };
    let at = ISSUED + time::Duration::minutes(1);
    let (signature_b64, rekor) = instance.sign_message(payload, payload, at, &instance.log_key);
    *annotations = BTreeMap::from([
        (crate::cosign::SIGNATURE_ANNOTATION.to_owned(), signature_b64),
        (
            crate::cosign::CERTIFICATE_ANNOTATION.to_owned(),
            instance.leaf_pem.clone(),
        ),
        (
            crate::cosign::CHAIN_ANNOTATION.to_owned(),
            instance.intermediate_pem.clone(),
        ),
        (crate::cosign::REKOR_BUNDLE_ANNOTATION.to_owned(), rekor),
    ]);
    evidence
}

#[test]
fn a_replaced_trusted_root_is_parsed_anew() {
    let (sa, sb) = (TestSigstore::new(&[]), TestSigstore::new(&[]));
    let text = policy_text(&format!(
        "{{keyless: {{issuer: \"{ISSUER_URL}\", subject: dev@example.com, trustedRoot: trust/root.json}}}}"
    ));
    let fa = MemoryFiles::default().with(format!("{DIR}/trust/root.json"), sa.trusted_root());
    let fb = MemoryFiles::default().with(format!("{DIR}/trust/root.json"), sb.trusted_root());
    let d = digest_of(IMAGE);
    let a = evidence(IMAGE, vec![keyless_signature(&sa, &d)], vec![]);
    let b = evidence(IMAGE, vec![keyless_signature(&sb, &d)], vec![]);
    swap_both_ways(&text, &fa, &fb, &a, &b);
}

#[test]
fn a_replaced_roots_file_is_decoded_anew() {
    let (ca, cb) = (TestCa::new("a"), TestCa::new("b"));
    let text = policy_text("{certificate: {roots: pki/roots.pem, identity: release@acme.example}}");
    let fa = MemoryFiles::default().with(format!("{DIR}/pki/roots.pem"), ca.pem.clone());
    let fb = MemoryFiles::default().with(format!("{DIR}/pki/roots.pem"), cb.pem.clone());
    let d = digest_of(IMAGE);
    let (ka, cert_a) = ca.leaf("release@acme.example");
    let (kb, cert_b) = cb.leaf("release@acme.example");
    let a = evidence(IMAGE, vec![certificate_signature(&ka, &cert_a, &d)], vec![]);
    let b = evidence(IMAGE, vec![certificate_signature(&kb, &cert_b, &d)], vec![]);
    swap_both_ways(&text, &fa, &fb, &a, &b);
}
