//! Snapshots of what people read: every `--help`, the human and JSON
//! reports of `verify --policy`, `verify --key` and `audit`, and `policy lint` in
//! both renderings. A
//! change to any of them fails here as a diff to review (`cargo insta
//! review`, or `INSTA_UPDATE=always` to accept), never silently.
//!
//! Values that differ from run to run are replaced before comparing:
//! temporary paths by `[TMP]`, and 64-digit hex (digests of freshly
//! signed evidence) by `[HEX]`, short key fingerprints by `[KEY]`, and
//! the shortened digests of human output by `[SHORT]`.

use std::path::Path;

use crate::fixtures::{keypair, s, write_policy};
use crate::support::{sample_layout, sigil};

/// The evaluation time of every snapshot run.
const AT: &str = "2026-06-01T00:00:00Z";

fn settings(tmp: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(&regex_escape(s(tmp)), "[TMP]");
    settings.add_filter(r"[0-9a-f]{64}", "[HEX]");
    settings.add_filter(r"sha256:[0-9a-f]{16}\b", "sha256:[KEY]");
    settings.add_filter(r"sha256([:-])[0-9a-f]{12}…", "sha256${1}[SHORT]…");
    settings
}

/// `text` as a regex matching itself.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// The subcommands a `--help` text lists under `Commands:` (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_help_text() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _guard = settings(tmp.path()).bind_to_scope();
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = sigil(&args).env("COLUMNS", "100").run();
        out.assert_exit(0);
        let name = if path.is_empty() {
            "help-sigil".to_owned()
        } else {
            format!("help-sigil-{}", path.join("-"))
        };
        for sub in subcommands(&out.stdout) {
            let mut child = path.clone();
            child.push(sub);
            pending.push(child);
        }
        insta::assert_snapshot!(name, out.stdout);
        seen += 1;
    }
    // sigil, its 21 commands, key's 3, policy's 3 and trust's 2
    assert_eq!(seen, 29, "help texts found");
}

/// Two layouts holding the same image: in `good` signed by `release`, in
/// `bad` by `stranger`, whom the policy does not trust.
fn layouts_with_policy(dir: &Path) -> (String, String, std::path::PathBuf) {
    let mut images = Vec::new();
    for (name, key) in [("good", "release"), ("bad", "stranger")] {
        let (key, _) = keypair(dir, key);
        let layout = dir.join(name);
        sample_layout(&layout);
        let image = format!("oci:{}:v1", s(&layout));
        sigil(&["sign", &image, "--key", s(&key)])
            .env("SIGIL_PASSWORD", "pw")
            .run()
            .assert_exit(0);
        images.push(image);
    }
    let policy = write_policy(
        dir,
        "publishers:\n  release: {key: release.pub}\nrules:\n  - name: layouts\n    images: [\"oci:**\"]\n    signatures: {anyOf: [release]}\n",
    );
    let bad = images.pop().expect("two images");
    let good = images.pop().expect("two images");
    (good, bad, policy)
}

#[test]
fn policy_reports_human_and_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _guard = settings(tmp.path()).bind_to_scope();
    let (good, bad, policy) = layouts_with_policy(tmp.path());
    for output in ["human", "json"] {
        let out = sigil(&[
            "verify",
            &good,
            &bad,
            "--policy",
            s(&policy),
            "--at",
            AT,
            "--output",
            output,
        ])
        .run();
        out.assert_exit(1);
        insta::assert_snapshot!(format!("verify-policy-{output}"), out.stdout);
    }
}

#[test]
fn audit_human_and_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _guard = settings(tmp.path()).bind_to_scope();
    let (good, bad, policy) = layouts_with_policy(tmp.path());
    for output in ["human", "json"] {
        let out = sigil(&[
            "audit",
            &good,
            &bad,
            "--policy",
            s(&policy),
            "--at",
            AT,
            "--output",
            output,
        ])
        .run();
        out.assert_exit(1);
        insta::assert_snapshot!(format!("audit-policy-{output}"), out.stdout);
    }
    let out = sigil(&["audit", &good, "--output", "human"]).run();
    out.assert_exit(0);
    insta::assert_snapshot!("audit-human", out.stdout);
}

#[test]
fn key_verification_human_and_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _guard = settings(tmp.path()).bind_to_scope();
    let (good, bad, _) = layouts_with_policy(tmp.path());
    let key = tmp.path().join("release.pub");
    for output in ["human", "json"] {
        let out = sigil(&["verify", &good, &bad, "--key", s(&key), "--output", output]).run();
        out.assert_exit(1);
        insta::assert_snapshot!(format!("verify-key-{output}"), out.stdout);
    }
}

#[test]
fn lint_human_and_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let _guard = settings(tmp.path()).bind_to_scope();
    let policy = write_policy(
        tmp.path(),
        "publishers:\n  release: {key: absent.pub}\n  unused: {keyless: {issuer: https://issuer.example, subject: a@example.com}}\nrules:\n  - name: prod\n    images: [\"registry.example/prod/**\"]\n    signatures: {anyOf: [release, nobody]}\n    mode: enforcing\nexemptions:\n  - images: [\"registry.example/prod/old\"]\n    waive: [signatures]\n    reason: legacy\n    owner: team\n    expires: 2026-01-01\n",
    );
    for output in ["human", "json"] {
        let out = sigil(&["policy", "lint", s(&policy), "--at", AT, "--output", output]).run();
        out.assert_exit(2);
        insta::assert_snapshot!(format!("policy-lint-{output}"), out.stdout);
    }
}
