//! cosign's tag scheme (DESIGN §3.1): the media types and annotation keys of
//! `.sig` / `.att` layers, and the manifest that holds them.

use std::collections::BTreeMap;

use crate::digest::Digest;
use crate::oci::{self, Descriptor, ImageManifest};

pub const SIMPLESIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// Note the prefix: only the signature key is `dev.cosignproject.cosign/`.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
pub const RFC3161_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// The tag cosign uses for signatures of `image`.
pub fn signature_tag(image: &Digest) -> String {
    format!("{}.sig", image.tag_prefix())
}

/// The tag cosign uses for attestations of `image`.
pub fn attestation_tag(image: &Digest) -> String {
    format!("{}.att", image.tag_prefix())
}

/// The legacy (unsigned) SBOM tag of `image`.
pub fn sbom_tag(image: &Digest) -> String {
    format!("{}.sbom", image.tag_prefix())
}

/// Decodes a signature annotation (`dev.cosignproject.cosign/signature`) as
/// cosign's Go readers do: standard base64 with padding, where line breaks
/// (`\r`, `\n`) anywhere are skipped, so a signature wrapped at 76 columns
/// (containers/image writes such) reads. Surrounding whitespace is trimmed.
pub fn decode_signature(annotation: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = annotation.trim();
    let decoded = if text.contains(['\r', '\n']) {
        let joined: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
        base64::engine::general_purpose::STANDARD.decode(joined)
    } else {
        base64::engine::general_purpose::STANDARD.decode(text)
    };
    decoded.ok()
}

/// An annotation value by key, ignoring ASCII case (older producers varied).
pub fn annotation<'a>(annotations: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    annotations
        .get(key)
        .or_else(|| {
            annotations
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .map(String::as_str)
}

/// The config blob and manifest cosign writes for a set of attachment layers:
/// an image config whose `rootfs.diff_ids` lists the layers, as
/// go-containerregistry's `mutate.Append` onto `empty.Image` produces.
pub fn attachment_manifest(layers: Vec<Descriptor>) -> (Descriptor, Vec<u8>, ImageManifest) {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let config = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    let config_bytes = oci::to_bytes(&config);
    let config_descriptor = Descriptor::of(oci::OCI_CONFIG, &config_bytes);
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(oci::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: config_descriptor.clone(),
        layers,
        subject: None,
        annotations: BTreeMap::new(),
    };
    (config_descriptor, config_bytes, manifest)
}

/// True when `a` and `b` are the same attachment: the same blob with the same
/// annotations (signature, certificate, chain, Rekor bundle, predicate type).
/// Attestation layers carry no signature annotation and deterministic
/// signatures (Ed25519, RSA PKCS#1) repeat their envelope, so comparing the
/// blob alone would drop a certificate attached on a second run.
pub fn same_layer(a: &Descriptor, b: &Descriptor) -> bool {
    a.digest == b.digest && a.annotations == b.annotations
}

#[cfg(test)]
mod tests {
    use super::decode_signature;

    #[test]
    fn signatures_decode_as_go_reads_them() {
        assert_eq!(decode_signature("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode_signature(" aGVs\nbG8=\n"), Some(b"hello".to_vec()));
        assert_eq!(decode_signature("aGVs\r\nbG8="), Some(b"hello".to_vec()));
        // Go's decoder skips line breaks only; spaces and a missing pad fail.
        assert_eq!(decode_signature("aGVs bG8="), None);
        assert_eq!(decode_signature("aGVsbG8"), None);
        assert_eq!(decode_signature("aGVs!bG8="), None);
    }
}
