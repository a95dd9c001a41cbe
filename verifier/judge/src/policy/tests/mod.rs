//! Tests of the policy module: truth tables, globs, lint codes, loader
//! fuzzing, reason codes, images whose evidence is unavailable.

mod base_images;
mod combinators;
mod decisions;
mod examples;
mod fuzz;
mod globs;
mod lazy_content;
mod lint_codes;
mod names;
mod notation;
mod reason_codes;
mod replacement;
pub(super) mod support;
mod unavailable;
