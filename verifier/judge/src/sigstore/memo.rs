//! A memo of cryptographic verification results.
//!
//! Verifying a keyless bundle costs four to six signature checks (the leaf
//! under a P-384 Fulcio CA, the artifact, the SET, the checkpoint, the SCT).
//! The answer is a pure function of the trusted root, the bundle bytes, the
//! artifact digest and the signer kind: Sigstore verification never looks at
//! the clock (DESIGN §3.5), so the same inputs always give the same answer.
//! An admission controller or a pipeline that sees the same evidence again
//! therefore pays only for hashing the inputs and for the identity policy,
//! which is applied afresh on every call. The memo is bounded and simply
//! forgets everything when full.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use aws_lc_rs::digest::{Context, SHA256};
use time::OffsetDateTime;

use super::error::BundleRejection;

/// Entries kept before the memo starts afresh.
const CAPACITY: usize = 4096;

/// What the cryptographic core concluded for one set of inputs.
pub(crate) type Outcome = Result<Vec<OffsetDateTime>, BundleRejection>;

static MEMO: LazyLock<Mutex<HashMap<[u8; 32], Outcome>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// Whether outcomes are remembered (on unless [`set_enabled`] turned it off).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// The memo key: sha256 over length-prefixed parts, so that no two different
/// part lists can collide by concatenation.
pub(crate) fn key(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    for part in parts {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The remembered outcome for `key`, or `compute`'s (then remembered).
pub(crate) fn remember(key: [u8; 32], compute: impl FnOnce() -> Outcome) -> Outcome {
    if !ENABLED.load(Ordering::Relaxed) {
        return compute();
    }
    if let Some(hit) = MEMO.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return hit;
    }
    let outcome = compute();
    if let Ok(mut memo) = MEMO.lock() {
        if memo.len() >= CAPACITY {
            memo.clear();
        }
        memo.insert(key, outcome.clone());
    }
    outcome
}

/// Turns the memo on or off for the whole process (benchmarks measure the
/// cold path with it off: every signature checked on every call).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    clear();
}

/// Forgets everything.
pub fn clear() {
    if let Ok(mut memo) = MEMO.lock() {
        memo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_length_prefixed() {
        assert_ne!(key(&[b"ab", b"c"]), key(&[b"a", b"bc"]));
        assert_eq!(key(&[b"ab", b"c"]), key(&[b"ab", b"c"]));
    }

    #[test]
    fn remembers_and_forgets() {
        let k = key(&[b"memo-test", b"remembers"]);
        assert_eq!(remember(k, || Ok(Vec::new())), Ok(Vec::new()));
        // A second call must not compute again.
        assert_eq!(remember(k, || Err(BundleRejection::NoSigningTime)), Ok(Vec::new()));
    }
}
