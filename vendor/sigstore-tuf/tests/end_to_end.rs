//! End-to-end exercise of the full client over a self-built, signed TUF repo.
//!
//! This both *produces* metadata (signing canonical JSON with ECDSA P-256) and
//! *consumes* it through the [`Updater`], closing the loop on canonical JSON and
//! signature verification. It covers: root → timestamp → snapshot → top-level
//! targets, a real delegation hand-off (a delegated role signed by a *different*
//! key), target download with hash verification, per-file size limits, and an
//! offline re-verification purely from the write-through cache.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use sigstore_crypto::KeyPair;
use sigstore_tuf::transport::{FetchFuture, Repository};
use sigstore_tuf::{Key, MemoryStore, MetadataStore, StoreRepository, Updater, UpdaterConfig};

const FAR_FUTURE: &str = "2999-01-01T00:00:00Z";

fn now() -> jiff::Timestamp {
    "2026-06-01T00:00:00Z".parse().unwrap()
}

/// A trivial in-memory repository.
#[derive(Default)]
struct MemRepo {
    metadata: HashMap<String, Vec<u8>>,
    targets: HashMap<String, Vec<u8>>,
}

impl Repository for MemRepo {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        let res = match self.metadata.get(name) {
            Some(b) if b.len() as u64 > max_length => Err(sigstore_tuf::Error::transport(format!(
                "{name} exceeds {max_length}"
            ))),
            other => Ok(other.cloned()),
        };
        Box::pin(async move { res })
    }

    fn fetch_target<'a>(&'a self, path: &'a str, _max_length: u64) -> FetchFuture<'a> {
        let res = Ok(self.targets.get(path).cloned());
        Box::pin(async move { res })
    }
}

/// Build a `Key` JSON object and its declared key ID from a keypair.
fn key_entry(kp: &KeyPair) -> (String, Value) {
    let pem = kp.public_key_der().unwrap().to_pem();
    let obj = json!({
        "keytype": "ecdsa",
        "scheme": "ecdsa-sha2-nistp256",
        "keyval": { "public": pem },
    });
    let key: Key = serde_json::from_value(obj.clone()).unwrap();
    (key.key_id().unwrap(), obj)
}

/// Sign `signed` with `kp` under `keyid`, producing a signature entry.
fn signature(signed: &Value, keyid: &str, kp: &KeyPair) -> Value {
    let canonical = sigstore_tuf::canonical_json::to_canonical_bytes(signed).unwrap();
    let sig = kp.sign(&canonical).unwrap();
    json!({ "keyid": keyid, "sig": hex::encode(sig.as_bytes()) })
}

fn envelope(signed: Value, sigs: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({ "signed": signed, "signatures": sigs })).unwrap()
}

/// A `meta` entry pinning length + sha256 + version of a metadata file.
fn metafile(bytes: &[u8], version: u64) -> Value {
    json!({
        "version": version,
        "length": bytes.len(),
        "hashes": { "sha256": sigstore_crypto::sha256(bytes).to_hex() },
    })
}

/// Assemble a complete, signed, non-consistent-snapshot repo with one
/// delegation. Returns the repo and the pinned bootstrap root bytes.
fn build_repo() -> (MemRepo, Vec<u8>) {
    build_repo_with_timestamp_expiry(FAR_FUTURE)
}

fn build_repo_with_timestamp_expiry(timestamp_expires: &str) -> (MemRepo, Vec<u8>) {
    let root_kp = KeyPair::generate_ecdsa_p256().unwrap();
    let deleg_kp = KeyPair::generate_ecdsa_p256().unwrap();
    let (root_kid, root_key) = key_entry(&root_kp);
    let (deleg_kid, deleg_key) = key_entry(&deleg_kp);

    // --- the actual target file, only listed in the delegated role ---
    let target_content = b"hello from the delegated role".to_vec();
    let target_path = "delegated/file.txt";

    // --- delegated targets metadata (signed by the delegation key) ---
    let delegated_signed = json!({
        "_type": "targets",
        "spec_version": "1.0.0",
        "version": 1,
        "expires": FAR_FUTURE,
        "targets": {
            target_path: {
                "length": target_content.len(),
                "hashes": { "sha256": sigstore_crypto::sha256(&target_content).to_hex() },
            }
        },
    });
    let delegated_bytes = envelope(
        delegated_signed.clone(),
        vec![signature(&delegated_signed, &deleg_kid, &deleg_kp)],
    );

    // --- top-level targets: empty, but delegates `delegated/*` to deleg_kp ---
    let targets_signed = json!({
        "_type": "targets",
        "spec_version": "1.0.0",
        "version": 1,
        "expires": FAR_FUTURE,
        "targets": {},
        "delegations": {
            "keys": { deleg_kid.clone(): deleg_key },
            "roles": [{
                "name": "delegated",
                "keyids": [deleg_kid],
                "threshold": 1,
                "paths": ["delegated/*"],
                "terminating": false,
            }],
        },
    });
    let targets_bytes = envelope(
        targets_signed.clone(),
        vec![signature(&targets_signed, &root_kid, &root_kp)],
    );

    // --- snapshot pins both targets files ---
    let snapshot_signed = json!({
        "_type": "snapshot",
        "spec_version": "1.0.0",
        "version": 1,
        "expires": FAR_FUTURE,
        "meta": {
            "targets.json": metafile(&targets_bytes, 1),
            "delegated.json": metafile(&delegated_bytes, 1),
        },
    });
    let snapshot_bytes = envelope(
        snapshot_signed.clone(),
        vec![signature(&snapshot_signed, &root_kid, &root_kp)],
    );

    // --- timestamp pins snapshot ---
    let timestamp_signed = json!({
        "_type": "timestamp",
        "spec_version": "1.0.0",
        "version": 1,
        "expires": timestamp_expires,
        "meta": { "snapshot.json": metafile(&snapshot_bytes, 1) },
    });
    let timestamp_bytes = envelope(
        timestamp_signed.clone(),
        vec![signature(&timestamp_signed, &root_kid, &root_kp)],
    );

    // --- root: one key authorizes all top-level roles ---
    let role = json!({ "keyids": [root_kid.clone()], "threshold": 1 });
    let root_signed = json!({
        "_type": "root",
        "spec_version": "1.0.0",
        "version": 1,
        "expires": FAR_FUTURE,
        "consistent_snapshot": false,
        "keys": { root_kid.clone(): root_key },
        "roles": {
            "root": role, "timestamp": role,
            "snapshot": role, "targets": role,
        },
    });
    let root_bytes = envelope(
        root_signed.clone(),
        vec![signature(&root_signed, &root_kid, &root_kp)],
    );

    let mut repo = MemRepo::default();
    repo.metadata
        .insert("timestamp.json".into(), timestamp_bytes);
    repo.metadata.insert("snapshot.json".into(), snapshot_bytes);
    repo.metadata.insert("targets.json".into(), targets_bytes);
    repo.metadata
        .insert("delegated.json".into(), delegated_bytes);
    repo.targets.insert(target_path.into(), target_content);

    (repo, root_bytes)
}

/// Build a repository where two parents delegate the same role name using
/// different keys. The shared metadata is signed only by parent A's key.
fn build_shared_role_repo() -> (MemRepo, Vec<u8>) {
    let root_kp = KeyPair::generate_ecdsa_p256().unwrap();
    let parent_a_kp = KeyPair::generate_ecdsa_p256().unwrap();
    let parent_b_kp = KeyPair::generate_ecdsa_p256().unwrap();
    let (root_kid, root_key) = key_entry(&root_kp);
    let (a_kid, a_key) = key_entry(&parent_a_kp);
    let (b_kid, b_key) = key_entry(&parent_b_kp);

    let shared_signed = json!({
        "_type": "targets", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE,
        "targets": {
            "team-a/trusted_root.json": { "length": 1, "hashes": {} },
            "team-b/trusted_root.json": { "length": 1, "hashes": {} },
        },
    });
    let shared_bytes = envelope(
        shared_signed.clone(),
        vec![signature(&shared_signed, &a_kid, &parent_a_kp)],
    );

    let parent_a_signed = json!({
        "_type": "targets", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE, "targets": {},
        "delegations": {
            "keys": { a_kid.clone(): a_key.clone() },
            "roles": [{
                "name": "release", "keyids": [a_kid.clone()], "threshold": 1,
                "paths": ["team-a/*"], "terminating": false,
            }],
        },
    });
    let parent_a_bytes = envelope(
        parent_a_signed.clone(),
        vec![signature(&parent_a_signed, &a_kid, &parent_a_kp)],
    );

    let parent_b_signed = json!({
        "_type": "targets", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE, "targets": {},
        "delegations": {
            "keys": { b_kid.clone(): b_key.clone() },
            "roles": [{
                "name": "release", "keyids": [b_kid.clone()], "threshold": 1,
                "paths": ["team-b/*"], "terminating": false,
            }],
        },
    });
    let parent_b_bytes = envelope(
        parent_b_signed.clone(),
        vec![signature(&parent_b_signed, &b_kid, &parent_b_kp)],
    );

    let targets_signed = json!({
        "_type": "targets", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE, "targets": {},
        "delegations": {
            "keys": { a_kid.clone(): a_key, b_kid.clone(): b_key },
            "roles": [
                {
                    "name": "parent-a", "keyids": [a_kid], "threshold": 1,
                    "paths": ["team-a/*"], "terminating": false,
                },
                {
                    "name": "parent-b", "keyids": [b_kid], "threshold": 1,
                    "paths": ["team-b/*"], "terminating": false,
                }
            ],
        },
    });
    let targets_bytes = envelope(
        targets_signed.clone(),
        vec![signature(&targets_signed, &root_kid, &root_kp)],
    );

    let snapshot_signed = json!({
        "_type": "snapshot", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE,
        "meta": {
            "targets.json": metafile(&targets_bytes, 1),
            "parent-a.json": metafile(&parent_a_bytes, 1),
            "parent-b.json": metafile(&parent_b_bytes, 1),
            "release.json": metafile(&shared_bytes, 1),
        },
    });
    let snapshot_bytes = envelope(
        snapshot_signed.clone(),
        vec![signature(&snapshot_signed, &root_kid, &root_kp)],
    );
    let timestamp_signed = json!({
        "_type": "timestamp", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE,
        "meta": { "snapshot.json": metafile(&snapshot_bytes, 1) },
    });
    let timestamp_bytes = envelope(
        timestamp_signed.clone(),
        vec![signature(&timestamp_signed, &root_kid, &root_kp)],
    );

    let role = json!({ "keyids": [root_kid.clone()], "threshold": 1 });
    let root_signed = json!({
        "_type": "root", "spec_version": "1.0.0", "version": 1,
        "expires": FAR_FUTURE, "consistent_snapshot": false,
        "keys": { root_kid.clone(): root_key },
        "roles": {
            "root": role, "timestamp": role, "snapshot": role, "targets": role,
        },
    });
    let root_bytes = envelope(
        root_signed.clone(),
        vec![signature(&root_signed, &root_kid, &root_kp)],
    );

    let mut repo = MemRepo::default();
    repo.metadata
        .insert("timestamp.json".into(), timestamp_bytes);
    repo.metadata.insert("snapshot.json".into(), snapshot_bytes);
    repo.metadata.insert("targets.json".into(), targets_bytes);
    repo.metadata.insert("parent-a.json".into(), parent_a_bytes);
    repo.metadata.insert("parent-b.json".into(), parent_b_bytes);
    repo.metadata.insert("release.json".into(), shared_bytes);
    (repo, root_bytes)
}

#[tokio::test]
async fn cached_role_is_reverified_against_each_delegator() {
    let (repo, root_bytes) = build_shared_role_repo();
    let mut updater = Updater::new(repo, &root_bytes).unwrap();
    updater.refresh(now()).await.unwrap();

    updater
        .get_target_info("team-a/trusted_root.json", now())
        .await
        .unwrap()
        .expect("parent A authorizes its release metadata");

    let err = updater
        .get_target_info("team-b/trusted_root.json", now())
        .await
        .expect_err("parent A's cached signature must not satisfy parent B");
    assert!(
        matches!(err, sigstore_tuf::Error::ThresholdNotMet { .. }),
        "got: {err}"
    );
}

#[tokio::test]
async fn get_target_serves_a_cached_target_without_re_downloading() {
    // Regression: an online updater with a store must reuse a previously cached
    // target instead of fetching it again every run.
    let (repo, root_bytes) = build_repo();
    // Keep the metadata so a second repo can serve it with an empty target set.
    let metadata = repo.metadata.clone();
    let store = Arc::new(MemoryStore::new());

    let mut first = Updater::new(repo, &root_bytes)
        .unwrap()
        .with_store(Arc::clone(&store));
    first.refresh(now()).await.unwrap();
    let bytes = first.get_target("delegated/file.txt", now()).await.unwrap();
    assert_eq!(bytes, b"hello from the delegated role");
    assert!(store.load("targets/delegated/file.txt").unwrap().is_some());

    // A second updater backed by the same (populated) store but a repository
    // that serves the metadata yet no targets: the refresh and delegation walk
    // succeed, and `get_target` must satisfy the request from the cache. If it
    // tried the network it would fail.
    let starved_repo = MemRepo {
        metadata,
        targets: HashMap::new(),
    };
    let mut second = Updater::new(starved_repo, &root_bytes)
        .unwrap()
        .with_store(Arc::clone(&store));
    second.refresh(now()).await.unwrap();
    let cached = second
        .get_target("delegated/file.txt", now())
        .await
        .expect("a cached target must be served without hitting the network");
    assert_eq!(cached, b"hello from the delegated role");
}

#[tokio::test]
async fn full_refresh_resolves_delegated_target_and_caches() {
    let (repo, root_bytes) = build_repo();
    let store = Arc::new(MemoryStore::new());

    let mut updater = Updater::new(repo, &root_bytes)
        .unwrap()
        .with_store(Arc::clone(&store));
    updater
        .refresh(now())
        .await
        .expect("refresh should succeed");

    // The target lives only in the delegated role, so the top-level lookup
    // misses but the delegation walk finds it.
    assert!(updater
        .trusted()
        .targets_role("targets")
        .unwrap()
        .target("delegated/file.txt")
        .is_none());
    let info = updater
        .get_target_info("delegated/file.txt", now())
        .await
        .unwrap()
        .expect("delegation walk should resolve the target");
    assert_eq!(info.length, b"hello from the delegated role".len() as u64);

    let bytes = updater
        .download_target(&info, "delegated/file.txt")
        .await
        .expect("download + verify should succeed");
    assert_eq!(bytes, b"hello from the delegated role");

    // Write-through cache populated.
    assert!(store.load("timestamp.json").unwrap().is_some());
    assert!(store.load("delegated.json").unwrap().is_some());
    assert!(store.load("targets/delegated/file.txt").unwrap().is_some());

    // --- offline: re-verify entirely from the cache, no network ---
    let offline_repo = StoreRepository::new(Arc::clone(&store));
    let mut offline = Updater::new(offline_repo, &root_bytes).unwrap();
    offline
        .refresh(now())
        .await
        .expect("offline refresh from cache should re-verify");
    let offline_bytes = offline
        .get_target("delegated/file.txt", now())
        .await
        .expect("offline download from cache");
    assert_eq!(offline_bytes, b"hello from the delegated role");
}

#[tokio::test]
async fn size_limit_is_enforced() {
    let (repo, root_bytes) = build_repo();
    let mut config = UpdaterConfig::default();
    config.timestamp_max_length = 4; // far too small
    let mut updater = Updater::new(repo, &root_bytes).unwrap().with_config(config);
    let err = updater
        .refresh(now())
        .await
        .expect_err("oversized timestamp must be rejected");
    assert!(err.to_string().contains("exceeds"), "got: {err}");
}

/// A mirror that keeps replaying the same (equal-version) timestamp must not
/// be able to freeze a long-lived client past that timestamp's expiry: the
/// equal-version "keep what we have" path still has to notice that what we
/// have has since expired.
#[tokio::test]
async fn replayed_timestamp_does_not_freeze_past_expiry() {
    let (repo, root_bytes) = build_repo_with_timestamp_expiry("2026-06-15T00:00:00Z");
    let mut updater = Updater::new(repo, &root_bytes).unwrap();
    updater
        .refresh(now())
        .await
        .expect("refresh before expiry succeeds");

    // Same repo content, but the trusted timestamp has expired in the meantime.
    let later = "2026-07-01T00:00:00Z".parse().unwrap();
    let err = updater
        .refresh(later)
        .await
        .expect_err("unchanged expired timestamp must fail the refresh");
    assert!(err.to_string().contains("expired"), "got: {err}");
}

/// A signature threshold of 0 must fail closed instead of verifying with zero
/// signatures.
#[test]
fn zero_signature_threshold_is_rejected() {
    let kp = KeyPair::generate_ecdsa_p256().unwrap();
    let (kid, key) = key_entry(&kp);
    let role = json!({ "keyids": [kid.clone()], "threshold": 0 });
    let root_signed = json!({
        "_type": "root",
        "spec_version": "1.0.0",
        "version": 1,
        "expires": FAR_FUTURE,
        "consistent_snapshot": false,
        "keys": { kid.clone(): key },
        "roles": {
            "root": role, "timestamp": role,
            "snapshot": role, "targets": role,
        },
    });
    let root_bytes = envelope(
        root_signed.clone(),
        vec![signature(&root_signed, &kid, &kp)],
    );
    let err = sigstore_tuf::TrustedMetadataSet::from_root(&root_bytes)
        .expect_err("threshold 0 must be rejected");
    assert!(err.to_string().contains("threshold 0"), "got: {err}");
}

/// Metadata declaring a future major spec version must be rejected rather than
/// interpreted with 1.x semantics.
#[test]
fn future_spec_version_is_rejected() {
    let kp = KeyPair::generate_ecdsa_p256().unwrap();
    let (kid, key) = key_entry(&kp);
    let role = json!({ "keyids": [kid.clone()], "threshold": 1 });
    let root_signed = json!({
        "_type": "root",
        "spec_version": "2.0.0",
        "version": 1,
        "expires": FAR_FUTURE,
        "consistent_snapshot": false,
        "keys": { kid.clone(): key },
        "roles": {
            "root": role, "timestamp": role,
            "snapshot": role, "targets": role,
        },
    });
    let root_bytes = envelope(
        root_signed.clone(),
        vec![signature(&root_signed, &kid, &kp)],
    );
    let err = sigstore_tuf::TrustedMetadataSet::from_root(&root_bytes)
        .expect_err("spec_version 2.x must be rejected");
    assert!(err.to_string().contains("spec_version"), "got: {err}");
}

#[tokio::test]
async fn target_resolution_requires_fresh_metadata_even_after_failed_refresh() {
    let (repo, root) = build_repo_with_timestamp_expiry("2026-06-02T00:00:00Z");
    let mut updater = Updater::new(repo, &root).unwrap();
    updater.refresh(now()).await.unwrap();
    updater
        .get_target("delegated/file.txt", now())
        .await
        .unwrap();
    let later = "2026-06-03T00:00:00Z".parse().unwrap();
    assert!(updater
        .get_target("delegated/file.txt", later)
        .await
        .unwrap_err()
        .to_string()
        .contains("expired"));
    assert!(updater.refresh(later).await.is_err());
    assert!(updater
        .get_target("delegated/file.txt", later)
        .await
        .is_err());
}

#[tokio::test]
async fn expired_cached_timestamp_preserves_rollback_floor() {
    let kp = KeyPair::generate_ecdsa_p256().unwrap();
    let (kid, key) = key_entry(&kp);
    let sign = |value: Value| envelope(value.clone(), vec![signature(&value, &kid, &kp)]);
    let role = json!({"keyids":[kid.clone()],"threshold":1});
    let root = sign(
        json!({"_type":"root","spec_version":"1.0.0","version":1,"expires":FAR_FUTURE,
        "keys":{kid.clone():key},"roles":{"root":role,"timestamp":role,"snapshot":role,"targets":role}}),
    );
    let targets = sign(
        json!({"_type":"targets","spec_version":"1.0.0","version":1,"expires":FAR_FUTURE,"targets":{}}),
    );
    let snapshot = sign(
        json!({"_type":"snapshot","spec_version":"1.0.0","version":1,"expires":FAR_FUTURE,"meta":{"targets.json":metafile(&targets,1)}}),
    );
    let timestamp = |version, expires| {
        sign(
            json!({"_type":"timestamp","spec_version":"1.0.0","version":version,"expires":expires,"meta":{"snapshot.json":metafile(&snapshot,1)}}),
        )
    };
    let mut repo = MemRepo::default();
    repo.metadata.insert(
        "timestamp.json".into(),
        timestamp(2, "2026-06-02T00:00:00Z"),
    );
    repo.metadata
        .insert("snapshot.json".into(), snapshot.clone());
    repo.metadata.insert("targets.json".into(), targets.clone());
    let store = Arc::new(MemoryStore::new());
    let mut updater = Updater::new(repo, &root).unwrap().with_store(store.clone());
    updater.refresh(now()).await.unwrap();
    let mut replay = MemRepo::default();
    replay.metadata.insert(
        "timestamp.json".into(),
        timestamp(1, "2027-01-01T00:00:00Z"),
    );
    replay.metadata.insert("snapshot.json".into(), snapshot);
    replay.metadata.insert("targets.json".into(), targets);
    let mut restarted = Updater::new(replay, &root).unwrap().with_store(store);
    let error = restarted
        .refresh("2026-06-03T00:00:00Z".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        sigstore_tuf::Error::Rollback {
            trusted: 2,
            new: 1,
            ..
        }
    ));
}

#[tokio::test]
async fn expired_metadata_is_rejected() {
    let (repo, root_bytes) = build_repo();
    let mut updater = Updater::new(repo, &root_bytes).unwrap();
    // A `now` far past FAR_FUTURE makes every role expired.
    let future = "3999-01-01T00:00:00Z".parse().unwrap();
    let err = updater
        .refresh(future)
        .await
        .expect_err("expired metadata must be rejected");
    assert!(err.to_string().contains("expired"), "got: {err}");
}

#[tokio::test]
async fn expired_error_reports_role_and_typed_expiry() {
    let (repo, root_bytes) = build_repo_with_timestamp_expiry("2026-06-15T00:00:00Z");
    let mut updater = Updater::new(repo, &root_bytes).unwrap();
    let err = updater
        .refresh("2026-07-01T00:00:00Z".parse().unwrap())
        .await
        .expect_err("expired timestamp must be rejected");
    match err {
        sigstore_tuf::Error::Expired { role, expires } => {
            assert_eq!(role, "timestamp");
            assert_eq!(expires, "2026-06-15T00:00:00Z".parse().unwrap());
        }
        other => panic!("expected Expired, got {other:?}"),
    }
}

#[tokio::test]
async fn resolving_targets_requires_a_refresh() {
    let (repo, root_bytes) = build_repo();
    let mut updater = Updater::new(repo, &root_bytes).unwrap();
    let err = updater
        .get_target_info("delegated/file.txt", now())
        .await
        .expect_err("target resolution before refresh must fail");
    assert!(
        matches!(err, sigstore_tuf::Error::NotRefreshed),
        "got: {err:?}"
    );
}

#[tokio::test]
async fn unlisted_target_is_reported_as_not_found() {
    let (repo, root_bytes) = build_repo();
    let mut updater = Updater::new(repo, &root_bytes).unwrap();
    updater.refresh(now()).await.unwrap();
    assert!(updater
        .get_target_info("no/such/target", now())
        .await
        .unwrap()
        .is_none());
    let err = updater
        .get_target("no/such/target", now())
        .await
        .expect_err("unlisted target must fail");
    assert!(
        matches!(&err, sigstore_tuf::Error::TargetNotFound(path) if path == "no/such/target"),
        "got: {err:?}"
    );
}
