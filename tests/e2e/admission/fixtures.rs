//! Public AdmissionReview fixtures (`testdata/admission/`, see its README for
//! their sources) sent as the apiserver sent them, and again with every
//! image rewritten to the shared registry's signed image: the test finds
//! the images itself, by the same list of kinds and fields the contract
//! gives, and checks the server names each one, and pins each one.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Review, world};
use crate::fixtures::testdata;

/// One image field of a request's object: (field path, JSON pointer, image).
type Found = (String, String, String);

/// Where the pod spec of `request`'s object is, by kind and group, or `None`.
fn pod_spec_path(request: &Value) -> Option<&'static str> {
    let group = request["kind"]["group"].as_str().unwrap_or_default();
    let kind = request["kind"]["kind"].as_str().unwrap_or_default();
    match (group, kind) {
        ("", "Pod") => Some("spec"),
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        | ("batch", "Job")
        | ("", "ReplicationController") => Some("spec.template.spec"),
        ("", "PodTemplate") => Some("template.spec"),
        ("batch", "CronJob") => Some("spec.jobTemplate.spec.template.spec"),
        _ => None,
    }
}

/// Whether the contract says what the server does with `request`: of the
/// subresources only `pods/ephemeralcontainers` is promised, and CONNECT
/// is not an object admission.
fn promised(request: &Value) -> bool {
    request["operation"] != "CONNECT"
        && request["subResource"]
            .as_str()
            .is_none_or(|sub| sub.is_empty() || sub == "ephemeralcontainers")
}

/// Every image of `request`'s object, in the contract's fields.
fn images_of(request: &Value) -> Vec<Found> {
    let mut found = Vec::new();
    if request["operation"] == "DELETE" || request["object"].is_null() {
        return found;
    }
    let Some(path) = pod_spec_path(request) else {
        return found;
    };
    let pointer = format!("/{}", path.replace('.', "/"));
    let Some(spec) = request["object"].pointer(&pointer) else {
        return found;
    };
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        for (i, container) in spec[list].as_array().into_iter().flatten().enumerate() {
            if let Some(image) = container["image"].as_str() {
                found.push((
                    format!("{path}.{list}[{i}].image"),
                    format!("{pointer}/{list}/{i}/image"),
                    image.to_owned(),
                ));
            }
        }
    }
    for (i, volume) in spec["volumes"].as_array().into_iter().flatten().enumerate() {
        if let Some(image) = volume["image"]["reference"].as_str() {
            found.push((
                format!("{path}.volumes[{i}].image.reference"),
                format!("{pointer}/volumes/{i}/image/reference"),
                image.to_owned(),
            ));
        }
    }
    found
}

/// Docker's normalisation, enough for public fixtures: `nginx` is
/// `docker.io/library/nginx:latest`.
fn normalised(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_host = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut full = if has_host {
        name.to_owned()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    let last = full.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && digest.is_none() {
        full.push_str(":latest");
    }
    if let Some(digest) = digest {
        full.push('@');
        full.push_str(digest);
    }
    full
}

/// Every JSON file under `testdata/admission/`, sorted.
fn fixture_files() -> Vec<PathBuf> {
    let root = testdata("admission");
    let mut files = Vec::new();
    let mut folders = vec![root.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display())) {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 40, "the fixtures in {}", root.display());
    files
}

/// What the contract calls an AdmissionReview: v1, with a request that has a uid.
fn is_review(body: &Value) -> bool {
    body["apiVersion"] == "admission.k8s.io/v1"
        && body["kind"] == "AdmissionReview"
        && body["request"].is_object()
        && body["request"]["uid"].is_string()
}

/// The fixture's request as a v1 AdmissionReview the contract covers: a
/// v1beta1 review read as v1 (same request shape), a bare request (as
/// kubewarden's policies receive it) wrapped; `None` for what the contract
/// does not say, such as a pod whose object has no pod spec.
fn as_v1_review(text: &str) -> Option<Value> {
    let body: Value = serde_json::from_str(text).ok()?;
    let body = if body["apiVersion"] == "admission.k8s.io/v1beta1" {
        serde_json::from_str(&text.replacen("admission.k8s.io/v1beta1", "admission.k8s.io/v1", 1)).ok()?
    } else if body.get("apiVersion").is_none() && body["uid"].is_string() && body["kind"].is_object() {
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": body})
    } else {
        body
    };
    let request = &body["request"];
    if !is_review(&body) || !promised(request) {
        return None;
    }
    let live = request["operation"] != "DELETE" && !request["object"].is_null();
    if let Some(path) = pod_spec_path(request).filter(|_| live) {
        request["object"].pointer(&format!("/{}", path.replace('.', "/")))?;
    }
    Some(body)
}

/// A review as the fixture has it (its own uid).
fn review_of(body: Value) -> Review {
    let uid = body["request"]["uid"].as_str().unwrap_or_default().to_owned();
    Review { uid, body }
}

fn name_of(file: &std::path::Path) -> String {
    let parent = file.parent().and_then(|p| p.file_name()).unwrap_or_default();
    format!(
        "{}/{}",
        parent.to_string_lossy(),
        file.file_name().unwrap_or_default().to_string_lossy()
    )
}

#[test]
fn public_fixtures_as_sent_and_read_as_v1() {
    let w = world();
    let (mut refused, mut judged, mut with_images) = (0, 0, 0);
    for file in fixture_files() {
        let name = name_of(&file);
        let text = std::fs::read_to_string(&file).expect("read");
        let as_sent: Option<Value> = serde_json::from_str(&text).ok();
        // as sent: what is not a v1 AdmissionReview is refused
        if !as_sent.as_ref().is_some_and(is_review) {
            for endpoint in ["/validate", "/mutate"] {
                let url = w.server.url(&format!("{endpoint}?timeout=10s"));
                let response = w
                    .client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(text.clone())
                    .send()
                    .expect("POST");
                let status = response.status();
                let body = response.text().unwrap_or_default();
                assert_eq!(status, reqwest::StatusCode::BAD_REQUEST, "{name} {endpoint}: {body}");
            }
            refused += 1;
        }
        let Some(body) = as_v1_review(&text) else {
            eprintln!("{name}: beyond the contract, not judged");
            continue;
        };
        judged += 1;
        let found = images_of(&body["request"]);
        let review = review_of(body);
        for endpoint in ["/validate", "/mutate"] {
            let answer = w.admit(endpoint, &review);
            if found.is_empty() {
                assert!(answer.allowed(), "{name} {endpoint}: no images: {answer}");
            } else {
                // public images: no rule of the shared policy covers them
                assert!(!answer.allowed(), "{name} {endpoint}: {answer}");
                answer.assert_denied();
                for (field, _, image) in &found {
                    answer.assert_names(field, &normalised(image));
                }
                let entries = answer.message().split("; ").filter(|e| !e.is_empty()).count();
                assert!(entries >= found.len(), "{name}: an entry per image: {answer}");
            }
            assert_eq!(answer.patch(), None, "{name} {endpoint}: {answer}");
        }
        with_images += usize::from(!found.is_empty());
    }
    assert!(
        refused >= 10 && judged >= 40 && with_images >= 35,
        "refused {refused}, judged {judged}, with images {with_images}"
    );
}

#[test]
fn public_fixtures_with_signed_images_are_allowed_and_pinned() {
    let w = world();
    let mut pinned = 0;
    for file in fixture_files() {
        let name = name_of(&file);
        let Some(mut body) = as_v1_review(&std::fs::read_to_string(&file).expect("read")) else {
            continue;
        };
        let found = images_of(&body["request"]);
        if found.is_empty() {
            continue;
        }
        for (_, pointer, _) in &found {
            let slot = body["request"]["object"]
                .pointer_mut(pointer)
                .expect("the pointer was found in this object");
            *slot = json!(w.img.signed);
        }
        let review = review_of(body);
        w.validate(&review).assert_allowed();
        let answer = w.mutate(&review);
        answer.assert_allowed();
        let mut patch = answer.patch().unwrap_or_else(|| panic!("{name}: a patch: {answer}"));
        let mut expected: Vec<Value> = found
            .iter()
            .map(|(_, pointer, _)| {
                json!({"op": "replace", "path": pointer, "value": format!("{}@{}", w.img.signed, w.img.signed_digest)})
            })
            .collect();
        let by_path = |a: &Value, b: &Value| a["path"].as_str().cmp(&b["path"].as_str());
        patch.sort_by(by_path);
        expected.sort_by(by_path);
        assert_eq!(patch, expected, "{name}: {answer}");
        pinned += 1;
    }
    assert!(pinned >= 35, "{pinned} fixtures pinned");
}
