//! The open model's clock: a thread of its own sleeps until each iteration's intended start
//! and hands it to the driver.
//!
//! Tokio's timers fire on millisecond ticks, too coarse for arrivals tens of microseconds
//! apart, and a task that yields until its time comes keeps a core busy the whole run (on a
//! machine it shares with the members it measures). A thread sleeping with the kernel's
//! finest timer slack wakes within tens of microseconds of the time and costs nothing in
//! between. Handing a tick to a parked runtime worker takes tens of microseconds more, so
//! the thread sends each tick a little ahead (a lead the driver adjusts to what it sees) and
//! the driver yields the last few microseconds away. A late tick is never hidden: each
//! carries its intended start, and the iteration's response time counts from there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::executor::Schedule;

/// Ticks handed over but not yet taken by the driver; the thread waits beyond that (the
/// ticks it sends then are late, and say so).
const QUEUED: usize = 4096;

/// The longest a sleep lasts before the thread checks whether the driver still listens.
const MAX_NAP: Duration = Duration::from_millis(20);

/// The most a tick is sent ahead of its time: at worst the driver yields this long per tick.
const MAX_LEAD_NS: u64 = 250_000;

/// How early the driver aims to receive a tick: its margin against a slow hand-over.
const AIM_EARLY_NS: i64 = 5_000;

/// Iteration `index` is due `at` after the step's clock started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Tick {
    pub index: u64,
    pub at: Duration,
}

/// The ticks of a schedule, in order, each once its time has come.
pub(super) enum Ticker {
    /// From the clock thread.
    Thread {
        clock: Instant,
        ticks: mpsc::Receiver<Tick>,
        /// How far ahead of its time the thread sends a tick, in nanoseconds.
        lead: Arc<AtomicU64>,
        /// Not joined (the thread ends by itself); the tests watch it end.
        #[cfg_attr(not(test), allow(dead_code))]
        thread: std::thread::JoinHandle<()>,
    },
    /// No thread could be started: tokio's timer (up to a millisecond late).
    Timer {
        clock: Instant,
        schedule: Schedule,
        next: u64,
    },
}

impl Ticker {
    /// Starts ticking `schedule` from `clock`.
    pub fn start(clock: Instant, schedule: Schedule) -> Ticker {
        let (tx, rx) = mpsc::channel(QUEUED);
        let thread_schedule = schedule.clone();
        let lead = Arc::new(AtomicU64::new(0));
        let thread_lead = lead.clone();
        let spawned = std::thread::Builder::new()
            .name("hzlab-arrivals".into())
            .spawn(move || tick(clock, &thread_schedule, &thread_lead, &tx));
        match spawned {
            Ok(thread) => Ticker::Thread {
                clock,
                ticks: rx,
                lead,
                thread,
            },
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "no thread for the arrival clock: iterations may start up to 1 ms late"
                );
                Ticker::Timer {
                    clock,
                    schedule,
                    next: 0,
                }
            }
        }
    }

    /// The next tick once it is due; `None` when the schedule has ended.
    pub async fn next(&mut self) -> Option<Tick> {
        match self {
            Ticker::Thread {
                clock, ticks, lead, ..
            } => {
                let tick = ticks.recv().await?;
                let due = *clock + tick.at;
                adjust_lead(lead, Instant::now(), due);
                while Instant::now() < due {
                    tokio::task::yield_now().await;
                }
                Some(tick)
            }
            Ticker::Timer {
                clock,
                schedule,
                next,
            } => {
                let at = schedule.intended(*next)?;
                tokio::time::sleep_until((*clock + at).into()).await;
                let tick = Tick { index: *next, at };
                *next += 1;
                Some(tick)
            }
        }
    }
}

/// Moves the lead an eighth of the way towards receiving ticks `AIM_EARLY_NS` before they
/// are due, given one received at `now`.
fn adjust_lead(lead: &AtomicU64, now: Instant, due: Instant) {
    let late_ns = if now >= due {
        i64::try_from((now - due).as_nanos()).unwrap_or(i64::MAX)
    } else {
        -i64::try_from((due - now).as_nanos()).unwrap_or(i64::MAX)
    };
    let old = lead.load(Ordering::Relaxed) as i64;
    let new = old.saturating_add(late_ns.saturating_add(AIM_EARLY_NS) / 8);
    lead.store(new.clamp(0, MAX_LEAD_NS as i64) as u64, Ordering::Relaxed);
}

/// The clock thread: sleeps until each tick is due (less the lead) and sends it; ends with
/// the schedule or as soon as the driver stops listening.
fn tick(clock: Instant, schedule: &Schedule, lead: &AtomicU64, tx: &mpsc::Sender<Tick>) {
    finest_timer_slack();
    let mut index = 0u64;
    while let Some(at) = schedule.intended(index) {
        let due = (clock + at)
            .checked_sub(Duration::from_nanos(lead.load(Ordering::Relaxed)))
            .unwrap_or(clock);
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            if tx.is_closed() {
                return;
            }
            std::thread::sleep((due - now).min(MAX_NAP));
        }
        if tx.blocking_send(Tick { index, at }).is_err() {
            return;
        }
        index += 1;
    }
}

/// Asks the kernel to end this thread's sleeps on time rather than up to its default 50 µs
/// late (timers are grouped by that slack to save wake-ups).
fn finest_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes an integer and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Stage;

    fn schedule(rate: f64, secs: f64) -> Schedule {
        Schedule::new(
            rate,
            &[Stage {
                target: rate,
                duration: Duration::from_secs_f64(secs),
            }],
        )
    }

    /// Every tick of the schedule comes once, in order, not before its time.
    #[tokio::test]
    async fn ticks_come_in_order_and_never_early() {
        let clock = Instant::now();
        let mut ticker = Ticker::start(clock, schedule(2000.0, 0.1));
        assert!(matches!(ticker, Ticker::Thread { .. }));
        let mut seen = 0u64;
        while let Some(t) = ticker.next().await {
            assert_eq!(t.index, seen);
            assert!(
                Instant::now() >= clock + t.at,
                "tick {} came early",
                t.index
            );
            seen += 1;
        }
        assert_eq!(seen, 200);
    }

    /// The thread ends soon after the driver stops listening, in a long gap too.
    #[tokio::test]
    async fn the_thread_stops_when_the_driver_does() {
        let mut ticker = Ticker::start(Instant::now(), schedule(0.5, 3600.0));
        // The first tick is due at once; the second only in 2 s.
        assert_eq!(ticker.next().await.map(|t| t.index), Some(0));
        let Ticker::Thread { ticks, thread, .. } = ticker else {
            panic!("no thread")
        };
        drop(ticks);
        let dropped = Instant::now();
        while !thread.is_finished() {
            assert!(
                dropped.elapsed() < Duration::from_secs(1),
                "the clock thread still runs 1 s after the driver stopped"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        thread.join().unwrap();
    }

    /// Late ticks lengthen the lead, early ones shorten it, within its bounds.
    #[test]
    fn the_lead_follows_the_lateness_it_sees() {
        let lead = AtomicU64::new(0);
        let due = Instant::now() + Duration::from_secs(1);
        adjust_lead(&lead, due + Duration::from_micros(75), due);
        assert_eq!(lead.load(Ordering::Relaxed), 10_000);
        for _ in 0..200 {
            adjust_lead(&lead, due + Duration::from_micros(75), due);
        }
        assert_eq!(lead.load(Ordering::Relaxed), MAX_LEAD_NS);
        adjust_lead(&lead, due - Duration::from_micros(85), due);
        assert_eq!(lead.load(Ordering::Relaxed), MAX_LEAD_NS - 10_000);
        for _ in 0..200 {
            adjust_lead(&lead, due - Duration::from_millis(1), due);
        }
        assert_eq!(lead.load(Ordering::Relaxed), 0);
    }

    /// Without a thread, tokio's timer gives the same ticks.
    #[tokio::test]
    async fn the_timer_fallback_gives_the_same_ticks() {
        let clock = Instant::now();
        let mut ticker = Ticker::Timer {
            clock,
            schedule: schedule(1000.0, 0.02),
            next: 0,
        };
        let mut seen = 0u64;
        while let Some(t) = ticker.next().await {
            assert_eq!(t.index, seen);
            assert!(Instant::now() >= clock + t.at);
            seen += 1;
        }
        assert_eq!(seen, 20);
    }
}
