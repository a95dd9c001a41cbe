//! The pipeline over an OCI layout whose reads are counted: decisions in
//! input order, one gathering per digest, one progress report per image,
//! and one image's failure leaving the others decided.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::cosign::{self, SIMPLESIGNING_MEDIA_TYPE};
use crate::counting::Counting;
use crate::gather::SignatureContent;
use crate::oci::{self, ImageManifest};
use crate::reference::{LayoutRef, Target};

/// A test judge: the verdict is the number of signatures gathered that
/// carry a signature annotation; allowed when there is one.
struct CountSignatures;

impl Judge for CountSignatures {
    type Verdict = usize;
    fn needs(&self) -> Needs {
        Needs {
            signatures: true,
            attestations: false,
            recorded_name: false,
            notation: false,
            annotations: false,
        }
    }
    fn judge(&self, evidence: &ImageEvidence, _: OffsetDateTime) -> usize {
        evidence
            .signatures()
            .iter()
            .filter(|s| matches!(&s.content, SignatureContent::SimpleSigning { annotations, .. } if annotations.contains_key(cosign::SIGNATURE_ANNOTATION)))
            .count()
    }
    fn outcome(&self, signed: &usize) -> Outcome {
        if *signed > 0 { Outcome::Allowed } else { Outcome::Denied }
    }
}

/// A layout directory and the store over it.
async fn layout() -> (tempfile::TempDir, Counting) {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = LayoutStore::create(&dir.path().join("layout")).expect("layout");
    let store = Counting::new(inner);
    (dir, store)
}

/// Pushes a distinct image tagged `tag` with `signatures` signature layers; its digest.
async fn image(store: &Counting, tag: &str, signatures: usize) -> Digest {
    let config = Descriptor::of(oci::OCI_CONFIG, b"{}");
    store.push_blob(&config, b"{}").await.expect("config");
    let manifest = oci::to_bytes(&ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config,
        layers: vec![],
        subject: None,
        annotations: BTreeMap::from([("test.image".to_owned(), tag.to_owned())]),
    });
    let digest = store
        .push_manifest(&Target::Tag(tag.to_owned()), oci::OCI_MANIFEST, &manifest)
        .await
        .expect("image")
        .digest;
    if signatures > 0 {
        let mut layers = Vec::new();
        for n in 0..signatures {
            let payload = format!("payload {tag} {n}").into_bytes();
            let mut layer = Descriptor::of(SIMPLESIGNING_MEDIA_TYPE, &payload);
            store.push_blob(&layer, &payload).await.expect("payload");
            layer
                .annotations
                .insert(cosign::SIGNATURE_ANNOTATION.to_owned(), format!("sig-{n}"));
            layers.push(layer);
        }
        let (config, config_bytes, manifest) = cosign::attachment_manifest(layers);
        store.push_blob(&config, &config_bytes).await.expect("config");
        store
            .push_manifest(
                &Target::Tag(cosign::signature_tag(&digest)),
                oci::OCI_MANIFEST,
                &oci::to_bytes(&manifest),
            )
            .await
            .expect("signature tag");
    }
    digest
}

/// `oci:DIR:TAG` (or `oci:DIR@DIGEST`) for the layout of `store`.
fn reference(store: &Counting, tag: Option<&str>, digest: Option<&Digest>) -> ImageRef {
    ImageRef::Layout(LayoutRef {
        dir: store.inner.dir().to_path_buf(),
        tag: tag.map(str::to_owned),
        digest: digest.cloned(),
    })
}

fn pipeline<J: Judge>(
    store: &Counting,
    judge: J,
    settings: Settings,
) -> Pipeline<impl Fn(&ImageRef) -> Result<Counting, StoreError> + Send + Sync, J> {
    let store = store.clone();
    Pipeline::new(move |_: &ImageRef| Ok(store.clone()), judge, settings)
}

fn now() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_come_in_input_order_and_progress_hears_of_each_once() {
    let (_dir, store) = layout().await;
    let mut subjects = Vec::new();
    let mut want = Vec::new();
    // later images finish first when judged alone: 40 signatures, then fewer
    for n in 0..12 {
        let tag = format!("v{n}");
        let signatures = (12 - n) % 4 * 10;
        let digest = image(&store, &tag, signatures).await;
        subjects.push(Subject::from(reference(&store, Some(&tag), None)));
        want.push((reference(&store, Some(&tag), None), digest, signatures));
    }
    let heard = Mutex::new(Vec::new());
    let settings = Settings {
        concurrency: 5,
        judges: 2,
        ..Settings::default()
    };
    let decided = pipeline(&store, CountSignatures, settings)
        .decide_all(subjects, now(), &|p: Progress<'_>| {
            heard.lock().expect("lock").push((p.image.clone(), p.done, p.total));
        })
        .await;
    assert_eq!(decided.len(), want.len());
    for (d, (image, digest, signatures)) in decided.iter().zip(&want) {
        assert_eq!(&d.image, image);
        assert_eq!(d.digest.as_ref(), Some(digest));
        assert_eq!(d.verdict, Some(*signatures), "{image}");
        assert!(d.error.is_none(), "{image}: {:?}", d.error);
        let expected = if *signatures > 0 {
            Outcome::Allowed
        } else {
            Outcome::Denied
        };
        assert_eq!(d.outcome, expected, "{image}");
    }
    let heard = heard.into_inner().expect("lock");
    assert_eq!(heard.len(), want.len(), "one report per image");
    let mut counted: Vec<usize> = heard.iter().map(|(_, done, _)| *done).collect();
    counted.sort_unstable();
    assert_eq!(counted, (1..=want.len()).collect::<Vec<_>>());
    assert!(heard.iter().all(|(_, _, total)| *total == want.len()));
    let mut images: Vec<String> = heard.iter().map(|(i, _, _)| i.to_string()).collect();
    images.sort();
    let mut expected: Vec<String> = want.iter().map(|(i, _, _)| i.to_string()).collect();
    expected.sort();
    assert_eq!(images, expected, "each image reported, none twice");
}

#[tokio::test]
async fn identical_digests_are_gathered_once() {
    let (_dir, store) = layout().await;
    let digest = image(&store, "v1", 3).await;
    let other = image(&store, "v2", 2).await;
    // the same image five ways: by tag, by digest, by both, again by tag; and one other image
    let subjects: Vec<Subject> = [
        reference(&store, Some("v1"), None),
        reference(&store, None, Some(&digest)),
        reference(&store, Some("v2"), None),
        reference(&store, Some("v1"), Some(&digest)),
        reference(&store, Some("v1"), None),
    ]
    .into_iter()
    .map(Subject::from)
    .chain([Subject {
        digest: Some(digest.clone()),
        ..Subject::from(reference(&store, Some("v1"), None))
    }])
    .collect();
    let decided = pipeline(&store, CountSignatures, Settings::default())
        .decide_all(subjects, now(), &|_| {})
        .await;
    let verdicts: Vec<_> = decided.iter().map(|d| d.verdict).collect();
    assert_eq!(verdicts, [Some(3), Some(3), Some(2), Some(3), Some(3), Some(3)]);
    assert_eq!(decided[2].digest.as_ref(), Some(&other));
    // one .sig read and one read per signature blob, per distinct digest
    assert_eq!(store.counts.signature_tags.load(Ordering::SeqCst), 2);
    assert_eq!(store.counts.blobs.load(Ordering::SeqCst), 3 + 2);
    // a judge that matches no names does not read them
    assert_eq!(store.counts.recorded_names.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn one_image_that_cannot_be_evaluated_stops_nothing_else() {
    let (_dir, store) = layout().await;
    image(&store, "signed", 1).await;
    image(&store, "flooded", 5).await;
    image(&store, "unsigned", 0).await;
    let subjects: Vec<Subject> = ["signed", "missing", "flooded", "unsigned", "signed"]
        .into_iter()
        .map(|tag| Subject::from(reference(&store, Some(tag), None)))
        .collect();
    let settings = Settings {
        limits: Limits {
            max_bytes: Limits::default().max_bytes,
            max_items: 3,
        },
        ..Settings::default()
    };
    let decided = pipeline(&store, CountSignatures, settings)
        .decide_all(subjects, now(), &|_| {})
        .await;
    let outcomes: Vec<Outcome> = decided.iter().map(|d| d.outcome).collect();
    use Outcome::{Allowed, Denied, Unevaluated};
    assert_eq!(outcomes, [Allowed, Unevaluated, Unevaluated, Denied, Allowed]);
    // the kind of each failure: a missing image, a budget
    assert!(
        matches!(&decided[1].error, Some(ImageError::Store(e)) if e.is_not_found()),
        "{:?}",
        decided[1].error
    );
    assert_eq!(decided[1].digest, None);
    assert!(
        matches!(&decided[2].error, Some(ImageError::Gather(e)) if matches!(**e, GatherError::TooManyItems { limit: 3, .. })),
        "{:?}",
        decided[2].error
    );
    assert!(decided[2].digest.is_some(), "resolved before gathering failed");
    assert_eq!(decided[1].verdict, None, "this judge has no verdict for a failure");
    assert_eq!(Outcome::of_run(outcomes), Unevaluated);
}

#[tokio::test]
async fn a_policy_judges_an_image_it_could_not_evaluate_under_its_rule() {
    let (_dir, store) = layout().await;
    let digest = image(&store, "v1", 0).await;
    let pem = crate::keys::SigningKey::generate().expect("key").public_key().to_pem();
    let text = format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release:\n    keyData: |\n{}\nrules:\n  - name: everything\n    images: [\"**\"]\n    signatures: {{ anyOf: [release] }}\n    mode: warn\n",
        pem.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
    );
    let files = policy::MemoryFiles::default().with("p.yaml", text);
    let (policy, _) = Policy::load(std::path::Path::new("p.yaml"), now(), &files).expect("policy");
    let judge = PolicyJudge(Arc::new(policy));
    let subjects = vec![
        Subject::from(reference(&store, Some("v1"), None)),
        Subject::from(reference(&store, Some("nope"), None)),
        // judged as a reference that pins another digest: refused, not matched
        Subject {
            judged_as: Some(
                format!("registry.example/app@{}", Digest::sha256_of(b"other"))
                    .parse()
                    .expect("reference"),
            ),
            ..Subject::from(reference(&store, Some("v1"), None))
        },
    ];
    let decided = pipeline(&store, judge, Settings::default())
        .decide_all(subjects, now(), &|_| {})
        .await;
    // unsigned under a warn rule: allowed, with the failure in the report
    let report = decided[0].verdict.as_ref().expect("report");
    assert_eq!(
        (report.decision, decided[0].outcome),
        (Decision::Allow, Outcome::Allowed)
    );
    assert!(report.has_failures());
    // missing under a warn rule: a report naming the error, and the run cannot pass
    let report = decided[1].verdict.as_ref().expect("report for the failure");
    assert!(
        report.error.as_deref().is_some_and(|e| e.contains("not found")),
        "{report:?}"
    );
    assert_eq!(decided[1].outcome, Outcome::Unevaluated);
    assert!(
        matches!(&decided[2].error, Some(ImageError::OtherDigest { digest: d, .. }) if d == &digest),
        "{:?}",
        decided[2].error
    );
    assert_eq!(decided[2].outcome, Outcome::Unevaluated);
    // the policy asked for recorded names: read once for the one digest that resolved
    assert_eq!(store.counts.recorded_names.load(Ordering::SeqCst), 1);
}

/// Notary Project signatures are gathered only for a policy that has a
/// `notation` publisher: a keys-only policy reads exactly what it read
/// before, with no layout scan and no extra manifest.
#[tokio::test]
async fn notation_evidence_is_gathered_only_when_a_publisher_needs_it() {
    let (_dir, store) = layout().await;
    image(&store, "v1", 1).await;
    let pem = crate::keys::SigningKey::generate().expect("key").public_key().to_pem();
    let key_data = pem.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n");
    let head = format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release:\n    keyData: |\n{key_data}\n  e2e:\n    notation: {{trustStore: store, trustedIdentities: [\"*\"]}}\nrules:\n  - name: everything\n    images: [\"**\"]\n"
    );
    let cert =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/notation/localkeys/e2e.crt"))
            .expect("e2e.crt");
    let run = |signatures: &'static str| {
        let files = policy::MemoryFiles::default()
            .with("p.yaml", format!("{head}    signatures: {signatures}\n"))
            .with("store/e2e.crt", cert.clone());
        let (policy, _) = Policy::load(std::path::Path::new("p.yaml"), now(), &files).expect("policy");
        let judge = PolicyJudge(Arc::new(policy));
        let store = store.clone();
        async move {
            let before = store.counts.manifests.load(Ordering::SeqCst);
            let decided = pipeline(&store, judge, Settings::default())
                .decide_all(vec![Subject::from(reference(&store, Some("v1"), None))], now(), &|_| {})
                .await;
            let report = decided[0].verdict.clone().expect("report");
            (report, store.counts.manifests.load(Ordering::SeqCst) - before)
        }
    };
    // A rule names the notation publisher: gathered (the layout scanned, the
    // image's descriptor fetched); the image has no notation signature (and
    // its cosign layers are fakes).
    let (report, with_notation) = run("{anyOf: [e2e, release]}").await;
    assert_eq!(report.decision, Decision::Deny);
    assert!(
        report.checks[0]
            .details
            .contains(&"e2e: the image has no notation signatures".to_owned()),
        "{report:?}"
    );
    assert_eq!(store.counts.notation_scans.load(Ordering::SeqCst), 1);
    let (report, _) = run("{anyOf: [e2e]}").await;
    assert_eq!(report.checks[0].code, policy::ReasonCode::NoSignatures, "{report:?}");
    assert_eq!(store.counts.notation_scans.load(Ordering::SeqCst), 2);
    // Defined but named by no rule: not gathered.
    let (_, unnamed) = run("{anyOf: [release]}").await;
    assert_eq!(store.counts.notation_scans.load(Ordering::SeqCst), 2);

    let files = policy::MemoryFiles::default().with(
        "p.yaml",
        format!(
            "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release:\n    keyData: |\n{key_data}\nrules:\n  - name: everything\n    images: [\"**\"]\n    signatures: {{anyOf: [release]}}\n"
        ),
    );
    let (keys_only, _) = Policy::load(std::path::Path::new("p.yaml"), now(), &files).expect("policy");
    assert!(!keys_only.reads_notation());
    let before = store.counts.manifests.load(Ordering::SeqCst);
    pipeline(&store, PolicyJudge(Arc::new(keys_only)), Settings::default())
        .decide_all(vec![Subject::from(reference(&store, Some("v1"), None))], now(), &|_| {})
        .await;
    let without = store.counts.manifests.load(Ordering::SeqCst) - before;
    assert_eq!(
        store.counts.notation_scans.load(Ordering::SeqCst),
        2,
        "no scan for a keys-only policy"
    );
    assert!(
        without < with_notation,
        "{without} manifests without notation, {with_notation} with"
    );
    assert_eq!(unnamed, without);
}

#[test]
fn outcomes_combine_worst_first() {
    use Outcome::{Allowed, Denied, Unevaluated};
    let all = [Allowed, Denied, Unevaluated];
    for a in all {
        for b in all {
            let want = if a == Unevaluated || b == Unevaluated {
                Unevaluated
            } else if a == Denied || b == Denied {
                Denied
            } else {
                Allowed
            };
            assert_eq!(a.worst(b), want, "{a:?} {b:?}");
        }
    }
    assert_eq!(Outcome::of_run([]), Allowed);
    assert_eq!(Outcome::of_run([Denied, Allowed]), Denied);
    assert_eq!(all.map(Outcome::exit_code), [0, 1, 2]);
}

#[test]
fn at_least_one_valid_piece_of_evidence_passes() {
    let none: [Result<(), ()>; 0] = [];
    assert_eq!(at_least_one_valid(&none), Outcome::Denied);
    assert_eq!(at_least_one_valid(&[Err::<(), ()>(())]), Outcome::Denied);
    assert_eq!(at_least_one_valid(&[Err(()), Ok(())]), Outcome::Allowed);
    assert_eq!(at_least_one_valid(&[Ok::<(), ()>(())]), Outcome::Allowed);
}

/// A judge that records the threads it ran on and how many ran at once.
#[derive(Default)]
struct Watching {
    threads: Mutex<Vec<std::thread::ThreadId>>,
    running: AtomicUsize,
    most: AtomicUsize,
}

impl Judge for Arc<Watching> {
    type Verdict = ();
    fn needs(&self) -> Needs {
        Needs {
            signatures: false,
            attestations: false,
            recorded_name: false,
            notation: false,
            annotations: false,
        }
    }
    fn judge(&self, _: &ImageEvidence, _: OffsetDateTime) {
        let now_running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now_running, Ordering::SeqCst);
        self.threads.lock().expect("lock").push(std::thread::current().id());
        // long enough for others to overlap if the bound let them
        std::thread::sleep(std::time::Duration::from_millis(5));
        self.running.fetch_sub(1, Ordering::SeqCst);
    }
    fn outcome(&self, (): &()) -> Outcome {
        Outcome::Allowed
    }
}

#[tokio::test]
async fn judgement_runs_off_the_async_thread_within_its_bound() {
    let (_dir, store) = layout().await;
    let mut subjects = Vec::new();
    for n in 0..8 {
        let tag = format!("v{n}");
        image(&store, &tag, 0).await;
        subjects.push(Subject::from(reference(&store, Some(&tag), None)));
    }
    let watching = Arc::new(Watching::default());
    let settings = Settings {
        concurrency: 8,
        judges: 2,
        ..Settings::default()
    };
    let decided = pipeline(&store, watching.clone(), settings)
        .decide_all(subjects, now(), &|_| {})
        .await;
    assert!(decided.iter().all(|d| d.outcome == Outcome::Allowed));
    // this test's runtime has one thread, this one: judging never used it
    let async_thread = std::thread::current().id();
    let threads = watching.threads.lock().expect("lock");
    assert_eq!(threads.len(), 8);
    assert!(threads.iter().all(|t| *t != async_thread), "{threads:?}");
    assert!(
        watching.most.load(Ordering::SeqCst) <= 2,
        "more judgements at once than the bound"
    );
}

/// A policy with `rule` (YAML lines of one rule after its name and images)
/// trusting a fresh key as `release`.
fn policy_judge(rule: &str) -> PolicyJudge {
    let pem = crate::keys::SigningKey::generate().expect("key").public_key().to_pem();
    let text = format!(
        "apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\npublishers:\n  release:\n    keyData: |\n{}\nrules:\n  - name: everything\n    images: [\"**\"]\n{rule}",
        pem.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
    );
    let files = policy::MemoryFiles::default().with("p.yaml", text);
    let (policy, _) = Policy::load(std::path::Path::new("p.yaml"), now(), &files).expect("policy");
    PolicyJudge(Arc::new(policy))
}

#[tokio::test]
async fn a_policy_fetches_only_the_attestations_its_rules_read() {
    let (_dir, store) = layout().await;
    let digest = image(&store, "v1", 1).await;
    // three attestation layers: claimed CycloneDX, claimed SLSA, unclaimed
    let mut layers = Vec::new();
    for (n, claimed) in [
        Some(crate::predicate::CYCLONEDX),
        Some(crate::predicate::SLSA_PROVENANCE_V1),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let envelope = format!("envelope {n}").into_bytes();
        let mut layer = Descriptor::of(cosign::DSSE_MEDIA_TYPE, &envelope);
        store.push_blob(&layer, &envelope).await.expect("envelope");
        if let Some(t) = claimed {
            layer
                .annotations
                .insert(cosign::PREDICATE_TYPE_ANNOTATION.to_owned(), t.to_owned());
        }
        layers.push(layer);
    }
    let (config, config_bytes, manifest) = cosign::attachment_manifest(layers);
    store.push_blob(&config, &config_bytes).await.expect("config");
    store
        .push_manifest(
            &Target::Tag(cosign::attestation_tag(&digest)),
            oci::OCI_MANIFEST,
            &oci::to_bytes(&manifest),
        )
        .await
        .expect("attestation tag");
    let cdx = format!(
        "    signatures: {{ anyOf: [release] }}\n    attestations:\n      - predicateType: {}\n        signedBy: [release]\n",
        crate::predicate::CYCLONEDX
    );
    // (rule, blobs fetched: the signature's payload, then the attestations read)
    for (rule, blobs) in [
        ("    signatures: { anyOf: [release] }\n".to_owned(), 1),
        (cdx.clone(), 3),
        (format!("{cdx}        sbom: {{ deniedLicenses: [AGPL-3.0-only] }}\n"), 3),
    ] {
        let before = store.blob_fetches();
        let decided = pipeline(&store, policy_judge(&rule), Settings::default())
            .decide_all(vec![Subject::from(reference(&store, Some("v1"), None))], now(), &|_| {})
            .await;
        // the test key signed nothing: denied, having read what the rule needs
        assert_eq!(decided[0].outcome, Outcome::Denied, "{rule}: {:?}", decided[0].error);
        assert_eq!(store.blob_fetches() - before, blobs, "{rule}");
    }
    // twin: a judge that reads every attestation fetches all three
    let before = store.blob_fetches();
    let all = Attestations(|e: &[AttestationEvidence], _: &Digest, _: OffsetDateTime| {
        assert_eq!(e.len(), 3);
        Vec::new()
    });
    pipeline(&store, all, Settings::default())
        .decide_all(vec![Subject::from(reference(&store, Some("v1"), None))], now(), &|_| {})
        .await;
    assert_eq!(store.blob_fetches() - before, 3);
}
