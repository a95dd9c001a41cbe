//! An RFC 3161 timestamp over a signature (`--timestamp-server-url`, as
//! cosign's): a `TimeStampReq` for the sha256 of the signature bytes with a
//! random nonce and the TSA's certificate asked for, answered with a
//! `TimeStampResp` whose token sigil stores (cosign's tag-form
//! `dev.sigstore.cosign/rfc3161timestamp` annotation, a bundle's
//! `timestampVerificationData`). The token is judged with the rest of the
//! evidence before anything is written.

use der::{Decode as _, Encode as _};
use url::Url;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion};

use super::KeylessError;
use super::http::Client;
use crate::digest::Digest;

/// The DER `TimeStampResp` (granted, with a token) over `signature` from
/// the TSA at `url`: what a bundle's `signedTimestamp` and cosign's
/// annotation hold (the protobuf specs store the whole response).
pub async fn timestamp(client: &Client, url: &Url, signature: &[u8]) -> Result<Vec<u8>, KeylessError> {
    let bad = |detail: String| KeylessError::Timestamp { detail };
    let request = request_der(signature).map_err(|e| bad(format!("cannot encode the timestamp request: {e}")))?;
    let response = client
        .send(
            "the timestamp authority",
            client
                .post(url.clone())
                .header("Content-Type", "application/timestamp-query")
                .header("Accept", "application/timestamp-reply")
                .body(request),
        )
        .await?;
    if !response.status.is_success() {
        return Err(bad(format!(
            "the timestamp authority answered {}: {}",
            response.status,
            response.excerpt()
        )));
    }
    token_of(&response.body).map_err(bad)?;
    Ok(response.body)
}

fn request_der(signature: &[u8]) -> Result<Vec<u8>, der::Error> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|_| der::Error::from(der::ErrorKind::Failed))?;
    // Positive and minimal as DER wants it: top bit clear, first byte non-zero.
    nonce[0] = (nonce[0] & 0x7f) | 0x40;
    let request = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: der::asn1::AnyRef::NULL.into_algorithm(),
            hashed_message: der::asn1::OctetString::new(Digest::sha256_of(signature).raw())?,
        },
        req_policy: None,
        nonce: Some(der::asn1::Int::new(&nonce)?),
        cert_req: true,
        extensions: None,
    };
    request.to_der()
}

/// The token of a granted `TimeStampResp`.
fn token_of(body: &[u8]) -> Result<Vec<u8>, String> {
    let response =
        TimeStampResp::from_der(body).map_err(|e| format!("the timestamp authority's answer is not DER: {e}"))?;
    let status = response.status.status as u8;
    if status > 1 {
        return Err(format!(
            "the timestamp authority refused the request (PKIStatus {status})"
        ));
    }
    let token = response
        .time_stamp_token
        .ok_or_else(|| "the timestamp authority granted no token".to_owned())?;
    token
        .to_der()
        .map_err(|e| format!("the timestamp token does not re-encode: {e}"))
}

/// The AlgorithmIdentifier of sha256 with NULL parameters.
trait IntoAlgorithm {
    fn into_algorithm(self) -> x509_cert::spki::AlgorithmIdentifier<der::Any>;
}

impl IntoAlgorithm for der::asn1::AnyRef<'_> {
    fn into_algorithm(self) -> x509_cert::spki::AlgorithmIdentifier<der::Any> {
        x509_cert::spki::AlgorithmIdentifier {
            oid: const_oid::db::rfc5912::ID_SHA_256,
            parameters: Some(self.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_sha256_of_the_signature_and_asks_for_the_certificate() {
        let der = request_der(b"signature").expect("encodes");
        let request = TimeStampReq::from_der(&der).expect("decodes");
        assert_eq!(
            request.message_imprint.hash_algorithm.oid,
            const_oid::db::rfc5912::ID_SHA_256
        );
        assert_eq!(
            request.message_imprint.hashed_message.as_bytes(),
            Digest::sha256_of(b"signature").raw()
        );
        assert!(request.cert_req);
        assert!(request.nonce.is_some());
        assert_ne!(
            request_der(b"signature").expect("again"),
            der,
            "a fresh nonce each time"
        );
    }

    #[test]
    fn an_answer_that_is_not_a_response_is_refused() {
        assert!(token_of(b"not der").is_err());
        // a rejection: SEQUENCE { PKIStatusInfo { INTEGER 2 } }
        assert!(
            token_of(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02])
                .expect_err("refused")
                .contains("refused")
        );
        // granted, without a token
        assert!(
            token_of(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00])
                .expect_err("no token")
                .contains("no token")
        );
    }
}
