//! Fulcio v2 `POST /api/v2/signingCert`: the OIDC token and the proof of
//! possession checked, a ten-minute code-signing leaf with Fulcio's
//! extensions (docs/oid-info.md) and an embedded precertificate SCT
//! (RFC 6962 §3.2) by the instance's CT log key.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::{Decode as _, Encode as _};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, ExtendedKeyUsagePurpose, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType, SerialNumber, SignatureAlgorithm, SigningKey as _,
};
use serde_json::{Value, json};

use super::rekor::{pem, verifier_key};
use super::server::{Fault, State, error, now};

/// OID of the embedded SCT list extension (RFC 6962 §3.3).
const SCT_LIST: [u64; 10] = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];

pub(super) struct Pki {
    pub(super) root_der: Vec<u8>,
    pub(super) intermediate_der: Vec<u8>,
    intermediate: Issuer<'static, KeyPair>,
    ct_key: KeyPair,
}

/// A submitted public key (uncompressed P-256 point).
struct Submitted(Vec<u8>);

impl PublicKeyData for Submitted {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

/// A DER UTF8String.
fn der_utf8(value: &str) -> Vec<u8> {
    der::asn1::Utf8StringRef::new(value)
        .and_then(|s| s.to_der())
        .expect("a UTF8String encodes")
}

fn fulcio_ext(number: u64, content: Vec<u8>) -> CustomExtension {
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, number], content)
}

impl Pki {
    pub(super) fn new() -> Pki {
        let (root_params, root_key) = crate::test_sigstore::ca("sigil test fulcio root");
        let root = root_params.self_signed(&root_key).expect("root");
        let root_issuer = Issuer::new(root_params, root_key);
        let (int_params, int_key) = crate::test_sigstore::ca("sigil test fulcio intermediate");
        let intermediate = int_params.signed_by(&int_key, &root_issuer).expect("intermediate");
        Pki {
            root_der: root.der().to_vec(),
            intermediate_der: intermediate.der().to_vec(),
            intermediate: Issuer::new(int_params, int_key),
            ct_key: KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("CT log key"),
        }
    }

    pub(super) fn ct_public_key_der(&self) -> Vec<u8> {
        self.ct_key.subject_public_key_info()
    }

    pub(super) fn ct_log_id(&self) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &self.ct_public_key_der())
            .as_ref()
            .to_vec()
    }

    /// The leaf for `key` with `sans` and `extensions`, valid
    /// `not_before..not_after` (Unix seconds), with an embedded SCT.
    fn issue(
        &self,
        key: &[u8],
        san: SanType,
        extensions: Vec<CustomExtension>,
        not_before: u64,
        not_after: u64,
    ) -> Result<Vec<u8>, String> {
        let to_time = |t: u64| time::OffsetDateTime::from_unix_timestamp(t as i64).map_err(|e| e.to_string());
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::fill(&mut serial).map_err(|_| "no randomness")?;
        serial[0] &= 0x7f;
        serial[0] |= 0x01;
        let mut p = CertificateParams::default();
        p.distinguished_name = DistinguishedName::new();
        p.subject_alt_names = vec![san];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.serial_number = Some(SerialNumber::from_slice(&serial));
        p.not_before = to_time(not_before)?;
        p.not_after = to_time(not_after)?;
        p.custom_extensions = extensions;
        p.use_authority_key_identifier_extension = true;
        let key = Submitted(key.to_vec());
        let precert = p.signed_by(&key, &self.intermediate).map_err(|e| e.to_string())?;
        let pre_tbs = tbs(precert.der())?;
        let sct = self.sct(&pre_tbs, not_before * 1000);
        let mut list = Vec::new();
        list.extend_from_slice(&(sct.len() as u16 + 2).to_be_bytes());
        list.extend_from_slice(&(sct.len() as u16).to_be_bytes());
        list.extend_from_slice(&sct);
        let list = der::asn1::OctetString::new(list)
            .and_then(|o| o.to_der())
            .map_err(|e| e.to_string())?;
        p.custom_extensions
            .push(CustomExtension::from_oid_content(&SCT_LIST, list));
        let cert = p.signed_by(&key, &self.intermediate).map_err(|e| e.to_string())?;
        check_only_sct_added(&pre_tbs, &tbs(cert.der())?)?;
        Ok(cert.der().to_vec())
    }

    /// A v1 SCT (TLS encoding) over the precertificate TBS `tbs` at `timestamp_ms`.
    fn sct(&self, tbs: &[u8], timestamp_ms: u64) -> Vec<u8> {
        let issuer_spki = x509_cert::Certificate::from_der(&self.intermediate_der)
            .expect("our intermediate parses")
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .expect("an SPKI encodes");
        let issuer_key_hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &issuer_spki);
        let mut signed = vec![0u8, 0u8]; // v1, certificate_timestamp
        signed.extend_from_slice(&timestamp_ms.to_be_bytes());
        signed.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
        signed.extend_from_slice(issuer_key_hash.as_ref());
        signed.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        signed.extend_from_slice(tbs);
        signed.extend_from_slice(&0u16.to_be_bytes()); // no extensions
        let signature = self.ct_key.sign(&signed).expect("sign SCT");
        let mut sct = vec![0u8];
        sct.extend_from_slice(&self.ct_log_id());
        sct.extend_from_slice(&timestamp_ms.to_be_bytes());
        sct.extend_from_slice(&0u16.to_be_bytes());
        sct.extend_from_slice(&[4, 3]); // sha256, ecdsa
        sct.extend_from_slice(&(signature.len() as u16).to_be_bytes());
        sct.extend_from_slice(&signature);
        sct
    }

    fn chain(&self, leaf: &[u8]) -> Value {
        json!({"signedCertificateEmbeddedSct": {"chain": {"certificates": [
            pem("CERTIFICATE", leaf), pem("CERTIFICATE", &self.intermediate_der), pem("CERTIFICATE", &self.root_der)
        ]}}})
    }
}

fn tbs(cert: &[u8]) -> Result<Vec<u8>, String> {
    x509_cert::Certificate::from_der(cert)
        .and_then(|c| c.tbs_certificate.to_der())
        .map_err(|e| e.to_string())
}

/// The final TBS is the precertificate's TBS plus the SCT list extension.
fn check_only_sct_added(pre: &[u8], fin: &[u8]) -> Result<(), String> {
    let mut fin = x509_cert::TbsCertificate::from_der(fin).map_err(|e| e.to_string())?;
    let sct = const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
    if let Some(exts) = fin.extensions.as_mut() {
        exts.retain(|e| e.extn_id != sct);
    }
    if fin.to_der().map_err(|e| e.to_string())? != pre {
        return Err("the certificate differs from its precertificate by more than the SCT".into());
    }
    Ok(())
}

/// Fulcio's extensions for a token's claims: the issuer (1.1, 1.8) and,
/// for GitHub Actions, 1.2-1.6 and 1.9-1.22.
fn extensions(claims: &Value) -> Vec<CustomExtension> {
    let s = |name: &str| claims[name].as_str().unwrap_or_default().to_string();
    let iss = s("iss");
    let mut out = vec![fulcio_ext(1, iss.clone().into_bytes()), fulcio_ext(8, der_utf8(&iss))];
    if iss == super::GITHUB_ISSUER {
        let gh = "https://github.com";
        for (n, v) in [
            (2, s("event_name")),
            (3, s("sha")),
            (4, s("workflow")),
            (5, s("repository")),
            (6, s("ref")),
        ] {
            out.push(fulcio_ext(n, v.into_bytes()));
        }
        let utf8 = [
            (9, format!("{gh}/{}", s("job_workflow_ref"))),
            (10, s("job_workflow_sha")),
            (11, s("runner_environment")),
            (12, format!("{gh}/{}", s("repository"))),
            (13, s("sha")),
            (14, s("ref")),
            (15, s("repository_id")),
            (16, format!("{gh}/{}", s("repository_owner"))),
            (17, s("repository_owner_id")),
            (18, format!("{gh}/{}", s("workflow_ref"))),
            (19, s("workflow_sha")),
            (20, s("event_name")),
            (
                21,
                format!(
                    "{gh}/{}/actions/runs/{}/attempts/{}",
                    s("repository"),
                    s("run_id"),
                    s("run_attempt")
                ),
            ),
            (22, s("repository_visibility")),
        ];
        for (n, v) in utf8 {
            out.push(fulcio_ext(n, der_utf8(&v)));
        }
    }
    out
}

pub(super) async fn signing_cert(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    match state.fault() {
        Fault::FulcioRefusesToken => return error(StatusCode::UNAUTHORIZED, "the identity token is refused (fault)"),
        Fault::Fulcio500 => return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error (fault)"),
        _ => {}
    }
    match issue(&state, &body) {
        Ok(chain) => super::server::json_response(StatusCode::CREATED, &chain),
        Err((status, message)) => error(status, message),
    }
}

fn issue(state: &State, body: &[u8]) -> Result<Value, (StatusCode, String)> {
    let bad = |m: &str| (StatusCode::BAD_REQUEST, m.to_string());
    let request: Value = serde_json::from_slice(body).map_err(|e| bad(&format!("the request is not JSON: {e}")))?;
    let token = request["credentials"]["oidcIdentityToken"]
        .as_str()
        .ok_or_else(|| bad("credentials.oidcIdentityToken is missing"))?;
    let claims = state.verify_token(token).map_err(|m| (StatusCode::UNAUTHORIZED, m))?;
    let iss = claims["iss"].as_str().unwrap_or_default();
    let key = if let Some(csr) = request["certificateSigningRequest"].as_str() {
        csr_key(csr).map_err(|m| bad(&m))?
    } else {
        let key_request = &request["publicKeyRequest"];
        let pem_text = key_request["publicKey"]["content"]
            .as_str()
            .ok_or_else(|| bad("publicKeyRequest.publicKey.content is missing"))?;
        let (key, _) = verifier_key(pem_text).map_err(|m| bad(&m))?;
        let proof = STANDARD
            .decode(
                key_request["proofOfPossession"]
                    .as_str()
                    .ok_or_else(|| bad("proofOfPossession is missing"))?,
            )
            .map_err(|_| bad("proofOfPossession is not base64"))?;
        let subject = claims["email"].as_str().or(claims["sub"].as_str()).unwrap_or_default();
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, &key)
            .verify(subject.as_bytes(), &proof)
            .map_err(|_| bad("the proof of possession does not verify"))?;
        key
    };
    let san = if iss == super::GITHUB_ISSUER {
        let uri = format!(
            "https://github.com/{}",
            claims["job_workflow_ref"].as_str().unwrap_or_default()
        );
        SanType::URI(uri.try_into().map_err(|_| bad("the workflow ref is not IA5"))?)
    } else {
        if claims["email_verified"] != true {
            return Err(bad("the email is not verified"));
        }
        let email = claims["email"].as_str().ok_or_else(|| bad("the token has no email"))?;
        SanType::Rfc822Name(email.try_into().map_err(|_| bad("the email is not IA5"))?)
    };
    let t = now();
    let (from, to) = if state.fault() == Fault::FulcioExpiredCert {
        (t - 1200, t - 600)
    } else {
        (t, t + 600)
    };
    let leaf = state
        .pki
        .issue(&key, san, extensions(&claims), from, to)
        .map_err(|m| (StatusCode::INTERNAL_SERVER_ERROR, m))?;
    Ok(state.pki.chain(&leaf))
}

/// The key of a PEM (or base64 PEM) PKCS#10 request, its self-signature checked.
fn csr_key(csr: &str) -> Result<Vec<u8>, String> {
    let text = if csr.trim_start().starts_with("-----") {
        csr.to_string()
    } else {
        String::from_utf8(STANDARD.decode(csr.trim()).map_err(|_| "the CSR is not base64")?)
            .map_err(|_| "the CSR is not text")?
    };
    let (label, der_bytes) = super::rekor::parse_pem(&text).ok_or("the CSR is not PEM")?;
    if label != "CERTIFICATE REQUEST" {
        return Err("the CSR is not a CERTIFICATE REQUEST".into());
    }
    let request = x509_cert::request::CertReq::from_der(&der_bytes).map_err(|e| format!("bad CSR: {e}"))?;
    let spki = request.info.public_key.to_der().map_err(|e| e.to_string())?;
    let (key, _) = verifier_key(&pem("PUBLIC KEY", &spki))?;
    let info = request.info.to_der().map_err(|e| e.to_string())?;
    let signature = request.signature.raw_bytes();
    aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1, &key)
        .verify(&info, signature)
        .map_err(|_| "the CSR's signature does not verify")?;
    Ok(key)
}
