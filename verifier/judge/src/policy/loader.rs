//! Reading a policy file into a [`Policy`]: the document tree is walked once,
//! every value parsed into its type, every referenced file read, and every
//! problem recorded as a [`Diagnostic`] with its span rather than returned at
//! the first one. A policy exists only when no diagnostic is an error.
//!
//! The loader is pure: the policy text arrives as text and every file it
//! names is read through a [`FileReader`] the caller supplies (the CLI and
//! servers read the disk, tests hand over a map), so loading gives the same
//! answer for the same inputs wherever it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::diagnostic::{Code, Diagnostic, Diagnostics, at};
use super::model::{API_VERSION, Exemption, KIND, Policy, Publisher, Waiver};
use super::yaml::{self, Key, Node, Span, Value};
use crate::digest::Digest;
use crate::keys::PublicKey;
use crate::sigstore::{EXTENSIONS, IdentityPolicy, Matcher, TrustedRoot};
use crate::verify::{Authority, SigstoreRoot};

/// How the loader reads the files a policy names (keys, certificate roots,
/// trusted roots, notation trust stores). `path` is already joined to the
/// policy's directory.
pub trait FileReader {
    /// The file's bytes, or why they cannot be had (shown in the diagnostic).
    fn read(&self, path: &Path) -> Result<Vec<u8>, String>;

    /// When `path` is a directory, the regular files directly inside it,
    /// sorted (a notation trust store); `Ok(None)` when it is not a
    /// directory. By default nothing is a directory.
    fn list(&self, path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        let _ = path;
        Ok(None)
    }
}

impl<F: Fn(&Path) -> Result<Vec<u8>, String>> FileReader for F {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        self(path)
    }
}

/// Files held in memory by path: for tests, and for callers that read once.
#[derive(Clone, Debug, Default)]
pub struct MemoryFiles(pub BTreeMap<PathBuf, Vec<u8>>);

impl MemoryFiles {
    /// Adds `path` with `bytes`.
    pub fn with(mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) -> Self {
        self.0.insert(path.into(), bytes.into());
        self
    }
}

impl FileReader for MemoryFiles {
    fn read(&self, path: &Path) -> Result<Vec<u8>, String> {
        self.0.get(path).cloned().ok_or_else(|| "not found".to_owned())
    }

    /// A directory is the parent of a file held.
    fn list(&self, path: &Path) -> Result<Option<Vec<PathBuf>>, String> {
        let inside: Vec<PathBuf> = self.0.keys().filter(|k| k.parent() == Some(path)).cloned().collect();
        Ok((!inside.is_empty()).then_some(inside))
    }
}

/// A mapping node with its keys checked against the allowed set.
pub(super) struct Fields<'n> {
    entries: &'n [(Key, Node)],
    pub span: Span,
}

impl<'n> Fields<'n> {
    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
    }

    /// The span of `key` itself, else of the mapping.
    pub fn key_span(&self, key: &str) -> Span {
        self.entries
            .iter()
            .find(|(k, _)| k.text == key)
            .map_or(self.span, |(k, _)| k.span)
    }

    /// All entries, in file order.
    pub fn entries(&self) -> &'n [(Key, Node)] {
        self.entries
    }
}

/// The walk's state: where relative paths start, and what was found wrong.
pub(super) struct Loader<'a> {
    pub base: &'a Path,
    pub files: &'a dyn FileReader,
    pub now: OffsetDateTime,
    pub diags: Vec<Diagnostic>,
    /// Publishers declared but refused (already reported): naming one in a
    /// rule is not a second error.
    pub broken_publishers: std::collections::BTreeSet<String>,
    /// The name and patterns of every rule that has them, whatever else is
    /// wrong with it, so that overlaps are reported at once.
    pub heads: Vec<super::lint::RuleHead>,
}

impl Loader<'_> {
    pub fn report(&mut self, code: Code, span: Span, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(code, span, message));
    }

    pub fn report_with_help(&mut self, code: Code, span: Span, message: impl Into<String>, help: impl Into<String>) {
        self.diags.push(Diagnostic::new(code, span, message).help(help));
    }

    /// `node` as a mapping whose keys are all in `allowed`; unknown keys are reported.
    pub fn mapping<'n>(&mut self, node: &'n Node, what: &str, allowed: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.report(
                Code::InvalidValue,
                node.span,
                format!("{what} must be a mapping, found {}", node.kind()),
            );
            return None;
        };
        for (key, _) in entries {
            if !allowed.contains(&key.text.as_str()) {
                let help = match suggest(&key.text, allowed) {
                    Some(s) => format!("did you mean `{s}`? {what} accepts: {}", allowed.join(", ")),
                    None => format!("{what} accepts: {}", allowed.join(", ")),
                };
                self.report_with_help(
                    Code::UnknownField,
                    key.span,
                    format!("unknown field `{}` in {what}", key.text),
                    help,
                );
            }
        }
        Some(Fields {
            entries,
            span: node.span,
        })
    }

    /// A non-null scalar.
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } if !node.is_null() && !text.is_empty() => Some(text.clone()),
            _ => {
                self.report(
                    Code::InvalidValue,
                    node.span,
                    format!("{what} must be a non-empty string, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A required string field.
    pub fn required_string(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Option<String> {
        match fields.get(key) {
            Some(node) => self.string(node, &format!("{what}.{key}")),
            None => {
                self.report(Code::MissingField, fields.span, format!("{what} needs `{key}`"));
                None
            }
        }
    }

    /// A list of non-empty strings with their spans.
    pub fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<(String, Span)>> {
        let Value::Seq(items) = &node.value else {
            self.report(
                Code::InvalidValue,
                node.span,
                format!("{what} must be a list, found {}", node.kind()),
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push((self.string(item, &format!("an entry of {what}"))?, item.span));
        }
        Some(out)
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            Value::Scalar { text, quoted: false } if text == "true" => Some(true),
            Value::Scalar { text, quoted: false } if text == "false" => Some(false),
            _ => {
                self.report(Code::InvalidValue, node.span, format!("{what} must be true or false"));
                None
            }
        }
    }

    /// An anchored regular expression (whole-string match), compiled once here.
    pub fn regex(&mut self, node: &Node, what: &str) -> Option<Matcher> {
        let text = self.string(node, what)?;
        match regex::RegexBuilder::new(&format!("^(?:{text})$"))
            .size_limit(1 << 20)
            .build()
        {
            Ok(r) => Some(Matcher::Regex(text, r)),
            Err(e) => {
                let detail = e.to_string();
                let last = detail
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid")
                    .trim()
                    .to_owned();
                self.report(
                    Code::InvalidRegex,
                    node.span,
                    format!("{what} is not a valid regular expression: {last}"),
                );
                None
            }
        }
    }

    /// An RFC 3339 time, or a date (midnight UTC).
    pub fn date(&mut self, node: &Node, what: &str) -> Option<OffsetDateTime> {
        let text = self.string(node, what)?;
        if let Some(t) = parse_time(&text) {
            return Some(t);
        }
        self.report_with_help(
            Code::InvalidDate,
            node.span,
            format!("{what} {text:?} is not a date"),
            "write RFC 3339, as in 2027-01-31T00:00:00Z, or a date, 2027-01-31",
        );
        None
    }

    /// Reads a file named relative to the policy.
    pub fn read_file(&mut self, node: &Node, what: &str) -> Option<(PathBuf, Vec<u8>)> {
        let name = self.string(node, what)?;
        let path = self.base.join(&name);
        match self.files.read(&path) {
            Ok(bytes) => Some((path, bytes)),
            Err(e) => {
                self.report(
                    Code::UnreadableFile,
                    node.span,
                    format!("cannot read {what} {} ({e})", path.display()),
                );
                None
            }
        }
    }
}

/// Parses RFC 3339 or a bare `YYYY-MM-DD` (midnight UTC).
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &format).ok().map(|d| d.midnight().assume_utc())
    })
}

pub(super) fn suggest<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    options
        .iter()
        .map(|o| (distance(&word.to_ascii_lowercase(), &o.to_ascii_lowercase()), *o))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, o)| o)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != b[j])).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Loads the policy file at `path` through `files`. The policy is `Some`
/// only when no diagnostic is an error; `now` decides which exemptions the
/// lint reports as expired (evaluation checks expiry at its own time).
pub fn load(path: &Path, now: OffsetDateTime, files: &dyn FileReader) -> (Option<Policy>, Diagnostics) {
    match files.read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => compile(&text, path, now, files),
            Err(_) => failed(
                path,
                String::new(),
                Diagnostic::new(Code::Unreadable, None, "policy file is not UTF-8 text"),
            ),
        },
        Err(e) => failed(
            path,
            String::new(),
            Diagnostic::new(Code::Unreadable, None, format!("cannot read policy file: {e}")),
        ),
    }
}

fn failed(path: &Path, source: String, d: Diagnostic) -> (Option<Policy>, Diagnostics) {
    (
        None,
        Diagnostics {
            file: path.to_owned(),
            source,
            items: vec![d],
        },
    )
}

/// Compiles policy text read from `file`; the files it names are read
/// through `files`, relative to `file`'s directory.
pub fn compile(
    source: &str,
    file: &Path,
    now: OffsetDateTime,
    files: &dyn FileReader,
) -> (Option<Policy>, Diagnostics) {
    let base = file.parent().unwrap_or(Path::new("."));
    let root = match yaml::parse(source) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return failed(
                file,
                source.to_owned(),
                Diagnostic::new(Code::MissingField, None, "policy file is empty"),
            );
        }
        Err(e) => {
            let code = match e.code {
                "duplicate-key" => Code::DuplicateKey,
                "too-large" => Code::TooLarge,
                _ => Code::Syntax,
            };
            return failed(file, source.to_owned(), Diagnostic::new(code, at(e.at), e.message));
        }
    };
    let mut loader = Loader {
        base,
        files,
        now,
        diags: Vec::new(),
        broken_publishers: Default::default(),
        heads: Vec::new(),
    };
    let policy = loader.policy(&root, file, source);
    let mut diagnostics = Diagnostics {
        file: file.to_owned(),
        source: source.to_owned(),
        items: loader.diags,
    };
    diagnostics.sort();
    let policy = if diagnostics.has_errors() { None } else { policy };
    (policy, diagnostics)
}

impl Loader<'_> {
    fn policy(&mut self, root: &Node, file: &Path, source: &str) -> Option<Policy> {
        let top = self.mapping(
            root,
            "the policy",
            &["apiVersion", "kind", "publishers", "rules", "exemptions"],
        )?;
        for (key, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
            match top.get(key) {
                Some(node) if node.as_str() == Some(want) => {}
                Some(node) => self.report_with_help(
                    Code::WrongKind,
                    node.span,
                    format!("{key} must be {want}"),
                    format!("start the file with `apiVersion: {API_VERSION}` and `kind: {KIND}`"),
                ),
                None => self.report(
                    Code::MissingField,
                    at(root.span.start),
                    format!("the policy needs `{key}: {want}`"),
                ),
            }
        }
        let publishers = match top.get("publishers") {
            Some(node) => self.publishers(node),
            None => BTreeMap::new(),
        };
        let rules = match top.get("rules") {
            Some(node) => self.rules(node, &publishers),
            None => {
                self.report(
                    Code::MissingField,
                    at(root.span.start),
                    "the policy needs `rules` (an image no rule matches is denied)",
                );
                Vec::new()
            }
        };
        let exemptions = match top.get("exemptions") {
            Some(node) => self.exemptions(node),
            None => Vec::new(),
        };
        self.lint(&exemptions);
        Some(Policy {
            file: file.to_owned(),
            digest: Digest::sha256_of(source.as_bytes()),
            publishers,
            rules,
            exemptions,
        })
    }

    fn publishers(&mut self, node: &Node) -> BTreeMap<String, Publisher> {
        let mut out = BTreeMap::new();
        let Value::Map(entries) = &node.value else {
            self.report(
                Code::InvalidValue,
                node.span,
                format!(
                    "publishers must be a mapping of names to publishers, found {}",
                    node.kind()
                ),
            );
            return out;
        };
        for (name, body) in entries {
            let what = format!("publisher `{}`", name.text);
            const KINDS: [&str; 5] = ["key", "keyData", "keyless", "certificate", "notation"];
            let Some(fields) = self.mapping(body, &what, &KINDS) else {
                self.broken_publishers.insert(name.text.clone());
                continue;
            };
            let given: Vec<&str> = KINDS.into_iter().filter(|k| fields.get(k).is_some()).collect();
            let authority = match given.as_slice() {
                [] => {
                    self.report(
                        Code::MissingField,
                        name.span,
                        format!("{what} needs one of key, keyData, keyless, certificate or notation"),
                    );
                    None
                }
                [one] if *one == "notation" => fields
                    .get("notation")
                    .and_then(|node| self.notation(node, &name.text, &what)),
                [one] => self.authority(one, &fields, &what),
                [_, second, ..] => {
                    self.report(
                        Code::ConflictingFields,
                        fields.key_span(second),
                        format!("{what} has both `{}` and `{second}`; give exactly one", given[0]),
                    );
                    None
                }
            };
            if authority.is_none() {
                self.broken_publishers.insert(name.text.clone());
            }
            if let Some(authority) = authority {
                out.insert(
                    name.text.clone(),
                    Publisher {
                        name: name.text.clone(),
                        authority,
                        span: name.span,
                    },
                );
            }
        }
        out
    }

    fn authority(&mut self, which: &str, fields: &Fields<'_>, what: &str) -> Option<Authority> {
        let node = fields.get(which)?;
        match which {
            "key" => {
                let (path, bytes) = self.read_file(node, &format!("{what} key"))?;
                self.public_key(&String::from_utf8_lossy(&bytes), node.span, &path.display().to_string())
            }
            "keyData" => {
                let pem = self.string(node, &format!("{what} keyData"))?;
                self.public_key(&pem, node.span, "keyData")
            }
            "keyless" => self.keyless(node, what),
            _ => self.certificate(node, what),
        }
    }

    fn public_key(&mut self, pem: &str, span: Span, origin: &str) -> Option<Authority> {
        match PublicKey::from_pem(pem) {
            Ok(key) => Some(Authority::Key(key)),
            Err(e) => {
                self.report(
                    Code::InvalidKey,
                    span,
                    format!("{origin} is not a usable public key: {e}"),
                );
                None
            }
        }
    }

    /// Exactly one of `exact` / `regexp`.
    fn matcher(&mut self, fields: &Fields<'_>, exact: &str, regexp: &str, what: &str) -> Option<Matcher> {
        match (fields.get(exact), fields.get(regexp)) {
            (Some(_), Some(_)) => {
                self.report(
                    Code::ConflictingFields,
                    fields.key_span(regexp),
                    format!("{what} has both `{exact}` and `{regexp}`; give one"),
                );
                None
            }
            (Some(n), None) => self.string(n, &format!("{what} {exact}")).map(Matcher::Exact),
            (None, Some(n)) => self.regex(n, &format!("{what} {regexp}")),
            (None, None) => {
                self.report(
                    Code::MissingField,
                    fields.span,
                    format!("{what} needs `{exact}` or `{regexp}`"),
                );
                None
            }
        }
    }

    fn keyless(&mut self, node: &Node, what: &str) -> Option<Authority> {
        let what = format!("{what} keyless");
        let fields = self.mapping(
            node,
            &what,
            &[
                "issuer",
                "issuerRegExp",
                "subject",
                "subjectRegExp",
                "extensions",
                "trustedRoot",
            ],
        )?;
        let issuer = self.matcher(&fields, "issuer", "issuerRegExp", &what);
        let subject = self.matcher(&fields, "subject", "subjectRegExp", &what);
        let mut extensions = Vec::new();
        if let Some(ext) = fields.get("extensions") {
            let names: Vec<&str> = EXTENSIONS.iter().map(|e| e.name).collect();
            if let Some(ext_fields) = self.mapping(ext, &format!("{what} extensions"), &names) {
                for (key, value) in ext_fields.entries() {
                    if names.contains(&key.text.as_str())
                        && let Some(v) = self.string(value, &format!("extension {}", key.text))
                    {
                        extensions.push((key, v));
                    }
                }
            }
        }
        let root = match fields.get("trustedRoot") {
            Some(n) => self.trusted_root(n, &what),
            None => Some(SigstoreRoot::PublicGood),
        };
        let mut identity = IdentityPolicy::new(subject?, issuer?);
        for (key, value) in extensions {
            match identity.clone().require_extension(&key.text, Matcher::exact(value)) {
                Ok(with) => identity = with,
                Err(e) => {
                    self.report(Code::UnknownField, key.span, e.to_string());
                    return None;
                }
            }
        }
        Some(Authority::Keyless { identity, root: root? })
    }

    /// A `trustedRoot:` file, parsed and prepared now: a root that cannot be
    /// used is a problem of the policy, not of every image judged under it.
    fn trusted_root(&mut self, node: &Node, what: &str) -> Option<SigstoreRoot> {
        let (path, bytes) = self.read_file(node, &format!("{what} trustedRoot"))?;
        match TrustedRoot::from_json(&bytes) {
            Ok(root) => Some(SigstoreRoot::from(root)),
            Err(e) => {
                self.report_with_help(
                    Code::InvalidTrustRoot,
                    node.span,
                    format!("{what} trustedRoot {} is unusable: {e}", path.display()),
                    "name a Sigstore trusted_root.json (mediaType application/vnd.dev.sigstore.trustedroot...)",
                );
                None
            }
        }
    }

    fn certificate(&mut self, node: &Node, what: &str) -> Option<Authority> {
        let what = format!("{what} certificate");
        let fields = self.mapping(node, &what, &["roots", "identity", "identityRegExp"])?;
        let identity = self.matcher(&fields, "identity", "identityRegExp", &what);
        let Some(roots_node) = fields.get("roots") else {
            self.report(
                Code::MissingField,
                fields.span,
                format!("{what} needs `roots` (a PEM file of CA certificates)"),
            );
            return None;
        };
        let (path, bytes) = self.read_file(roots_node, &format!("{what} roots"))?;
        let identity = IdentityPolicy::subject_only(identity?);
        // Private-PKI certificates carry no trusted root of their own: log
        // entries, when present, are checked against the public-good one.
        match Authority::certificate(&String::from_utf8_lossy(&bytes), identity, SigstoreRoot::PublicGood) {
            Ok(authority) => Some(authority),
            Err(e) => {
                self.report_with_help(
                    Code::InvalidTrustRoot,
                    roots_node.span,
                    format!("{what} roots {} are unusable: {e}", path.display()),
                    "name a PEM file of CA certificates (BEGIN CERTIFICATE blocks only)",
                );
                None
            }
        }
    }

    fn exemptions(&mut self, node: &Node) -> Vec<Exemption> {
        let mut out = Vec::new();
        let Value::Seq(items) = &node.value else {
            self.report(Code::InvalidValue, node.span, "exemptions must be a list");
            return out;
        };
        for (index, item) in items.iter().enumerate() {
            let what = format!("exemption {}", index + 1);
            let Some(fields) = self.mapping(item, &what, &["images", "waive", "reason", "owner", "expires"]) else {
                continue;
            };
            let images = self.patterns(&fields, &what);
            let waive = match fields.get("waive") {
                Some(w) => self.waiver(w),
                None => {
                    self.report(
                        Code::MissingField,
                        fields.span,
                        format!("{what} needs `waive` (signatures, attestations, all, or a list of predicate types)"),
                    );
                    None
                }
            };
            let reason = self.required_string(&fields, "reason", &what);
            let owner = self.required_string(&fields, "owner", &what);
            let expires = match fields.get("expires") {
                Some(n) => self.date(n, &format!("{what} expires")),
                None => {
                    self.report(
                        Code::MissingField,
                        fields.span,
                        format!("{what} needs `expires`: an exemption without an end is a permanent hole"),
                    );
                    None
                }
            };
            if let (Some(images), Some(waive), Some(reason), Some(owner), Some(expires)) =
                (images, waive, reason, owner, expires)
            {
                out.push(Exemption {
                    index,
                    images,
                    waive,
                    reason,
                    owner,
                    expires,
                    span: item.span,
                });
            }
        }
        out
    }

    fn waiver(&mut self, node: &Node) -> Option<Waiver> {
        let words: Vec<(String, Span)> = match &node.value {
            Value::Scalar { .. } => vec![(self.string(node, "waive")?, node.span)],
            _ => self.string_list(node, "waive")?,
        };
        let mut waiver = Waiver::default();
        if words.is_empty() {
            self.report(Code::InvalidValue, node.span, "waive lists nothing");
            return None;
        }
        for (word, span) in words {
            match word.as_str() {
                "signatures" => waiver.signatures = true,
                "attestations" => waiver.attestations = true,
                "baseImage" => waiver.base_image = true,
                "all" => {
                    waiver.signatures = true;
                    waiver.attestations = true;
                    waiver.base_image = true;
                }
                t if t.contains(':') => waiver.predicate_types.push(t.to_owned()),
                other => {
                    self.report(
                        Code::InvalidValue,
                        span,
                        format!(
                            "waive {other:?} is not signatures, attestations, baseImage, all or a predicate type URI"
                        ),
                    );
                    return None;
                }
            }
        }
        Some(waiver)
    }
}
