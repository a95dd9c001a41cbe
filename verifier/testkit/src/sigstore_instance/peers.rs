//! Independent verifiers of Sigstore bundles, run as processes:
//! sigstore-python 4.x (`sigstore verify identity --offline`) and
//! sigstore-js (`@sigstore/verify`, through `tests/js/verify.mjs`). A
//! missing peer panics with its install command: never a silent skip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Output, Proc};

/// What a peer answered.
#[derive(Debug)]
pub struct PeerVerdict {
    /// The peer verified the bundle (exit 0).
    pub accepted: bool,
    /// Its exit code.
    pub code: i32,
    /// Its stdout and stderr together, for messages.
    pub output: String,
}

fn verdict(name: &str, install: &str, out: Output) -> PeerVerdict {
    let code = out.code.unwrap_or_else(|| panic!("{name} was killed: {}", out.stderr));
    assert!(
        code == 0 || code == 1,
        "{name} could not run (exit {code}); install it with {install}: {}\n{}",
        out.stdout,
        out.stderr
    );
    PeerVerdict {
        accepted: code == 0,
        code,
        output: format!("{}{}", out.stdout, out.stderr),
    }
}

const PYTHON_INSTALL: &str = "python3 -m pip install \"sigstore>=4,<5\"";
const JS_INSTALL: &str = "npm ci --prefix tests/js";

/// `sigstore --trust-config CONFIG verify identity --offline --bundle B
/// --cert-identity I --cert-oidc-issuer O ARTIFACT`. `trust_config` is a
/// client trust config ([`super::Instance::client_trust_config_json`]).
pub fn sigstore_python_verify(
    trust_config: &Path,
    bundle: &Path,
    artifact: &Path,
    identity: &str,
    issuer: &str,
) -> PeerVerdict {
    let program = require_binary_with("sigstore", PYTHON_INSTALL);
    let out = Proc::new(program)
        .arg("--trust-config")
        .arg(trust_config)
        .args(["verify", "identity", "--offline", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", identity, "--cert-oidc-issuer", issuer])
        .arg(artifact)
        .timeout(Duration::from_secs(120))
        .run();
    verdict("sigstore-python", PYTHON_INSTALL, out)
}

/// The directory of `tests/js` (its `verify.mjs` and `node_modules`).
fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/js")
}

/// `node tests/js/verify.mjs ROOT BUNDLE ARTIFACT IDENTITY ISSUER`:
/// `@sigstore/verify` with one tlog entry, one SCT and one timestamp
/// required. `trusted_root` is a trusted_root.json.
pub fn sigstore_js_verify(
    trusted_root: &Path,
    bundle: &Path,
    artifact: &Path,
    identity: &str,
    issuer: &str,
) -> PeerVerdict {
    let node = require_binary_with("node", "apt-get install -y nodejs (Node 20 or later)");
    let dir = js_dir();
    assert!(
        dir.join("node_modules/@sigstore/verify/package.json").is_file(),
        "@sigstore/verify is not installed in {}: run `{JS_INSTALL}` from the repository root",
        dir.display()
    );
    let out = Proc::new(node)
        .arg(dir.join("verify.mjs"))
        .arg(trusted_root)
        .arg(bundle)
        .arg(artifact)
        .args([identity, issuer])
        .timeout(Duration::from_secs(120))
        .run();
    verdict("sigstore-js", JS_INSTALL, out)
}

fn require_binary_with(name: &str, install: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| panic!("`{name}` is not installed, and the Sigstore peer tests need it: run `{install}`"))
}
