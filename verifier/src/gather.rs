//! Evidence gathering for one image: every signature and attestation stored
//! in either form, fetched and digest-checked, but not yet judged.
//!
//! The store chooses every manifest, and a hostile one lists a 100 MB blob a
//! thousand times, a thousand referrers of a thousand layers each, or
//! distinct blobs until memory runs out. So a [`Gatherer`] first *plans*
//! (reads the attachment manifests only), charges the plan to the image's
//! [`Limits`] and refuses beyond them, and only then fetches blobs: each
//! distinct blob once, whatever the number of entries naming it. Entries
//! that are identical (same layer, same annotations, same place) are one
//! piece of evidence.
//!
//! Bytes are charged per piece of evidence (each piece is held and judged on
//! its own, so a blob named by three pieces counts three times), plus every
//! attachment manifest read. One [`Gatherer`] serves one image: signatures
//! and attestations share its budget and its referrers list.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::bundle::is_bundle_media_type;
use crate::cosign::{self, SIMPLESIGNING_MEDIA_TYPE};
use crate::digest::Digest;
use crate::intoto::COSIGN_SIGN_V1;
use crate::notation;
use crate::oci::{Descriptor, Manifest, limits};
use crate::reference::Target;
use crate::referrers;
use crate::store::{Store, StoreError};
pub use sigil_judge::evidence::{
    AttestationContent, AttestationEvidence, NotationEvidence, Origin, SignatureContent, SignatureEvidence,
};

/// Default [`Limits::max_bytes`]: 512 MiB (`--max-evidence-bytes`).
pub const DEFAULT_MAX_BYTES: u64 = 512 << 20;
/// Default [`Limits::max_items`]: 10,000 (`--max-evidence-items`).
pub const DEFAULT_MAX_ITEMS: usize = 10_000;

/// What gathering may cost for one image; beyond it the image cannot be
/// evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of evidence: every piece's blob, plus the attachment manifests read.
    pub max_bytes: u64,
    /// Pieces of evidence (signatures and attestations to verify).
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_items: DEFAULT_MAX_ITEMS,
        }
    }
}

/// Why the evidence of an image could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{location}: the evidence of {image} needs more than the {limit}-byte budget for one image (at least {needed} bytes); the image cannot be evaluated (raise --max-evidence-bytes if this much is expected)"
    )]
    TooManyBytes {
        location: String,
        image: Digest,
        limit: u64,
        needed: u64,
    },
    #[error(
        "{location}: {image} has more than {limit} signatures and attestations to verify; the image cannot be evaluated (raise --max-evidence-items if this many are expected)"
    )]
    TooManyItems {
        location: String,
        image: Digest,
        limit: usize,
    },
}

/// Gathers every signature of `image` in both storage forms, within the
/// default [`Limits`]. Layers that are not signatures are ignored; content
/// that fails its digest is kept as [`SignatureContent::Unreadable`] so the
/// report can say so.
pub async fn signatures<S: Store>(store: &S, image: &Digest) -> Result<Vec<SignatureEvidence>, GatherError> {
    Gatherer::new(store, image, Limits::default()).signatures().await
}

/// Gathers every attestation of `image` in both storage forms (the `.att`
/// tag's DSSE layers and bundle referrers other than image signatures),
/// within the default [`Limits`].
pub async fn attestations<S: Store>(store: &S, image: &Digest) -> Result<Vec<AttestationEvidence>, GatherError> {
    Gatherer::new(store, image, Limits::default()).attestations().await
}

/// Where a planned piece of evidence lives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Tag,
    Referrer,
}

/// A piece of evidence planned before any blob is fetched.
struct Planned {
    origin: Origin,
    form: Form,
    claimed_type: Option<String>,
    /// The layer to fetch, or why there is none to fetch.
    source: Result<Descriptor, String>,
}

/// A planned piece with its content fetched (or the content fault).
struct Gathered {
    planned: Planned,
    /// The layer's annotations and its bytes, or why they are unusable.
    content: Result<(BTreeMap<String, String>, Vec<u8>), String>,
}

/// Gathers the evidence of one image within its [`Limits`].
pub struct Gatherer<'s, S> {
    store: &'s S,
    image: Digest,
    limits: Limits,
    /// Bytes charged so far.
    bytes: u64,
    /// Pieces of evidence charged so far.
    items: usize,
    /// The image's referrers, read once.
    referrers: Option<Vec<Descriptor>>,
}

impl<'s, S: Store> Gatherer<'s, S> {
    pub fn new(store: &'s S, image: &Digest, limits: Limits) -> Gatherer<'s, S> {
        Gatherer {
            store,
            image: image.clone(),
            limits,
            bytes: 0,
            items: 0,
            referrers: None,
        }
    }

    /// Every signature: the `.sig` tag's simple-signing layers and the
    /// image-signature bundle referrers.
    pub async fn signatures(&mut self) -> Result<Vec<SignatureEvidence>, GatherError> {
        let mut plan = Vec::new();
        let tag = cosign::signature_tag(&self.image);
        self.plan_tag(&tag, SIMPLESIGNING_MEDIA_TYPE, &|_| true, &mut plan)
            .await?;
        for referrer in self.referrers().await? {
            let predicate = referrer.annotations.get("dev.sigstore.bundle.predicateType");
            let is_bundle = referrer.artifact_type.as_deref().is_some_and(is_bundle_media_type);
            if is_bundle && predicate.is_none_or(|p| p == COSIGN_SIGN_V1) {
                self.plan_referrer(&referrer, None, &mut plan).await?;
            }
        }
        let gathered = self.fetch(plan).await?;
        Ok(gathered
            .into_iter()
            .map(|g| SignatureEvidence {
                content: match (g.planned.form, g.content) {
                    (_, Err(reason)) => SignatureContent::Unreadable(reason),
                    (Form::Tag, Ok((annotations, payload))) => SignatureContent::SimpleSigning { payload, annotations },
                    (Form::Referrer, Ok((_, bytes))) => SignatureContent::Bundle(bytes),
                },
                origin: g.planned.origin,
            })
            .collect())
    }

    /// Every attestation: the `.att` tag's DSSE layers and the bundle
    /// referrers that are not image signatures.
    pub async fn attestations(&mut self) -> Result<Vec<AttestationEvidence>, GatherError> {
        self.attestations_wanted(|_| true).await
    }

    /// The attestations whose claimed predicate type (`None`: unclaimed)
    /// `wanted` accepts; the others are neither fetched nor charged. The
    /// claim is unverified, so this only saves work: judgement filters by
    /// the same claim ([`AttestationEvidence::claimed_type`]) and trusts
    /// only the signed statement, so evidence a judge does not want cannot
    /// change its verdict.
    pub async fn attestations_wanted(
        &mut self,
        wanted: impl Fn(Option<&str>) -> bool + Sync,
    ) -> Result<Vec<AttestationEvidence>, GatherError> {
        let mut plan = Vec::new();
        let tag = cosign::attestation_tag(&self.image);
        self.plan_tag(&tag, cosign::DSSE_MEDIA_TYPE, &wanted, &mut plan).await?;
        for referrer in self.referrers().await? {
            let predicate = referrer.annotations.get("dev.sigstore.bundle.predicateType");
            let is_bundle = referrer.artifact_type.as_deref().is_some_and(is_bundle_media_type);
            if is_bundle && predicate.is_none_or(|p| p != COSIGN_SIGN_V1) && wanted(predicate.map(String::as_str)) {
                self.plan_referrer(&referrer, predicate.cloned(), &mut plan).await?;
            }
        }
        let gathered = self.fetch(plan).await?;
        Ok(gathered
            .into_iter()
            .map(|g| AttestationEvidence {
                content: match (g.planned.form, g.content) {
                    (_, Err(reason)) => AttestationContent::Unreadable(reason),
                    (Form::Tag, Ok((annotations, envelope))) => AttestationContent::Envelope { envelope, annotations },
                    (Form::Referrer, Ok((_, bytes))) => AttestationContent::Bundle(bytes),
                },
                origin: g.planned.origin,
                claimed_type: g.planned.claimed_type,
            })
            .collect())
    }

    /// The image's Notary Project signatures: its referrers that may be
    /// notation signatures (the list read once per image, shared with the
    /// bundles), then `extra` candidates (a layout's manifests that may
    /// name the image as subject), each distinct manifest looked at once
    /// and at most [`notation::MAX_SIGNATURES`] signatures kept. Each
    /// signature and its envelope are charged to the image's [`Limits`].
    pub async fn notation(&mut self, extra: Vec<Descriptor>) -> Result<Vec<notation::SignatureInput>, GatherError> {
        let mut candidates: Vec<Descriptor> = self
            .referrers()
            .await?
            .into_iter()
            .filter(notation::may_be_signature)
            .collect();
        candidates.extend(extra);
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for candidate in candidates.into_iter().take(limits::DESCRIPTORS) {
            if found.len() >= notation::MAX_SIGNATURES {
                tracing::warn!(
                    "{}: more than {} notation signatures; the rest are ignored",
                    self.image,
                    notation::MAX_SIGNATURES
                );
                break;
            }
            if !seen.insert(candidate.digest.clone()) {
                continue;
            }
            if let Some(input) = notation::signature(self.store, &self.image, &candidate.digest).await? {
                let size = input.envelope.as_ref().map_or(0, |bytes| bytes.len() as u64);
                self.charge(Some(size))?;
                found.push(input);
            }
        }
        Ok(found)
    }

    /// The image's referrers (API or fallback tag), read once per image,
    /// each referrer once however often it is listed.
    async fn referrers(&mut self) -> Result<Vec<Descriptor>, GatherError> {
        if let Some(found) = &self.referrers {
            return Ok(found.clone());
        }
        let mut seen = HashSet::new();
        let found: Vec<Descriptor> = referrers::list(self.store, &self.image, None)
            .await?
            .into_iter()
            .filter(|r| seen.insert(r.digest.clone()))
            .collect();
        tracing::info!(
            "{}: {} referrer(s) of {}",
            self.store.location(),
            found.len(),
            self.image
        );
        self.referrers = Some(found.clone());
        Ok(found)
    }

    /// Plans the layers of `media_type` in the cosign tag `tag` whose
    /// claimed predicate type `wanted` accepts.
    async fn plan_tag(
        &mut self,
        tag: &str,
        media_type: &str,
        wanted: &(dyn Fn(Option<&str>) -> bool + Sync),
        plan: &mut Vec<Planned>,
    ) -> Result<(), GatherError> {
        let Some(fetched) = self.store.fetch_manifest(&Target::Tag(tag.to_owned())).await? else {
            tracing::debug!("{}: no tag {tag}", self.store.location());
            return Ok(());
        };
        self.charge_bytes(fetched.bytes.len() as u64)?;
        let Ok(Manifest::Image(manifest)) = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) else {
            return Ok(());
        };
        let mut seen = HashSet::new();
        for layer in manifest.layers.into_iter().filter(|l| l.media_type == media_type) {
            // The same layer with the same annotations is the same evidence.
            if !seen.insert((layer.digest.clone(), layer.size, layer.annotations.clone())) {
                continue;
            }
            let claimed_type =
                cosign::annotation(&layer.annotations, cosign::PREDICATE_TYPE_ANNOTATION).map(str::to_owned);
            if !wanted(claimed_type.as_deref()) {
                tracing::debug!(
                    "{tag}: layer {} not read (no rule reads {claimed_type:?})",
                    layer.digest
                );
                continue;
            }
            self.charge_layer(&layer)?;
            tracing::info!(
                "{tag}: found {} layer {} ({} bytes)",
                layer.media_type,
                layer.digest,
                layer.size
            );
            plan.push(Planned {
                origin: Origin::Tag {
                    tag: tag.to_owned(),
                    layer: layer.digest.clone(),
                },
                form: Form::Tag,
                claimed_type,
                source: Ok(layer),
            });
        }
        Ok(())
    }

    /// Plans the bundle layers of one referrer manifest.
    async fn plan_referrer(
        &mut self,
        referrer: &Descriptor,
        claimed_type: Option<String>,
        plan: &mut Vec<Planned>,
    ) -> Result<(), GatherError> {
        let mut unreadable = |this: &mut Self, reason: String| {
            this.charge(None)?;
            plan.push(Planned {
                origin: Origin::Referrer {
                    manifest: referrer.digest.clone(),
                    layer: referrer.digest.clone(),
                },
                form: Form::Referrer,
                claimed_type: claimed_type.clone(),
                source: Err(reason),
            });
            Ok::<_, GatherError>(())
        };
        let fetched = match self
            .store
            .fetch_manifest(&Target::Digest(referrer.digest.clone()))
            .await
        {
            Ok(Some(f)) => f,
            Ok(None) => return unreadable(self, "referrer manifest is listed but missing".into()),
            Err(e) if is_content_fault(&e) => return unreadable(self, e.to_string()),
            Err(e) => return Err(e.into()),
        };
        self.charge_bytes(fetched.bytes.len() as u64)?;
        let manifest = match Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) {
            Ok(Manifest::Image(m)) => m,
            Ok(Manifest::Index(_)) => return Ok(()),
            Err(e) => return unreadable(self, e.to_string()),
        };
        let mut seen = HashSet::new();
        for layer in manifest
            .layers
            .into_iter()
            .filter(|l| is_bundle_media_type(&l.media_type))
        {
            if !seen.insert((layer.digest.clone(), layer.size)) {
                continue;
            }
            self.charge_layer(&layer)?;
            tracing::info!(
                "referrer {}: found {} layer {} ({} bytes)",
                referrer.digest,
                layer.media_type,
                layer.digest,
                layer.size
            );
            plan.push(Planned {
                origin: Origin::Referrer {
                    manifest: referrer.digest.clone(),
                    layer: layer.digest.clone(),
                },
                form: Form::Referrer,
                claimed_type: claimed_type.clone(),
                source: Ok(layer),
            });
        }
        Ok(())
    }

    /// Charges a piece of evidence with a blob to fetch. A blob over the
    /// per-blob limit is refused as such (as fetching it would be), before
    /// any budget is looked at.
    fn charge_layer(&mut self, layer: &Descriptor) -> Result<(), GatherError> {
        if layer.size > limits::BLOB_BYTES {
            return Err(StoreError::TooLarge {
                location: self.store.location(),
                what: format!("blob {}", layer.digest),
                size: layer.size,
                limit: limits::BLOB_BYTES,
            }
            .into());
        }
        self.charge(Some(layer.size))
    }

    /// Charges one piece of evidence and the bytes of its blob (its
    /// declared size, which bounds what is read).
    fn charge(&mut self, size: Option<u64>) -> Result<(), GatherError> {
        if self.items >= self.limits.max_items {
            return Err(GatherError::TooManyItems {
                location: self.store.location(),
                image: self.image.clone(),
                limit: self.limits.max_items,
            });
        }
        self.items += 1;
        self.charge_bytes(size.unwrap_or(0))
    }

    fn charge_bytes(&mut self, size: u64) -> Result<(), GatherError> {
        let needed = self.bytes.saturating_add(size);
        if needed > self.limits.max_bytes {
            return Err(GatherError::TooManyBytes {
                location: self.store.location(),
                image: self.image.clone(),
                limit: self.limits.max_bytes,
                needed,
            });
        }
        self.bytes = needed;
        Ok(())
    }

    /// Fetches the planned blobs, each distinct (digest, size) once, and
    /// hands every piece its copy, in plan order.
    async fn fetch(&self, plan: Vec<Planned>) -> Result<Vec<Gathered>, GatherError> {
        let mut users: Vec<Vec<usize>> = Vec::new();
        let mut group_of: HashMap<(Digest, u64), usize> = HashMap::new();
        for (i, planned) in plan.iter().enumerate() {
            if let Ok(layer) = &planned.source {
                let group = *group_of.entry((layer.digest.clone(), layer.size)).or_insert_with(|| {
                    users.push(Vec::new());
                    users.len() - 1
                });
                users[group].push(i);
            }
        }
        let mut contents: Vec<Option<Result<Vec<u8>, String>>> = Vec::new();
        contents.resize_with(plan.len(), || None);
        for group in users {
            let Some(layer) = group.first().and_then(|&i| plan[i].source.as_ref().ok()) else {
                continue;
            };
            let mut fetched = Some(fetch_small(self.store, layer).await?);
            for (n, &i) in group.iter().enumerate() {
                // The last user takes the bytes; the others get copies.
                let content = if n + 1 == group.len() {
                    fetched.take()
                } else {
                    fetched.clone()
                };
                contents[i] = content;
            }
        }
        Ok(plan
            .into_iter()
            .zip(contents)
            .map(|(planned, content)| {
                let content = match (&planned.source, content) {
                    (Err(reason), _) => Err(reason.clone()),
                    (Ok(layer), Some(Ok(bytes))) => Ok((layer.annotations.clone(), bytes)),
                    (Ok(_), Some(Err(reason))) => Err(reason),
                    (Ok(_), None) => Err("internal: a planned layer was not fetched".to_owned()),
                };
                Gathered { planned, content }
            })
            .collect())
    }
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

#[cfg(test)]
mod tests;
