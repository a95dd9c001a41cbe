//! The summaries of an audit: what an SBOM, a SLSA provenance and a
//! vulnerability scan say, read with the judge's predicate readers, and the
//! base images a provenance names.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Content, ImageAudit, MAX_LISTED, ProvenanceSummary, SbomSummary, VulnSummary};
use crate::evidence::Origin;
use crate::intoto::Statement;
use crate::policy::checks::sbom::SbomCheck;
use crate::predicate::{self, sbom, slsa, vuln};

/// Adds the summary of a statement's predicate, by its type.
pub(super) fn summarise(
    audit: &mut ImageAudit,
    origin: &Origin,
    statement: &Statement,
    content: Content,
    sbom_checks: Option<Vec<&SbomCheck>>,
) {
    let t = statement.predicate_type.as_str();
    let text = statement.predicate.get();
    if t.starts_with(predicate::SPDX) || t.starts_with(predicate::CYCLONEDX) {
        audit.sboms.push(sbom_summary(origin, t, text, content, sbom_checks));
    } else if t == predicate::SLSA_PROVENANCE_V1 || t == predicate::SLSA_PROVENANCE_V02 {
        let tree: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let p = slsa::provenance(&tree);
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let (commit, invocation) = if t == predicate::SLSA_PROVENANCE_V1 {
            let dep = tree.pointer("/buildDefinition/resolvedDependencies/0/digest");
            (
                s(dep.and_then(|d| d.get("gitCommit").or_else(|| d.get("sha1")))),
                s(tree.pointer("/runDetails/metadata/invocationId")),
            )
        } else {
            (
                s(tree.pointer("/invocation/configSource/digest/sha1")),
                s(tree.pointer("/metadata/buildInvocationId")),
            )
        };
        audit.provenance.push(ProvenanceSummary {
            origin: origin.clone(),
            content,
            predicate_type: t.to_owned(),
            builder_id: p.builder_id.map(Into::into),
            build_type: p.build_type.map(Into::into),
            source_repository: p.source_repository.map(Into::into),
            source_commit: commit,
            invocation_id: invocation,
        });
        for base in crate::base::from_provenance(&tree) {
            if !audit.bases.contains(&base) {
                audit.bases.push(base);
            }
        }
    } else if t == predicate::COSIGN_VULN {
        let tree: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let scan = vuln::scan(&tree, true);
        let scanner = tree.pointer("/scanner/uri").and_then(Value::as_str).map(|uri| {
            match tree
                .pointer("/scanner/version")
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
            {
                Some(v) => format!("{uri} {v}"),
                None => uri.to_owned(),
            }
        });
        let mut counts = BTreeMap::new();
        let error = match &scan.findings {
            Ok(findings) => {
                for f in findings {
                    let word = vuln::Severity::parse(&f.severity).map_or("unknown", vuln::Severity::as_str);
                    *counts.entry(word.to_owned()).or_insert(0) += 1;
                }
                None
            }
            Err(e) => Some(e.clone()),
        };
        audit.vulnerabilities.push(VulnSummary {
            origin: origin.clone(),
            content,
            scanner,
            finished_on: scan.finished_on.map(Into::into),
            counts,
            error,
        });
    }
}

fn sbom_summary(
    origin: &Origin,
    t: &str,
    text: &str,
    content: Content,
    checks: Option<Vec<&SbomCheck>>,
) -> SbomSummary {
    let mut summary = SbomSummary {
        origin: origin.clone(),
        content,
        predicate_type: t.to_owned(),
        components: 0,
        ecosystems: Vec::new(),
        licenses: Vec::new(),
        denied: checks.as_ref().filter(|c| !c.is_empty()).map(|_| Vec::new()),
        error: None,
    };
    let components = match sbom::components_of(text) {
        Ok(Ok(c)) => c,
        Ok(Err(reason)) => {
            summary.error = Some(reason);
            return summary;
        }
        Err(e) => {
            summary.error = Some(format!("the SBOM is not JSON: {e}"));
            return summary;
        }
    };
    summary.components = components.len();
    let mut ecosystems = BTreeSet::new();
    let mut licenses = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for c in &components {
        if let Some(purl) = c.purl.as_deref().and_then(sbom::Purl::parse)
            && ecosystems.len() < MAX_LISTED
        {
            ecosystems.insert(purl.ty);
        }
        for expression in &c.licenses {
            for id in sbom::license_ids(expression) {
                if licenses.len() < MAX_LISTED {
                    licenses.insert(id.to_owned());
                }
            }
        }
        for check in checks.iter().flatten() {
            for finding in check.findings(c) {
                if denied.len() < MAX_LISTED {
                    denied.insert(finding);
                }
            }
        }
    }
    summary.ecosystems = ecosystems.into_iter().collect();
    summary.licenses = licenses.into_iter().collect();
    if let Some(d) = &mut summary.denied {
        d.extend(denied);
    }
    summary
}
