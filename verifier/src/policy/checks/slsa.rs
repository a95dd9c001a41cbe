//! SLSA provenance checks: builder ids, source repositories and build types
//! as globs, over provenance v1 and v0.2 (DESIGN §4.1).

use serde_json::Value;

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
            one_of(
                "source repository",
                &normalise_repository(raw),
                &self.source_repositories,
            )?;
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

/// Drops `git+`, the scheme, a trailing `.git` and any `@ref`:
/// `git+https://github.com/acme/app.git@refs/tags/v1` -> `github.com/acme/app`.
pub fn normalise_repository(uri: &str) -> String {
    let s = uri.strip_prefix("git+").unwrap_or(uri);
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let (host, path) = s.split_once('/').unwrap_or((s, ""));
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let path = path.split_once('@').map_or(path, |(before, _)| before);
    let joined = if path.is_empty() {
        host.to_owned()
    } else {
        format!("{host}/{path}")
    };
    let trimmed = joined.trim_end_matches('/');
    trimmed.strip_suffix(".git").unwrap_or(trimmed).to_owned()
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
            ("github.com/acme/app", "github.com/acme/app"),
            ("git+ssh://git@github.com/acme/app.git", "github.com/acme/app"),
        ] {
            assert_eq!(normalise_repository(raw), want, "{raw}");
        }
    }
}
