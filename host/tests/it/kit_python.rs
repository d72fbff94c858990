//! Python scenarios: the optimistic increment written in Python
//! (guest-scenarios/python/optimistic), built with `hzlab build` (componentize-py, WASI
//! stubbed out), run beside its Rust twin on the embedded cluster: the same final values.
//!
//! Building a Python component takes a while, so it is built once and cached by source hash
//! under the target directory.

use std::path::PathBuf;

use crate::common::{scenario, spec, value, Run};
use crate::kit_support::{cache_dir, hzlab, repo, source_hash, stderr};
use hzlab::runner::ScenarioSpec;
use hzlab::scenario::ScenarioSource;

/// The Python optimistic scenario's component, built with `hzlab build` unless cached.
fn python_optimistic() -> PathBuf {
    let app = repo().join("guest-scenarios/python/optimistic/app.py");
    let lib = repo().join("guest-scenarios/python/hzlab_guest.py");
    let wit = repo().join("wit/hzlab.wit");
    let hash = source_hash(&[&app, &lib, &wit]);
    // The project directory names the component: optimistic_py/optimistic_py.wasm.
    let project = cache_dir().join("python").join(hash).join("optimistic_py");
    let component = project.join("optimistic_py.wasm");
    if component.is_file() {
        return component;
    }
    std::fs::create_dir_all(project.join("wit")).unwrap();
    std::fs::copy(&app, project.join("app.py")).unwrap();
    std::fs::copy(&lib, project.join("hzlab_guest.py")).unwrap();
    std::fs::copy(&wit, project.join("wit/hzlab.wit")).unwrap();
    let o = hzlab(&project, &["build"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(component.is_file());
    component
}

#[test]
fn python_optimistic_matches_its_rust_twin() {
    let component = python_optimistic();
    let info = hzlab::kit::inspect("optimistic_py.wasm", &std::fs::read(&component).unwrap())
        .expect("the Python component imports more than the hzlab world");
    assert!(info
        .imports
        .iter()
        .all(|i| i.starts_with("hzlab:scenario/")));

    let python = ScenarioSpec::once(
        ScenarioSource::resolve(component.to_str().unwrap()).unwrap(),
        3,
    );
    // Two steps on one cluster: each scenario's setup resets the counter.
    let r = Run::new(vec![vec![spec("optimistic", 3)], vec![python]])
        .args(&[("iterations", "10000")])
        .execute()
        .unwrap();
    let rust = scenario(&r, "optimistic");
    let py = scenario(&r, "optimistic_py");
    assert!(rust.passed(), "{rust:#?}");
    assert!(py.passed(), "{:#?}", py.instances);
    for s in [rust, py] {
        assert_eq!(value(s, "final"), 30_000, "{}", s.name);
        assert_eq!(value(s, "expected"), 30_000, "{}", s.name);
        assert_eq!(value(s, "lost"), 0, "{}", s.name);
        assert_eq!(value(s, "uncertain"), 0, "{}", s.name);
        assert_eq!(s.totals["increments"], 30_000, "{}", s.name);
        // Every write counted once: applied, or refused by another writer's change.
        assert_eq!(
            s.totals["attempts"],
            s.totals["increments"] + s.totals["refused"],
            "{}",
            s.name
        );
        assert_eq!(s.totals["refused"], value(s, "retries"), "{}", s.name);
        assert_eq!(s.totals["retries"], value(s, "retries"), "{}", s.name);
        let check = s
            .checks
            .iter()
            .find(|c| c.name == "no-lost-updates")
            .unwrap();
        assert!(check.ok, "{}: {check:?}", s.name);
        // A get and a replace-if-same per attempt, in both languages.
        let ops: u64 = s.instances.iter().map(|i| i.ops).sum();
        assert_eq!(ops as i64, 2 * (30_000 + value(s, "retries")), "{}", s.name);
    }
    assert!(r.passed);

    // The iteration form: 3,000 increments shared by 3 instances.
    let shared = ScenarioSpec {
        executor: hzlab::executor::Executor::SharedIterations { iterations: 3_000 },
        ..ScenarioSpec::once(
            ScenarioSource::resolve(component.to_str().unwrap()).unwrap(),
            3,
        )
    };
    let r = Run::new(vec![vec![shared]]).execute().unwrap();
    let py = scenario(&r, "optimistic_py");
    assert!(r.passed, "{py:#?}");
    assert_eq!(py.iterations.as_ref().unwrap().counts.completed, 3_000);
    assert_eq!(value(py, "final"), 3_000);
}

#[test]
fn the_python_template_builds_as_the_readme_says() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let block = readme
        .split("<!-- new-python-steps -->")
        .nth(1)
        .expect("README has no <!-- new-python-steps --> block");
    let steps: Vec<Vec<&str>> = block
        .split("```")
        .nth(1)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    let dir = crate::kit_support::scratch("readme-python");
    // `new` and `build`; running a Python component is what the test above does.
    for step in &steps[..2] {
        assert_eq!(step[0], "hzlab");
        let o = hzlab(&dir, &step[1..]);
        assert_eq!(o.status.code(), Some(0), "{step:?}: {}", stderr(&o));
    }
    let run = &steps[2];
    let component = dir.join(run[2]);
    let info = hzlab::kit::inspect("pybank.wasm", &std::fs::read(&component).unwrap()).unwrap();
    assert!(
        info.imports
            .iter()
            .any(|i| i.starts_with("hzlab:scenario/lock@")),
        "{info}"
    );
    assert!(
        info.imports
            .iter()
            .all(|i| i.starts_with("hzlab:scenario/")),
        "{info}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
