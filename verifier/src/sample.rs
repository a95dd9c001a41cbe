//! A tiny but real OCI image (one uncompressed tar layer holding one file),
//! for `sigil demo`, tests and benchmarks. `seed` makes distinct images.

use crate::oci::{self, Descriptor, ImageManifest};
use crate::reference::Target;
use crate::store::{Store, StoreError};

/// Media type of an uncompressed layer.
pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";

/// Writes a sample image to `store` (under `tag` when given) and returns its descriptor.
pub async fn write<S: Store>(store: &S, seed: u64, tag: Option<&str>) -> Result<Descriptor, StoreError> {
    let content = format!("hello from sigil sample image {seed}\n");
    let layer_bytes = tar_with_file("hello.txt", content.as_bytes());
    let layer = Descriptor::of(OCI_LAYER_TAR, &layer_bytes);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/cat", "/hello.txt"]},
        "rootfs": {"type": "layers", "diff_ids": [layer.digest.to_string()]},
        "history": [{"created_by": format!("sigil sample {seed}")}],
    });
    let config_bytes = oci::to_bytes(&config);
    let config_descriptor = Descriptor::of(oci::OCI_CONFIG, &config_bytes);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config_descriptor.clone(),
        layers: vec![layer.clone()],
        subject: None,
        annotations: Default::default(),
    };
    let manifest_bytes = oci::to_bytes(&manifest);
    let descriptor = Descriptor::of(oci::OCI_MANIFEST, &manifest_bytes);
    store.push_blob(&layer, &layer_bytes).await?;
    store.push_blob(&config_descriptor, &config_bytes).await?;
    let target = match tag {
        Some(t) => Target::Tag(t.to_owned()),
        None => Target::Digest(descriptor.digest.clone()),
    };
    store.push_manifest(&target, oci::OCI_MANIFEST, &manifest_bytes).await?;
    Ok(descriptor)
}

/// A ustar archive with one regular file.
fn tar_with_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{:0width$o}\0", value, width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], content.len() as u64);
    octal(&mut header[136..148], 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].fill(b' ');
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    header[148..156].copy_from_slice(text.as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_is_well_formed() {
        let t = tar_with_file("a.txt", b"hi");
        assert_eq!(t.len(), 512 * 4);
        assert_eq!(&t[512..514], b"hi");
        assert_eq!(&t[257..262], b"ustar");
    }
}
