//! SLSA provenance v1 predicates for the pipeline that is running: read from
//! GitHub Actions or GitLab CI variables, every field overridable, and
//! deterministic (the same inputs give the same bytes; no clock is read).

use serde_json::{Map, Value, json};

/// GitHub's build type for workflow runs.
pub const GITHUB_BUILD_TYPE: &str = "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1";
/// GitLab's build type, as GitLab's own provenance writes it.
pub const GITLAB_BUILD_TYPE: &str = "https://gitlab.com/gitlab-org/gitlab-runner/-/blob/main/PROVENANCE.md";

/// Every field of the predicate sigil fills in. `None` leaves it out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// `runDetails.builder.id`.
    pub builder_id: Option<String>,
    /// `buildDefinition.buildType`.
    pub build_type: Option<String>,
    /// Source repository URL (`https://github.com/acme/app`).
    pub source_repository: Option<String>,
    /// Git ref built (`refs/tags/v1.2.3`).
    pub source_ref: Option<String>,
    /// Git commit built (40 hex).
    pub source_commit: Option<String>,
    /// Workflow / pipeline definition path (`.github/workflows/release.yml`).
    pub workflow: Option<String>,
    /// `runDetails.metadata.invocationId`: a URL of this run.
    pub invocation_id: Option<String>,
    /// `github-hosted`, `self-hosted`, a GitLab runner description ...
    pub runner_environment: Option<String>,
    /// What triggered the run (`push`, `workflow_dispatch`, `merge_request_event` ...).
    pub trigger: Option<String>,
    /// RFC 3339 start and finish times, only when given (never read from a clock).
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
}

/// Which CI the variables describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ci {
    GitHubActions,
    GitLab,
    Unknown,
}

impl Inputs {
    /// Reads GitHub Actions or GitLab CI variables through `var`.
    pub fn from_ci(var: impl Fn(&str) -> Option<String>) -> (Ci, Inputs) {
        let v = |name: &str| var(name).filter(|s| !s.is_empty());
        if v("GITHUB_ACTIONS").as_deref() == Some("true") {
            let server = v("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".to_owned());
            let repository = v("GITHUB_REPOSITORY").map(|r| format!("{server}/{r}"));
            let runner = v("RUNNER_ENVIRONMENT");
            // GITHUB_WORKFLOW_REF is owner/repo/.github/workflows/x.yml@refs/...
            let workflow = v("GITHUB_WORKFLOW_REF").and_then(|w| {
                let path = w.split_once('@').map_or(w.as_str(), |(p, _)| p).to_owned();
                let repo = v("GITHUB_REPOSITORY").unwrap_or_default();
                path.strip_prefix(&format!("{repo}/")).map(str::to_owned).or(Some(path))
            });
            let invocation = match (&repository, v("GITHUB_RUN_ID")) {
                (Some(r), Some(id)) => Some(format!(
                    "{r}/actions/runs/{id}/attempts/{}",
                    v("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into())
                )),
                _ => None,
            };
            let inputs = Inputs {
                // from the runner environment, in `complete` (flags may set it)
                builder_id: None,
                build_type: Some(GITHUB_BUILD_TYPE.to_owned()),
                source_repository: repository,
                source_ref: v("GITHUB_REF"),
                source_commit: v("GITHUB_SHA"),
                workflow,
                invocation_id: invocation,
                runner_environment: runner,
                trigger: v("GITHUB_EVENT_NAME"),
                started_on: None,
                finished_on: None,
            };
            return (Ci::GitHubActions, inputs);
        }
        if v("GITLAB_CI").as_deref() == Some("true") {
            let builder = match (v("CI_PROJECT_URL"), v("CI_RUNNER_ID")) {
                (Some(project), Some(runner)) => Some(format!("{project}/-/runners/{runner}")),
                _ => None,
            };
            let source_ref = v("CI_COMMIT_TAG")
                .map(|t| format!("refs/tags/{t}"))
                .or_else(|| v("CI_COMMIT_BRANCH").map(|b| format!("refs/heads/{b}")))
                .or_else(|| v("CI_COMMIT_REF_NAME"));
            let inputs = Inputs {
                builder_id: builder,
                build_type: Some(GITLAB_BUILD_TYPE.to_owned()),
                source_repository: v("CI_PROJECT_URL"),
                source_ref,
                source_commit: v("CI_COMMIT_SHA"),
                workflow: v("CI_CONFIG_PATH"),
                invocation_id: v("CI_JOB_URL"),
                runner_environment: v("CI_RUNNER_DESCRIPTION"),
                trigger: v("CI_PIPELINE_SOURCE"),
                started_on: None,
                finished_on: None,
            };
            return (Ci::GitLab, inputs);
        }
        (Ci::Unknown, Inputs::default())
    }

    /// Fills in what follows from other fields for `ci`: on GitHub Actions,
    /// the builder from the runner environment (`github-hosted` or
    /// `self-hosted`, from `RUNNER_ENVIRONMENT` or `--runner-environment`);
    /// any other runner environment leaves the builder unknown.
    pub fn complete(mut self, ci: Ci) -> Inputs {
        if ci == Ci::GitHubActions && self.builder_id.is_none() {
            self.builder_id = match self.runner_environment.as_deref() {
                Some("github-hosted") => Some("https://github.com/actions/runner/github-hosted".to_owned()),
                Some("self-hosted") => Some("https://github.com/actions/runner/self-hosted".to_owned()),
                _ => None,
            };
        }
        self
    }

    /// Fields set in `overrides` replace ours.
    pub fn with_overrides(self, overrides: Inputs) -> Inputs {
        Inputs {
            builder_id: overrides.builder_id.or(self.builder_id),
            build_type: overrides.build_type.or(self.build_type),
            source_repository: overrides.source_repository.or(self.source_repository),
            source_ref: overrides.source_ref.or(self.source_ref),
            source_commit: overrides.source_commit.or(self.source_commit),
            workflow: overrides.workflow.or(self.workflow),
            invocation_id: overrides.invocation_id.or(self.invocation_id),
            runner_environment: overrides.runner_environment.or(self.runner_environment),
            trigger: overrides.trigger.or(self.trigger),
            started_on: overrides.started_on.or(self.started_on),
            finished_on: overrides.finished_on.or(self.finished_on),
        }
    }
}

/// Why a predicate cannot be made.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProvenanceError {
    /// Every required input that is unknown, as (what, the flag that sets it).
    #[error(
        "unknown: {}; sigil does not guess them (set each with its flag, or run in GitHub Actions or GitLab CI)",
        .0.iter().map(|(what, flag)| format!("{what} ({flag})")).collect::<Vec<_>>().join(", ")
    )]
    Missing(Vec<(&'static str, &'static str)>),
    #[error("--source-commit {0:?} is not a 40- or 64-character hex git commit")]
    Commit(String),
    #[error("--{0} {1:?} is not an RFC 3339 time (such as 2026-12-03T10:00:00Z)")]
    Time(&'static str, String),
    #[error("--finished-on {finished} is before --started-on {started}")]
    TimeOrder { started: String, finished: String },
}

/// An RFC 3339 time, written back in UTC (`2026-12-03T10:00:00Z`).
fn rfc3339(
    flag: &'static str,
    text: &Option<String>,
) -> Result<Option<(time::OffsetDateTime, String)>, ProvenanceError> {
    use time::format_description::well_known::Rfc3339;
    let Some(text) = text else { return Ok(None) };
    let at = time::OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| ProvenanceError::Time(flag, text.clone()))?
        .to_offset(time::UtcOffset::UTC);
    let written = at
        .format(&Rfc3339)
        .map_err(|_| ProvenanceError::Time(flag, text.clone()))?;
    Ok(Some((at, written)))
}

/// The SLSA provenance v1 predicate. The builder id, the build type and the
/// source (repository and ref, the workflow's external parameters) are
/// required, and every one missing is named at once; the rest appears when
/// known. Times must be RFC 3339.
pub fn predicate(inputs: &Inputs) -> Result<Value, ProvenanceError> {
    let required = [
        (
            &inputs.builder_id,
            "the builder id",
            "--builder-id, or --runner-environment github-hosted|self-hosted on GitHub",
        ),
        (&inputs.build_type, "the build type", "--build-type"),
        (
            &inputs.source_repository,
            "the source repository",
            "--source-repository",
        ),
        (&inputs.source_ref, "the source ref", "--source-ref"),
    ];
    let missing: Vec<(&'static str, &'static str)> = required
        .iter()
        .filter(|(value, _, _)| value.is_none())
        .map(|(_, what, flag)| (*what, *flag))
        .collect();
    if !missing.is_empty() {
        return Err(ProvenanceError::Missing(missing));
    }
    let (Some(builder), Some(build_type)) = (inputs.builder_id.clone(), inputs.build_type.clone()) else {
        unreachable!("checked above");
    };
    let started = rfc3339("started-on", &inputs.started_on)?;
    let finished = rfc3339("finished-on", &inputs.finished_on)?;
    if let (Some((s, started)), Some((f, finished))) = (&started, &finished)
        && f < s
    {
        return Err(ProvenanceError::TimeOrder {
            started: started.clone(),
            finished: finished.clone(),
        });
    }
    if let Some(commit) = &inputs.source_commit {
        let hex = commit.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if !hex || !(commit.len() == 40 || commit.len() == 64) {
            return Err(ProvenanceError::Commit(commit.clone()));
        }
    }
    let mut workflow = Map::new();
    insert(&mut workflow, "repository", &inputs.source_repository);
    insert(&mut workflow, "ref", &inputs.source_ref);
    insert(&mut workflow, "path", &inputs.workflow);
    let mut external = Map::new();
    if !workflow.is_empty() {
        external.insert("workflow".into(), Value::Object(workflow));
    }
    let mut internal = Map::new();
    insert(&mut internal, "trigger", &inputs.trigger);
    insert(&mut internal, "runnerEnvironment", &inputs.runner_environment);
    let mut definition = Map::new();
    definition.insert("buildType".into(), build_type.into());
    definition.insert("externalParameters".into(), Value::Object(external));
    if !internal.is_empty() {
        definition.insert("internalParameters".into(), Value::Object(internal));
    }
    if let Some(repository) = &inputs.source_repository {
        let mut uri = format!("git+{repository}");
        if let Some(r) = &inputs.source_ref {
            uri.push('@');
            uri.push_str(r);
        }
        let mut dependency = json!({ "uri": uri });
        if let Some(commit) = &inputs.source_commit {
            let algorithm = if commit.len() == 40 { "gitCommit" } else { "sha256" };
            dependency["digest"] = json!({ algorithm: commit });
        }
        definition.insert("resolvedDependencies".into(), json!([dependency]));
    }
    let mut metadata = Map::new();
    insert(&mut metadata, "invocationId", &inputs.invocation_id);
    insert(&mut metadata, "startedOn", &started.map(|(_, t)| t));
    insert(&mut metadata, "finishedOn", &finished.map(|(_, t)| t));
    let mut run = Map::new();
    run.insert("builder".into(), json!({ "id": builder }));
    if !metadata.is_empty() {
        run.insert("metadata".into(), Value::Object(metadata));
    }
    Ok(json!({ "buildDefinition": definition, "runDetails": run }))
}

fn insert(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), Value::from(v.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(name: &str) -> Option<String> {
        let vars = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_REF", "refs/tags/v1.2.3"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            (
                "GITHUB_WORKFLOW_REF",
                "acme/app/.github/workflows/release.yml@refs/tags/v1.2.3",
            ),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_EVENT_NAME", "push"),
            ("RUNNER_ENVIRONMENT", "github-hosted"),
        ];
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn github_actions_fields_land_where_slsa_puts_them() {
        let (ci, inputs) = Inputs::from_ci(github);
        assert_eq!(ci, Ci::GitHubActions);
        let inputs = inputs.complete(ci);
        let p = predicate(&inputs).expect("predicate");
        assert_eq!(
            p["runDetails"]["builder"]["id"],
            "https://github.com/actions/runner/github-hosted"
        );
        assert_eq!(p["buildDefinition"]["buildType"], GITHUB_BUILD_TYPE);
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["workflow"]["repository"],
            "https://github.com/acme/app"
        );
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["workflow"]["path"],
            ".github/workflows/release.yml"
        );
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0]["uri"],
            "git+https://github.com/acme/app@refs/tags/v1.2.3"
        );
        assert_eq!(
            p["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(
            p["runDetails"]["metadata"]["invocationId"],
            "https://github.com/acme/app/actions/runs/42/attempts/2"
        );
        crate::predicate::validate(crate::predicate::SLSA_PROVENANCE_V1, p.to_string().as_bytes())
            .expect("valid SLSA v1");
        // deterministic
        assert_eq!(predicate(&Inputs::from_ci(github).1.complete(ci)).expect("again"), p);
        // The runner decides the builder; without it the builder is unknown,
        // never assumed to be GitHub's hosted one.
        let self_hosted = |name: &str| match name {
            "RUNNER_ENVIRONMENT" => Some("self-hosted".to_owned()),
            other => github(other),
        };
        let p = predicate(&Inputs::from_ci(self_hosted).1.complete(ci)).expect("self-hosted");
        assert_eq!(
            p["runDetails"]["builder"]["id"],
            "https://github.com/actions/runner/self-hosted"
        );
        let unset = |name: &str| {
            if name == "RUNNER_ENVIRONMENT" {
                None
            } else {
                github(name)
            }
        };
        let refused = predicate(&Inputs::from_ci(unset).1.complete(ci)).expect_err("no runner environment");
        assert_eq!(
            refused,
            ProvenanceError::Missing(vec![(
                "the builder id",
                "--builder-id, or --runner-environment github-hosted|self-hosted on GitHub"
            )])
        );
    }

    #[test]
    fn gitlab_and_overrides() {
        let vars = |name: &str| {
            [
                ("GITLAB_CI", "true"),
                ("CI_PROJECT_URL", "https://gitlab.example/acme/app"),
                ("CI_RUNNER_ID", "7"),
                ("CI_COMMIT_TAG", "v2"),
                ("CI_COMMIT_SHA", "89abcdef0123456789abcdef0123456789abcdef"),
                ("CI_JOB_URL", "https://gitlab.example/acme/app/-/jobs/9"),
            ]
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
        };
        let (ci, inputs) = Inputs::from_ci(vars);
        assert_eq!(ci, Ci::GitLab);
        let p = predicate(&inputs).expect("predicate");
        assert_eq!(
            p["runDetails"]["builder"]["id"],
            "https://gitlab.example/acme/app/-/runners/7"
        );
        assert_eq!(
            p["buildDefinition"]["externalParameters"]["workflow"]["ref"],
            "refs/tags/v2"
        );
        let overridden = inputs.with_overrides(Inputs {
            builder_id: Some("https://ci.example/b".into()),
            ..Inputs::default()
        });
        assert_eq!(
            predicate(&overridden).expect("p")["runDetails"]["builder"]["id"],
            "https://ci.example/b"
        );
    }

    #[test]
    fn unknown_ci_needs_explicit_fields_and_bad_commits_are_refused() {
        let (ci, inputs) = Inputs::from_ci(|_| None);
        assert_eq!(ci, Ci::Unknown);
        // every missing input at once
        let Err(ProvenanceError::Missing(missing)) = predicate(&inputs) else {
            panic!("missing inputs")
        };
        let named: Vec<&str> = missing.iter().map(|m| m.0).collect();
        assert_eq!(
            named,
            [
                "the builder id",
                "the build type",
                "the source repository",
                "the source ref"
            ]
        );
        let explicit = Inputs {
            builder_id: Some("https://ci.example/b".into()),
            build_type: Some("https://ci.example/t".into()),
            source_repository: Some("https://git.example/acme/app".into()),
            source_ref: Some("refs/tags/v1".into()),
            ..Inputs::default()
        };
        let p = predicate(&explicit).expect("explicit");
        assert!(p["runDetails"].get("metadata").is_none());
        let bad_commit = Inputs {
            source_commit: Some("XYZ".into()),
            ..explicit.clone()
        };
        assert!(matches!(predicate(&bad_commit), Err(ProvenanceError::Commit(_))));
        // times are parsed and written in UTC; words and reversed times are refused
        let timed = Inputs {
            started_on: Some("2026-12-03T11:00:00+01:00".into()),
            finished_on: Some("2026-12-03T10:05:00Z".into()),
            ..explicit.clone()
        };
        let p = predicate(&timed).expect("times");
        assert_eq!(p["runDetails"]["metadata"]["startedOn"], "2026-12-03T10:00:00Z");
        assert_eq!(p["runDetails"]["metadata"]["finishedOn"], "2026-12-03T10:05:00Z");
        let yesterday = Inputs {
            started_on: Some("yesterday".into()),
            ..explicit.clone()
        };
        assert_eq!(
            predicate(&yesterday),
            Err(ProvenanceError::Time("started-on", "yesterday".into()))
        );
        let reversed = Inputs {
            started_on: Some("2026-12-03T10:05:00Z".into()),
            finished_on: Some("2026-12-03T10:00:00Z".into()),
            ..explicit
        };
        assert!(matches!(predicate(&reversed), Err(ProvenanceError::TimeOrder { .. })));
    }
}
