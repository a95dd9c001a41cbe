//! A memo of cryptographic verification results.
//!
//! Verifying a keyless bundle costs four to six signature checks (the leaf
//! under a P-384 Fulcio CA, the artifact, the SET, the checkpoint, the SCT).
//! An admission controller or a pipeline that sees the same evidence again
//! pays only for hashing the inputs and for what is judged outside the memo
//! (the identity policy, key windows, private-PKI chains), which is applied
//! afresh on every call.
//!
//! The rule: **the memo holds only outcomes that no evaluation time could
//! change.** sigstore-rust judges certificates at the times the evidence
//! proves, but it also uses the evaluation time ("now"): a logged time must
//! not lie after it, and a log key or timestamp authority counts only once
//! its window has started by it. Both stop mattering from one instant on,
//! which the evidence itself fixes: the latest start of any log key or
//! timestamp authority of the trusted root ([`TrustedRoot::in_force`]) and
//! the latest integrated time of the bundle's log entries. Past that
//! *settled* time the cryptographic answer, acceptance or rejection, is the
//! same at every time; before it, the answer is computed and not stored.
//! Everything judged at a caller's time (a key window or a private-PKI chain
//! when the evidence proves no signing time, a signing time after "now") is
//! judged outside the memo, on every call.
//!
//! An entry is keyed by a sha256 over the trusted root's content identity,
//! the signer (the key's SPKI, or the keyless chain mode), the bundle bytes,
//! the artifact and the settled time, and it is used only by an evaluation
//! at or after that time. The memo is bounded: it keeps [`CAPACITY`] entries
//! and forgets them all when full.
//!
//! [`TrustedRoot::in_force`]: super::TrustedRoot

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use aws_lc_rs::digest::{Context, SHA256};
use time::OffsetDateTime;

use super::error::BundleRejection;

/// Entries kept before the memo starts afresh.
const CAPACITY: usize = 4096;

/// What the cryptographic core concluded for one set of inputs: the proven
/// signing times, or the rejection.
pub(crate) type Outcome = Result<Vec<OffsetDateTime>, BundleRejection>;

/// An outcome and the time from which it holds at every evaluation time.
struct Entry {
    settled: OffsetDateTime,
    outcome: Outcome,
}

/// A bounded map of settled outcomes.
struct Memo {
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    capacity: usize,
}

static MEMO: LazyLock<Memo> = LazyLock::new(|| Memo::new(CAPACITY));

/// Whether outcomes are remembered (on unless [`set_enabled`] turned it off).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// The memo key: sha256 over length-prefixed parts and the settled time, so
/// that no two different part lists can collide by concatenation.
pub(crate) fn key(parts: &[&[u8]], settled: OffsetDateTime) -> [u8; 32] {
    let settled = settled.unix_timestamp_nanos().to_be_bytes();
    let mut ctx = Context::new(&SHA256);
    for part in parts.iter().copied().chain([settled.as_slice()]) {
        ctx.update(&(part.len() as u64).to_be_bytes());
        ctx.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// The remembered outcome for `key`, or `compute`'s, which is computed at
/// `now` and remembered only when `now` is at or after `settled`, the time
/// from which the answer cannot depend on the evaluation time. The key is
/// hashed only when the memo is on.
pub(crate) fn remember(
    key: impl FnOnce() -> [u8; 32],
    settled: OffsetDateTime,
    now: OffsetDateTime,
    compute: impl FnOnce() -> Outcome,
) -> Outcome {
    if !ENABLED.load(Ordering::Relaxed) {
        return compute();
    }
    MEMO.remember(key(), settled, now, compute)
}

impl Memo {
    fn new(capacity: usize) -> Memo {
        Memo {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    fn remember(
        &self,
        key: [u8; 32],
        settled: OffsetDateTime,
        now: OffsetDateTime,
        compute: impl FnOnce() -> Outcome,
    ) -> Outcome {
        if now < settled {
            return compute();
        }
        let hit = self.entries.lock().ok().and_then(|m| {
            m.get(&key)
                .filter(|entry| entry.settled <= now)
                .map(|entry| entry.outcome.clone())
        });
        if let Some(outcome) = hit {
            return outcome;
        }
        let outcome = compute();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= self.capacity {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    settled,
                    outcome: outcome.clone(),
                },
            );
        }
        outcome
    }

    fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map_or(0, |m| m.len())
    }
}

/// Turns the memo on or off for the whole process (benchmarks measure the
/// cold path with it off: every signature checked on every call).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
    clear();
}

/// Forgets everything.
pub fn clear() {
    MEMO.clear();
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    const SETTLED: OffsetDateTime = datetime!(2025-01-01 0:00 UTC);

    #[test]
    fn keys_are_length_prefixed_and_name_the_settled_time() {
        assert_ne!(key(&[b"ab", b"c"], SETTLED), key(&[b"a", b"bc"], SETTLED));
        assert_eq!(key(&[b"ab", b"c"], SETTLED), key(&[b"ab", b"c"], SETTLED));
        assert_ne!(
            key(&[b"ab", b"c"], SETTLED),
            key(&[b"ab", b"c"], SETTLED + time::Duration::SECOND)
        );
    }

    #[test]
    fn remembers_settled_outcomes() {
        let memo = Memo::new(8);
        let k = key(&[b"memo-test", b"remembers"], SETTLED);
        let now = SETTLED + time::Duration::DAY;
        assert_eq!(memo.remember(k, SETTLED, now, || Ok(Vec::new())), Ok(Vec::new()));
        // A second call, at any time from the settled one on, must not compute again.
        assert_eq!(
            memo.remember(k, SETTLED, SETTLED, || Err(BundleRejection::NoSigningTime)),
            Ok(Vec::new())
        );
    }

    #[test]
    fn never_stores_or_serves_an_outcome_before_its_settled_time() {
        let memo = Memo::new(8);
        let k = key(&[b"memo-test", b"unsettled"], SETTLED);
        let early = SETTLED - time::Duration::SECOND;
        assert_eq!(
            memo.remember(k, SETTLED, early, || Err(BundleRejection::NoSigningTime)),
            Err(BundleRejection::NoSigningTime)
        );
        // Not stored: a settled evaluation computes afresh.
        assert_eq!(memo.remember(k, SETTLED, SETTLED, || Ok(Vec::new())), Ok(Vec::new()));
        // Stored now, but an earlier evaluation still computes its own answer.
        assert_eq!(
            memo.remember(k, SETTLED, early, || Err(BundleRejection::NoSigningTime)),
            Err(BundleRejection::NoSigningTime)
        );
    }

    #[test]
    fn is_bounded() {
        let memo = Memo::new(8);
        for i in 0..20usize {
            let k = key(&[b"memo-test", b"bounded", &i.to_be_bytes()], SETTLED);
            let _ = memo.remember(k, SETTLED, SETTLED, || Ok(Vec::new()));
            assert!(memo.len() <= 8);
        }
    }
}
