//! `/mutate`: allowed tags are pinned to the digest that was verified, as
//! RFC 6902 `replace` operations, decoded and compared exactly against the
//! digests the registry itself reports; pinned references, denied objects
//! and objects without images get no patch at all.

use serde_json::{Value, json};

use super::{
    CRON_JOB, DEPLOYMENT, POD, POD_TEMPLATE, Review, containers, image_volume, pod_spec, registry_digest, world,
};

fn replace(path: &str, value: &str) -> Value {
    json!({"op": "replace", "path": path, "value": value})
}

/// Operations sorted by path: the contract fixes each operation, not their order.
fn sorted(mut ops: Vec<Value>) -> Vec<Value> {
    ops.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    ops
}

#[test]
fn tags_are_pinned_to_the_verified_digests() {
    let w = world();
    let img = &w.img;
    // the digests as the registry reports them, not as sigil does
    let signed = registry_digest(&w.registry, "prod/app", "signed");
    let web = registry_digest(&w.registry, "prod/web", "v2");
    let plain = registry_digest(&w.registry, "prod/plain", "latest");
    assert_eq!(signed, img.signed_digest);
    assert_eq!(web, img.web_digest);
    assert_eq!(plain, img.untagged_digest);

    // one container: exactly one operation
    let answer = w.mutate(&Review::of_images(POD, &[&img.signed]));
    answer.assert_allowed();
    assert_eq!(
        answer.patch(),
        Some(vec![replace(
            "/spec/containers/0/image",
            &format!("{}@{signed}", img.signed)
        )]),
        "{answer}"
    );

    // every field of a pod, the same image twice, an untagged reference
    let mut spec = pod_spec(&[&img.signed, &img.web, &img.signed]);
    spec["initContainers"] = containers(&[&img.untagged]);
    spec["ephemeralContainers"] = containers(&[&img.web]);
    spec["volumes"] = json!([{"name": "scratch", "emptyDir": {}}, image_volume("data", &img.signed)]);
    let answer = w.mutate(&Review::create(POD, POD.object(spec)));
    answer.assert_allowed();
    let expected = vec![
        replace("/spec/containers/0/image", &format!("{}@{signed}", img.signed)),
        replace("/spec/containers/1/image", &format!("{}@{web}", img.web)),
        replace("/spec/containers/2/image", &format!("{}@{signed}", img.signed)),
        replace("/spec/initContainers/0/image", &format!("{}@{plain}", img.untagged)),
        replace("/spec/ephemeralContainers/0/image", &format!("{}@{web}", img.web)),
        replace("/spec/volumes/1/image/reference", &format!("{}@{signed}", img.signed)),
    ];
    let patch = answer.patch().unwrap_or_else(|| panic!("a patch: {answer}"));
    assert_eq!(patch.len(), expected.len(), "{answer}");
    assert_eq!(sorted(patch), sorted(expected), "{answer}");

    // /validate never patches
    let answer = w.validate(&Review::of_images(POD, &[&img.signed]));
    answer.assert_allowed();
    assert_eq!(answer.patch(), None, "{answer}");
}

#[test]
fn pointers_follow_each_kind_s_pod_spec() {
    let w = world();
    let img = &w.img;
    for kind in [DEPLOYMENT, CRON_JOB, POD_TEMPLATE] {
        let answer = w.mutate(&Review::of_images(kind, &[&img.attested_good, &img.web]));
        answer.assert_allowed();
        let attested = registry_digest(&w.registry, "attested/app", "good");
        let expected = vec![
            replace(
                &kind.pointer("containers/0/image"),
                &format!("{}@{attested}", img.attested_good),
            ),
            replace(
                &kind.pointer("containers/1/image"),
                &format!("{}@{}", img.web, img.web_digest),
            ),
        ];
        assert_eq!(
            sorted(answer.patch().unwrap_or_default()),
            sorted(expected),
            "{}: {answer}",
            kind.kind
        );
    }
}

#[test]
fn pinned_references_get_no_operation() {
    let w = world();
    let img = &w.img;
    let repo = w.registry.image("prod/app");
    let by_digest = format!("{repo}@{}", img.signed_digest);
    let tag_and_digest = format!("{}@{}", img.signed, img.signed_digest);

    for images in [
        vec![by_digest.as_str()],
        vec![tag_and_digest.as_str(), by_digest.as_str()],
    ] {
        let answer = w.mutate(&Review::of_images(POD, &images));
        answer.assert_allowed();
        let response = answer.response().as_object().expect("an object");
        assert!(
            !response.contains_key("patch") && !response.contains_key("patchType"),
            "nothing changes, so neither key: {answer}"
        );
    }
    // twin: one tag among pinned references gets the only operation
    let answer = w.mutate(&Review::of_images(POD, &[&by_digest, &img.web, &tag_and_digest]));
    answer.assert_allowed();
    assert_eq!(
        answer.patch(),
        Some(vec![replace(
            "/spec/containers/1/image",
            &format!("{}@{}", img.web, img.web_digest)
        )]),
        "{answer}"
    );
}

#[test]
fn denied_objects_get_no_patch() {
    let w = world();
    let img = &w.img;
    for images in [
        vec![img.signed.as_str(), img.unsigned.as_str()],
        vec![img.stranger.as_str()],
    ] {
        let answer = w.mutate(&Review::of_images(DEPLOYMENT, &images));
        answer.assert_denied();
        let response = answer.response().as_object().expect("an object");
        assert!(
            !response.contains_key("patch") && !response.contains_key("patchType"),
            "a denial carries no patch: {answer}"
        );
    }
    let answer = w.mutate(&Review::of_images(DEPLOYMENT, &[&img.signed, &img.unsigned]));
    answer.assert_names("spec.template.spec.containers[1].image", &img.unsigned);
}

#[test]
fn a_large_object_gets_one_operation_per_tag() {
    let w = world();
    let img = &w.img;
    let images: Vec<&str> = (0..40)
        .map(|i| {
            if i % 2 == 0 {
                img.signed.as_str()
            } else {
                img.web.as_str()
            }
        })
        .collect();
    let answer = w.mutate(&Review::of_images(DEPLOYMENT, &images));
    answer.assert_allowed();
    let expected: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let digest = if *image == img.signed {
                &img.signed_digest
            } else {
                &img.web_digest
            };
            replace(
                &format!("/spec/template/spec/containers/{i}/image"),
                &format!("{image}@{digest}"),
            )
        })
        .collect();
    assert_eq!(sorted(answer.patch().unwrap_or_default()), sorted(expected), "{answer}");
    // one unsigned among them: denied, that one named, no patch
    let mut images = images;
    images[17] = &img.unsigned;
    let answer = w.mutate(&Review::of_images(DEPLOYMENT, &images));
    answer.assert_denied();
    answer.assert_names("spec.template.spec.containers[17].image", &img.unsigned);
    assert_eq!(answer.patch(), None);
}

#[test]
fn on_update_only_changed_images_are_pinned_but_all_are_judged() {
    let w = world();
    let img = &w.img;
    let old = DEPLOYMENT.object(pod_spec(&[&img.signed, &img.web]));
    let new = DEPLOYMENT.object(pod_spec(&[&img.signed, &img.untagged]));
    let update =
        |new: &Value, old: &Value| Review::with(DEPLOYMENT, "UPDATE", None, Some(new.clone()), Some(old.clone()));

    let answer = w.mutate(&update(&new, &old));
    answer.assert_allowed();
    assert_eq!(
        answer.patch(),
        Some(vec![replace(
            "/spec/template/spec/containers/1/image",
            &format!("{}@{}", img.untagged, img.untagged_digest)
        )]),
        "only the changed image is pinned: {answer}"
    );
    // twin: the same object created gets both
    let answer = w.mutate(&Review::create(DEPLOYMENT, new.clone()));
    assert_eq!(answer.patch().map(|p| p.len()), Some(2), "{answer}");
    // unchanged images are still judged: an unsigned one already there denies
    let old_bad = DEPLOYMENT.object(pod_spec(&[&img.unsigned, &img.web]));
    let new_bad = DEPLOYMENT.object(pod_spec(&[&img.unsigned, &img.signed]));
    for endpoint in ["/validate", "/mutate"] {
        let answer = w.admit(endpoint, &update(&new_bad, &old_bad));
        answer.assert_denied();
        answer.assert_names("spec.template.spec.containers[0].image", &img.unsigned);
        assert_eq!(answer.patch(), None);
    }
    // nothing changed: allowed, no patch at all
    let answer = w.mutate(&update(&old, &old));
    answer.assert_allowed();
    assert_eq!(answer.patch(), None, "{answer}");
}
