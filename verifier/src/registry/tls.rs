//! TLS for registry connections, set up when the first TLS handshake needs
//! it. Loading the system's CA certificates (about 150 files read and parsed,
//! some 11 ms of CPU) was a quarter of the cost of a `sigil verify` against a
//! plain-HTTP loopback registry, which never needs them.
//!
//! The HTTP client gets a rustls configuration whose certificate verifier is
//! [`OnDemandRoots`]: the system roots plus `--registry-cacert` are loaded by
//! the first server certificate to check, once, and every later handshake
//! reuses them. Until then nothing has been read. The verification itself is
//! the platform verifier's (`rustls-platform-verifier`, what reqwest uses on
//! its own), so which certificates are trusted and the errors for those that
//! are not stay as they were.
//!
//! A loopback registry is asked in TLS first, so even a plain-HTTP one gets a
//! ClientHello, which needs random bytes and an ephemeral X25519 key. The
//! first use of aws-lc's random generator costs a process 25-30 ms of CPU
//! (it seeds itself from CPU-jitter entropy), more than everything else a
//! one-image `verify` does. So the provider ([`provider`]) takes rustls's
//! random bytes and the X25519 secret from the operating system's generator
//! (`getrandom`), as ring does; aws-lc still does every computation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use aws_lc_rs::agreement;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret, SupportedKxGroup,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, NamedGroup, PeerMisbehaved, SignatureScheme};

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
    let provider = Arc::new(provider());
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

/// aws-lc-rs's default provider (what reqwest uses) with its random bytes and
/// its X25519 secrets from the operating system instead of aws-lc's generator,
/// whose first use costs 25-30 ms of CPU. Same groups in the same order,
/// same cipher suites and signature algorithms.
pub fn provider() -> CryptoProvider {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.secure_random = &OsRandom;
    for group in &mut provider.kx_groups {
        if group.name() == NamedGroup::X25519 {
            *group = &OsX25519;
        }
    }
    provider
}

/// The operating system's generator (`getrandom(2)` on Linux).
#[derive(Debug)]
struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        getrandom::fill(buf).map_err(|_| GetRandomFailed)
    }
}

/// X25519 key exchange whose ephemeral secret is 32 bytes from the operating
/// system; aws-lc derives the public key and the shared secret (and clamps
/// the scalar, and refuses an all-zero result, as for its own keys).
#[derive(Debug)]
struct OsX25519;

impl SupportedKxGroup for OsX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let mut secret = zeroize::Zeroizing::new([0_u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|_| GetRandomFailed)?;
        let private = agreement::PrivateKey::from_private_key(&agreement::X25519, secret.as_ref())
            .map_err(|_| GetRandomFailed)?;
        let public = private.compute_public_key().map_err(|_| GetRandomFailed)?;
        Ok(Box::new(X25519Exchange { private, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// One X25519 exchange under way: our secret and the public key sent.
struct X25519Exchange {
    private: agreement::PrivateKey,
    public: agreement::PublicKey,
}

impl ActiveKeyExchange for X25519Exchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let invalid = || rustls::Error::from(PeerMisbehaved::InvalidKeyShare);
        if peer.len() != 32 {
            return Err(invalid());
        }
        let peer = agreement::UnparsedPublicKey::new(&agreement::X25519, peer);
        agreement::agree(&self.private, peer, invalid(), |shared| Ok(SharedSecret::from(shared)))
    }

    fn pub_key(&self) -> &[u8] {
        self.public.as_ref()
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
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
    fn x25519_with_secrets_from_the_os_agrees_with_aws_lc() {
        let ours = OsX25519.start().expect("start");
        let theirs = agreement::PrivateKey::generate(&agreement::X25519).expect("aws-lc key");
        let their_public = theirs.compute_public_key().expect("public");
        let our_public = agreement::UnparsedPublicKey::new(&agreement::X25519, ours.pub_key().to_vec());
        let expected = agreement::agree(&theirs, our_public, (), |s| Ok(s.to_vec())).expect("agree");
        let shared = ours.complete(their_public.as_ref()).expect("complete");
        assert_eq!(shared.secret_bytes(), expected);
        assert_ne!(
            OsX25519.start().expect("start").pub_key(),
            OsX25519.start().expect("start").pub_key()
        );
    }

    #[test]
    fn bad_x25519_key_shares_are_refused() {
        for peer in [&[9_u8; 31][..], &[9; 33], &[0; 32]] {
            let err = OsX25519.start().expect("start").complete(peer).err();
            assert_eq!(err, Some(PeerMisbehaved::InvalidKeyShare.into()), "{peer:?}");
        }
    }

    #[test]
    fn the_provider_keeps_aws_lc_groups_and_suites_in_order() {
        let ours = provider();
        let theirs = rustls::crypto::aws_lc_rs::default_provider();
        let names = |p: &CryptoProvider| p.kx_groups.iter().map(|g| g.name()).collect::<Vec<_>>();
        assert_eq!(names(&ours), names(&theirs));
        assert_eq!(ours.cipher_suites, theirs.cipher_suites);
        assert!(ours.kx_groups.iter().any(|g| format!("{g:?}") == "OsX25519"));
    }

    #[test]
    fn schemes_are_offered_without_loading_roots() {
        let (_, roots) = client_config(Vec::new()).expect("config");
        assert!(!roots.supported_verify_schemes().is_empty());
        assert_eq!(roots.setups(), 0);
    }
}
