//! AdmissionReview v1 in and out (`admission.k8s.io/v1`).
//!
//! The body is read **strictly**, because it is read twice: by sigil, which
//! decides, and by whoever else looks at the same bytes (the apiserver's
//! audit log, a second webhook, a person). A body two readers could read
//! differently is refused: a repeated object member anywhere (serde_json's
//! `Value` would silently keep the last one), trailing bytes after the
//! document, invalid UTF-8. Nesting deeper than serde_json's recursion limit
//! (128) is an error, not a stack overflow.
//!
//! Only what sigil needs is taken out of the request; every other member is
//! still parsed (and so checked for duplicates) but not kept. What is kept is
//! type-checked: a `request.uid` that is a number is an error, never "no uid".

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

/// The only AdmissionReview version sigil reads and writes.
pub const API_VERSION: &str = "admission.k8s.io/v1";
/// The most characters of a string from the body an error message repeats.
const MAX_SHOWN_CHARS: usize = 64;
/// The most characters the apiserver shows of one warning; longer ones are cut.
pub const MAX_WARNING_CHARS: usize = 255;

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
    /// `request.oldObject` (UPDATE): `None` when absent or `null`.
    pub old_object: Option<Value>,
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

impl Operation {
    /// The operation as Kubernetes writes it (`CREATE`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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

/// Reads an AdmissionReview v1 request.
///
/// Errors are one line saying what is wrong, for an HTTP 400 body; they read
/// as the end of a sentence such as `not an AdmissionReview v1: ERROR`
/// (`unreadable JSON: duplicate member "uid" at line 3 column 12`,
/// `no request.uid in the AdmissionReview`).
pub fn parse(body: &[u8]) -> Result<Review, ReviewError> {
    let document = strict_value(body).map_err(|e| ReviewError(format!("unreadable JSON: {e}")))?;
    let Value::Object(mut top) = document else {
        return Err(ReviewError(format!(
            "the body is {}, not a JSON object",
            describe(&document)
        )));
    };
    let api_version = match top.get("apiVersion") {
        Some(Value::String(v)) => v.clone(),
        Some(other) => return Err(wrong_type("apiVersion", "a string", other)),
        None if top.contains_key("uid") && top.contains_key("operation") => {
            return Err(ReviewError(
                "this is a bare AdmissionRequest; send it as the request member of an AdmissionReview".into(),
            ));
        }
        None => return Err(ReviewError("no apiVersion".into())),
    };
    let kind = match top.get("kind") {
        Some(Value::String(k)) => k,
        Some(other) => return Err(wrong_type("kind", "a string", other)),
        None => return Err(ReviewError("no kind".into())),
    };
    if kind != "AdmissionReview" {
        return Err(ReviewError(format!(
            "kind is {:?} (apiVersion {:?}), not AdmissionReview",
            shown(kind),
            shown(&api_version)
        )));
    }
    if api_version != API_VERSION {
        return Err(ReviewError(format!(
            "unsupported AdmissionReview apiVersion {:?}: only {API_VERSION} is read (set admissionReviewVersions: [\"v1\"] in the webhook configuration)",
            shown(&api_version)
        )));
    }
    // Taken out rather than copied: the object can be most of the body.
    let mut request = match top.remove("request") {
        Some(Value::Object(request)) => request,
        None | Some(Value::Null) => return Err(ReviewError("no request in the AdmissionReview".into())),
        Some(other) => return Err(wrong_type("request", "an object", &other)),
    };
    let uid = match request.get("uid") {
        Some(Value::String(uid)) if !uid.is_empty() => uid.clone(),
        Some(Value::String(_)) => return Err(ReviewError("request.uid is empty".into())),
        Some(other) => return Err(wrong_type("request.uid", "a string", other)),
        None => return Err(ReviewError("no request.uid in the AdmissionReview".into())),
    };
    let kind = group_version_kind(&request)?;
    let operation = match request.get("operation") {
        Some(Value::String(op)) => match op.as_str() {
            "CREATE" => Operation::Create,
            "UPDATE" => Operation::Update,
            "DELETE" => Operation::Delete,
            "CONNECT" => Operation::Connect,
            other => {
                return Err(ReviewError(format!(
                    "request.operation {:?} is not one of CREATE, UPDATE, DELETE, CONNECT",
                    shown(other)
                )));
            }
        },
        Some(other) => return Err(wrong_type("request.operation", "a string", other)),
        None => return Err(ReviewError("no request.operation in the AdmissionReview".into())),
    };
    let sub_resource = optional_string(&request, "subResource")?;
    let namespace = optional_string(&request, "namespace")?;
    let object = match request.remove("object") {
        None | Some(Value::Null) => None,
        Some(object @ Value::Object(_)) => Some(object),
        Some(other) => return Err(wrong_type("request.object", "an object", &other)),
    };
    // Read only to spare unchanged images a pin on UPDATE; anything but an
    // object (some test fixtures carry "") is as good as none.
    let old_object = request.remove("oldObject").filter(Value::is_object);
    Ok(Review {
        api_version,
        uid,
        kind,
        sub_resource,
        operation,
        namespace,
        object,
        old_object,
    })
}

/// The AdmissionReview answering `review`.
///
/// A denied answer carries `status` (code 403, reason `Forbidden`, the
/// message) and never a patch; warnings are cut to [`MAX_WARNING_CHARS`]
/// characters with control characters made spaces (the apiserver drops a
/// warning it cannot put in a `Warning` header); empty lists and maps are
/// left out.
pub fn respond(review: &Review, answer: &Answer) -> Vec<u8> {
    let mut response = Map::new();
    response.insert("uid".into(), Value::String(review.uid.clone()));
    response.insert("allowed".into(), Value::Bool(answer.allowed));
    if !answer.allowed {
        let mut status = Map::new();
        status.insert("code".into(), json!(403));
        status.insert("reason".into(), json!("Forbidden"));
        if let Some(message) = &answer.message {
            status.insert("message".into(), Value::String(message.clone()));
        }
        response.insert("status".into(), Value::Object(status));
    }
    if !answer.warnings.is_empty() {
        let warnings = answer.warnings.iter().map(|w| Value::String(warning(w))).collect();
        response.insert("warnings".into(), Value::Array(warnings));
    }
    if !answer.audit_annotations.is_empty() {
        let annotations = answer
            .audit_annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        response.insert("auditAnnotations".into(), Value::Object(annotations));
    }
    if answer.allowed && !answer.patch.is_empty() {
        response.insert("patchType".into(), json!("JSONPatch"));
        response.insert("patch".into(), Value::String(crate::patch::encode(&answer.patch)));
    }
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(review.api_version.clone()));
    out.insert("kind".into(), json!("AdmissionReview"));
    out.insert("response".into(), Value::Object(response));
    // Invariant: a Value has only string keys, so serialising it cannot fail.
    serde_json::to_vec(&Value::Object(out)).expect("a serde_json::Value always serialises")
}

/// One warning as the apiserver can show it: one line, at most
/// [`MAX_WARNING_CHARS`] characters, `…` at the end when cut.
fn warning(text: &str) -> String {
    let one_line = text.chars().map(|c| if c.is_control() { ' ' } else { c });
    if text.chars().count() <= MAX_WARNING_CHARS {
        one_line.collect()
    } else {
        let mut cut: String = one_line.take(MAX_WARNING_CHARS - 1).collect();
        cut.push('…');
        cut
    }
}

fn group_version_kind(request: &Map<String, Value>) -> Result<GroupVersionKind, ReviewError> {
    let gvk = match request.get("kind") {
        Some(Value::Object(gvk)) => gvk,
        Some(other) => return Err(wrong_type("request.kind", "an object", other)),
        None => return Err(ReviewError("no request.kind in the AdmissionReview".into())),
    };
    let member = |name: &str, may_be_empty: bool| match gvk.get(name) {
        Some(Value::String(s)) if may_be_empty || !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) => Err(ReviewError(format!("request.kind.{name} is empty"))),
        Some(other) => Err(wrong_type(&format!("request.kind.{name}"), "a string", other)),
        None => Err(ReviewError(format!("no request.kind.{name} in the AdmissionReview"))),
    };
    Ok(GroupVersionKind {
        // The core group is "".
        group: member("group", true)?,
        version: member("version", false)?,
        kind: member("kind", false)?,
    })
}

/// A string member that Kubernetes omits when empty: absent, `null` and `""` are `None`.
fn optional_string(request: &Map<String, Value>, name: &str) -> Result<Option<String>, ReviewError> {
    match request.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(&format!("request.{name}"), "a string", other)),
    }
}

/// At most [`MAX_SHOWN_CHARS`] characters of a string from the body, for an
/// error message (a hostile body must not make the answer as long as itself).
fn shown(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

fn wrong_type(field: &str, expected: &str, found: &Value) -> ReviewError {
    ReviewError(format!("{field} must be {expected}, not {}", describe(found)))
}

/// `a string`, `an array`, ...: what a value is, for messages.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses one JSON document into a `Value`, refusing repeated object members
/// and trailing bytes.
fn strict_value(body: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    // serde_json counts nesting in `deserialize_any` and stops at 128 levels,
    // so the recursion through `StrictVisitor` below is bounded.
    let value = Strict.deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A JSON value read with `deserialize_any` at every level, so serde_json's
/// recursion limit applies, and with objects that refuse a repeated member.
#[derive(Clone, Copy)]
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so this is always a number.
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate member {:?}", shown(&key))));
            }
            let value = map.next_value_seed(Strict)?;
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests;
