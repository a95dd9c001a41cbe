//! Public keys: parsed once from PKIX SubjectPublicKeyInfo, then used to
//! verify signatures with aws-lc-rs the way cosign does.
//!
//! The SPKI is decoded with the `spki` crate so that the algorithm and curve
//! are decided here, strictly (Go's `x509.ParsePKIXPublicKey` rules: RSA
//! parameters must be NULL, Ed25519 has none, EC points are uncompressed).
//! Only the bare key bytes go to aws-lc-rs, which parses them once
//! ([`ParsedPublicKey`]) so a verification costs one signature check.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{
    self as sig, ParsedPublicKey, RsaParameters, RsaPssSaltLength, UnparsedPublicKey, VerificationAlgorithm,
};
use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use der::Decode as _;
use der::asn1::AnyRef;
use spki::SubjectPublicKeyInfoRef;

use super::{KeyAlgorithm, KeyError, RSA_MAX_BITS, RSA_MIN_BITS, SignatureError, pem};

/// RSA-PSS as Go's `rsa.SignPSS` writes it with `PSSSaltLengthAuto`: the
/// longest salt that fits. (`RSA_PSS_2048_8192_SHA256` expects a 32-byte salt.)
const RSA_PSS_SHA256_MAX_SALT: RsaParameters =
    sig::RSA_PSS_2048_8192_SHA256.with_pss_salt_length(RsaPssSaltLength::Max);

/// A public key that verifies signatures.
///
/// Equality and hashing are by SPKI DER.
#[derive(Clone)]
pub struct PublicKey {
    spki_der: Box<[u8]>,
    algorithm: KeyAlgorithm,
    fingerprint: String,
    verifier: Verifier,
}

#[derive(Clone)]
enum Verifier {
    /// ASN.1 DER signatures (cosign), and fixed-width `r||s` as a fallback.
    Ecdsa {
        asn1: ParsedPublicKey,
        fixed: &'static dyn VerificationAlgorithm,
        point: Box<[u8]>,
        fixed_len: usize,
    },
    Ed25519(ParsedPublicKey),
    /// PKCS#1 v1.5 first (cosign's RSA signer), then PSS with either salt length.
    Rsa {
        pkcs1: ParsedPublicKey,
        rsa_public_key: Box<[u8]>,
    },
}

impl PublicKey {
    /// Parses a PKIX `PUBLIC KEY` PEM (one block; surrounding whitespace is
    /// fine).
    pub fn from_pem(pem: &str) -> Result<PublicKey, KeyError> {
        let block = pem::parse_single(pem)?;
        if block.label != "PUBLIC KEY" {
            return Err(KeyError::UnexpectedPemLabel {
                expected: "PUBLIC KEY",
                found: block.label.clone(),
            });
        }
        PublicKey::from_der(&block.der)
    }

    /// Parses a DER SubjectPublicKeyInfo.
    pub fn from_der(spki_der: &[u8]) -> Result<PublicKey, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| KeyError::Malformed {
            what: "public key is not a DER SubjectPublicKeyInfo",
        })?;
        let key = spki.subject_public_key.as_bytes().ok_or(KeyError::Malformed {
            what: "public key bit string has unused bits",
        })?;
        let oid = spki.algorithm.oid;
        let params = spki.algorithm.parameters;
        let (algorithm, verifier) = if oid == rfc5912::ID_EC_PUBLIC_KEY {
            let curve = named_curve(params)?;
            ecdsa_verifier(curve, key)?
        } else if oid == rfc8410::ID_ED_25519 {
            if params.is_some() {
                return Err(KeyError::Malformed {
                    what: "Ed25519 public key with algorithm parameters",
                });
            }
            if key.len() != 32 {
                return Err(KeyError::Malformed {
                    what: "Ed25519 public key is not 32 bytes",
                });
            }
            (
                KeyAlgorithm::Ed25519,
                Verifier::Ed25519(ParsedPublicKey::new(&sig::ED25519, key)?),
            )
        } else if oid == rfc5912::RSA_ENCRYPTION {
            if !params.is_some_and(AnyRef::is_null) {
                return Err(KeyError::Malformed {
                    what: "RSA public key without NULL algorithm parameters",
                });
            }
            let bits = RsaParameters::public_modulus_len(key).map_err(|_| KeyError::Malformed {
                what: "RSA public key is not a PKCS#1 RSAPublicKey",
            })?;
            check_rsa_bits(bits)?;
            let pkcs1 = ParsedPublicKey::new(&sig::RSA_PKCS1_2048_8192_SHA256, key)?;
            (
                KeyAlgorithm::Rsa { bits },
                Verifier::Rsa {
                    pkcs1,
                    rsa_public_key: key.into(),
                },
            )
        } else {
            return Err(KeyError::UnsupportedKey {
                what: format!("public key algorithm {}", oid_name(oid)),
            });
        };
        Ok(PublicKey {
            spki_der: spki_der.into(),
            algorithm,
            fingerprint: hex::encode(digest::digest(&digest::SHA256, spki_der)),
            verifier,
        })
    }

    /// The key as a PKIX `PUBLIC KEY` PEM, laid out as Go's `pem.Encode`
    /// writes it (what `cosign generate-key-pair` puts in `cosign.pub`).
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.spki_der)
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Hex SHA-256 of the SPKI DER, to name the key in reports.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }

    /// Verifies `signature` over `message` (the message is hashed here as
    /// cosign does: P-256 SHA-256, P-384 SHA-384, P-521 SHA-512, RSA SHA-256
    /// with PKCS#1 v1.5, falling back to PSS; Ed25519 pure).
    ///
    /// ECDSA signatures are accepted ASN.1 DER (what cosign writes) or
    /// fixed-width `r||s` (what the DSSE test vector uses).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.verify_parts(&[message], signature)
    }

    /// [`PublicKey::verify`] over the concatenation of `parts`, without
    /// joining them: ECDSA and RSA hash the parts as they come (a DSSE
    /// envelope of a 100 MB SBOM is verified without a second copy of it).
    /// Ed25519 signs the message itself, so its parts are joined.
    pub fn verify_parts(&self, parts: &[&[u8]], signature: &[u8]) -> Result<(), SignatureError> {
        if signature.is_empty() {
            return Err(SignatureError::Empty {
                algorithm: self.algorithm,
                fingerprint: self.fingerprint.clone(),
            });
        }
        let hash = |algorithm: &'static digest::Algorithm| {
            let mut context = digest::Context::new(algorithm);
            for part in parts {
                context.update(part);
            }
            context.finish()
        };
        let ok = match &self.verifier {
            Verifier::Ecdsa {
                asn1,
                fixed,
                point,
                fixed_len,
            } => {
                let digest = hash(match self.algorithm {
                    KeyAlgorithm::EcdsaP384 => &digest::SHA384,
                    KeyAlgorithm::EcdsaP521 => &digest::SHA512,
                    _ => &digest::SHA256,
                });
                asn1.verify_digest_sig(&digest, signature).is_ok()
                    || (signature.len() == *fixed_len
                        && UnparsedPublicKey::new(*fixed, point)
                            .verify_digest(&digest, signature)
                            .is_ok())
            }
            Verifier::Ed25519(key) => key.verify_sig(&parts.concat(), signature).is_ok(),
            Verifier::Rsa { pkcs1, rsa_public_key } => {
                let digest = hash(&digest::SHA256);
                pkcs1.verify_digest_sig(&digest, signature).is_ok()
                    || UnparsedPublicKey::new(&sig::RSA_PSS_2048_8192_SHA256, rsa_public_key)
                        .verify_digest(&digest, signature)
                        .is_ok()
                    || UnparsedPublicKey::new(&RSA_PSS_SHA256_MAX_SALT, rsa_public_key)
                        .verify_digest(&digest, signature)
                        .is_ok()
            }
        };
        if ok {
            Ok(())
        } else {
            Err(SignatureError::Invalid {
                algorithm: self.algorithm,
                fingerprint: self.fingerprint.clone(),
            })
        }
    }
}

fn named_curve(params: Option<AnyRef<'_>>) -> Result<ObjectIdentifier, KeyError> {
    params
        .and_then(|any| any.decode_as::<ObjectIdentifier>().ok())
        .ok_or(KeyError::Malformed {
            what: "EC public key without a named curve",
        })
}

fn ecdsa_verifier(curve: ObjectIdentifier, point: &[u8]) -> Result<(KeyAlgorithm, Verifier), KeyError> {
    let (algorithm, asn1, fixed, field_len): (
        _,
        &'static dyn VerificationAlgorithm,
        &'static dyn VerificationAlgorithm,
        _,
    ) = if curve == rfc5912::SECP_256_R_1 {
        (
            KeyAlgorithm::EcdsaP256,
            &sig::ECDSA_P256_SHA256_ASN1,
            &sig::ECDSA_P256_SHA256_FIXED,
            32,
        )
    } else if curve == rfc5912::SECP_384_R_1 {
        (
            KeyAlgorithm::EcdsaP384,
            &sig::ECDSA_P384_SHA384_ASN1,
            &sig::ECDSA_P384_SHA384_FIXED,
            48,
        )
    } else if curve == rfc5912::SECP_521_R_1 {
        (
            KeyAlgorithm::EcdsaP521,
            &sig::ECDSA_P521_SHA512_ASN1,
            &sig::ECDSA_P521_SHA512_FIXED,
            66,
        )
    } else {
        return Err(KeyError::UnsupportedKey {
            what: format!("elliptic curve {}", oid_name(curve)),
        });
    };
    // Go's x509 accepts only the uncompressed form; so does sigil.
    if point.len() != 1 + 2 * field_len || point.first() != Some(&0x04) {
        return Err(KeyError::Malformed {
            what: "EC public key is not an uncompressed point on its curve",
        });
    }
    let asn1 = ParsedPublicKey::new(asn1, point)?;
    Ok((
        algorithm,
        Verifier::Ecdsa {
            asn1,
            fixed,
            point: point.into(),
            fixed_len: 2 * field_len,
        },
    ))
}

pub(crate) fn check_rsa_bits(bits: u32) -> Result<(), KeyError> {
    if (RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(KeyError::UnsupportedKey {
            what: format!("RSA-{bits}"),
        })
    }
}

/// An OID with its registered name when there is one, e.g. `id-RSASSA-PSS (1.2.840.113549.1.1.10)`.
pub(crate) fn oid_name(oid: ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(&oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.spki_der.hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! keys_fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/keys/",
                $name
            ))
        };
    }
    macro_rules! dsse_fixture {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/dsse/",
                $name
            ))
        };
    }

    fn pem(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).expect("fixture is UTF-8")
    }

    fn flipped(bytes: &[u8], index: usize) -> Vec<u8> {
        let mut out = bytes.to_vec();
        out[index] ^= 0x01;
        out
    }

    const MESSAGE: &[u8] = keys_fixture!("message.txt");

    /// Signatures made by the `openssl` CLI (independent of aws-lc-rs's
    /// signing code), one per algorithm and padding.
    fn openssl_cases() -> Vec<(&'static str, &'static [u8], KeyAlgorithm)> {
        vec![
            (
                pem(keys_fixture!("p256-pub.pem")),
                keys_fixture!("p256-openssl.sig"),
                KeyAlgorithm::EcdsaP256,
            ),
            (
                pem(keys_fixture!("p384-pub.pem")),
                keys_fixture!("p384-openssl.sig"),
                KeyAlgorithm::EcdsaP384,
            ),
            (
                pem(keys_fixture!("p521-pub.pem")),
                keys_fixture!("p521-openssl.sig"),
                KeyAlgorithm::EcdsaP521,
            ),
            (
                pem(keys_fixture!("ed25519-pub.pem")),
                keys_fixture!("ed25519-openssl.sig"),
                KeyAlgorithm::Ed25519,
            ),
            (
                pem(keys_fixture!("rsa2048-pub.pem")),
                keys_fixture!("rsa2048-pkcs1v15-openssl.sig"),
                KeyAlgorithm::Rsa { bits: 2048 },
            ),
            (
                pem(keys_fixture!("rsa2048-pub.pem")),
                keys_fixture!("rsa2048-pss-digest-openssl.sig"),
                KeyAlgorithm::Rsa { bits: 2048 },
            ),
            (
                pem(keys_fixture!("rsa2048-pub.pem")),
                keys_fixture!("rsa2048-pss-max-openssl.sig"),
                KeyAlgorithm::Rsa { bits: 2048 },
            ),
        ]
    }

    #[test]
    fn openssl_signatures_verify_and_tampered_twins_fail() {
        let other_key = PublicKey::from_pem(pem(dsse_fixture!("public_key.pem"))).expect("dsse key");
        for (key_pem, signature, algorithm) in openssl_cases() {
            let key = PublicKey::from_pem(key_pem).expect("fixture key parses");
            assert_eq!(key.algorithm(), algorithm);
            key.verify(MESSAGE, signature)
                .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
            // Flip a byte early, in the middle and at the end of the signature.
            for index in [0, signature.len() / 2, signature.len() - 1] {
                assert!(matches!(
                    key.verify(MESSAGE, &flipped(signature, index)),
                    Err(SignatureError::Invalid { .. })
                ));
            }
            assert!(
                key.verify(b"another message", signature).is_err(),
                "{algorithm}: other message"
            );
            assert!(
                key.verify(&MESSAGE[..MESSAGE.len() - 1], signature).is_err(),
                "{algorithm}: truncated"
            );
            assert!(
                matches!(
                    other_key.verify(MESSAGE, signature),
                    Err(crate::keys::SignatureError::Invalid { .. })
                ),
                "{algorithm}: wrong key"
            );
            assert!(matches!(key.verify(MESSAGE, &[]), Err(SignatureError::Empty { .. })));
        }
    }

    #[test]
    fn pem_round_trip_is_byte_identical_to_openssl_output() {
        for name in [
            "p256-pub.pem",
            "p384-pub.pem",
            "p521-pub.pem",
            "ed25519-pub.pem",
            "rsa2048-pub.pem",
        ] {
            let text = crate::testdata::text(format!("keys/{name}"));
            let key = PublicKey::from_pem(&format!("\n  {text}\n\n")).expect("parses with surrounding whitespace");
            assert_eq!(key.to_pem(), text, "{name}");
            assert_eq!(PublicKey::from_der(key.spki_der()).expect("der"), key);
            assert_eq!(key.fingerprint().len(), 64);
        }
    }

    #[test]
    fn fingerprint_is_sha256_of_spki_der() {
        let key = PublicKey::from_pem(pem(dsse_fixture!("public_key.pem"))).expect("dsse key");
        let expected = hex::encode(digest::digest(&digest::SHA256, key.spki_der()));
        assert_eq!(key.fingerprint(), expected);
        let debug = format!("{key:?}");
        assert!(debug.contains(&expected) && debug.contains("EcdsaP256"), "{debug}");
    }

    #[test]
    fn dsse_known_answer_vector() {
        let key = PublicKey::from_pem(pem(dsse_fixture!("public_key.pem"))).expect("dsse key");
        let pae = dsse_fixture!("pae.bin");
        assert_eq!(pae, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world");
        let raw = dsse_fixture!("signature.raw");
        let der = dsse_fixture!("signature.der");
        assert_eq!((raw.len(), der.len()), (64, 70));
        key.verify(pae, raw).expect("raw r||s KAT signature verifies");
        key.verify(pae, der).expect("DER KAT signature verifies");
        for signature in [&raw[..], &der[..]] {
            for index in [0, signature.len() / 2, signature.len() - 1] {
                assert!(
                    key.verify(pae, &flipped(signature, index)).is_err(),
                    "flipped byte {index}"
                );
            }
            assert!(
                matches!(
                    key.verify(&flipped(pae, 7), signature),
                    Err(crate::keys::SignatureError::Invalid { .. })
                ),
                "altered PAE"
            );
        }
        // A raw signature one byte short is neither DER nor fixed-width.
        assert!(matches!(
            key.verify(pae, &raw[..63]),
            Err(crate::keys::SignatureError::Invalid { .. })
        ));
    }

    #[test]
    fn rejects_unsupported_and_malformed_public_keys() {
        let rsa1024 = PublicKey::from_pem(pem(keys_fixture!("rsa1024-pub.pem")));
        assert!(
            matches!(rsa1024, Err(KeyError::UnsupportedKey { ref what }) if what == "RSA-1024"),
            "{rsa1024:?}"
        );
        let k1 = PublicKey::from_pem(pem(keys_fixture!("secp256k1-pub.pem")));
        assert!(
            matches!(k1, Err(KeyError::UnsupportedKey { ref what }) if what.contains("1.3.132.0.10")),
            "{k1:?}"
        );
        let pss = PublicKey::from_pem(pem(keys_fixture!("rsapss2048-pub.pem")));
        assert!(
            matches!(pss, Err(KeyError::UnsupportedKey { ref what }) if what.contains("id-RSASSA-PSS (1.2.840.113549.1.1.10)")),
            "{pss:?}"
        );
        let private = PublicKey::from_pem(pem(keys_fixture!("p256-pkcs8.pem")));
        assert!(matches!(
            private,
            Err(KeyError::UnexpectedPemLabel {
                expected: "PUBLIC KEY",
                ..
            })
        ));

        let good = PublicKey::from_pem(pem(keys_fixture!("p256-pub.pem"))).expect("p256");
        let der = good.spki_der();
        // Trailing garbage after the SPKI.
        let mut trailing = der.to_vec();
        trailing.push(0);
        assert!(matches!(
            PublicKey::from_der(&trailing),
            Err(KeyError::Malformed { .. })
        ));
        // A point that is not on the curve (last byte of y flipped).
        let r = PublicKey::from_der(&flipped(der, der.len() - 1));
        assert!(matches!(r, Err(KeyError::Rejected { .. })), "{:?}", r.err());
        // Compressed-point marker.
        let point_start = der.len() - 65;
        let mut compressed = der.to_vec();
        compressed[point_start] = 0x02;
        assert!(matches!(
            PublicKey::from_der(&compressed),
            Err(KeyError::Malformed { .. })
        ));
        assert!(matches!(
            PublicKey::from_der(&der[..der.len() - 1]),
            Err(KeyError::Malformed { .. })
        ));
        let r = PublicKey::from_der(&[]);
        assert!(matches!(r, Err(KeyError::Malformed { .. })), "{:?}", r.err());
    }

    #[test]
    fn verification_algorithm_follows_the_key() {
        // A P-256 key must not accept a P-384 signature over the same message,
        // whatever its encoding length.
        let p256 = PublicKey::from_pem(pem(keys_fixture!("p256-pub.pem"))).expect("p256");
        assert!(matches!(
            p256.verify(MESSAGE, keys_fixture!("p384-openssl.sig")),
            Err(crate::keys::SignatureError::Invalid { .. })
        ));
        let rsa = PublicKey::from_pem(pem(keys_fixture!("rsa2048-pub.pem"))).expect("rsa");
        assert!(matches!(
            rsa.verify(MESSAGE, keys_fixture!("ed25519-openssl.sig")),
            Err(crate::keys::SignatureError::Invalid { .. })
        ));
    }
}
