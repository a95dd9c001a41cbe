//! The policy as sigil holds it after loading: every string parsed into the
//! type it means (keys, trusted roots, certificate roots, identity regexes,
//! globs, dates, CEL programs), every path read. Nothing here can be
//! invalid; the loader refuses what would be.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use time::OffsetDateTime;

use super::checks::ContentCheck;
use super::glob::Pattern;
use super::yaml::Span;
use crate::digest::Digest;
use crate::verify::Authority;

/// API version of the policy format.
pub const API_VERSION: &str = "sigil.dev/v1alpha1";
/// Kind of a policy document.
pub const KIND: &str = "ImagePolicy";

/// A loaded, lint-clean policy: one file, one meaning.
#[derive(Clone, Debug)]
pub struct Policy {
    /// The file it was read from.
    pub file: PathBuf,
    /// sha256 of the file's bytes, named in every report.
    pub digest: Digest,
    pub publishers: BTreeMap<String, Publisher>,
    pub rules: Vec<Rule>,
    pub exemptions: Vec<Exemption>,
}

/// Someone trusted to vouch for images, by name: its trust material was
/// read, parsed and compiled when the policy loaded, never per image.
#[derive(Clone, Debug)]
pub struct Publisher {
    pub name: String,
    pub authority: Authority,
    pub span: Span,
}

/// Whether failures block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Failures deny.
    Enforce,
    /// Allowed; failures shown as warnings.
    Warn,
    /// Allowed; failures recorded in the report only.
    Audit,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
            Mode::Audit => "audit",
        })
    }
}

/// One rule: which images, what they need.
#[derive(Clone, Debug)]
pub struct Rule {
    pub name: String,
    pub images: Vec<(Pattern, Span)>,
    pub signatures: Option<SignatureRequirement>,
    pub attestations: Vec<AttestationRequirement>,
    /// `baseImage:`: the image's base must be found (when `required`) and
    /// be allowed by this policy itself.
    pub base_image: Option<BaseImageRequirement>,
    pub mode: Mode,
    pub allow_unverified: bool,
    pub span: Span,
}

/// The `baseImage:` of a rule. Every base the image names (its manifest's
/// `org.opencontainers.image.base.*` annotations, and the container images a
/// provenance that verified under this rule lists among its resolved
/// dependencies) must match one of `images` (when given) and be allowed by
/// the policy, recursively, at most [`BASE_DEPTH`] bases deep.
#[derive(Clone, Debug)]
pub struct BaseImageRequirement {
    /// An image that names no base fails.
    pub required: bool,
    /// Patterns the base must match (empty: any name).
    pub images: Vec<(Pattern, Span)>,
}

/// How many bases deep a chain image → base → its base is followed: a
/// base further down that must itself be decided denies the image.
pub const BASE_DEPTH: usize = 4;

/// How many of which publishers must have signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Combinator {
    AnyOf(Vec<String>),
    AllOf(Vec<String>),
    /// At least `count` distinct signing identities among `of`.
    Threshold {
        count: usize,
        of: Vec<String>,
    },
}

impl Combinator {
    /// The publisher names listed.
    pub fn publishers(&self) -> &[String] {
        match self {
            Combinator::AnyOf(p) | Combinator::AllOf(p) | Combinator::Threshold { of: p, .. } => p,
        }
    }
}

impl fmt::Display for Combinator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Combinator::AnyOf(p) => write!(f, "anyOf [{}]", p.join(", ")),
            Combinator::AllOf(p) => write!(f, "allOf [{}]", p.join(", ")),
            Combinator::Threshold { count, of } => write!(f, "threshold {count} of [{}]", of.join(", ")),
        }
    }
}

/// The `signatures:` of a rule.
#[derive(Clone, Debug)]
pub struct SignatureRequirement {
    pub combinator: Combinator,
    /// Signed annotations every counted signature must carry.
    pub annotations: BTreeMap<String, String>,
}

/// One entry of a rule's `attestations:`.
#[derive(Clone, Debug)]
pub struct AttestationRequirement {
    pub predicate_type: String,
    pub signed_by: Vec<String>,
    pub checks: Vec<ContentCheck>,
}

/// What an exemption waives.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiver {
    pub signatures: bool,
    pub attestations: bool,
    /// Attestation requirements of these predicate types only.
    pub predicate_types: Vec<String>,
    /// The `baseImage` requirement.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub base_image: bool,
}

impl Waiver {
    /// Adds what `other` waives.
    pub fn combine(&mut self, other: &Waiver) {
        self.signatures |= other.signatures;
        self.attestations |= other.attestations;
        self.base_image |= other.base_image;
        for t in &other.predicate_types {
            if !self.predicate_types.contains(t) {
                self.predicate_types.push(t.clone());
            }
        }
    }

    /// True when the attestation requirement of `predicate_type` is waived.
    pub fn waives_attestation(&self, predicate_type: &str) -> bool {
        self.attestations || self.predicate_types.iter().any(|t| t == predicate_type)
    }
}

/// A time-limited waiver for some images.
#[derive(Clone, Debug)]
pub struct Exemption {
    /// Position in the file (0-based), for reports.
    pub index: usize,
    pub images: Vec<(Pattern, Span)>,
    pub waive: Waiver,
    pub reason: String,
    pub owner: String,
    pub expires: OffsetDateTime,
    pub span: Span,
}
