//! Passphrases: `--password-file`, then `SIXCHAT_PASSWORD`, then a prompt.

use anyhow::{Context as _, bail};
use zeroize::Zeroizing;

use crate::Context;

/// The passphrase, from the first line of the file, the variable, or the terminal.
pub fn passphrase(ctx: &Context, prompt: &str, confirm: bool) -> anyhow::Result<Zeroizing<String>> {
    if let Some(path) = &ctx.password_file {
        let text = Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let line = text.lines().next().unwrap_or_default();
        if line.is_empty() {
            bail!(
                "{} is empty: it should hold the passphrase on its first line",
                path.display()
            );
        }
        return Ok(Zeroizing::new(line.to_owned()));
    }
    if let Ok(value) = std::env::var("SIXCHAT_PASSWORD") {
        if value.is_empty() {
            bail!("SIXCHAT_PASSWORD is set but empty");
        }
        return Ok(Zeroizing::new(value));
    }
    let first = Zeroizing::new(rpassword::prompt_password(prompt).context(
        "no passphrase: pass --password-file FILE or set SIXCHAT_PASSWORD (no terminal to ask on)",
    )?);
    if first.is_empty() {
        bail!("the passphrase may not be empty");
    }
    if confirm {
        let again = Zeroizing::new(rpassword::prompt_password("Repeat the passphrase: ")?);
        if *again != *first {
            bail!("the two passphrases differ");
        }
    }
    Ok(first)
}
