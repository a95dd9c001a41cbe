//! The end-to-end tests' harness: the shared helpers of `sigil-testkit`
//! (real peers, a hostile registry, the test Sigstore instance) and a
//! hermetic runner for the sigil binary cargo built for these tests.

pub mod sigil;
pub mod webhook;

pub use sigil::sigil;
pub use sigil_testkit::*;
