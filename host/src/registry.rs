//! Scenarios shared through OCI registries, in the CNCF Wasm artifact layout: a manifest whose
//! config has the media type `application/vnd.wasm.config.v0+json` and whose one layer is the
//! component (`application/wasm`), as `wkg oci push` and Spin write them.
//!
//! A reference is `[oci://]HOST[:PORT]/REPOSITORY(:TAG|@sha256:DIGEST)`. Pulled components
//! are cached by their layer's digest (the SHA-256 of the component's bytes, which is what a
//! plan's `sha256` pins), so a reference pinned by a manifest digest, or by a plan's `sha256`,
//! runs from the cache without reaching the registry. Tags always ask the registry, since a
//! tag can move.
//!
//! Plain HTTP is used for loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) and for
//! any registry when [`Access::insecure`] is set; HTTPS otherwise. Credentials come from
//! [`Access`] (the command line) or else from Docker's config (`$DOCKER_CONFIG/config.json`,
//! `~/.docker/config.json`, with its credential helpers); anonymous without either.
//!
//! The registry client is async; [`pull`] and [`push`] run it on a thread of their own, so
//! they can be called from anywhere (also from inside a runtime).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol, Config, ImageLayer};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::OciImageManifest;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use sha2::{Digest, Sha256};

/// The config media type of a Wasm artifact (CNCF TAG Runtime's Wasm OCI artifact layout).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the component layer.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The layer media type older tools (wasm-to-oci) wrote; read, never written.
const LEGACY_WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The largest component pulled: as for files (`scenario::MAX_SCENARIO_BYTES`).
pub const MAX_COMPONENT_BYTES: u64 = 128 << 20;

/// How long to wait for a registry to accept a connection, and for each read.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

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
    #[error(
        "the component of `{reference}` is {size} bytes, more than the {limit} a scenario may have"
    )]
    TooLarge {
        reference: String,
        size: u64,
        limit: u64,
    },
    #[error("cannot read credentials for {registry} from Docker's config {}: {detail}", path.display())]
    Credentials {
        registry: String,
        path: PathBuf,
        detail: String,
    },
    #[error("the registry failed on `{reference}`: {detail}")]
    Registry { reference: String, detail: String },
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

/// What a push made.
#[derive(Debug, Clone)]
pub struct Pushed {
    pub manifest_digest: String,
    pub layer_digest: String,
    pub manifest_url: String,
}

/// The world a component targets, for the artifact's config: its imports and exports, and
/// the world's name (`hzlab:scenario/scenario@0.2.0`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ComponentWorld {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The CNCF Wasm artifact config (`application/vnd.wasm.config.v0+json`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WasmConfig<'a> {
    created: String,
    architecture: &'static str,
    os: &'static str,
    layer_digests: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a ComponentWorld>,
}

/// `time` as RFC 3339 in UTC, to the second (`2026-12-04T18:05:00Z`).
fn rfc3339(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem / 60 % 60,
        rem % 60
    )
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Pushes `wasm` to `reference`: a component with its world, or a core module (`None`).
pub fn push(
    wasm: Vec<u8>,
    world: Option<&ComponentWorld>,
    reference: &ImageRef,
) -> Result<Pushed, RegistryError> {
    let component = wasm;
    let layer_digest = sha256_digest(&component);
    let config = WasmConfig {
        created: rfc3339(std::time::SystemTime::now()),
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
    let layers = vec![ImageLayer::new(
        component,
        WASM_LAYER_MEDIA_TYPE.to_owned(),
        None,
    )];
    let mut manifest = OciImageManifest::build(&layers, &config, None);
    manifest.media_type = Some(MANIFEST_MEDIA_TYPE.to_owned());
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
    let cache = Cache::from_env();
    let wanted_manifest = reference.reference.digest().map(str::to_owned);
    if let Some(cache) = &cache {
        let layer = match (&wanted_manifest, pin) {
            (_, Some(pin)) => Some(format!("sha256:{pin}")),
            (Some(manifest), None) => cache.layer_of(manifest),
            (None, None) => None,
        };
        if let Some(layer) = layer {
            if let Some(bytes) = cache.blob(&layer) {
                return Ok(Pulled {
                    reference: reference.clone(),
                    manifest_digest: wanted_manifest,
                    layer_digest: layer,
                    bytes,
                    from_cache: true,
                });
            }
        }
    }
    let r = reference.clone();
    let pin = pin.map(|p| format!("sha256:{p}"));
    let (manifest_digest, layer_digest, bytes) =
        on_own_runtime(move || async move { fetch(&r, pin.as_deref()).await })?;
    if let Some(want) = &wanted_manifest {
        if want != &manifest_digest {
            return Err(RegistryError::DigestMismatch {
                reference: reference.to_string(),
                expected: want.clone(),
                actual: manifest_digest,
            });
        }
    }
    if let Some(cache) = &cache {
        cache.store(&manifest_digest, &layer_digest, &bytes)?;
    }
    Ok(Pulled {
        reference: reference.clone(),
        manifest_digest: Some(manifest_digest),
        layer_digest,
        bytes,
        from_cache: false,
    })
}

/// Asks the registry: the manifest (a Wasm artifact's, checked), then its one layer, its
/// size bounded and its digest checked.
async fn fetch(
    r: &ImageRef,
    pin: Option<&str>,
) -> Result<(String, String, Vec<u8>), RegistryError> {
    use futures_util::StreamExt as _;
    let (client, auth) = client_for(r)?;
    let (manifest, manifest_digest) = client
        .pull_image_manifest(&r.reference, &auth)
        .await
        .map_err(|e| classify(r, e))?;
    let not_wasm = |detail: String| RegistryError::NotWasm {
        reference: r.to_string(),
        detail,
    };
    if manifest.config.media_type != WASM_CONFIG_MEDIA_TYPE {
        return Err(not_wasm(format!(
            "its config is `{}`, not `{WASM_CONFIG_MEDIA_TYPE}` (a container image?)",
            manifest.config.media_type
        )));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(not_wasm(format!(
            "it has {} layers, not the one component",
            manifest.layers.len()
        )));
    };
    if layer.media_type != WASM_LAYER_MEDIA_TYPE && layer.media_type != LEGACY_WASM_LAYER_MEDIA_TYPE
    {
        return Err(not_wasm(format!(
            "its layer is `{}`, not `{WASM_LAYER_MEDIA_TYPE}`",
            layer.media_type
        )));
    }
    if let Some(pin) = pin {
        if layer.digest != pin {
            return Err(RegistryError::DigestMismatch {
                reference: r.to_string(),
                expected: pin.to_owned(),
                actual: layer.digest.clone(),
            });
        }
    }
    let too_large = |size: u64| RegistryError::TooLarge {
        reference: r.to_string(),
        size,
        limit: MAX_COMPONENT_BYTES,
    };
    let declared = u64::try_from(layer.size).unwrap_or(0);
    if declared > MAX_COMPONENT_BYTES {
        return Err(too_large(declared));
    }
    let mut blob = client
        .pull_blob_stream(&r.reference, layer)
        .await
        .map_err(|e| classify(r, e))?;
    let mut bytes = Vec::with_capacity(declared as usize);
    while let Some(chunk) = blob.stream.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Registry {
            reference: r.to_string(),
            detail: format!("reading the component: {e}"),
        })?;
        if (bytes.len() + chunk.len()) as u64 > MAX_COMPONENT_BYTES {
            return Err(too_large((bytes.len() + chunk.len()) as u64));
        }
        bytes.extend_from_slice(&chunk);
    }
    let actual = sha256_digest(&bytes);
    if actual != layer.digest {
        return Err(RegistryError::DigestMismatch {
            reference: r.to_string(),
            expected: layer.digest.clone(),
            actual,
        });
    }
    Ok((manifest_digest, actual, bytes))
}

/// True for `localhost`, `127.0.0.0/8` and `[::1]`, with or without a port.
fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        registry.split(':').next().unwrap_or(registry)
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn client_for(r: &ImageRef) -> Result<(Client, RegistryAuth), RegistryError> {
    let access = access();
    let registry = r.registry().to_owned();
    let protocol = if access.insecure || is_loopback(&registry) {
        ClientProtocol::HttpsExcept(vec![registry.clone()])
    } else {
        ClientProtocol::Https
    };
    let client = Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..ClientConfig::default()
    });
    let auth = match access.credentials {
        Some((user, password)) => RegistryAuth::Basic(user, password),
        None => docker_auth(&registry)?,
    };
    Ok((client, auth))
}

/// Docker's config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn docker_config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .map(|dir| dir.join("config.json"))
}

/// The credentials Docker's config holds for `registry` (through its credential helpers
/// when it names them); anonymous when there is no config or it holds none.
fn docker_auth(registry: &str) -> Result<RegistryAuth, RegistryError> {
    use docker_credential::{CredentialRetrievalError as E, DockerCredential};
    let Some(path) = docker_config_path() else {
        return Ok(RegistryAuth::Anonymous);
    };
    let failed = |detail: String| RegistryError::Credentials {
        registry: registry.to_owned(),
        path: path.clone(),
        detail,
    };
    let text = match read_small(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RegistryAuth::Anonymous),
        Err(e) => return Err(failed(e.to_string())),
    };
    // Docker keys Docker Hub's entry by its old index URL.
    let server = if registry == "docker.io" || registry == "index.docker.io" {
        "https://index.docker.io/v1/"
    } else {
        registry
    };
    match docker_credential::get_credential_from_reader(text.as_slice(), server) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password))
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(RegistryAuth::Bearer(token)),
        Err(E::NoCredentialConfigured) => Ok(RegistryAuth::Anonymous),
        Err(e) => Err(failed(e.to_string())),
    }
}

/// A file of at most 1 MiB (a config larger than that is not Docker's).
fn read_small(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take((1 << 20) + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > 1 << 20 {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(bytes)
}

/// Sorts the registry client's errors into ours.
fn classify(r: &ImageRef, e: OciDistributionError) -> RegistryError {
    use oci_client::errors::OciErrorCode as C;
    let reference = r.to_string();
    let unauthorized = |detail: String| RegistryError::Unauthorized {
        reference: reference.clone(),
        detail,
    };
    let not_found = || RegistryError::NotFound {
        reference: reference.clone(),
    };
    match e {
        OciDistributionError::UnauthorizedError { url } => unauthorized(url),
        OciDistributionError::AuthenticationFailure(d) => unauthorized(d),
        OciDistributionError::ImageManifestNotFoundError(_) => not_found(),
        OciDistributionError::ServerError {
            code: 401 | 403,
            message,
            ..
        } => unauthorized(message),
        OciDistributionError::ServerError { code: 404, .. } => not_found(),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&C> = envelope.errors.iter().map(|e| &e.code).collect();
            let text = envelope
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            if codes
                .iter()
                .any(|c| matches!(c, C::Unauthorized | C::Denied))
            {
                unauthorized(text)
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    C::ManifestUnknown | C::NameUnknown | C::NotFound | C::BlobUnknown
                )
            }) {
                not_found()
            } else {
                RegistryError::Registry {
                    reference,
                    detail: text,
                }
            }
        }
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            RegistryError::Unreachable {
                reference,
                registry: r.registry().to_owned(),
                detail: error_chain(&e),
            }
        }
        OciDistributionError::UnsupportedMediaTypeError(d)
        | OciDistributionError::IncompatibleLayerMediaTypeError(d) => RegistryError::NotWasm {
            reference,
            detail: d,
        },
        OciDistributionError::ImageIndexParsingNoPlatformResolverError => RegistryError::NotWasm {
            reference,
            detail: "it is an image index (a multi-platform container image?)".into(),
        },
        other => RegistryError::Registry {
            reference,
            detail: error_chain(&other),
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// Runs `work` to its end on a current-thread runtime of a thread of its own.
fn on_own_runtime<F, Fut, T>(work: F) -> Result<T, RegistryError>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, RegistryError>>,
    T: Send + 'static,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|cause| RegistryError::Cache {
                    path: PathBuf::from("(runtime)"),
                    cause,
                })?;
            runtime.block_on(work())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Pulled components by layer digest, and which layer each pulled manifest has.
///
/// Where: `HZLAB_OCI_CACHE_DIR`, else `$XDG_CACHE_HOME/hzlab/oci`, else
/// `$HOME/.cache/hzlab/oci`. `blobs/sha256/HEX` holds a component (checked against its name
/// when read), `manifests/sha256/HEX` the layer digest of a manifest.
struct Cache {
    dir: PathBuf,
}

impl Cache {
    fn from_env() -> Option<Cache> {
        let dir = match std::env::var_os("HZLAB_OCI_CACHE_DIR") {
            Some(d) => PathBuf::from(d),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?
                .join("hzlab")
                .join("oci"),
        };
        Some(Cache { dir })
    }

    fn path(&self, kind: &str, digest: &str) -> Option<PathBuf> {
        let hex = digest.strip_prefix("sha256:")?;
        (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| self.dir.join(kind).join("sha256").join(hex))
    }

    fn layer_of(&self, manifest: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.path("manifests", manifest)?).ok()?;
        let layer = text.trim().to_owned();
        self.path("blobs", &layer).map(|_| layer)
    }

    /// The cached component with `digest`, if there is one whose bytes match it.
    fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        let path = self.path("blobs", digest)?;
        if std::fs::metadata(&path).ok()?.len() > MAX_COMPONENT_BYTES {
            return None;
        }
        let bytes = std::fs::read(&path).ok()?;
        if sha256_digest(&bytes) == digest {
            Some(bytes)
        } else {
            let _ = std::fs::remove_file(&path);
            None
        }
    }

    fn store(&self, manifest: &str, layer: &str, bytes: &[u8]) -> Result<(), RegistryError> {
        let (Some(blob), Some(entry)) =
            (self.path("blobs", layer), self.path("manifests", manifest))
        else {
            return Ok(());
        };
        write_atomically(&blob, bytes)?;
        write_atomically(&entry, layer.as_bytes())
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let error = |cause| RegistryError::Cache {
        path: path.to_owned(),
        cause,
    };
    let dir = path.parent().expect("cache entries are in a folder");
    std::fs::create_dir_all(dir).map_err(error)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(error)?;
    std::fs::rename(&tmp, path).map_err(error)
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

    #[test]
    fn times_are_written_as_rfc_3339() {
        let at = |secs| rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_796_407_445), "2026-12-04T18:04:05Z");
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for r in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "10.0.0.1:5000",
            "localhost.example:5000",
            "[fe80::1]:5000",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn the_cache_gives_back_only_matching_bytes() {
        let dir = std::env::temp_dir().join(format!("hzlab-oci-cache-{}", std::process::id()));
        let cache = Cache { dir: dir.clone() };
        let bytes = b"\0asm component".to_vec();
        let layer = sha256_digest(&bytes);
        let manifest = sha256_digest(b"manifest");
        cache.store(&manifest, &layer, &bytes).unwrap();
        assert_eq!(cache.layer_of(&manifest).as_deref(), Some(layer.as_str()));
        assert_eq!(cache.blob(&layer), Some(bytes));
        // A damaged entry is not used, and is removed.
        std::fs::write(cache.path("blobs", &layer).unwrap(), b"damaged").unwrap();
        assert_eq!(cache.blob(&layer), None);
        assert!(!cache.path("blobs", &layer).unwrap().exists());
        assert_eq!(cache.path("blobs", "sha256:../../etc"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
