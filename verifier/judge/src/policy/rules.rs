//! Loading `rules:`: image patterns, signature combinators, attestation
//! requirements and their content checks, each value checked where it is
//! written.

use std::collections::BTreeMap;

use super::checks::ContentCheck;
use super::checks::cel::Condition;
use super::checks::sbom::{PurlPattern, SbomCheck};
use super::checks::slsa::SlsaCheck;
use super::checks::vsa::VsaCheck;
use super::checks::vuln::{Severity, VulnCheck, parse_duration};
use super::diagnostic::{Code, Diagnostic};
use super::glob::{Glob, Pattern};
use super::loader::{Fields, Loader};
use super::model::{
    AttestationRequirement, BaseImageRequirement, Combinator, Mode, Publisher, Rule, SignatureRequirement,
};
use super::yaml::{Node, Pos, Span, Value};

impl Loader<'_> {
    pub(super) fn rules(&mut self, node: &Node, publishers: &BTreeMap<String, Publisher>) -> Vec<Rule> {
        let Value::Seq(items) = &node.value else {
            self.report(
                Code::InvalidValue,
                node.span,
                format!("rules must be a list, found {}", node.kind()),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let fallback = format!("rule {}", i + 1);
            let Some(fields) = self.mapping(
                item,
                &fallback,
                &[
                    "name",
                    "images",
                    "signatures",
                    "attestations",
                    "baseImage",
                    "mode",
                    "allowUnverified",
                ],
            ) else {
                continue;
            };
            let name = match fields.get("name") {
                Some(n) => self.string(n, "rule name"),
                None => {
                    self.report(
                        Code::MissingField,
                        fields.span,
                        format!("{fallback} needs a `name` (reports name the rule that decided)"),
                    );
                    None
                }
            };
            let what = name.as_ref().map_or(fallback, |n| format!("rule `{n}`"));
            let images = self.patterns(&fields, &what);
            if let (Some(name), Some(images)) = (&name, &images) {
                self.heads.push(super::lint::RuleHead {
                    name: name.clone(),
                    images: images.clone(),
                    span: fields.span,
                });
            }
            let signatures = fields
                .get("signatures")
                .and_then(|n| self.signatures(n, &what, publishers));
            let attestations = match fields.get("attestations") {
                Some(n) => self.attestations(n, &what, publishers),
                None => Some(Vec::new()),
            };
            let base_image = match fields.get("baseImage") {
                Some(n) => self.base_image(n, &what).map(Some),
                None => Some(None),
            };
            let mode = match fields.get("mode") {
                Some(n) => match n.as_str() {
                    Some("enforce") => Some(Mode::Enforce),
                    Some("warn") => Some(Mode::Warn),
                    Some("audit") => Some(Mode::Audit),
                    _ => {
                        self.report(
                            Code::InvalidValue,
                            n.span,
                            format!("{what} mode must be enforce, warn or audit"),
                        );
                        None
                    }
                },
                None => Some(Mode::Enforce),
            };
            let allow_unverified = match fields.get("allowUnverified") {
                Some(n) => self.boolean(n, "allowUnverified"),
                None => Some(false),
            };
            let has_requirements = fields.get("signatures").is_some() || fields.get("attestations").is_some();
            match (has_requirements, allow_unverified) {
                (false, Some(false)) => self.report_with_help(Code::NoRequirements, fields.span, format!("{what} requires neither signatures nor attestations"), "add `signatures:` or `attestations:`, or say `allowUnverified: true` if images may pass unverified"),
                (true, Some(true)) => self.report(Code::ConflictingFields, fields.key_span("allowUnverified"), format!("{what} has requirements and `allowUnverified: true`; remove one")),
                (false, Some(true)) => self.diags.push(Diagnostic::new(Code::AllowUnverified, fields.key_span("allowUnverified"), format!("{what} lets matching images through without any verification"))),
                _ => {}
            }
            if fields.get("baseImage").is_some() && !has_requirements {
                self.report_with_help(
                    Code::NoRequirements,
                    fields.key_span("baseImage"),
                    format!("{what} holds the base image to the policy but verifies nothing of the image itself"),
                    "add `signatures:`: the annotations naming the base are only as trustworthy as the image's signature",
                );
            }
            if let (
                Some(name),
                Some(images),
                Some(attestations),
                Some(base_image),
                Some(mode),
                Some(allow_unverified),
            ) = (name, images, attestations, base_image, mode, allow_unverified)
            {
                let signatures_ok = fields.get("signatures").is_none() || signatures.is_some();
                if signatures_ok {
                    out.push(Rule {
                        name,
                        images,
                        signatures,
                        attestations,
                        base_image,
                        mode,
                        allow_unverified,
                        span: fields.span,
                    });
                }
            }
        }
        out
    }

    /// `images:`, a list of patterns.
    pub(super) fn patterns(&mut self, fields: &Fields<'_>, what: &str) -> Option<Vec<(Pattern, Span)>> {
        let Some(node) = fields.get("images") else {
            self.report(
                Code::MissingField,
                fields.span,
                format!("{what} needs `images` (a list of image patterns)"),
            );
            return None;
        };
        let list = self.string_list(node, &format!("{what} images"))?;
        if list.is_empty() {
            self.report(
                Code::NeverMatches,
                node.span,
                format!("{what} has an empty `images` list and can never match"),
            );
            return None;
        }
        let mut out = Vec::new();
        for (text, span) in list {
            match Pattern::parse(&text) {
                Ok(p) => {
                    self.lint_pattern(&p, span);
                    out.push((p, span));
                }
                Err(e) => self.report(Code::InvalidPattern, span, format!("image pattern {text:?}: {e}")),
            }
        }
        (out.len() == node_len(node)).then_some(out)
    }

    /// `baseImage: { required: BOOL, images: [PATTERN...] }`.
    fn base_image(&mut self, node: &Node, what: &str) -> Option<BaseImageRequirement> {
        let what = format!("{what} baseImage");
        let fields = self.mapping(node, &what, &["required", "images"])?;
        let required = match fields.get("required") {
            Some(n) => self.boolean(n, &format!("{what} required"))?,
            None => false,
        };
        let images = match fields.get("images") {
            Some(_) => self.patterns(&fields, &what)?,
            None => Vec::new(),
        };
        if !required && images.is_empty() {
            self.report(
                Code::InvalidValue,
                fields.span,
                format!("{what} neither requires a base nor restricts its name: say `required: true` or list `images`"),
            );
            return None;
        }
        Some(BaseImageRequirement { required, images })
    }

    /// A list of publisher names, each checked to exist.
    fn publisher_list(
        &mut self,
        node: &Node,
        what: &str,
        publishers: &BTreeMap<String, Publisher>,
    ) -> Option<Vec<String>> {
        let list = self.string_list(node, what)?;
        if list.is_empty() {
            self.report_with_help(
                Code::EmptyAnyOf,
                node.span,
                format!("{what} lists no publishers, so it can never be satisfied"),
                "name at least one publisher from `publishers:`",
            );
            return None;
        }
        let mut ok = true;
        for (name, span) in &list {
            if publishers.contains_key(name) {
                continue;
            }
            ok = false;
            if self.broken_publishers.contains(name) {
                continue; // its own error is reported where it is defined
            }
            let known: Vec<&str> = publishers
                .keys()
                .map(String::as_str)
                .chain(self.broken_publishers.iter().map(String::as_str))
                .collect();
            let help = match super::loader::suggest(name, &known) {
                Some(near) => format!("did you mean `{near}`? defined publishers: {}", known.join(", ")),
                None if known.is_empty() => "define it under `publishers:`".to_owned(),
                None => format!("defined publishers: {}", known.join(", ")),
            };
            self.report_with_help(
                Code::UnknownPublisher,
                *span,
                format!("unknown publisher `{name}` in {what}"),
                help,
            );
        }
        ok.then(|| list.into_iter().map(|(n, _)| n).collect())
    }

    fn signatures(
        &mut self,
        node: &Node,
        what: &str,
        publishers: &BTreeMap<String, Publisher>,
    ) -> Option<SignatureRequirement> {
        let what = format!("{what} signatures");
        let fields = self.mapping(node, &what, &["anyOf", "allOf", "threshold", "annotations"])?;
        let given: Vec<&str> = ["anyOf", "allOf", "threshold"]
            .into_iter()
            .filter(|k| fields.get(k).is_some())
            .collect();
        let combinator = match given.as_slice() {
            ["anyOf"] => {
                Combinator::AnyOf(self.publisher_list(fields.get("anyOf")?, &format!("{what} anyOf"), publishers)?)
            }
            ["allOf"] => {
                Combinator::AllOf(self.publisher_list(fields.get("allOf")?, &format!("{what} allOf"), publishers)?)
            }
            [_] => self.threshold(fields.get("threshold")?, &what, publishers)?,
            [] => {
                self.report(
                    Code::MissingField,
                    fields.span,
                    format!("{what} needs anyOf, allOf or threshold"),
                );
                return None;
            }
            [first, second, ..] => {
                self.report(
                    Code::ConflictingFields,
                    fields.key_span(second),
                    format!("{what} has both `{first}` and `{second}`; give one"),
                );
                return None;
            }
        };
        let mut annotations = BTreeMap::new();
        if let Some(a) = fields.get("annotations") {
            let Value::Map(entries) = &a.value else {
                self.report(
                    Code::InvalidValue,
                    a.span,
                    "annotations must be a mapping of KEY: VALUE",
                );
                return None;
            };
            for (k, v) in entries {
                annotations.insert(k.text.clone(), self.string(v, &format!("annotation {}", k.text))?);
            }
        }
        self.duplicate_keys(combinator.publishers(), publishers, node.span, &what);
        Some(SignatureRequirement {
            combinator,
            annotations,
        })
    }

    fn threshold(&mut self, node: &Node, what: &str, publishers: &BTreeMap<String, Publisher>) -> Option<Combinator> {
        let what = format!("{what} threshold");
        let fields = self.mapping(node, &what, &["count", "of"])?;
        let of_node = fields.get("of");
        let of = match of_node {
            Some(n) => self.publisher_list(n, &format!("{what} of"), publishers),
            None => {
                self.report(Code::MissingField, fields.span, format!("{what} needs `of`"));
                None
            }
        };
        let count = match fields.get("count") {
            Some(n) => match n.as_str().and_then(|s| s.parse::<i64>().ok()) {
                Some(c)
                    if c >= 1
                        && of
                            .as_ref()
                            .is_none_or(|of| usize::try_from(c).is_ok_and(|c| c <= of.len())) =>
                {
                    usize::try_from(c).ok()
                }
                Some(c) => {
                    self.report(
                        Code::InvalidThreshold,
                        n.span,
                        format!(
                            "{what} count {c} must be between 1 and the {} publishers listed",
                            of.as_ref().map_or(0, Vec::len)
                        ),
                    );
                    None
                }
                None => {
                    self.report(
                        Code::InvalidValue,
                        n.span,
                        format!("{what} count must be a whole number"),
                    );
                    None
                }
            },
            None => {
                self.report(Code::MissingField, fields.span, format!("{what} needs `count`"));
                None
            }
        };
        Some(Combinator::Threshold { count: count?, of: of? })
    }

    /// Warns when one list names the same key twice (under one name or two).
    fn duplicate_keys(&mut self, names: &[String], publishers: &BTreeMap<String, Publisher>, span: Span, what: &str) {
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for name in names {
            let Some(p) = publishers.get(name) else { continue };
            let identity = match p.authority.key() {
                Some(k) => k.fingerprint(),
                None => format!("name:{name}"),
            };
            if let Some(first) = seen.insert(identity, name) {
                self.diags.push(Diagnostic::new(
                    Code::DuplicatePublisher,
                    span,
                    format!("{what}: `{first}` and `{name}` are the same signing key, which counts once"),
                ));
            }
        }
    }

    fn attestations(
        &mut self,
        node: &Node,
        what: &str,
        publishers: &BTreeMap<String, Publisher>,
    ) -> Option<Vec<AttestationRequirement>> {
        let Value::Seq(items) = &node.value else {
            self.report(
                Code::InvalidValue,
                node.span,
                format!("{what} attestations must be a list"),
            );
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for item in items {
            match self.attestation(item, what, publishers) {
                Some(a) => out.push(a),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn attestation(
        &mut self,
        node: &Node,
        what: &str,
        publishers: &BTreeMap<String, Publisher>,
    ) -> Option<AttestationRequirement> {
        let fields = self.mapping(
            node,
            &format!("an attestation of {what}"),
            &[
                "predicateType",
                "signedBy",
                "slsa",
                "sbom",
                "vulnerabilities",
                "vsa",
                "condition",
            ],
        )?;
        let predicate_type = self.required_string(&fields, "predicateType", &format!("an attestation of {what}"));
        if let (Some(t), Some(n)) = (&predicate_type, fields.get("predicateType"))
            && !t.contains(':')
        {
            self.report(Code::InvalidValue, n.span, format!("predicateType {t:?} is not a URI"));
        }
        let what = format!("attestation {} of {what}", predicate_type.as_deref().unwrap_or("?"));
        let signed_by = match fields.get("signedBy") {
            Some(n) => self.publisher_list(n, &format!("{what} signedBy"), publishers),
            None => {
                self.report(
                    Code::MissingField,
                    fields.span,
                    format!("{what} needs `signedBy` (the publishers trusted for it)"),
                );
                None
            }
        };
        let mut checks = Vec::new();
        let mut ok = true;
        if let (Some(names), Some(node)) = (&signed_by, fields.get("signedBy")) {
            for name in names {
                if publishers.get(name).is_some_and(|p| p.authority.notation().is_some()) {
                    ok = false;
                    self.report_with_help(
                        Code::InvalidValue,
                        node.span,
                        format!("{what} signedBy: `{name}` is a notation publisher, which vouches for image signatures only"),
                        "list notation publishers under `signatures:`; attestations are verified as cosign or Sigstore evidence",
                    );
                }
            }
        }
        for (key, node) in fields.entries() {
            if let Some(t) = &predicate_type
                && let Some(kinds) = applies_to(&key.text)
                && !kinds.iter().any(|k| t.starts_with(k))
            {
                ok = false;
                self.report_with_help(
                    Code::InapplicableCheck,
                    key.span,
                    format!(
                        "{what}: a `{}` check cannot apply to predicate type {t:?} (it reads only {}), so it would check nothing",
                        key.text,
                        kinds.join(", ")
                    ),
                    "move the check under an attestation of a type it reads, or use a `condition:`",
                );
                continue;
            }
            let check = match key.text.as_str() {
                "slsa" => self.slsa(node, &what).map(ContentCheck::Slsa),
                "sbom" => self.sbom(node, &what).map(ContentCheck::Sbom),
                "vulnerabilities" => self.vulnerabilities(node, &what).map(ContentCheck::Vulnerabilities),
                "vsa" => self.vsa(node, &what).map(ContentCheck::Vsa),
                "condition" => self.condition(node).map(ContentCheck::Condition),
                _ => continue,
            };
            match check {
                Some(c) => checks.push(c),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(AttestationRequirement {
            predicate_type: predicate_type?,
            signed_by: signed_by?,
            checks,
        })
    }

    fn globs(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<Vec<Glob>> {
        let Some(node) = fields.get(key) else {
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        for (text, span) in self.string_list(node, &format!("{what} {key}"))? {
            match Glob::parse(&text) {
                Ok(g) => out.push(g),
                Err(e) => {
                    self.report(Code::InvalidPattern, span, format!("{key} entry {text:?}: {e}"));
                    return None;
                }
            }
        }
        Some(out)
    }

    fn slsa(&mut self, node: &Node, what: &str) -> Option<SlsaCheck> {
        let fields = self.mapping(
            node,
            &format!("{what} slsa"),
            &["builderIds", "sourceRepositories", "buildTypes"],
        )?;
        Some(SlsaCheck {
            builder_ids: self.globs(&fields, "builderIds", what)?,
            source_repositories: self.globs(&fields, "sourceRepositories", what)?,
            build_types: self.globs(&fields, "buildTypes", what)?,
        })
    }

    fn sbom(&mut self, node: &Node, what: &str) -> Option<SbomCheck> {
        let fields = self.mapping(node, &format!("{what} sbom"), &["deniedPackages", "deniedLicenses"])?;
        let mut check = SbomCheck::default();
        if let Some(n) = fields.get("deniedPackages") {
            for (text, span) in self.string_list(n, "deniedPackages")? {
                match PurlPattern::parse(&text) {
                    Ok(p) => check.denied_packages.push(p),
                    Err(e) => self.report(Code::InvalidValue, span, e),
                }
            }
        }
        if let Some(n) = fields.get("deniedLicenses") {
            for (text, span) in self.string_list(n, "deniedLicenses")? {
                if text.chars().all(|c| c.is_ascii_alphanumeric() || "-.+".contains(c)) {
                    check.denied_licenses.push(text);
                } else {
                    self.report(Code::InvalidValue, span, format!("{text:?} is not an SPDX license id"));
                }
            }
        }
        Some(check)
    }

    fn vulnerabilities(&mut self, node: &Node, what: &str) -> Option<VulnCheck> {
        let fields = self.mapping(
            node,
            &format!("{what} vulnerabilities"),
            &["maxAge", "maxSeverity", "deniedIds"],
        )?;
        let mut check = VulnCheck {
            max_age: self.max_age(&fields, "write a positive duration such as 168h, 7d or 1h30m")?,
            ..VulnCheck::default()
        };
        if let Some(n) = fields.get("maxSeverity") {
            let text = self.string(n, "maxSeverity")?;
            check.max_severity = Severity::parse(&text).filter(|_| text != "unknown");
            if check.max_severity.is_none() {
                self.report(
                    Code::InvalidValue,
                    n.span,
                    format!("maxSeverity {text:?} must be negligible, low, medium, high or critical"),
                );
                return None;
            }
        }
        if let Some(n) = fields.get("deniedIds") {
            check.denied_ids = self.string_list(n, "deniedIds")?.into_iter().map(|(t, _)| t).collect();
        }
        Some(check)
    }

    fn vsa(&mut self, node: &Node, what: &str) -> Option<VsaCheck> {
        let fields = self.mapping(
            node,
            &format!("{what} vsa"),
            &["verifierIds", "policyDigests", "maxAge"],
        )?;
        let mut check = VsaCheck::default();
        if let Some(n) = fields.get("verifierIds") {
            check.verifier_ids = self
                .string_list(n, "verifierIds")?
                .into_iter()
                .map(|(t, _)| t)
                .collect();
        }
        if check.verifier_ids.is_empty() {
            self.report(
                Code::MissingField,
                fields.span,
                format!("{what} vsa needs `verifierIds` (the verifiers whose summaries are accepted)"),
            );
            return None;
        }
        if let Some(n) = fields.get("policyDigests") {
            for (text, span) in self.string_list(n, "policyDigests")? {
                let hex = text.strip_prefix("sha256:").unwrap_or(&text).to_ascii_lowercase();
                if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    check.policy_digests.push(hex);
                } else {
                    self.report(
                        Code::InvalidValue,
                        span,
                        format!("policyDigests entry {text:?} is not a sha256 digest"),
                    );
                }
            }
        }
        check.max_age = self.max_age(&fields, "write a positive duration such as 24h or 7d")?;
        Some(check)
    }

    /// The optional `maxAge` of `fields`; `None` (reported) when it is not
    /// a duration, `help` saying what to write.
    fn max_age(&mut self, fields: &Fields<'_>, help: &str) -> Option<Option<time::Duration>> {
        let Some(n) = fields.get("maxAge") else {
            return Some(None);
        };
        let text = self.string(n, "maxAge")?;
        match parse_duration(&text) {
            Some(age) => Some(Some(age)),
            None => {
                self.report_with_help(
                    Code::InvalidValue,
                    n.span,
                    format!("maxAge {text:?} is not a duration"),
                    help,
                );
                None
            }
        }
    }

    fn condition(&mut self, node: &Node) -> Option<Condition> {
        let source = self.string(node, "condition")?;
        match Condition::compile(&source) {
            Ok(c) => Some(c),
            Err(e) => {
                // Point inside the expression when it is a one-line plain or quoted scalar.
                let start = node.span.start;
                let quoted = matches!(&node.value, Value::Scalar { quoted: true, .. })
                    && node.span.start.line == node.span.end.line;
                let pos = if e.line == 1 && node.span.start.line == node.span.end.line {
                    Pos {
                        column: start.column + e.column - 1 + usize::from(quoted),
                        offset: start.offset + e.column - 1 + usize::from(quoted),
                        ..start
                    }
                } else {
                    start
                };
                self.report(
                    Code::InvalidCel,
                    Span { start: pos, end: pos },
                    format!("condition is not valid CEL: {}", e.message),
                );
                None
            }
        }
    }
}

fn node_len(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => items.len(),
        _ => 1,
    }
}

/// The predicate types (as URI prefixes) a content check can read; `None`
/// for checks that read any predicate (`condition`) and for other keys.
fn applies_to(check: &str) -> Option<&'static [&'static str]> {
    match check {
        "slsa" => Some(&["https://slsa.dev/provenance/"]),
        "sbom" => Some(&[crate::predicate::SPDX, crate::predicate::CYCLONEDX]),
        "vulnerabilities" => Some(&[crate::predicate::COSIGN_VULN]),
        "vsa" => Some(&[crate::predicate::SLSA_VSA]),
        _ => None,
    }
}
