//! The artifacts' layouts, their media types and configs.
//!
//! - **A component**: the CNCF Wasm artifact layout (TAG Runtime's Wasm OCI artifact, as `wkg
//!   oci push` and Spin write it): config `application/vnd.wasm.config.v0+json` (created,
//!   architecture `wasm`, os `wasip2`, layerDigests, and the component's world), one
//!   `application/wasm` layer holding the component.
//! - **A plan**: hzlab's own artifact (artifactType `application/vnd.hzlab.plan.v1`): config
//!   `application/vnd.hzlab.plan.config.v1+json` (created, the plan's name and file, each
//!   component's path and digest), a first layer `application/vnd.hzlab.plan.v1+toml` holding
//!   the plan file, then one `application/wasm` layer per component file the plan runs. Every
//!   layer carries its path relative to the plan's folder as its
//!   `org.opencontainers.image.title` annotation, so `oras pull` writes the same folder.

use std::collections::BTreeMap;

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::{Digest, Sha256};

/// The config media type of a Wasm artifact (CNCF TAG Runtime's Wasm OCI artifact layout).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of a component layer.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The layer media type older tools (wasm-to-oci) wrote; read, never written.
const LEGACY_WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// A plan artifact's type, config and plan layer.
pub const PLAN_ARTIFACT_TYPE: &str = "application/vnd.hzlab.plan.v1";
pub const PLAN_CONFIG_MEDIA_TYPE: &str = "application/vnd.hzlab.plan.config.v1+json";
pub const PLAN_LAYER_MEDIA_TYPE: &str = "application/vnd.hzlab.plan.v1+toml";
/// The annotation naming a layer's file (as ORAS uses it).
pub const TITLE_ANNOTATION: &str = "org.opencontainers.image.title";

/// The largest component pulled: as for files (`scenario::MAX_SCENARIO_BYTES`).
pub const MAX_COMPONENT_BYTES: u64 = 128 << 20;
/// The largest plan file pulled: as for files (`plan::MAX_PLAN_BYTES`).
pub const MAX_PLAN_FILE_BYTES: u64 = 1 << 20;
/// The most components one plan artifact may hold.
pub const MAX_PLAN_COMPONENTS: usize = 64;

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
pub(super) struct WasmConfig<'a> {
    pub created: String,
    pub architecture: &'static str,
    pub os: &'static str,
    pub layer_digests: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<&'a ComponentWorld>,
}

/// A plan artifact's config (`application/vnd.hzlab.plan.config.v1+json`).
#[derive(serde::Serialize)]
pub(super) struct PlanConfig<'a> {
    pub created: String,
    /// The plan's `name`.
    pub name: &'a str,
    /// The plan file's path in the artifact (its layer's title).
    pub plan: &'a str,
    pub components: Vec<PlanComponent<'a>>,
}

#[derive(serde::Serialize)]
pub(super) struct PlanComponent<'a> {
    pub path: &'a str,
    pub digest: String,
}

/// What a manifest holds, checked against the layouts.
pub(super) enum Kind<'a> {
    Component(&'a OciDescriptor),
    Plan {
        /// The plan file's layer and path.
        plan: (&'a str, &'a OciDescriptor),
        components: Vec<(&'a str, &'a OciDescriptor)>,
    },
}

/// Which layout `manifest` follows; otherwise why it is neither (for
/// [`super::RegistryError::NotWasm`]).
pub(super) fn kind(manifest: &OciImageManifest) -> Result<Kind<'_>, String> {
    let config = manifest.config.media_type.as_str();
    if config == PLAN_CONFIG_MEDIA_TYPE {
        return plan_kind(manifest);
    }
    if config != WASM_CONFIG_MEDIA_TYPE {
        return Err(format!(
            "its config is `{config}`, not `{WASM_CONFIG_MEDIA_TYPE}` (a container image?)"
        ));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(format!(
            "it has {} layers, not the one component",
            manifest.layers.len()
        ));
    };
    if layer.media_type != WASM_LAYER_MEDIA_TYPE && layer.media_type != LEGACY_WASM_LAYER_MEDIA_TYPE
    {
        return Err(format!(
            "its layer is `{}`, not `{WASM_LAYER_MEDIA_TYPE}`",
            layer.media_type
        ));
    }
    Ok(Kind::Component(layer))
}

fn plan_kind(manifest: &OciImageManifest) -> Result<Kind<'_>, String> {
    let bad = |detail: String| Err(format!("a damaged hzlab plan artifact: {detail}"));
    let Some((first, rest)) = manifest.layers.split_first() else {
        return bad("it has no layers".into());
    };
    if first.media_type != PLAN_LAYER_MEDIA_TYPE {
        return bad(format!(
            "its first layer is `{}`, not the plan (`{PLAN_LAYER_MEDIA_TYPE}`)",
            first.media_type
        ));
    }
    if rest.len() > MAX_PLAN_COMPONENTS {
        return bad(format!(
            "it has {} components, more than the {MAX_PLAN_COMPONENTS} a plan artifact may",
            rest.len()
        ));
    }
    let plan = (title(first)?, first);
    let mut components = Vec::new();
    for layer in rest {
        if layer.media_type != WASM_LAYER_MEDIA_TYPE {
            return bad(format!(
                "a layer is `{}`, not a component (`{WASM_LAYER_MEDIA_TYPE}`)",
                layer.media_type
            ));
        }
        let path = title(layer)?;
        if path == plan.0 || components.iter().any(|(p, _)| *p == path) {
            return bad(format!("two layers are both `{path}`"));
        }
        components.push((path, layer));
    }
    Ok(Kind::Plan { plan, components })
}

/// A layer's file path, when it is one hzlab writes: see [`is_safe_path`].
fn title(layer: &OciDescriptor) -> Result<&str, String> {
    let title = layer
        .annotations
        .as_ref()
        .and_then(|a| a.get(TITLE_ANNOTATION))
        .ok_or_else(|| format!("a layer of the plan artifact has no `{TITLE_ANNOTATION}`"))?;
    if !is_safe_path(title) {
        return Err(format!(
            "a layer of the plan artifact is titled `{title}`, not a plain relative path"
        ));
    }
    Ok(title)
}

/// True for a relative path of at most 8 parts and 255 bytes, each part letters, digits,
/// `-`, `_` and `.`, none starting with `.`: `plan.toml`, `bank/bank.wasm`. What a pulled
/// artifact may write inside its folder (no `..`, no absolute paths, no hidden files).
pub fn is_safe_path(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    !path.is_empty()
        && path.len() <= 255
        && parts.len() <= 8
        && parts.iter().all(|p| {
            !p.is_empty()
                && !p.starts_with('.')
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// A layer's annotations: its title.
pub(super) fn titled(path: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(
        TITLE_ANNOTATION.to_owned(),
        path.to_owned(),
    )]))
}

/// `time` as RFC 3339 in UTC, to the second (`2026-12-04T18:05:00Z`).
pub(super) fn rfc3339(time: std::time::SystemTime) -> String {
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

/// `sha256:` and the SHA-256 of `bytes`, in hex: an OCI digest.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut text = String::with_capacity(71);
    text.push_str("sha256:");
    for b in hash {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_written_as_rfc_3339() {
        let at = |secs| rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_796_407_445), "2026-12-04T18:04:05Z");
    }

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for p in ["plan.toml", "bank/bank.wasm", "a-b_c/d.e/f.wasm"] {
            assert!(is_safe_path(p), "{p}");
        }
        for p in [
            "",
            "/etc/passwd",
            "../x.wasm",
            "a/../../x",
            "a//b",
            ".hidden",
            "a/.x",
            "a b.wasm",
            "a\\b",
            "C:x",
            "a/b/c/d/e/f/g/h/i",
        ] {
            assert!(!is_safe_path(p), "{p}");
        }
    }

    fn layer(media_type: &str, title: Option<&str>) -> OciDescriptor {
        OciDescriptor {
            media_type: media_type.into(),
            digest: sha256_digest(media_type.as_bytes()),
            size: 1,
            annotations: title.and_then(titled),
            ..Default::default()
        }
    }

    fn manifest(config: &str, layers: Vec<OciDescriptor>) -> OciImageManifest {
        let mut m = OciImageManifest::default();
        m.config.media_type = config.into();
        m.layers = layers;
        m
    }

    #[test]
    fn manifests_are_sorted_by_layout() {
        let component = manifest(
            WASM_CONFIG_MEDIA_TYPE,
            vec![layer(WASM_LAYER_MEDIA_TYPE, None)],
        );
        assert!(matches!(kind(&component), Ok(Kind::Component(_))));
        let plan = manifest(
            PLAN_CONFIG_MEDIA_TYPE,
            vec![
                layer(PLAN_LAYER_MEDIA_TYPE, Some("lab.toml")),
                layer(WASM_LAYER_MEDIA_TYPE, Some("bank/bank.wasm")),
            ],
        );
        match kind(&plan) {
            Ok(Kind::Plan { plan, components }) => {
                assert_eq!(plan.0, "lab.toml");
                assert_eq!(components.len(), 1);
                assert_eq!(components[0].0, "bank/bank.wasm");
            }
            _ => panic!("not a plan"),
        }
        let refused = |m: OciImageManifest, says: &str| {
            let e = kind(&m).err().unwrap_or_default();
            assert!(e.contains(says), "{e}");
        };
        refused(
            manifest("application/vnd.oci.image.config.v1+json", vec![]),
            "a container image",
        );
        refused(manifest(WASM_CONFIG_MEDIA_TYPE, vec![]), "0 layers");
        refused(
            manifest(
                PLAN_CONFIG_MEDIA_TYPE,
                vec![
                    layer(PLAN_LAYER_MEDIA_TYPE, Some("lab.toml")),
                    layer(WASM_LAYER_MEDIA_TYPE, Some("../x.wasm")),
                ],
            ),
            "not a plain relative path",
        );
        refused(
            manifest(
                PLAN_CONFIG_MEDIA_TYPE,
                vec![
                    layer(PLAN_LAYER_MEDIA_TYPE, Some("lab.toml")),
                    layer(WASM_LAYER_MEDIA_TYPE, None),
                ],
            ),
            "has no `org.opencontainers.image.title`",
        );
        refused(
            manifest(
                PLAN_CONFIG_MEDIA_TYPE,
                vec![
                    layer(PLAN_LAYER_MEDIA_TYPE, Some("x.wasm")),
                    layer(WASM_LAYER_MEDIA_TYPE, Some("x.wasm")),
                ],
            ),
            "two layers",
        );
    }
}
