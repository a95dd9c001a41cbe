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

pub(crate) const ISSUER_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
pub(crate) const ISSUER_DEPRECATED_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");

const fn fulcio(arc: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(arc)
}

/// Fulcio extensions other than the issuer: (policy name, OID, raw string?).
/// The deprecated GitHub extensions hold raw bytes; the others DER UTF8String.
pub(crate) const EXTENSIONS: [(&str, ObjectIdentifier, bool); 19] = [
    ("githubWorkflowTrigger", fulcio("1.3.6.1.4.1.57264.1.2"), true),
    ("githubWorkflowSha", fulcio("1.3.6.1.4.1.57264.1.3"), true),
    ("githubWorkflowName", fulcio("1.3.6.1.4.1.57264.1.4"), true),
    ("githubWorkflowRepository", fulcio("1.3.6.1.4.1.57264.1.5"), true),
    ("githubWorkflowRef", fulcio("1.3.6.1.4.1.57264.1.6"), true),
    ("buildSignerURI", fulcio("1.3.6.1.4.1.57264.1.9"), false),
    ("buildSignerDigest", fulcio("1.3.6.1.4.1.57264.1.10"), false),
    ("runnerEnvironment", fulcio("1.3.6.1.4.1.57264.1.11"), false),
    ("sourceRepositoryURI", fulcio("1.3.6.1.4.1.57264.1.12"), false),
    ("sourceRepositoryDigest", fulcio("1.3.6.1.4.1.57264.1.13"), false),
    ("sourceRepositoryRef", fulcio("1.3.6.1.4.1.57264.1.14"), false),
    ("sourceRepositoryIdentifier", fulcio("1.3.6.1.4.1.57264.1.15"), false),
    ("sourceRepositoryOwnerURI", fulcio("1.3.6.1.4.1.57264.1.16"), false),
    (
        "sourceRepositoryOwnerIdentifier",
        fulcio("1.3.6.1.4.1.57264.1.17"),
        false,
    ),
    ("buildConfigURI", fulcio("1.3.6.1.4.1.57264.1.18"), false),
    ("buildConfigDigest", fulcio("1.3.6.1.4.1.57264.1.19"), false),
    ("buildTrigger", fulcio("1.3.6.1.4.1.57264.1.20"), false),
    ("runInvocationURI", fulcio("1.3.6.1.4.1.57264.1.21"), false),
    (
        "sourceRepositoryVisibilityAtSigning",
        fulcio("1.3.6.1.4.1.57264.1.22"),
        false,
    ),
];

/// Every extension name a policy may pin (`issuer` and the EXTENSIONS).
pub const EXTENSION_NAMES: [&str; 20] = [
    "issuer",
    "githubWorkflowTrigger",
    "githubWorkflowSha",
    "githubWorkflowName",
    "githubWorkflowRepository",
    "githubWorkflowRef",
    "buildSignerURI",
    "buildSignerDigest",
    "runnerEnvironment",
    "sourceRepositoryURI",
    "sourceRepositoryDigest",
    "sourceRepositoryRef",
    "sourceRepositoryIdentifier",
    "sourceRepositoryOwnerURI",
    "sourceRepositoryOwnerIdentifier",
    "buildConfigURI",
    "buildConfigDigest",
    "buildTrigger",
    "runInvocationURI",
    "sourceRepositoryVisibilityAtSigning",
];

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
    #[error("unknown certificate extension {name:?} (known: {})", EXTENSION_NAMES.join(", "))]
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
        if !EXTENSION_NAMES.contains(&name) {
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
    fn names_and_oids_agree() {
        for (name, _, _) in EXTENSIONS {
            assert!(EXTENSION_NAMES.contains(&name), "{name}");
        }
        assert_eq!(EXTENSION_NAMES.len(), EXTENSIONS.len() + 1);
    }
}
