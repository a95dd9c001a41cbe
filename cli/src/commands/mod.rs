//! One module per command; each validates its settings, calls the verifier
//! and renders the result.

mod admission;
mod attest;
mod audit;
mod batch;
mod containerd_verifier;
mod copy;
mod demo;
mod gate;
mod key;
mod policy;
mod provenance;
mod sign;
mod sign_blob;
mod signing;
mod tree;
pub mod trust;
mod verify;
mod verify_attestation;
mod verify_bundle;
mod verify_notation;
mod verify_policy;
mod version;
mod vsa;

pub use sigil_verifier::pipeline::resolve;

use crate::Outcome;
use crate::args::{Cli, Command};

pub async fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let output = cli.output;
    match cli.command {
        Command::Key(k) => key::run(k, output),
        Command::Sign(a) => sign::run(a, output).await,
        Command::Verify(a) => verify::run(a, output).await,
        Command::Attest(a) => attest::run(a, output).await,
        Command::VerifyAttestation(a) => verify_attestation::run(a, output).await,
        Command::Provenance(a) => provenance::run(*a, output).await,
        Command::Tree(a) => tree::run(a, output).await,
        Command::Audit(a) => audit::run(a, output).await,
        Command::Policy(p) => policy::run(p, output).await,
        Command::Copy(a) => {
            let timeout = a.run.timeout;
            crate::common::within(timeout, copy::run(a, output)).await
        }
        Command::Demo(a) => demo::run(a, output).await,
        Command::VerifyBundle(a) => verify_bundle::run(a, output).await,
        Command::SignBlob(a) => sign_blob::sign(a, output).await,
        Command::AttestBlob(a) => sign_blob::attest(a, output).await,
        Command::Admission(a) => admission::run(*a).await,
        Command::ContainerdVerifier(a) => containerd_verifier::run(*a).await,
        Command::Gate(a) => gate::run(*a).await,
        Command::Trust(t) => trust::run(t, output).await,
        Command::Version => version::run(output),
        Command::Completion { shell } => version::completion(shell),
    }
}
