use std::collections::BTreeMap;

use super::*;
use crate::dsse::{IN_TOTO_PAYLOAD_TYPE, envelope_json};
use crate::intoto::Statement;

fn digest(c: char) -> Digest {
    format!("sha256:{}", c.to_string().repeat(64))
        .parse()
        .expect("a valid digest")
}

fn envelope(image: &Digest, predicate_type: &str, predicate: &[u8]) -> AttestationEvidence {
    let statement = Statement::encode_raw("img", image, predicate_type, predicate);
    AttestationEvidence {
        origin: Origin::Tag {
            tag: image.tag_prefix() + ".att",
            layer: digest('e'),
        },
        claimed_type: Some(predicate_type.to_owned()),
        content: AttestationContent::Envelope {
            envelope: envelope_json(IN_TOTO_PAYLOAD_TYPE, &statement, b"not a signature"),
            annotations: BTreeMap::new(),
        },
    }
}

fn found<'a>(
    image: &Digest,
    signatures: &'a [SignatureEvidence],
    attestations: &'a [AttestationEvidence],
) -> Found<'a> {
    Found {
        image: "registry.test/app:1".into(),
        digest: image.clone(),
        annotations: BTreeMap::from([
            (BASE_NAME_ANNOTATION.to_owned(), "registry.test/base:1".to_owned()),
            (BASE_DIGEST_ANNOTATION.to_owned(), digest('b').to_string()),
        ]),
        attached: Vec::new(),
        signatures,
        attestations,
    }
}

#[test]
fn without_a_policy_everything_is_unverified_and_summarised_as_such() {
    let image = digest('a');
    let sbom = crate::testdata::read("sbom/guac/small-legal-cyclonedx.json");
    let vuln = crate::testdata::read("sbom/cosign/vuln-predicate.json");
    let provenance = br#"{"buildDefinition":{"buildType":"https://example.test/build","resolvedDependencies":[
        {"uri":"git+https://github.com/acme/app@refs/heads/main","digest":{"gitCommit":"0123456789abcdef0123456789abcdef01234567"}},
        {"uri":"pkg:docker/registry.test/base@1?platform=linux%2Famd64","digest":{"sha256":"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}},
        {"uri":"pkg:docker/registry.test/nodigest@1"}]},
        "runDetails":{"builder":{"id":"https://example.test/builder"},"metadata":{"invocationId":"run-7"}}}"#;
    let attestations = [
        envelope(&image, crate::predicate::CYCLONEDX, &sbom),
        envelope(&image, crate::predicate::COSIGN_VULN, &vuln),
        envelope(&image, crate::predicate::SLSA_PROVENANCE_V1, provenance),
    ];
    let signatures = [SignatureEvidence {
        origin: Origin::Tag {
            tag: image.tag_prefix() + ".sig",
            layer: digest('d'),
        },
        content: SignatureContent::SimpleSigning {
            payload: b"{}".to_vec(),
            annotations: BTreeMap::new(),
        },
    }];
    let audit = build(
        found(&image, &signatures, &attestations),
        None,
        OffsetDateTime::UNIX_EPOCH,
    );
    assert_eq!(audit.decision, None);
    assert_eq!(audit.signatures.len(), 1);
    assert_eq!(audit.signatures[0].verification.status, Status::Unverified);
    assert_eq!(audit.signatures[0].stated_signer.kind, "key");
    assert!(
        audit
            .attestations
            .iter()
            .all(|a| a.verification.status == Status::Unverified)
    );
    let sbom = &audit.sboms[0];
    assert_eq!(sbom.content, Content::UnverifiedContent);
    assert_eq!(sbom.components, 6);
    assert_eq!(sbom.ecosystems, ["deb", "maven"]);
    assert_eq!(sbom.denied, None);
    let scan = &audit.vulnerabilities[0];
    assert_eq!(scan.scanner.as_deref(), Some("fakescanner.example.com/cosign-testing"));
    assert_eq!(scan.finished_on.as_deref(), Some("2022-04-12T00:10:00Z"));
    assert!(scan.counts.is_empty());
    let p = &audit.provenance[0];
    assert_eq!(p.builder_id.as_deref(), Some("https://example.test/builder"));
    assert_eq!(p.build_type.as_deref(), Some("https://example.test/build"));
    assert_eq!(
        p.source_commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(p.invocation_id.as_deref(), Some("run-7"));
    // the annotation's base, then the provenance's (the one without a digest is not a base)
    assert_eq!(
        audit.bases,
        [
            BaseImage {
                source: "annotation",
                name: "registry.test/base:1".into(),
                digest: Some(digest('b')),
            },
            BaseImage {
                source: "provenance",
                name: "registry.test/base".into(),
                digest: Some(digest('c')),
            },
        ]
    );
}

#[test]
fn unreadable_evidence_fails_and_is_not_summarised() {
    let image = digest('a');
    let attestations = [
        AttestationEvidence {
            origin: Origin::Tag {
                tag: "t".into(),
                layer: digest('e'),
            },
            claimed_type: Some(crate::predicate::CYCLONEDX.into()),
            content: AttestationContent::Unreadable("digest mismatch".into()),
        },
        // twin: an envelope whose payload is not a statement
        AttestationEvidence {
            origin: Origin::Tag {
                tag: "t".into(),
                layer: digest('f'),
            },
            claimed_type: None,
            content: AttestationContent::Envelope {
                envelope: envelope_json(IN_TOTO_PAYLOAD_TYPE, b"{", b"x"),
                annotations: BTreeMap::new(),
            },
        },
    ];
    let audit = build(found(&image, &[], &attestations), None, OffsetDateTime::UNIX_EPOCH);
    assert!(
        audit
            .attestations
            .iter()
            .all(|a| a.verification.status == Status::Failed)
    );
    assert_eq!(
        audit.attestations[0].verification.code,
        Some(ReasonCode::EvidenceMalformed)
    );
    assert!(audit.sboms.is_empty());
}

#[test]
fn a_bundle_states_its_key_hint_and_a_garbled_one_states_nothing() {
    let bundle = crate::bundle::Bundle::key_signed_json(IN_TOTO_PAYLOAD_TYPE, b"{}", b"sig", "hint-123");
    assert_eq!(bundle_signer(&bundle).key_hint.as_deref(), Some("hint-123"));
    assert_eq!(bundle_signer(&bundle).kind, "key");
    assert_eq!(bundle_signer(b"{not json").kind, "unknown");
}

#[test]
fn json_carries_its_version() {
    let audit = failed("x".into(), None, "unreachable".into(), None);
    let json = audit_json(&[audit], None);
    assert_eq!(json["apiVersion"], AUDIT_API_VERSION);
    assert_eq!(json["images"][0]["error"], "unreachable");
}

#[test]
fn real_keyless_evidence_states_its_identity_issuer_and_fulcio_extensions() {
    // a cosign v2 keyless `.att` manifest (slsa-verifier's testdata): the layer's certificate annotation
    let manifest: serde_json::Value = serde_json::from_slice(&crate::testdata::read(
        "slsa-verifier/v1.9.0/container_workflow_dispatch/blobs/sha256/d86a56f046e85503c3e54a6fb12fade50c53eb39bcdddc8fd624cc71ecf3b88c",
    ))
    .expect("manifest");
    let annotations: BTreeMap<String, String> =
        serde_json::from_value(manifest["layers"][0]["annotations"].clone()).expect("annotations");
    assert_eq!(
        layer_signer(&annotations),
        StatedSigner {
            kind: "certificate",
            key_hint: None,
            identity: Some(
                "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v1.9.0"
                    .into()
            ),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            repository: Some("https://github.com/slsa-framework/example-package".into()),
            workflow: Some(
                "https://github.com/slsa-framework/example-package/.github/workflows/verifier-e2e.all.workflow_dispatch.main.all.slsa3.yml@refs/tags/v13.0.30"
                    .into()
            ),
            git_ref: Some("refs/tags/v13.0.30".into()),
        }
    );
    // a Sigstore bundle whose certificate is an e-mail identity (no workflow extensions)
    let bundle = bundle_signer(&crate::testdata::read("bundles/oci-attestation.sigstore.json"));
    assert_eq!(bundle.kind, "certificate");
    assert_eq!(bundle.identity.as_deref(), Some("cody@soyland.com"));
    assert_eq!(bundle.issuer.as_deref(), Some("https://github.com/login/oauth"));
    assert_eq!((bundle.repository, bundle.workflow, bundle.git_ref), (None, None, None));
    // twin: the certificate annotation garbled
    let mut garbled = annotations.clone();
    garbled.insert(
        crate::cosign::CERTIFICATE_ANNOTATION.into(),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
    );
    let garbled = layer_signer(&garbled);
    assert_eq!(garbled.kind, "certificate");
    assert_eq!(garbled.issuer, None);
}
