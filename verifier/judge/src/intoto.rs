//! in-toto statements: what an attestation (or a cosign v3 image signature)
//! says about which artifacts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::digest::Digest;

pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// cosign v3's image-signature predicate type.
pub const COSIGN_SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

/// An in-toto statement (v1 or v0.1). The predicate is kept as the exact
/// JSON text it arrived as (SBOMs run to tens of megabytes): parse it on
/// demand with [`Statement::predicate_as`].
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: String,
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    #[serde(default = "null_predicate")]
    pub predicate: Box<RawValue>,
}

fn null_predicate() -> Box<RawValue> {
    empty_predicate(b"null")
}

/// A predicate from JSON text sigil produced itself (always valid JSON).
pub fn empty_predicate(json: &'static [u8]) -> Box<RawValue> {
    // Invariant: callers pass literal JSON values such as `{}` or `null`.
    serde_json::from_slice(json).unwrap_or_else(|_| RawValue::NULL.to_owned())
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
    pub fn about(name: &str, digest: &Digest, predicate_type: &str, predicate: Box<RawValue>) -> Statement {
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

    /// [`Statement::parse`] of a payload the statement may take over: the
    /// predicate's text is moved to the front of the payload's buffer and
    /// kept there, so a predicate of tens of megabytes is held once, not
    /// copied out of its payload. Accepts and refuses exactly what
    /// [`Statement::parse`] does, with the same errors.
    pub fn parse_owned(payload: Vec<u8>) -> Result<Statement, StatementError> {
        let json = |e: serde_json::Error| StatementError::Json(e.to_string());
        let head: borrowed::Statement<'_> = serde_json::from_slice(&payload).map_err(json)?;
        if head.type_ != STATEMENT_V1 && head.type_ != STATEMENT_V01 {
            return Err(StatementError::UnknownType(head.type_));
        }
        if head.subject.is_empty() {
            return Err(StatementError::NoSubject);
        }
        // Where the predicate's text lies in the payload (it borrows from it).
        let range = head.predicate.map(|raw| {
            let start = (raw.get().as_ptr() as usize).saturating_sub(payload.as_ptr() as usize);
            start..start + raw.get().len()
        });
        let (type_, subject, predicate_type) = (head.type_, head.subject, head.predicate_type);
        let predicate = match range {
            // `null` or absent, as `parse` reads it.
            None => null_predicate(),
            Some(range) => {
                let text = match String::from_utf8(payload) {
                    Ok(mut text) => {
                        text.truncate(range.end);
                        text.drain(..range.start);
                        text
                    }
                    // Bytes outside the predicate that are no UTF-8 (in a
                    // skipped field): the predicate, which is, is copied.
                    Err(e) => String::from_utf8_lossy(&e.as_bytes()[range]).into_owned(),
                };
                RawValue::from_string(text).map_err(json)?
            }
        };
        Ok(Statement {
            type_,
            subject,
            predicate_type,
            predicate,
        })
    }

    /// The JSON of a v1 statement about one image whose predicate is
    /// `predicate` verbatim (already checked to be JSON): built directly, so
    /// a large SBOM is copied once, not parsed into a tree and re-serialised.
    pub fn encode_raw(name: &str, digest: &Digest, predicate_type: &str, predicate: &[u8]) -> Vec<u8> {
        let mut head = String::with_capacity(256);
        head.push_str(r#"{"_type":"#);
        crate::json::go_string(&mut head, STATEMENT_V1);
        head.push_str(r#","subject":[{"name":"#);
        crate::json::go_string(&mut head, name);
        head.push_str(r#","digest":{"#);
        crate::json::go_string(&mut head, digest.algorithm().name());
        head.push(':');
        crate::json::go_string(&mut head, digest.hex());
        head.push_str(r#"}}],"predicateType":"#);
        crate::json::go_string(&mut head, predicate_type);
        head.push_str(r#","predicate":"#);
        let predicate = predicate.trim_ascii();
        let mut out = Vec::with_capacity(head.len() + predicate.len() + 1);
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(predicate);
        out.push(b'}');
        out
    }

    /// The predicate parsed as `T`.
    pub fn predicate_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, StatementError> {
        serde_json::from_str(self.predicate.get()).map_err(|e| StatementError::Json(e.to_string()))
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

mod borrowed {
    //! [`super::Statement`] with its predicate borrowed from the payload,
    //! named alike so that serde's messages are the same.
    use super::*;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Statement<'a> {
        #[serde(rename = "_type")]
        pub(super) type_: String,
        pub(super) subject: Vec<Subject>,
        pub(super) predicate_type: String,
        #[serde(borrow, default)]
        pub(super) predicate: Option<&'a RawValue>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matching_is_exact() {
        let d = Digest::sha256_of(b"a");
        let other = Digest::sha256_of(b"b");
        let s = Statement::about("r/a", &d, COSIGN_SIGN_V1, empty_predicate(b"{}"));
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
    fn parse_owned_reads_and_refuses_what_parse_does() {
        let d = Digest::sha256_of(b"a");
        let head = format!(
            r#"{{"_type":"{STATEMENT_V1}","subject":[{{"name":"r/a","digest":{{"sha256":"{}"}}}}]"#,
            d.hex()
        );
        let mut cases: Vec<Vec<u8>> = [
            format!(r#"{head},"predicateType":"t","predicate":{{"components":[{{"name":"a\"b\u00e9"}}]}}}}"#),
            format!(r#"{head},"predicate": [1, 2] ,"predicateType":"t"}}"#),
            format!(r#"{head},"predicateType":"t","predicate":null}}"#),
            format!(r#"{head},"predicateType":"t"}}"#),
            format!(r#"{head},"predicateType":"t","predicate":"text"}}"#),
            format!(r#"{head},"predicateType":"t","predicate":{{}},"predicate":{{}}}}"#),
            format!(r#"{head},"predicateType":"t","predicate":{{"a":1e400}}}}"#),
            format!(r#"{head},"predicateType":"t","predicate":{{"a":1}}}} x"#),
            format!(r#"{head},"predicateType":"t","predicate":{{"a":1}}"#),
            r#"{"_type":"https://in-toto.io/Statement/v9","subject":[],"predicateType":"t"}"#.to_owned(),
            format!(r#"{{"_type":"{STATEMENT_V01}","subject":[],"predicateType":"t"}}"#),
            "[]".to_owned(),
            "{}".to_owned(),
        ]
        .map(String::into_bytes)
        .to_vec();
        // bytes that are not UTF-8 in a field nobody reads
        let mut latin1 = format!(r#"{head},"x":"caf"#).into_bytes();
        latin1.push(0xE9);
        latin1.extend_from_slice(br#"","predicateType":"t","predicate":{"k":"v"}}"#);
        cases.push(latin1);
        let mut accepted = 0;
        for case in cases {
            let want = Statement::parse(&case);
            let got = Statement::parse_owned(case.clone());
            let text = String::from_utf8_lossy(&case);
            match (&want, &got) {
                (Ok(w), Ok(g)) => {
                    assert_eq!(g.to_json(), w.to_json(), "{text}");
                    assert_eq!(g.predicate.get(), w.predicate.get(), "{text}");
                    accepted += 1;
                }
                (Err(w), Err(g)) => assert_eq!(g, w, "{text}"),
                _ => panic!("{text}: parse gave {want:?}, parse_owned {got:?}"),
            }
        }
        assert!(accepted >= 5, "{accepted}");
    }

    #[test]
    fn rejects_unknown_types_and_empty_subjects() {
        let d = Digest::sha256_of(b"a");
        let mut s = Statement::about("r/a", &d, COSIGN_SIGN_V1, empty_predicate(b"null"));
        s.type_ = "https://in-toto.io/Statement/v9".into();
        assert!(matches!(
            Statement::parse(&s.to_json()),
            Err(StatementError::UnknownType(_))
        ));
        s.type_ = STATEMENT_V01.into();
        s.subject.clear();
        assert!(matches!(Statement::parse(&s.to_json()), Err(StatementError::NoSubject)));
    }
}
