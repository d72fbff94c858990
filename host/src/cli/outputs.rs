//! The files a run writes its results to (`--json`, `--report`; `--history` is created by its
//! writer), checked before the run starts: a target that cannot be written is bad input
//! (exit 2) found at once, not after the run.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use hzlab::history::probe_write;

use super::out;

/// Where `--json` goes: standard output (`-`) or a file opened (and created, with its
/// directory) before the run.
#[derive(Debug)]
pub struct JsonOut {
    path: PathBuf,
    /// None: standard output.
    file: Option<File>,
}

impl JsonOut {
    /// Opens `path` for writing (creating missing directories) and checks that it takes
    /// writes; `-` is standard output. An existing file is emptied only when the document is
    /// written.
    pub fn open(path: &Path) -> anyhow::Result<JsonOut> {
        if path.as_os_str() == "-" {
            return Ok(JsonOut {
                path: path.to_owned(),
                file: None,
            });
        }
        let cannot = || format!("cannot write the JSON results to {}", path.display());
        create_parent(path).with_context(cannot)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(cannot)?;
        probe_write(&mut file).with_context(cannot)?;
        Ok(JsonOut {
            path: path.to_owned(),
            file: Some(file),
        })
    }

    /// Whether the document goes to standard output (which then carries nothing else).
    pub fn is_stdout(&self) -> bool {
        self.file.is_none()
    }

    /// Writes the document and a newline.
    pub fn write(self, text: &str) -> anyhow::Result<()> {
        let cannot = || format!("cannot write the JSON results to {}", self.path.display());
        match self.file {
            None => out::print_document(&format!("{text}\n"))
                .context("cannot write the JSON results to standard output"),
            Some(mut file) => {
                if file.metadata().is_ok_and(|m| m.is_file()) {
                    file.set_len(0).with_context(cannot)?;
                    file.rewind().with_context(cannot)?;
                }
                file.write_all(text.as_bytes())
                    .and_then(|()| file.write_all(b"\n"))
                    .and_then(|()| file.flush())
                    .with_context(cannot)
            }
        }
    }
}

/// Checks that `--report DIR` can be written: creates DIR (and its parents), creates and
/// removes a file in it, and opens each report file already there for writing.
pub fn check_report_dir(dir: &Path) -> anyhow::Result<()> {
    let cannot = || format!("cannot write the report to {}", dir.display());
    std::fs::create_dir_all(dir).with_context(cannot)?;
    if !dir.is_dir() {
        bail!(
            "cannot write the report to {}: not a directory",
            dir.display()
        );
    }
    let probe = dir.join(format!(".hzlab-write-check-{}", std::process::id()));
    let mut file = File::create(&probe).with_context(cannot)?;
    let written = probe_write(&mut file);
    drop(file);
    let _ = std::fs::remove_file(&probe);
    written.with_context(cannot)?;
    for name in ["report.json", "report.md", "report.html"] {
        let path = dir.join(name);
        if path.exists() {
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|mut f| probe_write(&mut f))
                .with_context(|| format!("cannot write the report to {}", path.display()))?;
        }
    }
    Ok(())
}

fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}
