//! Image references: `HOST[:PORT]/REPO[:TAG][@DIGEST]` for registries and
//! `oci:DIR[:TAG]` / `oci:DIR@DIGEST` for OCI image-layout directories.
//!
//! Registry references are normalised as docker does (`alpine` is
//! `docker.io/library/alpine:latest`), and the registry host is made
//! canonical (see [`canonical_host`]: lower case, no `:443`, one name for
//! Docker Hub), so a policy pattern, a user's shorthand and every report name
//! the same thing. Repository paths stay case-sensitive: docker requires them
//! in lower case, and an upper-case path is a parse error, as in docker.
//! Layout directories are lexically normalised ([`normalise_dir`]), so the
//! directory that is read is the directory that is matched and reported.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid image reference {input:?}: {reason}")]
    Invalid { input: String, reason: &'static str },
    #[error("invalid image reference {input:?}: {cause}")]
    Digest { input: String, cause: DigestError },
}

/// An image in a registry or in an OCI layout directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageRef {
    Registry(RegistryRef),
    Layout(LayoutRef),
}

/// A normalised registry reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RegistryRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A reference into an OCI image-layout directory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LayoutRef {
    /// The directory, lexically normalised when parsed ([`normalise_dir`]).
    pub dir: PathBuf,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// What to fetch: a tag to resolve, or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Tag(String),
    Digest(Digest),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tag(t) => f.write_str(t),
            Target::Digest(d) => write!(f, "{d}"),
        }
    }
}

impl ImageRef {
    /// The tag or digest this reference asks for; a digest wins over a tag.
    pub fn target(&self) -> Target {
        let (tag, digest) = match self {
            ImageRef::Registry(r) => (r.tag.as_deref(), r.digest.as_ref()),
            ImageRef::Layout(l) => (l.tag.as_deref(), l.digest.as_ref()),
        };
        match (digest, tag) {
            (Some(d), _) => Target::Digest(d.clone()),
            (None, Some(t)) => Target::Tag(t.to_owned()),
            (None, None) => Target::Tag("latest".to_owned()),
        }
    }

    /// The same repository, pointing at `digest`.
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        match self {
            ImageRef::Registry(r) => ImageRef::Registry(RegistryRef {
                digest: Some(digest),
                ..r.clone()
            }),
            ImageRef::Layout(l) => ImageRef::Layout(LayoutRef {
                digest: Some(digest),
                ..l.clone()
            }),
        }
    }

    /// The repository name without tag or digest: `registry/repo`, or `oci:DIR`.
    pub fn repository_name(&self) -> String {
        match self {
            ImageRef::Registry(r) => r.name(),
            ImageRef::Layout(l) => format!("oci:{}", l.dir.display()),
        }
    }
}

impl RegistryRef {
    pub fn registry(&self) -> &str {
        &self.registry
    }
    pub fn repository(&self) -> &str {
        &self.repository
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`: the docker reference cosign writes into payloads.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True for `localhost`, `127.0.0.0/8` and `[::1]`, where plain HTTP is allowed.
    pub fn is_loopback(&self) -> bool {
        host_is_loopback(&self.registry)
    }

    /// Parses and normalises a docker-style reference.
    pub fn parse(input: &str) -> Result<RegistryRef, ReferenceError> {
        let invalid = |reason| ReferenceError::Invalid {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(invalid("empty"));
        }
        if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains whitespace"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => {
                let digest = d.parse().map_err(|source| ReferenceError::Digest {
                    input: input.to_owned(),
                    cause: source,
                })?;
                (rest, Some(digest))
            }
            None => (input, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag
            && !valid_tag(tag)
        {
            return Err(invalid("tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -"));
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first, rest)
            }
            _ => (DOCKER_HUB, name),
        };
        if !valid_registry(registry) {
            return Err(invalid("registry must be a host name or address with an optional port"));
        }
        let registry = canonical_host(registry);
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if repository.is_empty() || !repository.split('/').all(valid_path_component) {
            return Err(invalid(
                "repository must be lower-case path components of [a-z0-9] separated by '.', '_', '__' or '-'",
            ));
        }
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(invalid("name longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_owned()),
        };
        Ok(RegistryRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for RegistryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl LayoutRef {
    fn parse(input: &str, rest: &str) -> Result<LayoutRef, ReferenceError> {
        let invalid = |reason| ReferenceError::Invalid {
            input: input.to_owned(),
            reason,
        };
        let (dir, tag, digest) = if let Some((dir, d)) = rest.rsplit_once('@') {
            let digest = d.parse().map_err(|source| ReferenceError::Digest {
                input: input.to_owned(),
                cause: source,
            })?;
            (dir, None, Some(digest))
        } else {
            match rest.rfind(':') {
                Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..]), None),
                _ => (rest, None, None),
            }
        };
        if dir.is_empty() {
            return Err(invalid(
                "oci: needs a directory, as in oci:DIR[:TAG] or oci:DIR@sha256:HEX",
            ));
        }
        if let Some(tag) = tag
            && (tag.is_empty() || tag.chars().any(char::is_control))
        {
            return Err(invalid("empty or unprintable layout tag"));
        }
        Ok(LayoutRef {
            dir: PathBuf::from(normalise_dir(dir)),
            tag: tag.map(str::to_owned),
            digest,
        })
    }
}

impl fmt::Display for LayoutRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oci:{}", self.dir.display())?;
        if let Some(d) = &self.digest {
            write!(f, "@{d}")
        } else if let Some(t) = &self.tag {
            write!(f, ":{t}")
        } else {
            Ok(())
        }
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("oci:") {
            Some(rest) => LayoutRef::parse(s, rest).map(ImageRef::Layout),
            None => RegistryRef::parse(s).map(ImageRef::Registry),
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageRef::Registry(r) => r.fmt(f),
            ImageRef::Layout(l) => l.fmt(f),
        }
    }
}

/// The canonical form of a registry host (with its optional port), which
/// [`RegistryRef::parse`] stores and policy patterns are normalised to:
///
/// - host names are case-insensitive (RFC 4343): lower case;
/// - the port is written as a number without leading zeros, and `:443`, the
///   HTTPS default, is dropped (`reg.io:443` is `reg.io`). `:80` is kept: for
///   a name without a port sigil tries HTTPS on 443 first, so `reg.io:80` and
///   `reg.io` can be different endpoints, just as `reg.io:5000` is;
/// - Docker Hub's aliases `index.docker.io` and `registry-1.docker.io` are
///   `docker.io`.
///
/// `host_port` is expected to have passed the syntax check of
/// [`RegistryRef::parse`]; anything else is only lower-cased.
pub fn canonical_host(host_port: &str) -> String {
    let lower = host_port.to_ascii_lowercase();
    let (host, port) = if lower.starts_with('[') {
        match lower.split_once("]:") {
            Some((h, p)) => (format!("{h}]"), Some(p.to_owned())),
            None => (lower.clone(), None),
        }
    } else {
        match lower.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p.to_owned())),
            None => (lower.clone(), None),
        }
    };
    let port = match port.as_deref().map(str::parse::<u16>) {
        None => None,
        Some(Ok(443)) => None,
        Some(Ok(p)) => Some(p.to_string()),
        // Not a port (the caller did not check the syntax): leave it as written.
        Some(Err(_)) => return lower,
    };
    let host = match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" if port.is_none() => DOCKER_HUB.to_owned(),
        _ => host,
    };
    match port {
        Some(p) => format!("{host}:{p}"),
        None => host,
    }
}

/// Lexically normalises a directory path: `.` components and repeated `/`
/// go, `a/..` cancels out, `..` directly under `/` is `/`, a trailing `/` is
/// dropped; leading `..` of a relative path stay. `trusted/../attacker` is
/// `attacker`, so a pattern for `oci:trusted/**` cannot be met by a path
/// that leaves `trusted`. The file system is not consulted: the normalised
/// path is the one sigil reads, so what is read is what is matched (through
/// a symbolic link `a`, `a/..` therefore means the directory holding `a`,
/// not the link target's parent).
pub fn normalise_dir(dir: &str) -> String {
    // No segment is opaque, so this cannot fail.
    normalise_segments(dir, |_| false).unwrap_or_else(|| dir.to_owned())
}

/// [`normalise_dir`] where segments for which `opaque` holds (globs' wildcard
/// segments) may not be cancelled by a following `..`: `None` then.
pub(crate) fn normalise_segments(dir: &str, opaque: impl Fn(&str) -> bool) -> Option<String> {
    let absolute = dir.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in dir.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if opaque(last) => return None,
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    Some(match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    })
}

/// True when `host` (optionally with `:port`) names a loopback address.
pub fn host_is_loopback(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split_once(']').map_or(rest, |(h, _)| h)
    } else {
        host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    first_ok && tag.len() <= MAX_TAG_LEN && tag.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn valid_registry(registry: &str) -> bool {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((h, after)) = rest.split_once(']') else {
            return false;
        };
        if h.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        (
            None,
            after
                .strip_prefix(':')
                .map(Some)
                .unwrap_or(if after.is_empty() { None } else { Some("x") }),
        )
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok());
    host_ok && port_ok
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.19", "docker.io/library/alpine:3.19"),
            ("library/alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io/library/alpine", "docker.io/library/alpine:latest"),
            ("docker.io/alpine", "docker.io/library/alpine:latest"),
            ("bitnami/redis", "docker.io/bitnami/redis:latest"),
            ("localhost/app", "localhost/app:latest"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000/a/b/c:v1"),
            ("[::1]:5000/app:v1", "[::1]:5000/app:v1"),
            ("ghcr.io/acme/app:v1.2.3", "ghcr.io/acme/app:v1.2.3"),
            ("my-registry:5000/app", "my-registry:5000/app:latest"),
            ("a__b/c-d---e", "docker.io/a__b/c-d---e:latest"),
        ];
        for (input, want) in cases {
            assert_eq!(
                RegistryRef::parse(input).map(|r| r.to_string()),
                Ok(want.to_owned()),
                "{input}"
            );
        }
    }

    #[test]
    fn digests_and_tags() {
        let r = RegistryRef::parse(&format!("ghcr.io/acme/app@{D}")).expect("valid");
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().map(ToString::to_string).as_deref(), Some(D));
        let r: ImageRef = format!("ghcr.io/acme/app:v1@{D}").parse().expect("valid");
        assert_eq!(r.target(), Target::Digest(D.parse().expect("digest")));
        let r: ImageRef = "alpine".parse().expect("valid");
        assert_eq!(r.target(), Target::Tag("latest".into()));
        assert_eq!(r.repository_name(), "docker.io/library/alpine");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "UPPER/Case",
            "Alpine",
            "alpine:",
            "alpine:-x",
            "alpine@sha256:abc",
            "alpine@md5:abc",
            "host:port/app",
            "a//b",
            "a/b/",
            "-a/b",
            "a b",
            "ghcr.io/acme/app:t@g",
            "reg.io:99999/app",
            &format!("alpine:{}", "x".repeat(129)),
            &format!("r.io/{}", "a".repeat(260)),
        ] {
            let r = RegistryRef::parse(bad);
            let digest_part = bad.contains('@');
            let kind_ok = match &r {
                Err(ReferenceError::Digest { .. }) => digest_part,
                Err(ReferenceError::Invalid { .. }) => !digest_part,
                Ok(_) => false,
            };
            assert!(
                kind_ok,
                "{bad:?} should be rejected as a malformed {}: {r:?}",
                if digest_part { "digest" } else { "name" }
            );
        }
    }

    #[test]
    fn layout_references() {
        let r: ImageRef = "oci:/tmp/x".parse().expect("valid");
        assert_eq!(
            r,
            ImageRef::Layout(LayoutRef {
                dir: "/tmp/x".into(),
                tag: None,
                digest: None
            })
        );
        let r: ImageRef = "oci:./dir:v1".parse().expect("valid");
        assert_eq!(r.target(), Target::Tag("v1".into()));
        let r: ImageRef = format!("oci:dir@{D}").parse().expect("valid");
        assert_eq!(r.target(), Target::Digest(D.parse().expect("digest")));
        let r = "oci:".parse::<ImageRef>();
        assert!(matches!(r, Err(ReferenceError::Invalid { .. })), "{r:?}");
        let r = "oci:dir@sha256:zz".parse::<ImageRef>();
        assert!(matches!(r, Err(ReferenceError::Digest { .. })), "{r:?}");
    }

    #[test]
    fn registry_hosts_are_canonical() {
        let cases = [
            ("LOCALHOST:5000/prod/app", "localhost:5000/prod/app:latest"),
            ("LocalHost:5000/prod/app:v1", "localhost:5000/prod/app:v1"),
            (
                "Registry.ACME.example/prod/app",
                "registry.acme.example/prod/app:latest",
            ),
            (
                "registry.acme.example:443/prod/app",
                "registry.acme.example/prod/app:latest",
            ),
            (
                "registry.acme.example:0443/prod/app",
                "registry.acme.example/prod/app:latest",
            ),
            (
                "registry.acme.example:05000/prod/app",
                "registry.acme.example:5000/prod/app:latest",
            ),
            ("INDEX.DOCKER.IO/library/alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io:443/alpine", "docker.io/library/alpine:latest"),
            ("Docker.IO/alpine", "docker.io/library/alpine:latest"),
            ("[::1]:443/app", "[::1]/app:latest"),
            ("[::A]:5000/app", "[::a]:5000/app:latest"),
            ("Foo/app", "foo/app:latest"),
        ];
        for (input, want) in cases {
            let r = RegistryRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), want, "{input}");
            assert_eq!(r.name(), want.rsplit_once(':').map_or(want, |(n, _)| n), "{input}");
        }
        // twins: the ports that are not HTTPS's default stay distinct names
        for (input, want) in [
            ("localhost:80/app", "localhost:80/app:latest"),
            (
                "registry.acme.example:8443/app",
                "registry.acme.example:8443/app:latest",
            ),
            ("index.docker.io:5000/app", "index.docker.io:5000/app:latest"),
        ] {
            assert_eq!(RegistryRef::parse(input).map(|r| r.to_string()), Ok(want.to_owned()));
        }
        // repository paths stay case-sensitive: upper case is refused, as docker does
        for bad in [
            "localhost:5000/Prod/app",
            "LOCALHOST:5000/prod/App",
            "registry.acme.example/PROD/app",
        ] {
            assert!(
                matches!(RegistryRef::parse(bad), Err(ReferenceError::Invalid { reason, .. }) if reason.starts_with("repository must be lower-case")),
                "{bad}"
            );
        }
    }

    #[test]
    fn layout_directories_are_lexically_normal() {
        for (input, want) in [
            ("oci:trusted/../attacker-dir", "attacker-dir"),
            ("oci:./export", "export"),
            ("oci:export/", "export"),
            ("oci:a//b/./c", "a/b/c"),
            ("oci:/srv/trusted/../../etc", "/etc"),
            ("oci:/../x", "/x"),
            ("oci:../up", "../up"),
            ("oci:a/../../up", "../up"),
            ("oci:.", "."),
            ("oci:a/..", "."),
        ] {
            let Ok(ImageRef::Layout(l)) = input.parse::<ImageRef>() else {
                panic!("{input} should parse");
            };
            assert_eq!(l.dir, PathBuf::from(want), "{input}");
        }
        let r: ImageRef = "oci:trusted/../attacker:app".parse().expect("valid");
        assert_eq!(r.to_string(), "oci:attacker:app");
        assert_eq!(r.repository_name(), "oci:attacker");
    }

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "localhost:5000", "127.0.0.1:1", "127.9.9.9", "[::1]:5000"] {
            assert!(host_is_loopback(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "localhost.evil.com", "[::2]:1"] {
            assert!(!host_is_loopback(h), "{h}");
        }
    }
}
