//! The Kubernetes manifests in `deploy/kubernetes/`: built with `kubectl
//! kustomize` and converted to JSON by kubectl offline (`label --local`, which
//! needs no API server), then checked against what `sigil admission` needs
//! and what a fail-closed webhook must say. kubectl offline only parses YAML
//! and checks that each object has `apiVersion` and `kind`; it cannot check
//! field names without a server's OpenAPI, so the webhook configurations are
//! checked here key by key and everything the deployment relies on is
//! asserted by path. Every check is shown failing on a broken twin.
//!
//! Needs `kubectl` (Debian package `kubernetes-client`); without it the tests
//! fail with that hint rather than skip.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::fixtures::s;
use crate::support::{Output, Proc, sigil};

const NAMESPACE: &str = "sigil-system";
const SERVICE: &str = "sigil-admission";
const OPT_IN_LABEL: &str = "sigil.dev/enforce";
const NEVER_SENT: &[&str] = &["sigil-system", "kube-system"];
/// Every built-in resource with a pod spec, by API group (DESIGN §6).
const WORKLOADS: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "pods/ephemeralcontainers"),
    ("", "replicationcontrollers"),
    ("", "podtemplates"),
    ("apps", "deployments"),
    ("apps", "replicasets"),
    ("apps", "statefulsets"),
    ("apps", "daemonsets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
];
/// Every field of `webhooks[]` in admissionregistration.k8s.io/v1.
const WEBHOOK_FIELDS: &[&str] = &[
    "name",
    "admissionReviewVersions",
    "clientConfig",
    "failurePolicy",
    "sideEffects",
    "timeoutSeconds",
    "matchPolicy",
    "namespaceSelector",
    "objectSelector",
    "rules",
    "matchConditions",
    "reinvocationPolicy",
];
const CLIENT_CONFIG_FIELDS: &[&str] = &["service", "url", "caBundle"];
const SERVICE_REFERENCE_FIELDS: &[&str] = &["name", "namespace", "path", "port"];
const RULE_FIELDS: &[&str] = &["apiGroups", "apiVersions", "operations", "resources", "scope"];
const SELECTOR_FIELDS: &[&str] = &["matchLabels", "matchExpressions"];
const SECURITY_CONTEXT_FIELDS: &[&str] = &[
    "allowPrivilegeEscalation",
    "appArmorProfile",
    "capabilities",
    "privileged",
    "procMount",
    "readOnlyRootFilesystem",
    "runAsGroup",
    "runAsNonRoot",
    "runAsUser",
    "seLinuxOptions",
    "seccompProfile",
    "windowsOptions",
];

fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

fn kubectl_path() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`kubectl` is not installed, and the deploy/kubernetes tests need it: \
             run `apt-get install -y kubernetes-client` (scripts/test.sh does)"
        )
    })
}

/// `kubectl ARGS...` with no kubeconfig (a fresh HOME): nothing here may
/// need an API server.
fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    let mut proc = Proc::new(kubectl_path()).args(args);
    if let Some(input) = stdin {
        proc = proc.stdin(input.as_bytes().to_vec());
    }
    proc.run()
}

/// The objects `kubectl apply -k DIR` would send, as JSON, or kubectl's
/// complaint.
fn try_render(dir: &Path) -> Result<Vec<Value>, Output> {
    let built = kubectl(&["kustomize", s(dir)], None);
    if built.code != Some(0) {
        return Err(built);
    }
    let converted = kubectl(
        &["label", "--local", "-f", "-", "sigil.dev/rendered=true", "-o", "json"],
        Some(&built.stdout),
    );
    if converted.code != Some(0) {
        return Err(converted);
    }
    let mut objects = Vec::new();
    for value in serde_json::Deserializer::from_str(&converted.stdout).into_iter::<Value>() {
        let value = value.unwrap_or_else(|e| panic!("kubectl printed something that is not JSON ({e})\n{converted}"));
        match value["kind"].as_str() {
            Some("List") => objects.extend(value["items"].as_array().cloned().unwrap_or_default()),
            _ => objects.push(value),
        }
    }
    assert!(!objects.is_empty(), "kubectl rendered no objects\n{converted}");
    Ok(objects)
}

fn render(dir: &Path) -> Vec<Value> {
    try_render(dir).unwrap_or_else(|out| panic!("kubectl refused the manifests in {}\n{out}", dir.display()))
}

/// A copy of the manifests in a temporary directory, for broken twins.
fn copy_of_manifests() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for entry in std::fs::read_dir(manifests_dir()).expect("read deploy/kubernetes") {
        let entry = entry.expect("directory entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy a manifest");
    }
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read manifest");
    assert!(
        text.contains(from),
        "{file} does not contain {from:?}: the broken twin would not be broken"
    );
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write manifest");
}

// ---------------------------------------------------------------------------
// The checker: every problem, each as one line naming the object and field.

struct Checker<'a> {
    objects: &'a [Value],
    problems: Vec<String>,
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn name_of(object: &Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

impl<'a> Checker<'a> {
    fn problem(&mut self, message: String) {
        self.problems.push(message);
    }

    fn expect(&mut self, ok: bool, message: impl FnOnce() -> String) {
        if !ok {
            let message = message();
            self.problem(message);
        }
    }

    fn only_fields(&mut self, at: &str, value: &Value, allowed: &[&str]) {
        match value.as_object() {
            Some(map) => {
                for key in map.keys() {
                    self.expect(allowed.contains(&key.as_str()), || {
                        format!("{at}: unknown field `{key}`")
                    });
                }
            }
            None => self.problem(format!("{at}: not an object")),
        }
    }

    fn all(&self, kind: &str) -> Vec<&'a Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    fn one(&mut self, kind: &str) -> Option<&'a Value> {
        let found = self.all(kind);
        if found.len() != 1 {
            self.problem(format!("expected exactly one {kind}, found {}", found.len()));
        }
        found.first().copied()
    }

    fn check(mut self) -> Vec<String> {
        self.namespaces();
        let deployment = self.one("Deployment");
        if let Some(deployment) = deployment {
            self.deployment(deployment);
        }
        if let (Some(service), Some(deployment)) = (self.one("Service"), deployment) {
            self.service(service, deployment);
        }
        if let (Some(pdb), Some(deployment)) = (self.one("PodDisruptionBudget"), deployment) {
            let labels = &deployment["spec"]["template"]["metadata"]["labels"];
            self.expect(selects(&pdb["spec"]["selector"]["matchLabels"], labels), || {
                format!("{}: spec.selector does not select the Deployment's pods", name_of(pdb))
            });
        }
        if let Some(config) = self.one("ValidatingWebhookConfiguration") {
            self.webhooks(config, "/validate", false);
        }
        if let Some(config) = self.one("MutatingWebhookConfiguration") {
            self.webhooks(config, "/mutate", true);
        }
        self.problems
    }

    fn namespaces(&mut self) {
        let namespace = self.one("Namespace");
        if let Some(namespace) = namespace {
            self.expect(namespace["metadata"]["name"] == NAMESPACE, || {
                format!("{}: the namespace must be {NAMESPACE}", name_of(namespace))
            });
            self.expect(namespace["metadata"]["labels"][OPT_IN_LABEL].is_null(), || {
                format!(
                    "{}: sigil's own namespace must not opt in to {OPT_IN_LABEL}",
                    name_of(namespace)
                )
            });
        }
        for object in self.objects {
            let kind = object["kind"].as_str().unwrap_or("");
            let cluster_scoped = matches!(
                kind,
                "Namespace" | "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration"
            );
            if !cluster_scoped {
                self.expect(object["metadata"]["namespace"] == NAMESPACE, || {
                    format!("{}: metadata.namespace must be {NAMESPACE}", name_of(object))
                });
            }
        }
    }

    fn deployment(&mut self, deployment: &Value) {
        let at = name_of(deployment);
        let spec = &deployment["spec"];
        self.expect(spec["replicas"].as_u64().is_some_and(|n| n >= 2), || {
            format!("{at}: spec.replicas must be at least 2 (one replica down must not stop admissions)")
        });
        self.expect(
            selects(
                &spec["selector"]["matchLabels"],
                &spec["template"]["metadata"]["labels"],
            ),
            || format!("{at}: spec.selector does not select its own pod template"),
        );
        let pod = &spec["template"]["spec"];
        let account = pod["serviceAccountName"].as_str().unwrap_or("");
        let accounts = self.all("ServiceAccount");
        self.expect(accounts.iter().any(|a| a["metadata"]["name"] == account), || {
            format!("{at}: serviceAccountName `{account}` is not one of the manifests' ServiceAccounts")
        });
        let containers = pod["containers"].as_array().cloned().unwrap_or_default();
        if containers.len() != 1 {
            self.problem(format!("{at}: expected one container, found {}", containers.len()));
            return;
        }
        let container = &containers[0];
        let at = format!("{at} container {}", container["name"].as_str().unwrap_or("?"));
        self.expect(container["image"].as_str().is_some_and(|i| !i.is_empty()), || {
            format!("{at}: no image")
        });

        // The command line: `sigil admission` with the four required flags.
        let args = strs(&container["args"]);
        let flag = |name: &str| -> Option<String> {
            args.iter()
                .position(|a| *a == name)
                .and_then(|i| args.get(i + 1).map(|v| (*v).to_owned()))
                .or_else(|| {
                    args.iter()
                        .find_map(|a| a.strip_prefix(&format!("{name}=")).map(str::to_owned))
                })
        };
        self.expect(args.first() == Some(&"admission"), || {
            format!("{at}: args must start with the `admission` subcommand, found {args:?}")
        });
        let listen = flag("--listen");
        self.expect(listen.as_deref() == Some("0.0.0.0:8443"), || {
            format!("{at}: --listen must be 0.0.0.0:8443, found {listen:?}")
        });
        let (policy, cert, key) = (flag("--policy"), flag("--tls-cert"), flag("--tls-key"));
        for (name, value) in [("--policy", &policy), ("--tls-cert", &cert), ("--tls-key", &key)] {
            self.expect(value.is_some(), || format!("{at}: args lack {name} FILE"));
        }

        // Files come from read-only mounts of the policy ConfigMap and the TLS
        // Secret, mounted whole (a subPath mount is never updated, so a new
        // policy or a renewed certificate would not be seen).
        let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
        let mounts = container["volumeMounts"].as_array().cloned().unwrap_or_default();
        let source_of = |file: &str| -> Option<(Value, Value)> {
            mounts.iter().find_map(|mount| {
                let dir = mount["mountPath"].as_str()?.trim_end_matches('/');
                let name = file.strip_prefix(dir)?.strip_prefix('/')?;
                let volume = volumes.iter().find(|v| v["name"] == mount["name"])?;
                Some((mount.clone(), json!({ "volume": volume, "file": name })))
            })
        };
        let configmaps = self.all("ConfigMap");
        if let Some(policy) = &policy {
            match source_of(policy) {
                Some((_, found)) => {
                    let map = found["volume"]["configMap"]["name"].as_str().unwrap_or("");
                    let file = found["file"].as_str().unwrap_or("");
                    let has_file = configmaps
                        .iter()
                        .any(|c| c["metadata"]["name"] == map && c["data"][file].is_string());
                    self.expect(has_file, || {
                        format!("{at}: --policy {policy} is not a key of a ConfigMap of the manifests")
                    });
                }
                None => self.problem(format!("{at}: --policy {policy} is on no mounted volume")),
            }
        }
        for (flag_name, file) in [("--tls-cert", &cert), ("--tls-key", &key)] {
            let Some(file) = file else { continue };
            match source_of(file) {
                Some((_, found)) => self.expect(found["volume"]["secret"]["secretName"].is_string(), || {
                    format!("{at}: {flag_name} {file} is not from a Secret volume")
                }),
                None => self.problem(format!("{at}: {flag_name} {file} is on no mounted volume")),
            }
        }
        for mount in &mounts {
            let mount_name = mount["name"].as_str().unwrap_or("?");
            let volume = volumes.iter().find(|v| v["name"] == mount["name"]);
            let scratch = volume.is_some_and(|v| v.get("emptyDir").is_some());
            self.expect(scratch || mount["readOnly"] == true, || {
                format!("{at}: volume mount `{mount_name}` must be readOnly")
            });
            self.expect(mount.get("subPath").is_none(), || {
                format!("{at}: volume mount `{mount_name}` uses subPath, which never sees updates")
            });
        }

        // Locked down: the container's settings, else the pod's.
        let pod_context = &pod["securityContext"];
        let context = &container["securityContext"];
        self.only_fields(&format!("{at} securityContext"), context, SECURITY_CONTEXT_FIELDS);
        let effective = |field: &str| -> Value {
            match &context[field] {
                Value::Null => pod_context[field].clone(),
                value => value.clone(),
            }
        };
        self.expect(context["readOnlyRootFilesystem"] == true, || {
            format!("{at}: securityContext.readOnlyRootFilesystem must be true")
        });
        self.expect(context["allowPrivilegeEscalation"] == false, || {
            format!("{at}: securityContext.allowPrivilegeEscalation must be false")
        });
        self.expect(context["privileged"] != true, || {
            format!("{at}: securityContext.privileged")
        });
        self.expect(strs(&context["capabilities"]["drop"]).contains(&"ALL"), || {
            format!("{at}: securityContext.capabilities.drop must contain ALL")
        });
        self.expect(strs(&context["capabilities"]["add"]).is_empty(), || {
            format!("{at}: securityContext.capabilities.add must be empty")
        });
        self.expect(effective("runAsNonRoot") == true, || {
            format!("{at}: runAsNonRoot must be true")
        });
        self.expect(effective("runAsUser") == 65532, || {
            format!("{at}: runAsUser must be 65532")
        });
        self.expect(effective("seccompProfile")["type"] == "RuntimeDefault", || {
            format!("{at}: seccompProfile.type must be RuntimeDefault")
        });

        // Probes over HTTPS on the serving port.
        let ports = container["ports"].as_array().cloned().unwrap_or_default();
        let serving = ports.iter().find(|p| p["containerPort"] == 8443);
        self.expect(serving.is_some(), || format!("{at}: no containerPort 8443"));
        let is_serving_port =
            |port: &Value| *port == 8443 || serving.is_some_and(|p| p["name"].is_string() && p["name"] == *port);
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = &container[probe]["httpGet"];
            self.expect(
                get["path"] == path && get["scheme"] == "HTTPS" && is_serving_port(&get["port"]),
                || format!("{at}: {probe} must be httpGet {path} over HTTPS on port 8443, found {get}"),
            );
        }
        for (kind, resource) in [("requests", "cpu"), ("requests", "memory"), ("limits", "memory")] {
            self.expect(!container["resources"][kind][resource].is_null(), || {
                format!("{at}: resources.{kind}.{resource} is not set")
            });
        }
    }

    fn service(&mut self, service: &Value, deployment: &Value) {
        let at = name_of(service);
        self.expect(service["metadata"]["name"] == SERVICE, || {
            format!("{at}: the Service must be named {SERVICE}")
        });
        let pod = &deployment["spec"]["template"];
        self.expect(
            selects(&service["spec"]["selector"], &pod["metadata"]["labels"]),
            || format!("{at}: spec.selector does not select the Deployment's pods"),
        );
        let ports = service["spec"]["ports"].as_array().cloned().unwrap_or_default();
        let container_ports = pod["spec"]["containers"][0]["ports"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let reaches_8443 = |target: &Value| {
            *target == 8443
                || container_ports
                    .iter()
                    .any(|p| p["containerPort"] == 8443 && p["name"].is_string() && p["name"] == *target)
        };
        self.expect(
            ports.iter().any(|p| p["port"] == 443 && reaches_8443(&p["targetPort"])),
            || format!("{at}: no port 443 forwarding to the container's 8443"),
        );
    }

    fn webhooks(&mut self, config: &Value, path: &str, mutating: bool) {
        let at = name_of(config);
        self.only_fields(&at, config, &["apiVersion", "kind", "metadata", "webhooks"]);
        self.expect(config["apiVersion"] == "admissionregistration.k8s.io/v1", || {
            format!("{at}: apiVersion must be admissionregistration.k8s.io/v1")
        });
        let webhooks = config["webhooks"].as_array().cloned().unwrap_or_default();
        self.expect(!webhooks.is_empty(), || format!("{at}: no webhooks"));
        for webhook in &webhooks {
            let at = format!("{at} webhook {}", webhook["name"].as_str().unwrap_or("?"));
            self.only_fields(&at, webhook, WEBHOOK_FIELDS);
            self.expect(strs(&webhook["admissionReviewVersions"]) == ["v1"], || {
                format!("{at}: admissionReviewVersions must be [\"v1\"]")
            });
            self.expect(webhook["failurePolicy"] == "Fail", || {
                format!("{at}: failurePolicy must be Fail")
            });
            self.expect(webhook["sideEffects"] == "None", || {
                format!("{at}: sideEffects must be None")
            });
            self.expect(
                webhook["timeoutSeconds"]
                    .as_u64()
                    .is_some_and(|t| (1..=30).contains(&t)),
                || format!("{at}: timeoutSeconds must be set, 1 to 30"),
            );
            self.expect(webhook["matchPolicy"] == "Equivalent", || {
                format!("{at}: matchPolicy must be Equivalent")
            });
            if mutating {
                self.expect(webhook["reinvocationPolicy"] == "IfNeeded", || {
                    format!("{at}: reinvocationPolicy must be IfNeeded")
                });
            }

            // Where the apiserver sends the review.
            let client = &webhook["clientConfig"];
            self.only_fields(&format!("{at} clientConfig"), client, CLIENT_CONFIG_FIELDS);
            self.expect(client.get("url").is_none(), || {
                format!("{at}: clientConfig.url instead of the Service")
            });
            self.expect(client["caBundle"].is_string(), || {
                format!("{at}: clientConfig.caBundle (or its placeholder) is missing")
            });
            let service = &client["service"];
            self.only_fields(&format!("{at} clientConfig.service"), service, SERVICE_REFERENCE_FIELDS);
            self.expect(
                service["name"] == SERVICE
                    && service["namespace"] == NAMESPACE
                    && service["path"] == path
                    && (service["port"].is_null() || service["port"] == 443),
                || format!("{at}: clientConfig.service must be {SERVICE}.{NAMESPACE}:443{path}, found {service}"),
            );

            // Opt-in namespaces only, never sigil's own or kube-system.
            let selector = &webhook["namespaceSelector"];
            self.only_fields(&format!("{at} namespaceSelector"), selector, SELECTOR_FIELDS);
            self.expect(selector["matchLabels"][OPT_IN_LABEL] == "true", || {
                format!("{at}: namespaceSelector.matchLabels must require {OPT_IN_LABEL}: \"true\"")
            });
            let expressions = selector["matchExpressions"].as_array().cloned().unwrap_or_default();
            for excluded in NEVER_SENT {
                let is_excluded = expressions.iter().any(|e| {
                    e["key"] == "kubernetes.io/metadata.name"
                        && e["operator"] == "NotIn"
                        && strs(&e["values"]).contains(excluded)
                });
                self.expect(is_excluded, || {
                    format!("{at}: namespaceSelector must exclude kubernetes.io/metadata.name {excluded}")
                });
            }
            self.expect(webhook.get("objectSelector").is_none(), || {
                format!("{at}: an objectSelector lets a workload's own labels skip the check")
            });

            // Every workload, created or updated.
            let rules = webhook["rules"].as_array().cloned().unwrap_or_default();
            for (index, rule) in rules.iter().enumerate() {
                self.only_fields(&format!("{at} rules[{index}]"), rule, RULE_FIELDS);
            }
            for (group, resource) in WORKLOADS {
                let covered = rules.iter().any(|rule| {
                    let has = |field: &str, wanted: &str| strs(&rule[field]).iter().any(|v| *v == wanted || *v == "*");
                    has("apiGroups", group)
                        && has("resources", resource)
                        && has("operations", "CREATE")
                        && has("operations", "UPDATE")
                        && !strs(&rule["apiVersions"]).is_empty()
                });
                self.expect(covered, || {
                    let group = if group.is_empty() { "core" } else { group };
                    format!("{at}: rules do not cover CREATE and UPDATE of {resource} ({group})")
                });
            }
        }
    }
}

/// Whether a label selector's `matchLabels` (non-empty) all hold on `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|wanted| !wanted.is_empty() && wanted.iter().all(|(k, v)| labels[k] == *v))
}

fn problems(objects: &[Value]) -> Vec<String> {
    Checker {
        objects,
        problems: Vec::new(),
    }
    .check()
}

/// Every `.yaml` in the directory is a resource of its kustomization, so
/// `kubectl apply -k` applies (and this test checks) all of them.
fn unlisted_files(dir: &Path) -> Vec<String> {
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).expect("read kustomization.yaml");
    let listed: Vec<&str> = kustomization
        .lines()
        .filter_map(|line| line.trim().strip_prefix("- "))
        .map(str::trim)
        .collect();
    let mut unlisted: Vec<String> = std::fs::read_dir(dir)
        .expect("read manifests directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".yaml") && name != "kustomization.yaml" && !listed.contains(&name.as_str()))
        .collect();
    unlisted.sort();
    unlisted
}

fn starter_policy(objects: &[Value]) -> String {
    objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "sigil-policy")
        .and_then(|o| o["data"]["policy.yaml"].as_str())
        .expect("ConfigMap sigil-policy with a policy.yaml")
        .to_owned()
}

type Edit = fn(&mut Value);

/// A broken twin's edit (names the type the closures coerce to).
fn twin(edit: Edit) -> Edit {
    edit
}

fn remove(value: &mut Value, field: &str) {
    value.as_object_mut().expect("an object").remove(field);
}

fn webhook<'o>(objects: &'o mut [Value], kind: &str) -> &'o mut Value {
    let config = objects
        .iter_mut()
        .find(|o| o["kind"] == kind)
        .expect("webhook configuration");
    &mut config["webhooks"][0]
}

fn validating(objects: &mut [Value]) -> &mut Value {
    webhook(objects, "ValidatingWebhookConfiguration")
}

fn mutating(objects: &mut [Value]) -> &mut Value {
    webhook(objects, "MutatingWebhookConfiguration")
}

#[track_caller]
fn assert_refused(objects: &[Value], expected: &str) {
    let found = problems(objects);
    assert!(
        found.iter().any(|p| p.contains(expected)),
        "a problem mentioning {expected:?} was expected, found {found:#?}"
    );
}

// ---------------------------------------------------------------------------

#[test]
fn manifests_render_offline_and_satisfy_every_check() {
    let dir = manifests_dir();
    assert_eq!(
        unlisted_files(&dir),
        Vec::<String>::new(),
        "files kustomization.yaml does not list"
    );
    let objects = render(&dir);
    let kinds: Vec<String> = objects.iter().map(name_of).collect();
    assert_eq!(objects.len(), 8, "{kinds:?}");
    assert_eq!(
        problems(&objects),
        Vec::<String>::new(),
        "problems in deploy/kubernetes"
    );
}

/// The README fills `caBundle` by replacing this placeholder with `sed`, and
/// promises a starter policy that blocks nothing.
#[test]
fn the_readme_install_steps_match_the_manifests() {
    const PLACEHOLDER: &str = "REPLACE_WITH_BASE64_CA_BUNDLE";
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("README");
    assert!(
        readme.contains(&format!("s|{PLACEHOLDER}|")),
        "the README no longer fills {PLACEHOLDER}"
    );
    let objects = render(&manifests_dir());
    for kind in ["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"] {
        let config = objects
            .iter()
            .find(|o| o["kind"] == kind)
            .expect("webhook configuration");
        for webhook in config["webhooks"].as_array().expect("webhooks") {
            assert_eq!(webhook["clientConfig"]["caBundle"], PLACEHOLDER, "{kind}");
        }
    }
    let policy = starter_policy(&objects);
    assert!(
        policy.contains("images: [\"**\"]") && policy.contains("mode: warn"),
        "{policy}"
    );
    let settings: Vec<&str> = policy.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    assert!(
        !settings.iter().any(|l| l.contains("enforce")),
        "the starter policy must not block: {policy}"
    );
}

#[test]
fn the_configmaps_policy_lints_clean_and_a_broken_one_does_not() {
    let objects = render(&manifests_dir());
    let policy = starter_policy(&objects);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, &policy).expect("write policy");
    let out = sigil(&["policy", "lint", s(&path)]).run();
    out.assert_exit(0);
    assert!(out.stdout.contains("0 error(s), 0 warning(s)"), "{out}");

    // The same check refuses a policy naming a publisher it does not define.
    let broken = policy.replacen("anyOf: [release,", "anyOf: [nobody, release,", 1);
    assert_ne!(broken, policy, "the broken twin would not be broken");
    std::fs::write(&path, broken).expect("write policy");
    let out = sigil(&["policy", "lint", s(&path)]).run();
    assert_ne!(
        out.code,
        Some(0),
        "a policy with an unknown publisher linted clean\n{out}"
    );
}

#[test]
fn kubectl_refuses_broken_yaml_and_objects_without_a_kind() {
    let dir = copy_of_manifests();
    edit(dir.path(), "service.yaml", "  ports:\n", "  ports: [\n");
    let out = try_render(dir.path()).expect_err("kubectl accepted a manifest that is not YAML");
    assert!(
        out.stderr.contains("service.yaml") || out.stderr.contains("yaml"),
        "{out}"
    );

    let dir = copy_of_manifests();
    edit(dir.path(), "serviceaccount.yaml", "kind: ServiceAccount\n", "");
    try_render(dir.path()).expect_err("kubectl accepted an object without a kind");
}

#[test]
fn a_manifest_kustomization_does_not_list_is_noticed() {
    let dir = copy_of_manifests();
    std::fs::write(
        dir.path().join("networkpolicy.yaml"),
        "apiVersion: v1\nkind: List\nitems: []\n",
    )
    .expect("write");
    assert_eq!(unlisted_files(dir.path()), ["networkpolicy.yaml"]);
}

/// Broken twins edited as text and rendered by kubectl: the whole path from
/// the file to the checker refuses them.
#[test]
fn broken_files_are_refused() {
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "validatingwebhookconfiguration.yaml",
            "failurePolicy: Fail",
            "failurePolicy: Ignore",
            "failurePolicy must be Fail",
        ),
        (
            "mutatingwebhookconfiguration.yaml",
            "failurePolicy: Fail",
            "failurPolicy: Fail",
            "unknown field `failurPolicy`",
        ),
        (
            "mutatingwebhookconfiguration.yaml",
            "reinvocationPolicy: IfNeeded",
            "reinvocationPolicy: Never",
            "reinvocationPolicy must be IfNeeded",
        ),
        (
            "validatingwebhookconfiguration.yaml",
            "timeoutSeconds: 10",
            "timeoutSeconds: \"10\"",
            "timeoutSeconds must be set",
        ),
        (
            "deployment.yaml",
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesytem: true",
            "unknown field `readOnlyRootFilesytem`",
        ),
        (
            "deployment.yaml",
            "- --tls-key\n",
            "- --tls-keyfile\n",
            "args lack --tls-key",
        ),
    ];
    for (file, from, to, expected) in cases {
        let dir = copy_of_manifests();
        edit(dir.path(), file, from, to);
        let objects = render(dir.path());
        assert_refused(&objects, expected);
    }
}

/// One broken twin per check, edited on the rendered objects: each check can
/// fail.
#[test]
fn every_check_refuses_its_broken_twin() {
    let objects = render(&manifests_dir());
    assert_eq!(problems(&objects), Vec::<String>::new());

    let webhook_cases: Vec<(bool, Edit, &str)> = vec![
        (
            false,
            twin(|w| w["failurePolicy"] = json!("Ignore")),
            "failurePolicy must be Fail",
        ),
        (
            true,
            twin(|w| w["failurePolicy"] = json!("Ignore")),
            "failurePolicy must be Fail",
        ),
        (
            false,
            twin(|w| w["sideEffects"] = json!("Some")),
            "sideEffects must be None",
        ),
        (
            false,
            twin(|w| w["timeoutSeconds"] = json!(31)),
            "timeoutSeconds must be set, 1 to 30",
        ),
        (
            true,
            twin(|w| w["timeoutSeconds"] = Value::Null),
            "timeoutSeconds must be set, 1 to 30",
        ),
        (
            false,
            twin(|w| w["admissionReviewVersions"] = json!(["v1", "v1beta1"])),
            "admissionReviewVersions",
        ),
        (
            false,
            twin(|w| w["matchPolicy"] = json!("Exact")),
            "matchPolicy must be Equivalent",
        ),
        (
            true,
            twin(|w| w["reinvocationPolicy"] = json!("Never")),
            "reinvocationPolicy must be IfNeeded",
        ),
        (
            false,
            twin(|w| w["clientConfig"]["service"]["path"] = json!("/mutate")),
            "clientConfig.service must be",
        ),
        (
            true,
            twin(|w| w["clientConfig"]["service"]["path"] = json!("/validate")),
            "clientConfig.service must be",
        ),
        (
            false,
            twin(|w| w["clientConfig"]["service"]["port"] = json!(8443)),
            "clientConfig.service must be",
        ),
        (
            false,
            twin(|w| w["clientConfig"]["service"]["namespace"] = json!("default")),
            "clientConfig.service must be",
        ),
        (
            false,
            twin(|w| w["clientConfig"]["url"] = json!("https://example.invalid/validate")),
            "clientConfig.url",
        ),
        (
            false,
            twin(|w| w["clientConfig"]["caBundel"] = json!("")),
            "unknown field `caBundel`",
        ),
        (
            false,
            twin(|w| w["namespaceSelector"]["matchLabels"] = json!({})),
            "must require sigil.dev/enforce",
        ),
        (
            true,
            twin(|w| w["namespaceSelector"]["matchLabels"]["sigil.dev/enforce"] = json!("yes")),
            "must require sigil.dev/enforce",
        ),
        (
            false,
            twin(|w| w["namespaceSelector"]["matchExpressions"][0]["values"] = json!(["kube-system"])),
            "exclude kubernetes.io/metadata.name sigil-system",
        ),
        (
            true,
            twin(|w| w["namespaceSelector"]["matchExpressions"][0]["values"] = json!(["sigil-system"])),
            "exclude kubernetes.io/metadata.name kube-system",
        ),
        (
            false,
            twin(|w| w["namespaceSelector"]["matchExpressions"][0]["operator"] = json!("In")),
            "exclude kubernetes.io/metadata.name",
        ),
        (
            false,
            twin(|w| w["objectSelector"] = json!({"matchLabels": {"a": "b"}})),
            "objectSelector",
        ),
        (
            false,
            twin(|w| w["rules"][0]["resources"] = json!(["pods"])),
            "pods/ephemeralcontainers (core)",
        ),
        (
            true,
            twin(|w| w["rules"][1]["operations"] = json!(["CREATE"])),
            "UPDATE of deployments (apps)",
        ),
        (
            false,
            twin(|w| w["rules"][2]["apiGroups"] = json!(["apps"])),
            "cronjobs (batch)",
        ),
        (
            false,
            twin(|w| w["rules"][0]["resource"] = json!(["pods"])),
            "unknown field `resource`",
        ),
    ];
    for (is_mutating, change, expected) in webhook_cases {
        let mut broken = objects.clone();
        let target = if is_mutating {
            mutating(&mut broken)
        } else {
            validating(&mut broken)
        };
        change(target);
        assert_refused(&broken, expected);
    }
    // Every workload, one at a time, dropped from both webhooks.
    for (group, resource) in WORKLOADS {
        for config in [validating as fn(&mut [Value]) -> &mut Value, mutating] {
            let mut broken = objects.clone();
            for rule in config(&mut broken)["rules"].as_array_mut().expect("rules") {
                if let Some(resources) = rule["resources"].as_array_mut() {
                    resources.retain(|r| r != resource);
                }
            }
            let group = if group.is_empty() { "core" } else { group };
            assert_refused(&broken, &format!("{resource} ({group})"));
        }
    }
    let mut broken = objects.clone();
    remove(validating(&mut broken), "failurePolicy");
    assert_refused(&broken, "failurePolicy must be Fail");

    fn container(objects: &mut [Value]) -> &mut Value {
        let deployment = objects
            .iter_mut()
            .find(|o| o["kind"] == "Deployment")
            .expect("Deployment");
        &mut deployment["spec"]["template"]["spec"]["containers"][0]
    }
    fn pod(objects: &mut [Value]) -> &mut Value {
        let deployment = objects
            .iter_mut()
            .find(|o| o["kind"] == "Deployment")
            .expect("Deployment");
        &mut deployment["spec"]["template"]["spec"]
    }
    fn replace_arg(c: &mut Value, from: &str, to: &str) {
        for arg in c["args"].as_array_mut().expect("args") {
            if arg == from {
                *arg = json!(to);
            }
        }
    }
    let deployment_cases: Vec<(Edit, &str)> = vec![
        (
            twin(|c| c["securityContext"]["readOnlyRootFilesystem"] = json!(false)),
            "readOnlyRootFilesystem must be true",
        ),
        (
            twin(|c| c["securityContext"]["allowPrivilegeEscalation"] = json!(true)),
            "allowPrivilegeEscalation must be false",
        ),
        (
            twin(|c| c["securityContext"]["privileged"] = json!(true)),
            "securityContext.privileged",
        ),
        (
            twin(|c| c["securityContext"]["capabilities"]["drop"] = json!(["NET_RAW"])),
            "capabilities.drop must contain ALL",
        ),
        (
            twin(|c| c["securityContext"]["capabilities"]["add"] = json!(["NET_ADMIN"])),
            "capabilities.add must be empty",
        ),
        (
            twin(|c| c["securityContext"]["runAsNonRoot"] = json!(false)),
            "runAsNonRoot must be true",
        ),
        (
            twin(|c| c["securityContext"]["runAsUser"] = json!(0)),
            "runAsUser must be 65532",
        ),
        (
            twin(|c| c["securityContext"]["seccompProfile"]["type"] = json!("Unconfined")),
            "seccompProfile.type",
        ),
        (
            twin(|c| c["securityContext"]["runAsNonRot"] = json!(true)),
            "unknown field `runAsNonRot`",
        ),
        (twin(|c| replace_arg(c, "admission", "gate")), "`admission` subcommand"),
        (
            twin(|c| replace_arg(c, "--policy", "--policy-file")),
            "args lack --policy",
        ),
        (twin(|c| replace_arg(c, "--tls-cert", "--cert")), "args lack --tls-cert"),
        (twin(|c| replace_arg(c, "--tls-key", "--key")), "args lack --tls-key"),
        (
            twin(|c| replace_arg(c, "0.0.0.0:8443", "127.0.0.1:8443")),
            "--listen must be 0.0.0.0:8443",
        ),
        (
            twin(|c| replace_arg(c, "/etc/sigil/policy/policy.yaml", "/etc/sigil/policy/other.yaml")),
            "is not a key of a ConfigMap",
        ),
        (
            twin(|c| replace_arg(c, "/etc/sigil/policy/policy.yaml", "/policy.yaml")),
            "is on no mounted volume",
        ),
        (
            twin(|c| replace_arg(c, "/etc/sigil/tls/tls.key", "/etc/sigil/policy/tls.key")),
            "--tls-key /etc/sigil/policy/tls.key is not from a Secret",
        ),
        (
            twin(|c| c["volumeMounts"][0]["readOnly"] = json!(false)),
            "must be readOnly",
        ),
        (
            twin(|c| c["volumeMounts"][1]["subPath"] = json!("tls.crt")),
            "uses subPath",
        ),
        (
            twin(|c| c["livenessProbe"]["httpGet"]["path"] = json!("/readyz")),
            "livenessProbe must be httpGet /healthz",
        ),
        (
            twin(|c| c["readinessProbe"]["httpGet"]["scheme"] = json!("HTTP")),
            "readinessProbe must be httpGet /readyz",
        ),
        (
            twin(|c| c["readinessProbe"]["httpGet"]["port"] = json!(9090)),
            "readinessProbe must be httpGet /readyz",
        ),
        (
            twin(|c| c["ports"][0]["containerPort"] = json!(9443)),
            "no containerPort 8443",
        ),
        (twin(|c| c["resources"] = json!({})), "resources.requests.cpu"),
        (twin(|c| c["image"] = json!("")), "no image"),
    ];
    for (change, expected) in deployment_cases {
        let mut broken = objects.clone();
        change(container(&mut broken));
        assert_refused(&broken, expected);
    }
    // The pod-level settings count when the container does not set them.
    let mut broken = objects.clone();
    remove(&mut container(&mut broken)["securityContext"], "runAsNonRoot");
    assert_eq!(
        problems(&broken),
        Vec::<String>::new(),
        "the pod's runAsNonRoot applies"
    );
    pod(&mut broken)["securityContext"]["runAsNonRoot"] = json!(false);
    assert_refused(&broken, "runAsNonRoot must be true");

    let other_cases: Vec<(Edit, &str)> = vec![
        (
            twin(|o| o["spec"]["replicas"] = json!(1)),
            "spec.replicas must be at least 2",
        ),
        (
            twin(|o| o["spec"]["template"]["spec"]["serviceAccountName"] = json!("default")),
            "serviceAccountName `default`",
        ),
        (
            twin(|o| o["spec"]["selector"]["matchLabels"] = json!({"app": "other"})),
            "does not select its own pod template",
        ),
        (
            twin(|o| o["metadata"]["namespace"] = json!("default")),
            "metadata.namespace must be sigil-system",
        ),
    ];
    for (change, expected) in other_cases {
        let mut broken = objects.clone();
        change(
            broken
                .iter_mut()
                .find(|o| o["kind"] == "Deployment")
                .expect("Deployment"),
        );
        assert_refused(&broken, expected);
    }
    let service_cases: Vec<(Edit, &str)> = vec![
        (twin(|o| o["spec"]["ports"][0]["port"] = json!(8443)), "no port 443"),
        (
            twin(|o| o["spec"]["ports"][0]["targetPort"] = json!("http")),
            "no port 443",
        ),
        (
            twin(|o| o["spec"]["selector"] = json!({"app": "other"})),
            "does not select the Deployment's pods",
        ),
        (
            twin(|o| o["metadata"]["name"] = json!("sigil")),
            "must be named sigil-admission",
        ),
    ];
    for (change, expected) in service_cases {
        let mut broken = objects.clone();
        change(broken.iter_mut().find(|o| o["kind"] == "Service").expect("Service"));
        assert_refused(&broken, expected);
    }
    let mut broken = objects.clone();
    let pdb = broken
        .iter_mut()
        .find(|o| o["kind"] == "PodDisruptionBudget")
        .expect("PDB");
    pdb["spec"]["selector"]["matchLabels"] = json!({"app": "other"});
    assert_refused(&broken, "PodDisruptionBudget/sigil-admission: spec.selector");

    let mut broken = objects.clone();
    let namespace = broken.iter_mut().find(|o| o["kind"] == "Namespace").expect("Namespace");
    namespace["metadata"]["labels"]["sigil.dev/enforce"] = json!("true");
    assert_refused(&broken, "must not opt in");

    let mut broken = objects.clone();
    broken.retain(|o| o["kind"] != "MutatingWebhookConfiguration");
    assert_refused(&broken, "expected exactly one MutatingWebhookConfiguration, found 0");
    let mut broken = objects.clone();
    broken.retain(|o| o["kind"] != "ServiceAccount");
    assert_refused(&broken, "is not one of the manifests' ServiceAccounts");
    let mut broken = objects.clone();
    broken.retain(|o| o["kind"] != "ConfigMap");
    assert_refused(&broken, "is not a key of a ConfigMap");
}
