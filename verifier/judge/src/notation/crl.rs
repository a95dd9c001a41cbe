//! Offline revocation for Notary Project chains: CRL files the user hands
//! in (`sigil verify --notation-crl FILE`), never fetched, and no OCSP.
//!
//! Each certificate of the signing chain whose issuer has a CRL among the
//! files is checked: the CRL must be signed by that issuer's key (the next
//! certificate of the chain or a trust-store certificate of that name), be
//! current (`thisUpdate <= now <= nextUpdate`; a CRL without `nextUpdate`
//! is refused), and a listed serial means revoked, with notation-core-go's
//! exceptions: an entry whose `invalidityDate` lies after the proven
//! signing time (authentic signing time, or an RFC 3161 timestamp) did not
//! revoke the signature, and `certificateHold` is undone by a later
//! `removeFromCRL`. A certificate whose issuer has no CRL among the files is
//! not checked; when no certificate of the chain could be, the check is
//! reported as not performed. Delta, indirect and partitioned CRLs are
//! refused when read (unknown critical extensions), as RFC 5280 asks.
//!
//! The same check runs on a verified timestamp's TSA chain (its
//! certificates and the `tsa` stores), as notation checks it; a revoked
//! TSA fails the authentic-timestamp validation.

use const_oid::ObjectIdentifier;
use der::{Decode as _, Encode as _};
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::{CrlReason, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use super::certs;
use super::verify::CheckResult;
use crate::sigstore::Certificate;

/// Most CRL files.
pub const MAX_CRLS: usize = 100;
/// Most entries one CRL may list.
pub const MAX_ENTRIES: usize = 1_000_000;

const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const CRL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.20");
const AUTHORITY_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const REASON_CODE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.21");
const INVALIDITY_DATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.24");

/// Why a CRL file is refused.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CrlError {
    /// The file is not a CRL sigil can use.
    #[error("CRL file {file}: {reason}")]
    File {
        /// The file name.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// Too many files.
    #[error("more than {MAX_CRLS} CRL files")]
    TooMany,
}

#[derive(Clone, Debug)]
struct Entry {
    serial: SerialNumber,
    revoked_at: OffsetDateTime,
    reason: Option<CrlReason>,
    invalidity: Option<OffsetDateTime>,
}

#[derive(Clone, Debug)]
struct Crl {
    file: String,
    list: CertificateList,
    tbs: Vec<u8>,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    entries: Vec<Entry>,
}

/// The CRL files given, parsed (their signatures are checked against the
/// chain being judged, since only it says who the issuer is).
#[derive(Clone, Debug, Default)]
pub struct Crls {
    lists: Vec<Crl>,
}

impl Crls {
    /// No CRLs: revocation is not checked.
    pub fn new() -> Crls {
        Crls::default()
    }

    /// True when no CRL was given.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Adds the CRLs of one file: one DER CRL, or PEM `X509 CRL` blocks.
    pub fn add_file(&mut self, file: &str, bytes: &[u8]) -> Result<(), CrlError> {
        let bad = |reason: String| CrlError::File {
            file: file.to_owned(),
            reason,
        };
        let ders = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
            let text = std::str::from_utf8(bytes).map_err(|_| bad("PEM file is not UTF-8".into()))?;
            pem_blocks(text).map_err(&bad)?
        } else {
            vec![bytes.to_vec()]
        };
        for der in ders {
            if self.lists.len() >= MAX_CRLS {
                return Err(CrlError::TooMany);
            }
            self.lists.push(parse(file, &der).map_err(&bad)?);
        }
        Ok(())
    }
}

fn pem_blocks(text: &str) -> Result<Vec<Vec<u8>>, String> {
    const END: &str = "-----END X509 CRL-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end = block
            .find(END)
            .ok_or("a PEM block is not an X509 CRL or is not closed")?
            + END.len();
        let (label, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..end]).map_err(|e| format!("PEM: {e}"))?;
        if label != "X509 CRL" {
            return Err(format!("a PEM block is labelled {label:?}, not X509 CRL"));
        }
        out.push(der);
        if out.len() > MAX_CRLS {
            return Err(format!("more than {MAX_CRLS} CRLs"));
        }
        rest = &block[end..];
    }
    if out.is_empty() {
        return Err("no X509 CRL PEM block".into());
    }
    Ok(out)
}

fn parse(file: &str, der: &[u8]) -> Result<Crl, String> {
    let list = CertificateList::from_der(der).map_err(|e| format!("not a DER CRL: {e}"))?;
    let tbs_list = &list.tbs_cert_list;
    if tbs_list.signature != list.signature_algorithm {
        return Err("the CRL's two signature algorithm fields differ".into());
    }
    for ext in tbs_list.crl_extensions.iter().flatten() {
        if ext.critical && ext.extn_id != CRL_NUMBER && ext.extn_id != AUTHORITY_KEY_ID {
            return Err(format!(
                "unsupported critical CRL extension {} (delta, indirect and partitioned CRLs are not supported)",
                ext.extn_id
            ));
        }
    }
    let revoked = tbs_list.revoked_certificates.as_deref().unwrap_or_default();
    if revoked.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    let mut entries = Vec::with_capacity(revoked.len());
    for r in revoked {
        let mut entry = Entry {
            serial: r.serial_number.clone(),
            revoked_at: certs::time(&r.revocation_date)?,
            reason: None,
            invalidity: None,
        };
        for ext in r.crl_entry_extensions.iter().flatten() {
            if ext.extn_id == REASON_CODE {
                entry.reason =
                    Some(CrlReason::from_der(ext.extn_value.as_bytes()).map_err(|e| format!("reason code: {e}"))?);
            } else if ext.extn_id == INVALIDITY_DATE {
                let date = der::asn1::GeneralizedTime::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| format!("invalidity date: {e}"))?;
                entry.invalidity = Some(certs::time(&x509_cert::time::Time::GeneralTime(date))?);
            } else if ext.critical {
                return Err(format!("unsupported critical CRL entry extension {}", ext.extn_id));
            }
        }
        entries.push(entry);
    }
    Ok(Crl {
        file: file.to_owned(),
        tbs: tbs_list.to_der().map_err(|e| e.to_string())?,
        this_update: certs::time(&tbs_list.this_update)?,
        next_update: tbs_list.next_update.as_ref().map(certs::time).transpose()?,
        entries,
        list,
    })
}

/// The revocation check of `chain` (leaf first) under `crls`, the chain's
/// trust anchors being among `roots`; `proven` is the time the signature
/// is proven to have existed by, when there is one.
pub(crate) fn check(
    crls: &Crls,
    chain: &[Certificate],
    roots: &[Certificate],
    now: OffsetDateTime,
    proven: Option<OffsetDateTime>,
) -> CheckResult {
    match check_chain(crls, chain, roots, now, proven) {
        Ok(0) => CheckResult::NotPerformed(
            "no --notation-crl file is issued by a certificate authority of this chain".into(),
        ),
        Ok(_) => CheckResult::Passed,
        Err(reason) => CheckResult::Failed(reason),
    }
}

fn check_chain(
    crls: &Crls,
    chain: &[Certificate],
    roots: &[Certificate],
    now: OffsetDateTime,
    proven: Option<OffsetDateTime>,
) -> Result<usize, String> {
    let parsed = chain
        .iter()
        .map(|c| x509_cert::Certificate::from_der(c.der()).map_err(|e| format!("malformed certificate: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let anchors: Vec<x509_cert::Certificate> = roots
        .iter()
        .filter_map(|c| x509_cert::Certificate::from_der(c.der()).ok())
        .collect();
    let mut checked = 0;
    for (i, cert) in parsed.iter().enumerate() {
        let tbs = &cert.tbs_certificate;
        if tbs.subject == tbs.issuer {
            // A self-issued certificate (a root) is not revoked by a CRL.
            continue;
        }
        let lists: Vec<&Crl> = crls
            .lists
            .iter()
            .filter(|l| l.list.tbs_cert_list.issuer == tbs.issuer)
            .collect();
        if lists.is_empty() {
            continue;
        }
        let subject = tbs.subject.to_string();
        // The issuer: another certificate of the chain (in any order: a
        // timestamp token's certificates are a set) or a store certificate.
        let issuers: Vec<&x509_cert::Certificate> = parsed
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, c)| c)
            .chain(anchors.iter())
            .filter(|c| c.tbs_certificate.subject == tbs.issuer)
            .collect();
        for list in lists {
            check_signature(list, &tbs.issuer, &issuers)?;
            if now < list.this_update {
                return Err(format!("CRL {} is not valid before {}", list.file, list.this_update));
            }
            match list.next_update {
                None => return Err(format!("CRL {} has no nextUpdate", list.file)),
                Some(next) if now > next => {
                    return Err(format!("CRL {} expired at {next} (its nextUpdate)", list.file));
                }
                Some(_) => {}
            }
            if let Some(entry) = revoked(list, &tbs.serial_number, proven) {
                return Err(format!(
                    "certificate {subject:?} is revoked (CRL {}, revoked at {})",
                    list.file, entry.revoked_at
                ));
            }
        }
        checked += 1;
    }
    Ok(checked)
}

fn check_signature(list: &Crl, issuer_name: &Name, issuers: &[&x509_cert::Certificate]) -> Result<(), String> {
    if issuers.is_empty() {
        return Err(format!(
            "CRL {}: its issuer {issuer_name} is neither in the chain nor in the trust store",
            list.file
        ));
    }
    let mut last = String::new();
    for issuer in issuers {
        let key_usage = issuer
            .tbs_certificate
            .extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == KEY_USAGE)
            .map(|e| KeyUsage::from_der(e.extn_value.as_bytes()));
        match key_usage {
            Some(Ok(ku)) if !ku.0.contains(KeyUsages::CRLSign) => {
                last = format!("CRL {}: its issuer's key usage lacks cRLSign", list.file);
                continue;
            }
            Some(Err(e)) => {
                last = format!("CRL {}: its issuer's key usage: {e}", list.file);
                continue;
            }
            _ => {}
        }
        let signature = list.list.signature.as_bytes().ok_or("CRL signature has unused bits")?;
        match certs::verify_signed_by(
            &issuer.tbs_certificate.subject_public_key_info,
            &list.list.signature_algorithm,
            None,
            &list.tbs,
            signature,
        ) {
            Ok(()) => return Ok(()),
            Err(e) => last = format!("CRL {} does not verify under its issuer's key: {e}", list.file),
        }
    }
    Err(last)
}

/// The entry revoking `serial`, if it stands.
fn revoked<'a>(list: &'a Crl, serial: &SerialNumber, proven: Option<OffsetDateTime>) -> Option<&'a Entry> {
    let mut hold: Option<&Entry> = None;
    for entry in list.entries.iter().filter(|e| &e.serial == serial) {
        if let (Some(proven), Some(invalidity)) = (proven, entry.invalidity)
            && proven < invalidity
        {
            // The key became invalid after the signature was made.
            continue;
        }
        match entry.reason {
            Some(CrlReason::CertificateHold) | Some(CrlReason::RemoveFromCRL) => {
                if hold.is_none_or(|h| h.revoked_at < entry.revoked_at) {
                    hold = Some(entry);
                }
            }
            _ => return Some(entry),
        }
    }
    hold.filter(|h| h.reason == Some(CrlReason::CertificateHold))
}

#[cfg(test)]
mod tests;
