//! Tests of the policy module: truth tables, globs, lint codes, loader fuzzing.

mod combinators;
mod globs;
mod lint_codes;
mod fuzz;
pub(super) mod support;
