//! Vulnerability scans in cosign's vuln predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`): the fields the
//! policy's `vulnerabilities` check reads. The predicate's `scanner.result`
//! is the scanner's own report; findings are read from Trivy
//! (`Results[].Vulnerabilities[]`: `VulnerabilityID`, `Severity`), Grype
//! (`matches[].vulnerability`: `id`, `severity`) and any object with an
//! `id`/`VulnerabilityID` and a `severity`, down to [`MAX_RESULT_DEPTH`]
//! levels (a report nested deeper is an error: what is not read cannot be
//! allowed).

use serde_json::Value;

use super::str_at;

/// Severity ranks, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Negligible,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Parses a severity word (any case); `None` when sigil does not know
    /// it, and for `unknown`, which says nothing about the finding: both
    /// count as critical.
    pub fn parse(word: &str) -> Option<Severity> {
        Some(match word.to_ascii_lowercase().as_str() {
            "negligible" | "none" | "info" | "informational" => Severity::Negligible,
            "low" => Severity::Low,
            "medium" | "moderate" => Severity::Medium,
            "high" | "important" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }

    /// The severity's name, lower case.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Negligible => "negligible",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One finding of a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub id: String,
    pub severity: String,
}

/// `metadata.scanFinishedOn`, as written.
pub fn scan_finished_on(predicate: &Value) -> Option<&str> {
    str_at(predicate, &["metadata", "scanFinishedOn"])
}

/// Every finding of the scan in `scanner.result`.
pub fn findings(predicate: &Value) -> Result<Vec<Finding>, String> {
    let result = predicate.pointer("/scanner/result").unwrap_or(&Value::Null);
    let mut out = Vec::new();
    collect(result, &mut out, 0)?;
    Ok(out)
}

/// How deep a scanner report is read for findings.
pub const MAX_RESULT_DEPTH: usize = 32;

/// Walks a scanner report for findings; `Err(reason)` when it is nested
/// deeper than [`MAX_RESULT_DEPTH`].
pub fn collect(value: &Value, out: &mut Vec<Finding>, depth: usize) -> Result<(), String> {
    if depth > MAX_RESULT_DEPTH && (value.is_object() || value.is_array()) {
        return Err(format!(
            "scanner result nesting deeper than {MAX_RESULT_DEPTH} levels: sigil does not read that deep, so the scan cannot be checked"
        ));
    }
    match value {
        Value::Object(map) => {
            let id = ["VulnerabilityID", "id", "ID"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str));
            let severity = ["Severity", "severity"]
                .iter()
                .find_map(|k| map.get(*k).and_then(Value::as_str));
            if let (Some(id), Some(severity)) = (id, severity) {
                out.push(Finding {
                    id: id.to_owned(),
                    severity: severity.to_owned(),
                });
            }
            for v in map.values() {
                collect(v, out, depth + 1)?;
            }
        }
        Value::Array(items) => {
            for v in items {
                collect(v, out, depth + 1)?;
            }
        }
        _ => {}
    }
    Ok(())
}
