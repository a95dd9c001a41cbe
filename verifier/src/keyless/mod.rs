//! Keyless signing, as `cosign sign`/`attest`/`sign-blob` do it in a CI
//! pipeline: an ephemeral P-256 key, the job's OIDC identity token
//! ([`token`]), a short-lived certificate from Fulcio ([`fulcio`]), the
//! signature logged in Rekor ([`rekor`]) and, when asked, an RFC 3161
//! timestamp ([`tsa`]).
//!
//! **Checked before anything is written.** Every signature made here is
//! stored only as what the verifier accepts: [`Signer`] builds exactly the
//! evidence that will be stored (cosign's tag-form layer with its
//! certificate, chain and Rekor bundle annotations, or the v0.3 bundle with
//! certificate, tlog entry, inclusion proof, checkpoint and SET) and judges it
//! with sigil's own verifier, against the trusted root and the identity the
//! token names, before returning it. A refusal is an error, and the caller
//! has pushed nothing.
//!
//! One [`Session`] per run: one certificate, reused for every image while it
//! is valid, then renewed with a new key and the same token.

pub mod fulcio;
pub mod http;
pub mod rekor;
pub mod signer;
pub mod token;
pub mod tsa;

use std::sync::Arc;

use time::OffsetDateTime;
use url::Url;

use crate::keys::SigningKey;
use crate::sigstore::{BundleRejection, Certificate, IdentityPolicy, Matcher};
use crate::verify::SigstoreRoot;

pub use signer::{LayerSignature, Signer};
pub use token::{IdentityToken, Source};

/// The public-good Fulcio and Rekor, used when neither the flags nor a
/// cached signing config name others.
pub const PUBLIC_FULCIO: &str = "https://fulcio.sigstore.dev";
pub const PUBLIC_REKOR: &str = "https://rekor.sigstore.dev";

/// How much validity a certificate must have left to sign with it: a
/// signature made in its last seconds could be logged after it expired.
const CERTIFICATE_MARGIN: time::Duration = time::Duration::seconds(30);

/// Why keyless signing (or logging a key's signature) failed. Nothing was
/// written when any of these is returned.
#[derive(Debug, thiserror::Error)]
pub enum KeylessError {
    #[error("{detail}")]
    Config { detail: String },
    #[error("{detail}")]
    Token { detail: String },
    #[error("cannot reach {service}: {detail}")]
    Transport { service: &'static str, detail: String },
    #[error("{detail}")]
    Fulcio { detail: String },
    #[error("{detail}")]
    Rekor { detail: String },
    #[error("{detail}")]
    Timestamp { detail: String },
    #[error("cannot sign: {0}")]
    Key(#[from] crate::keys::KeyError),
    /// What Fulcio and Rekor returned does not verify: nothing is stored.
    #[error("the {what} sigil built does not verify, so nothing was written: {rejection}")]
    Refused {
        what: &'static str,
        rejection: BundleRejection,
    },
}

/// Where the services are.
#[derive(Clone, Debug)]
pub struct Services {
    pub fulcio: Url,
    pub rekor: Url,
    /// An RFC 3161 timestamp authority's full URL, when timestamps are wanted.
    pub tsa: Option<Url>,
}

/// `base` with `path` appended (keeping any path `base` has, e.g. a test
/// instance's `/fulcio`).
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, KeylessError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(path).map_err(|e| KeylessError::Config {
        detail: format!("{base}{path} is not a URL: {e}"),
    })
}

/// A key and the certificate Fulcio issued for it.
pub struct Credential {
    pub key: SigningKey,
    pub issued: fulcio::Issued,
    pub not_after: OffsetDateTime,
}

/// One run's keyless signer: the token, the trusted root and the identity
/// the certificate must name, and the current key and certificate.
pub struct Session {
    client: http::Client,
    services: Services,
    token: IdentityToken,
    root: SigstoreRoot,
    policy: IdentityPolicy,
    current: tokio::sync::Mutex<Arc<Credential>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("services", &self.services)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Obtains the token from `source` and a first certificate: everything
    /// that can fail before signing fails here, before any image is read.
    pub async fn start(source: Source, services: Services, root: SigstoreRoot) -> Result<Session, KeylessError> {
        let client = http::Client::new()?;
        let token = token::obtain(source, &client).await?;
        let credential = issue(&client, &services, &token).await?;
        let policy = expected_identity(&token, &credential)?;
        Ok(Session {
            client,
            services,
            token,
            root,
            policy,
            current: tokio::sync::Mutex::new(Arc::new(credential)),
        })
    }

    /// The identity every signature must verify as.
    pub fn policy(&self) -> &IdentityPolicy {
        &self.policy
    }

    pub fn root(&self) -> &SigstoreRoot {
        &self.root
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub(crate) fn client(&self) -> &http::Client {
        &self.client
    }

    /// The certificate's subject, for reports.
    pub fn identity(&self) -> String {
        self.policy.subject().to_string()
    }

    pub fn issuer(&self) -> &str {
        &self.token.claims.issuer
    }

    /// The Fulcio extensions of the current certificate, by their policy
    /// names (what the CI's token said about the run).
    pub async fn extensions(&self) -> Result<std::collections::BTreeMap<String, String>, KeylessError> {
        let credential = self.current.lock().await.clone();
        Certificate::from_der(&credential.issued.chain_der[0])
            .and_then(|c| c.identity())
            .map(|identity| identity.extensions)
            .map_err(|e| KeylessError::Fulcio {
                detail: format!("Fulcio issued an unreadable certificate: {e}"),
            })
    }

    /// The key and certificate to sign with now: the current one while it
    /// has [`CERTIFICATE_MARGIN`] left, else a new one.
    pub async fn credential(&self) -> Result<Arc<Credential>, KeylessError> {
        let mut current = self.current.lock().await;
        if current.not_after - CERTIFICATE_MARGIN > OffsetDateTime::now_utc() {
            return Ok(current.clone());
        }
        tracing::info!(
            "the signing certificate expires at {}; asking Fulcio for another",
            current.not_after
        );
        let renewed = Arc::new(issue(&self.client, &self.services, &self.token).await?);
        *current = renewed.clone();
        Ok(renewed)
    }
}

async fn issue(client: &http::Client, services: &Services, token: &IdentityToken) -> Result<Credential, KeylessError> {
    let key = SigningKey::generate()?;
    let issued = fulcio::signing_certificate(client, &services.fulcio, token, &key).await?;
    let leaf = Certificate::from_der(&issued.chain_der[0])
        .and_then(|c| c.identity())
        .map_err(|e| KeylessError::Fulcio {
            detail: format!("Fulcio issued an unreadable certificate: {e}"),
        })?;
    Ok(Credential {
        key,
        issued,
        not_after: leaf.not_after,
    })
}

/// The identity the signatures must verify as: the token's issuer, and the
/// subject Fulcio's rule gives for the token (else the certificate's own
/// first SAN, for an issuer whose rule sigil does not know).
fn expected_identity(token: &IdentityToken, credential: &Credential) -> Result<IdentityPolicy, KeylessError> {
    let subject = match token.claims.expected_subject() {
        Some(subject) => subject,
        None => {
            let identity = Certificate::from_der(&credential.issued.chain_der[0])
                .and_then(|c| c.identity())
                .map_err(|e| KeylessError::Fulcio {
                    detail: format!("Fulcio issued an unreadable certificate: {e}"),
                })?;
            identity
                .subject
                .first()
                .map(|s| s.value().to_owned())
                .ok_or_else(|| KeylessError::Fulcio {
                    detail: "Fulcio issued a certificate without a subject alternative name".into(),
                })?
        }
    };
    Ok(IdentityPolicy::new(
        Matcher::exact(subject),
        Matcher::exact(token.claims.issuer.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_the_base_path() {
        let base = Url::parse("http://127.0.0.1:1/fulcio").expect("url");
        assert_eq!(
            join(&base, "api/v2/signingCert").expect("join").as_str(),
            "http://127.0.0.1:1/fulcio/api/v2/signingCert"
        );
        let base = Url::parse("https://rekor.sigstore.dev").expect("url");
        assert_eq!(
            join(&base, "api/v1/log/entries").expect("join").as_str(),
            "https://rekor.sigstore.dev/api/v1/log/entries"
        );
    }
}
