//! Helpers: policies from YAML text with key files in memory,
//! and evidence signed by test keys.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::digest::Digest;
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, pae};
use crate::evidence::{AttestationContent, AttestationEvidence, Origin, SignatureContent, SignatureEvidence};
use crate::intoto::Statement;
use crate::keys::SigningKey;
use crate::policy::{Diagnostics, Evidence, ImageName, MemoryFiles, Policy, compile};

/// The fixed evaluation time of these tests.
pub const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

/// Where the test policies live; the files they name are in memory beside it.
pub const DIR: &str = "/policies";

/// The key files `NAME.pub` of `keys`, beside the policy.
pub fn key_files(keys: &[(&str, &SigningKey)]) -> MemoryFiles {
    keys.iter().fold(MemoryFiles::default(), |files, (name, key)| {
        files.with(format!("{DIR}/{name}.pub"), key.public_key().to_pem())
    })
}

/// A policy compiled from `yaml`; `keys` are files `NAME.pub` beside it.
pub fn load(yaml: &str, keys: &[(&str, &SigningKey)]) -> (Option<Policy>, Diagnostics) {
    compile(yaml, &Path::new(DIR).join("policy.yaml"), NOW, &key_files(keys))
}

/// A policy that must load without errors.
pub fn policy(yaml: &str, keys: &[(&str, &SigningKey)]) -> Policy {
    let (policy, diagnostics) = load(yaml, keys);
    policy.unwrap_or_else(|| panic!("policy has errors:\n{}", diagnostics.render_human()))
}

pub fn key() -> SigningKey {
    SigningKey::generate().expect("key")
}

pub fn digest(seed: &str) -> Digest {
    Digest::sha256_of(seed.as_bytes())
}

/// The name of `repo:tag` with the digest of `repo`, or the digest the
/// reference pins (then without its tag, as [`crate::policy::names`] does).
pub fn name(reference: &str) -> ImageName {
    names(reference).name
}

/// The names [`crate::policy::names::registry`] gives `reference`.
pub fn names(reference: &str) -> crate::policy::Names {
    let r = crate::reference::RegistryRef::parse(reference).expect("reference");
    let d = r.digest().cloned().unwrap_or_else(|| digest(&r.name()));
    crate::policy::names::registry(&r, d)
}

fn origin(n: usize) -> Origin {
    Origin::Tag {
        tag: "sha256-x.sig".into(),
        layer: Digest::sha256_of(n.to_string().as_bytes()),
    }
}

/// A cosign simple-signing signature by `key` over `image`.
pub fn signature(key: &SigningKey, image: &Digest, annotations: &[(&str, &str)]) -> SignatureEvidence {
    let ann: BTreeMap<String, String> = annotations
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let payload = crate::simplesigning::payload("registry.example/app", image, &ann);
    let sig = STANDARD.encode(key.sign(&payload).expect("sign"));
    SignatureEvidence {
        origin: origin(payload.len()),
        content: SignatureContent::SimpleSigning {
            payload,
            annotations: BTreeMap::from([(crate::cosign::SIGNATURE_ANNOTATION.to_owned(), sig)]),
        },
    }
}

/// A DSSE attestation by `key` of `predicate_type` about `image`.
pub fn attestation(key: &SigningKey, image: &Digest, predicate_type: &str, predicate: &Value) -> AttestationEvidence {
    let raw = serde_json::value::to_raw_value(predicate).expect("raw");
    let statement = Statement::about("registry.example/app", image, predicate_type, raw);
    let body = statement.to_json();
    let sig = key.sign(&pae(IN_TOTO_PAYLOAD_TYPE, &body)).expect("sign");
    AttestationEvidence {
        origin: origin(body.len()),
        claimed_type: Some(predicate_type.to_owned()),
        content: AttestationContent::Envelope {
            envelope: Envelope::new(IN_TOTO_PAYLOAD_TYPE, &body, &sig).to_json(),
            annotations: Default::default(),
        },
    }
}

/// Evidence for `reference`.
pub fn evidence(
    reference: &str,
    signatures: Vec<SignatureEvidence>,
    attestations: Vec<AttestationEvidence>,
) -> Evidence<'static> {
    Evidence::new(
        reference.to_owned(),
        names(reference),
        signatures.into(),
        attestations.into(),
    )
}

/// Evidence for a layout image `oci:DIR[:TAG]` (digest: that of `digest_seed`)
/// whose layout records `recorded`.
pub fn layout_evidence(
    reference: &str,
    digest_seed: &str,
    recorded: Option<&str>,
    signatures: Vec<SignatureEvidence>,
    attestations: Vec<AttestationEvidence>,
) -> Evidence<'static> {
    let crate::reference::ImageRef::Layout(l) = reference.parse().expect("reference") else {
        panic!("{reference} is not a layout reference");
    };
    let names = crate::policy::names::layout(&l, digest(digest_seed), recorded).expect("recorded name");
    Evidence::new(reference.to_owned(), names, signatures.into(), attestations.into())
}

/// The image digest `evidence` helpers use for `reference`.
pub fn digest_of(reference: &str) -> Digest {
    name(reference).digest
}

/// A private CA whose leaves sign as certificate publishers' identities.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The root certificate, PEM.
    pub pem: String,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} root CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let pem = params.self_signed(&key).expect("self-sign").pem();
        TestCa {
            issuer: rcgen::Issuer::new(params, key),
            pem,
        }
    }

    /// A code-signing leaf for `email`: its signing key and certificate PEM.
    pub fn leaf(&self, email: &str) -> (SigningKey, String) {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose, SanType};
        let key = KeyPair::generate().expect("leaf key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, email);
        params.subject_alt_names = vec![SanType::Rfc822Name(email.try_into().expect("email"))];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        let signing = SigningKey::from_pkcs8_der(&key.serialize_der()).expect("leaf key as a signing key");
        (signing, cert.pem())
    }
}

/// A simple-signing signature by a certificate's key, the certificate attached.
pub fn certificate_signature(key: &SigningKey, certificate_pem: &str, image: &Digest) -> SignatureEvidence {
    let mut evidence = signature(key, image, &[]);
    if let SignatureContent::SimpleSigning { annotations, .. } = &mut evidence.content {
        annotations.insert(
            crate::cosign::CERTIFICATE_ANNOTATION.to_owned(),
            certificate_pem.to_owned(),
        );
    }
    evidence
}

/// A policy compiled from `yaml` with key files and CA root files (`NAME.pem`) beside it.
pub fn policy_with_roots(yaml: &str, keys: &[(&str, &SigningKey)], roots: &[(&str, &TestCa)]) -> Policy {
    let files = roots.iter().fold(key_files(keys), |files, (name, ca)| {
        files.with(format!("{DIR}/{name}.pem"), ca.pem.clone())
    });
    let (policy, diagnostics) = compile(yaml, &Path::new(DIR).join("policy.yaml"), NOW, &files);
    policy.unwrap_or_else(|| panic!("policy has errors:\n{}", diagnostics.render_human()))
}
