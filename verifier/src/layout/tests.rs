//! Tests of the layout store: each accepting case beside the tampered twin
//! that must be refused.

use std::fs;
use std::path::Path;

use futures::StreamExt;
use serde_json::{Value, json};
use tempfile::TempDir;

use super::*;
use crate::oci::{ImageIndex, ImageManifest, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, to_bytes};

fn new_layout() -> (TempDir, LayoutStore) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store = LayoutStore::create(&tmp.path().join("layout")).expect("create layout");
    (tmp, store)
}

fn manifest(config: &Descriptor, subject: Option<Descriptor>) -> Vec<u8> {
    to_bytes(&ImageManifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config.clone(),
        layers: vec![],
        subject,
        annotations: BTreeMap::new(),
    })
}

/// Pushes a distinct config blob and a manifest over it; returns the manifest's descriptor.
async fn push_image(store: &LayoutStore, target: Option<&str>, seed: &str) -> Descriptor {
    let config_bytes = format!(r#"{{"seed":"{seed}"}}"#).into_bytes();
    let config = Descriptor::of(OCI_CONFIG, &config_bytes);
    store.push_blob(&config, &config_bytes).await.expect("push config");
    let bytes = manifest(&config, None);
    let descriptor = Descriptor::of(OCI_MANIFEST, &bytes);
    let target = match target {
        Some(tag) => Target::Tag(tag.to_owned()),
        None => Target::Digest(descriptor.digest.clone()),
    };
    let pushed = store
        .push_manifest(&target, OCI_MANIFEST, &bytes)
        .await
        .expect("push manifest");
    assert_eq!(pushed.digest, descriptor.digest);
    assert!(!pushed.subject_indexed);
    descriptor
}

async fn fetch(store: &LayoutStore, target: Target) -> Result<Option<Fetched>, StoreError> {
    store.fetch_manifest(&target).await
}

async fn fetched_digest(store: &LayoutStore, tag: &str) -> Option<Digest> {
    fetch(store, Target::Tag(tag.to_owned()))
        .await
        .expect("fetch")
        .map(|f| f.descriptor.digest)
}

async fn collect(mut stream: BlobStream) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend(chunk?);
    }
    Ok(out)
}

fn stream_of(chunks: Vec<Result<Vec<u8>, StoreError>>) -> BlobStream {
    Box::pin(futures::stream::iter(chunks))
}

fn flip_first_byte(path: &Path) {
    let mut bytes = fs::read(path).expect("read file");
    bytes[0] ^= 1;
    fs::write(path, bytes).expect("write file");
}

fn read_index(store: &LayoutStore) -> Value {
    serde_json::from_slice(&fs::read(store.dir().join("index.json")).expect("read index.json")).expect("index json")
}

fn write_index(store: &LayoutStore, manifests: Value) {
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    fs::write(store.dir().join("index.json"), index.to_string()).expect("write index.json");
}

fn temp_files_left(store: &LayoutStore) -> Vec<String> {
    fs::read_dir(store.dir())
        .expect("read dir")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".sigil-tmp"))
        .collect()
}

#[tokio::test]
async fn blobs_and_manifests_round_trip_by_tag_and_digest() {
    let (_tmp, store) = new_layout();
    assert_eq!(store.location(), format!("oci:{}", store.dir().display()));

    // A blob over several stream chunks.
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    assert!(!store.has_blob(&descriptor.digest).await.expect("has_blob"));
    store.push_blob(&descriptor, &blob).await.expect("push blob");
    store
        .push_blob(&descriptor, &blob)
        .await
        .expect("pushing again is a no-op");
    assert!(store.has_blob(&descriptor.digest).await.expect("has_blob"));
    assert_eq!(store.fetch_blob(&descriptor, 1 << 20).await.expect("fetch blob"), blob);
    let stream = store.stream_blob(&descriptor).await.expect("stream blob");
    assert_eq!(collect(stream).await.expect("stream ends well"), blob);

    let image = push_image(&store, Some("v1"), "a").await;
    let by_tag = fetch(&store, Target::Tag("v1".into()))
        .await
        .expect("fetch")
        .expect("tag exists");
    assert_eq!(by_tag.descriptor.digest, image.digest);
    assert_eq!(by_tag.descriptor.media_type, OCI_MANIFEST);
    assert_eq!(by_tag.descriptor.size, image.size);
    let by_digest = fetch(&store, Target::Digest(image.digest.clone()))
        .await
        .expect("fetch")
        .expect("digest exists");
    assert_eq!(by_digest.bytes, by_tag.bytes);

    // A second handle on the same directory sees the same content.
    let reopened = LayoutStore::open(store.dir()).expect("open");
    assert_eq!(fetched_digest(&reopened, "v1").await, Some(image.digest.clone()));

    // Absent things are absent, not errors; a blob that must exist is NotFound.
    assert!(fetch(&store, Target::Tag("v2".into())).await.expect("fetch").is_none());
    let absent = Digest::sha256_of(b"absent");
    assert!(
        fetch(&store, Target::Digest(absent.clone()))
            .await
            .expect("fetch")
            .is_none()
    );
    let err = store
        .fetch_blob(&Descriptor::of("x", b"absent"), 100)
        .await
        .expect_err("absent blob");
    assert!(err.is_not_found(), "{err}");
    assert!(store.referrers_api(&image.digest).await.expect("referrers").is_none());
    assert!(temp_files_left(&store).is_empty());
}

#[tokio::test]
async fn pushing_a_tag_again_moves_only_that_tag() {
    let (_tmp, store) = new_layout();
    push_image(&store, Some("v1"), "a").await;
    let b = push_image(&store, Some("v2"), "b").await;
    let c = push_image(&store, Some("v1"), "c").await;
    assert_eq!(fetched_digest(&store, "v1").await, Some(c.digest.clone()));
    assert_eq!(fetched_digest(&store, "v2").await, Some(b.digest));
    let index = read_index(&store);
    let entries = index["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 2, "{index}");
    assert_eq!(
        entries[0]["annotations"][REF_NAME], "v1",
        "the moved tag keeps its place"
    );
    assert_eq!(entries[0]["digest"], c.digest.to_string());
}

#[tokio::test]
async fn push_by_digest_lists_the_manifest_once_and_checks_the_digest() {
    let (_tmp, store) = new_layout();
    let image = push_image(&store, None, "a").await;
    push_image(&store, None, "a").await;
    let index = read_index(&store);
    let entries = index["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 1, "{index}");
    assert!(entries[0].get("annotations").is_none(), "untagged: {index}");

    // Twin: bytes that do not hash to the digest asked for.
    let config = Descriptor::of(OCI_CONFIG, b"{}");
    let other = manifest(&config, None);
    let err = store
        .push_manifest(&Target::Digest(image.digest.clone()), OCI_MANIFEST, &other)
        .await
        .expect_err("wrong digest");
    assert!(matches!(err, StoreError::Digest { .. }), "{err}");
    assert!(!store.has_blob(&Digest::sha256_of(&other)).await.expect("has_blob"));

    // Not a manifest at all: refused, nothing listed.
    let err = store
        .push_manifest(&Target::Tag("junk".into()), "", b"not json")
        .await
        .expect_err("junk");
    assert!(matches!(err, StoreError::Malformed { .. }), "{err}");

    // Tagging the untagged manifest replaces its bare entry.
    let bytes = fetch(&store, Target::Digest(image.digest.clone()))
        .await
        .expect("fetch")
        .expect("exists")
        .bytes;
    store
        .push_manifest(&Target::Tag("v1".into()), OCI_MANIFEST, &bytes)
        .await
        .expect("tag it");
    let index = read_index(&store);
    assert_eq!(index["manifests"].as_array().expect("manifests").len(), 1, "{index}");
}

#[tokio::test]
async fn altered_blob_is_refused_on_fetch_and_on_stream() {
    let (_tmp, store) = new_layout();
    let blob = vec![7u8; 100_000];
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    store.push_blob(&descriptor, &blob).await.expect("push blob");
    flip_first_byte(&store.blob_path(&descriptor.digest));

    let err = store.fetch_blob(&descriptor, 1 << 20).await.expect_err("altered blob");
    assert!(
        matches!(
            err,
            StoreError::Digest {
                cause: DigestError::Mismatch { .. },
                ..
            }
        ),
        "{err}"
    );
    let stream = store.stream_blob(&descriptor).await.expect("opens");
    let err = collect(stream).await.expect_err("stream ends in an error");
    assert!(matches!(err, StoreError::Digest { .. }), "{err}");
}

#[tokio::test]
async fn altered_manifest_is_refused() {
    let (_tmp, store) = new_layout();
    let image = push_image(&store, Some("v1"), "a").await;
    flip_first_byte(&store.blob_path(&image.digest));
    for target in [Target::Tag("v1".into()), Target::Digest(image.digest.clone())] {
        let err = fetch(&store, target).await.expect_err("altered manifest");
        assert!(matches!(err, StoreError::Digest { .. }), "{err}");
    }
}

#[tokio::test]
async fn tag_pointing_at_a_missing_blob_is_a_clear_error() {
    let (_tmp, store) = new_layout();
    let image = push_image(&store, Some("v1"), "a").await;
    fs::remove_file(store.blob_path(&image.digest)).expect("remove blob");
    let err = fetch(&store, Target::Tag("v1".into())).await.expect_err("dangling tag");
    assert!(!err.is_not_found(), "a broken layout is not an absent tag: {err}");
    let message = err.to_string();
    assert!(
        message.contains("tag v1 points at") && message.contains("missing"),
        "{message}"
    );
    let err = fetch(&store, Target::Digest(image.digest))
        .await
        .expect_err("listed but missing");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[tokio::test]
async fn oversize_content_is_refused_before_reading() {
    let (_tmp, store) = new_layout();
    // No file exists, so the refusal cannot have come from reading it.
    let huge = Descriptor {
        size: limits::BLOB_BYTES + 1,
        ..Descriptor::of("application/octet-stream", b"never written")
    };
    let err = store.fetch_blob(&huge, limits::BLOB_BYTES).await.expect_err("oversize");
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");

    // A file over the caller's limit, with an honest descriptor; twin within the limit.
    let blob = vec![1u8; 20];
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    store.push_blob(&descriptor, &blob).await.expect("push");
    let err = store.fetch_blob(&descriptor, 19).await.expect_err("over limit");
    assert!(
        matches!(
            err,
            StoreError::TooLarge {
                size: 20,
                limit: 19,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(store.fetch_blob(&descriptor, 20).await.expect("at limit"), blob);

    // An index entry claiming a manifest over the manifest limit.
    let digest = Digest::sha256_of(b"big manifest");
    write_index(
        &store,
        json!([{"mediaType": OCI_MANIFEST, "digest": digest.to_string(), "size": limits::MANIFEST_BYTES + 1,
                "annotations": {REF_NAME: "big"}}]),
    );
    let err = fetch(&store, Target::Tag("big".into()))
        .await
        .expect_err("oversize manifest");
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn size_disagreeing_with_the_file_is_refused() {
    let (_tmp, store) = new_layout();
    let blob = b"twelve bytes".to_vec();
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    store.push_blob(&descriptor, &blob).await.expect("push");
    for size in [11, 13] {
        let wrong = Descriptor {
            size,
            ..descriptor.clone()
        };
        let err = store.fetch_blob(&wrong, 1 << 20).await.expect_err("size mismatch");
        assert!(matches!(err, StoreError::Refused { .. }), "{err}");
        let err = store.stream_blob(&wrong).await.err().expect("size mismatch");
        assert!(matches!(err, StoreError::Refused { .. }), "{err}");
    }

    // An index.json entry with the wrong size.
    let image = push_image(&store, Some("v1"), "a").await;
    let mut index = read_index(&store);
    index["manifests"][0]["size"] = json!(image.size + 1);
    write_index(&store, index["manifests"].clone());
    let err = fetch(&store, Target::Tag("v1".into())).await.expect_err("wrong size");
    assert!(matches!(err, StoreError::Refused { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_tag_pushes_lose_nothing() {
    let (_tmp, store) = new_layout();
    let before = push_image(&store, Some("before"), "before").await;
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            // A handle of its own per task, as separate processes would have.
            let store = LayoutStore::open(store.dir()).expect("open");
            tokio::spawn(async move {
                let tag = format!("t{i}");
                let digest = push_image(&store, Some(&tag), &tag).await.digest;
                (tag, digest)
            })
        })
        .collect();
    let mut pushed = Vec::new();
    for task in tasks {
        pushed.push(task.await.expect("task"));
    }
    for (tag, digest) in &pushed {
        assert_eq!(fetched_digest(&store, tag).await.as_ref(), Some(digest), "{tag}");
    }
    assert_eq!(fetched_digest(&store, "before").await, Some(before.digest));
    let index = read_index(&store);
    assert_eq!(index["manifests"].as_array().expect("manifests").len(), 49);
    assert!(temp_files_left(&store).is_empty());
}

/// Writes manifest bytes as a plain blob (as `cosign save` does) and returns
/// an index.json entry for it with `annotations`.
async fn raw_manifest(store: &LayoutStore, bytes: &[u8], annotations: Value) -> (Descriptor, Value) {
    let descriptor = Descriptor::of(OCI_MANIFEST, bytes);
    store.push_blob(&descriptor, bytes).await.expect("push manifest blob");
    let entry = json!({"mediaType": OCI_MANIFEST, "digest": descriptor.digest.to_string(),
                       "size": descriptor.size, "annotations": annotations});
    (descriptor, entry)
}

/// A `cosign save`-style image: image, sigs and atts entries with `kind` annotations.
async fn cosign_saved(store: &LayoutStore, seed: &str) -> (Descriptor, Descriptor, Descriptor, Vec<Value>) {
    let config_bytes = format!(r#"{{"seed":"{seed}"}}"#).into_bytes();
    let config = Descriptor::of(OCI_CONFIG, &config_bytes);
    store.push_blob(&config, &config_bytes).await.expect("config");
    let sig_payload = Descriptor::of("application/vnd.dev.cosign.simplesigning.v1+json", seed.as_bytes());
    let att_payload = Descriptor::of("application/vnd.dsse.envelope.v1+json", seed.as_bytes());
    let (image, image_entry) = raw_manifest(store, &manifest(&config, None), json!({COSIGN_KIND: KIND_IMAGE})).await;
    let (sigs, sigs_entry) = raw_manifest(store, &manifest(&sig_payload, None), json!({COSIGN_KIND: KIND_SIGS})).await;
    let (atts, atts_entry) = raw_manifest(store, &manifest(&att_payload, None), json!({COSIGN_KIND: KIND_ATTS})).await;
    (image, sigs, atts, vec![image_entry, sigs_entry, atts_entry])
}

#[tokio::test]
async fn cosign_save_layout_resolves_attachment_tags_and_latest() {
    let (_tmp, store) = new_layout();
    let (image, sigs, atts, entries) = cosign_saved(&store, "one").await;
    write_index(&store, Value::Array(entries.clone()));
    let prefix = image.digest.tag_prefix();

    assert_eq!(fetched_digest(&store, "latest").await, Some(image.digest.clone()));
    assert_eq!(
        fetched_digest(&store, &format!("{prefix}.sig")).await,
        Some(sigs.digest.clone())
    );
    assert_eq!(
        fetched_digest(&store, &format!("{prefix}.att")).await,
        Some(atts.digest.clone())
    );
    // Twins: no sbom entry, another image's tag, an ordinary tag.
    assert_eq!(fetched_digest(&store, &format!("{prefix}.sbom")).await, None);
    let other = Digest::sha256_of(b"another image").tag_prefix();
    assert_eq!(fetched_digest(&store, &format!("{other}.sig")).await, None);
    assert_eq!(fetched_digest(&store, "v1").await, None);

    // A ref-name entry wins over the kind mapping (what sigil itself writes).
    let newer = push_image(&store, Some(&format!("{prefix}.sig")), "newer sigs").await;
    assert_eq!(
        fetched_digest(&store, &format!("{prefix}.sig")).await,
        Some(newer.digest)
    );
    assert_eq!(fetched_digest(&store, "latest").await, Some(image.digest.clone()));

    // Two saved images in one layout: attachments belong to the image before
    // them, and there is no single image for `latest`.
    let (image2, sigs2, _, entries2) = cosign_saved(&store, "two").await;
    write_index(&store, Value::Array(entries.into_iter().chain(entries2).collect()));
    assert_eq!(
        fetched_digest(&store, &format!("{prefix}.sig")).await,
        Some(sigs.digest)
    );
    let prefix2 = image2.digest.tag_prefix();
    assert_eq!(
        fetched_digest(&store, &format!("{prefix2}.sig")).await,
        Some(sigs2.digest)
    );
    assert_eq!(fetched_digest(&store, "latest").await, None);
}

#[tokio::test]
async fn latest_names_the_one_image_when_untagged() {
    let (_tmp, store) = new_layout();
    let image = push_image(&store, None, "image").await;
    assert_eq!(fetched_digest(&store, "latest").await, Some(image.digest.clone()));

    // Signing adds a .sig tag, a bundle referrer (untagged, with a subject) and
    // the referrers fallback tag; none of them is a second image.
    push_image(&store, Some(&format!("{}.sig", image.digest.tag_prefix())), "sig").await;
    let config = Descriptor::of(OCI_CONFIG, b"{}");
    store.push_blob(&config, b"{}").await.expect("config");
    let referrer = manifest(&config, Some(image.clone()));
    let referrer_digest = Digest::sha256_of(&referrer);
    store
        .push_manifest(&Target::Digest(referrer_digest.clone()), OCI_MANIFEST, &referrer)
        .await
        .expect("referrer");
    let fallback = to_bytes(&ImageIndex {
        manifests: vec![Descriptor::of(OCI_MANIFEST, &referrer)],
        ..ImageIndex::empty()
    });
    store
        .push_manifest(&Target::Tag(image.digest.tag_prefix()), OCI_INDEX, &fallback)
        .await
        .expect("fallback tag");
    assert_eq!(fetched_digest(&store, "latest").await, Some(image.digest.clone()));
    let index = read_index(&store);
    let listed = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|e| e["digest"] == referrer_digest.to_string())
        .expect("referrer listed")
        .clone();
    assert_eq!(listed["artifactType"], OCI_CONFIG);

    // Twin: a second, unrelated image makes `latest` ambiguous, hence absent.
    push_image(&store, None, "second").await;
    assert_eq!(fetched_digest(&store, "latest").await, None);
}

#[tokio::test]
async fn latest_names_a_multi_platform_index_over_its_platform_manifests() {
    let (_tmp, store) = new_layout();
    let amd = push_image(&store, None, "amd64").await;
    let arm = push_image(&store, None, "arm64").await;
    let index_bytes = to_bytes(&ImageIndex {
        manifests: vec![amd.clone(), arm],
        ..ImageIndex::empty()
    });
    let index_digest = Digest::sha256_of(&index_bytes);
    store
        .push_manifest(&Target::Digest(index_digest.clone()), OCI_INDEX, &index_bytes)
        .await
        .expect("index");
    assert_eq!(fetched_digest(&store, "latest").await, Some(index_digest));

    // A platform manifest kept only as a blob is still found by digest, its
    // media type read from its bytes.
    write_index(&store, json!([]));
    let fetched = fetch(&store, Target::Digest(amd.digest.clone()))
        .await
        .expect("fetch")
        .expect("blob present");
    assert_eq!(fetched.descriptor.media_type, OCI_MANIFEST);
    assert_eq!(fetched_digest(&store, "latest").await, None);
}

#[tokio::test]
async fn a_tag_naming_two_manifests_is_refused() {
    let (_tmp, store) = new_layout();
    let a = push_image(&store, None, "a").await;
    let b = push_image(&store, None, "b").await;
    let entry = |d: &Descriptor| {
        json!({"mediaType": OCI_MANIFEST, "digest": d.digest.to_string(), "size": d.size,
               "annotations": {REF_NAME: "v1"}})
    };
    // Twin first: the same manifest listed twice under one tag is fine.
    write_index(&store, json!([entry(&a), entry(&a)]));
    assert_eq!(fetched_digest(&store, "v1").await, Some(a.digest.clone()));
    write_index(&store, json!([entry(&a), entry(&b)]));
    let err = fetch(&store, Target::Tag("v1".into())).await.expect_err("ambiguous");
    assert!(err.to_string().contains("refusing to guess"), "{err}");
}

#[tokio::test]
async fn push_blob_stream_stores_only_matching_content() {
    let (_tmp, store) = new_layout();
    let blob: Vec<u8> = (0..150_000u32).map(|i| (i % 13) as u8).collect();
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    let chunks = blob.chunks(40_000).map(|c| Ok(c.to_vec())).collect();
    store
        .push_blob_stream(&descriptor, stream_of(chunks))
        .await
        .expect("matching stream");
    assert_eq!(store.fetch_blob(&descriptor, 1 << 20).await.expect("stored"), blob);

    let other = vec![1u8; 1000];
    let descriptor = Descriptor::of("application/octet-stream", &other);
    // Same length, one byte different.
    let mut altered = other.clone();
    altered[500] ^= 1;
    let err = store
        .push_blob_stream(&descriptor, stream_of(vec![Ok(altered)]))
        .await
        .expect_err("altered stream");
    assert!(matches!(err, StoreError::Digest { .. }), "{err}");
    // Shorter and longer than the descriptor.
    let err = store
        .push_blob_stream(&descriptor, stream_of(vec![Ok(other[..999].to_vec())]))
        .await
        .expect_err("short stream");
    assert!(matches!(err, StoreError::Digest { .. }), "{err}");
    let err = store
        .push_blob_stream(&descriptor, stream_of(vec![Ok(other.clone()), Ok(vec![0])]))
        .await
        .expect_err("long stream");
    assert!(matches!(err, StoreError::Refused { .. }), "{err}");
    // A source that fails midway.
    let failing = vec![Ok(other[..10].to_vec()), Err(store.refused("source failed"))];
    store
        .push_blob_stream(&descriptor, stream_of(failing))
        .await
        .expect_err("failing source");
    assert!(!store.has_blob(&descriptor.digest).await.expect("has_blob"));
    assert!(temp_files_left(&store).is_empty(), "{:?}", temp_files_left(&store));

    // In-memory pushes are checked the same way.
    let err = store
        .push_blob(&descriptor, &other[1..])
        .await
        .expect_err("wrong bytes");
    assert!(matches!(err, StoreError::Digest { .. }), "{err}");
}

#[test]
fn blob_paths_come_only_from_digests() {
    let (_tmp, store) = new_layout();
    let digest: Digest = format!("sha512:{}", "a".repeat(128)).parse().expect("digest");
    let path = store.blob_path(&digest);
    assert_eq!(path, store.dir().join("blobs").join("sha512").join("a".repeat(128)));
    assert!(matches!(
        "sha256:../../etc/passwd".parse::<Digest>(),
        Err(crate::digest::DigestError::Malformed(_))
    ));
}

#[test]
fn open_refuses_what_is_not_a_layout() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let refused = |dir: &Path, needle: &str| {
        let err = LayoutStore::open(dir).expect_err("not a layout");
        let message = err.to_string();
        assert!(message.contains(needle), "{message}");
        assert!(message.starts_with(&format!("oci:{}", dir.display())), "{message}");
    };
    refused(&tmp.path().join("absent"), "no such directory");
    let file = tmp.path().join("file");
    fs::write(&file, b"x").expect("write");
    refused(&file, "not a directory");
    let dir = tmp.path().join("plain");
    fs::create_dir(&dir).expect("mkdir");
    refused(&dir, "oci-layout file is missing");
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
    refused(&dir, "index.json is missing");
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"2.0.0"}"#).expect("write");
    refused(&dir, "unsupported image layout version");
    fs::write(dir.join("oci-layout"), b"{").expect("write");
    refused(&dir, "oci-layout is malformed");

    // Twin: the same directory completed is a layout.
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
    fs::write(dir.join("index.json"), br#"{"schemaVersion":2,"manifests":null}"#).expect("write");
    LayoutStore::open(&dir).expect("a layout");

    // create() will not turn a directory of other files into a layout.
    let busy = tmp.path().join("busy");
    fs::create_dir(&busy).expect("mkdir");
    fs::write(busy.join("notes.txt"), b"mine").expect("write");
    let err = LayoutStore::create(&busy).expect_err("not empty");
    assert!(err.to_string().contains("not empty"), "{err}");
}

#[tokio::test]
async fn create_is_idempotent_and_keeps_entries() {
    let (_tmp, store) = new_layout();
    let image = push_image(&store, Some("v1"), "a").await;
    let again = LayoutStore::create(store.dir()).expect("create again");
    assert_eq!(fetched_digest(&again, "v1").await, Some(image.digest));
    let layout = fs::read(store.dir().join("oci-layout")).expect("oci-layout");
    assert_eq!(layout, LAYOUT_CONTENTS);
}

#[tokio::test]
async fn malformed_index_json_is_a_clear_error() {
    let (_tmp, store) = new_layout();
    push_image(&store, Some("v1"), "a").await;
    let cases: [&[u8]; 4] = [
        b"{not json",
        br#"{"schemaVersion":1,"manifests":[]}"#,
        br#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:../../etc","size":1}]}"#,
        br#"{"schemaVersion":2,"manifests":{}}"#,
    ];
    for bad in cases {
        fs::write(store.dir().join("index.json"), bad).expect("write");
        let err = LayoutStore::open(store.dir()).expect_err("malformed");
        assert!(err.to_string().contains("index.json is malformed"), "{err}");
        let err = fetch(&store, Target::Tag("v1".into())).await.expect_err("malformed");
        assert!(matches!(err, StoreError::Malformed { .. }), "{err}");
        let pushed = push_image_result(&store).await;
        assert!(matches!(pushed, Err(StoreError::Malformed { .. })), "{pushed:?}");
        assert_eq!(
            fs::read(store.dir().join("index.json")).expect("read"),
            bad,
            "left as it was"
        );
    }
}

async fn push_image_result(store: &LayoutStore) -> Result<Pushed, StoreError> {
    let config = Descriptor::of(OCI_CONFIG, b"{}");
    store
        .push_manifest(&Target::Tag("v2".into()), OCI_MANIFEST, &manifest(&config, None))
        .await
}

// --- files that are not regular files, and symlinks out of the layout ---------

/// Runs `work` on its own thread and fails the test if it has not finished
/// after a generous bound: on a FIFO the old code blocked forever, and a hang
/// must fail the test, not stall the suite. Not a timing assertion: any
/// non-blocking run ends far earlier.
fn without_hanging<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(std::time::Duration::from_secs(30))
        .expect("the layout read blocked on a file that is not a regular file")
}

/// Runs an async store call on a runtime of its own, under [`without_hanging`].
fn blocking_run<T: Send + 'static>(work: impl std::future::Future<Output = T> + Send + 'static) -> T {
    without_hanging(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A layout holding one blob, the path of that blob's file and its descriptor.
fn layout_with_blob() -> (TempDir, LayoutStore, Descriptor, std::path::PathBuf) {
    let (tmp, store) = new_layout();
    let blob = b"signature payload".to_vec();
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    blocking_run({
        let (store, descriptor) = (store.clone(), descriptor.clone());
        async move { store.push_blob(&descriptor, &blob).await }
    })
    .expect("push blob");
    let path = store.blob_path(&descriptor.digest);
    (tmp, store, descriptor, path)
}

fn fetch_blob_now(store: &LayoutStore, descriptor: &Descriptor) -> Result<Vec<u8>, StoreError> {
    let (store, descriptor) = (store.clone(), descriptor.clone());
    blocking_run(async move { store.fetch_blob(&descriptor, 1 << 20).await })
}

#[test]
fn a_fifo_or_socket_as_index_json_is_refused_without_blocking() {
    let (tmp, store) = new_layout();
    let dir = store.dir().to_path_buf();
    let index = dir.join("index.json");
    let regular = fs::read(&index).expect("read index.json");

    fs::remove_file(&index).expect("remove index.json");
    mkfifo(&index);
    let open = |dir: std::path::PathBuf| without_hanging(move || LayoutStore::open(&dir).map(|_| ()));
    let err = open(dir.clone()).expect_err("a fifo as index.json");
    assert!(
        err.to_string().contains("index.json is a fifo, not a regular file"),
        "{err}"
    );

    fs::remove_file(&index).expect("remove the fifo");
    let _listener = std::os::unix::net::UnixListener::bind(&index).expect("bind a socket as index.json");
    let err = open(dir.clone()).expect_err("a socket as index.json");
    assert!(
        err.to_string().contains("index.json is a socket, not a regular file"),
        "{err}"
    );

    // a symlink to a character device is no better
    fs::remove_file(&index).expect("remove the socket");
    std::os::unix::fs::symlink("/dev/zero", &index).expect("symlink");
    let err = open(dir.clone()).expect_err("/dev/zero as index.json");
    assert!(err.to_string().contains("is a character device"), "{err}");

    // twins: a regular index.json, and a symlink to one, open
    fs::remove_file(&index).expect("remove the symlink");
    let elsewhere = tmp.path().join("index-elsewhere.json");
    fs::write(&elsewhere, &regular).expect("write");
    std::os::unix::fs::symlink(&elsewhere, &index).expect("symlink");
    open(dir.clone()).expect("a symlink to a regular index.json");
    fs::remove_file(&index).expect("remove the symlink");
    fs::write(&index, &regular).expect("write");
    open(dir).expect("a regular index.json");
}

#[test]
fn a_fifo_as_oci_layout_is_refused_without_blocking() {
    let (_tmp, store) = new_layout();
    let dir = store.dir().to_path_buf();
    let marker = dir.join("oci-layout");
    fs::remove_file(&marker).expect("remove oci-layout");
    mkfifo(&marker);
    let err = without_hanging(move || LayoutStore::open(&dir).map(|_| ())).expect_err("a fifo as oci-layout");
    assert!(err.to_string().contains("oci-layout is a fifo"), "{err}");
}

#[test]
fn a_fifo_socket_or_device_as_a_blob_is_refused_without_blocking() {
    let (tmp, store, descriptor, path) = layout_with_blob();
    let content = fs::read(&path).expect("read blob");
    let relative = format!("blobs/sha256/{}", descriptor.digest.hex());

    fs::remove_file(&path).expect("remove blob");
    mkfifo(&path);
    let err = fetch_blob_now(&store, &descriptor).expect_err("a fifo as a blob");
    assert!(
        err.to_string()
            .contains(&format!("{relative} is a fifo, not a regular file")),
        "{err}"
    );
    // as a manifest too (the same read path), and streamed (copy)
    let (s, d) = (store.clone(), descriptor.clone());
    let err = blocking_run(async move { s.stream_blob(&d).await.map(|_| ()) }).expect_err("streamed fifo");
    assert!(err.to_string().contains("is a fifo"), "{err}");

    fs::remove_file(&path).expect("remove the fifo");
    let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind a socket as a blob");
    let err = fetch_blob_now(&store, &descriptor).expect_err("a socket as a blob");
    assert!(
        err.to_string()
            .contains(&format!("{relative} is a socket, not a regular file")),
        "{err}"
    );

    fs::remove_file(&path).expect("remove the socket");
    std::os::unix::fs::symlink("/dev/zero", &path).expect("symlink");
    let err = fetch_blob_now(&store, &descriptor).expect_err("/dev/zero as a blob");
    assert!(err.to_string().contains("is a character device"), "{err}");

    // twins: a symlink to a regular file with the right content is read,
    // one with other content is refused by its digest
    fs::remove_file(&path).expect("remove the symlink");
    let right = tmp.path().join("right");
    fs::write(&right, &content).expect("write");
    std::os::unix::fs::symlink(&right, &path).expect("symlink");
    assert_eq!(fetch_blob_now(&store, &descriptor).expect("through a symlink"), content);
    let mut other = content.clone();
    other[0] ^= 1;
    fs::write(&right, &other).expect("write");
    let err = fetch_blob_now(&store, &descriptor).expect_err("other content");
    assert!(matches!(err, StoreError::Digest { .. }), "{err:?}");
}

#[test]
fn writes_through_a_symlinked_blobs_directory_are_refused() {
    for linked in ["blobs", "blobs/sha256"] {
        let (tmp, store) = new_layout();
        let outside = tmp.path().join("outside");
        let inside = store.dir().join(linked);
        fs::rename(&inside, &outside).expect("move the directory out");
        std::os::unix::fs::symlink(&outside, &inside).expect("symlink it back in");
        let before: Vec<_> = walk(&outside);

        let blob = b"written by sigil".to_vec();
        let descriptor = Descriptor::of("application/octet-stream", &blob);
        let (s, d, b) = (store.clone(), descriptor.clone(), blob.clone());
        let err = blocking_run(async move { s.push_blob(&d, &b).await }).expect_err("write through a symlink");
        assert!(
            err.to_string().contains(&format!("{linked} is a symlink")),
            "{linked}: {err}"
        );
        let (s, d) = (store.clone(), descriptor.clone());
        let err = blocking_run(async move { s.push_blob_stream(&d, stream_of(vec![Ok(blob)])).await })
            .expect_err("stream through a symlink");
        assert!(err.to_string().contains("is a symlink"), "{linked}: {err}");
        let (s, m) = (store.clone(), manifest(&descriptor, None));
        let err = blocking_run(async move { s.push_manifest(&Target::Tag("t".into()), OCI_MANIFEST, &m).await })
            .expect_err("manifest through a symlink");
        assert!(err.to_string().contains("is a symlink"), "{linked}: {err}");
        assert_eq!(
            walk(&outside),
            before,
            "{linked}: nothing was written outside the layout"
        );
        // creating (opening for writing) such a layout is refused too
        let err = LayoutStore::create(store.dir()).expect_err("create over a symlinked blobs dir");
        assert!(err.to_string().contains("is a symlink"), "{linked}: {err}");
        // reading through it is fine: content is checked by digest
        LayoutStore::open(store.dir()).expect("a symlinked blobs dir can be read");
    }

    // twin: the same writes into a layout's own directories succeed
    let (_tmp, store) = new_layout();
    let blob = b"written by sigil".to_vec();
    let descriptor = Descriptor::of("application/octet-stream", &blob);
    let (s, d) = (store.clone(), descriptor.clone());
    blocking_run(async move { s.push_blob(&d, &blob).await }).expect("a plain layout");
    assert!(store.blob_path(&descriptor.digest).is_file());
}

/// Every path under `dir`, sorted.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                todo.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn a_planted_index_lock_neither_hangs_a_writer_nor_leads_it_outside() {
    let tag = |store: &LayoutStore| {
        let blob = b"config".to_vec();
        let descriptor = Descriptor::of("application/octet-stream", &blob);
        let (s, d) = (store.clone(), descriptor.clone());
        blocking_run(async move { s.push_blob(&d, &blob).await }).expect("blob");
        let (s, m) = (store.clone(), manifest(&descriptor, None));
        blocking_run(async move { s.push_manifest(&Target::Tag("t".into()), OCI_MANIFEST, &m).await })
    };
    // a FIFO as the lock file
    let (_tmp, store) = new_layout();
    let lock = store.dir().join("index.json.lock");
    mkfifo(&lock);
    let err = tag(&store).expect_err("a fifo as index.json.lock");
    assert!(err.to_string().contains("index.json.lock"), "{err}");
    // a dangling symlink pointing outside the layout
    let (tmp, store) = new_layout();
    let outside = tmp.path().join("created-outside");
    std::os::unix::fs::symlink(&outside, store.dir().join("index.json.lock")).expect("symlink");
    let err = tag(&store).expect_err("a symlink as index.json.lock");
    assert!(err.to_string().contains("index.json.lock"), "{err}");
    assert!(!outside.exists(), "nothing is created outside the layout");
    // twin: an ordinary layout is tagged
    let (_tmp, store) = new_layout();
    tag(&store).expect("an ordinary layout");
}

#[tokio::test]
async fn a_tag_swaps_only_from_where_it_was_read() {
    let (_tmp, store) = new_layout();
    let config = Descriptor::of(OCI_CONFIG, b"{}");
    store.push_blob(&config, b"{}").await.expect("config");
    let first = manifest(&config, None);
    let swap = |expected: Option<Digest>, bytes: Vec<u8>| {
        let store = &store;
        async move {
            store
                .swap_tag("t", expected.as_ref(), OCI_MANIFEST, &bytes)
                .await
                .expect("swap")
        }
    };
    // absent: only a swap expecting nothing writes
    let some = Digest::sha256_of(b"elsewhere");
    assert!(matches!(swap(Some(some.clone()), first.clone()).await, Swap::Moved));
    assert_eq!(fetched_digest(&store, "t").await, None);
    let Swap::Swapped(at) = swap(None, first.clone()).await else {
        panic!("an absent tag swaps from nothing");
    };
    // present: a swap from nothing or from another digest leaves it alone
    let other = Descriptor::of(OCI_CONFIG, b"{\"other\":1}");
    store.push_blob(&other, b"{\"other\":1}").await.expect("config");
    let second = manifest(&other, None);
    for expected in [None, Some(some)] {
        assert!(matches!(swap(expected, second.clone()).await, Swap::Moved));
        assert_eq!(fetched_digest(&store, "t").await.as_ref(), Some(&at.digest));
    }
    let Swap::Swapped(now) = swap(Some(at.digest.clone()), second).await else {
        panic!("a swap from where the tag is writes");
    };
    assert_eq!(fetched_digest(&store, "t").await, Some(now.digest));
    assert_eq!(read_index(&store)["manifests"].as_array().map(Vec::len), Some(1));
}

/// Appends racing on one cosign tag, each from a handle of its own (as
/// separate processes would be): the compare-and-swap loses none, with
/// no settle time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_appends_to_a_layout_tag_lose_nothing() {
    let (_tmp, store) = new_layout();
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let store = LayoutStore::open(store.dir()).expect("open");
            tokio::spawn(async move {
                let payload = format!("payload {i}").into_bytes();
                let layer = Descriptor::of(crate::cosign::SIMPLESIGNING_MEDIA_TYPE, &payload);
                store.push_blob(&layer, &payload).await.expect("payload");
                crate::sign::append_layer(&store, "sha256-race.sig", layer.clone())
                    .await
                    .expect("append");
                layer.digest
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let mut appended = Vec::new();
    for task in tasks {
        appended.push(task.await.expect("task"));
    }
    let fetched = fetch(&store, Target::Tag("sha256-race.sig".into()))
        .await
        .expect("fetch")
        .expect("tag");
    let Ok(Manifest::Image(m)) = Manifest::parse(&fetched.descriptor.media_type, &fetched.bytes) else {
        panic!("an image manifest");
    };
    let held: std::collections::BTreeSet<_> = m.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(held, appended.into_iter().collect(), "every append is kept, once");
    assert_eq!(m.layers.len(), 24);
    // 24 appends under a 150 ms settle time would take well over a second
    // even all at once; exact swaps need none (a bound, not a benchmark).
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
}
