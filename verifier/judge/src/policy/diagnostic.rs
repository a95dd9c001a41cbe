//! Policy diagnostics in the manner of cargo-deny: every problem is collected
//! before any is reported, each has a stable kebab-case code, a severity, a
//! message and the place in the file it is about, and renders for people
//! (file:line:column with the offending line underlined) or as JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::yaml::{Pos, Span};

/// How bad a problem is: errors make the policy unusable, warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// The stable code of a diagnostic. The kebab-case names are a public
/// interface (documented, matched by scripts); never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// The file is not valid YAML/JSON.
    Syntax,
    /// A key appears twice in one mapping.
    DuplicateKey,
    /// The file is too large or expands to too many nodes.
    TooLarge,
    /// The file could not be read.
    Unreadable,
    /// `apiVersion` or `kind` is missing or not sigil's.
    WrongKind,
    /// A key that the format does not define.
    UnknownField,
    /// A required key is absent.
    MissingField,
    /// A value of the wrong type or form.
    InvalidValue,
    /// Two mutually exclusive keys (`issuer` and `issuerRegExp`, ...).
    ConflictingFields,
    /// A rule or attestation names a publisher that is not defined.
    UnknownPublisher,
    /// A key or root file is missing or unreadable.
    UnreadableFile,
    /// A key does not parse.
    InvalidKey,
    /// A `trustedRoot` or certificate `roots` file is not usable trust
    /// material (not a Sigstore trusted root; no, or a broken, certificate).
    InvalidTrustRoot,
    /// A regular expression does not compile.
    InvalidRegex,
    /// A CEL `condition` does not compile.
    InvalidCel,
    /// A date is not RFC 3339.
    InvalidDate,
    /// An image pattern is malformed.
    InvalidPattern,
    /// `anyOf`/`allOf`/`threshold.of`/`signedBy` is empty.
    EmptyAnyOf,
    /// A threshold count below 1 or above the publishers listed.
    InvalidThreshold,
    /// A publisher list names one key twice (under two names or one).
    DuplicatePublisher,
    /// Two equally specific rules can match the same image.
    OverlappingRules,
    /// An exemption whose `expires` has passed.
    ExpiredExemption,
    /// A rule (or pattern) that no normalised image reference can match.
    NeverMatches,
    /// A rule with neither `signatures` nor `attestations` and no `allowUnverified`.
    NoRequirements,
    /// `allowUnverified: true`: images pass without any evidence.
    AllowUnverified,
    /// A pattern pins a tag; tags are mutable.
    MutableTag,
    /// Two rules share a name.
    DuplicateRuleName,
    /// A content check under a predicate type it cannot read (an `sbom:`
    /// block under SLSA provenance would check nothing).
    InapplicableCheck,
}

impl Code {
    /// The stable kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "syntax",
            Code::DuplicateKey => "duplicate-key",
            Code::TooLarge => "too-large",
            Code::Unreadable => "unreadable-policy",
            Code::WrongKind => "wrong-kind",
            Code::UnknownField => "unknown-field",
            Code::MissingField => "missing-field",
            Code::InvalidValue => "invalid-value",
            Code::ConflictingFields => "conflicting-fields",
            Code::UnknownPublisher => "unknown-publisher",
            Code::UnreadableFile => "unreadable-file",
            Code::InvalidKey => "invalid-key",
            Code::InvalidTrustRoot => "invalid-trust-root",
            Code::InvalidRegex => "invalid-regex",
            Code::InvalidCel => "invalid-cel",
            Code::InvalidDate => "invalid-date",
            Code::InvalidPattern => "invalid-pattern",
            Code::EmptyAnyOf => "empty-any-of",
            Code::InvalidThreshold => "invalid-threshold",
            Code::DuplicatePublisher => "duplicate-publisher",
            Code::OverlappingRules => "overlapping-rules",
            Code::ExpiredExemption => "expired-exemption",
            Code::NeverMatches => "never-matches",
            Code::NoRequirements => "no-requirements",
            Code::InapplicableCheck => "inapplicable-check",
            Code::AllowUnverified => "allow-unverified",
            Code::MutableTag => "mutable-tag",
            Code::DuplicateRuleName => "duplicate-rule-name",
        }
    }

    /// Errors make a policy unusable; the rest are warnings.
    pub fn severity(self) -> Severity {
        match self {
            Code::DuplicatePublisher | Code::ExpiredExemption | Code::AllowUnverified | Code::MutableTag => {
                Severity::Warning
            }
            _ => Severity::Error,
        }
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One problem found in a policy file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where the problem is; `None` for whole-file problems.
    #[serde(skip)]
    pub span: Option<Span>,
    /// A second place the problem involves (the other overlapping rule, ...).
    #[serde(skip)]
    pub related: Option<Span>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity.
    pub fn new(code: Code, span: impl Into<Option<Span>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            span: span.into(),
            related: None,
            help: None,
        }
    }

    /// Adds advice.
    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a second location.
    pub fn related(mut self, span: Span) -> Diagnostic {
        self.related = Some(span);
        self
    }

    /// The 1-based line and column, when the diagnostic has a place.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        self.span.map(|s| (s.start.line, s.start.column))
    }
}

/// All diagnostics of one file, with its text for rendering snippets.
#[derive(Clone, Debug)]
pub struct Diagnostics {
    pub file: PathBuf,
    pub source: String,
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// Number of errors and warnings.
    pub fn counts(&self) -> (usize, usize) {
        let errors = self.items.iter().filter(|d| d.severity == Severity::Error).count();
        (errors, self.items.len() - errors)
    }

    /// Sorts by position (whole-file problems first), stably.
    pub fn sort(&mut self) {
        self.items
            .sort_by_key(|d| d.span.map(|s| (s.start.line, s.start.column)).unwrap_or((0, 0)));
    }

    /// cargo-deny-style text: a header, `--> file:line:column`, the line and a caret underline.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            let level = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let _ = writeln!(out, "{level}[{}]: {}", d.code.as_str(), d.message);
            let locate = |out: &mut String, span: Span, suffix: &str| {
                let (line, column) = (span.start.line, span.start.column);
                let _ = writeln!(out, "  --> {}:{line}:{column}{suffix}", self.file.display());
                snippet(out, &self.source, span);
            };
            match d.span {
                Some(span) => locate(&mut out, span, ""),
                None => {
                    let _ = writeln!(out, "  --> {}", self.file.display());
                }
            }
            if let Some(rel) = d.related {
                locate(&mut out, rel, " (related)");
            }
            if let Some(help) = &d.help {
                let _ = writeln!(out, "  = help: {help}");
            }
            out.push('\n');
        }
        let (errors, warnings) = self.counts();
        let _ = writeln!(out, "{}: {errors} error(s), {warnings} warning(s)", self.file.display());
        out
    }

    /// The JSON shape of `sigil policy lint --output json`.
    pub fn to_json(&self) -> serde_json::Value {
        let (errors, warnings) = self.counts();
        let place = |s: Option<Span>| {
            s.map(|s| serde_json::json!({"line": s.start.line, "column": s.start.column, "endLine": s.end.line, "endColumn": s.end.column}))
        };
        serde_json::json!({
            "apiVersion": "sigil.dev/lint/v1",
            "file": self.file.display().to_string(),
            "errors": errors,
            "warnings": warnings,
            "diagnostics": self.items.iter().map(|d| {
                let mut v = serde_json::to_value(d).unwrap_or_default();
                v["span"] = place(d.span).unwrap_or_default();
                if let Some(r) = place(d.related) { v["related"] = r; }
                v
            }).collect::<Vec<_>>(),
        })
    }

    /// Path for messages: the file name relative to `base` when possible.
    pub fn display_relative(&self, base: &Path) -> String {
        self.file.strip_prefix(base).unwrap_or(&self.file).display().to_string()
    }
}

fn snippet(out: &mut String, source: &str, span: Span) {
    let Some(text) = source.lines().nth(span.start.line.saturating_sub(1)) else {
        return;
    };
    let gutter = span.start.line.to_string();
    let pad = " ".repeat(gutter.len());
    let width = if span.end.line == span.start.line {
        span.end.column.saturating_sub(span.start.column).max(1)
    } else {
        text.chars().count().saturating_sub(span.start.column - 1).max(1)
    };
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{gutter} | {text}");
    let _ = writeln!(
        out,
        "{pad} | {}{}",
        " ".repeat(span.start.column.saturating_sub(1)),
        "^".repeat(width)
    );
}

/// A span at one position (for whole-node problems where only the start is known).
pub fn at(pos: Pos) -> Span {
    Span { start: pos, end: pos }
}
