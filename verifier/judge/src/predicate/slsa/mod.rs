//! SLSA provenance (v1 and v0.2): the one place sigil reads it. What a
//! predicate must hold before sigil signs it ([`validate_v1`],
//! [`validate_v02`]), the fields the policy's `slsa` check reads
//! ([`builder_id`], [`build_type`], [`source_repository`]), how a source
//! repository URI is matched ([`normalise_repository`]), and the provenance
//! sigil writes for the pipeline that is running ([`generate`]).
//!
//! A source repository is matched as `HOST/PATH`, where the host is the one
//! a client would really connect to: the URI is parsed by the `url` crate
//! (WHATWG rules), so userinfo (`https://github.com@evil.example/...`),
//! queries and fragments (`https://evil.example?@github.com/acme/app`,
//! `https://evil.example#@github.com/acme/app`) cannot smuggle another
//! host into the matched text. scp-style git addresses
//! (`git@github.com:acme/app.git`) are read as git does. Characters on which
//! URL parsers disagree (backslashes, whitespace and control characters,
//! percent-escapes) are refused rather than guessed at.

pub mod crosscheck;
pub mod generate;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess};
use serde_json::Value;
use url::Url;

use super::view::{Path, Read, Shape, Skip, fields, read_str};
use super::{PredicateError, nonempty, parse};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlsaV1 {
    build_definition: Option<BuildDefinition>,
    run_details: Option<RunDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuildDefinition {
    build_type: Option<String>,
    external_parameters: Option<Value>,
}

#[derive(Deserialize)]
struct RunDetails {
    builder: Option<Builder>,
}

#[derive(Deserialize)]
struct Builder {
    id: Option<String>,
}

/// Checks a SLSA provenance v1 predicate has what verifiers read.
pub fn validate_v1(bytes: &[u8]) -> Result<(), PredicateError> {
    const K: &str = "SLSA provenance v1";
    let p: SlsaV1 = parse(bytes)?;
    let definition = p.build_definition.ok_or(PredicateError::Missing {
        kind: K,
        field: "buildDefinition",
    })?;
    nonempty(definition.build_type, K, "buildDefinition.buildType")?;
    match definition.external_parameters {
        Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(PredicateError::Invalid {
                kind: K,
                field: "buildDefinition.externalParameters",
                found: "not an object".into(),
                expected: "an object",
            });
        }
        None => {
            return Err(PredicateError::Missing {
                kind: K,
                field: "buildDefinition.externalParameters",
            });
        }
    }
    let run = p.run_details.ok_or(PredicateError::Missing {
        kind: K,
        field: "runDetails",
    })?;
    let builder = run.builder.ok_or(PredicateError::Missing {
        kind: K,
        field: "runDetails.builder",
    })?;
    nonempty(builder.id, K, "runDetails.builder.id").map(|_| ())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SlsaV02 {
    builder: Option<Builder>,
    build_type: Option<String>,
}

/// Checks a SLSA provenance v0.2 predicate has what verifiers read: the
/// builder id. `buildType`, which the spec requires, is a lapse: real
/// producers omit it (Kubernetes' release provenance) and cosign and
/// slsa-verifier accept such predicates.
pub fn validate_v02(bytes: &[u8]) -> Result<super::Lapses, PredicateError> {
    const K: &str = "SLSA provenance v0.2";
    let p: SlsaV02 = parse(bytes)?;
    let builder = p.builder.ok_or(PredicateError::Missing {
        kind: K,
        field: "builder",
    })?;
    nonempty(builder.id, K, "builder.id")?;
    Ok(nonempty(p.build_type, K, "buildType").err().into_iter().collect())
}

/// The fields the policy's `slsa` check reads, v1 or v0.2, borrowing the
/// predicate's text where it has no escapes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance<'a> {
    /// `runDetails.builder.id` (v1), else `builder.id` (v0.2).
    pub builder_id: Option<Cow<'a, str>>,
    /// `buildDefinition.buildType` (v1), else `buildType` (v0.2).
    pub build_type: Option<Cow<'a, str>>,
    /// The workflow repository, else the first resolved dependency (v1),
    /// else `invocation.configSource.uri` (v0.2).
    pub source_repository: Option<Cow<'a, str>>,
}

/// The [`Provenance`] fields of a predicate tree.
pub fn provenance(p: &Value) -> Provenance<'_> {
    // A tree cannot fail to be read: every shape accepts every value.
    Read(Predicate).deserialize(p).unwrap_or_default()
}

/// The [`Provenance`] fields of a predicate given as JSON text, read in
/// one pass without a tree; `Err` is what a `Value` parse would refuse.
pub fn provenance_of(text: &str) -> Result<Provenance<'_>, serde_json::Error> {
    read_str(text, Predicate)
}

struct Predicate;

impl<'de> Shape<'de> for Predicate {
    type Out = Provenance<'de>;
    fn other(self) -> Self::Out {
        Provenance::default()
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let (mut run_builder, mut builder, mut definition, mut build_type, mut config) =
            (None, None, Definition::default(), None, None);
        fields(
            map,
            &["runDetails", "builder", "buildDefinition", "buildType", "invocation"],
            |i, map| {
                match i {
                    0 => run_builder = map.next_value_seed(Read(Path(&["builder", "id"])))?,
                    1 => builder = map.next_value_seed(Read(Path(&["id"])))?,
                    2 => definition = map.next_value_seed(Read(DefinitionShape))?,
                    3 => build_type = map.next_value_seed(Read(Path(&[])))?,
                    _ => config = map.next_value_seed(Read(Path(&["configSource", "uri"])))?,
                }
                Ok(())
            },
        )?;
        Ok(Provenance {
            builder_id: run_builder.or(builder),
            build_type: definition.build_type.or(build_type),
            source_repository: definition
                .workflow_repository
                .or(definition.first_dependency)
                .or(config),
        })
    }
}

/// What `buildDefinition` holds for the check.
#[derive(Default)]
struct Definition<'de> {
    build_type: Option<Cow<'de, str>>,
    workflow_repository: Option<Cow<'de, str>>,
    first_dependency: Option<Cow<'de, str>>,
}

struct DefinitionShape;

impl<'de> Shape<'de> for DefinitionShape {
    type Out = Definition<'de>;
    fn other(self) -> Self::Out {
        Definition::default()
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        let mut d = Definition::default();
        fields(
            map,
            &["buildType", "externalParameters", "resolvedDependencies"],
            |i, map| {
                match i {
                    0 => d.build_type = map.next_value_seed(Read(Path(&[])))?,
                    1 => d.workflow_repository = map.next_value_seed(Read(Path(&["workflow", "repository"])))?,
                    _ => d.first_dependency = map.next_value_seed(Read(FirstUri))?,
                }
                Ok(())
            },
        )?;
        Ok(d)
    }
}

/// `/0/uri` as a JSON pointer reads it: the first item of an array, or
/// the key `0` of an object.
struct FirstUri;

impl<'de> Shape<'de> for FirstUri {
    type Out = Option<Cow<'de, str>>;
    fn other(self) -> Self::Out {
        None
    }
    fn array<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Out, A::Error> {
        let first = seq.next_element_seed(Read(Path(&["uri"])))?.flatten();
        while seq.next_element_seed(Read(Skip))?.is_some() {}
        Ok(first)
    }
    fn object<A: MapAccess<'de>>(self, map: A) -> Result<Self::Out, A::Error> {
        Path(&["0", "uri"]).object(map)
    }
}

/// Why a source repository URI cannot be matched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RepositoryUriError {
    #[error("{uri:?} is not a URI: {cause}")]
    Unparseable { uri: String, cause: url::ParseError },
    #[error("{uri:?} names no host")]
    NoHost { uri: String },
    #[error("{uri:?} contains {what}, on which URL parsers disagree")]
    Ambiguous { uri: String, what: &'static str },
}

/// `HOST[:PORT]/PATH` of a source repository URI: `git+` and the scheme
/// dropped, userinfo, query and fragment dropped after parsing (so the host
/// is the real host), the path cut at `@` (a git ref) and without a
/// trailing `/` or `.git`; the host in lower case.
/// `git+https://github.com/acme/app.git@refs/tags/v1`,
/// `ssh://git@github.com/acme/app`, `git@github.com:acme/app.git` and
/// `github.com/acme/app` are all `github.com/acme/app`;
/// `https://evil.example#@github.com/acme/app` is `evil.example`.
pub fn normalise_repository(uri: &str) -> Result<String, RepositoryUriError> {
    let ambiguous = |what| RepositoryUriError::Ambiguous {
        uri: uri.to_owned(),
        what,
    };
    if uri.contains('\\') {
        return Err(ambiguous("a backslash"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ambiguous("whitespace or a control character"));
    }
    if uri.contains('%') {
        return Err(ambiguous("a percent-escape"));
    }
    let s = uri.strip_prefix("git+").unwrap_or(uri);
    let (host, path) = match s.split_once("://") {
        Some((scheme, _)) if is_scheme(scheme) => host_and_path(uri, s)?,
        _ => match scp_address(s) {
            Some((host, path)) => (host.to_ascii_lowercase(), format!("/{path}")),
            // `HOST/PATH` without a scheme: parsed as https, by the same rules.
            None => host_and_path(uri, &format!("https://{s}"))?,
        },
    };
    let path = path.split_once('@').map_or(path.as_str(), |(before, _)| before);
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    Ok(format!("{host}{path}"))
}

/// The host (with a non-default port) and path of an absolute URI.
fn host_and_path(uri: &str, absolute: &str) -> Result<(String, String), RepositoryUriError> {
    let url = Url::parse(absolute).map_err(|cause| RepositoryUriError::Unparseable {
        uri: uri.to_owned(),
        cause,
    })?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| RepositoryUriError::NoHost { uri: uri.to_owned() })?
        .to_ascii_lowercase();
    let host = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    Ok((host, url.path().to_owned()))
}

/// `scheme` as RFC 3986 spells one: a letter, then letters, digits, `+-.`.
fn is_scheme(scheme: &str) -> bool {
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// git's scp-like syntax `[USER@]HOST:PATH`: a `:` before any `/`. The host
/// is what follows the last `@` (as ssh reads `user@host`); it must be a
/// plain host name, so nothing else can pass for one.
fn scp_address(s: &str) -> Option<(&str, &str)> {
    let (left, path) = s.split_once(':')?;
    if left.contains('/') || path.is_empty() {
        return None;
    }
    let host = left.rsplit_once('@').map_or(left, |(_, h)| h);
    let plain = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !label.starts_with('-')
        });
    plain.then_some((host, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::predicate::str_at;

    /// The tree lookups the one-pass reading replaced, kept as its reference.
    fn reference(p: &Value) -> Provenance<'_> {
        Provenance {
            builder_id: str_at(p, &["runDetails", "builder", "id"])
                .or_else(|| str_at(p, &["builder", "id"]))
                .map(Cow::Borrowed),
            build_type: str_at(p, &["buildDefinition", "buildType"])
                .or_else(|| str_at(p, &["buildType"]))
                .map(Cow::Borrowed),
            source_repository: str_at(p, &["buildDefinition", "externalParameters", "workflow", "repository"])
                .or_else(|| {
                    p.pointer("/buildDefinition/resolvedDependencies/0/uri")
                        .and_then(Value::as_str)
                })
                .or_else(|| str_at(p, &["invocation", "configSource", "uri"]))
                .map(Cow::Borrowed),
        }
    }

    #[test]
    fn provenance_read_from_text_is_what_the_tree_says() {
        let mut texts: Vec<String> = [
            "slsa/v1/github-actions-npm-sigstore-2.0.0.statement.json",
            "slsa/v0.2/github-actions-npm-sigstore-1.3.0.statement.json",
        ]
        .iter()
        .map(|path| {
            let statement: Value = serde_json::from_slice(&crate::testdata::read(path)).expect("json");
            statement["predicate"].to_string()
        })
        .collect();
        texts.extend(
            [
                r#"{"runDetails": {"builder": {"id": "a"}}, "runDetails": {"builder": {}}, "builder": {"id": "b"}}"#,
                r#"{"runDetails": {"builder": {"id": 1}}, "buildType": "t", "buildDefinition": {"buildType": null}}"#,
                r#"{"buildDefinition": {"resolvedDependencies": [{"uri": 1}, {"uri": "x"}]}, "invocation": {"configSource": {"uri": "c"}}}"#,
                r#"{"buildDefinition": {"resolvedDependencies": {"0": {"uri": "zero"}, "1": {"uri": "one"}}}}"#,
                r#"{"buildDefinition": {"externalParameters": {"workflow": {"repository": "w\u0041"}},
                    "resolvedDependencies": [{"uri": "d"}]}}"#,
                r#"[{"builder": {"id": "no"}}]"#,
                r#""text""#,
            ]
            .map(str::to_owned),
        );
        for text in &texts {
            let tree: Value = serde_json::from_str(text).expect("json");
            let want = reference(&tree);
            assert_eq!(provenance(&tree), want, "{text}");
            assert_eq!(provenance_of(text).expect("json"), want, "{text}");
        }
    }

    #[test]
    fn repository_normalisation() {
        for (raw, want) in [
            ("git+https://github.com/acme/app@refs/tags/v1", "github.com/acme/app"),
            ("https://github.com/acme/app.git", "github.com/acme/app"),
            ("https://github.com/acme/app/", "github.com/acme/app"),
            ("https://GitHub.com/acme/app", "github.com/acme/app"),
            ("https://github.com:443/acme/app", "github.com/acme/app"),
            ("https://github.com:8443/acme/app", "github.com:8443/acme/app"),
            ("github.com/acme/app", "github.com/acme/app"),
            ("git+ssh://git@github.com/acme/app.git", "github.com/acme/app"),
            ("ssh://git@GitHub.com/acme/app.git", "github.com/acme/app"),
            ("git://github.com/acme/app.git@main", "github.com/acme/app"),
            (
                "git+https://github.com/acme/app.git@refs/heads/main",
                "github.com/acme/app",
            ),
            // scp-style git addresses
            ("git@github.com:acme/app.git", "github.com/acme/app"),
            ("github.com:acme/app", "github.com/acme/app"),
            // the path after the real host is the path, `..` resolved as a client does
            ("https://github.com/acme/../evil/app", "github.com/evil/app"),
        ] {
            assert_eq!(normalise_repository(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn another_host_cannot_hide_in_the_uri() {
        // matched by the real host, so `github.com/acme/*` no longer matches
        for (raw, want) in [
            ("https://evil.example#@github.com/acme/app", "evil.example"),
            ("https://evil.example?@github.com/acme/app", "evil.example"),
            ("https://evil.example/#/github.com/acme/app", "evil.example"),
            ("https://evil.example/x?r=github.com/acme/app", "evil.example/x"),
            ("https://github.com@evil.example/acme/app", "evil.example/acme/app"),
            ("https://github.com:x@evil.example/acme/app", "evil.example/acme/app"),
            ("git+https://github.com%2F@evil.example/acme/app", ""),
            ("evil.example#@github.com/acme/app", "evil.example"),
            (
                "git@evil.example:github.com/acme/app",
                "evil.example/github.com/acme/app",
            ),
            ("github.com@evil.example:acme/app", "evil.example/acme/app"),
        ] {
            match normalise_repository(raw) {
                Ok(got) => assert_eq!(got, want, "{raw}"),
                Err(e) => assert!(want.is_empty(), "{raw}: {e}"),
            }
        }
        // parser differentials are refused, with the reason
        for (raw, what) in [
            ("https://github.com\\acme\\app@evil.example", "a backslash"),
            ("https://git\nhub.com/acme/app", "whitespace or a control character"),
            ("https://github.com/acme/app%2F..%2F..%2Fevil", "a percent-escape"),
        ] {
            assert_eq!(
                normalise_repository(raw),
                Err(RepositoryUriError::Ambiguous {
                    uri: raw.to_owned(),
                    what
                }),
                "{raw}"
            );
        }
        assert_eq!(
            normalise_repository("file:///srv/git/app"),
            Err(RepositoryUriError::NoHost {
                uri: "file:///srv/git/app".into()
            })
        );
        assert!(matches!(
            normalise_repository("https://[zz]/acme/app"),
            Err(RepositoryUriError::Unparseable { .. })
        ));
    }
}
