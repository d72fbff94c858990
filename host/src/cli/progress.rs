//! The live progress line on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hzlab::report::thousands;
use hzlab::runner::Progress;

/// Draws the progress line on stderr every 200 ms while the run goes on, if stderr is a
/// terminal. Returns a handle that clears the line when stopped.
pub fn spawn(progress: Arc<Progress>, enabled: bool) -> Option<tokio::task::JoinHandle<()>> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let started = Instant::now();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let line = match progress.stage.load(Ordering::Relaxed) {
                0 => "setting up".to_owned(),
                1 => format!(
                    "running: {}/{} instances done",
                    progress.instances_done.load(Ordering::Relaxed),
                    progress.instances_total.load(Ordering::Relaxed)
                ),
                _ => "verifying".to_owned(),
            };
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K  {line} · {} ops · {:.1} s",
                thousands(progress.ops.load(Ordering::Relaxed)),
                started.elapsed().as_secs_f64()
            );
            let _ = err.flush();
        }
    }))
}

/// Stops the progress line and clears it.
pub fn stop(handle: Option<tokio::task::JoinHandle<()>>) {
    if let Some(h) = handle {
        h.abort();
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}
