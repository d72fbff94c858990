//! Real Hazelcast members on this machine, for tests and tools (feature `local-cluster`).
//!
//! Finds the member jar in the local Maven repository (fetching it with `mvn` when
//! missing), writes one XML config per member (loopback only, fixed ports, TCP/IP join,
//! multicast off), starts `java ... HazelcastMemberStarter` per member with its log in the
//! run directory, and waits until all members have joined. Members can be killed
//! (SIGKILL), stopped gracefully (SIGTERM) and restarted. Dropping a [`LocalCluster`]
//! kills every member it started.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Client, ClientConfig};

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
    #[error("i/o: {0}")]
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
    /// Where configs and logs go; a fresh temporary directory when `None`.
    pub run_dir: Option<PathBuf>,
    /// Java heap limit, e.g. "256m".
    pub heap: String,
    /// How long to wait for all members to join.
    pub start_timeout: Duration,
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
        }
    }
}

struct LocalMember {
    port: u16,
    child: Option<Child>,
    config_path: PathBuf,
    log_path: PathBuf,
    starts: u32,
}

/// Members started by this process.
pub struct LocalCluster {
    config: LocalClusterConfig,
    jar: PathBuf,
    run_dir: PathBuf,
    /// The run directory was made here (not given): removed on drop unless a thread panics.
    owns_run_dir: bool,
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

fn member_xml(c: &LocalClusterConfig, port: u16, all_ports: &[u16]) -> String {
    let mut members = String::new();
    for p in all_ports {
        let _ = writeln!(members, "          <member>127.0.0.1:{p}</member>");
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
  </properties>
  <network>
    <port auto-increment="false">{port}</port>
    <interfaces enabled="true">
      <interface>127.0.0.1</interface>
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
</hazelcast>
"#,
        name = c.cluster_name,
        bc = c.map_backup_count,
        abc = c.map_async_backup_count,
        qmax = c.queue_max_size,
    )
}

fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

impl LocalCluster {
    /// Starts the members and waits until they form one cluster.
    pub async fn start(config: LocalClusterConfig) -> Result<LocalCluster, LocalError> {
        let jar = member_jar()?;
        let ports = if config.ports.is_empty() {
            free_ports(config.members)?
        } else {
            config.ports.clone()
        };
        if ports.len() != config.members {
            return Err(LocalError::Formation(format!(
                "{} ports for {} members",
                ports.len(),
                config.members
            )));
        }
        let run_dir = match &config.run_dir {
            Some(d) => d.clone(),
            None => std::env::temp_dir().join(format!(
                "hz-local-{}-{}-{}",
                config.cluster_name,
                std::process::id(),
                ports[0]
            )),
        };
        std::fs::create_dir_all(&run_dir)?;
        let mut members = Vec::new();
        for (i, &port) in ports.iter().enumerate() {
            let config_path = run_dir.join(format!("member-{i}.xml"));
            std::fs::write(&config_path, member_xml(&config, port, &ports))?;
            members.push(LocalMember {
                port,
                child: None,
                config_path,
                log_path: run_dir.join(format!("member-{i}.log")),
                starts: 0,
            });
        }
        let owns_run_dir = config.run_dir.is_none();
        let mut cluster = LocalCluster {
            config,
            jar,
            run_dir,
            owns_run_dir,
            members,
        };
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
        Ok(cluster)
    }

    fn spawn(&mut self, index: usize) -> Result<(), LocalError> {
        let m = &mut self.members[index];
        m.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log_path)?;
        let child = Command::new("java")
            .arg(format!("-Xmx{}", self.config.heap))
            .arg("-XX:+UseSerialGC")
            .arg("-Dhazelcast.phone.home.enabled=false")
            .arg("-Dhazelcast.shutdownhook.policy=GRACEFUL")
            .arg(format!("-Dhazelcast.config={}", m.config_path.display()))
            .arg("-cp")
            .arg(&self.jar)
            .arg("com.hazelcast.core.server.HazelcastMemberStarter")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| LocalError::Start {
                index,
                reason: format!("cannot run java: {e}"),
            })?;
        m.child = Some(child);
        Ok(())
    }

    async fn wait_port(&mut self, index: usize, deadline: Instant) -> Result<(), LocalError> {
        loop {
            let port = self.members[index].port;
            if tokio::task::spawn_blocking(move || port_open(port))
                .await
                .unwrap_or(false)
            {
                return Ok(());
            }
            if let Some(child) = self.members[index].child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(LocalError::Start {
                        index,
                        reason: format!(
                            "java exited with {status}; see {}",
                            self.members[index].log_path.display()
                        ),
                    });
                }
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
                Err(e) => last = e.to_string(),
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

    /// `127.0.0.1:port` of every member, running or not.
    pub fn addresses(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port))
            .collect()
    }

    pub fn address(&self, index: usize) -> Option<String> {
        self.members
            .get(index)
            .map(|m| format!("127.0.0.1:{}", m.port))
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
            .map(Child::id)
    }

    fn child(&mut self, index: usize) -> Result<&mut LocalMember, LocalError> {
        self.members
            .get_mut(index)
            .ok_or(LocalError::NoSuchMember(index))
    }

    /// Kills a member abruptly (SIGKILL): no goodbye to the cluster.
    pub fn kill(&mut self, index: usize) -> Result<(), LocalError> {
        let m = self.child(index)?;
        if let Some(mut child) = m.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Ok(())
    }

    /// Stops a member gracefully (SIGTERM: the member migrates its data away and leaves),
    /// waiting up to `timeout` before killing it. Blocks the calling thread: from async
    /// code, call it through `tokio::task::spawn_blocking`.
    pub fn stop(&mut self, index: usize, timeout: Duration) -> Result<(), LocalError> {
        let m = self.child(index)?;
        if let Some(mut child) = m.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + timeout;
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// Starts a stopped or killed member again and waits for its port.
    pub async fn restart(&mut self, index: usize) -> Result<(), LocalError> {
        self.kill(index)?;
        self.spawn(index)?;
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
        self.members
            .get_mut(index)
            .and_then(|m| m.child.as_mut())
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills every member.
    pub fn shutdown(&mut self) {
        for i in 0..self.members.len() {
            let _ = self.kill(i);
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.shutdown();
        // Logs are kept when something failed (a panic is unwinding), for the post-mortem.
        if std::thread::panicking() {
            eprintln!("member logs kept in {}", self.run_dir.display());
        } else if self.owns_run_dir {
            let _ = std::fs::remove_dir_all(&self.run_dir);
        }
    }
}
