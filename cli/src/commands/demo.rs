//! `sigil demo`: the main job on a built-in sample, with nothing to install.
//! It runs the same library calls as `sign` and `verify`, against a fresh OCI
//! layout directory, and shows what sigil refuses.

use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use serde_json::json;
use sigil_verifier::gather::{self, SignatureContent, SignatureEvidence};
use sigil_verifier::keys::{self, SigningKey};
use sigil_verifier::layout::LayoutStore;
use sigil_verifier::oci::Descriptor;
use sigil_verifier::pipeline::{Outcome as Decision, at_least_one_valid};
use sigil_verifier::reference::Target;
use sigil_verifier::sign::{self, Format, SignOptions};
use sigil_verifier::store::{Store as _, require_manifest};
use sigil_verifier::verify::judge_signatures;
use sigil_verifier::{cosign, sample};

use crate::Outcome;
use crate::args::{DemoArgs, OutputFormat};
use crate::common::{now_rfc3339, print, print_json};

/// One step of the demo and whether sigil did what it should.
struct Step {
    title: String,
    expected_valid: bool,
    valid: bool,
    detail: String,
}

pub async fn run(args: DemoArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let dir = match args.dir {
        Some(d) => d,
        None => tempdir()?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let layout_dir = dir.join("layout");
    let store = LayoutStore::create(&layout_dir)?;
    let image = sample::write(&store, 1, Some("demo")).await?;
    let other = sample::write(&store, 2, Some("other")).await?;
    let key = SigningKey::generate()?;
    let stranger = SigningKey::generate()?;
    std::fs::write(dir.join("demo.pub"), key.public_key().to_pem())?;
    std::fs::write(dir.join("demo.key"), keys::encrypt(&key, b"")?)?;
    let name = format!("oci:{}", layout_dir.display());
    let options = SignOptions {
        key: &key,
        annotations: [("env".to_owned(), "demo".to_owned())].into(),
        format: Format::Tag,
        recursive: false,
        created: now_rfc3339(),
        certificate: None,
        upload: true,
    };
    sign::sign(&store, &name, &image, &options).await?;
    sign::sign(
        &store,
        &name,
        &image,
        &SignOptions {
            format: Format::Bundle,
            ..options
        },
    )
    .await?;

    let public = key.public_key();
    let evidence = gather::signatures(&store, &image.digest).await?;
    let mut steps = Vec::new();
    let mut judge = |title: &str,
                     expected_valid: bool,
                     evidence: &[SignatureEvidence],
                     key: &keys::PublicKey,
                     image: &Descriptor| {
        let checks = judge_signatures(evidence, key, &image.digest, &Default::default());
        let valid = at_least_one_valid(checks.iter().map(|c| &c.outcome)) == Decision::Allowed;
        let detail = if checks.is_empty() {
            "no signatures found".to_owned()
        } else {
            checks
                .iter()
                .map(|c| match &c.outcome {
                    Ok(s) => format!("valid ({}, {})", c.origin, s.signer),
                    Err(why) => format!("refused: {why}"),
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        steps.push(Step {
            title: title.to_owned(),
            expected_valid,
            valid,
            detail,
        });
    };
    judge(
        "the signed image verifies with its public key (tag and bundle forms)",
        true,
        &evidence,
        &public,
        &image,
    );
    judge(
        "another key is refused",
        false,
        &evidence,
        &stranger.public_key(),
        &image,
    );
    judge(
        "a signature with one flipped byte is refused",
        false,
        &flip_signature_bytes(&evidence),
        &public,
        &image,
    );
    judge(
        "an image that was never signed has no valid signature",
        false,
        &gather::signatures(&store, &other.digest).await?,
        &public,
        &other,
    );

    // Copy the signature manifest onto the other image, as an attacker might.
    let sig_manifest = require_manifest(&store, &Target::Tag(cosign::signature_tag(&image.digest))).await?;
    store
        .push_manifest(
            &Target::Tag(cosign::signature_tag(&other.digest)),
            &sig_manifest.descriptor.media_type,
            &sig_manifest.bytes,
        )
        .await?;
    let copied = gather::signatures(&store, &other.digest).await?;
    judge(
        "signatures copied onto another image are refused",
        false,
        &copied,
        &public,
        &other,
    );

    let all_as_expected = steps.iter().all(|s| s.valid == s.expected_valid);
    match output {
        OutputFormat::Human => {
            let mut text = format!(
                "sigil demo in {}\n  sample image  {name}:demo ({})\n  key pair      {}/demo.key (empty password), demo.pub\n\n",
                dir.display(),
                image.digest,
                dir.display()
            );
            for s in &steps {
                let mark = if s.valid == s.expected_valid { "ok  " } else { "BAD " };
                let verdict = if s.valid { "accepted" } else { "refused" };
                text.push_str(&format!("{mark} {}: {verdict}\n       {}\n", s.title, s.detail));
            }
            text.push_str(&format!(
                "\nTry it by hand:\n  sigil verify {name}:demo --key {}/demo.pub\n",
                dir.display()
            ));
            print(&text)?;
        }
        OutputFormat::Json => print_json(&json!({
            "apiVersion": "sigil.dev/demo/v1",
            "directory": dir,
            "image": {"reference": format!("{name}:demo"), "digest": image.digest},
            "steps": steps.iter().map(|s| json!({
                "title": s.title, "expected": if s.expected_valid {"accept"} else {"refuse"},
                "result": if s.valid {"accepted"} else {"refused"}, "detail": s.detail,
            })).collect::<Vec<_>>(),
        }))?,
    }
    Ok(if all_as_expected {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// The evidence with the last byte of every signature flipped.
fn flip_signature_bytes(evidence: &[SignatureEvidence]) -> Vec<SignatureEvidence> {
    let b64 = base64::engine::general_purpose::STANDARD;
    evidence
        .iter()
        .map(|e| {
            let mut e = e.clone();
            match &mut e.content {
                SignatureContent::SimpleSigning { annotations, .. } => {
                    if let Some(sig) = annotations.get_mut(cosign::SIGNATURE_ANNOTATION) {
                        let mut raw = b64.decode(sig.as_bytes()).unwrap_or_default();
                        if let Some(last) = raw.last_mut() {
                            *last ^= 1;
                        }
                        *sig = b64.encode(raw);
                    }
                }
                SignatureContent::Bundle(bytes) => {
                    let mut bundle: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
                    if let Some(sig) = bundle.pointer_mut("/dsseEnvelope/signatures/0/sig") {
                        let mut raw = b64.decode(sig.as_str().unwrap_or_default()).unwrap_or_default();
                        if let Some(last) = raw.last_mut() {
                            *last ^= 1;
                        }
                        *sig = b64.encode(raw).into();
                    }
                    *bytes = serde_json::to_vec(&bundle).unwrap_or_default();
                }
                SignatureContent::Unreadable(_) => {}
            }
            e
        })
        .collect()
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let mut random = [0u8; 6];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let dir = std::env::temp_dir().join(format!("sigil-demo-{}", hex::encode(random)));
    Ok(dir)
}
