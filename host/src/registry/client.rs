//! Talking to registries: the client (HTTPS, or plain HTTP to loopback or with `--insecure`),
//! credentials (the command line's, or Docker's config), the client's errors sorted into
//! ours, and a runtime of its own to run on.

use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::Client;
use oci_client::RegistryOperation;

use super::layout::sha256_digest;
use super::{access, ImageRef, RegistryError};

/// How long to wait for a registry to accept a connection, and for each read.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest manifest read: the OCI distribution spec asks registries to take manifests
/// of up to 4 MiB, and hzlab's are a few hundred bytes.
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// What a manifest request accepts: image manifests, and indexes (to say what they are).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// The manifest `r` names, and its digest (the SHA-256 of the bytes the registry sent).
///
/// Read here, at most [`MAX_MANIFEST_BYTES`], rather than by the client, which reads a
/// response whole whatever its size: a hostile registry cannot exhaust memory with an endless
/// manifest. The client still does the authentication (the token exchange).
pub(super) async fn manifest(
    client: &Client,
    auth: &RegistryAuth,
    r: &ImageRef,
) -> Result<(OciImageManifest, String), RegistryError> {
    use futures_util::StreamExt as _;
    let token = client
        .auth(&r.reference, auth, RegistryOperation::Pull)
        .await
        .map_err(|e| classify(r, e))?;
    let registry = r.reference.resolve_registry();
    let scheme = if plain_http(registry, access().insecure) {
        "http"
    } else {
        "https"
    };
    let url = format!(
        "{scheme}://{registry}/v2/{}/manifests/{}",
        r.reference.repository(),
        r.reference
            .digest()
            .or(r.reference.tag())
            .unwrap_or("latest")
    );
    let unreachable = |e: reqwest::Error| RegistryError::Unreachable {
        reference: r.to_string(),
        registry: r.registry().to_owned(),
        detail: error_chain(&e),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(unreachable)?;
    let mut request = http.get(&url).header("Accept", MANIFEST_ACCEPT);
    request = match (token, auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        (None, RegistryAuth::Bearer(token)) => request.bearer_auth(token),
        (None, RegistryAuth::Anonymous) => request,
    };
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| RegistryError::Registry {
            reference: r.to_string(),
            detail: format!("reading the manifest: {}", error_chain(&e)),
        })?;
        if body.len() + chunk.len() > MAX_MANIFEST_BYTES {
            return Err(RegistryError::TooLarge {
                reference: r.to_string(),
                what: "the manifest".into(),
                size: (body.len() + chunk.len()) as u64,
                limit: MAX_MANIFEST_BYTES as u64,
            });
        }
        body.extend_from_slice(&chunk);
    }
    match status {
        200 => {}
        401 | 403 => {
            return Err(RegistryError::Unauthorized {
                reference: r.to_string(),
                detail: format!("HTTP {status} for the manifest"),
            })
        }
        404 => {
            return Err(RegistryError::NotFound {
                reference: r.to_string(),
            })
        }
        _ => {
            return Err(RegistryError::Registry {
                reference: r.to_string(),
                detail: format!(
                    "HTTP {status} for the manifest: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ),
            })
        }
    }
    let not_wasm = |detail: String| RegistryError::NotWasm {
        reference: r.to_string(),
        detail,
    };
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| not_wasm(format!("its manifest is not JSON ({e})")))?;
    let media_type = value["mediaType"]
        .as_str()
        .unwrap_or(content_type.split(';').next().unwrap_or_default())
        .trim()
        .to_owned();
    if media_type.contains("index") || media_type.contains("manifest.list") {
        return Err(not_wasm(format!(
            "it is an image index (`{media_type}`): a multi-platform container image?"
        )));
    }
    let manifest: OciImageManifest = serde_json::from_value(value)
        .map_err(|e| not_wasm(format!("its manifest is not an OCI image manifest ({e})")))?;
    Ok((manifest, sha256_digest(&body)))
}

/// The blob `layer` describes: at most `limit` bytes, and no more than the manifest
/// declares; its digest checked. `what` names it in errors (`the component`).
pub(super) async fn blob(
    client: &Client,
    r: &ImageRef,
    layer: &OciDescriptor,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, RegistryError> {
    use futures_util::StreamExt as _;
    let too_large = |size: u64| RegistryError::TooLarge {
        reference: r.to_string(),
        what: what.to_owned(),
        size,
        limit,
    };
    let declared = u64::try_from(layer.size).unwrap_or(0);
    if declared > limit {
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
            detail: format!("reading {what}: {e}"),
        })?;
        // The manifest says how long the blob is: not a byte more is read.
        if (bytes.len() + chunk.len()) as u64 > declared {
            return Err(RegistryError::Registry {
                reference: r.to_string(),
                detail: format!(
                    "it sends more of {what} than the {declared} bytes its manifest declares"
                ),
            });
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
    Ok(bytes)
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

/// Plain HTTP to `registry` only when it is on loopback, or `insecure` allows it.
fn plain_http(registry: &str, insecure: bool) -> bool {
    insecure || is_loopback(registry)
}

fn protocol_for(registry: &str, insecure: bool) -> ClientProtocol {
    if plain_http(registry, insecure) {
        ClientProtocol::HttpsExcept(vec![registry.to_owned()])
    } else {
        ClientProtocol::Https
    }
}

pub(super) fn client_for(r: &ImageRef) -> Result<(Client, RegistryAuth), RegistryError> {
    let access = access();
    let registry = r.registry().to_owned();
    let client = Client::new(ClientConfig {
        protocol: protocol_for(&registry, access.insecure),
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
pub(super) fn classify(r: &ImageRef, e: OciDistributionError) -> RegistryError {
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
pub(super) fn on_own_runtime<F, Fut, T>(work: F) -> Result<T, RegistryError>
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
                .map_err(RegistryError::Runtime)?;
            runtime.block_on(work())
        })
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback_unless_insecure() {
        let http = |r: &str| ClientProtocol::HttpsExcept(vec![r.to_owned()]);
        assert_eq!(
            protocol_for("127.0.0.1:5000", false),
            http("127.0.0.1:5000")
        );
        assert_eq!(protocol_for("ghcr.io", false), ClientProtocol::Https);
        assert_eq!(protocol_for("10.0.0.1:5000", false), ClientProtocol::Https);
        assert_eq!(protocol_for("10.0.0.1:5000", true), http("10.0.0.1:5000"));
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
}
