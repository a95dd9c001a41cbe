//! Fixtures built with sigil's own library where a test needs many distinct
//! images, indexes or a hand-tampered manifest in a real registry.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sigil_verifier::digest::Digest;
use sigil_verifier::oci::{self, Descriptor, ImageIndex, Platform};
use sigil_verifier::reference::{RegistryRef, Target};
use sigil_verifier::registry::{RegistryClient, RegistryOptions, RegistryStore};
use sigil_verifier::sample;
use sigil_verifier::store::{Store as _, require_manifest};

use crate::support::{Registry, sigil};

/// Points the tag `to` of `repo` at the manifest of tag `from`: evidence
/// made for one image, planted on another.
pub fn copy_tag(registry: &Registry, repo: &str, from: &str, to: &str) {
    let (_, manifest) = manifest(registry, repo, Target::Tag(from.to_owned()));
    put_manifest(registry, repo, Target::Tag(to.to_owned()), &manifest);
}

/// Writes `dir/policy.yaml`: the `apiVersion`/`kind` header, then `body`.
pub fn write_policy(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("policy.yaml");
    std::fs::write(
        &path,
        format!("apiVersion: sigil.dev/v1alpha1\nkind: ImagePolicy\n{body}"),
    )
    .expect("write policy");
    path
}

/// A file in the project's `testdata/`.
pub fn testdata(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata").join(path)
}

/// Runs a future to completion on a fresh runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// A store for `repo` in a plain-HTTP loopback registry.
pub fn store(registry: &Registry, repo: &str) -> RegistryStore {
    let reference = RegistryRef::parse(&registry.image(repo)).expect("valid reference");
    let client = RegistryClient::new(RegistryOptions::default()).expect("client");
    RegistryStore::new(Arc::new(client), &reference)
}

/// Pushes a distinct sample image (by `seed`) as `repo:tag`; returns its digest.
pub fn push_sample(registry: &Registry, repo: &str, tag: &str, seed: u64) -> Digest {
    let store = store(registry, repo);
    block_on(sample::write(&store, seed, Some(tag)))
        .expect("push sample image")
        .digest
}

/// Pushes an index of two platform images as `repo:tag`; returns (index, platforms).
pub fn push_index(registry: &Registry, repo: &str, tag: &str) -> (Digest, Vec<Digest>) {
    let store = store(registry, repo);
    block_on(async {
        let mut manifests = Vec::new();
        for (seed, arch) in [(901, "amd64"), (902, "arm64")] {
            let mut d = sample::write(&store, seed, None).await.expect("platform image");
            d.platform = Some(Platform {
                architecture: arch.into(),
                os: "linux".into(),
                variant: None,
            });
            manifests.push(d);
        }
        let platforms = manifests.iter().map(|d| d.digest.clone()).collect();
        let index = ImageIndex {
            manifests,
            ..ImageIndex::empty()
        };
        let bytes = oci::to_bytes(&index);
        store
            .push_manifest(&Target::Tag(tag.into()), oci::OCI_INDEX, &bytes)
            .await
            .expect("push index");
        (Digest::sha256_of(&bytes), platforms)
    })
}

/// The manifest at `target` in `repo`, with its descriptor.
pub fn manifest(registry: &Registry, repo: &str, target: Target) -> (Descriptor, serde_json::Value) {
    let store = store(registry, repo);
    let fetched = block_on(require_manifest(&store, &target)).expect("manifest exists");
    (
        fetched.descriptor,
        serde_json::from_slice(&fetched.bytes).expect("manifest JSON"),
    )
}

/// Pushes manifest JSON under `target` (blobs it names must exist).
pub fn put_manifest(registry: &Registry, repo: &str, target: Target, manifest: &serde_json::Value) -> Digest {
    let store = store(registry, repo);
    let bytes = serde_json::to_vec(manifest).expect("json");
    let media_type = manifest["mediaType"].as_str().unwrap_or(oci::OCI_MANIFEST).to_owned();
    block_on(store.push_manifest(&target, &media_type, &bytes))
        .expect("push manifest")
        .digest
}

/// A key pair made by `sigil key generate` with password `pw`: (key, pub).
pub fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let prefix = dir.join(name);
    sigil(&["key", "generate", "--output-key-prefix", prefix.to_str().expect("utf8")])
        .env("SIGIL_PASSWORD", "pw")
        .run()
        .assert_exit(0);
    (prefix.with_extension("key"), prefix.with_extension("pub"))
}

/// `path` as &str.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}
