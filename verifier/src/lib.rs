//! sigil's trust core.
//!
//! Two worlds, kept apart (DESIGN §1):
//! - **evidence gathering** (async I/O): [`reference`], [`store`],
//!   [`registry`], [`layout`], [`referrers`], and the write side in [`sign`];
//! - **judgement** (pure, no I/O, time passed in): [`digest`], [`oci`],
//!   [`keys`], [`simplesigning`], [`dsse`], [`verify`].
#![forbid(unsafe_code)]

pub mod digest;
pub mod keys;
pub mod layout;
pub mod oci;
pub mod reference;
pub mod registry;
pub mod store;
pub mod bundle;
pub mod dsse;
pub mod intoto;
mod json;
pub mod simplesigning;
pub mod verify;
pub mod cosign;
pub mod referrers;
pub mod sign;
mod tag;
pub mod gather;
pub mod copy;
pub mod sample;
