//! `trustedIdentities` entries: `*`, or `x509.subject:` followed by a
//! distinguished name whose listed attributes must all equal the signing
//! certificate's (trust-store-trust-policy.md, "Trusted Identities
//! Constraints").
//!
//! The DN is comma-separated `TYPE=value` pairs; `\,`, `\;`, `\\`, `\+`,
//! `\=` and `\ ` escape. `S` is a synonym of `ST`. Each identity must name
//! C, ST and O; a type may appear once; multi-valued RDNs (`+`) are
//! refused. Values compare exactly (case-sensitive), as notation does.

use const_oid::ObjectIdentifier;

/// Attribute types a trusted identity may name: (short name, OID).
const TYPES: [(&str, &str); 10] = [
    ("C", "2.5.4.6"),
    ("ST", "2.5.4.8"),
    ("L", "2.5.4.7"),
    ("O", "2.5.4.10"),
    ("OU", "2.5.4.11"),
    ("CN", "2.5.4.3"),
    ("SERIALNUMBER", "2.5.4.5"),
    ("STREET", "2.5.4.9"),
    ("POSTALCODE", "2.5.4.17"),
    ("EMAILADDRESS", "1.2.840.113549.1.9.1"),
];

/// The short name of a subject attribute type sigil knows.
pub fn short_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    let text = oid.to_string();
    TYPES.iter().find(|(_, o)| *o == text).map(|(n, _)| *n)
}

/// A distinguished name from a trust policy: attributes that must all be
/// present, each with exactly this value, in the signing certificate's subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectDn {
    attributes: Vec<(String, String)>,
    text: String,
}

impl SubjectDn {
    /// Parses the text after `x509.subject:`.
    pub fn parse(text: &str) -> Result<SubjectDn, String> {
        let mut attributes: Vec<(String, String)> = Vec::new();
        for part in split_unescaped(text)? {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{text:?}: {part:?} is not TYPE=value"))?;
            let name = name.trim().to_ascii_uppercase();
            let name = if name == "S" { "ST".to_owned() } else { name };
            if !TYPES.iter().any(|(n, _)| *n == name) {
                return Err(format!("{text:?}: unsupported attribute type {name:?}"));
            }
            let value = unescape(value.trim_start())?;
            if value.is_empty() {
                return Err(format!("{text:?}: {name} has an empty value"));
            }
            if attributes.iter().any(|(n, _)| *n == name) {
                return Err(format!("{text:?}: {name} appears twice"));
            }
            attributes.push((name, value));
        }
        for required in ["C", "ST", "O"] {
            if !attributes.iter().any(|(n, _)| n == required) {
                return Err(format!(
                    "{text:?}: a trusted identity must name C, ST (or S) and O; {required} is missing"
                ));
            }
        }
        Ok(SubjectDn {
            attributes,
            text: text.trim().to_owned(),
        })
    }

    /// True when every listed attribute appears exactly once in `subject`
    /// with the same value.
    pub fn matches(&self, subject: &[(String, String)]) -> bool {
        self.attributes.iter().all(|(name, value)| {
            let mut found = subject.iter().filter(|(n, _)| n == name);
            matches!((found.next(), found.next()), (Some((_, v)), None) if v == value)
        })
    }

    /// True when one certificate could match both (every type both name
    /// has the same value in each): the specification calls such entries
    /// overlapping and the policy invalid.
    pub fn overlaps(&self, other: &SubjectDn) -> bool {
        self.attributes.iter().all(|(name, value)| {
            other
                .attributes
                .iter()
                .find(|(n, _)| n == name)
                .is_none_or(|(_, v)| v == value)
        })
    }

    /// The DN as the policy wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Splits at unescaped commas; refuses an unescaped `+` or `;`.
fn split_unescaped(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            '+' | ';' => {
                return Err(format!(
                    "{text:?}: unescaped {c:?} (multi-valued RDNs are not supported)"
                ));
            }
            _ => {}
        }
    }
    if escaped {
        return Err(format!("{text:?}: ends with a lone backslash"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Removes escapes and unescaped trailing spaces.
fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut keep = 0; // length of `out` that trailing-space trimming must keep
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let next = chars.next().ok_or("lone backslash")?;
            out.push(next);
            keep = out.len();
        } else {
            out.push(c);
            if c != ' ' {
                keep = out.len();
            }
        }
    }
    out.truncate(keep);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn listed_attributes_must_all_match() {
        let dn = SubjectDn::parse(" CN=e2e,O=Notary,L=Seattle,ST=WA,C=US").expect("dn");
        let leaf = subject(&[
            ("C", "US"),
            ("ST", "WA"),
            ("L", "Seattle"),
            ("O", "Notary"),
            ("CN", "e2e"),
        ]);
        assert!(dn.matches(&leaf));
        let other = subject(&[
            ("C", "US"),
            ("ST", "WA"),
            ("L", "Seattle"),
            ("O", "Notary"),
            ("CN", "e2f"),
        ]);
        assert!(!dn.matches(&other));
        let partial = SubjectDn::parse("C=US, S=WA, O=Notary").expect("dn");
        assert!(partial.matches(&leaf));
        assert!(!partial.matches(&subject(&[("C", "US"), ("ST", "WA")])));
        // Case matters, as in notation.
        assert!(!SubjectDn::parse("C=US,ST=WA,O=notary").expect("dn").matches(&leaf));
        // A type the leaf holds twice matches nothing.
        let twice = subject(&[("C", "US"), ("ST", "WA"), ("O", "Notary"), ("O", "Other")]);
        assert!(!partial.matches(&twice));
    }

    #[test]
    fn malformed_identities_are_refused() {
        for bad in [
            "CN=e2e",
            "C=US,ST=WA",
            "C=US,ST=WA,O=x,O=y",
            "C=US,ST=WA,O=x,XX=y",
            "C=US,ST=WA,O=x+CN=y",
            "C=US,ST=WA,O=",
            "C=US,ST=WA,O=x\\",
            "C=US;ST=WA,O=x",
            "garbage",
        ] {
            assert!(SubjectDn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn escapes_are_values() {
        let dn = SubjectDn::parse("C=US,ST=WA,O=Acme\\, Inc.,CN=\\ x\\ ").expect("dn");
        assert!(dn.matches(&subject(&[
            ("C", "US"),
            ("ST", "WA"),
            ("O", "Acme, Inc."),
            ("CN", " x ")
        ])));
    }

    #[test]
    fn overlap_is_a_shared_possible_certificate() {
        let a = SubjectDn::parse("C=US,ST=WA,O=wabbit,OU=org1").expect("a");
        let b = SubjectDn::parse("C=US,ST=WA,O=wabbit").expect("b");
        let c = SubjectDn::parse("C=US,ST=WA,O=wabbit,OU=org2").expect("c");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }
}
