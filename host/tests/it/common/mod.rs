//! Helpers for the host's integration tests: run scenarios on an embedded cluster.

pub mod cluster;

use std::sync::Arc;
use std::time::Duration;

use hzlab::backend::embedded::{EmbeddedCluster, EmbeddedConfig};
use hzlab::engine::{InstanceLimits, ScenarioEngine};
use hzlab::progress::Progress;
use hzlab::results::{RunResult, ScenarioResult};
use hzlab::runner::{self, RunSpec, ScenarioSpec};
use hzlab::scenario::{LoadError, ScenarioSource};

pub fn spec(name: &str, instances: u32) -> ScenarioSpec {
    ScenarioSpec::once(ScenarioSource::resolve(name).unwrap(), instances)
}

pub fn test_guest(name: &str, instances: u32) -> ScenarioSpec {
    let path = hzlab::testing::component_path(name);
    ScenarioSpec::once(
        ScenarioSource::resolve(path.to_str().unwrap()).unwrap(),
        instances,
    )
}

pub fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub struct Run {
    pub steps: Vec<Vec<ScenarioSpec>>,
    pub args: Vec<(String, String)>,
    pub config: EmbeddedConfig,
    pub limits: InstanceLimits,
}

impl Run {
    pub fn new(steps: Vec<Vec<ScenarioSpec>>) -> Run {
        Run {
            steps,
            args: Vec::new(),
            config: EmbeddedConfig {
                seed: 42,
                ..EmbeddedConfig::default()
            },
            limits: InstanceLimits {
                time_budget: Duration::from_secs(60),
                ..InstanceLimits::default()
            },
        }
    }

    pub fn args(mut self, pairs: &[(&str, &str)]) -> Run {
        self.args = args(pairs);
        self
    }

    pub fn execute(self) -> Result<RunResult, LoadError> {
        let cluster = EmbeddedCluster::new(self.config.clone()).unwrap();
        self.execute_on(&cluster)
    }

    pub fn execute_on(self, cluster: &EmbeddedCluster) -> Result<RunResult, LoadError> {
        let engine = ScenarioEngine::new()?;
        let spec = RunSpec {
            steps: self.steps,
            args: self.args,
            limits: self.limits,
            seed: self.config.seed,
            echo_logs: false,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(runner::run(
            &engine,
            cluster,
            &spec,
            Arc::new(Progress::default()),
        ))
    }
}

pub fn scenario<'a>(r: &'a RunResult, name: &str) -> &'a ScenarioResult {
    r.scenarios
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name} in the result"))
}

pub fn value(s: &ScenarioResult, name: &str) -> i64 {
    s.recorded
        .values
        .get(name)
        .and_then(|v| v.as_i64())
        .unwrap_or_else(|| panic!("{} recorded no number `{name}`: {:?}", s.name, s.recorded))
}

/// Runs the hzlab binary with `args` and waits for it.
pub fn hzlab(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .args(args)
        .output()
        .expect("hzlab runs")
}
