//! Results that outlive an interruption, through the binary: Ctrl-C (SIGINT) and SIGTERM
//! during `hzlab run` (scenarios and plans, embedded and real members) still write the
//! summary, JSON, report and history, marked `interrupted`, exit 130, and leave no lock held;
//! output targets are checked before the run; `--json -` is JSON only; broken pipes end
//! quietly.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use rustix::process::Signal;

const HZLAB: &str = env!("CARGO_BIN_EXE_hzlab");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hzlab-interrupt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Kills the child when dropped (a failed test leaves no hzlab running).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Running {
    Running(
        Command::new(HZLAB)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hzlab starts"),
    )
}

fn signal(child: &Running, signal: Signal) {
    let pid = rustix::process::Pid::from_raw(child.0.id() as i32).expect("a process id");
    rustix::process::kill_process(pid, signal)
        .unwrap_or_else(|e| panic!("cannot send {signal:?} to hzlab: {e}"));
}

/// Waits until `path` holds at least one line: the run is under way (and its history is
/// written as it goes, not at the end).
fn wait_for_lines(path: &Path, child: &mut Running) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if std::fs::read_to_string(path).is_ok_and(|t| t.lines().count() > 0) {
            return;
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("hzlab ended before its history grew: {status}");
        }
        assert!(Instant::now() < deadline, "no history line within 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for the child to end within `limit` of now; its exit code, stdout and stderr.
fn finish_within(mut child: Running, limit: Duration) -> (i32, String, String, Duration) {
    let began = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            let took = began.elapsed();
            let mut out = String::new();
            let mut err = String::new();
            child
                .0
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .0
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err, took);
        }
        assert!(began.elapsed() < limit, "hzlab still runs after {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn every_line_is_json(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "the history ends in a cut line");
    for (i, line) in text.lines().enumerate() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("{}:{}: {e}: {line}", path.display(), i + 1));
    }
    text.lines().count()
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The outputs of an interrupted `hzlab run pessimistic:3`: J and R say `interrupted`, every
/// line of H parses, the summary says so.
fn check_interrupted_outputs(dir: &Path, out: &str) {
    assert!(out.contains("result: interrupted"), "{out}");
    let j = json(&dir.join("j.json"));
    assert_eq!(j["interrupted"], true);
    assert_eq!(j["passed"], false);
    let instances = j["scenarios"][0]["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 3);
    for i in instances {
        assert_eq!(i["status"], "interrupted", "{i}");
    }
    assert_eq!(j["scenarios"][0]["verify"]["status"], "interrupted");
    let r = json(&dir.join("r/report.json"));
    assert_eq!(r["interrupted"], true);
    for page in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(dir.join("r").join(page)).unwrap();
        assert!(text.contains("interrupted: the run was stopped"), "{page}");
    }
    let lines = every_line_is_json(&dir.join("h.jsonl"));
    assert!(lines > 0);
    // The checker read the history back: the instances' increments are all there.
    let history = &r["history"];
    assert_eq!(history["events"], lines as u64);
    assert_eq!(history["check"]["counters"][0]["lost_updates"], 0);
}

fn pessimistic_args<'a>(dir: &'a Path, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "run",
        "pessimistic:3",
        "--arg",
        "iterations=100000000",
        "--history",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(dir.join("h.jsonl").display().to_string());
    args.push("--json".into());
    args.push(dir.join("j.json").display().to_string());
    args.push("--report".into());
    args.push(dir.join("r").display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn sigint_during_an_embedded_run_writes_everything_marked_interrupted() {
    let dir = scratch("embedded");
    let args = pessimistic_args(&dir, &["-q"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = spawn(&args);
    wait_for_lines(&dir.join("h.jsonl"), &mut child);
    signal(&child, Signal::INT);
    let (code, out, err, took) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{out}{err}");
    assert!(took < Duration::from_secs(5));
    check_interrupted_outputs(&dir, &out);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigterm_stops_a_run_as_ctrl_c_does() {
    let dir = scratch("sigterm");
    let args = pessimistic_args(&dir, &["-q"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = spawn(&args);
    wait_for_lines(&dir.join("h.jsonl"), &mut child);
    signal(&child, Signal::TERM);
    let (code, out, err, _) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{out}{err}");
    assert!(err.contains("SIGTERM"), "{err}");
    check_interrupted_outputs(&dir, &out);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigkill_leaves_a_history_of_whole_lines() {
    let dir = scratch("sigkill");
    let h = dir.join("h.jsonl");
    let mut child = spawn(&[
        "run",
        "pessimistic:3",
        "--arg",
        "iterations=100000000",
        "-q",
        "--history",
        h.to_str().unwrap(),
    ]);
    wait_for_lines(&h, &mut child);
    // The file keeps growing while the run goes on, and holds whole lines at any time.
    let before = every_line_is_json(&h);
    std::thread::sleep(Duration::from_secs(1));
    let after = every_line_is_json(&h);
    assert!(after > before, "{before} then {after} lines");
    signal(&child, Signal::KILL);
    let (code, ..) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, -1, "killed by a signal");
    assert!(every_line_is_json(&h) >= after);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_ctrl_c_quits_at_once() {
    // A consumer with no producer waits inside one poll of a minute: the first Ctrl-C gives
    // it its grace (2 s) to end; the second does not wait for that.
    let dir = scratch("twice");
    let h = dir.join("h.jsonl");
    let mut child = spawn(&[
        "run",
        "consumer",
        "--arg",
        "poll-ms=60000",
        "-q",
        "--history",
        h.to_str().unwrap(),
    ]);
    wait_for_lines(&h, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, Signal::INT);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, Signal::INT);
    let (code, out, err, took) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{out}{err}");
    assert!(took < Duration::from_millis(1500), "took {took:?}");
    assert!(err.contains("again: quitting"), "{err}");
    assert!(
        !out.contains("result:"),
        "no summary after the second Ctrl-C: {out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

const LONG_PLAN: &str = r#"
name = "long"

[cluster]
members = 3

[[case]]
name = "endless"

[[case.step]]
run = "pessimistic"
instances = 3
args = { iterations = 100000000 }

[[case.step]]
run = "race"
instances = 2

[[case.check]]
that = "pessimistic.final > 0"

[[case]]
name = "never reached"

[[case.step]]
run = "race"
"#;

#[test]
fn sigint_during_a_plan_writes_its_results_marked_interrupted() {
    let dir = scratch("plan");
    let plan = dir.join("long.toml");
    std::fs::write(&plan, LONG_PLAN).unwrap();
    let h = dir.join("h.jsonl");
    let j = dir.join("j.json");
    let r = dir.join("r");
    let mut child = spawn(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--history",
        h.to_str().unwrap(),
        "--json",
        j.to_str().unwrap(),
        "--report",
        r.to_str().unwrap(),
    ]);
    wait_for_lines(&h, &mut child);
    signal(&child, Signal::INT);
    let (code, out, err, _) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{out}{err}");
    assert!(out.contains("result: interrupted"), "{out}");
    let doc = json(&j);
    assert_eq!(doc["interrupted"], true);
    assert_eq!(doc["passed"], false);
    // The step under way is there, stopped; no later step or case ran; no check judged it.
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "the second case never ran");
    let repeat = &cases[0]["repeats"][0];
    let steps = repeat["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0]["run"]["interrupted"], true);
    assert_eq!(repeat["checks"].as_array().unwrap().len(), 0);
    assert_eq!(json(&r.join("report.json"))["interrupted"], true);
    for page in ["report.md", "report.html"] {
        let text = std::fs::read_to_string(r.join(page)).unwrap();
        assert!(text.contains("interrupted: the run was stopped"), "{page}");
    }
    every_line_is_json(&h);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sigint_on_real_members_releases_the_locks() {
    use hazelcast_client::{Client, Value};
    use hazelcast_members::{free_port_range, LocalCluster, LocalClusterConfig};

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = free_port_range(3).unwrap();
    let mut config = LocalClusterConfig::new(format!("hzlab-sigint-{}", std::process::id()), 3);
    config.ports = (base..base + 3).collect();
    // Stopped when dropped, also when the test fails.
    let local = rt
        .block_on(LocalCluster::start(config))
        .expect("local Hazelcast members (java and the member jar) are needed");
    let dir = scratch("real");
    let addresses = local.addresses().join(",");
    let args = pessimistic_args(
        &dir,
        &[
            "-q",
            "--cluster",
            &addresses,
            "--cluster-name",
            local.cluster_name(),
        ],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = spawn(&args);
    wait_for_lines(&dir.join("h.jsonl"), &mut child);
    // Well inside the loop: the instances hold and wait for the lock.
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, Signal::INT);
    let (code, out, err, took) = finish_within(child, Duration::from_secs(5));
    assert_eq!(code, 130, "{out}{err}");
    assert!(took < Duration::from_secs(5));
    check_interrupted_outputs(&dir, &out);
    let locked = rt.block_on(async {
        let client = Client::connect(local.client_config()).await.unwrap();
        let locked = client
            .map("counter")
            .is_locked(&Value::String("key".into()))
            .await
            .unwrap();
        client.shutdown().await;
        locked
    });
    assert!(!locked, "the scenario's lock is still held after the run");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_to_stdout_is_json_only() {
    let mut run = Command::new(HZLAB)
        .args(["run", "race", "--arg", "iterations=200", "--json", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tool = Command::new("python3")
        .args(["-m", "json.tool"])
        .stdin(run.stdout.take().unwrap())
        .output()
        .unwrap();
    assert!(
        tool.status.success(),
        "not JSON: {}",
        String::from_utf8_lossy(&tool.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&tool.stdout).unwrap();
    assert_eq!(v["interrupted"], false);
    assert_eq!(v["scenarios"][0]["name"], "race");
    // The summary went to standard error.
    let mut err = String::new();
    run.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(run.wait().unwrap().success());
    assert!(err.contains("result: passed"), "{err}");
}

/// Runs `hzlab ARGS` with standard output a pipe whose reader has already gone.
fn to_a_closed_pipe(args: &[&str]) -> Output {
    let mut child = Command::new(HZLAB)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn broken_pipes_end_quietly() {
    // Output written through hzlab's own writer: the command goes on and ends as it would.
    let o = to_a_closed_pipe(&["scenarios"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");

    // A run: its files are still written after the summary could not be.
    let dir = scratch("pipe");
    let j = dir.join("j.json");
    let o = to_a_closed_pipe(&[
        "run",
        "race:2",
        "--arg",
        "iterations=200",
        "--json",
        j.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(json(&j)["passed"], true);

    // Any other command's output: ended as by SIGPIPE, without a panic or a backtrace.
    let o = Command::new(HZLAB)
        .args(["inspect", "race"])
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map(|mut c| {
            drop(c.stdout.take());
            c.wait_with_output().unwrap()
        })
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        o.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        o.status
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `hzlab run pessimistic:3` with `iterations` so high it would run for hours, and `extra`
/// outputs: must fail at once (exit 2, nothing run).
fn refused_before_the_run(extra: &[&str], names: &str) {
    let mut args = vec!["run", "pessimistic:3", "--arg", "iterations=100000000"];
    args.extend_from_slice(extra);
    // A run that started would last for hours: killed (and failed) after 10 s.
    let (code, out, err, _) = finish_within(spawn(&args), Duration::from_secs(10));
    assert_eq!(code, 2, "{extra:?}: {out}{err}");
    assert!(
        err.contains(names),
        "{extra:?}: the message names {names}: {err}"
    );
    assert!(
        out.is_empty(),
        "{extra:?}: no summary, the run never started: {out}"
    );
}

#[test]
fn unwritable_outputs_are_refused_before_the_run() {
    let dir = scratch("unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("sub").join("j.json");
    let under = under_file.to_str().unwrap();
    refused_before_the_run(&["--json", "/dev/full"], "/dev/full");
    refused_before_the_run(&["--json", under], under);
    refused_before_the_run(&["--json", dir.to_str().unwrap()], dir.to_str().unwrap());
    refused_before_the_run(&["--history", "/dev/full"], "/dev/full");
    refused_before_the_run(&["--history", under], under);
    refused_before_the_run(
        &["--report", file.to_str().unwrap()],
        file.to_str().unwrap(),
    );
    refused_before_the_run(&["--report", under], under);
    // A report directory whose report.html is a directory cannot be written either.
    let report = dir.join("report");
    std::fs::create_dir_all(report.join("report.html")).unwrap();
    refused_before_the_run(
        &["--report", report.to_str().unwrap()],
        report.join("report.html").to_str().unwrap(),
    );
    // A plan is refused the same way.
    let plan = dir.join("long.toml");
    std::fs::write(&plan, LONG_PLAN).unwrap();
    let o = Command::new(HZLAB)
        .args(["run", plan.to_str().unwrap(), "--json", "/dev/full"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/dev/full"));

    // A missing directory is created, before the run.
    let deep = dir.join("new").join("deeper").join("j.json");
    let o = Command::new(HZLAB)
        .args(["run", "race", "--arg", "iterations=100", "--json"])
        .arg(&deep)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(json(&deep)["passed"], true);
    std::fs::remove_dir_all(&dir).unwrap();
}
