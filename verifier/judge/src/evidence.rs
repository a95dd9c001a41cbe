//! Evidence as gathered: every signature and attestation found for an
//! image, digest-checked by the gathering side but not yet judged. The
//! judgement ([`crate::verify`], [`crate::policy`]) reads only these types,
//! so any store, a registry or a layout, or a server's own cache can feed it.

use std::collections::BTreeMap;

use crate::digest::Digest;

/// Where a piece of evidence was found.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
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

/// The Notary Project signatures of an image (OCI referrers of artifact
/// type `application/vnd.cncf.notary.signature`), with the descriptor of
/// the image's manifest that each must sign (`targetArtifact`: digest,
/// size and media type). Gathered only when a policy names a `notation`
/// publisher.
#[derive(Clone, Debug)]
pub struct NotationEvidence {
    /// The image's manifest descriptor (no annotations, artifact type or platform).
    pub target: crate::oci::Descriptor,
    /// Each signature manifest's envelope layer.
    pub signatures: Vec<crate::notation::SignatureInput>,
}
