//! `sigil sign`.

use anyhow::Context as _;
use futures::{StreamExt as _, stream};
use sigil_verifier::keys::SigningKey;
use sigil_verifier::sign::{self, CertificateMaterial, Format, SignOptions};
use sigil_verifier::sigstore::Certificate;
use sigil_verifier::store::AnyStore;

use super::resolve;
use crate::Outcome;
use crate::args::{OutputFormat, SignArgs, SignatureFormat};
use crate::common::{
    now_rfc3339, parse_annotations, parse_images, print, print_json, read_signing_key, registry_client,
};

pub async fn run(args: SignArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let annotations = parse_annotations(&args.annotations)?;
    let client = registry_client(&args.registry)?;
    let key = read_signing_key(&args.key)?;
    let certificate = certificate_material(&args, &key)?;
    let options = SignOptions {
        key: &key,
        annotations,
        format: match args.format {
            SignatureFormat::Tag => Format::Tag,
            SignatureFormat::Bundle => Format::Bundle,
        },
        recursive: args.recursive,
        created: now_rfc3339(),
        certificate,
    };
    let concurrency = usize::from(args.concurrency);
    let signed: Vec<anyhow::Result<Vec<sign::Signed>>> = stream::iter(&images)
        .map(|image| {
            let (client, options) = (&client, &options);
            async move {
                let store = AnyStore::open(image, client, false)?;
                let descriptor = resolve(&store, image).await?;
                sign::sign(&store, &image.repository_name(), &descriptor, options)
                    .await
                    .with_context(|| format!("signing {image}"))
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    let mut results = Vec::new();
    for (image, outcome) in images.iter().zip(signed) {
        for s in outcome? {
            if output == OutputFormat::Human {
                print(&format!(
                    "signed {}@{} -> {}",
                    image.repository_name(),
                    s.image,
                    s.stored_at
                ))?;
            }
            results.push(serde_json::json!({"image": image.to_string(), "digest": s.image, "storedAt": s.stored_at}));
        }
    }
    if output == OutputFormat::Json {
        print_json(&serde_json::json!({"apiVersion": "sigil.dev/sign/v1", "signed": results}))?;
    }
    Ok(Outcome::Success)
}

/// Reads `--certificate` / `--certificate-chain` and checks that the
/// certificate holds the signing key (a signature must verify with it).
fn certificate_material(args: &SignArgs, key: &SigningKey) -> anyhow::Result<Option<CertificateMaterial>> {
    let Some(path) = &args.certificate else {
        if args.certificate_chain.is_some() {
            anyhow::bail!("--certificate-chain needs --certificate");
        }
        return Ok(None);
    };
    if args.format != SignatureFormat::Tag {
        anyhow::bail!("--certificate is attached to tag-form signatures; use --format tag");
    }
    let certificate_pem =
        std::fs::read_to_string(path).with_context(|| format!("cannot read --certificate {}", path.display()))?;
    let certificates = Certificate::from_pem_chain(&certificate_pem)
        .with_context(|| format!("--certificate {} is not a PEM certificate", path.display()))?;
    let leaf = certificates.first().context("--certificate holds no certificate")?;
    let holds_key = leaf
        .public_key()
        .map(|k| k.spki_der() == key.public_key().spki_der())
        .unwrap_or(false);
    if !holds_key {
        anyhow::bail!(
            "--certificate {} is not for the signing key (--key); signatures would not verify",
            path.display()
        );
    }
    let chain_pem = match &args.certificate_chain {
        Some(chain) => {
            let pem = std::fs::read_to_string(chain)
                .with_context(|| format!("cannot read --certificate-chain {}", chain.display()))?;
            Certificate::from_pem_chain(&pem)
                .with_context(|| format!("--certificate-chain {} is not PEM certificates", chain.display()))?;
            Some(pem)
        }
        None => None,
    };
    Ok(Some(CertificateMaterial {
        certificate_pem,
        chain_pem,
    }))
}
