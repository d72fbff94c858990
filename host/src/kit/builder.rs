//! `hzlab build`: a scenario project to a component, `DIR/NAME.wasm`, installing the tools it
//! needs (the wasm32 Rust target with rustup; componentize-py from PyPI, pinned, in a private
//! virtual environment).

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{templates, KitError, Lang};
use crate::engine;

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// How to build.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Show the tools' output as they run (otherwise it is kept and shown only on failure).
    pub verbose: bool,
    /// Where `hzlab build` keeps tools it installs (componentize-py). Default:
    /// `$HZLAB_TOOLS_DIR`, else `$XDG_CACHE_HOME/hzlab`, else `~/.cache/hzlab`.
    pub tools_dir: Option<PathBuf>,
}

/// A built component.
#[derive(Debug, Clone)]
pub struct Built {
    pub name: String,
    pub lang: Lang,
    pub component: PathBuf,
    pub size: u64,
}

/// What kind of project `dir` is, and its scenario's name.
pub fn detect(dir: &Path) -> Result<(Lang, String), KitError> {
    if !dir.is_dir() {
        return Err(KitError::NotAProject {
            dir: dir.to_owned(),
            reason: "it is not a directory".into(),
        });
    }
    let manifest = dir.join("Cargo.toml");
    if manifest.is_file() {
        let text = fs::read_to_string(&manifest).map_err(KitError::io("read", &manifest))?;
        let doc: toml::Table = text.parse().map_err(|e| KitError::NotAProject {
            dir: dir.to_owned(),
            reason: format!("Cargo.toml is not valid TOML: {e}"),
        })?;
        let name = doc
            .get("package")
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .ok_or_else(|| KitError::NotAProject {
                dir: dir.to_owned(),
                reason: "Cargo.toml has no [package] name".into(),
            })?;
        return Ok((Lang::Rust, name.to_owned()));
    }
    if dir.join("app.py").is_file() {
        let name = fs::canonicalize(dir)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "scenario".into());
        return Ok((Lang::Python, name));
    }
    Err(KitError::NotAProject {
        dir: dir.to_owned(),
        reason: "it has neither a Cargo.toml (Rust) nor an app.py (Python); \
                 make one with `hzlab new NAME`"
            .into(),
    })
}

/// Builds the project in `dir` to `dir/NAME.wasm` and checks that it targets the scenario
/// world.
pub fn build(dir: &Path, options: &BuildOptions) -> Result<Built, KitError> {
    let (lang, name) = detect(dir)?;
    // The tools run in the project directory: give them absolute paths.
    let abs = fs::canonicalize(dir).map_err(KitError::io("open", dir))?;
    let out = abs.join(format!("{name}.wasm"));
    match lang {
        Lang::Rust => build_rust(&abs, &name, &out, options)?,
        Lang::Python => build_python(&abs, &out, options)?,
    }
    let component = dir.join(format!("{name}.wasm"));
    let bytes = fs::read(&out).map_err(KitError::io("read", &out))?;
    super::inspect(&component.display().to_string(), &bytes)?;
    Ok(Built {
        name,
        lang,
        size: bytes.len() as u64,
        component,
    })
}

/// The target directory Rust projects share (`TOOLS/rust-target`), so that the guest
/// library's dependencies (wit-bindgen and what it needs) are compiled once for every
/// project; `None` when CARGO_TARGET_DIR names one (it wins).
fn shared_target_dir(options: &BuildOptions) -> Option<PathBuf> {
    if std::env::var_os("CARGO_TARGET_DIR").is_some_and(|d| !d.is_empty()) {
        return None;
    }
    Some(tools_dir(options).join("rust-target"))
}

fn build_rust(dir: &Path, name: &str, out: &Path, options: &BuildOptions) -> Result<(), KitError> {
    ensure_wasm_target(options)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(dir)
        .args(["build", "--release", "--target", WASM_TARGET])
        .args(["--message-format", "json-render-diagnostics"]);
    // Projects share a target directory; two projects whose crates have the same name would
    // write the same artifact, so a build holds the directory's lock until it has read its own.
    let _held = match shared_target_dir(options) {
        Some(target) => {
            fs::create_dir_all(&target).map_err(KitError::io("create", &target))?;
            let lock_path = target.join(".hzlab-build.lock");
            let lock = fs::File::create(&lock_path).map_err(KitError::io("create", &lock_path))?;
            lock.lock().map_err(KitError::io("lock", &lock_path))?;
            cmd.env("CARGO_TARGET_DIR", &target);
            Some(lock)
        }
        None => None,
    };
    if !options.verbose {
        cmd.arg("--quiet");
    }
    // Variables cargo sets for a build script or a test must not leak into this build.
    for var in [
        "CARGO_BUILD_TARGET",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
    ] {
        cmd.env_remove(var);
    }
    let stdout = run(
        cmd,
        "cargo build --release --target wasm32-unknown-unknown",
        options,
    )?;
    // The artifact, wherever the target directory is (CARGO_TARGET_DIR, a workspace above).
    let lib_name = name.replace('-', "_");
    let core = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == lib_name.as_str())
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| KitError::NotAProject {
            dir: dir.to_owned(),
            reason: format!(
                "cargo built no {lib_name}.wasm: the crate needs `crate-type = [\"cdylib\"]` \
                 under [lib]"
            ),
        })?;
    let bytes = fs::read(&core).map_err(KitError::io("read", &core))?;
    let component = engine::wrap_core_module(&core.display().to_string(), &bytes)?;
    fs::write(out, component).map_err(KitError::io("write", out))?;
    Ok(())
}

/// Installs the wasm32 target with rustup when the toolchain lacks it.
fn ensure_wasm_target(options: &BuildOptions) -> Result<(), KitError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot {
        if sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir() {
            return Ok(());
        }
    }
    eprintln!("hzlab: installing the {WASM_TARGET} Rust target with rustup");
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", WASM_TARGET]);
    run(cmd, "rustup target add wasm32-unknown-unknown", options).map(|_| ())
}

fn build_python(dir: &Path, out: &Path, options: &BuildOptions) -> Result<(), KitError> {
    let wit = dir.join("wit");
    if !wit.join("hzlab.wit").is_file() {
        return Err(KitError::NotAProject {
            dir: dir.to_owned(),
            reason: "wit/hzlab.wit is missing (`hzlab new` writes it)".into(),
        });
    }
    let tool = componentize_py(options)?;
    let mut cmd = tool.command();
    cmd.current_dir(dir)
        .arg("-d")
        .arg(&wit)
        .args(["-w", "scenario", "componentize", "--stub-wasi", "app", "-p"])
        .arg(dir)
        .arg("-o")
        .arg(out);
    // WASI is stubbed out (every WASI call traps), so the component imports only the hzlab
    // world, which is all the host links.
    run(cmd, "componentize-py componentize --stub-wasi app", options).map(|_| ())
}

/// How to run componentize-py: its script in a virtual environment, or (where Python cannot
/// make virtual environments) its package installed with `pip --target`, run by `python3`.
#[derive(Debug, Clone)]
pub struct Componentize {
    program: OsString,
    args: Vec<OsString>,
    python_path: Option<PathBuf>,
}

impl Componentize {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args);
        if let Some(p) = &self.python_path {
            cmd.env("PYTHONPATH", p);
        }
        cmd
    }
}

/// The pinned componentize-py, installed from PyPI on first use: into a virtual environment
/// of its own, or with `pip install --target` when `python3 -m venv` is not available.
pub fn componentize_py(options: &BuildOptions) -> Result<Componentize, KitError> {
    let version = templates::COMPONENTIZE_PY_VERSION;
    let tools = tools_dir(options);
    let venv = tools.join(format!("componentize-py-{version}"));
    let packages = tools.join(format!("componentize-py-{version}-packages"));
    let bin = if cfg!(windows) {
        venv.join("Scripts").join("componentize-py.exe")
    } else {
        venv.join("bin").join("componentize-py")
    };
    let in_venv = || Componentize {
        program: bin.clone().into(),
        args: Vec::new(),
        python_path: None,
    };
    let python = find_python()?;
    let in_packages = || Componentize {
        program: python.clone(),
        args: vec![
            "-c".into(),
            "import sys; from componentize_py import script; \
             sys.argv[0] = 'componentize-py'; sys.exit(script())"
                .into(),
        ],
        python_path: Some(packages.clone()),
    };
    let installed = || {
        if bin.is_file() {
            Some(in_venv())
        } else if packages.join("componentize_py").is_dir() {
            Some(in_packages())
        } else {
            None
        }
    };
    if let Some(c) = installed() {
        return Ok(c);
    }
    // Builds running at once install one at a time; a build that waited finds the
    // tool installed by the one before it.
    fs::create_dir_all(&tools).map_err(KitError::io("create", &tools))?;
    let lock_path = tools.join(format!("componentize-py-{version}.lock"));
    let lock = fs::File::create(&lock_path).map_err(KitError::io("create", &lock_path))?;
    lock.lock().map_err(KitError::io("lock", &lock_path))?;
    if let Some(c) = installed() {
        return Ok(c);
    }
    eprintln!(
        "hzlab: installing componentize-py {version} (PyPI) under {}",
        tools.display()
    );
    let spec = format!("componentize-py=={version}");
    let pip_what = format!("pip install {spec}");
    let mut cmd = Command::new(&python);
    cmd.args(["-m", "venv"]).arg(&venv);
    if run(cmd, "python3 -m venv", options).is_ok() {
        let venv_python = if cfg!(windows) {
            venv.join("Scripts").join("python.exe")
        } else {
            venv.join("bin").join("python")
        };
        let mut cmd = Command::new(venv_python);
        cmd.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(&spec);
        run(cmd, &pip_what, options)?;
        if bin.is_file() {
            return Ok(in_venv());
        }
        return Err(KitError::Failed {
            command: pip_what,
            status: format!("no {} afterwards", bin.display()),
            output: String::new(),
        });
    }
    // No venv module (a distribution's python3 without its venv package): the package alone.
    let _ = fs::remove_dir_all(&venv);
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ])
    .arg("--target")
    .arg(&packages)
    .arg(&spec);
    run(cmd, &format!("{pip_what} --target"), options)?;
    Ok(in_packages())
}

fn tools_dir(options: &BuildOptions) -> PathBuf {
    if let Some(d) = &options.tools_dir {
        return d.clone();
    }
    if let Some(d) = std::env::var_os("HZLAB_TOOLS_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("hzlab");
    }
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .unwrap_or_else(|| OsString::from("."));
    PathBuf::from(home).join(".cache").join("hzlab")
}

fn find_python() -> Result<OsString, KitError> {
    for candidate in ["python3", "python"] {
        let ok = Command::new(candidate)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(candidate.into());
        }
    }
    Err(KitError::Spawn {
        command: "python3".into(),
        cause: std::io::Error::new(std::io::ErrorKind::NotFound, "not found"),
        hint: " (Python 3 with pip is needed to install componentize-py for Python scenarios)"
            .into(),
    })
}

/// Runs a command; returns its standard output. Standard error goes to the terminal when
/// verbose, else it is kept for the error message.
fn run(mut cmd: Command, what: &str, options: &BuildOptions) -> Result<String, KitError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    cmd.stderr(if options.verbose {
        Stdio::inherit()
    } else {
        Stdio::piped()
    });
    let mut child = cmd.spawn().map_err(|source| KitError::Spawn {
        command: what.to_owned(),
        hint: String::new(),
        cause: source,
    })?;
    // Read stderr on a thread so that neither pipe can fill up and block the child.
    let err_reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = e.read_to_string(&mut s);
            s
        })
    });
    let mut stdout = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    let status = child.wait().map_err(|source| KitError::Spawn {
        command: what.to_owned(),
        hint: String::new(),
        cause: source,
    })?;
    let stderr = err_reader.and_then(|t| t.join().ok()).unwrap_or_default();
    if status.success() {
        return Ok(stdout);
    }
    // Cargo's JSON lines are noise in a message; keep the rest. The first lines say what went
    // wrong (a compiler error, a Python traceback); backtraces follow.
    const SHOWN: usize = 60;
    let text: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines().filter(|l| !l.starts_with('{')))
        .collect();
    let mut tail = text[..text.len().min(SHOWN)].join("\n");
    if text.len() > SHOWN {
        tail.push_str(&format!("\n... ({} more lines)", text.len() - SHOWN));
    }
    Err(KitError::Failed {
        command: what.to_owned(),
        status: status.to_string(),
        output: if tail.trim().is_empty() {
            String::new()
        } else {
            format!(":\n{tail}")
        },
    })
}
