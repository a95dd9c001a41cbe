//! Pinning verified images: RFC 6902 `replace` operations.
//!
//! PLACEHOLDER: helper A fills in `pinned_value` and `encode`.

/// One `{"op":"replace","path":POINTER,"value":VALUE}` operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replace {
    pub pointer: String,
    pub value: String,
}

// STUBS until helper A's module lands.
pub fn pin(_found: &crate::images::FoundImage, _digest: &sigil_verifier::digest::Digest) -> Option<Replace> {
    None
}
