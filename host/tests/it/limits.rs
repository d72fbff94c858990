//! Bounded memory: what a guest makes the host keep is capped per instance; a run step's
//! instances must fit the memory budget and the instance bound; scenario and plan files are
//! read with a size limit.
//!
//! The one in-process test here measures this process's peak RSS, so every other test in
//! this file runs `hzlab` as a child process (whose memory is not this process's).

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{hzlab, scenario, test_guest, Run};
use hzlab::limits::DEFAULT_HOST_CAP;
use hzlab::results::Status;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn status_kib(field: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hzlab-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_guest_recording_100_mb_fails_alone_and_the_host_stays_within_its_budget() {
    // Four instances each try to make the host keep 100 MiB of recorded values: 400 MiB in
    // all. Each stops at its host-side cap (the default, 4 MiB); the host's memory grows by
    // far less than what the guests asked for, and less than the run's worst case of
    // 4 × (64 MiB memory cap + 4 MiB host-side cap).
    let before_kib = status_kib("VmRSS:");
    let r = Run::new(vec![vec![test_guest("hoard", 4)]])
        .args(&[("mib", "100")])
        .execute()
        .unwrap();
    let peak_kib = status_kib("VmHWM:");
    let hoard = scenario(&r, "hoard");
    assert_eq!(hoard.instances.len(), 4);
    for i in &hoard.instances {
        assert_eq!(i.outcome.status, Status::MemoryExceeded, "{:?}", i.outcome);
        let error = i.outcome.error.as_deref().unwrap();
        assert!(
            error.contains(&format!("recorded more than {DEFAULT_HOST_CAP} bytes")),
            "{error}"
        );
        let kib = i.recorded.counters["kib"];
        assert!(
            (1024..4096).contains(&kib),
            "kept {kib} KiB under a 4 MiB cap"
        );
    }
    let growth_mib = peak_kib.saturating_sub(before_kib) / 1024;
    eprintln!("RSS before {before_kib} KiB, peak {peak_kib} KiB: grew {growth_mib} MiB");
    assert!(
        growth_mib < 4 * (64 + 4),
        "the host grew {growth_mib} MiB while guests hoarded"
    );
}

#[test]
fn instance_counts_past_the_bound_are_refused_at_once() {
    for args in [
        &["run", "race:4294967295", "-q"][..],
        &["run", "race", "-n", "1000000", "-q"][..],
        &["run", "race:15000", "race:15000", "-q"][..],
    ] {
        let started = Instant::now();
        let out = hzlab(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(10), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("20000"), "{args:?}: {err}");
    }
}

#[test]
fn a_step_over_the_memory_budget_is_refused_with_its_figures() {
    let out = hzlab(&[
        "run",
        "race:1000",
        "--memory-limit",
        "64",
        "--memory-budget",
        "1024",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    for figure in [
        "1000 instances",
        "64 MiB memory cap",
        "64 KiB host-side cap",
        "128 KiB overhead",
        "budget of 1 GiB (--memory-budget)",
    ] {
        assert!(err.contains(figure), "no `{figure}` in: {err}");
    }
    // Default caps are scaled down to fit instead, and the run says so.
    let out = hzlab(&[
        "run",
        "race:200",
        "--memory-budget",
        "1024",
        "--arg",
        "iterations=10",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("200 instances at once: memory cap"), "{err}");
}

#[test]
fn a_plan_over_the_memory_budget_is_refused() {
    let plan = temp_dir().join("big.toml");
    std::fs::write(
        &plan,
        "[[case]]\nname = \"many\"\n\n[[case.step]]\nrun = \"race\"\ninstances = 1000\n",
    )
    .unwrap();
    let plan = plan.to_str().unwrap();
    let out = hzlab(&[
        "run",
        plan,
        "--memory-limit",
        "64",
        "--memory-budget",
        "1024",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1000 instances at once"),
        "{}",
        stderr(&out)
    );
    std::fs::write(
        temp_dir().join("huge.toml"),
        "[[case]]\nname = \"many\"\n\n[[case.step]]\nrun = \"race\"\ninstances = 200000\n",
    )
    .unwrap();
    let out = hzlab(&["check", temp_dir().join("huge.toml").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("line 4") && err.contains("20000"), "{err}");
}

#[test]
fn endless_and_huge_files_are_refused_fast() {
    let dir = temp_dir();
    let zero_plan = dir.join("zero.toml");
    let _ = std::fs::remove_file(&zero_plan);
    std::os::unix::fs::symlink("/dev/zero", &zero_plan).unwrap();
    let huge_plan = dir.join("huge-text.toml");
    std::fs::write(&huge_plan, "# a comment\n".repeat(200_000)).unwrap();
    for (args, what) in [
        (vec!["run", "/dev/zero"], "134217728 bytes"),
        (vec!["check", zero_plan.to_str().unwrap()], "1048576 bytes"),
        (vec!["run", zero_plan.to_str().unwrap()], "1048576 bytes"),
        (vec!["check", huge_plan.to_str().unwrap()], "1048576 bytes"),
    ] {
        let started = Instant::now();
        let out = hzlab(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(started.elapsed() < Duration::from_secs(10), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(what) && err.contains("larger than"), "{err}");
        assert_eq!(err.matches("larger than").count(), 1, "said twice: {err}");
    }
}

#[test]
fn an_instance_the_host_cannot_map_is_the_hosts_failure_not_a_guest_trap() {
    // Under a 3 GB address-space limit the host cannot reserve a linear memory (4 GiB and its
    // guard): that is the host's failure, named as such.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 3000000 && exec {} run race:2 --arg iterations=10 -q",
            env!("CARGO_BIN_EXE_hzlab")
        ))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", stderr(&out));
    assert!(stdout.contains("setup host error"), "{stdout}");
    assert!(stdout.contains("the host could not set up"), "{stdout}");
    assert!(!stdout.contains("trapped"), "{stdout}");
}
