//! The audit of one image (`sigil audit`): everything attached to it, each
//! signature and attestation with its signer and verification result, a
//! summary of each SBOM, provenance and vulnerability scan, and the base
//! image it names. Built without I/O from what the gathering side found
//! (and, with a policy, the policy's [`Report`]); serialised as
//! `sigil.dev/audit/v1` (`docs/report-schema.md`).
//!
//! Without a policy nothing can be verified: signers are shown as the
//! evidence states them (a key hint, a certificate's identity, issuer and
//! Fulcio extensions), marked `unverified`, and summaries are of
//! unverified content. With a policy, each piece of evidence is verified
//! against every publisher the policy defines, and only attestations that
//! verified are summarised.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::digest::Digest;
use crate::evidence::{AttestationContent, AttestationEvidence, Origin, SignatureContent, SignatureEvidence};
use crate::intoto::Statement;
use crate::policy::checks::ContentCheck;
use crate::policy::{Decision, Policy, ReasonCode, Report};
use crate::sigstore::{Certificate, CertificateIdentity};
use crate::verify::{self, Rejection, Signer};

/// The audit format's version.
pub const AUDIT_API_VERSION: &str = "sigil.dev/audit/v1";
pub use crate::base::{BASE_DIGEST_ANNOTATION, BASE_NAME_ANNOTATION, BaseImage};

/// The annotation on a referrer descriptor claiming a bundle's predicate type.
pub const PREDICATE_TYPE_REFERRER_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";

/// At most this many distinct ecosystems, licences or denied packages are
/// listed per SBOM (the counts stay exact).
const MAX_LISTED: usize = 100;

/// Something stored against the image, as listed (not verified).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// `signatures`, `attestations`, `sbom` (cosign tags) or `referrer`.
    pub kind: String,
    /// `tag` or `referrer`.
    pub form: &'static str,
    /// The tag, for the tag form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The attachment manifest.
    pub digest: Digest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The predicate type its storage claims (unverified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    /// Layers in the attachment manifest.
    pub layers: usize,
    /// 1 for what refers to the image, 2 for what refers to that.
    pub depth: usize,
}

/// What verification says about one piece of evidence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// No policy was given: nothing to verify against.
    Unverified,
    /// Verified by a publisher of the policy.
    Verified,
    /// Well formed, but no publisher of the policy made it.
    NotTrusted,
    /// Unreadable, tampered, or about something else.
    Failed,
}

/// The verification of one piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub status: Status,
    /// The publisher that verified it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher: Option<String>,
    /// The signer as verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<Signer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<ReasonCode>,
    /// Why it did not verify (each publisher's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The signer as the evidence states it, before any verification.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatedSigner {
    /// `key`, `certificate` or `unknown`.
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_hint: Option<String>,
    /// The certificate's first subject alternative name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Fulcio `sourceRepositoryURI`, else `githubWorkflowRepository`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Fulcio `buildConfigURI`, else `githubWorkflowName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// Fulcio `sourceRepositoryRef`, else `githubWorkflowRef`.
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
}

impl StatedSigner {
    /// One line for people.
    pub fn describe(&self) -> String {
        match (self.kind, &self.identity, &self.key_hint) {
            ("certificate", Some(id), _) => {
                let mut s = id.clone();
                if let Some(i) = &self.issuer {
                    s.push_str(&format!(" (issuer {i})"));
                }
                s
            }
            ("key", _, Some(hint)) => format!("key (hint {hint})"),
            ("key", _, None) => "key (no hint stored)".to_owned(),
            _ => "unknown".to_owned(),
        }
    }
}

/// One signature or attestation and what is known of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub origin: Origin,
    /// For attestations: the predicate type the signed statement states
    /// (unverified without a policy), else the one its storage claims.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    pub stated_signer: StatedSigner,
    pub verification: Verification,
}

/// Whether a summary's content verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Content {
    Verified,
    UnverifiedContent,
}

/// An SBOM's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomSummary {
    pub origin: Origin,
    pub content: Content,
    pub predicate_type: String,
    pub components: usize,
    /// Package URL types (`npm`, `deb`, ...), sorted.
    pub ecosystems: Vec<String>,
    pub licenses: Vec<String>,
    /// What the policy's `sbom` checks deny (only with a policy that has one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied: Option<Vec<String>>,
    /// Why the document could not be read in full.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A SLSA provenance's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceSummary {
    pub origin: Origin,
    pub content: Content,
    pub predicate_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_commit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
}

/// A vulnerability scan's summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnSummary {
    pub origin: Origin,
    pub content: Content,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scanner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
    /// Findings by severity (`unknown` for words sigil does not rank).
    pub counts: BTreeMap<String, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything the audit shows about one image.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageAudit {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// Why the image could not be audited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The policy's decision (with `--policy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The policy's report, every check included (with `--policy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<Report>,
    pub annotations: BTreeMap<String, String>,
    pub attached: Vec<Attachment>,
    pub signatures: Vec<Item>,
    pub attestations: Vec<Item>,
    pub sboms: Vec<SbomSummary>,
    pub provenance: Vec<ProvenanceSummary>,
    pub vulnerabilities: Vec<VulnSummary>,
    /// Base images named by annotations and provenance (unverified names
    /// unless their provenance verified).
    pub bases: Vec<BaseImage>,
    /// The chain image → base → its base, filled in by the gathering side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub base_chain: Vec<ChainLink>,
}

/// One step of a base-image chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainLink {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// `annotation` or `provenance`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Why the chain stops here (not found, a cycle, the depth bound).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the gathering side found for one image.
pub struct Found<'a> {
    pub image: String,
    pub digest: Digest,
    /// The image manifest's own annotations.
    pub annotations: BTreeMap<String, String>,
    pub attached: Vec<Attachment>,
    pub signatures: &'a [SignatureEvidence],
    pub attestations: &'a [AttestationEvidence],
}

/// Builds the audit of one image; with `policy`, its `report` too.
pub fn build(found: Found<'_>, policy: Option<(&Policy, Report)>, now: OffsetDateTime) -> ImageAudit {
    let policy_ref = policy.as_ref().map(|(p, _)| *p);
    let signatures = found
        .signatures
        .iter()
        .map(|e| signature_item(e, &found.digest, policy_ref, now))
        .collect();
    let mut audit = ImageAudit {
        image: found.image,
        digest: Some(found.digest.clone()),
        error: None,
        decision: policy.as_ref().map(|(_, r)| r.decision),
        policy: None,
        annotations: found.annotations,
        attached: found.attached,
        signatures,
        attestations: Vec::new(),
        sboms: Vec::new(),
        provenance: Vec::new(),
        vulnerabilities: Vec::new(),
        bases: Vec::new(),
        base_chain: Vec::new(),
    };
    audit.bases.extend(crate::base::annotated(&audit.annotations));
    let rule = policy.as_ref().and_then(|(p, r)| {
        r.rule
            .as_ref()
            .and_then(|name| p.rules.iter().find(|x| &x.name == name))
    });
    for e in found.attestations {
        let (item, statement) = attestation_item(e, &found.digest, policy_ref, now);
        audit.attestations.push(item);
        let Some((statement, content)) = statement else {
            continue;
        };
        let sbom_checks: Vec<&crate::policy::checks::sbom::SbomCheck> = rule
            .into_iter()
            .flat_map(|r| &r.attestations)
            .filter(|a| a.predicate_type == statement.predicate_type)
            .flat_map(|a| &a.checks)
            .filter_map(|c| match c {
                ContentCheck::Sbom(s) => Some(s),
                _ => None,
            })
            .collect();
        summary::summarise(&mut audit, &e.origin, &statement, content, rule.map(|_| sbom_checks));
    }
    audit.policy = policy.map(|(_, r)| r);
    audit
}

/// The audit of an image that could not be audited.
pub fn failed(image: String, digest: Option<Digest>, error: String, report: Option<Report>) -> ImageAudit {
    ImageAudit {
        image,
        digest,
        error: Some(error),
        decision: report.as_ref().map(|r| r.decision),
        policy: report,
        annotations: BTreeMap::new(),
        attached: Vec::new(),
        signatures: Vec::new(),
        attestations: Vec::new(),
        sboms: Vec::new(),
        provenance: Vec::new(),
        vulnerabilities: Vec::new(),
        bases: Vec::new(),
        base_chain: Vec::new(),
    }
}

/// The JSON document for a run.
pub fn audit_json(images: &[ImageAudit], policy: Option<&Policy>) -> Value {
    serde_json::json!({
        "apiVersion": AUDIT_API_VERSION,
        "policy": policy.map(|p| serde_json::json!({"file": p.file.display().to_string(), "digest": p.digest})),
        "images": images,
    })
}

fn signature_item(e: &SignatureEvidence, image: &Digest, policy: Option<&Policy>, now: OffsetDateTime) -> Item {
    let stated_signer = match &e.content {
        SignatureContent::SimpleSigning { annotations, .. } => layer_signer(annotations),
        SignatureContent::Bundle(bytes) => bundle_signer(bytes),
        SignatureContent::Unreadable(_) => StatedSigner {
            kind: "unknown",
            ..StatedSigner::default()
        },
    };
    let verification = match (&e.content, policy) {
        (SignatureContent::Unreadable(reason), _) => failed_with(ReasonCode::EvidenceMalformed, reason.clone()),
        (_, None) => unverified(),
        (_, Some(policy)) => first_verifying(policy, |authority| {
            verify::signature_by(&e.content, authority, image, now).map(|v| v.into_inner().signer)
        }),
    };
    Item {
        origin: e.origin.clone(),
        predicate_type: None,
        stated_signer,
        verification,
    }
}

/// The item for one attestation, and its statement when it may be
/// summarised (verified, or read unverified without a policy).
fn attestation_item(
    e: &AttestationEvidence,
    image: &Digest,
    policy: Option<&Policy>,
    now: OffsetDateTime,
) -> (Item, Option<(Statement, Content)>) {
    let (stated_signer, unverified_statement) = match &e.content {
        AttestationContent::Envelope { envelope, annotations } => (layer_signer(annotations), statement_of(envelope)),
        AttestationContent::Bundle(bytes) => (
            bundle_signer(bytes),
            crate::bundle::BundleView::parse(bytes)
                .ok()
                .and_then(|b| b.dsse_envelope)
                .and_then(|env| envelope_statement(&env)),
        ),
        AttestationContent::Unreadable(_) => (
            StatedSigner {
                kind: "unknown",
                ..StatedSigner::default()
            },
            None,
        ),
    };
    let predicate_type = unverified_statement
        .as_ref()
        .map(|s| s.predicate_type.clone())
        .or_else(|| e.claimed_type.clone());
    let mut item = Item {
        origin: e.origin.clone(),
        predicate_type: predicate_type.clone(),
        stated_signer,
        verification: unverified(),
    };
    if let AttestationContent::Unreadable(reason) = &e.content {
        item.verification = failed_with(ReasonCode::EvidenceMalformed, reason.clone());
        return (item, None);
    }
    let Some(policy) = policy else {
        if unverified_statement.is_none() {
            item.verification = failed_with(
                ReasonCode::EvidenceMalformed,
                "no in-toto statement can be read from it".into(),
            );
        }
        return (item, unverified_statement.map(|s| (s, Content::UnverifiedContent)));
    };
    // Unreadable content is malformed whoever signed it: said before any key is tried.
    let (Some(t), Some(_)) = (predicate_type, &unverified_statement) else {
        item.verification = failed_with(
            ReasonCode::EvidenceMalformed,
            "no in-toto statement can be read from it".into(),
        );
        return (item, None);
    };
    let mut verified = None;
    item.verification = first_verifying(policy, |authority| {
        verify::attestation_by(&e.content, authority, image, &t, now).map(|v| {
            let v = v.into_inner();
            let signer = v.signer.clone();
            verified = Some(v.statement);
            signer
        })
    });
    (item, verified.map(|s| (s, Content::Verified)))
}

fn unverified() -> Verification {
    Verification {
        status: Status::Unverified,
        publisher: None,
        signer: None,
        code: None,
        reason: None,
    }
}

fn failed_with(code: ReasonCode, reason: String) -> Verification {
    Verification {
        status: Status::Failed,
        publisher: None,
        signer: None,
        code: Some(code),
        reason: Some(reason),
    }
}

/// Tries every publisher of the policy in name order; the first that
/// verifies is the result. Otherwise the most telling rejection decides
/// between "not trusted" (well formed, made by someone else) and "failed".
fn first_verifying(
    policy: &Policy,
    mut verify: impl FnMut(&crate::verify::Authority) -> Result<Signer, Rejection>,
) -> Verification {
    let mut codes = Vec::new();
    let mut reasons = Vec::new();
    for (name, publisher) in &policy.publishers {
        match verify(&publisher.authority) {
            Ok(signer) => {
                return Verification {
                    status: Status::Verified,
                    publisher: Some(name.clone()),
                    signer: Some(signer),
                    code: Some(ReasonCode::Satisfied),
                    reason: None,
                };
            }
            Err(why) => {
                codes.push(ReasonCode::from(&why));
                reasons.push(format!("{name}: {why}"));
            }
        }
    }
    let code = ReasonCode::most_telling(codes).unwrap_or(ReasonCode::NoRequirements);
    let not_trusted = matches!(
        code,
        ReasonCode::SignatureInvalid
            | ReasonCode::SignerKindMismatch
            | ReasonCode::IdentityMismatch
            | ReasonCode::CertificateUntrusted
            | ReasonCode::UnsupportedEvidence
            | ReasonCode::NoRequirements
    );
    Verification {
        status: if not_trusted {
            Status::NotTrusted
        } else {
            Status::Failed
        },
        publisher: None,
        signer: None,
        code: Some(code),
        reason: Some(if reasons.is_empty() {
            "the policy defines no publishers".to_owned()
        } else {
            reasons.join("; ")
        }),
    }
}

/// The signer a cosign layer states: its certificate annotation, else a key.
fn layer_signer(annotations: &BTreeMap<String, String>) -> StatedSigner {
    match crate::cosign::annotation(annotations, crate::cosign::CERTIFICATE_ANNOTATION) {
        Some(pem) => match Certificate::from_pem_chain(pem).ok().and_then(|c| c.into_iter().next()) {
            Some(cert) => certificate_signer(cert.identity().ok()),
            None => certificate_signer(None),
        },
        None => StatedSigner {
            kind: "key",
            ..StatedSigner::default()
        },
    }
}

/// The signer a Sigstore bundle states: its key hint or its certificate.
fn bundle_signer(bytes: &[u8]) -> StatedSigner {
    let Ok(view) = crate::bundle::BundleView::parse(bytes) else {
        return StatedSigner {
            kind: "unknown",
            ..StatedSigner::default()
        };
    };
    let material = &view.verification_material;
    let der = material
        .certificate
        .as_ref()
        .map(|c| c.raw_bytes.as_str())
        .or_else(|| {
            material
                .x509_certificate_chain
                .as_ref()
                .and_then(|c| c.certificates.first())
                .map(|c| c.raw_bytes.as_str())
        })
        .and_then(crate::dsse::decode);
    if let Some(der) = der {
        return certificate_signer(Certificate::from_der(&der).ok().and_then(|c| c.identity().ok()));
    }
    StatedSigner {
        kind: "key",
        key_hint: material
            .public_key
            .as_ref()
            .map(|k| k.hint.clone())
            .filter(|h| !h.is_empty()),
        ..StatedSigner::default()
    }
}

fn certificate_signer(identity: Option<CertificateIdentity>) -> StatedSigner {
    let Some(id) = identity else {
        return StatedSigner {
            kind: "certificate",
            identity: Some("(unreadable certificate)".into()),
            ..StatedSigner::default()
        };
    };
    let ext = |a: &str, b: &str| id.extensions.get(a).or_else(|| id.extensions.get(b)).cloned();
    StatedSigner {
        kind: "certificate",
        key_hint: None,
        identity: id.subject.first().map(|s| s.value().to_owned()),
        issuer: id.issuer.clone(),
        repository: ext("sourceRepositoryURI", "githubWorkflowRepository"),
        workflow: ext("buildConfigURI", "githubWorkflowName"),
        git_ref: ext("sourceRepositoryRef", "githubWorkflowRef"),
    }
}

/// The in-toto statement in a DSSE envelope's JSON, read without verifying.
fn statement_of(envelope: &[u8]) -> Option<Statement> {
    envelope_statement(&crate::dsse::EnvelopeView::parse(envelope).ok()?)
}

fn envelope_statement(envelope: &crate::dsse::EnvelopeView<'_>) -> Option<Statement> {
    let payload = crate::dsse::decode(&envelope.payload)?;
    Statement::parse_owned(payload).ok()
}

mod summary;

#[cfg(test)]
mod tests;
