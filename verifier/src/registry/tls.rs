//! TLS for registry connections, set up when the first TLS handshake needs
//! it. Loading the system's CA certificates (about 150 files read and parsed)
//! used to be most of the cost of a `sigil verify` against a plain-HTTP
//! loopback registry, which never needs them.
//!
//! The HTTP client gets a rustls configuration whose certificate verifier is
//! [`OnDemandRoots`]: the system roots plus `--registry-cacert` are loaded by
//! the first server certificate to check, once, and every later handshake
//! reuses them. Until then nothing has been read. The verification itself is
//! the platform verifier's (`rustls-platform-verifier`, what reqwest uses on
//! its own), so which certificates are trusted and the errors for those that
//! are not stay as they were.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Why a `--registry-cacert` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CaCertError {
    #[error("no PEM certificate found in the file")]
    Empty,
    #[error("{0}")]
    Pem(String),
    #[error("not a usable CA certificate: {0}")]
    Unusable(rustls::Error),
}

/// The certificates of one `--registry-cacert` file (PEM, one or more
/// `CERTIFICATE` blocks), checked to be usable as trust anchors now, so a bad
/// file is an error at start and not at the first handshake.
pub fn parse_ca_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CaCertError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CaCertError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(CaCertError::Empty);
    }
    let mut store = rustls::RootCertStore::empty();
    for cert in &certs {
        store.add(cert.clone()).map_err(CaCertError::Unusable)?;
    }
    Ok(certs)
}

/// A rustls client configuration for registries, trusting the system roots
/// and `extra_roots`, loaded on first use; and its verifier, to ask whether
/// that has happened.
pub fn client_config(
    extra_roots: Vec<CertificateDer<'static>>,
) -> Result<(rustls::ClientConfig, Arc<OnDemandRoots>), rustls::Error> {
    // The provider reqwest would pick: an installed default, else aws-lc-rs.
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let verifier = Arc::new(OnDemandRoots {
        provider: provider.clone(),
        extra_roots,
        verifier: OnceLock::new(),
        setups: AtomicUsize::new(0),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        // Not a weakened check: the platform verifier does the verification.
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    // What reqwest offers when it builds the configuration itself (HTTP/2 enabled).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((config, verifier))
}

/// The platform verifier over the system roots and `--registry-cacert`,
/// built by the first certificate it is asked to check.
pub struct OnDemandRoots {
    provider: Arc<CryptoProvider>,
    extra_roots: Vec<CertificateDer<'static>>,
    verifier: OnceLock<Result<rustls_platform_verifier::Verifier, rustls::Error>>,
    setups: AtomicUsize,
}

impl OnDemandRoots {
    /// The verifier, built now if this is the first call. A failure (no
    /// system roots and no `--registry-cacert`) is kept and given to every
    /// handshake, which then fails.
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                self.setups.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("loading the system's CA certificates for TLS");
                rustls_platform_verifier::Verifier::new_with_extra_roots(
                    self.extra_roots.iter().cloned(),
                    self.provider.clone(),
                )
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// How many times the roots were loaded: 0 until a TLS server presents a
    /// certificate, then 1 for the rest of the run.
    pub fn setups(&self) -> usize {
        self.setups.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for OnDemandRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemandRoots")
            .field("extra_roots", &self.extra_roots.len())
            .field("loaded", &self.verifier.get().is_some())
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for OnDemandRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier()?.verify_tls13_signature(message, cert, dss)
    }

    /// Asked for every ClientHello, so before any certificate: answered
    /// from the provider, as the platform (webpki) verifier answers it,
    /// without loading roots.
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_cert_files_are_checked_when_read() {
        assert!(matches!(parse_ca_certs(b""), Err(CaCertError::Empty)));
        assert!(matches!(parse_ca_certs(b"not pem at all"), Err(CaCertError::Empty)));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(parse_ca_certs(garbage), Err(CaCertError::Unusable(_))));
    }

    #[test]
    fn schemes_are_offered_without_loading_roots() {
        let (_, roots) = client_config(Vec::new()).expect("config");
        assert!(!roots.supported_verify_schemes().is_empty());
        assert_eq!(roots.setups(), 0);
    }
}
