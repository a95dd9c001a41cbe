//! Built-in content checks run on verified attestations only (DESIGN §4.1):
//! SLSA provenance, SBOM packages and licenses, vulnerability scans, and the
//! CEL escape hatch. Each returns `Err(reason)` with a sentence a person can
//! act on; a failed check is a finding, never an error.

pub mod cel;
pub mod sbom;
pub mod slsa;
pub mod vsa;
pub mod vuln;

use serde_json::Value;
use time::OffsetDateTime;

use super::glob::ImageName;
use crate::intoto::{Statement, StatementError};
use crate::predicate::sbom::{Component, findings_of};
use crate::predicate::slsa::{Provenance, provenance_of};
use crate::predicate::view;
use crate::predicate::vuln::{Scan, scan_of};

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
    Vsa(vsa::VsaCheck),
    Condition(cel::Condition),
}

/// A verified statement's predicate, read once for the checks of one
/// requirement: as a JSON tree only when a check reads one, the SBOM's
/// components in one pass over the text, each judged by every `sbom`
/// check as it is read and then dropped (what is kept is the findings).
#[derive(Debug)]
pub struct Predicate<'a> {
    tree: Option<Value>,
    /// The problems each `sbom` check (by its address) found, in document
    /// order, or why the components could not all be read.
    sbom: Option<Result<Vec<(usize, String)>, String>>,
    provenance: Option<Provenance<'a>>,
    scan: Option<Scan<'a>>,
    /// The verification summary, or why it could not be read.
    vsa: Option<Result<crate::predicate::vsa::Summary, String>>,
}

impl<'a> Predicate<'a> {
    /// Reads `text` (the statement's predicate) for `checks`. Whatever the
    /// checks, a predicate a JSON tree parse refuses is refused, with the
    /// same error.
    pub fn read(text: &'a str, checks: &[ContentCheck]) -> Result<Predicate<'a>, StatementError> {
        let json = |e: serde_json::Error| StatementError::Json(e.to_string());
        let needs = |kind: fn(&ContentCheck) -> bool| checks.iter().any(kind);
        let tree = if needs(|c| matches!(c, ContentCheck::Condition(_))) {
            Some(serde_json::from_str::<Value>(text).map_err(json)?)
        } else {
            None
        };
        let sbom_checks: Vec<&sbom::SbomCheck> = checks
            .iter()
            .filter_map(|c| match c {
                ContentCheck::Sbom(s) => Some(s),
                _ => None,
            })
            .collect();
        let sbom = if sbom_checks.is_empty() {
            None
        } else {
            let judge = |component: &Component<'_>| -> Vec<(usize, String)> {
                sbom_checks
                    .iter()
                    .flat_map(|c| c.findings(component).into_iter().map(|f| (address(c), f)))
                    .collect()
            };
            Some(findings_of(text, &judge).map_err(json)?)
        };
        let provenance = if needs(|c| matches!(c, ContentCheck::Slsa(_))) {
            Some(provenance_of(text).map_err(json)?)
        } else {
            None
        };
        let scan = if needs(|c| matches!(c, ContentCheck::Vulnerabilities(_))) {
            let findings = needs(|c| matches!(c, ContentCheck::Vulnerabilities(v) if v.reads_findings()));
            Some(scan_of(text, findings).map_err(json)?)
        } else {
            None
        };
        let vsa = if needs(|c| matches!(c, ContentCheck::Vsa(_))) {
            Some(crate::predicate::vsa::Summary::read(text))
        } else {
            None
        };
        if checks.is_empty() {
            view::validate(text).map_err(json)?;
        }
        Ok(Predicate {
            tree,
            sbom,
            provenance,
            scan,
            vsa,
        })
    }

    /// The predicate of `statement` read for `checks` (see [`Predicate::read`]).
    pub fn of(statement: &'a Statement, checks: &[ContentCheck]) -> Result<Predicate<'a>, StatementError> {
        Predicate::read(statement.predicate.get(), checks)
    }

    fn tree(&self) -> Result<&Value, String> {
        // Invariant: `read` builds the tree whenever a condition check is given.
        self.tree
            .as_ref()
            .ok_or_else(|| "the predicate was not read for this check".to_owned())
    }
}

impl ContentCheck {
    /// Runs the check on a statement whose signature and subject were
    /// verified, its predicate read by [`Predicate::read`] for this check.
    pub fn run(&self, statement: &Statement, predicate: &Predicate<'_>, cx: Context<'_>) -> Result<(), String> {
        match self {
            ContentCheck::Slsa(c) => match &predicate.provenance {
                Some(provenance) => c.run(provenance),
                None => Err("the predicate was not read for this check".to_owned()),
            },
            ContentCheck::Sbom(c) => match &predicate.sbom {
                Some(Ok(found)) => sbom::SbomCheck::verdict(
                    found
                        .iter()
                        .filter(|(by, _)| *by == address(c))
                        .map(|(_, f)| f.clone())
                        .collect(),
                ),
                Some(Err(reason)) => Err(reason.clone()),
                None => Err("the predicate was not read for this check".to_owned()),
            },
            ContentCheck::Vulnerabilities(c) => match &predicate.scan {
                Some(scan) => c.run(scan, cx.now),
                None => Err("the predicate was not read for this check".to_owned()),
            },
            ContentCheck::Vsa(c) => match &predicate.vsa {
                Some(Ok(summary)) => c.run(summary, &cx.image.digest, cx.now),
                Some(Err(reason)) => Err(reason.clone()),
                None => Err("the predicate was not read for this check".to_owned()),
            },
            ContentCheck::Condition(c) => c.run(statement, predicate.tree()?, cx.image),
        }
    }

    /// A short name for reports.
    pub fn name(&self) -> &'static str {
        match self {
            ContentCheck::Slsa(_) => "slsa",
            ContentCheck::Sbom(_) => "sbom",
            ContentCheck::Vulnerabilities(_) => "vulnerabilities",
            ContentCheck::Vsa(_) => "vsa",
            ContentCheck::Condition(_) => "condition",
        }
    }
}

/// Which `sbom` check found a problem: the check's address, the same while
/// the requirement's checks are read and run.
fn address(check: &sbom::SbomCheck) -> usize {
    std::ptr::from_ref(check) as usize
}

/// `[a, b, c]` for messages, at most eight items.
pub(crate) fn list<T: std::fmt::Display>(items: &[T]) -> String {
    let mut shown: Vec<String> = items.iter().take(8).map(ToString::to_string).collect();
    if items.len() > 8 {
        shown.push(format!("... {} more", items.len() - 8));
    }
    format!("[{}]", shown.join(", "))
}
