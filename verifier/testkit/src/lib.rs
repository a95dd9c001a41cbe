//! Test helpers shared by sigil's unit tests, end-to-end tests and
//! benchmarks: real peers (a `docker-registry` process, `skopeo`), a hostile
//! in-process registry, a hermetic process runner, a test PKI and the test
//! Sigstore instance ([`test_sigstore`]), and a loopback Sigstore
//! ([`sigstore_instance::Instance`]: OIDC tokens and GitHub's token
//! endpoint, Fulcio v2 with embedded SCTs, Rekor v1 over an RFC 6962 tree,
//! an RFC 3161 TSA, switchable faults) with its independent verifiers
//! ([`sigstore_instance::peers`]: sigstore-python, sigstore-js).
//!
//! Missing tools fail the tests with an install hint: a suite that silently
//! skips its peers proves nothing.

pub mod files;
pub mod hostile;
pub mod image;
pub mod notation_pki;
pub mod process;
pub mod registry;
pub mod sigstore_instance;
pub mod skopeo;
pub mod test_sigstore;
pub mod tls;

use std::path::{Path, PathBuf};

pub use files::FileServer;
pub use hostile::{Hostile, Mode};
pub use image::{Blob, TinyImage, sample_layout, sha256_digest};
pub use process::{Output, Proc, TimedOut};
pub use registry::Registry;
pub use skopeo::{Skopeo, skopeo, write_registries_d};

/// The path of `name`, found in `PATH`; panics with the Debian install command
/// for `package` when it is missing.
pub fn require_binary(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed, and the end-to-end tests need it (package `{package}`): \
             run `apt-get install -y docker-registry skopeo`"
        )
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
