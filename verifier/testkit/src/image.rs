//! One tiny, deterministic, valid OCI image (config, one uncompressed layer,
//! manifest), and a writer for it as an OCI image layout directory. The same
//! bytes are served by the hostile registry, so every test agrees on digests.

use std::fs;
use std::path::Path;

use serde_json::json;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Bytes with their media type and digest.
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: &'static str,
    /// `sha256:` + 64 lower-case hex.
    pub digest: String,
    pub bytes: Vec<u8>,
}

impl Blob {
    fn new(media_type: &'static str, bytes: Vec<u8>) -> Self {
        Blob {
            media_type,
            digest: sha256_digest(&bytes),
            bytes,
        }
    }

    /// The OCI descriptor of this blob.
    pub fn descriptor(&self) -> serde_json::Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len() })
    }
}

/// A single-platform linux/amd64 image holding one file, `hello.txt`.
#[derive(Debug, Clone)]
pub struct TinyImage {
    pub config: Blob,
    pub layer: Blob,
    pub manifest: Blob,
}

impl TinyImage {
    /// Always the same bytes, so the same digests.
    pub fn new() -> Self {
        let layer = Blob::new(
            OCI_LAYER_TAR,
            tar_with_one_file("hello.txt", b"hello from the sigil e2e tests\n"),
        );
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            // An uncompressed layer's diff ID is its digest.
            "rootfs": { "type": "layers", "diff_ids": [layer.digest] },
        });
        let config = Blob::new(OCI_CONFIG, to_vec(&config));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.descriptor(),
            "layers": [layer.descriptor()],
        });
        let manifest = Blob::new(OCI_MANIFEST, to_vec(&manifest));
        TinyImage {
            config,
            layer,
            manifest,
        }
    }

    /// The blobs a registry must hold for this image (not the manifest).
    pub fn blobs(&self) -> [&Blob; 2] {
        [&self.config, &self.layer]
    }
}

impl Default for TinyImage {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes [`TinyImage`] as an OCI image layout at `dir` (created if missing),
/// tagged `v1` through `org.opencontainers.image.ref.name`, so that
/// `oci:DIR:v1` names it.
pub fn sample_layout(dir: &Path) -> TinyImage {
    let image = TinyImage::new();
    let blobs = dir.join("blobs").join("sha256");
    fs::create_dir_all(&blobs).expect("create the layout's blobs/sha256");
    for blob in [&image.config, &image.layer, &image.manifest] {
        let hex = blob
            .digest
            .strip_prefix("sha256:")
            .expect("sha256_digest writes the prefix");
        fs::write(blobs.join(hex), &blob.bytes).expect("write a layout blob");
    }
    fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write oci-layout");
    let mut entry = image.manifest.descriptor();
    entry["annotations"] = json!({ "org.opencontainers.image.ref.name": "v1" });
    let index =
        json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [entry] });
    fs::write(dir.join("index.json"), to_vec(&index)).expect("write index.json");
    image
}

/// `sha256:` + the lower-case hex SHA-256 of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
    )
}

fn to_vec(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("a serde_json::Value always serializes")
}

/// A ustar archive with one regular file, written by hand (no tar crate for
/// eleven header fields).
fn tar_with_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 512;
    let mut header = [0u8; BLOCK];
    let mut put = |offset: usize, field: &[u8]| header[offset..offset + field.len()].copy_from_slice(field);
    put(0, name.as_bytes());
    put(100, b"0000644\0"); // mode
    put(108, b"0000000\0"); // uid
    put(116, b"0000000\0"); // gid
    put(124, format!("{:011o}\0", content.len()).as_bytes()); // size
    put(136, b"00000000000\0"); // mtime: the epoch, for reproducible bytes
    put(148, b"        "); // checksum: spaces while summing
    put(156, b"0"); // regular file
    put(257, b"ustar\0");
    put(263, b"00");
    let checksum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());

    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().next_multiple_of(BLOCK), 0);
    // Two zero blocks end the archive.
    tar.resize(tar.len() + 2 * BLOCK, 0);
    tar
}
