//! Evaluation: `(policy, evidence, now) -> Report`, pure and deterministic.
//!
//! Order matters and is fixed: exemptions and the deciding rule are found by
//! name; then every signature and attestation is verified against the rule's
//! publishers by [`crate::verify`], which alone can mint [`Verified`] values;
//! only those reach the combinators and the content checks. Anything that
//! cannot be judged denies (fail closed).
//!
//! A layout image may have two names ([`super::names`]): `oci:DIR`, which
//! the user gave, and the name its layout records, which whoever wrote the
//! layout chose. The recorded name can only add requirements:
//!
//! - when `oci:DIR` matches a rule, the image is judged under that rule
//!   *and* under the rule its recorded name matches (if any), and must be
//!   allowed by both;
//! - when `oci:DIR` matches no rule, the recorded name's rule decides, but
//!   a claimed name earns no leniency: the rule is enforced whatever its
//!   `mode`, `allowUnverified` does not let the image through, and only
//!   exemptions that pin the image's digest apply. An attacker who names
//!   the layout after a lenient rule therefore gains nothing that the
//!   evidence, verified by the rule's publishers, does not already prove.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::checks::{self, Context};
use super::glob::{ImageName, Pin};
use super::model::BaseImageRequirement;
use super::model::{AttestationRequirement, Combinator, Mode, Policy, Rule, SignatureRequirement, Waiver};
use super::names::Names;
use super::report::{BaseDecision, PendingBase};
use super::report::{Check, CheckResult, Decision, ExemptionUse, ReasonCode, Report};
use super::threshold::distinct_publishers;
use crate::base::BaseImage;
use crate::digest::Digest;
use crate::evidence::{AttestationEvidence, NotationEvidence, SignatureEvidence};
use crate::predicate;
use crate::reference::ImageRef;
use crate::reference::RegistryRef;
use crate::verify::{self, AttestedStatement, Rejection, SignedImage, Signer, Verified};

/// Everything gathered about one image, not yet judged. The evidence is
/// borrowed where it is shared: images with the same digest share one
/// gathering, and an attestation can hold a 100 MB SBOM.
#[derive(Clone, Debug)]
pub struct Evidence<'a> {
    /// The image as the user named it (for the report).
    pub image: String,
    /// The name rules match against, with the digest it resolved to.
    pub name: ImageName,
    /// For a layout image: the name its layout records (unauthenticated;
    /// see the module docs for what it may and may not do).
    pub recorded: Option<ImageName>,
    /// The tag of a `NAME:TAG@DIGEST` reference, which matching ignores.
    pub ignored_tag: Option<String>,
    pub signatures: Cow<'a, [SignatureEvidence]>,
    pub attestations: Cow<'a, [AttestationEvidence]>,
    /// The image's Notary Project signatures, when they were gathered (a
    /// policy that names a `notation` publisher asks for them); without
    /// them no `notation` publisher counts.
    pub notation: Option<Cow<'a, NotationEvidence>>,
    /// The image manifest's annotations, when they were gathered (a policy
    /// with a `baseImage` requirement asks for them); without them no base
    /// is found by annotation.
    pub annotations: Option<Cow<'a, BTreeMap<String, String>>>,
}

impl<'a> Evidence<'a> {
    /// Evidence about the image `image`, judged under `names`.
    pub fn new(
        image: String,
        names: Names,
        signatures: Cow<'a, [SignatureEvidence]>,
        attestations: Cow<'a, [AttestationEvidence]>,
    ) -> Evidence<'a> {
        Evidence {
            image,
            name: names.name,
            recorded: names.recorded,
            ignored_tag: names.ignored_tag,
            signatures,
            attestations,
            notation: None,
            annotations: None,
        }
    }

    /// The same evidence with the image manifest's annotations.
    pub fn with_annotations(self, annotations: Cow<'a, BTreeMap<String, String>>) -> Evidence<'a> {
        Evidence {
            annotations: Some(annotations),
            ..self
        }
    }

    /// The same evidence with the image's Notary Project signatures.
    pub fn with_notation(self, notation: Cow<'a, NotationEvidence>) -> Evidence<'a> {
        Evidence {
            notation: Some(notation),
            ..self
        }
    }
}

/// What [`Policy::rule_for`] says: the deciding rule, none, or two that tie.
type Selection<'p> = Result<Option<&'p Rule>, (String, String)>;

/// How far the name an image is judged under can be believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trust {
    /// The name the user gave: its rule applies as written.
    Given,
    /// Only the layout's recorded name selects a rule: enforced, with no
    /// `allowUnverified` and only digest-pinned exemptions.
    Claimed,
}

mod publishers {
    //! Publishers judge evidence through [`verify::Authority`], compiled
    //! when the policy loaded: nothing here parses trust material.
    use super::*;
    use crate::verify::Authority;

    /// Verifies `content` as an attestation of `predicate_type` by `authority`.
    pub(super) fn attestation(
        authority: &Authority,
        content: &crate::evidence::AttestationContent,
        image: &crate::digest::Digest,
        predicate_type: &str,
        now: OffsetDateTime,
    ) -> Result<Verified<AttestedStatement>, Rejection> {
        verify::attestation_by(content, authority, image, predicate_type, now)
    }

    /// Verifies image signatures by `authority`.
    pub(super) fn signatures(
        authority: &Authority,
        evidence: &[SignatureEvidence],
        image: &crate::digest::Digest,
        required: &std::collections::BTreeMap<String, String>,
        now: OffsetDateTime,
    ) -> Vec<verify::SignatureCheck> {
        verify::judge_signatures_by(evidence, authority, image, required, now)
    }
}

impl Policy {
    /// Whether any rule may read an attestation whose storage claims the
    /// predicate type `claimed` (`None`: unclaimed, or with `None` asked:
    /// whether any rule reads attestations at all). Evidence gathering asks
    /// this so that attestations no rule reads are not fetched: the engine
    /// considers only attestations whose claim is absent or equal to a
    /// requirement's type, so the ones skipped could not change a decision.
    pub fn reads_attestation(&self, claimed: Option<&str>) -> bool {
        self.rules
            .iter()
            .flat_map(|r| &r.attestations)
            .any(|a| claimed.is_none_or(|c| c == a.predicate_type))
    }

    /// Whether any rule's `signatures` names a publisher of kind
    /// `notation`: only then are an image's Notary Project signatures
    /// gathered (a publisher no rule names could not change a decision).
    pub fn reads_notation(&self) -> bool {
        self.rules
            .iter()
            .filter_map(|r| r.signatures.as_ref())
            .flat_map(|s| s.combinator.publishers())
            .any(|name| {
                self.publishers
                    .get(name)
                    .is_some_and(|p| p.authority.notation().is_some())
            })
    }

    /// The rule that decides for `name`: the most specific matching one.
    /// `Err` names the rules that tie (a lint error; denied if met).
    pub fn rule_for(&self, name: &ImageName) -> Result<Option<&Rule>, (String, String)> {
        let mut best: Option<(&Rule, super::glob::Specificity)> = None;
        let mut tie: Option<&Rule> = None;
        for rule in &self.rules {
            let Some(spec) = rule
                .images
                .iter()
                .filter(|(p, _)| p.matches(name))
                .map(|(p, _)| p.specificity())
                .max()
            else {
                continue;
            };
            match best {
                Some((_, b)) if spec < b => {}
                Some((_, b)) if spec == b => tie = Some(rule),
                _ => {
                    best = Some((rule, spec));
                    tie = None;
                }
            }
        }
        match (best, tie) {
            (Some((a, _)), Some(b)) => Err((a.name.clone(), b.name.clone())),
            (best, _) => Ok(best.map(|(r, _)| r)),
        }
    }

    /// A report for an image whose evidence could not be gathered (DESIGN
    /// §4.1, "Outcomes"), judged under the rule its name matches: an
    /// `enforce` rule denies, a `warn` or `audit` rule allows and reports
    /// the error (code `evidence-unavailable`; the run still exits 2). An
    /// image no rule matches is denied, and so is one whose rule cannot be
    /// told: when the digest is unknown (`digest` is `None` and the
    /// reference pins none) and rules that pin digests would decide
    /// differently. A layout image's rule is enforced whatever its mode: the
    /// name its layout records, which could add requirements, is unknown.
    pub fn evaluate_failure(
        &self,
        image: &ImageRef,
        digest: Option<&Digest>,
        error: &str,
        now: OffsetDateTime,
    ) -> Report {
        let mut report = self.empty_report(&image.to_string(), now);
        report.error = Some(error.to_owned());
        let pinned = match image {
            ImageRef::Registry(r) => r.digest(),
            ImageRef::Layout(l) => l.digest.as_ref(),
        };
        let digest = digest.or(pinned).cloned();
        // The name as `names::of` gives it; a recorded name is never known here.
        let name_with = |d: Digest| super::names::of(image, d, None).ok().map(|n| n.name);
        let selection = match &digest {
            Some(d) => name_with(d.clone()).map(|name| (self.rule_for(&name), name)),
            None => self.rule_whatever_digest(name_with),
        };
        report.digest = digest;
        let evidence = Check {
            kind: "evidence",
            requirement: "gathering".into(),
            result: CheckResult::Fail,
            code: ReasonCode::EvidenceUnavailable,
            reason: format!("could not be evaluated: {error}"),
            details: Vec::new(),
        };
        let Some((selected, name)) = selection else {
            report.checks.push(evidence);
            report.checks.push(rule_check(
                ReasonCode::NoMatchingRule,
                "the digest is unknown, and rules that pin digests would decide differently for this name".into(),
            ));
            return report;
        };
        let matched = display_name(&name);
        report.matched_name = Some(matched.clone());
        report.checks.push(evidence);
        let rule = match selected_rule(selected, &matched) {
            Ok(rule) => rule,
            Err(check) => {
                report.checks.push(check);
                return report;
            }
        };
        let mode = match image {
            ImageRef::Registry(_) => rule.mode,
            ImageRef::Layout(_) => {
                if rule.mode != Mode::Enforce {
                    report.notes.push(format!(
                        "rule {} is enforced, not {}: the name this layout records, which could add requirements, is not known",
                        rule.name, rule.mode
                    ));
                }
                Mode::Enforce
            }
        };
        report.rule = Some(rule.name.clone());
        report.mode = Some(mode);
        report.decision = if mode == Mode::Enforce {
            Decision::Deny
        } else {
            Decision::Allow
        };
        report
    }

    /// The decision about a registry image that no rule can match, whatever
    /// digest it resolves to: denied (DESIGN §4), with no evidence needed.
    /// `None` when a rule may decide, or the reference is a layout: that
    /// image must be gathered and [`Policy::evaluate`]d. A server asks this
    /// first, so images no rule covers cost no registry I/O.
    pub fn evaluate_unmatched(&self, image: &ImageRef, now: OffsetDateTime) -> Option<Report> {
        let ImageRef::Registry(reference) = image else {
            return None;
        };
        let name_with = |d: Digest| super::names::of(image, d, None).ok().map(|n| n.name);
        let (selection, name) = match reference.digest() {
            Some(d) => {
                let name = name_with(d.clone())?;
                (self.rule_for(&name), name)
            }
            None => self.rule_whatever_digest(name_with)?,
        };
        if !matches!(selection, Ok(None)) {
            return None;
        }
        let mut report = self.empty_report(&image.to_string(), now);
        let matched = display_name(&name);
        report.digest = reference.digest().cloned();
        report.checks.push(rule_check(
            ReasonCode::NoMatchingRule,
            format!("no rule matches {matched}"),
        ));
        report.matched_name = Some(matched);
        Some(report)
    }

    /// For an image whose digest is unknown: the rule its name selects
    /// whatever the digest, with the name (made by `name_with` from a
    /// digest). `None` when rules that pin digests would decide differently.
    fn rule_whatever_digest(
        &self,
        name_with: impl Fn(Digest) -> Option<ImageName>,
    ) -> Option<(Selection<'_>, ImageName)> {
        // A digest no pattern pins (nor any image has: it is no manifest's), then every pinned one.
        let unpinned = Digest::sha256_of(b"sigil: the digest of this image is not known");
        let pinned = self
            .rules
            .iter()
            .flat_map(|r| &r.images)
            .filter_map(|(p, _)| match p.pin() {
                Pin::Digest(d) => Some(d.clone()),
                _ => None,
            });
        let selected_name = |name: &ImageName| match self.rule_for(name) {
            Ok(rule) => Ok(rule.map(|r| r.name.as_str())),
            Err(tie) => Err(tie),
        };
        let name = name_with(unpinned)?;
        let first = selected_name(&name);
        for d in pinned {
            if selected_name(&name_with(d)?) != first {
                return None;
            }
        }
        Some((self.rule_for(&name), name))
    }

    fn empty_report(&self, image: &str, now: OffsetDateTime) -> Report {
        Report {
            image: image.to_owned(),
            matched_name: None,
            digest: None,
            decision: Decision::Deny,
            error: None,
            rule: None,
            mode: None,
            exemptions: Vec::new(),
            policy_digest: self.digest.clone(),
            evaluated_at: now.format(&Rfc3339).unwrap_or_default(),
            notes: Vec::new(),
            checks: Vec::new(),
            inputs: Vec::new(),
            bases: Vec::new(),
            pending_bases: Vec::new(),
        }
    }

    /// Decides about one image (see the module docs for layout images).
    pub fn evaluate(&self, evidence: &Evidence<'_>, now: OffsetDateTime) -> Report {
        let mut report = match &evidence.recorded {
            None => self.judge(evidence, &evidence.name, Trust::Given, now),
            Some(recorded) => self.judge_layout(evidence, recorded, now),
        };
        if let Some(tag) = &evidence.ignored_tag {
            report.notes.push(format!(
                "tag {tag} is ignored: a reference that pins a digest is matched by its digest only (nothing checked that the tag points at it)"
            ));
        }
        report
    }

    /// A layout image with a recorded name: never more lenient than its
    /// `oci:DIR` name alone, and without a rule for `oci:DIR` never more
    /// lenient than what the recorded name's rule requires.
    fn judge_layout(&self, evidence: &Evidence<'_>, recorded: &ImageName, now: OffsetDateTime) -> Report {
        if matches!(self.rule_for(&evidence.name), Ok(None)) {
            let mut report = self.judge(evidence, recorded, Trust::Claimed, now);
            if report.rule.is_none() {
                report.checks = vec![rule_check(
                    ReasonCode::NoMatchingRule,
                    format!(
                        "no rule matches {} or the name its layout records, {}",
                        display_name(&evidence.name),
                        display_name(recorded)
                    ),
                )];
            } else {
                report.notes.insert(
                    0,
                    format!(
                        "no rule matches {}, so the image is judged by the name its layout records, {}; the layout asserts that name without proof, so the rule is enforced whatever its mode, allowUnverified does not apply, and only exemptions that pin the digest do",
                        display_name(&evidence.name),
                        display_name(recorded)
                    ),
                );
            }
            return report;
        }
        let mut given = self.judge(evidence, &evidence.name, Trust::Given, now);
        if matches!(self.rule_for(recorded), Ok(None)) {
            given.notes.push(format!(
                "the name its layout records, {}, matches no rule",
                display_name(recorded)
            ));
            return given;
        }
        let claimed = self.judge(evidence, recorded, Trust::Given, now);
        // The report of a judgement that denies leads; the other becomes one check.
        let (mut lead, other, what) = if given.decision == Decision::Allow && claimed.decision == Decision::Deny {
            (claimed, given, "the image's own name")
        } else {
            (given, claimed, "the name its layout records")
        };
        lead.notes.push(format!(
            "judged under the rule for {} and the rule for {}, which its layout records; both must allow it",
            display_name(&evidence.name),
            display_name(recorded)
        ));
        for e in &other.exemptions {
            if !lead.exemptions.iter().any(|l| l.index == e.index) {
                lead.exemptions.push(e.clone());
            }
        }
        lead.checks.push(summary_check(&other, what));
        lead
    }

    /// Judges `evidence` under the rule that `name` selects.
    fn judge(&self, evidence: &Evidence<'_>, name: &ImageName, trust: Trust, now: OffsetDateTime) -> Report {
        let mut report = self.empty_report(&evidence.image, now);
        report.matched_name = Some(display_name(name));
        report.digest = Some(name.digest.clone());

        let mut waiver = Waiver::default();
        for e in self
            .exemptions
            .iter()
            .filter(|e| e.images.iter().any(|(p, _)| p.matches(name)))
        {
            // A claimed name proves only the digest.
            if trust == Trust::Claimed
                && !e
                    .images
                    .iter()
                    .any(|(p, _)| p.matches(name) && matches!(p.pin(), Pin::Digest(_)))
            {
                report.notes.push(format!(
                    "exemption {} matches only the name the layout records and does not pin the digest: not applied",
                    e.index + 1
                ));
                continue;
            }
            let expired = e.expires <= now;
            if !expired {
                waiver.combine(&e.waive);
            }
            report.exemptions.push(ExemptionUse {
                index: e.index + 1,
                owner: e.owner.clone(),
                reason: e.reason.clone(),
                expires: e.expires.format(&Rfc3339).unwrap_or_default(),
                expired,
                waive: e.waive.clone(),
            });
        }

        let rule = match selected_rule(self.rule_for(name), report.matched_name.as_deref().unwrap_or_default()) {
            Ok(rule) => rule,
            Err(check) => {
                report.checks.push(check);
                return report;
            }
        };
        let mode = match trust {
            Trust::Given => rule.mode,
            Trust::Claimed => Mode::Enforce,
        };
        report.rule = Some(rule.name.clone());
        report.mode = Some(mode);

        if rule.signatures.is_none() && rule.attestations.is_empty() {
            let (result, code, reason) = match (rule.allow_unverified, trust) {
                (true, Trust::Given) => (
                    CheckResult::Pass,
                    ReasonCode::AllowUnverified,
                    "allowUnverified: no evidence is required".to_owned(),
                ),
                (true, Trust::Claimed) => (
                    CheckResult::Fail,
                    ReasonCode::UnverifiedNotAllowed,
                    "allowUnverified does not apply to an image matched only by the name its layout records (write a rule for its oci: directory)".to_owned(),
                ),
                (false, _) => (
                    CheckResult::Fail,
                    ReasonCode::NoRequirements,
                    "the rule requires nothing and does not say allowUnverified".to_owned(),
                ),
            };
            report.checks.push(Check {
                kind: "rule",
                requirement: rule.name.clone(),
                result,
                code,
                reason,
                details: Vec::new(),
            });
        }
        if let Some(requirement) = &rule.signatures {
            report.checks.push(if waiver.signatures {
                waived(requirement.combinator.to_string(), "signatures")
            } else {
                self.signature_check(requirement, evidence, name, now)
            });
        }
        // The bases verified provenance names, read only for a baseImage requirement.
        let mut provenance_bases = rule.base_image.as_ref().map(|_| Vec::new());
        for requirement in &rule.attestations {
            report
                .checks
                .push(if waiver.waives_attestation(&requirement.predicate_type) {
                    let mut c = waived(requirement.predicate_type.clone(), "attestation");
                    c.requirement = format!(
                        "{} by [{}]",
                        requirement.predicate_type,
                        requirement.signed_by.join(", ")
                    );
                    c
                } else {
                    self.attestation_check(
                        requirement,
                        evidence,
                        name,
                        now,
                        &mut report.inputs,
                        provenance_bases.as_mut(),
                    )
                });
        }
        if let Some(requirement) = &rule.base_image {
            report.checks.push(if waiver.base_image {
                waived(base_requirement_text(requirement), "baseImage")
            } else {
                let (check, pending) = base_check(requirement, evidence, provenance_bases.unwrap_or_default());
                report.pending_bases = pending;
                check
            });
        }
        let failed = report.has_failures();
        report.decision = if failed && mode == Mode::Enforce {
            Decision::Deny
        } else {
            Decision::Allow
        };
        report
    }

    /// Verifies every signature by one publisher; without any that count,
    /// why each did not (with its code).
    fn signatures_by(
        &self,
        publisher: &str,
        requirement: &SignatureRequirement,
        evidence: &Evidence<'_>,
        digest: &crate::digest::Digest,
        now: OffsetDateTime,
    ) -> Result<Vec<Verified<SignedImage>>, Vec<(ReasonCode, String)>> {
        let Some(p) = self.publishers.get(publisher) else {
            return Err(vec![(
                ReasonCode::UnknownPublisher,
                format!("{publisher}: no such publisher"),
            )]);
        };
        if let Some(trust) = p.authority.notation() {
            return notation_signatures_by(publisher, trust, requirement, evidence, digest, now);
        }
        let checks = publishers::signatures(
            &p.authority,
            &evidence.signatures,
            digest,
            &requirement.annotations,
            now,
        );
        let mut verified = Vec::new();
        let mut rejected = Vec::new();
        for check in checks {
            match check.outcome {
                Ok(v) => verified.push(v),
                Err(why) => rejected.push((ReasonCode::from(&why), format!("{publisher}: {}: {why}", check.origin))),
            }
        }
        if verified.is_empty() {
            if evidence.signatures.is_empty() {
                rejected.push((
                    ReasonCode::NoSignatures,
                    format!("{publisher}: the image has no signatures"),
                ));
            }
            Err(rejected)
        } else {
            Ok(verified)
        }
    }

    fn signature_check(
        &self,
        requirement: &SignatureRequirement,
        evidence: &Evidence<'_>,
        name: &ImageName,
        now: OffsetDateTime,
    ) -> Check {
        let combinator = &requirement.combinator;
        let mut details = Vec::new();
        // The codes of why the publishers that did not count did not.
        let mut rejections = Vec::new();
        // Signers are compared by their full identity (Debug form: kind and whole fingerprint).
        let mut satisfied: Vec<(&str, BTreeSet<String>)> = Vec::new();
        for publisher in combinator.publishers() {
            match self.signatures_by(publisher, requirement, evidence, &name.digest, now) {
                Ok(verified) => {
                    let signers: BTreeSet<String> = verified.iter().map(|v| signer_id(&v.signer)).collect();
                    let notation: BTreeSet<String> = verified
                        .iter()
                        .filter(|v| matches!(v.signer, Signer::Notation { .. }))
                        .map(|v| v.signer.to_string())
                        .collect();
                    if notation.is_empty() {
                        details.push(format!("{publisher}: {} valid signature(s)", verified.len()));
                    } else {
                        let by: Vec<String> = notation.into_iter().collect();
                        details.push(format!(
                            "{publisher}: {} valid notation signature(s) by {}",
                            verified.len(),
                            by.join("; ")
                        ));
                    }
                    satisfied.push((publisher, signers));
                }
                Err(reasons) => {
                    for (code, reason) in reasons {
                        rejections.push(code);
                        details.push(reason);
                    }
                }
            }
        }
        // A failure the evidence explains: the most telling rejection.
        let rejected = ReasonCode::most_telling(rejections).unwrap_or(ReasonCode::NoSignatures);
        let names: Vec<&str> = satisfied.iter().map(|(n, _)| *n).collect();
        let missing: Vec<&str> = combinator
            .publishers()
            .iter()
            .map(String::as_str)
            .filter(|n| !names.contains(n))
            .collect();
        let (code, reason) = match combinator {
            Combinator::AnyOf(list) | Combinator::AllOf(list) | Combinator::Threshold { of: list, .. }
                if list.is_empty() =>
            {
                (
                    ReasonCode::EmptyPublisherList,
                    "no publishers are listed, so nothing can satisfy it".to_owned(),
                )
            }
            Combinator::AnyOf(_) => match names.first() {
                Some(n) => (ReasonCode::Satisfied, format!("signed by {n}")),
                None => (
                    rejected,
                    format!("no valid signature by any of [{}]", missing.join(", ")),
                ),
            },
            Combinator::AllOf(_) => {
                if missing.is_empty() {
                    (
                        ReasonCode::Satisfied,
                        format!("signed by all of [{}]", names.join(", ")),
                    )
                } else {
                    (rejected, format!("no valid signature by [{}]", missing.join(", ")))
                }
            }
            Combinator::Threshold { count, of } => {
                let counted = distinct_publishers(&satisfied);
                if *count < 1 || *count > of.len() {
                    (
                        ReasonCode::InvalidThreshold,
                        format!(
                            "threshold {count} of {} publishers can never be met correctly (fix the policy)",
                            of.len()
                        ),
                    )
                } else if counted.len() >= *count {
                    (
                        ReasonCode::Satisfied,
                        format!(
                            "{} distinct publisher(s) of {count} required: [{}]",
                            counted.len(),
                            counted.join(", ")
                        ),
                    )
                } else {
                    (
                        // Not one publisher counted: the evidence says why.
                        if counted.is_empty() {
                            rejected
                        } else {
                            ReasonCode::ThresholdNotMet
                        },
                        format!(
                            "{} distinct publisher(s), {count} required (valid: [{}]; a publisher counts once however many of its keys or identities signed, and publishers count only with signers of their own)",
                            counted.len(),
                            names.join(", ")
                        ),
                    )
                }
            }
        };
        let mut requirement_text = combinator.to_string();
        if !requirement.annotations.is_empty() {
            let a: Vec<String> = requirement
                .annotations
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            requirement_text.push_str(&format!(" with {}", a.join(", ")));
        }
        Check {
            kind: "signatures",
            requirement: requirement_text,
            result: if code == ReasonCode::Satisfied {
                CheckResult::Pass
            } else {
                CheckResult::Fail
            },
            code,
            reason,
            details,
        }
    }

    fn attestation_check(
        &self,
        requirement: &AttestationRequirement,
        evidence: &Evidence<'_>,
        name: &ImageName,
        now: OffsetDateTime,
        inputs: &mut Vec<Digest>,
        mut bases: Option<&mut Vec<BaseImage>>,
    ) -> Check {
        let t = &requirement.predicate_type;
        let by = format!("[{}]", requirement.signed_by.join(", "));
        let mut details = Vec::new();
        let mut rejections = Vec::new();
        let candidates: Vec<&AttestationEvidence> = evidence
            .attestations
            .iter()
            .filter(|e| e.claimed_type.as_deref().is_none_or(|c| c == t))
            .collect();
        let cx = Context { image: name, now };
        // Each verified attestation is judged as soon as it verified and
        // dropped before the next is verified: a policy run holds one
        // attestation's payload and views at a time, however many there are.
        let mut verified: Vec<(&str, String)> = Vec::new();
        let mut failures = Vec::new();
        for e in &candidates {
            let mut found = None;
            let mut reasons = Vec::new();
            for publisher_name in &requirement.signed_by {
                let outcome = match self.publishers.get(publisher_name).map(|p| &p.authority) {
                    Some(publisher) => publishers::attestation(publisher, &e.content, &name.digest, t, now)
                        .map_err(|why| (ReasonCode::from(&why), why.to_string())),
                    None => Err((ReasonCode::UnknownPublisher, "no such publisher".to_owned())),
                };
                match outcome {
                    Ok(v) => {
                        found = Some((publisher_name.as_str(), v));
                        break;
                    }
                    Err((code, why)) => {
                        rejections.push(code);
                        reasons.push(format!("{publisher_name}: {why}"));
                    }
                }
            }
            match found {
                Some((publisher, v)) => match content_failures(requirement, publisher, &v, cx) {
                    Ok(found) => {
                        failures.extend(found);
                        let layer = match &e.origin {
                            crate::evidence::Origin::Tag { layer, .. }
                            | crate::evidence::Origin::Referrer { layer, .. } => layer,
                        };
                        if !inputs.contains(layer) {
                            inputs.push(layer.clone());
                        }
                        if let Some(bases) = bases.as_deref_mut()
                            && (t == predicate::SLSA_PROVENANCE_V1 || t == predicate::SLSA_PROVENANCE_V02)
                            && let Ok(tree) = v.statement.predicate_as::<serde_json::Value>()
                        {
                            for base in crate::base::from_provenance(&tree) {
                                if !bases.contains(&base) {
                                    bases.push(base);
                                }
                            }
                        }
                        verified.push((publisher, format!("verified attestation by {publisher} ({})", v.signer)));
                    }
                    // A predicate that cannot be read: the failure, and no detail line (as before).
                    Err(unreadable) => {
                        failures.push(unreadable);
                        verified.push((publisher, String::new()));
                    }
                },
                None => details.push(format!("{}: not counted ({})", e.origin, reasons.join("; "))),
            }
        }
        let fail = |code: ReasonCode, reason: String, details: Vec<String>| Check {
            kind: "attestation",
            requirement: format!("{t} by {by}"),
            result: CheckResult::Fail,
            code,
            reason,
            details,
        };
        if requirement.signed_by.is_empty() {
            return fail(
                ReasonCode::EmptyPublisherList,
                "signedBy lists no publishers, so nothing can satisfy it".into(),
                details,
            );
        }
        if verified.is_empty() {
            // An attestation of another predicate type is about something else, not a failed one.
            let code = ReasonCode::most_telling(
                rejections
                    .into_iter()
                    .filter(|c| *c != ReasonCode::PredicateTypeMismatch),
            )
            .unwrap_or(ReasonCode::NoVerifiedAttestation);
            return fail(
                code,
                format!(
                    "no verified attestation of type {t} by any of {by} ({} candidate(s) found)",
                    candidates.len()
                ),
                details,
            );
        }
        details.extend(
            verified
                .iter()
                .filter(|(_, detail)| !detail.is_empty())
                .map(|(_, detail)| detail.clone()),
        );
        if failures.is_empty() {
            let names: BTreeSet<&str> = verified.iter().map(|(p, _)| *p).collect();
            let checks: Vec<&str> = requirement.checks.iter().map(checks::ContentCheck::name).collect();
            let what = if checks.is_empty() {
                String::new()
            } else {
                format!(", passing {}", checks.join(", "))
            };
            Check {
                kind: "attestation",
                requirement: format!("{t} by {by}"),
                result: CheckResult::Pass,
                code: ReasonCode::Satisfied,
                reason: format!(
                    "{} verified attestation(s) by [{}]{what}",
                    verified.len(),
                    names.into_iter().collect::<Vec<_>>().join(", ")
                ),
                details,
            }
        } else {
            fail(ReasonCode::ContentCheckFailed, failures.join("; "), details)
        }
    }
}

/// [`Policy::signatures_by`] for a `notation` publisher: the image's Notary
/// Project signatures judged by [`verify::notation_signatures_by`]. Not
/// gathered means none count (fail closed).
fn notation_signatures_by(
    publisher: &str,
    trust: &verify::NotationTrust,
    requirement: &SignatureRequirement,
    evidence: &Evidence<'_>,
    digest: &Digest,
    now: OffsetDateTime,
) -> Result<Vec<Verified<SignedImage>>, Vec<(ReasonCode, String)>> {
    let Some(notation) = &evidence.notation else {
        return Err(vec![(
            ReasonCode::NoSignatures,
            format!("{publisher}: the image's notation signatures were not gathered"),
        )]);
    };
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    for check in verify::notation_signatures_by(trust, notation, digest, &requirement.annotations, now) {
        match check.outcome {
            Ok(v) => verified.push(v),
            Err(why) => rejected.push((
                ReasonCode::from(&why),
                format!("{publisher}: notation signature {}: {why}", check.origin),
            )),
        }
    }
    if !verified.is_empty() {
        return Ok(verified);
    }
    if notation.signatures.is_empty() {
        rejected.push((
            ReasonCode::NoSignatures,
            format!("{publisher}: the image has no notation signatures"),
        ));
    }
    Err(rejected)
}

/// What the content checks of `requirement` find wrong with one verified
/// attestation by `publisher`: its predicate is read (into the views the
/// checks ask for, nothing else) and judged, then dropped. `Err`: the
/// predicate could not be read.
fn content_failures(
    requirement: &AttestationRequirement,
    publisher: &str,
    v: &Verified<AttestedStatement>,
    cx: Context<'_>,
) -> Result<Vec<String>, String> {
    let t = &requirement.predicate_type;
    let predicate = checks::Predicate::of(&v.statement, &requirement.checks)
        .map_err(|e| format!("attestation {t} by {publisher}: {e}"))?;
    Ok(requirement
        .checks
        .iter()
        .filter_map(|check| check.run(&v.statement, &predicate, cx).err())
        .map(|why| format!("attestation {t} by {publisher}: {why}"))
        .collect())
}

/// Who a signer is, for counting distinct publishers: a key by its whole
/// fingerprint, a certificate by subject and issuer, and a Notary Project
/// signer by its leaf's subject alone (two `notation` publishers whose
/// stores both accept one signer count once).
fn signer_id(signer: &Signer) -> String {
    match signer {
        Signer::Notation { subject, .. } => format!("notation {subject:?}"),
        other => format!("{other:?}"),
    }
}

/// `repository[:tag]`, as reports show the matched name.
fn display_name(name: &ImageName) -> String {
    match &name.tag {
        Some(t) => format!("{}:{t}", name.repository),
        None => name.repository.clone(),
    }
}

/// One check standing for a whole judgement under another name of the
/// image: it passes when that judgement allowed.
fn summary_check(other: &Report, what: &str) -> Check {
    let matched = other.matched_name.as_deref().unwrap_or_default();
    let rule = other.rule.as_deref().unwrap_or("(none)");
    let failures: Vec<&str> = other
        .checks
        .iter()
        .filter(|c| c.result == CheckResult::Fail)
        .map(|c| c.reason.as_str())
        .collect();
    // A denial stands for the other judgement's first failure.
    let denied = other.failure_codes().next().unwrap_or(ReasonCode::NoMatchingRule);
    let (result, code, reason) = match (other.decision, failures.is_empty()) {
        (Decision::Deny, _) => (CheckResult::Fail, denied, failures.join("; ")),
        (Decision::Allow, true) => (CheckResult::Pass, ReasonCode::Satisfied, "allowed".to_owned()),
        (Decision::Allow, false) => (
            CheckResult::Pass,
            ReasonCode::Satisfied,
            format!(
                "allowed ({} mode): {}",
                other.mode.unwrap_or(Mode::Enforce),
                failures.join("; ")
            ),
        ),
    };
    let details = other
        .checks
        .iter()
        .map(|c| {
            let result = match c.result {
                CheckResult::Pass => "pass",
                CheckResult::Fail => "fail",
                CheckResult::Waived => "waived",
            };
            format!("{result} {} {}: {}", c.kind, c.requirement, c.reason)
        })
        .collect();
    Check {
        kind: "rule",
        requirement: format!("rule {rule} for {what}, {matched}"),
        result,
        code,
        reason,
        details,
    }
}

/// `baseImage` as reports name the requirement.
fn base_requirement_text(requirement: &BaseImageRequirement) -> String {
    let required = if requirement.required { "required" } else { "if named" };
    if requirement.images.is_empty() {
        format!("base image {required}, allowed by this policy")
    } else {
        let patterns: Vec<String> = requirement.images.iter().map(|(p, _)| p.as_str().to_owned()).collect();
        format!(
            "base image {required}, matching [{}], allowed by this policy",
            patterns.join(", ")
        )
    }
}

/// The `baseImage` check of one image, as far as it can go without
/// deciding the bases: the bases found (annotations first, then what
/// verified provenance names; one per digest), each identified by a
/// registry name and a digest and matching the requirement's patterns.
/// When all are, the check fails as undecided until
/// [`Policy::complete_bases`] records their decisions; the bases to decide
/// come back with it.
fn base_check(
    requirement: &BaseImageRequirement,
    evidence: &Evidence<'_>,
    provenance: Vec<BaseImage>,
) -> (Check, Vec<PendingBase>) {
    let text = base_requirement_text(requirement);
    let annotated = evidence.annotations.as_deref().and_then(crate::base::annotated);
    let mut found: Vec<BaseImage> = Vec::new();
    for base in annotated.into_iter().chain(provenance) {
        if base.digest.is_none() || !found.iter().any(|f| f.digest == base.digest) {
            found.push(base);
        }
    }
    let check = |result, code, reason: String, details: Vec<String>| Check {
        kind: "baseImage",
        requirement: text.clone(),
        result,
        code,
        reason,
        details,
    };
    if found.is_empty() {
        let (result, code, reason) = if requirement.required {
            (
                CheckResult::Fail,
                ReasonCode::NoBaseImage,
                "no base image found: the manifest has no org.opencontainers.image.base.* annotations and no verified provenance names a container image by digest",
            )
        } else {
            (
                CheckResult::Pass,
                ReasonCode::Satisfied,
                "the image names no base image",
            )
        };
        return (check(result, code, reason.to_owned(), Vec::new()), Vec::new());
    }
    let mut pending = Vec::new();
    let mut problems: Vec<(ReasonCode, String)> = Vec::new();
    for base in &found {
        let named = if base.name.is_empty() {
            Err("has no name (org.opencontainers.image.base.name), so its evidence cannot be found".to_owned())
        } else {
            RegistryRef::parse(&base.name).map_err(|e| format!("is not a registry image reference: {e}"))
        };
        let shown = if base.name.is_empty() {
            "(unnamed)"
        } else {
            base.name.as_str()
        };
        let (reference, digest) = match (named, &base.digest) {
            (Err(why), _) => {
                problems.push((
                    ReasonCode::BaseImageUnidentified,
                    format!("base {shown} ({}) {why}", base.source),
                ));
                continue;
            }
            (Ok(_), None) => {
                problems.push((
                    ReasonCode::BaseImageUnidentified,
                    format!(
                        "base {shown} ({}) is named without a digest (org.opencontainers.image.base.digest), so it cannot be identified",
                        base.source
                    ),
                ));
                continue;
            }
            (Ok(r), Some(d)) => (r, d),
        };
        if let Some(pinned) = reference.digest()
            && pinned != digest
        {
            problems.push((
                ReasonCode::BaseImageUnidentified,
                format!("base {shown} ({}) pins {pinned} but names digest {digest}", base.source),
            ));
            continue;
        }
        let name = super::names::registry(&reference, digest.clone()).name;
        let canonical = format!("{}@{digest}", name.repository);
        if !requirement.images.is_empty() && !requirement.images.iter().any(|(p, _)| p.matches(&name)) {
            let patterns: Vec<String> = requirement.images.iter().map(|(p, _)| p.as_str().to_owned()).collect();
            problems.push((
                ReasonCode::BaseImageNotListed,
                format!(
                    "base {canonical} ({}) matches none of [{}]",
                    base.source,
                    patterns.join(", ")
                ),
            ));
            continue;
        }
        pending.push(PendingBase {
            reference: canonical,
            digest: digest.clone(),
            source: base.source,
        });
    }
    if let Some((code, _)) = problems.first() {
        let reason = problems.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>().join("; ");
        return (check(CheckResult::Fail, *code, reason, Vec::new()), Vec::new());
    }
    let names: Vec<&str> = pending.iter().map(|p| p.reference.as_str()).collect();
    (
        check(
            CheckResult::Fail,
            ReasonCode::BaseImageUndecided,
            format!("base image {} not decided", names.join(", ")),
            Vec::new(),
        ),
        pending,
    )
}

impl Policy {
    /// Completes the `baseImage` check of `report` with the decisions about
    /// its [`Report::pending_bases`] (each one's by this policy, or why it
    /// could not be decided), and decides the image again: every base must
    /// be allowed. Decisions for bases the report does not wait on are
    /// ignored, and a base without one stays undecided (fails).
    pub fn complete_bases(&self, report: &mut Report, decided: Vec<BaseDecision>) {
        let pending = std::mem::take(&mut report.pending_bases);
        if pending.is_empty() {
            return;
        }
        let Some(check) = report
            .checks
            .iter_mut()
            .find(|c| c.kind == "baseImage" && c.code == ReasonCode::BaseImageUndecided)
        else {
            return;
        };
        let mut bases = Vec::new();
        let mut denied = Vec::new();
        for p in &pending {
            match decided.iter().find(|d| d.image == p.reference) {
                Some(d) => {
                    if !d.allowed {
                        denied.push(format!("base {} is denied: {}", d.image, d.reason));
                    }
                    check.details.push(format!(
                        "{} ({}): {} by rule {}: {}",
                        d.image,
                        p.source,
                        if d.allowed { "allowed" } else { "denied" },
                        d.rule.as_deref().unwrap_or("(none)"),
                        d.reason
                    ));
                    bases.push(d.clone());
                }
                None => denied.push(format!("base {} was not decided", p.reference)),
            }
        }
        if denied.is_empty() {
            check.result = CheckResult::Pass;
            check.code = ReasonCode::Satisfied;
            let names: Vec<&str> = bases.iter().map(|b| b.image.as_str()).collect();
            check.reason = format!("base image {} allowed by this policy", names.join(", "));
        } else {
            check.code = ReasonCode::BaseImageDenied;
            check.reason = denied.join("; ");
        }
        report.bases = bases;
        report.decision = if report.has_failures() && report.mode == Some(Mode::Enforce) {
            Decision::Deny
        } else {
            Decision::Allow
        };
    }

    /// True when some rule holds base images to the policy: the manifest's
    /// annotations are then gathered.
    pub fn reads_bases(&self) -> bool {
        self.rules.iter().any(|r| r.base_image.is_some())
    }
}

/// A failed rule selection: no rule, or a tie.
/// The rule [`Policy::rule_for`] selected for the image named `matched`, or
/// the failed rule-selection check saying why there is none.
fn selected_rule<'p>(selected: Result<Option<&'p Rule>, (String, String)>, matched: &str) -> Result<&'p Rule, Check> {
    match selected {
        Ok(Some(rule)) => Ok(rule),
        Ok(None) => Err(rule_check(
            ReasonCode::NoMatchingRule,
            format!("no rule matches {matched}"),
        )),
        Err((a, b)) => Err(rule_check(
            ReasonCode::RuleTie,
            format!("rules {a} and {b} are equally specific for this image (fix the policy)"),
        )),
    }
}

fn rule_check(code: ReasonCode, reason: String) -> Check {
    Check {
        kind: "rule",
        requirement: "selection".into(),
        result: CheckResult::Fail,
        code,
        reason,
        details: Vec::new(),
    }
}

fn waived(requirement: String, kind: &'static str) -> Check {
    Check {
        kind,
        requirement,
        result: CheckResult::Waived,
        code: ReasonCode::Waived,
        reason: "waived by an exemption".into(),
        details: Vec::new(),
    }
}
