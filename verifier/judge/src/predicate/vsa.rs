//! SLSA Verification Summary Attestations (`https://slsa.dev/verification_summary/v1`):
//! the summary a verifier signs after deciding about an artifact, read for
//! the policy's `vsa` check ([`Summary::read`]) and written by
//! `verify --policy --emit-vsa` ([`predicate`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The fields of a VSA v1 predicate sigil reads. Unknown fields are
/// allowed (the specification lets producers add them); the ones the
/// specification requires must be present ([`Summary::read`]).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub verifier: Verifier,
    pub time_verified: String,
    pub resource_uri: String,
    pub policy: ResourceDescriptor,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_attestations: Vec<ResourceDescriptor>,
    pub verification_result: String,
    pub verified_levels: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Verifier {
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
}

/// An in-toto ResourceDescriptor, as far as a VSA uses one.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct ResourceDescriptor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
}

impl Summary {
    /// Reads a VSA predicate (JSON text). Every field the specification
    /// requires must be there: a summary missing its result, its verifier
    /// or its resource says nothing a policy may rely on.
    pub fn read(text: &str) -> Result<Summary, String> {
        let summary: Summary =
            serde_json::from_str(text).map_err(|e| format!("not a verification summary v1 predicate: {e}"))?;
        if summary.verifier.id.is_empty() {
            return Err("the verification summary names no verifier.id".to_owned());
        }
        if summary.resource_uri.is_empty() {
            return Err("the verification summary names no resourceUri".to_owned());
        }
        Ok(summary)
    }
}

/// The predicate of a VSA about `resource_uri` (`REPO@sha256:HEX`).
pub fn predicate(summary: &Summary) -> Vec<u8> {
    serde_json::to_vec(summary).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::dsse::Envelope;
    use crate::intoto::Statement;
    use crate::keys::PublicKey;

    const ENVELOPE: &str = "slsa-verifier/vsa/gke-gce-pre.bcid-vsa.jsonl";
    const KEY: &str = "slsa-verifier/vsa/vsa_signing_public_key.pem";

    fn key() -> PublicKey {
        PublicKey::from_pem(&String::from_utf8(crate::testdata::read(KEY)).expect("utf-8")).expect("key")
    }

    /// The envelope's statement, when its one signature verifies with `key`.
    fn verified(envelope: &Envelope, key: &PublicKey) -> Option<Statement> {
        let signature = crate::dsse::decode(&envelope.signatures.first()?.sig)?;
        key.verify(&envelope.signed_bytes().ok()?, &signature).ok()?;
        Statement::parse(&envelope.payload_bytes().ok()?).ok()
    }

    #[test]
    fn slsa_verifiers_real_vsa_verifies_and_reads() {
        let envelope = Envelope::parse(&crate::testdata::read(ENVELOPE)).expect("envelope");
        let statement = verified(&envelope, &key()).expect("the real VSA verifies with its P-256 key");
        assert_eq!(statement.predicate_type, crate::predicate::SLSA_VSA);
        let summary = Summary::read(statement.predicate.get()).expect("summary");
        assert_eq!(
            summary.verifier.id,
            "https://bcid.corp.google.com/verifier/bcid_package_enforcer/v0.1"
        );
        assert_eq!(summary.verification_result, "PASSED");
        assert_eq!(summary.verified_levels, ["BCID_L1", "SLSA_BUILD_LEVEL_2"]);
        assert_eq!(summary.time_verified, "2024-06-12T07:24:34.351608Z");
        assert!(summary.resource_uri.starts_with("gce_image://gke-node-images:"));
        // its subject is a GCE image, not an OCI image: no sha256 to bind
        assert!(statement.subject.iter().all(|s| !s.digest.contains_key("sha256")));
    }

    #[test]
    fn the_real_vsa_tampered_or_under_another_key_is_refused() {
        let envelope = Envelope::parse(&crate::testdata::read(ENVELOPE)).expect("envelope");
        // one flipped payload byte
        let mut payload = envelope.payload_bytes().expect("payload");
        payload[40] ^= 1;
        let flipped = Envelope {
            payload: STANDARD.encode(&payload),
            ..envelope.clone()
        };
        assert!(verified(&flipped, &key()).is_none());
        // the payload type is signed too
        let retyped = Envelope {
            payload_type: "application/json".to_owned(),
            ..envelope.clone()
        };
        assert!(verified(&retyped, &key()).is_none());
        // another key
        let other = crate::keys::SigningKey::generate().expect("key").public_key();
        assert!(verified(&envelope, &other).is_none());
    }

    #[test]
    fn a_summary_missing_what_the_specification_requires_is_refused() {
        let full = r#"{"verifier": {"id": "https://v.example"}, "timeVerified": "2026-12-01T00:00:00Z",
            "resourceUri": "r@sha256:00", "policy": {"uri": "p"}, "verificationResult": "PASSED", "verifiedLevels": []}"#;
        Summary::read(full).expect("complete");
        for missing in [
            "verifier",
            "timeVerified",
            "resourceUri",
            "policy",
            "verificationResult",
            "verifiedLevels",
        ] {
            let mut v: serde_json::Value = serde_json::from_str(full).expect("json");
            v.as_object_mut().expect("object").remove(missing);
            assert!(Summary::read(&v.to_string()).is_err(), "{missing}");
        }
        assert!(Summary::read(&full.replace("https://v.example", "")).is_err());
        assert!(Summary::read("\"PASSED\"").is_err());
    }
}
