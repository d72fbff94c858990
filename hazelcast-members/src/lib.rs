//! `hazelcast-members`: local Hazelcast 5.x members for tests and tools.
//!
//! - The member jar: [`member_jar`] finds `com.hazelcast:hazelcast` ([`HAZELCAST_VERSION`])
//!   in the local Maven repository, fetching it with `mvn` when missing.
//! - Member processes: [`LocalCluster`] writes one XML config per member (loopback only,
//!   fixed ports, TCP/IP join, multicast off), starts `java` per member with its log in the
//!   run directory, and waits until all members have joined (through a
//!   [`hazelcast_client::Client`]). Members can be killed (SIGKILL), stopped gracefully
//!   (SIGTERM, [`LocalCluster::stop`] waits without blocking the runtime), frozen (SIGSTOP)
//!   and thawed, and restarted. Signals are sent with system calls, never by running `kill`
//!   ([`send_signal`]). Dropping a [`LocalCluster`] kills every member it started, unless it
//!   was [detached](LocalCluster::detach): then the members keep running and
//!   [`LocalCluster::attach`] takes them over again from the run directory (another process,
//!   another shell).
//! - The run directory: made canonical, it records each member's port before any member
//!   starts and its pid as soon as it exists (`cluster.json`), under an exclusive lock
//!   ([`RunDirLock`]). Every member carries the mark of its run directory and number on its
//!   command line (`-Dhzlab.cluster=<dir> -Dhzlab.member=<n>`): members are recognised by it
//!   in `/proc` ([`marked_members`], [`kill_marked`]), also when `cluster.json` is lost.
//! - Hosts of their own ([`netns`]): with [`LocalClusterConfig::hosts`], every member runs in
//!   a network namespace of its own with an address of its own on a bridge, where network
//!   cuts ([`LocalCluster::cut_network`]) drop traffic between members.
//! - Member statistics: members run through a small Java main class shipped with this crate
//!   (`src/HzlabMember.java`, compiled with `javac` against the member jar into a cache
//!   directory keyed by the source's hash), which starts the member and answers requests for
//!   member-side statistics on a loopback port: [`LocalCluster::stats`] (per map the entries
//!   the member owns and holds as backups, as Management Center shows them) and
//!   [`LocalCluster::replica_table`] (every partition's owner and backups).

mod member;
pub mod netns;
mod rundir;
mod stats;

pub use self::member::{member_classes, MEMBER_MAIN_CLASS};
pub use self::rundir::{
    canonical_dir, kill_marked, marked_members, process_state, send_signal, LockHolder,
    MarkedMember, RunDirLock, CLUSTER_PROPERTY, LOCK_FILE, MEMBER_PROPERTY,
};
pub use self::stats::{MapStats, MemberRef, MemberStats, ReplicaTable};
/// The signals [`send_signal`] sends.
pub use rustix::process::Signal;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hazelcast_client::{Client, ClientConfig};

/// The member release used.
pub const HAZELCAST_VERSION: &str = "5.7.0";

/// Why a local cluster could not be started or changed.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("member jar not available: {0}")]
    Jar(String),
    #[error("cannot start member {index}: {reason}")]
    Start { index: usize, reason: String },
    #[error("cluster did not form: {0}")]
    Formation(String),
    #[error("no member {0}")]
    NoSuchMember(usize),
    #[error("cannot compile the member class with javac: {0}")]
    Compile(String),
    #[error("member {index} is not running")]
    NotRunning { index: usize },
    #[error("member {} of {dir} still runs (pid {pid})", index + 1)]
    StillRunning { index: usize, pid: u32, dir: String },
    #[error("cannot send {signal} to member {index}")]
    Signal {
        index: usize,
        signal: &'static str,
        source: std::io::Error,
    },
    #[error("member {index} statistics: {reason}")]
    Stats { index: usize, reason: String },
    #[error("run directory {dir}: {reason}")]
    State { dir: String, reason: String },
    #[error(transparent)]
    Network(#[from] netns::NetError),
    #[error("i/o failed")]
    Io(#[from] std::io::Error),
}

/// How to start a local cluster.
#[derive(Debug, Clone)]
pub struct LocalClusterConfig {
    pub cluster_name: String,
    pub members: usize,
    /// Member ports; free loopback ports are picked when empty.
    pub ports: Vec<u16>,
    /// Default map backup counts (the `default` map config).
    pub map_backup_count: u32,
    pub map_async_backup_count: u32,
    /// Default queue max size (0: unbounded).
    pub queue_max_size: u32,
    /// Where configs, logs and the state file go (made canonical); a fresh temporary
    /// directory when `None`.
    pub run_dir: Option<PathBuf>,
    /// Java heap limit, e.g. "256m".
    pub heap: String,
    /// How long to wait for all members to join.
    pub start_timeout: Duration,
    /// Start members in a process group of their own, so that a terminal's Ctrl-C aimed at
    /// this process does not reach them: for clusters meant to outlive this process (see
    /// [`LocalCluster::detach`]). Otherwise members exit when this process ends, however it
    /// ends (even killed with SIGKILL): a test that fails or a run that is killed leaves no
    /// member behind.
    pub own_process_group: bool,
    /// Every member on a host of its own: a network namespace with its own address (see
    /// [`netns`]); needs CAP_NET_ADMIN. All members then listen on port 5701 unless `ports`
    /// says otherwise.
    pub hosts: bool,
    /// Lines of member XML inserted into `<hazelcast>` after the defaults (split-brain
    /// protection, merge policies, per-structure configs).
    pub extra_xml: String,
    /// Member properties (`hazelcast.*`), written into `<properties>`.
    pub properties: Vec<(String, String)>,
}

impl LocalClusterConfig {
    pub fn new(cluster_name: impl Into<String>, members: usize) -> LocalClusterConfig {
        LocalClusterConfig {
            cluster_name: cluster_name.into(),
            members,
            ports: Vec::new(),
            map_backup_count: 1,
            map_async_backup_count: 0,
            queue_max_size: 0,
            run_dir: None,
            heap: "256m".into(),
            start_timeout: Duration::from_secs(120),
            own_process_group: false,
            hosts: false,
            extra_xml: String::new(),
            properties: Vec::new(),
        }
    }
}

/// A running member process: started here, or found through the run directory's state file.
#[derive(Debug)]
enum Proc {
    Child(Child),
    Pid(u32),
}

impl Proc {
    fn id(&self) -> u32 {
        match self {
            Proc::Child(c) => c.id(),
            Proc::Pid(p) => *p,
        }
    }
}

struct LocalMember {
    /// The address the member binds (`127.0.0.1`, or its own on a host of its own).
    host: String,
    port: u16,
    child: Option<Proc>,
    config_path: PathBuf,
    log_path: PathBuf,
    /// Where the member writes the loopback port of its statistics server.
    stats_port_path: PathBuf,
    starts: u32,
}

/// Members started by this process.
pub struct LocalCluster {
    config: LocalClusterConfig,
    jar: PathBuf,
    /// Directory with the compiled member main class.
    classes: PathBuf,
    /// Canonical: the members' mark names it.
    run_dir: PathBuf,
    /// The run directory's lock, while this value holds it.
    lock: Option<RunDirLock>,
    /// [`LocalCluster::start_locked`] is under way (recorded in the state file).
    starting: bool,
    /// Detached: dropping leaves the members running.
    detached: bool,
    /// The run directory was made here (not given): removed on drop unless a thread panics.
    owns_run_dir: bool,
    /// The members' network when they run on hosts of their own.
    net: Option<netns::Hosts>,
    members: Vec<LocalMember>,
}

impl std::fmt::Debug for LocalCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LocalCluster({} {:?})",
            self.config.cluster_name,
            self.addresses()
        )
    }
}

/// Finds the member jar in the local Maven repository, fetching it with Maven if missing.
pub fn member_jar() -> Result<PathBuf, LocalError> {
    let home = std::env::var_os("HOME").ok_or_else(|| LocalError::Jar("HOME not set".into()))?;
    let jar = PathBuf::from(home).join(format!(
        ".m2/repository/com/hazelcast/hazelcast/{v}/hazelcast-{v}.jar",
        v = HAZELCAST_VERSION
    ));
    if jar.is_file() {
        return Ok(jar);
    }
    let out = Command::new("mvn")
        .args([
            "-q",
            "dependency:get",
            &format!("-Dartifact=com.hazelcast:hazelcast:{HAZELCAST_VERSION}"),
            "-Dtransitive=false",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| LocalError::Jar(format!("cannot run mvn: {e}")))?;
    if jar.is_file() {
        Ok(jar)
    } else {
        Err(LocalError::Jar(format!(
            "mvn dependency:get failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Free loopback TCP ports (as free as the OS says at the moment of asking).
pub fn free_ports(n: usize) -> Result<Vec<u16>, LocalError> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// A first port of `n` consecutive loopback ports free at the moment of asking, below
/// Linux's ephemeral range (32768 and up), where outgoing connections of other processes
/// do not take them between the asking and the members binding them.
pub fn free_port_range(n: usize) -> Result<u16, LocalError> {
    const LOW: u32 = 20_000;
    const HIGH: u32 = 32_000;
    let n32 = n.max(1) as u32;
    let none_free = || {
        LocalError::Io(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("no {n} consecutive free ports between {LOW} and {HIGH}"),
        ))
    };
    if n32 >= HIGH - LOW {
        return Err(none_free());
    }
    // A start that differs between processes and calls, without a random number crate.
    let mut x = std::process::id()
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    for _ in 0..200 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let base = LOW + (x >> 8) % (HIGH - LOW - n32);
        let held: Result<Vec<_>, _> = (base..base + n32)
            .map(|p| std::net::TcpListener::bind(("127.0.0.1", p as u16)))
            .collect();
        if held.is_ok() {
            return Ok(base as u16);
        }
    }
    Err(none_free())
}

fn member_xml(c: &LocalClusterConfig, host: &str, port: u16, all: &[(String, u16)]) -> String {
    let mut members = String::new();
    for (h, p) in all {
        let _ = writeln!(members, "          <member>{h}:{p}</member>");
    }
    let mut properties = String::new();
    for (k, v) in &c.properties {
        let _ = writeln!(
            properties,
            "    <property name=\"{}\">{}</property>",
            xml_escape(k),
            xml_escape(v)
        );
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<hazelcast xmlns="http://www.hazelcast.com/schema/config"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xsi:schemaLocation="http://www.hazelcast.com/schema/config
           http://www.hazelcast.com/schema/config/hazelcast-config-5.7.xsd">
  <cluster-name>{name}</cluster-name>
  <properties>
    <property name="hazelcast.phone.home.enabled">false</property>
    <property name="hazelcast.wait.seconds.before.join">1</property>
    <property name="hazelcast.logging.type">jdk</property>
    <!-- SIGTERM leaves the cluster gracefully (partitions handed over first). -->
    <property name="hazelcast.shutdownhook.policy">GRACEFUL</property>
{properties}  </properties>
  <network>
    <port auto-increment="false">{port}</port>
    <interfaces enabled="true">
      <interface>{host}</interface>
    </interfaces>
    <join>
      <auto-detection enabled="false"/>
      <multicast enabled="false"/>
      <tcp-ip enabled="true">
        <member-list>
{members}        </member-list>
      </tcp-ip>
    </join>
  </network>
  <map name="default">
    <backup-count>{bc}</backup-count>
    <async-backup-count>{abc}</async-backup-count>
  </map>
  <queue name="default">
    <max-size>{qmax}</max-size>
  </queue>
{extra}</hazelcast>
"#,
        name = c.cluster_name,
        bc = c.map_backup_count,
        abc = c.map_async_backup_count,
        qmax = c.queue_max_size,
        extra = c.extra_xml,
    )
}

/// `text` with XML's special characters escaped.
pub fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn port_open(host: &str, port: u16) -> bool {
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return false;
    };
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::new(ip, port),
        Duration::from_millis(200),
    )
    .is_ok()
}

/// What a run directory's state file (`cluster.json`) records: enough for another process to
/// take the members over.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StateFile {
    cluster_name: String,
    members: usize,
    map_backup_count: u32,
    map_async_backup_count: u32,
    queue_max_size: u32,
    heap: String,
    start_timeout_secs: u64,
    jar: PathBuf,
    classes: PathBuf,
    /// Members are being started: written before the first starts, cleared once all joined.
    #[serde(default)]
    starting: bool,
    /// Members on hosts of their own (their network is recorded in [`netns::NETNS_FILE`]).
    #[serde(default)]
    hosts: bool,
    member: Vec<StateMember>,
}

fn loopback() -> String {
    "127.0.0.1".into()
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StateMember {
    #[serde(default = "loopback")]
    host: String,
    port: u16,
    /// Process id when it was last known to run.
    pid: Option<u32>,
    starts: u32,
}

const STATE_FILE: &str = "cluster.json";

impl LocalCluster {
    /// Starts the members and waits until they form one cluster. Locks the run directory
    /// (waiting for another holder) until the value is dropped or detached.
    pub async fn start(config: LocalClusterConfig) -> Result<LocalCluster, LocalError> {
        let dir = match &config.run_dir {
            Some(d) => d.clone(),
            None => {
                let unique = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                std::env::temp_dir().join(format!(
                    "hz-local-{}-{}-{unique}",
                    config.cluster_name,
                    std::process::id(),
                ))
            }
        };
        let lock = RunDirLock::acquire(&dir, "hazelcast-members local cluster", true, |_| {})?;
        let owns_run_dir = config.run_dir.is_none();
        let mut cluster = Self::start_locked(config, lock).await?;
        cluster.owns_run_dir = owns_run_dir;
        Ok(cluster)
    }

    /// Starts the members in the run directory `lock` holds (`config.run_dir` is ignored)
    /// and waits until they form one cluster; the lock is held until the value is dropped
    /// or detached. Refused when a member of that directory runs. Before any member starts,
    /// `cluster.json` records every member's port; each pid is recorded as soon as it
    /// exists. Dropping the returned future part-way kills the members started so far.
    pub async fn start_locked(
        mut config: LocalClusterConfig,
        lock: RunDirLock,
    ) -> Result<LocalCluster, LocalError> {
        let run_dir = lock.dir().to_path_buf();
        if let Some(m) = marked_members(&run_dir).first() {
            return Err(LocalError::StillRunning {
                index: m.member - 1,
                pid: m.pid,
                dir: run_dir.display().to_string(),
            });
        }
        // What an earlier cluster of this directory left of its network goes first.
        netns::remove_recorded(&run_dir)?;
        if config.hosts {
            netns::check_support()?;
        }
        let jar = member_jar()?;
        let classes = member_classes(&jar)?;
        let ports = if !config.ports.is_empty() {
            config.ports.clone()
        } else if config.hosts {
            vec![5701; config.members]
        } else {
            free_ports(config.members)?
        };
        if ports.len() != config.members {
            return Err(LocalError::Formation(format!(
                "{} ports for {} members",
                ports.len(),
                config.members
            )));
        }
        config.ports = ports.clone();
        config.run_dir = Some(run_dir.clone());
        // Recorded in the run directory before anything is made; removed on failure.
        let net = if config.hosts {
            Some(netns::create(&run_dir, config.members)?)
        } else {
            None
        };
        let hosts: Vec<String> = (0..config.members)
            .map(|i| {
                net.as_ref()
                    .map_or_else(loopback, |n| n.member_ip(i + 1).to_string())
            })
            .collect();
        let all: Vec<(String, u16)> = hosts.iter().cloned().zip(ports.iter().copied()).collect();
        let mut members = Vec::new();
        for (i, &port) in ports.iter().enumerate() {
            let config_path = run_dir.join(format!("member-{i}.xml"));
            std::fs::write(&config_path, member_xml(&config, &hosts[i], port, &all))?;
            members.push(LocalMember {
                host: hosts[i].clone(),
                port,
                child: None,
                config_path,
                log_path: run_dir.join(format!("member-{i}.log")),
                stats_port_path: run_dir.join(format!("member-{i}.stats-port")),
                starts: 0,
            });
        }
        let mut cluster = LocalCluster {
            config,
            jar,
            classes,
            run_dir,
            lock: Some(lock),
            starting: true,
            detached: false,
            owns_run_dir: false,
            net,
            members,
        };
        // The intent first: ports, no pid yet.
        cluster.save_state()?;
        // The first member starts alone so the others join it rather than forming clusters
        // of their own.
        cluster.spawn(0)?;
        let deadline = Instant::now() + cluster.config.start_timeout;
        cluster.wait_port(0, deadline).await?;
        for i in 1..cluster.members.len() {
            cluster.spawn(i)?;
        }
        cluster
            .wait_for_members(cluster.members.len(), deadline)
            .await?;
        cluster.starting = false;
        cluster.save_state()?;
        Ok(cluster)
    }

    /// Takes over the members a detached cluster left running in `run_dir`, without
    /// holding its lock (it is taken for each write of `cluster.json`). Members are
    /// recognised by their mark; those that died meanwhile show as not running
    /// ([`LocalCluster::is_running`]).
    pub fn attach(run_dir: &Path) -> Result<LocalCluster, LocalError> {
        Self::attach_dir(&canonical_dir(run_dir)?, None)
    }

    /// [`LocalCluster::attach`] to the run directory `lock` holds, holding the lock until
    /// the value is dropped or detached.
    pub fn attach_locked(lock: RunDirLock) -> Result<LocalCluster, LocalError> {
        let dir = lock.dir().to_path_buf();
        Self::attach_dir(&dir, Some(lock))
    }

    fn attach_dir(run_dir: &Path, lock: Option<RunDirLock>) -> Result<LocalCluster, LocalError> {
        let state_err = |reason: String| LocalError::State {
            dir: run_dir.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(run_dir.join(STATE_FILE))
            .map_err(|e| state_err(format!("no cluster state ({STATE_FILE}): {e}")))?;
        let state: StateFile = serde_json::from_str(&text)
            .map_err(|e| state_err(format!("unreadable {STATE_FILE}: {e}")))?;
        let marked = marked_members(run_dir);
        let members = state
            .member
            .iter()
            .enumerate()
            .map(|(i, m)| {
                // The live process marked as this member, whatever pid was recorded (an
                // interrupted start may not have recorded it).
                let child = marked
                    .iter()
                    .find(|p| p.member == i + 1)
                    .map(|p| Proc::Pid(p.pid));
                LocalMember {
                    host: m.host.clone(),
                    port: m.port,
                    child,
                    config_path: run_dir.join(format!("member-{i}.xml")),
                    log_path: run_dir.join(format!("member-{i}.log")),
                    stats_port_path: run_dir.join(format!("member-{i}.stats-port")),
                    starts: m.starts,
                }
            })
            .collect();
        let mut config = LocalClusterConfig::new(state.cluster_name, state.members);
        config.ports = state.member.iter().map(|m| m.port).collect();
        config.map_backup_count = state.map_backup_count;
        config.map_async_backup_count = state.map_async_backup_count;
        config.queue_max_size = state.queue_max_size;
        config.heap = state.heap;
        config.start_timeout = Duration::from_secs(state.start_timeout_secs);
        config.run_dir = Some(run_dir.to_path_buf());
        config.own_process_group = true;
        config.hosts = state.hosts;
        let net = if state.hosts {
            netns::recorded(run_dir)?
        } else {
            None
        };
        Ok(LocalCluster {
            config,
            jar: state.jar,
            classes: state.classes,
            run_dir: run_dir.to_path_buf(),
            lock,
            starting: false,
            detached: true,
            owns_run_dir: false,
            net,
            members,
        })
    }

    /// Leaves the members running when this value is dropped, and records them in the run
    /// directory for [`LocalCluster::attach`]; lets go of the lock. Returns the run
    /// directory.
    pub fn detach(mut self) -> Result<PathBuf, LocalError> {
        self.detached = true;
        self.owns_run_dir = false;
        self.save_state()?;
        self.lock = None;
        Ok(self.run_dir.clone())
    }

    /// Writes the state file (called after every change of the member processes).
    fn save_state(&self) -> Result<(), LocalError> {
        let state = StateFile {
            cluster_name: self.config.cluster_name.clone(),
            members: self.members.len(),
            map_backup_count: self.config.map_backup_count,
            map_async_backup_count: self.config.map_async_backup_count,
            queue_max_size: self.config.queue_max_size,
            heap: self.config.heap.clone(),
            start_timeout_secs: self.config.start_timeout.as_secs(),
            jar: self.jar.clone(),
            classes: self.classes.clone(),
            starting: self.starting,
            hosts: self.net.is_some(),
            member: self
                .members
                .iter()
                .map(|m| StateMember {
                    host: m.host.clone(),
                    port: m.port,
                    pid: m.child.as_ref().map(Proc::id),
                    starts: m.starts,
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&state).map_err(|e| LocalError::State {
            dir: self.run_dir.display().to_string(),
            reason: e.to_string(),
        })?;
        // Attached without the lock: take it for the write (another command may hold it
        // for a while; the directory may be gone after `down`).
        let _held = match self.lock {
            Some(_) => None,
            None => Some(RunDirLock::acquire(
                &self.run_dir,
                "hazelcast-members local cluster",
                false,
                |_| {},
            )?),
        };
        let tmp = self.run_dir.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.run_dir.join(STATE_FILE))?;
        Ok(())
    }

    fn spawn(&mut self, index: usize) -> Result<(), LocalError> {
        // Never a second process for a member that runs, even one this value does not
        // know of.
        if let Some(m) = marked_members(&self.run_dir)
            .into_iter()
            .find(|m| m.member == index + 1)
        {
            return Err(LocalError::StillRunning {
                index,
                pid: m.pid,
                dir: self.run_dir.display().to_string(),
            });
        }
        let classpath = std::env::join_paths([&self.jar, &self.classes])
            .map_err(|e| LocalError::Jar(format!("bad class path: {e}")))?;
        let own_group = self.config.own_process_group;
        let m = &mut self.members[index];
        m.starts += 1;
        let _ = std::fs::remove_file(&m.stats_port_path);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log_path)?;
        // On a host of its own: `ip netns exec <namespace> java ...` (which execs java).
        let mut command = match &self.net {
            Some(net) => {
                let [ip, rest @ ..] = net.exec_prefix(index + 1);
                let mut c = Command::new(ip);
                c.args(rest).arg("java");
                c.arg(format!("-Dhzlab.stats.host={}", m.host));
                c
            }
            None => Command::new("java"),
        };
        command
            .args(rundir::mark_args(&self.run_dir, index + 1))
            .arg(format!("-Xmx{}", self.config.heap))
            .arg("-XX:+UseSerialGC")
            .arg("-Dhazelcast.phone.home.enabled=false")
            .arg("-Dhazelcast.shutdownhook.policy=GRACEFUL")
            .arg(format!("-Dhzlab.exitWithParent={}", !own_group))
            .arg(format!("-Dhazelcast.config={}", m.config_path.display()))
            .arg("-cp")
            .arg(classpath)
            .arg(MEMBER_MAIN_CLASS)
            .arg(&m.stats_port_path)
            // Members of this process's group exit with it: their standard input is a pipe
            // from here (kept open by the child handle), and its end of file stops them.
            .stdin(if own_group {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(log.try_clone()?)
            .stderr(log);
        if own_group {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let child = command.spawn().map_err(|e| LocalError::Start {
            index,
            reason: format!("cannot run java: {e}"),
        })?;
        m.child = Some(Proc::Child(child));
        // The pid as soon as it exists.
        self.save_state()
    }
    async fn wait_port(&mut self, index: usize, deadline: Instant) -> Result<(), LocalError> {
        loop {
            let port = self.members[index].port;
            let host = self.members[index].host.clone();
            if tokio::task::spawn_blocking(move || port_open(&host, port))
                .await
                .unwrap_or(false)
            {
                return Ok(());
            }
            if !self.is_running(index) {
                return Err(LocalError::Start {
                    index,
                    reason: format!(
                        "java exited; see {}",
                        self.members[index].log_path.display()
                    ),
                });
            }
            if Instant::now() > deadline {
                return Err(LocalError::Start {
                    index,
                    reason: format!(
                        "port {port} not open in time; see {}",
                        self.members[index].log_path.display()
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until a client sees `n` members.
    pub async fn wait_for_members(&self, n: usize, deadline: Instant) -> Result<(), LocalError> {
        let mut last = String::new();
        while Instant::now() < deadline {
            match Client::connect(self.client_config()).await {
                Ok(client) => {
                    while Instant::now() < deadline {
                        if client.members().len() == n {
                            client.shutdown().await;
                            return Ok(());
                        }
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    last = format!("client sees {} members", client.members().len());
                    client.shutdown().await;
                }
                Err(e) => last = e.chain().to_string(),
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Err(LocalError::Formation(format!(
            "{n} members not joined in time ({last}); logs in {}",
            self.run_dir.display()
        )))
    }

    pub fn cluster_name(&self) -> &str {
        &self.config.cluster_name
    }

    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    /// The configuration the members were started with.
    pub fn config(&self) -> &LocalClusterConfig {
        &self.config
    }

    /// `host:port` of every member, running or not.
    pub fn addresses(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("{}:{}", m.host, m.port))
            .collect()
    }

    pub fn address(&self, index: usize) -> Option<String> {
        self.members
            .get(index)
            .map(|m| format!("{}:{}", m.host, m.port))
    }

    /// The members' network, when they run on hosts of their own.
    pub fn hosts(&self) -> Option<&netns::Hosts> {
        self.net.as_ref()
    }

    /// Puts the directed `links` (`(from, to)`, members from 1: `to` drops what `from`
    /// sends) in force in place of the cut in force, and records them in the run directory
    /// ([`netns::CUT_FILE`]; an empty cut removes the record). Needs members on hosts of
    /// their own.
    pub fn cut_network(&mut self, links: &[(usize, usize)]) -> Result<(), LocalError> {
        let Some(net) = &self.net else {
            return Err(LocalError::Network(netns::NetError::Invalid(
                "network cuts need members on hosts of their own (`hzlab cluster up --hosts`, \
                 or `hosts = true` in a plan's [cluster]); these members share loopback"
                    .into(),
            )));
        };
        let path = self.run_dir.join(netns::CUT_FILE);
        if links.is_empty() {
            netns::apply_cut(net, links)?;
            let _ = std::fs::remove_file(&path);
        } else {
            let text = serde_json::to_string(links).map_err(|e| LocalError::State {
                dir: self.run_dir.display().to_string(),
                reason: e.to_string(),
            })?;
            // Recorded first: a crash mid-way leaves a record that may over-state the cut.
            std::fs::write(&path, text)?;
            netns::apply_cut(net, links)?;
        }
        Ok(())
    }

    /// The cut in force, as recorded by [`LocalCluster::cut_network`] (empty: none).
    pub fn current_cut(&self) -> Vec<(usize, usize)> {
        std::fs::read_to_string(self.run_dir.join(netns::CUT_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Whether member `index` is stopped by a signal (frozen with SIGSTOP).
    pub fn is_frozen(&mut self, index: usize) -> bool {
        if !self.is_running(index) {
            return false;
        }
        let Some(pid) = self.pid(index) else {
            return false;
        };
        rundir::process_state(pid) == Some('T')
    }

    /// A client configuration for this cluster (all member addresses).
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig::new(self.config.cluster_name.clone(), self.addresses())
    }

    /// Process id of a running member.
    pub fn pid(&self, index: usize) -> Option<u32> {
        self.members
            .get(index)
            .and_then(|m| m.child.as_ref())
            .map(Proc::id)
    }

    /// Log file of a member.
    pub fn log_path(&self, index: usize) -> Option<&Path> {
        self.members.get(index).map(|m| m.log_path.as_path())
    }

    fn child(&mut self, index: usize) -> Result<&mut LocalMember, LocalError> {
        self.members
            .get_mut(index)
            .ok_or(LocalError::NoSuchMember(index))
    }

    /// Kills a member abruptly (SIGKILL): no goodbye to the cluster.
    pub fn kill(&mut self, index: usize) -> Result<(), LocalError> {
        let run_dir = self.run_dir.clone();
        let m = self.child(index)?;
        match m.child.take() {
            Some(Proc::Child(mut child)) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Some(Proc::Pid(pid)) if rundir::is_marked(pid, &run_dir, index + 1) => {
                rundir::send(pid, Signal::KILL);
                rundir::wait_gone(pid, &run_dir, index + 1, Duration::from_secs(10));
            }
            _ => {}
        }
        if self.detached {
            self.save_state()?;
        }
        Ok(())
    }

    /// Kills several members abruptly at the same moment (one signal each, sent back to
    /// back before waiting for any of them), as when machines fail together.
    pub fn kill_many(&mut self, indices: &[usize]) -> Result<(), LocalError> {
        for &i in indices {
            self.child(i)?;
        }
        let mut waits = Vec::new();
        for &i in indices {
            let m = &mut self.members[i];
            match m.child.take() {
                Some(Proc::Child(mut child)) => {
                    let _ = child.kill();
                    waits.push((Proc::Child(child), i));
                }
                Some(Proc::Pid(pid)) if rundir::is_marked(pid, &self.run_dir, i + 1) => {
                    rundir::send(pid, Signal::KILL);
                    waits.push((Proc::Pid(pid), i));
                }
                _ => {}
            }
        }
        for (proc, i) in waits {
            match proc {
                Proc::Child(mut c) => {
                    let _ = c.wait();
                }
                Proc::Pid(pid) => {
                    rundir::wait_gone(pid, &self.run_dir, i + 1, Duration::from_secs(10));
                }
            }
        }
        if self.detached {
            self.save_state()?;
        }
        Ok(())
    }

    /// Stops a member gracefully (SIGTERM: the member migrates its data away and leaves),
    /// waiting up to `timeout` without blocking the thread, then kills it (SIGKILL) if it
    /// has not left. A member that does not run is left as it is. Dropping the future
    /// part-way leaves the member known to this value (killed on drop, like the others).
    pub async fn stop(&mut self, index: usize, timeout: Duration) -> Result<(), LocalError> {
        let deadline = Instant::now() + timeout;
        let member = index + 1;
        let run_dir = self.run_dir.clone();
        let signalled = match &self.child(index)?.child {
            Some(Proc::Child(c)) => {
                rundir::send(c.id(), Signal::TERM);
                true
            }
            Some(Proc::Pid(pid)) if rundir::is_marked(*pid, &run_dir, member) => {
                rundir::send(*pid, Signal::TERM);
                true
            }
            _ => false,
        };
        if signalled {
            while !self.exited(index) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if !self.exited(index) {
                match &mut self.members[index].child {
                    Some(Proc::Child(c)) => {
                        let _ = c.kill();
                    }
                    Some(Proc::Pid(pid)) => rundir::send(*pid, Signal::KILL),
                    None => {}
                }
                let killed_by = Instant::now() + Duration::from_secs(10);
                while !self.exited(index) {
                    if Instant::now() > killed_by {
                        return Err(LocalError::StillRunning {
                            index,
                            pid: self.members[index].child.as_ref().map_or(0, Proc::id),
                            dir: run_dir.display().to_string(),
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        self.members[index].child = None;
        if self.detached {
            self.save_state()?;
        }
        Ok(())
    }

    /// Whether member `index`'s process has finished exiting (reaped when a child of this
    /// process); true when there is none.
    fn exited(&mut self, index: usize) -> bool {
        let member = index + 1;
        match self.members[index].child.as_mut() {
            Some(Proc::Child(c)) => !matches!(c.try_wait(), Ok(None)),
            Some(Proc::Pid(pid)) => rundir::gone(*pid, &self.run_dir, member),
            None => true,
        }
    }

    /// Freezes a running member (SIGSTOP): it keeps its connections open but does nothing
    /// until [`LocalCluster::thaw`], as a member in a long pause. A frozen member is still
    /// killed on drop.
    pub fn freeze(&mut self, index: usize) -> Result<(), LocalError> {
        self.signal_running(index, Signal::STOP, "SIGSTOP")
    }

    /// Lets a [frozen](LocalCluster::freeze) member go on (SIGCONT).
    pub fn thaw(&mut self, index: usize) -> Result<(), LocalError> {
        self.signal_running(index, Signal::CONT, "SIGCONT")
    }

    fn signal_running(
        &mut self,
        index: usize,
        signal: Signal,
        name: &'static str,
    ) -> Result<(), LocalError> {
        self.child(index)?;
        if !self.is_running(index) {
            return Err(LocalError::NotRunning { index });
        }
        let pid = self.pid(index).ok_or(LocalError::NotRunning { index })?;
        send_signal(pid, signal).map_err(|source| LocalError::Signal {
            index,
            signal: name,
            source,
        })
    }

    /// Starts a stopped or killed member again and waits for its port.
    pub async fn restart(&mut self, index: usize) -> Result<(), LocalError> {
        self.kill(index)?;
        self.spawn(index)?;
        if self.detached {
            self.save_state()?;
        }
        let deadline = Instant::now() + self.config.start_timeout;
        self.wait_port(index, deadline).await
    }

    /// Number of members (running or not).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether member `index` was started and has not exited.
    pub fn is_running(&mut self, index: usize) -> bool {
        let Some(m) = self.members.get_mut(index) else {
            return false;
        };
        match m.child.as_mut() {
            Some(Proc::Child(c)) => matches!(c.try_wait(), Ok(None)),
            Some(Proc::Pid(pid)) => rundir::is_marked(*pid, &self.run_dir, index + 1),
            None => false,
        }
    }

    /// Member-side statistics of member `index`: its view of the cluster, the replica
    /// table, and for every map it knows (plus `maps`, created if needed) its owned and
    /// backup entry counts.
    pub async fn stats(&mut self, index: usize, maps: &[&str]) -> Result<MemberStats, LocalError> {
        if index >= self.members.len() {
            return Err(LocalError::NoSuchMember(index));
        }
        if !self.is_running(index) {
            return Err(LocalError::NotRunning { index });
        }
        let path = self.members[index].stats_port_path.clone();
        // The port file appears once the member has started.
        let deadline = Instant::now() + self.config.start_timeout;
        let port: u16 = loop {
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    break text.trim().parse().map_err(|_| LocalError::Stats {
                        index,
                        reason: format!("bad port file {}", path.display()),
                    })?
                }
                Err(_) if Instant::now() < deadline && self.is_running(index) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => {
                    return Err(LocalError::Stats {
                        index,
                        reason: format!("no statistics port ({}: {e})", path.display()),
                    })
                }
            }
        };
        let host = self.members[index].host.clone();
        stats::request(&host, port, maps)
            .await
            .map_err(|reason| LocalError::Stats { index, reason })
    }

    /// The replica table as a running member sees it (the first member that answers).
    pub async fn replica_table(&mut self) -> Result<ReplicaTable, LocalError> {
        let mut last = LocalError::Formation("no member is running".into());
        for i in 0..self.members.len() {
            if !self.is_running(i) {
                continue;
            }
            match self.stats(i, &[]).await {
                Ok(s) => return Ok(s.replica_table()),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Kills every member (and removes their network, when they ran on hosts of their own).
    pub fn shutdown(&mut self) {
        let all: Vec<usize> = (0..self.members.len()).collect();
        // Frozen members die of SIGKILL too.
        let _ = self.kill_many(&all);
        if self.net.take().is_some() {
            if let Err(e) = netns::remove_recorded(&self.run_dir) {
                eprintln!("hazelcast-members: cannot remove the cluster network: {e}");
            }
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        self.shutdown();
        // Logs are kept when something failed (a panic is unwinding), for the post-mortem.
        if std::thread::panicking() {
            eprintln!("member logs kept in {}", self.run_dir.display());
        } else if self.owns_run_dir {
            let _ = std::fs::remove_dir_all(&self.run_dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_free_port_range_is_below_the_ephemeral_ports_and_free() {
        let base = free_port_range(3).unwrap();
        assert!((20_000..32_000).contains(&base), "{base}");
        let held: Vec<_> = (base..base + 3)
            .map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).unwrap())
            .collect();
        // With the range held, another call finds another one.
        let other = free_port_range(3).unwrap();
        assert!(
            other + 3 <= base || other >= base + 3,
            "{other} overlaps {base}"
        );
        drop(held);
    }
}
