//! Ctrl-C and SIGTERM during `hzlab run`: the first stops the run, which still writes its
//! results (marked `interrupted`, exit 130); the second quits at once.

use std::sync::Arc;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use hzlab::progress::Progress;

use super::out;

/// Watches for SIGINT and SIGTERM from now on, on a thread of its own (so that it answers
/// whatever the run's thread is doing): the first raises `progress.interrupt`, the second
/// exits with 130 at once.
pub fn watch(progress: &Arc<Progress>) -> anyhow::Result<()> {
    let mut signals =
        Signals::new([SIGINT, SIGTERM]).context("cannot watch for Ctrl-C and SIGTERM")?;
    let progress = progress.clone();
    std::thread::Builder::new()
        .name("hzlab-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                let name = if signal == SIGTERM {
                    "SIGTERM"
                } else {
                    "Ctrl-C"
                };
                if seen == 1 {
                    out::eprint(&format!(
                        "\nhzlab: {name}: stopping the instances and writing the results so far \
                         (again to quit at once)\n"
                    ));
                    progress.interrupt.raise();
                } else {
                    out::eprint(&format!("\nhzlab: {name} again: quitting\n"));
                    std::process::exit(super::exit::INTERRUPTED.into());
                }
            }
        })
        .context("cannot start the thread that watches for Ctrl-C")?;
    Ok(())
}
