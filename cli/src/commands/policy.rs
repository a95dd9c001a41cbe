//! `sigil policy lint P` (every problem at once, cargo-deny style) and
//! `sigil policy test P EXPECTATIONS` (the policy against evidence recorded
//! in OCI layouts by `sigil copy`, with no network).
//!
//! An expectations file (YAML or JSON; paths relative to it):
//!
//! ```yaml
//! apiVersion: sigil.dev/v1alpha1
//! kind: PolicyTest
//! at: 2026-06-01T00:00:00Z          # optional evaluation time for every case
//! cases:
//!   - image: oci:recorded:app-v1     # a layout image: oci:DIR:TAG or oci:DIR@sha256:HEX
//!     name: registry.acme.example/prod/app:v1   # optional: the name rules match
//!     expect: allow                  # allow | deny
//!     reason: builder id             # optional: some check's reason contains this
//!     code: content-check-failed     # optional: a failed check has this reason code
//!     at: 2027-02-01T00:00:00Z       # optional, overrides the file's and --at
//! ```
//!
//! With `name:`, the image is judged as the registry image of that name would
//! be (a name that pins a digest must pin the layout image's). Without it, the
//! image is judged as `sigil verify` judges a layout image: by `oci:DIR`, DIR
//! as written (lexically normalised), and by the source reference `sigil copy`
//! recorded in the layout (`dev.sigil.image.name`), which can add
//! requirements but never remove any (see `sigil_verifier::policy::engine`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::json;
use sigil_verifier::gather;
use sigil_verifier::layout::LayoutStore;
use sigil_verifier::policy::{self, Decision, Evidence, ReasonCode, Report, names};
use sigil_verifier::reference::{ImageRef, LayoutRef, RegistryRef};

use super::resolve;
use super::verify_policy::{evaluation_time, load_policy};
use crate::Outcome;
use crate::args::OutputFormat;
use crate::common::{print, print_json};

/// `sigil policy ...`
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Check a policy file and report every problem at once.
    ///
    /// Each problem has a stable code (unknown-field, unknown-publisher,
    /// empty-any-of, overlapping-rules, expired-exemption, ...) and its
    /// file:line:column. Exit 2 when any is an error; warnings alone exit 0.
    ///
    /// Example:
    ///   sigil policy lint policies/production.yaml
    #[command(verbatim_doc_comment)]
    Lint {
        /// The policy file (YAML or JSON).
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// Judge exemption expiry at this time (RFC 3339) instead of now.
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
    /// Run a policy against recorded evidence and a file of expectations.
    ///
    /// Images are OCI layouts written by `sigil copy` (signatures and
    /// attestations included); nothing is fetched from a network. Exit 0
    /// when every expectation holds, 1 when one does not, 2 on errors.
    ///
    /// Each case names an image and `expect: allow` or `deny`; optionally
    /// `reason: TEXT` (some check's reason contains TEXT) and `code: CODE`
    /// (some failed check has that reason code, as in the JSON report's
    /// `code`: no-matching-rule, signature-invalid, identity-mismatch,
    /// content-check-failed, ...; docs/report-schema.md lists them all).
    ///
    /// Example:
    ///   sigil policy test policies/production.yaml policies/tests/production.yaml
    #[command(verbatim_doc_comment)]
    Test {
        /// The policy file.
        #[arg(value_name = "POLICY")]
        policy: PathBuf,
        /// The expectations file (kind: PolicyTest).
        #[arg(value_name = "EXPECTATIONS")]
        expectations: PathBuf,
        /// Evaluation time for cases that do not set one (RFC 3339).
        #[arg(long, value_name = "RFC3339")]
        at: Option<String>,
    },
}

/// Runs a `policy` subcommand.
pub async fn run(cmd: PolicyCommand, output: OutputFormat) -> anyhow::Result<Outcome> {
    match cmd {
        PolicyCommand::Lint { policy, at } => lint(&policy, at.as_deref(), output),
        PolicyCommand::Test {
            policy,
            expectations,
            at,
        } => test(&policy, &expectations, at.as_deref(), output).await,
    }
}

fn lint(path: &Path, at: Option<&str>, output: OutputFormat) -> anyhow::Result<Outcome> {
    let now = evaluation_time(at)?;
    let (_, diagnostics) = sigil_verifier::files::load_policy(path, now);
    match output {
        OutputFormat::Json => print_json(&diagnostics.to_json())?,
        OutputFormat::Human => print(&diagnostics.render_human())?,
    }
    Ok(if diagnostics.has_errors() {
        Outcome::Error
    } else {
        Outcome::Success
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Expectations {
    api_version: String,
    kind: String,
    #[serde(default)]
    at: Option<String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    image: String,
    #[serde(default)]
    name: Option<String>,
    expect: Expect,
    #[serde(default)]
    reason: Option<String>,
    /// Some failed check has this code.
    #[serde(default)]
    code: Option<ReasonCode>,
    #[serde(default)]
    at: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Allow,
    Deny,
}

fn read_expectations(path: &Path) -> anyhow::Result<Expectations> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read expectations {}", path.display()))?;
    let tree = policy::yaml::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {}", path.display(), e.at.line, e.at.column, e.message))?
        .with_context(|| format!("expectations {} are empty", path.display()))?;
    let parsed: Expectations = serde_json::from_value(tree.to_json()).with_context(|| {
        format!(
            "expectations {} (fields: apiVersion, kind, at, cases[image, name, expect, reason, code, at])",
            path.display()
        )
    })?;
    if parsed.api_version != policy::model::API_VERSION || parsed.kind != "PolicyTest" {
        bail!(
            "expectations {} must say apiVersion: {} and kind: PolicyTest",
            path.display(),
            policy::model::API_VERSION
        );
    }
    Ok(parsed)
}

async fn test(
    policy_path: &Path,
    expectations_path: &Path,
    at: Option<&str>,
    output: OutputFormat,
) -> anyhow::Result<Outcome> {
    let expectations = read_expectations(expectations_path)?;
    let base = expectations_path.parent().unwrap_or(Path::new("."));
    let default_at = expectations.at.clone().or_else(|| at.map(str::to_owned));
    let mut results = Vec::new();
    let mut failed = 0;
    for (i, case) in expectations.cases.iter().enumerate() {
        let now = evaluation_time(case.at.as_deref().or(default_at.as_deref()))?;
        let policy = load_policy(policy_path, now)?;
        let report = evaluate_case(&policy, case, base, now)
            .await
            .with_context(|| format!("case {} ({})", i + 1, case.image))?;
        let decision_ok = match case.expect {
            Expect::Allow => report.decision == Decision::Allow,
            Expect::Deny => report.decision == Decision::Deny,
        };
        let reason_ok = case
            .reason
            .as_ref()
            .is_none_or(|want| report.checks.iter().any(|c| c.reason.contains(want.as_str())));
        let code_ok = case.code.is_none_or(|want| report.failure_codes().any(|c| c == want));
        let passed = decision_ok && reason_ok && code_ok;
        if !passed {
            failed += 1;
        }
        results.push((i + 1, case, report, passed));
    }
    match output {
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/policy-test/v1",
            "passed": results.len() - failed,
            "failed": failed,
            "cases": results.iter().map(|(n, case, report, passed)| {
                let mut result = json!({
                    "case": n, "image": case.image, "expect": format!("{:?}", case.expect).to_lowercase(),
                    "passed": passed, "report": report.to_json(),
                });
                if let Some(code) = case.code {
                    result["expectCode"] = json!(code);
                }
                result
            }).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Human => {
            let mut text = String::new();
            for (n, case, report, passed) in &results {
                let verdict = if *passed { "ok  " } else { "FAIL" };
                let got = format!("{:?}", report.decision).to_lowercase();
                let want = format!("{:?}", case.expect).to_lowercase();
                let mut extra = case
                    .reason
                    .as_ref()
                    .map(|r| format!(", reason containing {r:?}"))
                    .unwrap_or_default();
                if let Some(code) = case.code {
                    extra.push_str(&format!(", a failed check with code {code}"));
                }
                let mut codes: Vec<&str> = Vec::new();
                for code in report.failure_codes().map(ReasonCode::as_str) {
                    if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                let got_codes = match (case.code, codes.is_empty()) {
                    (None, _) => String::new(),
                    (Some(_), true) => " with no failed check".to_owned(),
                    (Some(_), false) => format!(" with failed check code(s) {}", codes.join(", ")),
                };
                text.push_str(&format!(
                    "{verdict} case {n}: {} expected {want}{extra}, got {got}{got_codes}\n",
                    case.image
                ));
                if !passed {
                    for line in report.render_human().lines() {
                        text.push_str(&format!("       {line}\n"));
                    }
                }
            }
            text.push_str(&format!("{} passed, {failed} failed\n", results.len() - failed));
            print(&text)?;
        }
    }
    Ok(if failed == 0 { Outcome::Success } else { Outcome::Failed })
}

async fn evaluate_case(
    policy: &policy::Policy,
    case: &Case,
    base: &Path,
    now: time::OffsetDateTime,
) -> anyhow::Result<Report> {
    let ImageRef::Layout(layout) = case.image.parse::<ImageRef>()? else {
        bail!(
            "policy tests read recorded evidence only: use an oci:DIR image (write one with `sigil copy IMAGE oci:DIR:TAG`)"
        );
    };
    let located = ImageRef::Layout(LayoutRef {
        dir: base.join(&layout.dir),
        ..layout.clone()
    });
    let layout_store = LayoutStore::open(&base.join(&layout.dir))?;
    let store = sigil_verifier::store::AnyStore::Layout(layout_store.clone());
    let descriptor = resolve(&store, &located).await?;
    let digest = descriptor.digest;
    let signatures = gather::signatures(&store, &digest).await?;
    let attestations = gather::attestations(&store, &digest).await?;
    let names = match &case.name {
        Some(n) => {
            let r = RegistryRef::parse(n)?;
            if let Some(pinned) = r.digest()
                && pinned != &digest
            {
                bail!("name {n} pins digest {pinned}, but {} is {digest}", case.image);
            }
            names::registry(&r, digest)
        }
        None => names::layout(
            &layout,
            digest.clone(),
            layout_store.source_name(&digest).await?.as_deref(),
        )?,
    };
    Ok(policy.evaluate(
        &Evidence::new(case.image.clone(), names, signatures.into(), attestations.into()),
        now,
    ))
}
