//! `hzlab push` and `hzlab pull`: scenario components to and from OCI registries, and the
//! options every command that reads references shares (`--username`, `--password-stdin`,
//! `--insecure`).

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use clap::Args;
use hzlab::registry::{self, Access, ComponentWorld, ImageRef};

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
    /// The scenario component (.wasm) to push (or a shipped scenario's name).
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
    /// Where to write the component (default: NAME.wasm here, NAME the repository's last part).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub access: AccessArgs,
}

/// Pushes a scenario component: only one that targets the scenario world (as `inspect`
/// checks it), so what is shared runs.
pub fn push(args: PushArgs) -> anyhow::Result<u8> {
    args.access.apply()?;
    let reference = ImageRef::new(&args.reference)?;
    let source = hzlab::scenario::ScenarioSource::resolve(&args.file)?;
    let what = source.display_name();
    let bytes = source.bytes().to_vec();
    let inspection = hzlab::kit::inspect(&what, &bytes)?;
    let world = (!inspection.core_module).then(|| ComponentWorld {
        imports: inspection.imports.clone(),
        exports: inspection.exports.clone(),
        target: Some(inspection.world.clone()),
    });
    let pushed = registry::push(bytes, world.as_ref(), &reference)?;
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

/// `host/repo:tag` → `host/repo` (a digest reference keeps the repository only too).
fn without_tag(text: &str) -> &str {
    let text = text.split('@').next().unwrap_or(text);
    match text.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => text,
    }
}

/// Pulls a scenario component and writes it; refuses (writing nothing) one that does not
/// target the scenario world.
pub fn pull(args: PullArgs) -> anyhow::Result<u8> {
    args.access.apply()?;
    let reference = ImageRef::new(&args.reference)?;
    let pulled = registry::pull(&reference, None)?;
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
}
