//! `sigil admission`: a Kubernetes validating and mutating admission
//! webhook (AdmissionReview v1 over HTTPS) that decides with the same
//! policy file and the same decision pipeline as `sigil verify --policy`
//! (DESIGN §6). It is an adapter and has no policy logic of its own:
//!
//! - [`review`] reads an AdmissionReview and writes the answer;
//! - [`images`] finds the images of a workload object, with their field paths;
//! - [`patch`] pins verified tags to their digests (RFC 6902 JSON Patch);
//! - [`decisions`] decides about images: names no rule covers without
//!   registry I/O, tags resolved on every request, decisions cached by
//!   (policy and trust digest, reference, image digest) with single flight,
//!   all within the apiserver's deadline;
//! - [`state`] holds the loaded policy and TLS material and reloads them
//!   when their files change, keeping the last good ones;
//! - [`metrics`] counts for `/metrics` (Prometheus text);
//! - [`webhook`] turns one review into one answer;
//! - [`server`] serves HTTPS and routes.

pub mod decisions;
pub mod images;
pub mod metrics;
pub mod patch;
pub mod review;
pub mod server;
pub mod state;
pub mod webhook;

pub use server::{Config, run};
