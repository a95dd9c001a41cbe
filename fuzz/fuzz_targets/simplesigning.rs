//! cosign simple-signing payloads (the signed bytes of `.sig` layers):
//! `Payload::parse` must never panic; what it reads must be what sigil would
//! write for the same reference, digest and annotations.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_verifier::simplesigning::{self, Payload};

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = Payload::parse(data) else { return };
    let reference = parsed.docker_reference.clone().unwrap_or_default();
    let written = simplesigning::payload(&reference, &parsed.manifest_digest, &parsed.annotations);
    let again = Payload::parse(&written).expect("sigil's own payload parses");
    assert_eq!(again.manifest_digest, parsed.manifest_digest);
    assert_eq!(again.annotations, parsed.annotations);
});
