//! The names an image is judged under (DESIGN §4.1; README, "Policy").
//!
//! - A registry image is named by its canonical repository and the tag it
//!   was referenced by. A reference that pins a digest as well
//!   (`app:v1@sha256:...`) is named by repository and digest only: the digest
//!   is what gets verified, and nothing checked that the tag points at it, so
//!   the tag is ignored for matching (and the report says so). Otherwise
//!   `app:legacy-1.0@sha256:<other>` would borrow the exemption written for
//!   whatever `app:legacy-1.0` really is.
//! - A layout image is named by `oci:DIR` (lexically normalised when the
//!   reference was parsed) and the layout tag. It may also carry the name
//!   `sigil copy` recorded for it (`dev.sigil.image.name`): the source
//!   reference with the tag it resolved and the digest. Whoever wrote the
//!   layout chose that name, so [`crate::policy::Policy::evaluate`] lets it
//!   add requirements, never remove them.
//!
//! What `sigil copy` writes ([`recorded_value`]) and what is read back
//! ([`recorded_name`]) live here together so they cannot drift apart.

use crate::digest::Digest;
use crate::policy::glob::ImageName;
use crate::reference::{ImageRef, LayoutRef, ReferenceError, RegistryRef};

/// The names of one image, ready for [`crate::policy::Evidence`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    /// The name given on the command line (or in a test case).
    pub name: ImageName,
    /// The name a layout records for the image, if any.
    pub recorded: Option<ImageName>,
    /// The tag of a `NAME:TAG@DIGEST` reference, ignored for matching.
    pub ignored_tag: Option<String>,
}

/// Why a layout's recorded name cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordedNameError {
    #[error("the layout records the name {value:?} for the image, which is not an image reference: {cause}")]
    Unparseable { value: String, cause: ReferenceError },
    #[error("the layout records the name {value:?} for image {image}, but that name pins another digest")]
    OtherDigest { value: String, image: Digest },
}

/// The names of a registry image that resolved to `digest`.
pub fn registry(reference: &RegistryRef, digest: Digest) -> Names {
    let (tag, ignored_tag) = match (reference.tag(), reference.digest()) {
        (Some(t), Some(_)) => (None, Some(t.to_owned())),
        (tag, _) => (tag.map(str::to_owned), None),
    };
    Names {
        name: ImageName {
            repository: reference.name(),
            tag,
            digest,
        },
        recorded: None,
        ignored_tag,
    }
}

/// The names of a layout image that resolved to `digest`, with the value
/// of its `dev.sigil.image.name` annotation if it has one.
pub fn layout(reference: &LayoutRef, digest: Digest, recorded: Option<&str>) -> Result<Names, RecordedNameError> {
    let recorded = recorded.map(|value| recorded_name(value, &digest)).transpose()?;
    Ok(Names {
        name: ImageName {
            repository: format!("oci:{}", reference.dir.display()),
            tag: reference.tag.clone(),
            digest,
        },
        recorded,
        ignored_tag: None,
    })
}

/// [`registry`] or [`layout`]; a registry image has no recorded name.
pub fn of(image: &ImageRef, digest: Digest, recorded: Option<&str>) -> Result<Names, RecordedNameError> {
    match image {
        ImageRef::Registry(r) => Ok(registry(r, digest)),
        ImageRef::Layout(l) => layout(l, digest, recorded),
    }
}

/// What `sigil copy` records for an image copied from `source` that
/// resolved to `digest`: `REPOSITORY:TAG@DIGEST` when the source named a tag
/// only (the source registry resolved it to `digest`), `REPOSITORY@DIGEST`
/// when it pinned a digest (its tag, if any, was never resolved).
pub fn recorded_value(source: &RegistryRef, digest: &Digest) -> String {
    match (source.digest(), source.tag()) {
        (None, Some(tag)) => format!("{}:{tag}@{digest}", source.name()),
        _ => format!("{}@{digest}", source.name()),
    }
}

/// Reads a recorded name back. The current form pins the digest, which must
/// be the image's; its tag, if any, is the one `sigil copy` resolved and is
/// matched. The older form (earlier versions recorded the repository only)
/// is matched by repository alone: the layout's own tag is not a registry
/// tag, so it is never used as one.
pub fn recorded_name(value: &str, digest: &Digest) -> Result<ImageName, RecordedNameError> {
    let r = RegistryRef::parse(value).map_err(|cause| RecordedNameError::Unparseable {
        value: value.to_owned(),
        cause,
    })?;
    let tag = match r.digest() {
        Some(d) if d != digest => {
            return Err(RecordedNameError::OtherDigest {
                value: value.to_owned(),
                image: digest.clone(),
            });
        }
        Some(_) => r.tag().map(str::to_owned),
        None => None,
    };
    Ok(ImageName {
        repository: r.name(),
        tag,
        digest: digest.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(seed: &str) -> Digest {
        Digest::sha256_of(seed.as_bytes())
    }

    fn registry_names(reference: &str, d: &Digest) -> Names {
        registry(&RegistryRef::parse(reference).expect("reference"), d.clone())
    }

    #[test]
    fn a_reference_with_tag_and_digest_is_named_by_its_digest() {
        let d = digest("image");
        let both = registry_names(&format!("r.io/app:legacy-1.0@{d}"), &d);
        assert_eq!(both.name.tag, None);
        assert_eq!(both.ignored_tag.as_deref(), Some("legacy-1.0"));
        assert_eq!(both.name.repository, "r.io/app");
        // twins: a tag alone is matched; a digest alone has no tag to ignore
        let tag = registry_names("r.io/app:legacy-1.0", &d);
        assert_eq!(tag.name.tag.as_deref(), Some("legacy-1.0"));
        assert_eq!(tag.ignored_tag, None);
        let pinned = registry_names(&format!("r.io/app@{d}"), &d);
        assert_eq!((pinned.name.tag, pinned.ignored_tag), (None, None));
    }

    #[test]
    fn recorded_values_round_trip_and_bind_the_digest() {
        let d = digest("image");
        let by_tag = RegistryRef::parse("LOCALHOST:5000/prod/app:v1.3.0").expect("reference");
        let value = recorded_value(&by_tag, &d);
        assert_eq!(value, format!("localhost:5000/prod/app:v1.3.0@{d}"));
        assert_eq!(
            recorded_name(&value, &d),
            Ok(ImageName {
                repository: "localhost:5000/prod/app".into(),
                tag: Some("v1.3.0".into()),
                digest: d.clone(),
            })
        );
        // a source that pinned a digest: its tag was never resolved, so it is not recorded
        let pinned = RegistryRef::parse(&format!("r.io/app:v1@{d}")).expect("reference");
        assert_eq!(recorded_value(&pinned, &d), format!("r.io/app@{d}"));
        // the older, repository-only form: matched by repository alone
        let legacy = recorded_name("r.io/prod/app", &d).expect("legacy form");
        assert_eq!((legacy.repository.as_str(), legacy.tag), ("r.io/prod/app", None));
        // tampered twins: another image's digest, or no reference at all
        let other = digest("other");
        assert_eq!(
            recorded_name(&format!("r.io/app:v1@{other}"), &d),
            Err(RecordedNameError::OtherDigest {
                value: format!("r.io/app:v1@{other}"),
                image: d.clone(),
            })
        );
        assert!(matches!(
            recorded_name("r.io/App", &d),
            Err(RecordedNameError::Unparseable { value, .. }) if value == "r.io/App"
        ));
    }

    #[test]
    fn layout_images_are_named_by_their_normalised_directory() {
        let d = digest("image");
        let ImageRef::Layout(l) = "oci:trusted/../attacker:app".parse().expect("reference") else {
            panic!("a layout reference");
        };
        let names = layout(&l, d.clone(), None).expect("names");
        assert_eq!(names.name.repository, "oci:attacker");
        assert_eq!(names.name.tag.as_deref(), Some("app"));
        assert_eq!(names.recorded, None);
        let names = layout(&l, d.clone(), Some(&format!("r.io/app:v1@{d}"))).expect("names");
        assert_eq!(names.recorded.map(|n| n.to_string()), Some(format!("r.io/app:v1@{d}")));
        assert!(matches!(
            layout(&l, d, Some("not a reference")),
            Err(RecordedNameError::Unparseable { .. })
        ));
    }
}
