//! Rekor v1's `POST /api/v1/log/entries`: a `hashedrekord` 0.0.1 entry for
//! a signature over a digest (tag-form image signatures, `sign-blob`), a
//! `dsse` 0.0.1 entry for an envelope (attestations, bundle-form image
//! signatures, `attest-blob`). The answer (body, time, index, log id, SET,
//! inclusion proof with checkpoint) is read and matched against what was
//! submitted here; its proofs are judged with the signature by the
//! verifier before anything is written.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use url::Url;

use super::KeylessError;
use super::http::Client;
use crate::bundle::{Checkpoint, InclusionPromise, InclusionProof, Integer, KindVersion, LogId, TlogEntry};
use crate::digest::Digest;

/// Most hashes accepted in an inclusion proof (a tree of 2^64 leaves needs 64).
const MAX_PROOF: usize = 64;

/// What is logged.
#[derive(Clone, Copy, Debug)]
pub enum Proposed<'a> {
    /// A signature over `digest` (sha256 of the signed bytes).
    HashedRekord { digest: &'a Digest, signature: &'a [u8] },
    /// A DSSE envelope (JSON, with one signature) and its payload.
    Dsse {
        envelope: &'a [u8],
        payload: &'a [u8],
        signature: &'a [u8],
    },
}

impl Proposed<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Proposed::HashedRekord { .. } => "hashedrekord",
            Proposed::Dsse { .. } => "dsse",
        }
    }
}

/// A logged entry as Rekor answered it, matched to what was submitted.
#[derive(Clone, Debug)]
pub struct Logged {
    pub kind: &'static str,
    /// Base64 of the canonical body.
    pub body: String,
    pub integrated_time: i64,
    /// Hex of the log id.
    pub log_id: String,
    pub log_index: i64,
    /// Base64 of the signed entry timestamp.
    pub set: String,
    pub proof: Option<Proof>,
}

/// An inclusion proof, as Rekor v1 writes it (hex hashes).
#[derive(Clone, Debug)]
pub struct Proof {
    pub log_index: i64,
    pub root_hash: String,
    pub tree_size: i64,
    pub hashes: Vec<String>,
    pub checkpoint: String,
}

/// Logs `proposed`, signed by the key of `verifier_pem` (a PEM certificate,
/// or a PEM public key for key-based signing), in the Rekor at `base`.
pub async fn log(
    client: &Client,
    base: &Url,
    proposed: Proposed<'_>,
    verifier_pem: &str,
) -> Result<Logged, KeylessError> {
    let verifier = STANDARD.encode(verifier_pem);
    let request = match proposed {
        Proposed::HashedRekord { digest, signature } => json!({
            "apiVersion": "0.0.1", "kind": "hashedrekord",
            "spec": {
                "signature": {"content": STANDARD.encode(signature), "publicKey": {"content": verifier}},
                "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            },
        }),
        Proposed::Dsse { envelope, .. } => json!({
            "apiVersion": "0.0.1", "kind": "dsse",
            "spec": {"proposedContent": {
                "envelope": String::from_utf8_lossy(envelope),
                "verifiers": [verifier],
            }},
        }),
    };
    let url = super::join(base, "api/v1/log/entries")?;
    let response = client.post_json("Rekor", url, &request).await?;
    if !response.status.is_success() {
        return Err(KeylessError::Rekor {
            detail: format!(
                "Rekor refused the {} entry ({}): {}",
                proposed.kind(),
                response.status,
                response.excerpt()
            ),
        });
    }
    read_answer(&response.body, proposed, &verifier)
}

/// Reads Rekor's `{UUID: entry}` answer and checks the entry is the one
/// submitted: kind, version, signature, verifier and digest.
fn read_answer(body: &[u8], proposed: Proposed<'_>, verifier_b64: &str) -> Result<Logged, KeylessError> {
    let bad = |detail: &str| KeylessError::Rekor {
        detail: format!("Rekor's answer {detail}"),
    };
    let answer: Value = serde_json::from_slice(body).map_err(|_| bad("is not JSON"))?;
    let entries = answer.as_object().ok_or_else(|| bad("is not an object"))?;
    let [(_, entry)] = entries.iter().collect::<Vec<_>>()[..] else {
        return Err(bad(&format!("holds {} entries, not one", entries.len())));
    };
    let text = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad(&format!("has no {name}")))
    };
    let number = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_i64)
            .ok_or_else(|| bad(&format!("has no {name}")))
    };
    let body_b64 = text(entry, "body")?;
    let verification = entry.get("verification").ok_or_else(|| bad("has no verification"))?;
    let set = text(verification, "signedEntryTimestamp")?;
    let proof = match verification.get("inclusionProof") {
        None | Some(Value::Null) => None,
        Some(p) => {
            let hashes = p
                .get("hashes")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("has an inclusion proof without hashes"))?;
            if hashes.len() > MAX_PROOF {
                return Err(bad("has an inclusion proof of more than 64 hashes"));
            }
            let hashes = hashes
                .iter()
                .map(|h| h.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("has an inclusion-proof hash that is not text"))?;
            Some(Proof {
                log_index: number(p, "logIndex")?,
                root_hash: text(p, "rootHash")?,
                tree_size: number(p, "treeSize")?,
                hashes,
                checkpoint: text(p, "checkpoint")?,
            })
        }
    };
    let logged = Logged {
        kind: proposed.kind(),
        body: body_b64,
        integrated_time: number(entry, "integratedTime")?,
        log_id: text(entry, "logID")?,
        log_index: number(entry, "logIndex")?,
        set,
        proof,
    };
    check_body(&logged, proposed, verifier_b64)?;
    Ok(logged)
}

/// The logged body must be the entry submitted, and the proof for it.
fn check_body(logged: &Logged, proposed: Proposed<'_>, verifier_b64: &str) -> Result<(), KeylessError> {
    let other = |what: &str| KeylessError::Rekor {
        detail: format!(
            "Rekor returned an entry for another artifact or signature ({what} differs from what was submitted)"
        ),
    };
    if logged.proof.as_ref().is_some_and(|p| p.log_index != logged.log_index) {
        return Err(other("the inclusion proof's log index"));
    }
    let body: Value = STANDARD
        .decode(&logged.body)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| KeylessError::Rekor {
            detail: "Rekor's answer has a body that is not base64 JSON".into(),
        })?;
    let at = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    if at("/kind") != Some(proposed.kind()) || at("/apiVersion") != Some("0.0.1") {
        return Err(other("the entry kind"));
    }
    match proposed {
        Proposed::HashedRekord { digest, signature } => {
            if at("/spec/data/hash/value") != Some(digest.hex()) || at("/spec/data/hash/algorithm") != Some("sha256") {
                return Err(other("the digest"));
            }
            if at("/spec/signature/publicKey/content") != Some(verifier_b64) {
                return Err(other("the certificate or key"));
            }
            if at("/spec/signature/content") != Some(STANDARD.encode(signature).as_str()) {
                return Err(other("the signature"));
            }
        }
        Proposed::Dsse { payload, signature, .. } => {
            if at("/spec/payloadHash/value") != Some(Digest::sha256_of(payload).hex()) {
                return Err(other("the payload digest"));
            }
            let signature_b64 = STANDARD.encode(signature);
            let ours = body
                .pointer("/spec/signatures")
                .and_then(Value::as_array)
                .is_some_and(|signatures| {
                    signatures.iter().any(|s| {
                        s.get("signature").and_then(Value::as_str) == Some(signature_b64.as_str())
                            && s.get("verifier").and_then(Value::as_str) == Some(verifier_b64)
                    })
                });
            if !ours {
                return Err(other("the signature"));
            }
        }
    }
    Ok(())
}

impl Logged {
    /// The entry as a bundle's `tlogEntries` member (v0.3: with the
    /// inclusion proof and checkpoint, and the SET).
    pub fn tlog_entry(&self) -> Result<TlogEntry, KeylessError> {
        let bad = |what: &str| KeylessError::Rekor {
            detail: format!("Rekor's answer has {what} that is not hex"),
        };
        let log_id = hex::decode(&self.log_id).map_err(|_| bad("a log id"))?;
        let proof = match &self.proof {
            Some(p) => {
                let root = hex::decode(&p.root_hash).map_err(|_| bad("a root hash"))?;
                let hashes = p
                    .hashes
                    .iter()
                    .map(|h| hex::decode(h).map(|raw| STANDARD.encode(raw)))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| bad("an inclusion-proof hash"))?;
                Some(InclusionProof {
                    log_index: Some(Integer::Text(p.log_index.to_string())),
                    root_hash: STANDARD.encode(root),
                    tree_size: Integer::Text(p.tree_size.to_string()),
                    hashes,
                    checkpoint: Some(Checkpoint {
                        envelope: p.checkpoint.clone(),
                    }),
                })
            }
            None => None,
        };
        Ok(TlogEntry {
            log_index: Some(Integer::Text(self.log_index.to_string())),
            log_id: LogId {
                key_id: STANDARD.encode(log_id),
            },
            kind_version: KindVersion {
                kind: self.kind.to_owned(),
                version: "0.0.1".to_owned(),
            },
            integrated_time: Some(Integer::Text(self.integrated_time.to_string())),
            inclusion_promise: Some(InclusionPromise {
                signed_entry_timestamp: self.set.clone(),
            }),
            inclusion_proof: proof,
            canonicalized_body: self.body.clone(),
        })
    }

    /// cosign's `dev.sigstore.cosign/bundle` annotation for a tag-form layer.
    pub fn cosign_annotation(&self) -> String {
        json!({
            "SignedEntryTimestamp": self.set,
            "Payload": {
                "body": self.body,
                "integratedTime": self.integrated_time,
                "logIndex": self.log_index,
                "logID": self.log_id,
            },
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &Value, proof_index: i64) -> Vec<u8> {
        json!({"24296fb2": {
            "body": STANDARD.encode(body.to_string()),
            "integratedTime": 1_700_000_000, "logID": "ab".repeat(32), "logIndex": 7,
            "verification": {
                "signedEntryTimestamp": "MEUC",
                "inclusionProof": {"logIndex": proof_index, "rootHash": "cd".repeat(32), "treeSize": 8,
                    "hashes": ["ef".repeat(32)], "checkpoint": "rekor.example - 1\n8\nzc0=\n"},
            },
        }})
        .to_string()
        .into_bytes()
    }

    fn hashedrekord(digest: &Digest, signature: &[u8], verifier: &str) -> Value {
        json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
            "signature": {"content": STANDARD.encode(signature), "publicKey": {"content": verifier}},
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        }})
    }

    #[test]
    fn a_matching_hashedrekord_answer_reads_into_a_bundle_entry_and_an_annotation() {
        let digest = Digest::sha256_of(b"payload");
        let proposed = Proposed::HashedRekord {
            digest: &digest,
            signature: b"sig",
        };
        let logged = read_answer(&answer(&hashedrekord(&digest, b"sig", "PEM"), 7), proposed, "PEM").expect("reads");
        let entry = logged.tlog_entry().expect("entry");
        assert_eq!(entry.kind_version.kind, "hashedrekord");
        assert_eq!(entry.log_id.key_id, STANDARD.encode([0xab; 32]));
        let proof = entry.inclusion_proof.expect("proof");
        assert_eq!(proof.root_hash, STANDARD.encode([0xcd; 32]));
        assert_eq!(proof.hashes, vec![STANDARD.encode([0xef; 32])]);
        let annotation: Value = serde_json::from_str(&logged.cosign_annotation()).expect("json");
        assert_eq!(annotation["Payload"]["logIndex"], 7);
        assert_eq!(annotation["Payload"]["logID"], "ab".repeat(32));
    }

    #[test]
    fn an_entry_for_anything_else_is_refused() {
        let digest = Digest::sha256_of(b"payload");
        let proposed = Proposed::HashedRekord {
            digest: &digest,
            signature: b"sig",
        };
        for (body, index) in [
            (hashedrekord(&Digest::sha256_of(b"other"), b"sig", "PEM"), 7),
            (hashedrekord(&digest, b"other sig", "PEM"), 7),
            (hashedrekord(&digest, b"sig", "OTHER PEM"), 7),
            (hashedrekord(&digest, b"sig", "PEM"), 6),
            (json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {}}), 7),
        ] {
            let e = read_answer(&answer(&body, index), proposed, "PEM").expect_err("refused");
            assert!(e.to_string().contains("another artifact"), "{e}");
        }
        for bad in [&b"[]"[..], b"{}", b"not json", br#"{"a": {}, "b": {}}"#] {
            assert!(read_answer(bad, proposed, "PEM").is_err());
        }
    }

    #[test]
    fn a_dsse_answer_must_name_the_payload_and_the_signature() {
        let payload = b"statement";
        let proposed = Proposed::Dsse {
            envelope: b"{}",
            payload,
            signature: b"sig",
        };
        let body = |payload: &[u8], signature: &[u8]| {
            json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
                "payloadHash": {"algorithm": "sha256", "value": Digest::sha256_of(payload).hex()},
                "signatures": [{"signature": STANDARD.encode(signature), "verifier": "PEM"}],
            }})
        };
        read_answer(&answer(&body(payload, b"sig"), 7), proposed, "PEM").expect("reads");
        assert!(read_answer(&answer(&body(b"other", b"sig"), 7), proposed, "PEM").is_err());
        assert!(read_answer(&answer(&body(payload, b"other"), 7), proposed, "PEM").is_err());
    }
}
