//! Members on hosts of their own: one network namespace per member, joined by veth links to a
//! bridge in the root namespace, and network cuts as nftables rules inside the namespaces.
//!
//! The layout of a cluster whose run directory hashes to tag `T` (8 hex digits) and that was
//! given subnet `10.250.S.0/24` (the first /24 of `10.250.0.0/16` no interface on this machine
//! has, probed from the tag on, chosen under a machine-wide lock so that two clusters never
//! get the same one):
//!
//! - bridge `hzlTb` in the root namespace, address `10.250.S.1/24`: hzlab's client (in the
//!   root namespace) reaches every member through it;
//! - member `n` (from 1): namespace `hzlT-n` with `lo` up and `hzlTpn`, the namespace end of a
//!   veth pair whose root end `hzlTvn` is a port of the bridge; address `10.250.S.(n+1)/24`.
//!
//! Everything is recorded in the run directory (`netns.json`) *before* it is created, so
//! [`remove_recorded`] (run by `down`, and by the next start in that directory) removes what
//! a crashed or interrupted command left. Deleting a namespace deletes its veth pair and its
//! rules. Commands are `ip` and `nft` (iproute2, nftables); a failing command's stderr is
//! part of the error.
//!
//! A cut is a set of directed links `(from, to)`: member `to`'s namespace drops every packet
//! from `from`'s address on input (table `inet hzlab`). Applying a cut replaces each
//! namespace's table in one nft transaction; the host address (hzlab's client) is never cut.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The record of a cluster's network, in its run directory.
pub const NETNS_FILE: &str = "netns.json";
/// The current cut, in the run directory (absent: none).
pub const CUT_FILE: &str = "cut.json";
/// Where the machine-wide lock for choosing subnets lives.
const LOCK_PATH: &str = "/run/hzlab-netns.lock";
/// Member numbers above this do not fit interface names (15 bytes).
pub const MAX_HOST_MEMBERS: usize = 253;

/// Why a cluster's network could not be made, changed or removed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error(
        "members on hosts of their own need {missing} (network namespaces, veth links, a bridge \
         and nftables rules): run hzlab as root, or grant the capabilities \
         (e.g. `sudo setcap cap_net_admin,cap_sys_admin+ep $(which hzlab)`)"
    )]
    Privileges { missing: String },
    #[error("`{program}` is needed for members on hosts of their own: {hint}")]
    Missing { program: String, hint: String },
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("no free /24 in 10.250.0.0/16 for a cluster network")]
    NoSubnet,
    #[error("{0}")]
    Invalid(String),
    #[error("network record {path}: {reason}")]
    Record { path: String, reason: String },
    #[error("i/o failed")]
    Io(#[from] std::io::Error),
}

/// The network of one cluster, as recorded before it is made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hosts {
    /// 8 hex digits naming every interface and namespace of this cluster.
    pub tag: String,
    /// The third octet of `10.250.S.0/24`.
    pub subnet: u8,
    pub members: usize,
}

impl Hosts {
    pub fn bridge(&self) -> String {
        format!("hzl{}b", self.tag)
    }

    /// Namespace of member `n` (from 1).
    pub fn namespace(&self, n: usize) -> String {
        format!("hzl{}-{n}", self.tag)
    }

    /// Root end of member `n`'s veth pair.
    pub fn veth(&self, n: usize) -> String {
        format!("hzl{}v{n}", self.tag)
    }

    /// Namespace end of member `n`'s veth pair.
    pub fn peer(&self, n: usize) -> String {
        format!("hzl{}p{n}", self.tag)
    }

    /// The root namespace's address on the bridge (where hzlab's client connects from).
    pub fn host_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.subnet, 1)
    }

    /// Member `n`'s address (from 1).
    pub fn member_ip(&self, n: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 250, self.subnet, (n + 1) as u8)
    }

    /// The command prefix that runs a program in member `n`'s namespace (`ip netns exec`
    /// execs the program: its process id is the program's).
    pub fn exec_prefix(&self, n: usize) -> [String; 4] {
        [
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.namespace(n),
        ]
    }
}

/// The tag of a run directory: FNV-1a of its canonical path, 8 hex digits.
pub fn tag_of(run_dir: &Path) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for &b in run_dir.as_os_str().as_encoded_bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}

/// Fails at once, saying what is missing, unless this process may make namespaces, links
/// and rules (CAP_NET_ADMIN and CAP_SYS_ADMIN, `ip` and `nft` installed).
pub fn check_support() -> Result<(), NetError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0);
    let mut missing = Vec::new();
    if eff & (1 << 12) == 0 {
        missing.push("CAP_NET_ADMIN");
    }
    if eff & (1 << 21) == 0 {
        missing.push("CAP_SYS_ADMIN (to mount network namespaces)");
    }
    if !missing.is_empty() {
        return Err(NetError::Privileges {
            missing: missing.join(" and "),
        });
    }
    for (program, arg, hint) in [
        (
            "ip",
            "-V",
            "install iproute2 (`apt-get install -y iproute2`)",
        ),
        (
            "nft",
            "-v",
            "install nftables (`apt-get install -y nftables`)",
        ),
    ] {
        let found = Command::new(program)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Err(NetError::Missing {
                program: program.into(),
                hint: hint.into(),
            });
        }
    }
    Ok(())
}

/// Runs a command, its stderr in the error when it fails.
fn run(args: &[&str], stdin: Option<&str>) -> Result<(), NetError> {
    let command = args.join(" ");
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Command {
            command: command.clone(),
            status: "not started".into(),
            stderr: e.to_string(),
        })?;
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        input.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(NetError::Command {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn namespace_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Third octets of `10.250.X.0/24` that an interface of the root namespace uses.
fn used_subnets() -> Result<Vec<u8>, NetError> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| NetError::Missing {
            program: "ip".into(),
            hint: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("10.250."))
        .filter_map(|rest| rest.split('.').next()?.parse().ok())
        .collect())
}

fn record_path(run_dir: &Path) -> PathBuf {
    run_dir.join(NETNS_FILE)
}

fn write_record(run_dir: &Path, hosts: &Hosts) -> Result<(), NetError> {
    let text = serde_json::to_string_pretty(hosts).map_err(|e| NetError::Record {
        path: record_path(run_dir).display().to_string(),
        reason: e.to_string(),
    })?;
    let tmp = run_dir.join(format!("{NETNS_FILE}.tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, record_path(run_dir))?;
    Ok(())
}

/// The network recorded in `run_dir`, if any.
pub fn recorded(run_dir: &Path) -> Result<Option<Hosts>, NetError> {
    let path = record_path(run_dir);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| NetError::Record {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Makes the network of a cluster of `members` in `run_dir` (canonical): recorded first,
/// then the bridge and one namespace per member. Whatever an earlier cluster of this
/// directory left is removed first. On failure what was made is removed again.
pub fn create(run_dir: &Path, members: usize) -> Result<Hosts, NetError> {
    check_support()?;
    if members == 0 || members > MAX_HOST_MEMBERS {
        return Err(NetError::Invalid(format!(
            "members on hosts of their own: 1..={MAX_HOST_MEMBERS} members, not {members}"
        )));
    }
    remove_recorded(run_dir)?;
    let tag = tag_of(run_dir);
    let hosts = {
        // Choosing a subnet and taking it (the bridge's address) under one machine-wide lock.
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(LOCK_PATH)?;
        lock.lock()?;
        let used = used_subnets()?;
        let start = u32::from_str_radix(&tag, 16).unwrap_or(0) % 254;
        let subnet = (0..254)
            .map(|k| ((start + k) % 254 + 1) as u8)
            .find(|s| !used.contains(s))
            .ok_or(NetError::NoSubnet)?;
        let hosts = Hosts {
            tag,
            subnet,
            members,
        };
        write_record(run_dir, &hosts)?;
        let made = make_bridge(&hosts);
        if let Err(e) = made {
            let _ = remove(&hosts);
            let _ = std::fs::remove_file(record_path(run_dir));
            return Err(e);
        }
        hosts
    };
    for n in 1..=members {
        if let Err(e) = make_member(&hosts, n) {
            let _ = remove(&hosts);
            let _ = std::fs::remove_file(record_path(run_dir));
            return Err(e);
        }
    }
    Ok(hosts)
}

fn make_bridge(h: &Hosts) -> Result<(), NetError> {
    let bridge = h.bridge();
    let addr = format!("{}/24", h.host_ip());
    run(
        &["ip", "link", "add", "name", &bridge, "type", "bridge"],
        None,
    )?;
    run(&["ip", "addr", "add", &addr, "dev", &bridge], None)?;
    run(&["ip", "link", "set", &bridge, "up"], None)
}

fn make_member(h: &Hosts, n: usize) -> Result<(), NetError> {
    let (ns, veth, peer, bridge) = (h.namespace(n), h.veth(n), h.peer(n), h.bridge());
    let addr = format!("{}/24", h.member_ip(n));
    run(&["ip", "netns", "add", &ns], None)?;
    run(&["ip", "-n", &ns, "link", "set", "lo", "up"], None)?;
    run(
        &[
            "ip", "link", "add", &veth, "type", "veth", "peer", "name", &peer, "netns", &ns,
        ],
        None,
    )?;
    run(&["ip", "link", "set", &veth, "master", &bridge], None)?;
    run(&["ip", "link", "set", &veth, "up"], None)?;
    run(&["ip", "-n", &ns, "addr", "add", &addr, "dev", &peer], None)?;
    run(&["ip", "-n", &ns, "link", "set", &peer, "up"], None)
}

/// Deletes link `name` if it exists; one that vanishes meanwhile is no error.
fn del_link(name: &str) -> Result<(), NetError> {
    if !link_exists(name) {
        return Ok(());
    }
    match run(&["ip", "link", "del", name], None) {
        Err(_) if !link_exists(name) => Ok(()),
        other => other,
    }
}

/// Removes every namespace and link of `hosts` that exists (members in a namespace should
/// have been stopped first). Every failure is reported, after trying the rest.
pub fn remove(hosts: &Hosts) -> Result<(), NetError> {
    let mut first_error = None;
    let mut note = |r: Result<(), NetError>| {
        if let Err(e) = r {
            first_error.get_or_insert(e);
        }
    };
    for n in 1..=hosts.members {
        let ns = hosts.namespace(n);
        if namespace_exists(&ns) {
            note(run(&["ip", "netns", "del", &ns], None));
        }
        // Deleting the namespace deletes the pair, a moment later.
        note(del_link(&hosts.veth(n)));
    }
    note(del_link(&hosts.bridge()));
    first_error.map_or(Ok(()), Err)
}

/// Removes the network recorded in `run_dir` (if any) and its record; what is left of it.
pub fn remove_recorded(run_dir: &Path) -> Result<Option<Hosts>, NetError> {
    let Some(hosts) = recorded(run_dir)? else {
        return Ok(None);
    };
    remove(&hosts)?;
    let _ = std::fs::remove_file(run_dir.join(CUT_FILE));
    std::fs::remove_file(record_path(run_dir))?;
    Ok(Some(hosts))
}

/// Whether any namespace or link of `hosts` exists.
pub fn any_left(hosts: &Hosts) -> bool {
    link_exists(&hosts.bridge())
        || (1..=hosts.members)
            .any(|n| namespace_exists(&hosts.namespace(n)) || link_exists(&hosts.veth(n)))
}

/// The nft script that makes member `to`'s input drop packets from `sources`, replacing the
/// table it had (one transaction).
fn cut_script(sources: &[Ipv4Addr]) -> String {
    let mut s = String::from("table inet hzlab\ndelete table inet hzlab\n");
    if !sources.is_empty() {
        let set: Vec<String> = sources.iter().map(Ipv4Addr::to_string).collect();
        s.push_str(&format!(
            "table inet hzlab {{\n  chain input {{\n    type filter hook input priority 0; policy \
             accept;\n    ip saddr {{ {} }} drop\n  }}\n}}\n",
            set.join(", ")
        ));
    }
    s
}

/// Puts cut `links` (directed `(from, to)`, members from 1) in force, replacing the one in
/// force: member `to` drops whatever comes from `from`.
pub fn apply_cut(hosts: &Hosts, links: &[(usize, usize)]) -> Result<(), NetError> {
    for &(from, to) in links {
        if from == 0 || to == 0 || from > hosts.members || to > hosts.members || from == to {
            return Err(NetError::Invalid(format!(
                "link {from}→{to} is not between two members of 1..={}",
                hosts.members
            )));
        }
    }
    for to in 1..=hosts.members {
        let sources: Vec<Ipv4Addr> = links
            .iter()
            .filter(|l| l.1 == to)
            .map(|l| hosts.member_ip(l.0))
            .collect();
        let ns = hosts.namespace(to);
        run(
            &["ip", "netns", "exec", &ns, "nft", "-f", "-"],
            Some(&cut_script(&sources)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_interface_names_and_differ_by_directory() {
        let h = Hosts {
            tag: tag_of(Path::new("/tmp/a")),
            subnet: 7,
            members: MAX_HOST_MEMBERS,
        };
        assert_ne!(h.tag, tag_of(Path::new("/tmp/b")));
        for name in [
            h.bridge(),
            h.veth(MAX_HOST_MEMBERS),
            h.peer(MAX_HOST_MEMBERS),
        ] {
            assert!(name.len() <= 15, "{name}");
        }
        assert_eq!(h.host_ip(), Ipv4Addr::new(10, 250, 7, 1));
        assert_eq!(h.member_ip(3), Ipv4Addr::new(10, 250, 7, 4));
    }

    #[test]
    fn a_cut_script_replaces_the_table() {
        let none = cut_script(&[]);
        assert_eq!(none, "table inet hzlab\ndelete table inet hzlab\n");
        let some = cut_script(&[Ipv4Addr::new(10, 250, 1, 2), Ipv4Addr::new(10, 250, 1, 3)]);
        assert!(some.starts_with(&none), "{some}");
        assert!(
            some.contains("ip saddr { 10.250.1.2, 10.250.1.3 } drop"),
            "{some}"
        );
    }
}
