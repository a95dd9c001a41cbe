//! Where a workload object's images are.
//!
//! Every kind that holds a pod spec is read at its pod spec (DESIGN §6): a
//! Pod at `spec`, the controllers at `spec.template.spec`, a PodTemplate at
//! `template.spec`, a CronJob at `spec.jobTemplate.spec.template.spec`. In
//! the pod spec, images are in `containers`, `initContainers`,
//! `ephemeralContainers` (each `[i].image`) and image volumes
//! (`volumes[i].image.reference`).
//!
//! Reading fails closed: an object of one of these kinds whose pod spec or
//! image lists sigil cannot read (a list that is not an array, a container
//! without an image, an image that is not a non-empty string) is an error,
//! so the webhook denies what it could not read instead of allowing it.

use serde_json::{Map, Value};
use sigil_verifier::digest::Digest;
use sigil_verifier::reference::{ImageRef, RegistryRef};

use crate::review::{Operation, Review, describe};

/// One image field of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundImage {
    /// The field path as people read it: `spec.template.spec.containers[1].image`.
    pub field: String,
    /// The same field as an RFC 6901 JSON pointer: `/spec/template/spec/containers/1/image`.
    pub pointer: String,
    /// The image string as written in the object.
    pub written: String,
}

/// The container lists of a pod spec, in the order their images are reported.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The images `review.object` holds, in pod-spec order: containers,
/// initContainers, ephemeralContainers, image volumes, each in index order.
///
/// A DELETE, a review without an object and a kind that holds no pod spec
/// have none. `Err` is one line naming the field that could not be read.
pub fn images_of(review: &Review) -> Result<Vec<FoundImage>, String> {
    if review.operation == Operation::Delete {
        return Ok(Vec::new());
    }
    let (Some(object), Some(spec_path)) = (&review.object, pod_spec_path(&review.kind.group, &review.kind.kind)) else {
        return Ok(Vec::new());
    };
    let mut spec = match object {
        Value::Object(object) => object,
        other => return Err(format!("the object must be an object, not {}", describe(other))),
    };
    let mut path = Path::default();
    for key in spec_path {
        path.push_key(key);
        spec = match spec.get(*key) {
            Some(Value::Object(inner)) => inner,
            found => return Err(not_an_object(&path, found)),
        };
    }
    pod_spec_images(spec, &path)
}

/// Where a kind keeps its pod spec, by API group and kind (any version).
fn pod_spec_path(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    Some(match (group, kind) {
        // The object of `pods/ephemeralcontainers` is the Pod too.
        ("", "Pod") => &["spec"],
        ("apps", "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")
        // The same kinds before Kubernetes 1.16, same shape: read rather than let through.
        | ("extensions", "Deployment" | "ReplicaSet" | "DaemonSet")
        | ("batch", "Job")
        | ("", "ReplicationController") => &["spec", "template", "spec"],
        ("", "PodTemplate") => &["template", "spec"],
        ("batch", "CronJob") => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn pod_spec_images(spec: &Map<String, Value>, at: &Path) -> Result<Vec<FoundImage>, String> {
    let mut found = Vec::new();
    for list in CONTAINER_LISTS {
        let list_path = at.key(list);
        let containers = match (spec.get(list), list) {
            (Some(Value::Array(containers)), _) => containers,
            // Kubernetes requires containers; the other lists may be left out.
            (None | Some(Value::Null), "containers") => return Err(format!("{} is missing", list_path.field)),
            (None | Some(Value::Null), _) => continue,
            (Some(other), _) => return Err(format!("{} must be an array, not {}", list_path.field, describe(other))),
        };
        for (i, container) in containers.iter().enumerate() {
            let container_path = list_path.index(i);
            let Value::Object(container) = container else {
                return Err(not_an_object(&container_path, Some(container)));
            };
            found.push(image_string(container, "image", container_path.key("image"))?);
        }
    }
    let volumes_path = at.key("volumes");
    let volumes = match spec.get("volumes") {
        Some(Value::Array(volumes)) => volumes.as_slice(),
        None | Some(Value::Null) => &[],
        Some(other) => {
            return Err(format!(
                "{} must be an array, not {}",
                volumes_path.field,
                describe(other)
            ));
        }
    };
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = volumes_path.index(i);
        let Value::Object(volume) = volume else {
            return Err(not_an_object(&volume_path, Some(volume)));
        };
        let image_path = volume_path.key("image");
        match volume.get("image") {
            // Not an image volume (`image` is a pointer in Kubernetes' types: null is none).
            None | Some(Value::Null) => {}
            Some(Value::Object(image)) => found.push(image_string(image, "reference", image_path.key("reference"))?),
            Some(other) => return Err(not_an_object(&image_path, Some(other))),
        }
    }
    Ok(found)
}

/// The required, non-empty image string `object[key]`, found at `at`.
fn image_string(object: &Map<String, Value>, key: &str, at: Path) -> Result<FoundImage, String> {
    match object.get(key) {
        Some(Value::String(written)) if !written.is_empty() => Ok(FoundImage {
            field: at.field,
            pointer: at.pointer,
            written: written.clone(),
        }),
        Some(Value::String(_)) => Err(format!("{} is empty", at.field)),
        Some(other) => Err(format!("{} must be a string, not {}", at.field, describe(other))),
        None => Err(format!("{} is missing", at.field)),
    }
}

fn not_an_object(at: &Path, found: Option<&Value>) -> String {
    match found {
        None | Some(Value::Null) => format!("{} is missing", at.field),
        Some(other) => format!("{} must be an object, not {}", at.field, describe(other)),
    }
}

/// A field path written both ways: `a.b[1].c` and `/a/b/1/c`.
#[derive(Clone, Debug, Default)]
struct Path {
    field: String,
    pointer: String,
}

impl Path {
    fn key(&self, key: &str) -> Path {
        let mut path = self.clone();
        path.push_key(key);
        path
    }

    fn index(&self, i: usize) -> Path {
        Path {
            field: format!("{}[{i}]", self.field),
            pointer: format!("{}/{i}", self.pointer),
        }
    }

    fn push_key(&mut self, key: &str) {
        if !self.field.is_empty() {
            self.field.push('.');
        }
        self.field.push_str(key);
        self.pointer.push('/');
        self.pointer.push_str(&pointer_token(key));
    }
}

/// One RFC 6901 reference token: `~` as `~0`, `/` as `~1`.
pub(crate) fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The registry image an image string names, or why the webhook refuses it.
///
/// Refused: a bare image ID (`sha256:HEX` or 64 hex digits, which runtimes
/// resolve to an image already on the node, not to a registry), anything
/// naming an OCI layout directory (the webhook never reads a directory a Pod
/// names), and anything the reference parser refuses. A name without a tag
/// means `:latest`, as in Kubernetes.
pub fn reference(written: &str) -> Result<RegistryRef, String> {
    if is_image_id(written) {
        return Err(format!(
            "{written:?} is a bare image ID, which names no registry image: write the image by name (name@sha256:HEX to pin it)"
        ));
    }
    match written.parse::<ImageRef>() {
        Ok(ImageRef::Registry(registry)) => Ok(registry),
        Ok(ImageRef::Layout(_)) => Err(format!(
            "{written:?} names a local OCI layout directory, not a registry image: the webhook reads only registry images"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `sha256:HEX` (any digest algorithm sigil knows) or 64 hex digits alone,
/// in either case.
fn is_image_id(written: &str) -> bool {
    let lower = written.to_ascii_lowercase();
    lower.parse::<Digest>().is_ok() || (lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests;
