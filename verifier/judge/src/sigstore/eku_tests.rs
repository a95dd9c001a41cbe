//! Extended key usage on certificate chains (RFC 5280 §4.2.1.12, as Go's
//! crypto/x509 applies it for cosign and containers/image): a certificate
//! without the extension is fit for any purpose; one whose list names neither
//! codeSigning nor anyExtendedKeyUsage is not, wherever it sits in the chain.
//!
//! The accepting case on real material is containers/image's private-PKI
//! fixture (`testdata/containers-image/`), whose RSA leaf has no EKU.

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

const FIXTURE: &str = "containers-image/dir-img-cosign-pki-valid/signature-1";
/// Inside the fixture leaf's validity (2024-2052).
const NOW: OffsetDateTime = datetime!(2026-12-01 00:00 UTC);

/// The fixture's payload, signature and certificate annotations.
struct Layer {
    payload: Vec<u8>,
    signature: String,
    certificate: String,
    chain: String,
}

fn fixture() -> Layer {
    use base64::Engine as _;
    let bytes = crate::testdata::read(FIXTURE);
    let json = bytes
        .strip_prefix(b"\0sigstore-json\n".as_slice())
        .expect("containers/image signature header");
    let layer: serde_json::Value = serde_json::from_slice(json).expect("json");
    let annotation = |key: &str| layer["annotations"][key].as_str().expect(key).to_owned();
    Layer {
        payload: base64::engine::general_purpose::STANDARD
            .decode(layer["payload"].as_str().expect("payload"))
            .expect("base64"),
        signature: annotation("dev.cosignproject.cosign/signature"),
        certificate: annotation("dev.sigstore.cosign/certificate"),
        chain: annotation("dev.sigstore.cosign/chain"),
    }
}

fn roots(pem: &str) -> Vec<Certificate> {
    Certificate::from_pem_chain(pem).expect("roots")
}

fn verify(layer: &Layer, payload: &[u8], roots: &[Certificate], email: &str) -> Result<(), BundleRejection> {
    verify_certificate_signature(
        LayerContent::Message {
            payload,
            signature_b64: &layer.signature,
        },
        LayerCertificate {
            certificate_pem: &layer.certificate,
            chain_pem: Some(&layer.chain),
            rekor_bundle_json: None,
        },
        roots,
        &IdentityPolicy::subject_only(Matcher::exact(email)),
        TrustedRoot::public_good(),
        NOW,
    )
    .map(|_| ())
}

#[test]
fn a_real_enterprise_leaf_without_eku_verifies_and_its_twins_fail() {
    let layer = fixture();
    let leaf = &Certificate::from_pem_chain(&layer.certificate).expect("leaf")[0];
    let parsed = <x509_cert::Certificate as x509_cert::der::Decode>::from_der(leaf.der()).expect("x509");
    let eku = x509_cert::der::oid::ObjectIdentifier::new_unwrap("2.5.29.37");
    let has_eku = parsed
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .any(|e| e.extn_id == eku);
    assert!(!has_eku, "the fixture's point is a leaf without an EKU extension");
    let trusted = roots(&crate::testdata::text("containers-image/pki_root_crts.pem"));
    verify(&layer, &layer.payload, &trusted, "qiwan@redhat.com").expect("containers/image accepts it, so must sigil");

    let mut flipped = layer.payload.clone();
    flipped[10] ^= 1;
    assert!(
        matches!(
            verify(&layer, &flipped, &trusted, "qiwan@redhat.com"),
            Err(BundleRejection::Signature { .. })
        ),
        "flipped payload"
    );
    let other = roots(&ca("Other CA", None, None).0.pem());
    assert!(
        matches!(
            verify(&layer, &layer.payload, &other, "qiwan@redhat.com"),
            Err(BundleRejection::Chain { .. })
        ),
        "a trust store holding another CA"
    );
    assert!(
        matches!(
            verify(&layer, &layer.payload, &trusted, "someone@redhat.com"),
            Err(BundleRejection::Identity { .. })
        ),
        "another identity"
    );
}

/// A CA certificate named `name`, with an optional EKU list, signed by
/// `issuer` (self-signed without one), and the issuer it becomes.
fn ca(
    name: &str,
    eku: Option<Vec<ExtendedKeyUsagePurpose>>,
    issuer: Option<&Issuer<'static, KeyPair>>,
) -> (rcgen::Certificate, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.extended_key_usages = eku.unwrap_or_default();
    let certificate = match issuer {
        Some(issuer) => params.signed_by(&key, issuer),
        None => params.self_signed(&key),
    }
    .expect("ca");
    (certificate, Issuer::new(params, key))
}

/// Root → intermediate (with `intermediate_eku`) → leaf (with `leaf_eku`),
/// checked as a code-signing chain.
fn chain(
    intermediate_eku: Option<Vec<ExtendedKeyUsagePurpose>>,
    leaf_eku: Option<Vec<ExtendedKeyUsagePurpose>>,
) -> Result<(), CertificateError> {
    rooted_chain(None, intermediate_eku, leaf_eku)
}

/// [`chain`] under a root with `root_eku`.
fn rooted_chain(
    root_eku: Option<Vec<ExtendedKeyUsagePurpose>>,
    intermediate_eku: Option<Vec<ExtendedKeyUsagePurpose>>,
    leaf_eku: Option<Vec<ExtendedKeyUsagePurpose>>,
) -> Result<(), CertificateError> {
    let (root, root_issuer) = ca("Root", root_eku, None);
    let (intermediate, intermediate_issuer) = ca("Intermediate", intermediate_eku, Some(&root_issuer));
    let mut params = CertificateParams::new(Vec::new()).expect("params");
    params.subject_alt_names = vec![rcgen::SanType::Rfc822Name("dev@example.com".try_into().expect("email"))];
    params.extended_key_usages = leaf_eku.unwrap_or_default();
    let leaf = params
        .signed_by(&KeyPair::generate().expect("key"), &intermediate_issuer)
        .expect("leaf");
    let der = |c: &rcgen::Certificate| Certificate::from_der(c.der()).expect("der");
    der(&leaf).verify_chain(&[der(&intermediate)], &[der(&root)], NOW)
}

#[test]
fn extended_key_usage_is_judged_on_every_certificate_of_the_chain() {
    use ExtendedKeyUsagePurpose::{Any, CodeSigning, EmailProtection, ServerAuth};
    chain(None, None).expect("no EKU anywhere: any purpose");
    chain(None, Some(vec![CodeSigning])).expect("codeSigning");
    chain(None, Some(vec![ServerAuth, CodeSigning])).expect("codeSigning among others");
    chain(None, Some(vec![Any])).expect("anyExtendedKeyUsage");
    chain(Some(vec![CodeSigning]), Some(vec![CodeSigning])).expect("nested codeSigning");

    for (intermediate, leaf, case) in [
        (None, Some(vec![ServerAuth]), "a TLS server leaf"),
        (
            None,
            Some(vec![ServerAuth, EmailProtection]),
            "a leaf for other purposes",
        ),
        (
            Some(vec![ServerAuth]),
            Some(vec![CodeSigning]),
            "an intermediate restricted to TLS",
        ),
        (
            Some(vec![ServerAuth]),
            None,
            "an intermediate restricted to TLS, leaf without EKU",
        ),
    ] {
        let refused = chain(intermediate, leaf).expect_err(case);
        assert!(
            refused.to_string().contains("not for code signing"),
            "{case}: {refused}"
        );
    }

    // A list naming codeSigning and then something that is not an OID.
    let (root, root_issuer) = ca("Root", None, None);
    let mut params = CertificateParams::new(Vec::new()).expect("params");
    let malformed = [
        0x30, 0x0d, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03, 0x02, 0x01, 0x05,
    ];
    params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        malformed.to_vec(),
    )];
    let leaf = params
        .signed_by(&KeyPair::generate().expect("key"), &root_issuer)
        .expect("leaf");
    let der = |c: &rcgen::Certificate| Certificate::from_der(c.der()).expect("der");
    der(&leaf)
        .verify_chain(&[], &[der(&root)], NOW)
        .expect_err("a malformed EKU list after codeSigning");

    // The root too, though webpki does not look at it (Go does).
    rooted_chain(Some(vec![CodeSigning]), None, None).expect("a code-signing root");
    rooted_chain(Some(vec![Any]), None, None).expect("an any-purpose root");
    let refused = rooted_chain(Some(vec![ServerAuth]), None, None).expect_err("a TLS-only root");
    assert!(refused.to_string().contains("no root is for code signing"), "{refused}");
    let refused = rooted_chain(Some(vec![ServerAuth]), None, Some(vec![CodeSigning])).expect_err("TLS root");
    assert!(refused.to_string().contains("no root is for code signing"), "{refused}");
}
