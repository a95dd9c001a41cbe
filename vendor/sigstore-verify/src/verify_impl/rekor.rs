//! Rekor transparency log entry validation
//!
//! This module handles validation of different Rekor entry types against
//! bundle content to ensure consistency.

use crate::artifact::PreparedArtifact;
use crate::error::{Error, Result};
use base64::Engine;
use sigstore_rekor::body::RekorEntryBody;
use sigstore_types::bundle::VerificationMaterialContent;
use sigstore_types::{
    Bundle, DerCertificate, DerPublicKey, HashAlgorithm, KindVersion, SignatureContent,
    TransparencyLogEntry,
};
use x509_cert::der::{Decode, Encode};

/// Verify that all log entries are consistent with the bundle's content and
/// artifact; `logged_envelope` as in [`verify_tlog_consistency_with_key`].
pub fn verify_tlog_consistency(
    bundle: &Bundle,
    artifact: &PreparedArtifact<'_>,
    logged_envelope: Option<&[u8]>,
) -> Result<()> {
    verify_tlog_consistency_with_key(bundle, artifact, None, logged_envelope)
}

/// Verify log-entry consistency when managed-key verification supplies the
/// public key that the bundle references only by hint. `logged_envelope` is
/// the DSSE envelope exactly as it was submitted to the log, when the caller
/// holds it; `intoto` 0.0.1 entries can be bound only with it.
pub(crate) fn verify_tlog_consistency_with_key(
    bundle: &Bundle,
    artifact: &PreparedArtifact<'_>,
    managed_key: Option<&DerPublicKey>,
    logged_envelope: Option<&[u8]>,
) -> Result<()> {
    for entry in &bundle.verification_material.tlog_entries {
        match (&bundle.content, entry.kind_version) {
            (SignatureContent::DsseEnvelope(_), KindVersion::HashedRekordV002)
            | (
                SignatureContent::MessageSignature(_),
                KindVersion::HashedRekordV001 | KindVersion::HashedRekordV002,
            ) => super::hashedrekord::verify_hashedrekord_entry(
                entry,
                bundle,
                artifact,
                managed_key,
            )?,
            (SignatureContent::DsseEnvelope(envelope), KindVersion::DsseV001) => {
                verify_dsse_v001(entry, envelope, bundle, managed_key)?
            }
            (SignatureContent::DsseEnvelope(envelope), KindVersion::IntotoV002) => {
                verify_intoto_v002(entry, envelope, bundle, managed_key)?
            }
            (SignatureContent::DsseEnvelope(envelope), KindVersion::IntotoV001) => {
                verify_intoto_v001(entry, envelope, bundle, managed_key, logged_envelope)?
            }
            (SignatureContent::DsseEnvelope(_), format) => {
                return Err(Error::UnsupportedBundle(format!(
                    "Rekor entry {}/{} is incompatible with a DSSE envelope",
                    format.kind(),
                    format.version()
                )))
            }
            (SignatureContent::MessageSignature(_), format) => {
                return Err(Error::UnsupportedBundle(format!(
                    "Rekor entry {}/{} is incompatible with a message signature",
                    format.kind(),
                    format.version()
                )))
            }
            _ => {
                return Err(Error::UnsupportedBundle(
                    "unsupported bundle signature content".to_string(),
                ))
            }
        }
    }

    Ok(())
}

/// Verify DSSE v0.0.1 entry
///
/// NOTE: This does NOT verify the envelope hash.
/// The envelope hash in DSSE v0.0.1 entries cannot be reliably verified because:
/// 1. The hash is computed over uncanonicalized JSON during submission to Rekor
/// 2. JSON serialization can vary (field ordering, whitespace) between implementations
/// 3. We cannot reproduce the exact JSON representation that was originally submitted
///
/// Instead, we verify:
/// - Payload hash (hash of envelope.payload bytes)
/// - Signatures list matches between entry and envelope (both signature and verifier)
fn verify_dsse_v001(
    entry: &TransparencyLogEntry,
    envelope: &sigstore_types::DsseEnvelope,
    bundle: &Bundle,
    managed_key: Option<&DerPublicKey>,
) -> Result<()> {
    let body = RekorEntryBody::parse(&entry.canonicalized_body, entry.kind_version)
        .map_err(|e| Error::malformed_entry(format!("failed to parse Rekor body: {}", e)))?;

    let (payload_hash, rekor_signatures) = match &body {
        RekorEntryBody::DsseV001(dsse_body) => {
            (&dsse_body.spec.payload_hash, &dsse_body.spec.signatures)
        }
        _ => {
            return Err(Error::malformed_entry(
                "expected DSSE v0.0.1 body, got different type".to_string(),
            ))
        }
    };

    if payload_hash.algorithm != HashAlgorithm::Sha2256 {
        return Err(Error::UnsupportedBundle(
            "unsupported DSSE payload hash algorithm".into(),
        ));
    }
    let expected_hash = &payload_hash.value;

    // Verify payload hash (v0.0.1 uses hex encoding)
    let payload_bytes = envelope.payload.as_bytes();
    let payload_hash = sigstore_crypto::sha256(payload_bytes);
    let payload_hash_hex = hex::encode(payload_hash);

    if &payload_hash_hex != expected_hash {
        return Err(Error::entry_mismatch(format!(
            "DSSE payload hash mismatch: computed {}, expected {}",
            payload_hash_hex, expected_hash
        )));
    }

    let bundle_cert = bundle.signing_certificate();

    // Verify that the signature in the bundle matches what's in Rekor
    // This prevents signature substitution attacks
    // IMPORTANT: We must verify BOTH the signature bytes AND the verifier (certificate)
    // The bundle's envelope holds exactly one signature by construction.
    if rekor_signatures.len() != 1 {
        return Err(Error::entry_mismatch(format!(
            "DSSE signature count mismatch: bundle has 1, Rekor entry has {}",
            rekor_signatures.len()
        )));
    }
    let rekor_sig = &rekor_signatures[0];

    if envelope.signature.sig.as_bytes() != rekor_sig.signature.as_bytes() {
        return Err(Error::entry_mismatch(
            "DSSE signature in bundle does not match any signature in Rekor entry (signature or verifier mismatch)".to_string(),
        ));
    }
    if let Some(cert) = bundle_cert {
        // Convert Rekor's PEM verifier to DER for canonical comparison
        let rekor_cert_der = rekor_sig
            .parse_certificate()
            .map_err(|e| Error::malformed_entry(format!("{}", e)))?;
        if cert.as_bytes() != rekor_cert_der.as_bytes() {
            return Err(Error::entry_mismatch(
                "DSSE signature in bundle does not match any signature in Rekor entry (signature or verifier mismatch)".to_string(),
            ));
        }
    } else {
        let expected_key = managed_key.ok_or_else(|| {
            Error::entry_mismatch(
                "DSSE Rekor signature cannot be bound without the managed public key".into(),
            )
        })?;
        let rekor_key = match rekor_sig.parse_certificate() {
            Ok(cert) => certificate_public_key(&cert)?,
            Err(_) => {
                let pem = std::str::from_utf8(rekor_sig.verifier.as_bytes())
                    .map_err(|e| Error::malformed_entry(format!("invalid DSSE verifier: {e}")))?;
                DerPublicKey::from_pem(pem)
                    .map_err(|e| Error::malformed_entry(format!("invalid DSSE verifier: {e}")))?
            }
        };
        if rekor_key != *expected_key {
            return Err(Error::entry_mismatch(
                "DSSE managed public key does not match the Rekor verifier".into(),
            ));
        }
    }

    Ok(())
}

/// Verify intoto v0.0.2 entry
fn verify_intoto_v002(
    entry: &TransparencyLogEntry,
    envelope: &sigstore_types::DsseEnvelope,
    bundle: &Bundle,
    managed_key: Option<&DerPublicKey>,
) -> Result<()> {
    let body = RekorEntryBody::parse(&entry.canonicalized_body, entry.kind_version)
        .map_err(|e| Error::malformed_entry(format!("failed to parse Rekor body: {}", e)))?;

    let (rekor_envelope, payload_hash) = match &body {
        RekorEntryBody::IntotoV002(intoto_body) => (
            &intoto_body.spec.content.envelope,
            &intoto_body.spec.content.payload_hash,
        ),
        _ => {
            return Err(Error::malformed_entry(
                "expected Intoto v0.0.2 body, got different type".to_string(),
            ))
        }
    };

    if payload_hash.algorithm != HashAlgorithm::Sha2256 {
        return Err(Error::UnsupportedBundle(format!(
            "unsupported intoto payload hash algorithm: {}",
            payload_hash.algorithm
        )));
    }
    let expected_payload_hash = payload_hash
        .value
        .decode()
        .map_err(|e| Error::malformed_entry(format!("invalid intoto payload hash: {}", e)))?;
    let actual_payload_hash = sigstore_crypto::sha256(envelope.payload.as_bytes());
    if actual_payload_hash.as_bytes() != expected_payload_hash.as_slice() {
        return Err(Error::entry_mismatch(
            "DSSE payload hash does not match intoto Rekor entry".to_string(),
        ));
    }

    if envelope.payload_type != rekor_envelope.payload_type {
        return Err(Error::entry_mismatch(format!(
            "DSSE payload type mismatch: bundle has {:?}, Rekor entry has {:?}",
            envelope.payload_type, rekor_envelope.payload_type
        )));
    }

    let expected_public_key = match &bundle.verification_material.content {
        VerificationMaterialContent::X509CertificateChain { certificates } => {
            let certificate = certificates.first().ok_or_else(|| {
                Error::InvalidBundle("bundle certificate chain is empty".to_string())
            })?;
            certificate_public_key(&certificate.raw_bytes)?
        }
        VerificationMaterialContent::Certificate(cert) => certificate_public_key(&cert.raw_bytes)?,
        VerificationMaterialContent::PublicKey(_) => managed_key.cloned().ok_or_else(|| {
            Error::entry_mismatch(
                "intoto Rekor signature cannot be bound without the managed public key".to_string(),
            )
        })?,
        _ => {
            return Err(Error::UnsupportedBundle(
                "unsupported bundle verification material".to_string(),
            ))
        }
    };

    let [rekor_sig] = rekor_envelope.signatures.as_slice() else {
        return Err(Error::entry_mismatch(format!(
            "DSSE signature count mismatch: bundle has 1, Rekor entry has {}",
            rekor_envelope.signatures.len()
        )));
    };

    // Rekor's signature field contains an additional base64 layer in canonical
    // intoto/0.0.2 entries.
    let rekor_sig_decoded = base64::engine::general_purpose::STANDARD
        .decode(rekor_sig.sig.as_bytes())
        .map_err(|e| Error::malformed_entry(format!("failed to decode Rekor signature: {e}")))?;
    if envelope.signature.sig.as_bytes() != rekor_sig_decoded.as_slice() {
        return Err(Error::entry_mismatch(
            "DSSE signature in bundle does not match the intoto Rekor signature".to_string(),
        ));
    }

    let rekor_public_key = match rekor_sig.parse_certificate() {
        Ok(certificate) => certificate_public_key(&certificate)?,
        Err(_) => rekor_sig
            .parse_public_key()
            .map_err(|e| Error::malformed_entry(e.to_string()))?,
    };
    if rekor_public_key.as_bytes() != expected_public_key.as_bytes() {
        return Err(Error::entry_mismatch(
            "DSSE signing certificate does not match the intoto Rekor verifier".to_string(),
        ));
    }

    Ok(())
}

/// The canonical body of an `intoto` 0.0.1 entry (sigil patch): the hashes of
/// the submitted envelope and of its payload, and the signer's PEM
/// certificate or public key, base64-encoded. The envelope itself is not
/// logged.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IntotoV001Body {
    api_version: String,
    kind: String,
    spec: IntotoV001Spec,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IntotoV001Spec {
    content: IntotoV001Content,
    public_key: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IntotoV001Content {
    hash: IntotoV001Hash,
    payload_hash: IntotoV001Hash,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IntotoV001Hash {
    algorithm: String,
    value: String,
}

impl IntotoV001Hash {
    /// Whether this is the SHA-256 of `bytes` (hex, as Rekor writes it).
    fn matches(&self, bytes: &[u8], what: &str) -> Result<()> {
        if self.algorithm != "sha256" {
            return Err(Error::UnsupportedBundle(format!(
                "unsupported intoto 0.0.1 {what} hash algorithm: {}",
                self.algorithm
            )));
        }
        let logged = hex::decode(&self.value)
            .map_err(|e| Error::malformed_entry(format!("invalid intoto {what} hash: {e}")))?;
        if logged.as_slice() != sigstore_crypto::sha256(bytes).as_bytes() {
            return Err(Error::entry_mismatch(format!(
                "{what} hash does not match the intoto 0.0.1 Rekor entry"
            )));
        }
        Ok(())
    }
}

/// Verify an intoto v0.0.1 entry (sigil patch).
///
/// The entry logs the SHA-256 of the envelope as it was submitted, so it is
/// bound only to those exact bytes: they must hash to the logged value and
/// decode to the bundle's envelope (payload type, payload, signature and key
/// id), whose payload must hash to the logged payload hash. The logged
/// signer must be the bundle's certificate, byte for byte, or the managed key.
fn verify_intoto_v001(
    entry: &TransparencyLogEntry,
    envelope: &sigstore_types::DsseEnvelope,
    bundle: &Bundle,
    managed_key: Option<&DerPublicKey>,
    logged_envelope: Option<&[u8]>,
) -> Result<()> {
    let logged_envelope = logged_envelope.ok_or_else(|| {
        Error::UnsupportedBundle(
            "an intoto 0.0.1 Rekor entry logs only the hash of the envelope as submitted; \
             it can be verified only with those exact bytes"
                .to_string(),
        )
    })?;
    let body: IntotoV001Body = serde_json::from_slice(entry.canonicalized_body.as_bytes())
        .map_err(|e| Error::malformed_entry(format!("failed to parse intoto 0.0.1 body: {e}")))?;
    if body.kind != "intoto" || body.api_version != "0.0.1" {
        return Err(Error::entry_mismatch(format!(
            "Rekor body is {}/{}, the entry claims intoto/0.0.1",
            body.kind, body.api_version
        )));
    }

    body.spec
        .content
        .hash
        .matches(logged_envelope, "DSSE envelope")?;
    let logged: sigstore_types::DsseEnvelope =
        serde_json::from_slice(logged_envelope).map_err(|e| {
            Error::entry_mismatch(format!("the logged envelope is not a DSSE envelope: {e}"))
        })?;
    if logged != *envelope {
        return Err(Error::entry_mismatch(
            "the bundle's DSSE envelope is not the one the intoto 0.0.1 Rekor entry logs"
                .to_string(),
        ));
    }
    body.spec
        .content
        .payload_hash
        .matches(envelope.payload.as_bytes(), "DSSE payload")?;

    let pem = base64::engine::general_purpose::STANDARD
        .decode(body.spec.public_key.as_bytes())
        .ok()
        .and_then(|pem| String::from_utf8(pem).ok())
        .ok_or_else(|| {
            Error::malformed_entry("intoto 0.0.1 publicKey is not base64 of PEM text".to_string())
        })?;
    match bundle.signing_certificate() {
        Some(certificate) => {
            let logged = DerCertificate::from_pem(&pem).map_err(|e| {
                Error::malformed_entry(format!("intoto 0.0.1 publicKey is not a certificate: {e}"))
            })?;
            if logged.as_bytes() != certificate.as_bytes() {
                return Err(Error::entry_mismatch(
                    "the signing certificate is not the one the intoto 0.0.1 Rekor entry names"
                        .to_string(),
                ));
            }
        }
        None => {
            let expected = managed_key.ok_or_else(|| {
                Error::entry_mismatch(
                    "intoto Rekor signer cannot be bound without the managed public key"
                        .to_string(),
                )
            })?;
            let logged = match DerCertificate::from_pem(&pem) {
                Ok(certificate) => certificate_public_key(&certificate)?,
                Err(_) => DerPublicKey::from_pem(&pem).map_err(|e| {
                    Error::malformed_entry(format!("invalid intoto 0.0.1 publicKey: {e}"))
                })?,
            };
            if logged != *expected {
                return Err(Error::entry_mismatch(
                    "managed public key does not match the intoto 0.0.1 Rekor entry".to_string(),
                ));
            }
        }
    }
    Ok(())
}

fn certificate_public_key(certificate: &DerCertificate) -> Result<DerPublicKey> {
    let certificate = x509_cert::Certificate::from_der(certificate.as_bytes())
        .map_err(|e| Error::cert_malformed(format!("failed to parse signing certificate: {e}")))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| {
            Error::cert_malformed(format!(
                "failed to encode signing certificate public key: {e}"
            ))
        })?;
    Ok(DerPublicKey::new(spki))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore_types::{Artifact, Bundle, CanonicalizedBody, Sha256Hash};

    const CANONICAL_INTOTO_BUNDLE: &str =
        include_str!("../../test_data/bundles/sigstore.js@2.0.0-provenance.sigstore.json");

    fn bundle() -> Bundle {
        Bundle::from_json(CANONICAL_INTOTO_BUNDLE).unwrap()
    }

    /// A bundle signed with another certificate than [`bundle`]'s.
    fn bundle_with_other_certificate() -> Bundle {
        Bundle::from_json(include_str!("../../test_data/bundles/dsse.sigstore.json")).unwrap()
    }

    fn mutate_body(bundle: &mut Bundle, mutation: impl FnOnce(&mut serde_json::Value)) {
        let entry = &mut bundle.verification_material.tlog_entries[0];
        let mut body: serde_json::Value =
            serde_json::from_slice(entry.canonicalized_body.as_bytes()).unwrap();
        mutation(&mut body);
        entry.canonicalized_body = CanonicalizedBody::new(serde_json::to_vec(&body).unwrap());
    }

    fn verify_consistency(bundle: &Bundle) -> Result<()> {
        let digest = [0u8; 32];
        let artifact = PreparedArtifact::from_artifact(
            Artifact::from(Sha256Hash::new(digest)),
            &crate::artifact::ArtifactRequirements::new(
                &bundle.content,
                sigstore_crypto::SigningScheme::EcdsaP256Sha256,
            )
            .unwrap(),
        )
        .unwrap();
        verify_tlog_consistency(bundle, &artifact, None)
    }

    #[test]
    fn canonical_intoto_entry_matches_bundle() {
        verify_consistency(&bundle()).unwrap();
    }

    #[test]
    fn canonical_intoto_entry_binds_managed_public_key() {
        let mut bundle = bundle();
        let certificate = match &bundle.verification_material.content {
            VerificationMaterialContent::Certificate(cert) => cert.raw_bytes.clone(),
            VerificationMaterialContent::X509CertificateChain { certificates } => {
                certificates[0].raw_bytes.clone()
            }
            _ => panic!("fixture must use a certificate"),
        };
        let public_key = certificate_public_key(&certificate).unwrap();
        bundle.verification_material.content =
            VerificationMaterialContent::PublicKey(sigstore_types::PublicKeyIdentifier::new(
                sigstore_crypto::sha256(public_key.as_bytes()).to_base64(),
            ));
        let digest = [0u8; 32];
        let artifact = PreparedArtifact::from_artifact(
            Artifact::from(Sha256Hash::new(digest)),
            &crate::artifact::ArtifactRequirements::new(
                &bundle.content,
                sigstore_crypto::SigningScheme::EcdsaP256Sha256,
            )
            .unwrap(),
        )
        .unwrap();
        verify_tlog_consistency_with_key(&bundle, &artifact, Some(&public_key), None).unwrap();

        let wrong_key = DerPublicKey::new(vec![1, 2, 3]);
        assert!(
            verify_tlog_consistency_with_key(&bundle, &artifact, Some(&wrong_key), None).is_err()
        );
    }

    #[test]
    fn canonical_intoto_entry_binds_payload_hash() {
        let mut bundle = bundle();
        mutate_body(&mut bundle, |body| {
            body["spec"]["content"]["payloadHash"]["value"] = "00".repeat(32).into();
        });
        assert!(verify_consistency(&bundle).is_err());
    }

    #[test]
    fn canonical_intoto_entry_binds_payload_type() {
        let mut bundle = bundle();
        mutate_body(&mut bundle, |body| {
            body["spec"]["content"]["envelope"]["payloadType"] =
                "application/vnd.example+json".into();
        });
        assert!(verify_consistency(&bundle).is_err());
    }

    #[test]
    fn canonical_intoto_entry_binds_signature() {
        let mut bundle = bundle();
        mutate_body(&mut bundle, |body| {
            body["spec"]["content"]["envelope"]["signatures"][0]["sig"] = "YmFk".into();
        });
        assert!(verify_consistency(&bundle).is_err());
    }

    #[test]
    fn canonical_intoto_entry_binds_signing_certificate() {
        let mut bundle = bundle();
        mutate_body(&mut bundle, |body| {
            body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"] = "YmFk".into();
        });
        assert!(verify_consistency(&bundle).is_err());
    }

    /// The canonical bundle rewritten onto an intoto 0.0.1 entry (sigil
    /// patch) that logs `logged` as the submitted envelope; the SET is not
    /// checked here, only the binding of the entry to the bundle.
    fn intoto_v001(logged: &[u8], mutation: impl FnOnce(&mut serde_json::Value)) -> Bundle {
        let mut bundle = bundle();
        let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
            panic!("fixture must be DSSE");
        };
        let payload_hash = hex::encode(sigstore_crypto::sha256(envelope.payload.as_bytes()));
        let pem = bundle.signing_certificate().unwrap().to_pem();
        let mut body = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "intoto",
            "spec": {
                "content": {
                    "hash": {"algorithm": "sha256", "value": hex::encode(sigstore_crypto::sha256(logged))},
                    "payloadHash": {"algorithm": "sha256", "value": payload_hash}
                },
                "publicKey": base64::engine::general_purpose::STANDARD.encode(pem)
            }
        });
        mutation(&mut body);
        let entry = &mut bundle.verification_material.tlog_entries[0];
        entry.kind_version = KindVersion::IntotoV001;
        entry.canonicalized_body = CanonicalizedBody::new(serde_json::to_vec(&body).unwrap());
        bundle
    }

    fn logged_envelope() -> Vec<u8> {
        let SignatureContent::DsseEnvelope(envelope) = bundle().content else {
            panic!("fixture must be DSSE");
        };
        serde_json::to_vec(&envelope).unwrap()
    }

    fn verify_logged(bundle: &Bundle, logged: Option<&[u8]>) -> Result<()> {
        let artifact = PreparedArtifact::from_artifact(
            Artifact::from(Sha256Hash::new([0u8; 32])),
            &crate::artifact::ArtifactRequirements::new(
                &bundle.content,
                sigstore_crypto::SigningScheme::EcdsaP256Sha256,
            )
            .unwrap(),
        )
        .unwrap();
        verify_tlog_consistency(bundle, &artifact, logged)
    }

    #[test]
    fn intoto_v001_entry_matches_the_logged_envelope() {
        let logged = logged_envelope();
        verify_logged(&intoto_v001(&logged, |_| {}), Some(&logged)).unwrap();
    }

    #[test]
    fn intoto_v001_entry_needs_the_logged_envelope() {
        let logged = logged_envelope();
        let error = verify_logged(&intoto_v001(&logged, |_| {}), None).unwrap_err();
        assert!(error.to_string().contains("exact bytes"), "{error}");
    }

    #[test]
    fn intoto_v001_entry_binds_the_exact_envelope_bytes() {
        let logged = logged_envelope();
        let bundle = intoto_v001(&logged, |_| {});
        // the same envelope, serialized with one more byte
        let mut spaced = logged.clone();
        spaced.push(b' ');
        let error = verify_logged(&bundle, Some(&spaced)).unwrap_err();
        assert!(error.to_string().contains("hash does not match"), "{error}");
    }

    #[test]
    fn intoto_v001_entry_binds_the_bundles_envelope() {
        // bytes that hash correctly but are another envelope than the bundle's
        let mut other: serde_json::Value = serde_json::from_slice(&logged_envelope()).unwrap();
        other["payloadType"] = "application/vnd.example+json".into();
        let other = serde_json::to_vec(&other).unwrap();
        let error = verify_logged(&intoto_v001(&other, |_| {}), Some(&other)).unwrap_err();
        assert!(error.to_string().contains("not the one"), "{error}");
        assert!(verify_logged(&intoto_v001(b"{}", |_| {}), Some(b"{}")).is_err());
    }

    #[test]
    fn intoto_v001_entry_binds_payload_hash() {
        let logged = logged_envelope();
        let bundle = intoto_v001(&logged, |body| {
            body["spec"]["content"]["payloadHash"]["value"] = "00".repeat(32).into();
        });
        assert!(verify_logged(&bundle, Some(&logged)).is_err());
        let bundle = intoto_v001(&logged, |body| {
            body["spec"]["content"]["payloadHash"]["algorithm"] = "sha512".into();
        });
        assert!(verify_logged(&bundle, Some(&logged)).is_err());
    }

    #[test]
    fn intoto_v001_entry_binds_the_signing_certificate() {
        let logged = logged_envelope();
        let other = bundle_with_other_certificate();
        let other = other.signing_certificate().unwrap();
        let bundle = intoto_v001(&logged, |body| {
            body["spec"]["publicKey"] = base64::engine::general_purpose::STANDARD
                .encode(other.to_pem())
                .into();
        });
        let error = verify_logged(&bundle, Some(&logged)).unwrap_err();
        assert!(error.to_string().contains("certificate"), "{error}");
        let bundle = intoto_v001(&logged, |body| body["spec"]["publicKey"] = "YmFk".into());
        assert!(verify_logged(&bundle, Some(&logged)).is_err());
    }

    #[test]
    fn intoto_v001_body_must_be_what_the_entry_claims() {
        let logged = logged_envelope();
        for mutation in [
            (|body: &mut serde_json::Value| body["apiVersion"] = "0.0.2".into())
                as fn(&mut serde_json::Value),
            |body| body["kind"] = "dsse".into(),
            |body| body["spec"]["extra"] = true.into(),
            |body| {
                body["spec"]["content"]
                    .as_object_mut()
                    .unwrap()
                    .remove("payloadHash");
            },
        ] {
            assert!(verify_logged(&intoto_v001(&logged, mutation), Some(&logged)).is_err());
        }
    }
}
