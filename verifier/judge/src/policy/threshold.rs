//! How many distinct publishers a threshold's evidence shows (DESIGN §4,
//! §4.1): each listed publisher counts once when at least one of its keys
//! or identities signed, however many did, and publishers count only with
//! signers of their own, so two names for one key count once.
//!
//! Precisely: the count is the size of a maximum matching between the
//! publishers that verified and the distinct signers (a key's fingerprint,
//! a certificate's subject and issuer) whose signatures they accepted. Each
//! counted publisher is paired with a signer that no other counted
//! publisher is paired with. `corp` verifying signers `{x, y}` counts once;
//! `a` and `a2` sharing their only key `k` count once; `a: {k}` and
//! `b: {k, m}` count twice (`a` by `k`, `b` by `m`). Lists are a handful of
//! publishers, so augmenting paths (Kuhn's algorithm) are plenty fast.

use std::collections::{BTreeMap, BTreeSet};

/// The publishers that count, in the order given: a maximum matching of
/// `satisfied` (publisher name, the distinct signers it verified) onto
/// pairwise-distinct signers.
pub fn distinct_publishers<'a>(satisfied: &[(&'a str, BTreeSet<String>)]) -> Vec<&'a str> {
    let mut owner: BTreeMap<&str, usize> = BTreeMap::new();
    for publisher in 0..satisfied.len() {
        let mut visited = BTreeSet::new();
        augment(publisher, satisfied, &mut owner, &mut visited);
    }
    let counted: BTreeSet<usize> = owner.values().copied().collect();
    counted.into_iter().map(|i| satisfied[i].0).collect()
}

/// Finds a signer for `publisher`, moving already paired publishers to
/// other signers of theirs where needed. Recursion depth is at most the
/// number of publishers.
fn augment<'s>(
    publisher: usize,
    satisfied: &'s [(&str, BTreeSet<String>)],
    owner: &mut BTreeMap<&'s str, usize>,
    visited: &mut BTreeSet<&'s str>,
) -> bool {
    for signer in &satisfied[publisher].1 {
        if !visited.insert(signer.as_str()) {
            continue;
        }
        let free = match owner.get(signer.as_str()) {
            None => true,
            Some(&other) => augment(other, satisfied, owner, visited),
        };
        if free {
            owner.insert(signer.as_str(), publisher);
            return true;
        }
    }
    false
}
