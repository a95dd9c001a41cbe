//! SBOMs (SPDX 2.2/2.3 and CycloneDX 1.4-1.7): what a document must hold
//! before sigil signs it ([`validate_spdx`], [`validate_cyclonedx`]), and
//! the components the policy's `sbom` check reads ([`components`], with
//! their package URLs, [`Purl`], and license expressions, [`license_ids`]).
//!
//! Every component counts: nested CycloneDX `components` down to
//! [`MAX_COMPONENT_DEPTH`] levels (a document nested deeper is an error:
//! what is not read cannot be allowed), `metadata.component`, and SPDX
//! `packages` through their `purl` external references.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess};
use serde_json::Value;

use super::view::{Read, Shape, Skip, Text, fields, read_str};
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

/// The parts of a package URL's text, not yet decoded.
struct PurlParts<'t> {
    ty: &'t str,
    namespace: &'t str,
    name: &'t str,
    version: Option<&'t str>,
    qualifiers: Option<&'t str>,
    subpath: Option<&'t str>,
}

impl<'t> PurlParts<'t> {
    fn split(text: &'t str) -> Option<PurlParts<'t>> {
        let rest = text.strip_prefix("pkg:")?.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, s)) => (r, Some(s)),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (path, version) = match rest.rsplit_once('@') {
            Some((p, v)) if !v.contains('/') => (p, Some(v)),
            _ => (rest, None),
        };
        let (ty, path) = path.split_once('/')?;
        let (namespace, name) = path.rsplit_once('/').unwrap_or(("", path));
        if ty.is_empty() || name.is_empty() {
            return None;
        }
        Some(PurlParts {
            ty,
            namespace,
            name,
            version,
            qualifiers,
            subpath,
        })
    }
}

/// True when `raw` (percent-encoded) decodes and lower-cases to `want`,
/// which is already lower case; `None` when that cannot be told without
/// decoding.
fn decodes_to(raw: &str, want: &str) -> Option<bool> {
    (!raw.contains('%')).then(|| raw.eq_ignore_ascii_case(want))
}

impl Purl {
    /// Parses `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`.
    pub fn parse(text: &str) -> Option<Purl> {
        let parts = PurlParts::split(text)?;
        Some(Purl {
            ty: parts.ty.to_ascii_lowercase(),
            namespace: decode(parts.namespace).to_ascii_lowercase(),
            name: decode(parts.name).to_ascii_lowercase(),
            version: parts.version.map(decode),
            qualifiers: parts.qualifiers.map_or_else(BTreeMap::new, |q| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
                    .collect()
            }),
            subpath: parts.subpath.map(|s| s.trim_matches('/').to_owned()),
        })
    }

    /// False when the package URL `text` cannot be this package (type,
    /// namespace and name differ) or does not parse, told without
    /// allocating; true when it may be (then parse it and compare fully).
    pub fn may_be(&self, text: &str) -> bool {
        let Some(parts) = PurlParts::split(text) else {
            return false;
        };
        parts.ty.eq_ignore_ascii_case(&self.ty)
            && decodes_to(parts.namespace, &self.namespace).unwrap_or(true)
            && decodes_to(parts.name, &self.name).unwrap_or(true)
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

/// A component as the policy's `sbom` check sees it, borrowing the
/// document's text where it has no escapes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Component<'a> {
    pub name: Cow<'a, str>,
    pub purl: Option<Cow<'a, str>>,
    pub licenses: Vec<Cow<'a, str>>,
}

/// How deep nested CycloneDX `components` are read.
pub const MAX_COMPONENT_DEPTH: usize = 64;

/// Every component of a CycloneDX or SPDX document; `Err(reason)` when
/// components are nested deeper than [`MAX_COMPONENT_DEPTH`].
pub fn components(doc: &Value) -> Result<Vec<Component<'_>>, String> {
    // A tree cannot fail to be read: every shape accepts every value.
    Read(Document(Collect::default()))
        .deserialize(doc)
        .unwrap_or_else(|e| Err(format!("the sbom cannot be read: {e}")))
}

/// [`components`] of a document given as JSON text, read in one pass
/// without a tree; the outer `Err` is what a `Value` parse would refuse.
pub fn components_of(text: &str) -> Result<Result<Vec<Component<'_>>, String>, serde_json::Error> {
    #[cfg(test)]
    VIEWS_READ.with(|n| n.set(n.get() + 1));
    read_str(text, Document(Collect::default()))
}

/// What `judge` finds in each component of a document given as JSON text,
/// in the order [`components_of`] lists them, without holding the
/// components: each is judged as soon as it is read and dropped, so the
/// memory is that of the findings, however many components there are.
/// The components judged are exactly those [`components_of`] gives (a
/// repeated key's earlier components, which a tree would not hold, have
/// their findings dropped); the inner `Err` is its too-deep reason.
pub fn findings_of<T>(
    text: &str,
    judge: &dyn Fn(&Component<'_>) -> Vec<T>,
) -> Result<Result<Vec<T>, String>, serde_json::Error> {
    #[cfg(test)]
    VIEWS_READ.with(|n| n.set(n.get() + 1));
    read_str(text, Document(Judged::new(judge)))
}

#[cfg(test)]
thread_local! {
    /// How many times this thread read a document's components: tests see
    /// that judging without an `sbom` check builds no component view.
    pub(crate) static VIEWS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn too_deep() -> String {
    format!(
        "component nesting deeper than {MAX_COMPONENT_DEPTH} levels: sigil does not read that deep, so the sbom cannot be checked"
    )
}

/// Where the components of one section (`metadata.component`, the
/// top-level `components`, SPDX `packages`) go, numbered in reading order.
trait Sink<'de>: Sized {
    type Out;
    /// An empty sink of the same kind (a repeated key starts its section afresh).
    fn fresh(&self) -> Self;
    /// Numbers the next component, whose fields are still being read.
    fn reserve(&mut self) -> usize;
    /// The component numbered `index`, complete.
    fn done(&mut self, index: usize, component: Component<'de>);
    /// How many components were numbered.
    fn len(&self) -> usize;
    /// Forgets the components numbered `len` and after (a repeated
    /// `components` key replaces them).
    fn truncate(&mut self, len: usize);
    /// The section's result, then the next section's appended.
    fn finish(self) -> Self::Out;
    fn append(out: &mut Self::Out, next: Self::Out);
}

/// Keeps the components.
#[derive(Default)]
struct Collect<'de>(Vec<Component<'de>>);

impl<'de> Sink<'de> for Collect<'de> {
    type Out = Vec<Component<'de>>;
    fn fresh(&self) -> Self {
        Collect::default()
    }
    fn reserve(&mut self) -> usize {
        self.0.push(Component::default());
        self.0.len() - 1
    }
    fn done(&mut self, index: usize, component: Component<'de>) {
        if let Some(slot) = self.0.get_mut(index) {
            *slot = component;
        }
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
    fn finish(self) -> Self::Out {
        self.0
    }
    fn append(out: &mut Self::Out, mut next: Self::Out) {
        if out.is_empty() {
            *out = next;
        } else {
            out.append(&mut next);
        }
    }
}

/// Keeps what a judge finds in each component, by component number.
struct Judged<'j, T> {
    judge: &'j dyn Fn(&Component<'_>) -> Vec<T>,
    count: usize,
    found: Vec<(usize, T)>,
}

impl<'j, T> Judged<'j, T> {
    fn new(judge: &'j dyn Fn(&Component<'_>) -> Vec<T>) -> Self {
        Judged {
            judge,
            count: 0,
            found: Vec::new(),
        }
    }
}

impl<'de, T> Sink<'de> for Judged<'_, T> {
    type Out = Vec<T>;
    fn fresh(&self) -> Self {
        Judged::new(self.judge)
    }
    fn reserve(&mut self) -> usize {
        self.count += 1;
        self.count - 1
    }
    fn done(&mut self, index: usize, component: Component<'de>) {
        self.found
            .extend((self.judge)(&component).into_iter().map(|f| (index, f)));
    }
    fn len(&self) -> usize {
        self.count
    }
    fn truncate(&mut self, len: usize) {
        self.count = len;
        self.found.retain(|(i, _)| *i < len);
    }
    fn finish(mut self) -> Self::Out {
        // A parent is complete after its children: back into reading order (stable).
        self.found.sort_by_key(|(i, _)| *i);
        self.found.into_iter().map(|(_, f)| f).collect()
    }
    fn append(out: &mut Self::Out, mut next: Self::Out) {
        out.append(&mut next);
    }
}

/// The components of one section, with whether one was too deep.
struct Section<S> {
    sink: S,
    too_deep: bool,
}

impl<S> Section<S> {
    fn new(sink: S) -> Self {
        Section { sink, too_deep: false }
    }
}

/// Why a predicate that is not an SBOM document sigil reads has no
/// components to judge: an empty list would let every denied package through.
pub(crate) const NOT_AN_OBJECT: &str = "the sbom is not a JSON object, so it cannot be checked";
pub(crate) const A_STRING: &str = "the sbom is a JSON string (a document's text, as cosign's `spdx` type stores it), \
     which sigil does not read: attest SPDX JSON with --type spdxjson";
pub(crate) const NO_FORMAT: &str =
    "the sbom names no format (neither CycloneDX's `bomFormat` nor SPDX's `spdxVersion`), so it cannot be checked";

/// The document: `metadata.component`, then `components`, then SPDX
/// `packages`, whatever order the keys come in.
struct Document<S>(S);

impl<'de, S: Sink<'de>> Shape<'de> for Document<S> {
    type Out = Result<S::Out, String>;
    fn other(self) -> Self::Out {
        Err(NOT_AN_OBJECT.to_owned())
    }
    fn string(self, _text: &str) -> Self::Out {
        Err(A_STRING.to_owned())
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element_seed(Read(Skip))?.is_some() {}
        Ok(self.other())
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let proto = self.0;
        let (mut meta, mut list, mut packages) = (
            Section::new(proto.fresh()),
            Section::new(proto.fresh()),
            Section::new(proto.fresh()),
        );
        let mut format = false;
        fields(
            map,
            &["metadata", "components", "packages", "bomFormat", "spdxVersion"],
            |i, map| {
                match i {
                    3 | 4 => {
                        format = true;
                        map.next_value_seed(Read(Skip))?;
                    }
                    0 => {
                        meta = Section::new(proto.fresh());
                        map.next_value_seed(Read(Metadata(&mut meta)))?;
                    }
                    1 => {
                        list = Section::new(proto.fresh());
                        map.next_value_seed(Read(CycloneDxList {
                            section: &mut list,
                            depth: 0,
                        }))?;
                    }
                    _ => {
                        packages = Section::new(proto.fresh());
                        map.next_value_seed(Read(Packages(&mut packages)))?;
                    }
                }
                Ok(())
            },
        )?;
        if !format {
            return Ok(Err(NO_FORMAT.to_owned()));
        }
        if meta.too_deep || list.too_deep {
            return Ok(Err(too_deep()));
        }
        let mut out = meta.sink.finish();
        S::append(&mut out, list.sink.finish());
        S::append(&mut out, packages.sink.finish());
        Ok(Ok(out))
    }
}

/// `metadata`: its `component`, if it has one (of whatever type).
struct Metadata<'s, S>(&'s mut Section<S>);

impl<'de, S: Sink<'de>> Shape<'de> for Metadata<'_, S> {
    type Out = ();
    fn other(self) {}
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let section = self.0;
        fields(map, &["component"], |_, map| {
            *section = Section::new(section.sink.fresh());
            map.next_value_seed(Read(CycloneDx {
                section: &mut *section,
                depth: 0,
            }))
        })
    }
}

/// CycloneDX `components`: every item of an array is a component.
struct CycloneDxList<'s, S> {
    section: &'s mut Section<S>,
    depth: usize,
}

impl<'de, S: Sink<'de>> Shape<'de> for CycloneDxList<'_, S> {
    type Out = ();
    fn other(self) {}
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Read(CycloneDx {
                section: &mut *self.section,
                depth: self.depth,
            }))?
            .is_some()
        {}
        Ok(())
    }
}

/// One CycloneDX component (any value: one that is not an object is a
/// component without a name), then its nested components.
struct CycloneDx<'s, S> {
    section: &'s mut Section<S>,
    depth: usize,
}

impl<'de, S: Sink<'de>> Shape<'de> for CycloneDx<'_, S> {
    type Out = ();
    fn other(self) {
        if self.depth >= MAX_COMPONENT_DEPTH {
            self.section.too_deep = true;
        } else {
            let me = self.section.sink.reserve();
            self.section.sink.done(me, Component::default());
        }
    }
    fn string(self, _: &str) {
        self.other();
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Read(Skip))?.is_some() {}
        self.other();
        Ok(())
    }
    fn object<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let section = self.section;
        if self.depth >= MAX_COMPONENT_DEPTH {
            section.too_deep = true;
            while map.next_key_seed(Read(Skip))?.is_some() {
                map.next_value_seed(Read(Skip))?;
            }
            return Ok(());
        }
        let me = section.sink.reserve();
        let mut component = Component::default();
        // Where this component's nested components start, and whether one
        // was too deep before them: a repeated `components` replaces them.
        let mut children: Option<(usize, bool)> = None;
        fields(map, &["name", "purl", "licenses", "components"], |i, map| {
            match i {
                0 => component.name = map.next_value_seed(Read(Text))?.unwrap_or_default(),
                1 => component.purl = map.next_value_seed(Read(Text))?,
                2 => component.licenses = map.next_value_seed(Read(Licenses))?,
                _ => {
                    match children {
                        Some((start, too_deep)) => {
                            section.sink.truncate(start);
                            section.too_deep = too_deep;
                        }
                        None => children = Some((section.sink.len(), section.too_deep)),
                    }
                    map.next_value_seed(Read(CycloneDxList {
                        section: &mut *section,
                        depth: self.depth + 1,
                    }))?;
                }
            }
            Ok(())
        })?;
        section.sink.done(me, component);
        Ok(())
    }
}

/// CycloneDX `licenses`: each item's `expression`, then its `license.id`.
struct Licenses;

impl<'de> Shape<'de> for Licenses {
    type Out = Vec<Cow<'de, str>>;
    fn other(self) -> Self::Out {
        Vec::new()
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut out = Vec::new();
        while let Some((expression, id)) = seq.next_element_seed(Read(LicenseChoice))? {
            out.extend(expression);
            out.extend(id);
        }
        Ok(out)
    }
}

struct LicenseChoice;

impl<'de> Shape<'de> for LicenseChoice {
    type Out = (Option<Cow<'de, str>>, Option<Cow<'de, str>>);
    fn other(self) -> Self::Out {
        (None, None)
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let (mut expression, mut id) = (None, None);
        fields(map, &["expression", "license"], |i, map| {
            if i == 0 {
                expression = map.next_value_seed(Read(Text))?;
            } else {
                id = map.next_value_seed(Read(Field(&["id"])))?;
            }
            Ok(())
        })?;
        Ok((expression, id))
    }
}

/// The string field of an object (`None` when the value is no object or
/// the field no string).
struct Field(&'static [&'static str]);

impl<'de> Shape<'de> for Field {
    type Out = Option<Cow<'de, str>>;
    fn other(self) -> Self::Out {
        None
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut value = None;
        fields(map, self.0, |_, map| {
            value = map.next_value_seed(Read(Text))?;
            Ok(())
        })?;
        Ok(value)
    }
}

/// SPDX `packages`: each item is a component, its package URL the first
/// `purl` external reference's locator.
struct Packages<'s, S>(&'s mut Section<S>);

impl<'de, S: Sink<'de>> Shape<'de> for Packages<'_, S> {
    type Out = ();
    fn other(self) {}
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(c) = seq.next_element_seed(Read(Package))? {
            let me = self.0.sink.reserve();
            self.0.sink.done(me, c);
        }
        Ok(())
    }
}

struct Package;

impl<'de> Shape<'de> for Package {
    type Out = Component<'de>;
    fn other(self) -> Self::Out {
        Component::default()
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let (mut name, mut purl, mut declared, mut concluded) = (None, None, None, None);
        fields(
            map,
            &["name", "externalRefs", "licenseDeclared", "licenseConcluded"],
            |i, map| {
                match i {
                    0 => name = map.next_value_seed(Read(Text))?,
                    1 => purl = map.next_value_seed(Read(ExternalRefs))?,
                    2 => declared = map.next_value_seed(Read(Text))?,
                    _ => concluded = map.next_value_seed(Read(Text))?,
                }
                Ok(())
            },
        )?;
        Ok(Component {
            name: name.unwrap_or_default(),
            purl,
            licenses: declared.into_iter().chain(concluded).collect(),
        })
    }
}

/// The locator of the first external reference whose type is `purl`.
struct ExternalRefs;

impl<'de> Shape<'de> for ExternalRefs {
    type Out = Option<Cow<'de, str>>;
    fn other(self) -> Self::Out {
        None
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let mut first: Option<Option<Cow<'de, str>>> = None;
        while let Some((is_purl, locator)) = seq.next_element_seed(Read(ExternalRef))? {
            if is_purl && first.is_none() {
                first = Some(locator);
            }
        }
        Ok(first.flatten())
    }
}

struct ExternalRef;

impl<'de> Shape<'de> for ExternalRef {
    type Out = (bool, Option<Cow<'de, str>>);
    fn other(self) -> Self::Out {
        (false, None)
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let (mut is_purl, mut locator) = (false, None);
        fields(map, &["referenceType", "referenceLocator"], |i, map| {
            if i == 0 {
                is_purl = map.next_value_seed(Read(Text))?.as_deref() == Some("purl");
            } else {
                locator = map.next_value_seed(Read(Text))?;
            }
            Ok(())
        })?;
        Ok((is_purl, locator))
    }
}

/// The SPDX ids an expression mentions (operators and parentheses dropped).
pub fn license_ids(expression: &str) -> impl Iterator<Item = &str> {
    expression
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty() && !["AND", "OR", "WITH"].iter().any(|op| t.eq_ignore_ascii_case(op)))
}
