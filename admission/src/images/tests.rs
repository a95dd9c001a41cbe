use serde_json::json;

use super::*;
use crate::review::GroupVersionKind;

const HEX: &str = "89102e348749bb17a6a651a4b2a17420e1a66d2a44a675b981973d49a5af3a5e";

fn review(group: &str, kind: &str, object: Value) -> Review {
    Review {
        api_version: "admission.k8s.io/v1".into(),
        uid: "u".into(),
        kind: GroupVersionKind {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
        },
        sub_resource: None,
        operation: Operation::Create,
        namespace: Some("default".into()),
        object: Some(object),
        old_object: None,
    }
}

/// `(field, written)` of each image, checking each pointer against its field.
fn found(review: &Review) -> Vec<(String, String)> {
    let images = images_of(review).unwrap_or_else(|e| panic!("images of {review:?}: {e}"));
    images
        .into_iter()
        .map(|image| {
            assert_eq!(image.pointer, pointer_of(&image.field), "{image:?}");
            let object = review.object.as_ref().expect("an object");
            assert_eq!(
                object.pointer(&image.pointer),
                Some(&Value::String(image.written.clone()))
            );
            (image.field, image.written)
        })
        .collect()
}

/// `a.b[1].c` as `/a/b/1/c` (no key in these tests needs escaping).
fn pointer_of(field: &str) -> String {
    field
        .split('.')
        .flat_map(|part| part.split(['[', ']']).filter(|s| !s.is_empty()))
        .map(|token| format!("/{token}"))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(f, w)| ((*f).to_owned(), (*w).to_owned()))
        .collect()
}

/// A pod spec with every kind of image, two of each.
fn full_spec() -> Value {
    json!({
        "containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}],
        "initContainers": [{"name": "i", "image": "i:1"}, {"name": "j", "image": "j:1"}],
        "ephemeralContainers": [{"name": "e", "image": "e:1"}, {"name": "f", "image": "f:1"}],
        "volumes": [
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "v", "image": {"reference": "v:1", "pullPolicy": "IfNotPresent"}},
            {"name": "w", "image": {"reference": "w:1"}},
        ],
    })
}

fn full_expected(prefix: &str) -> Vec<(String, String)> {
    [
        ("containers[0].image", "a:1"),
        ("containers[1].image", "b:1"),
        ("initContainers[0].image", "i:1"),
        ("initContainers[1].image", "j:1"),
        ("ephemeralContainers[0].image", "e:1"),
        ("ephemeralContainers[1].image", "f:1"),
        ("volumes[1].image.reference", "v:1"),
        ("volumes[2].image.reference", "w:1"),
    ]
    .into_iter()
    .map(|(f, w)| (format!("{prefix}.{f}"), w.to_owned()))
    .collect()
}

#[test]
fn every_kind_at_its_pod_spec() {
    let template = || json!({"metadata": {"labels": {"app": "x"}}, "spec": full_spec()});
    let cases = [
        ("", "Pod", json!({"spec": full_spec()}), "spec"),
        (
            "apps",
            "Deployment",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        (
            "apps",
            "ReplicaSet",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        (
            "apps",
            "StatefulSet",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        (
            "apps",
            "DaemonSet",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        (
            "extensions",
            "Deployment",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        (
            "batch",
            "Job",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        (
            "",
            "ReplicationController",
            json!({"spec": {"template": template()}}),
            "spec.template.spec",
        ),
        ("", "PodTemplate", json!({"template": template()}), "template.spec"),
        (
            "batch",
            "CronJob",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}}}),
            "spec.jobTemplate.spec.template.spec",
        ),
    ];
    for (group, kind, object, prefix) in cases {
        assert_eq!(
            found(&review(group, kind, object)),
            full_expected(prefix),
            "{group}/{kind}"
        );
    }
}

#[test]
fn pointers_are_rfc_6901() {
    let images = images_of(&review(
        "apps",
        "Deployment",
        json!({"spec": {"template": {"spec": full_spec()}}}),
    ))
    .expect("images");
    assert_eq!(images[1].pointer, "/spec/template/spec/containers/1/image");
    assert_eq!(images[1].field, "spec.template.spec.containers[1].image");
    assert_eq!(images[7].pointer, "/spec/template/spec/volumes/2/image/reference");
    assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    assert_eq!(pointer_token("~1"), "~01");
    assert_eq!(pointer_token(""), "");
}

#[test]
fn only_the_pod_spec_is_read() {
    // Images elsewhere in the object (annotations, status, other fields) are not images.
    let object = json!({
        "metadata": {"annotations": {"image": "evil:1"}},
        "spec": {"image": "not-read", "containers": [{"name": "a", "image": "a:1", "env": [{"name": "image", "value": "x"}]}]},
        "status": {"containerStatuses": [{"image": "docker.io/library/a:1", "imageID": format!("sha256:{HEX}")}]},
    });
    assert_eq!(
        found(&review("", "Pod", object)),
        pairs(&[("spec.containers[0].image", "a:1")])
    );
}

#[test]
fn the_ephemeralcontainers_subresource_is_the_pod() {
    let mut review = review(
        "",
        "Pod",
        json!({"spec": {
            "containers": [{"name": "app", "image": "app:1"}],
            "ephemeralContainers": [{"name": "debugger", "image": "busybox:1.36", "targetContainerName": "app"}],
        }}),
    );
    review.operation = Operation::Update;
    review.sub_resource = Some("ephemeralcontainers".into());
    assert_eq!(
        found(&review),
        pairs(&[
            ("spec.containers[0].image", "app:1"),
            ("spec.ephemeralContainers[0].image", "busybox:1.36"),
        ])
    );
}

#[test]
fn deletes_and_absent_objects_have_no_images() {
    let mut delete = review("", "Pod", json!({"spec": full_spec()}));
    delete.operation = Operation::Delete;
    assert_eq!(images_of(&delete), Ok(Vec::new()));
    // A DELETE's object is null; what it would be does not matter.
    delete.object = Some(json!({"spec": {"containers": "garbage"}}));
    assert_eq!(images_of(&delete), Ok(Vec::new()));
    let mut absent = review("", "Pod", Value::Null);
    absent.object = None;
    assert_eq!(images_of(&absent), Ok(Vec::new()));
}

#[test]
fn other_kinds_have_no_images() {
    let cases = [
        (
            "",
            "ConfigMap",
            json!({"data": {"image": "nginx:1"}, "spec": {"containers": [{"image": "x"}]}}),
        ),
        ("rbac.authorization.k8s.io", "Role", json!({"rules": []})),
        // A kind's name in another group is another kind.
        ("example.com", "Pod", json!({"spec": full_spec()})),
        ("apps", "Job", json!({"spec": {"template": {"spec": full_spec()}}})),
        ("autoscaling", "Scale", json!({"spec": {"replicas": 3}})),
        ("", "pod", json!({"spec": full_spec()})),
    ];
    for (group, kind, object) in cases {
        assert_eq!(
            images_of(&review(group, kind, object)),
            Ok(Vec::new()),
            "{group}/{kind}"
        );
    }
}

#[test]
fn optional_lists_may_be_absent_null_or_empty() {
    let object = json!({"spec": {
        "containers": [],
        "initContainers": null,
        "volumes": [{"name": "v", "image": null}, {"name": "w", "emptyDir": {}}],
    }});
    assert_eq!(images_of(&review("", "Pod", object)), Ok(Vec::new()));
}

#[test]
fn shapes_sigil_cannot_read_fail_closed() {
    let pod = |spec: Value| review("", "Pod", json!({"spec": spec}));
    let deployment = |object: Value| review("apps", "Deployment", object);
    let cases = [
        (review("", "Pod", json!({"msg": "Expecting a Pod?"})), "spec is missing"),
        (review("", "Pod", json!({"spec": null})), "spec is missing"),
        (
            review("", "Pod", json!({"spec": []})),
            "spec must be an object, not an array",
        ),
        (deployment(json!({"spec": {}})), "spec.template is missing"),
        (
            deployment(json!({"spec": {"template": "x"}})),
            "spec.template must be an object, not a string",
        ),
        (
            deployment(json!({"spec": {"template": {}}})),
            "spec.template.spec is missing",
        ),
        (
            deployment(json!({"spec": {"template": {"spec": {}}}})),
            "spec.template.spec.containers is missing",
        ),
        (pod(json!({})), "spec.containers is missing"),
        (pod(json!({"containers": null})), "spec.containers is missing"),
        (
            pod(json!({"containers": {"0": {"image": "a"}}})),
            "spec.containers must be an array, not an object",
        ),
        (
            pod(json!({"containers": "a:1"})),
            "spec.containers must be an array, not a string",
        ),
        (
            pod(json!({"containers": ["a:1"]})),
            "spec.containers[0] must be an object, not a string",
        ),
        (
            pod(json!({"containers": [{"name": "a"}]})),
            "spec.containers[0].image is missing",
        ),
        (
            pod(json!({"containers": [{"image": ""}]})),
            "spec.containers[0].image is empty",
        ),
        (
            pod(json!({"containers": [{"image": null}]})),
            "spec.containers[0].image must be a string, not null",
        ),
        (
            pod(json!({"containers": [{"image": 7}]})),
            "spec.containers[0].image must be a string, not a number",
        ),
        (
            pod(json!({"containers": [{"image": ["a", "b"]}]})),
            "spec.containers[0].image must be a string, not an array",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "initContainers": "b"})),
            "spec.initContainers must be an array, not a string",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "ephemeralContainers": [{"image": "a"}, {"image": false}]})),
            "spec.ephemeralContainers[1].image must be a string, not a boolean",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "volumes": {"v": {}}})),
            "spec.volumes must be an array, not an object",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "volumes": [null]})),
            "spec.volumes[0] is missing",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "volumes": [{"name": "v", "image": "v:1"}]})),
            "spec.volumes[0].image must be an object, not a string",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "volumes": [{"name": "v", "image": {}}]})),
            "spec.volumes[0].image.reference is missing",
        ),
        (
            pod(json!({"containers": [{"image": "a"}], "volumes": [{"name": "v", "image": {"reference": 1}}]})),
            "spec.volumes[0].image.reference must be a string, not a number",
        ),
        (
            review(
                "batch",
                "CronJob",
                json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"image": ""}]}}}}}}),
            ),
            "spec.jobTemplate.spec.template.spec.containers[0].image is empty",
        ),
    ];
    for (review, expected) in cases {
        assert_eq!(images_of(&review), Err(expected.to_owned()), "{review:?}");
    }
    // `parse` gives only objects; a Review built otherwise is still read safely.
    assert_eq!(
        images_of(&review("", "Pod", json!(["spec"]))),
        Err("the object must be an object, not an array".to_owned())
    );
}

#[test]
fn registry_references_are_read_normalised() {
    let cases = [
        ("alpine", "docker.io/library/alpine:latest"),
        ("library/alpine:3.20", "docker.io/library/alpine:3.20"),
        ("docker.io/alpine", "docker.io/library/alpine:latest"),
        ("index.docker.io/library/alpine", "docker.io/library/alpine:latest"),
        ("registry:5000/a/b:1", "registry:5000/a/b:1"),
        ("localhost/a", "localhost/a:latest"),
        (
            "ghcr.io/kubewarden/test-verify-image-signatures:signed",
            "ghcr.io/kubewarden/test-verify-image-signatures:signed",
        ),
    ];
    for (written, expected) in cases {
        let reference = reference(written).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(reference.to_string(), expected);
    }
    let pinned = reference(&format!("x@sha256:{HEX}")).expect("a digest reference");
    assert_eq!(pinned.to_string(), format!("docker.io/library/x@sha256:{HEX}"));
    assert_eq!(pinned.tag(), None);
    assert_eq!(pinned.digest().map(ToString::to_string), Some(format!("sha256:{HEX}")));
    let both = reference(&format!("x:tag@sha256:{HEX}")).expect("a tag and digest reference");
    assert_eq!(both.tag(), Some("tag"));
    assert_eq!(both.digest().map(Digest::hex), Some(HEX));
}

#[test]
fn bare_image_ids_are_refused() {
    for written in [
        format!("sha256:{HEX}"),
        format!("sha256:{}", HEX.to_ascii_uppercase()),
        format!("SHA256:{HEX}"),
        HEX.to_owned(),
        HEX.to_ascii_uppercase(),
        format!("sha512:{HEX}{HEX}"),
    ] {
        let error = reference(&written).expect_err(&written);
        assert_eq!(
            error,
            format!(
                "{written:?} is a bare image ID, which names no registry image: write the image by name (name@sha256:HEX to pin it)"
            )
        );
    }
    // Hex that is not an ID's length is a repository name like any other.
    assert!(reference(&HEX[..12]).is_ok());
    assert!(reference(&format!("redis:{HEX}")).is_ok());
}

#[test]
fn local_layouts_are_refused() {
    for written in [
        "oci:/etc",
        "oci:/var/lib/images:v1",
        "oci:relative",
        &format!("oci:/x@sha256:{HEX}"),
    ] {
        let error = reference(written).expect_err(written);
        assert!(
            error.contains("names a local OCI layout directory, not a registry image"),
            "{error}"
        );
    }
    assert!(reference("oci:").is_err());
}

#[test]
fn unparseable_references_say_why() {
    let cases = [
        ("Alpine", "repository must be lower-case"),
        ("alpine:", "tag must be"),
        ("a b", "contains whitespace"),
        ("x@sha256:abc", "invalid digest"),
        ("x@md5:abc", "unsupported digest algorithm"),
        ("/etc/passwd", "repository must be"),
        ("OCI:/etc", "registry must be"),
    ];
    for (written, expected) in cases {
        let error = reference(written).expect_err(written);
        assert!(error.contains(expected), "{written}: {error}");
        assert!(
            error.starts_with(&format!("invalid image reference {written:?}")),
            "{error}"
        );
    }
}

mod fixtures;
