//! Gathering against a hostile layout: a blob listed a thousand times is
//! fetched once, and floods beyond the byte or item budget are refused
//! before their blobs are read. Each accepting case beside its refused twin.

use super::*;
use crate::bundle::BUNDLE_V03;
use crate::counting::Counting;
use crate::layout::LayoutStore;
use crate::oci::{self, ImageManifest};

/// A fresh layout holding one image; returns the store and the image digest.
async fn layout() -> (tempfile::TempDir, Counting, Digest) {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = LayoutStore::create(&dir.path().join("layout")).expect("layout");
    let config = Descriptor::of(oci::OCI_CONFIG, b"{}");
    inner.push_blob(&config, b"{}").await.expect("config");
    let manifest = oci::to_bytes(&ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config,
        layers: vec![],
        subject: None,
        annotations: BTreeMap::new(),
    });
    let pushed = inner
        .push_manifest(&Target::Tag("v1".into()), oci::OCI_MANIFEST, &manifest)
        .await
        .expect("image");
    let store = Counting::new(inner);
    (dir, store, pushed.digest)
}

/// A simple-signing layer over `payload` (pushed), annotated `n`.
async fn signature_layer(store: &Counting, payload: &[u8], n: usize) -> Descriptor {
    let mut layer = Descriptor::of(SIMPLESIGNING_MEDIA_TYPE, payload);
    store.push_blob(&layer, payload).await.expect("payload");
    layer
        .annotations
        .insert(cosign::SIGNATURE_ANNOTATION.to_owned(), format!("sig-{n}"));
    layer
}

/// Writes `layers` as the image's `.sig` (or `.att`) tag.
async fn write_tag(store: &Counting, tag: &str, layers: Vec<Descriptor>) {
    let (config, config_bytes, manifest) = cosign::attachment_manifest(layers);
    store.push_blob(&config, &config_bytes).await.expect("config");
    store
        .push_manifest(
            &Target::Tag(tag.to_owned()),
            oci::OCI_MANIFEST,
            &oci::to_bytes(&manifest),
        )
        .await
        .expect("tag manifest");
}

/// Adds a bundle referrer of `image` with `layers` distinct bundle layers.
async fn add_referrer(store: &Counting, image: &Digest, predicate: &str, seed: usize, layers: usize) {
    let mut descriptors = Vec::new();
    for n in 0..layers {
        let bytes = format!(r#"{{"referrer":{seed},"layer":{n}}}"#).into_bytes();
        let layer = Descriptor::of(BUNDLE_V03, &bytes);
        store.push_blob(&layer, &bytes).await.expect("bundle");
        descriptors.push(layer);
    }
    let config = Descriptor::of(oci::OCI_EMPTY, oci::EMPTY_JSON);
    store.push_blob(&config, oci::EMPTY_JSON).await.expect("empty config");
    let subject = Descriptor {
        size: 0,
        ..Descriptor::of(oci::OCI_MANIFEST, b"")
    };
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_owned()),
        artifact_type: Some(BUNDLE_V03.to_owned()),
        config,
        layers: descriptors,
        subject: Some(Descriptor {
            digest: image.clone(),
            ..subject
        }),
        annotations: [("dev.sigstore.bundle.predicateType".to_owned(), predicate.to_owned())].into(),
    };
    referrers::push(store, &manifest).await.expect("referrer");
}

fn limits(max_bytes: u64, max_items: usize) -> Limits {
    Limits { max_bytes, max_items }
}

#[test]
fn default_limits() {
    assert_eq!(Limits::default(), limits(512 * 1024 * 1024, 10_000));
}

#[tokio::test]
async fn a_blob_listed_a_thousand_times_is_fetched_once() {
    let (_dir, store, image) = layout().await;
    let payload = vec![b'p'; 64 * 1024];
    let layer = signature_layer(&store, &payload, 0).await;
    write_tag(&store, &cosign::signature_tag(&image), vec![layer; 1000]).await;
    let found = signatures(&store, &image).await.expect("gathered");
    assert_eq!(store.blob_fetches(), 1, "one distinct blob, one fetch");
    // identical entries are one piece of evidence
    assert_eq!(found.len(), 1);
    assert!(matches!(&found[0].content, SignatureContent::SimpleSigning { payload: p, .. } if *p == payload));

    // twin: the same blob under different annotations is distinct evidence, still fetched once
    let (_dir, store, image) = layout().await;
    let mut layers = Vec::new();
    for n in 0..50 {
        layers.push(signature_layer(&store, &payload, n).await);
    }
    write_tag(&store, &cosign::signature_tag(&image), layers).await;
    let found = signatures(&store, &image).await.expect("gathered");
    assert_eq!(store.blob_fetches(), 1);
    assert_eq!(found.len(), 50);
    let signatures: HashSet<_> = found
        .iter()
        .filter_map(|e| match &e.content {
            SignatureContent::SimpleSigning {
                payload: p,
                annotations,
            } if *p == payload => annotations.get(cosign::SIGNATURE_ANNOTATION).cloned(),
            _ => None,
        })
        .collect();
    assert_eq!(signatures.len(), 50, "each piece keeps its own annotations");
}

#[tokio::test]
async fn distinct_blobs_beyond_the_byte_budget_are_refused_before_any_is_read() {
    let (_dir, store, image) = layout().await;
    let mut layers = Vec::new();
    for n in 0..20 {
        let payload = vec![u8::try_from(n).expect("small"); 100 * 1024];
        layers.push(signature_layer(&store, &payload, n).await);
    }
    write_tag(&store, &cosign::signature_tag(&image), layers).await;
    let err = Gatherer::new(&store, &image, limits(1 << 20, 10_000))
        .signatures()
        .await
        .expect_err("2 MB of evidence against a 1 MiB budget");
    assert!(
        matches!(err, GatherError::TooManyBytes { limit: 1_048_576, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("1048576-byte budget")
            && text.contains("--max-evidence-bytes")
            && text.contains("cannot be evaluated"),
        "{text}"
    );
    assert_eq!(
        store.blob_fetches(),
        0,
        "refused from the plan, before any blob was read"
    );

    // twin: a budget that holds them
    let found = Gatherer::new(&store, &image, limits(4 << 20, 10_000))
        .signatures()
        .await
        .expect("within the budget");
    assert_eq!(found.len(), 20);
    assert_eq!(store.blob_fetches(), 20);
}

#[tokio::test]
async fn more_pieces_than_the_item_budget_are_refused() {
    let (_dir, store, image) = layout().await;
    let mut layers = Vec::new();
    for n in 0..30 {
        layers.push(signature_layer(&store, format!("payload {n}").as_bytes(), n).await);
    }
    write_tag(&store, &cosign::signature_tag(&image), layers).await;
    let err = Gatherer::new(&store, &image, limits(1 << 20, 29))
        .signatures()
        .await
        .expect_err("30 signatures against 29");
    assert!(matches!(err, GatherError::TooManyItems { limit: 29, .. }), "{err:?}");
    assert!(err.to_string().contains("--max-evidence-items"), "{err}");
    assert_eq!(store.blob_fetches(), 0);
    // twin: exactly at the budget
    let found = Gatherer::new(&store, &image, limits(1 << 20, 30))
        .signatures()
        .await
        .expect("at the budget");
    assert_eq!(found.len(), 30);
}

#[tokio::test]
async fn referrers_times_layers_count_against_the_budget() {
    let (_dir, store, image) = layout().await;
    for seed in 0..5 {
        add_referrer(&store, &image, "https://slsa.dev/provenance/v1", seed, 5).await;
    }
    let err = Gatherer::new(&store, &image, limits(1 << 20, 24))
        .attestations()
        .await
        .expect_err("5 referrers x 5 layers against 24");
    assert!(matches!(err, GatherError::TooManyItems { .. }), "{err:?}");
    assert_eq!(store.blob_fetches(), 0);
    let found = Gatherer::new(&store, &image, limits(1 << 20, 25))
        .attestations()
        .await
        .expect("at the budget");
    assert_eq!(found.len(), 25);
    assert!(found.iter().all(|a| matches!(a.content, AttestationContent::Bundle(_))
        && a.claimed_type.as_deref() == Some("https://slsa.dev/provenance/v1")));
    // the referrer manifests are charged too: a budget below them refuses
    let err = Gatherer::new(&store, &image, limits(200, 10_000))
        .attestations()
        .await
        .expect_err("manifests over 200 bytes");
    assert!(matches!(err, GatherError::TooManyBytes { .. }), "{err:?}");
}

#[tokio::test]
async fn signatures_and_attestations_of_one_image_share_the_budget() {
    let (_dir, store, image) = layout().await;
    let mut layers = Vec::new();
    for n in 0..6 {
        layers.push(signature_layer(&store, format!("payload {n}").as_bytes(), n).await);
    }
    write_tag(&store, &cosign::signature_tag(&image), layers).await;
    for seed in 0..3 {
        add_referrer(&store, &image, "https://slsa.dev/provenance/v1", seed, 2).await;
    }
    let mut gatherer = Gatherer::new(&store, &image, limits(1 << 20, 10));
    assert_eq!(gatherer.signatures().await.expect("6 of 10").len(), 6);
    let err = gatherer.attestations().await.expect_err("6 more: 12 of 10");
    assert!(matches!(err, GatherError::TooManyItems { limit: 10, .. }), "{err:?}");
    // twin: with room for both
    let mut gatherer = Gatherer::new(&store, &image, limits(1 << 20, 12));
    assert_eq!(gatherer.signatures().await.expect("6").len(), 6);
    assert_eq!(gatherer.attestations().await.expect("6").len(), 6);
}

#[tokio::test]
async fn missing_blobs_stay_invalid_evidence_listed_once() {
    let (_dir, store, image) = layout().await;
    let good = signature_layer(&store, b"good payload", 0).await;
    let mut missing = Descriptor::of(SIMPLESIGNING_MEDIA_TYPE, b"never pushed");
    missing
        .annotations
        .insert(cosign::SIGNATURE_ANNOTATION.to_owned(), "sig-x".into());
    write_tag(
        &store,
        &cosign::signature_tag(&image),
        vec![good, missing.clone(), missing],
    )
    .await;
    let found = signatures(&store, &image).await.expect("gathered");
    assert_eq!(found.len(), 2, "the repeated missing entry is one piece");
    assert!(matches!(found[0].content, SignatureContent::SimpleSigning { .. }));
    assert!(
        matches!(&found[1].content, SignatureContent::Unreadable(why) if why.contains("not found")),
        "{:?}",
        found[1]
    );
}

#[tokio::test]
async fn one_blob_over_the_blob_limit_is_refused_as_too_large_not_over_budget() {
    let (_dir, store, image) = layout().await;
    let mut huge = signature_layer(&store, b"small really", 0).await;
    huge.size = limits::BLOB_BYTES + 1;
    write_tag(&store, &cosign::signature_tag(&image), vec![huge]).await;
    let err = signatures(&store, &image).await.expect_err("over the per-blob limit");
    assert!(
        matches!(err, GatherError::Store(StoreError::TooLarge { .. })),
        "{err:?}"
    );
    assert!(err.to_string().contains("268435456-byte limit"), "{err}");
    assert_eq!(store.blob_fetches(), 0);
}

/// Notary Project signatures of notation's own e2e layout: found through
/// the fallback index and the layout's `index.json` (once, though listed by
/// both), and charged to the image's budget like any other evidence.
#[tokio::test]
async fn notation_signatures_are_found_once_and_charged() {
    use std::str::FromStr as _;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/notation/layouts/e2e-valid-signature");
    let store = Counting::new(LayoutStore::open(&dir).expect("layout"));
    let image =
        Digest::from_str("sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9").expect("digest");
    let extra = crate::pipeline::ImageStore::notation_candidates(&store, &image).expect("index.json");
    assert!(!extra.is_empty());
    let found = Gatherer::new(&store, &image, Limits::default())
        .notation(extra.clone())
        .await
        .expect("gathered");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].envelope.is_ok());
    // The same with no room for one more piece of evidence, or for its bytes.
    let no_items = Limits {
        max_items: 0,
        ..Limits::default()
    };
    assert!(matches!(
        Gatherer::new(&store, &image, no_items).notation(extra.clone()).await,
        Err(GatherError::TooManyItems { .. })
    ));
    let no_bytes = Limits {
        max_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        Gatherer::new(&store, &image, no_bytes).notation(extra).await,
        Err(GatherError::TooManyBytes { .. })
    ));
    // Another image has none.
    let other = Digest::sha256_of(b"another image");
    let none = Gatherer::new(&store, &other, Limits::default())
        .notation(Vec::new())
        .await
        .expect("gathered");
    assert!(none.is_empty());
}
