//! The predicate readers the policy's content checks use (SBOM components,
//! SLSA provenance fields, vulnerability scans): each reads JSON text in one
//! pass without a tree, and must decide exactly what reading the same
//! document as a `serde_json::Value` tree decides. Predicates reach the
//! checks only once their signature verified, but a trusted signer still
//! signs whatever a build produced, and `sigil attest` validates the same
//! documents before signing them.
//!
//! Checked for every input: the one-pass readers refuse exactly the texts a
//! `Value` parse refuses; where both read, they give the same components,
//! fields and findings; `validate` of each predicate type never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sigil_verifier::predicate::{self, sbom, slsa, vuln};

fuzz_target!(|data: &[u8]| {
    for predicate_type in [
        predicate::SPDX,
        predicate::CYCLONEDX,
        predicate::SLSA_PROVENANCE_V1,
        predicate::SLSA_PROVENANCE_V02,
        predicate::COSIGN_VULN,
    ] {
        let _ = predicate::validate(predicate_type, data);
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let tree = serde_json::from_str::<Value>(text);

    let components = sbom::components_of(text);
    let provenance = slsa::provenance_of(text);
    let scan = vuln::scan_of(text, true);
    let Ok(tree) = tree else {
        assert!(components.is_err(), "the sbom reader read what a tree parse refuses");
        assert!(provenance.is_err(), "the slsa reader read what a tree parse refuses");
        assert!(scan.is_err(), "the scan reader read what a tree parse refuses");
        return;
    };
    assert_eq!(
        components.expect("a tree parse accepted the text"),
        sbom::components(&tree),
        "sbom components differ between one pass and the tree"
    );
    assert_eq!(
        provenance.expect("a tree parse accepted the text"),
        slsa::provenance(&tree),
        "provenance fields differ between one pass and the tree"
    );
    assert_eq!(
        scan.expect("a tree parse accepted the text"),
        vuln::scan(&tree, true),
        "scans differ between one pass and the tree"
    );
});
