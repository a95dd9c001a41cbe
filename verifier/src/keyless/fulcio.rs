//! Fulcio v2's `POST /api/v2/signingCert` (fulcio.proto's HTTP mapping):
//! the identity token, the ephemeral public key as PEM and a proof of
//! possession (the key's signature over the token's `email`, else `sub`),
//! answered with a certificate chain, leaf first, with an embedded SCT or
//! a detached one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use url::Url;

use super::KeylessError;
use super::http::Client;
use super::token::IdentityToken;
use crate::keys::SigningKey;
use crate::sigstore::Certificate;

/// Most certificates accepted in Fulcio's chain.
const MAX_CHAIN: usize = 8;

/// What Fulcio issued: the leaf and the rest of the chain, as PEM, checked
/// to parse and to hold the ephemeral key. Nothing else is trusted yet: the
/// chain, SCT and identity are judged with the signature before anything
/// is written.
#[derive(Clone, Debug)]
pub struct Issued {
    pub leaf_pem: String,
    /// Intermediates and root, PEM, concatenated (cosign's chain annotation).
    pub chain_pem: Option<String>,
    /// Every certificate as DER, leaf first.
    pub chain_der: Vec<Vec<u8>>,
    /// Fulcio's detached SCT, when it sent one instead of embedding it.
    pub detached_sct: Option<String>,
}

/// Asks Fulcio at `base` for a certificate for `key` and `token`.
pub async fn signing_certificate(
    client: &Client,
    base: &Url,
    token: &IdentityToken,
    key: &SigningKey,
) -> Result<Issued, KeylessError> {
    let refused = |detail: String| KeylessError::Fulcio { detail };
    let proof = key
        .sign(token.claims.proof_subject().as_bytes())
        .map_err(|e| refused(format!("cannot sign the proof of possession: {e}")))?;
    let request = json!({
        "credentials": {"oidcIdentityToken": token.raw()},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem()},
            "proofOfPossession": STANDARD.encode(proof),
        },
    });
    let url = super::join(base, "api/v2/signingCert")?;
    let response = client.post_json("Fulcio", url, &request).await?;
    if !response.status.is_success() {
        return Err(refused(format!(
            "Fulcio refused the certificate request ({}): {}",
            response.status,
            response.excerpt()
        )));
    }
    read_answer(&response.body, key)
}

/// Reads Fulcio's answer and checks the leaf holds `key`.
fn read_answer(body: &[u8], key: &SigningKey) -> Result<Issued, KeylessError> {
    let refused = |detail: &str| KeylessError::Fulcio {
        detail: format!("Fulcio's answer {detail}"),
    };
    let answer: Value = serde_json::from_slice(body).map_err(|_| refused("is not JSON"))?;
    let (signed, detached_sct) = if let Some(embedded) = answer.get("signedCertificateEmbeddedSct") {
        (embedded, None)
    } else if let Some(detached) = answer.get("signedCertificateDetachedSct") {
        let sct = detached
            .get("signedCertificateTimestamp")
            .and_then(Value::as_str)
            .ok_or_else(|| refused("has a detached SCT that is not a string"))?;
        (detached, Some(sct.to_owned()))
    } else {
        return Err(refused(
            "has neither signedCertificateEmbeddedSct nor signedCertificateDetachedSct",
        ));
    };
    let pems = signed
        .pointer("/chain/certificates")
        .and_then(Value::as_array)
        .ok_or_else(|| refused("has no chain.certificates"))?;
    if pems.is_empty() || pems.len() > MAX_CHAIN {
        return Err(refused(&format!(
            "has {} certificates (1 to {MAX_CHAIN} expected)",
            pems.len()
        )));
    }
    let mut chain_der = Vec::with_capacity(pems.len());
    let mut texts = Vec::with_capacity(pems.len());
    for pem in pems {
        let pem = pem
            .as_str()
            .ok_or_else(|| refused("has a certificate that is not a string"))?;
        let certificates =
            Certificate::from_pem_chain(pem).map_err(|e| refused(&format!("has an unreadable certificate: {e}")))?;
        let [certificate] = &certificates[..] else {
            return Err(refused("has an entry that is not exactly one PEM certificate"));
        };
        chain_der.push(certificate.der().to_vec());
        texts.push(if pem.ends_with('\n') {
            pem.to_owned()
        } else {
            format!("{pem}\n")
        });
    }
    let leaf = Certificate::from_der(&chain_der[0]).map_err(|e| refused(&format!("has an unreadable leaf: {e}")))?;
    let holds_key = leaf
        .public_key()
        .is_ok_and(|k| k.spki_der() == key.public_key().spki_der());
    if !holds_key {
        return Err(refused("is a certificate for another key than the one sigil sent"));
    }
    let chain_pem = (texts.len() > 1).then(|| texts[1..].concat());
    Ok(Issued {
        leaf_pem: texts[0].clone(),
        chain_pem,
        chain_der,
        detached_sct,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate_for(key: &SigningKey) -> String {
        let pkcs8 = key.to_pkcs8_der();
        let pair = rcgen::KeyPair::try_from(pkcs8.as_slice()).expect("rcgen key");
        let params = rcgen::CertificateParams::new(vec!["dev@example.com".into()]).expect("params");
        params.self_signed(&pair).expect("cert").pem()
    }

    #[test]
    fn embedded_and_detached_answers_read_and_the_leaf_must_hold_the_key() {
        let key = SigningKey::generate().expect("key");
        let leaf = certificate_for(&key);
        let ca = certificate_for(&SigningKey::generate().expect("key"));
        let embedded = json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [leaf, ca]}}});
        let issued = read_answer(embedded.to_string().as_bytes(), &key).expect("embedded");
        assert_eq!(issued.chain_der.len(), 2);
        assert!(issued.detached_sct.is_none());
        assert_eq!(issued.chain_pem.as_deref(), Some(ca.as_str()));
        let detached = json!({"signedCertificateDetachedSct": {"chain": {"certificates": [leaf]}, "signedCertificateTimestamp": "AAAA"}});
        let issued = read_answer(detached.to_string().as_bytes(), &key).expect("detached");
        assert_eq!(issued.detached_sct.as_deref(), Some("AAAA"));
        assert!(issued.chain_pem.is_none());

        // a certificate for another key
        let other = SigningKey::generate().expect("key");
        let e = read_answer(embedded.to_string().as_bytes(), &other).expect_err("other key");
        assert!(e.to_string().contains("another key"), "{e}");
        // malformed answers
        for bad in [
            json!({}),
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": []}}}),
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": ["not pem"]}}}),
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [format!("{leaf}{ca}")]}}}),
            json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": vec![leaf.clone(); MAX_CHAIN + 1]}}}),
        ] {
            assert!(read_answer(bad.to_string().as_bytes(), &key).is_err(), "{bad}");
        }
        assert!(read_answer(b"<html>", &key).is_err());
    }
}
