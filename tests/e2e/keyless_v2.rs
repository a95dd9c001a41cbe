//! cosign v2 keyless image signatures (`.sig` layers carrying a Fulcio-style
//! certificate, its chain and a Rekor bundle) verified by `sigil verify`
//! against a Sigstore instance made by the test: a P-384 root and
//! intermediate, a 10-minute leaf with the OIDC-issuer extension, and a log
//! key signing the entry timestamp. The signing time is the log's, long
//! after the certificate expired: verification must use it, never "now".

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData as _, SanType, SigningKey as _,
};
use serde_json::json;
use sigil_verifier::cosign;
use sigil_verifier::digest::Digest;
use sigil_verifier::oci::Descriptor;
use time::macros::datetime;

use crate::fixtures::{block_on, push_sample, s, store};
use crate::support::{Registry, sigil};

const ISSUER_URL: &str = "https://issuer.example";
const IDENTITY: &str = "dev@example.com";

fn der_utf8(s: &str) -> Vec<u8> {
    let mut out = vec![0x0c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn ca(name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = datetime!(2024-01-01 0:00 UTC);
    p.not_after = datetime!(2034-01-01 0:00 UTC);
    (p, key)
}

struct Instance {
    intermediate_pem: String,
    root_pem: String,
    leaf_pem: String,
    leaf_key: KeyPair,
    log_key: KeyPair,
}

fn instance() -> Instance {
    let (root_params, root_key) = ca("test root");
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root_params, root_key);
    let (int_params, int_key) = ca("test intermediate");
    let intermediate = int_params.signed_by(&int_key, &root_issuer).expect("intermediate");
    let int_issuer = Issuer::new(int_params, int_key);
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.subject_alt_names = vec![SanType::Rfc822Name(IDENTITY.try_into().expect("ia5"))];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = datetime!(2025-01-01 12:00 UTC);
    p.not_after = datetime!(2025-01-01 12:10 UTC);
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
        der_utf8(ISSUER_URL),
    )];
    let leaf = p.signed_by(&leaf_key, &int_issuer).expect("leaf");
    Instance {
        intermediate_pem: intermediate.pem(),
        root_pem: root.pem(),
        leaf_pem: leaf.pem(),
        leaf_key,
        log_key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("log key"),
    }
}

/// The DER inside a one-certificate PEM.
fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("pem body")
}

impl Instance {
    fn log_id(&self) -> Vec<u8> {
        Digest::sha256_of(&self.log_key.subject_public_key_info()).raw()
    }

    /// The instance as a trusted_root.json.
    fn trusted_root(&self) -> String {
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(self.log_key.subject_public_key_info()),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2024-01-01T00:00:00Z"}},
                "logId": {"keyId": STANDARD.encode(self.log_id())}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "test", "commonName": "test"}, "uri": "https://ca.test",
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(der(&self.intermediate_pem))},
                    {"rawBytes": STANDARD.encode(der(&self.root_pem))}
                ]},
                "validFor": {"start": "2024-01-01T00:00:00Z"}
            }],
            "ctlogs": [], "timestampAuthorities": []
        })
        .to_string()
    }

    /// Signs `payload` with the leaf and logs it at `integrated_time`:
    /// (base64 signature, Rekor bundle annotation JSON).
    fn sign_and_log(&self, payload: &[u8], integrated_time: i64) -> (String, String) {
        let signature = STANDARD.encode(self.leaf_key.sign(payload).expect("sign"));
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": Digest::sha256_of(payload).hex()}},
                "signature": {"content": signature, "publicKey": {"content": STANDARD.encode(&self.leaf_pem)}}
            }
        });
        let body = STANDARD.encode(body.to_string());
        let id = hex::encode(self.log_id());
        let canonical =
            format!(r#"{{"body":"{body}","integratedTime":{integrated_time},"logID":"{id}","logIndex":7}}"#);
        let set = STANDARD.encode(self.log_key.sign(canonical.as_bytes()).expect("set"));
        let rekor = json!({"SignedEntryTimestamp": set, "Payload": {"body": body, "integratedTime": integrated_time, "logIndex": 7, "logID": id}});
        (signature, rekor.to_string())
    }
}

/// Stores a cosign v2 keyless signature layer for `image` in `repo`.
fn push_keyless_signature(
    registry: &Registry,
    repo: &str,
    image: &Digest,
    inst: &Instance,
    annotations: BTreeMap<String, String>,
) {
    let payload = sigil_verifier::simplesigning::payload(&registry.image(repo), image, &BTreeMap::new());
    let (signature, rekor) = inst.sign_and_log(&payload, datetime!(2025-01-01 12:05 UTC).unix_timestamp());
    let mut layer = Descriptor::of(cosign::SIMPLESIGNING_MEDIA_TYPE, &payload);
    layer.annotations = BTreeMap::from([
        (cosign::SIGNATURE_ANNOTATION.to_owned(), signature),
        (cosign::CERTIFICATE_ANNOTATION.to_owned(), inst.leaf_pem.clone()),
        (
            cosign::CHAIN_ANNOTATION.to_owned(),
            format!("{}{}", inst.intermediate_pem, inst.root_pem),
        ),
        (cosign::REKOR_BUNDLE_ANNOTATION.to_owned(), rekor),
    ]);
    for (k, v) in annotations {
        layer.annotations.insert(k, v);
    }
    let store = store(registry, repo);
    block_on(async {
        use sigil_verifier::store::Store as _;
        store.push_blob(&layer, &payload).await.expect("payload");
        sigil_verifier::sign::append_layer(&store, &cosign::signature_tag(image), layer)
            .await
            .expect("append");
    });
}

#[test]
fn cosign_v2_keyless_signatures_verify_at_the_logged_time_and_twins_fail() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let inst = instance();
    let root = dir.path().join("trusted_root.json");
    std::fs::write(&root, inst.trusted_root()).expect("root");
    let digest = push_sample(&registry, "v2", "v1", 81);
    push_keyless_signature(&registry, "v2", &digest, &inst, BTreeMap::new());
    let image = registry.image("v2:v1");
    let verify_image = |image: &str, identity: &str, issuer: &str, root: &std::path::Path| {
        sigil(&[
            "verify",
            image,
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            issuer,
            "--trusted-root",
            s(root),
            "--output",
            "json",
        ])
        .run()
    };
    let verify = |identity: &str, issuer: &str, root: &std::path::Path| verify_image(&image, identity, issuer, root);
    let ok = verify(IDENTITY, ISSUER_URL, &root);
    ok.assert_exit(0);
    assert_eq!(
        ok.stdout_json()["images"][0]["signatures"][0]["signer"]["subject"],
        IDENTITY
    );

    // twins: another identity, another issuer, the public-good root (no such CA or log)
    verify("eve@example.com", ISSUER_URL, &root).assert_exit(1);
    verify(IDENTITY, "https://other.example", &root).assert_exit(1);
    sigil(&[
        "verify",
        &image,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER_URL,
    ])
    .run()
    .assert_exit(1);
    // another instance's log and CA
    let stranger = dir.path().join("stranger.json");
    std::fs::write(&stranger, instance().trusted_root()).expect("root");
    verify(IDENTITY, ISSUER_URL, &stranger).assert_exit(1);

    // the same layer copied onto another image: the payload names the first digest
    let other = push_sample(&registry, "v2", "other", 82);
    let (_, manifest) = crate::fixtures::manifest(
        &registry,
        "v2",
        sigil_verifier::reference::Target::Tag(cosign::signature_tag(&digest)),
    );
    crate::fixtures::put_manifest(
        &registry,
        "v2",
        sigil_verifier::reference::Target::Tag(cosign::signature_tag(&other)),
        &manifest,
    );
    let out = verify_image(&registry.image("v2:other"), IDENTITY, ISSUER_URL, &root);
    out.assert_exit(1);
    assert!(out.stdout.contains("signature is for image"), "{}", out.stdout);

    // a layer whose Rekor bundle was dropped cannot prove when it was signed
    let third = push_sample(&registry, "v2", "third", 83);
    push_keyless_signature(&registry, "v2", &third, &inst, BTreeMap::new());
    let tag = sigil_verifier::reference::Target::Tag(cosign::signature_tag(&third));
    let (_, mut manifest) = crate::fixtures::manifest(&registry, "v2", tag.clone());
    manifest["layers"][0]["annotations"]
        .as_object_mut()
        .expect("annotations")
        .remove(cosign::REKOR_BUNDLE_ANNOTATION);
    crate::fixtures::put_manifest(&registry, "v2", tag, &manifest);
    let out = verify_image(&registry.image("v2:third"), IDENTITY, ISSUER_URL, &root);
    out.assert_exit(1);
    assert!(out.stdout.contains("Rekor bundle"), "{}", out.stdout);
}
