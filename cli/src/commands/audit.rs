//! `sigil audit IMAGE... [--policy P] [--html FILE]`: for auditors, every
//! image's attachments, signers, verification results, content summaries
//! and base-image chain, as text, versioned JSON (`sigil.dev/audit/v1`) or a
//! self-contained HTML file. Gathering is the verifier's
//! ([`sigil_verifier::audit_gather`]), the audit model the judge's
//! ([`sigil_verifier::audit`]); this module runs them and renders.

mod html;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use sigil_verifier::audit::{self, ChainLink, Found, ImageAudit, Status};
use sigil_verifier::audit_gather;
use sigil_verifier::digest::Digest;
use sigil_verifier::gather::Limits;
use sigil_verifier::pipeline::{self, Kept, PolicyJudge, Settings, WithEvidence};
use sigil_verifier::policy::{Decision, Policy, Report};
use sigil_verifier::reference::ImageRef;
use sigil_verifier::registry::RegistryClient;
use sigil_verifier::store::AnyStore;
use time::OffsetDateTime;

use super::batch::decide;
use super::resolve;
use super::verify_policy::load_policy;
use crate::Outcome;
use crate::args::{AuditArgs, OutputFormat};
use crate::common::{parse_images, print, print_json, registry_client, within};

/// How many bases deep the chain image → base → its base is followed.
const MAX_CHAIN: usize = 4;

pub async fn run(args: AuditArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let timeout = args.run.timeout;
    within(timeout, audit_all(args, output)).await
}

async fn audit_all(args: AuditArgs, output: OutputFormat) -> anyhow::Result<Outcome> {
    let images = parse_images(&args.images)?;
    let now = args.at.unwrap_or_else(OffsetDateTime::now_utc);
    let policy = match &args.policy {
        Some(path) => Some(Arc::new(load_policy(path, now)?)),
        None => None,
    };
    let client = registry_client(&args.registry, &images)?;
    let limits = args.evidence.limits();
    let settings = Settings {
        limits,
        ..Settings::default()
    };
    let auditor = Auditor {
        client,
        policy,
        settings,
        limits,
        now,
    };
    let (audits, outcomes) = auditor.all(&images).await;
    for a in &audits {
        if let Some(e) = &a.error {
            eprintln!("error: {}: {e}", a.image);
        }
    }
    if let Some(path) = &args.html {
        let page = html::render(&audits, auditor.policy.as_deref(), now);
        std::fs::write(path, page).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    match output {
        OutputFormat::Json => print_json(&audit::audit_json(&audits, auditor.policy.as_deref()))?,
        OutputFormat::Human => print(&audits.iter().map(render_human).collect::<String>())?,
    }
    Ok(pipeline::Outcome::of_run(outcomes).into())
}

/// The HTML audit report of `images` decided by `policy` at `now`, with the
/// default evidence budgets (what `sigil demo` writes).
pub(super) async fn html_report(
    images: &[ImageRef],
    policy: Arc<Policy>,
    client: Arc<RegistryClient>,
    now: OffsetDateTime,
) -> String {
    let settings = Settings::default();
    let auditor = Auditor {
        client,
        policy: Some(policy),
        settings,
        limits: settings.limits,
        now,
    };
    let (audits, _) = auditor.all(images).await;
    html::render(&audits, auditor.policy.as_deref(), now)
}

/// What one run audits with.
struct Auditor {
    client: Arc<RegistryClient>,
    policy: Option<Arc<Policy>>,
    settings: Settings,
    limits: Limits,
    now: OffsetDateTime,
}

impl Auditor {
    /// Every image's audit, its base chain included, in input order.
    async fn all(&self, images: &[ImageRef]) -> (Vec<ImageAudit>, Vec<pipeline::Outcome>) {
        let mut audits = Vec::new();
        let mut outcomes = Vec::new();
        for image in images {
            let (mut audit, outcome) = self.one(image).await;
            audit.base_chain = self.chain(&audit).await;
            outcomes.push(outcome);
            audits.push(audit);
        }
        (audits, outcomes)
    }

    /// The audit of one image and what it means for the exit code: as
    /// `verify --policy` with a policy (whose decision gathers the evidence
    /// the audit then shows, for the digest decided); without one, allowed
    /// unless the image could not be audited.
    async fn one(&self, image: &ImageRef) -> (ImageAudit, pipeline::Outcome) {
        let Some(policy) = &self.policy else {
            return match self.gather(image).await {
                Ok(audit) => (audit, pipeline::Outcome::Allowed),
                Err((digest, e)) => (
                    audit::failed(image.to_string(), digest, format!("{e:#}"), None),
                    pipeline::Outcome::Unevaluated,
                ),
            };
        };
        let decided = decide(
            vec![image.clone()],
            self.client.clone(),
            WithEvidence(PolicyJudge(policy.clone())),
            self.settings,
            self.now,
        )
        .await
        .into_iter()
        .next();
        let Some(decided) = decided else {
            let e = "internal: the image was not decided".to_owned();
            return (
                audit::failed(image.to_string(), None, e, None),
                pipeline::Outcome::Unevaluated,
            );
        };
        let (report, evidence) = match decided.verdict {
            Some(Kept { verdict, evidence }) => (Some(verdict), evidence),
            None => (None, None),
        };
        let failed = |digest: Option<Digest>, e: String, report: Option<Report>| {
            (
                audit::failed(image.to_string(), digest, e, report),
                pipeline::Outcome::Unevaluated,
            )
        };
        let (Some(digest), Some(evidence)) = (decided.digest.clone(), evidence) else {
            let e = decided
                .error
                .map_or_else(|| "not evaluated".to_owned(), |e| e.to_string());
            return failed(decided.digest, e, report);
        };
        let attached = async {
            let store = self.store(image)?;
            let root = resolve(&store, &image.with_digest(digest.clone())).await?;
            Ok::<_, anyhow::Error>(audit_gather::attachments(&store, &root).await?)
        }
        .await;
        match attached {
            Ok(attached) => {
                let found = Found {
                    image: image.to_string(),
                    digest,
                    annotations: evidence.annotations.clone(),
                    attached,
                    signatures: &evidence.signatures,
                    attestations: &evidence.attestations,
                };
                let policy = report.map(|r| (policy.as_ref(), r));
                (audit::build(found, policy, self.now), decided.outcome)
            }
            Err(e) => failed(Some(digest), format!("{e:#}"), report),
        }
    }

    fn store(&self, image: &ImageRef) -> anyhow::Result<AnyStore> {
        let attachments = crate::common::cosign_repository()?;
        Ok(AnyStore::open_with_attachments(
            image,
            &self.client,
            false,
            attachments.as_ref(),
        )?)
    }

    /// Everything an audit without a policy shows about `image`.
    async fn gather(&self, image: &ImageRef) -> Result<ImageAudit, (Option<Digest>, anyhow::Error)> {
        let store = self.store(image).map_err(|e| (None, e))?;
        let root = resolve(&store, image).await.map_err(|e| (None, e.into()))?;
        let digest = root.digest.clone();
        let gathered = audit_gather::gather(&store, &root, self.limits)
            .await
            .map_err(|e| (Some(digest.clone()), e.into()))?;
        let found = Found {
            image: image.to_string(),
            digest,
            annotations: gathered.annotations,
            attached: gathered.attached,
            signatures: &gathered.signatures,
            attestations: &gathered.attestations,
        };
        Ok(audit::build(found, None, self.now))
    }

    /// The chain image → base → its base, each audited in turn (its
    /// decision with a policy), at most [`MAX_CHAIN`] deep, a cycle or a
    /// base that cannot be named by digest ending it.
    async fn chain(&self, top: &ImageAudit) -> Vec<ChainLink> {
        let mut links = Vec::new();
        let mut seen: HashSet<Digest> = top.digest.iter().cloned().collect();
        let mut next = top.bases.first().cloned();
        while let Some(base) = next.take() {
            let mut link = ChainLink {
                image: base.name.clone(),
                digest: base.digest.clone(),
                source: base.source,
                decision: None,
                note: None,
            };
            if links.len() >= MAX_CHAIN {
                link.note = Some(format!("not followed: the chain is deeper than {MAX_CHAIN} bases"));
                links.push(link);
                break;
            }
            let Some(digest) = base.digest.clone() else {
                link.note = Some("named without a digest, so it cannot be identified".into());
                links.push(link);
                break;
            };
            if !seen.insert(digest.clone()) {
                link.note = Some("a cycle: this image is already in the chain".into());
                links.push(link);
                break;
            }
            let repository = base.name.split('@').next().unwrap_or_default();
            let reference = match format!("{repository}@{digest}").parse::<ImageRef>() {
                Ok(r) => r,
                Err(e) => {
                    link.note = Some(format!("cannot be named: {e}"));
                    links.push(link);
                    break;
                }
            };
            let (audit, _) = self.one(&reference).await;
            link.decision = audit.decision;
            if let Some(e) = &audit.error {
                link.note = Some(format!("cannot be audited: {e}"));
            }
            next = audit.bases.first().cloned();
            links.push(link);
        }
        links
    }
}

/// The text report of one image.
fn render_human(a: &ImageAudit) -> String {
    let mut out = String::new();
    let digest = a.digest.as_ref().map(|d| format!(" ({d})")).unwrap_or_default();
    let decision = match a.decision {
        Some(Decision::Allow) => "ALLOW  ",
        Some(Decision::Deny) => "DENY   ",
        None => "",
    };
    let _ = writeln!(out, "{decision}{}{digest}", a.image);
    if let Some(e) = &a.error {
        let _ = writeln!(out, "    error: {e}");
    }
    if !a.attached.is_empty() {
        let _ = writeln!(out, "    attached ({})", a.attached.len());
        for t in &a.attached {
            let what = t.tag.as_deref().or(t.artifact_type.as_deref()).unwrap_or("?");
            let indent = "  ".repeat(t.depth);
            let _ = writeln!(out, "    {indent}{} {} {what} ({} layers)", t.kind, t.digest, t.layers);
        }
    }
    for (noun, items) in [("signatures", &a.signatures), ("attestations", &a.attestations)] {
        if items.is_empty() {
            let _ = writeln!(out, "    {noun}: none");
            continue;
        }
        let _ = writeln!(out, "    {noun} ({})", items.len());
        for i in items {
            let v = &i.verification;
            let status = status_word(v.status);
            let what = i.predicate_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
            let by = match (&v.publisher, &v.signer) {
                (Some(p), Some(s)) => format!(" by {p} ({s})"),
                _ => format!(", signer as stated: {}", i.stated_signer.describe()),
            };
            let _ = writeln!(out, "      {status:<12} {}{what}{by}", i.origin);
            let s = &i.stated_signer;
            for (k, val) in [
                ("repository", &s.repository),
                ("workflow", &s.workflow),
                ("ref", &s.git_ref),
            ] {
                if let Some(val) = val {
                    let _ = writeln!(out, "                   {k} {val}");
                }
            }
            if let Some(r) = &v.reason {
                let _ = writeln!(out, "                   {r}");
            }
        }
    }
    for s in &a.sboms {
        let _ = writeln!(
            out,
            "    sbom ({}): {} components, ecosystems [{}], licences [{}]",
            content_word(s.content),
            s.components,
            s.ecosystems.join(", "),
            s.licenses.join(", ")
        );
        if let Some(d) = &s.denied {
            let _ = writeln!(
                out,
                "      denied: {}",
                if d.is_empty() { "none".into() } else { d.join("; ") }
            );
        }
    }
    for p in &a.provenance {
        let _ = writeln!(
            out,
            "    provenance ({}): builder {}, source {} at {}, build type {}, invocation {}",
            content_word(p.content),
            p.builder_id.as_deref().unwrap_or("?"),
            p.source_repository.as_deref().unwrap_or("?"),
            p.source_commit.as_deref().unwrap_or("?"),
            p.build_type.as_deref().unwrap_or("?"),
            p.invocation_id.as_deref().unwrap_or("?"),
        );
    }
    for v in &a.vulnerabilities {
        let counts: Vec<String> = v.counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(
            out,
            "    vulnerability scan ({}): scanner {}, finished {}, findings [{}]",
            content_word(v.content),
            v.scanner.as_deref().unwrap_or("?"),
            v.finished_on.as_deref().unwrap_or("?"),
            counts.join(", ")
        );
    }
    for link in &a.base_chain {
        let decision = match link.decision {
            Some(Decision::Allow) => " allow",
            Some(Decision::Deny) => " deny",
            None => "",
        };
        let digest = link.digest.as_ref().map(|d| format!("@{d}")).unwrap_or_default();
        let note = link.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
        let _ = writeln!(out, "    base ({}) {}{digest}{decision}{note}", link.source, link.image);
    }
    if let Some(r) = &a.policy {
        let rule = match (&r.rule, r.mode) {
            (Some(rule), Some(mode)) => format!("rule {rule}, {mode}"),
            _ => "no rule".to_owned(),
        };
        let _ = writeln!(out, "    policy ({rule})");
        // The first line repeats the image and its decision, shown above.
        for line in r.render_human().lines().skip(1) {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

/// The word for a verification status.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Unverified => "unverified",
        Status::Verified => "verified",
        Status::NotTrusted => "not trusted",
        Status::Failed => "failed",
    }
}

fn content_word(c: audit::Content) -> &'static str {
    match c {
        audit::Content::Verified => "verified",
        audit::Content::UnverifiedContent => "unverified content",
    }
}
