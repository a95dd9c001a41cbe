//! Trust material: `trusted_root.json` (DESIGN §3.5), parsed once and
//! prepared for verification.
//!
//! Every media-type spelling of the format is read; anything else is refused
//! rather than guessed at. The public-good root is embedded in the binary
//! (`testdata/trust/trusted_root.json`, from sigstore/root-signing) so that
//! verification never needs the network; `--trusted-root FILE` replaces it.
//! A root also carries the sha256 of its bytes, which names it in the result
//! memo: two roots with different contents never share a cached answer; and
//! the time from which all of its log keys and timestamp authorities are in
//! force, after which sigstore-rust's use of the evaluation time no longer
//! changes an answer (see `memo.rs`).

use std::sync::LazyLock;

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::Value;
use sigstore_verify::Verifier;
use time::OffsetDateTime;

use super::to_offset;

/// The public-good trusted root sigil embeds (sigstore/root-signing
/// `targets/trusted_root.json`; see `testdata/trust/README.md`).
const PUBLIC_GOOD_JSON: &[u8] = include_bytes!("../../../../testdata/trust/trusted_root.json");

/// The bytes of the embedded public-good `trusted_root.json` (for reports
/// that name the root in use by its sha256).
pub fn public_good_json() -> &'static [u8] {
    PUBLIC_GOOD_JSON
}

/// Media types of `trusted_root.json` sigil reads.
pub const TRUSTED_ROOT_MEDIA_TYPES: [&str; 3] = [
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
];

static PUBLIC_GOOD: LazyLock<Result<TrustedRoot, TrustedRootError>> =
    LazyLock::new(|| TrustedRoot::from_json(PUBLIC_GOOD_JSON));

/// Why a trusted root cannot be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustedRootError {
    /// Not JSON, or not the trusted-root shape.
    #[error("trusted root is not valid JSON of the trusted_root.json shape: {reason}")]
    Json {
        /// The parser's description.
        reason: String,
    },
    /// A media type sigil does not read.
    #[error("unsupported trusted root media type {found:?} (sigil reads {})", TRUSTED_ROOT_MEDIA_TYPES.join(", "))]
    MediaType {
        /// The `mediaType` found.
        found: String,
    },
    /// Keys, certificates or windows in the root are unusable.
    #[error("trusted root is unusable: {reason}")]
    Material {
        /// What is wrong.
        reason: String,
    },
}

/// A parsed, prepared `trusted_root.json`.
pub struct TrustedRoot {
    #[cfg_attr(not(test), allow(dead_code, reason = "kept for tests that derive twins of a root"))]
    json: Value,
    id: [u8; 32],
    verifier: Verifier,
    summary: RootSummary,
    log_ids: Vec<String>,
    in_force: OffsetDateTime,
}

/// How much of each kind of trust material a root holds (for reports).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RootSummary {
    /// Transparency logs (Rekor).
    pub tlogs: usize,
    /// Certificate authorities (Fulcio).
    pub certificate_authorities: usize,
    /// Certificate-transparency logs.
    pub ctlogs: usize,
    /// RFC 3161 timestamp authorities.
    pub timestamp_authorities: usize,
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoot")
            .field("sha256", &hex::encode(self.id))
            .field("summary", &self.summary)
            .finish()
    }
}

impl TrustedRoot {
    /// The embedded public-good root, parsed once.
    pub fn public_good() -> &'static TrustedRoot {
        match &*PUBLIC_GOOD {
            Ok(root) => root,
            // The embedded file is pinned and parsed by the tests; failing here
            // means the binary was built from a corrupted tree.
            Err(e) => panic!("embedded public-good trusted root is unusable: {e}"),
        }
    }

    /// Parses a `trusted_root.json` of any supported media type.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, TrustedRootError> {
        let json: Value =
            serde_json::from_slice(bytes).map_err(|e| TrustedRootError::Json { reason: e.to_string() })?;
        Self::from_value(json)
    }

    fn from_value(json: Value) -> Result<TrustedRoot, TrustedRootError> {
        let media_type = json.get("mediaType").and_then(Value::as_str).unwrap_or_default();
        if !TRUSTED_ROOT_MEDIA_TYPES.contains(&media_type) {
            return Err(TrustedRootError::MediaType {
                found: media_type.to_owned(),
            });
        }
        let text = json.to_string();
        let parsed = sigstore_verify::trust_root::TrustedRoot::from_json(&text)
            .map_err(|e| TrustedRootError::Json { reason: e.to_string() })?;
        let verifier = Verifier::new(&parsed).map_err(|e| TrustedRootError::Material { reason: e.to_string() })?;
        // sigstore-rust uses a log key or a timestamp authority at "now" only
        // once its window has started (expired ones stay usable for history);
        // from the latest start on, every one of them is usable.
        let in_force = parsed
            .tlogs
            .iter()
            .filter_map(|log| log.public_key.valid_for)
            .chain(parsed.timestamp_authorities.iter().filter_map(|tsa| tsa.valid_for))
            .map(|window| to_offset(window.start))
            .max()
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let count = |key: &str| json.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        let summary = RootSummary {
            tlogs: count("tlogs"),
            certificate_authorities: count("certificateAuthorities"),
            ctlogs: count("ctlogs"),
            timestamp_authorities: count("timestampAuthorities"),
        };
        let log_ids = json
            .get("tlogs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.pointer("/logId/keyId").and_then(Value::as_str))
            .map(str::to_owned)
            .collect();
        let mut id = [0u8; 32];
        id.copy_from_slice(digest(&SHA256, text.as_bytes()).as_ref());
        Ok(TrustedRoot {
            json,
            id,
            verifier,
            summary,
            log_ids,
            in_force,
        })
    }

    /// How much trust material this root holds.
    pub fn summary(&self) -> RootSummary {
        self.summary
    }

    /// The sha256 of the root's canonical bytes, naming it in caches.
    pub(crate) fn id(&self) -> &[u8; 32] {
        &self.id
    }

    /// The time from which every log key and timestamp authority of the root
    /// has entered its validity window (the Unix epoch when none has one).
    pub(crate) fn in_force(&self) -> OffsetDateTime {
        self.in_force
    }

    /// Whether a transparency log with this key id (base64) is in the root.
    pub(crate) fn has_log(&self, key_id_b64: &str) -> bool {
        self.log_ids.iter().any(|id| id == key_id_b64)
    }

    /// The prepared sigstore-rust verifier.
    pub(crate) fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// The root as JSON (tests derive twins from it).
    #[cfg(test)]
    pub(crate) fn json(&self) -> &Value {
        &self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(path: &str) -> Vec<u8> {
        crate::testdata::read(path)
    }

    #[test]
    fn embedded_public_good_root_is_the_pinned_file() {
        let root = TrustedRoot::public_good();
        assert_eq!(
            root.summary(),
            RootSummary {
                tlogs: 2,
                certificate_authorities: 2,
                ctlogs: 2,
                timestamp_authorities: 1
            }
        );
        let again = TrustedRoot::from_json(&shared("trust/trusted_root.json")).expect("parses");
        assert_eq!(again.id(), root.id());
    }

    #[test]
    fn every_media_type_spelling_is_read_and_others_refused() {
        let mut v: Value = serde_json::from_slice(PUBLIC_GOOD_JSON).expect("json");
        for media_type in TRUSTED_ROOT_MEDIA_TYPES {
            v["mediaType"] = media_type.into();
            assert!(TrustedRoot::from_json(v.to_string().as_bytes()).is_ok(), "{media_type}");
        }
        v["mediaType"] = "application/vnd.dev.sigstore.trustedroot.v9+json".into();
        assert!(matches!(
            TrustedRoot::from_json(v.to_string().as_bytes()),
            Err(TrustedRootError::MediaType { .. })
        ));
        assert!(matches!(
            TrustedRoot::from_json(b"{"),
            Err(TrustedRootError::Json { .. })
        ));
    }

    #[test]
    fn other_roots_of_the_shared_testdata_load() {
        for file in [
            "bundles/shared/trusted_roots/sigstore-go-scaffolding.json",
            "bundles/shared/trusted_roots/sigstore-go-public-good.json",
            "bundles/shared/trusted_roots/sigstore-go-public-key-validity.json",
            "bundles/shared/trusted_roots/cosign-trusted_root_pgi.json",
        ] {
            let root = TrustedRoot::from_json(&shared(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_ne!(root.id(), TrustedRoot::public_good().id(), "{file}");
        }
    }

    #[test]
    fn a_broken_key_makes_the_root_unusable() {
        let mut v: Value = serde_json::from_slice(PUBLIC_GOOD_JSON).expect("json");
        v["tlogs"][0]["publicKey"]["rawBytes"] = "AAAA".into();
        assert!(matches!(
            TrustedRoot::from_json(v.to_string().as_bytes()),
            Err(TrustedRootError::Material { .. })
        ));
    }
}
