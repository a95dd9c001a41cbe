//! sigil's evidence side: every read and write of registries and OCI
//! layouts, over the judgement of `sigil-judge` (DESIGN §1).
//!
//! - stores: [`store`] (the one interface), [`registry`] (OCI distribution
//!   over HTTP, credentials, auth), [`layout`] (OCI image layout directories);
//! - Notary Project signatures: [`notation`] (configuration directory,
//!   discovery; the judgement is `sigil_judge::notation`);
//! - evidence gathering: [`referrers`], [`gather`] (planned, budgeted,
//!   digest-checked evidence of one image);
//! - the decision pipeline: [`pipeline`] (many images resolved, gathered
//!   once per digest, judged on every core, decided in input order), the
//!   one engine behind `verify`, `verify-attestation`, `policy test` and
//!   the servers;
//! - the write side: [`sign`], [`blob`], [`copy`], [`tree`], [`sample`];
//! - the disk side of policy loading: [`files`].
//!
//! The judge's modules are re-exported under their own names, so
//! `sigil_verifier::policy` and `sigil_judge::policy` are one module.
#![forbid(unsafe_code)]

pub use sigil_judge::{
    audit, bundle, cosign, digest, dsse, evidence, intoto, keys, oci, policy, predicate, reference, sigstore,
    simplesigning, verify,
};

pub mod audit_gather;
pub mod blob;
pub mod copy;
pub mod files;
pub mod gather;
pub mod keyless;
pub mod layout;
pub mod notation;
pub mod pipeline;
pub mod redirect;
pub mod referrers;
pub mod registry;
pub mod sample;
pub mod sign;
pub mod store;
pub mod tag;
pub mod tree;

#[cfg(test)]
mod counting;
