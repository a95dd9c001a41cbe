//! `sigil`: arguments -> validated settings -> calls into the verifier ->
//! rendered output. Exit codes: 0 verified, 1 failed, 2 error.
#![forbid(unsafe_code)]

mod args;
mod commands;
mod common;
mod password;
mod trust_cache;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// What a finished command concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Verified, allowed, or done.
    Success,
    /// Verification failed or denied.
    Failed,
    /// Some input could not be evaluated; the command already said why on stderr.
    Error,
}

impl From<sigil_verifier::pipeline::Outcome> for Outcome {
    fn from(outcome: sigil_verifier::pipeline::Outcome) -> Self {
        use sigil_verifier::pipeline::Outcome as Decided;
        match outcome {
            Decided::Allowed => Outcome::Success,
            Decided::Denied => Outcome::Failed,
            Decided::Unevaluated => Outcome::Error,
        }
    }
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version (stdout, exit 0), and the help shown when
        // no command is given, as clap prints them.
        Err(e) if !e.use_stderr() || e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            let name = std::env::args().nth(1).unwrap_or_default();
            return match cosign_equivalent(&name) {
                Some(hint) => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "error: sigil has no `{name}` command (cosign's): {hint}"
                    );
                    ExitCode::from(2)
                }
                None => usage_error(&e),
            };
        }
        Err(e) => return usage_error(&e),
    };
    // A server logs what it does (reloads, denials) without being asked.
    let server = matches!(cli.command, args::Command::Admission(_) | args::Command::Gate(_));
    init_logging(cli.verbose.saturating_add(u8::from(server)));
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Ok(Outcome::Error) => ExitCode::from(2),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Prints an error as exactly one line on stderr and exits 2.
fn fail(e: &anyhow::Error) -> ExitCode {
    let line = format!("{e:#}").replace(['\n', '\r'], " ");
    let _ = writeln!(std::io::stderr(), "error: {line}");
    ExitCode::from(2)
}

/// A usage error as one line on stderr (DESIGN §2), exit 2: clap's message
/// and tips, without the usage block and the pointer to `--help`. For
/// `sigil containerd-verifier` the line goes to stdout too: containerd shows
/// only stdout as the reason a pull was blocked.
fn usage_error(e: &clap::Error) -> ExitCode {
    let rendered = e.render().to_string();
    let kept: Vec<&str> = rendered
        .split("\n\n")
        .filter(|paragraph| {
            let paragraph = paragraph.trim_start();
            !paragraph.starts_with("Usage:") && !paragraph.starts_with("For more information")
        })
        .flat_map(str::lines)
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let line = kept.join(" ");
    let _ = writeln!(std::io::stderr(), "{line}");
    if std::env::args_os().nth(1).is_some_and(|a| a == "containerd-verifier") {
        let why = line.strip_prefix("error: ").unwrap_or(&line);
        let _ = writeln!(std::io::stdout(), "sigil blocked the pull: {why}");
    }
    ExitCode::from(2)
}

/// What to run instead of a cosign command sigil does not have under that name.
fn cosign_equivalent(name: &str) -> Option<&'static str> {
    Some(match name {
        "generate-key-pair" => "use `sigil key generate --output-key-prefix NAME` (same key file format)",
        "public-key" => "use `sigil key public --key NAME.key`",
        "import-key-pair" => "use `sigil key import --key KEY.pem --output-key-prefix NAME`",
        "verify-blob" | "verify-blob-attestation" => {
            "use `sigil verify-bundle --bundle FILE.sigstore.json ARTIFACT` with --key or the --certificate-identity flags"
        }
        "save" => "use `sigil copy IMAGE oci:DIR` (an OCI layout with the image, its signatures and attestations)",
        "load" => "use `sigil copy oci:DIR IMAGE`",
        "download" => {
            "use `sigil tree IMAGE --output json` to list signatures, attestations and SBOMs, or `sigil copy IMAGE oci:DIR` to store them"
        }
        "triangulate" => "use `sigil tree IMAGE` (its JSON names every .sig/.att tag and referrer)",
        "initialize" => {
            "use `sigil trust update [--mirror URL] [--root ROOT.json]` (the trusted root is also embedded, and --trusted-root FILE replaces it)"
        }
        _ => return None,
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGIL_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "sigil={level},sigil_verifier={level},sigil_admission={level},sigil_gate={level}"
        ))
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .without_time()
        .with_target(false)
        .init();
}
