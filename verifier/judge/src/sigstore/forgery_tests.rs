//! Forgeries built from real production bundles as an attacker without any
//! key builds them, and the differential property behind their refusal: a
//! bundle that sigil and sigstore-rust could read differently is never
//! judged, whatever its media type says.
//!
//! The mutations work on JSON text with ordered, repeatable members, since
//! duplicate members are exactly what `serde_json::Value` cannot hold.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::case_tests::{artifact, cases, read, root_of, run, signatory};
use super::*;
use crate::bundle::{Bundle, BundleError, BundleView};
use crate::verify::{Authority, Rejection, SigstoreRoot, attestation_by};

/// JSON whose objects keep their members in order, duplicates included.
#[derive(Clone, Debug)]
enum Json {
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
    Leaf(Value),
}

impl Json {
    fn parse(bytes: &[u8]) -> Json {
        Json::from(&serde_json::from_slice::<Value>(bytes).expect("real bundle is JSON"))
    }

    fn text(&self) -> String {
        match self {
            Json::Object(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.text()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
            Json::Array(items) => format!("[{}]", items.iter().map(Json::text).collect::<Vec<_>>().join(",")),
            Json::Leaf(v) => v.to_string(),
        }
    }

    /// The members of the object at `path` (an array step takes its first item).
    fn members_at(&mut self, path: &[String]) -> &mut Vec<(String, Json)> {
        let Json::Object(members) = self else {
            panic!("not an object at {path:?}")
        };
        let Some((first, rest)) = path.split_first() else {
            return members;
        };
        let child = members
            .iter_mut()
            .find(|(k, _)| k == first)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no member {first}"));
        match child {
            Json::Array(items) => items.first_mut().expect("non-empty array").members_at(rest),
            other => other.members_at(rest),
        }
    }

    fn has(&mut self, path: &[String], key: &str) -> bool {
        self.members_at(path).iter().any(|(k, _)| k == key)
    }

    fn push(&mut self, path: &[&str], key: &str, value: Json) {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        self.members_at(&path).push((key.to_owned(), value));
    }

    /// Every path to a non-empty object, and that object's member names.
    fn objects(&self, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Vec<String>)>) {
        match self {
            Json::Object(members) => {
                if !members.is_empty() {
                    out.push((prefix.clone(), members.iter().map(|(k, _)| k.clone()).collect()));
                }
                for (k, v) in members {
                    prefix.push(k.clone());
                    v.objects(prefix, out);
                    prefix.pop();
                }
            }
            Json::Array(items) => {
                if let Some(first) = items.first() {
                    first.objects(prefix, out);
                }
            }
            Json::Leaf(_) => {}
        }
    }

    /// Reverses the member order of every object.
    fn reorder(&mut self) {
        match self {
            Json::Object(members) => {
                members.reverse();
                members.iter_mut().for_each(|(_, v)| v.reorder());
            }
            Json::Array(items) => items.iter_mut().for_each(Json::reorder),
            Json::Leaf(_) => {}
        }
    }
}

impl From<&Value> for Json {
    fn from(v: &Value) -> Json {
        match v {
            Value::Object(m) => Json::Object(m.iter().map(|(k, v)| (k.clone(), Json::from(v))).collect()),
            Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            other => Json::Leaf(other.clone()),
        }
    }
}

/// What the attacker brings: another identity's real Fulcio leaf, a genuine
/// message signature of another bundle, and an envelope nobody signed.
struct Donor {
    leaf_b64: String,
    message_signature: Json,
    forged_envelope: Json,
}

/// A statement nobody signed that names `subjects`.
fn forged_statement(subjects: &[&Digest]) -> Vec<u8> {
    let subject: Vec<Value> = subjects
        .iter()
        .map(|d| json!({"name": "forged", "digest": {d.algorithm().name(): d.hex()}}))
        .collect();
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subject,
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://evil.example/build", "externalParameters": {}},
                      "runDetails": {"builder": {"id": "https://github.com/actions/runner/github-hosted"}}}
    })
    .to_string()
    .into_bytes()
}

fn forged_envelope(statement: &[u8]) -> Json {
    Json::from(&json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": STANDARD.encode(statement),
        "signatures": [{"sig": STANDARD.encode([0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01])}]
    }))
}

/// The leaf certificate (base64 DER) of a real bundle.
fn leaf_of(bundle: &[u8]) -> String {
    let b = Bundle::parse(bundle).expect("real bundle");
    let m = b.verification_material;
    match (m.certificate, m.x509_certificate_chain) {
        (Some(c), _) => c.raw_bytes,
        (None, Some(chain)) => chain.certificates[0].raw_bytes.clone(),
        (None, None) => panic!("no certificate"),
    }
}

fn donor_for(target_identity: &str) -> Donor {
    let cody = read("cosign/oci-attestation.sigstore.json");
    let brian = read("sigstore-js/bundleV03-dsse.sigstore");
    let leaf = if target_identity == "cody@soyland.com" {
        &brian
    } else {
        &cody
    };
    let othername: Value = serde_json::from_slice(&read("sigstore-go/othername.sigstore.json")).expect("json");
    Donor {
        leaf_b64: leaf_of(leaf),
        message_signature: Json::from(&othername["messageSignature"]),
        forged_envelope: forged_envelope(&forged_statement(&[&Digest::sha256_of(b"image")])),
    }
}

/// The mutations that give a bundle a second reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mutation {
    ExtraCertificate,
    ExtraChain,
    ExtraContent,
    DuplicatedKey,
    UnknownMember,
}

const MUTATIONS: [Mutation; 5] = [
    Mutation::ExtraCertificate,
    Mutation::ExtraChain,
    Mutation::ExtraContent,
    Mutation::DuplicatedKey,
    Mutation::UnknownMember,
];

fn apply(json: &mut Json, mutation: Mutation, donor: &Donor) {
    let material = ["verificationMaterial"];
    let dsse = json.has(&[], "dsseEnvelope");
    match mutation {
        Mutation::ExtraCertificate => {
            json.push(
                &material,
                "certificate",
                Json::from(&json!({"rawBytes": donor.leaf_b64})),
            );
        }
        Mutation::ExtraChain => json.push(
            &material,
            "x509CertificateChain",
            Json::from(&json!({"certificates": [{"rawBytes": donor.leaf_b64}]})),
        ),
        Mutation::ExtraContent if dsse => json.push(&[], "messageSignature", donor.message_signature.clone()),
        Mutation::ExtraContent => json.push(&[], "dsseEnvelope", donor.forged_envelope.clone()),
        Mutation::DuplicatedKey if dsse => json.push(&[], "dsseEnvelope", donor.forged_envelope.clone()),
        Mutation::DuplicatedKey => json.push(&[], "messageSignature", donor.message_signature.clone()),
        Mutation::UnknownMember => json.push(
            &material,
            "signingCertificate",
            Json::from(&json!({"rawBytes": donor.leaf_b64})),
        ),
    }
}

fn is_ambiguous(outcome: &Result<Verified<BundleClaims>, BundleRejection>) -> bool {
    matches!(outcome, Err(BundleRejection::Malformed(BundleError::Ambiguous(_))))
}

/// Every reading sigil has of bundle bytes refuses them as ambiguous, and so
/// does verification for the case's signer and for anyone at all.
fn assert_refused(case: &Value, text: &str, what: &str) {
    assert_refused_as(case, text, what, true);
}

/// [`assert_refused`]; without `ambiguous`, refusal as malformed JSON also
/// counts (a repeated member whose other value has the wrong type may be
/// met first).
fn assert_refused_as(case: &Value, text: &str, what: &str, ambiguous: bool) {
    let bytes = text.as_bytes();
    let refused =
        |e: &BundleError| matches!(e, BundleError::Ambiguous(_)) || (!ambiguous && matches!(e, BundleError::Json(_)));
    let judged_refused = |o: &Result<Verified<BundleClaims>, BundleRejection>| match o {
        Err(BundleRejection::Malformed(e)) => refused(e),
        _ => false,
    };
    assert!(
        Bundle::parse(bytes).err().as_ref().is_some_and(refused),
        "{what}: Bundle::parse accepted or misjudged it: {:?}",
        Bundle::parse(bytes).map(|_| ())
    );
    assert!(
        BundleView::parse(bytes).err().as_ref().is_some_and(refused),
        "{what}: BundleView::parse"
    );
    let (blob, digest) = artifact(case);
    let art = match (&blob, digest) {
        (Some(b), _) => Artifact::Bytes(b),
        (None, Some(d)) => Artifact::Digest(d),
        (None, None) => unreachable!("artifact() always gives one"),
    };
    let root = root_of(case);
    let outcome = verify_bundle(bytes, art.clone(), &signatory(case), &root, TEST_NOW);
    assert!(judged_refused(&outcome), "{what}: {outcome:?}");
    let anyone = Signatory::Identity(IdentityPolicy::new(
        Matcher::regex(".*").expect("re"),
        Matcher::regex(".*").expect("re"),
    ));
    let outcome = verify_bundle(bytes, art, &anyone, &root, TEST_NOW);
    assert!(judged_refused(&outcome), "{what} (any identity): {outcome:?}");
}

fn accepting_cases() -> Vec<(Value, Vec<u8>)> {
    let accepting: Vec<(Value, Vec<u8>)> = cases()
        .into_iter()
        .filter(|c| c["expect_verify"] == true)
        .map(|c| {
            let bundle = read(c["bundle"].as_str().expect("bundle"));
            (c, bundle)
        })
        .collect();
    assert!(accepting.len() >= 14, "{} accepting cases", accepting.len());
    accepting
}

fn identity_of(case: &Value) -> &str {
    case["identity"]["san"].as_str().unwrap_or_default()
}

#[test]
fn every_combination_of_second_readings_is_refused_for_every_accepting_bundle() {
    let mut checked = 0;
    for (case, bundle) in accepting_cases() {
        let name = case["name"].as_str().expect("name");
        assert!(
            run(&case, &bundle, &root_of(&case), &signatory(&case)).is_ok(),
            "{name} verifies untouched"
        );
        let donor = donor_for(identity_of(&case));
        for subset in 1..(1u32 << MUTATIONS.len()) {
            let chosen: Vec<Mutation> = (0..MUTATIONS.len())
                .filter(|i| subset & (1 << i) != 0)
                .map(|i| MUTATIONS[i])
                .collect();
            for reorder in [false, true] {
                let mut json = Json::parse(&bundle);
                for m in &chosen {
                    apply(&mut json, *m, &donor);
                }
                if reorder {
                    json.reorder();
                }
                assert_refused(&case, &json.text(), &format!("{name} {chosen:?} reordered={reorder}"));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, accepting_cases().len() * 31 * 2);
}

#[test]
fn reordered_members_alone_change_nothing() {
    for (case, bundle) in accepting_cases() {
        let name = case["name"].as_str().expect("name");
        let mut json = Json::parse(&bundle);
        json.reorder();
        let root = root_of(&case);
        let original = run(&case, &bundle, &root, &signatory(&case)).expect("verifies");
        let reordered = run(&case, json.text().as_bytes(), &root, &signatory(&case))
            .unwrap_or_else(|e| panic!("{name}: a reordered bundle still verifies: {e}"));
        assert_eq!(original, reordered, "{name}");
    }
}

/// A self-signed certificate (no CA signed it) claiming the attacker's
/// identity, with the Fulcio issuer extension.
fn self_signed_leaf(email: &str, issuer: &str) -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.subject_alt_names = vec![rcgen::SanType::Rfc822Name(email.try_into().expect("email"))];
    let mut issuer_der = vec![0x0c, issuer.len() as u8];
    issuer_der.extend_from_slice(issuer.as_bytes());
    params.custom_extensions.push(rcgen::CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
        issuer_der,
    ));
    let key = rcgen::KeyPair::generate().expect("key");
    STANDARD.encode(params.self_signed(&key).expect("cert").der())
}

#[test]
fn a_certificate_beside_the_real_chain_does_not_lend_its_identity() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "sigstore-js/bundleV02-dsse")
        .expect("case");
    let bundle = read(case["bundle"].as_str().expect("bundle"));
    let (_, digest) = artifact(&case);
    let digest = digest.expect("digest case");
    let root = root_of(&case);
    let attacker = Signatory::Identity(IdentityPolicy::new(
        Matcher::exact("attacker@evil.example"),
        Matcher::exact("https://github.com/login/oauth"),
    ));
    let leaf = self_signed_leaf("attacker@evil.example", "https://github.com/login/oauth");
    for before_chain in [true, false] {
        let mut json = Json::parse(&bundle);
        let material = json.members_at(&["verificationMaterial".to_owned()]);
        let extra = ("certificate".to_owned(), Json::from(&json!({"rawBytes": leaf})));
        if before_chain {
            material.insert(0, extra);
        } else {
            material.push(extra);
        }
        let forged = json.text();
        let outcome = verify_bundle(
            forged.as_bytes(),
            Artifact::Digest(digest.clone()),
            &attacker,
            &root,
            TEST_NOW,
        );
        assert!(is_ambiguous(&outcome), "before_chain={before_chain}: {outcome:?}");
        // The real signer is refused too: the bundle is not judged at all.
        let outcome = verify_bundle(
            forged.as_bytes(),
            Artifact::Digest(digest.clone()),
            &signatory(&case),
            &root,
            TEST_NOW,
        );
        assert!(is_ambiguous(&outcome), "before_chain={before_chain}: {outcome:?}");
    }
    // Twin: the untouched bundle is the real signer's and not the attacker's.
    assert!(
        verify_bundle(
            &bundle,
            Artifact::Digest(digest.clone()),
            &signatory(&case),
            &root,
            TEST_NOW
        )
        .is_ok()
    );
    assert!(matches!(
        verify_bundle(&bundle, Artifact::Digest(digest), &attacker, &root, TEST_NOW),
        Err(BundleRejection::Identity { .. })
    ));
}

#[test]
fn a_genuine_message_signature_does_not_vouch_for_a_forged_envelope() {
    let case = cases()
        .into_iter()
        .find(|c| c["name"] == "sigstore-go/othername")
        .expect("case");
    let bundle = read(case["bundle"].as_str().expect("bundle"));
    let (_, blob) = artifact(&case);
    let blob = blob.expect("digest case");
    let image = Digest::sha256_of(b"the image under attack");
    let root = root_of(&case);
    let Signatory::Identity(policy) = signatory(&case) else {
        panic!("keyless case")
    };
    // The statement names the signed blob first (so the message signature
    // would bind it) and the image second (so the image check would pass).
    let statement = forged_statement(&[&blob, &image]);
    for envelope_first in [true, false] {
        let mut json = Json::parse(&bundle);
        let top = json.members_at(&[]);
        let extra = ("dsseEnvelope".to_owned(), forged_envelope(&statement));
        if envelope_first {
            top.insert(0, extra);
        } else {
            top.push(extra);
        }
        let forged = json.text().into_bytes();
        let outcome = verify_bundle(
            &forged,
            Artifact::Digest(blob.clone()),
            &signatory(&case),
            &root,
            TEST_NOW,
        );
        assert!(is_ambiguous(&outcome), "envelope_first={envelope_first}: {outcome:?}");
        let content = crate::evidence::AttestationContent::Bundle(forged.clone());
        let authority = Authority::Keyless {
            identity: policy.clone(),
            root: SigstoreRoot::from(root_of(&case)),
        };
        let judged = attestation_by(&content, &authority, &image, "https://slsa.dev/provenance/v1", TEST_NOW);
        assert!(
            matches!(
                judged,
                Err(Rejection::Sigstore(BundleRejection::Malformed(BundleError::Ambiguous(
                    _
                ))))
            ),
            "envelope_first={envelope_first}: {judged:?}"
        );
    }
    // Twin: the genuine bundle still verifies for its blob, and only for it.
    assert!(verify_bundle(&bundle, Artifact::Digest(blob), &signatory(&case), &root, TEST_NOW).is_ok());
    assert!(matches!(
        verify_bundle(&bundle, Artifact::Digest(image), &signatory(&case), &root, TEST_NOW),
        Err(BundleRejection::ArtifactMismatch { .. } | BundleRejection::Signature { .. })
    ));
}

/// A mutation that must make any bundle ambiguous: a repeated member
/// anywhere, an unknown member anywhere, or a second content kind or
/// verification-material form.
#[derive(Clone, Debug)]
enum Random {
    /// Repeat member `member % n` of object `object % m`, with its own value
    /// or with the donor's leaf.
    Repeat {
        object: usize,
        member: usize,
        own_value: bool,
    },
    /// An unknown member in object `object % m`.
    Unknown { object: usize, name: String },
    /// One of the fixed second readings.
    Fixed(usize),
}

fn random_mutation() -> impl Strategy<Value = Random> {
    prop_oneof![
        (any::<usize>(), any::<usize>(), any::<bool>()).prop_map(|(object, member, own_value)| Random::Repeat {
            object,
            member,
            own_value
        }),
        (any::<usize>(), "[a-zA-Z][a-zA-Z0-9]{0,12}").prop_map(|(object, name)| Random::Unknown { object, name }),
        (0..MUTATIONS.len()).prop_map(Random::Fixed),
    ]
}

/// Every member name a bundle object can have.
const KNOWN: &[&str] = &[
    "mediaType",
    "verificationMaterial",
    "dsseEnvelope",
    "messageSignature",
    "publicKey",
    "hint",
    "certificate",
    "x509CertificateChain",
    "certificates",
    "rawBytes",
    "tlogEntries",
    "timestampVerificationData",
    "rfc3161Timestamps",
    "signedTimestamp",
    "logIndex",
    "logId",
    "keyId",
    "kindVersion",
    "kind",
    "version",
    "integratedTime",
    "inclusionPromise",
    "signedEntryTimestamp",
    "inclusionProof",
    "rootHash",
    "treeSize",
    "hashes",
    "checkpoint",
    "envelope",
    "canonicalizedBody",
    "payloadType",
    "payload",
    "signatures",
    "sig",
    "keyid",
    "messageDigest",
    "algorithm",
    "digest",
    "signature",
];

fn apply_random(json: &mut Json, mutation: &Random, donor: &Donor) {
    let mut objects = Vec::new();
    json.objects(&mut Vec::new(), &mut objects);
    match mutation {
        Random::Repeat {
            object,
            member,
            own_value,
        } => {
            let (path, names) = &objects[object % objects.len()];
            let members = json.members_at(path);
            let (key, value) = members[member % names.len()].clone();
            let value = if *own_value {
                value
            } else {
                Json::Leaf(donor.leaf_b64.clone().into())
            };
            members.push((key, value));
        }
        Random::Unknown { object, name } => {
            let name = if KNOWN.contains(&name.as_str()) {
                format!("{name}X")
            } else {
                name.clone()
            };
            let (path, _) = &objects[object % objects.len()];
            json.members_at(path).push((name, Json::Leaf(Value::Null)));
        }
        Random::Fixed(i) => apply(json, MUTATIONS[*i], donor),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_second_readings_of_real_bundles_are_refused(
        which in any::<usize>(),
        mutations in proptest::collection::vec(random_mutation(), 1..4),
        reorder in any::<bool>(),
    ) {
        let accepting = accepting_cases();
        let (case, bundle) = &accepting[which % accepting.len()];
        let donor = donor_for(identity_of(case));
        let mut json = Json::parse(bundle);
        for m in &mutations {
            apply_random(&mut json, m, &donor);
        }
        if reorder {
            json.reorder();
        }
        let well_typed = mutations.iter().all(|m| !matches!(m, Random::Repeat { own_value: false, .. }));
        assert_refused_as(case, &json.text(), &format!("{} {mutations:?}", case["name"]), well_typed);
    }
}
