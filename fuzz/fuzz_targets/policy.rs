//! Policy files (`sigil policy lint`, `sigil verify --policy`): the spanned
//! YAML reader, the loader with its lint, and both diagnostic renderings.
//! Policies come from operators, but they are shared and reviewed as text,
//! and the loader must report, never panic, on anything.
//!
//! The loader reads the key, certificate and trusted-root files a policy
//! names, relative to the policy's directory, and has no file-reader hook. The
//! policy "lives" in a directory that does not exist, so every relative file
//! name reads as not found; inputs naming an absolute path or one with `..`
//! are skipped so that no run reads a real file (`/dev/zero`, `/dev/stdin`).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sigil_verifier::policy::{self, yaml};
use time::OffsetDateTime;

/// A directory that does not exist: relative file names are not found.
const POLICY_FILE: &str = "/nonexistent-sigil-fuzz/policies/policy.yaml";
/// 2026-06-01T00:00:00Z: exemptions expire against a fixed clock.
const NOW: i64 = 1_780_272_000;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let tree = yaml::parse(source);
    if let Ok(Some(root)) = &tree {
        if names_a_real_path(root) {
            return;
        }
        let _ = root.to_json();
    }
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("a valid timestamp");
    let (compiled, diagnostics) = policy::compile(source, Path::new(POLICY_FILE), now);
    assert_eq!(
        compiled.is_some(),
        !diagnostics.has_errors(),
        "a policy must exist exactly when there is no error"
    );
    let _ = diagnostics.render_human();
    let _ = diagnostics.to_json().to_string();
    for d in &diagnostics.items {
        let _ = d.line_column();
    }
});

fn names_a_real_path(node: &yaml::Node) -> bool {
    match &node.value {
        yaml::Value::Scalar { text, .. } => text.starts_with('/') || text.contains(".."),
        yaml::Value::Seq(items) => items.iter().any(names_a_real_path),
        yaml::Value::Map(entries) => entries.iter().any(|(_, v)| names_a_real_path(v)),
    }
}
