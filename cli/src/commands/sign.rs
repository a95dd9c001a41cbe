//! `sigil sign`.

use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use std::path::Path;
use std::sync::Arc;

use sigil_verifier::sign::{self, CertificateMaterial, SignOptions};
use sigil_verifier::store::AnyStore;
use sigil_verifier::tag;
use tokio::sync::Semaphore;

use super::batch::Progress;
use super::resolve;
use crate::Outcome;
use crate::args::{OutputFormat, SignArgs};
use crate::common::{
    certificate_material, now_rfc3339, parse_annotations, parse_images, print, print_json, registry_client,
};

pub async fn run(args: SignArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let annotations = parse_annotations(&args.annotations)?;
    let client = registry_client(&args.registry, &images)?;
    let outputs = Outputs::of(&args, images.len())?;
    let attachments = crate::common::cosign_repository()?;
    let owned = super::signing::choose(args.key.as_deref(), &args.keyless).await?;
    let certificate = key_certificate(&args.certificate, args.format, &owned)?;
    let options = SignOptions {
        signer: owned.signer(),
        annotations,
        format: args.format.into(),
        recursive: args.recursive,
        created: now_rfc3339(),
        certificate,
        upload: args.upload,
    };
    let concurrency = usize::from(args.concurrency);
    let progress = Progress::new("signing", images.len());
    // Every image at once, at most `concurrency` of them doing round trips:
    // their registry settle times overlap (tag::paced).
    let slots = Arc::new(Semaphore::new(concurrency));
    let signed: Vec<anyhow::Result<Vec<sign::Signed>>> = stream::iter(&images)
        .map(|image| {
            let (client, options, progress, attachments) = (&client, &options, &progress, &attachments);
            tag::paced(&slots, async move {
                let store = AnyStore::open_with_attachments(image, client, false, attachments.as_ref())?;
                let descriptor = resolve(&store, image).await?;
                let signed = sign::sign(&store, &image.repository_name(), &descriptor, options)
                    .await
                    .with_context(|| format!("signing {image}"));
                progress.tick();
                signed
            })
        })
        .buffered(images.len().max(1))
        .collect()
        .await;
    progress.finish();
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for (image, outcome) in images.iter().zip(signed) {
        match outcome {
            Ok(signed) => {
                for s in signed {
                    if let Err(e) = outputs.write(&s, options.certificate.as_ref()) {
                        failed.push((image.to_string(), e));
                        continue;
                    }
                    if output == OutputFormat::Human {
                        let verb = if s.kept { "already signed" } else { "signed" };
                        let at = s.stored_at.as_deref().unwrap_or("not uploaded (--upload=false)");
                        print(&format!("{verb} {}@{} -> {at}", image.repository_name(), s.image))?;
                    }
                    results.push(serde_json::json!({
                        "image": image.to_string(), "digest": s.image, "storedAt": s.stored_at, "kept": s.kept,
                    }));
                }
            }
            Err(e) => failed.push((image.to_string(), e)),
        }
    }
    finish("sigil.dev/sign/v1", "signed", results, failed, output)
}

/// `--certificate` for the `--key`; refused for keyless signing (Fulcio's
/// certificate is attached instead).
pub(super) fn key_certificate(
    args: &crate::args::CertificateArgs,
    format: crate::args::SignatureFormat,
    owned: &super::signing::Owned,
) -> anyhow::Result<Option<CertificateMaterial>> {
    match owned.key() {
        Some(key) => certificate_material(args, format, key),
        None if args.certificate.is_some() => {
            anyhow::bail!("--certificate is for --key; keyless signing attaches Fulcio's certificate")
        }
        None => Ok(None),
    }
}

/// cosign's `--output-signature`, `--output-payload`, `--output-certificate`.
struct Outputs<'a> {
    signature: Option<&'a Path>,
    payload: Option<&'a Path>,
    certificate: Option<&'a Path>,
}

impl<'a> Outputs<'a> {
    /// The files asked for, refused where they cannot name one signature.
    fn of(args: &'a SignArgs, images: usize) -> anyhow::Result<Outputs<'a>> {
        let outputs = Outputs {
            signature: args.output_signature.as_deref(),
            payload: args.output_payload.as_deref(),
            certificate: args.output_certificate.as_deref(),
        };
        let any = outputs.signature.is_some() || outputs.payload.is_some() || outputs.certificate.is_some();
        if !args.upload && !any {
            anyhow::bail!(
                "--upload=false keeps nothing: add --output-signature FILE (and --output-payload FILE) to write the signature"
            );
        }
        if any && (images != 1 || args.recursive) {
            anyhow::bail!(
                "--output-signature, --output-payload and --output-certificate take exactly one image, without --recursive"
            );
        }
        if any && args.format != crate::args::SignatureFormat::Tag {
            anyhow::bail!("--output-* files hold a tag-form signature; use --format tag");
        }
        if !args.upload && args.format != crate::args::SignatureFormat::Tag {
            anyhow::bail!("--upload=false is for the tag form; use --format tag");
        }
        Ok(outputs)
    }

    fn write(&self, signed: &sign::Signed, certificate: Option<&CertificateMaterial>) -> anyhow::Result<()> {
        use base64::Engine as _;
        let Some((payload, signature)) = &signed.detached else {
            return Ok(());
        };
        let write = |path: Option<&Path>, bytes: &[u8]| -> anyhow::Result<()> {
            match path {
                Some(path) => std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display())),
                None => Ok(()),
            }
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode(signature);
        write(self.signature, encoded.as_bytes())?;
        write(self.payload, payload)?;
        write(
            self.certificate,
            certificate.map_or(&[][..], |c| c.certificate_pem.as_bytes()),
        )
    }
}

/// Reports a batch that signed or attested what it could: every error on
/// stderr, and with `--output json` one document naming both what was stored
/// and what failed. Exit 2 when anything failed (DESIGN §2).
pub(super) fn finish(
    api_version: &str,
    done: &str,
    results: Vec<serde_json::Value>,
    failed: Vec<(String, anyhow::Error)>,
    output: OutputFormat,
) -> anyhow::Result<Outcome> {
    for (_, e) in &failed {
        eprintln!("error: {}", format!("{e:#}").replace(['\n', '\r'], " "));
    }
    if output == OutputFormat::Json {
        let failures: Vec<serde_json::Value> = failed
            .iter()
            .map(|(image, e)| serde_json::json!({"image": image, "error": format!("{e:#}")}))
            .collect();
        print_json(&serde_json::json!({"apiVersion": api_version, done: results, "failed": failures}))?;
    }
    Ok(if failed.is_empty() {
        Outcome::Success
    } else {
        Outcome::Error
    })
}
