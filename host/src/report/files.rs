//! Writing `--report DIR`: `report.json`, `report.md` and `report.html`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::document::Report;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report to {path}: {cause}")]
pub struct ReportError {
    pub path: PathBuf,
    pub cause: std::io::Error,
}

/// Writes `report.json`, `report.md` and `report.html` into `dir` (created if missing);
/// returns their paths.
pub fn write_report(dir: &Path, report: &Report) -> Result<Vec<PathBuf>, ReportError> {
    write_report_as(dir, report, report)
}

/// [`write_report`] with another document as `report.json` (a plan writes its own result
/// there, which holds every run, fault and check too).
pub fn write_report_as<T: Serialize>(
    dir: &Path,
    report: &Report,
    json: &T,
) -> Result<Vec<PathBuf>, ReportError> {
    let err = |path: &Path| {
        let path = path.to_owned();
        move |cause| ReportError { path, cause }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let json = serde_json::to_string_pretty(json).expect("reports always serialize") + "\n";
    let files = [
        ("report.json", json),
        ("report.md", super::markdown::render(report)),
        ("report.html", super::html::render(report)),
    ];
    let mut paths = Vec::new();
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(err(&path))?;
        paths.push(path);
    }
    Ok(paths)
}
