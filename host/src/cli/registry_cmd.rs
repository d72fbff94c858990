//! `hzlab push` and `hzlab pull`: scenario components to and from OCI registries, and the
//! options every command that reads references shares (`--username`, `--password-stdin`,
//! `--insecure`).

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::Args;
use hzlab::plan::{Action, Plan};
use hzlab::registry::{self, Access, ComponentWorld, ImageRef};
use hzlab::scenario::ScenarioSource;

use super::exit;

/// How to reach registries; flattened into every command that accepts a reference.
#[derive(Debug, Clone, Args)]
pub struct AccessArgs {
    /// Registry user name (with --password-stdin), instead of Docker's config
    /// (`~/.docker/config.json`, `$DOCKER_CONFIG`).
    #[arg(
        long,
        value_name = "USER",
        requires = "password_stdin",
        help_heading = "Registry"
    )]
    pub username: Option<String>,
    /// Read the registry password (or token) from standard input.
    #[arg(long, requires = "username", help_heading = "Registry")]
    pub password_stdin: bool,
    /// Allow plain HTTP to registries that are not on loopback (loopback registries always
    /// may use it).
    #[arg(long, help_heading = "Registry")]
    pub insecure: bool,
}

impl AccessArgs {
    /// Sets how this process reaches registries (reads the password from standard input).
    pub fn apply(&self) -> anyhow::Result<()> {
        let credentials = match &self.username {
            Some(user) => {
                let mut password = String::new();
                std::io::stdin()
                    .take(64 << 10)
                    .read_to_string(&mut password)
                    .context("cannot read the registry password from standard input")?;
                let password = password.trim_end_matches(['\n', '\r']).to_owned();
                if password.is_empty() {
                    bail!("--password-stdin read an empty password");
                }
                Some((user.clone(), password))
            }
            None => None,
        };
        registry::set_access(Access {
            credentials,
            insecure: self.insecure,
        });
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The scenario component (.wasm) to push (or a shipped scenario's name), or a plan
    /// (.toml), pushed with the component files it runs as one artifact.
    pub file: String,
    /// Where: HOST[:PORT]/REPOSITORY:TAG (`oci://` may come first).
    pub reference: String,
    #[command(flatten)]
    pub access: AccessArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// What: HOST[:PORT]/REPOSITORY:TAG or …@sha256:DIGEST (`oci://` may come first).
    pub reference: String,
    /// Where to write the component (default: NAME.wasm here, NAME the repository's last
    /// part); for a plan artifact, the folder to write the plan and its components to
    /// (default: NAME), which must be new or empty.
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Pushes a scenario component: only one that targets the scenario world (as `inspect`
/// checks it), so what is shared runs.
pub fn push(args: PushArgs) -> anyhow::Result<u8> {
    args.access.apply()?;
    let reference = ImageRef::new(&args.reference)?;
    if args.file.ends_with(".toml") {
        return push_plan(Path::new(&args.file), &reference);
    }
    let source = ScenarioSource::resolve(&args.file)?;
    let what = source.display_name();
    let bytes = source.bytes().to_vec();
    let inspection = hzlab::kit::inspect(&what, &bytes)?;
    let world = (!inspection.core_module).then(|| ComponentWorld {
        imports: inspection.imports.clone(),
        exports: inspection.exports.clone(),
        target: Some(inspection.world.clone()),
    });
    let title = format!("{}.wasm", source.name());
    let pushed = registry::push(bytes, world.as_ref(), &title, &reference)?;
    println!("pushed   {what} to {reference}");
    println!("world    {}", inspection.world);
    println!(
        "sha256   {}",
        pushed.layer_digest.trim_start_matches("sha256:")
    );
    println!("manifest {}", pushed.manifest_digest);
    println!(
        "pinned   {}@{}",
        without_tag(&reference.to_string()),
        pushed.manifest_digest
    );
    Ok(exit::OK)
}

/// Pushes a plan and the component files it runs (each checked as `push` checks one) as
/// one artifact. Shipped scenarios and references stay names in the plan.
fn push_plan(path: &Path, reference: &ImageRef) -> anyhow::Result<u8> {
    let plan = Plan::load(path)?;
    let plan_dir = path.parent().unwrap_or(Path::new(""));
    let plan_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("the plan names no file")?;
    let mut components: Vec<(String, Vec<u8>)> = Vec::new();
    for source in plan_sources(&plan) {
        let ScenarioSource::File { path: file, bytes } = source else {
            continue;
        };
        let inside = file
            .strip_prefix(plan_dir)
            .ok()
            .and_then(artifact_path)
            .filter(|p| registry::is_safe_path(p));
        let Some(inside) = inside else {
            bail!(
                "{}: the component {} is not in the plan's folder (or its name has other \
                 characters than letters, digits, `-`, `_` and `.`): a plan artifact holds the \
                 plan's folder, so put the component there",
                path.display(),
                file.display()
            );
        };
        if components.iter().any(|(p, _)| *p == inside) {
            continue;
        }
        hzlab::kit::inspect(&file.display().to_string(), bytes)?;
        components.push((inside, bytes.clone()));
    }
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let count = components.len();
    let pushed = registry::push_plan(
        registry::PlanFiles {
            name: plan.name.clone(),
            plan: (plan_name, text),
            components,
        },
        reference,
    )?;
    println!(
        "pushed   plan `{}` ({}) and {count} component(s) to {reference}",
        plan.name,
        path.display()
    );
    println!("manifest {}", pushed.manifest_digest);
    println!(
        "pinned   {}@{}",
        without_tag(&reference.to_string()),
        pushed.manifest_digest
    );
    Ok(exit::OK)
}

/// Every scenario source the plan's run steps name.
fn plan_sources(plan: &Plan) -> impl Iterator<Item = &ScenarioSource> {
    plan.cases
        .iter()
        .flat_map(|c| &c.steps)
        .filter_map(|s| match &s.action {
            Action::Run { scenarios, .. } => Some(scenarios),
            _ => None,
        })
        .flatten()
        .map(|s| &s.source)
}

/// `bank/bank.wasm` for a relative path of plain parts (`.` parts dropped); `None` for one
/// that climbs out (`..`) or is absolute.
fn artifact_path(path: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_str()?.to_owned()),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// `host/repo:tag` → `host/repo` (a digest reference keeps the repository only too).
fn without_tag(text: &str) -> &str {
    let text = text.split('@').next().unwrap_or(text);
    match text.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => text,
    }
}

/// Pulls a scenario component and writes it, or a plan artifact and writes its folder;
/// refuses (writing nothing) a component that does not target the scenario world.
pub fn pull(args: PullArgs) -> anyhow::Result<u8> {
    args.access.apply()?;
    let reference = ImageRef::new(&args.reference)?;
    let pulled = match registry::pull_artifact(&reference, None)? {
        registry::Artifact::Component(pulled) => pulled,
        registry::Artifact::Plan(plan) => return write_plan(&plan, args.output),
    };
    let inspection = hzlab::kit::inspect(&reference.to_string(), &pulled.bytes)?;
    let out = args
        .output
        .unwrap_or_else(|| PathBuf::from(format!("{}.wasm", reference.name())));
    write_new(&out, &pulled.bytes)?;
    println!("pulled   {reference} to {}", out.display());
    println!("world    {}", inspection.world);
    println!("size     {} bytes", pulled.bytes.len());
    println!("sha256   {}", inspection.sha256);
    if let Some(manifest) = &pulled.manifest_digest {
        println!("manifest {manifest}");
    }
    Ok(exit::OK)
}

/// Copies a pulled plan's folder to `out` (default: the repository's last part), which
/// must be new or empty, so nothing of the user's is overwritten.
fn write_plan(plan: &registry::PulledPlan, out: Option<PathBuf>) -> anyhow::Result<u8> {
    let out = out.unwrap_or_else(|| PathBuf::from(plan.reference.name()));
    if std::fs::read_dir(&out).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "{} is not empty: give `-o` a new or empty folder for the plan `{}`",
            out.display(),
            plan.reference
        );
    }
    for file in std::iter::once(&plan.plan).chain(&plan.components) {
        let to = out.join(file);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let bytes = std::fs::read(plan.folder.join(file))
            .with_context(|| format!("cannot read {} in the cache", file))?;
        write_new(&to, &bytes)?;
    }
    println!(
        "pulled   plan {} to {} ({} component(s))",
        plan.reference,
        out.display(),
        plan.components.len()
    );
    println!("manifest {}", plan.manifest_digest);
    println!("run it   hzlab run {}", out.join(&plan.plan).display());
    Ok(exit::OK)
}

/// The plan a single-reference `run` or `check` names, pulled; `None` when `spec` is not a
/// reference or names a component.
pub fn plan_reference(spec: &str) -> anyhow::Result<Option<registry::PulledPlan>> {
    // `REF:TAG:N` and references that do not parse are left to the scenario path.
    let Some(Ok(reference)) = ImageRef::parse(spec) else {
        return Ok(None);
    };
    match registry::pull_artifact(&reference, None)? {
        registry::Artifact::Plan(plan) => Ok(Some(plan)),
        registry::Artifact::Component(_) => Ok(None),
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, so a failed write leaves
/// no half component.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{} names no file", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.{}.part",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_taken_off_but_ports_stay() {
        assert_eq!(
            without_tag("127.0.0.1:5000/labs/bank:1"),
            "127.0.0.1:5000/labs/bank"
        );
        assert_eq!(
            without_tag("127.0.0.1:5000/labs/bank"),
            "127.0.0.1:5000/labs/bank"
        );
        assert_eq!(
            without_tag("ghcr.io/labs/bank@sha256:00"),
            "ghcr.io/labs/bank"
        );
    }

    #[test]
    fn components_inside_the_plans_folder_have_artifact_paths() {
        let p = |s: &str| artifact_path(Path::new(s));
        assert_eq!(p("bank/bank.wasm").as_deref(), Some("bank/bank.wasm"));
        assert_eq!(p("./bank/./bank.wasm").as_deref(), Some("bank/bank.wasm"));
        assert_eq!(p("../bank.wasm"), None);
        assert_eq!(p("/tmp/bank.wasm"), None);
        assert_eq!(p(""), None);
    }
}
