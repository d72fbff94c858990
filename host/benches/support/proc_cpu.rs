//! CPU time of processes from `/proc`, for the benchmarks that run members beside hzlab.

/// CPU seconds from `/proc/PID/stat`: user + system time of `pid` (`"self"` for this
/// process), and of its waited-for children (`cutime`, `cstime`), in clock ticks of 10 ms.
pub fn proc_cpu(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name: state is field 3, utime 14 ... cstime 17.
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let at = |n: usize| f.get(n - 3).copied().unwrap_or(0.0) / 100.0;
    (at(14) + at(15), at(16) + at(17))
}
