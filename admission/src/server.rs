//! PLACEHOLDER (lead writes this).

/// How `sigil admission` was asked to run.
#[derive(Clone, Debug)]
pub struct Config;

/// Serves until the process is stopped.
pub async fn run(_config: Config) -> anyhow::Result<()> {
    anyhow::bail!("not yet")
}
