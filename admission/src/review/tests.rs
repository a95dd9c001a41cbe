use base64::Engine as _;

use super::*;
use crate::patch::Replace;

const MINIMAL: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"operation":"CREATE","namespace":"prod","object":{"kind":"Deployment","spec":{}},"oldObject":null,"dryRun":false}}"#;

fn review() -> Review {
    parse(MINIMAL.as_bytes()).expect("the minimal review parses")
}

fn error(body: &str) -> String {
    match parse(body.as_bytes()) {
        Ok(review) => panic!("{body} parsed as {review:?}"),
        Err(ReviewError(message)) => {
            assert!(!message.contains('\n'), "one line: {message}");
            message
        }
    }
}

/// `MINIMAL` with its `"request":{…}` member replaced.
fn with_request(request: &str) -> String {
    format!(r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{request}}}"#)
}

fn response(review: &Review, answer: &Answer) -> Value {
    serde_json::from_slice(&respond(review, answer)).expect("respond writes JSON")
}

#[test]
fn reads_a_v1_review() {
    assert_eq!(
        review(),
        Review {
            api_version: "admission.k8s.io/v1".into(),
            uid: "705ab4f5-6393-11e8-b7cc-42010a800002".into(),
            kind: GroupVersionKind {
                group: "apps".into(),
                version: "v1".into(),
                kind: "Deployment".into(),
            },
            sub_resource: None,
            operation: Operation::Create,
            namespace: Some("prod".into()),
            object: Some(serde_json::json!({"kind": "Deployment", "spec": {}})),
            old_object: None,
        }
    );
}

#[test]
fn reads_every_operation_subresources_and_absent_objects() {
    for (op, operation) in [
        ("CREATE", Operation::Create),
        ("UPDATE", Operation::Update),
        ("DELETE", Operation::Delete),
        ("CONNECT", Operation::Connect),
    ] {
        let body = with_request(&format!(
            r#"{{"uid":"u","kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"{op}","subResource":"ephemeralcontainers"}}"#
        ));
        let review = parse(body.as_bytes()).expect("parses");
        assert_eq!(review.operation, operation);
        assert_eq!(operation.as_str(), op);
        assert_eq!(review.sub_resource.as_deref(), Some("ephemeralcontainers"));
        assert_eq!(review.object, None);
        assert_eq!(review.namespace, None);
        assert_eq!(review.kind.group, "");
    }
    let delete = with_request(
        r#"{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"DELETE","subResource":"","namespace":null,"object":null,"oldObject":{"spec":{}}}"#,
    );
    let review = parse(delete.as_bytes()).expect("parses");
    assert_eq!(
        (review.object, review.sub_resource, review.namespace),
        (None, None, None)
    );
}

#[test]
fn refuses_what_is_not_an_admission_review() {
    let cases: &[(&str, &str)] = &[
        ("", "unreadable JSON: EOF while parsing a value at line 1 column 0"),
        ("not json", "unreadable JSON: expected ident at line 1 column 2"),
        ("null", "the body is null, not a JSON object"),
        ("[]", "the body is an array, not a JSON object"),
        ("\"x\"", "the body is a string, not a JSON object"),
        ("{}", "no apiVersion"),
        (
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[]}}"#,
            r#"kind is "Pod" (apiVersion "v1"), not AdmissionReview"#,
        ),
        (
            r#"{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"operation":"CREATE"}"#,
            "this is a bare AdmissionRequest; send it as the request member of an AdmissionReview",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}"#,
            r#"unsupported AdmissionReview apiVersion "admission.k8s.io/v1beta1": only admission.k8s.io/v1 is read (set admissionReviewVersions: ["v1"] in the webhook configuration)"#,
        ),
        (
            r#"{"apiVersion":1,"kind":"AdmissionReview"}"#,
            "apiVersion must be a string, not a number",
        ),
        (r#"{"apiVersion":"admission.k8s.io/v1"}"#, "no kind"),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":["AdmissionReview"]}"#,
            "kind must be a string, not an array",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
            "no request in the AdmissionReview",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}"#,
            "no request in the AdmissionReview",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}"#,
            "request must be an object, not a string",
        ),
        (
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}}"#,
            "no request in the AdmissionReview",
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error(body), *expected, "{body}");
    }
}

#[test]
fn refuses_requests_missing_or_mistyping_what_sigil_reads() {
    let pod = r#""kind":{"group":"","version":"v1","kind":"Pod"}"#;
    let cases = [
        (
            r#"{"operation":"CREATE"}"#.to_owned(),
            "no request.uid in the AdmissionReview",
        ),
        (
            format!(r#"{{"uid":"",{pod},"operation":"CREATE"}}"#),
            "request.uid is empty",
        ),
        (
            format!(r#"{{"uid":7,{pod},"operation":"CREATE"}}"#),
            "request.uid must be a string, not a number",
        ),
        (
            r#"{"uid":"u","operation":"CREATE"}"#.to_owned(),
            "no request.kind in the AdmissionReview",
        ),
        (
            r#"{"uid":"u","kind":"Pod","operation":"CREATE"}"#.to_owned(),
            "request.kind must be an object, not a string",
        ),
        (
            r#"{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE"}"#.to_owned(),
            "no request.kind.group in the AdmissionReview",
        ),
        (
            r#"{"uid":"u","kind":{"group":null,"version":"v1","kind":"Pod"},"operation":"CREATE"}"#.to_owned(),
            "request.kind.group must be a string, not null",
        ),
        (
            r#"{"uid":"u","kind":{"group":"","version":"","kind":"Pod"},"operation":"CREATE"}"#.to_owned(),
            "request.kind.version is empty",
        ),
        (
            r#"{"uid":"u","kind":{"group":"","version":"v1","kind":""},"operation":"CREATE"}"#.to_owned(),
            "request.kind.kind is empty",
        ),
        (
            r#"{"uid":"u","kind":{"group":"","version":"v1","kind":1},"operation":"CREATE"}"#.to_owned(),
            "request.kind.kind must be a string, not a number",
        ),
        (
            format!(r#"{{"uid":"u",{pod}}}"#),
            "no request.operation in the AdmissionReview",
        ),
        (
            format!(r#"{{"uid":"u",{pod},"operation":"create"}}"#),
            r#"request.operation "create" is not one of CREATE, UPDATE, DELETE, CONNECT"#,
        ),
        (
            format!(r#"{{"uid":"u",{pod},"operation":true}}"#),
            "request.operation must be a string, not a boolean",
        ),
        (
            format!(r#"{{"uid":"u",{pod},"operation":"CREATE","subResource":{{}}}}"#),
            "request.subResource must be a string, not an object",
        ),
        (
            format!(r#"{{"uid":"u",{pod},"operation":"CREATE","namespace":3}}"#),
            "request.namespace must be a string, not a number",
        ),
        (
            format!(r#"{{"uid":"u",{pod},"operation":"CREATE","object":"{{}}"}}"#),
            "request.object must be an object, not a string",
        ),
        (
            format!(r#"{{"uid":"u",{pod},"operation":"CREATE","object":[]}}"#),
            "request.object must be an object, not an array",
        ),
    ];
    for (request, expected) in cases {
        assert_eq!(error(&with_request(&request)), expected, "{request}");
    }
}

#[test]
fn refuses_duplicate_members_at_any_depth() {
    let cases = [
        // At the top, in the request, in what sigil reads and in what it does not.
        r#"{"apiVersion":"admission.k8s.io/v1","apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}"#.to_owned(),
        MINIMAL.replace(r#""uid":"705ab4f5"#, r#""uid":"other","uid":"705ab4f5"#),
        MINIMAL.replace(r#""spec":{}"#, r#""spec":{"containers":[{"image":"a","image":"b"}]}"#),
        MINIMAL.replace(r#""oldObject":null"#, r#""oldObject":{"a":[{"b":{"c":1,"c":2}}]}"#),
        // The same key spelled with an escape is the same key.
        MINIMAL.replace(r#""namespace":"prod""#, r#""namespace":"prod","n\u0061mespace":"kube-system""#),
    ];
    for body in cases {
        let message = error(&body);
        assert!(
            message.starts_with("unreadable JSON: duplicate member "),
            "{body}: {message}"
        );
    }
    // The same key in sibling objects is not a duplicate.
    let siblings = MINIMAL.replace(r#""spec":{}"#, r#""spec":{"a":{"x":1},"b":{"x":2}}"#);
    assert!(parse(siblings.as_bytes()).is_ok());
    assert_eq!(
        error(&MINIMAL.replace(r#""uid":"705ab4f5"#, r#""uid":"x","uid":"705ab4f5"#)),
        r#"unreadable JSON: duplicate member "uid" at line 1 column 87"#
    );
}

#[test]
fn refuses_trailing_bytes_and_invalid_text() {
    assert!(error(&format!("{MINIMAL} {{}}")).starts_with("unreadable JSON: trailing characters"));
    assert!(error(&format!("{MINIMAL}{MINIMAL}")).starts_with("unreadable JSON: trailing characters"));
    assert!(parse(format!(" \n{MINIMAL}\n ").as_bytes()).is_ok());
    let mut invalid_utf8 = MINIMAL.as_bytes().to_vec();
    let at = MINIMAL.find("prod").expect("the namespace is there");
    invalid_utf8[at] = 0xff;
    let message = parse(&invalid_utf8).expect_err("invalid UTF-8").0;
    assert!(message.starts_with("unreadable JSON: invalid unicode"), "{message}");
    let lone_surrogate = MINIMAL.replace("prod", r"\ud800");
    let message = error(&lone_surrogate);
    assert!(
        message.starts_with("unreadable JSON: unexpected end of hex escape"),
        "{message}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let nested = |depth: usize| {
        let object = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
        MINIMAL.replace(r#""oldObject":null"#, &format!(r#""oldObject":{object}"#))
    };
    // The review itself nests 3 deep around oldObject.
    assert!(parse(nested(100).as_bytes()).is_ok());
    for depth in [200, 100_000] {
        let message = error(&nested(depth));
        assert!(
            message.starts_with("unreadable JSON: recursion limit exceeded"),
            "{message}"
        );
    }
    let arrays = MINIMAL.replace(r#""oldObject":null"#, &format!(r#""oldObject":{}"#, "[".repeat(50_000)));
    assert!(error(&arrays).starts_with("unreadable JSON: recursion limit exceeded"));
}

#[test]
fn keeps_numbers_and_unicode_as_written() {
    let body = MINIMAL.replace(
        r#""spec":{}"#,
        r#""spec":{"replicas":3,"neg":-1,"big":18446744073709551615,"f":1.5,"t":true,"n":null,"s":"é\u00e9"}"#,
    );
    let object = parse(body.as_bytes()).expect("parses").object.expect("an object");
    assert_eq!(
        object["spec"],
        serde_json::json!({"replicas": 3, "neg": -1, "big": u64::MAX, "f": 1.5, "t": true, "n": null, "s": "éé"})
    );
}

#[test]
fn an_allowed_answer_is_minimal() {
    let out = respond(
        &review(),
        &Answer {
            allowed: true,
            ..Answer::default()
        },
    );
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002","allowed":true}}"#
    );
}

#[test]
fn a_denial_carries_a_403_status_and_never_a_patch() {
    let answer = Answer {
        allowed: false,
        message: Some("spec.containers[0].image \"redis:7\": no signature".into()),
        warnings: vec!["w".into()],
        audit_annotations: BTreeMap::from([("sigil/decision".to_owned(), "denied".to_owned())]),
        patch: vec![Replace {
            pointer: "/spec/containers/0/image".into(),
            value: "redis:7@sha256:00".into(),
        }],
    };
    assert_eq!(
        response(&review(), &answer),
        serde_json::json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "response": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "allowed": false,
                "status": {"code": 403, "reason": "Forbidden", "message": "spec.containers[0].image \"redis:7\": no signature"},
                "warnings": ["w"],
                "auditAnnotations": {"sigil/decision": "denied"},
            }
        })
    );
    let bare = response(&review(), &Answer::default());
    assert_eq!(
        bare["response"]["status"],
        serde_json::json!({"code": 403, "reason": "Forbidden"})
    );
    assert_eq!(bare["response"].as_object().map(Map::len), Some(3));
}

#[test]
fn an_allowed_answer_carries_its_patch() {
    let patch = vec![Replace {
        pointer: "/spec/template/spec/containers/1/image".into(),
        value: "redis:7@sha256:00".into(),
    }];
    let answer = Answer {
        allowed: true,
        message: Some("ignored when allowed".into()),
        patch: patch.clone(),
        ..Answer::default()
    };
    let out = response(&review(), &answer);
    let response = out["response"].as_object().expect("an object");
    assert_eq!(
        response.keys().collect::<Vec<_>>(),
        ["uid", "allowed", "patchType", "patch"]
    );
    assert_eq!(response["patchType"], "JSONPatch");
    let encoded = response["patch"].as_str().expect("a string");
    assert_eq!(encoded, crate::patch::encode(&patch));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    assert_eq!(
        String::from_utf8(decoded).expect("UTF-8"),
        r#"[{"op":"replace","path":"/spec/template/spec/containers/1/image","value":"redis:7@sha256:00"}]"#
    );
}

#[test]
fn the_answer_echoes_the_request_api_version_and_uid() {
    let mut review = review();
    review.uid = "uid \"quoted\"".into();
    let out = response(
        &review,
        &Answer {
            allowed: true,
            ..Answer::default()
        },
    );
    assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(out["response"]["uid"], "uid \"quoted\"");
}

#[test]
fn warnings_are_one_line_and_cut_at_255_characters() {
    let long_ascii = "a".repeat(300);
    let long_wide = "é".repeat(255) + "ü";
    let exactly = "€".repeat(255);
    let answer = Answer {
        allowed: true,
        warnings: vec![
            "short".into(),
            long_ascii,
            long_wide,
            exactly.clone(),
            "two\nlines\tand\u{7}bell".into(),
        ],
        ..Answer::default()
    };
    let out = response(&review(), &answer);
    let warnings: Vec<&str> = out["response"]["warnings"]
        .as_array()
        .expect("an array")
        .iter()
        .map(|w| w.as_str().expect("a string"))
        .collect();
    assert_eq!(warnings[0], "short");
    assert_eq!(warnings[1], format!("{}…", "a".repeat(254)));
    assert_eq!(warnings[2], format!("{}…", "é".repeat(254)));
    assert_eq!(warnings[3], exactly);
    assert_eq!(warnings[4], "two lines and bell");
    assert!(warnings.iter().all(|w| w.chars().count() <= MAX_WARNING_CHARS));
}

#[test]
fn messages_repeat_at_most_64_characters_of_the_body() {
    let long = "k".repeat(10_000);
    let message = error(&MINIMAL.replace(r#""dryRun":false"#, &format!(r#""{long}":1,"{long}":2"#)));
    assert_eq!(
        message,
        format!(
            r#"unreadable JSON: duplicate member "{}…" at line 1 column 20349"#,
            "k".repeat(64)
        )
    );
    let wide = "é".repeat(65);
    let message = error(&format!(r#"{{"apiVersion":"{wide}","kind":"AdmissionReview"}}"#));
    assert!(message.starts_with(&format!(
        "unsupported AdmissionReview apiVersion \"{}…\":",
        "é".repeat(64)
    )));
    let exactly = "é".repeat(64);
    let message = error(&with_request(&format!(
        r#"{{"uid":"u","kind":{{"group":"","version":"v1","kind":"Pod"}},"operation":"{exactly}"}}"#
    )));
    assert_eq!(
        message,
        format!("request.operation \"{exactly}\" is not one of CREATE, UPDATE, DELETE, CONNECT")
    );
    // Control characters are escaped, so the message stays one line.
    let message = error(r#"{"apiVersion":"a\nb","kind":"AdmissionReview"}"#);
    assert!(
        message.starts_with(r#"unsupported AdmissionReview apiVersion "a\nb""#),
        "{message}"
    );
}
