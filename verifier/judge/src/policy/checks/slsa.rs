//! SLSA provenance checks: builder ids, source repositories and build types
//! as globs, over provenance v1 and v0.2 (DESIGN §4.1).
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

use serde_json::Value;
use url::Url;

use super::{list, str_at};
use crate::policy::glob::Glob;

/// `slsa: { builderIds, sourceRepositories, buildTypes }`; an empty list checks nothing.
#[derive(Clone, Debug, Default)]
pub struct SlsaCheck {
    pub builder_ids: Vec<Glob>,
    pub source_repositories: Vec<Glob>,
    pub build_types: Vec<Glob>,
}

impl SlsaCheck {
    /// Every configured list must match the provenance's value.
    pub fn run(&self, predicate: &Value) -> Result<(), String> {
        if !self.builder_ids.is_empty() {
            let id = builder_id(predicate).ok_or("provenance names no builder id")?;
            one_of("builder id", id, &self.builder_ids)?;
        }
        if !self.source_repositories.is_empty() {
            let raw = source_repository(predicate).ok_or("provenance names no source repository")?;
            let repository = normalise_repository(raw).map_err(|e| format!("source repository {e}"))?;
            one_of("source repository", &repository, &self.source_repositories)?;
        }
        if !self.build_types.is_empty() {
            let t = build_type(predicate).ok_or("provenance names no build type")?;
            one_of("build type", t, &self.build_types)?;
        }
        Ok(())
    }
}

fn one_of(what: &str, value: &str, globs: &[Glob]) -> Result<(), String> {
    if globs.iter().any(|g| g.matches(value)) {
        Ok(())
    } else {
        Err(format!("{what} {value} is not one of {}", list(globs)))
    }
}

/// `runDetails.builder.id` (v1) or `builder.id` (v0.2).
pub fn builder_id(p: &Value) -> Option<&str> {
    str_at(p, &["runDetails", "builder", "id"]).or_else(|| str_at(p, &["builder", "id"]))
}

/// `buildDefinition.buildType` (v1) or `buildType` (v0.2).
pub fn build_type(p: &Value) -> Option<&str> {
    str_at(p, &["buildDefinition", "buildType"]).or_else(|| str_at(p, &["buildType"]))
}

/// The workflow repository, else the first resolved dependency (v1), else
/// `invocation.configSource.uri` (v0.2).
pub fn source_repository(p: &Value) -> Option<&str> {
    str_at(p, &["buildDefinition", "externalParameters", "workflow", "repository"])
        .or_else(|| {
            p.pointer("/buildDefinition/resolvedDependencies/0/uri")
                .and_then(Value::as_str)
        })
        .or_else(|| str_at(p, &["invocation", "configSource", "uri"]))
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
    use serde_json::json;

    fn check(builders: &[&str], repos: &[&str]) -> SlsaCheck {
        SlsaCheck {
            builder_ids: builders.iter().map(|g| Glob::parse(g).expect("glob")).collect(),
            source_repositories: repos.iter().map(|g| Glob::parse(g).expect("glob")).collect(),
            build_types: Vec::new(),
        }
    }

    #[test]
    fn v1_and_v02_fields() {
        let v1 = json!({"buildDefinition": {"buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
            "externalParameters": {"workflow": {"repository": "https://github.com/acme/app", "ref": "refs/tags/v1"}}},
            "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}});
        let v02 = json!({"builder": {"id": "https://cloudbuild.googleapis.com/GoogleHostedWorker"},
            "buildType": "https://cloudbuild.googleapis.com/CloudBuildYaml@v0.1",
            "invocation": {"configSource": {"uri": "git+https://github.com/acme/tool.git@refs/heads/main"}}});
        let c = check(&["https://github.com/actions/runner/*"], &["github.com/acme/*"]);
        assert_eq!(c.run(&v1), Ok(()));
        assert_eq!(
            c.run(&v02),
            Err("builder id https://cloudbuild.googleapis.com/GoogleHostedWorker is not one of [https://github.com/actions/runner/*]".into())
        );
        let c = check(&["https://cloudbuild.googleapis.com/**"], &["github.com/acme/*"]);
        assert_eq!(c.run(&v02), Ok(()));
        let c = check(&[], &["github.com/other/*"]);
        assert!(
            c.run(&v1)
                .expect_err("wrong repo")
                .contains("source repository github.com/acme/app")
        );
        assert_eq!(
            check(&["x"], &[]).run(&json!({})),
            Err("provenance names no builder id".into())
        );
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
        let c = check(&[], &["github.com/acme/*"]);
        let v1 = |uri: &str| {
            json!({"buildDefinition": {"buildType": "t", "externalParameters": {"workflow": {"repository": uri}}},
                   "runDetails": {"builder": {"id": "b"}}})
        };
        assert_eq!(c.run(&v1("https://github.com/acme/app")), Ok(()));
        assert_eq!(
            c.run(&v1("https://evil.example#@github.com/acme/app")),
            Err("source repository evil.example is not one of [github.com/acme/*]".into())
        );
        assert_eq!(
            c.run(&v1("https://evil.example?@github.com/acme/app")),
            Err("source repository evil.example is not one of [github.com/acme/*]".into())
        );
        assert_eq!(
            c.run(&v1("https://github.com@evil.example/acme/app")),
            Err("source repository evil.example/acme/app is not one of [github.com/acme/*]".into())
        );
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
            assert_eq!(
                c.run(&v1(raw)),
                Err(format!(
                    "source repository {raw:?} contains {what}, on which URL parsers disagree"
                ))
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
