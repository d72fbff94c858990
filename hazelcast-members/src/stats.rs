//! Member-side statistics, as the member main class reports them (one JSON line per request).

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// A member, as another member names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct MemberRef {
    pub uuid: String,
    /// `host:port`.
    pub address: String,
}

/// One map's entries on one member (`LocalMapStats`, what Management Center shows).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct MapStats {
    pub name: String,
    /// Entries of the partitions this member owns.
    pub owned_entries: u64,
    /// Entries this member holds as a backup replica (sync and async).
    pub backup_entries: u64,
    /// The map's configured total backup count.
    pub backup_count: u32,
}

/// What one member reports about itself and the cluster.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct MemberStats {
    pub uuid: String,
    pub address: String,
    /// Node state (`ACTIVE`, `PASSIVE`, `SHUT_DOWN`...).
    pub state: String,
    pub master: bool,
    /// The member list as this member sees it.
    pub members: Vec<MemberRef>,
    /// `PartitionService.isClusterSafe`: every partition's backups are in sync (false also
    /// when the members did not all answer within 3 s, e.g. while one just died).
    pub cluster_safe: bool,
    /// `PartitionService.isLocalMemberSafe` (false when it took over 15 s).
    pub member_safe: bool,
    /// Migrations under way or queued.
    pub migrating: bool,
    pub migration_queue: u64,
    pub partition_count: u32,
    /// Per partition, the replicas' member uuids: owner first, then backups (none where a
    /// replica is unassigned).
    pub replicas: Vec<Vec<Option<String>>>,
    pub maps: Vec<MapStats>,
}

impl MemberStats {
    /// This member's statistics of map `name`, if it knows the map.
    pub fn map(&self, name: &str) -> Option<&MapStats> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// The replica table as this member sees it.
    pub fn replica_table(&self) -> ReplicaTable {
        ReplicaTable {
            members: self.members.clone(),
            partitions: self.replicas.clone(),
        }
    }

    /// Partitions this member owns, by its own replica table.
    pub fn owned_partitions(&self) -> usize {
        self.replicas
            .iter()
            .filter(|r| r.first().and_then(|o| o.as_deref()) == Some(self.uuid.as_str()))
            .count()
    }
}

/// Which members hold each partition's replicas.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaTable {
    /// The members at the time (uuid and address).
    pub members: Vec<MemberRef>,
    /// Per partition, replica uuids, owner first.
    pub partitions: Vec<Vec<Option<String>>>,
}

impl ReplicaTable {
    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    /// The address of the member with `uuid`, if it is in the member list.
    pub fn address_of(&self, uuid: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.uuid == uuid)
            .map(|m| m.address.as_str())
    }

    /// The owner uuid of partition `p`.
    pub fn owner(&self, p: u32) -> Option<&str> {
        self.partitions
            .get(p as usize)
            .and_then(|r| r.first())
            .and_then(|o| o.as_deref())
    }

    /// Replica uuids of partition `p`, owner first, unassigned ones skipped (every slot the
    /// members assigned, which may be more than a structure's backup count).
    pub fn replicas(&self, p: u32) -> impl Iterator<Item = &str> {
        self.partitions
            .get(p as usize)
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_deref())
    }

    /// Partitions whose every copy is on one of the members with `uuids`, for a data
    /// structure with `copies` replicas (1 + its total backup count). Members assign replica
    /// slots up to the member count whatever the backup counts; a structure keeps data only
    /// in the first `copies` slots.
    pub fn partitions_only_on(&self, uuids: &[&str], copies: usize) -> Vec<u32> {
        (0..self.partition_count())
            .filter(|&p| {
                let mut any = false;
                let all = self.replicas(p).take(copies).all(|r| {
                    any = true;
                    uuids.contains(&r)
                });
                any && all
            })
            .collect()
    }
}

/// Asks the statistics server on `host:port`.
pub(super) async fn request(host: &str, port: u16, maps: &[&str]) -> Result<MemberStats, String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host, port))
            .await
            .map_err(|e| format!("cannot connect to statistics port {port}: {e}"))?;
        let line = format!("stats {}\n", maps.join(","));
        stream
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("cannot send the request: {e}"))?;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        Ok::<_, String>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| format!("no answer on statistics port {port} within 30 s"))??;
    if answer.trim().is_empty() {
        return Err("the member closed the connection without an answer".into());
    }
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(&answer) {
        if let Some(e) = o.get("error") {
            return Err(format!("the member reported: {e}"));
        }
    }
    serde_json::from_str(&answer).map_err(|e| format!("unreadable answer ({e}): {answer}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_only_on_needs_every_replica_among_the_members() {
        let s = |x: &str| Some(x.to_owned());
        let t = ReplicaTable {
            members: vec![],
            partitions: vec![
                vec![s("a"), s("b")],
                vec![s("b"), s("c")],
                vec![s("c"), None],
                vec![],
            ],
        };
        assert_eq!(t.partitions_only_on(&["a", "b"], 2), vec![0]);
        assert_eq!(t.partitions_only_on(&["c"], 2), vec![2]);
        assert_eq!(t.partitions_only_on(&["b", "c"], 2), vec![1, 2]);
        assert_eq!(t.partitions_only_on(&["a"], 1), vec![0]);
        assert_eq!(t.owner(1), Some("b"));
    }
}
