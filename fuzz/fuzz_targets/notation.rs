//! Notary Project evidence an attacker writes: signature envelopes (JWS
//! and COSE_Sign1), RFC 3161 timestamp tokens (verified over a fixed
//! signature with no TSA root, so every parse and check before the chain
//! runs) and CRL files (DER or PEM). None may panic; a token can never
//! verify without a root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_verifier::notation::{COSE_MEDIA_TYPE, Crls, JWS_MEDIA_TYPE, envelope, timestamp};

fuzz_target!(|data: &[u8]| {
    for media_type in [JWS_MEDIA_TYPE, COSE_MEDIA_TYPE] {
        if let Ok(parsed) = envelope::parse(media_type, data) {
            assert!(!parsed.chain.is_empty(), "an envelope without a chain parsed");
        }
    }
    assert!(
        timestamp::verify(data, b"signature", &[]).is_err(),
        "a timestamp token verified without a TSA root"
    );
    let _ = Crls::new().add_file("fuzz.crl", data);
});
