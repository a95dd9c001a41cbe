//! The policy's vulnerability-scan check: the scan's age, the worst
//! severity found, and denied ids, over the findings
//! [`crate::predicate::vuln`] reads from cosign's vuln predicate. A severity
//! of `unknown`, or a word sigil does not know, counts as critical (fail
//! closed); `negligible` ranks lowest.

use time::{Duration, OffsetDateTime};

use super::list;
use crate::predicate::vuln::Scan;
pub use crate::predicate::vuln::Severity;

/// `vulnerabilities: { maxAge, maxSeverity, deniedIds }`.
#[derive(Clone, Debug, Default)]
pub struct VulnCheck {
    pub max_age: Option<Duration>,
    pub max_severity: Option<Severity>,
    pub denied_ids: Vec<String>,
}

impl VulnCheck {
    /// Whether the check reads the scan's findings (not only its age).
    pub fn reads_findings(&self) -> bool {
        self.max_severity.is_some() || !self.denied_ids.is_empty()
    }

    /// Judges the scan, read with its findings when [`Self::reads_findings`].
    pub fn run(&self, scan: &Scan<'_>, now: OffsetDateTime) -> Result<(), String> {
        if let Some(max_age) = self.max_age {
            let finished = scan
                .finished_on
                .as_deref()
                .ok_or("scan has no metadata.scanFinishedOn")?;
            let finished = OffsetDateTime::parse(finished, &time::format_description::well_known::Rfc3339)
                .map_err(|_| format!("scan finish time {finished:?} is not RFC 3339"))?;
            let age = now - finished;
            if age > max_age {
                return Err(format!(
                    "scan finished {} ago, older than the maximum age {}",
                    human_duration(age),
                    human_duration(max_age)
                ));
            }
        }
        if !self.reads_findings() {
            return Ok(());
        }
        let findings = scan.findings.as_ref().map_err(Clone::clone)?;
        if let Some(max) = self.max_severity {
            let mut over: Vec<String> = findings
                .iter()
                .filter(|f| Severity::parse(&f.severity).unwrap_or(Severity::Critical) > max)
                .map(|f| format!("{} ({})", f.id, f.severity.to_ascii_lowercase()))
                .collect();
            over.sort();
            over.dedup();
            if !over.is_empty() {
                return Err(format!("findings above {}: {}", max.as_str(), list(&over)));
            }
        }
        let mut denied: Vec<&str> = findings
            .iter()
            .filter(|f| self.denied_ids.iter().any(|d| d.eq_ignore_ascii_case(&f.id)))
            .map(|f| f.id.as_ref())
            .collect();
        denied.sort_unstable();
        denied.dedup();
        if !denied.is_empty() {
            return Err(format!("denied vulnerabilities found: {}", list(&denied)));
        }
        Ok(())
    }
}

/// Parses `168h`, `7d`, `1h30m`, `90s`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'd' => Duration::days(n),
            'h' => Duration::hours(n),
            'm' => Duration::minutes(n),
            's' => Duration::seconds(n),
            _ => return None,
        };
        total = total.checked_add(unit)?;
        any = true;
    }
    (number.is_empty() && any && total > Duration::ZERO).then_some(total)
}

pub(crate) fn human_duration(d: Duration) -> String {
    let hours = d.whole_hours();
    if hours >= 48 {
        format!("{}d{}h", hours / 24, hours % 24)
    } else if hours >= 1 {
        format!("{hours}h{}m", d.whole_minutes() % 60)
    } else {
        format!("{}m", d.whole_minutes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::vuln::MAX_RESULT_DEPTH;
    use crate::predicate::vuln::scan as read;
    use serde_json::{Value, json};

    impl VulnCheck {
        fn run_on(&self, predicate: &Value, now: OffsetDateTime) -> Result<(), String> {
            self.run(&read(predicate, self.reads_findings()), now)
        }
    }
    use time::macros::datetime;

    fn scan(finished: &str, result: Value) -> Value {
        json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy", "result": result},
               "metadata": {"scanStartedOn": finished, "scanFinishedOn": finished}})
    }

    #[test]
    fn age_severity_and_ids() {
        let now = datetime!(2026-01-10 00:00 UTC);
        let trivy = json!({"Results": [{"Vulnerabilities": [
            {"VulnerabilityID": "CVE-2024-1", "Severity": "LOW"},
            {"VulnerabilityID": "CVE-2024-2", "Severity": "HIGH"}]}]});
        let p = scan("2026-01-09T00:00:00Z", trivy);
        let check = VulnCheck {
            max_age: parse_duration("168h"),
            max_severity: Some(Severity::Medium),
            denied_ids: vec![],
        };
        assert_eq!(
            check.run_on(&p, now),
            Err("findings above medium: [CVE-2024-2 (high)]".into())
        );
        let lenient = VulnCheck {
            max_severity: Some(Severity::High),
            ..check.clone()
        };
        assert_eq!(lenient.run_on(&p, now), Ok(()));
        let old = VulnCheck {
            max_severity: None,
            ..check.clone()
        };
        assert!(
            old.run_on(&p, datetime!(2026-02-01 00:00 UTC))
                .expect_err("old")
                .contains("older than the maximum age 7d0h")
        );
        let ids = VulnCheck {
            denied_ids: vec!["cve-2024-1".into()],
            ..VulnCheck::default()
        };
        assert_eq!(
            ids.run_on(&p, now),
            Err("denied vulnerabilities found: [CVE-2024-1]".into())
        );
        let grype = scan(
            "2026-01-09T00:00:00Z",
            json!({"matches": [{"vulnerability": {"id": "GHSA-x", "severity": "Weird"}}]}),
        );
        assert!(
            check
                .run_on(&grype, now)
                .expect_err("unknown word ranks critical")
                .contains("GHSA-x (weird)")
        );
        assert_eq!(
            VulnCheck {
                max_age: Some(Duration::hours(1)),
                ..VulnCheck::default()
            }
            .run_on(&json!({}), now),
            Err("scan has no metadata.scanFinishedOn".into())
        );
    }

    /// A Trivy-shaped result whose finding sits under `levels` of wrapping.
    fn buried(levels: usize, severity: &str) -> Value {
        let mut value = json!({"VulnerabilityID": "CVE-2024-9", "Severity": severity});
        for _ in 0..levels {
            value = json!({"wrap": value});
        }
        value
    }

    #[test]
    fn results_nested_deeper_than_the_limit_fail_instead_of_being_skipped() {
        let now = datetime!(2026-01-10 00:00 UTC);
        let check = VulnCheck {
            max_severity: Some(Severity::Medium),
            ..VulnCheck::default()
        };
        let deep = scan("2026-01-09T00:00:00Z", buried(MAX_RESULT_DEPTH + 1, "CRITICAL"));
        let err = check.run_on(&deep, now).expect_err("too deep");
        assert!(err.contains("nesting deeper than 32"), "{err}");
        // deep but harmless-looking is refused too
        let deep_low = scan("2026-01-09T00:00:00Z", buried(40, "LOW"));
        assert!(
            check
                .run_on(&deep_low, now)
                .expect_err("too deep")
                .contains("nesting deeper than 32")
        );
        let ids = VulnCheck {
            denied_ids: vec!["CVE-2024-9".into()],
            ..VulnCheck::default()
        };
        assert!(
            ids.run_on(&deep, now)
                .expect_err("too deep")
                .contains("nesting deeper than 32")
        );
        // twins: at the limit the finding is read and judged
        let at_limit = scan("2026-01-09T00:00:00Z", buried(MAX_RESULT_DEPTH, "CRITICAL"));
        assert_eq!(
            check.run_on(&at_limit, now),
            Err("findings above medium: [CVE-2024-9 (critical)]".into())
        );
        let low = scan("2026-01-09T00:00:00Z", buried(MAX_RESULT_DEPTH, "LOW"));
        assert_eq!(check.run_on(&low, now), Ok(()));
        // only the age asked for: the findings are not read, depth does not matter
        let age_only = VulnCheck {
            max_age: parse_duration("168h"),
            ..VulnCheck::default()
        };
        assert_eq!(age_only.run_on(&deep, now), Ok(()));
    }

    #[test]
    fn unknown_severity_counts_as_critical() {
        let now = datetime!(2026-01-10 00:00 UTC);
        for word in ["UNKNOWN", "unknown", "Unknown"] {
            let p = scan(
                "2026-01-09T00:00:00Z",
                json!({"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-2024-7", "Severity": word}]}]}),
            );
            for max in [Severity::Negligible, Severity::Low, Severity::Medium, Severity::High] {
                let check = VulnCheck {
                    max_severity: Some(max),
                    ..VulnCheck::default()
                };
                let err = check.run_on(&p, now).expect_err("unknown is above every lower maximum");
                assert!(err.contains("CVE-2024-7 (unknown)"), "{word} vs {max:?}: {err}");
            }
            // at maxSeverity critical it is allowed, as a critical finding is
            let critical = VulnCheck {
                max_severity: Some(Severity::Critical),
                ..VulnCheck::default()
            };
            assert_eq!(critical.run_on(&p, now), Ok(()), "{word}");
        }
        assert_eq!(Severity::parse("UNKNOWN"), None);
        // twins: the words that do rank low still do
        for word in ["negligible", "none", "info", "LOW"] {
            assert!(Severity::parse(word).is_some_and(|s| s <= Severity::Low), "{word}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("168h"), Some(Duration::hours(168)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("7d"), Some(Duration::days(7)));
        for bad in ["", "h", "10", "5y", "0h", "-1h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
