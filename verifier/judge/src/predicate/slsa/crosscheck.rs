//! A provenance against the certificate it is about to be signed with: on
//! a keyless signature from CI, Fulcio's extensions say what the token said
//! about the run (runner environment, repository, commit, ref, workflow).
//! A provenance that contradicts them claims more than its own signer can
//! vouch for, so `attest` refuses to sign it. Only contradictions count: a
//! field one side leaves out is not checked (a provenance need not repeat
//! every extension, and a non-CI certificate has none).

use std::collections::BTreeMap;

use serde_json::Value;

/// The GitHub builder ids for the two runner environments.
const GITHUB_RUNNER: &str = "https://github.com/actions/runner/";

/// Every field of a SLSA provenance v1 `predicate` that contradicts the
/// signing certificate's Fulcio `extensions` (by their policy names), one
/// sentence each; empty when none does.
pub fn contradictions(predicate: &Value, extensions: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let text = |pointer: &str| predicate.pointer(pointer).and_then(Value::as_str);
    let mut compare = |extension: &str, claimed: Option<&str>, what: &str, same: &dyn Fn(&str, &str) -> bool| {
        if let (Some(certified), Some(claimed)) = (extensions.get(extension), claimed)
            && !same(certified, claimed)
        {
            out.push(format!(
                "{what} is {claimed:?}, but the signing certificate's {extension} is {certified:?}"
            ));
        }
    };
    let exact = |a: &str, b: &str| a == b;
    let same_repository = |a: &str, b: &str| repository(a) == repository(b);

    compare(
        "runnerEnvironment",
        text("/buildDefinition/internalParameters/runnerEnvironment"),
        "the provenance's runner environment",
        &exact,
    );
    let runner = text("/runDetails/builder/id").and_then(|id| id.strip_prefix(GITHUB_RUNNER));
    compare(
        "runnerEnvironment",
        runner,
        "the builder id's runner environment",
        &exact,
    );
    compare(
        "sourceRepositoryURI",
        text("/buildDefinition/externalParameters/workflow/repository"),
        "the workflow repository",
        &same_repository,
    );
    compare(
        "sourceRepositoryRef",
        text("/buildDefinition/externalParameters/workflow/ref"),
        "the workflow ref",
        &exact,
    );
    // The first resolved dependency is the source (as sigil and GitHub write it).
    let source = predicate.pointer("/buildDefinition/resolvedDependencies/0");
    let source_uri = source.and_then(|s| s.get("uri")).and_then(Value::as_str);
    if source_uri.is_some_and(|u| u.starts_with("git+")) {
        compare(
            "sourceRepositoryURI",
            source_uri,
            "the source dependency",
            &same_repository,
        );
        let commit = source
            .and_then(|s| s.pointer("/digest/gitCommit").or_else(|| s.pointer("/digest/sha1")))
            .and_then(Value::as_str);
        compare("sourceRepositoryDigest", commit, "the source commit", &exact);
    }
    // buildConfigURI is REPOSITORY/PATH@REF: the workflow path must be its path.
    let path = text("/buildDefinition/externalParameters/workflow/path");
    if let (Some(config), Some(path)) = (extensions.get("buildConfigURI"), path) {
        let without_ref = config.split_once('@').map_or(config.as_str(), |(p, _)| p);
        if !without_ref.ends_with(&format!("/{}", path.trim_start_matches('/'))) {
            out.push(format!(
                "the workflow path is {path:?}, but the signing certificate's buildConfigURI is {config:?}"
            ));
        }
    }
    out
}

/// A repository URL compared by host and path: without `git+`, a ref after
/// `@`, a trailing `.git` or `/`, case-insensitive host.
fn repository(uri: &str) -> String {
    let uri = uri.strip_prefix("git+").unwrap_or(uri);
    let scheme_end = uri.find("://").map_or(0, |i| i + 3);
    let (scheme, rest) = uri.split_at(scheme_end);
    let rest = rest.split_once('@').map_or(rest, |(r, _)| r);
    let rest = rest.trim_end_matches('/');
    let rest = rest.strip_suffix(".git").unwrap_or(rest);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    format!("{}{}/{path}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn extensions() -> BTreeMap<String, String> {
        [
            ("runnerEnvironment", "github-hosted"),
            ("sourceRepositoryURI", "https://github.com/acme/app"),
            ("sourceRepositoryRef", "refs/heads/main"),
            ("sourceRepositoryDigest", "0123456789abcdef0123456789abcdef01234567"),
            (
                "buildConfigURI",
                "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn provenance(runner: &str, repository: &str, reference: &str, commit: &str, path: &str) -> Value {
        json!({
            "buildDefinition": {
                "buildType": "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
                "externalParameters": {"workflow": {"repository": repository, "ref": reference, "path": path}},
                "internalParameters": {"runnerEnvironment": runner},
                "resolvedDependencies": [{"uri": format!("git+{repository}@{reference}"), "digest": {"gitCommit": commit}}]
            },
            "runDetails": {"builder": {"id": format!("https://github.com/actions/runner/{runner}")}}
        })
    }

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn a_provenance_agreeing_with_its_certificate_passes() {
        let p = provenance(
            "github-hosted",
            "https://github.com/acme/app",
            "refs/heads/main",
            COMMIT,
            ".github/workflows/release.yml",
        );
        assert_eq!(contradictions(&p, &extensions()), Vec::<String>::new());
        // the same repository written another way is no contradiction
        let p = provenance(
            "github-hosted",
            "https://GitHub.com/acme/app.git",
            "refs/heads/main",
            COMMIT,
            ".github/workflows/release.yml",
        );
        assert_eq!(contradictions(&p, &extensions()), Vec::<String>::new());
        // a certificate without extensions (an email identity) checks nothing
        assert!(contradictions(&p, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn every_contradicting_field_is_named() {
        let cases = [
            (
                provenance(
                    "self-hosted",
                    "https://github.com/acme/app",
                    "refs/heads/main",
                    COMMIT,
                    ".github/workflows/release.yml",
                ),
                "runnerEnvironment",
            ),
            (
                provenance(
                    "github-hosted",
                    "https://github.com/evil/app",
                    "refs/heads/main",
                    COMMIT,
                    ".github/workflows/release.yml",
                ),
                "sourceRepositoryURI",
            ),
            (
                provenance(
                    "github-hosted",
                    "https://github.com/acme/app",
                    "refs/tags/v9",
                    COMMIT,
                    ".github/workflows/release.yml",
                ),
                "sourceRepositoryRef",
            ),
            (
                provenance(
                    "github-hosted",
                    "https://github.com/acme/app",
                    "refs/heads/main",
                    &"f".repeat(40),
                    ".github/workflows/release.yml",
                ),
                "sourceRepositoryDigest",
            ),
            (
                provenance(
                    "github-hosted",
                    "https://github.com/acme/app",
                    "refs/heads/main",
                    COMMIT,
                    ".github/workflows/other.yml",
                ),
                "buildConfigURI",
            ),
        ];
        for (p, extension) in cases {
            let found = contradictions(&p, &extensions());
            assert!(!found.is_empty(), "{extension}: no contradiction found");
            assert!(found.iter().all(|f| f.contains(extension)), "{extension}: {found:?}");
        }
        // a repository whose name only starts like the certified one
        let p = provenance(
            "github-hosted",
            "https://github.com/acme/app-evil",
            "refs/heads/main",
            COMMIT,
            ".github/workflows/release.yml",
        );
        assert!(!contradictions(&p, &extensions()).is_empty());
    }
}
