//! Keyless verification of images, offline: a real attestation that cosign v3
//! (`attest --new-bundle-format`) stored for go-containerregistry's
//! `empty.Image`, signed by a GitHub OAuth identity on the public-good
//! Sigstore instance, verified against the embedded trusted root.

use std::collections::BTreeMap;

use sigil_verifier::layout::LayoutStore;
use sigil_verifier::oci::{self, Descriptor, ImageManifest};
use sigil_verifier::reference::Target;
use sigil_verifier::store::Store as _;

use crate::fixtures::{block_on, keypair, s, testdata, write_policy};
use crate::support::{Registry, sigil};

const IDENTITY: &str = "cody@soyland.com";
const ISSUER: &str = "https://github.com/login/oauth";
const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";

/// go-containerregistry's `empty.Image` (docker v2 manifest, empty config):
/// digest sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4,
/// the subject of cosign's test attestation.
fn push_empty_image(store: &LayoutStore, tag: &str, config: &[u8]) -> Descriptor {
    let config_descriptor = Descriptor::of("application/vnd.docker.container.image.v1+json", config);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{},"digest":"{}"}},"layers":[]}}"#,
        config.len(),
        config_descriptor.digest
    );
    let descriptor = Descriptor::of(oci::DOCKER_MANIFEST, manifest.as_bytes());
    block_on(async {
        store.push_blob(&config_descriptor, config).await.expect("config");
        store
            .push_manifest(&Target::Tag(tag.into()), oci::DOCKER_MANIFEST, manifest.as_bytes())
            .await
            .expect("manifest");
    });
    descriptor
}

/// Stores cosign's bundle as an OCI 1.1 referrer of `subject`, as cosign v3 does.
fn push_bundle_referrer(store: &LayoutStore, subject: &Descriptor) {
    let bundle = std::fs::read(testdata("bundles/shared/cosign/oci-attestation.sigstore.json")).expect("bundle");
    let layer = Descriptor::of("application/vnd.dev.sigstore.bundle.v0.3+json", &bundle);
    let empty = Descriptor::of(oci::OCI_EMPTY, oci::EMPTY_JSON);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.into()),
        artifact_type: Some("application/vnd.dev.sigstore.bundle.v0.3+json".into()),
        config: empty.clone(),
        layers: vec![layer.clone()],
        subject: Some(subject.clone()),
        annotations: BTreeMap::from([
            ("dev.sigstore.bundle.content".into(), "dsse-envelope".into()),
            ("dev.sigstore.bundle.predicateType".into(), CUSTOM.into()),
        ]),
    };
    block_on(async {
        store.push_blob(&layer, &bundle).await.expect("bundle blob");
        store.push_blob(&empty, oci::EMPTY_JSON).await.expect("empty config");
        sigil_verifier::referrers::push(store, &manifest)
            .await
            .expect("referrer");
    });
}

fn verify(image: &str, extra: &[&str]) -> crate::support::Output {
    let mut args = vec!["verify-attestation", image, "--type", "custom", "--output", "json"];
    args.extend_from_slice(extra);
    sigil(&args).run()
}

fn reason(out: &crate::support::Output) -> String {
    out.stdout_json()["images"][0]["attestations"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn cosign_v3_keyless_attestation_verifies_offline_and_its_twins_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    let store = LayoutStore::create(&layout).expect("layout");
    let empty = push_empty_image(
        &store,
        "empty",
        br#"{"architecture":"","created":"0001-01-01T00:00:00Z","os":"","rootfs":{"type":"layers","diff_ids":null},"config":{}}"#,
    );
    assert_eq!(
        empty.digest.to_string(),
        "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4",
        "the empty image is byte-identical to go-containerregistry's"
    );
    push_bundle_referrer(&store, &empty);
    let image = format!("oci:{}:empty", layout.display());
    let identity = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER];

    let ok = verify(&image, &identity);
    ok.assert_exit(0);
    let report = ok.stdout_json();
    let attestation = &report["images"][0]["attestations"][0];
    assert_eq!(attestation["signer"]["subject"], IDENTITY);
    assert_eq!(attestation["signer"]["issuer"], ISSUER);
    assert_eq!(attestation["statement"]["predicateType"], CUSTOM);
    verify(
        &image,
        &[
            "--certificate-identity-regexp",
            r".*@soyland\.com",
            "--certificate-oidc-issuer-regexp",
            "https://github\\.com/.*",
        ],
    )
    .assert_exit(0);

    // twins: another identity, another issuer, an extension it lacks, a key, a root without the CA
    let out = verify(
        &image,
        &[
            "--certificate-identity",
            "eve@example.com",
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    out.assert_exit(1);
    assert!(reason(&out).contains("eve@example.com"), "{}", reason(&out));
    verify(
        &image,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
        ],
    )
    .assert_exit(1);
    let mut with_extension = identity.to_vec();
    with_extension.extend([
        "--certificate-extension",
        "sourceRepositoryURI=https://github.com/acme/app",
    ]);
    verify(&image, &with_extension).assert_exit(1);
    let (_, public) = keypair(dir.path(), "k");
    verify(&image, &["--key", s(&public)]).assert_exit(1);
    let mut other_root = identity.to_vec();
    let scaffolding = testdata("bundles/shared/trusted_roots/sigstore-go-scaffolding.json");
    other_root.extend(["--trusted-root", s(&scaffolding)]);
    verify(&image, &other_root).assert_exit(1);
    // wrong predicate type asked for: nothing of that type
    let out = sigil(&[
        "verify-attestation",
        &image,
        "--type",
        "slsaprovenance1",
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ])
    .run();
    out.assert_exit(1);

    // the same bundle attached to another image is refused: its statement names the empty image
    let other = push_empty_image(
        &store,
        "other",
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":null},"config":{}}"#,
    );
    push_bundle_referrer(&store, &other);
    let out = verify(&format!("oci:{}:other", layout.display()), &identity);
    out.assert_exit(1);
    assert!(reason(&out).contains("no subject with digest"), "{}", reason(&out));

    // through a real registry: copy, then verify there
    let registry = Registry::start();
    let remote = registry.image("keyless/empty:v1");
    sigil(&["copy", &image, &remote]).run().assert_exit(0);
    verify(&remote, &identity).assert_exit(0);

    // a policy naming the keyless publisher allows it; one naming another identity denies
    let elsewhere = registry.image("eve/empty:v1");
    sigil(&["copy", &image, &elsewhere]).run().assert_exit(0);
    let host = registry.host();
    let policy = write_policy(
        dir.path(),
        &format!(
            r#"publishers:
  cody:
    keyless: {{ issuer: "{ISSUER}", subject: "{IDENTITY}" }}
  eve:
    keyless: {{ issuer: "{ISSUER}", subjectRegExp: 'eve@.*' }}
rules:
  - name: cody-attests
    images: ["{host}/keyless/**"]
    attestations:
      - predicateType: {CUSTOM}
        signedBy: [cody]
  - name: eve-attests
    images: ["{host}/eve/**"]
    attestations:
      - predicateType: {CUSTOM}
        signedBy: [eve]
"#
        ),
    );
    sigil(&["verify", &remote, "--policy", s(&policy)]).run().assert_exit(0);
    let denied = sigil(&["verify", &elsewhere, "--policy", s(&policy), "--output", "json"]).run();
    denied.assert_exit(1);
    assert!(denied.stdout.contains("eve"), "{}", denied.stdout);
}
