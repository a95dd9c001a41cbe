//! The policy file and the decision engine (DESIGN §4): which publishers are
//! trusted for which images, and which attestations they must carry.
//!
//! - [`load`] reads `apiVersion: sigil.dev/v1alpha1`, `kind: ImagePolicy`
//!   (YAML or JSON) into a [`Policy`], collecting every problem as a
//!   [`Diagnostic`] with file:line:column and a stable code;
//! - [`Policy::evaluate`] is the pure decision `(policy, evidence, now) ->`
//!   [`Report`]: the most specific rule decides, unmatched images deny,
//!   images whose evidence could not be gathered are reported under their
//!   rule ([`Policy::evaluate_failure`]), every check carries a
//!   [`ReasonCode`], thresholds count distinct publishers, a layout's
//!   recorded name can add requirements but never remove any, and content
//!   checks only ever see attestations that [`crate::verify`] verified and
//!   bound to the digest.
//!
//! Module map: [`yaml`] (spanned document tree), [`diagnostic`] (codes and
//! rendering), [`loader`] and `rules` (tree -> model), `lint` (whole-policy
//! checks), [`glob`] (patterns, specificity, overlap), [`names`] (the names
//! an image is judged under), [`model`], [`engine`], [`threshold`]
//! (counting publishers), [`checks`] (slsa, sbom, vulnerabilities, CEL),
//! [`report`].

pub mod checks;
pub mod diagnostic;
pub mod engine;
pub mod glob;
mod lint;
pub mod loader;
pub mod model;
pub mod names;
mod notation;
pub mod report;
mod rules;
pub mod threshold;
pub mod yaml;

#[cfg(test)]
mod tests;

pub use diagnostic::{Code, Diagnostic, Diagnostics, Severity};
pub use engine::Evidence;
pub use glob::{ImageName, Pattern};
pub use loader::{FileReader, MemoryFiles, compile, load, parse_time};
pub use model::{Mode, Policy};
pub use names::{Names, RecordedNameError};
pub use report::{CheckResult, Decision, REPORT_API_VERSION, ReasonCode, Report, reports_json};

/// Why a policy cannot be used: it has errors (all of them are here).
#[derive(Debug, thiserror::Error)]
#[error("policy {} has {} error(s); run `sigil policy lint {}`", .0.file.display(), .0.counts().0, .0.file.display())]
pub struct PolicyError(pub Box<Diagnostics>);

impl PolicyError {
    /// One line: this error and its first three errors with `line:column`,
    /// for a caller that refuses the policy (the full list is `policy lint`'s).
    pub fn summary(&self) -> String {
        let errors: Vec<String> = self
            .0
            .items
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .take(3)
            .map(|d| match d.line_column() {
                Some((l, c)) => format!("{l}:{c}: {}", d.message),
                None => d.message.clone(),
            })
            .collect();
        format!("{self}: {}", errors.join("; "))
    }
}

impl Policy {
    /// Loads a policy for evaluation, refusing one with errors. Warnings
    /// are returned alongside so the caller can show them.
    pub fn load(
        path: &std::path::Path,
        now: time::OffsetDateTime,
        files: &dyn FileReader,
    ) -> Result<(Policy, Diagnostics), PolicyError> {
        match load(path, now, files) {
            (Some(policy), diagnostics) => Ok((policy, diagnostics)),
            (None, diagnostics) => Err(PolicyError(Box::new(diagnostics))),
        }
    }
}
