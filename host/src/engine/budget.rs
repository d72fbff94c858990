//! The run's memory budget and instance bound: how many instances one run step may start at
//! once, and with which caps.
//!
//! A step's instances all live at the same time, so a step needs, in the worst case,
//! `instances × (memory cap + host-side cap + per-instance overhead)`. The budget is a
//! fraction of the machine's memory ([`BUDGET_FRACTION`] of `MemTotal`, or of the cgroup's
//! limit when that is lower) unless given. When the caps were not given, the default ones
//! (64 MiB and 4 MiB) are scaled down together to fit the budget, down to
//! [`MIN_MEMORY_CAP`] and [`MIN_HOST_CAP`]; a step that does not fit even then, or whose
//! given caps do not fit, is refused before anything runs, with the figures. Each live
//! instance also takes [`MAPPINGS_PER_INSTANCE`] memory mappings, of which Linux allows a
//! process `vm.max_map_count`: a step that needs more is refused too, and no step may start
//! more than [`MAX_INSTANCES`].

use super::MAPPINGS_PER_INSTANCE;
use crate::limits::{InstanceLimits, DEFAULT_HOST_CAP, DEFAULT_MEMORY_CAP};

/// Most instances one run step may start (all scenarios of the step together), and most one
/// scenario may ask for (`-n`, `:N`, a plan's `instances`). Each live instance reserves
/// about 4 GiB of address space for its linear memory (so that guest code needs no bounds
/// checks): 20,000 of them take 81 TiB of the 128 TiB a process has on x86-64 Linux.
pub const MAX_INSTANCES: u32 = 20_000;

/// The default budget: this fraction (numerator, denominator) of the machine's memory.
pub const BUDGET_FRACTION: (u64, u64) = (3, 4);

/// What the host needs per live instance besides its linear memory and what it records:
/// the store, the instance's structures, the touched part of its fiber stack, its latency
/// histograms (measured at about 20 KiB; counted with room to spare).
pub const INSTANCE_OVERHEAD: u64 = 128 << 10;

/// The smallest memory cap a default one is scaled down to (a Rust scenario starts with
/// about 1.1 MiB).
pub const MIN_MEMORY_CAP: usize = 1 << 20;

/// The smallest host-side cap a default one is scaled down to.
pub const MIN_HOST_CAP: usize = 64 << 10;

/// Mappings left for everything else in the process (code, heaps, threads).
const MAPPINGS_RESERVE: u64 = 4096;

/// Wasm pages: memory caps are multiples of them.
const PAGE: usize = 64 << 10;

/// Why a run step cannot start. Bad input (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "{instances} instances at once are more than {MAX_INSTANCES}, the most one run step \
         may start"
    )]
    TooManyInstances { instances: u64 },
    #[error(
        "{instances} instances at once need at least {instances} × ({memory} memory cap + {host} \
         host-side cap + {overhead} overhead) = {need}, more than the run's memory budget of \
         {budget} ({origin}): run fewer instances, give smaller --memory-limit or \
         --record-limit, or raise --memory-budget",
        memory = size(*memory_cap as u64),
        host = size(*host_cap as u64),
        overhead = size(INSTANCE_OVERHEAD),
        need = size(*need),
        budget = size(*budget)
    )]
    OverBudget {
        instances: u64,
        memory_cap: usize,
        host_cap: usize,
        need: u64,
        budget: u64,
        origin: String,
    },
    #[error(
        "{instances} instances at once need about {need} memory mappings ({MAPPINGS_PER_INSTANCE} \
         each), and this machine allows a process {max} (vm.max_map_count): run at most \
         {most} at once, or raise the limit (sudo sysctl -w vm.max_map_count={suggest})",
        need = instances * MAPPINGS_PER_INSTANCE,
        most = max.saturating_sub(MAPPINGS_RESERVE) / MAPPINGS_PER_INSTANCE,
        suggest = (instances * MAPPINGS_PER_INSTANCE + MAPPINGS_RESERVE).next_power_of_two()
    )]
    Mappings { instances: u64, max: u64 },
}

/// How much memory a run may plan for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub bytes: u64,
    /// Where the figure comes from, for messages.
    pub origin: String,
}

impl Budget {
    /// A budget given by hand (`--memory-budget`).
    pub fn given(bytes: u64) -> Budget {
        Budget {
            bytes,
            origin: "--memory-budget".into(),
        }
    }

    /// [`BUDGET_FRACTION`] of the machine's memory: `MemTotal`, or the cgroup's memory limit
    /// when that is lower. Without either (not Linux), 4 GiB.
    pub fn of_machine() -> Budget {
        let (num, den) = BUDGET_FRACTION;
        match machine_memory() {
            Some((bytes, what)) => Budget {
                bytes: bytes / den * num,
                origin: format!("{num}/{den} of {what} {}", size(bytes)),
            },
            None => Budget {
                bytes: 4 << 30,
                origin: "the machine's memory is unknown".into(),
            },
        }
    }
}

/// Caps fitted to a budget, and what was scaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub memory_cap: usize,
    pub host_cap: usize,
    /// Set when default caps were scaled down to fit: a line saying so.
    pub notice: Option<String>,
}

impl Fitted {
    /// `limits` with these caps.
    pub fn apply(&self, limits: InstanceLimits) -> InstanceLimits {
        InstanceLimits {
            memory_cap: self.memory_cap,
            host_cap: self.host_cap,
            ..limits
        }
    }
}

/// Fits the caps of `instances` live instances into `budget`. `memory_cap` and `host_cap`
/// are the caps given (none: the defaults, which may be scaled down); `max_map_count` the
/// process's mapping limit, when known.
pub fn fit(
    instances: u64,
    memory_cap: Option<usize>,
    host_cap: Option<usize>,
    budget: &Budget,
    max_map_count: Option<u64>,
) -> Result<Fitted, BudgetError> {
    if instances > MAX_INSTANCES as u64 {
        return Err(BudgetError::TooManyInstances { instances });
    }
    if let Some(max) = max_map_count {
        if instances * MAPPINGS_PER_INSTANCE + MAPPINGS_RESERVE > max {
            return Err(BudgetError::Mappings { instances, max });
        }
    }
    let n = instances.max(1);
    let need = |m: usize, h: usize| n * (m as u64 + h as u64 + INSTANCE_OVERHEAD);
    let over = |m: usize, h: usize| BudgetError::OverBudget {
        instances: n,
        memory_cap: m,
        host_cap: h,
        need: need(m, h),
        budget: budget.bytes,
        origin: budget.origin.clone(),
    };
    let memory = memory_cap.unwrap_or(DEFAULT_MEMORY_CAP);
    let host = host_cap.unwrap_or(DEFAULT_HOST_CAP);
    if need(memory, host) <= budget.bytes {
        return Ok(Fitted {
            memory_cap: memory,
            host_cap: host,
            notice: None,
        });
    }
    // Scale the default caps together, the given ones as they are.
    let per = (budget.bytes / n).saturating_sub(INSTANCE_OVERHEAD);
    let given = memory_cap.unwrap_or(0) as u64 + host_cap.unwrap_or(0) as u64;
    let scalable = (memory_cap.is_none() as u64 * DEFAULT_MEMORY_CAP as u64)
        + (host_cap.is_none() as u64 * DEFAULT_HOST_CAP as u64);
    if scalable == 0 || per <= given {
        let m = memory_cap.unwrap_or(MIN_MEMORY_CAP);
        let h = host_cap.unwrap_or(MIN_HOST_CAP);
        return Err(over(m, h));
    }
    let room = per - given;
    let scale = |default: usize| (default as u128 * room as u128 / scalable as u128) as usize;
    let m = memory_cap.unwrap_or_else(|| scale(DEFAULT_MEMORY_CAP) / PAGE * PAGE);
    let h = host_cap.unwrap_or_else(|| scale(DEFAULT_HOST_CAP));
    if (memory_cap.is_none() && m < MIN_MEMORY_CAP) || (host_cap.is_none() && h < MIN_HOST_CAP) {
        return Err(over(
            memory_cap.unwrap_or(MIN_MEMORY_CAP),
            host_cap.unwrap_or(MIN_HOST_CAP),
        ));
    }
    let mut scaled = Vec::new();
    if memory_cap.is_none() {
        scaled.push(format!(
            "memory cap {} (--memory-limit, default {})",
            size(m as u64),
            size(DEFAULT_MEMORY_CAP as u64)
        ));
    }
    if host_cap.is_none() {
        scaled.push(format!(
            "host-side cap {} (--record-limit, default {})",
            size(h as u64),
            size(DEFAULT_HOST_CAP as u64)
        ));
    }
    Ok(Fitted {
        memory_cap: m,
        host_cap: h,
        notice: Some(format!(
            "{n} instances at once: {} per instance, to fit the run's memory budget of {} ({})",
            scaled.join(", "),
            size(budget.bytes),
            budget.origin
        )),
    })
}

/// The process's `vm.max_map_count` (Linux).
pub fn max_map_count() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The machine's memory and what it is: `MemTotal`, or the cgroup's limit when lower.
pub fn machine_memory() -> Option<(u64, &'static str)> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| mem_total(&text));
    let cgroup = cgroup_limit();
    match (total, cgroup) {
        (Some(t), Some(c)) if c < t => Some((c, "the cgroup's memory limit")),
        (Some(t), _) => Some((t, "the machine's memory")),
        (None, Some(c)) => Some((c, "the cgroup's memory limit")),
        (None, None) => None,
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The memory limit of this process's cgroup (v2 `memory.max`, or v1
/// `memory.limit_in_bytes`), when there is one.
fn cgroup_limit() -> Option<u64> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mut candidates = Vec::new();
    for line in own.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let path = path.trim_start_matches('/');
        if controllers.is_empty() {
            candidates.push(format!("/sys/fs/cgroup/{path}/memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            candidates.push(format!(
                "/sys/fs/cgroup/memory/{path}/memory.limit_in_bytes"
            ));
        }
    }
    candidates.push("/sys/fs/cgroup/memory.max".into());
    candidates.into_iter().find_map(|file| {
        let text = std::fs::read_to_string(file).ok()?;
        parse_limit(&text)
    })
}

/// A cgroup limit file's value: none for `max` or v1's "no limit" (a huge figure).
fn parse_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    (v < 1 << 60).then_some(v)
}

/// `bytes` for people: `1.25 MiB`, `17.7 GiB`, `320 KiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else if v < 10.0 {
        format!("{v:.2} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn budget(bytes: u64) -> Budget {
        Budget::given(bytes)
    }

    #[test]
    fn defaults_fit_small_runs_unchanged() {
        let f = fit(40, None, None, &budget(16 * GIB), Some(65530)).unwrap();
        assert_eq!(f.memory_cap, DEFAULT_MEMORY_CAP);
        assert_eq!(f.host_cap, DEFAULT_HOST_CAP);
        assert!(f.notice.is_none());
    }

    #[test]
    fn default_caps_are_scaled_to_fit_many_instances() {
        let b = budget(16 * GIB);
        let f = fit(10_000, None, None, &b, Some(65530)).unwrap();
        assert!(f.memory_cap >= MIN_MEMORY_CAP && f.memory_cap < DEFAULT_MEMORY_CAP);
        assert_eq!(f.memory_cap % PAGE, 0);
        assert!(f.host_cap >= MIN_HOST_CAP && f.host_cap < DEFAULT_HOST_CAP);
        let need = 10_000 * (f.memory_cap as u64 + f.host_cap as u64 + INSTANCE_OVERHEAD);
        assert!(need <= b.bytes, "{need} > {}", b.bytes);
        let notice = f.notice.unwrap();
        assert!(notice.contains("10000 instances"), "{notice}");
        assert!(notice.contains("16 GiB"), "{notice}");
    }

    #[test]
    fn given_caps_that_do_not_fit_are_refused_with_the_figures() {
        let e = fit(1000, Some(64 << 20), None, &budget(GIB), None).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, BudgetError::OverBudget { .. }), "{msg}");
        assert!(msg.contains("1000 instances"), "{msg}");
        assert!(msg.contains("64 MiB memory cap"), "{msg}");
        assert!(msg.contains("budget of 1 GiB (--memory-budget)"), "{msg}");
    }

    #[test]
    fn too_many_for_the_budget_even_scaled_is_refused() {
        let e = fit(15_000, None, None, &budget(GIB), None).unwrap_err();
        assert!(matches!(e, BudgetError::OverBudget { .. }), "{e}");
        assert!(e.to_string().contains("1 MiB memory cap"), "{e}");
    }

    #[test]
    fn the_instance_bound_and_the_mapping_limit_are_checked() {
        let e = fit(4_294_967_295, None, None, &budget(GIB), None).unwrap_err();
        assert!(matches!(e, BudgetError::TooManyInstances { .. }), "{e}");
        let e = fit(20_000, None, None, &budget(1 << 50), Some(65530)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("vm.max_map_count"), "{msg}");
        assert!(msg.contains("at most 15358"), "{msg}");
        assert!(fit(10_000, None, None, &budget(1 << 50), Some(65530)).is_ok());
    }

    #[test]
    fn machine_figures_parse() {
        assert_eq!(
            mem_total("MemTotal:       24683520 kB\nMemFree: 1 kB\n"),
            Some(24683520 * 1024)
        );
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("2147483648\n"), Some(2 << 30));
        assert_eq!(size(1536 << 10), "1.50 MiB");
        assert_eq!(size(17 * GIB + GIB / 2), "17.5 GiB");
        assert_eq!(size(512), "512 bytes");
    }
}
