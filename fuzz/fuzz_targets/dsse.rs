//! DSSE envelopes (attestation layers, bundle content): `Envelope::parse`,
//! the borrowing `EnvelopeView::parse`, payload decoding and PAE building.
//! The two parses must agree, and PAE must be its header then the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_verifier::dsse::{self, Envelope, EnvelopeView};

fuzz_target!(|data: &[u8]| {
    let owned = Envelope::parse(data);
    let view = EnvelopeView::parse(data);
    match (&owned, &view) {
        (Ok(e), Ok(v)) => {
            assert_eq!(
                (e.payload_type.as_str(), e.payload.as_str(), &e.signatures),
                (v.payload_type.as_ref(), v.payload.as_ref(), &v.signatures),
                "the view and the owned parse read different envelopes"
            );
            let from = EnvelopeView::from(e);
            assert_eq!(from.payload.as_ref(), e.payload.as_str());
        }
        (Err(_), Err(_)) => {}
        _ => panic!(
            "Envelope::parse and EnvelopeView::parse disagree: {:?} vs {:?}",
            owned.as_ref().map(|_| ()),
            view.as_ref().map(|_| ())
        ),
    }
    let Ok(envelope) = owned else { return };
    for signature in &envelope.signatures {
        let _ = dsse::decode(&signature.sig);
    }
    let Ok(payload) = envelope.payload_bytes() else { return };
    let signed = envelope.signed_bytes().expect("the payload decoded once already");
    let head = dsse::pae_head(&envelope.payload_type, payload.len());
    assert!(signed.starts_with(head.as_bytes()) && signed[head.len()..] == payload[..]);
    assert_eq!(signed, dsse::pae(&envelope.payload_type, &payload));
    // The JSON sigil writes for this envelope reads back as the same envelope.
    let json = dsse::envelope_json(&envelope.payload_type, &payload, b"sig");
    let again = Envelope::parse(&json).expect("sigil's own envelope JSON parses");
    assert_eq!(again.payload_type, envelope.payload_type);
    assert_eq!(again.payload_bytes().as_deref(), Ok(&payload[..]));
});
