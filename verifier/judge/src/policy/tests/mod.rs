//! Tests of the policy module: truth tables, globs, lint codes, loader fuzzing.

mod combinators;
mod decisions;
mod examples;
mod fuzz;
mod globs;
mod lint_codes;
mod names;
mod replacement;
pub(super) mod support;
