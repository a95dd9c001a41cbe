//! `sigil verify-bundle`: a Sigstore bundle for a blob, judged offline
//! against a trusted root and an identity (or a key), exactly as DESIGN §2
//! and the Sigstore client conformance protocol ask (the flags cosign
//! `verify-blob` and sigstore-python use).
//!
//! Exit 0 verified, 1 the bundle does not verify, 2 the input could not be
//! judged (missing file, malformed bundle or root, bad flags or digest).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use sigil_verifier::digest::Digest;
use sigil_verifier::sigstore::{
    Artifact, BundleClaims, BundleRejection, BundleSigner, LogEntryUsed, Signatory, SignedContent, verify_bundle,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Outcome;
use crate::args::{OutputFormat, VerifyBundleArgs};
use crate::common::{identity_policy, print, print_json, read_public_key, trusted_root};

/// The artifact argument, decided once.
enum Subject {
    File(PathBuf, Vec<u8>),
    Digest(Digest),
}

pub async fn run(args: VerifyBundleArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let who = signatory(&args)?;
    let predicate_type = args
        .predicate_type
        .as_deref()
        .map(sigil_verifier::predicate::resolve_type)
        .transpose()
        .context("--type")?;
    let root = trusted_root(&args.identity)?;
    let bundle =
        std::fs::read(&args.bundle).with_context(|| format!("cannot read bundle {}", args.bundle.display()))?;
    let subject = subject(&args.file_or_digest)?;
    let artifact = match &subject {
        Subject::File(_, bytes) => Artifact::Bytes(bytes),
        Subject::Digest(d) => Artifact::Digest(d.clone()),
    };
    let outcome = verify_bundle(&bundle, artifact, &who, root.get(), time::OffsetDateTime::now_utc()).and_then(|v| {
        let claims = v.into_inner();
        match &predicate_type {
            Some(expected) => claims.require_predicate_type(expected).map(|()| claims),
            None => Ok(claims),
        }
    });
    if let Err(e) = &outcome
        && e.is_bad_input()
    {
        bail!("bundle {}: {e}", args.bundle.display());
    }
    render(&args, &subject, &outcome, output)?;
    Ok(if outcome.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

fn signatory(args: &VerifyBundleArgs) -> anyhow::Result<Signatory> {
    if let Some(key) = &args.key {
        return Ok(Signatory::key(read_public_key(key)?));
    }
    if args.identity.certificate_roots.is_some() {
        bail!("--certificate-roots applies to image signatures (sigil verify), not to Sigstore bundles");
    }
    Ok(Signatory::Identity(identity_policy(&args.identity)?))
}

/// `sha256:` + 64 hex is a digest unless a file of that name exists (DESIGN
/// §2); so are `sha384:` + 96 and `sha512:` + 128 hex (npm provenance and
/// other DSSE statements name such subjects).
fn subject(arg: &str) -> anyhow::Result<Subject> {
    let path = Path::new(arg);
    let digest_form = [("sha256:", 64), ("sha384:", 96), ("sha512:", 128)]
        .into_iter()
        .find_map(|(prefix, len)| arg.strip_prefix(prefix).map(|hex| (hex, len)));
    if !path.exists()
        && let Some((hex, len)) = digest_form
    {
        if hex.len() != len || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("{arg:?} is neither a file nor a digest (sha256: + 64, sha384: + 96 or sha512: + 128 hex digits)");
        }
        let digest: Digest = arg.to_ascii_lowercase().parse()?;
        return Ok(Subject::Digest(digest));
    }
    let bytes = std::fs::read(path).with_context(|| format!("cannot read artifact {arg}"))?;
    Ok(Subject::File(path.to_path_buf(), bytes))
}

fn render(
    args: &VerifyBundleArgs,
    subject: &Subject,
    outcome: &Result<BundleClaims, BundleRejection>,
    output: OutputFormat,
) -> anyhow::Result<()> {
    let artifact = match subject {
        Subject::File(p, _) => p.display().to_string(),
        Subject::Digest(d) => d.to_string(),
    };
    match output {
        OutputFormat::Json => print_json(&report(args, &artifact, outcome)),
        OutputFormat::Human => print(&human(args, &artifact, outcome)),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn entry_json(e: &LogEntryUsed) -> Value {
    json!({
        "logId": e.log_id,
        "logIndex": e.log_index,
        "kind": e.kind,
        "integratedTime": e.integrated_time.map(rfc3339),
        "inclusionProof": e.inclusion_proof,
        "inclusionPromise": e.inclusion_promise,
    })
}

/// The `sigil.dev/verify-bundle/v1` report.
fn report(args: &VerifyBundleArgs, artifact: &str, outcome: &Result<BundleClaims, BundleRejection>) -> Value {
    let base = json!({
        "apiVersion": "sigil.dev/verify-bundle/v1",
        "bundle": args.bundle.display().to_string(),
        "artifact": artifact,
    });
    let mut out = base;
    match outcome {
        Err(why) => {
            out["verified"] = false.into();
            out["reason"] = why.to_string().into();
        }
        Ok(c) => {
            out["verified"] = true.into();
            out["signingTime"] = c.signing_time.map(rfc3339).into();
            out["signer"] = match &c.signer {
                BundleSigner::Key { fingerprint } => json!({"kind": "key", "fingerprint": fingerprint}),
                BundleSigner::Certificate(id) => json!({
                    "kind": "certificate",
                    "identity": id.subject.iter().map(|n| json!({"kind": n.kind(), "value": n.value()})).collect::<Vec<_>>(),
                    "issuer": id.issuer,
                    "extensions": id.extensions,
                    "notBefore": rfc3339(id.not_before),
                    "notAfter": rfc3339(id.not_after),
                }),
            };
            out["content"] = match &c.content {
                SignedContent::Dsse { payload_type, .. } => json!({"kind": "dsse", "payloadType": payload_type}),
                SignedContent::Message { digest } => json!({"kind": "messageSignature", "digest": digest.to_string()}),
            };
            out["logEntries"] = c.log_entries.iter().map(entry_json).collect::<Vec<_>>().into();
            out["timestamps"] = c.timestamps.into();
        }
    }
    out
}

fn human(args: &VerifyBundleArgs, artifact: &str, outcome: &Result<BundleClaims, BundleRejection>) -> String {
    let claims = match outcome {
        Err(why) => return format!("not verified: {} for {artifact}: {why}", args.bundle.display()),
        Ok(c) => c,
    };
    let mut lines = vec![format!("verified: {} for {artifact}", args.bundle.display())];
    match &claims.signer {
        BundleSigner::Key { fingerprint } => lines.push(format!("  signed by:  key sha256:{fingerprint}")),
        BundleSigner::Certificate(id) => {
            for name in &id.subject {
                lines.push(format!("  identity:   {} ({})", name.value(), name.kind()));
            }
            lines.push(format!("  issuer:     {}", id.issuer.as_deref().unwrap_or("(none)")));
        }
    }
    if let Some(t) = claims.signing_time {
        lines.push(format!("  signed at:  {}", rfc3339(t)));
    }
    for e in &claims.log_entries {
        let proof = match (e.inclusion_proof, e.inclusion_promise) {
            (true, true) => "inclusion proof and signed entry timestamp",
            (true, false) => "inclusion proof",
            (false, _) => "signed entry timestamp",
        };
        lines.push(format!("  log entry:  index {} ({}, {proof})", e.log_index, e.kind));
    }
    if claims.timestamps > 0 {
        lines.push(format!("  timestamps: {} RFC 3161", claims.timestamps));
    }
    lines.join("\n")
}
