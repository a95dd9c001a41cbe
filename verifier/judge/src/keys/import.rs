//! Importing unencrypted private key PEMs made by other tools (OpenSSL,
//! cloud KMS exports), as `cosign import-key-pair` does.
//!
//! Three encodings are read: PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`,
//! optionally preceded by the `EC PARAMETERS` block `openssl ecparam -genkey`
//! writes) and PKCS#1 (`RSA PRIVATE KEY`). Whatever comes in is kept as
//! PKCS#8, the form cosign encrypts. Encrypted inputs are refused with advice
//! rather than misread.

use super::{KeyError, SigningKey, pem};

const EXPECTED_LABELS: &str = "PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY";

impl SigningKey {
    /// Imports an unencrypted private key PEM: `PRIVATE KEY` (PKCS#8),
    /// `EC PRIVATE KEY` (SEC1) or `RSA PRIVATE KEY` (PKCS#1).
    ///
    /// A cosign encrypted key file gives [`KeyError::Encrypted`] (open it with
    /// [`crate::keys::decrypt`]); an OpenSSL-encrypted key gives
    /// [`KeyError::ForeignEncryption`].
    pub fn import_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let mut blocks = pem::parse_blocks(pem)?;
        // `openssl ecparam -genkey` writes the curve in its own block first;
        // the SEC1 key names the curve again, so that block adds nothing.
        if blocks.len() == 2 && blocks[0].label == "EC PARAMETERS" && blocks[1].label == "EC PRIVATE KEY" {
            blocks.remove(0);
        }
        let block = match blocks.pop() {
            Some(block) if blocks.is_empty() => block,
            _ => {
                return Err(KeyError::Malformed {
                    what: "expected exactly one private key PEM block",
                });
            }
        };
        let label = block.label.as_str();
        if block.has_headers {
            // RFC 1421 `Proc-Type: 4,ENCRYPTED` / `DEK-Info:` headers are how
            // OpenSSL's traditional formats mark encryption.
            return Err(KeyError::ForeignEncryption {
                label: block.label.clone(),
            });
        }
        match label {
            "PRIVATE KEY" => SigningKey::from_pkcs8_der(&block.der),
            "EC PRIVATE KEY" => SigningKey::from_sec1_der(&block.der),
            "RSA PRIVATE KEY" => SigningKey::from_pkcs1_der(&block.der),
            "ENCRYPTED SIGSTORE PRIVATE KEY" | "ENCRYPTED COSIGN PRIVATE KEY" => Err(KeyError::Encrypted {
                label: block.label.clone(),
            }),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::ForeignEncryption {
                label: block.label.clone(),
            }),
            _ => Err(KeyError::UnexpectedPemLabel {
                expected: EXPECTED_LABELS,
                found: block.label.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlgorithm, PublicKey};

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/keys/",
                $name
            ))
        };
    }
    macro_rules! fixture_bytes {
        ($name:literal) => {
            include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../testdata/keys/",
                $name
            ))
        };
    }

    const MESSAGE: &[u8] = fixture_bytes!("message.txt");

    /// (private key PEM, its public key PEM, algorithm)
    fn importable() -> Vec<(&'static str, &'static str, &'static str, KeyAlgorithm)> {
        vec![
            (
                "p256-pkcs8",
                fixture!("p256-pkcs8.pem"),
                fixture!("p256-pub.pem"),
                KeyAlgorithm::EcdsaP256,
            ),
            (
                "p256-sec1",
                fixture!("p256-sec1.pem"),
                fixture!("p256-pub.pem"),
                KeyAlgorithm::EcdsaP256,
            ),
            (
                "p384-pkcs8",
                fixture!("p384-pkcs8.pem"),
                fixture!("p384-pub.pem"),
                KeyAlgorithm::EcdsaP384,
            ),
            (
                "p384-sec1",
                fixture!("p384-sec1.pem"),
                fixture!("p384-pub.pem"),
                KeyAlgorithm::EcdsaP384,
            ),
            (
                "p521-pkcs8",
                fixture!("p521-pkcs8.pem"),
                fixture!("p521-pub.pem"),
                KeyAlgorithm::EcdsaP521,
            ),
            (
                "ed25519-pkcs8",
                fixture!("ed25519-pkcs8.pem"),
                fixture!("ed25519-pub.pem"),
                KeyAlgorithm::Ed25519,
            ),
            (
                "rsa2048-pkcs8",
                fixture!("rsa2048-pkcs8.pem"),
                fixture!("rsa2048-pub.pem"),
                KeyAlgorithm::Rsa { bits: 2048 },
            ),
            (
                "rsa2048-pkcs1",
                fixture!("rsa2048-pkcs1.pem"),
                fixture!("rsa2048-pub.pem"),
                KeyAlgorithm::Rsa { bits: 2048 },
            ),
        ]
    }

    #[test]
    fn imported_keys_sign_and_verify_with_tampered_twins() {
        let wrong_key = SigningKey::generate().expect("generate").public_key();
        for (name, private_pem, public_pem, algorithm) in importable() {
            let key = SigningKey::import_pem(private_pem).unwrap_or_else(|e| panic!("{name}: {e}"));
            let public = PublicKey::from_pem(public_pem).expect("fixture public key");
            assert_eq!(key.public_key(), public, "{name}: public key matches openssl's");
            assert_eq!(key.algorithm(), algorithm, "{name}");

            let signature = key.sign(MESSAGE).expect("sign");
            public
                .verify(MESSAGE, &signature)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut flipped = signature.clone();
            let middle = flipped.len() / 2;
            flipped[middle] ^= 0x80;
            assert!(
                public.verify(MESSAGE, &flipped).is_err(),
                "{name}: flipped signature byte"
            );
            assert!(
                public.verify(b"other message", &signature).is_err(),
                "{name}: other message"
            );
            assert!(
                matches!(
                    wrong_key.verify(MESSAGE, &signature),
                    Err(crate::keys::SignatureError::Invalid { .. })
                ),
                "{name}: wrong key"
            );
        }
    }

    #[test]
    fn every_encoding_of_a_key_becomes_the_same_pkcs8() {
        let pairs = [
            (fixture!("p256-pkcs8.pem"), fixture!("p256-sec1.pem")),
            (fixture!("p384-pkcs8.pem"), fixture!("p384-sec1.pem")),
            (fixture!("rsa2048-pkcs8.pem"), fixture!("rsa2048-pkcs1.pem")),
        ];
        for (pkcs8, other) in pairs {
            let a = SigningKey::import_pem(pkcs8).expect("pkcs8");
            let b = SigningKey::import_pem(other).expect("sec1/pkcs1");
            assert_eq!(*a.to_pkcs8_der(), *b.to_pkcs8_der());
            let again = SigningKey::from_pkcs8_der(&a.to_pkcs8_der()).expect("re-read");
            assert_eq!(again.public_key(), a.public_key());
        }
    }

    #[test]
    fn deterministic_schemes_reproduce_openssl_signatures() {
        // RSA PKCS#1 v1.5 and Ed25519 are deterministic, so sigil's signature
        // must equal the one the openssl CLI made, byte for byte.
        let rsa = SigningKey::import_pem(fixture!("rsa2048-pkcs1.pem")).expect("rsa");
        assert_eq!(
            rsa.sign(MESSAGE).expect("sign"),
            fixture_bytes!("rsa2048-pkcs1v15-openssl.sig")
        );
        let ed = SigningKey::import_pem(fixture!("ed25519-pkcs8.pem")).expect("ed25519");
        assert_eq!(ed.sign(MESSAGE).expect("sign"), fixture_bytes!("ed25519-openssl.sig"));
    }

    #[test]
    fn ecparam_genkey_output_with_parameters_block() {
        let key = SigningKey::import_pem(fixture!("p256-sec1-with-params.pem")).expect("import");
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
        // The parameters block alone, or twice, is not a key.
        let text = fixture!("p256-sec1-with-params.pem");
        let params_only = &text[..text.find("-----BEGIN EC PRIVATE KEY").expect("two blocks")];
        assert!(matches!(
            SigningKey::import_pem(params_only),
            Err(KeyError::UnexpectedPemLabel { .. })
        ));
        let doubled = format!("{params_only}{text}");
        assert!(matches!(
            SigningKey::import_pem(&doubled),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn dsse_private_key_signs_what_the_public_key_verifies() {
        macro_rules! dsse {
            ($name:literal) => {
                include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../testdata/dsse/",
                    $name
                ))
            };
        }
        let key = SigningKey::import_pem(dsse!("private_key.pem")).expect("dsse private key");
        let public = PublicKey::from_pem(dsse!("public_key.pem")).expect("dsse public key");
        assert_eq!(key.public_key(), public);
        let pae = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dsse/pae.bin"));
        // aws-lc ECDSA is randomised, so only sign+verify is checked, not the KAT bytes.
        let signature = key.sign(pae).expect("sign");
        public.verify(pae, &signature).expect("verifies");
        assert!(
            public
                .verify(b"DSSEv1 29 http://example.com/HelloWorld 11 hello worle", &signature)
                .is_err()
        );
    }

    #[test]
    fn refuses_keys_it_must_not_read() {
        let rsa1024 = SigningKey::import_pem(fixture!("rsa1024-pkcs8.pem"));
        assert!(
            matches!(rsa1024, Err(KeyError::UnsupportedKey { ref what }) if what == "RSA-1024"),
            "{rsa1024:?}"
        );
        let k1 = SigningKey::import_pem(fixture!("secp256k1-pkcs8.pem"));
        assert!(
            matches!(k1, Err(KeyError::UnsupportedKey { ref what }) if what.contains("1.3.132.0.10")),
            "{k1:?}"
        );
        let pss = SigningKey::import_pem(fixture!("rsapss2048-pkcs8.pem"));
        assert!(
            matches!(pss, Err(KeyError::UnsupportedKey { ref what }) if what.contains("id-RSASSA-PSS")),
            "{pss:?}"
        );
        let public = SigningKey::import_pem(fixture!("p256-pub.pem"));
        assert!(matches!(public, Err(KeyError::UnexpectedPemLabel { ref found, .. }) if found == "PUBLIC KEY"));
        let cosign = SigningKey::import_pem(fixture!("cosign-generated-empty-password.key"));
        assert!(matches!(cosign, Err(KeyError::Encrypted { .. })), "{cosign:?}");
        for text in [
            fixture!("p256-pkcs8-openssl-encrypted.pem"),
            fixture!("p256-sec1-openssl-encrypted.pem"),
        ] {
            let result = SigningKey::import_pem(text);
            assert!(matches!(result, Err(KeyError::ForeignEncryption { .. })), "{result:?}");
        }
        // Tampered twins of a good key: a flipped private scalar byte no
        // longer matches the embedded public key.
        let good = SigningKey::import_pem(fixture!("p256-sec1.pem")).expect("good");
        let mut der = good.to_pkcs8_der().to_vec();
        let scalar_byte = 40;
        der[scalar_byte] ^= 1;
        let r = SigningKey::from_pkcs8_der(&der);
        assert!(matches!(r, Err(KeyError::Rejected { .. })), "{:?}", r.err());
        assert!(matches!(
            SigningKey::import_pem("not a pem"),
            Err(KeyError::Malformed { .. })
        ));
    }
}
