//! `hzlab compare` through the binary: two runs, a plan's repeats, and bad input.

use crate::common::hzlab;

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn runs_and_repeats_compare_side_by_side() {
    let dir = std::env::temp_dir().join(format!("hzlab-compare-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    // A closed run, and an open-model run of the same scenario.
    let o = hzlab(&["run", "race", "-n", "2", "-q", "--json", &path("a.json")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = hzlab(&[
        "run",
        "race",
        "-n",
        "2",
        "--rate",
        "200",
        "--duration",
        "1s",
        "-q",
        "--json",
        &path("b.json"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = hzlab(&[
        "compare",
        &path("a.json"),
        &path("b.json"),
        "--report",
        &path("cmp"),
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("A: ") && out.contains("B: "), "{out}");
    assert!(out.contains("B/A"), "{out}");
    assert!(out.contains("operations/s"), "{out}");
    // Only B has iterations: A's cell is empty.
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("iterations/s"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains('–'), "{line}");
    let html = std::fs::read_to_string(dir.join("cmp").join("compare.html")).unwrap();
    assert!(html.contains("latency by percentile"), "no curves");
    assert!(html.matches("<svg").count() >= 2, "no plots");

    // One plan document with repeats: each repeat is a column.
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        "repeat = 2\n[[case]]\nname = \"c\"\n[[case.step]]\nrun = \"race\"\nargs = { iterations = 200 }\n",
    )
    .unwrap();
    let o = hzlab(&[
        "run",
        plan.to_str().unwrap(),
        "-q",
        "--json",
        &path("p.json"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = hzlab(&["compare", &path("p.json")]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("A: repeat 1") && out.contains("B: repeat 2"),
        "{out}"
    );
    assert!(out.contains("\nc · race\n"), "{out}");

    // Bad input names the file, once.
    std::fs::write(dir.join("bad.json"), "{\"x\": 1}").unwrap();
    let o = hzlab(&["compare", &path("a.json"), &path("bad.json")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("bad.json is neither"), "{}", text(&o));
    let o = hzlab(&["compare", &path("a.json"), &path("missing.json")]);
    let err = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot read"), "{err}");
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
    // A run alone has nothing to compare.
    let o = hzlab(&["compare", &path("a.json")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
