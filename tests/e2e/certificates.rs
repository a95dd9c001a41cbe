//! Signing with a certificate from the user's own PKI (cosign's `sign
//! --certificate --certificate-chain`) and identity-based verification
//! against that PKI's roots, without Fulcio.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};

use sigil_verifier::cosign;

use crate::fixtures::{copy_tag, keypair, push_sample, s, write_policy};
use crate::support::{Registry, sigil};

/// A CA and a code-signing leaf for `email`, written into `dir` as
/// `NAME-ca.pem`, `NAME-leaf.pem` and `NAME-leaf.key` (PKCS#8).
fn pki(dir: &std::path::Path, name: &str, email: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    pki_for(dir, name, email, vec![ExtendedKeyUsagePurpose::CodeSigning])
}

/// [`pki`] with the leaf's extended key usage list (empty: no extension).
fn pki_for(
    dir: &std::path::Path,
    name: &str,
    email: &str,
    eku: Vec<ExtendedKeyUsagePurpose>,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} root CA"));
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("self-sign");
    let ca = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().expect("leaf key");
    let mut leaf_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "release signer");
    leaf_params.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().expect("email"))];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = eku;
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&leaf_key, &ca).expect("sign leaf");
    let paths = (
        dir.join(format!("{name}-ca.pem")),
        dir.join(format!("{name}-leaf.pem")),
        dir.join(format!("{name}-leaf.key")),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write");
    std::fs::write(&paths.1, leaf.pem()).expect("write");
    std::fs::write(&paths.2, leaf_key.serialize_pem()).expect("write");
    paths
}

/// Policy publishers for the two PKIs `pki` writes as `acme` and `other`.
const PKI_PUBLISHERS: &str = "publishers:
  acme-pki:
    certificate: { roots: acme-ca.pem, identity: release@acme.example }
  other-pki:
    certificate: { roots: other-ca.pem, identity: release@acme.example }
";

/// Imports a PKCS#8 key as a sigil key file (password `pw`).
fn import_key(dir: &std::path::Path, pkcs8: &std::path::Path) -> std::path::PathBuf {
    let prefix = dir.join("imported");
    sigil(&["key", "import", "--key", s(pkcs8), "--output-key-prefix", s(&prefix)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    prefix.with_extension("key")
}

#[test]
fn private_pki_certificates_sign_and_verify_by_identity() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, leaf, leaf_key) = pki(dir.path(), "acme", "release@acme.example");
    let (other_ca, _, _) = pki(dir.path(), "other", "release@acme.example");
    let key = import_key(dir.path(), &leaf_key);
    push_sample(&registry, "pki", "v1", 71);
    let image = registry.image("pki:v1");
    sigil(&[
        "sign",
        &image,
        "--key",
        s(&key),
        "--certificate",
        s(&leaf),
        "--certificate-chain",
        s(&ca),
    ])
    .env("SIGIL_PASSWORD", "pw")
    .run()
    .assert_exit(0);

    let verify = |identity: &str, roots: &std::path::Path| {
        sigil(&[
            "verify",
            &image,
            "--certificate-identity",
            identity,
            "--certificate-roots",
            s(roots),
            "--output",
            "json",
        ])
        .run()
    };
    let ok = verify("release@acme.example", &ca);
    ok.assert_exit(0);
    let signature = &ok.stdout_json()["images"][0]["signatures"][0];
    assert_eq!(signature["signer"]["subject"], "release@acme.example");
    // twins: another identity, another PKI's roots, a key signature is no certificate
    let out = verify("eve@acme.example", &ca);
    out.assert_exit(1);
    assert!(out.stdout.contains("eve@acme.example"), "{}", out.stdout);
    verify("release@acme.example", &other_ca).assert_exit(1);
    push_sample(&registry, "pki", "keyonly", 72);
    let (plain_key, _) = keypair(dir.path(), "plain");
    let plain_image = registry.image("pki:keyonly");
    sigil(&["sign", &plain_image, "--key", s(&plain_key)])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    let out = sigil(&[
        "verify",
        &plain_image,
        "--certificate-identity",
        "release@acme.example",
        "--certificate-roots",
        s(&ca),
        "--output",
        "json",
    ])
    .run();
    out.assert_exit(1);
    assert!(out.stdout.contains("no certificate"), "{}", out.stdout);
    // the same through a policy's certificate publisher
    let policy = write_policy(
        dir.path(),
        &format!(
            r#"{PKI_PUBLISHERS}rules:
  - name: by-acme
    images: ["{host}/pki"]
    signatures: {{ anyOf: [acme-pki] }}
  - name: by-other
    images: ["{host}/pki2"]
    signatures: {{ anyOf: [other-pki] }}
"#,
            host = registry.host()
        ),
    );
    sigil(&["verify", &image, "--policy", s(&policy)]).run().assert_exit(0);
    sigil(&["copy", &image, &registry.image("pki2:v1")])
        .run()
        .assert_exit(0);
    sigil(&["verify", &registry.image("pki2:v1"), "--policy", s(&policy)])
        .run()
        .assert_exit(1);
    sigil(&["verify", &plain_image, "--policy", s(&policy)])
        .run()
        .assert_exit(1);

    // a certificate for another key is refused before anything is signed
    let out = sigil(&["sign", &plain_image, "--key", s(&plain_key), "--certificate", s(&leaf)])
        .env("SIGIL_PASSWORD", "pw")
        .run();
    out.assert_exit(2);
    assert!(
        out.assert_one_line_error().contains("not for the signing key"),
        "{}",
        out.stderr
    );
}

#[test]
fn private_pki_attestations_carry_the_certificate_and_verify_by_identity() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, leaf, leaf_key) = pki(dir.path(), "acme", "release@acme.example");
    let (other_ca, _, _) = pki(dir.path(), "other", "release@acme.example");
    let key = import_key(dir.path(), &leaf_key);
    let predicate = dir.path().join("predicate.json");
    std::fs::write(&predicate, br#"{"reviewed":true}"#).expect("predicate");
    let digest = push_sample(&registry, "pkiatt", "v1", 73);
    let image = registry.image("pkiatt:v1");
    let attest = |format: &str| {
        sigil(&[
            "attest",
            &image,
            "--key",
            s(&key),
            "--type",
            "custom",
            "--predicate",
            s(&predicate),
            "--certificate",
            s(&leaf),
            "--certificate-chain",
            s(&ca),
            "--format",
            format,
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
    };
    let out = attest("bundle");
    out.assert_exit(2);
    assert!(out.assert_one_line_error().contains("--format tag"), "{}", out.stderr);
    attest("tag").assert_exit(0);

    let verify = |image: &str, identity: &str, roots: &std::path::Path| {
        sigil(&[
            "verify-attestation",
            image,
            "--type",
            "custom",
            "--certificate-identity",
            identity,
            "--certificate-roots",
            s(roots),
            "--output",
            "json",
        ])
        .run()
    };
    let ok = verify(&image, "release@acme.example", &ca);
    ok.assert_exit(0);
    let attestation = &ok.stdout_json()["images"][0]["attestations"][0];
    assert_eq!(attestation["signer"]["subject"], "release@acme.example");
    assert_eq!(attestation["statement"]["predicate"]["Data"], r#"{"reviewed":true}"#);
    // twins: another identity, another PKI's roots, the attestation copied to another image
    verify(&image, "eve@acme.example", &ca).assert_exit(1);
    verify(&image, "release@acme.example", &other_ca).assert_exit(1);
    let other = push_sample(&registry, "pkiatt", "other", 74);
    copy_tag(
        &registry,
        "pkiatt",
        &cosign::attestation_tag(&digest),
        &cosign::attestation_tag(&other),
    );
    verify(&registry.image("pkiatt:other"), "release@acme.example", &ca).assert_exit(1);

    // the same through a policy's certificate publishers
    let policy = write_policy(
        dir.path(),
        &format!(
            r#"{PKI_PUBLISHERS}rules:
  - name: reviewed-by-acme
    images: ["{host}/pkiatt"]
    attestations:
      - predicateType: https://cosign.sigstore.dev/attestation/v1
        signedBy: [acme-pki]
  - name: reviewed-by-other
    images: ["{host}/pkiatt2"]
    attestations:
      - predicateType: https://cosign.sigstore.dev/attestation/v1
        signedBy: [other-pki]
"#,
            host = registry.host()
        ),
    );
    sigil(&["verify", &image, "--policy", s(&policy)]).run().assert_exit(0);
    sigil(&["verify", &registry.image("pkiatt:other"), "--policy", s(&policy)])
        .run()
        .assert_exit(1);
    sigil(&["copy", &image, &registry.image("pkiatt2:v1")])
        .run()
        .assert_exit(0);
    sigil(&["verify", &registry.image("pkiatt2:v1"), "--policy", s(&policy)])
        .run()
        .assert_exit(1);
}

#[test]
fn a_leaf_without_extended_key_usage_verifies_and_a_tls_leaf_does_not() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let verify = |image: &str, roots: &std::path::Path| {
        sigil(&[
            "verify",
            image,
            "--certificate-identity",
            "release@acme.example",
            "--certificate-roots",
            s(roots),
            "--output",
            "json",
        ])
        .run()
    };
    for (name, eku, accepted) in [
        ("noeku", vec![], true),
        ("anyeku", vec![ExtendedKeyUsagePurpose::Any], true),
        ("tls", vec![ExtendedKeyUsagePurpose::ServerAuth], false),
    ] {
        let own = dir.path().join(name);
        std::fs::create_dir(&own).expect("mkdir");
        let (ca, leaf, leaf_key) = pki_for(&own, name, "release@acme.example", eku);
        let key = import_key(&own, &leaf_key);
        push_sample(&registry, name, "v1", 73);
        let image = registry.image(&format!("{name}:v1"));
        sigil(&[
            "sign",
            &image,
            "--key",
            s(&key),
            "--certificate",
            s(&leaf),
            "--certificate-chain",
            s(&ca),
        ])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
        let out = verify(&image, &ca);
        if accepted {
            out.assert_exit(0);
            assert_eq!(
                out.stdout_json()["images"][0]["signatures"][0]["signer"]["subject"],
                "release@acme.example"
            );
        } else {
            out.assert_exit(1);
            assert!(out.stdout.contains("not for code signing"), "{name}: {}", out.stdout);
        }
    }
}

/// containers/image's real private-PKI signature (`testdata/containers-image`:
/// an RSA leaf without extended key usage) stored as cosign stores it, in an
/// OCI layout beside the image it signs. The registry cannot hold it: the
/// fixture's image config blob was never published.
fn containers_image_layout(dir: &std::path::Path, signature: Option<&str>) -> String {
    use base64::Engine as _;
    use sigil_verifier::layout::LayoutStore;
    use sigil_verifier::reference::Target;
    use sigil_verifier::store::Store as _;
    let fixture = crate::fixtures::testdata("containers-image/dir-img-cosign-pki-valid");
    let manifest = std::fs::read(fixture.join("manifest.json")).expect("manifest");
    let stored = std::fs::read(fixture.join("signature-1")).expect("signature");
    let layer: serde_json::Value =
        serde_json::from_slice(stored.strip_prefix(b"\0sigstore-json\n".as_slice()).expect("header")).expect("json");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(layer["payload"].as_str().expect("payload"))
        .expect("base64");
    let mut descriptor = sigil_verifier::oci::Descriptor::of(cosign::SIMPLESIGNING_MEDIA_TYPE, &payload);
    for (key, value) in layer["annotations"].as_object().expect("annotations") {
        descriptor
            .annotations
            .insert(key.clone(), value.as_str().expect("text").to_owned());
    }
    if let Some(signature) = signature {
        descriptor
            .annotations
            .insert(cosign::SIGNATURE_ANNOTATION.into(), signature.into());
    }
    let path = dir.join(if signature.is_some() { "tampered" } else { "layout" });
    let store = LayoutStore::create(&path).expect("layout");
    crate::fixtures::block_on(async {
        let image = store
            .push_manifest(
                &Target::Tag("test".into()),
                sigil_verifier::oci::OCI_MANIFEST,
                &manifest,
            )
            .await
            .expect("image manifest");
        store.push_blob(&descriptor, &payload).await.expect("payload");
        sigil_verifier::sign::append_layer(&store, &cosign::signature_tag(&image.digest), descriptor)
            .await
            .expect("signature");
    });
    format!("oci:{}:test", path.display())
}

#[test]
fn a_real_enterprise_signature_without_eku_verifies_from_a_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let roots = crate::fixtures::testdata("containers-image/pki_root_crts.pem");
    let verify = |image: &str, identity: &str, roots: &std::path::Path| {
        sigil(&[
            "verify",
            image,
            "--certificate-identity",
            identity,
            "--certificate-roots",
            s(roots),
            "--output",
            "json",
        ])
        .run()
    };
    let image = containers_image_layout(dir.path(), None);
    let ok = verify(&image, "qiwan@redhat.com", &roots);
    ok.assert_exit(0);
    let report = ok.stdout_json();
    assert_eq!(
        report["images"][0]["digest"],
        "sha256:253c890b744fe3efa923b68e3a1be07bd007eb44ba29da1e7deb1d4c53b3e212"
    );
    assert_eq!(
        report["images"][0]["signatures"][0]["signer"]["subject"],
        "qiwan@redhat.com"
    );
    // twins: another identity, a trust store holding another CA, a forged signature
    verify(&image, "someone@redhat.com", &roots).assert_exit(1);
    let (other_ca, _, _) = pki(dir.path(), "other", "qiwan@redhat.com");
    let out = verify(&image, "qiwan@redhat.com", &other_ca);
    out.assert_exit(1);
    assert!(out.stdout.contains("chain"), "{}", out.stdout);
    let forged = containers_image_layout(dir.path(), Some(&"A".repeat(684)));
    let out = verify(&forged, "qiwan@redhat.com", &roots);
    out.assert_exit(1);
}
