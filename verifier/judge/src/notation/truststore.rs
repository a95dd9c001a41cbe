//! Named trust stores (`truststore/x509/{ca,signingAuthority,tsa}/NAME/`),
//! their certificate files handed in as bytes by the front end.
//!
//! A file holds one DER certificate or one or more PEM `CERTIFICATE`
//! blocks. Every certificate must be a CA certificate or self-signed (a
//! store holds roots; a leaf that is neither would let its key vouch for
//! anything). A store named by a policy that is missing or empty is an
//! error when it is used, not a failed signature: the configuration is
//! broken.

use std::collections::BTreeMap;

use super::certs;
use super::trustpolicy::StoreRef;
use crate::sigstore::Certificate;

/// Most certificates one store may hold.
pub const MAX_CERTIFICATES: usize = 1000;

/// Why a store cannot be used.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustStoreError {
    /// A certificate file is unreadable as PEM or DER.
    #[error("trust store {store}: {file}: {reason}")]
    File {
        /// The store.
        store: StoreRef,
        /// The file name.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The store named by the policy holds nothing (or does not exist).
    #[error("trust store {0} has no certificates (or does not exist)")]
    Empty(StoreRef),
    /// Too many certificates.
    #[error("trust store {0} holds more than {MAX_CERTIFICATES} certificates")]
    TooMany(StoreRef),
}

/// The named stores, parsed.
#[derive(Clone, Debug, Default)]
pub struct TrustStores {
    stores: BTreeMap<StoreRef, Vec<Certificate>>,
}

impl TrustStores {
    /// No stores.
    pub fn new() -> TrustStores {
        TrustStores::default()
    }

    /// Declares a store (so an empty directory is known to exist).
    pub fn declare(&mut self, store: &StoreRef) {
        self.stores.entry(store.clone()).or_default();
    }

    /// Adds the certificates of one file of `store`.
    pub fn add_file(&mut self, store: &StoreRef, file: &str, bytes: &[u8]) -> Result<(), TrustStoreError> {
        let bad = |reason: String| TrustStoreError::File {
            store: store.clone(),
            file: file.to_owned(),
            reason,
        };
        let certificates = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("PEM file is not UTF-8".into()))?;
            Certificate::from_pem_chain(text).map_err(|e| bad(e.to_string()))?
        } else {
            vec![Certificate::from_der(bytes).map_err(|e| bad(e.to_string()))?]
        };
        for cert in &certificates {
            if !certs::is_anchor_shaped(cert).map_err(&bad)? {
                return Err(bad(format!(
                    "certificate {:?} is neither a CA certificate nor self-signed",
                    certs::subject_text(cert)
                )));
            }
        }
        let entry = self.stores.entry(store.clone()).or_default();
        entry.extend(certificates);
        if entry.len() > MAX_CERTIFICATES {
            return Err(TrustStoreError::TooMany(store.clone()));
        }
        Ok(())
    }

    /// The certificates of `store`; an error when it holds none.
    pub fn get(&self, store: &StoreRef) -> Result<&[Certificate], TrustStoreError> {
        match self.stores.get(store) {
            Some(certs) if !certs.is_empty() => Ok(certs),
            _ => Err(TrustStoreError::Empty(store.clone())),
        }
    }
}
