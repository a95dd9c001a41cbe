//! AdmissionReview v1 in and out (`admission.k8s.io/v1`).
//!
//! PLACEHOLDER: helper A fills in `parse` and `respond`.

use std::collections::BTreeMap;

use serde_json::Value;

/// What an AdmissionReview request asks, as far as sigil reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Review {
    /// The request's `apiVersion`, echoed in the answer.
    pub api_version: String,
    /// `request.uid`, echoed as `response.uid`.
    pub uid: String,
    /// `request.kind`: the kind of the object admitted.
    pub kind: GroupVersionKind,
    /// `request.subResource` (`ephemeralcontainers` for `pods/ephemeralcontainers`).
    pub sub_resource: Option<String>,
    pub operation: Operation,
    pub namespace: Option<String>,
    /// `request.object`: `None` when absent or `null` (DELETE).
    pub object: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupVersionKind {
    pub group: String,
    pub version: String,
    pub kind: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
    Connect,
}

/// Why a body is not an AdmissionReview (HTTP 400, this as the body).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ReviewError(pub String);

/// The answer to one review.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub allowed: bool,
    /// `status.message` (with `status.code` 403) when not allowed.
    pub message: Option<String>,
    /// `response.warnings`, each under 256 characters.
    pub warnings: Vec<String>,
    /// `response.auditAnnotations`.
    pub audit_annotations: BTreeMap<String, String>,
    /// The JSON Patch, base64 in `response.patch` with `patchType: JSONPatch`;
    /// neither field when empty.
    pub patch: Vec<crate::patch::Replace>,
}

// STUBS until helper A's module lands.
pub fn parse(_body: &[u8]) -> Result<Review, ReviewError> {
    Err(ReviewError("stub".into()))
}
pub fn respond(_review: &Review, _answer: &Answer) -> Vec<u8> {
    Vec::new()
}
