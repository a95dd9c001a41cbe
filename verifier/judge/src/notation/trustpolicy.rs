//! The OCI trust policy document (`trustpolicy.oci.json`, else
//! `trustpolicy.json`): parsed and validated once, then asked which policy
//! statement judges a repository.
//!
//! Validation follows trust-store-trust-policy.md and refuses what
//! notation refuses: a version other than `1.0`, duplicate statement
//! names, a global scope `*` mixed with repositories or used twice, a
//! repository scope in two statements, an `override` of `integrity` or of a
//! `skip` level, trust stores of unknown types, `*` mixed with other
//! identities, overlapping identities. Unknown fields are errors (a typo
//! must not silently weaken a policy).

use std::collections::BTreeSet;

use serde::Deserialize;

use super::identity::SubjectDn;

/// The verification levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Every validation enforced.
    Strict,
    /// Integrity and authenticity enforced; the rest logged.
    Permissive,
    /// Integrity enforced; the rest logged.
    Audit,
    /// Nothing verified.
    Skip,
}

impl Level {
    /// The level's name.
    pub fn name(self) -> &'static str {
        match self {
            Level::Strict => "strict",
            Level::Permissive => "permissive",
            Level::Audit => "audit",
            Level::Skip => "skip",
        }
    }
}

/// What a failed validation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The signature fails.
    Enforce,
    /// The failure is reported; the signature may still pass.
    Log,
    /// The validation is not performed.
    Skip,
}

impl Action {
    /// The action's name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Enforce => "enforce",
            Action::Log => "log",
            Action::Skip => "skip",
        }
    }
}

/// When a timestamp countersignature is verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyTimestamp {
    /// Whenever a `tsa` store is configured (the default).
    Always,
    /// Only when a certificate of the chain has expired.
    AfterCertExpiry,
}

/// The action of each validation, after the level and its overrides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verification {
    /// The level named.
    pub level: Level,
    /// Chain to the trust store and trusted identity.
    pub authenticity: Action,
    /// Chain validity at the (authentic) time.
    pub authentic_timestamp: Action,
    /// `io.cncf.notary.expiry`.
    pub expiry: Action,
    /// Revocation of the chain.
    pub revocation: Action,
    /// When a timestamp is verified.
    pub verify_timestamp: VerifyTimestamp,
}

/// The type of a named trust store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StoreType {
    /// `x509/ca`: roots of `notary.x509` signatures.
    Ca,
    /// `x509/signingAuthority`: roots of `notary.x509.signingAuthority` signatures.
    SigningAuthority,
    /// `x509/tsa`: roots of timestamping authorities.
    Tsa,
}

impl StoreType {
    /// The directory name under `truststore/x509/`, as policies write it.
    pub fn name(self) -> &'static str {
        match self {
            StoreType::Ca => "ca",
            StoreType::SigningAuthority => "signingAuthority",
            StoreType::Tsa => "tsa",
        }
    }
}

/// A named trust store, `TYPE:NAME`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreRef {
    /// The type.
    pub kind: StoreType,
    /// The name (a directory under `truststore/x509/TYPE/`).
    pub name: String,
}

impl std::fmt::Display for StoreRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.name)
    }
}

/// Who may have signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identities {
    /// Any certificate that chains to the stores.
    Any,
    /// One of these subjects.
    Subjects(Vec<SubjectDn>),
}

impl Identities {
    /// Parses `trustedIdentities` entries: `*` alone, or `x509.subject:` DNs
    /// of which no two overlap. An empty list is refused.
    pub fn parse(entries: &[String]) -> Result<Identities, String> {
        if entries.is_empty() {
            return Err("trustedIdentities is empty".into());
        }
        if entries.iter().any(|i| i.trim() == "*") {
            if entries.len() != 1 {
                return Err("the wildcard identity \"*\" must be the only trusted identity".into());
            }
            return Ok(Identities::Any);
        }
        let mut subjects: Vec<SubjectDn> = Vec::new();
        for text in entries {
            let dn = text
                .split_once(':')
                .filter(|(prefix, _)| prefix.trim() == "x509.subject")
                .ok_or_else(|| format!("trusted identity {text:?} is not \"*\" or x509.subject: DN"))?
                .1;
            let dn = SubjectDn::parse(dn).map_err(|e| format!("trusted identity {e}"))?;
            if let Some(other) = subjects.iter().find(|s| s.overlaps(&dn)) {
                return Err(format!(
                    "trusted identities {:?} and {:?} overlap",
                    other.text(),
                    dn.text()
                ));
            }
            subjects.push(dn);
        }
        Ok(Identities::Subjects(subjects))
    }
}

/// Which repositories a statement judges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scopes {
    /// `*`: every artifact no other statement names.
    Global,
    /// These fully qualified repositories.
    Repositories(Vec<String>),
}

/// One trust policy statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicy {
    /// Its name.
    pub name: String,
    /// What it judges.
    pub scopes: Scopes,
    /// How strictly.
    pub verification: Verification,
    /// The named stores (empty for `skip`).
    pub trust_stores: Vec<StoreRef>,
    /// The trusted identities (`Any` for `skip`).
    pub identities: Identities,
}

/// A validated trust policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustPolicyDocument {
    /// The statements, in file order.
    pub policies: Vec<TrustPolicy>,
}

/// Why a trust policy document is unusable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum TrustPolicyError {
    /// Not JSON of the document's shape.
    #[error("malformed trust policy: {0}")]
    Malformed(String),
    /// A constraint of the specification is broken.
    #[error("invalid trust policy{}: {reason}", .policy.as_ref().map(|p| format!(" statement {p:?}")).unwrap_or_default())]
    Invalid {
        /// The statement, when one is at fault.
        policy: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDocument {
    version: String,
    trust_policies: Vec<RawPolicy>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy {
    name: String,
    registry_scopes: Vec<String>,
    signature_verification: RawVerification,
    #[serde(default)]
    trust_stores: Vec<String>,
    #[serde(default)]
    trusted_identities: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawVerification {
    level: String,
    #[serde(default)]
    r#override: std::collections::BTreeMap<String, String>,
    verify_timestamp: Option<String>,
}

/// Most statements in one document.
const MAX_POLICIES: usize = 1000;

impl TrustPolicyDocument {
    /// Parses and validates a trust policy document.
    pub fn parse(bytes: &[u8]) -> Result<TrustPolicyDocument, TrustPolicyError> {
        let raw: RawDocument = serde_json::from_slice(bytes).map_err(|e| TrustPolicyError::Malformed(e.to_string()))?;
        let invalid = |policy: Option<&str>, reason: String| TrustPolicyError::Invalid {
            policy: policy.map(str::to_owned),
            reason,
        };
        if raw.version != "1.0" {
            return Err(invalid(
                None,
                format!("version {:?} is not supported (1.0 is)", raw.version),
            ));
        }
        if raw.trust_policies.is_empty() {
            return Err(invalid(None, "it has no trust policy statements".into()));
        }
        if raw.trust_policies.len() > MAX_POLICIES {
            return Err(invalid(None, format!("more than {MAX_POLICIES} statements")));
        }
        let mut names = BTreeSet::new();
        let mut scopes_seen = BTreeSet::new();
        let mut policies = Vec::new();
        for raw_policy in raw.trust_policies {
            let policy = statement(raw_policy).map_err(|(name, reason)| invalid(Some(&name), reason))?;
            if !names.insert(policy.name.clone()) {
                return Err(invalid(Some(&policy.name), "two statements have this name".into()));
            }
            let scope_keys: Vec<String> = match &policy.scopes {
                Scopes::Global => vec!["*".to_owned()],
                Scopes::Repositories(repos) => repos.clone(),
            };
            for scope in scope_keys {
                if !scopes_seen.insert(scope.clone()) {
                    return Err(invalid(
                        Some(&policy.name),
                        format!("registry scope {scope:?} appears in more than one statement"),
                    ));
                }
            }
            policies.push(policy);
        }
        Ok(TrustPolicyDocument { policies })
    }

    /// The statement that judges `repository` (`REGISTRY/REPO`, as the
    /// image is named after normalisation): the one whose scopes name it
    /// exactly, else the global one. `None` (an OCI layout) is judged by
    /// the global statement only. No statement means untrusted.
    pub fn select(&self, repository: Option<&str>) -> Option<&TrustPolicy> {
        if let Some(repository) = repository {
            let exact = self
                .policies
                .iter()
                .find(|p| matches!(&p.scopes, Scopes::Repositories(r) if r.iter().any(|s| s == repository)));
            if exact.is_some() {
                return exact;
            }
        }
        self.policies.iter().find(|p| p.scopes == Scopes::Global)
    }

    /// Every store any statement names.
    pub fn stores(&self) -> BTreeSet<StoreRef> {
        self.policies
            .iter()
            .flat_map(|p| p.trust_stores.iter().cloned())
            .collect()
    }
}

fn statement(raw: RawPolicy) -> Result<TrustPolicy, (String, String)> {
    let name = raw.name.clone();
    let fail = |reason: String| (name.clone(), reason);
    if raw.name.trim().is_empty() {
        return Err(fail("a statement has an empty name".into()));
    }
    let scopes = if raw.registry_scopes.is_empty() {
        return Err(fail("registryScopes is empty".into()));
    } else if raw.registry_scopes.iter().any(|s| s == "*") {
        if raw.registry_scopes.len() != 1 {
            return Err(fail("the global scope \"*\" must be the only registry scope".into()));
        }
        Scopes::Global
    } else {
        for scope in &raw.registry_scopes {
            check_scope(scope).map_err(&fail)?;
        }
        let unique: BTreeSet<&String> = raw.registry_scopes.iter().collect();
        if unique.len() != raw.registry_scopes.len() {
            return Err(fail("a registry scope is listed twice".into()));
        }
        Scopes::Repositories(raw.registry_scopes.clone())
    };
    let verification = verification(&raw.signature_verification).map_err(&fail)?;
    if verification.level == Level::Skip {
        if !raw.trust_stores.is_empty() || !raw.trusted_identities.is_empty() {
            return Err(fail(
                "a skip level must not name trustStores or trustedIdentities".into(),
            ));
        }
        return Ok(TrustPolicy {
            name: raw.name,
            scopes,
            verification,
            trust_stores: Vec::new(),
            identities: Identities::Any,
        });
    }
    if raw.trust_stores.is_empty() {
        return Err(fail("trustStores is empty".into()));
    }
    let mut trust_stores = Vec::new();
    for text in &raw.trust_stores {
        let store = parse_store(text).map_err(&fail)?;
        if trust_stores.contains(&store) {
            return Err(fail(format!("trust store {text:?} is listed twice")));
        }
        trust_stores.push(store);
    }
    if raw.trusted_identities.is_empty() {
        return Err(fail("trustedIdentities is empty".into()));
    }
    let identities = Identities::parse(&raw.trusted_identities).map_err(&fail)?;
    Ok(TrustPolicy {
        name: raw.name,
        scopes,
        verification,
        trust_stores,
        identities,
    })
}

/// A repository scope: `REGISTRY/REPO` without scheme, tag or digest.
fn check_scope(scope: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "registry scope {scope:?} is not a fully qualified repository (REGISTRY/REPOSITORY, no scheme, tag or wildcard)"
        )
    };
    let (host, path) = scope.split_once('/').ok_or_else(bad)?;
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let path_ok = !path.is_empty()
        && path.split('/').all(|component| {
            !component.is_empty()
                && component
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        });
    if host_ok && path_ok { Ok(()) } else { Err(bad()) }
}

fn parse_store(text: &str) -> Result<StoreRef, String> {
    let (kind, name) = text
        .split_once(':')
        .ok_or_else(|| format!("trust store {text:?} is not TYPE:NAME"))?;
    let kind = match kind {
        "ca" => StoreType::Ca,
        "signingAuthority" => StoreType::SigningAuthority,
        "tsa" => StoreType::Tsa,
        other => return Err(format!("trust store type {other:?} is not ca, signingAuthority or tsa")),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && name != "."
        && name != "..";
    if !name_ok {
        return Err(format!(
            "trust store name {name:?} must be letters, digits, '_', '-' or '.'"
        ));
    }
    Ok(StoreRef {
        kind,
        name: name.to_owned(),
    })
}

fn verification(raw: &RawVerification) -> Result<Verification, String> {
    use Action::{Enforce, Log, Skip};
    let level = match raw.level.as_str() {
        "strict" => Level::Strict,
        "permissive" => Level::Permissive,
        "audit" => Level::Audit,
        "skip" => Level::Skip,
        other => {
            return Err(format!(
                "verification level {other:?} is not strict, permissive, audit or skip"
            ));
        }
    };
    let (authenticity, authentic_timestamp, expiry, revocation) = match level {
        Level::Strict => (Enforce, Enforce, Enforce, Enforce),
        Level::Permissive => (Enforce, Log, Log, Log),
        Level::Audit => (Log, Log, Log, Log),
        Level::Skip => (Skip, Skip, Skip, Skip),
    };
    let mut v = Verification {
        level,
        authenticity,
        authentic_timestamp,
        expiry,
        revocation,
        verify_timestamp: match raw.verify_timestamp.as_deref() {
            None | Some("always") => VerifyTimestamp::Always,
            Some("afterCertExpiry") => VerifyTimestamp::AfterCertExpiry,
            Some(other) => return Err(format!("verifyTimestamp {other:?} is not always or afterCertExpiry")),
        },
    };
    if level == Level::Skip && !raw.r#override.is_empty() {
        return Err("a skip level cannot be overridden".into());
    }
    for (key, value) in &raw.r#override {
        let action = match value.as_str() {
            "enforce" => Enforce,
            "log" => Log,
            "skip" => Skip,
            other => return Err(format!("override value {other:?} is not enforce, log or skip")),
        };
        let slot = match key.as_str() {
            "integrity" => return Err("\"integrity\" verification can not be overridden".into()),
            "authenticity" => &mut v.authenticity,
            "authenticTimestamp" => &mut v.authentic_timestamp,
            "expiry" => &mut v.expiry,
            "revocation" => &mut v.revocation,
            other => return Err(format!("override of unknown validation {other:?}")),
        };
        if action == Skip && key != "revocation" {
            return Err(format!("{key:?} cannot be skipped (only revocation can)"));
        }
        *slot = action;
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(policies: &str) -> Result<TrustPolicyDocument, TrustPolicyError> {
        TrustPolicyDocument::parse(format!(r#"{{"version":"1.0","trustPolicies":[{policies}]}}"#).as_bytes())
    }

    const GLOBAL: &str = r#"{"name":"g","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#;
    const EXACT: &str = r#"{"name":"x","registryScopes":["localhost:5000/test-repo"],"signatureVerification":{"level":"audit"},"trustStores":["ca:other"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Notary"]}"#;

    #[test]
    fn exact_scope_wins_over_global_and_layouts_get_global() {
        let d = doc(&format!("{GLOBAL},{EXACT}")).expect("valid");
        assert_eq!(
            d.select(Some("localhost:5000/test-repo")).map(|p| p.name.as_str()),
            Some("x")
        );
        assert_eq!(
            d.select(Some("localhost:5000/other")).map(|p| p.name.as_str()),
            Some("g")
        );
        assert_eq!(d.select(None).map(|p| p.name.as_str()), Some("g"));
        let only_exact = doc(EXACT).expect("valid");
        assert!(only_exact.select(Some("localhost:5000/other")).is_none());
        assert!(only_exact.select(None).is_none());
        assert_eq!(d.stores().len(), 2);
    }

    #[test]
    fn levels_and_overrides() {
        let d = doc(EXACT).expect("valid");
        let v = d.policies[0].verification;
        assert_eq!((v.authenticity, v.expiry), (Action::Log, Action::Log));
        let o = doc(r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"permissive","override":{"expiry":"enforce","revocation":"skip"}},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#).expect("valid");
        let v = o.policies[0].verification;
        assert_eq!(
            (v.authenticity, v.authentic_timestamp, v.expiry, v.revocation),
            (Action::Enforce, Action::Log, Action::Enforce, Action::Skip)
        );
        let skip =
            doc(r#"{"name":"s","registryScopes":["*"],"signatureVerification":{"level":"skip"}}"#).expect("valid");
        assert_eq!(skip.policies[0].verification.level, Level::Skip);
    }

    #[test]
    fn invalid_documents_are_refused() {
        let bad = [
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict","override":{"integrity":"log"}},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"skip","override":{"expiry":"log"}}}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict","override":{"authenticity":"skip"}},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"lenient"},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*","a.io/b"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["localhost:5000\\test-repo"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["a.io/b:tag"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["pki:e2e"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:../x"],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":[],"trustedIdentities":["*"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":[]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*","x509.subject: C=US,ST=WA,O=x"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["x509.subject: C=US,ST=WA,O=x","x509.subject: C=US,ST=WA,O=x,CN=y"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["C=US,ST=WA,O=x"]}"#,
            r#"{"name":"o","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*"],"extra":1}"#,
            r#"{"name":"o","registryScopes":[],"signatureVerification":{"level":"strict"},"trustStores":["ca:e2e"],"trustedIdentities":["*"]}"#,
        ];
        for b in bad {
            assert!(doc(b).is_err(), "{b}");
        }
        assert!(doc(&format!("{GLOBAL},{GLOBAL}")).is_err(), "same name twice");
        assert!(
            doc(&format!("{GLOBAL},{}", GLOBAL.replace("\"g\"", "\"h\""))).is_err(),
            "two globals"
        );
        assert!(doc("").is_err(), "no statements");
        assert!(matches!(
            TrustPolicyDocument::parse(br#"{"version":"2.0","trustPolicies":[]}"#),
            Err(TrustPolicyError::Invalid { .. })
        ));
        assert!(matches!(
            TrustPolicyDocument::parse(b"{ not json"),
            Err(TrustPolicyError::Malformed(_))
        ));
    }
}
