//! Key and trust material: public keys (PEM and DER SPKI, then a signature
//! check with them), private key PEM/PKCS#8 import, cosign encrypted key
//! files (PEM and JSON header), X.509 certificates (DER, PEM chains, their
//! public key, identity and a chain check) and trusted roots. Each input is
//! offered to every reader: the seeds are the real files of each kind.
//!
//! `keys::decrypt` runs scrypt once the header passes its checks, and the
//! accepted costs (N = 2^15..2^17) take 0.1-0.5 s each: far too slow for a
//! fuzzer. So decrypt is called only when this target's own reading of the
//! header (the same PEM rules as `keys/pem.rs`) shows a cost that sigil
//! refuses, or when sigil does not see a key file at all; every refusal
//! before the KDF is fuzzed, the KDF and the box are not.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use sigil_verifier::keys::{self, PublicKey, SigningKey};
use sigil_verifier::sigstore::{Certificate, TrustedRoot};
use time::OffsetDateTime;

/// 2026-06-01T00:00:00Z.
const NOW: i64 = 1_780_272_000;

fuzz_target!(|data: &[u8]| {
    let now = OffsetDateTime::from_unix_timestamp(NOW).expect("a valid timestamp");
    if let Ok(key) = PublicKey::from_der(data) {
        check_public_key(&key, data);
    }
    if let Ok(cert) = Certificate::from_der(data) {
        check_certificate(&cert, &[], now);
    }
    let _ = SigningKey::from_pkcs8_der(data);
    if let Ok(root) = TrustedRoot::from_json(data) {
        let _ = root.summary();
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(key) = PublicKey::from_pem(text) {
        let pem = key.to_pem();
        let again = PublicKey::from_pem(&pem).expect("a parsed key's own PEM parses");
        assert_eq!(again.spki_der(), key.spki_der(), "public key PEM does not round-trip");
        check_public_key(&key, data);
    }
    if let Ok(chain) = Certificate::from_pem_chain(text) {
        if let Some((leaf, rest)) = chain.split_first() {
            check_certificate(leaf, rest, now);
        }
    }
    if let Ok(key) = SigningKey::import_pem(text) {
        let der = key.to_pkcs8_der();
        SigningKey::from_pkcs8_der(&der).expect("a parsed key's own PKCS#8 parses");
    }
    if !keys::is_encrypted_pem(text) || refused_cost(text) {
        if let Ok(key) = keys::decrypt(text, b"") {
            panic!("an encrypted key file with a refused cost opened: {:?}", key.algorithm());
        }
    }
});

fn check_public_key(key: &PublicKey, data: &[u8]) {
    let _ = (key.algorithm(), key.fingerprint());
    let (message, signature) = data.split_at(data.len() / 2);
    let _ = key.verify(message, signature);
}

fn check_certificate(leaf: &Certificate, rest: &[Certificate], now: OffsetDateTime) {
    if let Ok(key) = leaf.public_key() {
        let _ = key.fingerprint();
    }
    let _ = leaf.identity();
    // The chain's last certificate as its own root: exercises webpki's reading.
    let roots = rest.last().map_or_else(|| vec![leaf.clone()], |r| vec![r.clone()]);
    let _ = leaf.verify_chain(rest, &roots, now);
}

/// Whether the single PEM block's JSON body asks for a scrypt cost sigil
/// refuses (anything but N in {2^15, 2^16, 2^17} with r = 8, p = 1). Unsure
/// readings count as accepted: then decrypt is not called.
fn refused_cost(text: &str) -> bool {
    let Some(body) = pem_body(text) else { return false };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return false };
    let Some(params) = json.pointer("/kdf/params") else { return true };
    let n = params.get("N").and_then(serde_json::Value::as_u64);
    let r = params.get("r").and_then(serde_json::Value::as_u64);
    let p = params.get("p").and_then(serde_json::Value::as_u64);
    // serde_json::Value keeps the last of duplicate members; sigil's derived
    // reader refuses duplicates, so a duplicate never reaches scrypt either.
    !(matches!(n, Some(32768 | 65536 | 131072)) && r == Some(8) && p == Some(1))
}

/// The decoded body of the first PEM block, read as `keys/pem.rs` reads it.
fn pem_body(text: &str) -> Option<Vec<u8>> {
    let mut body = String::new();
    let mut inside = false;
    for line in text.split('\n').map(str::trim) {
        if !inside {
            inside = line.starts_with("-----BEGIN ");
        } else if line.starts_with("-----END ") {
            return STANDARD.decode(&body).ok();
        } else if !line.contains(':') {
            body.push_str(line);
        }
    }
    None
}
