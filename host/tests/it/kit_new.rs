//! `hzlab new` + `hzlab build` + `hzlab run`, as a new user follows the README: the commands
//! of its "Write a scenario" section, run with the built binary in an empty directory.

use crate::kit_support::{hzlab, repo, scratch, stderr, stdout};

fn readme() -> String {
    std::fs::read_to_string(repo().join("README.md")).unwrap()
}

/// The fenced block that follows `<!-- marker -->` in the README.
fn block_after(marker: &str) -> String {
    let readme = readme();
    let at = readme
        .find(&format!("<!-- {marker} -->"))
        .unwrap_or_else(|| panic!("README has no <!-- {marker} --> block"));
    let rest = &readme[at..];
    let start = rest.find("```").unwrap();
    let body = &rest[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    body[..body.find("```").unwrap()].to_owned()
}

#[test]
fn the_readme_walk_from_new_to_run_works() {
    let dir = scratch("readme-bank");
    let steps: Vec<Vec<String>> = block_after("new-scenario-steps")
        .lines()
        .map(|l| l.split('#').next().unwrap().trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect();
    assert_eq!(steps.len(), 3, "{steps:?}");
    let mut last = None;
    for step in &steps {
        assert_eq!(step[0], "hzlab", "{step:?}");
        let args: Vec<&str> = step[1..].iter().map(String::as_str).collect();
        let o = hzlab(&dir, &args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "`{}` failed:\n{}{}",
            step.join(" "),
            stdout(&o),
            stderr(&o)
        );
        last = Some(o);
    }
    let run = stdout(&last.unwrap());
    assert!(run.contains("ok   total-conserved: 1000"), "{run}");
    // Projects build in the target directory they all share, so the guest library's
    // dependencies compile once.
    let shared = crate::kit_support::cache_dir().join("tools/rust-target");
    assert!(
        shared
            .join("wasm32-unknown-unknown/release/bank.wasm")
            .is_file(),
        "not built in the shared target directory {}",
        shared.display()
    );
    assert!(run.contains("result: passed"), "{run}");
    for i in 0..4 {
        assert!(
            run.lines()
                .any(|l| l.trim_start().starts_with(&format!("{i}  ok"))),
            "instance {i} missing:\n{run}"
        );
    }
    // The project is self-contained: nothing in it points back into this repository.
    let bank = dir.join("bank");
    for f in ["Cargo.toml", "vendor/hzlab-guest/Cargo.toml", "src/lib.rs"] {
        let text = std::fs::read_to_string(bank.join(f)).unwrap();
        assert!(!text.contains(repo().to_str().unwrap()), "{f}: {text}");
        assert!(!text.contains("workspace = true"), "{f}: {text}");
    }
    // What `hzlab new` wrote is what the README shows.
    assert_eq!(
        std::fs::read_to_string(bank.join("src/lib.rs")).unwrap(),
        block_after("template-rust")
    );
    // Sharing it: inspect shows the world and the hash.
    let o = hzlab(&dir, &["inspect", "bank/bank.wasm"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = std::fs::read(bank.join("bank.wasm")).unwrap();
    assert!(stdout(&o).contains(&hzlab::scenario::sha256_hex(&bytes)));
    // A broken scenario fails to build with the compiler's message, not a panic.
    std::fs::write(bank.join("src/lib.rs"), "fn broken( {}\n").unwrap();
    let o = hzlab(&dir, &["build", "bank"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("cargo build"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_names_and_existing_directories_exit_2() {
    let dir = scratch("new-bad");
    for name in ["Bank", "my bank", "../escape", "app"] {
        let o = hzlab(&dir, &["new", name]);
        assert_eq!(o.status.code(), Some(2), "{name}");
        assert!(stderr(&o).contains("invalid scenario name"), "{name}");
    }
    std::fs::create_dir(dir.join("taken")).unwrap();
    let o = hzlab(&dir, &["new", "taken", "--lang", "python"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    let o = hzlab(&dir, &["build", "taken"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a scenario project"),
        "{}",
        stderr(&o)
    );
    let o = hzlab(&dir, &["build", "nowhere"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a directory"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn python_projects_are_written_with_the_readme_template() {
    let dir = scratch("new-python");
    let o = hzlab(&dir, &["new", "pybank", "--lang", "python", "--dir", "sub"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let p = dir.join("sub/pybank");
    for f in ["app.py", "hzlab_guest.py", "wit/hzlab.wit", "README.md"] {
        assert!(p.join(f).is_file(), "{f}");
    }
    assert_eq!(
        std::fs::read_to_string(p.join("hzlab_guest.py")).unwrap(),
        std::fs::read_to_string(repo().join("guest-scenarios/python/hzlab_guest.py")).unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
}
