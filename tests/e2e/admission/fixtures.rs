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

fn fixture_files() -> Vec<PathBuf> {
    let dir = testdata("admission");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fixtures in {}", dir.display());
    files
}

/// A review as the fixture has it (its own uid).
fn review_of(body: Value) -> Review {
    let uid = body["request"]["uid"].as_str().unwrap_or_default().to_owned();
    Review { uid, body }
}

#[test]
fn public_fixtures_as_sent() {
    let w = world();
    let mut with_images = 0;
    for file in fixture_files() {
        let name = file.file_name().expect("a file name").to_string_lossy().into_owned();
        let body: Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
        if body["apiVersion"] != "admission.k8s.io/v1" || body["kind"] != "AdmissionReview" {
            let response = w
                .client
                .post(w.server.url("/validate?timeout=10s"))
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .expect("POST");
            assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST, "{name}");
            continue;
        }
        if !promised(&body["request"]) {
            eprintln!("{name}: not covered by the contract, not sent");
            continue;
        }
        let found = images_of(&body["request"]);
        let review = review_of(body);
        for endpoint in ["/validate", "/mutate"] {
            let answer = w.admit(endpoint, &review);
            if found.is_empty() {
                assert!(answer.allowed(), "{name} {endpoint}: no images: {answer}");
                assert_eq!(answer.patch(), None, "{name} {endpoint}: {answer}");
            } else {
                // public images: no rule of the shared policy covers them
                answer.assert_denied();
                for (field, _, image) in &found {
                    answer.assert_names(field, &normalised(image));
                }
                assert_eq!(answer.patch(), None, "{name} {endpoint}: {answer}");
            }
        }
        with_images += usize::from(!found.is_empty());
    }
    assert!(with_images > 0, "some fixture has images");
}

#[test]
fn public_fixtures_with_signed_images_are_allowed_and_pinned() {
    let w = world();
    for file in fixture_files() {
        let name = file.file_name().expect("a file name").to_string_lossy().into_owned();
        let mut body: Value = serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("JSON");
        if body["apiVersion"] != "admission.k8s.io/v1" {
            continue;
        }
        let found = images_of(&body["request"]);
        if found.is_empty() || !promised(&body["request"]) {
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
    }
}
