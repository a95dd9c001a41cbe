//! AdmissionReview bodies as a workload's author can shape them (the
//! apiserver passes the object through): `review::parse`, then for a review
//! it accepts, `images::images_of` and `images::reference` on every image,
//! pinning, and the answer. Properties: every image found is at the pointer
//! it names, with the string it reports; a pin is the string as written
//! plus the digest, and none is made for a reference that already pins
//! one; the answer is JSON echoing the uid, and a denial carries no patch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_admission::images::{self, FoundImage};
use sigil_admission::patch::{self, Replace};
use sigil_admission::review::{self, Answer};
use sigil_verifier::digest::Digest;

fuzz_target!(|data: &[u8]| {
    let Ok(review) = review::parse(data) else { return };
    let digest = Digest::sha256_of(data);
    let mut pins: Vec<Replace> = Vec::new();
    if let Ok(found) = images::images_of(&review) {
        for FoundImage { pointer, written, .. } in &found {
            let at = review.object.as_ref().and_then(|o| o.pointer(pointer)).and_then(|v| v.as_str());
            assert_eq!(at, Some(written.as_str()), "{pointer}");
        }
        for f in &found {
            let _ = images::reference(&f.written);
            match patch::pin(f, &digest) {
                Some(pin) => {
                    assert!(!patch::is_pinned(&f.written));
                    assert_eq!(pin.value, format!("{}@{digest}", f.written));
                    assert_eq!(pin.pointer, f.pointer);
                    pins.push(pin);
                }
                None => assert!(patch::is_pinned(&f.written)),
            }
        }
    }
    for allowed in [true, false] {
        let answer = Answer {
            allowed,
            message: (!allowed).then(|| "denied".to_owned()),
            warnings: vec!["a warning".into()],
            patch: pins.clone(),
            ..Answer::default()
        };
        let out: serde_json::Value = serde_json::from_slice(&review::respond(&review, &answer)).expect("the answer is JSON");
        let response = &out["response"];
        assert_eq!(response["uid"].as_str(), Some(review.uid.as_str()));
        assert_eq!(response["allowed"].as_bool(), Some(allowed));
        let patched = response.get("patch").is_some();
        assert_eq!(patched, allowed && !pins.is_empty());
        assert_eq!(response.get("patchType").is_some(), patched);
    }
});
