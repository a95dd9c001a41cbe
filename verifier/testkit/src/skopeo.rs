//! `skopeo`, the independent peer: it puts images into registries for the
//! tests and reads back what sigil wrote, with its own (Go) implementation of
//! the same wire formats.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{Output, Proc};
use super::require_binary;

/// How long one skopeo command may run.
const TIMEOUT: Duration = Duration::from_secs(60);

/// A skopeo invocation: global options first, then the command's arguments
/// given to [`Skopeo::run`]. Runs with `--insecure-policy` unless
/// [`Skopeo::policy`] names a policy file, with a fresh `HOME` (no
/// credentials of whoever runs the tests) and a hard timeout.
#[derive(Default)]
pub struct Skopeo {
    registries_d: Option<PathBuf>,
    policy: Option<PathBuf>,
    envs: Vec<(String, String)>,
}

impl Skopeo {
    pub fn new() -> Self {
        Self::default()
    }

    /// `--registries.d DIR` (see [`write_registries_d`]).
    pub fn registries_d(mut self, dir: impl AsRef<Path>) -> Self {
        self.registries_d = Some(dir.as_ref().to_owned());
        self
    }

    /// `--policy FILE` instead of `--insecure-policy`, for tests where skopeo
    /// checks signatures itself.
    pub fn policy(mut self, file: impl AsRef<Path>) -> Self {
        self.policy = Some(file.as_ref().to_owned());
        self
    }

    /// One environment variable (e.g. `REGISTRY_AUTH_FILE`).
    pub fn env(mut self, key: &str, value: impl AsRef<Path>) -> Self {
        self.envs
            .push((key.to_owned(), value.as_ref().to_string_lossy().into_owned()));
        self
    }

    /// Runs `skopeo [global options] ARGS...` to completion.
    pub fn run(self, args: &[&str]) -> Output {
        let mut proc = Proc::new(require_binary("skopeo", "skopeo")).timeout(TIMEOUT);
        proc = match &self.policy {
            Some(policy) => proc.arg("--policy").arg(policy),
            None => proc.arg("--insecure-policy"),
        };
        if let Some(dir) = &self.registries_d {
            proc = proc.arg("--registries.d").arg(dir);
        }
        // skopeo's own limit, below ours, so that it reports where it hung.
        proc = proc
            .arg("--command-timeout")
            .arg(format!("{}s", TIMEOUT.as_secs() - 10));
        for (key, value) in &self.envs {
            proc = proc.env(key, value);
        }
        proc.args(args).run()
    }
}

/// `skopeo [--insecure-policy ...] ARGS...` with no other options.
pub fn skopeo(args: &[&str]) -> Output {
    Skopeo::new().run(args)
}

/// Writes `dir/default.yaml` telling skopeo to read and write sigstore
/// signatures as cosign-style attachments (`sha256-HEX.sig`) on every
/// registry; returns `dir` for [`Skopeo::registries_d`].
pub fn write_registries_d(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).expect("create the registries.d directory");
    fs::write(
        dir.join("default.yaml"),
        "default-docker:\n  use-sigstore-attachments: true\n",
    )
    .expect("write registries.d/default.yaml");
    dir.to_owned()
}
