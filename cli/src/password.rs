//! Passwords for encrypted key files: SIGIL_PASSWORD, else COSIGN_PASSWORD,
//! else a prompt on the terminal. Without a terminal and without a variable
//! it is an error, never a hang.

use std::io::IsTerminal as _;

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

/// Where the password came from, for error messages.
pub struct Password {
    pub value: Zeroizing<String>,
    pub source: &'static str,
}

/// The password to open an existing key.
pub fn for_reading(what: &str) -> anyhow::Result<Password> {
    obtain(what, false)
}

/// The password for a new key file (asked twice on a terminal).
pub fn for_writing(what: &str) -> anyhow::Result<Password> {
    obtain(what, true)
}

fn obtain(what: &str, confirm: bool) -> anyhow::Result<Password> {
    for name in ["SIGIL_PASSWORD", "COSIGN_PASSWORD"] {
        if let Some(value) = std::env::var_os(name) {
            let value = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("{name} is not valid UTF-8"))?;
            return Ok(Password {
                value: Zeroizing::new(value),
                source: if name == "SIGIL_PASSWORD" {
                    "SIGIL_PASSWORD"
                } else {
                    "COSIGN_PASSWORD"
                },
            });
        }
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        bail!(
            "a password is needed for {what}: set SIGIL_PASSWORD (or COSIGN_PASSWORD); there is no terminal to ask on"
        );
    }
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("Enter password for {what}: ")).context("reading the password")?,
    );
    if confirm {
        let again =
            Zeroizing::new(rpassword::prompt_password("Enter password again: ").context("reading the password")?);
        if *first != *again {
            bail!("the two passwords differ; nothing was written");
        }
    }
    Ok(Password {
        value: first,
        source: "the terminal prompt",
    })
}
