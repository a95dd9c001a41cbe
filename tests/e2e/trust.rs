//! `sigil trust update` / `sigil trust show` against a TUF repository built
//! here (Ed25519 test keys, consistent snapshots, canonical JSON signed by
//! hand) and served on loopback: an update that succeeds and is then used by
//! `verify-bundle`, root rotation, and twins (expired timestamp, rollbacks,
//! a root signed by the wrong keys, a target whose hash does not match, a
//! frozen timestamp, plain HTTP off loopback), each exit 2 with one line
//! naming the role, the cache keeping its last good state.

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::support::{FileServer, Output, sigil};

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(path)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

/// A trusted root the embedded one is not: sigstore-go's scaffolding
/// instance, with the bundle that verifies only against it.
const SCAFFOLDING: &str = "bundles/shared/trusted_roots/sigstore-go-scaffolding.json";
const OTHERNAME: &str = "bundles/shared/sigstore-go/othername.sigstore.json";
const OTHERNAME_DIGEST: &str = "sha256:bc103b4a84971ef6459b294a2b98568a2bfb72cded09d4acd1e16366a401f95b";

/// A TUF signing key.
struct Key {
    id: String,
    pair: Ed25519KeyPair,
}

impl Key {
    fn new() -> Key {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("ed25519 key");
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ed25519 key");
        Key {
            id: sha256(pair.public_key().as_ref()),
            pair,
        }
    }

    fn public(&self) -> Value {
        json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": {"public": hex::encode(self.pair.public_key().as_ref())}})
    }
}

/// `signed`, signed by `keys` over its canonical JSON.
fn envelope(signed: Value, keys: &[&Key]) -> Vec<u8> {
    let canonical = sigstore_tuf::canonical_json::to_canonical_bytes(&signed).expect("canonical json");
    let signatures: Vec<Value> = keys
        .iter()
        .map(|k| json!({"keyid": k.id, "sig": hex::encode(k.pair.sign(&canonical).as_ref())}))
        .collect();
    serde_json::to_vec_pretty(&json!({"signatures": signatures, "signed": signed})).expect("json")
}

fn in_days(days: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * days);
    jiff::Timestamp::from_second(at.as_second()).expect("time").to_string()
}

fn in_seconds(seconds: i64) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(seconds);
    jiff::Timestamp::from_second(at.as_second()).expect("time").to_string()
}

/// The repository's keys and what it publishes; `publish` writes the files
/// a mirror serves (versioned metadata, hash-prefixed targets).
struct Repo {
    dir: tempfile::TempDir,
    root_key: Key,
    timestamp_key: Key,
    snapshot_key: Key,
    targets_key: Key,
    trusted_root: Vec<u8>,
    signing_config: Vec<u8>,
}

/// The versions one publication carries.
#[derive(Clone)]
struct Versions {
    timestamp: u64,
    snapshot: u64,
    targets: u64,
    timestamp_expires: String,
}

impl Versions {
    fn all(v: u64) -> Versions {
        Versions {
            timestamp: v,
            snapshot: v,
            targets: v,
            timestamp_expires: in_days(7),
        }
    }
}

impl Repo {
    fn new() -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().expect("tempdir"),
            root_key: Key::new(),
            timestamp_key: Key::new(),
            snapshot_key: Key::new(),
            targets_key: Key::new(),
            trusted_root: std::fs::read(data(SCAFFOLDING)).expect("trusted root"),
            signing_config: std::fs::read(data("trust/signing_config.v0.2.json")).expect("signing config"),
        };
        let root = repo.root_metadata(1, &repo.root_key, &[&repo.root_key]);
        repo.write("1.root.json", &root);
        repo.publish(&Versions::all(1));
        repo
    }

    /// Root `version` naming `root_key` for the root role, signed by `signers`.
    fn root_metadata(&self, version: u64, root_key: &Key, signers: &[&Key]) -> Vec<u8> {
        let role = |k: &Key| json!({"keyids": [k.id], "threshold": 1});
        envelope(
            json!({
                "_type": "root",
                "spec_version": "1.0.31",
                "version": version,
                "expires": in_days(365),
                "consistent_snapshot": true,
                "keys": {
                    root_key.id.clone(): root_key.public(),
                    self.timestamp_key.id.clone(): self.timestamp_key.public(),
                    self.snapshot_key.id.clone(): self.snapshot_key.public(),
                    self.targets_key.id.clone(): self.targets_key.public(),
                },
                "roles": {
                    "root": role(root_key),
                    "timestamp": role(&self.timestamp_key),
                    "snapshot": role(&self.snapshot_key),
                    "targets": role(&self.targets_key),
                },
            }),
            signers,
        )
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write");
    }

    fn target(bytes: &[u8]) -> Value {
        json!({"length": bytes.len(), "hashes": {"sha256": sha256(bytes)}})
    }

    fn publish(&self, v: &Versions) {
        let targets = envelope(
            json!({
                "_type": "targets", "spec_version": "1.0.31", "version": v.targets, "expires": in_days(90),
                "targets": {
                    "trusted_root.json": Repo::target(&self.trusted_root),
                    "signing_config.v0.2.json": Repo::target(&self.signing_config),
                },
            }),
            &[&self.targets_key],
        );
        self.write(&format!("{}.targets.json", v.targets), &targets);
        let snapshot = envelope(
            json!({
                "_type": "snapshot", "spec_version": "1.0.31", "version": v.snapshot, "expires": in_days(30),
                "meta": {"targets.json": {"version": v.targets}},
            }),
            &[&self.snapshot_key],
        );
        self.write(&format!("{}.snapshot.json", v.snapshot), &snapshot);
        self.publish_timestamp(v);
        self.write(
            &format!("targets/{}.trusted_root.json", sha256(&self.trusted_root)),
            &self.trusted_root,
        );
        self.write(
            &format!("targets/{}.signing_config.v0.2.json", sha256(&self.signing_config)),
            &self.signing_config,
        );
    }

    fn publish_timestamp(&self, v: &Versions) {
        let timestamp = envelope(
            json!({
                "_type": "timestamp", "spec_version": "1.0.31", "version": v.timestamp,
                "expires": v.timestamp_expires,
                "meta": {"snapshot.json": {"version": v.snapshot}},
            }),
            &[&self.timestamp_key],
        );
        self.write("timestamp.json", &timestamp);
    }

    /// Root 1, as a user would be handed it for `--root`.
    fn first_root(&self) -> PathBuf {
        self.dir.path().join("1.root.json")
    }
}

/// A mirror with its cache: runs sigil with `SIGIL_CACHE_DIR` set.
struct Client {
    cache: tempfile::TempDir,
    url: String,
}

impl Client {
    fn new(server: &FileServer) -> Client {
        Client {
            cache: tempfile::tempdir().expect("tempdir"),
            url: server.url(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        sigil(args).env("SIGIL_CACHE_DIR", self.cache.path()).run()
    }

    fn update(&self, repo: &Repo) -> Output {
        self.run(&[
            "trust",
            "update",
            "--mirror",
            &self.url,
            "--root",
            s(&repo.first_root()),
        ])
    }

    fn show(&self) -> Value {
        let out = self.run(&["trust", "show", "--output", "json"]);
        out.assert_success();
        out.stdout_json()
    }

    fn verify_othername(&self) -> Output {
        self.run(&[
            "verify-bundle",
            "--bundle",
            s(&data(OTHERNAME)),
            "--certificate-identity",
            "foo!oidc.local",
            "--certificate-oidc-issuer",
            "http://oidc.local:8080",
            OTHERNAME_DIGEST,
        ])
    }

    /// Runs an update that must fail with one line starting with `expected`,
    /// and checks that the state in use did not change.
    #[track_caller]
    fn refused(&self, repo: &Repo, expected: &str) {
        let before = self.show();
        let out = self.update(repo);
        out.assert_exit(2);
        let line = out.assert_one_line_error();
        assert!(
            line.starts_with(&format!("error: {expected}")),
            "expected {expected:?}\n{out}"
        );
        assert_eq!(self.show(), before, "a failed update changed the state in use");
    }
}

#[test]
fn an_update_is_shown_and_used_by_verification_without_the_network() {
    let repo = Repo::new();
    let server = FileServer::start(repo.dir.path());
    let client = Client::new(&server);

    let embedded = client.show();
    assert_eq!(embedded["apiVersion"], "sigil.dev/trust/v1");
    assert_eq!(embedded["source"], "embedded");
    let public_good = std::fs::read(data("trust/trusted_root.json")).expect("root");
    assert_eq!(embedded["trustedRoot"]["sha256"], sha256(&public_good));
    assert_eq!(embedded["expires"], Value::Null);
    // The scaffolding bundle does not verify against the embedded root.
    client.verify_othername().assert_exit(1);

    let out = client.update(&repo);
    out.assert_success().assert_quiet_stderr();
    assert!(out.stdout.contains(&format!("trusted root: {}", client.url)), "{out}");

    let shown = client.show();
    assert_eq!(shown["source"], client.url.as_str());
    assert_eq!(shown["trustedRoot"]["sha256"], sha256(&repo.trusted_root));
    assert_eq!(shown["signingConfig"]["sha256"], sha256(&repo.signing_config));
    for role in ["root", "timestamp", "snapshot", "targets"] {
        assert_eq!(shown["metadata"][role]["version"], 1, "{role}");
    }
    // The timestamp expires first.
    assert_eq!(shown["expires"], shown["metadata"]["timestamp"]["expires"]);
    let human = client.run(&["trust", "show"]);
    human.assert_success().assert_quiet_stderr();
    assert!(
        human.stdout.starts_with(&format!(
            "trusted root: {}\nsha256: sha256:{}",
            client.url,
            sha256(&repo.trusted_root)
        )),
        "{human}"
    );

    // Verification without --trusted-root now uses the cached root, with
    // the mirror stopped: it never goes to the network.
    drop(server);
    client.verify_othername().assert_success();

    // The cache files are where the README says.
    let dir = PathBuf::from(shown["cacheDir"].as_str().expect("dir"));
    assert!(dir.starts_with(client.cache.path().join("tuf")), "{}", dir.display());
    assert_eq!(
        std::fs::read(dir.join("targets/trusted_root.json")).expect("cached"),
        repo.trusted_root
    );

    // A cached file edited after the update is not trusted for being on
    // disk: the state no longer verifies, and the embedded root is used.
    let mut edited = repo.trusted_root.clone();
    let at = edited.len() / 2;
    edited[at] ^= 1;
    std::fs::write(dir.join("targets/trusted_root.json"), edited).expect("edit the cache");
    let out = client.run(&["trust", "show", "--output", "json"]);
    out.assert_success();
    assert!(out.stderr.contains("is not used"), "{out}");
    let shown = out.stdout_json();
    assert_eq!(shown["source"], "embedded");
    let reason = shown["unusedCache"]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("trusted_root.json: sha256 hash mismatch"),
        "{reason}"
    );
    client.verify_othername().assert_exit(1);
}

#[test]
fn the_cache_falls_back_to_xdg_cache_home_then_home() {
    let repo = Repo::new();
    let server = FileServer::start(repo.dir.path());
    let xdg = tempfile::tempdir().expect("tempdir");
    let home = tempfile::tempdir().expect("tempdir");
    let update = |env: Option<(&str, &Path)>| {
        let mut proc = sigil(&[
            "trust",
            "update",
            "--mirror",
            &server.url(),
            "--root",
            s(&repo.first_root()),
        ])
        .home(home.path());
        if let Some((name, value)) = env {
            proc = proc.env(name, value);
        }
        proc.run().assert_success();
    };
    update(Some(("XDG_CACHE_HOME", xdg.path())));
    assert!(xdg.path().join("sigil/tuf/current").is_file());
    update(None);
    assert!(home.path().join(".cache/sigil/tuf/current").is_file());
}

#[test]
fn root_rotation_is_followed_and_a_root_signed_only_by_new_keys_is_refused() {
    let repo = Repo::new();
    let server = FileServer::start(repo.dir.path());
    let client = Client::new(&server);
    client.update(&repo).assert_success();

    // Root 2 rotates the root key: signed by the old and the new one.
    let second = Key::new();
    repo.write(
        "2.root.json",
        &repo.root_metadata(2, &second, &[&repo.root_key, &second]),
    );
    repo.publish(&Versions::all(2));
    client.update(&repo).assert_success();
    assert_eq!(client.show()["metadata"]["root"]["version"], 2);

    // Root 3 signed only by its own new key: root 2's key did not sign it.
    let third = Key::new();
    repo.write("3.root.json", &repo.root_metadata(3, &third, &[&third]));
    client.refused(&repo, "root: bad signature");
    assert_eq!(client.show()["metadata"]["root"]["version"], 2);

    // `--root` never resets the cached root: root 1 is where the cached
    // chain started (quiet), another root is not used (a warning), and the
    // update still starts from root 2.
    std::fs::remove_file(repo.dir.path().join("3.root.json")).expect("rm");
    client.update(&repo).assert_success().assert_quiet_stderr();
    let other = repo.dir.path().join("other-root.json");
    std::fs::write(&other, repo.root_metadata(1, &third, &[&third])).expect("write");
    let out = client.run(&["trust", "update", "--mirror", &client.url, "--root", s(&other)]);
    out.assert_success();
    assert!(
        out.stderr.contains("--root") && out.stderr.contains("is not used"),
        "{out}"
    );
    assert_eq!(client.show()["metadata"]["root"]["version"], 2);
}

#[test]
fn tampered_repositories_fail_naming_the_role_and_keep_the_last_good_state() {
    let mut repo = Repo::new();
    let server = FileServer::start(repo.dir.path());
    let client = Client::new(&server);
    repo.publish(&Versions::all(2));
    client.update(&repo).assert_success();

    // An expired timestamp.
    repo.publish(&Versions {
        timestamp_expires: "2020-01-01T00:00:00Z".into(),
        ..Versions::all(3)
    });
    client.refused(&repo, "timestamp: expired");

    // A timestamp that rolls the snapshot back (v1 < the cached v2).
    repo.publish_timestamp(&Versions {
        snapshot: 1,
        targets: 1,
        ..Versions::all(3)
    });
    client.refused(&repo, "snapshot: rollback");

    // A timestamp older than the cached one.
    repo.publish_timestamp(&Versions::all(1));
    client.refused(&repo, "timestamp: rollback");

    // A new root signed by a stranger, in place of the root key.
    let stranger = Key::new();
    repo.write("2.root.json", &repo.root_metadata(2, &stranger, &[&stranger]));
    repo.publish(&Versions::all(3));
    client.refused(&repo, "root: bad signature");
    std::fs::remove_file(repo.dir.path().join("2.root.json")).expect("rm");

    // A new trusted root whose served bytes are not the ones targets pins.
    repo.trusted_root = std::fs::read(data("trust/trusted_root.json")).expect("root");
    repo.publish(&Versions::all(4));
    let mut flipped = repo.trusted_root.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 1;
    repo.write(
        &format!("targets/{}.trusted_root.json", sha256(&repo.trusted_root)),
        &flipped,
    );
    client.refused(&repo, "trusted_root.json: hash or length mismatch");

    // The untampered repository still updates (nothing stuck in the cache).
    repo.publish(&Versions::all(4));
    client.update(&repo).assert_success();
    let shown = client.show();
    assert_eq!(shown["metadata"]["timestamp"]["version"], 4);
    assert_eq!(shown["trustedRoot"]["sha256"], sha256(&repo.trusted_root));
}

#[test]
fn a_frozen_timestamp_is_refused_and_a_stale_cache_is_reported_not_used() {
    let repo = Repo::new();
    let server = FileServer::start(repo.dir.path());
    let client = Client::new(&server);
    repo.publish(&Versions {
        timestamp_expires: in_seconds(8),
        ..Versions::all(2)
    });
    client.update(&repo).assert_success();
    client.verify_othername().assert_success();
    std::thread::sleep(std::time::Duration::from_secs(9));

    // The mirror keeps serving the same timestamp: a freeze.
    let out = client.update(&repo);
    out.assert_exit(2);
    let line = out.assert_one_line_error();
    assert!(line.starts_with("error: timestamp: expired"), "{out}");

    // The cached state is kept but, expired, no longer used: show and
    // verification say so and use the embedded root.
    let out = client.run(&["trust", "show", "--output", "json"]);
    out.assert_success();
    assert!(
        out.stderr.contains("is not used") && out.stderr.contains("expired"),
        "{out}"
    );
    let shown = out.stdout_json();
    assert_eq!(shown["source"], "embedded");
    assert!(
        shown["unusedCache"]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("timestamp: expired"),
        "{shown}"
    );
    assert_eq!(shown["unusedCache"]["mirror"], client.url.as_str());
    let out = client.verify_othername();
    out.assert_exit(1);
    assert!(out.stderr.contains("is not used"), "{out}");

    // A fresh timestamp (pinning the cached snapshot) brings the cache back.
    repo.publish_timestamp(&Versions {
        timestamp: 3,
        ..Versions::all(2)
    });
    client.update(&repo).assert_success();
    assert_eq!(client.show()["source"], client.url.as_str());
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let cache = tempfile::tempdir().expect("tempdir");
    for mirror in ["http://tuf.example", "http://192.0.2.1:8080", "ftp://127.0.0.1/"] {
        let out = sigil(&["trust", "update", "--mirror", mirror])
            .env("SIGIL_CACHE_DIR", cache.path())
            .run();
        out.assert_exit(2);
        let line = out.assert_one_line_error();
        assert!(line.contains("plain http only from a loopback mirror"), "{out}");
    }
    assert!(!cache.path().join("tuf").exists(), "nothing cached");
}

/// `src`'s files copied into `dst`, which is emptied first.
fn serve_stage(src: &Path, dst: &Path) {
    if dst.exists() {
        std::fs::remove_dir_all(dst).expect("empty the served directory");
    }
    std::fs::create_dir_all(dst.join("targets")).expect("mkdir");
    for dir in [src.to_path_buf(), src.join("targets")] {
        for entry in std::fs::read_dir(&dir).expect("read stage") {
            let entry = entry.expect("entry");
            if entry.file_type().expect("type").is_file() {
                let relative = entry.path().strip_prefix(src).expect("inside").to_path_buf();
                std::fs::copy(entry.path(), dst.join(relative)).expect("copy");
            }
        }
    }
}

#[test]
fn a_repository_written_by_python_tuf_updates_rotates_and_its_twins_fail() {
    let python = crate::support::require_binary("python3", "python3");
    let work = tempfile::tempdir().expect("tempdir");
    let stages = work.path().join("stages");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/e2e/trust/python_tuf_repo.py");
    let made = std::process::Command::new(python)
        .arg(&script)
        .arg(&stages)
        .arg(data(SCAFFOLDING))
        .arg(data("trust/trusted_root.json"))
        .arg(data("trust/signing_config.v0.2.json"))
        .output()
        .expect("run python3");
    assert!(
        made.status.success(),
        "python-tuf could not write the repository (pip install \"tuf>=5\"; scripts/test.sh installs it with sigstore):\n{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let served = work.path().join("served");
    serve_stage(&stages.join("a"), &served);
    let server = FileServer::start(&served);
    let client = Client::new(&server);
    let first_root = stages.join("a/1.root.json");
    let update = || client.run(&["trust", "update", "--mirror", &client.url, "--root", s(&first_root)]);
    let refused = |expected: &str| {
        let before = client.show();
        let out = update();
        out.assert_exit(2);
        let line = out.assert_one_line_error();
        assert!(
            line.starts_with(&format!("error: {expected}")),
            "expected {expected:?}\n{out}"
        );
        assert_eq!(client.show(), before, "a failed update changed the state in use");
    };

    update().assert_success().assert_quiet_stderr();
    let scaffolding = std::fs::read(data(SCAFFOLDING)).expect("root");
    assert_eq!(client.show()["trustedRoot"]["sha256"], sha256(&scaffolding));
    client.verify_othername().assert_success();

    // Root 2 rotates the root key; the targets now carry the public-good root.
    serve_stage(&stages.join("b"), &served);
    update().assert_success().assert_quiet_stderr();
    let shown = client.show();
    assert_eq!(shown["metadata"]["root"]["version"], 2);
    let public_good = std::fs::read(data("trust/trusted_root.json")).expect("root");
    assert_eq!(shown["trustedRoot"]["sha256"], sha256(&public_good));
    client.verify_othername().assert_exit(1);

    serve_stage(&stages.join("c"), &served);
    refused("root: bad signature");
    serve_stage(&stages.join("d"), &served);
    refused("trusted_root.json: hash or length mismatch");
    serve_stage(&stages.join("e"), &served);
    refused("timestamp: rollback");
    serve_stage(&stages.join("b"), &served);
    update().assert_success();
    assert_eq!(client.show()["metadata"]["timestamp"]["version"], 2);
}
