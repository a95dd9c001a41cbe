//! `sigil version` and `sigil completion SHELL`.

use clap::CommandFactory as _;
use sigil_verifier::digest::Digest;
use sigil_verifier::sigstore::{TrustedRoot, public_good_json};

use crate::Outcome;
use crate::args::{Cli, OutputFormat};
use crate::common::{print, print_json};

pub fn run(output: OutputFormat) -> anyhow::Result<Outcome> {
    let version = env!("CARGO_PKG_VERSION");
    let platform = format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH);
    let root = Digest::sha256_of(public_good_json());
    let summary = TrustedRoot::public_good().summary();
    match output {
        OutputFormat::Human => print(&format!(
            "sigil {version}\nplatform: {platform}\nembedded trusted root: Sigstore public-good, {root} \
             (transparency logs: {}, certificate authorities: {}, CT logs: {}, timestamp authorities: {})",
            summary.tlogs, summary.certificate_authorities, summary.ctlogs, summary.timestamp_authorities
        ))?,
        OutputFormat::Json => print_json(&serde_json::json!({
            "apiVersion": "sigil.dev/version/v1",
            "version": version,
            "platform": platform,
            "embeddedTrustedRoot": {
                "name": "sigstore public-good",
                "sha256": root.hex(),
                "transparencyLogs": summary.tlogs,
                "certificateAuthorities": summary.certificate_authorities,
                "ctLogs": summary.ctlogs,
                "timestampAuthorities": summary.timestamp_authorities,
            },
        }))?,
    }
    Ok(Outcome::Success)
}

pub fn completion(shell: clap_complete::Shell) -> anyhow::Result<Outcome> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "sigil", &mut script);
    print(String::from_utf8_lossy(&script).trim_end())?;
    Ok(Outcome::Success)
}
