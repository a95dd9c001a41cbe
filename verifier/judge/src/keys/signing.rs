//! Private keys that sign: ECDSA (P-256 by default), Ed25519 and RSA, held by
//! aws-lc-rs.
//!
//! A [`SigningKey`] keeps its PKCS#8 v1 encoding (zeroized on drop) next to
//! the aws-lc key pair, so exporting it for the encrypted key file cannot fail
//! later. Signatures use the encodings cosign writes: ASN.1 DER for ECDSA,
//! PKCS#1 v1.5 with SHA-256 for RSA, pure Ed25519.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, KeyPair as _, RsaKeyPair,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use der::Decode as _;
use zeroize::Zeroizing;

use super::public::{check_rsa_bits, oid_name};
use super::{KeyAlgorithm, KeyError, PublicKey};

/// A private key that signs, with its public key.
///
/// `Debug` shows the algorithm and the public key's fingerprint only.
pub struct SigningKey {
    pair: Pair,
    public: PublicKey,
    pkcs8: Zeroizing<Vec<u8>>,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl SigningKey {
    /// Generates a new ECDSA P-256 key, cosign's default.
    pub fn generate() -> Result<SigningKey, KeyError> {
        let pair = EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_ASN1_SIGNING).map_err(|_| KeyError::Crypto {
            operation: "ECDSA P-256 key generation",
        })?;
        SigningKey::from_pair(Pair::Ecdsa(pair))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }

    /// Signs `message` the way cosign does: ECDSA as ASN.1 DER over SHA-256
    /// (P-256), SHA-384 (P-384) or SHA-512 (P-521); RSA PKCS#1 v1.5 over
    /// SHA-256; Ed25519 pure.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.sign_parts(&[message])
    }

    /// [`SigningKey::sign`] over the concatenation of `parts`, without
    /// joining them: ECDSA and RSA hash the parts as they come (a DSSE PAE
    /// around a 100 MB SBOM is never built). Ed25519 signs the message
    /// itself, so its parts are joined.
    pub fn sign_parts(&self, parts: &[&[u8]]) -> Result<Vec<u8>, KeyError> {
        use aws_lc_rs::digest;
        let hash = |algorithm: &'static digest::Algorithm| {
            let mut context = digest::Context::new(algorithm);
            for part in parts {
                context.update(part);
            }
            context.finish()
        };
        match &self.pair {
            Pair::Ecdsa(pair) => {
                let algorithm = match self.algorithm() {
                    KeyAlgorithm::EcdsaP384 => &digest::SHA384,
                    KeyAlgorithm::EcdsaP521 => &digest::SHA512,
                    _ => &digest::SHA256,
                };
                pair.sign_digest(&hash(algorithm))
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| KeyError::Crypto {
                        operation: "ECDSA signing",
                    })
            }
            Pair::Ed25519(pair) => pair
                .try_sign(&parts.concat())
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto {
                    operation: "Ed25519 signing",
                }),
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign_digest(&sig::RSA_PKCS1_SHA256, &hash(&digest::SHA256), &mut signature)
                    .map_err(|_| KeyError::Crypto {
                        operation: "RSA signing",
                    })?;
                Ok(signature)
            }
        }
    }

    /// The private key as unencrypted PKCS#8 v1 DER (what cosign encrypts).
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// Reads an unencrypted PKCS#8 (`PrivateKeyInfo`, v1 or v2) DER private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        let info = pkcs8::PrivateKeyInfo::try_from(der).map_err(|_| KeyError::Malformed {
            what: "private key is not DER PKCS#8",
        })?;
        let oid = info.algorithm.oid;
        let pair = if oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve = info.algorithm.parameters_oid().map_err(|_| KeyError::Malformed {
                what: "EC private key without a named curve",
            })?;
            Pair::Ecdsa(EcdsaKeyPair::from_pkcs8(ecdsa_signing_algorithm(curve)?, der)?)
        } else if oid == rfc8410::ID_ED_25519 {
            Pair::Ed25519(Ed25519KeyPair::from_pkcs8(der)?)
        } else if oid == rfc5912::RSA_ENCRYPTION {
            check_rsa_bits(rsa_private_bits(info.private_key)?)?;
            Pair::Rsa(RsaKeyPair::from_pkcs8(der)?)
        } else {
            return Err(KeyError::UnsupportedKey {
                what: format!("private key algorithm {}", oid_name(oid)),
            });
        };
        SigningKey::from_pair(pair)
    }

    /// Reads a SEC1 `ECPrivateKey` DER (PEM label `EC PRIVATE KEY`). The curve
    /// must be named in the key's parameters, as OpenSSL writes it.
    pub(crate) fn from_sec1_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        let key = sec1::EcPrivateKey::from_der(der).map_err(|_| KeyError::Malformed {
            what: "EC private key is not DER SEC1",
        })?;
        let curve = key
            .parameters
            .and_then(|p| p.named_curve())
            .ok_or(KeyError::Malformed {
                what: "EC private key without a named curve",
            })?;
        let pair = EcdsaKeyPair::from_private_key_der(ecdsa_signing_algorithm(curve)?, der)?;
        SigningKey::from_pair(Pair::Ecdsa(pair))
    }

    /// Reads a PKCS#1 `RSAPrivateKey` DER (PEM label `RSA PRIVATE KEY`).
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<SigningKey, KeyError> {
        check_rsa_bits(rsa_private_bits(der)?)?;
        SigningKey::from_pair(Pair::Rsa(RsaKeyPair::from_der(der)?))
    }

    /// Derives the public key and the PKCS#8 export once, so neither can fail
    /// afterwards. The public key goes through [`PublicKey::from_der`], which
    /// applies the same algorithm and size rules as verification.
    fn from_pair(pair: Pair) -> Result<SigningKey, KeyError> {
        let export_failed = |_| KeyError::Crypto {
            operation: "exporting the key",
        };
        let (spki, pkcs8) = match &pair {
            Pair::Ecdsa(p) => (
                p.public_key().as_der().map_err(export_failed)?.as_ref().to_vec(),
                Zeroizing::new(p.to_pkcs8v1().map_err(export_failed)?.as_ref().to_vec()),
            ),
            Pair::Ed25519(p) => (
                p.public_key().as_der().map_err(export_failed)?.as_ref().to_vec(),
                Zeroizing::new(p.to_pkcs8v1().map_err(export_failed)?.as_ref().to_vec()),
            ),
            Pair::Rsa(p) => {
                let pkcs8: aws_lc_rs::encoding::Pkcs8V1Der<'static> = p.as_der().map_err(export_failed)?;
                (
                    p.public_key().as_der().map_err(export_failed)?.as_ref().to_vec(),
                    Zeroizing::new(pkcs8.as_ref().to_vec()),
                )
            }
        };
        let public = PublicKey::from_der(&spki)?;
        Ok(SigningKey { pair, public, pkcs8 })
    }
}

fn ecdsa_signing_algorithm(curve: ObjectIdentifier) -> Result<&'static EcdsaSigningAlgorithm, KeyError> {
    if curve == rfc5912::SECP_256_R_1 {
        Ok(&sig::ECDSA_P256_SHA256_ASN1_SIGNING)
    } else if curve == rfc5912::SECP_384_R_1 {
        Ok(&sig::ECDSA_P384_SHA384_ASN1_SIGNING)
    } else if curve == rfc5912::SECP_521_R_1 {
        Ok(&sig::ECDSA_P521_SHA512_ASN1_SIGNING)
    } else {
        Err(KeyError::UnsupportedKey {
            what: format!("elliptic curve {}", oid_name(curve)),
        })
    }
}

/// The modulus size of a PKCS#1 `RSAPrivateKey`, read before aws-lc sees the
/// key so that a too-small or too-large key gets a clear error.
fn rsa_private_bits(pkcs1_der: &[u8]) -> Result<u32, KeyError> {
    let key = pkcs1::RsaPrivateKey::from_der(pkcs1_der).map_err(|_| KeyError::Malformed {
        what: "RSA private key is not DER PKCS#1",
    })?;
    // `UintRef::as_bytes` has no leading zero bytes.
    let modulus = key.modulus.as_bytes();
    let first = modulus.first().ok_or(KeyError::Malformed {
        what: "RSA private key has an empty modulus",
    })?;
    let bits = u32::try_from(modulus.len())
        .ok()
        .and_then(|len| len.checked_mul(8))
        .and_then(|bits| bits.checked_sub(first.leading_zeros()))
        .ok_or(KeyError::Malformed {
            what: "RSA private key modulus is too large",
        })?;
    Ok(bits)
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.public.algorithm())
            .field("public_key_fingerprint", &self.public.fingerprint())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SignatureError;

    #[test]
    fn generate_sign_verify_with_tampered_twins() {
        let key = SigningKey::generate().expect("generate");
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
        let public = key.public_key();
        let signature = key.sign(b"payload").expect("sign");
        // cosign's encoding: an ASN.1 DER SEQUENCE.
        assert_eq!(signature[0], 0x30);
        public.verify(b"payload", &signature).expect("verifies");

        let mut flipped = signature.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            public.verify(b"payload", &flipped),
            Err(SignatureError::Invalid { .. })
        ));
        assert!(matches!(
            public.verify(b"payloae", &signature),
            Err(crate::keys::SignatureError::Invalid { .. })
        ));
        let other = SigningKey::generate().expect("generate");
        assert_ne!(other.public_key(), public);
        assert!(matches!(
            other.public_key().verify(b"payload", &signature),
            Err(crate::keys::SignatureError::Invalid { .. })
        ));
    }

    #[test]
    fn pkcs8_round_trip_keeps_the_key() {
        let key = SigningKey::generate().expect("generate");
        let der = key.to_pkcs8_der();
        let again = SigningKey::from_pkcs8_der(&der).expect("re-read");
        assert_eq!(again.public_key(), key.public_key());
        assert_eq!(*again.to_pkcs8_der(), *der);
        let signature = again.sign(b"m").expect("sign");
        key.public_key().verify(b"m", &signature).expect("same key");
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SigningKey::generate().expect("generate");
        let debug = format!("{key:?}");
        assert!(debug.starts_with("SigningKey {"), "{debug}");
        assert!(debug.contains(&key.public_key().fingerprint()));
        let secret_hex = hex::encode(&*key.to_pkcs8_der());
        // No 8-byte window of the PKCS#8 document, in hex, appears in the output.
        for start in (0..secret_hex.len() - 16).step_by(2) {
            assert!(!debug.contains(&secret_hex[start..start + 16]), "{debug}");
        }
        assert!(!debug.contains('['), "no byte arrays: {debug}");
    }

    #[test]
    fn from_pkcs8_der_rejects_garbage_and_truncation() {
        let key = SigningKey::generate().expect("generate");
        let der = key.to_pkcs8_der();
        assert!(matches!(
            SigningKey::from_pkcs8_der(b"not der"),
            Err(KeyError::Malformed { .. })
        ));
        assert!(matches!(
            SigningKey::from_pkcs8_der(&der[..der.len() - 1]),
            Err(KeyError::Malformed { .. })
        ));
        // The SPKI of a public key is not a private key.
        let r = SigningKey::from_pkcs8_der(key.public_key().spki_der());
        assert!(matches!(r, Err(KeyError::Malformed { .. })), "{:?}", r.err());
    }
}
