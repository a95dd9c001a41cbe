//! Signing files: `sigil sign-blob` and `sigil attest-blob` make the
//! Sigstore bundles v0.3 that `cosign sign-blob`/`attest-blob
//! --new-bundle-format --key` make, for a file instead of an image. A
//! message signature over the file's digest, or a DSSE envelope around an
//! in-toto statement whose subject is the file; the key named by its hint,
//! and no transparency-log entry (sigil is offline-first; key-based
//! verification needs none, DESIGN §2).
//!
//! Pure: the caller reads the file and the key, and writes the bundle.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::bundle::Bundle;
use crate::digest::{Algorithm, Digest};
use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::intoto::Statement;
use crate::keys::{KeyAlgorithm, KeyError, PublicKey, SigningKey};

/// Why a file could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A key whose signatures Sigstore verifiers cannot check in a bundle.
    #[error(
        "{0} keys cannot sign Sigstore bundles: sigstore-rust, sigstore-python and cosign verify bundles signed with ECDSA P-256 or P-384, RSA or Ed25519 keys only; sign with one of those (`sigil key generate` makes P-256)"
    )]
    UnsupportedKey(KeyAlgorithm),
}

/// A signed file: its sha256 (what the reports name) and the bundle's JSON.
#[derive(Clone, Debug)]
pub struct SignedBlob {
    pub digest: Digest,
    pub bundle: Vec<u8>,
}

/// The bundle's key hint: base64 of the sha256 of the key's SPKI DER (what
/// `sigil sign --format bundle` writes; verifiers use the key they are given,
/// never the hint).
pub fn key_hint(key: &PublicKey) -> String {
    STANDARD.encode(Digest::sha256_of(key.spki_der()).raw())
}

/// The hash a key's signature over a message is made with, and so the
/// bundle's `messageDigest` algorithm: verifiers pair the two
/// (sigstore-rust resolves the signing scheme from the key and this
/// algorithm). Ed25519 signs the message itself; its digest is sha256.
fn message_hash(key: &SigningKey) -> Result<Algorithm, BlobError> {
    match key.algorithm() {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::Rsa { .. } | KeyAlgorithm::Ed25519 => Ok(Algorithm::Sha256),
        KeyAlgorithm::EcdsaP384 => Ok(Algorithm::Sha384),
        other @ KeyAlgorithm::EcdsaP521 => Err(BlobError::UnsupportedKey(other)),
    }
}

/// `cosign sign-blob`: a message-signature bundle over `blob`.
pub fn sign_blob(blob: &[u8], key: &SigningKey) -> Result<SignedBlob, BlobError> {
    let hash = message_hash(key)?;
    let signature = key.sign(blob)?;
    let bundle = Bundle::message_signed_json(&Digest::of(hash, blob), &signature, &key_hint(&key.public_key()));
    Ok(SignedBlob {
        digest: Digest::sha256_of(blob),
        bundle,
    })
}

/// `cosign attest-blob`: a DSSE bundle around an in-toto statement v1 whose
/// one subject is `name` with `digest` (sha256 of the file), of
/// `predicate_type`, with `predicate` (JSON already checked by
/// [`crate::predicate::encode`]) verbatim.
pub fn attest_blob(
    name: &str,
    digest: &Digest,
    predicate_type: &str,
    predicate: &[u8],
    key: &SigningKey,
) -> Result<SignedBlob, BlobError> {
    message_hash(key)?;
    let statement = Statement::encode_raw(name, digest, predicate_type, predicate);
    let head = crate::dsse::pae_head(IN_TOTO_PAYLOAD_TYPE, statement.len());
    let signature = key.sign_parts(&[head.as_bytes(), &statement])?;
    let bundle = Bundle::key_signed_json(
        IN_TOTO_PAYLOAD_TYPE,
        &statement,
        &signature,
        &key_hint(&key.public_key()),
    );
    Ok(SignedBlob {
        digest: digest.clone(),
        bundle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::BUNDLE_V03;
    use crate::sigstore::{Artifact, BundleRejection, BundleSigner, Signatory, SignedContent, TrustedRoot};
    use serde_json::Value;

    const NOW: time::OffsetDateTime = time::macros::datetime!(2026-06-01 0:00 UTC);

    fn verify(bundle: &[u8], artifact: Artifact<'_>, key: &PublicKey) -> Result<SignedContent, BundleRejection> {
        crate::sigstore::verify_bundle(
            bundle,
            artifact,
            &Signatory::key(key.clone()),
            TrustedRoot::public_good(),
            NOW,
        )
        .map(|v| v.into_inner().content)
    }

    fn key_from(pem: &str) -> SigningKey {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/keys")
            .join(pem);
        SigningKey::import_pem(&std::fs::read_to_string(path).expect("key")).expect("import")
    }

    #[test]
    fn sign_blob_writes_a_v03_message_signature_that_reads_back_and_verifies() {
        let key = SigningKey::generate().expect("key");
        let blob = b"release tarball bytes";
        let signed = sign_blob(blob, &key).expect("sign");
        assert_eq!(signed.digest, Digest::sha256_of(blob));
        let parsed = Bundle::parse(&signed.bundle).expect("sigil reads it");
        assert_eq!(parsed.media_type, BUNDLE_V03);
        assert!(parsed.dsse_envelope.is_none());
        assert!(parsed.verification_material.tlog_entries.is_empty());
        assert_eq!(
            parsed.verification_material.public_key.map(|k| k.hint),
            Some(key_hint(&key.public_key()))
        );
        let message = parsed.message_signature.expect("message signature");
        let digest = message.message_digest.expect("digest");
        assert_eq!(digest.algorithm, "SHA2_256");
        assert_eq!(
            STANDARD.decode(&digest.digest).expect("b64"),
            Digest::sha256_of(blob).raw()
        );
        let signature = STANDARD.decode(&message.signature).expect("b64");
        key.public_key()
            .verify(blob, &signature)
            .expect("the signature is over the blob");

        let content = verify(&signed.bundle, Artifact::Bytes(blob), &key.public_key()).expect("verifies");
        assert_eq!(
            content,
            SignedContent::Message {
                digest: Digest::sha256_of(blob)
            }
        );
        verify(
            &signed.bundle,
            Artifact::Digest(Digest::sha256_of(blob)),
            &key.public_key(),
        )
        .expect("verifies by digest");
    }

    #[test]
    fn sign_blob_twins_fail() {
        let key = SigningKey::generate().expect("key");
        let blob = b"release tarball bytes";
        let signed = sign_blob(blob, &key).expect("sign");
        // the file with one byte flipped
        let mut flipped = blob.to_vec();
        flipped[0] ^= 1;
        assert!(matches!(
            verify(&signed.bundle, Artifact::Bytes(&flipped), &key.public_key()),
            Err(BundleRejection::ArtifactMismatch { .. })
        ));
        // another key
        let other = SigningKey::generate().expect("key");
        assert!(matches!(
            verify(&signed.bundle, Artifact::Bytes(blob), &other.public_key()),
            Err(BundleRejection::Signature { .. })
        ));
        // a flipped signature byte
        let mut v: Value = serde_json::from_slice(&signed.bundle).expect("json");
        let mut signature = STANDARD
            .decode(v["messageSignature"]["signature"].as_str().expect("sig"))
            .expect("b64");
        let last = signature.len() - 1;
        signature[last / 2] ^= 1;
        v["messageSignature"]["signature"] = STANDARD.encode(&signature).into();
        let tampered = serde_json::to_vec(&v).expect("json");
        assert!(matches!(
            verify(&tampered, Artifact::Bytes(blob), &key.public_key()),
            Err(BundleRejection::Signature { .. })
        ));
        // the digest rewritten to another file's, with the signature kept
        let mut v: Value = serde_json::from_slice(&signed.bundle).expect("json");
        v["messageSignature"]["messageDigest"]["digest"] = STANDARD.encode(Digest::sha256_of(b"other").raw()).into();
        let swapped = serde_json::to_vec(&v).expect("json");
        assert!(verify(&swapped, Artifact::Bytes(b"other"), &key.public_key()).is_err());
    }

    #[test]
    fn every_bundle_key_algorithm_round_trips_and_p521_is_refused() {
        let blob = b"x";
        for (pem, algorithm) in [
            ("p256-pkcs8.pem", "SHA2_256"),
            ("p384-pkcs8.pem", "SHA2_384"),
            ("ed25519-pkcs8.pem", "SHA2_256"),
            ("rsa2048-pkcs8.pem", "SHA2_256"),
        ] {
            let key = key_from(pem);
            let signed = sign_blob(blob, &key).expect("sign");
            let parsed = Bundle::parse(&signed.bundle).expect("parse");
            let digest = parsed.message_signature.and_then(|m| m.message_digest).expect("digest");
            assert_eq!(digest.algorithm, algorithm, "{pem}");
            verify(&signed.bundle, Artifact::Bytes(blob), &key.public_key()).unwrap_or_else(|e| panic!("{pem}: {e}"));
            let attested =
                attest_blob("x", &Digest::sha256_of(blob), "https://example.com/p", b"{}", &key).expect("attest");
            verify(&attested.bundle, Artifact::Bytes(blob), &key.public_key()).unwrap_or_else(|e| panic!("{pem}: {e}"));
        }
        let p521 = key_from("p521-pkcs8.pem");
        assert!(matches!(
            sign_blob(blob, &p521),
            Err(BlobError::UnsupportedKey(KeyAlgorithm::EcdsaP521))
        ));
        assert!(matches!(
            attest_blob("x", &Digest::sha256_of(blob), "https://example.com/p", b"{}", &p521),
            Err(BlobError::UnsupportedKey(KeyAlgorithm::EcdsaP521))
        ));
    }

    #[test]
    fn attest_blob_names_the_file_and_its_twins_fail() {
        let key = SigningKey::generate().expect("key");
        let blob = b"app-1.2.tar.gz contents";
        let digest = Digest::sha256_of(blob);
        let predicate = br#"{"buildType":"x"}"#;
        let signed =
            attest_blob("app-1.2.tar.gz", &digest, "https://example.com/p/v1", predicate, &key).expect("attest");
        let parsed = Bundle::parse(&signed.bundle).expect("parse");
        assert!(parsed.message_signature.is_none());
        let envelope = parsed.dsse_envelope.expect("envelope");
        assert_eq!(envelope.payload_type, crate::dsse::IN_TOTO_PAYLOAD_TYPE);
        let statement = Statement::parse(&envelope.payload_bytes().expect("payload")).expect("statement");
        assert_eq!(statement.predicate_type, "https://example.com/p/v1");
        assert_eq!(statement.subject.len(), 1);
        assert_eq!(statement.subject[0].name, "app-1.2.tar.gz");
        assert_eq!(
            statement.subject[0].digest.get("sha256").map(String::as_str),
            Some(digest.hex())
        );
        assert_eq!(statement.predicate.get(), r#"{"buildType":"x"}"#);

        let claims = crate::sigstore::verify_bundle(
            &signed.bundle,
            Artifact::Bytes(blob),
            &Signatory::key(key.public_key()),
            TrustedRoot::public_good(),
            NOW,
        )
        .expect("verifies")
        .into_inner();
        assert_eq!(
            claims.signer,
            BundleSigner::Key {
                fingerprint: key.public_key().fingerprint()
            }
        );
        assert!(claims.signing_time.is_none());
        // another file
        assert!(matches!(
            verify(&signed.bundle, Artifact::Bytes(b"another file"), &key.public_key()),
            Err(BundleRejection::ArtifactMismatch { .. })
        ));
        // another key
        let other = SigningKey::generate().expect("key");
        assert!(matches!(
            verify(&signed.bundle, Artifact::Bytes(blob), &other.public_key()),
            Err(BundleRejection::Signature { .. })
        ));
        // a statement for another digest, signed by the right key
        let elsewhere = attest_blob(
            "app-1.2.tar.gz",
            &Digest::sha256_of(b"another file"),
            "https://example.com/p/v1",
            predicate,
            &key,
        )
        .expect("attest");
        assert!(matches!(
            verify(&elsewhere.bundle, Artifact::Bytes(blob), &key.public_key()),
            Err(BundleRejection::ArtifactMismatch { .. })
        ));
    }
}
