//! The write side: signing image digests and storing the signatures in
//! cosign's tag scheme or as cosign v3 Sigstore-bundle referrers.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::bundle::{BUNDLE_V03, Bundle};
use crate::cosign::{self, SIGNATURE_ANNOTATION, SIMPLESIGNING_MEDIA_TYPE};
use crate::digest::Digest;
use crate::dsse::IN_TOTO_PAYLOAD_TYPE;
use crate::intoto::{COSIGN_SIGN_V1, Statement};
use crate::keyless::{KeylessError, Signer};
use crate::keys::{KeyError, SigningKey};
use crate::oci::{self, Descriptor, ImageManifest, Manifest};
use crate::reference::Target;
use crate::store::{Store, StoreError, require_manifest};
use crate::{referrers, tag};

/// Where a signature is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// cosign's `sha256-HEX.sig` tag, one layer per signature.
    Tag,
    /// cosign v3's Sigstore bundle as an OCI 1.1 referrer.
    Bundle,
}

/// What to sign with and how.
pub struct SignOptions<'a> {
    /// A key, or a keyless session: every signature it makes is checked
    /// before anything is written ([`crate::keyless`]).
    pub signer: Signer<'a>,
    /// Signed annotations (`-a KEY=VALUE`).
    pub annotations: BTreeMap<String, String>,
    pub format: Format,
    /// Also sign every manifest listed by an index.
    pub recursive: bool,
    /// RFC 3339 time written into the referrer's `org.opencontainers.image.created`.
    pub created: String,
    /// A certificate for the key and its chain, attached to tag-form
    /// signatures as cosign's `sign --certificate` does.
    pub certificate: Option<CertificateMaterial>,
    /// Store the signature (`false`: tag form only, nothing is written and
    /// the signature is only returned, as cosign's `--upload=false`).
    pub upload: bool,
}

/// A signing certificate (PEM) and its chain up to the root (PEM), already
/// checked to hold the signing key.
#[derive(Clone, Debug)]
pub struct CertificateMaterial {
    pub certificate_pem: String,
    pub chain_pem: Option<String>,
}

impl CertificateMaterial {
    /// Adds cosign's certificate and chain annotations to a `.sig` or `.att` layer.
    pub fn annotate(&self, layer: &mut Descriptor) {
        let annotations = &mut layer.annotations;
        annotations.insert(cosign::CERTIFICATE_ANNOTATION.to_owned(), self.certificate_pem.clone());
        if let Some(chain) = &self.chain_pem {
            annotations.insert(cosign::CHAIN_ANNOTATION.to_owned(), chain.clone());
        }
    }
}

/// One signature made and stored.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Signed {
    pub image: Digest,
    /// The tag (`sha256-HEX.sig`) or referrer manifest digest it is stored under.
    /// `None` when signed without uploading ([`SignOptions::upload`]).
    pub stored_at: Option<String>,
    /// An equal signature by the same key was there already and was kept:
    /// nothing was added (cosign's duplicate detection, tag form only).
    pub kept: bool,
    /// Tag form: the simple-signing payload and the signature over it (the
    /// one stored, or the one kept), for cosign's `--output-*` files.
    #[serde(skip)]
    pub detached: Option<(Vec<u8>, Vec<u8>)>,
}

/// How many layers of a cosign tag are looked at as possible duplicates:
/// each costs a blob fetch for attestations, and the tag is the registry's.
const MAX_DUPLICATE_CANDIDATES: usize = 32;

/// A layer of the cosign tag `tag` equal to the one about to be added, as
/// cosign's duplicate detection judges it: the same media type, every
/// annotation of `new` but the signature present with an equal value, and
/// content that `same` accepts (with `fetch`, layers up to that size are
/// fetched for it and larger ones skipped unread; `same` then verifies the
/// existing signature with the signing key). An unreadable
/// tag or blob is no duplicate: a new layer is added.
async fn existing_duplicate<S: Store>(
    store: &S,
    tag: &str,
    new: &Descriptor,
    fetch: Option<u64>,
    same: impl Fn(&Descriptor, Option<&[u8]>) -> bool,
) -> Result<Option<Descriptor>, StoreError> {
    let Some(fetched) = store.fetch_manifest(&Target::Tag(tag.to_owned())).await? else {
        return Ok(None);
    };
    let Ok(Manifest::Image(manifest)) = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) else {
        return Ok(None);
    };
    let candidates = manifest.layers.into_iter().filter(|old| {
        old.media_type == new.media_type
            && fetch.is_none_or(|largest| old.size <= largest)
            && new
                .annotations
                .iter()
                .filter(|(k, _)| k.as_str() != SIGNATURE_ANNOTATION)
                .all(|(k, v)| old.annotations.get(k) == Some(v))
    });
    for old in candidates.take(MAX_DUPLICATE_CANDIDATES) {
        let content = match fetch {
            Some(largest) => match store.fetch_blob(&old, largest).await {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    tracing::debug!("{tag}: layer {} not compared: {e}", old.digest);
                    continue;
                }
            },
            None => None,
        };
        if same(&old, content.as_deref()) {
            return Ok(Some(old));
        }
    }
    Ok(None)
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Keyless(#[from] KeylessError),
    #[error("{location}: manifest {digest} is malformed: {detail}")]
    Manifest {
        location: String,
        digest: Digest,
        detail: String,
    },
}

/// Signs `image` (and with `recursive`, each manifest of an index).
/// `docker_reference` is the repository name written into the payload.
pub async fn sign<S: Store>(
    store: &S,
    docker_reference: &str,
    image: &Descriptor,
    options: &SignOptions<'_>,
) -> Result<Vec<Signed>, SignError> {
    let targets = targets(store, image, options.recursive).await?;
    let mut out = Vec::with_capacity(targets.len());
    for target in &targets {
        out.push(match options.format {
            Format::Tag => sign_tag(store, docker_reference, &target.digest, options).await?,
            Format::Bundle => Signed {
                image: target.digest.clone(),
                stored_at: Some(sign_bundle(store, docker_reference, target, options).await?),
                kept: false,
                detached: None,
            },
        });
    }
    Ok(out)
}

/// The image, and with `recursive` every manifest its index lists.
async fn targets<S: Store>(store: &S, image: &Descriptor, recursive: bool) -> Result<Vec<Descriptor>, SignError> {
    let mut targets = vec![image.clone()];
    if recursive {
        targets.extend(platform_manifests(store, image).await?);
    }
    Ok(targets)
}

/// The manifests an index lists (empty for an image manifest).
pub async fn platform_manifests<S: Store>(store: &S, image: &Descriptor) -> Result<Vec<Descriptor>, SignError> {
    let fetched = require_manifest(store, &Target::Digest(image.digest.clone())).await?;
    match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
        Ok(Manifest::Index(index)) => Ok(index.manifests),
        Ok(Manifest::Image(_)) => Ok(Vec::new()),
        Err(e) => Err(SignError::Manifest {
            location: store.location(),
            digest: image.digest.clone(),
            detail: e.to_string(),
        }),
    }
}

async fn sign_tag<S: Store>(
    store: &S,
    docker_reference: &str,
    image: &Digest,
    options: &SignOptions<'_>,
) -> Result<Signed, SignError> {
    let payload = crate::simplesigning::payload(docker_reference, image, &options.annotations);
    let signed = |stored_at: Option<String>, kept: bool, payload: Vec<u8>, signature: Vec<u8>| Signed {
        image: image.clone(),
        stored_at,
        kept,
        detached: Some((payload, signature)),
    };
    if !options.upload {
        let signed_payload = options.signer.sign_payload(&payload).await?;
        return Ok(signed(None, false, payload, signed_payload.signature));
    }
    let tag = cosign::signature_tag(image);
    let mut layer = Descriptor::of(SIMPLESIGNING_MEDIA_TYPE, &payload);
    if let Some(material) = &options.certificate {
        material.annotate(&mut layer);
    }
    if let Some(key) = options.signer.duplicate_key() {
        let signature_of = |old: &Descriptor| {
            cosign::annotation(&old.annotations, SIGNATURE_ANNOTATION).and_then(cosign::decode_signature)
        };
        let signs_payload = |old: &Descriptor, _: Option<&[u8]>| {
            old.digest == layer.digest && signature_of(old).is_some_and(|sig| key.verify(&payload, &sig).is_ok())
        };
        if let Some(old) = existing_duplicate(store, &tag, &layer, None, signs_payload).await? {
            let signature = signature_of(&old).unwrap_or_default();
            return Ok(signed(Some(tag), true, payload, signature));
        }
    }
    // Signed (and, keyless or logged, verified) before anything is written.
    let made = options.signer.sign_payload(&payload).await?;
    layer.annotations.extend(made.annotations);
    layer
        .annotations
        .insert(SIGNATURE_ANNOTATION.to_owned(), STANDARD.encode(&made.signature));
    // Upload the payload before reading the tag: it keeps the read-to-write window small.
    store.push_blob(&layer, &payload).await?;
    append_layer(store, &tag, layer).await?;
    Ok(signed(Some(tag), false, payload, made.signature))
}

/// Appends an attachment layer (signature or attestation) to a cosign tag,
/// keeping every layer already there.
pub async fn append_layer<S: Store>(store: &S, tag: &str, layer: Descriptor) -> Result<Digest, StoreError> {
    let present =
        |m: &Manifest| matches!(m, Manifest::Image(m) if m.layers.iter().any(|l| cosign::same_layer(l, &layer)));
    tag::update(store, tag, present, |current| {
        let mut layers = match current {
            Some(Manifest::Image(m)) => m.layers,
            Some(Manifest::Index(_)) => {
                return Err(StoreError::Refused {
                    location: store.location(),
                    detail: format!("tag {tag} holds an index, not cosign attachments; refusing to overwrite it"),
                });
            }
            None => Vec::new(),
        };
        layers.push(layer.clone());
        let (config, config_bytes, manifest) = cosign::attachment_manifest(layers);
        Ok(tag::Update {
            media_type: oci::OCI_MANIFEST.to_owned(),
            bytes: oci::to_bytes(&manifest),
            blobs: vec![(config, config_bytes)],
        })
    })
    .await
}

async fn sign_bundle<S: Store>(
    store: &S,
    docker_reference: &str,
    image: &Descriptor,
    options: &SignOptions<'_>,
) -> Result<String, SignError> {
    let mut statement = Statement::about(
        docker_reference,
        &image.digest,
        COSIGN_SIGN_V1,
        crate::intoto::empty_predicate(b"{}"),
    );
    statement.subject[0].annotations = options.annotations.clone();
    let bundle = signed_bundle(&statement.to_json(), &image.digest, options.signer).await?;
    let descriptor = push_bundle_referrer(store, image, &bundle, COSIGN_SIGN_V1, &options.created).await?;
    Ok(descriptor.digest.to_string())
}

/// What to attest with and how.
pub struct AttestOptions<'a> {
    pub signer: Signer<'a>,
    /// The predicate type URI (resolved from `--type`).
    pub predicate_type: String,
    /// The predicate JSON, already checked by [`crate::predicate::validate`].
    pub predicate: Vec<u8>,
    pub format: Format,
    /// Also attest every manifest listed by an index.
    pub recursive: bool,
    pub created: String,
    /// A certificate for the key and its chain, attached to tag-form
    /// attestations as cosign's `attest --certificate` does.
    pub certificate: Option<CertificateMaterial>,
}

/// Attests `image` (and with `recursive`, each manifest of an index): an
/// in-toto statement v1 whose subject is the image, signed as a DSSE
/// envelope, stored in cosign's `.att` tag or as a bundle referrer.
pub async fn attest<S: Store>(
    store: &S,
    docker_reference: &str,
    image: &Descriptor,
    options: &AttestOptions<'_>,
) -> Result<Vec<Signed>, SignError> {
    let targets = targets(store, image, options.recursive).await?;
    let mut out = Vec::with_capacity(targets.len());
    for target in &targets {
        let statement = Statement::encode_raw(
            docker_reference,
            &target.digest,
            &options.predicate_type,
            &options.predicate,
        );
        let (stored_at, kept) = match options.format {
            Format::Tag => attest_tag(store, &target.digest, statement, options).await?,
            Format::Bundle => {
                let bundle = signed_bundle(&statement, &target.digest, options.signer).await?;
                drop(statement);
                let pushed =
                    push_bundle_referrer(store, target, &bundle, &options.predicate_type, &options.created).await?;
                (pushed.digest.to_string(), false)
            }
        };
        out.push(Signed {
            image: target.digest.clone(),
            stored_at: Some(stored_at),
            kept,
            detached: None,
        });
    }
    Ok(out)
}

/// Signs `statement` as a DSSE envelope appended to the image's `.att` tag,
/// unless an envelope of the same statement, annotations and signing key is
/// there already (then kept: `true`).
async fn attest_tag<S: Store>(
    store: &S,
    image: &Digest,
    statement: Vec<u8>,
    options: &AttestOptions<'_>,
) -> Result<(String, bool), SignError> {
    let tag = cosign::attestation_tag(image);
    let mut wanted = Descriptor::of(cosign::DSSE_MEDIA_TYPE, b"");
    wanted.annotations.insert(
        cosign::PREDICATE_TYPE_ANNOTATION.to_owned(),
        options.predicate_type.clone(),
    );
    if let Some(material) = &options.certificate {
        material.annotate(&mut wanted);
    }
    if let Some(key) = options.signer.duplicate_key() {
        let head = crate::dsse::pae_head(IN_TOTO_PAYLOAD_TYPE, statement.len());
        let same_statement = |_: &Descriptor, content: Option<&[u8]>| {
            let Some(envelope) = content.and_then(|c| crate::dsse::EnvelopeView::parse(c).ok()) else {
                return false;
            };
            envelope.payload_type == IN_TOTO_PAYLOAD_TYPE
                && crate::dsse::decode(&envelope.payload).is_some_and(|p| p == statement)
                && envelope.signatures.iter().any(|s| {
                    crate::dsse::decode(&s.sig)
                        .is_some_and(|sig| key.verify_parts(&[head.as_bytes(), &statement], &sig).is_ok())
                })
        };
        // The envelope sigil would write for this statement, and some room for
        // the signature: a larger layer cannot be that envelope and is not read.
        let largest = (statement.len() as u64).div_ceil(3) * 4 + 2048;
        if existing_duplicate(store, &tag, &wanted, Some(largest), same_statement)
            .await?
            .is_some()
        {
            return Ok((tag, true));
        }
    }
    // Signed (and, keyless or logged, verified) before anything is written.
    let (envelope, annotations) = options.signer.sign_envelope(&statement, image).await?;
    drop(statement);
    let mut layer = Descriptor {
        annotations: wanted.annotations,
        ..Descriptor::of(cosign::DSSE_MEDIA_TYPE, &envelope)
    };
    layer.annotations.extend(annotations);
    store.push_blob(&layer, &envelope).await?;
    drop(envelope);
    append_layer(store, &tag, layer).await?;
    Ok((tag, false))
}

/// A v0.3 bundle of `statement` about `image`: key-signed without a log
/// entry, or keyless / logged and verified before it is returned.
async fn signed_bundle(statement: &[u8], image: &Digest, signer: Signer<'_>) -> Result<Vec<u8>, SignError> {
    match signer {
        Signer::Key { key, log: None } => key_signed_bundle(statement, key),
        _ => Ok(signer
            .dsse_bundle(statement, crate::sigstore::Artifact::Digest(image.clone()))
            .await?),
    }
}

/// Signs the in-toto `statement` (JSON bytes) as a DSSE envelope in a
/// key-signed v0.3 bundle; returns the bundle's JSON.
pub fn key_signed_bundle(statement: &[u8], key: &SigningKey) -> Result<Vec<u8>, SignError> {
    let head = crate::dsse::pae_head(IN_TOTO_PAYLOAD_TYPE, statement.len());
    let signature = key.sign_parts(&[head.as_bytes(), statement])?;
    let hint = STANDARD.encode(Digest::sha256_of(key.public_key().spki_der()).raw());
    Ok(Bundle::key_signed_json(
        IN_TOTO_PAYLOAD_TYPE,
        statement,
        &signature,
        &hint,
    ))
}

/// Pushes a bundle (JSON) as a referrer of `subject`, with the annotations
/// cosign v3 writes for a bundle of `predicate_type`.
pub async fn push_bundle_referrer<S: Store>(
    store: &S,
    subject: &Descriptor,
    bundle: &[u8],
    predicate_type: &str,
    created: &str,
) -> Result<Descriptor, SignError> {
    let layer = Descriptor::of(BUNDLE_V03, bundle);
    store.push_blob(&layer, bundle).await?;
    let empty = Descriptor::of(oci::OCI_EMPTY, oci::EMPTY_JSON);
    store.push_blob(&empty, oci::EMPTY_JSON).await?;
    let subject = Descriptor {
        annotations: BTreeMap::new(),
        artifact_type: None,
        platform: None,
        ..subject.clone()
    };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_owned()),
        artifact_type: Some(BUNDLE_V03.to_owned()),
        config: empty,
        layers: vec![layer],
        subject: Some(subject),
        annotations: BTreeMap::from([
            ("dev.sigstore.bundle.content".to_owned(), "dsse-envelope".to_owned()),
            (
                "dev.sigstore.bundle.predicateType".to_owned(),
                predicate_type.to_owned(),
            ),
            ("org.opencontainers.image.created".to_owned(), created.to_owned()),
        ]),
    };
    Ok(referrers::push(store, &manifest).await?)
}
