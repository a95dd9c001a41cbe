//! The instance's state and HTTP handlers.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use super::{EMAIL_ISSUER, GITHUB_ISSUER, GithubClaims, Instance};

/// A failure [`Instance::set_fault`] switches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Fulcio answers 401 to every token.
    FulcioRefusesToken,
    /// Fulcio answers 500.
    Fulcio500,
    /// Rekor answers 503.
    RekorDown,
    /// Rekor logs the entry and answers with the body of another artifact's entry.
    RekorWrongEntry,
    /// Rekor's inclusion proof has one hash flipped.
    RekorBadProof,
    /// Rekor's signed entry timestamp does not verify.
    RekorBadSet,
    /// The Actions token endpoint answers 403.
    TokenEndpointRefuses,
    /// Fulcio issues a certificate that expired before the log time.
    FulcioExpiredCert,
}

/// Lifetime of an OIDC token.
const TOKEN_LIFETIME: u64 = 600;

pub(super) struct State {
    pub(super) fault: Mutex<Fault>,
    oidc_key: EcdsaKeyPair,
    oidc_kid: String,
    pub(super) log: Mutex<super::rekor::Log>,
    pub(super) pki: super::fulcio::Pki,
    pub(super) tsa: crate::notation_pki::TestTsa,
}

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

impl State {
    pub(super) fn new(addr: SocketAddr) -> State {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("OIDC key");
        let oidc_key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("OIDC key");
        let oidc_kid = hex::encode(
            &aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, oidc_key.public_key().as_ref()).as_ref()[..8],
        );
        State {
            fault: Mutex::new(Fault::None),
            oidc_key,
            oidc_kid,
            log: Mutex::new(super::rekor::Log::new(&format!("{addr}"))),
            pki: super::fulcio::Pki::new(),
            tsa: crate::notation_pki::TestTsa::new(Some(true)),
        }
    }

    pub(super) fn fault(&self) -> Fault {
        *self.fault.lock().expect("no handler panics holding the fault")
    }

    pub(super) fn set_fault(&self, fault: Fault) {
        *self.fault.lock().expect("no handler panics holding the fault") = fault;
    }

    pub(super) fn log_size(&self) -> u64 {
        self.log.lock().expect("no handler panics holding the log").size()
    }

    fn jwt(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.oidc_kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .oidc_key
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign JWT");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    pub(super) fn github_token(&self, c: &GithubClaims) -> String {
        self.github_token_for(c, "sigstore")
    }

    fn github_token_for(&self, c: &GithubClaims, audience: &str) -> String {
        let now = now();
        self.jwt(&json!({
            "iss": GITHUB_ISSUER, "aud": audience, "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME,
            "jti": format!("{:016x}", rand_u64()),
            "sub": format!("repo:{}:ref:{}", c.repository, c.r#ref),
            "repository": c.repository, "repository_id": c.repository_id,
            "repository_owner": c.repository_owner, "repository_owner_id": c.repository_owner_id,
            "repository_visibility": c.repository_visibility,
            "ref": c.r#ref, "ref_type": "branch", "sha": c.sha,
            "workflow": c.workflow, "workflow_ref": c.workflow_ref, "workflow_sha": c.workflow_sha,
            "job_workflow_ref": c.job_workflow_ref, "job_workflow_sha": c.job_workflow_sha,
            "runner_environment": c.runner_environment, "event_name": c.event_name,
            "run_id": c.run_id, "run_number": "1", "run_attempt": c.run_attempt,
            "actor": "octocat", "actor_id": "1",
        }))
    }

    pub(super) fn email_token(&self, email: &str) -> String {
        let now = now();
        self.jwt(&json!({
            "iss": EMAIL_ISSUER, "aud": "sigstore", "iat": now, "exp": now + TOKEN_LIFETIME,
            "sub": format!("sub-{}", hex::encode(email.as_bytes())),
            "email": email, "email_verified": true,
            "federated_claims": {"connector_id": "test", "user_id": "1"},
        }))
    }

    /// The claims of a JWT this instance issued: signature, issuer,
    /// audience `sigstore` and expiry checked.
    pub(super) fn verify_token(&self, token: &str) -> Result<Value, String> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("the identity token is not a JWS compact serialization".into());
        };
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| "bad JWT signature encoding")?;
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            self.oidc_key.public_key().as_ref(),
        )
        .verify(format!("{h}.{p}").as_bytes(), &signature)
        .map_err(|_| "the identity token's signature does not verify")?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).map_err(|_| "bad JWT payload")?)
            .map_err(|_| "JWT payload is not JSON")?;
        let iss = claims["iss"].as_str().unwrap_or_default();
        if iss != GITHUB_ISSUER && iss != EMAIL_ISSUER {
            return Err(format!("unknown issuer {iss:?}"));
        }
        let aud_ok = match &claims["aud"] {
            Value::String(a) => a == "sigstore",
            Value::Array(a) => a.iter().any(|a| a == "sigstore"),
            _ => false,
        };
        if !aud_ok {
            return Err("the identity token's audience is not sigstore".into());
        }
        if claims["exp"].as_u64().is_none_or(|exp| exp <= now()) {
            return Err("the identity token has expired".into());
        }
        Ok(claims)
    }

    pub(super) fn trusted_root(&self, base: &str) -> Value {
        let valid = json!({"start": "2024-01-01T00:00:00Z"});
        let log = self.log.lock().expect("no handler panics holding the log");
        json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": format!("{base}/rekor"), "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(log.public_key_der()),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
                "logId": {"keyId": STANDARD.encode(log.log_id())}
            }],
            "certificateAuthorities": [{
                "subject": {"organization": "sigil-test", "commonName": "sigil test fulcio"},
                "uri": format!("{base}/fulcio"),
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(&self.pki.intermediate_der)},
                    {"rawBytes": STANDARD.encode(&self.pki.root_der)}
                ]},
                "validFor": valid
            }],
            "ctlogs": [{
                "baseUrl": format!("{base}/ct"), "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": STANDARD.encode(self.pki.ct_public_key_der()),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": valid},
                "logId": {"keyId": STANDARD.encode(self.pki.ct_log_id())}
            }],
            "timestampAuthorities": [{
                "subject": {"organization": "sigil-test", "commonName": "sigil test TSA"},
                "uri": format!("{base}/tsa/api/v1/timestamp"),
                "certChain": {"certificates": [
                    {"rawBytes": STANDARD.encode(self.tsa.cert())},
                    {"rawBytes": STANDARD.encode(&self.tsa.root)}
                ]},
                "validFor": valid
            }]
        })
    }
}

pub(super) fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    aws_lc_rs::rand::fill(&mut b).expect("random bytes");
    u64::from_le_bytes(b)
}

/// Requests larger than this are refused (413).
pub(super) const BODY_LIMIT: usize = 1024 * 1024;

pub(super) fn router(state: Arc<State>) -> Router {
    Router::new()
        .route("/actions/token", get(actions_token))
        .route("/fulcio/api/v2/signingCert", post(super::fulcio::signing_cert))
        .route("/rekor/api/v1/log/entries", post(super::rekor::create_entry))
        .route("/rekor/api/v1/log/entries/{uuid}", get(super::rekor::get_entry))
        .route("/rekor/api/v1/log", get(super::rekor::log_info))
        .route("/tsa/api/v1/timestamp", post(super::tsa::timestamp))
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

pub(super) fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    json_response(
        status,
        &json!({"code": status.as_u16(), "message": message.to_string()}),
    )
}

pub(super) fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

async fn actions_token(
    AxumState(state): AxumState<Arc<State>>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if state.fault() == Fault::TokenEndpointRefuses {
        return error(StatusCode::FORBIDDEN, "token request refused (fault)");
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token);
    if bearer != Some(Instance::ACTIONS_REQUEST_TOKEN) {
        return error(StatusCode::FORBIDDEN, "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN");
    }
    match query.get("audience").map(String::as_str) {
        Some("sigstore") => {}
        other => return error(StatusCode::FORBIDDEN, format!("audience {other:?} is not sigstore")),
    }
    let token = state.github_token(&GithubClaims::default());
    json_response(StatusCode::OK, &json!({"count": 1, "value": token}))
}
