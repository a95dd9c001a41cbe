//! Checks that need the whole policy: rules that tie, patterns no image can
//! match, mutable tags, expired exemptions, duplicate names. Run by the
//! loader after every value has been read, so `sigil policy lint` and
//! `verify --policy` see the same diagnostics.

use std::collections::BTreeMap;

use super::diagnostic::{Code, Diagnostic};
use super::glob::{Pattern, Pin};
use super::loader::Loader;
use super::model::Exemption;
use super::yaml::Span;
use crate::reference::{DOCKER_HUB, RegistryRef};

impl Loader<'_> {
    /// Checks one image pattern where it is written (so a rule with other
    /// errors still gets these reported).
    pub(super) fn lint_pattern(&mut self, pattern: &Pattern, span: Span) {
        if let Some((why, help)) = never_matches(pattern) {
            self.report_with_help(
                Code::NeverMatches,
                span,
                format!("image pattern {:?} can never match: {why}", pattern.as_str()),
                help,
            );
        }
        if let Pin::Tag(tag) = pattern.pin() {
            self.diags.push(
                Diagnostic::new(
                    Code::MutableTag,
                    span,
                    format!(
                        "image pattern {:?} pins tag `{tag}`; tags are mutable",
                        pattern.as_str()
                    ),
                )
                .help("pin a digest (@sha256:...) or match the repository"),
            );
        }
    }

    /// The whole-policy checks, over the head of every rule (so a rule with
    /// other errors is still checked for ties and duplicate names).
    pub(super) fn lint(&mut self, exemptions: &[Exemption]) {
        let rules = std::mem::take(&mut self.heads);
        let mut names: BTreeMap<&str, Span> = BTreeMap::new();
        for rule in &rules {
            if let Some(first) = names.insert(&rule.name, rule.span) {
                self.diags.push(
                    Diagnostic::new(
                        Code::DuplicateRuleName,
                        rule.span,
                        format!("two rules are named `{}`", rule.name),
                    )
                    .related(first),
                );
            }
        }
        for (i, a) in rules.iter().enumerate() {
            for b in &rules[i + 1..] {
                if let Some((pa, sa, pb, sb)) = tie(a, b) {
                    self.diags.push(
                        Diagnostic::new(
                            Code::OverlappingRules,
                            sb,
                            format!(
                                "rules `{}` ({:?}) and `{}` ({:?}) are equally specific and can match the same image",
                                a.name,
                                pa.as_str(),
                                b.name,
                                pb.as_str()
                            ),
                        )
                        .related(sa)
                        .help("make one pattern more specific, or merge the rules: the winner must not depend on file order"),
                    );
                }
            }
        }
        for e in exemptions {
            if e.expires <= self.now {
                let when = e
                    .expires
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                self.diags.push(
                    Diagnostic::new(
                        Code::ExpiredExemption,
                        e.span,
                        format!(
                            "exemption {} (owner {}) expired at {when} and is ignored",
                            e.index + 1,
                            e.owner
                        ),
                    )
                    .help("remove it, or renew it with its owner's agreement"),
                );
            }
        }
    }
}

/// What the whole-policy checks need of a rule: its name and patterns.
#[derive(Clone, Debug)]
pub(super) struct RuleHead {
    pub name: String,
    pub images: Vec<(Pattern, Span)>,
    pub span: Span,
}

/// The first pair of patterns, one from each rule, that tie and overlap.
fn tie<'r>(a: &'r RuleHead, b: &'r RuleHead) -> Option<(&'r Pattern, Span, &'r Pattern, Span)> {
    for (pa, sa) in &a.images {
        for (pb, sb) in &b.images {
            if pa.specificity() == pb.specificity() && pa.overlaps(pb) {
                return Some((pa, *sa, pb, *sb));
            }
        }
    }
    None
}

/// Why no normalised image name can match `pattern`, with advice.
pub fn never_matches(pattern: &Pattern) -> Option<(String, String)> {
    let prefix = pattern.literal_prefix();
    if prefix.starts_with("oci:") {
        return None;
    }
    let first = prefix.split('/').next().unwrap_or("");
    let first_complete = prefix.contains('/');
    if let Some(literal) = pattern.literal_repository() {
        return match RegistryRef::parse(&literal) {
            Ok(r) if r.name() == literal => None,
            Ok(r) => Some((
                "image names are matched in normalised form".into(),
                format!("write {:?}", r.name()),
            )),
            Err(e) => Some((
                e.to_string(),
                "write a registry/repository name such as registry.example/team/app".into(),
            )),
        };
    }
    if first_complete && !(first.contains(['.', ':']) || first == "localhost" || first.starts_with('[')) {
        return Some((
            format!("`{first}` is not a registry host, and normalised names always start with one"),
            format!("write {:?}", format!("{DOCKER_HUB}/{}", pattern.as_str())),
        ));
    }
    if prefix.chars().any(|c| c.is_ascii_uppercase())
        && first_complete
        && prefix[first.len()..].chars().any(|c| c.is_ascii_uppercase())
    {
        return Some(("repository names are lower case".into(), "use lower case".into()));
    }
    let text = pattern.as_str();
    if let Some(rest) = text.strip_prefix("docker.io/")
        && !rest.contains('/')
        && !rest.contains("**")
    {
        return Some((
            "Docker Hub names always have a namespace (docker.io/library/alpine)".into(),
            format!("write {:?}", format!("docker.io/library/{rest}")),
        ));
    }
    None
}
