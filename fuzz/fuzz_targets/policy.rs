//! Policy files (`sigil policy lint`, `sigil verify --policy`): the spanned
//! YAML reader, the loader with its lint, and both diagnostic renderings.
//! Policies come from operators, but they are shared and reviewed as text,
//! and the loader must report, never panic, on anything.
//!
//! The loader is pure: the files a policy names are read through a
//! `FileReader`. Here it is an in-memory set beside the policy (a real key
//! as `key.pub`, the public-good trusted root as `root.json`); every other
//! name, absolute or with `..`, is not found, so no run touches the real
//! file system.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sigil_verifier::policy::{self, MemoryFiles, yaml};
use time::OffsetDateTime;

/// Where the policy "lives"; its files are in memory beside it.
const POLICY_FILE: &str = "/fuzz/policies/policy.yaml";
/// 2026-06-01T00:00:00Z: exemptions expire against a fixed clock.
const NOW: i64 = 1_780_272_000;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let tree = yaml::parse(source);
    if let Ok(Some(root)) = &tree {
        let _ = root.to_json();
    }
    let files = MemoryFiles::default()
        .with("/fuzz/policies/key.pub", &include_bytes!("../../testdata/keys/p256-pub.pem")[..])
        .with("/fuzz/policies/root.json", &include_bytes!("../../testdata/trust/trusted_root.json")[..]);
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("a valid timestamp");
    let (compiled, diagnostics) = policy::compile(source, Path::new(POLICY_FILE), now, &files);
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
