//! Executors: how often a run step calls its scenarios, in k6's vocabulary where it fits.
//!
//! Closed models wait for the system: each instance starts its next call when its last one
//! ended ([`Executor::Once`], [`Executor::SharedIterations`], [`Executor::ConstantInstances`]).
//! The open model ([`Executor::ArrivalRate`]) starts iterations on a schedule whatever the
//! system does, on free instances of a pool; an iteration that finds no free instance is
//! dropped and counted, never delayed. Its latency counts from the intended start
//! (coordinated-omission free).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::latency::{Latencies, LatencyStats};
use crate::series::IterationCounts;

/// Most iterations per second a step may ask for.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Longest a step may run.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How a step calls one scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Executor {
    /// Each instance calls `run` once (every world version).
    #[default]
    Once,
    /// `iterations` calls of `iteration` in all, shared by the instances: each instance
    /// takes the next as soon as its last ended.
    SharedIterations { iterations: u64 },
    /// Each instance calls `iteration` again and again for `duration`.
    ConstantInstances { duration: Duration },
    /// Iterations start at a rate that goes linearly from `start_rate` through each stage's
    /// target (per second), on a pool of instances that grows to `max_instances`.
    ArrivalRate {
        start_rate: f64,
        stages: Vec<Stage>,
        max_instances: u32,
    },
}

/// One stage of a rate schedule: the rate goes linearly to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stage {
    pub target: f64,
    #[serde(serialize_with = "crate::executor::ser_secs")]
    pub duration: Duration,
}

pub(crate) fn ser_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The executor fields of a plan step or the command line, as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecutorFields {
    pub iterations: Option<u64>,
    pub duration: Option<Duration>,
    pub rate: Option<f64>,
    pub stages: Vec<Stage>,
    pub max_instances: Option<u32>,
    pub trim: Option<Trim>,
}

/// Warm-up and cool-down left out of a step's totals (`trim = ["5s", "2s"]`): latencies,
/// iteration counts and the rate count only what ended between `warm_up` after the run
/// phase's start and `cool_down` before its planned end. The figures over time keep
/// everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Trim {
    pub warm_up: Duration,
    pub cool_down: Duration,
}

impl Trim {
    /// `WARM,COOL` as the command line gives it (`5s,2s`).
    pub fn parse(text: &str) -> Result<Trim, String> {
        let Some((warm, cool)) = text.split_once(',') else {
            return Err(format!("`{text}` is not WARM-UP,COOL-DOWN (e.g. `5s,2s`)"));
        };
        Ok(Trim {
            warm_up: parse_duration(warm.trim())?,
            cool_down: parse_duration(cool.trim())?,
        })
    }

    /// The measured window of an executor that runs for `duration`: from, to (after the run
    /// phase's start); `Err` when the trim leaves nothing.
    pub fn window(&self, duration: Duration) -> Result<(Duration, Duration), String> {
        let to = duration.checked_sub(self.cool_down);
        match to {
            Some(to) if to > self.warm_up => Ok((self.warm_up, to)),
            _ => Err(format!(
                "trimming {} and {} leaves nothing of {}",
                show_duration(self.warm_up),
                show_duration(self.cool_down),
                show_duration(duration)
            )),
        }
    }
}

fn show_duration(d: Duration) -> String {
    format!("{}s", (d.as_secs_f64() * 1e3).round() / 1e3)
}

/// Pool size of an open model when `max-instances` is not given: the larger of the
/// pre-started instances and this.
pub const DEFAULT_MAX_INSTANCES: u32 = 100;

impl ExecutorFields {
    pub fn is_empty(&self) -> bool {
        *self == ExecutorFields::default()
    }

    /// The executor these fields ask for (`instances`: the step's pre-started instances),
    /// checked; the message names the fields (`names` maps a field to how the caller
    /// spells it: `--rate` or `rate`).
    pub fn executor(
        &self,
        instances: u32,
        names: impl Fn(&str) -> String,
    ) -> Result<Executor, String> {
        let executor = self.executor_alone(instances, &names)?;
        if let Some(trim) = self.trim {
            let Some(duration) = executor.duration() else {
                return Err(format!(
                    "{} needs an executor that runs for a time ({} or {})",
                    names("trim"),
                    names("duration"),
                    names("rate")
                ));
            };
            trim.window(duration)
                .map_err(|e| format!("{}: {e}", names("trim")))?;
        }
        Ok(executor)
    }

    fn executor_alone(
        &self,
        instances: u32,
        names: &impl Fn(&str) -> String,
    ) -> Result<Executor, String> {
        let n = |f: &str| names(f);
        let open = self.rate.is_some() || !self.stages.is_empty();
        if self.max_instances.is_some() && !open {
            return Err(format!(
                "{} sizes the pool of an open model: give it with {} or {}",
                n("max-instances"),
                n("rate"),
                n("stage")
            ));
        }
        let executor = match (self.iterations, self.duration, open) {
            (None, None, false) => Executor::Once,
            (Some(_), _, true) | (Some(_), Some(_), false) => {
                return Err(format!(
                    "{} cannot go with {} or {}: a step either runs a number of iterations \
                     or runs for a time",
                    n("iterations"),
                    n("duration"),
                    n("rate")
                ))
            }
            (Some(iterations), None, false) => Executor::SharedIterations { iterations },
            (None, Some(duration), false) => Executor::ConstantInstances { duration },
            (None, duration, true) => {
                let max_instances = self
                    .max_instances
                    .unwrap_or(instances.max(DEFAULT_MAX_INSTANCES));
                if max_instances < instances {
                    return Err(format!(
                        "{} ({max_instances}) is below the instances started with the step \
                         ({instances})",
                        n("max-instances")
                    ));
                }
                let start_rate = self.rate.unwrap_or(0.0);
                let stages = if self.stages.is_empty() {
                    let Some(duration) = duration else {
                        return Err(format!(
                            "{} needs {} (how long the rate lasts)",
                            n("rate"),
                            n("duration")
                        ));
                    };
                    vec![Stage {
                        target: start_rate,
                        duration,
                    }]
                } else {
                    if duration.is_some() {
                        return Err(format!(
                            "{} cannot go with {}: the stages say how long each rate lasts",
                            n("duration"),
                            n("stage")
                        ));
                    }
                    self.stages.clone()
                };
                Executor::ArrivalRate {
                    start_rate,
                    stages,
                    max_instances,
                }
            }
        };
        executor.validate()?;
        Ok(executor)
    }
}

/// Parses a stage as `DURATION:TARGET` (`20s:10000`, k6's `--stage`).
pub fn parse_stage(text: &str) -> Result<Stage, String> {
    let (d, t) = text.split_once(':').ok_or_else(|| {
        format!("`{text}` is not a stage: write DURATION:TARGET, e.g. `20s:1000`")
    })?;
    let duration = parse_duration(d)?;
    let target: f64 = t
        .trim()
        .parse()
        .map_err(|_| format!("`{t}` in stage `{text}` is not a rate (iterations per second)"))?;
    Ok(Stage { target, duration })
}

impl Executor {
    /// A constant rate for `duration`.
    pub fn rate(rate: f64, duration: Duration, max_instances: u32) -> Executor {
        Executor::ArrivalRate {
            start_rate: rate,
            stages: vec![Stage {
                target: rate,
                duration,
            }],
            max_instances,
        }
    }

    /// Whether it calls the `iteration` export (every executor but [`Executor::Once`]).
    pub fn calls_iteration(&self) -> bool {
        !matches!(self, Executor::Once)
    }

    /// k6's name for it: `per-instance-once`, `shared-iterations`, `constant-instances`,
    /// `constant-arrival-rate`, `ramping-arrival-rate`.
    pub fn kind(&self) -> &'static str {
        match self {
            Executor::Once => "per-instance-once",
            Executor::SharedIterations { .. } => "shared-iterations",
            Executor::ConstantInstances { .. } => "constant-instances",
            Executor::ArrivalRate {
                start_rate, stages, ..
            } => {
                if stages.iter().all(|s| s.target == *start_rate) {
                    "constant-arrival-rate"
                } else {
                    "ramping-arrival-rate"
                }
            }
        }
    }

    /// How long it runs, when that is set in advance.
    pub fn duration(&self) -> Option<Duration> {
        match self {
            Executor::ConstantInstances { duration } => Some(*duration),
            Executor::ArrivalRate { stages, .. } => Some(stages.iter().map(|s| s.duration).sum()),
            _ => None,
        }
    }

    /// The open model's schedule; `None` for closed models.
    pub fn schedule(&self) -> Option<Schedule> {
        match self {
            Executor::ArrivalRate {
                start_rate, stages, ..
            } => Some(Schedule::new(*start_rate, stages)),
            _ => None,
        }
    }

    /// The open model's mean intended rate over its duration, in iterations per second.
    pub fn target_rate(&self) -> Option<f64> {
        let secs = self.duration()?.as_secs_f64();
        Some(self.schedule()?.total() / secs)
    }

    /// Checks the figures a person gave; the message names the wrong one.
    pub fn validate(&self) -> Result<(), String> {
        let duration_ok = |d: &Duration, what: &str| {
            if d.is_zero() {
                Err(format!("{what} must be longer than 0"))
            } else if *d > MAX_DURATION {
                Err(format!(
                    "{what} must be at most {} days",
                    MAX_DURATION.as_secs() / 86_400
                ))
            } else {
                Ok(())
            }
        };
        let rate_ok = |r: f64, what: &str| {
            if !r.is_finite() || !(0.0..=MAX_RATE).contains(&r) {
                Err(format!(
                    "{what} must be between 0 and {MAX_RATE} per second, not {r}"
                ))
            } else {
                Ok(())
            }
        };
        match self {
            Executor::Once => Ok(()),
            Executor::SharedIterations { iterations } => {
                if *iterations == 0 {
                    Err("iterations must be at least 1".into())
                } else {
                    Ok(())
                }
            }
            Executor::ConstantInstances { duration } => duration_ok(duration, "duration"),
            Executor::ArrivalRate {
                start_rate,
                stages,
                max_instances,
            } => {
                rate_ok(*start_rate, "the start rate")?;
                if stages.is_empty() {
                    return Err("a rate needs a duration (or stages)".into());
                }
                for (i, s) in stages.iter().enumerate() {
                    duration_ok(&s.duration, &format!("the duration of stage {}", i + 1))?;
                    rate_ok(s.target, &format!("the target of stage {}", i + 1))?;
                }
                let total: Duration = stages.iter().map(|s| s.duration).sum();
                duration_ok(&total, "the stages together")?;
                if *max_instances == 0 {
                    return Err("max-instances must be at least 1".into());
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Executor::Once => write!(f, "each instance once"),
            Executor::SharedIterations { iterations } => {
                write!(f, "{iterations} iterations shared by the instances")
            }
            Executor::ConstantInstances { duration } => {
                write!(f, "every instance for {}", crate::executor::show(*duration))
            }
            Executor::ArrivalRate {
                start_rate,
                stages,
                max_instances,
            } => {
                if self.kind() == "constant-arrival-rate" {
                    write!(
                        f,
                        "{start_rate}/s for {}",
                        show(stages.iter().map(|s| s.duration).sum())
                    )?;
                } else {
                    write!(f, "from {start_rate}/s")?;
                    for s in stages {
                        write!(f, ", to {}/s over {}", s.target, show(s.duration))?;
                    }
                }
                write!(f, " (at most {max_instances} instances)")
            }
        }
    }
}

/// `30s`, `1.5s`, `250ms`.
pub fn show(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// A failure message of iterations and how many iterations ended with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorCount {
    pub message: String,
    pub count: u64,
}

/// What an iteration executor did with one scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IterationSummary {
    /// `shared-iterations`, `constant-instances`, `constant-arrival-rate`,
    /// `ramping-arrival-rate`.
    pub executor: &'static str,
    /// What was asked, in words.
    pub schedule: String,
    #[serde(flatten)]
    pub counts: IterationCounts,
    /// From the step's start to the end of the last iteration.
    pub secs: f64,
    /// Iterations ended (completed or failed) per second over `secs`.
    pub rate: f64,
    /// Open models: iterations per second the schedule asked for, on average.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
    /// Instances that ran iterations (open models: the pool's largest size).
    pub instances_started: u32,
    /// Iteration latency from the intended start (coordinated-omission free); in closed
    /// models, the same as `service`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<LatencyStats>,
    /// Iteration latency from the actual start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<LatencyStats>,
    /// Open models: each operation's response time (its own time plus how late its
    /// iteration started), beside the service times in the scenario's `latency`.
    #[serde(skip_serializing_if = "Latencies::is_empty")]
    pub op_response: Latencies,
    /// The first distinct failure messages, with counts.
    pub errors: Vec<ErrorCount>,
    /// A trimmed step: the window its figures count, in seconds from the run phase's start
    /// (then `secs` is its length).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<[f64; 2]>,
    /// Failed iterations whose message is not in `errors`.
    #[serde(skip_serializing_if = "is_zero")]
    pub errors_omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Parses `30s`, `1.5s`, `250ms`, `2m`, `1h` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (write e.g. `30s`, `250ms`, `2m`)"))?;
    let scale = match unit {
        "ms" => 1e-3,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "`{text}`: unknown unit `{unit}` (use ms, s, m or h)"
            ))
        }
    };
    let secs = n * scale;
    if !secs.is_finite() || secs < 0.0 || secs > MAX_DURATION.as_secs_f64() {
        return Err(format!("`{text}` is not a duration between 0 and 7 days"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// When the iterations of an open model are meant to start.
#[derive(Debug, Clone)]
pub struct Schedule {
    start_rate: f64,
    stages: Vec<Stage>,
}

impl Schedule {
    pub fn new(start_rate: f64, stages: &[Stage]) -> Schedule {
        Schedule {
            start_rate,
            stages: stages.to_vec(),
        }
    }

    /// When iteration `k` (from 0) is meant to start, from the step's start; `None` when the
    /// schedule ends before it. The `k`-th start is where the integral of the rate reaches
    /// `k`: in a stage whose rate goes from `r0` to `r1` over `d`, the count after `t` is
    /// `r0·t + (r1 − r0)·t²/(2d)`.
    pub fn intended(&self, k: u64) -> Option<Duration> {
        let mut before = 0.0f64; // iterations before this stage
        let mut offset = 0.0f64; // seconds before this stage
        let mut r0 = self.start_rate;
        let m_total = k as f64;
        for s in &self.stages {
            let d = s.duration.as_secs_f64();
            let r1 = s.target;
            let in_stage = r0 * d + (r1 - r0) * d / 2.0;
            if m_total < before + in_stage {
                let m = m_total - before;
                let a = (r1 - r0) / (2.0 * d);
                let disc = (r0 * r0 + 4.0 * a * m).max(0.0);
                let denom = r0 + disc.sqrt();
                let t = if denom > 0.0 { 2.0 * m / denom } else { 0.0 };
                return Some(Duration::from_secs_f64(offset + t.min(d)));
            }
            before += in_stage;
            offset += d;
            r0 = r1;
        }
        None
    }

    /// The intended rate `t` after the start, in iterations per second; 0 after the end.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let mut offset = Duration::ZERO;
        let mut r0 = self.start_rate;
        for s in &self.stages {
            if t < offset + s.duration {
                let f = (t - offset).as_secs_f64() / s.duration.as_secs_f64();
                return r0 + (s.target - r0) * f;
            }
            offset += s.duration;
            r0 = s.target;
        }
        0.0
    }

    /// How many iterations the whole schedule starts.
    pub fn total(&self) -> f64 {
        let mut r0 = self.start_rate;
        let mut n = 0.0;
        for s in &self.stages {
            n += (r0 + s.target) / 2.0 * s.duration.as_secs_f64();
            r0 = s.target;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_constant_rate_starts_evenly() {
        let s = Schedule::new(
            100.0,
            &[Stage {
                target: 100.0,
                duration: secs(2.0),
            }],
        );
        assert_eq!(s.intended(0), Some(Duration::ZERO));
        assert_eq!(s.intended(1).unwrap().as_micros(), 10_000);
        assert_eq!(s.intended(150).unwrap().as_millis(), 1_500);
        assert_eq!(s.intended(199).unwrap().as_millis(), 1_990);
        assert_eq!(s.intended(200), None);
        assert_eq!(s.total(), 200.0);
    }

    #[test]
    fn a_ramp_follows_the_integral_of_its_rate() {
        // 0 → 100/s over 10 s: 500 iterations; the count after t is 5·t².
        let s = Schedule::new(
            0.0,
            &[Stage {
                target: 100.0,
                duration: secs(10.0),
            }],
        );
        assert_eq!(s.total(), 500.0);
        for k in [1u64, 20, 125, 320, 499] {
            let t = s.intended(k).unwrap().as_secs_f64();
            let want = (k as f64 / 5.0).sqrt();
            assert!((t - want).abs() < 1e-6, "k {k}: {t} vs {want}");
        }
        assert_eq!(s.intended(500), None);
        // Then down again: 100 → 0 over 10 s adds 500 more, the last near 20 s.
        let s = Schedule::new(
            0.0,
            &[
                Stage {
                    target: 100.0,
                    duration: secs(10.0),
                },
                Stage {
                    target: 0.0,
                    duration: secs(10.0),
                },
            ],
        );
        assert_eq!(s.rate_at(secs(0.0)), 0.0);
        assert!((s.rate_at(secs(2.5)) - 25.0).abs() < 1e-9);
        assert!((s.rate_at(secs(15.0)) - 50.0).abs() < 1e-9);
        assert_eq!(s.rate_at(secs(20.0)), 0.0);
        let t = s.intended(999).unwrap().as_secs_f64();
        assert!(t > 18.0 && t < 20.0, "{t}");
        assert_eq!(s.intended(1000), None);
        // Intended starts never go back in time.
        let mut last = Duration::ZERO;
        for k in 0..1000 {
            let t = s.intended(k).unwrap();
            assert!(t >= last, "k {k}");
            last = t;
        }
    }

    #[test]
    fn durations_parse_and_bad_ones_are_named() {
        assert_eq!(parse_duration("30s"), Ok(secs(30.0)));
        assert_eq!(parse_duration("250ms"), Ok(secs(0.25)));
        assert_eq!(parse_duration("2m"), Ok(secs(120.0)));
        assert_eq!(parse_duration("1.5"), Ok(secs(1.5)));
        assert!(parse_duration("3 weeks")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_duration("fast")
            .unwrap_err()
            .contains("not a duration"));
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn fields_make_executors_and_conflicts_are_named() {
        let names = |f: &str| format!("--{f}");
        let f = |e: ExecutorFields| e.executor(4, names);
        assert_eq!(f(ExecutorFields::default()), Ok(Executor::Once));
        assert_eq!(
            f(ExecutorFields {
                iterations: Some(10),
                ..Default::default()
            }),
            Ok(Executor::SharedIterations { iterations: 10 })
        );
        assert_eq!(
            f(ExecutorFields {
                rate: Some(50.0),
                duration: Some(secs(2.0)),
                ..Default::default()
            }),
            Ok(Executor::rate(50.0, secs(2.0), 100))
        );
        let e = f(ExecutorFields {
            rate: Some(50.0),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--rate needs --duration"), "{e}");
        let e = f(ExecutorFields {
            iterations: Some(5),
            duration: Some(secs(1.0)),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--iterations cannot go with --duration"), "{e}");
        let e = f(ExecutorFields {
            max_instances: Some(3),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.contains("--max-instances sizes the pool"), "{e}");
        let ramp = f(ExecutorFields {
            stages: vec![
                parse_stage("10s:100").unwrap(),
                parse_stage("5s:0").unwrap(),
            ],
            max_instances: Some(8),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ramp.kind(), "ramping-arrival-rate");
        assert_eq!(ramp.duration(), Some(secs(15.0)));
        assert!(parse_stage("10s").is_err());
        assert!(parse_stage("10s:lots").unwrap_err().contains("not a rate"));
    }

    #[test]
    fn bad_figures_are_refused() {
        assert!(Executor::SharedIterations { iterations: 0 }
            .validate()
            .is_err());
        assert!(Executor::rate(f64::NAN, secs(1.0), 1).validate().is_err());
        assert!(Executor::rate(10.0, Duration::ZERO, 1).validate().is_err());
        assert!(Executor::rate(10.0, secs(1.0), 0).validate().is_err());
        assert!(Executor::rate(10.0, secs(1.0), 1).validate().is_ok());
        assert_eq!(
            Executor::rate(10.0, secs(1.0), 1).kind(),
            "constant-arrival-rate"
        );
    }
}
