//! Which images `/validate` finds and how it judges them: every workload
//! kind and every image field with a good and a bad image, signatures and
//! attestations from the real registry, warn and audit rules, strings that
//! name no registry image, and objects that carry no images at all.

use serde_json::{Value, json};

use super::{
    CONFIG_MAP, CRON_JOB, DAEMON_SET, DEPLOYMENT, JOB, Kind, POD, POD_TEMPLATE, REPLICA_SET, REPLICATION_CONTROLLER,
    Review, STATEFUL_SET, containers, image_volume, pod_spec, world,
};

/// A pod spec running `main` as its only container, with `image` in the
/// second entry of the list named `field` (`initContainers`,
/// `ephemeralContainers`, `volumes`), after `first`.
fn spec_with(field: &str, main: &str, first: &str, image: &str) -> Value {
    let mut spec = pod_spec(&[main]);
    spec[field] = match field {
        "volumes" => json!([image_volume("v0", first), image_volume("v1", image)]),
        _ => containers(&[first, image]),
    };
    spec
}

/// Every image field of a `kind` object: allowed with signed images in it,
/// denied naming exactly that field and image with an unsigned one.
fn every_field_is_checked(kind: Kind) {
    let w = world();
    let (good, other_good, bad) = (w.img.signed.as_str(), w.img.web.as_str(), w.img.unsigned.as_str());

    w.validate(&Review::of_images(kind, &[good])).assert_allowed();
    w.validate(&Review::of_images(kind, &[good, other_good]))
        .assert_allowed();
    let answer = w.validate(&Review::of_images(kind, &[other_good, bad]));
    answer.assert_denied();
    answer.assert_names(&kind.field("containers[1].image"), bad);
    answer.assert_not_named(&kind.field("containers[0].image"));

    for (list, field) in [
        ("initContainers", "initContainers[1].image"),
        ("ephemeralContainers", "ephemeralContainers[1].image"),
        ("volumes", "volumes[1].image.reference"),
    ] {
        let allowed = w.validate(&Review::create(
            kind,
            kind.object(spec_with(list, good, other_good, good)),
        ));
        assert!(allowed.allowed(), "{} {list} with signed images: {allowed}", kind.kind);
        let denied = w.validate(&Review::create(
            kind,
            kind.object(spec_with(list, good, other_good, bad)),
        ));
        denied.assert_denied();
        denied.assert_names(&kind.field(field), bad);
        denied.assert_not_named(&kind.field("containers[0].image"));
        let entries = denied
            .message()
            .split("; ")
            .filter(|e| e.starts_with(&format!("{}.", kind.pod_spec)))
            .count();
        assert_eq!(
            entries, 1,
            "{} {list}: only the one bad image is named: {denied}",
            kind.kind
        );
    }
}

macro_rules! every_field_test {
    ($($name:ident: $kind:expr;)*) => {
        $(
            #[test]
            fn $name() {
                every_field_is_checked($kind);
            }
        )*
    };
}

every_field_test! {
    pod_images_are_checked_in_every_field: POD;
    deployment_images_are_checked_in_every_field: DEPLOYMENT;
    replica_set_images_are_checked_in_every_field: REPLICA_SET;
    stateful_set_images_are_checked_in_every_field: STATEFUL_SET;
    daemon_set_images_are_checked_in_every_field: DAEMON_SET;
    job_images_are_checked_in_every_field: JOB;
    replication_controller_images_are_checked_in_every_field: REPLICATION_CONTROLLER;
    pod_template_images_are_checked_in_every_field: POD_TEMPLATE;
    cron_job_images_are_checked_in_every_field: CRON_JOB;
}

#[test]
fn ephemeral_containers_added_to_a_running_pod_are_checked() {
    let w = world();
    let running = POD.object(pod_spec(&[&w.img.signed]));
    let with_debugger = |image: &str| {
        let mut pod = running.clone();
        pod["spec"]["ephemeralContainers"] =
            json!([{"name": "debugger", "image": image, "targetContainerName": "c0", "stdin": true, "tty": true}]);
        pod
    };
    let update = |image: &str| {
        Review::with(
            POD,
            "UPDATE",
            Some("ephemeralcontainers"),
            Some(with_debugger(image)),
            Some(running.clone()),
        )
    };
    w.validate(&update(&w.img.web)).assert_allowed();
    let answer = w.validate(&update(&w.img.stranger));
    answer.assert_denied();
    answer.assert_names("spec.ephemeralContainers[0].image", &w.img.stranger);
    answer.assert_not_named("spec.containers[0].image");
}

#[test]
fn one_bad_image_among_many_is_the_only_one_named() {
    let w = world();
    let img = &w.img;
    let spec = |images: &[&str]| {
        let mut spec = pod_spec(images);
        spec["initContainers"] = containers(&[&img.web]);
        spec["volumes"] = json!([image_volume("data", &img.signed)]);
        spec
    };
    let twin = w.validate(&Review::create(
        DEPLOYMENT,
        DEPLOYMENT.object(spec(&[&img.signed, &img.web, &img.signed])),
    ));
    twin.assert_allowed();

    let answer = w.validate(&Review::create(
        DEPLOYMENT,
        DEPLOYMENT.object(spec(&[&img.signed, &img.unsigned, &img.web])),
    ));
    answer.assert_denied();
    answer.assert_names("spec.template.spec.containers[1].image", &img.unsigned);
    for innocent in [
        "spec.template.spec.containers[0].image",
        "spec.template.spec.containers[2].image",
        "spec.template.spec.initContainers[0].image",
        "spec.template.spec.volumes[0].image.reference",
        img.signed.as_str(),
        img.web.as_str(),
    ] {
        answer.assert_not_named(innocent);
    }
    let entries = answer.message().split("; ").filter(|e| e.starts_with("spec.")).count();
    assert_eq!(entries, 1, "one entry only: {answer}");

    // two bad images: both named, one entry each, joined by "; "
    let answer = w.validate(&Review::create(
        DEPLOYMENT,
        DEPLOYMENT.object(spec(&[&img.stranger, &img.signed, &img.unsigned])),
    ));
    answer.assert_denied();
    answer.assert_names("spec.template.spec.containers[0].image", &img.stranger);
    answer.assert_names("spec.template.spec.containers[2].image", &img.unsigned);
    answer.assert_not_named("spec.template.spec.containers[1].image");
    let entries: Vec<&str> = answer
        .message()
        .split("; ")
        .filter(|e| e.starts_with("spec."))
        .collect();
    assert_eq!(entries.len(), 2, "{answer}");
}

#[test]
fn signatures_decide() {
    let w = world();
    let img = &w.img;
    let pod = |image: &str| w.validate(&Review::of_images(POD, &[image]));
    let field = "spec.containers[0].image";

    pod(&img.signed).assert_allowed();
    pod(&img.web).assert_allowed(); // signed as a Sigstore bundle referrer

    let unsigned = pod(&img.unsigned);
    unsigned.assert_denied();
    unsigned.assert_names(field, &img.unsigned);

    let stranger = pod(&img.stranger);
    stranger.assert_denied();
    stranger.assert_names(field, &img.stranger);

    // signed by the right key, but no rule covers it
    let no_rule = pod(&img.no_rule);
    no_rule.assert_denied();
    let reason = no_rule.assert_names(field, &img.no_rule);
    assert!(reason.contains("no rule"), "{no_rule}");

    // an image the registry does not have
    let missing = w.registry.image("prod/app:missing");
    let answer = pod(&missing);
    answer.assert_denied();
    answer.assert_names(field, &missing);

    // pinned by digest: the digest decides
    let repo = w.registry.image("prod/app");
    let pinned_signed = format!("{repo}@{}", img.signed_digest);
    pod(&pinned_signed).assert_allowed();
    let pinned_unsigned = format!("{repo}@{}", img.unsigned_digest);
    let answer = pod(&pinned_unsigned);
    answer.assert_denied();
    answer.assert_names(field, &pinned_unsigned);
    // a signed tag beside an unsigned digest is the unsigned image
    let smuggled = format!("{}@{}", img.signed, img.unsigned_digest);
    let answer = pod(&smuggled);
    answer.assert_denied();
    answer.assert_names(field, &smuggled);
    // twin: the tag beside its own digest
    pod(&format!("{}@{}", img.signed, img.signed_digest)).assert_allowed();

    // a reference without a tag is `:latest`, and named so
    pod(&img.untagged).assert_allowed();
    let absent_latest = w.registry.image("prod/app");
    let answer = pod(&absent_latest);
    answer.assert_denied();
    answer.assert_names(field, &format!("{absent_latest}:latest"));
}

#[test]
fn attestations_decide() {
    let w = world();
    let img = &w.img;
    let pod = |image: &str| w.validate(&Review::of_images(POD, &[image]));
    pod(&img.attested_good).assert_allowed();
    for bad in [&img.attested_bad, &img.attested_none] {
        let answer = pod(bad);
        answer.assert_denied();
        answer.assert_names("spec.containers[0].image", bad);
    }
    let reason = pod(&img.attested_bad).assert_names("spec.containers[0].image", &img.attested_bad);
    assert!(
        reason.contains("evil.example"),
        "the reason says which builder: {reason}"
    );
}

#[test]
fn strings_that_name_no_registry_image_are_denied() {
    let w = world();
    let bare_id = format!("sha256:{}", &w.img.signed_digest["sha256:".len()..]);
    for image in [
        bare_id.as_str(),
        "Not//A Valid::Reference",
        "oci:/some/dir",
        "oci:/some/dir:v1",
    ] {
        let answer = w.validate(&Review::of_images(POD, &[&w.img.signed, image]));
        answer.assert_denied();
        let message = answer.message();
        let field = "spec.containers[1].image ";
        let entry = message
            .split("; ")
            .find(|e| e.starts_with(field))
            .unwrap_or_else(|| panic!("{image:?}: the entry for {field}: {answer}"));
        let (_, reason) = entry
            .split_once(": ")
            .unwrap_or_else(|| panic!("{image:?}: `FIELD IMAGE: REASON`: {answer}"));
        assert!(!reason.trim().is_empty(), "{image:?}: a reason: {answer}");
        answer.assert_not_named("spec.containers[0].image");
    }
}

#[test]
fn objects_without_images_and_deletes_are_allowed() {
    let w = world();
    let bad = w.img.unsigned.as_str();
    let config_map = CONFIG_MAP.object(json!({"image": bad, "containers": bad}));
    let deleted = POD.object(pod_spec(&[bad]));
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"image": bad}});
    let secret_kind = super::Kind {
        kind: "Secret",
        resource: "secrets",
        ..CONFIG_MAP
    };
    for endpoint in ["/validate", "/mutate"] {
        for review in [
            Review::create(CONFIG_MAP, config_map.clone()),
            Review::create(secret_kind, secret.clone()),
            Review::with(POD, "DELETE", None, None, Some(deleted.clone())),
            Review::with(
                DEPLOYMENT,
                "DELETE",
                None,
                None,
                Some(DEPLOYMENT.object(pod_spec(&[bad]))),
            ),
        ] {
            let answer = w.admit(endpoint, &review);
            answer.assert_allowed();
            assert_eq!(answer.patch(), None, "{endpoint}: nothing to pin: {answer}");
            assert!(answer.warnings().is_empty(), "{endpoint}: {answer}");
        }
        // twin: the same pod, created
        w.admit(endpoint, &Review::create(POD, deleted.clone()))
            .assert_denied()
            .assert_names("spec.containers[0].image", bad);
    }
}

#[test]
fn warn_rules_allow_with_warnings() {
    let w = world();
    let image = &w.img.warn_unsigned;
    let answer = w.validate(&Review::of_images(DEPLOYMENT, &[&w.img.signed, image]));
    answer.assert_allowed();
    let warnings = answer.warnings();
    assert!(!warnings.is_empty(), "{answer}");
    for warning in &warnings {
        assert!(
            warning.chars().count() < 256,
            "a warning under 256 characters: {warning:?}"
        );
    }
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("spec.template.spec.containers[1].image") && w.contains(image.as_str())),
        "a warning names the field and the image: {answer}"
    );
    // twin: a signed image under the same rule passes without a warning
    let answer = w.validate(&Review::of_images(DEPLOYMENT, &[&w.img.warn_signed]));
    answer.assert_allowed();
    assert!(answer.warnings().is_empty(), "{answer}");
    // and the warn rule does not soften an enforce rule beside it
    let answer = w.validate(&Review::of_images(DEPLOYMENT, &[image, &w.img.unsigned]));
    answer.assert_denied();
    answer.assert_names("spec.template.spec.containers[1].image", &w.img.unsigned);
    answer.assert_not_named("spec.template.spec.containers[0].image");
}

#[test]
fn audit_rules_allow_with_audit_annotations() {
    let w = world();
    let image = &w.img.audit_unsigned;
    let answer = w.validate(&Review::of_images(POD, &[image]));
    answer.assert_allowed();
    let annotations = answer.response()["auditAnnotations"]
        .as_object()
        .unwrap_or_else(|| panic!("auditAnnotations: {answer}"));
    assert!(!annotations.is_empty(), "{answer}");
    assert!(
        annotations
            .values()
            .any(|v| v.as_str().is_some_and(|v| v.contains(image.as_str()))),
        "an audit annotation names the image: {answer}"
    );
    // the apiserver prefixes each key with the webhook's name: what is left
    // must be the name part of a qualified name (at most 63 characters)
    for key in annotations.keys() {
        let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        assert!(
            key.len() <= 63
                && alphanumeric(key.chars().next())
                && alphanumeric(key.chars().last())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            "an audit annotation key Kubernetes accepts: {key:?}"
        );
    }
    // twin: the same unsigned image under an enforce rule
    let answer = w.validate(&Review::of_images(POD, &[&w.img.unsigned]));
    answer.assert_denied();
}

#[test]
fn every_warned_and_audited_image_is_reported() {
    let w = world();
    // a second unsigned image under each rule, and one with a long name
    let long_repo = format!("warn/{}/app", "very-long-path-segment".repeat(8));
    crate::fixtures::push_sample(&w.registry, &long_repo, "unsigned", 601);
    crate::fixtures::push_sample(&w.registry, "audit/other", "unsigned", 602);
    let long = w.registry.image(&format!("{long_repo}:unsigned"));
    let audited_other = w.registry.image("audit/other:unsigned");
    assert!(long.len() > 200, "{long}");

    let mut spec = pod_spec(&[&w.img.warn_unsigned, &w.img.audit_unsigned]);
    spec["initContainers"] = containers(&[&audited_other, &long]);
    let answer = w.validate(&Review::create(POD, POD.object(spec)));
    answer.assert_allowed();
    let warnings = answer.warnings();
    for warning in &warnings {
        assert!(warning.chars().count() < 256, "under 256 characters: {warning:?}");
    }
    assert!(
        warnings
            .iter()
            .any(|x| x.contains("spec.containers[0].image") && x.contains(w.img.warn_unsigned.as_str())),
        "{answer}"
    );
    assert!(
        warnings.iter().any(|x| x.contains("spec.initContainers[1].image")),
        "the long-named image is warned about too: {answer}"
    );
    let annotations = answer.response()["auditAnnotations"]
        .as_object()
        .unwrap_or_else(|| panic!("auditAnnotations: {answer}"))
        .clone();
    for (field, image) in [
        ("spec.containers[1].image", &w.img.audit_unsigned),
        ("spec.initContainers[0].image", &audited_other),
    ] {
        assert!(
            annotations
                .values()
                .filter_map(Value::as_str)
                .any(|v| v.contains(field) && v.contains(image.as_str())),
            "an audit annotation for {field} {image}, none lost to another's key: {answer}"
        );
    }
}
