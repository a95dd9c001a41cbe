//! `sigil attest`.

use anyhow::Context as _;
use sigil_verifier::predicate;
use sigil_verifier::sign::{self, AttestOptions};
use sigil_verifier::store::AnyStore;

use super::resolve;
use crate::Outcome;
use crate::args::{AttestArgs, OutputFormat};
use crate::common::{now_rfc3339, parse_images, print, registry_client};

pub async fn run(args: AttestArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let predicate::Encoded {
        predicate_type, json, ..
    } = crate::common::read_predicate(&args.predicate, &args.predicate_type, "pushed")?;
    let client = registry_client(&args.registry, &images)?;
    let attachments = crate::common::cosign_repository()?;
    let owned = super::signing::choose(args.key.as_deref(), &args.keyless).await?;
    super::signing::check_provenance(&owned, &predicate_type, &json).await?;
    let certificate = super::sign::key_certificate(&args.certificate, args.format, &owned)?;
    let options = AttestOptions {
        signer: owned.signer(),
        predicate_type,
        predicate: json,
        format: args.format.into(),
        recursive: args.recursive,
        created: now_rfc3339(),
        certificate,
    };
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for image in &images {
        let attested = async {
            let store = AnyStore::open_with_attachments(image, &client, false, attachments.as_ref())?;
            let descriptor = resolve(&store, image).await?;
            sign::attest(&store, &image.repository_name(), &descriptor, &options)
                .await
                .with_context(|| format!("attesting {image}"))
        }
        .await;
        let attested = match attested {
            Ok(attested) => attested,
            Err(e) => {
                failed.push((image.to_string(), e));
                continue;
            }
        };
        for a in attested {
            if output == OutputFormat::Human {
                let verb = if a.kept { "already attested" } else { "attested" };
                print(&format!(
                    "{verb} {}@{} ({}) -> {}",
                    image.repository_name(),
                    a.image,
                    options.predicate_type,
                    a.stored_at.as_deref().unwrap_or_default()
                ))?;
            }
            results.push(serde_json::json!({
                "image": image.to_string(), "digest": a.image, "predicateType": options.predicate_type, "storedAt": a.stored_at,
                "kept": a.kept,
            }));
        }
    }
    super::sign::finish("sigil.dev/attest/v1", "attested", results, failed, output)
}
