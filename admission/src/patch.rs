//! Pinning verified images: RFC 6902 `replace` operations.
//!
//! `/mutate` pins each verified image that names a tag to the digest it was
//! verified at, so what the kubelet pulls is what sigil judged. The image is
//! kept as written with `@DIGEST` appended (`redis:7` becomes
//! `redis:7@sha256:…`): people still see the tag, and runtimes pull by the
//! digest. An image that already carries a digest is left alone.

use base64::Engine as _;
use serde_json::{Map, Value};
use sigil_verifier::digest::Digest;

use crate::images::FoundImage;

/// One `{"op":"replace","path":POINTER,"value":VALUE}` operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replace {
    pub pointer: String,
    pub value: String,
}

/// True when the image string carries a digest: `name@sha256:HEX` or
/// `name:tag@sha256:HEX`.
pub fn is_pinned(written: &str) -> bool {
    written
        .rsplit_once('@')
        .is_some_and(|(name, digest)| !name.is_empty() && digest.parse::<Digest>().is_ok())
}

/// The operation pinning `found` to `digest`, or `None` when it already
/// carries a digest.
pub fn pin(found: &FoundImage, digest: &Digest) -> Option<Replace> {
    if is_pinned(&found.written) {
        return None;
    }
    Some(Replace {
        pointer: found.pointer.clone(),
        value: format!("{}@{digest}", found.written),
    })
}

/// The JSON Patch `[{"op":"replace","path":…,"value":…}, …]`, base64
/// (standard alphabet, padded) as `response.patch` holds it.
pub fn encode(ops: &[Replace]) -> String {
    let array: Vec<Value> = ops
        .iter()
        .map(|op| {
            let mut member = Map::new();
            member.insert("op".into(), Value::String("replace".into()));
            member.insert("path".into(), Value::String(op.pointer.clone()));
            member.insert("value".into(), Value::String(op.value.clone()));
            Value::Object(member)
        })
        .collect();
    // Invariant: a Value has only string keys, so serialising it cannot fail.
    let json = serde_json::to_vec(&Value::Array(array)).expect("a serde_json::Value always serialises");
    base64::engine::general_purpose::STANDARD.encode(json)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "89102e348749bb17a6a651a4b2a17420e1a66d2a44a675b981973d49a5af3a5e";

    fn digest() -> Digest {
        format!("sha256:{HEX}").parse().expect("a valid digest")
    }

    fn found(written: &str) -> FoundImage {
        FoundImage {
            field: "spec.containers[0].image".into(),
            pointer: "/spec/containers/0/image".into(),
            written: written.into(),
        }
    }

    fn decode(patch: &str) -> String {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("standard base64");
        String::from_utf8(bytes).expect("UTF-8")
    }

    #[test]
    fn pinned_means_a_digest() {
        for pinned in [
            format!("nginx@sha256:{HEX}"),
            format!("nginx:v1.26@sha256:{HEX}"),
            format!("registry:5000/a/b:1@sha256:{HEX}"),
        ] {
            assert!(is_pinned(&pinned), "{pinned}");
        }
        for unpinned in [
            "nginx",
            "nginx:latest",
            "registry:5000/a/b:1",
            "nginx@",
            "nginx@sha256:abc",
            "nginx@latest",
            &format!("@sha256:{HEX}"),
        ] {
            assert!(!is_pinned(unpinned), "{unpinned}");
        }
    }

    #[test]
    fn pin_appends_the_digest_to_the_image_as_written() {
        assert_eq!(
            pin(&found("redis:7"), &digest()),
            Some(Replace {
                pointer: "/spec/containers/0/image".into(),
                value: format!("redis:7@sha256:{HEX}"),
            })
        );
        assert_eq!(
            pin(&found("alpine"), &digest()).map(|r| r.value),
            Some(format!("alpine@sha256:{HEX}"))
        );
        assert_eq!(
            pin(&found("registry:5000/a/b:1"), &digest()).map(|r| r.value),
            Some(format!("registry:5000/a/b:1@sha256:{HEX}"))
        );
    }

    #[test]
    fn pin_leaves_pinned_images_alone() {
        assert_eq!(pin(&found(&format!("nginx@sha256:{HEX}")), &digest()), None);
        assert_eq!(pin(&found(&format!("nginx:v1.26@sha256:{HEX}")), &digest()), None);
    }

    #[test]
    fn encode_is_base64_of_the_json_patch() {
        let ops = [
            Replace {
                pointer: "/spec/containers/0/image".into(),
                value: format!("redis:7@sha256:{HEX}"),
            },
            Replace {
                pointer: "/spec/volumes/2/image/reference".into(),
                value: "a\"b".into(),
            },
        ];
        let patch = encode(&ops);
        assert_eq!(
            decode(&patch),
            format!(
                r#"[{{"op":"replace","path":"/spec/containers/0/image","value":"redis:7@sha256:{HEX}"}},{{"op":"replace","path":"/spec/volumes/2/image/reference","value":"a\"b"}}]"#
            )
        );
        assert!(patch.len().is_multiple_of(4), "padded");
        assert_eq!(encode(&[]), "W10=");
    }
}
