//! The seed lab's data-loss experiment: populate a map on a fresh three-member cluster, kill
//! members abruptly (one; two in turn, waiting for the cluster to be safe between; two at
//! once), and compare the loss predicted from the replica placement just before each kill
//! with the loss observed after the cluster settles. The `populate` and `count` scenarios
//! write and read the keys through the runner, as any experiment would.

use std::sync::Arc;
use std::time::Duration;

use super::distribution::integer_keys;
use super::{ClusterControl, ClusterError, Distribution, EmbeddedMembers, LocalMembers};
use crate::backend::embedded::EmbeddedCluster;
use crate::backend::real::{RealCluster, RealConfig, RealError};
use crate::backend::Backend;
use crate::engine::{InstanceLimits, ScenarioEngine};
use crate::results::RunResult;
use crate::runner::{self, RunSpec, ScenarioSpec};
use crate::scenario::{LoadError, ScenarioSource};

/// The faults of the seed lab, on members 2 and 3 of 3 as the seed killed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Kill member 2.
    KillOne,
    /// Kill member 2, wait until the cluster is safe, kill member 3.
    KillTwoInTurn,
    /// Kill members 2 and 3 at the same moment.
    KillTwoAtOnce,
}

impl Fault {
    pub const ALL: [Fault; 3] = [Fault::KillOne, Fault::KillTwoInTurn, Fault::KillTwoAtOnce];

    /// The kills, in order; the members of one kill die together.
    pub fn kills(self) -> Vec<Vec<usize>> {
        match self {
            Fault::KillOne => vec![vec![2]],
            Fault::KillTwoInTurn => vec![vec![2], vec![3]],
            Fault::KillTwoAtOnce => vec![vec![2, 3]],
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Fault::KillOne => "kill one member",
            Fault::KillTwoInTurn => "kill two in turn, safe between",
            Fault::KillTwoAtOnce => "kill two at once",
        }
    }
}

/// One case of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Case {
    pub backup_count: u32,
    pub async_backup_count: u32,
    pub fault: Fault,
}

impl Case {
    /// The seed's six cases: every fault with backup-count 1, then with backup-count 1 and
    /// async-backup-count 1.
    pub fn seed_cases() -> Vec<Case> {
        [(1, 0), (1, 1)]
            .into_iter()
            .flat_map(|(b, a)| {
                Fault::ALL.into_iter().map(move |fault| Case {
                    backup_count: b,
                    async_backup_count: a,
                    fault,
                })
            })
            .collect()
    }

    pub fn describe(&self) -> String {
        format!(
            "backup-count {}, async-backup-count {}: {}",
            self.backup_count,
            self.async_backup_count,
            self.fault.describe()
        )
    }
}

/// What one kill did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KillResult {
    pub members: Vec<usize>,
    /// Entries whose every copy was on the killed members just before the kill.
    pub predicted_loss: usize,
    /// After the cluster settled.
    pub after: Distribution,
    /// From the kill until the cluster was safe again.
    pub settle_ms: u64,
}

/// One case's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    pub case: Case,
    pub keys: usize,
    pub before: Distribution,
    pub kills: Vec<KillResult>,
    /// Sum of the kills' predicted losses.
    pub predicted_loss: usize,
    /// Keys the `count` scenario found missing after the last kill.
    pub observed_loss: usize,
    /// Entries the members own after the last kill (`keys - observed_loss` when consistent).
    pub entries_after: u64,
}

/// Why the experiment could not run.
#[derive(Debug, thiserror::Error)]
pub enum DataLossError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Connect(#[from] RealError),
    #[error("scenario `{scenario}` did not pass: {detail}")]
    Scenario { scenario: String, detail: String },
}

/// A cluster the experiment can fault and run scenarios on.
pub trait LabCluster: ClusterControl {
    type Backend: Backend;

    /// A backend for scenarios on the members running now.
    fn backend(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Self::Backend, DataLossError>>;

    /// Closes a backend [`LabCluster::backend`] gave.
    fn close(backend: Self::Backend) -> impl std::future::Future<Output = ()> {
        async { drop(backend) }
    }
}

impl LabCluster for EmbeddedMembers {
    type Backend = EmbeddedCluster;

    async fn backend(&mut self) -> Result<EmbeddedCluster, DataLossError> {
        Ok(self.cluster().clone())
    }
}

impl LabCluster for LocalMembers {
    type Backend = RealCluster;

    async fn backend(&mut self) -> Result<RealCluster, DataLossError> {
        let mut config = RealConfig::new(self.running_addresses(), self.cluster_name());
        config.invocation_timeout = Duration::from_secs(30);
        Ok(RealCluster::connect(config).await?)
    }

    async fn close(backend: RealCluster) {
        backend.shutdown().await;
    }
}

/// How the experiment runs.
#[derive(Debug, Clone)]
pub struct DataLossOptions {
    pub keys: usize,
    pub map: String,
    /// Longest wait for the cluster to be safe after a kill.
    pub safe_timeout: Duration,
}

impl Default for DataLossOptions {
    fn default() -> Self {
        DataLossOptions {
            keys: 1000,
            map: "distributed-map".into(),
            safe_timeout: Duration::from_secs(120),
        }
    }
}

/// Each stage of a case, as an event (`hzlab -v` shows them, timestamped).
fn trace(what: &str) {
    tracing::info!(stage = what, "data-loss case");
}

async fn run_scenario<B: Backend>(
    engine: &ScenarioEngine,
    backend: &B,
    name: &str,
    args: Vec<(String, String)>,
) -> Result<RunResult, DataLossError> {
    let spec = RunSpec {
        steps: vec![vec![ScenarioSpec::once(ScenarioSource::resolve(name)?, 1)]],
        args,
        limits: InstanceLimits::default(),
        seed: 0,
        echo_logs: false,
    };
    let result = runner::run(engine, backend, &spec, Arc::default()).await?;
    if !result.passed {
        let detail = result
            .scenarios
            .iter()
            .flat_map(|s| {
                s.instances
                    .iter()
                    .filter_map(|i| i.outcome.error.clone())
                    .chain(s.setup.error.clone())
                    .chain(s.checks.iter().filter(|c| !c.ok).map(|c| c.detail.clone()))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(DataLossError::Scenario {
            scenario: name.into(),
            detail,
        });
    }
    Ok(result)
}

/// Runs one case on a fresh, populated-by-this-call cluster of three members whose backup
/// counts are the case's.
pub async fn run_case<C: LabCluster>(
    cluster: &mut C,
    engine: &ScenarioEngine,
    case: Case,
    options: &DataLossOptions,
) -> Result<CaseResult, DataLossError> {
    let args = vec![
        ("map".to_owned(), options.map.clone()),
        ("keys".to_owned(), options.keys.to_string()),
    ];
    let keys = integer_keys(options.keys);
    trace("populate");
    let backend = cluster.backend().await?;
    let populated = run_scenario(engine, &backend, "populate", args.clone()).await;
    C::close(backend).await;
    populated?;
    trace("populated");
    cluster.wait_safe(options.safe_timeout).await?;
    trace("safe");
    let before = cluster.distribution(&options.map).await?;
    let mut kills = Vec::new();
    for members in case.fault.kills() {
        let predicted_loss = cluster
            .predicted_loss(&options.map, &members, &keys)
            .await?;
        let killed = std::time::Instant::now();
        cluster.kill(&members).await?;
        cluster.wait_safe(options.safe_timeout).await?;
        let settle_ms = killed.elapsed().as_millis() as u64;
        trace(&format!("kill {members:?} settled in {settle_ms} ms"));
        let after = cluster.distribution(&options.map).await?;
        kills.push(KillResult {
            members,
            predicted_loss,
            after,
            settle_ms,
        });
    }
    trace("count");
    let backend = cluster.backend().await?;
    let counted = run_scenario(engine, &backend, "count", args).await;
    C::close(backend).await;
    let counted = counted?;
    trace("counted");
    let missing = counted
        .scenarios
        .first()
        .and_then(|s| s.totals.get("missing").copied())
        .unwrap_or(0);
    let entries_after = kills
        .last()
        .map_or(before.total_owned(), |k| k.after.total_owned());
    Ok(CaseResult {
        case,
        keys: options.keys,
        before,
        predicted_loss: kills.iter().map(|k| k.predicted_loss).sum(),
        kills,
        observed_loss: missing.max(0) as usize,
        entries_after,
    })
}
