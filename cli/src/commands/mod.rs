//! One module per command; each validates its settings, calls the verifier
//! and renders the result.

mod attest;
mod batch;
mod copy;
mod demo;
mod key;
pub mod policy;
mod provenance;
mod sign;
mod tree;
mod verify;
mod verify_attestation;
pub mod verify_bundle;
mod verify_policy;

use sigil_verifier::oci::Descriptor;
use sigil_verifier::reference::ImageRef;
use sigil_verifier::store::{AnyStore, Store as _, StoreError};

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
        Command::Policy(p) => policy::run(p, output).await,
        Command::Copy(a) => {
            let timeout = a.run.timeout;
            crate::common::within(timeout, copy::run(a, output)).await
        }
        Command::Demo(a) => demo::run(a, output).await,
        Command::VerifyBundle(a) => verify_bundle::run(a, output).await,
    }
}

/// Resolves an image reference to the descriptor of its manifest; an image
/// that does not exist is an error.
pub async fn resolve(store: &AnyStore, image: &ImageRef) -> Result<Descriptor, StoreError> {
    let target = image.target();
    match store.fetch_manifest(&target).await? {
        Some(fetched) => Ok(fetched.descriptor),
        None => Err(StoreError::NotFound {
            location: store.location(),
            what: format!("image {image}"),
        }),
    }
}
