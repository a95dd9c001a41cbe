//! SBOMs (SPDX 2.2/2.3 and CycloneDX 1.4-1.7): what a document must hold
//! before sigil signs it ([`validate_spdx`], [`validate_cyclonedx`]), and
//! the components the policy's `sbom` check reads ([`components`], with
//! their package URLs, [`Purl`], and license expressions, [`license_ids`]).
//!
//! Every component counts: nested CycloneDX `components` down to
//! [`MAX_COMPONENT_DEPTH`] levels (a document nested deeper is an error:
//! what is not read cannot be allowed), `metadata.component`, and SPDX
//! `packages` through their `purl` external references.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{PredicateError, parse};

/// Only the fields a check looks at are kept, so a 100 MB SBOM is parsed
/// without building a tree of it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpdxHead {
    spdx_version: Option<String>,
    #[serde(rename = "SPDXID")]
    spdx_id: Option<String>,
    name: Option<String>,
    data_license: Option<String>,
    document_namespace: Option<String>,
    creation_info: Option<SpdxCreation>,
}

#[derive(Deserialize)]
struct SpdxCreation {
    created: Option<String>,
    creators: Option<Vec<String>>,
}

/// Checks an SPDX 2.2/2.3 document has what an SPDX document must.
pub fn validate_spdx(bytes: &[u8]) -> Result<(), PredicateError> {
    const K: &str = "SPDX";
    let head: SpdxHead = parse(bytes)?;
    let version = head.spdx_version.ok_or(PredicateError::Missing {
        kind: K,
        field: "spdxVersion",
    })?;
    if version != "SPDX-2.2" && version != "SPDX-2.3" {
        return Err(PredicateError::Invalid {
            kind: K,
            field: "spdxVersion",
            found: version,
            expected: "SPDX-2.2 or SPDX-2.3",
        });
    }
    let id = head.spdx_id.ok_or(PredicateError::Missing {
        kind: K,
        field: "SPDXID",
    })?;
    if id != "SPDXRef-DOCUMENT" {
        return Err(PredicateError::Invalid {
            kind: K,
            field: "SPDXID",
            found: id,
            expected: "SPDXRef-DOCUMENT",
        });
    }
    head.name.ok_or(PredicateError::Missing { kind: K, field: "name" })?;
    head.data_license.ok_or(PredicateError::Missing {
        kind: K,
        field: "dataLicense",
    })?;
    head.document_namespace.ok_or(PredicateError::Missing {
        kind: K,
        field: "documentNamespace",
    })?;
    let creation = head.creation_info.ok_or(PredicateError::Missing {
        kind: K,
        field: "creationInfo",
    })?;
    creation.created.ok_or(PredicateError::Missing {
        kind: K,
        field: "creationInfo.created",
    })?;
    match creation.creators {
        Some(c) if !c.is_empty() => Ok(()),
        _ => Err(PredicateError::Missing {
            kind: K,
            field: "creationInfo.creators",
        }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CycloneDxHead {
    bom_format: Option<String>,
    spec_version: Option<String>,
}

/// Checks a CycloneDX 1.4-1.7 document has what a CycloneDX BOM must.
pub fn validate_cyclonedx(bytes: &[u8]) -> Result<(), PredicateError> {
    const K: &str = "CycloneDX";
    let head: CycloneDxHead = parse(bytes)?;
    let format = head.bom_format.ok_or(PredicateError::Missing {
        kind: K,
        field: "bomFormat",
    })?;
    if format != "CycloneDX" {
        return Err(PredicateError::Invalid {
            kind: K,
            field: "bomFormat",
            found: format,
            expected: "CycloneDX",
        });
    }
    let version = head.spec_version.ok_or(PredicateError::Missing {
        kind: K,
        field: "specVersion",
    })?;
    if !["1.4", "1.5", "1.6", "1.7"].contains(&version.as_str()) {
        return Err(PredicateError::Invalid {
            kind: K,
            field: "specVersion",
            found: version,
            expected: "1.4 to 1.7",
        });
    }
    Ok(())
}

/// A package URL, as pattern or as found; `version` holds the raw text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purl {
    pub ty: String,
    pub namespace: String,
    pub name: String,
    pub version: Option<String>,
    pub qualifiers: BTreeMap<String, String>,
    pub subpath: Option<String>,
}

impl Purl {
    /// Parses `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`.
    pub fn parse(text: &str) -> Option<Purl> {
        let rest = text.strip_prefix("pkg:")?.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, s)) => (r, Some(s.trim_matches('/').to_owned())),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (
                r,
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
                    .collect(),
            ),
            None => (rest, BTreeMap::new()),
        };
        let (path, version) = match rest.rsplit_once('@') {
            Some((p, v)) if !v.contains('/') => (p, Some(decode(v))),
            _ => (rest, None),
        };
        let (ty, path) = path.split_once('/')?;
        let (namespace, name) = path.rsplit_once('/').unwrap_or(("", path));
        if ty.is_empty() || name.is_empty() {
            return None;
        }
        Some(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace: decode(namespace).to_ascii_lowercase(),
            name: decode(name).to_ascii_lowercase(),
            version,
            qualifiers,
            subpath,
        })
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            let b = u8::try_from(hi * 16 + lo).unwrap_or(b'?');
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A component as the policy's `sbom` check sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub purl: Option<String>,
    pub licenses: Vec<String>,
}

/// How deep nested CycloneDX `components` are read.
pub const MAX_COMPONENT_DEPTH: usize = 64;

/// Every component of a CycloneDX or SPDX document; `Err(reason)` when
/// components are nested deeper than [`MAX_COMPONENT_DEPTH`].
pub fn components(doc: &Value) -> Result<Vec<Component>, String> {
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
            .map(str::to_owned)
            .collect();
        out.push(Component {
            name: package.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
            purl: purl.map(str::to_owned),
            licenses,
        });
    }
    Ok(out)
}

fn cyclonedx(c: &Value, out: &mut Vec<Component>, depth: usize) -> Result<(), String> {
    if depth >= MAX_COMPONENT_DEPTH {
        return Err(format!(
            "component nesting deeper than {MAX_COMPONENT_DEPTH} levels: sigil does not read that deep, so the sbom cannot be checked"
        ));
    }
    let mut licenses = Vec::new();
    for l in c.get("licenses").and_then(Value::as_array).into_iter().flatten() {
        if let Some(e) = l.get("expression").and_then(Value::as_str) {
            licenses.push(e.to_owned());
        }
        if let Some(id) = l.pointer("/license/id").and_then(Value::as_str) {
            licenses.push(id.to_owned());
        }
    }
    out.push(Component {
        name: c.get("name").and_then(Value::as_str).unwrap_or("").to_owned(),
        purl: c.get("purl").and_then(Value::as_str).map(str::to_owned),
        licenses,
    });
    for child in c.get("components").and_then(Value::as_array).into_iter().flatten() {
        cyclonedx(child, out, depth + 1)?;
    }
    Ok(())
}

/// The SPDX ids an expression mentions (operators and parentheses dropped).
pub fn license_ids(expression: &str) -> impl Iterator<Item = &str> {
    expression
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty() && !matches!(t.to_ascii_uppercase().as_str(), "AND" | "OR" | "WITH"))
}
