//! Split-brain configuration of real members: per map and queue a split-brain protection
//! (minimum cluster size, on reads, writes or both) and a merge policy, and the members'
//! failure-detection and merge timing, written into the members' XML config and properties.
//!
//! Hazelcast does not merge a named structure's config with the `default` one, so every
//! structure configured here also gets the cluster's backup counts (and, for queues, max
//! size).

use std::fmt::Write as _;
use std::time::Duration;

use hazelcast_members::xml_escape;

use super::ClusterError;
use crate::backend::embedded::EmbeddedConfig;
pub use crate::backend::embedded::ProtectOn;

/// Hazelcast's built-in merge policies (`com.hazelcast.spi.merge.*MergePolicy`).
pub const MERGE_POLICIES: &[&str] = &[
    "PassThrough",
    "PutIfAbsent",
    "HigherHits",
    "LatestUpdate",
    "LatestAccess",
    "ExpirationTime",
    "Discard",
];

/// The policies a queue can merge with (its items have no hits, access or update times).
const QUEUE_POLICIES: &[&str] = &["PassThrough", "PutIfAbsent", "Discard"];

/// A map or a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum StructureKind {
    Map,
    Queue,
}

impl StructureKind {
    fn tag(self) -> &'static str {
        match self {
            StructureKind::Map => "map",
            StructureKind::Queue => "queue",
        }
    }
}

/// One structure's split-brain settings. `name` may be a Hazelcast wildcard (`orders-*`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StructureConfig {
    pub kind: StructureKind,
    pub name: String,
    /// A built-in policy's short name ([`MERGE_POLICIES`]); Hazelcast's default
    /// (PutIfAbsent) when `None`.
    pub merge_policy: Option<String>,
    /// Split-brain protection: operations fail on a side with fewer members.
    pub min_cluster_size: Option<u32>,
    pub protect_on: ProtectOn,
}

impl StructureConfig {
    pub fn new(kind: StructureKind, name: impl Into<String>) -> StructureConfig {
        StructureConfig {
            kind,
            name: name.into(),
            merge_policy: None,
            min_cluster_size: None,
            protect_on: ProtectOn::ReadWrite,
        }
    }

    /// Parses `NAME[,merge-policy=P][,min-size=N][,protect-on=read|write|read-write]`
    /// (`hzlab cluster up --map` / `--queue`).
    pub fn parse_spec(kind: StructureKind, spec: &str) -> Result<StructureConfig, String> {
        let mut parts = spec.split(',').map(str::trim);
        let name = parts.next().unwrap_or("");
        if name.is_empty() || name.contains('=') {
            return Err(format!(
                "`{spec}`: start with the {} name, e.g. `orders,merge-policy=PutIfAbsent,\
                 min-size=2,protect-on=write`",
                kind.tag()
            ));
        }
        let mut c = StructureConfig::new(kind, name);
        for part in parts {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` in `{spec}` is not key=value"))?;
            match key.trim() {
                "merge-policy" => c.merge_policy = Some(canonical_policy(value.trim())?),
                "min-size" | "min-cluster-size" => {
                    c.min_cluster_size =
                        Some(value.trim().parse().map_err(|_| {
                            format!("min-size `{value}` is not a number of members")
                        })?)
                }
                "protect-on" => c.protect_on = ProtectOn::parse(value.trim())?,
                other => {
                    return Err(format!(
                        "`{other}` in `{spec}` is none of merge-policy, min-size, protect-on"
                    ))
                }
            }
        }
        Ok(c)
    }
}

/// A policy named in any usual spelling (`put-if-absent`, `PutIfAbsentMergePolicy`), as its
/// short name in [`MERGE_POLICIES`].
pub fn canonical_policy(name: &str) -> Result<String, String> {
    let plain: String = name
        .trim()
        .trim_start_matches("com.hazelcast.spi.merge.")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    let plain = plain.strip_suffix("mergepolicy").unwrap_or(&plain);
    MERGE_POLICIES
        .iter()
        .find(|p| p.to_ascii_lowercase() == plain)
        .map(|p| (*p).to_owned())
        .ok_or_else(|| {
            format!(
                "merge policy `{name}` is not one of Hazelcast's built-in ones ({})",
                MERGE_POLICIES.join(", ")
            )
        })
}

/// Split-brain protection, merge policies and failure-detection timing of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SplitBrainConfig {
    pub structures: Vec<StructureConfig>,
    /// `hazelcast.heartbeat.interval.seconds` (Hazelcast: 5).
    pub heartbeat_interval_secs: Option<u32>,
    /// `hazelcast.max.no.heartbeat.seconds`: a member silent this long is dropped (60).
    pub max_no_heartbeat_secs: Option<u32>,
    /// `hazelcast.merge.first.run.delay.seconds` (300).
    pub merge_first_run_delay_secs: Option<u32>,
    /// `hazelcast.merge.next.run.delay.seconds` (120).
    pub merge_next_run_delay_secs: Option<u32>,
}

impl SplitBrainConfig {
    /// Puts the same settings on the embedded model: `max-no-heartbeat` as its failure
    /// detection, the first merge delay as its merge delay, and each structure's merge policy
    /// and protection (the model knows PassThrough, PutIfAbsent, HigherHits, LatestUpdate
    /// and Discard).
    pub fn apply_to_embedded(&self, config: &mut EmbeddedConfig) -> Result<(), ClusterError> {
        use crate::backend::embedded as model;
        if let Some(s) = self.max_no_heartbeat_secs {
            config.timing.failure_detection = Duration::from_secs(u64::from(s));
        }
        if let Some(s) = self.merge_first_run_delay_secs {
            config.timing.merge_delay = Duration::from_secs(u64::from(s));
        }
        for s in &self.structures {
            let merge_policy = match &s.merge_policy {
                None => model::MergePolicy::default(),
                Some(p) => model::MergePolicy::parse(p).ok_or_else(|| {
                    ClusterError::InvalidConfig(format!(
                        "{} `{}`: the embedded model has no merge policy {p} (it has \
                         PassThrough, PutIfAbsent, HigherHits, LatestUpdate, Discard)",
                        s.kind.tag(),
                        s.name
                    ))
                })?,
            };
            let protection = s.min_cluster_size.map(|n| model::SplitBrainProtection {
                min_cluster_size: n as usize,
                on: s.protect_on,
            });
            let structure = model::StructureConfig {
                merge_policy,
                protection,
            };
            let table = match s.kind {
                StructureKind::Map => &mut config.split_brain.maps,
                StructureKind::Queue => &mut config.split_brain.queues,
            };
            table.insert(s.name.clone(), structure);
        }
        config
            .split_brain
            .check()
            .map_err(ClusterError::InvalidConfig)
    }

    pub fn is_empty(&self) -> bool {
        self == &SplitBrainConfig::default()
    }

    /// Whether the settings make sense: known policies, one that the structure can merge
    /// with, a minimum of at least 2 (1 protects nothing), each structure once, timings
    /// of at least a second.
    pub fn check(&self) -> Result<(), ClusterError> {
        let bad = |m: String| Err(ClusterError::InvalidConfig(m));
        for (i, s) in self.structures.iter().enumerate() {
            if s.name.is_empty() {
                return bad(format!("a {} config has no name", s.kind.tag()));
            }
            if self.structures[..i]
                .iter()
                .any(|o| o.kind == s.kind && o.name == s.name)
            {
                return bad(format!("{} `{}` is configured twice", s.kind.tag(), s.name));
            }
            if let Some(p) = &s.merge_policy {
                let p = canonical_policy(p).map_err(ClusterError::InvalidConfig)?;
                if s.kind == StructureKind::Queue && !QUEUE_POLICIES.contains(&p.as_str()) {
                    return bad(format!(
                        "queue `{}`: a queue cannot merge with {p} (its items keep no hits nor \
                         times); use one of {}",
                        s.name,
                        QUEUE_POLICIES.join(", ")
                    ));
                }
            }
            if let Some(m) = s.min_cluster_size {
                if m < 2 {
                    return bad(format!(
                        "{} `{}`: a split-brain protection of minimum size {m} protects \
                         nothing; give at least 2",
                        s.kind.tag(),
                        s.name
                    ));
                }
            }
        }
        for (key, v) in self.timing() {
            if v == 0 {
                return bad(format!("{key} must be at least 1 second"));
            }
        }
        Ok(())
    }

    fn timing(&self) -> Vec<(&'static str, u32)> {
        [
            (
                "hazelcast.heartbeat.interval.seconds",
                self.heartbeat_interval_secs,
            ),
            (
                "hazelcast.max.no.heartbeat.seconds",
                self.max_no_heartbeat_secs,
            ),
            (
                "hazelcast.merge.first.run.delay.seconds",
                self.merge_first_run_delay_secs,
            ),
            (
                "hazelcast.merge.next.run.delay.seconds",
                self.merge_next_run_delay_secs,
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }

    /// The member properties the timing sets.
    pub fn properties(&self) -> Vec<(String, String)> {
        self.timing()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_string()))
            .collect()
    }

    /// The member XML for the structures: protections, then each map or queue with the
    /// cluster's backup counts (and queue max size) and its protection and merge policy.
    pub fn member_xml(&self, backup_count: u32, async_backup_count: u32, queue_max: u32) -> String {
        let mut x = String::new();
        for (i, s) in self.structures.iter().enumerate() {
            let sbp = format!("hzlab-sbp-{}-{i}", s.kind.tag());
            if let Some(min) = s.min_cluster_size {
                let _ = write!(
                    x,
                    "  <split-brain-protection name=\"{sbp}\" enabled=\"true\">\n    \
                     <minimum-cluster-size>{min}</minimum-cluster-size>\n    \
                     <protect-on>{}</protect-on>\n  </split-brain-protection>\n",
                    s.protect_on.hazelcast_name()
                );
            }
            let _ = writeln!(x, "  <{} name=\"{}\">", s.kind.tag(), xml_escape(&s.name));
            if s.kind == StructureKind::Queue {
                let _ = writeln!(x, "    <max-size>{queue_max}</max-size>");
            }
            let _ = writeln!(x, "    <backup-count>{backup_count}</backup-count>");
            let _ = writeln!(
                x,
                "    <async-backup-count>{async_backup_count}</async-backup-count>"
            );
            if s.min_cluster_size.is_some() {
                let _ = writeln!(
                    x,
                    "    <split-brain-protection-ref>{sbp}</split-brain-protection-ref>"
                );
            }
            if let Some(p) = &s.merge_policy {
                let p = canonical_policy(p).unwrap_or_else(|_| p.clone());
                // These policies compare per-entry statistics, which maps keep only when
                // asked to.
                if s.kind == StructureKind::Map
                    && [
                        "HigherHits",
                        "LatestUpdate",
                        "LatestAccess",
                        "ExpirationTime",
                    ]
                    .contains(&p.as_str())
                {
                    let _ = writeln!(
                        x,
                        "    <per-entry-stats-enabled>true</per-entry-stats-enabled>"
                    );
                }
                let _ = writeln!(
                    x,
                    "    <merge-policy batch-size=\"100\">com.hazelcast.spi.merge.{p}MergePolicy</merge-policy>"
                );
            }
            let _ = writeln!(x, "  </{}>", s.kind.tag());
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_known_in_any_spelling() {
        assert_eq!(canonical_policy("put-if-absent").unwrap(), "PutIfAbsent");
        assert_eq!(
            canonical_policy("com.hazelcast.spi.merge.LatestUpdateMergePolicy").unwrap(),
            "LatestUpdate"
        );
        assert_eq!(canonical_policy("higher_hits").unwrap(), "HigherHits");
        let e = canonical_policy("Newest").unwrap_err();
        assert!(e.contains("PassThrough"), "{e}");
    }

    #[test]
    fn a_spec_names_the_structure_then_its_settings() {
        let c = StructureConfig::parse_spec(
            StructureKind::Map,
            "orders,merge-policy=PassThrough,min-size=2,protect-on=write",
        )
        .unwrap();
        assert_eq!(c.name, "orders");
        assert_eq!(c.merge_policy.as_deref(), Some("PassThrough"));
        assert_eq!(c.min_cluster_size, Some(2));
        assert_eq!(c.protect_on, ProtectOn::Write);
        assert!(StructureConfig::parse_spec(StructureKind::Map, "min-size=2").is_err());
        assert!(StructureConfig::parse_spec(StructureKind::Map, "m,size=2").is_err());
    }

    #[test]
    fn the_xml_refers_each_structure_to_its_protection() {
        let mut c = SplitBrainConfig::default();
        let mut m = StructureConfig::new(StructureKind::Map, "m");
        m.merge_policy = Some("LatestUpdate".into());
        m.min_cluster_size = Some(2);
        m.protect_on = ProtectOn::Write;
        c.structures.push(m);
        c.structures
            .push(StructureConfig::new(StructureKind::Queue, "q"));
        c.merge_first_run_delay_secs = Some(5);
        c.check().unwrap();
        let x = c.member_xml(1, 0, 10);
        assert!(x.contains("<split-brain-protection name=\"hzlab-sbp-map-0\" enabled=\"true\">"));
        assert!(x.contains("<minimum-cluster-size>2</minimum-cluster-size>"));
        assert!(x.contains("<protect-on>WRITE</protect-on>"));
        assert!(
            x.contains("<split-brain-protection-ref>hzlab-sbp-map-0</split-brain-protection-ref>")
        );
        assert!(x.contains("com.hazelcast.spi.merge.LatestUpdateMergePolicy"));
        assert!(x.contains("<per-entry-stats-enabled>true</per-entry-stats-enabled>"));
        assert!(x.contains("<queue name=\"q\">\n    <max-size>10</max-size>"));
        assert_eq!(
            c.properties(),
            vec![(
                "hazelcast.merge.first.run.delay.seconds".to_owned(),
                "5".to_owned()
            )]
        );
    }

    #[test]
    fn nonsense_is_refused() {
        let mut c = SplitBrainConfig::default();
        let mut q = StructureConfig::new(StructureKind::Queue, "q");
        q.merge_policy = Some("HigherHits".into());
        c.structures.push(q);
        assert!(c.check().unwrap_err().to_string().contains("cannot merge"));
        let mut c = SplitBrainConfig::default();
        let mut m = StructureConfig::new(StructureKind::Map, "m");
        m.min_cluster_size = Some(1);
        c.structures.push(m);
        assert!(c.check().unwrap_err().to_string().contains("protects"));
        let c = SplitBrainConfig {
            max_no_heartbeat_secs: Some(0),
            ..Default::default()
        };
        assert!(c.check().is_err());
    }
}
