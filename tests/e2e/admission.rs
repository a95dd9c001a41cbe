//! `sigil admission` end to end: the real binary serving AdmissionReview v1
//! over HTTPS, deciding about images pushed to a real `docker-registry`,
//! signed (by the policy's key, by a stranger's key, not at all) and
//! attested with `sigil sign` and `sigil attest`. Every accepting request
//! has a rejecting twin; answers are read as the apiserver reads them.
//!
//! One registry, one stalling hostile registry and one server ([`world`])
//! are shared by the tests that only read; tests that change what they
//! depend on (a tag, the registry's life, the policy file, TLS files) start
//! their own server, registry or both. No test depends on another's order.

mod fixtures;
mod kinds;
mod mutate;
mod protocol;
mod registries;
mod reload;
mod shapes;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::fixtures::{keypair, push_sample, s, testdata};
use crate::support::webhook::{ExitGuard, Pki, Webhook, replace_file};
use crate::support::{Hostile, Mode, Registry, sigil};

/// The predicate type the `attested` rule asks for.
const SLSA_V1: &str = "https://slsa.dev/provenance/v1";

// --- the shared world ---------------------------------------------------------

/// Images in the shared registry, as written in pod specs (already in the
/// normalised form `127.0.0.1:PORT/REPO:TAG`, which is what the server names
/// in its messages), with the manifest digests the registry serves.
pub struct Images {
    /// `prod/app:signed`, signed by the policy's `release` key (cosign tag form).
    pub signed: String,
    pub signed_digest: String,
    /// `prod/web:v2`, signed by `release` as a Sigstore bundle referrer.
    pub web: String,
    pub web_digest: String,
    /// `prod/plain:latest` signed by `release`, written without a tag.
    pub untagged: String,
    pub untagged_digest: String,
    /// `prod/app:unsigned`: no signature at all.
    pub unsigned: String,
    pub unsigned_digest: String,
    /// `prod/app:stranger`: signed, by a key the policy does not know.
    pub stranger: String,
    /// `attested/app:good`: signed, SLSA v1 provenance from the GitHub-hosted runner.
    pub attested_good: String,
    /// `attested/app:bad`: signed, provenance from another builder.
    pub attested_bad: String,
    /// `attested/app:none`: signed, no provenance.
    pub attested_none: String,
    /// `warn/app:unsigned` and `warn/app:signed` under the `warn` rule.
    pub warn_unsigned: String,
    pub warn_signed: String,
    /// `audit/app:unsigned` under the `audit` rule.
    pub audit_unsigned: String,
    /// `elsewhere/app:v1`: signed by `release`, but no rule matches it.
    pub no_rule: String,
    /// `app:v1` on the hostile registry that never answers (a rule covers it).
    pub stalled: String,
}

/// Peers and a server shared by the tests that do not change them.
pub struct World {
    pub registry: Registry,
    pub stall: Hostile,
    /// Keys (`release.key`/`.pub`, `stranger.*`, password `pw`), predicates, the policy.
    pub dir: TempDir,
    pub policy: PathBuf,
    pub server: Webhook,
    pub client: Client,
    pub img: Images,
    _guard: ExitGuard,
}

/// The shared world, built by the first test that asks (the others wait).
pub fn world() -> &'static World {
    static WORLD: LazyLock<World> = LazyLock::new(World::build);
    &WORLD
}

impl World {
    fn build() -> World {
        let started = Instant::now();
        let registry = Registry::start();
        let stall = Hostile::start(Mode::Stall);
        let dir = TempDir::with_prefix("sigil-e2e-admission-").expect("tempdir");
        let (release, _) = keypair(dir.path(), "release");
        let (stranger, _) = keypair(dir.path(), "stranger");

        let push = |repo: &str, tag: &str, seed: u64| -> (String, String) {
            let digest = push_sample(&registry, repo, tag, seed).to_string();
            (registry.image(&format!("{repo}:{tag}")), digest)
        };
        let (signed, signed_digest) = push("prod/app", "signed", 101);
        let (unsigned, unsigned_digest) = push("prod/app", "unsigned", 102);
        let (stranger_image, _) = push("prod/app", "stranger", 103);
        let (web, web_digest) = push("prod/web", "v2", 104);
        let (plain, untagged_digest) = push("prod/plain", "latest", 105);
        let (attested_good, _) = push("attested/app", "good", 106);
        let (attested_bad, _) = push("attested/app", "bad", 107);
        let (attested_none, _) = push("attested/app", "none", 108);
        let (warn_unsigned, _) = push("warn/app", "unsigned", 109);
        let (warn_signed, _) = push("warn/app", "signed", 110);
        let (audit_unsigned, _) = push("audit/app", "unsigned", 111);
        let (no_rule, _) = push("elsewhere/app", "v1", 112);

        let (good, bad) = provenance_predicates(dir.path());
        // Three processes at a time: each signs or attests different images.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                sign(
                    &[
                        &signed,
                        &plain,
                        &attested_good,
                        &attested_bad,
                        &attested_none,
                        &warn_signed,
                        &no_rule,
                    ],
                    &release,
                    &[],
                );
            });
            scope.spawn(|| {
                sign(&[&web], &release, &["--format", "bundle"]);
                sign(&[&stranger_image], &stranger, &[]);
            });
            scope.spawn(|| {
                attest(&attested_good, &release, &good);
                attest(&attested_bad, &release, &bad);
            });
        });

        let stalled = stall.image("app:v1");
        let policy = dir.path().join("policy.yaml");
        replace_file(&policy, world_policy(&registry.host(), &stall.host()).as_bytes());
        let pki = Pki::new();
        let (cert, key) = pki.write(dir.path(), false);
        let server = Webhook::start(&["--policy", s(&policy), "--tls-cert", s(&cert), "--tls-key", s(&key)]);
        let client = pki.client();
        let registry_dir = registry
            .storage_dir()
            .parent()
            .expect("the storage is inside the registry's directory")
            .to_owned();
        let guard = ExitGuard::new(
            &[registry.pid(), server.pid()],
            &[dir.path(), registry_dir.as_path(), server.home()],
        );
        eprintln!("admission e2e world ready in {:?}", started.elapsed());
        World {
            img: Images {
                signed,
                signed_digest,
                web,
                web_digest,
                untagged: registry.image("prod/plain"),
                untagged_digest,
                unsigned,
                unsigned_digest,
                stranger: stranger_image,
                attested_good,
                attested_bad,
                attested_none,
                warn_unsigned,
                warn_signed,
                audit_unsigned,
                no_rule,
                stalled,
            },
            registry,
            stall,
            dir,
            policy,
            server,
            client,
            _guard: guard,
        }
    }

    /// Sends `review` to the shared server's `endpoint` (`/validate` or `/mutate`).
    #[track_caller]
    pub fn admit(&self, endpoint: &str, review: &Review) -> Answer {
        post_review(&self.client, &self.server, endpoint, "10s", review)
    }

    pub fn validate(&self, review: &Review) -> Answer {
        self.admit("/validate", review)
    }

    pub fn mutate(&self, review: &Review) -> Answer {
        self.admit("/mutate", review)
    }

    /// `release.pub`, the policy's key.
    pub fn release_pub(&self) -> PathBuf {
        self.dir.path().join("release.pub")
    }

    /// `release.key` (password `pw`).
    pub fn release_key(&self) -> PathBuf {
        self.dir.path().join("release.key")
    }
}

/// The shared server's policy: `prod/**` needs a `release` signature,
/// `attested/**` also SLSA v1 provenance from GitHub's hosted runner,
/// `warn/**` and `audit/**` the signature in warn and audit mode, the stalled
/// registry a signature; nothing else matches.
pub fn world_policy(host: &str, stall_host: &str) -> String {
    format!(
        "apiVersion: sigil.dev/v1alpha1
kind: ImagePolicy
publishers:
  release: {{key: release.pub}}
rules:
  - name: prod
    images: [\"{host}/prod/**\"]
    signatures: {{anyOf: [release]}}
  - name: attested
    images: [\"{host}/attested/**\"]
    signatures: {{anyOf: [release]}}
    attestations:
      - predicateType: {SLSA_V1}
        signedBy: [release]
        slsa: {{builderIds: [\"https://github.com/actions/runner/*\"]}}
  - name: warned
    images: [\"{host}/warn/**\"]
    signatures: {{anyOf: [release]}}
    mode: warn
  - name: audited
    images: [\"{host}/audit/**\"]
    signatures: {{anyOf: [release]}}
    mode: audit
  - name: stalled
    images: [\"{stall_host}/**\"]
    signatures: {{anyOf: [release]}}
"
    )
}

/// `sigil sign IMAGES... --key KEY EXTRA...`, password `pw`.
pub fn sign(images: &[&str], key: &Path, extra: &[&str]) {
    let mut args = vec!["sign"];
    args.extend_from_slice(images);
    args.extend_from_slice(&["--key", s(key)]);
    args.extend_from_slice(extra);
    sigil(&args).env("SIGIL_PASSWORD", "pw").run().assert_exit(0);
}

/// `sigil attest IMAGE --key KEY --type slsaprovenance1 --predicate FILE`.
fn attest(image: &str, key: &Path, predicate: &Path) {
    sigil(&[
        "attest",
        image,
        "--key",
        s(key),
        "--type",
        "slsaprovenance1",
        "--predicate",
        s(predicate),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
    .assert_exit(0);
}

/// The real SLSA v1 predicate of GitHub's npm build (builder
/// `https://github.com/actions/runner/github-hosted`), and a copy whose
/// builder is someone else: (good, bad) files in `dir`.
fn provenance_predicates(dir: &Path) -> (PathBuf, PathBuf) {
    let statement: Value = serde_json::from_slice(
        &std::fs::read(testdata("slsa/v1/github-actions-npm-sigstore-2.0.0.statement.json")).expect("read"),
    )
    .expect("json");
    let good = statement["predicate"].clone();
    assert_eq!(
        good["runDetails"]["builder"]["id"], "https://github.com/actions/runner/github-hosted",
        "the fixture's builder"
    );
    let mut bad = good.clone();
    bad["runDetails"]["builder"]["id"] = json!("https://evil.example/builder");
    let (good_path, bad_path) = (dir.join("slsa-good.json"), dir.join("slsa-bad.json"));
    std::fs::write(&good_path, good.to_string()).expect("write");
    std::fs::write(&bad_path, bad.to_string()).expect("write");
    (good_path, bad_path)
}

/// The digest the registry itself reports for `repo:tag` (`HEAD`,
/// `Docker-Content-Digest`), independent of sigil.
pub fn registry_digest(registry: &Registry, repo: &str, tag: &str) -> String {
    let response = registry
        .client()
        .head(format!("{}/v2/{repo}/manifests/{tag}", registry.url()))
        .header(
            "Accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
             application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .expect("HEAD the manifest");
    assert_eq!(response.status(), StatusCode::OK, "HEAD {repo}:{tag}");
    response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .expect("the registry sends Docker-Content-Digest")
        .to_owned()
}

// --- AdmissionReview requests -------------------------------------------------

/// The kind of an admitted object: its group/version/kind and resource, and
/// where its pod spec sits (as people write field paths).
#[derive(Clone, Copy, Debug)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub resource: &'static str,
    /// `spec`, `spec.template.spec`, ...; empty when the kind has no pod spec.
    pub pod_spec: &'static str,
}

pub const POD: Kind = Kind {
    group: "",
    version: "v1",
    kind: "Pod",
    resource: "pods",
    pod_spec: "spec",
};
pub const DEPLOYMENT: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "Deployment",
    resource: "deployments",
    pod_spec: "spec.template.spec",
};
pub const REPLICA_SET: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "ReplicaSet",
    resource: "replicasets",
    pod_spec: "spec.template.spec",
};
pub const STATEFUL_SET: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "StatefulSet",
    resource: "statefulsets",
    pod_spec: "spec.template.spec",
};
pub const DAEMON_SET: Kind = Kind {
    group: "apps",
    version: "v1",
    kind: "DaemonSet",
    resource: "daemonsets",
    pod_spec: "spec.template.spec",
};
pub const JOB: Kind = Kind {
    group: "batch",
    version: "v1",
    kind: "Job",
    resource: "jobs",
    pod_spec: "spec.template.spec",
};
pub const REPLICATION_CONTROLLER: Kind = Kind {
    group: "",
    version: "v1",
    kind: "ReplicationController",
    resource: "replicationcontrollers",
    pod_spec: "spec.template.spec",
};
pub const POD_TEMPLATE: Kind = Kind {
    group: "",
    version: "v1",
    kind: "PodTemplate",
    resource: "podtemplates",
    pod_spec: "template.spec",
};
pub const CRON_JOB: Kind = Kind {
    group: "batch",
    version: "v1",
    kind: "CronJob",
    resource: "cronjobs",
    pod_spec: "spec.jobTemplate.spec.template.spec",
};
pub const CONFIG_MAP: Kind = Kind {
    group: "",
    version: "v1",
    kind: "ConfigMap",
    resource: "configmaps",
    pod_spec: "",
};

impl Kind {
    /// `PREFIX.FIELD` for a field of the pod spec (`containers[1].image`).
    pub fn field(&self, field: &str) -> String {
        format!("{}.{field}", self.pod_spec)
    }

    /// The JSON pointer of a pod spec field given as pointer segments
    /// (`containers/1/image`).
    pub fn pointer(&self, field: &str) -> String {
        format!("/{}/{field}", self.pod_spec.replace('.', "/"))
    }

    /// An object of this kind around `pod_spec`, with the `apiVersion`,
    /// `kind` and metadata a real one has.
    pub fn object(&self, pod_spec: Value) -> Value {
        let api_version = if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        };
        let mut object = json!({
            "apiVersion": api_version,
            "kind": self.kind,
            "metadata": {"name": "e2e", "namespace": "default", "labels": {"app": "e2e"}},
        });
        let template = |spec: Value| json!({"metadata": {"labels": {"app": "e2e"}}, "spec": spec});
        match self.pod_spec {
            "spec" => object["spec"] = pod_spec,
            "spec.template.spec" => {
                object["spec"] = json!({"template": template(pod_spec)});
                match self.group {
                    "apps" => object["spec"]["selector"] = json!({"matchLabels": {"app": "e2e"}}),
                    "" => object["spec"]["selector"] = json!({"app": "e2e"}),
                    _ => {}
                }
            }
            "template.spec" => object["template"] = template(pod_spec),
            "spec.jobTemplate.spec.template.spec" => {
                object["spec"] =
                    json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template(pod_spec)}}});
            }
            // No pod spec: what was given is the object's data.
            "" => object["data"] = pod_spec,
            other => panic!("no object shape for pod specs at {other}"),
        }
        object
    }
}

/// `[{"name": "c0", "image": IMAGE0}, ...]`
pub fn containers(images: &[&str]) -> Value {
    Value::Array(
        images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect(),
    )
}

/// A pod spec running `images` as its containers.
pub fn pod_spec(images: &[&str]) -> Value {
    json!({"containers": containers(images)})
}

/// A volume whose source is an OCI image (Kubernetes 1.31+ image volumes).
pub fn image_volume(name: &str, reference: &str) -> Value {
    json!({"name": name, "image": {"reference": reference, "pullPolicy": "IfNotPresent"}})
}

/// One AdmissionReview request, with a fresh uid.
#[derive(Clone, Debug)]
pub struct Review {
    pub uid: String,
    pub body: Value,
}

impl Review {
    /// A CREATE of `object` (of `kind`) in namespace `default`.
    pub fn create(kind: Kind, object: Value) -> Review {
        Self::with(kind, "CREATE", None, Some(object), None)
    }

    /// A CREATE of a `kind` object around a pod spec running `images`.
    pub fn of_images(kind: Kind, images: &[&str]) -> Review {
        Self::create(kind, kind.object(pod_spec(images)))
    }

    /// A request of any operation; `object`/`old_object` `None` are JSON `null`.
    pub fn with(
        kind: Kind,
        operation: &str,
        sub_resource: Option<&str>,
        object: Option<Value>,
        old_object: Option<Value>,
    ) -> Review {
        let uid = fresh_uid();
        let mut request = json!({
            "uid": uid,
            "kind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
            "resource": {"group": kind.group, "version": kind.version, "resource": kind.resource},
            "requestKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
            "requestResource": {"group": kind.group, "version": kind.version, "resource": kind.resource},
            "name": "e2e",
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:default:e2e", "groups": ["system:authenticated"]},
            "object": object.unwrap_or(Value::Null),
            "oldObject": old_object.unwrap_or(Value::Null),
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": format!("{}Options", capitalise(operation))},
        });
        if let Some(sub) = sub_resource {
            request["subResource"] = json!(sub);
            request["requestSubResource"] = json!(sub);
        }
        Review {
            body: json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}),
            uid,
        }
    }
}

fn capitalise(operation: &str) -> String {
    let lower = operation.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A uid unique within this run, in the apiserver's UUID shape.
pub fn fresh_uid() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    format!("{pid:08x}-e2e0-4000-8000-{n:012x}")
}

// --- answers ------------------------------------------------------------------

/// A well-formed AdmissionReview answer (checked by [`post_review`]).
pub struct Answer {
    pub json: Value,
    pub elapsed: Duration,
    pub version: reqwest::Version,
}

impl Answer {
    pub fn response(&self) -> &Value {
        &self.json["response"]
    }

    pub fn allowed(&self) -> bool {
        self.response()["allowed"].as_bool().expect("checked by post_review")
    }

    /// `status.message`, or "" when there is none.
    pub fn message(&self) -> &str {
        self.response()["status"]["message"].as_str().unwrap_or_default()
    }

    /// `response.warnings` (empty when absent).
    pub fn warnings(&self) -> Vec<String> {
        self.response()["warnings"]
            .as_array()
            .map(|w| {
                w.iter()
                    .map(|x| x.as_str().expect("warnings are strings").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The decoded JSON Patch; `None` when the answer has neither `patch`
    /// nor `patchType` (panics when it has one without the other, or a
    /// patch that is not base64 of a JSON array).
    #[track_caller]
    pub fn patch(&self) -> Option<Vec<Value>> {
        let response = self.response();
        match (response.get("patch"), response.get("patchType")) {
            (None, None) => None,
            (Some(patch), Some(kind)) => {
                assert_eq!(kind, "JSONPatch", "{self}");
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(patch.as_str().expect("patch is a string"))
                    .unwrap_or_else(|e| panic!("patch is not base64 ({e}): {self}"));
                let ops: Value =
                    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("patch is not JSON ({e}): {self}"));
                Some(ops.as_array().expect("a JSON Patch is an array").clone())
            }
            _ => panic!("patch and patchType come together or not at all: {self}"),
        }
    }

    #[track_caller]
    pub fn assert_allowed(&self) -> &Self {
        assert!(self.allowed(), "expected allowed: {self}");
        assert!(
            self.response()["status"]["code"].as_u64().is_none_or(|c| c == 200),
            "an allowed answer with a failure status: {self}"
        );
        self
    }

    /// Denied with `status.code` 403 and a message.
    #[track_caller]
    pub fn assert_denied(&self) -> &Self {
        assert!(!self.allowed(), "expected denied: {self}");
        assert_eq!(self.response()["status"]["code"], 403, "{self}");
        assert!(!self.message().is_empty(), "a denial says why: {self}");
        self
    }

    /// The denial message names `field` and `image` as `FIELD IMAGE: REASON`
    /// with a non-empty reason; returns the reason (up to the next `; ` or the end).
    #[track_caller]
    pub fn assert_names(&self, field: &str, image: &str) -> String {
        let needle = format!("{field} {image}: ");
        let message = self.message();
        let at = message
            .find(&needle)
            .unwrap_or_else(|| panic!("the message should name `{field} {image}`: {self}"));
        // An entry starts the message or follows `; `.
        assert!(
            at == 0 || message[..at].ends_with("; "),
            "`{needle}` should start an entry: {self}"
        );
        let rest = &message[at + needle.len()..];
        let reason = rest.split("; ").next().unwrap_or_default().trim();
        assert!(!reason.is_empty(), "a reason after `{needle}`: {self}");
        reason.to_owned()
    }

    /// The message does not mention `text`.
    #[track_caller]
    pub fn assert_not_named(&self, text: &str) -> &Self {
        assert!(!self.message().contains(text), "`{text}` should not be named: {self}");
        self
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (in {:?})",
            serde_json::to_string_pretty(&self.json).unwrap_or_default(),
            self.elapsed
        )
    }
}

/// POSTs `review` to `server`'s `endpoint?timeout=TIMEOUT` and checks what
/// every answer must be: HTTP 200, JSON, an AdmissionReview v1 whose
/// `response.uid` is the request's and whose `allowed` is a boolean.
#[track_caller]
pub fn post_review(client: &Client, server: &Webhook, endpoint: &str, timeout: &str, review: &Review) -> Answer {
    let url = server.url(&format!("{endpoint}?timeout={timeout}"));
    let started = Instant::now();
    let response = client
        .post(&url)
        .header("Content-Type", "application/json")
        .body(review.body.to_string())
        .send()
        .unwrap_or_else(|e| panic!("POST {url}: {e}\n--- server log ---\n{}", server.logs()));
    let status = response.status();
    let version = response.version();
    let text = response.text().expect("read the answer");
    let elapsed = started.elapsed();
    assert_eq!(
        status,
        StatusCode::OK,
        "POST {url}: {text}\n--- server log ---\n{}",
        server.logs()
    );
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {url}: not JSON ({e}): {text}"));
    assert_eq!(json["apiVersion"], "admission.k8s.io/v1", "{json}");
    assert_eq!(json["kind"], "AdmissionReview", "{json}");
    assert_eq!(
        json["response"]["uid"],
        review.uid.as_str(),
        "the uid is echoed: {json}"
    );
    assert!(json["response"]["allowed"].is_boolean(), "{json}");
    Answer { json, elapsed, version }
}

/// The samples of metric `name` (exact sample name, e.g. `..._bucket`):
/// (labels, value) in the order of the text.
pub fn samples(text: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (sample, label_text) = match series.split_once('{') {
            Some((sample, rest)) => (sample, rest.strip_suffix('}').unwrap_or(rest)),
            None => (series, ""),
        };
        if sample != name {
            continue;
        }
        let labels = label_text
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
            .collect();
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("metric value in `{line}`: {e}"));
        found.push((labels, value));
    }
    found
}

/// The sum of the samples of metric `name` whose labels include every
/// `labels` pair; `None` when no sample matches.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples(text, name)
        .into_iter()
        .filter(|(have, _)| labels.iter().all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, value)| value)
        .reduce(|a, b| a + b)
}

/// Opens `client`'s connection to `server` (`GET /healthz`), so that a timed
/// request after it measures the server, not a TLS handshake: the apiserver
/// keeps its connections to a webhook open too.
pub fn warm(client: &Client, server: &Webhook) {
    let response = client.get(server.url("/healthz")).send().expect("GET /healthz");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().expect("read the whole body");
}

/// `GET /metrics` of `server`.
pub fn metrics(client: &Client, server: &Webhook) -> String {
    let response = client.get(server.url("/metrics")).send().expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().expect("metrics text")
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `limit`.
pub fn eventually<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A server of its own for a test, on `policy`, with TLS from a new PKI;
/// `extra` flags after the required ones.
/// The TLS files go to a new folder under `dir`, so that several servers can
/// share `dir` without reloading each other's certificates.
pub fn own_server(dir: &Path, policy: &Path, extra: &[&str]) -> (Webhook, Pki) {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let tls = dir.join(format!("tls-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir(&tls).expect("create the TLS folder");
    let pki = Pki::new();
    let (cert, key) = pki.write(&tls, false);
    let mut args = vec!["--policy", s(policy), "--tls-cert", s(&cert), "--tls-key", s(&key)];
    args.extend_from_slice(extra);
    (Webhook::start(&args), pki)
}
