//! An RFC 6962 (§2.1) / RFC 9162 (§2.1) Merkle tree over SHA-256: leaf hash
//! `SHA-256(0x00 || leaf)`, node hash `SHA-256(0x01 || left || right)`,
//! the split at the largest power of two below the size.

use aws_lc_rs::digest::{Context, SHA256};

pub type Hash = [u8; 32];

fn sha256(parts: &[&[u8]]) -> Hash {
    let mut context = Context::new(&SHA256);
    for part in parts {
        context.update(part);
    }
    context.finish().as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// The hash of a leaf holding `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    sha256(&[&[0], data])
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    sha256(&[&[1], left, right])
}

/// The largest power of two strictly below `n` (n >= 2).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// An append-only tree of leaf hashes.
#[derive(Default)]
pub struct Tree {
    leaves: Vec<Hash>,
}

impl Tree {
    pub fn size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// Appends a leaf hash; returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        self.leaves.push(leaf);
        self.size() - 1
    }

    /// MTH of the whole tree.
    pub fn root(&self) -> Hash {
        mth(&self.leaves)
    }

    /// The audit path of leaf `index` in the tree of the first `size`
    /// leaves (RFC 6962 §2.1.1 PATH), leaf-side first.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        let (index, size) = (usize::try_from(index).ok()?, usize::try_from(size).ok()?);
        if index >= size || size > self.leaves.len() {
            return None;
        }
        let mut proof = Vec::new();
        path(index, &self.leaves[..size], &mut proof);
        Some(proof)
    }
}

/// MTH(D[n]) of RFC 6962 §2.1.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => sha256(&[]),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(mth(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(mth(&leaves[..k]));
    }
}

/// Recomputes the root from a leaf hash and its audit path (RFC 9162
/// §2.1.3.2); `None` when the proof has the wrong length for the position.
pub fn root_from_proof(index: u64, size: u64, leaf: Hash, proof: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if s_n == 0 {
            return None;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    (s_n == 0).then_some(r)
}
