//! The decision pipeline: many images in, one decision each out, in the
//! order they came in. Every front end is a caller: `sigil verify` (with
//! keys, identities or a policy), `sigil verify-attestation`, `sigil policy
//! test`, and the servers to come (an admission webhook, a registry gate),
//! once per request.
//!
//! For each [`Subject`]:
//!
//! 1. **resolve** the reference to its manifest digest (unless the caller
//!    already knows it), many images at once ([`Settings::concurrency`]);
//! 2. **gather** what the judge needs ([`crate::gather`], within the
//!    [`Settings::limits`]; attestations only of the predicate types it may
//!    read, [`Judge::wants_attestation`]) once per distinct (store, digest)
//!    among the subjects being decided, however many name it;
//! 3. **name** the image for matching, by the one rule of DESIGN §4.1
//!    ([`names_of`]);
//! 4. **judge** it on a blocking thread, at most [`Settings::judges`] at a
//!    time: judgement is pure and CPU-bound (a keyless bundle costs about a
//!    millisecond of signature checks) and must not occupy the async threads
//!    that do everyone's I/O;
//! 5. **decide**: the image's [`Outcome`]. A run's outcome is the
//!    [`Outcome::worst`] of its images'.
//!
//! **Memory.** A run holds the gathered evidence of at most
//! [`Settings::concurrency`] images at once (each within
//! [`Limits::max_bytes`], as fetched), and evidence is dropped as soon as
//! the last subject sharing it is decided, however many images the run
//! decides, except for up to [`RETAINED_BYTES`] kept for digests met again. A judgement adds, for the one attestation it is reading (the
//! engine reads them one at a time), the decoded payload and the typed view
//! a content check asks for (for an SBOM rule, a few dozen bytes per
//! component, the text borrowed); at most [`Settings::judges`] run at once.
//! So a run's peak is about `concurrency x max_bytes + RETAINED_BYTES` of evidence plus
//! `judges x 2 x` the largest attestation; measured figures are in
//! docs/benchmarks.md.
//!
//! The judgement itself is the judge crate's: a [`Judge`] hands it the
//! gathered evidence and the evaluation time, and says what its verdict
//! means. [`PolicyJudge`] judges by a policy; [`Signatures`] and
//! [`Attestations`] by "at least one valid" ([`at_least_one_valid`]).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use futures::future::{BoxFuture, FutureExt as _};
use futures::{Stream, StreamExt as _, stream};
use time::OffsetDateTime;
use tokio::sync::{OnceCell, Semaphore};

use crate::digest::Digest;
use crate::gather::{AttestationEvidence, GatherError, Gatherer, Limits, NotationEvidence, SignatureEvidence};
use crate::layout::LayoutStore;
use crate::oci::Descriptor;
use crate::policy::model::BASE_DEPTH;
use crate::policy::{self, Decision, Names, Policy, RecordedNameError, Report, names};
use crate::reference::ImageRef;
use crate::registry::RegistryStore;
use crate::store::{AnyStore, Store, StoreError};
use crate::verify::{AttestationCheck, SignatureCheck};

#[cfg(test)]
mod tests;

/// What a decision, or a run of them, comes to; ordered from best to worst.
/// The exit code of the command line is [`Outcome::exit_code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Verified or allowed: exit 0.
    Allowed,
    /// Verification failed or the image is denied: exit 1.
    Denied,
    /// The image could not be evaluated (bad input, unreachable registry,
    /// malformed evidence): exit 2. Past everything else, since nothing
    /// decided about such an image can be trusted, even an allow by a
    /// `warn` rule.
    Unevaluated,
}

impl Outcome {
    /// The worse of two outcomes: could not evaluate, else denied, else allowed.
    pub fn worst(self, other: Outcome) -> Outcome {
        self.max(other)
    }

    /// The outcome of a run over many images ([`Outcome::Allowed`] for none).
    pub fn of_run(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        outcomes.into_iter().fold(Outcome::Allowed, Outcome::worst)
    }

    /// The process exit code of DESIGN §2: 0, 1 or 2.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Allowed => 0,
            Outcome::Denied => 1,
            Outcome::Unevaluated => 2,
        }
    }
}

/// The verdict of `sigil verify --key` and `verify-attestation`: an image
/// passes when at least one piece of its evidence verified, and fails with
/// none (no evidence at all included).
pub fn at_least_one_valid<'a, T: 'a, E: 'a>(outcomes: impl IntoIterator<Item = &'a Result<T, E>>) -> Outcome {
    if outcomes.into_iter().any(Result::is_ok) {
        Outcome::Allowed
    } else {
        Outcome::Denied
    }
}

/// What a [`Judge`] needs gathered; what it does not need is not fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    pub signatures: bool,
    pub attestations: bool,
    /// The name a layout records for an image (`sigil copy` writes it); a
    /// malformed one makes the image unevaluable, so only judges that match
    /// names ask for it.
    pub recorded_name: bool,
    /// The image's Notary Project signatures and manifest descriptor (a
    /// policy with a `notation` publisher).
    pub notation: bool,
    /// The image manifest's annotations (a policy with a `baseImage`
    /// requirement: they name the base).
    pub annotations: bool,
}

impl Needs {
    /// Everything: what a policy judges.
    pub const ALL: Needs = Needs {
        signatures: true,
        attestations: true,
        recorded_name: true,
        notation: true,
        annotations: true,
    };
}

/// One image to decide about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// Where the image is: a registry reference or an `oci:DIR` layout.
    pub image: ImageRef,
    /// Its manifest digest, when the caller already resolved it (a registry
    /// gate serving a manifest by digest); else it is resolved here.
    pub digest: Option<Digest>,
    /// The reference the image is judged as, when it is not `image`: a
    /// `policy test` case names a layout image after the registry image it
    /// stands for, or gives the layout directory as the user wrote it.
    pub judged_as: Option<ImageRef>,
    /// The evaluation time for this image, when it is not the run's.
    pub at: Option<OffsetDateTime>,
}

impl From<ImageRef> for Subject {
    fn from(image: ImageRef) -> Subject {
        Subject {
            image,
            digest: None,
            judged_as: None,
            at: None,
        }
    }
}

/// The evidence gathered for one (store, digest), shared by every subject
/// that resolved to it: evidence can be large.
#[derive(Debug, Default)]
pub struct Gathered {
    pub signatures: Vec<SignatureEvidence>,
    pub attestations: Vec<AttestationEvidence>,
    /// The name the layout records for the digest ([`Needs::recorded_name`]).
    pub recorded_name: Option<String>,
    /// The Notary Project signatures ([`Needs::notation`]).
    pub notation: Option<NotationEvidence>,
    /// The manifest's annotations ([`Needs::annotations`]).
    pub annotations: BTreeMap<String, String>,
}

impl Gathered {
    /// The bytes of evidence held (contents and annotations).
    pub fn bytes(&self) -> u64 {
        use crate::gather::{AttestationContent, SignatureContent};
        let annotations = |a: &BTreeMap<String, String>| -> usize { a.iter().map(|(k, v)| k.len() + v.len()).sum() };
        let signatures = self.signatures.iter().map(|s| match &s.content {
            SignatureContent::SimpleSigning {
                payload,
                annotations: a,
            } => payload.len() + annotations(a),
            SignatureContent::Bundle(bytes) => bytes.len(),
            SignatureContent::Unreadable(reason) => reason.len(),
        });
        let attestations = self.attestations.iter().map(|e| match &e.content {
            AttestationContent::Envelope {
                envelope,
                annotations: a,
            } => envelope.len() + annotations(a),
            AttestationContent::Bundle(bytes) => bytes.len(),
            AttestationContent::Unreadable(reason) => reason.len(),
        });
        let notation = self
            .notation
            .iter()
            .flat_map(|n| &n.signatures)
            .map(|s| match &s.envelope {
                Ok(bytes) => bytes.len(),
                Err(reason) => reason.len(),
            });
        let manifest = annotations(&self.annotations);
        signatures
            .chain(attestations)
            .chain(notation)
            .chain([manifest])
            .map(|n| n as u64)
            .sum()
    }
}

/// Everything known about one image when it is judged.
#[derive(Clone, Debug)]
pub struct ImageEvidence {
    /// The reference the image is judged as ([`Subject::judged_as`], else
    /// [`Subject::image`]).
    pub image: ImageRef,
    pub digest: Digest,
    /// The names rules match it by ([`names_of`]).
    pub names: Names,
    pub gathered: Arc<Gathered>,
}

impl ImageEvidence {
    pub fn signatures(&self) -> &[SignatureEvidence] {
        &self.gathered.signatures
    }

    pub fn attestations(&self) -> &[AttestationEvidence] {
        &self.gathered.attestations
    }

    /// The evidence as the policy engine reads it (borrowed, not copied).
    pub fn policy_evidence(&self) -> policy::Evidence<'_> {
        let evidence = policy::Evidence::new(
            self.image.to_string(),
            self.names.clone(),
            self.signatures().into(),
            self.attestations().into(),
        )
        .with_annotations(Cow::Borrowed(&self.gathered.annotations));
        match &self.gathered.notation {
            Some(notation) => evidence.with_notation(Cow::Borrowed(notation)),
            None => evidence,
        }
    }
}

/// Why an image could not be evaluated. Cheap to clone: one failed
/// gathering is every subject's that shares its digest.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ImageError {
    /// The store could not be opened, or the image not resolved (missing,
    /// unreachable, refused).
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// Its evidence could not be gathered (a store error, a budget).
    #[error(transparent)]
    Gather(Arc<GatherError>),
    /// The name its layout records is unusable.
    #[error(transparent)]
    RecordedName(Arc<RecordedNameError>),
    /// The reference it is judged as pins another digest than it has.
    #[error("{judged_as} pins digest {pinned}, but the image is {digest}")]
    OtherDigest {
        judged_as: String,
        pinned: Digest,
        digest: Digest,
    },
    /// A base image that is not decided: too deep in the chain, or already in it.
    #[error("{0}")]
    BaseChain(String),
    /// The judgement itself failed (a bug: judgement is total).
    #[error("internal: the judgement of {image} did not finish")]
    Judgement { image: String },
}

impl From<StoreError> for ImageError {
    fn from(e: StoreError) -> Self {
        ImageError::Store(Arc::new(e))
    }
}

impl From<GatherError> for ImageError {
    fn from(e: GatherError) -> Self {
        ImageError::Gather(Arc::new(e))
    }
}

/// The judgement a pipeline applies: pure, given the gathered evidence and
/// the evaluation time. Implementations call into the judge crate
/// ([`crate::verify`], [`crate::policy`]) and decide nothing themselves.
pub trait Judge: Send + Sync + 'static {
    /// What one image's judgement says (checks, a policy report).
    type Verdict: Send + 'static;

    /// What must be gathered for [`Judge::judge`].
    fn needs(&self) -> Needs;

    /// Whether an attestation whose storage claims the predicate type
    /// `claimed` (`None`: no claim) may be read by [`Judge::judge`]; the
    /// others are not fetched. Judges filter attestations by the same
    /// claim, so saying `false` for one they would skip changes nothing
    /// but the cost. By default every attestation is fetched.
    fn wants_attestation(&self, claimed: Option<&str>) -> bool {
        let _ = claimed;
        true
    }

    /// Judges one image. Runs on a blocking thread.
    fn judge(&self, evidence: &ImageEvidence, now: OffsetDateTime) -> Self::Verdict;

    /// What a verdict means.
    fn outcome(&self, verdict: &Self::Verdict) -> Outcome;

    /// The verification steps a verdict records, one line each, which the
    /// pipeline logs at `-v` (judges stay free of I/O, logging included).
    fn steps(&self, verdict: &Self::Verdict) -> Vec<String> {
        let _ = verdict;
        Vec::new()
    }

    /// The images a verdict waits on before it is final (the base images a
    /// policy holds to itself), each a registry reference pinned to its
    /// digest. The pipeline decides each with this judge (at most
    /// [`BASE_DEPTH`] deep, refusing cycles) and hands the decisions to
    /// [`Judge::complete`]. None by default.
    fn dependencies(&self, verdict: &Self::Verdict) -> Vec<(ImageRef, Digest)> {
        let _ = verdict;
        Vec::new()
    }

    /// Completes a verdict with the decisions about its
    /// [`Judge::dependencies`], in the order they were asked for.
    fn complete(&self, verdict: &mut Self::Verdict, decided: Vec<Decided<Self::Verdict>>) {
        let _ = (verdict, decided);
    }

    /// The verdict about an image that could not be evaluated, when the
    /// judge has one (a policy judges it under the rule its name matches,
    /// DESIGN §4.1 "Outcomes"). Whatever it is, the image's outcome is
    /// [`Outcome::Unevaluated`]. `image` is the reference the image is
    /// judged as, `digest` its digest when it was resolved.
    fn unevaluated(
        &self,
        image: &ImageRef,
        digest: Option<&Digest>,
        error: &ImageError,
        now: OffsetDateTime,
    ) -> Option<Self::Verdict> {
        let _ = (image, digest, error, now);
        None
    }
}

/// Judges by a policy: the verdict is its [`Report`].
#[derive(Debug)]
pub struct PolicyJudge(pub Arc<Policy>);

impl Judge for PolicyJudge {
    type Verdict = Report;

    /// Attestations only when a rule asks for some, and then only those of
    /// the predicate types rules ask for ([`Policy::reads_attestation`]).
    fn needs(&self) -> Needs {
        Needs {
            attestations: self.0.reads_attestation(None),
            notation: self.0.reads_notation(),
            annotations: self.0.reads_bases(),
            ..Needs::ALL
        }
    }

    fn dependencies(&self, report: &Report) -> Vec<(ImageRef, Digest)> {
        report
            .pending_bases
            .iter()
            .filter_map(|p| Some((p.reference.parse().ok()?, p.digest.clone())))
            .collect()
    }

    /// Each base's decision as the base check reads it: allowed only when
    /// this policy allowed it; a base that could not be evaluated denies.
    fn complete(&self, report: &mut Report, decided: Vec<Decided<Report>>) {
        let bases = decided
            .into_iter()
            .zip(&report.pending_bases)
            .map(|(d, pending)| {
                // Paired by order; a decision about another digest never counts.
                let allowed = d.outcome == Outcome::Allowed && d.digest.as_ref() == Some(&pending.digest);
                let verdict = d.verdict.as_ref();
                let failures: Vec<&str> = verdict
                    .into_iter()
                    .flat_map(|r| &r.checks)
                    .filter(|c| c.result == policy::CheckResult::Fail)
                    .map(|c| c.reason.as_str())
                    .collect();
                let reason = match (&d.error, allowed) {
                    (Some(e), _) => format!("not evaluated: {e}"),
                    (None, true) if failures.is_empty() => "allowed".to_owned(),
                    (None, true) => format!("allowed ({})", failures.join("; ")),
                    (None, false) => failures.join("; "),
                };
                policy::report::BaseDecision {
                    image: pending.reference.clone(),
                    source: pending.source,
                    allowed,
                    rule: verdict.and_then(|r| r.rule.clone()),
                    reason,
                    bases: verdict.map(|r| r.bases.clone()).unwrap_or_default(),
                }
            })
            .collect();
        self.0.complete_bases(report, bases);
    }

    fn wants_attestation(&self, claimed: Option<&str>) -> bool {
        self.0.reads_attestation(claimed)
    }

    fn judge(&self, evidence: &ImageEvidence, now: OffsetDateTime) -> Report {
        self.0.evaluate(&evidence.policy_evidence(), now)
    }

    fn outcome(&self, report: &Report) -> Outcome {
        match (&report.error, report.decision) {
            (Some(_), _) => Outcome::Unevaluated,
            (None, Decision::Deny) => Outcome::Denied,
            (None, Decision::Allow) => Outcome::Allowed,
        }
    }

    fn steps(&self, report: &Report) -> Vec<String> {
        let mut steps = Vec::new();
        for check in &report.checks {
            let result = serde_json::to_value(check.result).ok();
            let result = result.as_ref().and_then(serde_json::Value::as_str).unwrap_or("?");
            steps.push(format!(
                "{} {}: {result}: {}",
                check.kind, check.requirement, check.reason
            ));
            steps.extend(check.details.iter().map(|d| format!("  {d}")));
        }
        steps
    }

    fn unevaluated(
        &self,
        image: &ImageRef,
        digest: Option<&Digest>,
        error: &ImageError,
        now: OffsetDateTime,
    ) -> Option<Report> {
        Some(self.0.evaluate_failure(image, digest, &error.to_string(), now))
    }
}

/// A judge that also hands back the evidence it judged, so a caller that
/// shows the evidence (`sigil audit`) does not gather it a second time.
/// Everything is gathered: every attestation, whatever the inner judge reads.
pub struct WithEvidence<J>(pub J);

/// A verdict and the evidence it was made on (`None` for an image that
/// could not be evaluated).
#[derive(Debug)]
pub struct Kept<V> {
    pub verdict: V,
    pub evidence: Option<Arc<Gathered>>,
}

impl<J: Judge> Judge for WithEvidence<J> {
    type Verdict = Kept<J::Verdict>;

    fn needs(&self) -> Needs {
        Needs {
            signatures: true,
            attestations: true,
            annotations: true,
            ..self.0.needs()
        }
    }

    fn judge(&self, evidence: &ImageEvidence, now: OffsetDateTime) -> Kept<J::Verdict> {
        Kept {
            verdict: self.0.judge(evidence, now),
            evidence: Some(evidence.gathered.clone()),
        }
    }

    fn outcome(&self, kept: &Kept<J::Verdict>) -> Outcome {
        self.0.outcome(&kept.verdict)
    }

    fn steps(&self, kept: &Kept<J::Verdict>) -> Vec<String> {
        self.0.steps(&kept.verdict)
    }

    fn dependencies(&self, kept: &Kept<J::Verdict>) -> Vec<(ImageRef, Digest)> {
        self.0.dependencies(&kept.verdict)
    }

    /// The dependencies' evidence is not kept: only the image's own is shown.
    fn complete(&self, kept: &mut Kept<J::Verdict>, decided: Vec<Decided<Kept<J::Verdict>>>) {
        let decided = decided
            .into_iter()
            .map(|d| Decided {
                image: d.image,
                digest: d.digest,
                verdict: d.verdict.map(|k| k.verdict),
                error: d.error,
                outcome: d.outcome,
            })
            .collect();
        self.0.complete(&mut kept.verdict, decided);
    }

    fn unevaluated(
        &self,
        image: &ImageRef,
        digest: Option<&Digest>,
        error: &ImageError,
        now: OffsetDateTime,
    ) -> Option<Kept<J::Verdict>> {
        self.0.unevaluated(image, digest, error, now).map(|verdict| Kept {
            verdict,
            evidence: None,
        })
    }
}

/// Judges image signatures with `F` (say, [`crate::verify::judge_signatures_by`]
/// under a key or identity); allowed when [`at_least_one_valid`].
pub struct Signatures<F>(pub F);

impl<F> Judge for Signatures<F>
where
    F: Fn(&[SignatureEvidence], &Digest, OffsetDateTime) -> Vec<SignatureCheck> + Send + Sync + 'static,
{
    type Verdict = Vec<SignatureCheck>;

    fn needs(&self) -> Needs {
        Needs {
            signatures: true,
            attestations: false,
            recorded_name: false,
            notation: false,
            annotations: false,
        }
    }

    fn judge(&self, evidence: &ImageEvidence, now: OffsetDateTime) -> Vec<SignatureCheck> {
        (self.0)(evidence.signatures(), &evidence.digest, now)
    }

    fn outcome(&self, checks: &Vec<SignatureCheck>) -> Outcome {
        at_least_one_valid(checks.iter().map(|c| &c.outcome))
    }

    fn steps(&self, checks: &Vec<SignatureCheck>) -> Vec<String> {
        checks
            .iter()
            .map(|c| step(&c.origin, c.outcome.as_ref().map(|v| &v.signer)))
            .collect()
    }
}

/// Judges attestations with `F` (say, [`crate::verify::judge_attestations_by`]
/// for one predicate type); allowed when [`at_least_one_valid`].
pub struct Attestations<F>(pub F);

impl<F> Judge for Attestations<F>
where
    F: Fn(&[AttestationEvidence], &Digest, OffsetDateTime) -> Vec<AttestationCheck> + Send + Sync + 'static,
{
    type Verdict = Vec<AttestationCheck>;

    fn needs(&self) -> Needs {
        Needs {
            signatures: false,
            attestations: true,
            recorded_name: false,
            notation: false,
            annotations: false,
        }
    }

    fn judge(&self, evidence: &ImageEvidence, now: OffsetDateTime) -> Vec<AttestationCheck> {
        (self.0)(evidence.attestations(), &evidence.digest, now)
    }

    fn outcome(&self, checks: &Vec<AttestationCheck>) -> Outcome {
        at_least_one_valid(checks.iter().map(|c| &c.outcome))
    }

    fn steps(&self, checks: &Vec<AttestationCheck>) -> Vec<String> {
        checks
            .iter()
            .map(|c| step(&c.origin, c.outcome.as_ref().map(|v| &v.signer)))
            .collect()
    }
}

/// One piece of evidence's verification, as `-v` logs it.
fn step(origin: &crate::evidence::Origin, signer: Result<&crate::verify::Signer, &crate::verify::Rejection>) -> String {
    match signer {
        Ok(signer) => format!("{origin}: verified, signed by {signer}"),
        Err(why) => format!("{origin}: refused: {why}"),
    }
}

/// The decision about one subject.
#[derive(Debug)]
pub struct Decided<V> {
    /// The subject's image, as given.
    pub image: ImageRef,
    /// The digest it resolved to, if it got that far.
    pub digest: Option<Digest>,
    /// The judge's verdict; `None` only for an image that could not be
    /// evaluated by a judge with no verdict for that ([`Judge::unevaluated`]).
    pub verdict: Option<V>,
    /// Why the image could not be evaluated.
    pub error: Option<ImageError>,
    pub outcome: Outcome,
}

/// Reported once per subject, as its decision is made (in the order they
/// finish, which need not be the input order).
#[derive(Clone, Copy, Debug)]
pub struct Progress<'a> {
    pub image: &'a ImageRef,
    /// Decisions made so far, this one included.
    pub done: usize,
    pub total: usize,
}

/// How much of the work runs at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Subjects resolved and gathered at once (at least 1).
    pub concurrency: usize,
    /// Judgements running at once, across every run of the pipeline (at
    /// least 1); by default one per core.
    pub judges: usize,
    /// The gathering budgets of one image.
    pub limits: Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            concurrency: 16,
            judges: std::thread::available_parallelism().map_or(1, usize::from),
            limits: Limits::default(),
        }
    }
}

/// A store the pipeline can gather from: besides the [`Store`] reads, the
/// name a layout records for an image.
pub trait ImageStore: Store + 'static {
    /// The value of the image's recorded name (`dev.sigil.image.name`), if any.
    fn recorded_name(&self, digest: &Digest) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Manifests beside the referrers that may be notation signatures of
    /// the image: a layout's `index.json` entries (notation's layout store
    /// finds signatures by their subject); none for a registry.
    fn notation_candidates(&self, digest: &Digest) -> Result<Vec<Descriptor>, StoreError>;
}

impl ImageStore for LayoutStore {
    async fn recorded_name(&self, digest: &Digest) -> Result<Option<String>, StoreError> {
        self.source_name(digest).await
    }

    fn notation_candidates(&self, digest: &Digest) -> Result<Vec<Descriptor>, StoreError> {
        crate::notation::layout_manifests(self.dir(), digest)
    }
}

impl ImageStore for RegistryStore {
    async fn recorded_name(&self, _: &Digest) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    fn notation_candidates(&self, _: &Digest) -> Result<Vec<Descriptor>, StoreError> {
        Ok(Vec::new())
    }
}

impl ImageStore for AnyStore {
    async fn recorded_name(&self, digest: &Digest) -> Result<Option<String>, StoreError> {
        match self {
            AnyStore::Layout(layout) => layout.recorded_name(digest).await,
            AnyStore::Registry(registry) => registry.recorded_name(digest).await,
            AnyStore::Redirected(redirected) => redirected.image.recorded_name(digest).await,
        }
    }

    fn notation_candidates(&self, digest: &Digest) -> Result<Vec<Descriptor>, StoreError> {
        match self {
            AnyStore::Layout(layout) => layout.notation_candidates(digest),
            AnyStore::Registry(registry) => registry.notation_candidates(digest),
            AnyStore::Redirected(redirected) => redirected.image.notation_candidates(digest),
        }
    }
}

/// Resolves an image reference to the descriptor of its manifest; an image
/// that does not exist is an error.
pub async fn resolve<S: Store>(store: &S, image: &ImageRef) -> Result<Descriptor, StoreError> {
    match store.fetch_manifest(&image.target()).await? {
        Some(fetched) => Ok(fetched.descriptor),
        None => Err(StoreError::NotFound {
            location: store.location(),
            what: format!("image {image}"),
        }),
    }
}

/// The names `judged_as` is matched by once the image resolved to `digest`
/// (DESIGN §4.1): a registry image by its repository and tag (the tag
/// ignored beside a digest), a layout image by `oci:DIR` and its tag and by
/// the name its layout records (`recorded`), see [`crate::policy::names`].
/// A reference that pins another digest than the image's names another
/// image, and is refused.
pub fn names_of(judged_as: &ImageRef, digest: &Digest, recorded: Option<&str>) -> Result<Names, ImageError> {
    let pinned = match judged_as {
        ImageRef::Registry(r) => r.digest(),
        ImageRef::Layout(l) => l.digest.as_ref(),
    };
    if let Some(pinned) = pinned
        && pinned != digest
    {
        return Err(ImageError::OtherDigest {
            judged_as: judged_as.to_string(),
            pinned: pinned.clone(),
            digest: digest.clone(),
        });
    }
    names::of(judged_as, digest.clone(), recorded).map_err(|e| ImageError::RecordedName(Arc::new(e)))
}

/// One gathering per (store location, digest) while subjects that share
/// it are being decided.
type Shared = Arc<Gathering>;

/// The gathering of one (store location, digest), made once.
type Gathering = OnceCell<Result<Arc<Gathered>, ImageError>>;

/// The evidence a run keeps for images met again once decided (a run of
/// many images naming few digests gathers each once): up to this many bytes
/// of it, 64 MiB. Beyond it, evidence lives only while subjects that share
/// it are being decided.
pub const RETAINED_BYTES: u64 = 64 << 20;

/// The gatherings of one run, by (store location, digest), held weakly: the
/// subjects being decided hold them, so a run holds the evidence of at most
/// [`Settings::concurrency`] images at once plus [`RETAINED_BYTES`] kept
/// for images met again, however many it decides (a digest met again
/// after every subject that shared a gathering not kept finished is
/// gathered again).
#[derive(Default)]
struct Gatherings {
    by_image: HashMap<(String, Digest), Weak<Gathering>>,
    /// Gatherings kept for the run, within [`RETAINED_BYTES`].
    retained: Vec<Shared>,
    retained_bytes: u64,
}

/// The pipeline: a way to open stores, a judge, and how much runs at once.
/// One pipeline serves any number of runs (a server keeps one per policy);
/// the judging bound is shared by all of them.
pub struct Pipeline<O, J> {
    open: O,
    judge: Arc<J>,
    settings: Settings,
    judging: Arc<Semaphore>,
}

impl<O, S, J> Pipeline<O, J>
where
    O: Fn(&ImageRef) -> Result<S, StoreError> + Sync,
    S: ImageStore,
    J: Judge,
{
    /// A pipeline opening stores with `open` (for the CLI, a registry client
    /// or a layout directory per reference) and judging with `judge`.
    pub fn new(open: O, judge: J, settings: Settings) -> Pipeline<O, J> {
        let settings = Settings {
            concurrency: settings.concurrency.max(1),
            judges: settings.judges.max(1),
            ..settings
        };
        Pipeline {
            open,
            judge: Arc::new(judge),
            judging: Arc::new(Semaphore::new(settings.judges)),
            settings,
        }
    }

    pub fn judge(&self) -> &J {
        &self.judge
    }

    /// Decides about every subject, evaluated at `now` (unless a subject
    /// says otherwise); the decisions come out in the subjects' order, and
    /// `progress` hears of each once, as it is made. One image that cannot be
    /// evaluated stops nothing else.
    pub fn decide<'a>(
        &'a self,
        subjects: Vec<Subject>,
        now: OffsetDateTime,
        progress: &'a (dyn Fn(Progress<'_>) + Sync),
    ) -> impl Stream<Item = Decided<J::Verdict>> + Send + 'a
    where
        O: Send,
    {
        let total = subjects.len();
        let shared: Arc<Mutex<Gatherings>> = Arc::default();
        let done = Arc::new(AtomicUsize::new(0));
        stream::iter(subjects)
            .map(move |subject| {
                let (shared, done) = (shared.clone(), done.clone());
                async move {
                    let decided = self.decide_one(subject, now, &shared, &[]).await;
                    progress(Progress {
                        image: &decided.image,
                        done: done.fetch_add(1, Ordering::Relaxed) + 1,
                        total,
                    });
                    decided
                }
            })
            .buffered(self.settings.concurrency)
    }

    /// [`Pipeline::decide`], collected.
    pub async fn decide_all(
        &self,
        subjects: Vec<Subject>,
        now: OffsetDateTime,
        progress: &(dyn Fn(Progress<'_>) + Sync),
    ) -> Vec<Decided<J::Verdict>>
    where
        O: Send,
    {
        self.decide(subjects, now, progress).collect().await
    }

    /// Decides one subject; `chain` holds the digests of the images whose
    /// bases are being decided through it (empty for a subject of the run).
    fn decide_one<'s>(
        &'s self,
        subject: Subject,
        now: OffsetDateTime,
        shared: &'s Mutex<Gatherings>,
        chain: &'s [Digest],
    ) -> BoxFuture<'s, Decided<J::Verdict>>
    where
        O: Send,
    {
        async move { self.decide_one_now(subject, now, shared, chain).await }.boxed()
    }

    /// Decides the base `image` (pinned to `digest`) of the last image of
    /// `chain`, unless it is too deep or already in the chain.
    async fn decide_base(
        &self,
        image: ImageRef,
        digest: Digest,
        chain: &[Digest],
        now: OffsetDateTime,
        shared: &Mutex<Gatherings>,
    ) -> Decided<J::Verdict>
    where
        O: Send,
    {
        let refused = if chain.contains(&digest) {
            Some(format!("a cycle: {image} is already in the chain of base images"))
        } else if chain.len() > BASE_DEPTH {
            Some(format!("the chain of base images is deeper than {BASE_DEPTH}"))
        } else {
            None
        };
        let decided = match refused {
            Some(why) => Decided {
                image,
                digest: Some(digest),
                verdict: None,
                error: Some(ImageError::BaseChain(why)),
                outcome: Outcome::Unevaluated,
            },
            None => {
                let subject = Subject {
                    digest: Some(digest),
                    ..Subject::from(image)
                };
                self.decide_one(subject, now, shared, chain).await
            }
        };
        let top = chain.first().map(ToString::to_string).unwrap_or_default();
        match &decided.error {
            Some(e) => tracing::info!("{top}: base {}: not decided: {e}", decided.image),
            None => tracing::info!("{top}: base {}: {:?}", decided.image, decided.outcome),
        }
        decided
    }

    async fn decide_one_now(
        &self,
        subject: Subject,
        now: OffsetDateTime,
        shared: &Mutex<Gatherings>,
        chain: &[Digest],
    ) -> Decided<J::Verdict>
    where
        O: Send,
    {
        let now = subject.at.unwrap_or(now);
        let (digest, mut judged) = match self.evidence(&subject, shared).await {
            Ok((evidence, gathering)) => {
                let digest = Some(evidence.digest.clone());
                let judged = self.judged(evidence, now).await;
                // Subjects with this digest share the gathering until this one is decided.
                drop(gathering);
                (digest, judged)
            }
            Err((digest, error)) => (digest, Err(error)),
        };
        if let (Ok(verdict), Some(digest)) = (&mut judged, &digest) {
            let dependencies = self.judge.dependencies(verdict);
            if !dependencies.is_empty() {
                let mut chain = chain.to_vec();
                chain.push(digest.clone());
                let mut decided = Vec::with_capacity(dependencies.len());
                for (image, base) in dependencies {
                    decided.push(self.decide_base(image, base, &chain, now, shared).await);
                }
                self.judge.complete(verdict, decided);
            }
        }
        let image = &subject.image;
        match &judged {
            Ok(verdict) if tracing::enabled!(tracing::Level::INFO) => {
                for step in self.judge.steps(verdict) {
                    tracing::info!("{image}: {step}");
                }
            }
            Ok(_) => {}
            Err(error) => tracing::info!("{image}: not evaluated: {error}"),
        }
        match judged {
            Ok(verdict) => Decided {
                outcome: self.judge.outcome(&verdict),
                image: subject.image,
                digest,
                verdict: Some(verdict),
                error: None,
            },
            Err(error) => Decided {
                verdict: self.judge.unevaluated(
                    subject.judged_as.as_ref().unwrap_or(&subject.image),
                    digest.as_ref(),
                    &error,
                    now,
                ),
                image: subject.image,
                digest,
                error: Some(error),
                outcome: Outcome::Unevaluated,
            },
        }
    }

    /// Resolves, gathers (once per store and digest among the subjects
    /// being decided) and names one subject; with the gathering, which the
    /// caller holds until the subject is decided.
    async fn evidence(
        &self,
        subject: &Subject,
        shared: &Mutex<Gatherings>,
    ) -> Result<(ImageEvidence, Shared), (Option<Digest>, ImageError)> {
        let store = (self.open)(&subject.image).map_err(|e| (None, e.into()))?;
        let digest = match &subject.digest {
            Some(digest) => digest.clone(),
            None => {
                resolve(&store, &subject.image)
                    .await
                    .map_err(|e| (None, e.into()))?
                    .digest
            }
        };
        let (cell, first) = {
            let mut gatherings = shared.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (store.location(), digest.clone());
            match gatherings.by_image.get(&key).and_then(Weak::upgrade) {
                Some(cell) => (cell, false),
                None => {
                    // Forget finished gatherings, so the map stays as small as what is held.
                    gatherings.by_image.retain(|_, held| held.strong_count() > 0);
                    let cell = Shared::default();
                    gatherings.by_image.insert(key, Arc::downgrade(&cell));
                    (cell, true)
                }
            }
        };
        let (judge, limits) = (self.judge.clone(), self.settings.limits);
        let gathered = cell
            .get_or_init(|| gather(store, digest.clone(), judge, limits))
            .await
            .clone()
            .map_err(|e| (Some(digest.clone()), e))?;
        if first {
            let bytes = gathered.bytes();
            let mut gatherings = shared.lock().unwrap_or_else(PoisonError::into_inner);
            if gatherings.retained_bytes.saturating_add(bytes) <= RETAINED_BYTES {
                gatherings.retained_bytes += bytes;
                gatherings.retained.push(cell.clone());
            }
        }
        let judged_as = subject.judged_as.as_ref().unwrap_or(&subject.image);
        let names =
            names_of(judged_as, &digest, gathered.recorded_name.as_deref()).map_err(|e| (Some(digest.clone()), e))?;
        let evidence = ImageEvidence {
            image: judged_as.clone(),
            digest,
            names,
            gathered,
        };
        Ok((evidence, cell))
    }

    /// Judges on a blocking thread, once a judging slot is free.
    async fn judged(&self, evidence: ImageEvidence, now: OffsetDateTime) -> Result<J::Verdict, ImageError> {
        let image = evidence.image.to_string();
        let failed = || ImageError::Judgement { image: image.clone() };
        // The semaphore is never closed, so acquiring fails only if it were.
        let permit = self.judging.clone().acquire_owned().await.map_err(|_| failed())?;
        let judge = self.judge.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            judge.judge(&evidence, now)
        })
        .await
        .map_err(|_| failed())
    }
}

/// Gathers what `judge` needs, for one image.
async fn gather<S: ImageStore, J: Judge>(
    store: S,
    digest: Digest,
    judge: Arc<J>,
    limits: Limits,
) -> Result<Arc<Gathered>, ImageError> {
    let needs = judge.needs();
    let mut gatherer = Gatherer::new(&store, &digest, limits);
    let mut gathered = Gathered::default();
    if needs.signatures {
        gathered.signatures = gatherer.signatures().await?;
    }
    if needs.attestations {
        gathered.attestations = gatherer
            .attestations_wanted(|claimed| judge.wants_attestation(claimed))
            .await?;
    }
    if needs.recorded_name {
        gathered.recorded_name = store.recorded_name(&digest).await?;
    }
    if needs.annotations {
        gathered.annotations = match store
            .fetch_manifest(&crate::reference::Target::Digest(digest.clone()))
            .await?
        {
            Some(f) => crate::oci::Manifest::parse(&f.descriptor.media_type, &f.bytes)
                .map(|m| m.annotations().clone())
                .unwrap_or_default(),
            None => {
                return Err(StoreError::NotFound {
                    location: store.location(),
                    what: format!("manifest {digest}"),
                }
                .into());
            }
        };
    }
    if needs.notation {
        let target =
            crate::notation::image_descriptor(&store, &crate::reference::Target::Digest(digest.clone())).await?;
        let extra = store.notation_candidates(&digest)?;
        let signatures = gatherer.notation(extra).await?;
        gathered.notation = Some(NotationEvidence { target, signatures });
    }
    Ok(Arc::new(gathered))
}
