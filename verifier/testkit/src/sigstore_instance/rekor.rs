//! Rekor v1: `hashedrekord` 0.0.1 and `dsse` 0.0.1 entries, validated as
//! Rekor validates them, stored as Rekor's canonical body, appended to an
//! RFC 6962 tree; answers with the SET and an inclusion proof to a signed
//! checkpoint (C2SP signed-note, Rekor v1's origin line and key hint).

use std::sync::Arc;

use aws_lc_rs::digest::{SHA256, digest};
use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PublicKeyData as _, SigningKey as _};
use serde_json::{Map, Value, json};

use super::merkle::{Hash, Tree, leaf_hash};
use super::server::{Fault, State, error, now};

/// The log refuses entries beyond this many.
const MAX_ENTRIES: usize = 100_000;

struct Stored {
    uuid: String,
    body: String,
    integrated_time: u64,
    index: u64,
}

pub(super) struct Log {
    key: KeyPair,
    tree: Tree,
    entries: Vec<Stored>,
    host: String,
    tree_id: u64,
}

/// JSON with sorted keys and no spaces (RFC 8785 for the values used here).
pub fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&map[k])))
                        .collect::<Map<_, _>>(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// `-----BEGIN {label}-----`, base64 in 64-column lines, as Go's `pem.Encode` writes it.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The one PEM block of `text`: its label and DER.
pub fn parse_pem(text: &str) -> Option<(String, Vec<u8>)> {
    let text = text.trim();
    let rest = text.strip_prefix("-----BEGIN ")?;
    let (label, rest) = rest.split_once("-----")?;
    let end = format!("-----END {label}-----");
    let (body, tail) = rest.split_once(&end)?;
    if !tail.trim().is_empty() {
        return None;
    }
    let b64: String = body.split_whitespace().collect();
    Some((label.to_string(), STANDARD.decode(b64).ok()?))
}

/// A verifier's key (uncompressed P-256 point) and its canonical PEM, from
/// a PEM certificate or public key.
pub fn verifier_key(pem_text: &str) -> Result<(Vec<u8>, String), String> {
    use der::{Decode as _, Encode as _};
    let (label, der_bytes) = parse_pem(pem_text).ok_or("the verifier is not one PEM block")?;
    let spki = match label.as_str() {
        "CERTIFICATE" => x509_cert::Certificate::from_der(&der_bytes)
            .map_err(|e| format!("bad certificate: {e}"))?
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| e.to_string())?,
        "PUBLIC KEY" => der_bytes.clone(),
        other => return Err(format!("unsupported PEM type {other}")),
    };
    let spki = x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(&spki).map_err(|e| format!("bad key: {e}"))?;
    const EC: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    const P256: const_oid::ObjectIdentifier = const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<const_oid::ObjectIdentifier>().ok());
    if spki.algorithm.oid != EC || curve != Some(P256) {
        return Err("only ECDSA P-256 keys are supported".into());
    }
    let raw = spki.subject_public_key.raw_bytes().to_vec();
    Ok((raw, pem(&label, &der_bytes)))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest(&SHA256, bytes))
}

impl Log {
    pub(super) fn new(host: &str) -> Log {
        Log {
            key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("log key"),
            tree: Tree::default(),
            entries: Vec::new(),
            host: host.to_string(),
            tree_id: super::server::rand_u64() >> 1,
        }
    }

    pub(super) fn size(&self) -> u64 {
        self.tree.size()
    }

    pub(super) fn public_key_der(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// SHA-256 of the log key's SPKI.
    pub(super) fn log_id(&self) -> Vec<u8> {
        digest(&SHA256, &self.public_key_der()).as_ref().to_vec()
    }

    /// The signed checkpoint of the tree as it is now.
    fn checkpoint(&self) -> String {
        let note = format!(
            "{} - {}\n{}\n{}\n",
            self.host,
            self.tree_id,
            self.tree.size(),
            STANDARD.encode(self.tree.root())
        );
        let signature = self.key.sign(note.as_bytes()).expect("sign checkpoint");
        let mut hinted = self.log_id()[..4].to_vec();
        hinted.extend_from_slice(&signature);
        format!("{note}\n\u{2014} {} {}\n", self.host, STANDARD.encode(hinted))
    }

    fn append(&mut self, body: &str, at: u64) -> Result<usize, String> {
        if self.entries.len() >= MAX_ENTRIES {
            return Err("the log is full".into());
        }
        let leaf = leaf_hash(body.as_bytes());
        let index = self.tree.push(leaf);
        self.entries.push(Stored {
            uuid: hex::encode(leaf),
            body: STANDARD.encode(body),
            integrated_time: at,
            index,
        });
        Ok(self.entries.len() - 1)
    }

    /// The API's `LogEntry` for stored entry `n`, as of the current tree.
    fn log_entry(&self, n: usize, fault: Fault) -> Value {
        let entry = &self.entries[n];
        let log_id = hex::encode(self.log_id());
        let canonical = canonical_json(&json!({
            "body": entry.body, "integratedTime": entry.integrated_time,
            "logID": log_id, "logIndex": entry.index,
        }));
        let forger;
        let set_signer = if fault == Fault::RekorBadSet {
            forger = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
            &forger
        } else {
            &self.key
        };
        let set = set_signer.sign(canonical.as_bytes()).expect("sign SET");
        let size = self.tree.size();
        let mut hashes: Vec<Hash> = self
            .tree
            .inclusion_proof(entry.index, size)
            .expect("an entry of the tree");
        let mut root = self.tree.root();
        if fault == Fault::RekorBadProof {
            match hashes.first_mut() {
                Some(h) => h[0] ^= 1,
                None => root[0] ^= 1,
            }
        }
        json!({ entry.uuid.clone(): {
            "body": entry.body, "integratedTime": entry.integrated_time,
            "logID": log_id, "logIndex": entry.index,
            "verification": {
                "inclusionProof": {
                    "checkpoint": self.checkpoint(),
                    "hashes": hashes.iter().map(hex::encode).collect::<Vec<_>>(),
                    "logIndex": entry.index, "rootHash": hex::encode(root), "treeSize": size,
                },
                "signedEntryTimestamp": STANDARD.encode(set),
            }
        }})
    }
}

fn verify_p256(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, key)
        .verify(message, signature)
        .is_ok()
}

/// The canonical body of a proposed `hashedrekord` 0.0.1 entry, its
/// signature checked over the digest.
fn hashedrekord(spec: &Value) -> Result<Value, String> {
    let hash = &spec["data"]["hash"];
    if hash["algorithm"] != "sha256" {
        return Err("data.hash.algorithm must be sha256".into());
    }
    let value = hash["value"].as_str().ok_or("data.hash.value is missing")?;
    let digest_bytes = hex::decode(value).map_err(|_| "data.hash.value is not hex")?;
    if digest_bytes.len() != 32 || value.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("data.hash.value is not a lowercase SHA-256 hex digest".into());
    }
    let signature = STANDARD
        .decode(
            spec["signature"]["content"]
                .as_str()
                .ok_or("signature.content is missing")?,
        )
        .map_err(|_| "signature.content is not base64")?;
    let verifier = STANDARD
        .decode(
            spec["signature"]["publicKey"]["content"]
                .as_str()
                .ok_or("signature.publicKey.content is missing")?,
        )
        .map_err(|_| "signature.publicKey.content is not base64")?;
    let (key, canonical_pem) = verifier_key(std::str::from_utf8(&verifier).map_err(|_| "the verifier is not text")?)?;
    let prehashed = aws_lc_rs::digest::Digest::import_less_safe(&digest_bytes, &SHA256).map_err(|_| "bad digest")?;
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, &key)
        .verify_digest(&prehashed, &signature)
        .map_err(|_| "the signature does not verify over data.hash with the given key")?;
    Ok(json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": value}},
            "signature": {"content": STANDARD.encode(&signature), "publicKey": {"content": STANDARD.encode(canonical_pem)}}
        }
    }))
}

/// DSSE's pre-authentication encoding.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The canonical body of a proposed `dsse` 0.0.1 entry: every signature
/// of the envelope verified over the PAE by one of the verifiers.
fn dsse(spec: &Value) -> Result<Value, String> {
    let content = &spec["proposedContent"];
    let envelope_text = content["envelope"]
        .as_str()
        .ok_or("proposedContent.envelope is missing")?;
    let envelope: Value = serde_json::from_str(envelope_text).map_err(|e| format!("the envelope is not JSON: {e}"))?;
    let payload_type = envelope["payloadType"].as_str().ok_or("payloadType is missing")?;
    let payload = STANDARD
        .decode(envelope["payload"].as_str().ok_or("payload is missing")?)
        .map_err(|_| "payload is not base64")?;
    let verifiers = content["verifiers"]
        .as_array()
        .ok_or("proposedContent.verifiers is missing")?;
    if verifiers.is_empty() || verifiers.len() > 16 {
        return Err("between 1 and 16 verifiers are accepted".into());
    }
    let keys = verifiers
        .iter()
        .map(|v| {
            let text = STANDARD
                .decode(v.as_str().ok_or("a verifier is not a string")?)
                .map_err(|_| "a verifier is not base64")?;
            verifier_key(std::str::from_utf8(&text).map_err(|_| "a verifier is not text")?)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let signatures = envelope["signatures"].as_array().ok_or("signatures is missing")?;
    if signatures.is_empty() || signatures.len() > 16 {
        return Err("between 1 and 16 signatures are accepted".into());
    }
    let message = pae(payload_type, &payload);
    let mut logged = Vec::new();
    for s in signatures {
        let sig = STANDARD
            .decode(s["sig"].as_str().ok_or("a signature has no sig")?)
            .map_err(|_| "sig is not base64")?;
        let (_, verifier_pem) = keys
            .iter()
            .find(|(key, _)| verify_p256(key, &message, &sig))
            .ok_or("a signature is not by any of the verifiers")?;
        logged.push(json!({"signature": STANDARD.encode(&sig), "verifier": STANDARD.encode(verifier_pem)}));
    }
    Ok(json!({
        "apiVersion": "0.0.1", "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": sha256_hex(envelope_text.as_bytes())},
            "payloadHash": {"algorithm": "sha256", "value": sha256_hex(&payload)},
            "signatures": logged
        }
    }))
}

/// The same entry for another artifact ([`Fault::RekorWrongEntry`]).
fn for_another_artifact(body: &Value) -> Value {
    let mut other = body.clone();
    let other_hash = json!({"algorithm": "sha256", "value": sha256_hex(b"another artifact")});
    if other["kind"] == "hashedrekord" {
        other["spec"]["data"]["hash"] = other_hash;
    } else {
        other["spec"]["payloadHash"] = other_hash;
    }
    other
}

pub(super) async fn create_entry(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    let fault = state.fault();
    if fault == Fault::RekorDown {
        return error(StatusCode::SERVICE_UNAVAILABLE, "rekor is down (fault)");
    }
    let proposed: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("the entry is not JSON: {e}")),
    };
    let canonical = match (proposed["kind"].as_str(), proposed["apiVersion"].as_str()) {
        (Some("hashedrekord"), Some("0.0.1")) => hashedrekord(&proposed["spec"]),
        (Some("dsse"), Some("0.0.1")) => dsse(&proposed["spec"]),
        (kind, version) => Err(format!("unsupported entry type {kind:?} {version:?}")),
    };
    let canonical = match canonical {
        Ok(c) => c,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let mut log = state.log.lock().expect("no handler panics holding the log");
    let at = now();
    let stored = log.append(&canonical_json(&canonical), at).and_then(|n| {
        if fault == Fault::RekorWrongEntry {
            log.append(&canonical_json(&for_another_artifact(&canonical)), at)
        } else {
            Ok(n)
        }
    });
    match stored {
        Ok(n) => {
            let entry = log.log_entry(n, fault);
            let location = format!("/api/v1/log/entries/{}", log.entries[n].uuid);
            (
                [(header::LOCATION, location)],
                super::server::json_response(StatusCode::CREATED, &entry),
            )
                .into_response()
        }
        Err(message) => error(StatusCode::INSUFFICIENT_STORAGE, message),
    }
}

pub(super) async fn get_entry(AxumState(state): AxumState<Arc<State>>, Path(uuid): Path<String>) -> Response {
    let fault = state.fault();
    if fault == Fault::RekorDown {
        return error(StatusCode::SERVICE_UNAVAILABLE, "rekor is down (fault)");
    }
    let log = state.log.lock().expect("no handler panics holding the log");
    // Accept the 80-character form too (a 16-hex-digit tree id, then the leaf hash).
    let leaf = uuid.get(uuid.len().saturating_sub(64)..).unwrap_or_default();
    match log.entries.iter().position(|e| e.uuid == leaf) {
        Some(n) => super::server::json_response(StatusCode::OK, &log.log_entry(n, fault)),
        None => error(StatusCode::NOT_FOUND, "no such entry"),
    }
}

pub(super) async fn log_info(AxumState(state): AxumState<Arc<State>>) -> Response {
    if state.fault() == Fault::RekorDown {
        return error(StatusCode::SERVICE_UNAVAILABLE, "rekor is down (fault)");
    }
    let log = state.log.lock().expect("no handler panics holding the log");
    super::server::json_response(
        StatusCode::OK,
        &json!({
            "rootHash": hex::encode(log.tree.root()), "treeSize": log.tree.size(),
            "signedTreeHead": log.checkpoint(), "treeID": log.tree_id.to_string(),
        }),
    )
}
