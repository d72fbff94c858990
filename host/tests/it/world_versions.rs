//! Components built against an earlier version of the scenario world run unchanged: the
//! files in `tests/fixtures/wit-0.1.0/` were built before 0.2.0 and are never rebuilt.

use std::path::PathBuf;

use crate::common::{hzlab, scenario, value, Run};
use hzlab::engine::WorldVersion;
use hzlab::runner::ScenarioSpec;
use hzlab::scenario::ScenarioSource;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/wit-0.1.0/{name}.wasm"))
}

fn old(name: &str, instances: u32) -> ScenarioSpec {
    ScenarioSpec::once(
        ScenarioSource::resolve(fixture(name).to_str().unwrap()).unwrap(),
        instances,
    )
}

#[test]
fn components_built_against_0_1_0_run_unchanged() {
    // The seed's lost updates, from the 0.1.0 race.
    let r = Run::new(vec![vec![old("race", 3)]])
        .args(&[("iterations", "2000")])
        .execute()
        .unwrap();
    let s = scenario(&r, "race");
    assert!(s.passed(), "{s:#?}");
    assert_eq!(value(s, "expected"), 6_000);
    assert!(value(s, "final") < 6_000, "no update lost: {s:#?}");

    // A sale with compare-and-set sells exactly the stock.
    let r = Run::new(vec![vec![old("ticket-sale", 8)]])
        .execute()
        .unwrap();
    let s = scenario(&r, "ticket-sale");
    assert!(r.passed, "{s:#?}");
    assert_eq!(value(s, "sold"), 100);
    assert_eq!(value(s, "final"), 0);

    // The queue: one producer, two consumers, every item taken once.
    let r = Run::new(vec![vec![old("producer", 1), old("consumer", 2)]])
        .args(&[("items", "200")])
        .execute()
        .unwrap();
    assert!(r.passed, "{r:#?}");

    // What `hzlab new` + `hzlab build` made then.
    let r = Run::new(vec![vec![old("bank", 4)]]).execute().unwrap();
    assert!(r.passed, "{r:#?}");
    assert!(scenario(&r, "bank").instances.iter().all(|i| i.ops > 0));
}

#[test]
fn inspect_names_the_version_a_component_targets() {
    for (name, version) in [
        ("ticket-sale", WorldVersion::V0_1),
        ("bank", WorldVersion::V0_1),
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let i = hzlab::kit::inspect::inspect(name, &bytes).unwrap();
        assert_eq!(i.version, version, "{i}");
        assert_eq!(i.exports, ["setup", "run", "verify"], "{i}");
        assert!(i.to_string().contains("no `iteration` export"), "{i}");
    }
    let shipped = hzlab::scenario::shipped("ticket-sale").unwrap();
    let i = hzlab::kit::inspect::inspect("ticket-sale", shipped.component).unwrap();
    assert_eq!(i.version, WorldVersion::CURRENT, "{i}");
}

#[test]
fn a_0_1_0_component_with_an_iteration_executor_is_refused_with_its_world() {
    let path = fixture("race");
    let o = hzlab(&["run", path.to_str().unwrap(), "--iterations", "10", "-q"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("race.wasm")
            && err.contains("hzlab:scenario@0.1.0")
            && err.contains("iteration"),
        "{err}"
    );
}
