//! End-to-end tests: the built `sigil` binary against real peers (a
//! `docker-registry` process, `skopeo`) and a hostile in-process registry.
//! One test binary of the `sigil` crate, so `CARGO_BIN_EXE_sigil` is set.
//!
//! Needs `apt-get install -y docker-registry skopeo kubernetes-client chromium`;
//! without them the tests fail with that hint rather than skip. The Docker
//! Hub tests ([`docker_hub`]) also need `unshare` and `ip` (util-linux,
//! iproute2) and root or unprivileged user namespaces.

mod admission;
mod attestations;
mod audit;
mod bad_input;
mod base_images;
mod blobs;
mod certificates;
mod containerd;
mod copying;
mod deploy;
mod docker_hub;
mod fixtures;
mod gate;
mod harness;
mod keyless;
mod keyless_signing;
mod keyless_v2;
mod keys;
mod notation;
mod notation_offline;
mod policy;
mod policy_export;
mod registry_access;
mod signing;
mod sigstore_instance;
mod slsa_verifier;
mod snapshots;
mod support;
mod trust;
mod verify_bundle;
mod vsa;
