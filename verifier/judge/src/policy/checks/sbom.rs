//! The policy's SBOM check: denied packages (package URLs with version
//! ranges) and denied licenses (SPDX ids), over the components
//! [`crate::predicate::sbom`] reads from CycloneDX and SPDX documents. A
//! component without a package URL (or with one that does not parse) cannot
//! match a denied package. Licenses are read conservatively: a component
//! whose declared or concluded license expression mentions a denied id
//! anywhere (`MIT OR AGPL-3.0-only` included) is denied, ids compared
//! case-insensitively.

use std::cmp::Ordering;

use crate::predicate::sbom::{Component, Purl, license_ids};

/// `sbom: { deniedPackages, deniedLicenses }`.
#[derive(Clone, Debug, Default)]
pub struct SbomCheck {
    pub denied_packages: Vec<PurlPattern>,
    pub denied_licenses: Vec<String>,
}

/// A denied-package pattern: a package URL whose version is a constraint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurlPattern {
    pub text: String,
    pub purl: Purl,
    /// All must hold; empty = every version.
    pub constraints: Vec<(Op, String)>,
}

/// A version comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl PurlPattern {
    /// Parses a pattern; the version part may be `2.14.1`, `<2.17.1` or `>=2.0.0,<2.17.1`.
    pub fn parse(text: &str) -> Result<PurlPattern, String> {
        let purl = Purl::parse(text)
            .ok_or_else(|| format!("{text:?} is not a package URL (pkg:TYPE/NAMESPACE/NAME[@VERSIONS])"))?;
        let mut constraints = Vec::new();
        if let Some(v) = &purl.version {
            for part in v.split(',') {
                let part = part.trim();
                let (op, version) = [
                    ("<=", Op::Le),
                    (">=", Op::Ge),
                    ("!=", Op::Ne),
                    ("<", Op::Lt),
                    (">", Op::Gt),
                    ("=", Op::Eq),
                ]
                .iter()
                .find_map(|(p, op)| part.strip_prefix(p).map(|rest| (*op, rest.trim())))
                .unwrap_or((Op::Eq, part));
                if version.is_empty() {
                    return Err(format!("empty version in {text:?}"));
                }
                constraints.push((op, version.to_owned()));
            }
        }
        Ok(PurlPattern {
            text: text.to_owned(),
            purl,
            constraints,
        })
    }

    /// True when `found` is the package and its version is in the range.
    pub fn matches(&self, found: &Purl) -> bool {
        let p = &self.purl;
        if p.ty != found.ty || p.namespace != found.namespace || p.name != found.name {
            return false;
        }
        if p.qualifiers.iter().any(|(k, v)| found.qualifiers.get(k) != Some(v)) {
            return false;
        }
        if p.subpath.is_some() && p.subpath != found.subpath {
            return false;
        }
        if self.constraints.is_empty() {
            return true;
        }
        // A ranged pattern cannot judge a component without a version: deny (fail closed).
        let Some(version) = &found.version else { return true };
        self.constraints.iter().all(|(op, bound)| {
            let ord = compare_versions(version, bound);
            match op {
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
                Op::Eq => ord == Ordering::Equal,
                Op::Ne => ord != Ordering::Equal,
            }
        })
    }
}

/// Segment-by-segment comparison (`.`, `-`, `+`, `_` separate), numeric
/// where both segments are numbers; a missing segment counts as `0`
/// against a number (`2.17` = `2.17.0`); a leading `v` is ignored.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> Vec<String> {
        let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
        v.split(['.', '-', '+', '_']).map(str::to_owned).collect()
    };
    let (a, b) = (split(a), split(b));
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).map_or("", String::as_str);
        let y = b.get(i).map_or("", String::as_str);
        let num = |s: &str| -> Option<u128> { if s.is_empty() { Some(0) } else { s.parse().ok() } };
        let ord = match (num(x), num(y)) {
            (Some(n), Some(m)) => n.cmp(&m),
            _ => x.cmp(y),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

impl SbomCheck {
    /// Judges the components read from the document (`Err`: the reason
    /// they could not all be read, which fails the check).
    pub fn run(&self, components: &Result<Vec<Component<'_>>, String>) -> Result<(), String> {
        let components = components.as_ref().map_err(Clone::clone)?;
        Self::verdict(components.iter().flat_map(|c| self.findings(c)).collect())
    }

    /// What is denied in one component (each problem a sentence).
    pub fn findings(&self, component: &Component<'_>) -> Vec<String> {
        let mut problems = Vec::new();
        // Only a package URL that may be a denied package is parsed.
        if let Some(text) = component.purl.as_deref()
            && self.denied_packages.iter().any(|p| p.purl.may_be(text))
            && let Some(found) = Purl::parse(text)
            && let Some(p) = self.denied_packages.iter().find(|p| p.matches(&found))
        {
            problems.push(format!(
                "package {} is denied by {}",
                component.purl.as_deref().unwrap_or_default(),
                p.text
            ));
        }
        if self.denied_licenses.is_empty() {
            return problems;
        }
        for expression in &component.licenses {
            if let Some(id) = license_ids(expression).find(|id| {
                let id = id.trim_end_matches('+');
                self.denied_licenses.iter().any(|d| d.eq_ignore_ascii_case(id))
            }) {
                let who = component.purl.as_deref().unwrap_or(&component.name);
                problems.push(format!("license {id} of {who} is denied"));
            }
        }
        problems
    }

    /// The check's result from the problems found in every component, in
    /// the document's order: at most eight shown.
    pub fn verdict(mut problems: Vec<String>) -> Result<(), String> {
        if problems.is_empty() {
            Ok(())
        } else {
            problems.dedup();
            let more = problems.len().saturating_sub(8);
            problems.truncate(8);
            if more > 0 {
                problems.push(format!("and {more} more"));
            }
            Err(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::sbom::{MAX_COMPONENT_DEPTH, components, components_of};
    use serde_json::Value;
    use serde_json::json;

    fn pattern(p: &str) -> PurlPattern {
        PurlPattern::parse(p).expect("pattern")
    }

    #[test]
    fn version_ranges() {
        let table = [
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                true,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.17.1",
                false,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.9.0",
                true,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@>=2.0.0,<2.17.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@1.2.17",
                false,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@>=2.0.0,<2.17.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.10",
                true,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                true,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.10",
                false,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core",
                "pkg:maven/org.apache.logging.log4j/log4j-core@9.9",
                true,
            ),
            (
                "pkg:maven/org.apache.logging.log4j/log4j-core",
                "pkg:maven/org.apache.logging.log4j/log4j-api@2.0",
                false,
            ),
            ("pkg:npm/%40acme/left-pad@<2", "pkg:npm/%40acme/left-pad@1.3.0", true),
            (
                "pkg:deb/debian/openssl?arch=amd64",
                "pkg:deb/debian/openssl@3.0?arch=arm64",
                false,
            ),
            (
                "pkg:deb/debian/openssl",
                "pkg:deb/debian/openssl@3.0?arch=arm64&distro=bookworm",
                true,
            ),
            (
                "pkg:golang/github.com/acme/lib@<v1.2.0",
                "pkg:golang/github.com/acme/lib@v1.10.0",
                false,
            ),
            ("pkg:pypi/Django@<4", "pkg:pypi/django@3.2", true),
        ];
        for (p, found, want) in table {
            assert_eq!(
                pattern(p).matches(&Purl::parse(found).expect("purl")),
                want,
                "{p} vs {found}"
            );
        }
        let e = PurlPattern::parse("maven/x").expect_err("no pkg: scheme");
        assert!(e.contains("pkg:"), "{e}");
        let e = PurlPattern::parse("pkg:maven/x@<").expect_err("bad version range");
        assert!(e.contains('<'), "{e}");
    }

    /// A CycloneDX document whose one component chain is `levels` deep,
    /// the innermost a denied package.
    fn nested(levels: usize) -> Value {
        let mut component = json!({"name": "log4j", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"});
        for n in 1..levels {
            component = json!({"name": format!("level-{n}"), "components": [component]});
        }
        json!({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [component]})
    }

    #[test]
    fn nesting_deeper_than_the_limit_fails_instead_of_being_skipped() {
        let check = SbomCheck {
            denied_packages: vec![pattern("pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1")],
            denied_licenses: vec![],
        };
        let err = check
            .run(&components(&nested(MAX_COMPONENT_DEPTH + 1)))
            .expect_err("too deep");
        assert!(err.contains("nesting deeper than 64"), "{err}");
        // a clean document just as deep fails too: what is not read is not allowed
        let lenient = SbomCheck::default();
        let err = lenient
            .run(&components(&nested(200)))
            .expect_err("too deep, nothing denied");
        assert!(err.contains("nesting deeper than 64"), "{err}");
        // twins: at the limit everything is read, and the innermost package is found
        let err = check
            .run(&components(&nested(MAX_COMPONENT_DEPTH)))
            .expect_err("denied package at depth 64");
        assert!(err.contains("log4j-core@2.14.1 is denied"), "{err}");
        assert_eq!(lenient.run(&components(&nested(MAX_COMPONENT_DEPTH))), Ok(()));
        assert_eq!(
            components(&nested(MAX_COMPONENT_DEPTH)).expect("read").len(),
            MAX_COMPONENT_DEPTH
        );
    }

    #[test]
    fn nested_cyclonedx_and_spdx_components() {
        let cdx = json!({"bomFormat": "CycloneDX", "components": [
            {"name": "app", "purl": "pkg:npm/app@1.0.0", "licenses": [{"license": {"id": "MIT"}}],
             "components": [{"name": "inner", "components": [
                {"name": "log4j", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1",
                 "licenses": [{"expression": "Apache-2.0 OR (AGPL-3.0-only WITH Classpath-exception-2.0)"}]}]}]}]});
        let check = SbomCheck {
            denied_packages: vec![pattern("pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1")],
            denied_licenses: vec!["agpl-3.0-only".into()],
        };
        let err = check.run(&components(&cdx)).expect_err("denied");
        assert!(err.contains("package pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 is denied by pkg:maven/org.apache.logging.log4j/log4j-core@<2.17.1"), "{err}");
        assert!(
            err.contains("license AGPL-3.0-only of pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 is denied"),
            "{err}"
        );
        let spdx = json!({"spdxVersion": "SPDX-2.3", "packages": [
            {"name": "openssl", "licenseConcluded": "NOASSERTION", "licenseDeclared": "GPL-2.0+",
             "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": "pkg:deb/debian/openssl@3.0.11"}]}]});
        let check = SbomCheck {
            denied_packages: vec![pattern("pkg:deb/debian/openssl@<3.0.12")],
            denied_licenses: vec!["GPL-2.0".into()],
        };
        let err = check.run(&components(&spdx)).expect_err("denied");
        assert!(err.contains("package pkg:deb/debian/openssl@3.0.11 is denied"), "{err}");
        assert!(
            err.contains("license GPL-2.0+ of pkg:deb/debian/openssl@3.0.11 is denied"),
            "{err}"
        );
        let clean = SbomCheck {
            denied_packages: vec![pattern("pkg:deb/debian/openssl@<3.0.0")],
            denied_licenses: vec!["SSPL-1.0".into()],
        };
        assert_eq!(clean.run(&components(&spdx)), Ok(()));
        assert_eq!(clean.run(&components(&cdx)), Ok(()));
    }

    /// The tree walk the one-pass reading replaced, kept as its reference.
    fn reference(doc: &Value) -> Result<Vec<Component<'static>>, String> {
        fn cyclonedx(c: &Value, out: &mut Vec<Component<'static>>, depth: usize) -> Result<(), String> {
            if depth >= MAX_COMPONENT_DEPTH {
                return Err(format!(
                    "component nesting deeper than {MAX_COMPONENT_DEPTH} levels: sigil does not read that deep, so the sbom cannot be checked"
                ));
            }
            let mut licenses = Vec::new();
            for l in c.get("licenses").and_then(Value::as_array).into_iter().flatten() {
                if let Some(e) = l.get("expression").and_then(Value::as_str) {
                    licenses.push(e.to_owned().into());
                }
                if let Some(id) = l.pointer("/license/id").and_then(Value::as_str) {
                    licenses.push(id.to_owned().into());
                }
            }
            out.push(Component {
                name: c.get("name").and_then(Value::as_str).unwrap_or("").to_owned().into(),
                purl: c.get("purl").and_then(Value::as_str).map(|p| p.to_owned().into()),
                licenses,
            });
            for child in c.get("components").and_then(Value::as_array).into_iter().flatten() {
                cyclonedx(child, out, depth + 1)?;
            }
            Ok(())
        }
        use crate::predicate::sbom::{A_STRING, NO_FORMAT, NOT_AN_OBJECT};
        match doc {
            Value::String(_) => return Err(A_STRING.to_owned()),
            Value::Object(m) if !m.contains_key("bomFormat") && !m.contains_key("spdxVersion") => {
                return Err(NO_FORMAT.to_owned());
            }
            Value::Object(_) => {}
            _ => return Err(NOT_AN_OBJECT.to_owned()),
        }
        let mut out = Vec::new();
        if let Some(meta) = doc.pointer("/metadata/component") {
            cyclonedx(meta, &mut out, 0)?;
        }
        if let Some(items) = doc.get("components").and_then(Value::as_array) {
            for c in items {
                cyclonedx(c, &mut out, 0)?;
            }
        }
        for package in doc.get("packages").and_then(Value::as_array).into_iter().flatten() {
            let purl = package
                .get("externalRefs")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|r| r.get("referenceType").and_then(Value::as_str) == Some("purl"))
                .and_then(|r| r.get("referenceLocator").and_then(Value::as_str));
            let licenses = ["licenseDeclared", "licenseConcluded"]
                .iter()
                .filter_map(|k| package.get(*k).and_then(Value::as_str))
                .map(|l| l.to_owned().into())
                .collect();
            out.push(Component {
                name: package
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
                    .into(),
                purl: purl.map(|p| p.to_owned().into()),
                licenses,
            });
        }
        Ok(out)
    }

    #[test]
    fn components_read_from_text_are_those_read_from_a_tree() {
        for path in [
            "sbom/guac/alpine-cyclonedx.json",
            "sbom/guac/alpine-spdx.json",
            "sbom/cosign/bom-go-mod.cyclonedx.json",
            "sbom/cosign/bom-go-mod.spdx.json",
            "sbom/guac/oci-kubectl-linux-amd64-spdx-1.json",
        ] {
            let text = String::from_utf8(crate::testdata::read(path)).expect("utf-8");
            let tree: Value = serde_json::from_str(&text).expect("json");
            let want = components(&tree);
            assert_eq!(want, reference(&tree), "{path}");
            assert_eq!(components_of(&text).expect("json"), want, "{path}");
        }
        // repeated keys: the last counts, as in a tree; other types are absent
        let text = r#"{"bomFormat": "CycloneDX", "components": [{"name": "x", "purl": "pkg:npm/a@1"}],
            "components": [{"name": "y", "purl": 7, "components": [{"name": "dropped"}], "components": [2],
                            "licenses": [{"license": {"id": "MIT"}, "expression": "A OR B"}]}],
            "metadata": {"component": {"name": "m", "components": [{"name": "deep", "components": []}]}},
            "packages": [{"name": "p", "externalRefs": [{"referenceType": "cpe"}, {"referenceType": "purl", "referenceLocator": 1},
                {"referenceType": "purl", "referenceLocator": "pkg:deb/x@1"}], "licenseConcluded": "MIT", "licenseDeclared": "GPL-2.0"}, 5]}"#;
        let tree: Value = serde_json::from_str(text).expect("json");
        let read = components_of(text).expect("json");
        assert_eq!(read, components(&tree));
        assert_eq!(read, reference(&tree));
        let names: Vec<&str> = read.as_ref().expect("read").iter().map(|c| c.name.as_ref()).collect();
        assert_eq!(names, ["m", "deep", "y", "", "p", ""]);
        // a document too deep for a tree parse is refused as a tree parse refuses it
        let deep = nested(MAX_COMPONENT_DEPTH).to_string();
        for levels in [3, 30, MAX_COMPONENT_DEPTH, MAX_COMPONENT_DEPTH + 1, 100] {
            let tree = nested(levels);
            assert_eq!(components(&tree), reference(&tree), "{levels}");
        }
        assert_eq!(
            components_of(&deep).expect_err("recursion limit").to_string(),
            serde_json::from_str::<Value>(&deep)
                .expect_err("recursion limit")
                .to_string()
        );
    }

    #[test]
    fn components_judged_as_they_are_read_give_what_judging_the_list_gives() {
        use crate::predicate::sbom::findings_of;
        // every component is a finding, so the whole list and its order are compared
        let each = |c: &Component<'_>| vec![format!("{}|{:?}|{:?}", c.name, c.purl, c.licenses)];
        let mut texts: Vec<String> = [
            "sbom/guac/alpine-cyclonedx.json",
            "sbom/guac/alpine-spdx.json",
            "sbom/cosign/bom-go-mod.cyclonedx.json",
            "sbom/cosign/bom-go-mod.spdx.json",
            "sbom/guac/oci-kubectl-linux-amd64-spdx-1.json",
        ]
        .iter()
        .map(|path| String::from_utf8(crate::testdata::read(path)).expect("utf-8"))
        .collect();
        // repeated keys at every level, parents after and before their children, other types
        texts.push(
            r#"{"spdxVersion": "SPDX-2.3", "components": [{"name": "x", "purl": "pkg:npm/a@1"}],
            "components": [{"components": [{"name": "c1"}], "name": "y", "purl": 7, "components": [{"name": "dropped"}], "components": [2, {"name": "c2", "components": [{"name": "g"}]}],
                            "licenses": [{"license": {"id": "MIT"}, "expression": "A OR B"}]}, {"name": "z"}],
            "metadata": {"component": {"name": "old"}, "component": {"name": "m", "components": [{"name": "deep", "components": []}]}},
            "packages": [{"name": "gone"}],
            "packages": [{"name": "p", "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:deb/x@1"}], "licenseConcluded": "MIT"}, 5]}"#
                .to_owned(),
        );
        texts.push(nested(MAX_COMPONENT_DEPTH - 1).to_string());
        texts.push("[1]".to_owned());
        texts.push(r#""{\"spdxVersion\": \"SPDX-2.3\"}""#.to_owned());
        texts.push(r#"{"components": [{"name": "no format"}]}"#.to_owned());
        for text in &texts {
            let listed = components_of(text)
                .expect("json")
                .map(|list| list.iter().flat_map(each).collect::<Vec<_>>());
            let judged = findings_of(text, &each).expect("json");
            assert_eq!(judged, listed, "{text:.200}");
        }
        // the checks agree too: denied packages and licences, deep inside and repeated
        let check = SbomCheck {
            denied_packages: vec![pattern("pkg:deb/x")],
            denied_licenses: vec!["MIT".into()],
        };
        for text in &texts {
            let judged = findings_of(text, &|c: &Component<'_>| check.findings(c))
                .expect("json")
                .and_then(SbomCheck::verdict);
            assert_eq!(judged, check.run(&components_of(text).expect("json")), "{text:.200}");
        }
        let judged = findings_of(&texts[5], &|c: &Component<'_>| check.findings(c)).expect("json");
        assert_eq!(
            judged,
            Ok(vec![
                "license MIT of y is denied".to_owned(),
                "package pkg:deb/x@1 is denied by pkg:deb/x".to_owned(),
                "license MIT of pkg:deb/x@1 is denied".to_owned(),
            ])
        );
    }
}
