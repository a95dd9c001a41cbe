//! The answer for one image: allow or deny, the rule and exemptions that
//! applied, and every check with its result and a reason a person
//! understands. Serialised as the versioned JSON of `docs/report-schema.md`
//! (`apiVersion: sigil.dev/report/v1`) or rendered as text.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Mode, Waiver};
use crate::digest::Digest;

/// The report format's version.
pub const REPORT_API_VERSION: &str = "sigil.dev/report/v1";

/// The decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Allow,
    Deny,
}

/// The result of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckResult {
    Pass,
    Fail,
    /// Not evaluated because an exemption waives it.
    Waived,
}

/// One check and why it came out as it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// `signatures`, `attestation`, `rule` or `evidence`.
    pub kind: &'static str,
    /// What was required (`anyOf [a, b]`, a predicate type, ...).
    pub requirement: String,
    pub result: CheckResult,
    pub reason: String,
    /// Per-evidence details: what verified, what was rejected and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

/// An exemption that matched the image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExemptionUse {
    /// 1-based position in the policy's `exemptions`.
    pub index: usize,
    pub owner: String,
    pub reason: String,
    pub expires: String,
    /// Expired exemptions are listed but ignored.
    pub expired: bool,
    pub waive: Waiver,
}

/// The decision for one image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The image as the user named it.
    pub image: String,
    /// The name rules were matched against (normalised repository, tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    pub decision: Decision,
    /// Set when the image could not be evaluated (it is denied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub rule: Option<String>,
    pub mode: Option<Mode>,
    pub exemptions: Vec<ExemptionUse>,
    /// The policy file's sha256.
    pub policy_digest: Digest,
    /// The evaluation time (RFC 3339).
    pub evaluated_at: String,
    /// How the image was named and matched, where that is not obvious: a
    /// tag ignored beside a digest, a layout's recorded name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub checks: Vec<Check>,
}

impl Report {
    /// True when some check failed (whatever the mode decided).
    pub fn has_failures(&self) -> bool {
        self.checks.iter().any(|c| c.result == CheckResult::Fail)
    }

    /// Text for people: a verdict line, then one line per check.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let verdict = match (self.decision, self.error.is_some()) {
            (_, true) => "ERROR",
            (Decision::Allow, _) if self.has_failures() && self.mode == Some(Mode::Warn) => "WARN ",
            (Decision::Allow, _) => "ALLOW",
            (Decision::Deny, _) => "DENY ",
        };
        let digest = self.digest.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
        let rule = match (&self.rule, self.mode) {
            (Some(r), Some(m)) => format!(" rule {r}, {m}"),
            _ => " no rule".to_owned(),
        };
        let _ = writeln!(out, "{verdict}  {}{digest}:{rule}", self.image);
        if let Some(e) = &self.error {
            let _ = writeln!(out, "       error  {e}");
        }
        for n in &self.notes {
            let _ = writeln!(out, "       note   {n}");
        }
        for e in &self.exemptions {
            let state = if e.expired { "expired, ignored" } else { "applied" };
            let _ = writeln!(
                out,
                "       exemption {} ({state}, owner {}, until {}): {}",
                e.index, e.owner, e.expires, e.reason
            );
        }
        for c in &self.checks {
            // audit-mode findings are in the JSON report only; text shows the verdict and failures
            let word = match c.result {
                CheckResult::Pass => "pass  ",
                CheckResult::Fail if self.mode == Some(Mode::Warn) => "warn  ",
                CheckResult::Fail if self.mode == Some(Mode::Audit) => "audit ",
                CheckResult::Fail => "fail  ",
                CheckResult::Waived => "waived",
            };
            let _ = writeln!(out, "       {word} {} {}: {}", c.kind, c.requirement, c.reason);
        }
        out
    }

    /// The JSON of one image (see `docs/report-schema.md`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// The JSON document for a run over many images.
pub fn reports_json(reports: &[Report], policy_file: &str, policy_digest: &Digest) -> serde_json::Value {
    let count = |d: Decision| reports.iter().filter(|r| r.decision == d).count();
    serde_json::json!({
        "apiVersion": REPORT_API_VERSION,
        "policy": {"file": policy_file, "digest": policy_digest},
        "summary": {
            "images": reports.len(),
            "allowed": count(Decision::Allow),
            "denied": count(Decision::Deny),
            "errors": reports.iter().filter(|r| r.error.is_some()).count(),
        },
        "images": reports.iter().map(Report::to_json).collect::<Vec<_>>(),
    })
}
