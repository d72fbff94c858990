//! `hzlab compare`: runs side by side, as Simulator's `perftest report A B` does.
//!
//! Each input is a JSON document hzlab wrote: a run's `--json` (a [`RunResult`]), a run's
//! `report.json` (its `runs[]`), or a plan's `report.json` / `--json` (its `cases[]`, whose
//! repeats are samples of the same thing). What is compared is a scenario in a place: the
//! scenario's name for a run, `case · step · scenario` for a plan. Per place and input:
//! throughput, and per operation p50 / p99 / max (and the iterations' response time in
//! open models), as the mean over the repeats with their spread; ratios are to the first
//! input. A difference is marked when the repeats of the two inputs do not overlap (their
//! ranges are apart); without repeats the spread is unknown and nothing is marked.
//!
//! One input with repeats is compared with itself: each repeat is a column.
//!
//! [`RunResult`]: crate::results::RunResult

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::format::num;
pub use crate::results::Spread;

/// Why an input cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not JSON hzlab wrote: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{path} is neither a run's JSON (`scenarios`), a run's report.json (`runs`) nor a \
         plan's (`cases`)"
    )]
    Shape { path: PathBuf },
    #[error("{0}")]
    Nothing(String),
}

/// An operation's figures in one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct OpFigures {
    pub count: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    /// `(percentile, µs)`; from the stats alone for documents without the curve.
    pub curve: Vec<(f64, f64)>,
}

/// One scenario in one run (one repeat of a plan).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// Operations per second of its run phase (over its longest instance).
    pub ops_per_s: f64,
    /// Iterations ended per second, where the scenario ran an executor.
    pub iterations_per_s: Option<f64>,
    pub ops: BTreeMap<String, OpFigures>,
    /// The iterations' response time (p50, p99, max), where there were iterations.
    pub response: Option<[f64; 3]>,
    /// Per interval of its series: (mid time s, per second, p99 µs).
    pub series: Vec<(f64, f64, Option<f64>)>,
}

/// One input: its name and its samples by place (several for repeats).
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub name: String,
    /// The backend as the document describes it.
    pub backend: String,
    pub places: BTreeMap<String, Vec<Sample>>,
}

fn read(path: &Path) -> Result<Value, CompareError> {
    let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| CompareError::Json {
        path: path.to_owned(),
        source,
    })
}

fn f(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// One scenario's figures from its JSON (a [`crate::results::ScenarioResult`]).
fn sample(s: &Value) -> Sample {
    let mut ops = BTreeMap::new();
    let mut total_ops = 0.0;
    if let Some(map) = s["latency"].as_object() {
        for (name, o) in map {
            let count = f(&o["count"]).unwrap_or(0.0);
            if count == 0.0 {
                continue;
            }
            total_ops += count;
            let stat = |k: &str| f(&o[k]).unwrap_or(0.0);
            let curve = match o["percentiles"].as_array() {
                Some(points) => points
                    .iter()
                    .filter_map(|p| Some((f(&p[0])?, f(&p[1])?)))
                    .collect(),
                None => vec![
                    (50.0, stat("p50_us")),
                    (90.0, stat("p90_us")),
                    (99.0, stat("p99_us")),
                    (99.9, stat("max_us")),
                ],
            };
            ops.insert(
                name.clone(),
                OpFigures {
                    count,
                    p50_us: stat("p50_us"),
                    p99_us: stat("p99_us"),
                    max_us: stat("max_us"),
                    curve,
                },
            );
        }
    }
    let it = &s["iterations"];
    let elapsed_ms = s["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| f(&i["elapsed_ms"]))
        .fold(0.0, f64::max);
    let ops_per_s = if elapsed_ms > 0.0 {
        total_ops / (elapsed_ms / 1e3)
    } else {
        0.0
    };
    let response = it["response"].as_object().map(|r| {
        let g = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        [g("p50_us"), g("p99_us"), g("max_us")]
    });
    let series = s["series"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| {
            let (t, secs) = (f(&i["t_s"])?, f(&i["secs"])?.max(1e-6));
            let per_s = if it.is_object() {
                f(&i["iterations"]["completed"])? / secs
            } else {
                i["ops"]
                    .as_object()?
                    .values()
                    .filter_map(|o| f(&o["count"]))
                    .sum::<f64>()
                    / secs
            };
            let p99 = f(&i["response"]["p99_us"]).or_else(|| {
                i["ops"]
                    .as_object()?
                    .values()
                    .filter_map(|o| f(&o["p99_us"]))
                    .reduce(f64::max)
            });
            Some((t + secs / 2.0, per_s, p99))
        })
        .collect();
    Sample {
        ops_per_s,
        iterations_per_s: f(&it["rate"]),
        ops,
        response,
        series,
    }
}

fn backend_of(run: &Value) -> Option<String> {
    run["backend"]["description"].as_str().map(str::to_owned)
}

/// Reads one input.
pub fn load(path: &Path) -> Result<Input, CompareError> {
    let doc = read(path)?;
    let name = path.display().to_string();
    let mut places: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    let mut backend = None;
    let mut add_run = |run: &Value, prefix: &str, places: &mut BTreeMap<String, Vec<Sample>>| {
        backend = backend.take().or_else(|| backend_of(run));
        for s in run["scenarios"].as_array().into_iter().flatten() {
            let scenario = s["name"].as_str().unwrap_or("?");
            // `case · step · scenario`, without a part that repeats the one before it.
            let mut parts: Vec<&str> = prefix.split(" · ").filter(|p| !p.is_empty()).collect();
            parts.push(scenario);
            parts.dedup();
            let place = parts.join(" · ");
            places.entry(place).or_default().push(sample(s));
        }
    };
    if doc["scenarios"].is_array() {
        add_run(&doc, "", &mut places);
    } else if let Some(runs) = doc["runs"].as_array() {
        for run in runs {
            add_run(&run["result"], "", &mut places);
        }
    } else if let Some(cases) = doc["cases"].as_array() {
        for case in cases {
            let case_name = case["name"].as_str().unwrap_or("?");
            for repeat in case["repeats"].as_array().into_iter().flatten() {
                for step in repeat["steps"].as_array().into_iter().flatten() {
                    if step["run"].is_object() {
                        let label = step["label"].as_str().unwrap_or("?");
                        add_run(&step["run"], &format!("{case_name} · {label}"), &mut places);
                    }
                }
            }
        }
    } else {
        return Err(CompareError::Shape {
            path: path.to_owned(),
        });
    }
    Ok(Input {
        name,
        backend: backend.unwrap_or_else(|| "unknown backend".into()),
        places,
    })
}

/// A row of the comparison: a figure, its spread per column (`None`: that column lacks it).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: String,
    pub columns: Vec<Option<Spread>>,
}

/// A place compared over the columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub place: String,
    pub rows: Vec<Row>,
    /// Per column, the samples (for the plots).
    pub samples: Vec<Vec<Sample>>,
}

/// The comparison: its columns (inputs, or one input's repeats) and a section per place.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub columns: Vec<String>,
    pub sections: Vec<Section>,
}

/// A figure's name and how to read it from a sample.
type Figure = (String, Box<dyn Fn(&Sample) -> Option<f64>>);

/// Per place, its samples per column.
type Places = Vec<(String, Vec<Vec<Sample>>)>;

fn rows(columns: &[Vec<Sample>]) -> Vec<Row> {
    let mut figures: Vec<Figure> = vec![("operations/s".into(), Box::new(|s| Some(s.ops_per_s)))];
    if columns
        .iter()
        .flatten()
        .any(|s| s.iterations_per_s.is_some())
    {
        figures.push(("iterations/s".into(), Box::new(|s| s.iterations_per_s)));
    }
    if columns.iter().flatten().any(|s| s.response.is_some()) {
        for (i, name) in ["p50", "p99", "max"].into_iter().enumerate() {
            figures.push((
                format!("iteration response {name} (µs)"),
                Box::new(move |s| s.response.map(|r| r[i])),
            ));
        }
    }
    let mut ops: Vec<String> = columns
        .iter()
        .flatten()
        .flat_map(|s| s.ops.keys().cloned())
        .collect();
    ops.sort();
    ops.dedup();
    for op in ops {
        for (name, pick) in [
            ("p50", (|o: &OpFigures| o.p50_us) as fn(&OpFigures) -> f64),
            ("p99", |o| o.p99_us),
            ("max", |o| o.max_us),
        ] {
            let op2 = op.clone();
            figures.push((
                format!("{op} {name} (µs)"),
                Box::new(move |s| s.ops.get(&op2).map(pick)),
            ));
        }
    }
    figures
        .into_iter()
        .map(|(figure, pick)| Row {
            figure,
            columns: columns
                .iter()
                .map(|samples| {
                    let values: Vec<f64> = samples.iter().filter_map(&pick).collect();
                    Spread::of(&values)
                })
                .collect(),
        })
        .collect()
}

/// Compares the inputs: each a column, or, for one input, each repeat.
pub fn compare(inputs: &[Input]) -> Result<Comparison, CompareError> {
    let (columns, per_place): (Vec<String>, Places) = if let [only] = inputs {
        let repeats = only.places.values().map(Vec::len).max().unwrap_or(0);
        if repeats < 2 {
            return Err(CompareError::Nothing(format!(
                "{} has one run of each scenario: give another document to compare it \
                     with, or a plan's with repeats",
                only.name
            )));
        }
        let columns = (1..=repeats).map(|r| format!("repeat {r}")).collect();
        let places = only
            .places
            .iter()
            .map(|(p, samples)| (p.clone(), samples.iter().map(|s| vec![s.clone()]).collect()))
            .collect();
        (columns, places)
    } else {
        let columns = inputs
            .iter()
            .map(|i| format!("{} ({})", i.name, i.backend))
            .collect();
        let mut places: Vec<String> = inputs
            .iter()
            .flat_map(|i| i.places.keys().cloned())
            .collect();
        places.sort();
        places.dedup();
        let per_place = places
            .into_iter()
            .map(|p| {
                let cols = inputs
                    .iter()
                    .map(|i| i.places.get(&p).cloned().unwrap_or_default())
                    .collect();
                (p, cols)
            })
            .collect();
        (columns, per_place)
    };
    let sections = per_place
        .into_iter()
        .map(|(place, samples)| Section {
            place,
            rows: rows(&samples),
            samples,
        })
        .collect();
    Ok(Comparison { columns, sections })
}

fn cell(s: &Option<Spread>) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n >= 2 => format!("{} [{}–{}]", num(s.mean), num(s.min), num(s.max)),
        Some(s) => num(s.mean),
    }
}

/// `B/A` of a row's column `i` against the first, with `*` when they are apart.
fn ratio(row: &Row, i: usize) -> String {
    match (&row.columns[0], &row.columns[i]) {
        (Some(a), Some(b)) if a.mean > 0.0 => format!(
            "{:.2}{}",
            b.mean / a.mean,
            if a.apart(b) { " *" } else { "" }
        ),
        _ => "–".into(),
    }
}

/// The comparison as text for a terminal.
pub fn render_text(c: &Comparison) -> String {
    let mut out = String::new();
    for (i, col) in c.columns.iter().enumerate() {
        let _ = writeln!(out, "{}: {col}", letter(i));
    }
    for s in &c.sections {
        let _ = writeln!(out, "\n{}", s.place);
        let mut table: Vec<Vec<String>> = vec![std::iter::once("figure".to_owned())
            .chain((0..c.columns.len()).map(|i| letter(i).to_string()))
            .chain((1..c.columns.len()).map(|i| format!("{}/A", letter(i))))
            .collect()];
        for r in &s.rows {
            table.push(
                std::iter::once(r.figure.clone())
                    .chain(r.columns.iter().map(cell))
                    .chain((1..c.columns.len()).map(|i| ratio(r, i)))
                    .collect(),
            );
        }
        let widths: Vec<usize> = (0..table[0].len())
            .map(|k| {
                table
                    .iter()
                    .map(|row| row[k].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &table {
            let mut line = String::from("  ");
            for (k, text) in row.iter().enumerate() {
                let pad = widths[k] - text.chars().count();
                if k == 0 {
                    line.push_str(text);
                    line.push_str(&" ".repeat(pad));
                } else {
                    line.push_str("  ");
                    line.push_str(&" ".repeat(pad));
                    line.push_str(text);
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let _ = writeln!(
        out,
        "\nmean [min–max] over repeats; ratios to A; * where the repeats' ranges do not \
         overlap (without repeats the spread is unknown and nothing is marked)"
    );
    out
}

fn letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// Where a comparison's HTML goes.
pub fn html_path(dir: &Path) -> PathBuf {
    dir.join("compare.html")
}

/// The comparison as HTML: the tables, then per place the latency-percentile curves of each
/// operation overlaid (one line per column) and the throughput over time.
pub fn render_html(c: &Comparison) -> String {
    use crate::report::svg::{esc, percentile_curves};
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>hzlab compare</title>\
         <style>body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:\
         collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}td.n{text-align:\
         right}.apart{background:#fde2e2}</style></head><body><h1>hzlab compare</h1><ul>",
    );
    for (i, col) in c.columns.iter().enumerate() {
        let _ = write!(out, "<li><b>{}</b>: {}</li>", letter(i), esc(col));
    }
    out.push_str("</ul><p>mean [min–max] over repeats; ratios to A; shaded where the repeats' ranges do not overlap.</p>");
    for s in &c.sections {
        let _ = write!(out, "<h2>{}</h2><table><tr><th>figure</th>", esc(&s.place));
        for i in 0..c.columns.len() {
            let _ = write!(out, "<th>{}</th>", letter(i));
        }
        for i in 1..c.columns.len() {
            let _ = write!(out, "<th>{}/A</th>", letter(i));
        }
        out.push_str("</tr>");
        for r in &s.rows {
            let _ = write!(out, "<tr><td>{}</td>", esc(&r.figure));
            for col in &r.columns {
                let _ = write!(out, "<td class=\"n\">{}</td>", esc(&cell(col)));
            }
            for i in 1..c.columns.len() {
                let apart =
                    matches!((&r.columns[0], &r.columns[i]), (Some(a), Some(b)) if a.apart(b));
                let _ = write!(
                    out,
                    "<td class=\"n{}\">{}</td>",
                    if apart { " apart" } else { "" },
                    esc(ratio(r, i).trim_end_matches(" *"))
                );
            }
            out.push_str("</tr>");
        }
        out.push_str("</table>");
        // Latency curves: per operation, the first sample of each column.
        let ops: Vec<&String> = s
            .samples
            .iter()
            .flatten()
            .flat_map(|x| x.ops.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for op in ops {
            let curves: Vec<(String, Vec<(f64, f64)>)> = s
                .samples
                .iter()
                .enumerate()
                .filter_map(|(i, samples)| {
                    let o = samples.first()?.ops.get(op)?;
                    Some((letter(i).to_string(), o.curve.clone()))
                })
                .collect();
            if !curves.is_empty() {
                let _ = write!(
                    out,
                    "<h3>{}: latency by percentile (µs; the first run of each column)</h3>",
                    esc(op)
                );
                out.push_str(&percentile_curves(
                    &format!("{op}: latency by percentile (µs, log scale)"),
                    &curves,
                ));
            }
        }
        let lines: Vec<(String, Vec<(f64, f64)>)> = s
            .samples
            .iter()
            .enumerate()
            .filter_map(|(i, samples)| {
                let first = samples.first()?;
                (!first.series.is_empty()).then(|| {
                    (
                        letter(i).to_string(),
                        first.series.iter().map(|(t, v, _)| (*t, *v)).collect(),
                    )
                })
            })
            .collect();
        if !lines.is_empty() {
            out.push_str(
                "<h3>Throughput over time (per second; the first run of each column)</h3>",
            );
            out.push_str(&crate::report::over_time_lines(
                "throughput over time (per second)",
                &lines,
            ));
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(values: &[f64]) -> Spread {
        Spread::of(values).unwrap()
    }

    #[test]
    fn repeats_that_do_not_overlap_are_apart() {
        assert!(spread(&[10.0, 11.0]).apart(&spread(&[12.0, 13.0])));
        assert!(!spread(&[10.0, 12.5]).apart(&spread(&[12.0, 13.0])));
        // One run each: the spread is unknown.
        assert!(!spread(&[10.0]).apart(&spread(&[100.0])));
    }

    #[test]
    fn documents_of_every_shape_are_read() {
        let dir = std::env::temp_dir().join(format!("hzlab-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let scenario = serde_json::json!({
            "name": "race",
            "instances": [{"elapsed_ms": 1000.0}],
            "latency": {"map.get": {"count": 500, "p50_us": 100.0, "p90_us": 150.0,
                                     "p99_us": 200.0, "max_us": 900.0}},
        });
        let run = serde_json::json!({"backend": {"description": "embedded cluster"},
                                     "scenarios": [scenario]});
        let plan = serde_json::json!({"cases": [{"name": "c", "repeats": [
            {"steps": [{"label": "load", "run": run}]},
            {"steps": [{"label": "load", "run": run}]},
        ]}]});
        let write = |name: &str, v: &Value| {
            let p = dir.join(name);
            std::fs::write(&p, v.to_string()).unwrap();
            p
        };
        let a = load(&write("run.json", &run)).unwrap();
        assert_eq!(a.places["race"][0].ops_per_s, 500.0);
        assert_eq!(a.places["race"][0].ops["map.get"].curve.len(), 4);
        let r = load(&write(
            "report.json",
            &serde_json::json!({"runs": [{"result": run}]}),
        ))
        .unwrap();
        assert_eq!(r.places.len(), 1);
        let p = load(&write("plan.json", &plan)).unwrap();
        assert_eq!(p.places["c · load · race"].len(), 2);
        // One input with repeats: each repeat a column.
        let c = compare(std::slice::from_ref(&p)).unwrap();
        assert_eq!(c.columns, vec!["repeat 1", "repeat 2"]);
        // A run alone has nothing to compare.
        assert!(compare(std::slice::from_ref(&a)).is_err());
        let c = compare(&[a, p]).unwrap();
        let text = render_text(&c);
        assert!(text.contains("operations/s"), "{text}");
        let e = load(&write("other.json", &serde_json::json!({"x": 1}))).unwrap_err();
        assert!(e.to_string().contains("neither a run's JSON"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
