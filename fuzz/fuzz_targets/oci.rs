//! OCI and Docker manifests and indexes from registries and layouts:
//! `sniff_media_type`, `Manifest::parse` under every media type a store may
//! announce (including none), the referrers API answer (an `ImageIndex`
//! read directly, as `registry` does) and the fallback referrers index
//! (`Manifest::parse`, as `referrers` does). A parsed manifest must also
//! write back (`oci::to_bytes`, what sigil pushes and hashes) to bytes that
//! parse as the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_verifier::oci::{self, ImageIndex, Manifest};

const ANNOUNCED: [&str; 6] = [
    "",
    oci::OCI_MANIFEST,
    oci::OCI_INDEX,
    oci::DOCKER_MANIFEST,
    oci::DOCKER_MANIFEST_LIST,
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

fuzz_target!(|data: &[u8]| {
    let _ = oci::sniff_media_type(data);
    for announced in ANNOUNCED {
        let Ok(manifest) = Manifest::parse(announced, data) else { continue };
        let media_type = manifest.media_type().to_owned();
        let _ = (manifest.subject(), manifest.annotations(), manifest.artifact_type());
        let bytes = match &manifest {
            Manifest::Image(m) => oci::to_bytes(m),
            Manifest::Index(i) => oci::to_bytes(i),
        };
        let again = Manifest::parse(announced, &bytes).expect("a parsed manifest's own bytes parse");
        assert_eq!(again, manifest, "manifest does not round-trip");
        assert_eq!(again.media_type(), media_type);
    }
    if let Ok(index) = serde_json::from_slice::<ImageIndex>(data) {
        let bytes = oci::to_bytes(&index);
        let again: ImageIndex = serde_json::from_slice(&bytes).expect("a parsed index's own bytes parse");
        assert_eq!(again, index, "referrers index does not round-trip");
    }
});
