//! Scenarios and plans shared through OCI registries ([`layout`] says how they are laid out:
//! a component in the CNCF Wasm artifact layout, as `wkg oci push` and Spin write it; a plan
//! and its components as hzlab's plan artifact).
//!
//! A reference is `[oci://]HOST[:PORT]/REPOSITORY(:TAG|@sha256:DIGEST)`. What is pulled is
//! cached by digest ([`cache`]): a reference pinned by a manifest digest, or a component
//! pinned by a plan's `sha256` (its layer's digest), runs from the cache without reaching
//! the registry. Tags always ask the registry, since a tag can move.
//!
//! Plain HTTP is used for loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) and for
//! any registry when [`Access::insecure`] is set; HTTPS otherwise. Credentials come from
//! [`Access`] (the command line) or else from Docker's config (`$DOCKER_CONFIG/config.json`,
//! `~/.docker/config.json`, with its credential helpers); anonymous without either.
//!
//! The registry client is async; [`pull`], [`pull_artifact`], [`push`] and [`push_plan`]
//! run it on a thread of their own, so they can be called from anywhere (also from inside a
//! runtime).

mod cache;
mod client;
pub mod layout;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::OciImageManifest;
use oci_client::Reference;

use cache::{Cache, Entry};
use client::{blob, classify, client_for, on_own_runtime};
pub use layout::{is_safe_path, sha256_digest, ComponentWorld, MAX_COMPONENT_BYTES};
use layout::{
    Kind, PlanComponent, PlanConfig, WasmConfig, MANIFEST_MEDIA_TYPE, MAX_PLAN_FILE_BYTES,
    PLAN_ARTIFACT_TYPE, PLAN_CONFIG_MEDIA_TYPE, PLAN_LAYER_MEDIA_TYPE, WASM_CONFIG_MEDIA_TYPE,
    WASM_LAYER_MEDIA_TYPE,
};

/// The most a plan artifact's files may hold together.
const MAX_PLAN_ARTIFACT_BYTES: u64 = 256 << 20;

/// Why a reference could not be pushed or pulled. Every variant names the reference; all
/// are bad input or an unusable registry (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("`{reference}` is not an OCI reference (HOST[:PORT]/REPOSITORY:TAG or @sha256:DIGEST): {detail}")]
    BadReference { reference: String, detail: String },
    #[error("registry {registry} of `{reference}` cannot be reached: {detail}")]
    Unreachable {
        reference: String,
        registry: String,
        detail: String,
    },
    #[error("registry refused `{reference}`: unauthorized ({detail}); give --username and --password-stdin, or log in with Docker")]
    Unauthorized { reference: String, detail: String },
    #[error("`{reference}` is not in its registry (no such repository, tag or digest)")]
    NotFound { reference: String },
    #[error("`{reference}` is not a Wasm artifact: {detail}")]
    NotWasm { reference: String, detail: String },
    #[error(
        "`{reference}` does not match its pin: expected {expected}, the registry has {actual}"
    )]
    DigestMismatch {
        reference: String,
        expected: String,
        actual: String,
    },
    #[error("{what} of `{reference}` has {size} bytes or more, over the {limit} allowed")]
    TooLarge {
        reference: String,
        /// `the component`, `the plan`, `the plan's files`.
        what: String,
        size: u64,
        limit: u64,
    },
    #[error("`{reference}` is an hzlab plan artifact, not a component: `hzlab run {reference}` runs it, `hzlab pull {reference} -o DIR` writes its folder")]
    IsPlan { reference: String },
    #[error("`{reference}` is a component, not a plan artifact: `hzlab run {reference}` runs it")]
    IsComponent { reference: String },
    #[error("cannot read credentials for {registry} from Docker's config {}: {detail}", path.display())]
    Credentials {
        registry: String,
        path: PathBuf,
        detail: String,
    },
    #[error("the registry failed on `{reference}`: {detail}")]
    Registry { reference: String, detail: String },
    #[error("cannot start the registry client: {0}")]
    Runtime(std::io::Error),
    #[error("the registry cache at {path} cannot be used: {cause}")]
    Cache {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// How hzlab reaches registries: set once by the command line, read by every pull and push.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Basic auth for every registry, instead of Docker's config.
    pub credentials: Option<(String, String)>,
    /// Plain HTTP for registries that are not on loopback too.
    pub insecure: bool,
}

static ACCESS: OnceLock<Access> = OnceLock::new();

/// Sets how registries are reached, for the rest of the process (the first call wins).
pub fn set_access(access: Access) {
    let _ = ACCESS.set(access);
}

fn access() -> Access {
    ACCESS.get().cloned().unwrap_or_default()
}

/// A parsed reference, with the text it was given as (without `oci://`).
#[derive(Debug, Clone)]
pub struct ImageRef {
    text: String,
    reference: Reference,
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl ImageRef {
    /// `spec` as a reference: `None` when it does not look like one (see
    /// [`looks_like_reference`]), an error when it does but does not parse.
    pub fn parse(spec: &str) -> Option<Result<ImageRef, RegistryError>> {
        looks_like_reference(spec).then(|| ImageRef::new(spec))
    }

    /// `spec` (`oci://` optional) as a reference, whatever it looks like.
    pub fn new(spec: &str) -> Result<ImageRef, RegistryError> {
        let text = spec.strip_prefix("oci://").unwrap_or(spec);
        text.parse::<Reference>()
            .map(|reference| ImageRef {
                text: text.to_owned(),
                reference,
            })
            .map_err(|e| RegistryError::BadReference {
                reference: spec.to_owned(),
                detail: e.to_string(),
            })
    }

    /// The last part of the repository (`labs/bank:1` → `bank`): the scenario's name.
    pub fn name(&self) -> &str {
        let repo = self.reference.repository();
        repo.rsplit('/').next().unwrap_or(repo)
    }

    fn registry(&self) -> &str {
        self.reference.resolve_registry()
    }
}

/// True for `oci://…`, and for specs that are not a path of an existing file, do not end in
/// `.wasm`, have a first part that names a host (with a dot or a port, or `localhost`) and a
/// tag or a digest: `127.0.0.1:5000/labs/bank:1`, `ghcr.io/team/lab@sha256:…`.
pub fn looks_like_reference(spec: &str) -> bool {
    if spec.starts_with("oci://") {
        return true;
    }
    if spec.ends_with(".wasm") || spec.ends_with(".toml") || Path::new(spec).exists() {
        return false;
    }
    let Some((host, rest)) = spec.split_once('/') else {
        return false;
    };
    let names_host = host == "localhost"
        || host.starts_with('[')
        || ((host.contains('.') || host.contains(':')) && host.chars().any(|c| c != '.'));
    let last = rest.rsplit('/').next().unwrap_or(rest);
    names_host && !rest.is_empty() && (last.contains(':') || last.contains('@'))
}

/// Whether the `:N` that ends `spec` is a reference's tag rather than an instance count:
/// `127.0.0.1:5000/labs/bank:1` is the tag `1` (without it no tag is left), while
/// `127.0.0.1:5000/labs/bank:1:4` is four instances of it.
pub fn ends_in_tag(spec: &str) -> bool {
    let Some((name, _)) = spec.rsplit_once(':') else {
        return false;
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    looks_like_reference(spec)
        && name.contains('/')
        && !name.ends_with(".wasm")
        && !Path::new(name).exists()
        && !last.contains(':')
        && !last.contains('@')
}

/// A component pulled from a registry (or its cache).
#[derive(Debug, Clone)]
pub struct Pulled {
    pub reference: ImageRef,
    /// The manifest's digest, when the registry was asked (or the reference carried it).
    pub manifest_digest: Option<String>,
    /// `sha256:` and the SHA-256 of `bytes`.
    pub layer_digest: String,
    pub bytes: Vec<u8>,
    /// Read from the cache without asking the registry.
    pub from_cache: bool,
}

/// A plan artifact pulled from a registry (or its cache), its folder written in the cache.
#[derive(Debug, Clone)]
pub struct PulledPlan {
    pub reference: ImageRef,
    pub manifest_digest: String,
    /// The folder holding the plan file and its components.
    pub folder: PathBuf,
    /// The plan file's path in the folder, and the components' (relative paths).
    pub plan: String,
    pub components: Vec<String>,
    pub from_cache: bool,
}

impl PulledPlan {
    pub fn plan_path(&self) -> PathBuf {
        self.folder.join(&self.plan)
    }
}

/// What a reference names.
#[derive(Debug, Clone)]
pub enum Artifact {
    Component(Pulled),
    Plan(PulledPlan),
}

/// What a push made.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub manifest_digest: String,
    /// The component's layer digest (for a plan: the plan file's).
    pub layer_digest: String,
    pub manifest_url: String,
}

/// Pushes `wasm` to `reference`: a component with its world, or a core module (`None`);
/// its layer titled `title` (its file name), as `wkg` titles it.
pub fn push(
    wasm: Vec<u8>,
    world: Option<&ComponentWorld>,
    title: &str,
    reference: &ImageRef,
) -> Result<Pushed, RegistryError> {
    let layer_digest = sha256_digest(&wasm);
    let config = WasmConfig {
        created: layout::rfc3339(std::time::SystemTime::now()),
        architecture: "wasm",
        // As the layout says: `wasip2` for components, `wasip1` for core modules.
        os: if world.is_some() { "wasip2" } else { "wasip1" },
        layer_digests: vec![layer_digest.clone()],
        component: world,
    };
    let config = Config::new(
        serde_json::to_vec(&config).expect("the config serialises"),
        WASM_CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let title = layout::titled(title).filter(|_| is_safe_path(title));
    let layers = vec![ImageLayer::new(
        wasm,
        WASM_LAYER_MEDIA_TYPE.to_owned(),
        title,
    )];
    push_manifest(reference, layers, config, None, layer_digest)
}

/// A plan to push: the plan file (its path in the artifact, usually its file name) and the
/// component files it runs, by their paths relative to the plan's folder.
pub struct PlanFiles {
    pub name: String,
    pub plan: (String, Vec<u8>),
    pub components: Vec<(String, Vec<u8>)>,
}

/// Pushes a plan and its components to `reference` as one artifact ([`layout`]).
pub fn push_plan(files: PlanFiles, reference: &ImageRef) -> Result<Pushed, RegistryError> {
    let bad = |detail: String| RegistryError::BadReference {
        reference: reference.to_string(),
        detail,
    };
    for path in std::iter::once(&files.plan.0).chain(files.components.iter().map(|c| &c.0)) {
        if !is_safe_path(path) {
            return Err(bad(format!("`{path}` cannot be a path in a plan artifact")));
        }
    }
    let plan_digest = sha256_digest(&files.plan.1);
    let config = PlanConfig {
        created: layout::rfc3339(std::time::SystemTime::now()),
        name: &files.name,
        plan: &files.plan.0,
        components: files
            .components
            .iter()
            .map(|(path, bytes)| PlanComponent {
                path,
                digest: sha256_digest(bytes),
            })
            .collect(),
    };
    let config = Config::new(
        serde_json::to_vec(&config).expect("the config serialises"),
        PLAN_CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let mut layers = vec![ImageLayer::new(
        files.plan.1,
        PLAN_LAYER_MEDIA_TYPE.to_owned(),
        layout::titled(&files.plan.0),
    )];
    for (path, bytes) in files.components {
        layers.push(ImageLayer::new(
            bytes,
            WASM_LAYER_MEDIA_TYPE.to_owned(),
            layout::titled(&path),
        ));
    }
    push_manifest(
        reference,
        layers,
        config,
        Some(PLAN_ARTIFACT_TYPE),
        plan_digest,
    )
}

fn push_manifest(
    reference: &ImageRef,
    layers: Vec<ImageLayer>,
    config: Config,
    artifact_type: Option<&str>,
    layer_digest: String,
) -> Result<Pushed, RegistryError> {
    let mut manifest = OciImageManifest::build(&layers, &config, None);
    manifest.media_type = Some(MANIFEST_MEDIA_TYPE.to_owned());
    manifest.artifact_type = artifact_type.map(str::to_owned);
    let r = reference.clone();
    let (response, manifest_digest) = on_own_runtime(move || async move {
        let (client, auth) = client_for(&r)?;
        let response = client
            .push(&r.reference, &layers, config, &auth, Some(manifest))
            .await
            .map_err(|e| classify(&r, e))?;
        // The digest the registry keeps (it hashes the manifest as the client wrote it).
        let digest = client
            .fetch_manifest_digest(&r.reference, &auth)
            .await
            .map_err(|e| classify(&r, e))?;
        Ok((response, digest))
    })?;
    Ok(Pushed {
        manifest_digest,
        layer_digest,
        manifest_url: response.manifest_url,
    })
}

/// Pulls the component `reference` names. `pin` is the SHA-256 (64 hex digits) the bytes
/// must have; with it, or with a reference by digest, a cached copy is used without asking
/// the registry.
pub fn pull(reference: &ImageRef, pin: Option<&str>) -> Result<Pulled, RegistryError> {
    match pull_artifact(reference, pin)? {
        Artifact::Component(pulled) => Ok(pulled),
        Artifact::Plan(_) => Err(RegistryError::IsPlan {
            reference: reference.to_string(),
        }),
    }
}

/// Pulls what `reference` names, a component or a plan (see [`pull`] for `pin`, which only
/// a component can match).
pub fn pull_artifact(reference: &ImageRef, pin: Option<&str>) -> Result<Artifact, RegistryError> {
    let cache = Cache::from_env();
    let wanted = reference.reference.digest().map(str::to_owned);
    if let Some(hit) = from_cache(&cache, reference, wanted.as_deref(), pin)? {
        return Ok(hit);
    }
    let r = reference.clone();
    let pin = pin.map(|p| format!("sha256:{p}"));
    let blobs_at = cache.clone();
    let (manifest_digest, entry, blobs) =
        on_own_runtime(move || async move { fetch(&r, pin.as_deref(), &blobs_at).await })?;
    if let Some(want) = &wanted {
        if want != &manifest_digest {
            return Err(RegistryError::DigestMismatch {
                reference: reference.to_string(),
                expected: want.clone(),
                actual: manifest_digest,
            });
        }
    }
    for (digest, bytes) in &blobs {
        cache.store_blob(digest, bytes)?;
    }
    cache.store_entry(&manifest_digest, &entry)?;
    match entry {
        Entry::Component(layer_digest) => {
            let bytes = blobs.into_iter().next().map(|(_, b)| b).unwrap_or_default();
            Ok(Artifact::Component(Pulled {
                reference: reference.clone(),
                manifest_digest: Some(manifest_digest),
                layer_digest,
                bytes,
                from_cache: false,
            }))
        }
        Entry::Plan { .. } => {
            let folder = cache
                .plan_folder(&manifest_digest, &entry, MAX_COMPONENT_BYTES)?
                .ok_or_else(|| RegistryError::Cache {
                    path: cache_path_hint(),
                    cause: std::io::Error::other("the plan's files did not stay in the cache"),
                })?;
            Ok(Artifact::Plan(pulled_plan(
                reference,
                manifest_digest,
                folder,
                &entry,
                false,
            )))
        }
    }
}

fn cache_path_hint() -> PathBuf {
    PathBuf::from(std::env::var_os("HZLAB_OCI_CACHE_DIR").unwrap_or_default())
}

fn pulled_plan(
    reference: &ImageRef,
    manifest_digest: String,
    folder: PathBuf,
    entry: &Entry,
    from_cache: bool,
) -> PulledPlan {
    let (plan, components) = match entry {
        Entry::Plan { plan, components } => (
            plan.0.clone(),
            components.iter().map(|(p, _)| p.clone()).collect(),
        ),
        Entry::Component(_) => (String::new(), Vec::new()),
    };
    PulledPlan {
        reference: reference.clone(),
        manifest_digest,
        folder,
        plan,
        components,
        from_cache,
    }
}

/// A pinned reference's artifact from the cache, when it is there whole.
fn from_cache(
    cache: &Cache,
    reference: &ImageRef,
    wanted: Option<&str>,
    pin: Option<&str>,
) -> Result<Option<Artifact>, RegistryError> {
    let component = |layer: String, manifest: Option<&str>| {
        cache.blob(&layer, MAX_COMPONENT_BYTES).map(|bytes| {
            Artifact::Component(Pulled {
                reference: reference.clone(),
                manifest_digest: manifest.map(str::to_owned),
                layer_digest: layer,
                bytes,
                from_cache: true,
            })
        })
    };
    if let Some(pin) = pin {
        return Ok(component(format!("sha256:{pin}"), wanted));
    }
    let Some(manifest) = wanted else {
        return Ok(None);
    };
    match cache.entry(manifest) {
        Some(Entry::Component(layer)) => Ok(component(layer, Some(manifest))),
        Some(entry @ Entry::Plan { .. }) => Ok(cache
            .plan_folder(manifest, &entry, MAX_COMPONENT_BYTES)?
            .map(|folder| {
                Artifact::Plan(pulled_plan(
                    reference,
                    manifest.to_owned(),
                    folder,
                    &entry,
                    true,
                ))
            })),
        None => Ok(None),
    }
}

/// A layer's bytes: the cache's copy, else the registry's.
async fn layer_bytes(
    client: &oci_client::Client,
    r: &ImageRef,
    cache: &Cache,
    layer: &oci_client::manifest::OciDescriptor,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, RegistryError> {
    match cache.blob(&layer.digest, limit) {
        Some(bytes) => Ok(bytes),
        None => blob(client, r, layer, limit, what).await,
    }
}

/// Asks the registry for the manifest, checks it against the layouts, and fetches its
/// layers (those the cache does not hold already): the manifest's digest, what it holds,
/// and each blob with its digest.
async fn fetch(
    r: &ImageRef,
    pin: Option<&str>,
    cache: &Cache,
) -> Result<(String, Entry, Vec<(String, Vec<u8>)>), RegistryError> {
    let (client, auth) = client_for(r)?;
    let (manifest, digest) = client::manifest(&client, &auth, r).await?;
    let kind = layout::kind(&manifest).map_err(|detail| RegistryError::NotWasm {
        reference: r.to_string(),
        detail,
    })?;
    match kind {
        Kind::Component(layer) => {
            if let Some(pin) = pin {
                if layer.digest != pin {
                    return Err(RegistryError::DigestMismatch {
                        reference: r.to_string(),
                        expected: pin.to_owned(),
                        actual: layer.digest.clone(),
                    });
                }
            }
            let bytes = layer_bytes(
                &client,
                r,
                cache,
                layer,
                MAX_COMPONENT_BYTES,
                "the component",
            )
            .await?;
            let entry = Entry::Component(layer.digest.clone());
            Ok((digest, entry, vec![(layer.digest.clone(), bytes)]))
        }
        Kind::Plan { plan, components } => {
            let declared: u64 = std::iter::once(plan.1)
                .chain(components.iter().map(|c| c.1))
                .map(|l| u64::try_from(l.size).unwrap_or(u64::MAX))
                .fold(0, u64::saturating_add);
            if declared > MAX_PLAN_ARTIFACT_BYTES {
                return Err(RegistryError::TooLarge {
                    reference: r.to_string(),
                    what: "the plan's files".into(),
                    size: declared,
                    limit: MAX_PLAN_ARTIFACT_BYTES,
                });
            }
            let mut blobs = vec![(
                plan.1.digest.clone(),
                layer_bytes(&client, r, cache, plan.1, MAX_PLAN_FILE_BYTES, "the plan").await?,
            )];
            for (path, layer) in &components {
                let what = format!("component `{path}`");
                let bytes =
                    layer_bytes(&client, r, cache, layer, MAX_COMPONENT_BYTES, &what).await?;
                blobs.push((layer.digest.clone(), bytes));
            }
            let entry = Entry::Plan {
                plan: (plan.0.to_owned(), plan.1.digest.clone()),
                components: components
                    .iter()
                    .map(|(p, l)| ((*p).to_owned(), l.digest.clone()))
                    .collect(),
            };
            Ok((digest, entry, blobs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_told_from_paths_and_names() {
        for r in [
            "127.0.0.1:5000/labs/bank:1",
            "localhost:5000/labs/bank:1.0",
            "localhost/bank:latest",
            "ghcr.io/team/lab@sha256:0123",
            "oci://registry.example/x",
        ] {
            assert!(looks_like_reference(r), "{r}");
        }
        for p in [
            "race",
            "bank.wasm",
            "../scenarios/bank",
            "./bank:1",
            "build/out/bank",
            "my.dir/bank",
            "plan.toml",
            "ghcr.io/x.wasm",
        ] {
            assert!(!looks_like_reference(p), "{p}");
        }
        assert!(ends_in_tag("127.0.0.1:5000/labs/bank:1"));
        assert!(ends_in_tag("oci://localhost/bank:2"));
        assert!(!ends_in_tag("127.0.0.1:5000/labs/bank:1:4"));
        assert!(!ends_in_tag("ghcr.io/labs/bank@sha256:0123:4"));
        assert!(!ends_in_tag("out.d/bank.wasm:4"));
        assert!(!ends_in_tag("race:4"));
        let r = ImageRef::parse("oci://127.0.0.1:5000/labs/bank:1")
            .unwrap()
            .unwrap();
        assert_eq!(r.to_string(), "127.0.0.1:5000/labs/bank:1");
        assert_eq!(r.name(), "bank");
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert!(matches!(
            ImageRef::parse("localhost:5000/Bad Name:1"),
            Some(Err(RegistryError::BadReference { .. }))
        ));
    }
}
