//! Diagnostics through the binary: `-v`/`-vv` (a global flag) and `RUST_LOG` write hzlab's
//! and the client's `tracing` events to standard error; without them nothing of the kind is
//! written. Against the embedded cluster, and against a fake member (over std::net) that
//! closes every connection after the preamble.

use std::io::Read;
use std::net::{Shutdown, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs hzlab with `args` (RUST_LOG as given, else unset) within 60 s; its exit code and
/// standard error.
fn hzlab(args: &[&str], rust_log: Option<&str>) -> (Option<i32>, String) {
    let clusters = std::env::temp_dir().join(format!("hzlab-diagnostics-{}", std::process::id()));
    std::fs::create_dir_all(&clusters).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hzlab"));
    cmd.args(args)
        .env("HZLAB_CLUSTERS_DIR", &clusters)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(spec) = rust_log {
        cmd.env("RUST_LOG", spec);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("hzlab {args:?} still runs after 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), reader.join().unwrap())
}

/// Lines of `text` that are `level` events of the crate `target`.
fn events<'a>(text: &'a str, level: &str, target: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| l.contains(&format!(" {level} ")) && l.contains(&format!("{target}::")))
        .collect()
}

const RACE: [&str; 6] = ["run", "race", "-q", "-n", "2", "--arg"];

#[test]
fn v_shows_the_runs_info_events_and_nothing_shows_without_it() {
    let mut args = RACE.to_vec();
    args.push("iterations=50");
    let (code, quiet) = hzlab(&args, None);
    assert_eq!(code, Some(0), "{quiet}");
    assert!(!quiet.contains(" INFO "), "{quiet}");
    assert!(!quiet.contains("step started"), "{quiet}");

    // The flag is global: before the subcommand or after it.
    for verbose in [vec!["-v"], vec![], vec!["--verbose"]] {
        let mut a = verbose.clone();
        a.extend(&args);
        if verbose.is_empty() {
            a.push("-v");
        }
        let (code, err) = hzlab(&a, None);
        assert_eq!(code, Some(0), "{err}");
        let infos = events(&err, "INFO", "hzlab");
        assert!(
            infos.iter().any(|l| l.contains("step started")
                && l.contains("step=1")
                && l.contains("scenarios=race:2")),
            "{a:?}: {err}"
        );
        assert!(
            infos
                .iter()
                .any(|l| l.contains("run ended") && l.contains("passed=true")),
            "{a:?}: {err}"
        );
        // -v is info: the instances' debug events stay out.
        assert!(!err.contains("instance ended"), "{a:?}: {err}");
    }

    let mut a = vec!["-vv"];
    a.extend(&args);
    let (code, err) = hzlab(&a, None);
    assert_eq!(code, Some(0), "{err}");
    let ended = events(&err, "DEBUG", "hzlab")
        .into_iter()
        .filter(|l| l.contains("instance ended"))
        .count();
    assert_eq!(ended, 2, "one per instance: {err}");
}

/// A member that accepts every connection and ends its side of it at once (the client
/// reads the end of the stream; what it sent is read to the end, so that no reset comes
/// instead); its port.
fn member_that_hangs_up() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            std::thread::spawn(move || {
                let _ = s.shutdown(Shutdown::Write);
                let _ = std::io::copy(&mut s, &mut std::io::sink());
            });
        }
    });
    port
}

#[test]
fn the_clients_connection_events_show_with_vv_or_rust_log_only() {
    let port = member_that_hangs_up();
    let address = format!("127.0.0.1:{port}");
    let args = ["run", "race", "-q", "--cluster", &address];

    let (code, plain) = hzlab(&args, None);
    assert_eq!(code, Some(3), "{plain}");
    assert!(plain.contains("hzlab: error:"), "{plain}");
    assert!(!plain.contains("hazelcast_client::"), "{plain}");

    let mut a = vec!["-vv"];
    a.extend(args);
    let (code, err) = hzlab(&a, None);
    assert_eq!(code, Some(3), "{err}");
    // The user-facing error is unchanged.
    assert!(err.contains("hzlab: error:"), "{err}");
    let closed = events(&err, "INFO", "hazelcast_client");
    assert!(
        closed.iter().any(|l| l.contains("connection closed")
            && l.contains(&format!("address={address}"))
            && l.contains("closed by the member")),
        "{err}"
    );
    assert!(
        events(&err, "DEBUG", "hazelcast_client")
            .iter()
            .any(|l| l.contains("cannot open a connection")),
        "{err}"
    );

    // RUST_LOG chooses instead of -v: the client's info events, none of hzlab's.
    let (code, err) = hzlab(&args, Some("hazelcast_client=info"));
    assert_eq!(code, Some(3), "{err}");
    assert!(
        events(&err, "INFO", "hazelcast_client")
            .iter()
            .any(|l| l.contains("connection closed")),
        "{err}"
    );
    assert!(
        events(&err, "DEBUG", "hazelcast_client").is_empty(),
        "{err}"
    );

    // A RUST_LOG that is not a filter is said once, and -v applies.
    let mut a = vec!["-v"];
    a.extend(args);
    let (code, err) = hzlab(&a, Some("hazelcast_client=loud"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("hzlab: warning: RUST_LOG="), "{err}");
    assert!(
        events(&err, "INFO", "hazelcast_client")
            .iter()
            .any(|l| l.contains("connection closed")),
        "{err}"
    );
}
