//! Predicates: their type URIs and short names, and the checks a predicate
//! must pass before sigil signs it (an attestation that claims to be an SBOM
//! or provenance must be a well-formed document of that kind, or nothing is
//! pushed). A predicate family with more than a shape check has its own
//! module holding its validation and the typed view the policy reads:
//! [`slsa`], [`sbom`], [`vuln`].

pub mod sbom;
pub mod slsa;
pub mod view;
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

/// The short names `--type` accepts, and the URIs they stand for.
pub const SHORT_NAMES: [(&str, &str); 9] = [
    ("slsaprovenance1", SLSA_PROVENANCE_V1),
    ("slsaprovenance", SLSA_PROVENANCE_V1),
    ("slsaprovenance02", SLSA_PROVENANCE_V02),
    ("spdxjson", SPDX),
    ("cyclonedx", CYCLONEDX),
    ("vuln", COSIGN_VULN),
    ("openvex", OPENVEX),
    ("vsa", SLSA_VSA),
    ("custom", COSIGN_CUSTOM),
];

/// Why a predicate type or predicate is refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PredicateError {
    #[error(
        "unknown predicate type {0:?}: use one of slsaprovenance1, slsaprovenance02, spdxjson, cyclonedx, vuln, openvex, vsa, custom, or a URI such as https://example.com/my-predicate/v1"
    )]
    UnknownType(String),
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

/// Checks `predicate` (JSON text) for the kind `predicate_type` names.
/// Predicate types sigil has no schema for must still be a JSON object.
pub fn validate(predicate_type: &str, predicate: &[u8]) -> Result<(), PredicateError> {
    match predicate_type {
        SPDX => sbom::validate_spdx(predicate),
        CYCLONEDX => sbom::validate_cyclonedx(predicate),
        SLSA_PROVENANCE_V1 => slsa::validate_v1(predicate),
        SLSA_PROVENANCE_V02 => slsa::validate_v02(predicate),
        _ => object(predicate).map(|_| ()),
    }
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
        assert_eq!(resolve_type("slsaprovenance").as_deref(), Ok(SLSA_PROVENANCE_V1));
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
}
