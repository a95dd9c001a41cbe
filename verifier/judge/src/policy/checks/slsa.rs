//! SLSA provenance checks of a policy (DESIGN §4.1): builder ids, source
//! repositories and build types as globs, over provenance v1 and v0.2. The
//! provenance fields and how a source repository URI is read are in
//! [`crate::predicate::slsa`].

use super::list;
use crate::policy::glob::Glob;
use crate::predicate::slsa::{Provenance, normalise_repository};

/// `slsa: { builderIds, sourceRepositories, buildTypes }`; an empty list checks nothing.
#[derive(Clone, Debug, Default)]
pub struct SlsaCheck {
    pub builder_ids: Vec<Glob>,
    pub source_repositories: Vec<Glob>,
    pub build_types: Vec<Glob>,
}

impl SlsaCheck {
    /// Every configured list must match the provenance's value.
    pub fn run(&self, provenance: &Provenance<'_>) -> Result<(), String> {
        if !self.builder_ids.is_empty() {
            let id = provenance
                .builder_id
                .as_deref()
                .ok_or("provenance names no builder id")?;
            one_of("builder id", id, &self.builder_ids)?;
        }
        if !self.source_repositories.is_empty() {
            let raw = provenance
                .source_repository
                .as_deref()
                .ok_or("provenance names no source repository")?;
            let repository = normalise_repository(raw).map_err(|e| format!("source repository {e}"))?;
            one_of("source repository", &repository, &self.source_repositories)?;
        }
        if !self.build_types.is_empty() {
            let t = provenance
                .build_type
                .as_deref()
                .ok_or("provenance names no build type")?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::slsa::provenance;
    use serde_json::{Value, json};

    impl SlsaCheck {
        fn run_on(&self, predicate: &Value) -> Result<(), String> {
            self.run(&provenance(predicate))
        }
    }

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
        assert_eq!(c.run_on(&v1), Ok(()));
        assert_eq!(
            c.run_on(&v02),
            Err("builder id https://cloudbuild.googleapis.com/GoogleHostedWorker is not one of [https://github.com/actions/runner/*]".into())
        );
        let c = check(&["https://cloudbuild.googleapis.com/**"], &["github.com/acme/*"]);
        assert_eq!(c.run_on(&v02), Ok(()));
        let c = check(&[], &["github.com/other/*"]);
        assert!(
            c.run_on(&v1)
                .expect_err("wrong repo")
                .contains("source repository github.com/acme/app")
        );
        assert_eq!(
            check(&["x"], &[]).run_on(&json!({})),
            Err("provenance names no builder id".into())
        );
    }

    #[test]
    fn sources_are_matched_by_the_host_a_client_would_reach() {
        let c = check(&[], &["github.com/acme/*"]);
        let v1 = |uri: &str| {
            json!({"buildDefinition": {"buildType": "t", "externalParameters": {"workflow": {"repository": uri}}},
                   "runDetails": {"builder": {"id": "b"}}})
        };
        assert_eq!(c.run_on(&v1("https://github.com/acme/app")), Ok(()));
        assert_eq!(
            c.run_on(&v1("https://evil.example#@github.com/acme/app")),
            Err("source repository evil.example is not one of [github.com/acme/*]".into())
        );
        assert_eq!(
            c.run_on(&v1("https://evil.example?@github.com/acme/app")),
            Err("source repository evil.example is not one of [github.com/acme/*]".into())
        );
        assert_eq!(
            c.run_on(&v1("https://github.com@evil.example/acme/app")),
            Err("source repository evil.example/acme/app is not one of [github.com/acme/*]".into())
        );
        // parser differentials fail the check, with the reason
        for (raw, what) in [
            ("https://github.com\\acme\\app@evil.example", "a backslash"),
            ("https://git\nhub.com/acme/app", "whitespace or a control character"),
            ("https://github.com/acme/app%2F..%2F..%2Fevil", "a percent-escape"),
        ] {
            assert_eq!(
                c.run_on(&v1(raw)),
                Err(format!(
                    "source repository {raw:?} contains {what}, on which URL parsers disagree"
                ))
            );
        }
    }
}
