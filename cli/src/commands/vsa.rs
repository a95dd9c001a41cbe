//! `verify --policy P --emit-vsa [--key K]`: every image decided gets a signed
//! SLSA Verification Summary Attestation, attached as cosign attaches any
//! attestation (the `.att` tag), so a later step can accept the decision
//! (a policy's `vsa:` check) instead of making it again.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use sigil_verifier::policy::{Decision, Report};
use sigil_verifier::predicate::SLSA_VSA;
use sigil_verifier::predicate::vsa::{ResourceDescriptor, Summary, Verifier};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::sign::{self, AttestOptions, Format};
use sigil_verifier::store::AnyStore;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the summaries are signed with (a key, or keyless) and say about
/// their verifier.
pub struct Emit {
    pub signer: super::signing::Owned,
    pub verifier_id: String,
}

/// The level a summary states: sigil's own (a policy decision is not an
/// SLSA build level, so none is claimed).
const ALLOWED_LEVEL: &str = "SIGIL_POLICY_ALLOW";

/// Attaches a summary to each image the policy decided (images it could
/// not evaluate get none). Returns one error per image that failed.
pub async fn emit(
    emit: &Emit,
    images: &[ImageRef],
    reports: &[Report],
    policy_file: &Path,
    client: &Arc<RegistryClient>,
    now: OffsetDateTime,
) -> Vec<(String, anyhow::Error)> {
    let policy_uri = match std::fs::canonicalize(policy_file) {
        Ok(path) => format!("file://{}", path.display()),
        Err(_) => policy_file.display().to_string(),
    };
    let mut failed = Vec::new();
    let attachments = match crate::common::cosign_repository() {
        Ok(a) => a,
        Err(e) => return vec![("COSIGN_REPOSITORY".to_owned(), e)],
    };
    for (image, report) in images.iter().zip(reports) {
        let (Some(digest), None) = (&report.digest, &report.error) else {
            continue;
        };
        let attached = async {
            let passed = report.decision == Decision::Allow;
            let summary = Summary {
                verifier: Verifier {
                    id: emit.verifier_id.clone(),
                    version: [("sigil".to_owned(), env!("CARGO_PKG_VERSION").to_owned())].into(),
                },
                time_verified: now.format(&Rfc3339)?,
                resource_uri: format!("{}@{digest}", image.repository_name()),
                policy: ResourceDescriptor {
                    uri: Some(policy_uri.clone()),
                    digest: [("sha256".to_owned(), report.policy_digest.hex().to_owned())].into(),
                },
                input_attestations: report
                    .inputs
                    .iter()
                    .map(|d| ResourceDescriptor {
                        uri: None,
                        digest: [(d.algorithm().name().to_owned(), d.hex().to_owned())].into(),
                    })
                    .collect(),
                verification_result: if passed { "PASSED" } else { "FAILED" }.to_owned(),
                verified_levels: if passed {
                    vec![ALLOWED_LEVEL.to_owned()]
                } else {
                    Vec::new()
                },
            };
            let store = AnyStore::open_with_attachments(image, client, false, attachments.as_ref())?;
            let descriptor = super::resolve(&store, image).await?;
            anyhow::ensure!(
                &descriptor.digest == digest,
                "{image} now resolves to {}, not the {digest} decided about; no summary attached",
                descriptor.digest
            );
            let options = AttestOptions {
                signer: emit.signer.signer(),
                predicate_type: SLSA_VSA.to_owned(),
                predicate: sigil_verifier::predicate::vsa::predicate(&summary),
                format: Format::Tag,
                recursive: false,
                created: summary.time_verified.clone(),
                certificate: None,
            };
            let stored = sign::attest(&store, &image.repository_name(), &descriptor, &options).await?;
            for s in stored {
                eprintln!(
                    "vsa: {} summary for {}@{} -> {}",
                    summary.verification_result,
                    image.repository_name(),
                    s.image,
                    s.stored_at.as_deref().unwrap_or_default()
                );
            }
            anyhow::Ok(())
        }
        .await
        .with_context(|| format!("attaching a verification summary to {image}"));
        if let Err(e) = attached {
            failed.push((image.to_string(), e));
        }
    }
    failed
}
