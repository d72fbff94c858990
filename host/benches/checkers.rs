//! hzlab's linearizability checker beside Porcupine on the same histories: wall time and
//! peak RSS of `hzlab history check FILE --model register` and of `tools/porcupine-check`
//! (each a process of its own, measured by `/usr/bin/time` when it is there), and the time
//! each spent searching the key.
//!
//! ```sh
//! cargo bench -p hzlab --bench checkers
//! ```
//!
//! The histories: the seed's 3-instance optimistic, pessimistic and race runs (10,000
//! increments each, recorded on the embedded cluster), a synthetic 10,000-operation register
//! history with 1 % writes of unknown outcome, the same with one impossible read, and a
//! handcrafted stale read. Not a test: it prints figures (the issue's target: each decided
//! within 10 s).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use hzlab::history::synth::{register_history, with_impossible_read, Synth};

struct Measured {
    secs: f64,
    rss_mib: Option<f64>,
    stdout: Vec<u8>,
}

fn measure(program: &Path, args: &[&str]) -> Measured {
    let timed = Path::new("/usr/bin/time").exists();
    let mut cmd = if timed {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "HZLAB-RSS-KIB %M"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let started = Instant::now();
    let out = cmd.args(args).output().expect("the checker runs");
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_mib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("HZLAB-RSS-KIB "))
        .and_then(|k| k.trim().parse::<f64>().ok())
        .map(|k| k / 1024.0);
    Measured {
        secs,
        rss_mib,
        stdout: out.stdout,
    }
}

fn hzlab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hzlab"))
}

fn main() {
    let dir = std::env::temp_dir().join(format!("hzlab-bench-checkers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let porcupine = dir.join("porcupine-check");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools/porcupine-check");
    let built = Command::new("go")
        .current_dir(&src)
        .args(["build", "-buildvcs=false", "-o"])
        .arg(&porcupine)
        .arg(".")
        .status();
    let have_porcupine = matches!(built, Ok(s) if s.success());
    if !have_porcupine {
        eprintln!("Porcupine not built (is `go` installed?): hzlab alone");
    }

    let mut histories: Vec<(String, PathBuf)> = Vec::new();
    for scenario in ["optimistic", "pessimistic", "race"] {
        let file = dir.join(format!("{scenario}.jsonl"));
        let status = Command::new(hzlab())
            .args(["run", &format!("{scenario}:3"), "--seed", "1", "-q"])
            .arg("--history")
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.code().is_some_and(|c| c <= 1), "{scenario} ran");
        histories.push((format!("{scenario}:3 (10,000 increments each)"), file));
    }
    let synth = register_history(&Synth {
        ops: 10_000,
        clients: 3,
        unknown_rate: 0.01,
        values: 4,
        seed: 14,
    });
    let write = |name: &str, events: &[hzlab::history::Event]| {
        let path = dir.join(name);
        let text: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        std::fs::write(&path, text).unwrap();
        path
    };
    histories.push((
        "synthetic register, 10,000 ops, 1 % unknown".into(),
        write("synth.jsonl", &synth),
    ));
    histories.push((
        "the same with one impossible read".into(),
        write("synth-bad.jsonl", &with_impossible_read(synth)),
    ));
    let stale = dir.join("stale.jsonl");
    std::fs::write(
        &stale,
        r#"{"scenario":"s","phase":"run","instance":0,"op":"map.set","name":"m","args":["k",1],"outcome":"ok","start_us":1.0,"end_us":2.0}
{"scenario":"s","phase":"run","instance":1,"op":"map.set","name":"m","args":["k",2],"outcome":"ok","start_us":3.0,"end_us":4.0}
{"scenario":"s","phase":"run","instance":2,"op":"map.get","name":"m","args":["k"],"outcome":"ok","value":1,"start_us":5.0,"end_us":6.0}
"#,
    )
    .unwrap();
    histories.push(("stale read (3 ops)".into(), stale));

    println!("| history | model | ops of the key | hzlab verdict | hzlab search | hzlab process | hzlab peak RSS | Porcupine verdict | Porcupine search | Porcupine process | Porcupine peak RSS |");
    println!("| --- | --- | ---: | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |");
    for (name, file) in &histories {
        for model in ["auto", "register"] {
            let json = file.with_extension(format!("{model}.json"));
            let ours = measure(
                &hzlab(),
                &[
                    "history",
                    "check",
                    file.to_str().unwrap(),
                    "--model",
                    model,
                    "--json",
                    json.to_str().unwrap(),
                ],
            );
            let doc: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
            // The largest key: the one the figures are about.
            let key = doc["linearizability"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|l| l["key_checks"].as_array().unwrap().iter())
                .max_by_key(|k| k["ops"].as_u64().unwrap())
                .cloned()
                .unwrap_or_default();
            let rss = |m: &Measured| {
                m.rss_mib
                    .map(|r| format!("{r:.0} MiB"))
                    .unwrap_or_else(|| "–".into())
            };
            let (pv, ps, pp, pr) = if have_porcupine {
                let theirs = measure(&porcupine, &["-model", model, file.to_str().unwrap()]);
                let doc: serde_json::Value =
                    serde_json::from_slice(&theirs.stdout).unwrap_or_default();
                let k = doc["keys"]
                    .as_array()
                    .and_then(|ks| ks.iter().max_by_key(|k| k["ops"].as_u64().unwrap_or(0)))
                    .cloned()
                    .unwrap_or_default();
                (
                    k["verdict"].as_str().unwrap_or("?").to_owned(),
                    format!("{:.1} ms", k["ms"].as_f64().unwrap_or(f64::NAN)),
                    format!("{:.2} s", theirs.secs),
                    rss(&theirs),
                )
            } else {
                ("–".into(), "–".into(), "–".into(), "–".into())
            };
            println!(
                "| {name} | {model} | {} | {} | {:.1} ms | {:.2} s | {} | {pv} | {ps} | {pp} | {pr} |",
                key["ops"],
                key["verdict"].as_str().unwrap_or("?"),
                key["elapsed_ms"].as_f64().unwrap_or(f64::NAN),
                ours.secs,
                rss(&ours),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
