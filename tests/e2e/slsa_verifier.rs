//! Real SLSA container provenance from slsa-github-generator v1.4.0 and
//! v1.9.0, as slsa-verifier keeps it (`testdata/slsa-verifier/`, `cosign
//! save` layouts): keyless attestations logged as Rekor `intoto` 0.0.1
//! entries, whose certificates expired in 2023. `sigil verify-attestation`
//! judges them at the SET's integrated time against the embedded public-good
//! root, from the layout itself and after `sigil copy` into a real registry;
//! `verify --policy` applies a provenance rule. Every twin breaks one
//! binding: the envelope bytes, the envelope, the certificate, the SET, the
//! identity, the issuer, the image.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sigil_verifier::digest::Digest;

use crate::fixtures::{copy_tag, s, testdata, write_policy};
use crate::support::{Output, Registry, sigil};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const PROVENANCE: &str = "https://slsa.dev/provenance/v0.2";
const VERSIONS: [&str; 2] = ["v1.4.0", "v1.9.0"];

fn builder(version: &str) -> String {
    format!(
        "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/{version}"
    )
}

fn layout(version: &str) -> PathBuf {
    testdata(&format!("slsa-verifier/{version}/container_workflow_dispatch"))
}

fn digest(version: &str) -> Digest {
    let path = testdata(&format!("slsa-verifier/{version}/container_workflow_dispatch.digest"));
    let text = std::fs::read_to_string(&path).expect("digest file");
    text.trim().parse().expect("digest")
}

/// `oci:DIR@DIGEST` of a layout (a `cosign save` layout has no tags).
fn at(dir: &Path, digest: &Digest) -> String {
    format!("oci:{}@{digest}", dir.display())
}

fn verify_attestation(image: &str, identity: &str, issuer: &str) -> Output {
    sigil(&[
        "verify-attestation",
        image,
        "--type",
        PROVENANCE,
        "--certificate-identity",
        identity,
        "--certificate-oidc-issuer",
        issuer,
        "--output",
        "json",
    ])
    .run()
}

fn reason(out: &Output) -> String {
    out.stdout_json()["images"][0]["attestations"][0]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts the one attestation of `out` verified, signed by `version`'s builder.
fn assert_verified(out: &Output, version: &str, image: &Digest) {
    out.assert_exit(0);
    let report = out.stdout_json();
    assert_eq!(report["images"][0]["digest"], image.to_string(), "{version}");
    let attestation = &report["images"][0]["attestations"][0];
    assert_eq!(attestation["signer"]["subject"], builder(version), "{version}");
    assert_eq!(attestation["signer"]["issuer"], ISSUER, "{version}");
    assert_eq!(attestation["statement"]["predicateType"], PROVENANCE, "{version}");
}

/// Asserts `out` refused the attestation (exit 1) and returns its reason.
fn assert_refused(out: &Output, what: &str) -> String {
    assert_eq!(out.code, Some(1), "{what}: {}\n{}", out.stdout, out.stderr);
    let reason = reason(out);
    assert!(!reason.is_empty(), "{what}: a reason is given: {}", out.stdout);
    reason
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Digest::sha256_of(bytes).hex().to_owned()
}

/// A writable copy of `version`'s layout, whose attestation manifest and
/// envelope `edit` may change; blobs, sizes, digests and `index.json` are
/// rewritten to match, so only what `edit` changed is wrong.
fn tampered(dir: &Path, version: &str, edit: impl FnOnce(&mut Value, &mut Vec<u8>)) -> PathBuf {
    let out = dir.join(format!("{version}-{}", std::fs::read_dir(dir).expect("dir").count()));
    copy_dir(&layout(version), &out);
    let blob = |digest: &str| {
        out.join("blobs/sha256")
            .join(digest.strip_prefix("sha256:").expect("sha256"))
    };
    let index_path = out.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).expect("index")).expect("JSON");
    let entry = index["manifests"]
        .as_array_mut()
        .expect("manifests")
        .iter_mut()
        .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
        .expect("attestation entry");
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(blob(entry["digest"].as_str().expect("digest"))).expect("manifest"))
            .expect("JSON");
    let mut envelope =
        std::fs::read(blob(manifest["layers"][0]["digest"].as_str().expect("digest"))).expect("envelope");
    edit(&mut manifest, &mut envelope);
    let envelope_digest = format!("sha256:{}", sha256_hex(&envelope));
    std::fs::write(blob(&envelope_digest), &envelope).expect("write envelope");
    manifest["layers"][0]["digest"] = envelope_digest.into();
    manifest["layers"][0]["size"] = envelope.len().into();
    let manifest = serde_json::to_vec(&manifest).expect("JSON");
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    std::fs::write(blob(&manifest_digest), &manifest).expect("write manifest");
    entry["digest"] = manifest_digest.into();
    entry["size"] = manifest.len().into();
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("JSON")).expect("write index");
    out
}

/// The attestation layer of `version`'s layout: its envelope and annotations.
fn attestation(version: &str) -> (Vec<u8>, Value) {
    let mut found = None;
    let scratch = tempfile::tempdir().expect("tempdir");
    tampered(scratch.path(), version, |manifest, envelope| {
        found = Some((envelope.clone(), manifest["layers"][0]["annotations"].clone()));
    });
    found.expect("attestation")
}

fn annotation<'a>(layer: &'a mut Value, key: &str) -> &'a mut Value {
    &mut layer["layers"][0]["annotations"][key]
}

/// Rewrites the Rekor bundle annotation's JSON with `edit`.
fn edit_rekor(manifest: &mut Value, edit: impl FnOnce(&mut Value)) {
    let slot = annotation(manifest, "dev.sigstore.cosign/bundle");
    let mut rekor: Value = serde_json::from_str(slot.as_str().expect("bundle")).expect("JSON");
    edit(&mut rekor);
    *slot = rekor.to_string().into();
}

#[test]
fn slsa_github_generator_intoto_0_0_1_provenance_verifies_from_the_layout() {
    for version in VERSIONS {
        let image = digest(version);
        let out = verify_attestation(&at(&layout(version), &image), &builder(version), ISSUER);
        assert_verified(&out, version, &image);
    }
    // v1.4.0's certificate names its issuer only in the deprecated .1.1
    // extension: a regexp over it is matched too.
    sigil(&[
        "verify-attestation",
        &at(&layout("v1.4.0"), &digest("v1.4.0")),
        "--type",
        PROVENANCE,
        "--certificate-identity-regexp",
        "https://github\\.com/slsa-framework/slsa-github-generator/\\.github/workflows/generator_container_slsa3\\.yml@refs/tags/v1\\..*",
        "--certificate-oidc-issuer-regexp",
        "https://token\\.actions\\.githubusercontent\\.com",
    ])
    .run()
    .assert_exit(0);
}

#[test]
fn slsa_github_generator_provenance_with_another_identity_or_issuer_is_refused() {
    let image = at(&layout("v1.4.0"), &digest("v1.4.0"));
    let out = verify_attestation(&image, &builder("v1.9.0"), ISSUER);
    let why = assert_refused(&out, "another builder");
    assert!(why.contains("v1.9.0"), "{why}");
    let out = verify_attestation(&image, &builder("v1.4.0"), "https://accounts.google.com");
    let why = assert_refused(&out, "another issuer");
    assert!(why.contains("issuer"), "{why}");
    // the same for v1.9.0, whose issuer is in .1.8
    let image = at(&layout("v1.9.0"), &digest("v1.9.0"));
    assert_refused(
        &verify_attestation(&image, &builder("v1.9.0"), "https://accounts.google.com"),
        "v1.9.0, another issuer",
    );
}

#[test]
fn tampered_intoto_0_0_1_evidence_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let version = "v1.4.0";
    let image = digest(version);
    let check = |layout: &Path, what: &str| {
        assert_refused(
            &verify_attestation(&at(layout, &image), &builder(version), ISSUER),
            what,
        )
    };
    // the untouched round trip through `tampered` still verifies
    let same = tampered(dir.path(), version, |_, _| {});
    assert_verified(
        &verify_attestation(&at(&same, &image), &builder(version), ISSUER),
        version,
        &image,
    );

    // a flipped byte in the envelope's signature
    let flipped = tampered(dir.path(), version, |_, envelope| {
        let at = envelope.windows(7).position(|w| w == b"\"sig\":\"").expect("sig") + 10;
        envelope[at] = if envelope[at] == b'A' { b'B' } else { b'A' };
    });
    check(&flipped, "flipped signature byte");
    // the same envelope, one byte longer: its hash is not the logged one
    let spaced = tampered(dir.path(), version, |_, envelope| envelope.push(b'\n'));
    let why = check(&spaced, "re-serialized envelope");
    assert!(why.contains("hash does not match"), "{why}");
    // v1.9.0's envelope under v1.4.0's entry and certificate
    let (other_envelope, other_annotations) = attestation("v1.9.0");
    let swapped = tampered(dir.path(), version, |_, envelope| *envelope = other_envelope.clone());
    check(&swapped, "another version's envelope");
    // v1.9.0's certificate (and chain) on v1.4.0's layer
    let certificate = tampered(dir.path(), version, |manifest, _| {
        for key in ["dev.sigstore.cosign/certificate", "dev.sigstore.cosign/chain"] {
            *annotation(manifest, key) = other_annotations[key].clone();
        }
    });
    check(&certificate, "another certificate");
    // v1.9.0's Rekor bundle on v1.4.0's layer
    let entry = tampered(dir.path(), version, |manifest, _| {
        *annotation(manifest, "dev.sigstore.cosign/bundle") = other_annotations["dev.sigstore.cosign/bundle"].clone();
    });
    check(&entry, "another entry");
    // a flipped SET byte, a moved integrated time
    let set = tampered(dir.path(), version, |manifest, _| {
        edit_rekor(manifest, |rekor| {
            let set = rekor["SignedEntryTimestamp"].as_str().expect("SET").to_owned();
            let flipped = if set.starts_with('M') {
                set.replacen('M', "N", 1)
            } else {
                format!("M{}", &set[1..])
            };
            rekor["SignedEntryTimestamp"] = flipped.into();
        });
    });
    check(&set, "flipped SET");
    let moved = tampered(dir.path(), version, |manifest, _| {
        edit_rekor(manifest, |rekor| {
            let time = rekor["Payload"]["integratedTime"].as_i64().expect("time");
            rekor["Payload"]["integratedTime"] = (time - 60).into();
        });
    });
    check(&moved, "moved integratedTime");
}

#[test]
fn intoto_0_0_1_provenance_of_another_image_is_refused() {
    // v1.4.0's attestation manifest planted in v1.9.0's layout: it names
    // the v1.4.0 image, not this one.
    let dir = tempfile::tempdir().expect("tempdir");
    let (envelope, annotations) = attestation("v1.4.0");
    let planted = tampered(dir.path(), "v1.9.0", |manifest, layer| {
        *layer = envelope.clone();
        manifest["layers"][0]["annotations"] = annotations.clone();
    });
    let out = verify_attestation(&at(&planted, &digest("v1.9.0")), &builder("v1.4.0"), ISSUER);
    let why = assert_refused(&out, "another image's provenance");
    assert!(why.contains("subject") || why.contains(digest("v1.4.0").hex()), "{why}");
}

#[test]
fn intoto_0_0_1_provenance_verifies_in_a_registry_and_by_policy() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().expect("tempdir");
    for version in VERSIONS {
        let tag = version.replace('.', "-");
        sigil(&[
            "copy",
            &at(&layout(version), &digest(version)),
            &registry.image(&format!("prov:{tag}")),
        ])
        .run()
        .assert_exit(0);
        let out = verify_attestation(&registry.image(&format!("prov:{tag}")), &builder(version), ISSUER);
        assert_verified(&out, version, &digest(version));
        // twin: another builder
        assert_refused(
            &verify_attestation(&registry.image(&format!("prov:{tag}")), &builder("v9.9.9"), ISSUER),
            "registry, another builder",
        );
    }
    let policy = write_policy(
        dir.path(),
        &format!(
            r#"publishers:
  generator-v14:
    keyless: {{ issuer: "{ISSUER}", subject: "{v14}" }}
  generator-v19:
    keyless: {{ issuer: "{ISSUER}", subject: "{v19}" }}
rules:
  - name: built-by-the-generator
    images: ["{host}/prov"]
    attestations:
      - predicateType: {PROVENANCE}
        signedBy: [generator-v14, generator-v19]
        slsa: {{ builderIds: ["{v14}", "{v19}"] }}
  - name: built-by-v14-only
    images: ["{host}/prov14"]
    attestations:
      - predicateType: {PROVENANCE}
        signedBy: [generator-v14]
"#,
            v14 = builder("v1.4.0"),
            v19 = builder("v1.9.0"),
            host = registry.host()
        ),
    );
    sigil(&["policy", "lint", s(&policy)]).run().assert_exit(0);
    for tag in ["v1-4-0", "v1-9-0"] {
        sigil(&[
            "verify",
            &registry.image(&format!("prov:{tag}")),
            "--policy",
            s(&policy),
        ])
        .run()
        .assert_exit(0);
    }
    // twin: v1.9.0's provenance where only v1.4.0's builder may sign
    sigil(&["copy", &registry.image("prov:v1-9-0"), &registry.image("prov14:v1-9-0")])
        .run()
        .assert_exit(0);
    sigil(&["verify", &registry.image("prov14:v1-9-0"), "--policy", s(&policy)])
        .run()
        .assert_exit(1);

    // twin: v1.4.0's attestation planted on v1.9.0's image in the registry
    copy_tag(
        &registry,
        "prov",
        &format!("sha256-{}.att", digest("v1.4.0").hex()),
        &format!("sha256-{}.att", digest("v1.9.0").hex()),
    );
    let out = verify_attestation(&registry.image("prov:v1-9-0"), &builder("v1.4.0"), ISSUER);
    assert_refused(&out, "registry, another image's provenance");
    sigil(&["verify", &registry.image("prov:v1-9-0"), "--policy", s(&policy)])
        .run()
        .assert_exit(1);
}
