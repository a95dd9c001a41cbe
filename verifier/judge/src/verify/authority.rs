//! Who may vouch for an image, compiled once.
//!
//! A policy publisher and the CLI's `--key` / `--certificate-*` /
//! `--trusted-root` flags describe the same thing: a public key, a Fulcio
//! identity under a Sigstore trusted root, or an identity from a private
//! PKI. [`Authority`] holds that trust material already parsed (keys
//! decoded, certificate roots decoded, trusted roots prepared, identity
//! regexps compiled), so judging an image only checks evidence against it
//! and never reads, parses or compiles anything. It is owned and cheap to
//! share: trusted roots and certificate roots sit behind [`Arc`].

use std::sync::Arc;

use crate::keys::PublicKey;
use crate::sigstore::{Certificate, CertificateError, IdentityPolicy, TrustedRoot};

/// The Sigstore trusted root keyless evidence is judged under.
#[derive(Clone, Debug)]
pub enum SigstoreRoot {
    /// The public-good root embedded in sigil.
    PublicGood,
    /// A `trusted_root.json` the user named, parsed.
    Custom(Arc<TrustedRoot>),
}

impl SigstoreRoot {
    /// The root itself.
    pub fn get(&self) -> &TrustedRoot {
        match self {
            SigstoreRoot::PublicGood => TrustedRoot::public_good(),
            SigstoreRoot::Custom(root) => root,
        }
    }
}

impl From<TrustedRoot> for SigstoreRoot {
    fn from(root: TrustedRoot) -> SigstoreRoot {
        SigstoreRoot::Custom(Arc::new(root))
    }
}

/// Who may have made a signature or attestation (DESIGN §3.5, §4).
#[derive(Clone, Debug)]
pub enum Authority {
    /// One public key.
    Key(PublicKey),
    /// A keyless (Fulcio) identity: the certificate must chain to a Fulcio
    /// CA of `root`, at the signing time a log entry of `root` proves.
    Keyless {
        /// The subject, issuer and extensions the certificate must carry.
        identity: IdentityPolicy,
        /// The trusted root.
        root: SigstoreRoot,
    },
    /// A certificate from a private PKI (cosign's `--certificate-chain`):
    /// the leaf must chain to one of `roots` at the time a log entry of
    /// `log_root` proves, else at the evaluation time.
    Certificate {
        /// The CA certificates trusted as anchors (never empty when built
        /// by [`Authority::certificate`]).
        roots: Arc<[Certificate]>,
        /// The subject the leaf must carry.
        identity: IdentityPolicy,
        /// Where log entries are checked.
        log_root: SigstoreRoot,
    },
    /// A `notation` policy publisher: Notary Project signatures whose chain
    /// leads to its trust store and whose signer is one of its identities.
    Notation(Arc<super::NotationTrust>),
}

/// Why trust material cannot be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthorityError {
    /// The roots text holds no usable certificate.
    #[error("certificate roots are unusable: {0}")]
    Roots(CertificateError),
}

impl Authority {
    /// A private-PKI authority whose roots are the certificates of the PEM
    /// text `roots_pem` (every block must be a certificate; at least one).
    pub fn certificate(
        roots_pem: &str,
        identity: IdentityPolicy,
        log_root: SigstoreRoot,
    ) -> Result<Authority, AuthorityError> {
        let roots = Certificate::from_pem_chain(roots_pem).map_err(AuthorityError::Roots)?;
        Ok(Authority::Certificate {
            roots: roots.into(),
            identity,
            log_root,
        })
    }

    /// The key, when the authority is one key.
    pub fn key(&self) -> Option<&PublicKey> {
        match self {
            Authority::Key(key) => Some(key),
            _ => None,
        }
    }

    /// The notation trust, when the authority is a `notation` publisher.
    pub fn notation(&self) -> Option<&super::NotationTrust> {
        match self {
            Authority::Notation(trust) => Some(trust),
            _ => None,
        }
    }

    /// The identity Sigstore certificates must carry, when the authority is
    /// keyless or a private PKI.
    pub fn identity(&self) -> Option<&IdentityPolicy> {
        match self {
            Authority::Key(_) | Authority::Notation(_) => None,
            Authority::Keyless { identity, .. } | Authority::Certificate { identity, .. } => Some(identity),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::Matcher;

    fn identity() -> IdentityPolicy {
        IdentityPolicy::subject_only(Matcher::exact("release@acme.example"))
    }

    #[test]
    fn certificate_roots_must_be_certificates() {
        let not_pem = Authority::certificate("not pem", identity(), SigstoreRoot::PublicGood);
        assert!(matches!(
            not_pem,
            Err(AuthorityError::Roots(CertificateError::Pem { .. }))
        ));
        let key = crate::keys::SigningKey::generate().expect("key").public_key().to_pem();
        let a_key = Authority::certificate(&key, identity(), SigstoreRoot::PublicGood);
        assert!(matches!(
            a_key,
            Err(AuthorityError::Roots(CertificateError::Pem { .. }))
        ));
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            Authority::certificate(garbage, identity(), SigstoreRoot::PublicGood),
            Err(AuthorityError::Roots(CertificateError::Der { .. }))
        ));
    }

    #[test]
    fn accessors_name_what_is_trusted() {
        let key = crate::keys::SigningKey::generate().expect("key").public_key();
        let by_key = Authority::Key(key.clone());
        assert_eq!(by_key.key().map(PublicKey::fingerprint), Some(key.fingerprint()));
        assert!(by_key.identity().is_none());
        let keyless = Authority::Keyless {
            identity: identity(),
            root: SigstoreRoot::PublicGood,
        };
        assert!(keyless.key().is_none());
        assert_eq!(keyless.identity(), Some(&identity()));
        assert!(std::ptr::eq(SigstoreRoot::PublicGood.get(), TrustedRoot::public_good()));
    }
}
