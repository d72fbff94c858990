//! The live progress display. On a terminal: one line, redrawn by indicatif five times a
//! second and cut to the terminal's width, with guest log lines printed above it. Without a
//! terminal (CI, a pipe): a plain line every few seconds while the instances run.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hzlab::format::thousands;
use hzlab::metrics::show_us;
use hzlab::progress::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the line on a terminal is redrawn.
const TICK: Duration = Duration::from_millis(200);
/// How often a plain line is printed without a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// The window the measured rate is taken over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

/// What the line shows, read from [`Progress`] at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
struct Snapshot {
    label: String,
    /// 0 setting up, 1 running, 2 verifying.
    stage: u32,
    done: u32,
    total: u32,
    ops: u64,
    iterations: u64,
    dropped: u64,
    /// The step's executor, when it calls `iteration`.
    executor: Option<&'static str>,
    /// Iterations per second over the last second, and the open model's target.
    rate: Option<f64>,
    target_rate: Option<f64>,
    p99_us: Option<f64>,
    elapsed: Duration,
}

/// The status line, most telling figures first (a narrow terminal cuts the end).
fn status_line(s: &Snapshot) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !s.label.is_empty() {
        parts.push(s.label.clone());
    }
    match (s.stage, s.executor) {
        (0, _) => parts.push("setting up".into()),
        (1, None) => parts.push(format!(
            "{} {}/{} instances done",
            bar(s.done, s.total, 16),
            s.done,
            s.total
        )),
        (1, Some(executor)) => {
            parts.push(format!(
                "{executor}: {} iterations",
                thousands(s.iterations)
            ));
            let rate = s.rate.map(|r| format!("{}/s", thousands(r.round() as u64)));
            match (rate, s.target_rate) {
                (Some(r), Some(t)) => {
                    parts.push(format!("{r} of {}/s", thousands(t.round() as u64)))
                }
                (Some(r), None) => parts.push(r),
                (None, Some(t)) => parts.push(format!("target {}/s", thousands(t.round() as u64))),
                (None, None) => {}
            }
            if s.target_rate.is_some() || s.dropped > 0 {
                parts.push(format!("{} dropped", thousands(s.dropped)));
            }
            if let Some(p99) = s.p99_us {
                parts.push(format!("p99 {}", show_us(p99)));
            }
        }
        _ => parts.push("verifying".into()),
    }
    parts.push(format!("{} ops", thousands(s.ops)));
    parts.push(format!("{:.1} s", s.elapsed.as_secs_f64()));
    parts.join(" · ")
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

/// Reads [`Progress`] into snapshots, measuring the rate of iterations over a window.
struct Reader {
    progress: Arc<Progress>,
    started: Instant,
    /// The rate is measured against the oldest sample at most this old.
    window: Duration,
    samples: VecDeque<(Instant, u64)>,
}

impl Reader {
    /// Reads every `period` or so: the rate is measured over about one second, or over the
    /// last period when that is longer.
    fn new(progress: Arc<Progress>, period: Duration) -> Reader {
        Reader {
            progress,
            started: Instant::now(),
            window: RATE_WINDOW.max(period + period / 2),
            samples: VecDeque::new(),
        }
    }

    fn read(&mut self) -> Snapshot {
        let p = &self.progress;
        let now = Instant::now();
        let iterations = p.iterations.load(Ordering::Relaxed);
        let stage = p.stage.load(Ordering::Relaxed);
        let live = p.live();
        if stage != 1 {
            self.samples.clear();
        }
        self.samples.push_back((now, iterations));
        while self
            .samples
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > self.window)
        {
            self.samples.pop_front();
        }
        let rate = self.samples.front().and_then(|(t, n)| {
            let secs = now.duration_since(*t).as_secs_f64();
            (secs >= 0.1).then(|| iterations.saturating_sub(*n) as f64 / secs)
        });
        Snapshot {
            label: p.label(),
            stage,
            done: p.instances_done.load(Ordering::Relaxed),
            total: p.instances_total.load(Ordering::Relaxed),
            ops: p.ops.load(Ordering::Relaxed),
            iterations,
            dropped: p.dropped.load(Ordering::Relaxed),
            executor: live.executor,
            rate,
            target_rate: p.target_rate(),
            p99_us: live.p99_us,
            elapsed: self.started.elapsed(),
        }
    }
}

/// The display while it runs.
struct Display {
    task: tokio::task::JoinHandle<()>,
    bar: Option<ProgressBar>,
}

fn start(progress: Arc<Progress>) -> Display {
    if !std::io::stderr().is_terminal() {
        let mut reader = Reader::new(progress, PLAIN_EVERY);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(PLAIN_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let s = reader.read();
                if s.stage == 1 {
                    eprintln!("  progress: {}", status_line(&s));
                }
            }
        });
        return Display { task, bar: None };
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5));
    bar.set_style(ProgressStyle::with_template("  {wide_msg}").expect("a valid template"));
    let lines = bar.clone();
    progress.echo_to(Box::new(move |line: &str| {
        if lines.is_finished() {
            eprintln!("{line}");
        } else {
            lines.println(line);
        }
    }));
    let mut reader = Reader::new(progress, TICK);
    let drawn = bar.clone();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            drawn.set_message(status_line(&reader.read()));
        }
    });
    Display {
        task,
        bar: Some(bar),
    }
}

/// Awaits `work` with the progress display (when `enabled`), and clears it after.
pub async fn shown<F: std::future::Future>(
    progress: &Arc<Progress>,
    enabled: bool,
    work: F,
) -> F::Output {
    let display = enabled.then(|| start(progress.clone()));
    let output = work.await;
    if let Some(d) = display {
        d.task.abort();
        if let Some(bar) = d.bar {
            bar.finish_and_clear();
        }
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_fills_in_proportion() {
        assert_eq!(bar(0, 3, 6), "[------]");
        assert_eq!(bar(1, 3, 6), "[##----]");
        assert_eq!(bar(3, 3, 6), "[######]");
        assert_eq!(bar(5, 3, 6), "[######]");
        assert_eq!(bar(0, 0, 4), "[----]");
    }

    #[test]
    fn the_line_shows_what_the_step_runs() {
        let mut s = Snapshot {
            label: "load 1/2 · ramp".into(),
            stage: 1,
            done: 1,
            total: 4,
            ops: 123_456,
            elapsed: Duration::from_millis(2_500),
            ..Snapshot::default()
        };
        assert_eq!(
            status_line(&s),
            "load 1/2 · ramp · [####------------] 1/4 instances done · 123,456 ops · 2.5 s"
        );
        s.executor = Some("constant-arrival-rate");
        s.iterations = 4_990;
        s.rate = Some(1_998.4);
        s.target_rate = Some(2_000.0);
        s.p99_us = Some(1_250.0);
        assert_eq!(
            status_line(&s),
            "load 1/2 · ramp · constant-arrival-rate: 4,990 iterations · 1,998/s of 2,000/s · \
             0 dropped · p99 1.250 ms · 123,456 ops · 2.5 s"
        );
        // Closed models have no target and drop nothing.
        s.executor = Some("shared-iterations");
        s.target_rate = None;
        s.p99_us = None;
        assert_eq!(
            status_line(&s),
            "load 1/2 · ramp · shared-iterations: 4,990 iterations · 1,998/s · 123,456 ops · \
             2.5 s"
        );
        s.stage = 2;
        assert!(status_line(&s).contains("verifying"));
    }

    #[test]
    fn the_rate_is_measured_over_the_last_second() {
        let p = Arc::new(Progress::default());
        p.stage.store(1, Ordering::Relaxed);
        let mut r = Reader::new(p.clone(), TICK);
        assert_eq!(r.read().rate, None);
        // Pretend the first sample was taken half a second ago.
        let back = Instant::now() - Duration::from_millis(500);
        r.samples[0].0 = back;
        p.iterations.store(1_000, Ordering::Relaxed);
        let rate = r.read().rate.unwrap();
        assert!((1_800.0..=2_100.0).contains(&rate), "{rate}");
    }
}
