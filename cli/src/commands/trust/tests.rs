//! The TUF client on the real public-good repository
//! (`testdata/sigstore-root-signing/`, root-signing at `60cf2ce8`): the root
//! chain 1→15 and a full refresh at a fixed clock, with tampered twins.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sigstore_tuf::TrustedMetadataSet;
use sigstore_tuf::transport::{FetchFuture, Repository};

use super::{refresh, role_of_file};
use crate::trust_cache::{self, EMBEDDED_TUF_ROOT, Files};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn root(version: u64) -> Vec<u8> {
    read(&format!("sigstore-root-signing/root_history/{version}.root.json"))
}

/// Inside the validity of the copied timestamp (it expires 2026-08-28T19:25:56Z).
fn fresh() -> jiff::Timestamp {
    "2026-08-25T12:00:00Z".parse().expect("time")
}

fn sha256(bytes: &[u8]) -> String {
    sigil_verifier::digest::Digest::sha256_of(bytes).hex().to_owned()
}

/// The public-good repository as the mirror serves it (consistent
/// snapshots: versioned metadata, hash-prefixed targets), from memory.
#[derive(Clone)]
struct Memory(BTreeMap<String, Vec<u8>>);

impl Memory {
    fn public_good() -> Memory {
        let mut files = BTreeMap::new();
        for v in 1..=15 {
            files.insert(format!("{v}.root.json"), root(v));
        }
        files.insert("timestamp.json".into(), read("sigstore-root-signing/timestamp.json"));
        files.insert("165.snapshot.json".into(), read("sigstore-root-signing/snapshot.json"));
        files.insert("14.targets.json".into(), read("sigstore-root-signing/targets.json"));
        for name in ["trusted_root.json", "signing_config.v0.2.json"] {
            let bytes = read(&format!("trust/{name}"));
            files.insert(format!("targets/{}.{name}", sha256(&bytes)), bytes);
        }
        Memory(files)
    }

    fn with(mut self, name: &str, bytes: Vec<u8>) -> Memory {
        self.0.insert(name.to_owned(), bytes);
        self
    }

    fn fetch(&self, name: &str, max_length: u64) -> sigstore_tuf::Result<Option<Vec<u8>>> {
        match self.0.get(name) {
            Some(bytes) if bytes.len() as u64 > max_length => Err(sigstore_tuf::Error::transport("too long")),
            other => Ok(other.cloned()),
        }
    }
}

impl Repository for Memory {
    fn fetch_metadata<'a>(&'a self, name: &'a str, max_length: u64) -> FetchFuture<'a> {
        let result = self.fetch(name, max_length);
        Box::pin(async move { result })
    }

    fn fetch_target<'a>(&'a self, path: &'a str, max_length: u64) -> FetchFuture<'a> {
        let result = self.fetch(&format!("targets/{path}"), max_length);
        Box::pin(async move { result })
    }
}

fn run(repository: Memory, bootstrap: &[u8], seed: Files, now: jiff::Timestamp) -> Result<Files, String> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(refresh(repository, bootstrap, seed, now))
}

#[test]
fn the_real_root_history_chains_from_1_to_15() {
    let mut set = TrustedMetadataSet::from_root(&root(1)).expect("root 1 is self-signed");
    for v in 2..=15 {
        set.update_root(&root(v))
            .unwrap_or_else(|e| panic!("root {v} does not chain: {e}"));
        assert_eq!(set.root().version, v);
    }
    // Key type names changed on the way (`ecdsa-sha2-nistp256` → `ecdsa`).
    let keytypes = |v: u64| -> Vec<String> {
        let json: serde_json::Value = serde_json::from_slice(&root(v)).expect("json");
        let keys = json["signed"]["keys"].as_object().expect("keys").clone();
        keys.values()
            .map(|k| k["keytype"].as_str().expect("keytype").to_owned())
            .collect()
    };
    assert!(keytypes(8).iter().all(|t| t == "ecdsa-sha2-nistp256"));
    assert!(keytypes(9).iter().all(|t| t == "ecdsa"));
    assert_eq!(set.root_bytes(), EMBEDDED_TUF_ROOT, "the embedded root is root 15");
}

#[test]
fn a_root_chain_with_a_gap_or_a_bad_signature_is_refused() {
    let mut set = TrustedMetadataSet::from_root(&root(1)).expect("root 1");
    let gap = set.update_root(&root(3)).expect_err("1 -> 3 skips a version");
    assert!(super::why(&gap).contains("does not follow"), "{gap}");
    // Root 2 with every signature's last byte flipped.
    let mut tampered: serde_json::Value = serde_json::from_slice(&root(2)).expect("json");
    for sig in tampered["signatures"].as_array_mut().expect("signatures") {
        let mut hex = sig["sig"].as_str().expect("sig").to_owned();
        let last = if hex.ends_with('0') { "1" } else { "0" };
        hex.replace_range(hex.len() - 1.., last);
        sig["sig"] = hex.into();
    }
    let bad = set
        .update_root(&serde_json::to_vec(&tampered).expect("json"))
        .expect_err("a root whose signatures do not verify");
    assert!(super::why(&bad).contains("signature"), "{bad}");
    // A later root is not signed by root 1's keys alone.
    assert!(set.update_root(&root(15)).is_err());
}

#[test]
fn a_full_refresh_of_the_public_good_repository_from_root_1_and_from_the_embedded_root() {
    for bootstrap in [root(1), EMBEDDED_TUF_ROOT.to_vec()] {
        let files = run(Memory::public_good(), &bootstrap, Files::new(), fresh()).expect("refresh");
        assert_eq!(files["targets/trusted_root.json"], read("trust/trusted_root.json"));
        assert_eq!(
            files["targets/signing_config.v0.2.json"],
            read("trust/signing_config.v0.2.json")
        );
        assert_eq!(files["root.json"], EMBEDDED_TUF_ROOT);
        let mut with_mirror = files.clone();
        with_mirror.insert(trust_cache::MIRROR_FILE.into(), b"https://mirror.test\n".to_vec());
        let verified = trust_cache::verify_files(&with_mirror, Path::new("/cache"), fresh()).expect("verifies");
        assert_eq!(verified.mirror, "https://mirror.test");
        assert_eq!(
            (
                verified.root.version,
                verified.timestamp.version,
                verified.snapshot.version,
                verified.targets.version
            ),
            (15, 762, 165, 14)
        );
        assert_eq!(verified.expires().to_string(), "2026-08-28T19:25:56Z");
        // The same state, read a week later: the timestamp has expired.
        let late: jiff::Timestamp = "2026-09-01T00:00:00Z".parse().expect("time");
        let stale = trust_cache::verify_files(&with_mirror, Path::new("/cache"), late).expect_err("stale");
        assert!(
            stale.starts_with("timestamp: expired at 2026-08-28T19:25:56Z"),
            "{stale}"
        );
    }
}

#[test]
fn a_refresh_names_the_role_that_failed() {
    let late: jiff::Timestamp = "2026-09-01T00:00:00Z".parse().expect("time");
    let err = run(Memory::public_good(), EMBEDDED_TUF_ROOT, Files::new(), late).expect_err("expired");
    assert!(err.starts_with("timestamp: expired"), "{err}");

    let good = read("trust/trusted_root.json");
    let mut flipped = good.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    let tampered = Memory::public_good().with(&format!("targets/{}.trusted_root.json", sha256(&good)), flipped);
    let err = run(tampered, EMBEDDED_TUF_ROOT, Files::new(), fresh()).expect_err("hash");
    assert!(err.starts_with("trusted_root.json: hash or length mismatch"), "{err}");

    let mut snapshot = read("sigstore-root-signing/snapshot.json");
    let at = snapshot.len() / 2;
    snapshot[at] ^= 1;
    let tampered = Memory::public_good().with("165.snapshot.json", snapshot);
    let err = run(tampered, EMBEDDED_TUF_ROOT, Files::new(), fresh()).expect_err("snapshot");
    assert!(err.starts_with("snapshot: "), "{err}");

    // A 16th root signed by nobody the 15th trusts.
    let fake_16 = {
        let mut v: serde_json::Value = serde_json::from_slice(EMBEDDED_TUF_ROOT).expect("json");
        v["signed"]["version"] = 16.into();
        serde_json::to_vec(&v).expect("json")
    };
    let err = run(
        Memory::public_good().with("16.root.json", fake_16),
        EMBEDDED_TUF_ROOT,
        Files::new(),
        fresh(),
    )
    .expect_err("root 16");
    assert!(err.starts_with("root: bad signature"), "{err}");
}

#[test]
fn a_later_refresh_starts_from_the_cached_versions() {
    let first = run(Memory::public_good(), EMBEDDED_TUF_ROOT, Files::new(), fresh()).expect("first");
    // A mirror that stops serving the timestamp fails the update, cache or not.
    let without = {
        let mut m = Memory::public_good();
        m.0.remove("timestamp.json");
        m
    };
    let err = run(without, EMBEDDED_TUF_ROOT, first.clone(), fresh()).expect_err("no timestamp");
    assert!(err.starts_with("timestamp: "), "{err}");
    // The same repository again: nothing new, the cached state verifies.
    let again = run(Memory::public_good(), EMBEDDED_TUF_ROOT, first.clone(), fresh()).expect("again");
    assert_eq!(again["timestamp.json"], first["timestamp.json"]);
}

#[test]
fn metadata_file_names_map_to_roles() {
    assert_eq!(role_of_file("16.root.json"), "root");
    assert_eq!(role_of_file("timestamp.json"), "timestamp");
    assert_eq!(role_of_file("165.snapshot.json"), "snapshot");
    assert_eq!(role_of_file("14.targets.json"), "targets");
    assert_eq!(role_of_file("3.registry.npmjs.org.json"), "3.registry.npmjs.org.json");
}

#[test]
fn mirror_keys_separate_mirrors_and_ignore_a_trailing_slash() {
    let a = trust_cache::mirror_key("https://tuf-repo-cdn.sigstore.dev");
    assert_eq!(a, trust_cache::mirror_key("https://tuf-repo-cdn.sigstore.dev/"));
    assert!(a.starts_with("tuf-repo-cdn.sigstore.dev-"), "{a}");
    assert_ne!(a, trust_cache::mirror_key("https://tuf-repo-cdn.sigstore.dev/other"));
    assert_ne!(a, trust_cache::mirror_key("http://127.0.0.1:8080"));
}
