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

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference leaves and tree heads of RFC 6962's test vectors, as
    /// published in google/certificate-transparency (C++ `merkle_tree_test.cc`)
    /// and transparency-dev/merkle (`testonly/reference_test.go`,
    /// `proof/verify_test.go`).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    /// (leaf index, 0-based; tree size; audit path).
    const PROOFS: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    fn reference(size: usize) -> Tree {
        let mut tree = Tree::default();
        for leaf in &LEAVES[..size] {
            tree.push(leaf_hash(&hex::decode(leaf).expect("hex")));
        }
        tree
    }

    #[test]
    fn roots_match_rfc6962_vectors() {
        for (size, root) in ROOTS.iter().enumerate() {
            assert_eq!(hex::encode(reference(size).root()), *root, "size {size}");
        }
    }

    #[test]
    fn inclusion_proofs_match_rfc6962_vectors() {
        let tree = reference(8);
        for (index, size, expected) in PROOFS {
            let proof = tree.inclusion_proof(index, size).expect("in range");
            let proof_hex: Vec<String> = proof.iter().map(hex::encode).collect();
            assert_eq!(proof_hex, expected, "leaf {index} of {size}");
            let leaf = leaf_hash(&hex::decode(LEAVES[index as usize]).expect("hex"));
            let root = root_from_proof(index, size, leaf, &proof).expect("right length");
            assert_eq!(hex::encode(root), ROOTS[size as usize]);
        }
    }

    #[test]
    fn every_proof_verifies_and_a_flipped_one_does_not() {
        let mut tree = Tree::default();
        for n in 0u32..37 {
            tree.push(leaf_hash(&n.to_be_bytes()));
            let size = tree.size();
            let root = tree.root();
            for index in 0..size {
                let leaf = leaf_hash(&(index as u32).to_be_bytes());
                let mut proof = tree.inclusion_proof(index, size).expect("in range");
                assert_eq!(root_from_proof(index, size, leaf, &proof), Some(root), "{index}/{size}");
                // Another leaf's hash, a flipped proof hash, a short proof: all refused.
                assert_ne!(root_from_proof(index, size, leaf_hash(b"other"), &proof), Some(root));
                if let Some(first) = proof.first_mut() {
                    first[31] ^= 0x80;
                    assert_ne!(root_from_proof(index, size, leaf, &proof), Some(root));
                    proof.pop();
                    assert_ne!(root_from_proof(index, size, leaf, &proof), Some(root));
                }
            }
        }
        assert!(tree.inclusion_proof(37, 37).is_none());
        assert!(tree.inclusion_proof(0, 38).is_none());
    }
}
