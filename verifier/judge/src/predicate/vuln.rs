//! Vulnerability scans in cosign's vuln predicate
//! (`https://cosign.sigstore.dev/attestation/vuln/v1`): the fields the
//! policy's `vulnerabilities` check reads. The predicate's `scanner.result`
//! is the scanner's own report; findings are read from Trivy
//! (`Results[].Vulnerabilities[]`: `VulnerabilityID`, `Severity`), Grype
//! (`matches[].vulnerability`: `id`, `severity`) and any object with an
//! `id`/`VulnerabilityID` and a `severity`, down to [`MAX_RESULT_DEPTH`]
//! levels (a report nested deeper is an error: what is not read cannot be
//! allowed).

use std::borrow::Cow;
use std::collections::HashMap;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess};
use serde_json::Value;

use super::view::{Path, Read, Shape, Skip, Text, fields, read_str};

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

/// One finding of a scan, borrowing the predicate's text where it has no
/// escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding<'a> {
    pub id: Cow<'a, str>,
    pub severity: Cow<'a, str>,
}

/// What the policy's `vulnerabilities` check reads of a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan<'a> {
    /// `metadata.scanFinishedOn`, as written.
    pub finished_on: Option<Cow<'a, str>>,
    /// Every finding of the scan in `scanner.result` (empty when not asked
    /// for); `Err(reason)` when the report is nested deeper than
    /// [`MAX_RESULT_DEPTH`].
    pub findings: Result<Vec<Finding<'a>>, String>,
}

/// How deep a scanner report is read for findings.
pub const MAX_RESULT_DEPTH: usize = 32;

/// The [`Scan`] of a predicate tree; the findings only when `findings`.
pub fn scan(predicate: &Value, findings: bool) -> Scan<'_> {
    // A tree cannot fail to be read: every shape accepts every value.
    Read(Predicate { findings })
        .deserialize(predicate)
        .unwrap_or_else(|e| Scan {
            finished_on: None,
            findings: Err(format!("the scan cannot be read: {e}")),
        })
}

/// The [`Scan`] of a predicate given as JSON text, read in one pass
/// without a tree; `Err` is what a `Value` parse would refuse.
pub fn scan_of(text: &str, findings: bool) -> Result<Scan<'_>, serde_json::Error> {
    read_str(text, Predicate { findings })
}

struct Predicate {
    findings: bool,
}

impl<'de> Shape<'de> for Predicate {
    type Out = Scan<'de>;
    fn other(self) -> Self::Out {
        Scan {
            finished_on: None,
            findings: Ok(Vec::new()),
        }
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let (mut finished_on, mut result) = (None, Walked::default());
        fields(map, &["metadata", "scanner"], |i, map| {
            if i == 0 {
                finished_on = map.next_value_seed(Read(Path(&["scanFinishedOn"])))?;
            } else if self.findings {
                result = map.next_value_seed(Read(Scanner))?;
            } else {
                map.next_value_seed(Read(Skip))?;
            }
            Ok(())
        })?;
        Ok(Scan {
            finished_on,
            findings: if result.too_deep {
                Err(format!(
                    "scanner result nesting deeper than {MAX_RESULT_DEPTH} levels: sigil does not read that deep, so the scan cannot be checked"
                ))
            } else {
                Ok(result.findings)
            },
        })
    }
}

/// `scanner`: its `result`, walked for findings.
struct Scanner;

impl<'de> Shape<'de> for Scanner {
    type Out = Walked<'de>;
    fn other(self) -> Self::Out {
        Walked::default()
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut result = Walked::default();
        fields(map, &["result"], |_, map| {
            result = map.next_value_seed(Read(Walk { depth: 0 }))?;
            Ok(())
        })?;
        Ok(result)
    }
}

/// A value of a scanner report: its text (when a string), the findings
/// in it, and whether it is nested too deep to be read.
#[derive(Default)]
struct Walked<'de> {
    text: Option<Cow<'de, str>>,
    findings: Vec<Finding<'de>>,
    too_deep: bool,
}

/// Walks a scanner report for findings: any object with an id
/// (`VulnerabilityID`, `id`, `ID`) and a severity (`Severity`, `severity`)
/// that are strings, at any depth down to [`MAX_RESULT_DEPTH`].
struct Walk {
    depth: usize,
}

impl<'de> Shape<'de> for Walk {
    type Out = Walked<'de>;
    fn other(self) -> Self::Out {
        Walked::default()
    }
    fn string(self, text: &str) -> Self::Out {
        Walked {
            text: Some(Cow::Owned(text.to_owned())),
            ..Walked::default()
        }
    }
    fn borrowed(self, text: &'de str) -> Self::Out {
        Walked {
            text: Some(Cow::Borrowed(text)),
            ..Walked::default()
        }
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        if self.depth > MAX_RESULT_DEPTH {
            Skip.array(seq)?;
            return Ok(Walked {
                too_deep: true,
                ..Walked::default()
            });
        }
        let mut out = Walked::default();
        while let Some(mut item) = seq.next_element_seed(Read(Walk { depth: self.depth + 1 }))? {
            out.findings.append(&mut item.findings);
            out.too_deep |= item.too_deep;
        }
        Ok(out)
    }
    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Out, A::Error> {
        if self.depth > MAX_RESULT_DEPTH {
            Skip.object(map)?;
            return Ok(Walked {
                too_deep: true,
                ..Walked::default()
            });
        }
        // Each key once, with its last value (as a tree has it).
        let mut entries: Vec<(Cow<'de, str>, Walked<'de>)> = Vec::new();
        let mut index: Option<HashMap<Cow<'de, str>, usize>> = None;
        while let Some(key) = map.next_key_seed(Read(Text))? {
            let key = key.unwrap_or_default();
            let value = map.next_value_seed(Read(Walk { depth: self.depth + 1 }))?;
            if entries.len() == 16 && index.is_none() {
                index = Some(entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect());
            }
            let seen = match &mut index {
                Some(index) => match index.get(&key) {
                    Some(i) => Some(*i),
                    None => {
                        index.insert(key.clone(), entries.len());
                        None
                    }
                },
                None => entries.iter().position(|(k, _)| *k == key),
            };
            match seen {
                Some(i) => entries[i].1 = value,
                None => entries.push((key, value)),
            }
        }
        let text = |names: &[&str]| {
            names.iter().find_map(|name| {
                entries
                    .iter()
                    .find(|(k, _)| k == name)
                    .and_then(|(_, v)| v.text.clone())
            })
        };
        let mut out = Walked::default();
        if let (Some(id), Some(severity)) = (text(&["VulnerabilityID", "id", "ID"]), text(&["Severity", "severity"])) {
            out.findings.push(Finding { id, severity });
        }
        for (_, mut value) in entries {
            out.findings.append(&mut value.findings);
            out.too_deep |= value.too_deep;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The tree walk the one-pass reading replaced, kept as its reference.
    fn reference(value: &Value, out: &mut Vec<Finding<'static>>, depth: usize) -> Result<(), String> {
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
                        id: id.to_owned().into(),
                        severity: severity.to_owned().into(),
                    });
                }
                for v in map.values() {
                    reference(v, out, depth + 1)?;
                }
            }
            Value::Array(items) => {
                for v in items {
                    reference(v, out, depth + 1)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn sorted(findings: Result<Vec<Finding<'_>>, String>) -> Result<Vec<(String, String)>, String> {
        let mut f: Vec<_> = findings?
            .into_iter()
            .map(|f| (f.id.into_owned(), f.severity.into_owned()))
            .collect();
        f.sort();
        Ok(f)
    }

    #[test]
    fn findings_read_from_text_are_those_of_the_tree_walk() {
        let mut deep = json!({"id": "CVE-deep", "severity": "LOW"});
        for _ in 0..MAX_RESULT_DEPTH {
            deep = json!([deep]);
        }
        let mut results = vec![
            json!({"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "Severity": "LOW"}, {"VulnerabilityID": 7, "id": "CVE-2", "severity": "high", "Severity": null}]}]}),
            json!({"matches": [{"vulnerability": {"id": "GHSA-1", "severity": "Medium"}}], "ID": "X", "severity": "critical"}),
            json!({"wrap": deep.clone()}),
            json!([deep]),
        ];
        let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
        let mut wide = serde_json::Map::new();
        for k in &keys {
            wide.insert(k.clone(), json!({"id": k, "severity": "LOW"}));
        }
        results.push(Value::Object(wide));
        let mut texts: Vec<String> = results
            .iter()
            .map(|r| {
                json!({"scanner": {"result": r}, "metadata": {"scanFinishedOn": "2026-01-01T00:00:00Z"}}).to_string()
            })
            .collect();
        // repeated keys, also past the 16 kept without an index: the last value counts
        let mut repeated = String::from(r#"{"scanner": {"result": {"#);
        for k in &keys {
            repeated.push_str(&format!(r#""{k}": {{"id": "{k}-first", "severity": "LOW"}}, "#));
        }
        for k in keys.iter().step_by(3) {
            repeated.push_str(&format!(r#""{k}": {{"id": "{k}-last", "severity": "HIGH"}}, "#));
        }
        repeated.push_str(r#""k0": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "id": "a", "id": 1, "severity": "x"}}}"#);
        texts.push(repeated);
        texts.push(r#"{"scanner": {"result": {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]], "a": 2}}}"#.to_owned());
        texts.push(r#"{"scanner": [{"result": {"id": "no", "severity": "LOW"}}], "metadata": "x"}"#.to_owned());
        for text in &texts {
            let tree: Value = serde_json::from_str(text).expect("json");
            let result = tree.pointer("/scanner/result").unwrap_or(&Value::Null);
            let mut want = Vec::new();
            let want = sorted(reference(result, &mut want, 0).map(|()| want));
            let read = scan_of(text, true).expect("json");
            assert_eq!(sorted(read.findings), want, "{text}");
            assert_eq!(sorted(scan(&tree, true).findings), want, "{text}");
            assert_eq!(
                read.finished_on.as_deref(),
                tree.pointer("/metadata/scanFinishedOn").and_then(Value::as_str),
                "{text}"
            );
        }
        assert!(sorted(scan_of(&texts[2], true).expect("json").findings).is_err());
    }
}
