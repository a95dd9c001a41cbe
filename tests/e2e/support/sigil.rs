//! Running the sigil binary built by cargo for this test binary.

use super::process::Proc;

/// The `sigil` binary cargo built for these tests.
pub const SIGIL: &str = env!("CARGO_BIN_EXE_sigil");

/// `sigil ARGS...`, ready to run: add environment, stdin or a timeout with
/// the [`Proc`] builder methods, then `.run()`.
///
/// Hermetic by default: a fresh temporary `HOME`, an environment without
/// `SIGIL_PASSWORD`, `COSIGN_PASSWORD`, `DOCKER_CONFIG` or anything else the
/// test did not set, stdin null, and a 60 s timeout after which the process
/// is killed and the test fails (a hang is a bug).
///
/// ```ignore
/// sigil(&["verify", &registry.image("app:v1"), "--key", "k.pub"])
///     .env("SIGIL_PASSWORD", "")
///     .run()
///     .assert_exit(1);
/// ```
pub fn sigil(args: &[&str]) -> Proc {
    Proc::new(SIGIL).args(args)
}
