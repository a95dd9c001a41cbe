//! Predicates: their type URIs and short names, and the checks a predicate
//! must pass before sigil signs it (an attestation that claims to be an SBOM
//! or provenance must be a well-formed document of that kind, or nothing is
//! pushed). A predicate family with more than a shape check has its own
//! module holding its validation and the typed view the policy reads:
//! [`slsa`], [`sbom`], [`vuln`].

pub mod sbom;
pub mod slsa;
pub mod view;
pub mod vsa;
pub mod vuln;

use serde::Deserialize;
use serde_json::Value;

pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
pub const SLSA_PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
pub const SPDX: &str = "https://spdx.dev/Document";
pub const CYCLONEDX: &str = "https://cyclonedx.org/bom";
pub const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
pub const OPENVEX: &str = "https://openvex.dev/ns";
pub const SLSA_VSA: &str = "https://slsa.dev/verification_summary/v1";
pub const COSIGN_CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

pub const IN_TOTO_LINK_V1: &str = "https://in-toto.io/Link/v1";

/// The short names `--type` accepts and the URIs they stand for: cosign's
/// (`cmd/cosign/cli/options/predicate.go`), meaning what they mean there
/// (`slsaprovenance` is SLSA provenance v0.2), plus sigil's `vsa`.
pub const SHORT_NAMES: [(&str, &str); 11] = [
    ("custom", COSIGN_CUSTOM),
    ("slsaprovenance", SLSA_PROVENANCE_V02),
    ("slsaprovenance02", SLSA_PROVENANCE_V02),
    ("slsaprovenance1", SLSA_PROVENANCE_V1),
    ("link", IN_TOTO_LINK_V1),
    ("spdx", SPDX),
    ("spdxjson", SPDX),
    ("cyclonedx", CYCLONEDX),
    ("vuln", COSIGN_VULN),
    ("openvex", OPENVEX),
    ("vsa", SLSA_VSA),
];

/// Why a predicate type or predicate is refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PredicateError {
    #[error(
        "unknown predicate type {0:?}: use one of custom, slsaprovenance (SLSA v0.2, as in cosign), slsaprovenance02, slsaprovenance1, link, spdx, spdxjson, cyclonedx, vuln, openvex, vsa, or a URI such as https://example.com/my-predicate/v1"
    )]
    UnknownType(String),
    #[error("predicate is not UTF-8 text")]
    NotText,
    #[error("predicate is not valid JSON: {0}")]
    Json(String),
    #[error("predicate is not a JSON object")]
    NotAnObject,
    #[error("{kind} predicate: {field} is missing")]
    Missing { kind: &'static str, field: &'static str },
    #[error("{kind} predicate: {field} is {found}, expected {expected}")]
    Invalid {
        kind: &'static str,
        field: &'static str,
        found: String,
        expected: &'static str,
    },
}

/// Resolves `--type`: a short name, or a URI (`scheme:` followed by more).
pub fn resolve_type(name: &str) -> Result<String, PredicateError> {
    if let Some((_, uri)) = SHORT_NAMES.iter().find(|(short, _)| short.eq_ignore_ascii_case(name)) {
        return Ok((*uri).to_owned());
    }
    let is_uri = name.split_once(':').is_some_and(|(scheme, rest)| {
        !scheme.is_empty()
            && scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            && rest.len() > 1
            && !rest.contains(char::is_whitespace)
    });
    if is_uri {
        Ok(name.to_owned())
    } else {
        Err(PredicateError::UnknownType(name.to_owned()))
    }
}

/// A predicate ready to be put in a statement: its type URI, its JSON, and
/// what it lacks but is tolerated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    pub predicate_type: String,
    pub json: Vec<u8>,
    pub lapses: Lapses,
}

/// Builds the predicate `cosign attest --type name` would build from
/// `document` (`cosign/pkg/cosign/attestation`), after checking it:
/// `custom` (and its URI) wraps the file's text as `{"Data": TEXT,
/// "Timestamp": timestamp}`, `spdx` stores the document's text as a JSON
/// string (tag-value or JSON SPDX), and every other type is the JSON document
/// itself.
pub fn encode(name: &str, document: Vec<u8>, timestamp: &str) -> Result<Encoded, PredicateError> {
    let predicate_type = resolve_type(name)?;
    let mut lapses = Lapses::new();
    let json = if predicate_type == COSIGN_CUSTOM {
        let text = String::from_utf8(document).map_err(|_| PredicateError::NotText)?;
        serde_json::to_vec(&serde_json::json!({"Data": text, "Timestamp": timestamp}))
            .map_err(|e| PredicateError::Json(e.to_string()))?
    } else if name.eq_ignore_ascii_case("spdx") {
        let text = String::from_utf8(document).map_err(|_| PredicateError::NotText)?;
        if text.trim_start().starts_with('{') {
            sbom::validate_spdx(text.as_bytes())?;
        } else if !text.lines().any(|l| l.trim_start().starts_with("SPDXVersion:")) {
            return Err(PredicateError::Missing {
                kind: "SPDX tag-value",
                field: "SPDXVersion",
            });
        }
        serde_json::to_vec(&text).map_err(|e| PredicateError::Json(e.to_string()))?
    } else {
        lapses = validate(&predicate_type, &document)?;
        document
    };
    Ok(Encoded {
        predicate_type,
        json,
        lapses,
    })
}

/// Fields a specification requires that a predicate lacks, where real
/// producers omit them and the ecosystem's verifiers accept the predicate
/// anyway; sigil accepts it too and says so.
pub type Lapses = Vec<PredicateError>;

/// Checks `predicate` (JSON text) for the kind `predicate_type` names, and
/// returns what it lacks but is tolerated ([`Lapses`]). Predicate types sigil
/// has no schema for must still be a JSON object.
pub fn validate(predicate_type: &str, predicate: &[u8]) -> Result<Lapses, PredicateError> {
    let strict = match predicate_type {
        SPDX => sbom::validate_spdx(predicate),
        CYCLONEDX => sbom::validate_cyclonedx(predicate),
        SLSA_PROVENANCE_V1 => slsa::validate_v1(predicate),
        SLSA_PROVENANCE_V02 => return slsa::validate_v02(predicate),
        IN_TOTO_LINK_V1 => validate_link(predicate),
        _ => object(predicate).map(|_| ()),
    };
    strict.map(|()| Lapses::new())
}

/// An in-toto link must have every member cosign requires of one.
fn validate_link(predicate: &[u8]) -> Result<(), PredicateError> {
    let link = object(predicate)?;
    for field in [
        "_type",
        "name",
        "materials",
        "products",
        "byproducts",
        "command",
        "environment",
    ] {
        if !link.contains_key(field) {
            return Err(PredicateError::Missing {
                kind: "in-toto link",
                field,
            });
        }
    }
    Ok(())
}

pub(crate) fn parse<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, PredicateError> {
    serde_json::from_slice(bytes).map_err(|e| PredicateError::Json(e.to_string()))
}

fn object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, PredicateError> {
    match parse::<Value>(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(PredicateError::NotAnObject),
    }
}

/// `value` when it is a non-empty string, else `Missing`.
pub(crate) fn nonempty(
    value: Option<String>,
    kind: &'static str,
    field: &'static str,
) -> Result<String, PredicateError> {
    match value {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(PredicateError::Missing { kind, field }),
    }
}

/// A JSON string at a path of object keys, if present.
#[cfg(test)]
pub(crate) fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key))?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(path: &str) -> Vec<u8> {
        crate::testdata::read(path)
    }

    #[test]
    fn short_names_and_uris() {
        // cosign's meanings: slsaprovenance is v0.2, spdx and spdxjson one URI.
        assert_eq!(resolve_type("slsaprovenance").as_deref(), Ok(SLSA_PROVENANCE_V02));
        assert_eq!(resolve_type("slsaprovenance02").as_deref(), Ok(SLSA_PROVENANCE_V02));
        assert_eq!(resolve_type("slsaprovenance1").as_deref(), Ok(SLSA_PROVENANCE_V1));
        assert_eq!(resolve_type("spdx").as_deref(), Ok(SPDX));
        assert_eq!(resolve_type("link").as_deref(), Ok(IN_TOTO_LINK_V1));
        assert_eq!(resolve_type("custom").as_deref(), Ok(COSIGN_CUSTOM));
        assert_eq!(resolve_type("SPDXJSON").as_deref(), Ok(SPDX));
        assert_eq!(
            resolve_type("https://example.com/p/v1").as_deref(),
            Ok("https://example.com/p/v1")
        );
        for bad in ["", "sbom", "https:", "1http://x", "has space:x y"] {
            let r = resolve_type(bad);
            assert!(matches!(r, Err(PredicateError::UnknownType(_))), "{bad}: {r:?}");
        }
    }

    #[test]
    fn predicates_are_built_as_cosign_builds_them() {
        let at = "2026-12-03T10:00:00Z";
        let custom = encode("custom", b"any text\n".to_vec(), at).expect("custom");
        assert_eq!(custom.predicate_type, COSIGN_CUSTOM);
        let wrapped: Value = serde_json::from_slice(&custom.json).expect("json");
        assert_eq!(wrapped, serde_json::json!({"Data": "any text\n", "Timestamp": at}));
        // The custom URI spelled out wraps too; another URI is the JSON itself.
        assert_eq!(encode(COSIGN_CUSTOM, b"x".to_vec(), at).expect("uri").json, {
            serde_json::to_vec(&serde_json::json!({"Data": "x", "Timestamp": at})).expect("json")
        });
        assert_eq!(
            encode("https://example.com/p/v1", b"{\"a\":1}".to_vec(), at)
                .expect("uri")
                .json,
            b"{\"a\":1}"
        );
        assert_eq!(
            encode("https://example.com/p/v1", b"not json".to_vec(), at).map(|_| ()),
            Err(PredicateError::Json("expected ident at line 1 column 2".into()))
        );
        // spdx: the text as a JSON string, JSON or tag-value; spdxjson: the object.
        let document = shared("sbom/guac/alpine-spdx.json");
        let text = encode("spdx", document.clone(), at).expect("spdx");
        assert_eq!(text.predicate_type, SPDX);
        let string: String = serde_json::from_slice(&text.json).expect("a JSON string");
        assert_eq!(string.as_bytes(), document.as_slice());
        assert_eq!(
            encode("spdxjson", document.clone(), at).expect("spdxjson").json,
            document
        );
        let tag_value = b"SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n".to_vec();
        assert!(encode("spdx", tag_value, at).is_ok());
        for bad in [
            b"hello".to_vec(),
            shared("sbom/guac/alpine-cyclonedx.json"),
            vec![0xff, 0xfe],
        ] {
            assert!(encode("spdx", bad, at).is_err());
        }
        // link: cosign requires every member of an in-toto link.
        let link = br#"{"_type":"link","name":"build","materials":{},"products":{},"byproducts":{},"command":[],"environment":{}}"#;
        assert_eq!(
            encode("link", link.to_vec(), at).expect("link").predicate_type,
            IN_TOTO_LINK_V1
        );
        assert_eq!(
            encode("link", br#"{"_type":"link","name":"build"}"#.to_vec(), at),
            Err(PredicateError::Missing {
                kind: "in-toto link",
                field: "materials"
            })
        );
        // slsaprovenance is checked as v0.2, slsaprovenance1 as v1.
        let v02: Value = serde_json::from_slice(&shared("slsa/v0.2/github-actions-npm-sigstore-1.3.0.statement.json"))
            .expect("json");
        let v02 = v02["predicate"].to_string().into_bytes();
        assert!(encode("slsaprovenance", v02.clone(), at).is_ok());
        assert!(encode("slsaprovenance1", v02, at).is_err());
    }

    #[test]
    fn real_documents_pass() {
        validate(SPDX, &shared("sbom/guac/alpine-spdx.json")).expect("SPDX 2.2");
        validate(SPDX, &shared("sbom/guac/oci-kubectl-linux-amd64-spdx-1.json")).expect("SPDX 2.3");
        validate(SPDX, &shared("sbom/cosign/bom-go-mod.spdx.json")).expect("cosign SPDX");
        validate(CYCLONEDX, &shared("sbom/guac/alpine-cyclonedx.json")).expect("CycloneDX 1.4");
        validate(CYCLONEDX, &shared("sbom/cosign/bom-go-mod.cyclonedx.json")).expect("cosign CycloneDX");
        let statement: Value =
            serde_json::from_slice(&shared("slsa/v1/github-actions-npm-sigstore-2.0.0.statement.json")).expect("json");
        validate(SLSA_PROVENANCE_V1, statement["predicate"].to_string().as_bytes()).expect("SLSA v1");
        let statement: Value =
            serde_json::from_slice(&shared("slsa/v0.2/github-actions-npm-sigstore-1.3.0.statement.json"))
                .expect("json");
        validate(SLSA_PROVENANCE_V02, statement["predicate"].to_string().as_bytes()).expect("SLSA v0.2");
        validate(COSIGN_VULN, &shared("sbom/cosign/vuln-predicate.json")).expect("object");
    }

    #[test]
    fn wrong_kinds_and_truncations_name_the_field() {
        let cdx = shared("sbom/guac/alpine-cyclonedx.json");
        assert_eq!(
            validate(SPDX, &cdx),
            Err(PredicateError::Missing {
                kind: "SPDX",
                field: "spdxVersion"
            })
        );
        let spdx = shared("sbom/guac/alpine-spdx.json");
        assert_eq!(
            validate(CYCLONEDX, &spdx),
            Err(PredicateError::Missing {
                kind: "CycloneDX",
                field: "bomFormat"
            })
        );
        assert!(matches!(
            validate(SPDX, &spdx[..spdx.len() / 2]),
            Err(PredicateError::Json(_))
        ));
        assert!(matches!(
            validate("https://x/y", b"[1]"),
            Err(PredicateError::NotAnObject)
        ));
        let mut v1: Value =
            serde_json::from_slice(&shared("slsa/v1/github-actions-npm-sigstore-2.0.0.statement.json")).expect("json");
        v1["predicate"]["runDetails"]["builder"]
            .as_object_mut()
            .expect("builder")
            .remove("id");
        assert_eq!(
            validate(SLSA_PROVENANCE_V1, v1["predicate"].to_string().as_bytes()),
            Err(PredicateError::Missing {
                kind: "SLSA provenance v1",
                field: "runDetails.builder.id"
            })
        );
        let old = br#"{"spdxVersion":"SPDX-2.1","SPDXID":"SPDXRef-DOCUMENT"}"#;
        assert!(matches!(
            validate(SPDX, old),
            Err(PredicateError::Invalid {
                field: "spdxVersion",
                ..
            })
        ));
    }

    #[test]
    fn in_toto_attestation_vectors_agree() {
        let cases: Value = serde_json::from_slice(&shared("slsa/cases.json")).expect("cases");
        let mut checked = 0;
        for case in cases["cases"].as_array().expect("cases") {
            let (Some(file), Some(expect)) = (case["file"].as_str(), case["expect_valid"].as_bool()) else {
                continue;
            };
            if !file.contains("in-toto-attestation/predicate-") {
                continue;
            }
            let result = validate(SLSA_PROVENANCE_V1, &shared(&format!("slsa/{file}")));
            assert_eq!(result.is_ok(), expect, "{file}: {result:?}");
            checked += 1;
        }
        assert_eq!(checked, 7);
    }

    #[test]
    fn real_producers_statements_are_accepted_and_lapses_named() {
        let cases: Value = serde_json::from_slice(&shared("slsa/cases.json")).expect("cases");
        let mut checked = 0;
        for case in cases["cases"].as_array().expect("cases") {
            let (Some(file), Some(true)) = (case["file"].as_str(), case["real"].as_bool()) else {
                continue;
            };
            let statement: Value = serde_json::from_slice(&shared(&format!("slsa/{file}"))).expect("json");
            let kind = statement["predicateType"].as_str().expect("predicateType");
            let result = validate(kind, statement["predicate"].to_string().as_bytes());
            assert_eq!(
                Some(result.is_ok()),
                case["expect_valid"].as_bool(),
                "{file}: {result:?}"
            );
            checked += 1;
        }
        assert!(checked >= 4, "{checked} real statements");
        // Kubernetes' v1.28.1 release provenance has no buildType: accepted, said.
        let k8s: Value =
            serde_json::from_slice(&shared("slsa/v0.2/kubernetes-kubectl-v1.28.1.statement.json")).expect("json");
        let lapses = validate(SLSA_PROVENANCE_V02, k8s["predicate"].to_string().as_bytes()).expect("accepted");
        assert_eq!(
            lapses,
            [PredicateError::Missing {
                kind: "SLSA provenance v0.2",
                field: "buildType"
            }]
        );
        // Its twin without a builder id is refused: policies read that field.
        let mut no_builder = k8s["predicate"].clone();
        no_builder["builder"].as_object_mut().expect("builder").remove("id");
        assert_eq!(
            validate(SLSA_PROVENANCE_V02, no_builder.to_string().as_bytes()),
            Err(PredicateError::Missing {
                kind: "SLSA provenance v0.2",
                field: "builder.id"
            })
        );
    }
}
