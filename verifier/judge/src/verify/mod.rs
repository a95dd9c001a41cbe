//! Judgement of signatures: pure functions from evidence and a trusted key to
//! a [`Verified`] claim or a [`Rejection`] that says why.
//!
//! Only this module can construct a [`Verified`] value, so code that decides
//! about images cannot look at a claim that skipped a check: it would not
//! compile.

use std::collections::BTreeMap;
use std::fmt;

use crate::bundle::{Bundle, BundleError};
use crate::digest::Digest;
use crate::dsse::{Envelope, EnvelopeError, IN_TOTO_PAYLOAD_TYPE};
use crate::intoto::{COSIGN_SIGN_V1, Statement, StatementError};
use crate::keys::PublicKey;
use crate::simplesigning::{Payload, PayloadError};

/// A claim that passed every check of the function that made it. There is no
/// public constructor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    /// Crate-private: only verification functions mint these.
    pub(crate) fn new(value: T) -> Verified<T> {
        Verified(value)
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Who made a signature.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Signer {
    /// A public key, named by the hex sha256 of its DER encoding.
    Key { fingerprint: String },
    /// A certificate (keyless Fulcio or private PKI) whose identity passed the policy.
    Certificate { subject: String, issuer: Option<String> },
    /// A Notary Project signature's leaf certificate: its subject DN, and
    /// the trust store of the `notation` publisher that accepted it.
    #[serde(rename_all = "camelCase")]
    Notation { subject: String, trust_store: String },
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Signer::Key { fingerprint } => write!(f, "key sha256:{}", &fingerprint[..fingerprint.len().min(16)]),
            Signer::Certificate {
                subject,
                issuer: Some(issuer),
            } => write!(f, "{subject} (issuer {issuer})"),
            Signer::Certificate { subject, issuer: None } => write!(f, "{subject}"),
            Signer::Notation { subject, trust_store } => write!(f, "{subject} (notation trust store {trust_store})"),
        }
    }
}

/// What a valid image signature says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedImage {
    /// The image digest the signature binds (equal to the image's digest).
    pub image: Digest,
    /// The repository the signer named; advisory (mirrors change it).
    pub docker_reference: Option<String>,
    /// Signed annotations (`-a KEY=VALUE` at signing).
    pub annotations: BTreeMap<String, String>,
    pub signer: Signer,
}

/// Why a piece of evidence does not count. Reports carry it as a stable
/// code too: `ReasonCode::from(&rejection)` ([`crate::policy::report`]).
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    #[error("signature is not valid base64")]
    SignatureEncoding,
    #[error("signature does not verify with {0}")]
    BadSignature(Signer),
    #[error("signed payload is unusable: {0}")]
    Payload(#[from] PayloadError),
    #[error("signature is for image {signed}, not {image}")]
    WrongImage { signed: Digest, image: Digest },
    #[error("signed annotation {key}={expected} is required; {}", found.as_ref().map_or("the signature has none".to_owned(), |f| format!("the signature has {key}={f}")))]
    Annotation {
        key: String,
        expected: String,
        found: Option<String>,
    },
    #[error("layer carries no signature annotation")]
    Unsigned,
    #[error("{0}")]
    Bundle(#[from] BundleError),
    #[error("{0}")]
    Envelope(#[from] EnvelopeError),
    #[error("{0}")]
    Statement(#[from] StatementError),
    #[error("DSSE envelope has {0} signatures; exactly one is required in a bundle")]
    SignatureCount(usize),
    #[error("DSSE payload type is {0:?}, not {IN_TOTO_PAYLOAD_TYPE:?}")]
    PayloadType(String),
    #[error("statement predicate type is {found:?}, not {expected:?}")]
    PredicateType { found: String, expected: String },
    /// Not judged: its storage says it is of another type, and no evidence
    /// of the type asked for exists (listed so that the reader sees what is
    /// there).
    #[error("stored as an attestation of type {claimed:?} (its storage says so; not verified), not {expected:?}")]
    ClaimedType { claimed: String, expected: String },
    #[error("statement has no subject with digest {image}")]
    Subject { image: Digest },
    #[error("bundle holds a message signature, which cannot bind an image")]
    MessageSignature,
    #[error("unreadable evidence: {0}")]
    Unreadable(String),
    /// A keyless or certificate signature that sigstore verification refused.
    #[error("{0}")]
    Sigstore(crate::sigstore::BundleRejection),
    #[error("signature carries no certificate, so it cannot prove an identity")]
    NoCertificate,
    #[error("private-PKI certificates are verified on cosign .sig and .att layers, not in Sigstore bundles")]
    CertificateBundle,
    /// A Notary Project signature that notation's verification refused.
    #[error("notation {validation}: {reason}")]
    Notation {
        failure: NotationFailure,
        validation: &'static str,
        reason: String,
    },
    /// Cosign evidence judged for a `notation` publisher, which vouches
    /// through Notary Project signatures only.
    #[error(
        "a notation publisher vouches through Notary Project signatures only, not cosign signatures or attestations"
    )]
    NotationOnly,
}

/// Verifies a cosign simple-signing signature (`.sig` layer) over the exact
/// payload bytes and binds it to `image`.
pub fn simple_signing(
    payload: &[u8],
    signature_b64: &str,
    key: &PublicKey,
    image: &Digest,
) -> Result<Verified<SignedImage>, Rejection> {
    let signature = crate::cosign::decode_signature(signature_b64).ok_or(Rejection::SignatureEncoding)?;
    let signer = signer_of(key);
    key.verify(payload, &signature)
        .map_err(|_| Rejection::BadSignature(signer.clone()))?;
    bound_payload(payload, image, signer)
}

/// Verifies a DSSE envelope with `key` and returns the verified payload.
/// With `exactly_one`, an envelope with more than one signature is refused
/// (bundles); otherwise any one signature made by `key` suffices. An envelope
/// with no signatures never verifies.
pub fn dsse(envelope: &Envelope, key: &PublicKey, exactly_one: bool) -> Result<Verified<Vec<u8>>, Rejection> {
    dsse_view(&crate::dsse::EnvelopeView::from(envelope), key, exactly_one)
}

/// [`dsse`] over a borrowed envelope: the payload is decoded once and the
/// signature checked over the PAE without building it.
pub fn dsse_view(
    envelope: &crate::dsse::EnvelopeView<'_>,
    key: &PublicKey,
    exactly_one: bool,
) -> Result<Verified<Vec<u8>>, Rejection> {
    let count = envelope.signatures.len();
    if count == 0 || (exactly_one && count != 1) {
        return Err(Rejection::SignatureCount(count));
    }
    let payload = crate::dsse::decode(&envelope.payload).ok_or(EnvelopeError::Base64("payload"))?;
    let head = crate::dsse::pae_head(&envelope.payload_type, payload.len());
    let any_valid = envelope
        .signatures
        .iter()
        .filter_map(|s| crate::dsse::decode(&s.sig))
        .any(|sig| key.verify_parts(&[head.as_bytes(), &payload], &sig).is_ok());
    if !any_valid {
        return Err(Rejection::BadSignature(signer_of(key)));
    }
    Ok(Verified::new(payload))
}

/// Verifies a cosign v3 image signature: a Sigstore bundle holding a DSSE
/// in-toto statement of type `https://sigstore.dev/cosign/sign/v1` whose
/// subject is `image`.
pub fn sign_bundle(bundle: &[u8], key: &PublicKey, image: &Digest) -> Result<Verified<SignedImage>, Rejection> {
    let bundle = Bundle::parse(bundle)?;
    let envelope = bundle.dsse_envelope.as_ref().ok_or(Rejection::MessageSignature)?;
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Rejection::PayloadType(envelope.payload_type.clone()));
    }
    let payload = dsse(envelope, key, true)?.into_inner();
    signed_image_statement(&payload, image, signer_of(key))
}

/// The cosign v3 image-signature statement in a verified DSSE payload: type
/// `https://sigstore.dev/cosign/sign/v1`, with `image` among its subjects.
fn signed_image_statement(payload: &[u8], image: &Digest, signer: Signer) -> Result<Verified<SignedImage>, Rejection> {
    let statement = Statement::parse(payload)?;
    if statement.predicate_type != COSIGN_SIGN_V1 {
        return Err(Rejection::PredicateType {
            found: statement.predicate_type,
            expected: COSIGN_SIGN_V1.to_owned(),
        });
    }
    let subject = statement
        .subject_for(image)
        .ok_or_else(|| Rejection::Subject { image: image.clone() })?;
    Ok(Verified::new(SignedImage {
        image: image.clone(),
        docker_reference: (!subject.name.is_empty()).then(|| subject.name.clone()),
        annotations: subject.annotations.clone(),
        signer,
    }))
}

/// The simple-signing payload of a verified signature, bound to `image`.
fn bound_payload(payload: &[u8], image: &Digest, signer: Signer) -> Result<Verified<SignedImage>, Rejection> {
    let parsed = Payload::parse(payload)?;
    if &parsed.manifest_digest != image {
        return Err(Rejection::WrongImage {
            signed: parsed.manifest_digest,
            image: image.clone(),
        });
    }
    Ok(Verified::new(SignedImage {
        image: image.clone(),
        docker_reference: parsed.docker_reference,
        annotations: parsed.annotations,
        signer,
    }))
}

/// The in-toto statement in a verified DSSE payload, if it has exactly
/// `predicate_type` and names `image`; the statement keeps the payload's
/// buffer for its predicate ([`Statement::parse_owned`]).
fn attested_statement(
    payload: Vec<u8>,
    image: &Digest,
    predicate_type: &str,
    signer: Signer,
) -> Result<Verified<AttestedStatement>, Rejection> {
    let statement = Statement::parse_owned(payload)?;
    if statement.predicate_type != predicate_type {
        return Err(Rejection::PredicateType {
            found: statement.predicate_type,
            expected: predicate_type.to_owned(),
        });
    }
    if statement.subject_for(image).is_none() {
        return Err(Rejection::Subject { image: image.clone() });
    }
    Ok(Verified::new(AttestedStatement { statement, signer }))
}

/// A verified in-toto statement about an image.
#[derive(Clone, Debug)]
pub struct AttestedStatement {
    pub statement: Statement,
    pub signer: Signer,
}

/// Verifies an attestation: a DSSE envelope (cosign `.att` layer) or a
/// Sigstore bundle holding one, signed by `key`, whose in-toto statement
/// (v0.1 or v1) names `image` as a subject and has exactly `predicate_type`.
pub fn attestation(
    content: &crate::evidence::AttestationContent,
    key: &PublicKey,
    image: &Digest,
    predicate_type: &str,
) -> Result<Verified<AttestedStatement>, Rejection> {
    use crate::evidence::AttestationContent;
    let (envelope, exactly_one) = match content {
        AttestationContent::Envelope { envelope, .. } => (crate::dsse::EnvelopeView::parse(envelope)?, false),
        AttestationContent::Bundle(bytes) => {
            let bundle = crate::bundle::BundleView::parse(bytes)?;
            (bundle.dsse_envelope.ok_or(Rejection::MessageSignature)?, true)
        }
        AttestationContent::Unreadable(reason) => return Err(Rejection::Unreadable(reason.clone())),
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(Rejection::PayloadType(envelope.payload_type.into_owned()));
    }
    let payload = dsse_view(&envelope, key, exactly_one)?.into_inner();
    drop(envelope);
    attested_statement(payload, image, predicate_type, signer_of(key))
}

/// The judgement of one piece of attestation evidence.
#[derive(Clone, Debug)]
pub struct AttestationCheck {
    pub origin: crate::evidence::Origin,
    pub outcome: Result<Verified<AttestedStatement>, Rejection>,
}

/// Judges every attestation found for `image` against `key` and the one
/// predicate type asked for. Evidence whose storage claims another predicate
/// type is skipped (it is about something else); the claim is never trusted
/// for acceptance, only the signed statement is.
pub fn judge_attestations(
    evidence: &[crate::evidence::AttestationEvidence],
    key: &PublicKey,
    image: &Digest,
    predicate_type: &str,
) -> Vec<AttestationCheck> {
    check_attestations(evidence, predicate_type, |content| {
        attestation(content, key, image, predicate_type)
    })
}

/// One [`AttestationCheck`] per piece of evidence that may be of
/// `predicate_type` (what its storage claims, or unclaimed), judged by `verify`.
/// When there is none, each piece claiming another type is listed, unjudged,
/// as [`Rejection::ClaimedType`], so that a report names the types present.
pub(crate) fn check_attestations(
    evidence: &[crate::evidence::AttestationEvidence],
    predicate_type: &str,
    verify: impl Fn(&crate::evidence::AttestationContent) -> Result<Verified<AttestedStatement>, Rejection>,
) -> Vec<AttestationCheck> {
    let may_be_wanted =
        |e: &&crate::evidence::AttestationEvidence| e.claimed_type.as_deref().is_none_or(|t| t == predicate_type);
    if !evidence.iter().any(|e| may_be_wanted(&e)) {
        return evidence
            .iter()
            .filter_map(|e| {
                Some(AttestationCheck {
                    origin: e.origin.clone(),
                    outcome: Err(Rejection::ClaimedType {
                        claimed: e.claimed_type.clone()?,
                        expected: predicate_type.to_owned(),
                    }),
                })
            })
            .collect();
    }
    evidence
        .iter()
        .filter(may_be_wanted)
        .map(|e| AttestationCheck {
            origin: e.origin.clone(),
            outcome: verify(&e.content),
        })
        .collect()
}

/// Checks that a verified signature carries every required annotation.
pub fn require_annotations(signed: &SignedImage, required: &BTreeMap<String, String>) -> Result<(), Rejection> {
    for (key, expected) in required {
        let found = signed.annotations.get(key);
        if found != Some(expected) {
            return Err(Rejection::Annotation {
                key: key.clone(),
                expected: expected.clone(),
                found: found.cloned(),
            });
        }
    }
    Ok(())
}

fn signer_of(key: &PublicKey) -> Signer {
    Signer::Key {
        fingerprint: key.fingerprint(),
    }
}

/// The judgement of one piece of signature evidence.
#[derive(Clone, Debug)]
pub struct SignatureCheck {
    pub origin: crate::evidence::Origin,
    pub outcome: Result<Verified<SignedImage>, Rejection>,
}

/// Verifies one piece of signature evidence (a cosign `.sig` layer or a
/// cosign v3 bundle) with `key` and binds it to `image`.
pub fn signature(
    content: &crate::evidence::SignatureContent,
    key: &PublicKey,
    image: &Digest,
) -> Result<Verified<SignedImage>, Rejection> {
    use crate::evidence::SignatureContent;
    match content {
        SignatureContent::SimpleSigning { payload, annotations } => {
            let sig = crate::cosign::annotation(annotations, crate::cosign::SIGNATURE_ANNOTATION)
                .ok_or(Rejection::Unsigned)?;
            simple_signing(payload, sig, key, image)
        }
        SignatureContent::Bundle(bytes) => sign_bundle(bytes, key, image),
        SignatureContent::Unreadable(reason) => Err(Rejection::Unreadable(reason.clone())),
    }
}

/// Judges every signature found for `image` against `key` and the required
/// annotations. Pure: the evidence was gathered before.
pub fn judge_signatures(
    evidence: &[crate::evidence::SignatureEvidence],
    key: &PublicKey,
    image: &Digest,
    required: &BTreeMap<String, String>,
) -> Vec<SignatureCheck> {
    check_each(evidence, required, |content| signature(content, key, image))
}

/// One [`SignatureCheck`] per piece of evidence: `verify` judges its
/// content, then the required annotations must be on what it signed.
pub(crate) fn check_each(
    evidence: &[crate::evidence::SignatureEvidence],
    required: &BTreeMap<String, String>,
    verify: impl Fn(&crate::evidence::SignatureContent) -> Result<Verified<SignedImage>, Rejection>,
) -> Vec<SignatureCheck> {
    evidence
        .iter()
        .map(|e| SignatureCheck {
            origin: e.origin.clone(),
            outcome: verify(&e.content).and_then(|signed| require_annotations(&signed, required).map(|()| signed)),
        })
        .collect()
}

mod authority;
mod keyless;
mod notation;
pub use authority::{Authority, AuthorityError, SigstoreRoot};
pub use keyless::{attestation_by, judge_attestations_by, judge_signatures_by, signature_by};
pub use notation::{NotationCheck, NotationFailure, NotationTrust, notation_signatures_by};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::simplesigning::payload;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn image() -> Digest {
        Digest::sha256_of(b"image")
    }

    fn signed_payload(key: &SigningKey, digest: &Digest, ann: &BTreeMap<String, String>) -> (Vec<u8>, String) {
        let p = payload("r/a", digest, ann);
        let sig = key.sign(&p).expect("sign");
        (p, STANDARD.encode(sig))
    }

    #[test]
    fn simple_signing_accepts_and_its_twins_are_rejected() {
        let key = SigningKey::generate().expect("key");
        let other = SigningKey::generate().expect("key");
        let ann = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let (p, sig) = signed_payload(&key, &image(), &ann);
        let ok = simple_signing(&p, &sig, &key.public_key(), &image()).expect("verifies");
        assert_eq!(ok.annotations, ann);
        assert!(require_annotations(&ok, &ann).is_ok());
        let want_other = BTreeMap::from([("env".to_owned(), "dev".to_owned())]);
        assert!(matches!(
            require_annotations(&ok, &want_other),
            Err(Rejection::Annotation { .. })
        ));
        // wrong key
        assert!(matches!(
            simple_signing(&p, &sig, &other.public_key(), &image()),
            Err(Rejection::BadSignature(_))
        ));
        // one flipped signature byte
        let mut raw = STANDARD.decode(&sig).expect("b64");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let flipped = STANDARD.encode(&raw);
        assert!(matches!(
            simple_signing(&p, &flipped, &key.public_key(), &image()),
            Err(Rejection::BadSignature(_))
        ));
        // one flipped payload byte
        let mut tampered = p.clone();
        tampered[10] ^= 1;
        assert!(matches!(
            simple_signing(&tampered, &sig, &key.public_key(), &image()),
            Err(Rejection::BadSignature(_))
        ));
        // a valid signature for another image
        let other_image = Digest::sha256_of(b"other");
        let (p2, sig2) = signed_payload(&key, &other_image, &BTreeMap::new());
        assert!(matches!(
            simple_signing(&p2, &sig2, &key.public_key(), &image()),
            Err(Rejection::WrongImage { .. })
        ));
        assert_eq!(
            simple_signing(&p, "!!", &key.public_key(), &image()),
            Err(Rejection::SignatureEncoding)
        );
    }

    fn sign_bundle_for(key: &SigningKey, statement: &Statement, payload_type: &str) -> Vec<u8> {
        let body = statement.to_json();
        let sig = key.sign(&crate::dsse::pae(payload_type, &body)).expect("sign");
        Bundle::key_signed_json(payload_type, &body, &sig, "hint")
    }

    #[test]
    fn sign_bundle_accepts_and_its_twins_are_rejected() {
        let key = SigningKey::generate().expect("key");
        let st = Statement::about("r/a", &image(), COSIGN_SIGN_V1, crate::intoto::empty_predicate(b"{}"));
        let good = sign_bundle_for(&key, &st, IN_TOTO_PAYLOAD_TYPE);
        assert!(sign_bundle(&good, &key.public_key(), &image()).is_ok());
        let other = SigningKey::generate().expect("key");
        assert!(matches!(
            sign_bundle(&good, &other.public_key(), &image()),
            Err(Rejection::BadSignature(_))
        ));
        assert!(matches!(
            sign_bundle(&good, &key.public_key(), &Digest::sha256_of(b"x")),
            Err(Rejection::Subject { .. })
        ));
        let wrong_pt = Statement {
            predicate_type: "https://slsa.dev/provenance/v1".into(),
            ..st.clone()
        };
        let b = sign_bundle_for(&key, &wrong_pt, IN_TOTO_PAYLOAD_TYPE);
        assert!(matches!(
            sign_bundle(&b, &key.public_key(), &image()),
            Err(Rejection::PredicateType { .. })
        ));
        let b = sign_bundle_for(&key, &st, "application/json");
        assert!(matches!(
            sign_bundle(&b, &key.public_key(), &image()),
            Err(Rejection::PayloadType(_))
        ));
        // zero and two signatures
        let mut parsed = Bundle::parse(&good).expect("parses");
        let env = parsed.dsse_envelope.as_mut().expect("dsse");
        let one = env.signatures[0].clone();
        env.signatures.clear();
        assert_eq!(
            sign_bundle(&parsed.to_json(), &key.public_key(), &image()),
            Err(Rejection::SignatureCount(0))
        );
        let env = parsed.dsse_envelope.as_mut().expect("dsse");
        env.signatures = vec![one.clone(), one];
        assert_eq!(
            sign_bundle(&parsed.to_json(), &key.public_key(), &image()),
            Err(Rejection::SignatureCount(2))
        );
    }

    #[test]
    fn dsse_known_answer_vector() {
        let key = PublicKey::from_pem(&crate::testdata::text("dsse/public_key.pem")).expect("pem");
        for (file, ok) in [
            ("envelope.json", true),
            ("envelope-der-signature.json", true),
            ("envelope-keyid.json", true),
            ("envelope-tampered-payload.json", false),
            ("envelope-tampered-payload-type.json", false),
            ("envelope-flipped-signature.json", false),
            ("envelope-no-signatures.json", false),
        ] {
            let env = Envelope::parse(&crate::testdata::read(format!("dsse/{file}"))).expect("parses");
            assert_eq!(dsse(&env, &key, false).is_ok(), ok, "{file}");
        }
    }

    #[test]
    fn real_bundle_statements_parse_and_the_key_signed_one_verifies() {
        let mut statements = 0;
        for sub in ["sigstore-go", "sigstore-js", "cosign"] {
            for (path, bytes) in crate::testdata::files(format!("bundles/shared/{sub}"), &["json", "sigstore"]) {
                if path.ends_with("statement.json") {
                    continue; // the bare statement the sigstore-js bundles sign, not a bundle
                }
                let bundle = Bundle::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if let Some(envelope) = bundle.dsse_envelope {
                    let statement = Statement::parse(&envelope.payload_bytes().expect("payload")).expect("statement");
                    assert!(!statement.predicate_type.is_empty(), "{}", path.display());
                    statements += 1;
                }
            }
        }
        assert!(statements >= 10, "{statements}");
        // npm's registry key signed this production publish attestation
        let key =
            PublicKey::from_pem(&crate::testdata::text("bundles/shared/sigstore-go/publish_key.pub")).expect("pem");
        let bundle =
            Bundle::parse(&crate::testdata::read("bundles/shared/sigstore-go/bundle-publish.json")).expect("bundle");
        let envelope = bundle.dsse_envelope.expect("dsse");
        let payload = dsse(&envelope, &key, true)
            .expect("verifies with npm's key")
            .into_inner();
        let statement = Statement::parse(&payload).expect("statement");
        assert_eq!(
            statement.predicate_type,
            "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
        );
        let mut tampered = envelope.clone();
        let mut bytes = envelope.payload_bytes().expect("payload");
        bytes[20] ^= 1;
        tampered.payload = STANDARD.encode(bytes);
        assert!(matches!(dsse(&tampered, &key, true), Err(Rejection::BadSignature(_))));
        let other = SigningKey::generate().expect("key").public_key();
        assert!(matches!(dsse(&envelope, &other, true), Err(Rejection::BadSignature(_))));
    }
}
