//! Built-in content checks run on verified attestations only (DESIGN §4.1):
//! SLSA provenance, SBOM packages and licenses, vulnerability scans, and the
//! CEL escape hatch. Each returns `Err(reason)` with a sentence a person can
//! act on; a failed check is a finding, never an error.

pub mod cel;
pub mod sbom;
pub mod slsa;
pub mod vuln;

use serde_json::Value;
use time::OffsetDateTime;

use super::glob::ImageName;
use crate::intoto::Statement;

/// What a check may look at besides the statement.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    pub image: &'a ImageName,
    pub now: OffsetDateTime,
}

/// One content check of an attestation requirement.
#[derive(Clone, Debug)]
pub enum ContentCheck {
    Slsa(slsa::SlsaCheck),
    Sbom(sbom::SbomCheck),
    Vulnerabilities(vuln::VulnCheck),
    Condition(cel::Condition),
}

impl ContentCheck {
    /// Runs the check on a statement whose signature and subject were verified.
    pub fn run(&self, statement: &Statement, predicate: &Value, cx: Context<'_>) -> Result<(), String> {
        match self {
            ContentCheck::Slsa(c) => c.run(predicate),
            ContentCheck::Sbom(c) => c.run(predicate),
            ContentCheck::Vulnerabilities(c) => c.run(predicate, cx.now),
            ContentCheck::Condition(c) => c.run(statement, predicate, cx.image),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            ContentCheck::Slsa(_) => "slsa",
            ContentCheck::Sbom(_) => "sbom",
            ContentCheck::Vulnerabilities(_) => "vulnerabilities",
            ContentCheck::Condition(_) => "condition",
        }
    }
}

/// `[a, b, c]` for messages, at most eight items.
pub(crate) fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let mut shown: Vec<String> = items.iter().take(8).map(ToString::to_string).collect();
    if items.len() > 8 {
        shown.push(format!("... {} more", items.len() - 8));
    }
    format!("[{}]", shown.join(", "))
}
