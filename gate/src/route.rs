//! What a request asks for, read from its path once: the distribution
//! API's endpoints, with the repository name turned into the name the
//! policy judges (`UPSTREAM/NAME`) and the reference into a tag or a digest.
//! Nothing past this module handles a raw path.

use sigil_verifier::digest::Digest;
use sigil_verifier::reference::{RegistryRef, Target};

/// One endpoint of the distribution API, as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/NAME/manifests/REF`.
    Manifest { repository: Repository, target: Target },
    /// `/v2/NAME/blobs/DIGEST`.
    Blob { repository: Repository, digest: Digest },
    /// `/v2/NAME/tags/list`.
    Tags { repository: Repository },
    /// `/v2/NAME/referrers/DIGEST`.
    Referrers { repository: Repository, digest: Digest },
    /// Anything under `/v2/` that is not one of the above (uploads, say).
    Unknown,
    /// A name or reference that cannot be one (upper case, a bad digest).
    Invalid { code: &'static str, message: String },
}

/// A repository at the gate: `NAME` to clients, `UPSTREAM/NAME` to the
/// policy and the upstream registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    /// The normalised upstream reference (`registry.example/prod/app`);
    /// only its registry and repository are used.
    pub upstream: RegistryRef,
}

impl Repository {
    /// `UPSTREAM/NAME`, the key of everything remembered about it.
    pub fn name(&self) -> String {
        self.upstream.name()
    }

    /// The image `target` names in this repository.
    pub fn image(&self, target: &Target) -> RegistryRef {
        let text = match target {
            Target::Tag(tag) => format!("{}:{tag}", self.name()),
            Target::Digest(digest) => format!("{}@{digest}", self.name()),
        };
        // Invariant: the name parsed already and tags and digests were checked.
        RegistryRef::parse(&text).unwrap_or_else(|_| self.upstream.clone())
    }

    /// The image a tag named, pinned to the digest that was fetched: the
    /// tag stays part of what is judged (`:TAG` patterns), the digest is
    /// what the evidence is about.
    pub fn pinned(&self, tag: Option<&str>, digest: &Digest) -> RegistryRef {
        let text = match tag {
            Some(tag) => format!("{}:{tag}@{digest}", self.name()),
            None => format!("{}@{digest}", self.name()),
        };
        RegistryRef::parse(&text).unwrap_or_else(|_| self.upstream.clone())
    }
}

/// Reads a request path under the gate for `upstream` (a canonical host).
pub fn parse(upstream: &str, path: &str) -> Route {
    let Some(rest) = path.strip_prefix("/v2") else {
        return Route::Unknown;
    };
    if rest.is_empty() || rest == "/" {
        return Route::Base;
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return Route::Unknown;
    };
    let mut parts = rest.rsplitn(3, '/');
    let (Some(last), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Route::Unknown;
    };
    if !matches!(kind, "manifests" | "blobs" | "referrers" | "tags") {
        return Route::Unknown;
    }
    let repository = match repository(upstream, name) {
        Ok(r) => r,
        Err(message) => {
            return Route::Invalid {
                code: "NAME_INVALID",
                message,
            };
        }
    };
    match kind {
        "tags" if last == "list" => Route::Tags { repository },
        "manifests" if last.contains(':') => match last.parse::<Digest>() {
            Ok(digest) => Route::Manifest {
                repository,
                target: Target::Digest(digest),
            },
            Err(e) => Route::Invalid {
                code: "DIGEST_INVALID",
                message: format!("{last}: {e}"),
            },
        },
        "manifests" if valid_tag(last) => Route::Manifest {
            repository,
            target: Target::Tag(last.to_owned()),
        },
        "manifests" => Route::Invalid {
            code: "TAG_INVALID",
            message: format!("{last:?} is not a tag (1-128 of [A-Za-z0-9_.-], not starting with . or -)"),
        },
        "blobs" | "referrers" => match last.parse::<Digest>() {
            Ok(digest) if kind == "blobs" => Route::Blob { repository, digest },
            Ok(digest) => Route::Referrers { repository, digest },
            Err(e) => Route::Invalid {
                code: "DIGEST_INVALID",
                message: format!("{last}: {e}"),
            },
        },
        _ => Route::Unknown,
    }
}

/// `NAME` as the repository `UPSTREAM/NAME`: lower-case path components
/// only, so nothing in it can be read as a tag, a digest or another host.
fn repository(upstream: &str, name: &str) -> Result<Repository, String> {
    let plain = !name.is_empty()
        && name.split('/').all(|c| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        });
    if !plain {
        return Err(format!(
            "{name:?} is not a repository name (lower-case path components of [a-z0-9._-])"
        ));
    }
    let upstream = RegistryRef::parse(&format!("{upstream}/{name}")).map_err(|e| e.to_string())?;
    Ok(Repository { upstream })
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The image an attachment tag is about: `sha256-HEX.sig`, `.att`, `.sbom`
/// (cosign's tag scheme) and `sha256-HEX` (the referrers fallback tag).
pub fn attachment_subject(tag: &str) -> Option<Digest> {
    let base = tag
        .strip_suffix(".sig")
        .or_else(|| tag.strip_suffix(".att"))
        .or_else(|| tag.strip_suffix(".sbom"))
        .unwrap_or(tag);
    let hex = base.strip_prefix("sha256-")?;
    let digest: Digest = format!("sha256:{hex}").parse().ok()?;
    // The tag the verifier's scheme writes for that digest, exactly.
    (tag == sigil_verifier::referrers::fallback_tag(&digest)
        || tag == sigil_verifier::cosign::signature_tag(&digest)
        || tag == sigil_verifier::cosign::attestation_tag(&digest)
        || tag == sigil_verifier::cosign::sbom_tag(&digest))
    .then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: &str = "registry.example:5000";

    fn repo(name: &str) -> Repository {
        repository(UP, name).expect("valid")
    }

    #[test]
    fn reads_each_endpoint() {
        let d = Digest::sha256_of(b"x");
        assert_eq!(parse(UP, "/v2/"), Route::Base);
        assert_eq!(parse(UP, "/v2"), Route::Base);
        assert_eq!(
            parse(UP, "/v2/prod/app/manifests/v1"),
            Route::Manifest {
                repository: repo("prod/app"),
                target: Target::Tag("v1".into())
            }
        );
        assert_eq!(
            parse(UP, &format!("/v2/prod/app/manifests/{d}")),
            Route::Manifest {
                repository: repo("prod/app"),
                target: Target::Digest(d.clone())
            }
        );
        assert_eq!(
            parse(UP, &format!("/v2/a/manifests/b/blobs/{d}")),
            Route::Blob {
                repository: repo("a/manifests/b"),
                digest: d.clone()
            }
        );
        assert_eq!(parse(UP, "/v2/a/tags/list"), Route::Tags { repository: repo("a") });
        assert_eq!(
            parse(UP, &format!("/v2/a/referrers/{d}")),
            Route::Referrers {
                repository: repo("a"),
                digest: d
            }
        );
        assert_eq!(repo("prod/app").name(), "registry.example:5000/prod/app");
    }

    #[test]
    fn refuses_what_cannot_be_a_name_or_reference() {
        for path in [
            "/v2/Prod/manifests/v1",
            "/v2/a:b/manifests/v1",
            "/v2/a@sha256:00/manifests/v1",
            "/v2//manifests/v1",
            "/v2/a//b/manifests/v1",
            "/v2/a/manifests/.v1",
            "/v2/a/manifests/sha256:xyz",
            "/v2/a/blobs/v1",
            "/v2/a/referrers/latest",
        ] {
            assert!(matches!(parse(UP, path), Route::Invalid { .. }), "{path}");
        }
        for path in [
            "/v2/a/blobs/uploads/",
            "/v2/a/tags/other",
            "/v2/a",
            "/v3/a/manifests/v1",
            "/",
            "/v2x",
        ] {
            assert_eq!(parse(UP, path), Route::Unknown, "{path}");
        }
    }

    #[test]
    fn docker_hub_names_are_normalised_for_the_policy() {
        assert_eq!(
            repository("docker.io", "alpine").expect("valid").name(),
            "docker.io/library/alpine"
        );
    }

    #[test]
    fn tags_keep_the_tag_and_pin_the_digest() {
        let d = Digest::sha256_of(b"x");
        let r = repo("app");
        assert_eq!(r.pinned(Some("v1"), &d).to_string(), format!("{UP}/app:v1@{d}"));
        assert_eq!(r.pinned(None, &d).to_string(), format!("{UP}/app@{d}"));
        assert_eq!(r.image(&Target::Tag("v2".into())).to_string(), format!("{UP}/app:v2"));
    }

    #[test]
    fn attachment_tags_name_their_subject() {
        let d = Digest::sha256_of(b"image");
        let hex = d.hex();
        for tag in [
            format!("sha256-{hex}.sig"),
            format!("sha256-{hex}.att"),
            format!("sha256-{hex}.sbom"),
            format!("sha256-{hex}"),
        ] {
            assert_eq!(attachment_subject(&tag), Some(d.clone()), "{tag}");
        }
        for tag in [
            format!("sha256-{hex}.exe"),
            format!("sha256-{}", &hex[1..]),
            format!("sha512-{hex}.sig"),
            "v1".into(),
            "sha256-.sig".into(),
        ] {
            assert_eq!(attachment_subject(&tag), None, "{tag}");
        }
    }
}
