//! The `condition:` escape hatch: a CEL expression over
//! `{statement, predicate, subject, image}` that must evaluate to `true`.
//!
//! Compiled once at load time (a compile error, or a name that is none of
//! those four variables, is a lint error with its position); evaluated per
//! verified attestation. Anything but `true`
//! (false, another type, an evaluation error such as a missing field)
//! fails the check: fail closed.
//!
//! The interpreter is third-party code running over attacker-chosen
//! statements: compiling and evaluating are both guarded against panics
//! ([`guarded`]), which become a failed check (or a compile error) with a
//! reason instead of taking the process down, and print nothing.

use std::cell::Cell;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once};

use serde_json::{Value, json};

use crate::intoto::Statement;
use crate::policy::glob::ImageName;

/// The variables a condition is evaluated with.
const VARIABLES: [&str; 4] = ["statement", "predicate", "subject", "image"];

/// CEL's type names, which are identifiers too (`type(x) == string`).
const TYPE_NAMES: [&str; 12] = [
    "bool",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "timestamp",
    "duration",
];

/// The first identifier in `expr` that is neither a condition variable, a
/// type name, nor bound by an enclosing comprehension (`exists(m, ...)`):
/// its name and node id. `bound` holds the comprehension variables in scope.
fn unknown_variable<'e>(expr: &'e cel::common::ast::IdedExpr, bound: &mut Vec<&'e str>) -> Option<(&'e str, u64)> {
    use cel::common::ast::{EntryExpr, Expr};
    let entries = |entries: &'e [cel::common::ast::IdedEntryExpr], bound: &mut Vec<&'e str>| {
        entries.iter().find_map(|entry| match &entry.expr {
            EntryExpr::StructField(field) => unknown_variable(&field.value, bound),
            EntryExpr::MapEntry(pair) => {
                unknown_variable(&pair.key, bound).or_else(|| unknown_variable(&pair.value, bound))
            }
        })
    };
    match &expr.expr {
        Expr::Ident(name) => {
            let known = VARIABLES.contains(&name.as_str())
                || TYPE_NAMES.contains(&name.as_str())
                || bound.contains(&name.as_str())
                || name.starts_with('@');
            (!known).then_some((name.as_str(), expr.id))
        }
        Expr::Call(call) => call
            .target
            .as_deref()
            .and_then(|t| unknown_variable(t, bound))
            .or_else(|| call.args.iter().find_map(|a| unknown_variable(a, bound))),
        Expr::Comprehension(c) => {
            let outside = unknown_variable(&c.iter_range, bound).or_else(|| unknown_variable(&c.accu_init, bound));
            if outside.is_some() {
                return outside;
            }
            let depth = bound.len();
            bound.extend([c.iter_var.as_str(), c.accu_var.as_str()]);
            bound.extend(c.iter_var2.as_deref());
            let inside = [&c.loop_cond, &c.loop_step, &c.result]
                .into_iter()
                .find_map(|e| unknown_variable(e, bound));
            bound.truncate(depth);
            inside
        }
        Expr::List(list) => list.elements.iter().find_map(|e| unknown_variable(e, bound)),
        Expr::Map(map) => entries(&map.entries, bound),
        Expr::Struct(st) => entries(&st.entries, bound),
        Expr::Select(select) => unknown_variable(&select.operand, bound),
        Expr::Literal(_) | Expr::Unspecified => None,
    }
}

thread_local! {
    /// How many [`guarded`] calls are running on this thread.
    static GUARDED: Cell<usize> = const { Cell::new(0) };
}

/// Runs `work`, turning a panic inside it into `Err(message)`. The panic's
/// default report on stderr is silenced for these calls only (the caller
/// reports the failure as a check result, in one line); panics anywhere else
/// still reach the previous hook.
fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, String> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(g.get() + 1));
    // The interpreter's state is dropped after a panic, never reused.
    let outcome = catch_unwind(AssertUnwindSafe(work));
    GUARDED.with(|g| g.set(g.get().saturating_sub(1)));
    outcome.map_err(|panic| {
        let said = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let said: String = said.chars().filter(|c| !c.is_control()).take(200).collect();
        if said.is_empty() {
            "the CEL interpreter failed".to_owned()
        } else {
            format!("the CEL interpreter failed ({said})")
        }
    })
}

/// A compiled CEL condition.
#[derive(Clone)]
pub struct Condition {
    source: String,
    program: Arc<cel::Program>,
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

/// Why a condition does not compile: the message and, when the parser
/// knows it, the 1-based line and column inside the expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

impl Condition {
    /// Compiles `source`.
    pub fn compile(source: &str) -> Result<Condition, CompileError> {
        if source.trim().is_empty() {
            return Err(CompileError {
                message: "empty CEL expression".into(),
                line: 1,
                column: 1,
            });
        }
        // The parser is generated code; a panic on hostile input must not take the process down.
        let compiled = guarded(|| cel::Program::compile(source)).map_err(|_| CompileError {
            message: "CEL parser failed on this expression".into(),
            line: 1,
            column: 1,
        })?;
        match compiled {
            Ok(program) => {
                if let Some((name, id)) = unknown_variable(program.expression(), &mut Vec::new()) {
                    let start = program
                        .source_info()
                        .offset_for(id)
                        .map_or(0, |(start, _)| start as usize);
                    let before = source.get(..start).unwrap_or_default();
                    return Err(CompileError {
                        message: format!("unknown variable `{name}`: a condition sees {}", VARIABLES.join(", ")),
                        line: before.matches('\n').count() + 1,
                        column: before.rsplit('\n').next().unwrap_or_default().chars().count() + 1,
                    });
                }
                Ok(Condition {
                    source: source.to_owned(),
                    program: Arc::new(program),
                })
            }
            Err(errors) => {
                let first = errors.errors.first();
                let (line, column) = first.map_or((1, 1), |e| {
                    (
                        usize::try_from(e.pos.0).unwrap_or(1).max(1),
                        usize::try_from(e.pos.1).unwrap_or(1).max(1),
                    )
                });
                Err(CompileError {
                    message: first.map_or_else(|| "invalid CEL expression".to_owned(), |e| e.msg.clone()),
                    line,
                    column,
                })
            }
        }
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True only when the expression evaluates to the boolean `true`.
    pub fn run(&self, statement: &Statement, predicate: &Value, image: &ImageName) -> Result<(), String> {
        let subject = statement
            .subject_for(&image.digest)
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or(Value::Null);
        let mut statement_json = serde_json::to_value(statement).unwrap_or(Value::Null);
        statement_json["predicate"] = predicate.clone();
        let image_json = json!({
            "repository": image.repository,
            "tag": image.tag,
            "digest": image.digest.to_string(),
            "name": image.to_string(),
        });
        let mut context = cel::Context::default();
        for (name, value) in [
            ("statement", &statement_json),
            ("predicate", predicate),
            ("subject", &subject),
            ("image", &image_json),
        ] {
            let value = cel::to_value(value).map_err(|e| format!("condition input {name}: {e}"))?;
            context.add_variable_from_value(name, value);
        }
        self.evaluate(&context)
    }

    /// Evaluates the program in `context`; a panic in the interpreter is a
    /// failed check with the reason, never a crash.
    fn evaluate(&self, context: &cel::Context<'_, '_>) -> Result<(), String> {
        let outcome = guarded(|| self.program.execute(context))
            .map_err(|why| format!("condition `{}` could not be evaluated: {why}", self.source))?;
        match outcome {
            Ok(cel::Value::Bool(true)) => Ok(()),
            Ok(cel::Value::Bool(false)) => Err(format!("condition `{}` is false", self.source)),
            Ok(other) => Err(format!("condition `{}` gave {other:?}, not a boolean", self.source)),
            Err(e) => Err(format!("condition `{}` could not be evaluated: {e}", self.source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;
    use crate::intoto::empty_predicate;

    #[test]
    fn evaluates_over_the_statement() {
        let digest = Digest::sha256_of(b"img");
        let image = ImageName {
            repository: "r.io/app".into(),
            tag: Some("v1".into()),
            digest: digest.clone(),
        };
        let st = Statement::about("r.io/app", &digest, "https://example.com/t", empty_predicate(b"{}"));
        let predicate = json!({"level": 3, "tags": ["a", "b"]});
        let ok =
            Condition::compile("predicate.level >= 3 && 'a' in predicate.tags && image.tag == 'v1'").expect("compiles");
        assert_eq!(ok.run(&st, &predicate, &image), Ok(()));
        let no = Condition::compile("predicate.level > 3").expect("compiles");
        assert!(no.run(&st, &predicate, &image).expect_err("false").contains("is false"));
        let missing = Condition::compile("predicate.nope == 1").expect("compiles");
        assert!(
            missing
                .run(&st, &predicate, &image)
                .expect_err("error")
                .contains("could not be evaluated")
        );
        let not_bool = Condition::compile("predicate.level").expect("compiles");
        assert!(
            not_bool
                .run(&st, &predicate, &image)
                .expect_err("int")
                .contains("not a boolean")
        );
        let subj = Condition::compile("subject.digest.sha256 == image.digest.split(':')[1]");
        assert!(subj.is_ok());
    }

    #[test]
    fn unknown_variables_are_compile_errors_with_positions() {
        let e = Condition::compile("predicate.level >= 3 &&\n  attestation.ok").expect_err("unknown");
        assert!(e.message.contains("unknown variable `attestation`"), "{}", e.message);
        assert_eq!((e.line, e.column), (2, 3));
        for fine in [
            "predicate.materials.exists(m, m.uri.startsWith('git+'))",
            "predicate.materials.all(m, m.digest.exists(k, k == 'sha1'))",
            "statement.subject.map(s, s.name).size() > 0 && type(predicate) == map",
            "{'a': image.tag}.a == 'v1' && [subject][0] != null",
        ] {
            assert!(Condition::compile(fine).is_ok(), "{fine}");
        }
        // A comprehension variable is not visible outside its macro.
        for outside in ["predicate.m.exists(m, true) && m == 1", "[x].size() == 1"] {
            let e = Condition::compile(outside).expect_err(outside);
            assert!(
                e.message.contains("undeclared") || e.message.contains("unknown"),
                "{outside}: {}",
                e.message
            );
        }
    }

    /// No expression known panics cel 0.15 at evaluation (integer overflow,
    /// division of i64::MIN by -1, out-of-range indexes, bad conversions,
    /// regex errors and missing overloads all come back as errors; see the
    /// table below), so the guard is proven with a function that panics,
    /// registered in the evaluation context.
    #[test]
    fn a_panic_in_evaluation_is_a_failed_check_with_its_reason() {
        let condition = Condition::compile("boom(predicate) == 1").expect("compiles");
        let mut context = cel::Context::default();
        context
            .add_function("boom", |_: cel::Value| -> i64 { panic!("interpreter bug") })
            .expect("register");
        context.add_variable_from_value("predicate", cel::Value::Int(1));
        let why = condition.evaluate(&context).expect_err("a panic fails the check");
        assert!(
            why.contains("could not be evaluated") && why.contains("the CEL interpreter failed (interpreter bug)"),
            "{why}"
        );
        // the same condition keeps working afterwards (nothing poisoned)
        let mut context = cel::Context::default();
        context
            .add_function("boom", |_: cel::Value| -> i64 { 1 })
            .expect("register");
        context.add_variable_from_value("predicate", cel::Value::Int(1));
        assert_eq!(condition.evaluate(&context), Ok(()));
        // twin: a panic outside the guard is still a panic
        assert!(std::panic::catch_unwind(|| panic!("elsewhere")).is_err());
    }

    #[test]
    fn hostile_arithmetic_and_indexing_fail_the_check_without_a_panic() {
        let digest = Digest::sha256_of(b"img");
        let image = ImageName {
            repository: "r.io/app".into(),
            tag: None,
            digest: digest.clone(),
        };
        let st = Statement::about("r.io/app", &digest, "https://example.com/t", empty_predicate(b"{}"));
        let predicate = json!({"n": i64::MAX, "list": [1, 2, 3]});
        for expr in [
            "predicate.n + 1 > 0",
            "(-9223372036854775807 - 1) / -1 == 1",
            "(-9223372036854775807 - 1) % -1 == 0",
            "-(-9223372036854775807 - 1) > 0",
            "predicate.list[18446744073709551615u] == 1",
            "predicate.list[-1] == 1",
            "int(1e300) == 1",
            "uint(-1) == 1u",
            "'a'.matches('[')",
            "string(b'\\xff') == ''",
            "{1: 1, 1u: 2}[1] == 1",
        ] {
            let condition = Condition::compile(expr).expect(expr);
            let why = condition.run(&st, &predicate, &image).expect_err(expr);
            assert!(why.contains("could not be evaluated"), "{expr}: {why}");
        }
    }

    #[test]
    fn compile_errors_have_positions() {
        let e = Condition::compile("predicate.level >= ").expect_err("bad");
        assert_eq!(e.line, 1);
        assert!(e.column >= 1);
        let e = Condition::compile("  ").expect_err("blank");
        assert!(!e.message.is_empty());
    }
}
