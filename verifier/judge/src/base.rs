//! Base images: the image an image was built *from*, as its manifest's OCI
//! annotations name it (`org.opencontainers.image.base.name` / `.digest`)
//! and as a SLSA provenance lists it among its resolved dependencies
//! (BuildKit writes `pkg:docker/NAME@VERSION?platform=...` with a sha256
//! digest). Read here once for both readers: `sigil audit`, which shows the
//! chain, and the policy's `baseImage` requirement, which holds the base to
//! the policy.
//!
//! Nothing here is trusted by itself: the annotations are as trustworthy as
//! the signature over the manifest digest that carries them, and a
//! provenance only once it verified.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::digest::Digest;
use crate::predicate::sbom;

/// Annotation naming an image's base (OCI image spec).
pub const BASE_NAME_ANNOTATION: &str = "org.opencontainers.image.base.name";
/// Annotation giving the digest of an image's base (OCI image spec).
pub const BASE_DIGEST_ANNOTATION: &str = "org.opencontainers.image.base.digest";
/// At most this many base images are read from one provenance.
pub const MAX_BASES: usize = 16;

/// A base image an image names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseImage {
    /// `annotation` or `provenance`.
    pub source: &'static str,
    /// The repository as named (a provenance's without tag or digest; an
    /// annotation's as written, possibly with a tag).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// The base the manifest annotations name, if they name one (a name, a
/// digest, or both; an unparsable digest counts as none).
pub fn annotated(annotations: &BTreeMap<String, String>) -> Option<BaseImage> {
    let name = annotations.get(BASE_NAME_ANNOTATION);
    let digest = annotations
        .get(BASE_DIGEST_ANNOTATION)
        .and_then(|d| d.parse::<Digest>().ok());
    if name.is_none() && digest.is_none() {
        return None;
    }
    Some(BaseImage {
        source: "annotation",
        name: name.cloned().unwrap_or_default(),
        digest,
    })
}

/// Container images a provenance predicate names by digest among its
/// resolved dependencies: v1 `buildDefinition.resolvedDependencies`, v0.2
/// `materials`; at most [`MAX_BASES`].
pub fn from_provenance(predicate: &Value) -> Vec<BaseImage> {
    let deps = predicate
        .pointer("/buildDefinition/resolvedDependencies")
        .or_else(|| predicate.get("materials"))
        .and_then(Value::as_array);
    let mut out = Vec::new();
    for dep in deps.into_iter().flatten() {
        if out.len() >= MAX_BASES {
            break;
        }
        let Some(uri) = dep.get("uri").and_then(Value::as_str) else {
            continue;
        };
        let Some(rest) = uri.strip_prefix("pkg:docker/") else {
            continue;
        };
        let Some(digest) = dep
            .pointer("/digest/sha256")
            .and_then(Value::as_str)
            .and_then(|hex| format!("sha256:{hex}").parse::<Digest>().ok())
        else {
            continue;
        };
        let path = rest.split(['?', '#']).next().unwrap_or(rest);
        let name = match path.rsplit_once('@') {
            Some((name, _version)) => name,
            None => path,
        };
        let name = sbom::Purl::parse(&format!("pkg:docker/{name}"))
            .map(|p| {
                if p.namespace.is_empty() {
                    p.name
                } else {
                    format!("{}/{}", p.namespace, p.name)
                }
            })
            .unwrap_or_else(|| name.to_owned());
        let base = BaseImage {
            source: "provenance",
            name,
            digest: Some(digest),
        };
        if !out.contains(&base) {
            out.push(base);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_bases_need_a_docker_purl_and_a_sha256() {
        let hex = "a".repeat(64);
        let predicate = serde_json::json!({"buildDefinition": {"resolvedDependencies": [
            {"uri": "pkg:docker/alpine@3.19?platform=linux%2Famd64", "digest": {"sha256": hex}},
            {"uri": "pkg:docker/alpine@3.19?platform=linux%2Farm64", "digest": {"sha256": hex}},
            {"uri": "pkg:docker/cgr.dev/chainguard/static@latest", "digest": {"sha512": hex}},
            {"uri": "git+https://github.com/acme/app", "digest": {"sha256": hex}},
        ]}});
        let bases = from_provenance(&predicate);
        assert_eq!(bases.len(), 1, "{bases:?}");
        assert_eq!(bases[0].name, "alpine");
        assert_eq!(
            bases[0].digest.as_ref().map(ToString::to_string),
            Some(format!("sha256:{hex}"))
        );
    }

    #[test]
    fn annotations_name_a_base_only_with_a_name_or_a_parsable_digest() {
        let mut a = BTreeMap::new();
        assert_eq!(annotated(&a), None);
        a.insert(BASE_DIGEST_ANNOTATION.to_owned(), "sha256:zz".to_owned());
        assert_eq!(annotated(&a), None);
        a.insert(BASE_NAME_ANNOTATION.to_owned(), "alpine:3".to_owned());
        let base = annotated(&a).expect("named");
        assert_eq!((base.name.as_str(), base.digest), ("alpine:3", None));
    }
}
