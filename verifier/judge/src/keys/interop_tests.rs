//! Interoperability with an independent implementation of cosign's key
//! formats: sigstore-rs (`sigstore` crate, built with its aws-lc-rs backend,
//! no OpenSSL).
//!
//! Both directions are exercised for every key type cosign can hold in an
//! encrypted key file: sigil encrypts and sigstore-rs decrypts and signs;
//! sigstore-rs generates and encrypts and sigil decrypts and signs. Each
//! accepting case has a rejecting twin (wrong password, altered message).
//!
//! sigstore-rs shares the `crypto_secretbox` crate with sigil, so the
//! cosign-written fixture in `encrypted.rs` is what pins the box layout to
//! Go's NaCl; these tests pin the JSON, KDF and PKCS#8 handling.

use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, Signature, SigningScheme};

use super::{KeyAlgorithm, KeyError, PublicKey, SigningKey, decrypt, encrypt};

const MESSAGE: &[u8] = b"{\"critical\":{\"identity\":{\"docker-reference\":\"registry.example/app\"}}}";
const PASSWORD: &[u8] = b"interop password";

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/keys/", $name))
    };
}

fn scheme_for(algorithm: KeyAlgorithm) -> SigningScheme {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => SigningScheme::ECDSA_P256_SHA256_ASN1,
        KeyAlgorithm::EcdsaP384 => SigningScheme::ECDSA_P384_SHA384_ASN1,
        KeyAlgorithm::EcdsaP521 => SigningScheme::ECDSA_P521_SHA512_ASN1,
        KeyAlgorithm::Ed25519 => SigningScheme::ED25519,
        KeyAlgorithm::Rsa { bits } => SigningScheme::RSA_PKCS1_SHA256(bits as usize),
    }
}

#[test]
fn sigstore_rs_opens_what_sigil_encrypts() {
    let keys = [
        SigningKey::generate().expect("generate"),
        SigningKey::import_pem(fixture!("p384-pkcs8.pem")).expect("p384"),
        SigningKey::import_pem(fixture!("p521-pkcs8.pem")).expect("p521"),
        SigningKey::import_pem(fixture!("ed25519-pkcs8.pem")).expect("ed25519"),
        SigningKey::import_pem(fixture!("rsa2048-pkcs1.pem")).expect("rsa"),
    ];
    for key in keys {
        let algorithm = key.algorithm();
        let file = encrypt(&key, PASSWORD).expect("sigil encrypts");

        let theirs = SigStoreKeyPair::from_encrypted_pem(file.as_bytes(), PASSWORD)
            .unwrap_or_else(|e| panic!("{algorithm}: sigstore-rs cannot open sigil's key file: {e}"));
        assert!(
            SigStoreKeyPair::from_encrypted_pem(file.as_bytes(), b"wrong password").is_err(),
            "{algorithm}: sigstore-rs must refuse a wrong password too"
        );
        // Same key on both sides.
        let their_public = PublicKey::from_pem(&theirs.public_key_to_pem().expect("export")).expect("sigil parses");
        assert_eq!(their_public, key.public_key(), "{algorithm}");

        // sigstore-rs signs, sigil verifies (and refuses an altered message).
        let signer = theirs.to_sigstore_signer(&scheme_for(algorithm)).expect("signer");
        let signature = signer.sign(MESSAGE).expect("sigstore-rs signs");
        key.public_key()
            .verify(MESSAGE, &signature)
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert!(
            matches!(
                key.public_key().verify(b"altered", &signature),
                Err(crate::keys::SignatureError::Invalid { .. })
            ),
            "{algorithm}"
        );

        // sigil signs, sigstore-rs verifies through sigil's PEM export.
        let verifier = CosignVerificationKey::from_pem(key.public_key().to_pem().as_bytes(), &scheme_for(algorithm))
            .expect("sigstore-rs reads sigil's public key PEM");
        let ours = key.sign(MESSAGE).expect("sigil signs");
        verifier
            .verify_signature(Signature::Raw(&ours), MESSAGE)
            .unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        assert!(
            verifier.verify_signature(Signature::Raw(&ours), b"altered").is_err(),
            "{algorithm}"
        );
    }
}

#[test]
fn sigil_opens_what_sigstore_rs_encrypts() {
    let schemes = [
        SigningScheme::ECDSA_P256_SHA256_ASN1,
        SigningScheme::ECDSA_P384_SHA384_ASN1,
        SigningScheme::ED25519,
        SigningScheme::RSA_PKCS1_SHA256(2048),
        SigningScheme::RSA_PSS_SHA256(2048),
    ];
    for scheme in schemes {
        let signer = scheme.create_signer().expect("sigstore-rs generates");
        let file = signer
            .to_sigstore_keypair()
            .expect("keypair")
            .private_key_to_encrypted_pem(PASSWORD)
            .expect("export");

        let ours = decrypt(&file, PASSWORD).unwrap_or_else(|e| panic!("{scheme}: sigil cannot open: {e}"));
        assert!(
            matches!(decrypt(&file, b"wrong password"), Err(KeyError::WrongPassword)),
            "{scheme}"
        );

        // sigil signs, sigstore-rs verifies with the key it generated.
        let their_verifier = signer.to_verification_key().expect("verification key");
        let signature = ours.sign(MESSAGE).expect("sigil signs");
        if !matches!(scheme, SigningScheme::RSA_PSS_SHA256(_)) {
            // sigil signs RSA with PKCS#1 v1.5 (as cosign does), which a PSS verifier rightly refuses.
            their_verifier
                .verify_signature(Signature::Raw(&signature), MESSAGE)
                .unwrap_or_else(|e| panic!("{scheme}: sigstore-rs refuses sigil's signature: {e}"));
        }
        assert!(
            their_verifier
                .verify_signature(Signature::Raw(&signature), b"altered")
                .is_err(),
            "{scheme}"
        );

        // sigstore-rs signs (PSS included), sigil verifies with the public key sigstore-rs exported.
        let public = PublicKey::from_pem(
            &signer
                .to_sigstore_keypair()
                .expect("keypair")
                .public_key_to_pem()
                .expect("pem"),
        )
        .expect("sigil parses sigstore-rs's public key");
        assert_eq!(public, ours.public_key(), "{scheme}");
        let theirs = signer.sign(MESSAGE).expect("sigstore-rs signs");
        public
            .verify(MESSAGE, &theirs)
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        public
            .verify(MESSAGE, &signature)
            .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert!(
            matches!(
                public.verify(b"altered", &theirs),
                Err(crate::keys::SignatureError::Invalid { .. })
            ),
            "{scheme}"
        );
    }
}
