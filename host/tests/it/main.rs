//! hzlab's integration tests, one binary (each test file a module here, so the suite links
//! wasmtime once instead of once per file). Tests that start real members give each cluster
//! a name and ports of its own and stop every process they started, also on failure.
//!
//! Shared helpers: [`common`] (runs through the library, real-member guards) and
//! [`kit_support`] (the `hzlab new`/`build` commands in scratch directories).

mod common;
mod kit_support;

mod cluster_cli;
mod cluster_cli_faults;
mod cluster_compose;
mod cluster_manager_embedded;
mod cluster_manager_real;
mod cluster_netns;
mod compare_cli;
mod diagnostics_cli;
mod executors;
mod history_check_cli;
mod hostile_member;
mod interrupt_cli;
mod kit_inspect;
mod kit_new;
mod kit_python;
mod limits;
mod plan_cli;
mod plan_cluster;
mod porcupine_agreement;
mod registry_cli;
mod report_cli;
mod sandbox;
mod seed_scenarios_embedded;
mod seed_scenarios_real;
mod world_versions;
