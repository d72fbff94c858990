//! The live progress line on a terminal.

use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hzlab::format::thousands;
use hzlab::progress::Progress;

/// Draws the progress line on stderr every 200 ms while the run goes on, if stderr is a
/// terminal. Returns a handle that clears the line when stopped.
fn spawn(progress: Arc<Progress>, enabled: bool) -> Option<tokio::task::JoinHandle<()>> {
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let started = Instant::now();
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let label = progress.label();
            let stage = match progress.stage.load(Ordering::Relaxed) {
                0 => "setting up".to_owned(),
                1 => {
                    let done = progress.instances_done.load(Ordering::Relaxed);
                    let total = progress.instances_total.load(Ordering::Relaxed);
                    format!("{} {done}/{total} instances done", bar(done, total, 16))
                }
                _ => "verifying".to_owned(),
            };
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r\x1b[2K  {}{stage} · {} ops · {:.1} s",
                if label.is_empty() {
                    String::new()
                } else {
                    format!("{label} · ")
                },
                thousands(progress.ops.load(Ordering::Relaxed)),
                started.elapsed().as_secs_f64()
            );
            let _ = err.flush();
        }
    }))
}

/// `[#####-----]`: `done` of `total` in `width` cells.
fn bar(done: u32, total: u32, width: usize) -> String {
    let filled = if total == 0 {
        0
    } else {
        (done.min(total) as usize * width) / total as usize
    };
    format!("[{}{}]", "#".repeat(filled), "-".repeat(width - filled))
}

/// Awaits `work` with the progress line drawn (when `enabled`), and clears the line after.
pub async fn shown<F: std::future::Future>(
    progress: &Arc<Progress>,
    enabled: bool,
    work: F,
) -> F::Output {
    let line = spawn(progress.clone(), enabled);
    let output = work.await;
    stop(line);
    output
}

/// Stops the progress line and clears it.
fn stop(handle: Option<tokio::task::JoinHandle<()>>) {
    if let Some(h) = handle {
        h.abort();
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use super::bar;

    #[test]
    fn bar_fills_in_proportion() {
        assert_eq!(bar(0, 3, 6), "[------]");
        assert_eq!(bar(1, 3, 6), "[##----]");
        assert_eq!(bar(3, 3, 6), "[######]");
        assert_eq!(bar(5, 3, 6), "[######]");
        assert_eq!(bar(0, 0, 4), "[----]");
    }
}
