//! Real AdmissionReview requests from connaisseur and kubewarden
//! (`testdata/admission/README.md`): what `parse` makes of each, byte for
//! byte, and exactly which images `images_of` finds.

use super::*;
use crate::review::{Answer, parse, respond};

const CHARLIE: &str =
    "securesystemsengineering/charlie-image@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff";

/// What a fixture must give.
enum Expect {
    /// `parse` accepts it and `images_of` finds exactly these `(field, written)`.
    Images(Pairs),
    /// `parse` accepts it and `images_of` refuses it with this reason.
    Unreadable(&'static str),
    /// `parse` refuses it with this message.
    Refused(&'static str),
    /// `parse` refuses it as v1beta1; read as v1 (the request shape is the
    /// same), `images_of` finds exactly these.
    V1beta1(Pairs),
}

use Expect::*;

/// A fixture's name and bytes.
type Fixture = (&'static str, &'static [u8]);
/// `(field, written)` pairs.
type Pairs = &'static [(&'static str, &'static str)];

const V1BETA1: &str = r#"unsupported AdmissionReview apiVersion "admission.k8s.io/v1beta1": only admission.k8s.io/v1 is read (set admissionReviewVersions: ["v1"] in the webhook configuration)"#;
const TEMPLATE: &str = "spec.template.spec.containers[0].image";
const POD: &str = "spec.containers[0].image";
const CRON: &str = "spec.jobTemplate.spec.template.spec.containers[0].image";
const NO_UID: &str = "no request.uid in the AdmissionReview";

macro_rules! connaisseur {
    ($file:literal) => {
        (
            concat!("connaisseur/", $file),
            include_bytes!(concat!("../../../../testdata/admission/connaisseur/", $file)).as_slice(),
        )
    };
}

macro_rules! kubewarden {
    ($file:literal) => {
        (
            concat!("kubewarden/", $file),
            include_bytes!(concat!("../../../../testdata/admission/kubewarden/", $file)).as_slice(),
        )
    };
}

fn check(name: &str, bytes: &[u8], expect: &Expect) {
    let images = |body: &[u8]| {
        let review = parse(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        // The answer names the request it answers.
        let answer: Value = serde_json::from_slice(&respond(&review, &Answer::default())).expect("JSON");
        let request: Value = serde_json::from_slice(body).expect("JSON");
        assert_eq!(answer["response"]["uid"], request["request"]["uid"], "{name}");
        assert_eq!(answer["apiVersion"], "admission.k8s.io/v1", "{name}");
        images_of(&review).map(|found| {
            found
                .into_iter()
                .map(|image| {
                    let object = review.object.as_ref().expect("images come from an object");
                    assert_eq!(
                        object.pointer(&image.pointer),
                        Some(&Value::String(image.written.clone()))
                    );
                    (image.field, image.written)
                })
                .collect::<Vec<_>>()
        })
    };
    match expect {
        Images(expected) => assert_eq!(images(bytes), Ok(pairs(expected)), "{name}"),
        Unreadable(reason) => assert_eq!(images(bytes), Err((*reason).to_owned()), "{name}"),
        Refused(message) => assert_eq!(parse(bytes).map_err(|e| e.0), Err((*message).to_owned()), "{name}"),
        V1beta1(expected) => {
            assert_eq!(parse(bytes).map_err(|e| e.0), Err(V1BETA1.to_owned()), "{name}");
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            let as_v1 = text.replacen("admission.k8s.io/v1beta1", "admission.k8s.io/v1", 1);
            assert_eq!(images(as_v1.as_bytes()), Ok(pairs(expected)), "{name} read as v1");
        }
    }
}

#[test]
fn connaisseur_admission_requests() {
    let cases: Vec<(Fixture, Expect)> = vec![
        (
            connaisseur!("01_deployment.json"),
            V1beta1(&[(TEMPLATE, "securesystemsengineering/alice-image:test")]),
        ),
        (
            connaisseur!("02_pod.json"),
            Images(&[("spec.containers[0].image", CHARLIE)]),
        ),
        (
            connaisseur!("03_replicaset.json"),
            V1beta1(&[(TEMPLATE, "securesystemsengineering/sample-san-sama:hai")]),
        ),
        (
            connaisseur!("04_cronjob.json"),
            V1beta1(&[("spec.jobTemplate.spec.template.spec.containers[0].image", "busybox")]),
        ),
        (
            connaisseur!("05_replication_controller.json"),
            Images(&[(TEMPLATE, "nginx")]),
        ),
        (
            connaisseur!("06_daemonset.json"),
            Images(&[(TEMPLATE, "quay.io/fluentd_elasticsearch/fluentd:v2.5.2")]),
        ),
        (
            connaisseur!("07_statefulset.json"),
            Images(&[(TEMPLATE, "registry.k8s.io/nginx-slim:0.8")]),
        ),
        (connaisseur!("08_job.json"), Images(&[(TEMPLATE, "perl:5.34.0")])),
        (
            connaisseur!("09_dply_multi_image.json"),
            V1beta1(&[
                ("spec.template.spec.containers[0].image", "redis:alpine"),
                ("spec.template.spec.containers[1].image", "mysql:8"),
                ("spec.template.spec.initContainers[0].image", "busybox:1.32"),
            ]),
        ),
        (
            connaisseur!("10_update.json"),
            Images(&[(
                TEMPLATE,
                "docker.io/library/redis:latest@sha256:1111111111111111111111111111111111111111111111111111111111111111",
            )]),
        ),
        // A Role holds no pod spec.
        (connaisseur!("11_role.json"), Images(&[])),
        // A Pod without a spec.
        (connaisseur!("12_err_pod.json"), Unreadable("spec is missing")),
        (
            connaisseur!("13_unknown_parent.json"),
            V1beta1(&[("spec.containers[0].image", CHARLIE)]),
        ),
        (
            connaisseur!("14_deny_me_job.json"),
            Images(&[(
                TEMPLATE,
                "my.reg/deny-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
            )]),
        ),
        (
            connaisseur!("15_allow_me_job.json"),
            Images(&[(
                TEMPLATE,
                "my.reg/allow-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
            )]),
        ),
        (
            connaisseur!("16_mismatch_uid.json"),
            Images(&[("spec.containers[0].image", CHARLIE)]),
        ),
        (
            connaisseur!("17_deny_me_pod.json"),
            Images(&[(
                "spec.containers[0].image",
                "my.reg/deny-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
            )]),
        ),
        (
            connaisseur!("18_allow_me_pod.json"),
            Images(&[(
                "spec.containers[0].image",
                "my.reg/allow-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
            )]),
        ),
        (
            connaisseur!("19_pod_initcontainer.json"),
            Images(&[
                ("spec.containers[0].image", CHARLIE),
                ("spec.initContainers[0].image", "nginx"),
            ]),
        ),
        (
            connaisseur!("20_pod_ephemeralcontainer.json"),
            Images(&[
                ("spec.containers[0].image", CHARLIE),
                ("spec.ephemeralContainers[0].image", "nginx"),
            ]),
        ),
        // `{"request": {"operation": "CREATE"}}` and nothing else.
        (connaisseur!("21_broken_admission_request.json"), Refused(NO_UID)),
        (
            connaisseur!("22_allow_me_with_index_docker_io.json"),
            Images(&[("spec.containers[0].image", "test-image")]),
        ),
        (
            connaisseur!("23_alice_digest_dpl.json"),
            V1beta1(&[(
                TEMPLATE,
                "securesystemsengineering/alice-image@sha256:1234567890123456123456789012345612345678901234561234567890123456",
            )]),
        ),
        (
            connaisseur!("24_alice_tag_digest_dpl.json"),
            V1beta1(&[(
                TEMPLATE,
                "securesystemsengineering/alice-image:test@sha256:1234567890123456123456789012345612345678901234561234567890123456",
            )]),
        ),
        (
            connaisseur!("25_null_request.json"),
            Refused("the body is null, not a JSON object"),
        ),
        (connaisseur!("26_broken_update_admission_request.json"), Refused(NO_UID)),
        (
            connaisseur!("27_deleted_deployment.json"),
            V1beta1(&[(TEMPLATE, "busybox")]),
        ),
        (
            connaisseur!("28_deleted_deployment_updated.json"),
            V1beta1(&[(TEMPLATE, "busybox")]),
        ),
        (
            connaisseur!("29_deleted_deployment_update_for_delete.json"),
            V1beta1(&[(TEMPLATE, "busybox")]),
        ),
    ];
    assert_eq!(cases.len(), 29);
    for ((name, bytes), expect) in &cases {
        check(name, bytes, expect);
    }
}

#[test]
fn kubewarden_admission_requests() {
    const SIGNED: &str = "ghcr.io/kubewarden/test-verify-image-signatures:signed";
    const UNSIGNED: &str = "ghcr.io/kubewarden/test-verify-image-signatures:unsigned";
    const PRIVILEGED: &str = "ghcr.io/kubewarden/tests/pod-privileged:v0.2.1";
    let cases: Vec<(Fixture, Pairs)> = vec![
        (kubewarden!("cronjob_creation_signed.json"), &[(CRON, SIGNED)]),
        (kubewarden!("cronjob_creation_unsigned.json"), &[(CRON, UNSIGNED)]),
        (kubewarden!("daemonset_creation_signed.json"), &[(TEMPLATE, SIGNED)]),
        (kubewarden!("daemonset_creation_unsigned.json"), &[(TEMPLATE, UNSIGNED)]),
        (kubewarden!("deployment_creation_signed.json"), &[(TEMPLATE, SIGNED)]),
        (
            kubewarden!("deployment_creation_unsigned.json"),
            &[(TEMPLATE, UNSIGNED)],
        ),
        (kubewarden!("job_creation_signed.json"), &[(TEMPLATE, SIGNED)]),
        (kubewarden!("job_creation_unsigned.json"), &[(TEMPLATE, UNSIGNED)]),
        (kubewarden!("pod_creation_signed.json"), &[(POD, SIGNED)]),
        (
            kubewarden!("pod_creation_signed_with_certificate.json"),
            &[(POD, PRIVILEGED)],
        ),
        (
            kubewarden!("pod_creation_signed_with_keyless_mode.json"),
            &[(POD, PRIVILEGED)],
        ),
        (kubewarden!("pod_creation_unsigned.json"), &[(POD, UNSIGNED)]),
        (
            kubewarden!("pod_creation_with_digest.json"),
            &[(
                POD,
                "nginx:v1.26@sha256:89102e348749bb17a6a651a4b2a17420e1a66d2a44a675b981973d49a5af3a5e",
            )],
        ),
        (
            kubewarden!("pod_creation_with_init_container.json"),
            &[(POD, "nginx"), ("spec.initContainers[0].image", "init")],
        ),
        (kubewarden!("replicaset_creation_signed.json"), &[(TEMPLATE, SIGNED)]),
        (
            kubewarden!("replicaset_creation_unsigned.json"),
            &[(TEMPLATE, UNSIGNED)],
        ),
        (
            kubewarden!("replicationcontroller_creation_signed.json"),
            &[(TEMPLATE, SIGNED)],
        ),
        (
            kubewarden!("replicationcontroller_creation_unsigned.json"),
            &[(TEMPLATE, UNSIGNED)],
        ),
        (kubewarden!("statefulset_creation_signed.json"), &[(TEMPLATE, SIGNED)]),
        (
            kubewarden!("statefulset_creation_unsigned.json"),
            &[(TEMPLATE, UNSIGNED)],
        ),
    ];
    for ((name, bytes), expected) in cases {
        // kubewarden's fixtures are the bare AdmissionRequest a policy receives:
        // refused as they are, read when wrapped (the file's bytes unchanged inside).
        assert_eq!(
            parse(bytes).map_err(|e| e.0),
            Err("this is a bare AdmissionRequest; send it as the request member of an AdmissionReview".to_owned()),
            "{name}"
        );
        let mut wrapped = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"#.to_vec();
        wrapped.extend_from_slice(bytes);
        wrapped.push(b'}');
        check(name, &wrapped, &Images(expected));
    }
}

#[test]
fn every_fixture_image_is_a_registry_reference() {
    // What `reference` makes of the strings real clusters wrote.
    for (written, expected) in [
        (CHARLIE, format!("docker.io/{CHARLIE}")),
        ("nginx", "docker.io/library/nginx:latest".to_owned()),
        ("perl:5.34.0", "docker.io/library/perl:5.34.0".to_owned()),
        ("registry.k8s.io/nginx-slim:0.8", "registry.k8s.io/nginx-slim:0.8".to_owned()),
        (
            "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
            "quay.io/fluentd_elasticsearch/fluentd:v2.5.2".to_owned(),
        ),
        (
            "securesystemsengineering/alice-image:test@sha256:1234567890123456123456789012345612345678901234561234567890123456",
            "docker.io/securesystemsengineering/alice-image:test@sha256:1234567890123456123456789012345612345678901234561234567890123456".to_owned(),
        ),
    ] {
        assert_eq!(reference(written).map(|r| r.to_string()), Ok(expected), "{written}");
    }
}

#[test]
fn tampered_twins_of_accepted_fixtures_are_refused() {
    // Each accepted fixture with one member repeated: the request's uid, and
    // the first image (a reader keeping the first and one keeping the last
    // would see different images).
    let accepted = [
        connaisseur!("02_pod.json"),
        connaisseur!("05_replication_controller.json"),
        connaisseur!("06_daemonset.json"),
        connaisseur!("07_statefulset.json"),
        connaisseur!("08_job.json"),
        connaisseur!("10_update.json"),
        connaisseur!("19_pod_initcontainer.json"),
        connaisseur!("20_pod_ephemeralcontainer.json"),
        connaisseur!("22_allow_me_with_index_docker_io.json"),
    ];
    for (name, bytes) in accepted {
        let text = std::str::from_utf8(bytes).expect("UTF-8");
        assert!(parse(bytes).is_ok(), "{name}");
        for (member, twin) in [
            ("uid", text.replacen(r#""uid": ""#, r#""uid": "forged", "uid": ""#, 1)),
            (
                "image",
                text.replacen(r#""image": ""#, r#""image": "evil:1", "image": ""#, 1),
            ),
        ] {
            assert_ne!(twin, text, "{name}: no {member} to repeat");
            let message = parse(twin.as_bytes()).expect_err(name).0;
            assert!(
                message.starts_with(&format!("unreadable JSON: duplicate member \"{member}\" at line ")),
                "{name}: {message}"
            );
        }
    }
}
