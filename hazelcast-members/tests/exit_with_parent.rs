//! Members started in the caller's process group exit when the caller does, however it ends:
//! here the caller is this test binary run again as a child, killed with SIGKILL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hazelcast_members::{LocalCluster, LocalClusterConfig};

const CHILD: &str = "HAZELCAST_MEMBERS_TEST_PARENT";

fn alive(pid: u32) -> bool {
    // A zombie is gone for our purpose.
    !matches!(
        hazelcast_members::process_state(pid),
        None | Some('Z' | 'X')
    )
}

#[test]
fn members_exit_when_the_process_that_started_them_is_killed() {
    if std::env::var_os(CHILD).is_some() {
        // The parent: start one member, say its pid, wait to be killed.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let cluster = rt
            .block_on(LocalCluster::start(LocalClusterConfig::new(
                "hm-exit-with-parent",
                1,
            )))
            .expect("member starts");
        println!("member-pid {}", cluster.pid(0).expect("a pid"));
        std::thread::sleep(Duration::from_secs(300));
        return;
    }
    let mut parent = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "members_exit_when_the_process_that_started_them_is_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(parent.stdout.take().unwrap()).lines();
    let pid: u32 = loop {
        let line = lines
            .next()
            .expect("the parent printed a member pid before ending")
            .unwrap();
        // libtest writes the test's name first, on the same line.
        if let Some((_, pid)) = line.split_once("member-pid ") {
            break pid.trim().parse().unwrap();
        }
    };
    assert!(alive(pid), "member {pid} runs while its parent does");
    parent.kill().unwrap();
    parent.wait().unwrap();
    let t = Instant::now();
    while alive(pid) && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let gone = !alive(pid);
    if !gone {
        let _ = hazelcast_members::send_signal(pid, hazelcast_members::Signal::KILL);
    }
    assert!(
        gone,
        "member {pid} still runs 20 s after its parent was killed"
    );
}
