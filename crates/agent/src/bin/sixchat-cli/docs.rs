//! What packages ship beside the binary, generated from the clap
//! definitions so they never drift: shell completions and man pages.

use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::Cli;

/// Prints the completion script for `shell` on standard output (a closed
/// pipe is an error, not a crash).
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "sixchat-cli", &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)
        .context("writing the completion script")
}

/// Writes `sixchat-cli.1` and one page per subcommand
/// (`sixchat-cli-mail-send.1`, ...) into `dir`; returns how many.
pub fn manpages(dir: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let command = Cli::command();
    let mut written = 0;
    let mut pending = vec![(String::from("sixchat-cli"), command)];
    while let Some((name, mut command)) = pending.pop() {
        if command.is_hide_set() {
            continue;
        }
        command = command.name(name.clone());
        for sub in command.get_subcommands() {
            pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(command).render(&mut page)?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
        written += 1;
    }
    Ok(written)
}
