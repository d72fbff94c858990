//! How the embedded cluster's split brains behave: merge policies, split-brain protection and
//! the timing of failure detection, merges and migrations.
//!
//! The shapes are plain so that a plan's `[cluster]` table can fill them: one
//! [`StructureConfig`] per map or queue name (or name pattern ending in `*`), a default for
//! the other maps and one for the other queues, and one [`Timing`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Hazelcast's built-in split-brain merge policies: what happens to an entry (a queue's items)
/// of the smaller side when it merges into the larger one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum MergePolicy {
    /// The merging (smaller side's) entry replaces the existing one.
    PassThrough,
    /// The merging entry is added only where the larger side has none (Hazelcast's default).
    #[default]
    PutIfAbsent,
    /// The entry read and written more often wins (maps only); ties go to the merging one.
    HigherHits,
    /// The entry updated last wins (maps only); ties go to the merging one.
    LatestUpdate,
    /// The smaller side's entries are dropped.
    Discard,
}

impl MergePolicy {
    pub const ALL: [MergePolicy; 5] = [
        MergePolicy::PassThrough,
        MergePolicy::PutIfAbsent,
        MergePolicy::HigherHits,
        MergePolicy::LatestUpdate,
        MergePolicy::Discard,
    ];

    /// Hazelcast's class name (`PutIfAbsentMergePolicy`), as member XML names it.
    pub fn class_name(self) -> &'static str {
        match self {
            MergePolicy::PassThrough => "PassThroughMergePolicy",
            MergePolicy::PutIfAbsent => "PutIfAbsentMergePolicy",
            MergePolicy::HigherHits => "HigherHitsMergePolicy",
            MergePolicy::LatestUpdate => "LatestUpdateMergePolicy",
            MergePolicy::Discard => "DiscardMergePolicy",
        }
    }

    /// Reads `PassThrough`, `PassThroughMergePolicy`, `pass-through` or the fully qualified
    /// `com.hazelcast.spi.merge.PassThroughMergePolicy` (case-insensitive).
    pub fn parse(name: &str) -> Option<MergePolicy> {
        let short = name.rsplit('.').next().unwrap_or(name);
        let norm: String = short
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .collect::<String>()
            .to_ascii_lowercase();
        let norm = norm.strip_suffix("mergepolicy").unwrap_or(&norm);
        MergePolicy::ALL.into_iter().find(|p| {
            p.class_name()
                .to_ascii_lowercase()
                .trim_end_matches("mergepolicy")
                == norm
        })
    }

    /// Whether a queue can use it: Hazelcast merges a queue as one collection, which has no
    /// hits nor update time.
    pub fn applies_to_queues(self) -> bool {
        !matches!(self, MergePolicy::HigherHits | MergePolicy::LatestUpdate)
    }
}

impl fmt::Display for MergePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.class_name().trim_end_matches("MergePolicy"))
    }
}

/// Which operations a split-brain protection refuses on a side smaller than its minimum:
/// one type for the embedded model and the real members' configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum ProtectOn {
    Read,
    Write,
    #[default]
    ReadWrite,
}

impl ProtectOn {
    /// Reads `read`, `write`, `read-write` (also `READ_WRITE`, `reads`, `writes`, `both`).
    pub fn parse(name: &str) -> Result<ProtectOn, String> {
        match name.to_ascii_lowercase().replace('_', "-").as_str() {
            "read" | "reads" => Ok(ProtectOn::Read),
            "write" | "writes" => Ok(ProtectOn::Write),
            "read-write" | "both" | "reads-writes" => Ok(ProtectOn::ReadWrite),
            _ => Err(format!(
                "protect-on `{name}` is none of read, write, read-write"
            )),
        }
    }

    /// The name Hazelcast's configuration gives it (`READ_WRITE`).
    pub fn hazelcast_name(self) -> &'static str {
        match self {
            ProtectOn::Read => "READ",
            ProtectOn::Write => "WRITE",
            ProtectOn::ReadWrite => "READ_WRITE",
        }
    }

    pub fn guards(self, access: Access) -> bool {
        matches!(
            (self, access),
            (ProtectOn::ReadWrite, _)
                | (ProtectOn::Read, Access::Read)
                | (ProtectOn::Write, Access::Write)
        )
    }
}

/// Whether an operation reads or writes (for split-brain protection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A split-brain protection: operations fail on a side whose member list is shorter than
/// `min_cluster_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SplitBrainProtection {
    pub min_cluster_size: usize,
    pub on: ProtectOn,
}

/// Split-brain settings of one map or queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct StructureConfig {
    pub merge_policy: MergePolicy,
    pub protection: Option<SplitBrainProtection>,
}

/// How long the model's membership changes take. Hazelcast's defaults wait a minute to
/// suspect a member and five minutes to merge; a lab wants seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Timing {
    /// From losing contact with members (a cut, a pause) until a side declares them gone,
    /// promotes backups and serves alone (`hazelcast.max.no.heartbeat.seconds`).
    pub failure_detection: Duration,
    /// From two sides seeing each other again until the smaller merges into the larger
    /// (`hazelcast.merge.first.run.delay.seconds`).
    pub merge_delay: Duration,
    /// Time one partition's migration takes; migrations run one after another.
    pub migration_delay: Duration,
    /// How long a client operation waits for an owner it cannot reach (or a paused one)
    /// before failing as a timeout (the client's invocation timeout).
    pub operation_timeout: Duration,
    /// How long a write waits for the acknowledgement of a sync backup on a member its owner
    /// cannot reach (before failure detection) before it returns anyway, the backup missed
    /// (`hazelcast.client.operation.backup.timeout.millis`).
    pub backup_ack_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            failure_detection: Duration::from_secs(5),
            merge_delay: Duration::from_secs(5),
            migration_delay: Duration::from_millis(2),
            operation_timeout: Duration::from_secs(10),
            backup_ack_timeout: Duration::from_secs(5),
        }
    }
}

/// Split-brain settings of every structure: by name, and defaults for the others.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct SplitBrainConfig {
    /// Per map name; a key ending in `*` matches names starting with what precedes it.
    pub maps: BTreeMap<String, StructureConfig>,
    /// Per queue name, the same way.
    pub queues: BTreeMap<String, StructureConfig>,
    /// For maps not named.
    pub map_default: StructureConfig,
    /// For queues not named.
    pub queue_default: StructureConfig,
}

impl SplitBrainConfig {
    fn lookup<'a>(
        named: &'a BTreeMap<String, StructureConfig>,
        default: &'a StructureConfig,
        name: &str,
    ) -> &'a StructureConfig {
        if let Some(c) = named.get(name) {
            return c;
        }
        named
            .iter()
            .filter_map(|(k, c)| Some((k.strip_suffix('*')?, c)))
            .filter(|(prefix, _)| name.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(default, |(_, c)| c)
    }

    pub fn map(&self, name: &str) -> &StructureConfig {
        Self::lookup(&self.maps, &self.map_default, name)
    }

    pub fn queue(&self, name: &str) -> &StructureConfig {
        Self::lookup(&self.queues, &self.queue_default, name)
    }

    /// Why the settings cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        let queue_policies = self
            .queues
            .iter()
            .map(|(n, c)| (format!("queue `{n}`"), c))
            .chain([("the default queue config".to_owned(), &self.queue_default)]);
        for (what, c) in queue_policies {
            if !c.merge_policy.applies_to_queues() {
                return Err(format!(
                    "{what}: merge policy {} needs per-entry statistics, which queues do not \
                     have (queues merge with PassThrough, PutIfAbsent or Discard)",
                    c.merge_policy
                ));
            }
        }
        let all = self
            .maps
            .iter()
            .chain(&self.queues)
            .map(|(n, c)| (format!("`{n}`"), c))
            .chain([
                ("the default map config".to_owned(), &self.map_default),
                ("the default queue config".to_owned(), &self.queue_default),
            ]);
        for (what, c) in all {
            if c.protection.is_some_and(|p| p.min_cluster_size == 0) {
                return Err(format!(
                    "{what}: a split-brain protection needs a minimum cluster size of 1 or more"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_from_every_spelling() {
        for p in MergePolicy::ALL {
            assert_eq!(MergePolicy::parse(p.class_name()), Some(p));
            assert_eq!(MergePolicy::parse(&p.to_string()), Some(p));
        }
        assert_eq!(
            MergePolicy::parse("com.hazelcast.spi.merge.LatestUpdateMergePolicy"),
            Some(MergePolicy::LatestUpdate)
        );
        assert_eq!(
            MergePolicy::parse("pass-through"),
            Some(MergePolicy::PassThrough)
        );
        assert_eq!(
            MergePolicy::parse("higher_hits"),
            Some(MergePolicy::HigherHits)
        );
        assert_eq!(MergePolicy::parse("expiration-time"), None);
        assert_eq!(ProtectOn::parse("READ_WRITE"), Ok(ProtectOn::ReadWrite));
        assert_eq!(ProtectOn::parse("writes"), Ok(ProtectOn::Write));
        assert!(ProtectOn::parse("all").unwrap_err().contains("`all`"));
        assert!(ProtectOn::Write.guards(Access::Write) && !ProtectOn::Write.guards(Access::Read));
    }

    #[test]
    fn names_find_their_config_exact_then_by_longest_pattern_then_default() {
        let pass = StructureConfig {
            merge_policy: MergePolicy::PassThrough,
            protection: None,
        };
        let discard = StructureConfig {
            merge_policy: MergePolicy::Discard,
            protection: None,
        };
        let mut c = SplitBrainConfig::default();
        c.maps.insert("a*".into(), pass);
        c.maps.insert("ab*".into(), discard);
        c.maps.insert("abc".into(), pass);
        assert_eq!(c.map("abc").merge_policy, MergePolicy::PassThrough);
        assert_eq!(c.map("abd").merge_policy, MergePolicy::Discard);
        assert_eq!(c.map("ax").merge_policy, MergePolicy::PassThrough);
        assert_eq!(c.map("x").merge_policy, MergePolicy::PutIfAbsent);
        assert_eq!(c.queue("abc").merge_policy, MergePolicy::PutIfAbsent);
        assert!(c.check().is_ok());
        c.queues.insert(
            "q".into(),
            StructureConfig {
                merge_policy: MergePolicy::HigherHits,
                protection: None,
            },
        );
        let e = c.check().unwrap_err();
        assert!(e.contains("queue `q`") && e.contains("HigherHits"), "{e}");
    }
}
