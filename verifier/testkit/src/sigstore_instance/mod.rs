//! A loopback Sigstore instance for keyless-signing tests: an OIDC token
//! issuer (GitHub Actions' token endpoint and an email issuer), Fulcio v2
//! (`POST /api/v2/signingCert`, leaves with an embedded SCT), Rekor v1
//! (`hashedrekord` 0.0.1 and `dsse` 0.0.1 entries in an RFC 6962 Merkle tree,
//! signed checkpoints and SETs) and an RFC 3161 TSA, all on one axum server
//! on `127.0.0.1:0`, on its own tokio runtime so synchronous tests can use
//! it. Each [`Instance::start`] makes fresh keys: two instances never trust
//! each other. [`Fault`] switches one part into a failure at run time.
//!
//! Written from the public API documents: Fulcio's `fulcio.proto` and
//! `docs/oid-info.md`, Rekor's `openapi.yaml` and entry-type schemas,
//! RFC 6962 / RFC 9162, C2SP signed-note and tlog-checkpoint, and
//! protobuf-specs' `trusted_root` and `signing_config` v0.2.

mod fulcio;
pub mod merkle;
pub mod peers;
mod rekor;
mod server;
mod tsa;

pub use rekor::{canonical_json, pae};

use std::net::SocketAddr;
use std::sync::Arc;

pub use server::Fault;

/// OIDC issuer of GitHub Actions tokens.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// OIDC issuer of email tokens (the shape of Sigstore's public Dex).
pub const EMAIL_ISSUER: &str = "https://oauth2.sigstore.dev/auth";

/// A running instance; dropping it stops the server.
pub struct Instance {
    addr: SocketAddr,
    state: Arc<server::State>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// The claims of a GitHub Actions OIDC token that Fulcio turns into
/// certificate extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubClaims {
    pub repository: String,
    pub repository_id: String,
    pub repository_owner: String,
    pub repository_owner_id: String,
    pub repository_visibility: String,
    pub r#ref: String,
    pub sha: String,
    pub workflow_ref: String,
    pub workflow_sha: String,
    pub job_workflow_ref: String,
    pub job_workflow_sha: String,
    pub runner_environment: String,
    pub event_name: String,
    pub run_id: String,
    pub run_attempt: String,
    pub workflow: String,
}

impl Default for GithubClaims {
    /// A push of `octo-org/app` to `refs/heads/main`, on a GitHub-hosted runner.
    fn default() -> Self {
        let sha = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678".to_string();
        GithubClaims {
            repository: "octo-org/app".into(),
            repository_id: "123456789".into(),
            repository_owner: "octo-org".into(),
            repository_owner_id: "987654".into(),
            repository_visibility: "public".into(),
            r#ref: "refs/heads/main".into(),
            sha: sha.clone(),
            workflow_ref: "octo-org/app/.github/workflows/release.yml@refs/heads/main".into(),
            workflow_sha: sha.clone(),
            job_workflow_ref: "octo-org/app/.github/workflows/release.yml@refs/heads/main".into(),
            job_workflow_sha: sha,
            runner_environment: "github-hosted".into(),
            event_name: "push".into(),
            run_id: "4242".into(),
            run_attempt: "1".into(),
            workflow: "release".into(),
        }
    }
}

impl GithubClaims {
    /// The identity Fulcio writes in the SAN: `https://github.com/{job_workflow_ref}`.
    pub fn identity(&self) -> String {
        format!("https://github.com/{}", self.job_workflow_ref)
    }
}

impl Instance {
    /// The bearer token the Actions token endpoint accepts
    /// (`ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
    pub const ACTIONS_REQUEST_TOKEN: &'static str = "sigil-test-actions-request-token";

    /// Starts an instance with fresh keys on a free port of 127.0.0.1.
    pub fn start() -> Instance {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("make the listener non-blocking");
        let addr = listener.local_addr().expect("a bound socket has an address");
        let state = Arc::new(server::State::new(addr));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sigstore-instance")
            .enable_all()
            .build()
            .expect("build the Sigstore instance's runtime");
        let app = server::router(Arc::clone(&state));
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener).expect("hand the listener to tokio")
        };
        runtime.spawn(async move {
            axum::serve(listener, app).await.expect("serve the Sigstore instance");
        });
        Instance {
            addr,
            state,
            runtime: Some(runtime),
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Fulcio's base URL (the client POSTs `{base}/api/v2/signingCert`).
    pub fn fulcio_url(&self) -> String {
        format!("{}/fulcio", self.base())
    }

    /// Rekor's base URL (the client POSTs `{base}/api/v1/log/entries`).
    pub fn rekor_url(&self) -> String {
        format!("{}/rekor", self.base())
    }

    /// The RFC 3161 endpoint (POST `application/timestamp-query`).
    pub fn tsa_url(&self) -> String {
        format!("{}/tsa/api/v1/timestamp", self.base())
    }

    /// The value for `ACTIONS_ID_TOKEN_REQUEST_URL`; the client appends
    /// `&audience=sigstore`.
    pub fn actions_token_url(&self) -> String {
        format!("{}/actions/token?api-version=2.0", self.base())
    }

    /// An OIDC token as GitHub Actions issues it, for `claims`.
    pub fn github_token(&self, claims: &GithubClaims) -> String {
        self.state.github_token(claims)
    }

    /// An OIDC token of the email issuer for `email` (`email_verified` true).
    pub fn email_token(&self, email: &str) -> String {
        self.state.email_token(email)
    }

    /// A trusted_root.json (v0.1) trusting this instance: CA chain, log key,
    /// CT log key and TSA chain.
    pub fn trusted_root_json(&self) -> String {
        self.state.trusted_root(&self.base()).to_string()
    }

    /// A signing_config v0.2 naming this instance's URLs.
    pub fn signing_config_json(&self) -> String {
        self.signing_config().to_string()
    }

    fn signing_config(&self) -> serde_json::Value {
        let service = |url: String, api: u32| {
            serde_json::json!({
                "url": url, "majorApiVersion": api,
                "validFor": {"start": "2024-01-01T00:00:00Z"}, "operator": "sigil-test"
            })
        };
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [service(self.fulcio_url(), 1)],
            "oidcUrls": [service(format!("{}/oauth2", self.base()), 1)],
            "rekorTlogUrls": [service(self.rekor_url(), 1)],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaUrls": [service(self.tsa_url(), 1)],
            "tsaConfig": {"selector": "ANY"}
        })
    }

    /// A sigstore-python `--trust-config` file: the trusted root and the
    /// signing config together.
    pub fn client_trust_config_json(&self) -> String {
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": self.state.trusted_root(&self.base()),
            "signingConfig": self.signing_config()
        })
        .to_string()
    }

    /// Switches the fault at run time ([`Fault::None`] by default).
    pub fn set_fault(&self, fault: Fault) {
        self.state.set_fault(fault);
    }

    /// The log's size.
    pub fn entries(&self) -> u64 {
        self.state.log_size()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
