//! Sigstore bundles from registries and files: `Bundle::parse` and the
//! borrowing `BundleView::parse` must never panic, and must agree where both
//! read the same thing (the view checks what the owned parse checks, and
//! reads less: an owned accept implies a view accept with the same envelope).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_verifier::bundle::{Bundle, BundleView};

fuzz_target!(|data: &[u8]| {
    let owned = Bundle::parse(data);
    let view = BundleView::parse(data);
    let Ok(bundle) = owned else { return };
    let view = match view {
        Ok(view) => view,
        Err(e) => panic!("Bundle::parse accepted what BundleView::parse refused: {e}"),
    };
    assert_eq!(
        view.dsse_envelope
            .as_ref()
            .map(|e| (e.payload_type.as_ref(), e.payload.as_ref(), &e.signatures)),
        bundle
            .dsse_envelope
            .as_ref()
            .map(|e| (e.payload_type.as_str(), e.payload.as_str(), &e.signatures)),
        "the view and the owned parse read different envelopes"
    );
    if let Some(envelope) = &bundle.dsse_envelope {
        let _ = envelope.signed_bytes();
    }
    // What sigil writes back (e.g. `sigil copy`) must read back the same.
    let json = bundle.to_json();
    let again = Bundle::parse(&json).expect("a parsed bundle's own JSON parses");
    assert_eq!(again.to_json(), json, "bundle JSON does not round-trip");
});
