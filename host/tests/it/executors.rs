//! Executors on the embedded cluster: iterations shared by instances, instances looping for a
//! duration, and the open model at a rate, with its counts, latencies and figures over time.

use std::time::Duration;

use crate::common::{hzlab, scenario, value, Run};
use hzlab::executor::{Executor, Stage};
use hzlab::runner::ScenarioSpec;
use hzlab::scenario::ScenarioSource;

fn with(name: &str, instances: u32, executor: Executor) -> ScenarioSpec {
    ScenarioSpec {
        source: ScenarioSource::resolve(name).unwrap(),
        instances,
        executor,
        trim: None,
    }
}

#[test]
fn shared_iterations_run_exactly_that_many_increments() {
    let r = Run::new(vec![vec![with(
        "pessimistic",
        4,
        Executor::SharedIterations { iterations: 1_500 },
    )]])
    .execute()
    .unwrap();
    let s = scenario(&r, "pessimistic");
    assert!(r.passed, "{s:#?}");
    let it = s.iterations.as_ref().unwrap();
    assert_eq!(it.executor, "shared-iterations");
    assert_eq!((it.counts.started, it.counts.completed), (1_500, 1_500));
    assert_eq!(it.instances_started, 4);
    // The lock makes every increment count: the counter holds exactly the iterations.
    assert_eq!(value(s, "final"), 1_500);
    assert_eq!(s.totals["increments"], 1_500);
    // Each iteration is a lock, a get, a set and an unlock.
    assert_eq!(s.latency.ops["lock.lock"].count(), 1_500);
    assert!(it.response.is_some() && !s.series.is_empty());
}

#[test]
fn instances_loop_for_a_duration_and_the_series_covers_it() {
    let r = Run::new(vec![vec![with(
        "race",
        3,
        Executor::ConstantInstances {
            duration: Duration::from_millis(1_500),
        },
    )]])
    .execute()
    .unwrap();
    let s = scenario(&r, "race");
    assert!(r.passed, "{s:#?}");
    let it = s.iterations.as_ref().unwrap();
    assert!(it.counts.completed > 100, "{it:#?}");
    assert!(it.secs >= 1.5 && it.secs < 10.0, "{it:#?}");
    assert_eq!(s.totals["attempts"] as u64, it.counts.completed);
    // One-second intervals: 0 s and 1 s, with every iteration in one of them.
    assert!(s.series.len() >= 2, "{:#?}", s.series);
    assert_eq!(s.series[0].t_s, 0.0);
    let in_series: u64 = s.series.iter().map(|i| i.iterations.completed).sum();
    assert_eq!(in_series, it.counts.completed);
    // The series covers the run phase; the totals also count verify's one read.
    let gets: u64 = s
        .series
        .iter()
        .map(|i| i.ops["map.get"].latency.count)
        .sum();
    assert_eq!(gets + 1, s.latency.ops["map.get"].count());
}

#[test]
fn an_open_model_starts_every_scheduled_iteration_or_counts_it_dropped() {
    // 400/s for 2 s, then a ramp to 0 over 1 s: 800 + 200 = 1,000 arrivals.
    let executor = Executor::ArrivalRate {
        start_rate: 400.0,
        stages: vec![
            Stage {
                target: 400.0,
                duration: Duration::from_secs(2),
            },
            Stage {
                target: 0.0,
                duration: Duration::from_secs(1),
            },
        ],
        max_instances: 8,
    };
    let r = Run::new(vec![vec![with("ticket-sale", 2, executor)]])
        .args(&[("stock", "100000")])
        .execute()
        .unwrap();
    let s = scenario(&r, "ticket-sale");
    assert!(r.passed, "{s:#?}");
    let it = s.iterations.as_ref().unwrap();
    assert_eq!(it.executor, "ramping-arrival-rate");
    let c = it.counts;
    assert_eq!(c.started + c.dropped, 1_000, "{it:#?}");
    assert_eq!(c.completed + c.failed, c.started, "{it:#?}");
    assert!(
        it.instances_started >= 2 && it.instances_started <= 8,
        "{it:#?}"
    );
    // Every completed iteration sold one ticket (compare-and-set, no other writer wins
    // more than one at a time).
    assert!(value(s, "sold") as u64 <= c.completed, "{s:#?}");
    // Response time counts from the intended start: never below the service time.
    let (resp, serv) = (it.response.unwrap(), it.service.unwrap());
    assert!(
        resp.max_us >= serv.max_us && resp.mean_us >= serv.mean_us,
        "{it:#?}"
    );
    assert!(!it.op_response.is_empty(), "{it:#?}");
    let dropped: u64 = s.series.iter().map(|i| i.iterations.dropped).sum();
    assert_eq!(dropped, c.dropped);
}

#[test]
fn a_scenario_without_an_iteration_form_fails_its_iterations_and_the_run() {
    // The test guest `opsloop` implements only `run`: the guest library's `iteration` says
    // so (every shipped scenario has an iteration form).
    let opsloop = hzlab::testing::component_path("opsloop");
    let o = hzlab(&[
        "run",
        opsloop.to_str().unwrap(),
        "--iterations",
        "5",
        "-q",
        "--json",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("has no iteration form"), "{out}");
}

#[test]
fn executor_flags_that_do_not_fit_are_named() {
    for (args, says) in [
        (&["--rate", "100"][..], "--rate needs --duration"),
        (
            &["--iterations", "5", "--duration", "1s"][..],
            "--iterations cannot go with",
        ),
        (
            &["--max-instances", "5"][..],
            "--max-instances sizes the pool",
        ),
        (&["--duration", "soon"][..], "not a duration"),
    ] {
        let mut all = vec!["run", "race"];
        all.extend_from_slice(args);
        let o = hzlab(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn thresholds_fail_the_run_and_say_why() {
    let o = hzlab(&[
        "run",
        "race",
        "-n",
        "2",
        "--iterations",
        "200",
        "--threshold",
        "iterations.completed == 200",
        "--threshold",
        "latency.map.get.p99 < 0.001us",
        "--threshold",
        "latency.queue.offer.p99 < 1ms",
    ]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    let held = out
        .find("ok   threshold iterations.completed == 200")
        .unwrap_or_else(|| panic!("{out}"));
    let failed = out
        .find("FAIL threshold latency.map.get.p99 < 0.001us")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(failed < held, "failed thresholds are listed first: {out}");
    assert!(
        out.contains("no scenario of this run has the figure `latency.queue.offer.p99`"),
        "{out}"
    );
    // All holding: exit 0.
    let o = hzlab(&[
        "run",
        "race",
        "--iterations",
        "50",
        "-q",
        "--threshold",
        "errors.ratio == 0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    // A typo is bad input.
    let o = hzlab(&["run", "race", "--threshold", "latency.map.got.p99 < 1ms"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("`map.got` is not an operation"));
}

#[test]
fn reports_carry_the_figures_over_time() {
    let dir = std::env::temp_dir().join(format!("hzlab-executors-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = hzlab(&[
        "run",
        "race",
        "-n",
        "2",
        "--rate",
        "200",
        "--duration",
        "1500ms",
        "-q",
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("| t (s) | started | completed | failed | dropped |"),
        "{md}"
    );
    // 200/s for 1.5 s: 300 in all, most of the first 200 in the first second (the series
    // clock starts with the step, a few ms before the rate's).
    let rows: Vec<Vec<u64>> = md
        .lines()
        .skip_while(|l| !l.starts_with("| t (s) |"))
        .skip(2)
        .take_while(|l| l.starts_with("| "))
        .map(|l| {
            l.split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .take(6)
                .map(|c| c.replace(',', "").parse::<f64>().unwrap() as u64)
                .collect()
        })
        .collect();
    assert!(rows.len() >= 2, "{md}");
    let started: u64 = rows.iter().map(|r| r[1]).sum();
    let completed: u64 = rows.iter().map(|r| r[2]).sum();
    assert_eq!((started, completed), (300, 300), "{md}");
    assert!(rows[0][1] >= 150, "{md}");
    // Two operations per iteration (a get and a set).
    assert_eq!(rows.iter().map(|r| r[5]).sum::<u64>(), 600, "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let text = json.to_string();
    assert!(
        text.contains("\"series\"") && text.contains("\"constant-arrival-rate\""),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_kill_during_a_ramp_is_shaded_on_the_plots_over_time() {
    let dir = std::env::temp_dir().join(format!("hzlab-executors-ramp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let plan = dir.join("ramp.toml");
    std::fs::write(
        &plan,
        r#"
[[case]]
name = "ramp"

[[case.step]]
run = "race"
as = "load"
instances = 2
stages = [{ target = 400, duration = "1s" }, { target = 400, duration = "1s" }]
faults = [{ after-ms = 800, kill = [2] }]

[[case.check]]
that = "load.iterations.started > 0"
"#,
    )
    .unwrap();
    let report = dir.join("report");
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    let step = &json["cases"][0]["repeats"][0]["steps"][0];
    let kill = &step["fault_events"][0];
    assert_eq!(kill["kind"], "kill", "{step}");
    let (at, until) = (
        kill["at_ms"].as_f64().unwrap(),
        kill["until_ms"].as_f64().unwrap(),
    );
    assert!((800.0..2_000.0).contains(&at) && until >= at, "{kill}");
    // 0 → 400/s over 1 s, then 400/s for 1 s: 600 arrivals, filed over the seconds.
    let series = step["run"]["scenarios"][0]["series"].as_array().unwrap();
    let started: u64 = series
        .iter()
        .map(|i| {
            i["iterations"]["started"].as_u64().unwrap()
                + i["iterations"]["dropped"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(started, 600, "{series:?}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<h4>Over time</h4>"), "no plots over time");
    assert!(
        html.contains("<title>iterations per second</title>"),
        "no throughput plot"
    );
    assert!(
        html.contains("<title>kill [2]</title></rect>"),
        "the kill is not shaded"
    );
    assert!(
        html.contains("Shaded: kill [2] ("),
        "the window is not named"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_trim_leaves_warm_up_and_cool_down_out_of_the_totals() {
    let dir = std::env::temp_dir().join(format!("hzlab-executors-trim-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("run.json");
    let o = hzlab(&[
        "run",
        "race",
        "-n",
        "2",
        "--rate",
        "400",
        "--duration",
        "2s",
        "--trim",
        "500ms,500ms",
        "-q",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let s = &doc["scenarios"][0];
    let it = &s["iterations"];
    assert_eq!(it["measured"], serde_json::json!([0.5, 1.5]), "{it}");
    // 400/s over the 1 s window: about 400 of the 800, give or take the edges.
    let completed = it["completed"].as_u64().unwrap();
    assert!((360..=440).contains(&completed), "{it}");
    assert!(
        (it["rate"].as_f64().unwrap() - completed as f64).abs() < 1.0,
        "{it}"
    );
    // Each iteration of race is a get and a set: the totals count the window's only.
    let gets = s["latency"]["map.get"]["count"].as_u64().unwrap();
    assert!(
        (360..=445).contains(&gets),
        "{gets} gets for {completed} iterations"
    );
    // The figures over time keep everything.
    let all: u64 = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["iterations"]["completed"].as_u64().unwrap())
        .sum();
    assert_eq!(all, 800, "{}", s["series"]);
    // A trim needs an executor that runs for a time, and must leave something.
    for (args, says) in [
        (
            &["--iterations", "10", "--trim", "1s,1s"][..],
            "--trim needs",
        ),
        (
            &["--duration", "1s", "--trim", "600ms,600ms"][..],
            "leaves nothing",
        ),
        (
            &["--duration", "1s", "--trim", "1s"][..],
            "WARM-UP,COOL-DOWN",
        ),
    ] {
        let mut all = vec!["run", "race"];
        all.extend_from_slice(args);
        let o = hzlab(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn populate_count_and_acked_writes_have_iteration_forms() {
    let iterations = |n| Executor::SharedIterations { iterations: n };
    let r = Run::new(vec![
        vec![with("populate", 3, iterations(450))],
        vec![with("count", 2, iterations(300))],
        vec![with("acked-writes", 2, iterations(120))],
    ])
    .args(&[("keys", "150"), ("map", "m")])
    .execute()
    .unwrap();
    assert!(r.passed, "{r:#?}");
    let populate = scenario(&r, "populate");
    assert_eq!(populate.totals["written"], 450);
    // 450 writes of 150 keys: every key, none beyond.
    assert_eq!(value(populate, "size"), 150);
    let count = scenario(&r, "count");
    assert_eq!(count.totals["reads"], 300);
    assert_eq!((value(count, "present"), value(count, "missing")), (300, 0));
    let acked = scenario(&r, "acked-writes");
    assert_eq!((value(acked, "acked"), value(acked, "refused")), (120, 0));
    assert_eq!(acked.latency.ops["map.set"].count(), 120);
}

#[test]
fn a_queue_pipeline_runs_as_iterations() {
    let iterations = |n| Executor::SharedIterations { iterations: n };
    let r = Run::new(vec![vec![
        with("producer", 1, iterations(300)),
        with("consumer", 2, iterations(300)),
    ]])
    .args(&[("poll-ms", "50")])
    .execute()
    .unwrap();
    assert!(r.passed, "{r:#?}");
    let producer = scenario(&r, "producer");
    assert_eq!(value(producer, "produced"), 300);
    let consumer = scenario(&r, "consumer");
    let (consumed, left) = (value(consumer, "consumed"), value(consumer, "left"));
    // Every item is taken once or still in the queue; none twice.
    assert_eq!(consumed + left, 300, "{consumer:#?}");
    assert_eq!(value(consumer, "consumed-once"), consumed);
    assert_eq!(value(consumer, "duplicates"), 0);
}
