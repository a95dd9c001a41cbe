//! The OIDC identity token keyless signing presents to Fulcio, found where
//! CI systems put it: `--identity-token` (the value, or a file holding it),
//! else `SIGSTORE_ID_TOKEN` (what GitLab's `id_tokens` sets, and what any
//! pipeline can export), else GitHub Actions' token endpoint
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` with `ACTIONS_ID_TOKEN_REQUEST_TOKEN`,
//! audience `sigstore`). sigil never opens a browser.
//!
//! The claims are read **unverified**: Fulcio verifies the token, and sigil
//! then checks the certificate Fulcio issued. They serve only to pick the
//! proof-of-possession subject (`email` when present, else `sub`, as Fulcio
//! checks it) and the identity the certificate must name.

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

use super::KeylessError;
use super::http::{self, Client};

/// The longest token accepted (GitHub's are about 1.5 KB).
const MAX_TOKEN: usize = 64 * 1024;

/// The issuer of GitHub Actions tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Where the token comes from, decided before any request is made.
#[derive(Clone, PartialEq, Eq)]
pub enum Source {
    /// `--identity-token` (a value or a file's content) or `SIGSTORE_ID_TOKEN`.
    Given { token: String, from: &'static str },
    /// GitHub Actions: the endpoint and the bearer that opens it.
    GithubActions { url: String, bearer: String },
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Given { from, .. } => write!(f, "Given({from})"),
            Source::GithubActions { .. } => f.write_str("GithubActions"),
        }
    }
}

/// Decides where the token comes from: `flag` (`--identity-token`: a
/// readable file's content, else the value itself), then the environment
/// `env` gives. `Err` names the three ways when there is none.
pub fn discover(flag: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Source, KeylessError> {
    if let Some(value) = flag {
        let path = Path::new(value);
        // A JWT never names a file, so a readable file is the token's file.
        let token = if !value.is_empty() && path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| KeylessError::Token {
                detail: format!("cannot read --identity-token file {value}: {e}"),
            })?;
            text.trim().to_owned()
        } else {
            value.trim().to_owned()
        };
        return Ok(Source::Given {
            token,
            from: "--identity-token",
        });
    }
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    if let Some(token) = set("SIGSTORE_ID_TOKEN") {
        return Ok(Source::Given {
            token: token.trim().to_owned(),
            from: "SIGSTORE_ID_TOKEN",
        });
    }
    match (set("ACTIONS_ID_TOKEN_REQUEST_URL"), set("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) {
        (Some(url), Some(bearer)) => Ok(Source::GithubActions { url, bearer }),
        (Some(_), None) => Err(KeylessError::Token {
            detail: "ACTIONS_ID_TOKEN_REQUEST_URL is set but ACTIONS_ID_TOKEN_REQUEST_TOKEN is not (give the job `permissions: id-token: write`)".into(),
        }),
        _ => Err(KeylessError::Token {
            detail: "no OIDC identity token for keyless signing: give --identity-token TOKEN|FILE, set SIGSTORE_ID_TOKEN (GitLab: id_tokens), or run in GitHub Actions with `permissions: id-token: write`; or sign with --key".into(),
        }),
    }
}

/// The token, fetched from the GitHub Actions endpoint when that is where
/// it is, and its claims read.
pub async fn obtain(source: Source, client: &Client) -> Result<IdentityToken, KeylessError> {
    let (token, from) = match source {
        Source::Given { token, from } => (token, from),
        Source::GithubActions { url, bearer } => (github_actions(&url, &bearer, client).await?, "GitHub Actions"),
    };
    IdentityToken::parse(token, from)
}

/// `GET {url}&audience=sigstore` with `Authorization: bearer ...`, answered
/// `{"value": JWT}`.
async fn github_actions(url: &str, bearer: &str, client: &Client) -> Result<String, KeylessError> {
    let mut url = http::service_url("ACTIONS_ID_TOKEN_REQUEST_URL", url)?;
    url.query_pairs_mut().append_pair("audience", "sigstore");
    let refused = |detail: String| KeylessError::Token { detail };
    let response = client
        .send(
            "the GitHub Actions token endpoint",
            client.get(url).header("Authorization", format!("bearer {bearer}")),
        )
        .await?;
    if !response.status.is_success() {
        return Err(refused(format!(
            "the GitHub Actions token endpoint answered {}: {}",
            response.status,
            response.excerpt()
        )));
    }
    let value: Value = serde_json::from_slice(&response.body)
        .map_err(|_| refused("the GitHub Actions token endpoint did not answer JSON".into()))?;
    value
        .get("value")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| refused("the GitHub Actions token endpoint's answer has no \"value\"".into()))
}

/// A token and the claims sigil reads from it (unverified, module docs).
#[derive(Clone)]
pub struct IdentityToken {
    raw: String,
    /// Where it came from, for messages.
    pub from: &'static str,
    pub claims: Claims,
}

impl std::fmt::Debug for IdentityToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityToken")
            .field("from", &self.from)
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

/// The claims that matter for signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    pub issuer: String,
    pub subject: String,
    /// `email`, when present (then also what Fulcio puts in the certificate).
    pub email: Option<String>,
    /// GitHub Actions' `job_workflow_ref` (the certificate's URI SAN is
    /// `https://github.com/` followed by it).
    pub job_workflow_ref: Option<String>,
    /// GitLab's `ci_config_ref_uri` (the certificate's URI SAN is `https://` followed by it).
    pub ci_config_ref_uri: Option<String>,
    /// Expiry, seconds since the epoch.
    pub expires: Option<i64>,
}

impl IdentityToken {
    /// Reads the claims of a compact JWT (`HEADER.PAYLOAD.SIGNATURE`).
    pub fn parse(raw: String, from: &'static str) -> Result<IdentityToken, KeylessError> {
        let bad = |why: &str| KeylessError::Token {
            detail: format!("the identity token from {from} {why}"),
        };
        if raw.len() > MAX_TOKEN {
            return Err(bad("is longer than 64 KiB"));
        }
        let parts: Vec<&str> = raw.split('.').collect();
        let [_, payload, _] = parts[..] else {
            return Err(bad("is not a JWT (three base64url parts joined by dots)"));
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| bad("has a payload that is not base64url"))?;
        let claims: Value = serde_json::from_slice(&bytes).map_err(|_| bad("has a payload that is not JSON"))?;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let issuer = text("iss").ok_or_else(|| bad("has no \"iss\" claim"))?;
        let subject = text("sub").ok_or_else(|| bad("has no \"sub\" claim"))?;
        let claims = Claims {
            issuer,
            subject,
            email: text("email"),
            job_workflow_ref: text("job_workflow_ref"),
            ci_config_ref_uri: text("ci_config_ref_uri"),
            expires: claims.get("exp").and_then(Value::as_i64),
        };
        Ok(IdentityToken { raw, from, claims })
    }

    /// The token itself, for Fulcio only.
    pub fn raw(&self) -> &str {
        &self.raw
    }
}

impl Claims {
    /// What the proof of possession signs: `email` when the token has one,
    /// else `sub` (Fulcio's rule).
    pub fn proof_subject(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }

    /// The certificate subject Fulcio issues for this token, where its rule
    /// for the issuer is known: the email, GitHub's workflow URI, GitLab's
    /// config URI. `None`: the certificate's own SAN is taken, with the
    /// issuer still required to be the token's.
    pub fn expected_subject(&self) -> Option<String> {
        if let Some(email) = &self.email {
            return Some(email.clone());
        }
        if self.issuer == GITHUB_ISSUER {
            return self
                .job_workflow_ref
                .as_ref()
                .map(|r| format!("https://github.com/{r}"));
        }
        self.ci_config_ref_uri.as_ref().map(|r| format!("https://{r}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn jwt(claims: &Value) -> String {
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!(
            "{}.{}.{}",
            b64(br#"{"alg":"ES256"}"#),
            b64(claims.to_string().as_bytes()),
            b64(b"sig")
        )
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    const ACTIONS: [(&str, &str); 2] = [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://pipelines.example/token?api-version=2.0",
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "bearer-value"),
    ];

    #[test]
    fn the_flag_wins_over_the_environment_and_the_environment_over_actions() {
        let all = env(&[ACTIONS[0], ACTIONS[1], ("SIGSTORE_ID_TOKEN", "from-env")]);
        assert_eq!(
            discover(Some("from-flag"), &all).expect("flag"),
            Source::Given {
                token: "from-flag".into(),
                from: "--identity-token"
            }
        );
        assert_eq!(
            discover(None, &all).expect("env"),
            Source::Given {
                token: "from-env".into(),
                from: "SIGSTORE_ID_TOKEN"
            }
        );
        assert_eq!(
            discover(None, env(&ACTIONS)).expect("actions"),
            Source::GithubActions {
                url: ACTIONS[0].1.into(),
                bearer: "bearer-value".into()
            }
        );
        // an empty SIGSTORE_ID_TOKEN is unset
        assert!(matches!(
            discover(None, env(&[ACTIONS[0], ACTIONS[1], ("SIGSTORE_ID_TOKEN", " ")])),
            Ok(Source::GithubActions { .. })
        ));
    }

    #[test]
    fn a_readable_file_is_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "eyJ.file.token\n").expect("write");
        let flag = path.to_str().expect("utf-8");
        assert_eq!(
            discover(Some(flag), env(&[])).expect("file"),
            Source::Given {
                token: "eyJ.file.token".into(),
                from: "--identity-token"
            }
        );
        // a path that names no file is taken as the value
        let missing = dir.path().join("missing");
        let missing = missing.to_str().expect("utf-8");
        assert!(matches!(discover(Some(missing), env(&[])), Ok(Source::Given { token, .. }) if token == missing));
    }

    #[test]
    fn no_token_names_the_three_ways_and_half_an_actions_setup_says_what_is_missing() {
        let e = discover(None, env(&[])).expect_err("none").to_string();
        for way in ["--identity-token", "SIGSTORE_ID_TOKEN", "GitHub Actions", "--key"] {
            assert!(e.contains(way), "{e}");
        }
        let e = discover(None, env(&[ACTIONS[0]])).expect_err("half").to_string();
        assert!(
            e.contains("ACTIONS_ID_TOKEN_REQUEST_TOKEN") && e.contains("id-token: write"),
            "{e}"
        );
        // the request token alone is no way either
        assert!(discover(None, env(&[ACTIONS[1]])).is_err());
    }

    #[test]
    fn claims_pick_the_proof_subject_and_the_expected_identity() {
        let email = IdentityToken::parse(
            jwt(&serde_json::json!({"iss": "https://oauth2.sigstore.dev/auth", "sub": "123", "email": "dev@example.com", "exp": 99})),
            "test",
        )
        .expect("email token");
        assert_eq!(email.claims.proof_subject(), "dev@example.com");
        assert_eq!(email.claims.expected_subject().as_deref(), Some("dev@example.com"));
        assert_eq!(email.claims.expires, Some(99));

        let github = IdentityToken::parse(
            jwt(&serde_json::json!({
                "iss": GITHUB_ISSUER, "sub": "repo:octo-org/app:ref:refs/heads/main",
                "job_workflow_ref": "octo-org/app/.github/workflows/release.yml@refs/heads/main"
            })),
            "test",
        )
        .expect("github token");
        assert_eq!(github.claims.proof_subject(), "repo:octo-org/app:ref:refs/heads/main");
        assert_eq!(
            github.claims.expected_subject().as_deref(),
            Some("https://github.com/octo-org/app/.github/workflows/release.yml@refs/heads/main")
        );

        let gitlab = IdentityToken::parse(
            jwt(&serde_json::json!({
                "iss": "https://gitlab.com", "sub": "project_path:g/p:ref_type:branch:ref:main",
                "ci_config_ref_uri": "gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main"
            })),
            "test",
        )
        .expect("gitlab token");
        assert_eq!(
            gitlab.claims.expected_subject().as_deref(),
            Some("https://gitlab.com/g/p//.gitlab-ci.yml@refs/heads/main")
        );
        // an issuer whose rule is unknown: the certificate's SAN is taken
        let other = IdentityToken::parse(
            jwt(&serde_json::json!({"iss": "https://idp.example", "sub": "svc"})),
            "t",
        )
        .expect("other");
        assert_eq!(other.claims.expected_subject(), None);
        assert_eq!(other.claims.proof_subject(), "svc");
    }

    #[test]
    fn malformed_tokens_are_refused_and_never_shown() {
        for bad in [
            "not-a-jwt".to_owned(),
            "a.b".to_owned(),
            "a.%%%.c".to_owned(),
            format!("a.{}.c", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"[]")),
            jwt(&serde_json::json!({"sub": "x"})),
            jwt(&serde_json::json!({"iss": "x"})),
            "a".repeat(MAX_TOKEN + 1),
        ] {
            let e = IdentityToken::parse(bad.clone(), "SIGSTORE_ID_TOKEN").expect_err("refused");
            let text = e.to_string();
            assert!(text.contains("SIGSTORE_ID_TOKEN"), "{text}");
            assert!(bad.len() < 8 || !text.contains(&bad), "{text}");
        }
        let token = IdentityToken::parse(jwt(&serde_json::json!({"iss": "i", "sub": "s"})), "t").expect("ok");
        assert!(!format!("{token:?}").contains(token.raw()));
    }
}
