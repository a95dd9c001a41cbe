//! The audit as one self-contained HTML file: inline CSS and a small inline
//! script (sorting the images table), no external scripts, fonts or
//! requests. Every value that came from a registry (names, annotations,
//! identities, predicate contents) is attacker-written and goes through
//! [`escape`], the one escaping function, before it reaches the page;
//! literal markup is only ever written by this module.
//!
//! Results are told by a word and a symbol as well as a colour (✔ allow,
//! ✖ deny, ? unverified), so the page reads in greyscale, in print and to
//! colour-blind readers; the palette follows `prefers-color-scheme`.

use std::fmt::Write as _;

use sigil_verifier::audit::{ImageAudit, Item, Status};
use sigil_verifier::policy::{CheckResult, Decision, Policy};
use time::OffsetDateTime;

use super::status_word;

const STYLE: &str = r#"
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1b1b; --muted: #5c5c5c; --line: #d0d0d0;
  --ok: #0b6e2f; --ok-bg: #e3f4e8; --bad: #a3151b; --bad-bg: #fbe4e4; --warn: #7a4d00; --warn-bg: #fff1d6; --code-bg: #f3f3f3; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16181c; --fg: #e8e8e8; --muted: #a8a8a8; --line: #3a3d42;
    --ok: #7ddc9a; --ok-bg: #173222; --bad: #ff9a9a; --bad-bg: #3d1b1d; --warn: #ffd27a; --warn-bg: #3a2d12; --code-bg: #22252a; }
}
body { background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; }
h1, h2, h3 { line-height: 1.2; }
code, .mono { font-family: ui-monospace, monospace; font-size: 0.9em; word-break: break-all; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: var(--code-bg); }
th[data-sort] { cursor: pointer; }
th[data-sort]::after { content: " \2195"; color: var(--muted); }
.badge { display: inline-block; padding: 0 0.45rem; border-radius: 0.3rem; font-weight: 600; border: 1px solid currentColor; white-space: nowrap; }
.ok { color: var(--ok); background: var(--ok-bg); }
.bad { color: var(--bad); background: var(--bad-bg); }
.warn { color: var(--warn); background: var(--warn-bg); }
.muted { color: var(--muted); }
section.image { border-top: 2px solid var(--line); margin-top: 2rem; padding-top: 0.5rem; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  section.image { break-before: page; }
  th[data-sort]::after { content: ""; }
  .badge { background: none !important; color: #000 !important; }
  a { color: inherit; text-decoration: none; }
}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll("table.sortable th[data-sort]").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var up = th.getAttribute("data-dir") !== "up";
    th.setAttribute("data-dir", up ? "up" : "down");
    rows.sort(function (a, b) {
      var x = a.cells[column].textContent, y = b.cells[column].textContent;
      return up ? x.localeCompare(y) : y.localeCompare(x);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"#;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn render(audits: &[ImageAudit], policy: Option<&Policy>, now: OffsetDateTime) -> String {
    let mut out = String::new();
    let when = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\
         <title>sigil audit</title><style>{STYLE}</style></head><body>\n<h1>sigil audit</h1>\n<p class=\"muted\">{} image(s), {}. ",
        audits.len(),
        escape(&when)
    );
    match policy {
        Some(p) => {
            let _ = writeln!(
                out,
                "Policy <code>{}</code> (<code>{}</code>).</p>",
                escape(&p.file.display().to_string()),
                escape(&p.digest.to_string())
            );
        }
        None => {
            out.push_str("No policy given: nothing was verified; signers are shown as the evidence states them.</p>\n")
        }
    }
    out.push_str(
        "<table class=\"sortable\" id=\"images\"><thead><tr><th data-sort>Image</th><th data-sort>Decision</th>\
         <th data-sort>Signatures</th><th data-sort>Attestations</th><th data-sort>Base</th></tr></thead><tbody>\n",
    );
    for (n, a) in audits.iter().enumerate() {
        let verified = |items: &[Item]| {
            items
                .iter()
                .filter(|i| i.verification.status == Status::Verified)
                .count()
        };
        let base = a
            .base_chain
            .first()
            .map(|l| l.image.clone())
            .or_else(|| a.bases.first().map(|b| b.name.clone()))
            .unwrap_or_else(|| "none found".into());
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#image-{n}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.image),
            decision_badge(a),
            counts(a.signatures.len(), verified(&a.signatures), policy.is_some()),
            counts(a.attestations.len(), verified(&a.attestations), policy.is_some()),
            escape(&base)
        );
    }
    out.push_str("</tbody></table>\n");
    for (n, a) in audits.iter().enumerate() {
        section(&mut out, n, a);
    }
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body></html>\n");
    out
}

fn counts(total: usize, verified: usize, with_policy: bool) -> String {
    if with_policy {
        format!("{verified} of {total} verified")
    } else {
        format!("{total} (unverified)")
    }
}

fn decision_badge(a: &ImageAudit) -> &'static str {
    match (a.error.is_some(), a.decision) {
        (true, _) => "<span class=\"badge bad\">✖ ERROR</span>",
        (false, Some(Decision::Allow)) => "<span class=\"badge ok\">✔ ALLOW</span>",
        (false, Some(Decision::Deny)) => "<span class=\"badge bad\">✖ DENY</span>",
        (false, None) => "<span class=\"badge warn\">? no policy</span>",
    }
}

fn status_badge(s: Status) -> String {
    let (class, mark) = match s {
        Status::Verified => ("ok", "✔"),
        Status::NotTrusted | Status::Failed => ("bad", "✖"),
        Status::Unverified => ("warn", "?"),
    };
    format!("<span class=\"badge {class}\">{mark} {}</span>", status_word(s))
}

fn section(out: &mut String, n: usize, a: &ImageAudit) {
    let _ = writeln!(
        out,
        "<section class=\"image\" id=\"image-{n}\"><h2>{} {}</h2>",
        decision_badge(a),
        escape(&a.image)
    );
    if let Some(d) = &a.digest {
        let _ = writeln!(out, "<p>Digest <code>{}</code></p>", escape(&d.to_string()));
    }
    if let Some(e) = &a.error {
        let _ = writeln!(out, "<p class=\"badge bad\">✖ could not be audited: {}</p>", escape(e));
    }
    if !a.annotations.is_empty() {
        out.push_str("<h3>Annotations</h3><table><tbody>\n");
        for (k, v) in &a.annotations {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td></tr>",
                escape(k),
                escape(v)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    for (title, items) in [("Signatures", &a.signatures), ("Attestations", &a.attestations)] {
        let _ = writeln!(out, "<h3>{title}</h3>");
        if items.is_empty() {
            out.push_str("<p class=\"muted\">none found</p>\n");
            continue;
        }
        out.push_str(
            "<table><thead><tr><th>Result</th><th>Where</th><th>Type</th><th>Signer</th><th>Publisher / reason</th></tr></thead><tbody>\n",
        );
        for i in items {
            let v = &i.verification;
            let mut signer = escape(&i.stated_signer.describe());
            for (k, val) in [
                ("repository", &i.stated_signer.repository),
                ("workflow", &i.stated_signer.workflow),
                ("ref", &i.stated_signer.git_ref),
            ] {
                if let Some(val) = val {
                    let _ = write!(signer, "<br><span class=\"muted\">{k}</span> {}", escape(val));
                }
            }
            if let Some(s) = &v.signer {
                let _ = write!(
                    signer,
                    "<br><span class=\"muted\">verified as</span> {}",
                    escape(&s.to_string())
                );
            }
            let outcome = match (&v.publisher, &v.reason) {
                (Some(p), _) => format!("publisher {}", escape(p)),
                (None, Some(r)) => {
                    let code = v.code.map(|c| format!("[{}] ", c.as_str())).unwrap_or_default();
                    format!("{}{}", escape(&code), escape(r))
                }
                (None, None) => "<span class=\"muted\">no policy</span>".to_owned(),
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{signer}</td><td>{outcome}</td></tr>",
                status_badge(v.status),
                escape(&i.origin.to_string()),
                escape(i.predicate_type.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>\n");
    }
    summaries(out, a);
    if !a.base_chain.is_empty() {
        out.push_str("<h3>Base image chain</h3><ol>\n");
        let _ = writeln!(out, "<li>{}</li>", escape(&a.image));
        for l in &a.base_chain {
            let decision = match l.decision {
                Some(Decision::Allow) => " <span class=\"badge ok\">✔ ALLOW</span>",
                Some(Decision::Deny) => " <span class=\"badge bad\">✖ DENY</span>",
                None => "",
            };
            let digest = l.digest.as_ref().map(|d| format!("@{d}")).unwrap_or_default();
            let note = l
                .note
                .as_deref()
                .map(|n| format!(" <span class=\"muted\">({})</span>", escape(n)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "<li>{}{}{decision} <span class=\"muted\">from {}</span>{note}</li>",
                escape(&l.image),
                escape(&digest),
                escape(l.source)
            );
        }
        out.push_str("</ol>\n");
    }
    if !a.attached.is_empty() {
        out.push_str("<h3>Everything attached</h3><table><thead><tr><th>Kind</th><th>Manifest</th><th>Tag / artifact type</th><th>Predicate type (claimed)</th><th>Layers</th><th>Depth</th></tr></thead><tbody>\n");
        for t in &a.attached {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&t.kind),
                escape(&t.digest.to_string()),
                escape(t.tag.as_deref().or(t.artifact_type.as_deref()).unwrap_or("")),
                escape(t.predicate_type.as_deref().unwrap_or("")),
                t.layers,
                t.depth
            );
        }
        out.push_str("</tbody></table>\n");
    }
    if let Some(r) = &a.policy {
        let _ = writeln!(
            out,
            "<h3>Policy checks</h3><p>Rule {}, mode {}</p><table><thead><tr><th>Result</th><th>Kind</th><th>Requirement</th><th>Reason</th></tr></thead><tbody>",
            escape(r.rule.as_deref().unwrap_or("none")),
            escape(&r.mode.map(|m| m.to_string()).unwrap_or_else(|| "-".into()))
        );
        for c in &r.checks {
            let badge = match c.result {
                CheckResult::Pass => "<span class=\"badge ok\">✔ pass</span>",
                CheckResult::Fail => "<span class=\"badge bad\">✖ fail</span>",
                CheckResult::Waived => "<span class=\"badge warn\">~ waived</span>",
            };
            let details: String = c
                .details
                .iter()
                .map(|d| format!("<br><span class=\"muted\">{}</span>", escape(d)))
                .collect();
            let _ = writeln!(
                out,
                "<tr><td>{badge}</td><td>{}</td><td>{}</td><td>{} [{}]{details}</td></tr>",
                escape(c.kind),
                escape(&c.requirement),
                escape(&c.reason),
                escape(c.code.as_str())
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</section>\n");
}

fn content_badge(c: sigil_verifier::audit::Content) -> &'static str {
    match c {
        sigil_verifier::audit::Content::Verified => "<span class=\"badge ok\">✔ verified</span>",
        sigil_verifier::audit::Content::UnverifiedContent => "<span class=\"badge warn\">? unverified content</span>",
    }
}

fn summaries(out: &mut String, a: &ImageAudit) {
    for s in &a.sboms {
        let _ = writeln!(
            out,
            "<h3>SBOM {}</h3><p>{} components; ecosystems: {}; licences: {}</p>",
            content_badge(s.content),
            s.components,
            escape(&s.ecosystems.join(", ")),
            escape(&s.licenses.join(", "))
        );
        if let Some(d) = &s.denied {
            if d.is_empty() {
                out.push_str("<p><span class=\"badge ok\">✔ no denied packages</span></p>\n");
            } else {
                out.push_str("<p><span class=\"badge bad\">✖ denied</span></p><ul>");
                for x in d {
                    let _ = write!(out, "<li>{}</li>", escape(x));
                }
                out.push_str("</ul>\n");
            }
        }
        if let Some(e) = &s.error {
            let _ = writeln!(out, "<p class=\"muted\">{}</p>", escape(e));
        }
    }
    for p in &a.provenance {
        let field = |v: &Option<String>| escape(v.as_deref().unwrap_or("?"));
        let _ = writeln!(
            out,
            "<h3>Provenance {}</h3><table><tbody><tr><th>Builder</th><td>{}</td></tr><tr><th>Source</th><td>{}</td></tr>\
             <tr><th>Commit</th><td class=\"mono\">{}</td></tr><tr><th>Build type</th><td>{}</td></tr><tr><th>Invocation</th><td>{}</td></tr></tbody></table>",
            content_badge(p.content),
            field(&p.builder_id),
            field(&p.source_repository),
            field(&p.source_commit),
            field(&p.build_type),
            field(&p.invocation_id)
        );
    }
    for v in &a.vulnerabilities {
        let counts: Vec<String> = v.counts.iter().map(|(k, n)| format!("{} {n}", escape(k))).collect();
        let _ = writeln!(
            out,
            "<h3>Vulnerability scan {}</h3><p>Scanner {}, finished {}; findings: {}</p>",
            content_badge(v.content),
            escape(v.scanner.as_deref().unwrap_or("?")),
            escape(v.finished_on.as_deref().unwrap_or("?")),
            if counts.is_empty() {
                "none".to_owned()
            } else {
                counts.join(", ")
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert(1)</script> & "x" 'y'"#),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot; &#39;y&#39;"
        );
        assert_eq!(escape("plain text"), "plain text");
    }

    #[test]
    fn a_hostile_image_name_and_annotation_are_escaped_in_the_page() {
        let mut a = sigil_verifier::audit::failed("<script>alert(1)</script>".into(), None, "<b>x</b>".into(), None);
        a.annotations.insert("k\"<".into(), "<script>alert(2)</script>".into());
        let page = render(&[a], None, OffsetDateTime::UNIX_EPOCH);
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<b>x"));
        assert!(page.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
        // the page's own script is the only one
        assert_eq!(page.matches("<script>").count(), 1);
    }
}
