//! Rekor `intoto` 0.0.1 entries, on real evidence: the SLSA container
//! provenance that slsa-github-generator v1.4.0 and v1.9.0 stored with cosign
//! before v2.0 (`testdata/slsa-verifier/`), judged against the embedded
//! public-good root at the time the SET proves (the certificates expired
//! minutes after they were issued, in 2023).
//!
//! An `intoto` 0.0.1 entry logs the SHA-256 of the envelope as submitted, the
//! SHA-256 of its payload and the signer's certificate; every twin breaks
//! exactly one of those bindings, the SET, the identity or the image.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::OffsetDateTime;

use super::*;
use crate::testdata;

const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// 2026-01-01: years after every certificate here expired.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("valid time")
}

fn builder(version: &str) -> String {
    format!(
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/{version}"
    )
}

/// One copied layout: the image digest, the attestation layer's envelope
/// bytes and its certificate annotations.
struct Provenance {
    image: crate::digest::Digest,
    envelope: Vec<u8>,
    certificate: String,
    chain: String,
    rekor: String,
}

impl Provenance {
    fn load(version: &str) -> Provenance {
        let dir = format!("slsa-verifier/{version}/container_workflow_dispatch");
        let blob = |digest: &str| {
            testdata::read(format!(
                "{dir}/blobs/sha256/{}",
                digest.strip_prefix("sha256:").expect("sha256")
            ))
        };
        let json = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).expect("JSON");
        let index = json(testdata::read(format!("{dir}/index.json")));
        let manifests = index["manifests"].as_array().expect("manifests");
        let atts = manifests
            .iter()
            .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
            .expect("an attestation manifest");
        let manifest = json(blob(atts["digest"].as_str().expect("digest")));
        let layer = &manifest["layers"][0];
        let annotation = |key: &str| layer["annotations"][key].as_str().expect(key).to_owned();
        let image = testdata::text(format!("slsa-verifier/{version}/container_workflow_dispatch.digest"));
        Provenance {
            image: image.trim().parse().expect("digest"),
            envelope: blob(layer["digest"].as_str().expect("digest")),
            certificate: annotation("dev.sigstore.cosign/certificate"),
            chain: annotation("dev.sigstore.cosign/chain"),
            rekor: annotation("dev.sigstore.cosign/bundle"),
        }
    }

    /// The logged body, decoded.
    fn body(&self) -> Value {
        let rekor: Value = serde_json::from_str(&self.rekor).expect("bundle JSON");
        let body = STANDARD
            .decode(rekor["Payload"]["body"].as_str().expect("body"))
            .expect("base64");
        serde_json::from_slice(&body).expect("body JSON")
    }

    fn integrated_time(&self) -> i64 {
        let rekor: Value = serde_json::from_str(&self.rekor).expect("bundle JSON");
        rekor["Payload"]["integratedTime"].as_i64().expect("integratedTime")
    }

    fn verify(&self, who: &IdentityPolicy) -> Result<CertificateClaims, BundleRejection> {
        self.verify_for(&self.image, who)
    }

    fn verify_for(
        &self,
        image: &crate::digest::Digest,
        who: &IdentityPolicy,
    ) -> Result<CertificateClaims, BundleRejection> {
        verify_cosign_v2_layer(
            LayerContent::Envelope {
                envelope: &self.envelope,
                image,
            },
            LayerCertificate {
                certificate_pem: &self.certificate,
                chain_pem: Some(&self.chain),
                rekor_bundle_json: Some(&self.rekor),
            },
            who,
            TrustedRoot::public_good(),
            now(),
        )
        .map(|v| v.into_inner())
    }
}

fn identity(version: &str) -> IdentityPolicy {
    IdentityPolicy::new(Matcher::exact(builder(version)), Matcher::exact(ISSUER))
}

fn refused(result: Result<CertificateClaims, BundleRejection>, what: &str) -> String {
    match result {
        Ok(_) => panic!("{what}: accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_copied_layouts_hold_intoto_0_0_1_entries_that_name_their_envelope() {
    for version in ["v1.4.0", "v1.9.0"] {
        let p = Provenance::load(version);
        let body = p.body();
        assert_eq!(body["kind"], "intoto", "{version}");
        assert_eq!(body["apiVersion"], "0.0.1", "{version}");
        assert_eq!(
            body["spec"]["content"]["hash"]["value"].as_str(),
            Some(crate::digest::Digest::sha256_of(&p.envelope).hex()),
            "{version}: the entry logs the hash of the layer's exact bytes"
        );
    }
}

#[test]
fn slsa_github_generator_provenance_with_an_intoto_0_0_1_entry_verifies() {
    for version in ["v1.4.0", "v1.9.0"] {
        let p = Provenance::load(version);
        let claims = p
            .verify(&identity(version))
            .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert!(
            claims.identity.subject.iter().any(|s| s.value() == builder(version)),
            "{version}"
        );
        assert_eq!(claims.identity.issuer.as_deref(), Some(ISSUER), "{version}");
        let logged = OffsetDateTime::from_unix_timestamp(p.integrated_time()).expect("time");
        assert_eq!(claims.signing_time, Some(logged), "{version}");
        assert!(logged >= claims.identity.not_before && logged <= claims.identity.not_after);
        assert!(
            now() > claims.identity.not_after,
            "{version}: the certificate expired long ago"
        );
        let entry = claims.log_entry.expect("log entry");
        assert_eq!(entry.kind, "intoto 0.0.1");
        assert!(entry.inclusion_promise);
        let SignedContent::Dsse { payload_type, payload } = claims.content else {
            panic!("{version}: a DSSE payload");
        };
        assert_eq!(payload_type, "application/vnd.in-toto+json");
        let statement: Value = serde_json::from_slice(&payload).expect("statement");
        assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v0.2");
        assert_eq!(statement["predicate"]["builder"]["id"], builder(version));
        assert_eq!(statement["subject"][0]["digest"]["sha256"], p.image.hex());
    }
}

#[test]
fn the_v1_4_certificate_names_its_issuer_only_in_the_deprecated_extension() {
    // DER of the OIDs 1.3.6.1.4.1.57264.1.1 and .1.8 (tag, length, arcs).
    let oid = |last: u8| [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, last];
    let contains = |der: &[u8], needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
    let v14 = Certificate::from_pem_chain(&Provenance::load("v1.4.0").certificate).expect("cert");
    assert!(contains(v14[0].der(), &oid(1)));
    assert!(!contains(v14[0].der(), &oid(8)), "v1.4.0 has no .1.8 issuer");
    let identity = v14[0].identity().expect("identity");
    assert_eq!(identity.issuer.as_deref(), Some(ISSUER));
    assert_eq!(identity.extensions.get("issuer").map(String::as_str), Some(ISSUER));
    // v1.9.0 carries both; the .1.8 value is read.
    let v19 = Certificate::from_pem_chain(&Provenance::load("v1.9.0").certificate).expect("cert");
    assert!(contains(v19[0].der(), &oid(1)) && contains(v19[0].der(), &oid(8)));
    assert_eq!(v19[0].identity().expect("identity").issuer.as_deref(), Some(ISSUER));
    // and an issuer policy is enforced on the deprecated value
    let other = IdentityPolicy::new(
        Matcher::exact(builder("v1.4.0")),
        Matcher::exact("https://accounts.google.com"),
    );
    let reason = refused(Provenance::load("v1.4.0").verify(&other), "another issuer");
    assert!(reason.contains("issuer"), "{reason}");
}

#[test]
fn a_flipped_byte_in_the_envelope_is_refused() {
    let p = Provenance::load("v1.4.0");
    // A byte inside the signature: still a well-formed envelope.
    let mut flipped = Provenance::load("v1.4.0");
    let at = flipped
        .envelope
        .windows(7)
        .position(|w| w == b"\"sig\":\"")
        .expect("sig")
        + 10;
    flipped.envelope[at] = if flipped.envelope[at] == b'A' { b'B' } else { b'A' };
    refused(flipped.verify(&identity("v1.4.0")), "flipped signature byte");
    // The same envelope with one more byte of whitespace: it decodes to the
    // same envelope and its signature verifies, but it is not what was logged.
    let mut spaced = Provenance::load("v1.4.0");
    spaced.envelope.push(b'\n');
    let reason = refused(spaced.verify(&identity("v1.4.0")), "re-serialized envelope");
    assert!(reason.contains("hash does not match"), "{reason}");
    // Bytes the signature does not cover: the key id, the field order.
    let text = String::from_utf8(p.envelope.clone()).expect("UTF-8");
    assert!(text.contains(r#""keyid":"""#), "cosign writes an empty key id");
    let value: Value = serde_json::from_slice(&p.envelope).expect("envelope");
    let reordered = serde_json::json!({
        "signatures": value["signatures"],
        "payload": value["payload"],
        "payloadType": value["payloadType"],
    });
    for bytes in [
        text.replace(r#""keyid":"""#, r#""keyid":"sigil""#).into_bytes(),
        reordered.to_string().into_bytes(),
    ] {
        let twin = Provenance {
            envelope: bytes,
            ..Provenance::load("v1.4.0")
        };
        let reason = refused(twin.verify(&identity("v1.4.0")), "unsigned bytes changed");
        assert!(reason.contains("hash does not match"), "{reason}");
    }
    p.verify(&identity("v1.4.0")).expect("the original still verifies");
}

#[test]
fn another_versions_envelope_is_refused() {
    let v14 = Provenance::load("v1.4.0");
    let v19 = Provenance::load("v1.9.0");
    let swapped = Provenance {
        envelope: v19.envelope.clone(),
        image: v19.image.clone(),
        ..Provenance::load("v1.4.0")
    };
    refused(
        swapped.verify(&identity("v1.4.0")),
        "v1.9.0 envelope under the v1.4.0 entry",
    );
    // and v1.4.0's envelope and certificate under v1.9.0's entry
    let swapped = Provenance {
        rekor: v19.rekor.clone(),
        ..Provenance::load("v1.4.0")
    };
    refused(
        swapped.verify(&identity("v1.4.0")),
        "v1.4.0 layer under the v1.9.0 entry",
    );
    v14.verify(&identity("v1.4.0")).expect("untouched");
}

#[test]
fn a_certificate_other_than_the_entrys_is_refused() {
    let v19 = Provenance::load("v1.9.0");
    let swapped = Provenance {
        certificate: v19.certificate.clone(),
        chain: v19.chain.clone(),
        ..Provenance::load("v1.4.0")
    };
    refused(
        swapped.verify(&identity("v1.9.0")),
        "v1.9.0 certificate on the v1.4.0 layer",
    );
    refused(
        swapped.verify(&identity("v1.4.0")),
        "v1.9.0 certificate on the v1.4.0 layer",
    );
}

#[test]
fn a_modified_set_or_integrated_time_is_refused() {
    let p = Provenance::load("v1.4.0");
    let mut rekor: Value = serde_json::from_str(&p.rekor).expect("JSON");
    let set = rekor["SignedEntryTimestamp"].as_str().expect("SET");
    let mut bytes = STANDARD.decode(set).expect("base64");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    rekor["SignedEntryTimestamp"] = STANDARD.encode(&bytes).into();
    let tampered = Provenance {
        rekor: rekor.to_string(),
        ..Provenance::load("v1.4.0")
    };
    refused(tampered.verify(&identity("v1.4.0")), "flipped SET byte");

    for delta in [-60, 1] {
        let mut rekor: Value = serde_json::from_str(&p.rekor).expect("JSON");
        rekor["Payload"]["integratedTime"] = (p.integrated_time() + delta).into();
        let tampered = Provenance {
            rekor: rekor.to_string(),
            ..Provenance::load("v1.4.0")
        };
        refused(tampered.verify(&identity("v1.4.0")), "moved integratedTime");
    }
}

#[test]
fn a_rewritten_logged_body_is_refused() {
    // Re-serialized bytes and a body rewritten to log their hash: the
    // envelope's signature still verifies, but the SET covers the old body.
    let p = Provenance::load("v1.4.0");
    let mut envelope = p.envelope.clone();
    envelope.push(b'\n');
    let mut rekor: Value = serde_json::from_str(&p.rekor).expect("JSON");
    let mut body = p.body();
    body["spec"]["content"]["hash"]["value"] = crate::digest::Digest::sha256_of(&envelope).hex().into();
    rekor["Payload"]["body"] = STANDARD.encode(body.to_string()).into();
    let tampered = Provenance {
        rekor: rekor.to_string(),
        envelope,
        ..Provenance::load("v1.4.0")
    };
    let reason = refused(tampered.verify(&identity("v1.4.0")), "rewritten body");
    assert!(reason.contains("SET"), "{reason}");
}

#[test]
fn another_identity_or_image_is_refused() {
    let p = Provenance::load("v1.4.0");
    let reason = refused(p.verify(&identity("v1.9.0")), "another builder");
    assert!(reason.contains("v1.9.0"), "{reason}");
    let other = Provenance::load("v1.9.0").image;
    let reason = refused(p.verify_for(&other, &identity("v1.4.0")), "another image");
    assert!(reason.contains(other.hex()) || reason.contains("subject"), "{reason}");
}

#[test]
fn a_sigstore_bundle_with_an_intoto_0_0_1_entry_needs_the_logged_envelope() {
    // The same evidence as a bundle file: the envelope is re-serialized, so
    // the logged hash cannot be checked and the bundle is refused.
    let p = Provenance::load("v1.4.0");
    let rekor: Value = serde_json::from_str(&p.rekor).expect("JSON");
    let envelope: Value = serde_json::from_slice(&p.envelope).expect("envelope");
    let certs: Vec<Value> = Certificate::from_pem_chain(&format!("{}{}", p.certificate, p.chain))
        .expect("certs")
        .iter()
        .map(|c| serde_json::json!({"rawBytes": STANDARD.encode(c.der())}))
        .collect();
    let payload = &rekor["Payload"];
    let log_id = hex::decode(payload["logID"].as_str().expect("logID")).expect("hex");
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": {
            "x509CertificateChain": {"certificates": certs},
            "tlogEntries": [{
                "logIndex": payload["logIndex"].to_string(),
                "logId": {"keyId": STANDARD.encode(log_id)},
                "kindVersion": {"kind": "intoto", "version": "0.0.1"},
                "integratedTime": payload["integratedTime"].to_string(),
                "inclusionPromise": {"signedEntryTimestamp": rekor["SignedEntryTimestamp"]},
                "canonicalizedBody": payload["body"]
            }]
        },
        "dsseEnvelope": envelope
    });
    let result = verify_bundle(
        bundle.to_string().as_bytes(),
        Artifact::Digest(p.image.clone()),
        &Signatory::Identity(identity("v1.4.0")),
        TrustedRoot::public_good(),
        now(),
    );
    let reason = match result {
        Ok(_) => panic!("accepted without the logged envelope"),
        Err(e) => e.to_string(),
    };
    assert!(reason.contains("exact bytes"), "{reason}");
}
