//! Evidence gathering for one image: every signature stored in either form,
//! fetched and digest-checked, but not yet judged.

use std::collections::BTreeMap;

use crate::bundle::is_bundle_media_type;
use crate::cosign::{self, SIMPLESIGNING_MEDIA_TYPE};
use crate::digest::Digest;
use crate::intoto::COSIGN_SIGN_V1;
use crate::oci::{Descriptor, Manifest, limits};
use crate::reference::Target;
use crate::referrers;
use crate::store::{Store, StoreError};

/// Where a piece of evidence was found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "form", rename_all = "camelCase")]
pub enum Origin {
    /// A layer of a cosign tag (`sha256-HEX.sig`).
    Tag { tag: String, layer: Digest },
    /// A layer of an OCI referrer manifest.
    Referrer { manifest: Digest, layer: Digest },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Tag { tag, layer } => write!(f, "tag {tag} layer {layer}"),
            Origin::Referrer { manifest, .. } => write!(f, "referrer {manifest}"),
        }
    }
}

/// A signature as stored, not yet verified.
#[derive(Clone, Debug)]
pub enum SignatureContent {
    /// A cosign simple-signing layer: the payload and the layer's annotations.
    SimpleSigning {
        payload: Vec<u8>,
        annotations: BTreeMap<String, String>,
    },
    /// A Sigstore bundle (cosign v3).
    Bundle(Vec<u8>),
    /// Found but unusable: refused by its digest, too large, malformed.
    Unreadable(String),
}

/// One piece of signature evidence.
#[derive(Clone, Debug)]
pub struct SignatureEvidence {
    pub origin: Origin,
    pub content: SignatureContent,
}

/// Gathers every signature of `image` in both storage forms. Layers that are
/// not signatures are ignored; content that fails its digest is kept as
/// [`SignatureContent::Unreadable`] so the report can say so.
pub async fn signatures<S: Store>(store: &S, image: &Digest) -> Result<Vec<SignatureEvidence>, StoreError> {
    let mut found = Vec::new();
    let tag = cosign::signature_tag(image);
    if let Some(fetched) = store.fetch_manifest(&Target::Tag(tag.clone())).await?
        && let Ok(Manifest::Image(manifest)) = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes)
    {
        for layer in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == SIMPLESIGNING_MEDIA_TYPE)
        {
            let origin = Origin::Tag {
                tag: tag.clone(),
                layer: layer.digest.clone(),
            };
            let content = match fetch_small(store, layer).await? {
                Ok(payload) => SignatureContent::SimpleSigning {
                    payload,
                    annotations: layer.annotations.clone(),
                },
                Err(reason) => SignatureContent::Unreadable(reason),
            };
            found.push(SignatureEvidence { origin, content });
        }
    }
    for referrer in referrers::list(store, image, None).await? {
        let predicate = referrer.annotations.get("dev.sigstore.bundle.predicateType");
        let is_bundle = referrer.artifact_type.as_deref().is_some_and(is_bundle_media_type);
        if !is_bundle || predicate.is_some_and(|p| p != COSIGN_SIGN_V1) {
            continue;
        }
        found.extend(bundle_layers(store, &referrer).await?);
    }
    Ok(found)
}

/// The bundle layers of one referrer manifest.
pub async fn bundle_layers<S: Store>(store: &S, referrer: &Descriptor) -> Result<Vec<SignatureEvidence>, StoreError> {
    let unreadable = |reason: String| {
        vec![SignatureEvidence {
            origin: Origin::Referrer {
                manifest: referrer.digest.clone(),
                layer: referrer.digest.clone(),
            },
            content: SignatureContent::Unreadable(reason),
        }]
    };
    let fetched = match store.fetch_manifest(&Target::Digest(referrer.digest.clone())).await {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(unreadable("referrer manifest is listed but missing".into())),
        Err(e) if is_content_fault(&e) => return Ok(unreadable(e.to_string())),
        Err(e) => return Err(e),
    };
    let manifest = match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
        Ok(Manifest::Image(m)) => m,
        Ok(Manifest::Index(_)) => return Ok(Vec::new()),
        Err(e) => return Ok(unreadable(e.to_string())),
    };
    let mut out = Vec::new();
    for layer in manifest.layers.iter().filter(|l| is_bundle_media_type(&l.media_type)) {
        let origin = Origin::Referrer {
            manifest: referrer.digest.clone(),
            layer: layer.digest.clone(),
        };
        let content = match fetch_small(store, layer).await? {
            Ok(bytes) => SignatureContent::Bundle(bytes),
            Err(reason) => SignatureContent::Unreadable(reason),
        };
        out.push(SignatureEvidence { origin, content });
    }
    Ok(out)
}

/// An attestation as stored, not yet verified.
#[derive(Clone, Debug)]
pub enum AttestationContent {
    /// A cosign `.att` layer: the DSSE envelope and the layer's annotations
    /// (certificate, chain and Rekor bundle when signed keyless).
    Envelope {
        envelope: Vec<u8>,
        annotations: BTreeMap<String, String>,
    },
    /// A Sigstore bundle (cosign v3, GitHub attest-build-provenance).
    Bundle(Vec<u8>),
    /// Found but unusable: refused by its digest, too large, malformed.
    Unreadable(String),
}

/// One piece of attestation evidence.
#[derive(Clone, Debug)]
pub struct AttestationEvidence {
    pub origin: Origin,
    /// The predicate type the storage claims (annotation); unverified, for
    /// filtering and display only.
    pub claimed_type: Option<String>,
    pub content: AttestationContent,
}

/// Gathers every attestation of `image` in both storage forms (the `.att`
/// tag's DSSE layers and bundle referrers other than image signatures).
pub async fn attestations<S: Store>(store: &S, image: &Digest) -> Result<Vec<AttestationEvidence>, StoreError> {
    let mut found = Vec::new();
    let tag = cosign::attestation_tag(image);
    if let Some(fetched) = store.fetch_manifest(&Target::Tag(tag.clone())).await?
        && let Ok(Manifest::Image(manifest)) = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes)
    {
        for layer in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == cosign::DSSE_MEDIA_TYPE)
        {
            let content = match fetch_small(store, layer).await? {
                Ok(envelope) => AttestationContent::Envelope {
                    envelope,
                    annotations: layer.annotations.clone(),
                },
                Err(reason) => AttestationContent::Unreadable(reason),
            };
            found.push(AttestationEvidence {
                origin: Origin::Tag {
                    tag: tag.clone(),
                    layer: layer.digest.clone(),
                },
                claimed_type: cosign::annotation(&layer.annotations, cosign::PREDICATE_TYPE_ANNOTATION)
                    .map(str::to_owned),
                content,
            });
        }
    }
    for referrer in referrers::list(store, image, None).await? {
        let predicate = referrer.annotations.get("dev.sigstore.bundle.predicateType");
        let is_bundle = referrer.artifact_type.as_deref().is_some_and(is_bundle_media_type);
        if !is_bundle || predicate.is_some_and(|p| p == COSIGN_SIGN_V1) {
            continue;
        }
        for e in bundle_layers(store, &referrer).await? {
            let content = match e.content {
                SignatureContent::Bundle(bytes) => AttestationContent::Bundle(bytes),
                SignatureContent::Unreadable(reason) => AttestationContent::Unreadable(reason),
                SignatureContent::SimpleSigning { .. } => continue,
            };
            found.push(AttestationEvidence {
                origin: e.origin,
                claimed_type: predicate.cloned(),
                content,
            });
        }
    }
    Ok(found)
}

/// Fetches a signature-sized blob. Content faults (digest mismatch, too
/// large, missing) become `Err(reason)` evidence; transport errors propagate.
async fn fetch_small<S: Store>(store: &S, layer: &Descriptor) -> Result<Result<Vec<u8>, String>, StoreError> {
    match store.fetch_blob(layer, limits::BLOB_BYTES).await {
        Ok(bytes) => Ok(Ok(bytes)),
        Err(e) if is_content_fault(&e) => Ok(Err(e.to_string())),
        Err(e) => Err(e),
    }
}

/// Evidence that is tampered or missing counts as invalid (the image may
/// still have other, valid evidence). Oversized content is an operational
/// error instead: sigil will not evaluate what it refuses to read.
fn is_content_fault(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Digest { .. } | StoreError::Malformed { .. } | StoreError::NotFound { .. }
    )
}
