//! Test harness for the end-to-end tests: real peers (a `docker-registry`
//! process, `skopeo`), a hostile in-process registry, and a hermetic runner
//! for the sigil binary.
//!
//! Missing tools fail the tests with an install hint: an end-to-end suite
//! that silently skips its peers proves nothing.

#![allow(
    dead_code,
    unused_imports,
    reason = "each test module uses a different part of the harness, re-exported here for them"
)]

pub mod hostile;
pub mod image;
pub mod process;
pub mod registry;
pub mod sigil;
pub mod skopeo;
#[path = "../../../verifier/src/sigstore/test_sigstore.rs"]
pub mod test_sigstore;
mod tls;

use std::path::{Path, PathBuf};

pub use hostile::{Hostile, Mode};
pub use image::{Blob, TinyImage, sample_layout, sha256_digest};
pub use process::{Output, Proc, TimedOut};
pub use registry::Registry;
pub use sigil::sigil;
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
