//! A Sigstore instance made by the tests: a P-384 root and intermediate CA, a
//! Fulcio-style leaf (email SAN, issuer and repository extensions, 10-minute
//! validity), and a Rekor log key that signs entry timestamps over canonical
//! hashedrekord entries. Every failure path is driven from here with a fixed
//! clock: the integrated time the log signs is the signing time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PublicKeyData as _, SanType, SigningKey as _,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;

/// The leaf is valid for ten minutes from here.
const ISSUED: OffsetDateTime = datetime!(2025-01-01 12:00:00 UTC);
const ISSUER_URL: &str = "https://issuer.example";
const REPO: &str = "https://github.com/acme/app";

fn der_utf8(s: &str) -> Vec<u8> {
    let mut out = vec![0x0c, s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

struct Pki {
    root_pem: String,
    intermediate_pem: String,
    leaf_pem: String,
    leaf_key: KeyPair,
    log_key: KeyPair,
}

fn ca(params_name: &str) -> (CertificateParams, KeyPair) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.distinguished_name.push(rcgen::DnType::CommonName, params_name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = datetime!(2024-01-01 0:00 UTC);
    p.not_after = datetime!(2034-01-01 0:00 UTC);
    (p, key)
}

fn pki() -> Pki {
    let (root_params, root_key) = ca("test root");
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root_params, root_key);
    let (int_params, int_key) = ca("test intermediate");
    let intermediate = int_params.signed_by(&int_key, &root_issuer).expect("intermediate");
    let int_issuer = Issuer::new(int_params, int_key);
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    p.subject_alt_names = vec![SanType::Rfc822Name("dev@example.com".try_into().expect("ia5"))];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = ISSUED;
    p.not_after = ISSUED + time::Duration::minutes(10);
    p.custom_extensions = vec![
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 8], der_utf8(ISSUER_URL)),
        CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, 12], der_utf8(REPO)),
    ];
    let leaf = p.signed_by(&leaf_key, &int_issuer).expect("leaf");
    Pki {
        root_pem: root.pem(),
        intermediate_pem: intermediate.pem(),
        leaf_pem: leaf.pem(),
        leaf_key,
        log_key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("log key"),
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    Certificate::from_pem_chain(pem).expect("pem")[0].der().to_vec()
}

fn log_id(log_key: &KeyPair) -> Vec<u8> {
    crate::digest::Digest::sha256_of(&log_key.subject_public_key_info()).raw()
}

impl Pki {
    fn root(&self, log_key: &KeyPair) -> TrustedRoot {
        let root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": "https://rekor.test", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(log_key.subject_public_key_info()),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2024-01-01T00:00:00Z"}},
                "logId": {"keyId": STANDARD.encode(log_id(log_key))}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "test", "commonName": "test"}, "uri": "https://ca.test",
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(der_of(&self.intermediate_pem))},
                    {"rawBytes": STANDARD.encode(der_of(&self.root_pem))}
                ]},
                "validFor": {"start": "2024-01-01T00:00:00Z"}
            }],
            "ctlogs": [], "timestampAuthorities": []
        });
        TrustedRoot::from_json(root.to_string().as_bytes()).expect("test root")
    }

    /// A signature over `artifact`, its hashedrekord body for `logged`, and
    /// a SET by `log_key` at `at`, as a cosign v2 Rekor bundle annotation.
    fn sign(&self, artifact: &[u8], logged: &[u8], at: OffsetDateTime, log_key: &KeyPair) -> (String, String) {
        let signature = STANDARD.encode(self.leaf_key.sign(artifact).expect("sign"));
        let body = json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": crate::digest::Digest::sha256_of(logged).hex()}},
                "signature": {"content": signature, "publicKey": {"content": STANDARD.encode(&self.leaf_pem)}}
            }
        });
        let body = STANDARD.encode(body.to_string());
        let id = hex::encode(log_id(&self.log_key));
        let t = at.unix_timestamp();
        // The SET covers the canonical (sorted-key) JSON of these four fields.
        let canonical = format!(r#"{{"body":"{body}","integratedTime":{t},"logID":"{id}","logIndex":7}}"#);
        let set = STANDARD.encode(log_key.sign(canonical.as_bytes()).expect("set"));
        let rekor = json!({"SignedEntryTimestamp": set, "Payload": {"body": body, "integratedTime": t, "logIndex": 7, "logID": id}});
        (signature, rekor.to_string())
    }

    fn layer(
        &self,
        rekor: Option<&str>,
        signature: &str,
        policy: &IdentityPolicy,
        root: &TrustedRoot,
    ) -> Result<CertificateClaims, BundleRejection> {
        verify_cosign_v2_layer(
            ARTIFACT,
            signature,
            &self.leaf_pem,
            Some(&self.intermediate_pem),
            rekor,
            policy,
            root,
        )
        .map(|v| v.into_inner())
    }
}

const ARTIFACT: &[u8] = b"{\"critical\":{}}";

fn policy() -> IdentityPolicy {
    IdentityPolicy::new(Matcher::exact("dev@example.com"), Matcher::exact(ISSUER_URL))
}

#[test]
fn the_test_instance_verifies_and_every_check_can_fail() {
    let pki = pki();
    let root = pki.root(&pki.log_key);
    let in_window = ISSUED + time::Duration::minutes(1);
    let (sig, rekor) = pki.sign(ARTIFACT, ARTIFACT, in_window, &pki.log_key);
    let ok = pki.layer(Some(&rekor), &sig, &policy(), &root).expect("verifies");
    assert_eq!(ok.signing_time, Some(in_window));
    assert_eq!(
        ok.identity.extensions.get("sourceRepositoryURI").map(String::as_str),
        Some(REPO)
    );
    assert_eq!(ok.log_entry.as_ref().map(|e| e.log_index), Some(7));

    // Signed after the certificate expired / before it was valid.
    let (s, late) = pki.sign(ARTIFACT, ARTIFACT, ISSUED + time::Duration::minutes(11), &pki.log_key);
    let late = pki.layer(Some(&late), &s, &policy(), &root).expect_err("expired");
    assert!(
        matches!(late, BundleRejection::CertificateValidity { expired: true, .. }),
        "{late}"
    );
    assert!(
        late.to_string()
            .starts_with("certificate expired before the signing time"),
        "{late}"
    );
    let (s, early) = pki.sign(ARTIFACT, ARTIFACT, ISSUED - time::Duration::minutes(1), &pki.log_key);
    assert!(matches!(
        pki.layer(Some(&early), &s, &policy(), &root),
        Err(BundleRejection::CertificateValidity { expired: false, .. })
    ));
    // A SET by a key the root does not hold, or with a flipped byte.
    let stranger = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
    let (s, forged) = pki.sign(ARTIFACT, ARTIFACT, in_window, &stranger);
    assert!(matches!(
        pki.layer(Some(&forged), &s, &policy(), &root),
        Err(BundleRejection::TransparencyLog { .. })
    ));
    let mut flipped: Value = serde_json::from_str(&rekor).expect("json");
    let mut set = STANDARD
        .decode(flipped["SignedEntryTimestamp"].as_str().expect("set"))
        .expect("b64");
    let n = set.len() - 1;
    set[n] ^= 1;
    flipped["SignedEntryTimestamp"] = STANDARD.encode(set).into();
    assert!(pki.layer(Some(&flipped.to_string()), &sig, &policy(), &root).is_err());
    // The logged entry is for another artifact than the one signed.
    let (s, other_entry) = pki.sign(ARTIFACT, b"another", in_window, &pki.log_key);
    assert!(matches!(
        pki.layer(Some(&other_entry), &s, &policy(), &root),
        Err(BundleRejection::TransparencyLog { .. } | BundleRejection::ArtifactMismatch { .. })
    ));
    // The signature over the payload is not the leaf's.
    let mut bad_sig = STANDARD.decode(&sig).expect("b64");
    let n = bad_sig.len() - 1;
    bad_sig[n] ^= 1;
    assert!(
        pki.layer(Some(&rekor), &STANDARD.encode(bad_sig), &policy(), &root)
            .is_err()
    );
    // Roots that cannot vouch: another log, no CA, or no Rekor bundle at all.
    let other_log_root = pki.root(&stranger);
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &policy(), &other_log_root),
        Err(BundleRejection::UnknownLog { .. })
    ));
    let public = TrustedRoot::public_good();
    assert!(pki.layer(Some(&rekor), &sig, &policy(), public).is_err());
    assert!(matches!(
        pki.layer(None, &sig, &policy(), &root),
        Err(BundleRejection::UnknownLog { .. })
    ));
    // Identity, issuer and extension policies.
    let who = |s: &str, i: &str| IdentityPolicy::new(Matcher::exact(s), Matcher::exact(i));
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &who("eve@example.com", ISSUER_URL), &root),
        Err(BundleRejection::Identity { .. })
    ));
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &who("dev@example.com", "https://other"), &root),
        Err(BundleRejection::Issuer { .. })
    ));
    let repo = |r: &str| {
        policy()
            .require_extension("sourceRepositoryURI", Matcher::exact(r))
            .expect("known")
    };
    assert!(pki.layer(Some(&rekor), &sig, &repo(REPO), &root).is_ok());
    assert!(matches!(
        pki.layer(Some(&rekor), &sig, &repo("https://github.com/evil/app"), &root),
        Err(BundleRejection::Extension { .. })
    ));
    // Malformed Rekor bundles are reasons, not panics.
    for bad in [
        "{",
        "{}",
        r#"{"SignedEntryTimestamp":"x","Payload":{"body":"!!","integratedTime":1,"logIndex":1,"logID":"00"}}"#,
    ] {
        assert!(pki.layer(Some(bad), &sig, &policy(), &root).is_err(), "{bad}");
    }
}

#[test]
fn private_pki_certificates_chain_to_the_callers_roots() {
    let pki = pki();
    let roots = Certificate::from_pem_chain(&pki.root_pem).expect("root");
    let sig = STANDARD.encode(pki.leaf_key.sign(ARTIFACT).expect("sign"));
    let who = IdentityPolicy::subject_only(Matcher::exact("dev@example.com"));
    let public = TrustedRoot::public_good();
    let at = |now: OffsetDateTime, roots: &[Certificate], chain: Option<&str>| {
        verify_certificate_signature(ARTIFACT, &sig, &pki.leaf_pem, chain, None, roots, &who, public, now)
    };
    let now = ISSUED + time::Duration::minutes(5);
    let ok = at(now, &roots, Some(&pki.intermediate_pem))
        .expect("verifies")
        .into_inner();
    assert_eq!(ok.signing_time, None);
    assert!(matches!(
        at(ISSUED + time::Duration::hours(1), &roots, Some(&pki.intermediate_pem)),
        Err(BundleRejection::Chain { .. })
    ));
    assert!(
        matches!(at(now, &roots, None), Err(BundleRejection::Chain { .. })),
        "the intermediate is needed"
    );
    let other = pki_other_root();
    assert!(matches!(
        at(now, &other, Some(&pki.intermediate_pem)),
        Err(BundleRejection::Chain { .. })
    ));
    let wrong = IdentityPolicy::subject_only(Matcher::exact("eve@example.com"));
    assert!(matches!(
        verify_certificate_signature(
            ARTIFACT,
            &sig,
            &pki.leaf_pem,
            Some(&pki.intermediate_pem),
            None,
            &roots,
            &wrong,
            public,
            now
        ),
        Err(BundleRejection::Identity { .. })
    ));
    assert!(matches!(
        verify_certificate_signature(
            b"other",
            &sig,
            &pki.leaf_pem,
            Some(&pki.intermediate_pem),
            None,
            &roots,
            &who,
            public,
            now
        ),
        Err(BundleRejection::Signature { .. })
    ));
    // With a Rekor entry, the time is the log's, and the log must be trusted.
    let log_root = pki.root(&pki.log_key);
    let (sig2, rekor) = pki.sign(ARTIFACT, ARTIFACT, ISSUED + time::Duration::minutes(2), &pki.log_key);
    let with_log = verify_certificate_signature(
        ARTIFACT,
        &sig2,
        &pki.leaf_pem,
        Some(&pki.intermediate_pem),
        Some(&rekor),
        &roots,
        &policy(),
        &log_root,
        datetime!(2030-01-01 0:00 UTC),
    )
    .expect("verifies at the logged time, long after expiry")
    .into_inner();
    assert_eq!(with_log.signing_time, Some(ISSUED + time::Duration::minutes(2)));
}

fn pki_other_root() -> Vec<Certificate> {
    let (p, k) = ca("another root");
    Certificate::from_pem_chain(&p.self_signed(&k).expect("root").pem()).expect("pem")
}
