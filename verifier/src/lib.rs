//! sigil's trust core.
//!
//! Two worlds, kept apart (DESIGN §1):
//! - **evidence gathering** (async I/O): [`reference`], [`store`],
//!   [`registry`], [`layout`], [`referrers`], and the write side in [`sign`];
//! - **judgement** (pure, no I/O, time passed in): [`digest`], [`oci`],
//!   [`keys`], [`simplesigning`], [`dsse`], [`verify`].
#![forbid(unsafe_code)]

pub mod bundle;
pub mod copy;
pub mod cosign;
pub mod digest;
pub mod dsse;
pub mod gather;
pub mod intoto;
mod json;
pub mod keys;
pub mod layout;
pub mod oci;
pub mod policy;
pub mod predicate;
pub mod provenance;
pub mod reference;
pub mod referrers;
pub mod registry;
pub mod sample;
pub mod sign;
pub mod sigstore;
pub mod simplesigning;
pub mod store;
mod tag;
pub mod tree;
pub mod verify;
