//! `sigil containerd-verifier --policy P ... -name REF -digest D
//! -stdin-media-type T`: an executable for containerd 2.x's image-verifier
//! `bin_dir` ([`bindir`] has the contract). One pull, one decision by the
//! library's pipeline with the policy as judge, as `verify --policy` and the
//! admission webhook make it.
//!
//! Everything blocks with a reason on stdout and a non-zero exit, never with
//! silence: flags containerd did not send as expected, a stdin descriptor
//! naming another digest, a broken policy, an unreachable registry, and the
//! own deadline (`--timeout`, well inside containerd's 10 s, past which
//! containerd kills the verifier and shows no reason). Exit 1 is a denial by
//! the policy, exit 2 a pull that could not be judged; containerd blocks on
//! both and shows the code. Nothing is returned as an `Err`: `main` would
//! print it on stderr only, and would turn a broken stdout into exit 0.

mod bindir;

use std::sync::Arc;
use std::time::Duration;

use sigil_verifier::pipeline::{Decided, Outcome as Decision, Pipeline, PolicyJudge, Settings, Subject};
use sigil_verifier::policy::{CheckResult, Decision as Verdict, Mode, Report};
use sigil_verifier::reference::ImageRef;
use time::OffsetDateTime;

use super::batch::open_with;
use super::verify_policy::load_policy;
use crate::Outcome;
use crate::args::ContainerdVerifierArgs;
use crate::common::server_registry_client;

/// The longest stdin is waited for, at most a quarter of `--timeout`.
const STDIN_WAIT: Duration = Duration::from_secs(2);

pub async fn run(args: ContainerdVerifierArgs) -> anyhow::Result<Outcome> {
    let (line, outcome) = match bindir::Request::parse(&args.containerd) {
        Err(e) => (format!("sigil blocked the pull: {e}"), Outcome::Error),
        Ok(request) => match tokio::time::timeout(args.timeout, judge(&args, &request)).await {
            Ok(judged) => judged,
            Err(_) => (
                format!(
                    "sigil blocked {}: not judged within --timeout {:?} (a registry slow or not answering?)",
                    request.judged_as(),
                    args.timeout
                ),
                Outcome::Error,
            ),
        },
    };
    answer(&line, outcome);
    Ok(outcome)
}

/// Writes the reason on stdout, and a pull not judged as an error on stderr
/// too (DESIGN §2; containerd logs stderr at debug level). A stdout
/// containerd stopped reading changes nothing about the exit code, which is
/// the judgement.
fn answer(line: &str, outcome: Outcome) {
    use std::io::Write as _;
    let line = bindir::reason_line(line);
    if outcome == Outcome::Error {
        let _ = writeln!(std::io::stderr(), "error: {line}");
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The stdin check and the decision, side by side.
async fn judge(args: &ContainerdVerifierArgs, request: &bindir::Request) -> (String, Outcome) {
    let wait = STDIN_WAIT.min(args.timeout / 4);
    let (stdin, decided) = tokio::join!(bindir::read_descriptor(wait), decide(args, request));
    let image = request.judged_as();
    match stdin {
        Err(e) => return (format!("sigil blocked {image}: {e}"), Outcome::Error),
        Ok(Some(digest)) if digest != request.digest => {
            return (
                format!(
                    "sigil blocked {image}: the descriptor on stdin names {digest}, not -digest {}",
                    request.digest
                ),
                Outcome::Error,
            );
        }
        Ok(_) => {}
    }
    match decided {
        Ok(decided) => line_of(&decided),
        Err(e) => (format!("sigil blocked {image}: {e:#}"), Outcome::Error),
    }
}

/// The policy's decision about `REPO@DIGEST`, judged as `REPO[:TAG]@DIGEST`.
async fn decide(args: &ContainerdVerifierArgs, request: &bindir::Request) -> anyhow::Result<Decided<Report>> {
    let now = OffsetDateTime::now_utc();
    let policy = load_policy(&args.policy, now)?;
    let client = server_registry_client(&args.registry)?;
    let settings = Settings {
        concurrency: 1,
        limits: args.evidence.limits(),
        ..Settings::default()
    };
    let pipeline = Pipeline::new(open_with(client), PolicyJudge(Arc::new(policy)), settings);
    let subject = Subject {
        // By digest: fetched to prove it exists in the repository, never a tag resolved.
        image: ImageRef::Registry(request.repository_at_digest()),
        digest: None,
        judged_as: Some(ImageRef::Registry(request.judged_as())),
        at: None,
    };
    pipeline
        .decide_all(vec![subject], now, &|_| {})
        .await
        .pop()
        .ok_or_else(|| anyhow::anyhow!("internal: no decision was made"))
}

/// The answer for a decision: allowed exactly when the policy's report
/// allows (a `warn` or `audit` rule allows even what could not be
/// evaluated, and says so, as in the admission webhook).
fn line_of(decided: &Decided<Report>) -> (String, Outcome) {
    let Some(report) = &decided.verdict else {
        let why = decided
            .error
            .as_ref()
            .map_or_else(|| "no decision was made".to_owned(), ToString::to_string);
        return (format!("sigil blocked {}: {why}", decided.image), Outcome::Error);
    };
    let rule = match (&report.rule, report.mode) {
        (Some(rule), Some(mode)) => format!(" by rule {rule} ({mode})"),
        _ => String::new(),
    };
    // An image that could not be evaluated has a failed check saying so.
    let mut why: Vec<String> = report
        .checks
        .iter()
        .filter(|c| c.result == CheckResult::Fail)
        .map(|c| format!("{} [{}]", c.reason, c.code))
        .collect();
    if let (true, Some(e)) = (why.is_empty(), &report.error) {
        why.push(format!("could not be evaluated: {e}"));
    }
    let why = why.join("; ");
    if report.decision == Verdict::Allow {
        let line = match report.mode {
            _ if why.is_empty() => format!("sigil allowed {}{rule}", report.image),
            Some(Mode::Audit) => format!("sigil allowed {}{rule}, which never blocks; audit: {why}", report.image),
            _ => format!(
                "sigil allowed {}{rule}, which never blocks; would deny: {why}",
                report.image
            ),
        };
        return (line, Outcome::Success);
    }
    let why = if why.is_empty() { "denied".to_owned() } else { why };
    let outcome = match decided.outcome {
        Decision::Unevaluated => Outcome::Error,
        Decision::Denied | Decision::Allowed => Outcome::Failed,
    };
    (format!("sigil denied {}{rule}: {why}", report.image), outcome)
}
