//! Keys: public keys that verify signatures, private keys that make them, and
//! cosign's encrypted key file (DESIGN §3.4).
//!
//! This module is part of the judgement world: it does no I/O. Callers read
//! files and pass their text in. All signing and verification goes through
//! aws-lc-rs (DESIGN §5). The RustCrypto crates (`spki`, `pkcs8`, `sec1`,
//! `scrypt`, `crypto_secretbox`) only decode key encodings and run the
//! key-file KDF and cipher.
//!
//! - [`PublicKey`]: a PKIX `PUBLIC KEY` (ECDSA P-256/P-384/P-521, Ed25519,
//!   RSA 2048-4096), parsed once, verified many times.
//! - [`SigningKey`]: the matching private key; [`SigningKey::import_pem`]
//!   reads unencrypted PKCS#8, SEC1 and PKCS#1 PEMs.
//! - [`encrypt`] / [`decrypt`]: cosign's `ENCRYPTED SIGSTORE PRIVATE KEY`
//!   file (scrypt + NaCl secretbox over PKCS#8 DER).
//!
//! Secrets never reach `Debug` or `Display`: the error types carry only
//! static descriptions, parameter values and public-key fingerprints.

use std::fmt;

mod encrypted;
mod import;
mod pem;
mod public;
mod signing;

#[cfg(test)]
mod interop_tests;

pub use encrypted::{decrypt, encrypt, is_encrypted_pem};
pub use public::PublicKey;
pub use signing::SigningKey;

/// The kind of a key, as far as verification cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256; signatures over SHA-256 (cosign's default).
    EcdsaP256,
    /// ECDSA on NIST P-384; signatures over SHA-384.
    EcdsaP384,
    /// ECDSA on NIST P-521; signatures over SHA-512.
    EcdsaP521,
    /// Ed25519 (pure, the message is not pre-hashed).
    Ed25519,
    /// RSA with a modulus of `bits` bits; signatures over SHA-256.
    Rsa {
        /// Modulus size in bits (2048 to 4096).
        bits: u32,
    },
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::EcdsaP256 => f.write_str("ECDSA P-256"),
            KeyAlgorithm::EcdsaP384 => f.write_str("ECDSA P-384"),
            KeyAlgorithm::EcdsaP521 => f.write_str("ECDSA P-521"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
        }
    }
}

/// Smallest RSA modulus sigil accepts, in bits.
pub const RSA_MIN_BITS: u32 = 2048;
/// Largest RSA modulus sigil accepts, in bits (bigger keys only cost time).
pub const RSA_MAX_BITS: u32 = 4096;

/// Why a key (public, private or encrypted key file) could not be used.
///
/// No variant holds a password or private key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file's password did not open it (or the file was altered).
    #[error("wrong password for the encrypted key (set SIGIL_PASSWORD or COSIGN_PASSWORD)")]
    WrongPassword,

    /// The key file asks for scrypt parameters cosign never writes. Running
    /// scrypt with an attacker's `N` would be a denial of service, so these
    /// are refused before any work.
    #[error(
        "refusing key file: scrypt parameters N={n} r={r} p={p} are not cosign's \
         (N 32768, 65536 or 131072 with r=8 p=1)"
    )]
    UnsafeKdfParameters {
        /// The file's scrypt cost `N`.
        n: u64,
        /// The file's scrypt block size `r`.
        r: u64,
        /// The file's scrypt parallelism `p`.
        p: u64,
    },

    /// The key file names a key derivation function other than scrypt.
    #[error("refusing key file: key derivation function {name:?} is not cosign's \"scrypt\"")]
    UnsupportedKdf {
        /// The `kdf.name` found in the file.
        name: String,
    },

    /// The key file names a cipher other than NaCl secretbox.
    #[error("refusing key file: cipher {name:?} is not cosign's \"nacl/secretbox\"")]
    UnsupportedCipher {
        /// The `cipher.name` found in the file.
        name: String,
    },

    /// A salt or nonce in the key file has the wrong length.
    #[error("refusing key file: the {what} is {found} bytes, cosign uses {expected}")]
    BadParameterLength {
        /// `"scrypt salt"` or `"secretbox nonce"`.
        what: &'static str,
        /// The length cosign writes.
        expected: usize,
        /// The length found.
        found: usize,
    },

    /// A PEM block has a label this operation does not read.
    #[error("expected a PEM block labelled {expected}, found {found:?}")]
    UnexpectedPemLabel {
        /// What the operation reads.
        expected: &'static str,
        /// The label found.
        found: String,
    },

    /// An unencrypted key was expected, but this is a cosign encrypted key
    /// file: open it with [`decrypt`] and its password.
    #[error("the {label} is an encrypted cosign key file: open it with its password")]
    Encrypted {
        /// The PEM label of the encrypted key.
        label: String,
    },

    /// The key is encrypted in an OpenSSL format sigil does not read.
    #[error(
        "the {label} is encrypted by OpenSSL, which sigil does not read: \
         decrypt it first (openssl pkey -in KEY -out PLAIN.pem) and import that"
    )]
    ForeignEncryption {
        /// The PEM label of the encrypted key.
        label: String,
    },

    /// A well-formed key of a kind sigil does not use.
    #[error("unsupported key: {what} (sigil uses ECDSA P-256/P-384/P-521, Ed25519 and RSA 2048-4096)")]
    UnsupportedKey {
        /// What the key is, e.g. `"RSA-1024"` or an algorithm OID.
        what: String,
    },

    /// The input is not a well-formed key of the expected encoding.
    #[error("malformed key: {what}")]
    Malformed {
        /// Which part is malformed. Never contains key material.
        what: &'static str,
    },

    /// aws-lc rejected the key (inconsistent or invalid components).
    #[error("key rejected by the crypto backend: {reason}")]
    Rejected {
        /// aws-lc-rs's static description of the problem.
        reason: &'static str,
    },

    /// The crypto backend or the system random source failed.
    #[error("cryptographic operation failed: {operation}")]
    Crypto {
        /// What was being done, e.g. `"ECDSA signing"`.
        operation: &'static str,
    },
}

impl From<aws_lc_rs::error::KeyRejected> for KeyError {
    fn from(e: aws_lc_rs::error::KeyRejected) -> Self {
        KeyError::Rejected {
            reason: e.description_(),
        }
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature is empty.
    #[error("empty signature for {algorithm} key sha256:{fingerprint}")]
    Empty {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// Hex SHA-256 of the key's SPKI DER.
        fingerprint: String,
    },
    /// The signature does not match the message under this key (wrong key,
    /// altered message or altered signature).
    #[error(
        "signature does not verify with {algorithm} key sha256:{fingerprint} \
         (wrong key, or the signed content was altered)"
    )]
    Invalid {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// Hex SHA-256 of the key's SPKI DER.
        fingerprint: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PublicKey>();
        assert_send_sync::<SigningKey>();
        assert_send_sync::<KeyError>();
        assert_send_sync::<SignatureError>();
    }

    #[test]
    fn algorithm_display_names() {
        assert_eq!(KeyAlgorithm::EcdsaP256.to_string(), "ECDSA P-256");
        assert_eq!(KeyAlgorithm::EcdsaP521.to_string(), "ECDSA P-521");
        assert_eq!(KeyAlgorithm::Ed25519.to_string(), "Ed25519");
        assert_eq!(KeyAlgorithm::Rsa { bits: 3072 }.to_string(), "RSA-3072");
    }

    #[test]
    fn error_messages_are_lower_case_and_say_what_to_do() {
        let wrong = KeyError::WrongPassword.to_string();
        assert!(wrong.contains("SIGIL_PASSWORD") && wrong.contains("COSIGN_PASSWORD"));
        let unsafe_kdf = KeyError::UnsafeKdfParameters { n: 1 << 20, r: 8, p: 1 }.to_string();
        assert_eq!(
            unsafe_kdf,
            "refusing key file: scrypt parameters N=1048576 r=8 p=1 are not cosign's \
             (N 32768, 65536 or 131072 with r=8 p=1)"
        );
        for e in [
            KeyError::WrongPassword,
            KeyError::Malformed { what: "x" },
            KeyError::UnsupportedKey {
                what: "RSA-1024".into(),
            },
            KeyError::UnsupportedKdf { name: "argon2".into() },
        ] {
            let text = e.to_string();
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }
}
