//! Identity policies: which certificate identities a keyless publisher may
//! have (DESIGN §3.5, §4.1).
//!
//! A policy names the subject (any SAN: email, URI, otherName, DNS), the OIDC
//! issuer and any Fulcio extension by name, each exactly or by a regular
//! expression that must match the whole string (Rust `regex` syntax). Names
//! are checked when the policy is built, so a misspelt extension is an error
//! at the edge, not a policy that silently never matches.

use std::collections::BTreeMap;
use std::fmt;

use const_oid::ObjectIdentifier;
use regex::Regex;

use super::certificate::CertificateIdentity;
use super::error::BundleRejection;

/// The OIDC issuer (`issuer` in [`EXTENSIONS`]).
pub(crate) const ISSUER_OID: ObjectIdentifier = EXTENSIONS[0].oid;
pub(crate) const ISSUER_DEPRECATED_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

const fn fulcio(arc: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(arc)
}

/// How a Fulcio extension's value is encoded in the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// A DER UTF8String (every extension since `1.3.6.1.4.1.57264.1.8`).
    Utf8String,
    /// The raw string bytes (the deprecated GitHub extensions `.1.1`-`.1.6`).
    Raw,
}

/// A Fulcio certificate extension a policy may pin, by its DESIGN §4.1 name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The policy name (`sourceRepositoryOwnerURI`).
    pub name: &'static str,
    /// Its OID under `1.3.6.1.4.1.57264.1.`.
    pub oid: ObjectIdentifier,
    /// How its value is encoded.
    pub encoding: Encoding,
}

const fn ext(name: &'static str, arc: &str, encoding: Encoding) -> Extension {
    Extension {
        name,
        oid: fulcio(arc),
        encoding,
    }
}

/// The one table of Fulcio extensions (DESIGN §3.5, §4.1): what a policy,
/// the CLI's `--certificate-extension` and the certificate reader name.
/// `issuer` is also read from the deprecated raw `.1.1` when `.1.8` is absent.
pub const EXTENSIONS: [Extension; 20] = [
    ext("issuer", "1.3.6.1.4.1.57264.1.8", Encoding::Utf8String),
    ext("buildSignerURI", "1.3.6.1.4.1.57264.1.9", Encoding::Utf8String),
    ext("buildSignerDigest", "1.3.6.1.4.1.57264.1.10", Encoding::Utf8String),
    ext("runnerEnvironment", "1.3.6.1.4.1.57264.1.11", Encoding::Utf8String),
    ext("sourceRepositoryURI", "1.3.6.1.4.1.57264.1.12", Encoding::Utf8String),
    ext("sourceRepositoryDigest", "1.3.6.1.4.1.57264.1.13", Encoding::Utf8String),
    ext("sourceRepositoryRef", "1.3.6.1.4.1.57264.1.14", Encoding::Utf8String),
    ext(
        "sourceRepositoryIdentifier",
        "1.3.6.1.4.1.57264.1.15",
        Encoding::Utf8String,
    ),
    ext(
        "sourceRepositoryOwnerURI",
        "1.3.6.1.4.1.57264.1.16",
        Encoding::Utf8String,
    ),
    ext(
        "sourceRepositoryOwnerIdentifier",
        "1.3.6.1.4.1.57264.1.17",
        Encoding::Utf8String,
    ),
    ext("buildConfigURI", "1.3.6.1.4.1.57264.1.18", Encoding::Utf8String),
    ext("buildConfigDigest", "1.3.6.1.4.1.57264.1.19", Encoding::Utf8String),
    ext("buildTrigger", "1.3.6.1.4.1.57264.1.20", Encoding::Utf8String),
    ext("runInvocationURI", "1.3.6.1.4.1.57264.1.21", Encoding::Utf8String),
    ext(
        "sourceRepositoryVisibilityAtSigning",
        "1.3.6.1.4.1.57264.1.22",
        Encoding::Utf8String,
    ),
    ext("githubWorkflowTrigger", "1.3.6.1.4.1.57264.1.2", Encoding::Raw),
    ext("githubWorkflowSha", "1.3.6.1.4.1.57264.1.3", Encoding::Raw),
    ext("githubWorkflowName", "1.3.6.1.4.1.57264.1.4", Encoding::Raw),
    ext("githubWorkflowRepository", "1.3.6.1.4.1.57264.1.5", Encoding::Raw),
    ext("githubWorkflowRef", "1.3.6.1.4.1.57264.1.6", Encoding::Raw),
];

/// The extension a policy names `name`, if any.
pub fn extension(name: &str) -> Option<&'static Extension> {
    EXTENSIONS.iter().find(|e| e.name == name)
}

/// Every extension name, for messages.
fn known_names() -> String {
    EXTENSIONS.iter().map(|e| e.name).collect::<Vec<_>>().join(", ")
}

/// Why a policy cannot be built.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The regular expression does not compile.
    #[error("invalid regular expression {pattern:?}: {reason}")]
    Regex {
        /// The pattern given.
        pattern: String,
        /// The compiler's reason.
        reason: String,
    },
    /// No Fulcio extension has this name.
    #[error("unknown certificate extension {name:?} (known: {})", known_names())]
    UnknownExtension {
        /// The name given.
        name: String,
    },
}

/// A string requirement: exact, or a regexp matching the whole string.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// The pattern as given, and its anchored compilation.
    Regex(String, Regex),
}

impl Matcher {
    /// An exact requirement.
    pub fn exact(value: impl Into<String>) -> Matcher {
        Matcher::Exact(value.into())
    }

    /// A whole-string regular expression (anchored here: `a.c` does not match `xabcx`).
    pub fn regex(pattern: &str) -> Result<Matcher, PolicyError> {
        Regex::new(&format!("^(?:{pattern})$"))
            .map(|re| Matcher::Regex(pattern.to_owned(), re))
            .map_err(|e| PolicyError::Regex {
                pattern: pattern.to_owned(),
                reason: e.to_string(),
            })
    }

    /// Whether `value` satisfies the requirement.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(expected) => expected == value,
            Matcher::Regex(_, re) => re.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(v) => write!(f, "{v}"),
            Matcher::Regex(p, _) => write!(f, "matching /{p}/"),
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        match (self, other) {
            (Matcher::Exact(a), Matcher::Exact(b)) | (Matcher::Regex(a, _), Matcher::Regex(b, _)) => a == b,
            _ => false,
        }
    }
}

impl Eq for Matcher {}

/// Which certificate identities are trusted: subject, issuer, extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityPolicy {
    subject: Matcher,
    issuer: Option<Matcher>,
    extensions: BTreeMap<String, Matcher>,
}

impl IdentityPolicy {
    /// A policy on the subject (any SAN) and the OIDC issuer.
    pub fn new(subject: Matcher, issuer: Matcher) -> IdentityPolicy {
        IdentityPolicy {
            subject,
            issuer: Some(issuer),
            extensions: BTreeMap::new(),
        }
    }

    /// A policy on the subject only, for certificates from a private PKI
    /// (a `certificate` publisher), which carry no OIDC issuer.
    pub fn subject_only(subject: Matcher) -> IdentityPolicy {
        IdentityPolicy {
            subject,
            issuer: None,
            extensions: BTreeMap::new(),
        }
    }

    /// Also requires a Fulcio extension, by its DESIGN §4.1 name.
    pub fn require_extension(mut self, name: &str, value: Matcher) -> Result<IdentityPolicy, PolicyError> {
        if extension(name).is_none() {
            return Err(PolicyError::UnknownExtension { name: name.to_owned() });
        }
        self.extensions.insert(name.to_owned(), value);
        Ok(self)
    }

    /// The subject requirement.
    pub fn subject(&self) -> &Matcher {
        &self.subject
    }

    /// The issuer requirement (`None` for a private-PKI policy).
    pub fn issuer(&self) -> Option<&Matcher> {
        self.issuer.as_ref()
    }

    /// The extension requirements.
    pub fn extensions(&self) -> &BTreeMap<String, Matcher> {
        &self.extensions
    }

    /// Checks a certificate's identity; the first unmet requirement is the reason.
    pub fn check(&self, identity: &CertificateIdentity) -> Result<(), BundleRejection> {
        if !identity.subject.iter().any(|name| self.subject.matches(name.value())) {
            return Err(BundleRejection::Identity {
                expected: self.subject.to_string(),
                found: identity.subject.iter().map(|n| n.value().to_owned()).collect(),
            });
        }
        if let Some(issuer) = &self.issuer
            && !identity.issuer.as_deref().is_some_and(|i| issuer.matches(i))
        {
            return Err(BundleRejection::Issuer {
                expected: issuer.to_string(),
                found: identity.issuer.clone(),
            });
        }
        for (name, matcher) in &self.extensions {
            let found = identity.extensions.get(name);
            if !found.is_some_and(|v| matcher.matches(v)) {
                return Err(BundleRejection::Extension {
                    name: name.clone(),
                    expected: matcher.to_string(),
                    found: found.cloned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::SubjectName;
    use time::OffsetDateTime;

    fn identity() -> CertificateIdentity {
        CertificateIdentity {
            subject: vec![SubjectName::Uri(
                "https://github.com/acme/app/.github/workflows/r.yml@refs/tags/v1".into(),
            )],
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            extensions: BTreeMap::from([
                ("issuer".into(), "https://token.actions.githubusercontent.com".into()),
                ("sourceRepositoryOwnerURI".into(), "https://github.com/acme".into()),
            ]),
            not_before: OffsetDateTime::UNIX_EPOCH,
            not_after: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn regexps_are_anchored_and_exact_is_exact() {
        let re = Matcher::regex("a.c").expect("compiles");
        assert!(re.matches("abc"));
        assert!(!re.matches("xabcx"));
        assert!(!re.matches("abcx"));
        let alt = Matcher::regex("a|b").expect("compiles");
        assert!(!alt.matches("ab"), "alternation stays inside the anchors");
        assert!(Matcher::exact("abc").matches("abc"));
        assert!(!Matcher::exact("abc").matches("abcd"));
        assert!(matches!(Matcher::regex("("), Err(PolicyError::Regex { .. })));
    }

    #[test]
    fn every_requirement_can_fail() {
        let issuer = Matcher::exact("https://token.actions.githubusercontent.com");
        let subject = Matcher::regex("https://github.com/acme/.*").expect("re");
        let ok = IdentityPolicy::new(subject.clone(), issuer.clone())
            .require_extension("sourceRepositoryOwnerURI", Matcher::exact("https://github.com/acme"))
            .expect("known");
        assert_eq!(ok.check(&identity()), Ok(()));
        let wrong_subject = IdentityPolicy::new(Matcher::exact("https://github.com/acme"), issuer.clone());
        assert!(matches!(
            wrong_subject.check(&identity()),
            Err(BundleRejection::Identity { .. })
        ));
        let wrong_issuer = IdentityPolicy::new(subject.clone(), Matcher::exact("https://accounts.google.com"));
        assert!(matches!(
            wrong_issuer.check(&identity()),
            Err(BundleRejection::Issuer { .. })
        ));
        let wrong_ext = IdentityPolicy::new(subject.clone(), issuer.clone())
            .require_extension("sourceRepositoryOwnerURI", Matcher::exact("https://github.com/evil"))
            .expect("known");
        assert!(matches!(
            wrong_ext.check(&identity()),
            Err(BundleRejection::Extension { .. })
        ));
        let absent_ext = IdentityPolicy::new(subject, issuer)
            .require_extension("buildTrigger", Matcher::regex(".*").expect("re"))
            .expect("known");
        assert!(matches!(
            absent_ext.check(&identity()),
            Err(BundleRejection::Extension { found: None, .. })
        ));
        assert!(matches!(
            ok.clone().require_extension("sourceRepoOwner", Matcher::exact("x")),
            Err(PolicyError::UnknownExtension { .. })
        ));
        let message = wrong_subject.check(&identity()).expect_err("rejects").to_string();
        assert!(message.starts_with("certificate identity"), "{message}");
    }

    #[test]
    fn one_table_of_distinct_names_and_oids() {
        assert_eq!(EXTENSIONS[0].name, "issuer");
        assert_eq!(
            ISSUER_OID,
            const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8")
        );
        for (i, a) in EXTENSIONS.iter().enumerate() {
            assert_eq!(extension(a.name), Some(a), "{}", a.name);
            assert!(a.oid.to_string().starts_with("1.3.6.1.4.1.57264.1."), "{}", a.name);
            assert_ne!(a.oid, ISSUER_DEPRECATED_OID, "{}", a.name);
            for b in &EXTENSIONS[i + 1..] {
                assert!(a.name != b.name && a.oid != b.oid, "{} / {}", a.name, b.name);
            }
        }
        assert_eq!(extension("sourceRepoOwner"), None);
    }
}
