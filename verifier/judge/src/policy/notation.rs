//! Loading a publisher of kind `notation`: a trust store (a directory of
//! PEM or DER certificates relative to the policy file, or a list of such
//! directories and files), the signing scheme and the trusted identities,
//! read and parsed once here into a [`NotationTrust`] so that judging an
//! image reads nothing.
//!
//! ```yaml
//! publishers:
//!   azure-release:
//!     notation:
//!       trustStore: notation/truststore/x509/ca/acme
//!       signingScheme: notary.x509          # default; or notary.x509.signingAuthority
//!       trustedIdentities: ["x509.subject: C=US, ST=WA, O=acme, CN=release"]   # or ["*"]
//! ```
//!
//! `trustedIdentities` has no default: trusting every certificate a store
//! vouches for must be written (`["*"]`).

use std::sync::Arc;

use super::diagnostic::Code;
use super::loader::Loader;
use super::yaml::{Node, Value};
use crate::notation::TrustStoreError;
use crate::notation::envelope::SigningScheme;
use crate::notation::trustpolicy::Identities;
use crate::verify::{Authority, NotationTrust};

/// Most certificate files one `notation` publisher's store may name.
const MAX_STORE_FILES: usize = 1000;

/// The file extensions of certificate files in a store directory, as
/// notation reads them.
const CERTIFICATE_EXTENSIONS: [&str; 3] = ["pem", "crt", "cer"];

/// A trust store as read: its label, its files (name, bytes), the span of
/// the `trustStore` field.
type Store = (String, Vec<(String, Vec<u8>)>, super::yaml::Span);

impl Loader<'_> {
    /// The `notation:` mapping of publisher `name`.
    pub(super) fn notation(&mut self, node: &Node, name: &str, what: &str) -> Option<Authority> {
        let what = format!("{what} notation");
        let fields = self.mapping(node, &what, &["trustStore", "signingScheme", "trustedIdentities"])?;
        let scheme = match fields.get("signingScheme") {
            None => Some(SigningScheme::X509),
            Some(n) => match self.string(n, &format!("{what} signingScheme"))?.as_str() {
                "notary.x509" => Some(SigningScheme::X509),
                "notary.x509.signingAuthority" => Some(SigningScheme::SigningAuthority),
                other => {
                    self.report_with_help(
                        Code::InvalidValue,
                        n.span,
                        format!("{what} signingScheme {other:?} is not a Notary Project signing scheme"),
                        "write notary.x509 (the default) or notary.x509.signingAuthority",
                    );
                    None
                }
            },
        };
        let identities = match fields.get("trustedIdentities") {
            Some(n) => self.trusted_identities(n, &what),
            None => {
                self.report_with_help(
                    Code::MissingField,
                    fields.span,
                    format!("{what} needs `trustedIdentities`"),
                    "list the signers as \"x509.subject: C=.., ST=.., O=..\" DNs, or write [\"*\"] to trust any certificate the store vouches for",
                );
                None
            }
        };
        let store = match fields.get("trustStore") {
            Some(n) => self.trust_store(n, &what),
            None => {
                self.report_with_help(
                    Code::MissingField,
                    fields.span,
                    format!("{what} needs `trustStore`"),
                    "name a directory of the CA (or signing authority) certificates, relative to the policy file",
                );
                None
            }
        };
        let (label, files, span) = store?;
        match NotationTrust::new(name, &label, scheme?, identities?, &files) {
            Ok(trust) => Some(Authority::Notation(Arc::new(trust))),
            Err(e) => {
                let why = match e {
                    TrustStoreError::File { file, reason, .. } => format!("{file}: {reason}"),
                    TrustStoreError::Empty(_) => "it holds no certificate".to_owned(),
                    other => other.to_string(),
                };
                self.report_with_help(
                    Code::InvalidTrustRoot,
                    span,
                    format!("{what} trustStore {label} is unusable: {why}"),
                    "a notation trust store holds CA or self-signed certificates, PEM or DER, in .pem, .crt or .cer files",
                );
                None
            }
        }
    }

    /// `trustedIdentities`: each entry checked on its own (so the error
    /// points at it), then the list as a whole (`*` alone, no overlaps).
    fn trusted_identities(&mut self, node: &Node, what: &str) -> Option<Identities> {
        let entries = self.string_list(node, &format!("{what} trustedIdentities"))?;
        let mut ok = true;
        for (entry, span) in &entries {
            if entry.trim() != "*"
                && let Err(e) = Identities::parse(std::slice::from_ref(entry))
            {
                ok = false;
                self.report_with_help(
                    Code::InvalidValue,
                    *span,
                    format!("{what}: {e}"),
                    "write \"x509.subject: C=US, ST=WA, O=acme, CN=release\" (C, ST and O are required) or \"*\"",
                );
            }
        }
        if !ok {
            return None;
        }
        let texts: Vec<String> = entries.into_iter().map(|(t, _)| t).collect();
        match Identities::parse(&texts) {
            Ok(identities) => Some(identities),
            Err(e) => {
                self.report(Code::InvalidValue, node.span, format!("{what}: {e}"));
                None
            }
        }
    }

    /// `trustStore`: one path or a list; each a directory (its certificate
    /// files are read) or a file. The label names it in reports; the span
    /// is the field's.
    fn trust_store(&mut self, node: &Node, what: &str) -> Option<Store> {
        let what = format!("{what} trustStore");
        let entries = match &node.value {
            Value::Seq(_) => self.string_list(node, &what)?,
            _ => vec![(self.string(node, &what)?, node.span)],
        };
        if entries.is_empty() {
            self.report(Code::InvalidValue, node.span, format!("{what} lists nothing"));
            return None;
        }
        let mut files = Vec::new();
        let mut ok = true;
        for (entry, span) in &entries {
            let path = self.base.join(entry);
            let listed = match self.files.list(&path) {
                Ok(listed) => listed,
                Err(e) => {
                    ok = false;
                    self.report(
                        Code::UnreadableFile,
                        *span,
                        format!("cannot read {what} {} ({e})", path.display()),
                    );
                    continue;
                }
            };
            let paths = match listed {
                Some(inside) => {
                    let certificates: Vec<_> = inside
                        .into_iter()
                        .filter(|p| {
                            p.extension()
                                .and_then(|e| e.to_str())
                                .is_some_and(|e| CERTIFICATE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
                        })
                        .collect();
                    if certificates.is_empty() {
                        ok = false;
                        self.report_with_help(
                            Code::InvalidTrustRoot,
                            *span,
                            format!("{what} {} holds no .pem, .crt or .cer file", path.display()),
                            "put the CA certificates the signatures chain to in it",
                        );
                        continue;
                    }
                    certificates
                }
                None => vec![path],
            };
            for file in paths {
                if files.len() >= MAX_STORE_FILES {
                    self.report(
                        Code::InvalidTrustRoot,
                        *span,
                        format!("{what} names more than {MAX_STORE_FILES} certificate files"),
                    );
                    return None;
                }
                match self.files.read(&file) {
                    Ok(bytes) => files.push((file.display().to_string(), bytes)),
                    Err(e) => {
                        ok = false;
                        self.report(
                            Code::UnreadableFile,
                            *span,
                            format!("cannot read {what} {} ({e})", file.display()),
                        );
                    }
                }
            }
        }
        let label = entries.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>().join(", ");
        ok.then_some((label, files, node.span))
    }
}
