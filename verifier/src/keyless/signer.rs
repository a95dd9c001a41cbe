//! The one signer the write side holds: a key (optionally with its
//! signatures logged in Rekor, `--tlog-upload`), or a keyless [`Session`].
//! Each operation returns evidence already judged by sigil's verifier
//! (module docs of [`super`]); the storage code is the same for both.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use url::Url;

use std::sync::Arc;

use super::rekor::{self, Logged, Proposed};
use super::{Credential, KeylessError, Session, http, tsa};
use crate::bundle::{
    BUNDLE_V03, Bundle, MessageDigest, MessageSignature, PublicKeyHint, RawBytes, Rfc3161Timestamp,
    TimestampVerificationData, VerificationMaterial,
};
use crate::cosign::{self, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, REKOR_BUNDLE_ANNOTATION, RFC3161_ANNOTATION};
use crate::digest::Digest;
use crate::dsse::{self, Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::keys::{PublicKey, SigningKey};
use crate::sigstore::{Artifact, LayerCertificate, LayerContent, Signatory};
use crate::verify::SigstoreRoot;

/// A Rekor (and optional timestamp authority) that key-based signatures
/// are logged in (`--tlog-upload`), and the root that must trust it.
pub struct KeyLog {
    client: http::Client,
    rekor: Url,
    tsa: Option<Url>,
    root: SigstoreRoot,
}

impl KeyLog {
    pub fn new(rekor: Url, tsa: Option<Url>, root: SigstoreRoot) -> Result<KeyLog, KeylessError> {
        Ok(KeyLog {
            client: http::Client::new()?,
            rekor,
            tsa,
            root,
        })
    }
}

/// Who signs.
#[derive(Clone, Copy)]
pub enum Signer<'a> {
    /// A key; with `log`, each signature is logged and its entry attached.
    Key {
        key: &'a SigningKey,
        log: Option<&'a KeyLog>,
    },
    /// Keyless: the session's current ephemeral key and certificate.
    Keyless(&'a Session),
}

/// A tag-form (`.sig`) signature: the signature and the annotations that
/// go with it on the layer (certificate, chain, Rekor bundle, timestamp).
#[derive(Clone, Debug)]
pub struct LayerSignature {
    pub signature: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

/// What is signed: a message (logged by its sha256) or an in-toto
/// statement in a DSSE envelope.
#[derive(Clone, Copy)]
enum Content<'p> {
    Message { bytes: &'p [u8], digest: &'p Digest },
    Statement(&'p [u8]),
}

/// One signature and the evidence made for it.
struct Made {
    signature: Vec<u8>,
    /// The envelope, for a statement.
    envelope: Option<Vec<u8>>,
    logged: Option<Logged>,
    timestamp: Option<Vec<u8>>,
    who: Who,
}

enum Who {
    Key(PublicKey),
    Certificate(Arc<Credential>),
}

impl<'a> Signer<'a> {
    /// A plain key, nothing logged (the offline default).
    pub fn key(key: &'a SigningKey) -> Signer<'a> {
        Signer::Key { key, log: None }
    }

    /// The key whose earlier signatures count as duplicates of a new one:
    /// only an unlogged key's (a keyless certificate is new each run, and
    /// a logged signature needs its own entry).
    pub fn duplicate_key(&self) -> Option<PublicKey> {
        match self {
            Signer::Key { key, log: None } => Some(key.public_key()),
            _ => None,
        }
    }

    /// The public key, when signing with a key (reports).
    pub fn public_key(&self) -> Option<PublicKey> {
        match self {
            Signer::Key { key, .. } => Some(key.public_key()),
            Signer::Keyless(_) => None,
        }
    }

    /// Signs `content`, logs the signature, and timestamps it when asked.
    async fn make(&self, content: Content<'_>) -> Result<Made, KeylessError> {
        let (key, who, verifier_pem, client, rekor, tsa_url) = match self {
            Signer::Key { key, log } => {
                let public = key.public_key();
                let pem = public.to_pem();
                match log {
                    Some(log) => (
                        *key,
                        Who::Key(public),
                        Some(pem),
                        Some(&log.client),
                        Some(&log.rekor),
                        log.tsa.as_ref(),
                    ),
                    None => (*key, Who::Key(public), None, None, None, None),
                }
            }
            Signer::Keyless(session) => {
                let credential = session.credential().await?;
                let pem = credential.issued.leaf_pem.clone();
                let services = session.services();
                return make_with(
                    &credential.key,
                    Who::Certificate(credential.clone()),
                    content,
                    Some((session.client(), &services.rekor, services.tsa.as_ref(), pem)),
                )
                .await;
            }
        };
        let log = match (verifier_pem, client, rekor) {
            (Some(pem), Some(client), Some(rekor)) => Some((client, rekor, tsa_url, pem)),
            _ => None,
        };
        make_with(key, who, content, log).await
    }

    fn root(&self) -> Option<&'a SigstoreRoot> {
        match self {
            Signer::Key { log: Some(log), .. } => Some(&log.root),
            Signer::Key { log: None, .. } => None,
            Signer::Keyless(session) => Some(session.root()),
        }
    }

    /// Who the verification requires.
    fn signatory(&self, made: &Made) -> Signatory {
        match (&made.who, self) {
            (Who::Certificate(_), Signer::Keyless(session)) => Signatory::Identity(session.policy().clone()),
            (Who::Key(key), _) => Signatory::key(key.clone()),
            // A certificate only comes from a session.
            (Who::Certificate(_), Signer::Key { key, .. }) => Signatory::key(key.public_key()),
        }
    }

    /// A tag-form signature over a simple-signing `payload`, with its
    /// layer annotations, verified as the stored layer will be.
    pub async fn sign_payload(&self, payload: &[u8]) -> Result<LayerSignature, KeylessError> {
        let digest = Digest::sha256_of(payload);
        let made = self
            .make(Content::Message {
                bytes: payload,
                digest: &digest,
            })
            .await?;
        let annotations = layer_annotations(&made);
        if let Some(root) = self.root() {
            let refused = |rejection| KeylessError::Refused {
                what: "signature",
                rejection,
            };
            match (&made.who, self.signatory(&made)) {
                (Who::Certificate(credential), Signatory::Identity(policy)) => {
                    let signature_b64 = STANDARD.encode(&made.signature);
                    crate::sigstore::verify_cosign_v2_layer(
                        LayerContent::Message {
                            payload,
                            signature_b64: &signature_b64,
                        },
                        layer_certificate(credential, &annotations),
                        &policy,
                        root.get(),
                        OffsetDateTime::now_utc(),
                    )
                    .map_err(refused)?;
                    // The layer keeps only the SET: Rekor's inclusion proof
                    // and checkpoint are judged too, in a bundle.
                    let bundle = message_bundle(&made, &digest)?;
                    check_bundle(
                        &bundle,
                        Artifact::Bytes(payload),
                        &Signatory::Identity(policy),
                        root,
                        "signature",
                    )?;
                }
                (_, who) => {
                    // A key's logged signature, judged as a bundle.
                    let bundle = message_bundle(&made, &digest)?;
                    check_bundle(&bundle, Artifact::Bytes(payload), &who, root, "signature")?;
                }
            }
        }
        Ok(LayerSignature {
            signature: made.signature,
            annotations,
        })
    }

    /// A tag-form (`.att`) DSSE envelope around `statement` for `image`,
    /// with its layer annotations, verified as the stored layer will be.
    pub async fn sign_envelope(
        &self,
        statement: &[u8],
        image: &Digest,
    ) -> Result<(Vec<u8>, BTreeMap<String, String>), KeylessError> {
        let made = self.make(Content::Statement(statement)).await?;
        let annotations = layer_annotations(&made);
        let envelope = made.envelope.clone().unwrap_or_default();
        if let Some(root) = self.root() {
            match (&made.who, self.signatory(&made)) {
                (Who::Certificate(credential), Signatory::Identity(policy)) => {
                    crate::sigstore::verify_cosign_v2_layer(
                        LayerContent::Envelope {
                            envelope: &envelope,
                            image,
                        },
                        layer_certificate(credential, &annotations),
                        &policy,
                        root.get(),
                        OffsetDateTime::now_utc(),
                    )
                    .map_err(|rejection| KeylessError::Refused {
                        what: "attestation",
                        rejection,
                    })?;
                    // The inclusion proof and checkpoint, which the layer does not keep.
                    let bundle = dsse_bundle(&made, statement)?;
                    check_bundle(
                        &bundle,
                        Artifact::Digest(image.clone()),
                        &Signatory::Identity(policy),
                        root,
                        "attestation",
                    )?;
                }
                (_, who) => {
                    let bundle = dsse_bundle(&made, statement)?;
                    check_bundle(&bundle, Artifact::Digest(image.clone()), &who, root, "attestation")?;
                }
            }
        }
        Ok((envelope, annotations))
    }

    /// A v0.3 bundle of a DSSE envelope around `statement`, verified for
    /// `artifact` (the image digest, or the file's) before it is returned.
    pub async fn dsse_bundle(&self, statement: &[u8], artifact: Artifact<'_>) -> Result<Vec<u8>, KeylessError> {
        let made = self.make(Content::Statement(statement)).await?;
        let bundle = dsse_bundle(&made, statement)?;
        if let Some(root) = self.root() {
            check_bundle(&bundle, artifact, &self.signatory(&made), root, "bundle")?;
        }
        Ok(bundle)
    }

    /// A v0.3 message-signature bundle over `blob` (sha256), verified
    /// before it is returned.
    pub async fn message_bundle(&self, blob: &[u8]) -> Result<Vec<u8>, KeylessError> {
        let digest = Digest::sha256_of(blob);
        let made = self
            .make(Content::Message {
                bytes: blob,
                digest: &digest,
            })
            .await?;
        let bundle = message_bundle(&made, &digest)?;
        if let Some(root) = self.root() {
            check_bundle(&bundle, Artifact::Bytes(blob), &self.signatory(&made), root, "bundle")?;
        }
        Ok(bundle)
    }

    /// The certificate (PEM) and chain signatures are made with now, for
    /// reports and `--output-certificate`.
    pub async fn certificate(&self) -> Result<Option<(String, Option<String>)>, KeylessError> {
        match self {
            Signer::Keyless(session) => {
                let credential = session.credential().await?;
                Ok(Some((
                    credential.issued.leaf_pem.clone(),
                    credential.issued.chain_pem.clone(),
                )))
            }
            Signer::Key { .. } => Ok(None),
        }
    }
}

/// Where a signature is logged: the client, Rekor, the TSA, and the PEM of
/// the certificate or key Rekor checks the signature with.
type LogTarget<'l> = (&'l http::Client, &'l Url, Option<&'l Url>, String);

async fn make_with(
    key: &SigningKey,
    who: Who,
    content: Content<'_>,
    log: Option<LogTarget<'_>>,
) -> Result<Made, KeylessError> {
    let (signature, envelope) = match content {
        Content::Message { bytes, .. } => (key.sign(bytes)?, None),
        Content::Statement(statement) => {
            let head = dsse::pae_head(IN_TOTO_PAYLOAD_TYPE, statement.len());
            let signature = key.sign_parts(&[head.as_bytes(), statement])?;
            let envelope = dsse::envelope_json(IN_TOTO_PAYLOAD_TYPE, statement, &signature);
            (signature, Some(envelope))
        }
    };
    let Some((client, rekor, tsa_url, verifier_pem)) = log else {
        return Ok(Made {
            signature,
            envelope,
            logged: None,
            timestamp: None,
            who,
        });
    };
    let timestamp = match tsa_url {
        Some(url) => Some(tsa::timestamp(client, url, &signature).await?),
        None => None,
    };
    let proposed = match (content, &envelope) {
        (Content::Message { digest, .. }, _) => Proposed::HashedRekord {
            digest,
            signature: &signature,
        },
        (Content::Statement(statement), Some(envelope)) => Proposed::Dsse {
            envelope,
            payload: statement,
            signature: &signature,
        },
        (Content::Statement(_), None) => unreachable!("a statement is always enveloped above"),
    };
    let logged = rekor::log(client, rekor, proposed, &verifier_pem).await?;
    Ok(Made {
        signature,
        envelope,
        logged: Some(logged),
        timestamp,
        who,
    })
}

/// cosign's layer annotations for a signature: certificate and chain
/// (keyless), Rekor bundle (logged), RFC 3161 timestamp.
fn layer_annotations(made: &Made) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::new();
    if let Who::Certificate(credential) = &made.who {
        annotations.insert(CERTIFICATE_ANNOTATION.to_owned(), credential.issued.leaf_pem.clone());
        if let Some(chain) = &credential.issued.chain_pem {
            annotations.insert(CHAIN_ANNOTATION.to_owned(), chain.clone());
        }
    }
    if let Some(logged) = &made.logged {
        annotations.insert(REKOR_BUNDLE_ANNOTATION.to_owned(), logged.cosign_annotation());
    }
    if let Some(token) = &made.timestamp {
        annotations.insert(
            RFC3161_ANNOTATION.to_owned(),
            serde_json::json!({"SignedRFC3161Timestamp": STANDARD.encode(token)}).to_string(),
        );
    }
    annotations
}

fn layer_certificate<'c>(
    credential: &'c Credential,
    annotations: &'c BTreeMap<String, String>,
) -> LayerCertificate<'c> {
    LayerCertificate {
        certificate_pem: &credential.issued.leaf_pem,
        chain_pem: credential.issued.chain_pem.as_deref(),
        rekor_bundle_json: cosign::annotation(annotations, REKOR_BUNDLE_ANNOTATION),
    }
}

/// The verification material of a bundle: the leaf certificate (v0.3
/// carries the leaf only) or the key's hint, the log entry, the timestamp.
fn material(made: &Made) -> Result<VerificationMaterial, KeylessError> {
    let mut material = VerificationMaterial::default();
    match &made.who {
        Who::Certificate(credential) => {
            material.certificate = Some(RawBytes {
                raw_bytes: STANDARD.encode(&credential.issued.chain_der[0]),
            });
        }
        Who::Key(key) => {
            material.public_key = Some(PublicKeyHint {
                hint: crate::blob::key_hint(key),
            });
        }
    }
    if let Some(logged) = &made.logged {
        material.tlog_entries.push(logged.tlog_entry()?);
    }
    if let Some(token) = &made.timestamp {
        material.timestamp_verification_data = Some(TimestampVerificationData {
            rfc3161_timestamps: vec![Rfc3161Timestamp {
                signed_timestamp: STANDARD.encode(token),
            }],
        });
    }
    Ok(material)
}

fn message_bundle(made: &Made, digest: &Digest) -> Result<Vec<u8>, KeylessError> {
    let bundle = Bundle {
        media_type: BUNDLE_V03.to_owned(),
        verification_material: material(made)?,
        dsse_envelope: None,
        message_signature: Some(MessageSignature {
            message_digest: Some(MessageDigest {
                algorithm: crate::bundle::protobuf_hash_name(digest.algorithm()).to_owned(),
                digest: STANDARD.encode(digest.raw()),
            }),
            signature: STANDARD.encode(&made.signature),
        }),
    };
    Ok(bundle.to_json())
}

fn dsse_bundle(made: &Made, statement: &[u8]) -> Result<Vec<u8>, KeylessError> {
    let bundle = Bundle {
        media_type: BUNDLE_V03.to_owned(),
        verification_material: material(made)?,
        dsse_envelope: Some(Envelope::new(IN_TOTO_PAYLOAD_TYPE, statement, &made.signature)),
        message_signature: None,
    };
    Ok(bundle.to_json())
}

fn check_bundle(
    bundle: &[u8],
    artifact: Artifact<'_>,
    who: &Signatory,
    root: &SigstoreRoot,
    what: &'static str,
) -> Result<(), KeylessError> {
    crate::sigstore::verify_bundle(bundle, artifact, who, root.get(), OffsetDateTime::now_utc())
        .map(|_| ())
        .map_err(|rejection| KeylessError::Refused { what, rejection })
}
