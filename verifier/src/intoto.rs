//! in-toto statements: what an attestation (or a cosign v3 image signature)
//! says about which artifacts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::digest::Digest;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// cosign v3's image-signature predicate type.
pub const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

/// An in-toto statement (v1 or v0.1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    #[serde(default)]
    pub predicate: Value,
}

/// A statement subject: a name and its digests by algorithm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default)]
    pub name: String,
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Why bytes are not a statement sigil accepts.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatementError {
    #[error("in-toto statement is not valid JSON of the expected shape: {0}")]
    Json(String),
    #[error("unknown in-toto statement type {0:?}")]
    UnknownType(String),
    #[error("in-toto statement has no subjects")]
    NoSubject,
}

impl Statement {
    /// A v1 statement about one image.
    pub fn about(name: &str, digest: &Digest, predicate_type: &str, predicate: Value) -> Statement {
        Statement {
            type_: STATEMENT_V1.to_owned(),
            subject: vec![Subject {
                name: name.to_owned(),
                digest: BTreeMap::from([(digest.algorithm().name().to_owned(), digest.hex().to_owned())]),
                annotations: BTreeMap::new(),
            }],
            predicate_type: predicate_type.to_owned(),
            predicate,
        }
    }

    /// Parses a statement and checks its type and that it has subjects.
    pub fn parse(bytes: &[u8]) -> Result<Statement, StatementError> {
        let s: Statement = serde_json::from_slice(bytes).map_err(|e| StatementError::Json(e.to_string()))?;
        if s.type_ != STATEMENT_V1 && s.type_ != STATEMENT_V01 {
            return Err(StatementError::UnknownType(s.type_));
        }
        if s.subject.is_empty() {
            return Err(StatementError::NoSubject);
        }
        Ok(s)
    }

    /// The subject whose digest is `digest`, if any (hex compared exactly, lower case).
    pub fn subject_for(&self, digest: &Digest) -> Option<&Subject> {
        self.subject.iter().find(|s| {
            s.digest
                .get(digest.algorithm().name())
                .is_some_and(|h| h == digest.hex())
        })
    }

    pub fn to_json(&self) -> Vec<u8> {
        crate::oci::to_bytes(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matching_is_exact() {
        let d = Digest::sha256_of(b"a");
        let other = Digest::sha256_of(b"b");
        let s = Statement::about("r/a", &d, COSIGN_SIGN_V1, serde_json::json!({}));
        let parsed = Statement::parse(&s.to_json()).expect("parses");
        assert!(parsed.subject_for(&d).is_some());
        assert!(parsed.subject_for(&other).is_none());
        let mut upper = parsed.clone();
        upper.subject[0]
            .digest
            .insert("sha256".into(), d.hex().to_ascii_uppercase());
        assert!(upper.subject_for(&d).is_none());
    }

    #[test]
    fn rejects_unknown_types_and_empty_subjects() {
        let d = Digest::sha256_of(b"a");
        let mut s = Statement::about("r/a", &d, COSIGN_SIGN_V1, Value::Null);
        s.type_ = "https://in-toto.io/Statement/v9".into();
        assert!(matches!(
            Statement::parse(&s.to_json()),
            Err(StatementError::UnknownType(_))
        ));
        s.type_ = STATEMENT_V01.into();
        s.subject.clear();
        assert_eq!(Statement::parse(&s.to_json()), Err(StatementError::NoSubject));
    }
}
