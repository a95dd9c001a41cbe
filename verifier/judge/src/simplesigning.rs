//! The cosign "simple signing" payload: what a `.sig` layer's signature covers.
//!
//! Written byte-for-byte as cosign writes it (compact JSON, fixed field order,
//! Go string escaping); read leniently (field names in any case) because older
//! producers wrote `Critical` and `Docker-manifest-digest`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::digest::Digest;
use crate::json::{field, go_string};

/// The `critical.type` cosign writes.
pub const COSIGN_TYPE: &str = "cosign container image signature";

/// A parsed simple-signing payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    /// `critical.identity.docker-reference`: advisory, mirrors change it.
    pub docker_reference: Option<String>,
    /// `critical.image.docker-manifest-digest`: the image the signature binds.
    pub manifest_digest: Digest,
    /// `optional`: annotations, string values only (others are kept as JSON text).
    pub annotations: BTreeMap<String, String>,
}

/// Why bytes are not a simple-signing payload.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("payload is not JSON: {0}")]
    Json(String),
    #[error("payload lacks {0}")]
    Missing(&'static str),
    #[error("payload has type {0:?}, not {COSIGN_TYPE:?}")]
    WrongType(String),
    #[error("payload's docker-manifest-digest is invalid: {0}")]
    Digest(String),
}

/// The payload cosign signs for `docker_reference` (repository, no tag) at `digest`.
pub fn payload(docker_reference: &str, digest: &Digest, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"critical":{"identity":{"docker-reference":"#);
    go_string(&mut out, docker_reference);
    out.push_str(r#"},"image":{"docker-manifest-digest":"#);
    go_string(&mut out, &digest.to_string());
    out.push_str(r#"},"type":"#);
    go_string(&mut out, COSIGN_TYPE);
    out.push_str(r#"},"optional":"#);
    if annotations.is_empty() {
        out.push_str("null");
    } else {
        out.push('{');
        for (i, (k, v)) in annotations.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            go_string(&mut out, k);
            out.push(':');
            go_string(&mut out, v);
        }
        out.push('}');
    }
    out.push('}');
    out.into_bytes()
}

impl Payload {
    /// Parses payload bytes (the exact bytes that were signed).
    pub fn parse(bytes: &[u8]) -> Result<Payload, PayloadError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| PayloadError::Json(e.to_string()))?;
        let critical = field(&value, "critical").ok_or(PayloadError::Missing("critical"))?;
        let kind = field(critical, "type")
            .and_then(Value::as_str)
            .ok_or(PayloadError::Missing("critical.type"))?;
        if !kind.eq_ignore_ascii_case(COSIGN_TYPE) {
            return Err(PayloadError::WrongType(kind.to_owned()));
        }
        let digest = field(critical, "image")
            .and_then(|i| field(i, "docker-manifest-digest"))
            .and_then(Value::as_str)
            .ok_or(PayloadError::Missing("critical.image.docker-manifest-digest"))?;
        let manifest_digest = digest
            .parse()
            .map_err(|e: crate::digest::DigestError| PayloadError::Digest(e.to_string()))?;
        let docker_reference = field(critical, "identity")
            .and_then(|i| field(i, "docker-reference"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let annotations = match field(&value, "optional") {
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect(),
            _ => BTreeMap::new(),
        };
        Ok(Payload {
            docker_reference,
            manifest_digest,
            annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn writes_exactly_what_cosign_writes() {
        let d: Digest = D.parse().expect("digest");
        let p = payload("localhost:5000/app", &d, &BTreeMap::new());
        assert_eq!(
            String::from_utf8(p).expect("utf8"),
            format!(
                r#"{{"critical":{{"identity":{{"docker-reference":"localhost:5000/app"}},"image":{{"docker-manifest-digest":"{D}"}},"type":"cosign container image signature"}},"optional":null}}"#
            )
        );
        let ann = BTreeMap::from([("z".to_owned(), "1".to_owned()), ("a".to_owned(), "<x>".to_owned())]);
        let p = String::from_utf8(payload("r/a", &d, &ann)).expect("utf8");
        assert!(p.ends_with(r#""optional":{"a":"\u003cx\u003e","z":"1"}}"#), "{p}");
        let parsed = Payload::parse(p.as_bytes()).expect("parses");
        assert_eq!(parsed.annotations, ann);
        assert_eq!(parsed.manifest_digest, d);
    }

    #[test]
    fn reads_old_capitalisation() {
        let old = format!(
            r#"{{"Critical":{{"Identity":{{"Docker-reference":"r/a"}},"Image":{{"Docker-manifest-digest":"{D}"}},"Type":"cosign container image signature"}},"Optional":{{"n":5}}}}"#
        );
        let p = Payload::parse(old.as_bytes()).expect("parses");
        assert_eq!(p.manifest_digest.to_string(), D);
        assert_eq!(p.docker_reference.as_deref(), Some("r/a"));
        assert_eq!(p.annotations.get("n").map(String::as_str), Some("5"));
    }

    #[test]
    fn rejects_what_is_not_a_payload() {
        assert!(matches!(Payload::parse(b"{}"), Err(PayloadError::Missing("critical"))));
        let wrong_type = format!(
            r#"{{"critical":{{"image":{{"docker-manifest-digest":"{D}"}},"type":"atomic container signature"}}}}"#
        );
        assert!(matches!(
            Payload::parse(wrong_type.as_bytes()),
            Err(PayloadError::WrongType(_))
        ));
        let bad_digest = r#"{"critical":{"image":{"docker-manifest-digest":"sha256:zz"},"type":"cosign container image signature"}}"#;
        assert!(matches!(
            Payload::parse(bad_digest.as_bytes()),
            Err(PayloadError::Digest(_))
        ));
        assert!(matches!(Payload::parse(b"\xff"), Err(PayloadError::Json(_))));
    }
}
