//! sigil's judgement: everything that decides, and nothing that fetches.
//!
//! DESIGN §1 splits sigil into evidence gathering (I/O, in `sigil-verifier`)
//! and judgement (this crate). Judgement is pure: no file, network, process,
//! environment or clock access. Every input arrives as bytes or values, the
//! evaluation time included, so the same evidence judged at the same time
//! with the same policy gives the same answer in a one-shot CLI run and in a
//! long-running server. The build enforces it: this crate's normal
//! dependencies have no async runtime or HTTP client (`scripts/check-judge.sh`)
//! and its `clippy.toml` disallows file, environment, thread and clock calls.
//!
//! - formats: [`digest`], [`reference`], [`oci`], [`cosign`] (tag scheme
//!   and annotations), [`simplesigning`], [`dsse`], [`intoto`], [`bundle`];
//! - keys and certificates: [`keys`];
//! - Sigstore verification (keyless, bundles, trusted roots): [`sigstore`];
//! - Notary Project signatures (JWS and COSE envelopes, trust policies and stores): [`notation`];
//! - predicates: [`predicate`], one module per family holding both the
//!   validation and the typed view the policy's checks read
//!   ([`predicate::slsa`]: SLSA provenance, read and written);
//! - evidence as gathered, not yet judged: [`evidence`];
//! - the verdicts of signatures and attestations, [`verify::Verified`]: [`verify`];
//! - the policy (model, loader, lint, engine, report): [`policy`].
#![forbid(unsafe_code)]

pub mod audit;
pub mod base;
pub mod bundle;
pub mod cosign;
pub mod digest;
pub mod dsse;
pub mod evidence;
pub mod intoto;
mod json;
pub mod keys;
pub mod notation;
pub mod oci;
pub mod policy;
pub mod predicate;
pub mod reference;
pub mod sigstore;
pub mod simplesigning;
pub mod verify;

#[cfg(test)]
mod testdata;
