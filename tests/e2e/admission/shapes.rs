//! What a workload author controls, beyond the brief's contract but as
//! README "What it answers" and docs/security.md ("a second attacker")
//! promise: the shape of the object (fail closed), the size and nesting of
//! the body (refused), and which registries the server may be made to
//! contact (only those the policy names).

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{DEPLOYMENT, POD, Review, containers, pod_spec, world};
use crate::support::{Hostile, Mode};

/// POSTs raw `body` to the shared server's `/validate`; (status, text).
fn post_raw(body: Vec<u8>) -> (StatusCode, String) {
    let w = world();
    let response = w
        .client
        .post(w.server.url("/validate?timeout=10s"))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .expect("POST /validate");
    let status = response.status();
    (status, response.text().unwrap_or_default())
}

#[test]
fn odd_shapes_deny_the_whole_object_naming_the_field() {
    let w = world();
    let good = w.img.signed.as_str();
    let with_spec = |spec: Value| Review::create(POD, POD.object(spec));
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a container without image",
            json!({"containers": [{"name": "c0", "image": good}, {"name": "c1"}]}),
            "spec.containers[1]",
        ),
        (
            "an image that is a number",
            json!({"containers": [{"name": "c0", "image": good}, {"name": "c1", "image": 42}]}),
            "spec.containers[1].image",
        ),
        (
            "containers that are not a list",
            json!({"containers": {"name": "c0", "image": w.img.unsigned}}),
            "spec.containers",
        ),
        (
            "init containers that are a string",
            json!({"containers": containers(&[good]), "initContainers": w.img.unsigned}),
            "spec.initContainers",
        ),
        (
            "an image volume without a reference",
            json!({"containers": containers(&[good]), "volumes": [{"name": "v", "image": {"pullPolicy": "Always"}}]}),
            "spec.volumes[0].image",
        ),
    ];
    for (what, spec, field) in cases {
        let answer = w.validate(&with_spec(spec));
        assert!(!answer.allowed(), "{what}: {answer}");
        answer.assert_denied();
        assert!(answer.message().contains(field), "{what}: names {field}: {answer}");
        answer.assert_not_named("spec.containers[0].image");
    }
    // twin: the same pod, well formed
    w.validate(&with_spec(pod_spec(&[good, &w.img.web]))).assert_allowed();
}

#[test]
fn at_most_512_images_in_one_object() {
    let w = world();
    let images = |n: usize| vec![w.img.signed.as_str(); n];
    let answer = w.validate(&Review::of_images(DEPLOYMENT, &images(512)));
    answer.assert_allowed();
    let answer = w.validate(&Review::of_images(DEPLOYMENT, &images(513)));
    answer.assert_denied();
    assert!(answer.message().contains("512"), "the limit is named: {answer}");
}

#[test]
fn bodies_too_big_too_deep_or_with_trailing_bytes_are_refused() {
    let w = world();
    let review = || Review::of_images(POD, &[&w.img.signed]);

    // 8 MiB is the limit: 9 MiB is 413, 6 MiB is judged
    let padded = |mib: usize| {
        let mut r = review();
        r.body["request"]["object"]["metadata"]["annotations"] = json!({"padding": "x".repeat(mib << 20)});
        r
    };
    let (status, _) = post_raw(padded(9).body.to_string().into_bytes());
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    w.validate(&padded(6)).assert_allowed();

    // nesting: 200 levels refused, 100 judged
    let nested = |depth: usize| {
        let mut r = review();
        let mut value = json!(1);
        for _ in 0..depth {
            value = json!([value]);
        }
        r.body["request"]["object"]["metadata"]["annotations"] = json!({});
        r.body["request"]["object"]["x-extra"] = value;
        r
    };
    let (status, text) = post_raw(nested(200).body.to_string().into_bytes());
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    w.validate(&nested(100)).assert_allowed();

    // trailing bytes refused, trailing whitespace is still JSON
    for trailer in ["{}", "x", "\u{0}"] {
        let (status, text) = post_raw(format!("{}{trailer}", review().body).into_bytes());
        assert_eq!(status, StatusCode::BAD_REQUEST, "{trailer:?}: {text}");
    }
    let (status, text) = post_raw(format!("{}\n\t ", review().body).into_bytes());
    assert_eq!(status, StatusCode::OK, "{text}");

    // a wrong type in the review itself: 400, not a judgement
    let mut r = review();
    r.body["request"]["uid"] = json!(7);
    let (status, text) = post_raw(r.body.to_string().into_bytes());
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
}

#[test]
fn names_no_rule_covers_are_denied_without_contacting_their_registry() {
    let w = world();
    let elsewhere = Hostile::start(Mode::Honest);
    for image in [elsewhere.image("app:v1"), elsewhere.image("prod/app:v1")] {
        let answer = w.validate(&Review::of_images(POD, &[&image]));
        answer.assert_denied();
        let reason = answer.assert_names("spec.containers[0].image", &image);
        assert!(reason.contains("no rule"), "{answer}");
    }
    let answer = w.mutate(&Review::of_images(POD, &[&w.img.signed, &elsewhere.image("app:v1")]));
    answer.assert_denied();
    assert_eq!(
        elsewhere.requests(),
        0,
        "no request reached a registry the policy does not name: {:?}",
        elsewhere.request_log()
    );
}
