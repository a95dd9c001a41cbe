//! Helpers: policies from YAML text with key files in a temporary directory,
//! and evidence signed by test keys.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::digest::Digest;
use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, pae};
use crate::gather::{AttestationContent, AttestationEvidence, Origin, SignatureContent, SignatureEvidence};
use crate::intoto::Statement;
use crate::keys::SigningKey;
use crate::policy::{Diagnostics, Evidence, ImageName, Policy, compile};

/// The fixed evaluation time of these tests.
pub const NOW: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

/// A policy compiled from `yaml`; `keys` are written as `NAME.pub` beside it.
pub fn load(yaml: &str, keys: &[(&str, &SigningKey)]) -> (Option<Policy>, Diagnostics) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, key) in keys {
        std::fs::write(dir.path().join(format!("{name}.pub")), key.public_key().to_pem()).expect("write key");
    }
    compile(yaml, &dir.path().join("policy.yaml"), NOW)
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

/// The name of `repo:tag` with the digest of `repo`.
pub fn name(reference: &str) -> ImageName {
    let r = crate::reference::RegistryRef::parse(reference).expect("reference");
    ImageName {
        repository: r.name(),
        tag: r.tag().map(str::to_owned),
        digest: r.digest().cloned().unwrap_or_else(|| digest(&r.name())),
    }
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
    Evidence {
        image: reference.to_owned(),
        name: name(reference),
        signatures: signatures.into(),
        attestations: attestations.into(),
    }
}

/// The image digest `evidence` helpers use for `reference`.
pub fn digest_of(reference: &str) -> Digest {
    name(reference).digest
}
