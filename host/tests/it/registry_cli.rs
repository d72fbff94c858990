//! Scenarios shared through an OCI registry: a real one (Debian's `docker-registry`, the CNCF
//! distribution registry) on a loopback port of each test's own, with a config and storage in
//! a temporary directory, stopped when the test ends (also when it fails); with and without
//! basic auth. Push then pull gives the same bytes in the CNCF Wasm layout (read back over
//! plain HTTP, not through hzlab's client); references run and inspect as files do; a plan
//! of pinned references runs again with the registry stopped; each kind of bad reference
//! exits 2 naming it. Each test has a cache and a Docker config directory of its own.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::kit_support::{scratch, stderr, stdout};

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `docker-registry` and `htpasswd`, installed from Debian's packages when missing (once per
/// test binary). A machine that cannot install them fails the test, saying what is missing.
fn ensure_tools() {
    static DONE: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if *done {
        return;
    }
    let have = |tool: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false)
    };
    let missing: Vec<&str> = [
        ("docker-registry", "docker-registry"),
        ("htpasswd", "apache2-utils"),
    ]
    .into_iter()
    .filter(|(tool, _)| !have(tool))
    .map(|(_, package)| package)
    .collect();
    if !missing.is_empty() {
        eprintln!("registry tests: installing {}", missing.join(" "));
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let ok = install() || (runs("apt-get", &["update"]) && install());
        assert!(
            ok && have("docker-registry") && have("htpasswd"),
            "the registry tests need {} (Debian: `apt-get install -y {}`, as root)",
            missing.join(" and "),
            missing.join(" ")
        );
    }
    *done = true;
}

/// A registry on 127.0.0.1, stopped and its storage removed when dropped.
struct Registry {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Registry {
    /// Starts one; with `user`, only that user (password `password`) may push or pull.
    fn start(test: &str, user: Option<(&str, &str)>) -> Registry {
        ensure_tools();
        let dir = scratch(&format!("registry-{test}"));
        let auth = match user {
            Some((user, password)) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "htpasswd failed");
                std::fs::write(dir.join("htpasswd"), &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: hzlab-test\n    path: {}\n",
                    dir.join("htpasswd").display()
                )
            }
            None => String::new(),
        };
        // A free port can be taken between asking and binding: try a few.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    \
                     rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                    dir.join("storage").display()
                ),
            )
            .unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
                .spawn()
                .expect("docker-registry starts");
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if let Ok((status, _, _)) = http(port, "GET", "/v2/", &[], &[]) {
                    if status == 200 || status == 401 {
                        return Registry { child, port, dir };
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "docker-registry did not start; its log:\n{}",
            std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
        );
    }

    fn reference(&self, repo_and_tag: &str) -> String {
        format!("127.0.0.1:{}/{repo_and_tag}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTP response: status, headers (lower-case names), body.
type Response = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 request to 127.0.0.1:`port`.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers, raw[split + 4..].to_vec()))
}

fn sha256(bytes: &[u8]) -> String {
    hzlab::scenario::sha256_hex(bytes)
}

/// Pushes an artifact the way any tool does, over the distribution API: each blob in one
/// request, then the manifest under `tag`.
fn push_raw(port: u16, repo: &str, tag: &str, config: (&str, &[u8]), layers: &[(&str, &[u8])]) {
    let layers: Vec<_> = layers
        .iter()
        .map(|(t, b)| (*t, *b, serde_json::Value::Null))
        .collect();
    push_raw_annotated(port, repo, tag, config, &layers);
}

/// As [`push_raw`], each layer with its annotations (`null` for none).
fn push_raw_annotated(
    port: u16,
    repo: &str,
    tag: &str,
    config: (&str, &[u8]),
    layers: &[(&str, &[u8], serde_json::Value)],
) {
    let mut descriptors = Vec::new();
    let config = (config.0, config.1, serde_json::Value::Null);
    for (media_type, blob, annotations) in std::iter::once(&config).chain(layers) {
        let digest = format!("sha256:{}", sha256(blob));
        let (status, headers, body) = http(
            port,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &[],
            &[],
        )
        .unwrap();
        assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
        let location = headers
            .iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.clone())
            .expect("an upload location");
        // The location may be a whole URL; keep its path and query.
        let location = match location.find("/v2/") {
            Some(at) => location[at..].to_owned(),
            None => location,
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let (status, _, body) = http(
            port,
            "PUT",
            &format!("{location}{sep}digest={digest}"),
            &[("Content-Type", "application/octet-stream")],
            blob,
        )
        .unwrap();
        assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
        let mut descriptor = serde_json::json!({
            "mediaType": media_type, "digest": digest, "size": blob.len(),
        });
        if !annotations.is_null() {
            descriptor["annotations"] = annotations.clone();
        }
        descriptors.push(descriptor);
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptors[0],
        "layers": descriptors[1..],
    });
    let (status, _, body) = http(
        port,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        manifest.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
}

/// Runs hzlab in `dir` with the test's own cache and Docker config, `stdin` as its input.
fn hzlab_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hzlab"))
        .current_dir(dir)
        .args(args)
        .env("HZLAB_OCI_CACHE_DIR", dir.join("cache"))
        .env("DOCKER_CONFIG", dir.join("docker"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "$ hzlab {}\n{}{}",
        args.join(" "),
        stdout(&out),
        stderr(&out)
    );
    out
}

fn hzlab(dir: &Path, args: &[&str]) -> Output {
    hzlab_in(dir, args, "")
}

fn ok(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    stdout(o)
}

/// Exit 2, and standard error says every one of `says`.
fn refused(o: &Output, says: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(o), stderr(o));
    let err = stderr(o);
    for s in says {
        assert!(err.contains(s), "no `{s}` in: {err}");
    }
}

/// The value after `label` on a line of `out` (`manifest sha256:…`).
fn field(out: &str, label: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no `{label}` in:\n{out}"))
}

fn component(name: &str) -> (PathBuf, Vec<u8>) {
    let path = hzlab::testing::component_path(name);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

#[test]
fn pushed_components_pull_back_the_same_and_run_and_inspect_by_reference() {
    let registry = Registry::start("round-trip", None);
    let dir = scratch("oci-round-trip");
    let (path, bytes) = component("race");
    let reference = registry.reference("labs/race:1");

    let out = ok(&hzlab(&dir, &["push", path.to_str().unwrap(), &reference]));
    assert_eq!(field(&out, "sha256"), sha256(&bytes));
    let manifest_digest = field(&out, "manifest");

    // The registry holds the CNCF Wasm layout, as any tool reads it.
    let (status, headers, manifest) = http(
        registry.port,
        "GET",
        "/v2/labs/race/manifests/1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        &[],
    )
    .unwrap();
    assert_eq!(status, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("docker-content-digest"), manifest_digest);
    assert_eq!(format!("sha256:{}", sha256(&manifest)), manifest_digest);
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{m}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(
        layers[0]["annotations"]["org.opencontainers.image.title"],
        "race.wasm"
    );
    let layer_digest = format!("sha256:{}", sha256(&bytes));
    assert_eq!(layers[0]["digest"], layer_digest.as_str());
    let (status, _, config) = http(
        registry.port,
        "GET",
        &format!(
            "/v2/labs/race/blobs/{}",
            m["config"]["digest"].as_str().unwrap()
        ),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(status, 200);
    let c: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(c["architecture"], "wasm", "{c}");
    assert_eq!(c["os"], "wasip2", "{c}");
    assert_eq!(c["layerDigests"], serde_json::json!([layer_digest]), "{c}");
    assert!(
        c["component"]["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("hzlab:scenario/scenario@")),
        "{c}"
    );
    assert!(
        c["component"]["imports"].as_array().is_some_and(|i| i
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("hzlab:scenario/map@"))),
        "{c}"
    );
    assert!(
        c["created"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{c}"
    );

    // Pull gives the same bytes, by tag (default file name) and by digest (`-o`, `oci://`).
    ok(&hzlab(&dir, &["pull", &reference]));
    assert_eq!(std::fs::read(dir.join("race.wasm")).unwrap(), bytes);
    let pinned = format!("{}@{manifest_digest}", registry.reference("labs/race"));
    let out = ok(&hzlab(
        &dir,
        &["pull", &format!("oci://{pinned}"), "-o", "again.wasm"],
    ));
    assert_eq!(field(&out, "sha256"), sha256(&bytes));
    assert_eq!(std::fs::read(dir.join("again.wasm")).unwrap(), bytes);

    // Inspect pulls and inspects without running.
    let out = ok(&hzlab(&dir, &["inspect", &reference]));
    assert!(out.contains(&sha256(&bytes)), "{out}");
    assert!(out.contains("verdict  ok"), "{out}");

    // Run by reference: the tag is not an instance count; `REF:N` after the tag is.
    let out = ok(&hzlab(
        &dir,
        &["run", &reference, "--instances", "4", "--iterations", "200"],
    ));
    assert!(
        out.contains("completed 200") && out.contains("on 4 instances"),
        "{out}"
    );
    let out = ok(&hzlab(
        &dir,
        &["run", &format!("{reference}:3"), "--iterations", "90"],
    ));
    assert!(
        out.contains("completed 90") && out.contains("on 3 instances"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_plan_of_pinned_references_runs_and_runs_again_with_the_registry_stopped() {
    let mut registry = Registry::start("plan", None);
    let dir = scratch("oci-plan");
    let (path, bytes) = component("race");
    let (count_path, count_bytes) = component("count");
    let race = registry.reference("labs/race:1.0");
    let count = registry.reference("labs/count:1.0");
    ok(&hzlab(&dir, &["push", path.to_str().unwrap(), &race]));
    let out = ok(&hzlab(
        &dir,
        &["push", count_path.to_str().unwrap(), &count],
    ));
    let count_pinned = field(&out, "pinned");
    let plan = format!(
        "name = \"shared\"\n\
         [[case]]\nname = \"race from a registry\"\n\
         [[case.step]]\nrun = \"{race}\"\nsha256 = \"{}\"\ninstances = 3\niterations = 300\n\
         [[case.step]]\nrun = \"{count_pinned}\"\n\
         [[case.check]]\nthat = \"race.iterations.completed == 300\"\n",
        sha256(&bytes)
    );
    std::fs::write(dir.join("plan.toml"), &plan).unwrap();
    ok(&hzlab(&dir, &["check", "plan.toml"]));
    let out = ok(&hzlab(&dir, &["run", "plan.toml", "--report", "out"]));
    assert!(out.contains("result: passed"), "{out}");
    // The report says where each scenario came from: the reference and its manifest.
    let report = std::fs::read_to_string(dir.join("out/report.json")).unwrap();
    assert!(
        report.contains(&format!("oci://{count_pinned}")),
        "{report}"
    );

    // With the registry gone, the pinned references come from the cache: by the plan's
    // sha256 and by the manifest digest.
    registry.stop();
    let out = ok(&hzlab(&dir, &["run", "plan.toml"]));
    assert!(out.contains("result: passed"), "{out}");
    ok(&hzlab(&dir, &["inspect", &count_pinned]));
    // A tag alone may have moved: it asks the registry, which is not there.
    refused(&hzlab(&dir, &["run", &race]), &[&race, "cannot be reached"]);
    // A damaged cache entry is not used: it is fetched again (and here cannot be).
    let blob = dir.join("cache/blobs/sha256").join(sha256(&count_bytes));
    std::fs::write(&blob, b"damaged").unwrap();
    refused(
        &hzlab(&dir, &["inspect", &count_pinned]),
        &[&count_pinned, "cannot be reached"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_references_exit_2_naming_the_reference() {
    let registry = Registry::start("errors", None);
    let dir = scratch("oci-errors");
    let (path, bytes) = component("race");
    let reference = registry.reference("labs/race:1");
    ok(&hzlab(&dir, &["push", path.to_str().unwrap(), &reference]));

    // A missing tag, a missing repository.
    let missing = registry.reference("labs/race:2");
    refused(
        &hzlab(&dir, &["run", &missing]),
        &[&missing, "is not in its registry"],
    );
    let missing = registry.reference("labs/nothing:1");
    refused(
        &hzlab(&dir, &["pull", &missing]),
        &[&missing, "is not in its registry"],
    );

    // A digest mismatch: the plan pins other bytes than the registry has.
    let other = "0".repeat(64);
    std::fs::write(
        dir.join("plan.toml"),
        format!("name = \"p\"\n[[case]]\nname = \"c\"\n[[case.step]]\nrun = \"{reference}\"\nsha256 = \"{other}\"\n"),
    )
    .unwrap();
    refused(
        &hzlab(&dir, &["run", "plan.toml"]),
        &[
            &reference,
            "does not match its pin",
            &other,
            &sha256(&bytes),
        ],
    );
    // … and a reference by a manifest digest the registry does not have.
    let unknown = format!("{}@sha256:{other}", registry.reference("labs/race"));
    refused(
        &hzlab(&dir, &["inspect", &unknown]),
        &[&unknown, "is not in its registry"],
    );

    // A container image (not a Wasm artifact), pushed by another tool.
    push_raw(
        registry.port,
        "labs/image",
        "latest",
        (
            "application/vnd.oci.image.config.v1+json",
            br#"{"architecture":"amd64","os":"linux"}"#,
        ),
        &[(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            b"\x1f\x8b not really a tarball",
        )],
    );
    let image = registry.reference("labs/image:latest");
    for command in ["run", "inspect", "pull"] {
        refused(
            &hzlab(&dir, &[command, &image]),
            &[
                &image,
                "is not a Wasm artifact",
                "application/vnd.oci.image.config.v1+json",
            ],
        );
    }
    assert!(
        !dir.join("image.wasm").exists(),
        "a refused pull wrote a file"
    );

    // A Wasm artifact whose component targets another world: hzlab will not push it, and
    // will not run, inspect or pull it when another tool pushed it.
    let foreign = wat::parse_str(
        r#"(component
             (import "wasi:filesystem/preopens@0.2.0" (instance))
             (core module $m
               (memory (export "memory") 1)
               (func (export "f") (result i32) i32.const 0))
             (core instance $i (instantiate $m))
             (type $r (result (error string)))
             (func $f (result $r) (canon lift (core func $i "f") (memory (core memory $i "memory"))))
             (export "setup" (func $f))
             (export "run" (func $f))
             (export "verify" (func $f)))"#,
    )
    .unwrap();
    std::fs::write(dir.join("foreign.wasm"), &foreign).unwrap();
    let target = registry.reference("labs/foreign:1");
    refused(
        &hzlab(&dir, &["push", "foreign.wasm", &target]),
        &["foreign.wasm", "wasi:filesystem/preopens@0.2.0"],
    );
    let config = format!(
        r#"{{"architecture":"wasm","os":"wasip2","layerDigests":["sha256:{}"]}}"#,
        sha256(&foreign)
    );
    push_raw(
        registry.port,
        "labs/foreign",
        "1",
        ("application/vnd.wasm.config.v0+json", config.as_bytes()),
        &[("application/wasm", &foreign)],
    );
    for command in ["run", "inspect", "pull"] {
        refused(
            &hzlab(&dir, &[command, &target]),
            &[&target, "may import only hzlab:scenario/*"],
        );
    }
    assert!(!dir.join("foreign.wasm.part").exists());

    // A registry that is not there; a reference that does not parse.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = format!("127.0.0.1:{port}/labs/race:1");
    refused(&hzlab(&dir, &["run", &gone]), &[&gone, "cannot be reached"]);
    refused(
        &hzlab(&dir, &["pull", "127.0.0.1:5000/Labs/Race:1"]),
        &["127.0.0.1:5000/Labs/Race:1", "is not an OCI reference"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_registry_with_basic_auth_takes_flags_or_docker_config_and_refuses_wrong_ones() {
    let registry = Registry::start("auth", Some(("lab", "s3cret")));
    let dir = scratch("oci-auth");
    let (path, bytes) = component("race");
    let path = path.to_str().unwrap();
    let reference = registry.reference("labs/race:1");

    refused(
        &hzlab(&dir, &["push", path, &reference]),
        &[&reference, "unauthorized"],
    );
    refused(
        &hzlab_in(
            &dir,
            &[
                "push",
                path,
                &reference,
                "--username",
                "lab",
                "--password-stdin",
            ],
            "wrong\n",
        ),
        &[&reference, "unauthorized"],
    );
    refused(
        &hzlab(&dir, &["push", path, &reference, "--username", "lab"]),
        &["--password-stdin"],
    );
    ok(&hzlab_in(
        &dir,
        &[
            "push",
            path,
            &reference,
            "--username",
            "lab",
            "--password-stdin",
        ],
        "s3cret\n",
    ));
    refused(
        &hzlab(&dir, &["pull", &reference]),
        &[&reference, "unauthorized"],
    );

    // Docker's config, as `docker login` writes it.
    std::fs::create_dir_all(dir.join("docker")).unwrap();
    std::fs::write(
        dir.join("docker/config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{}"}}}}}}"#,
            registry.port,
            base64_of(b"lab:s3cret")
        ),
    )
    .unwrap();
    ok(&hzlab(&dir, &["pull", &reference, "-o", "r.wasm"]));
    assert_eq!(std::fs::read(dir.join("r.wasm")).unwrap(), bytes);
    let out = ok(&hzlab(&dir, &["run", &reference, "--iterations", "10"]));
    assert!(out.contains("completed 10"), "{out}");
    std::fs::write(
        dir.join("docker/config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"{}"}}}}}}"#,
            registry.port,
            base64_of(b"lab:wrong")
        ),
    )
    .unwrap();
    refused(
        &hzlab(&dir, &["inspect", &reference]),
        &[&reference, "unauthorized"],
    );
    std::fs::write(dir.join("docker/config.json"), "{ not json").unwrap();
    refused(&hzlab(&dir, &["inspect", &reference]), &["config.json"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Standard base64 with padding (as Docker's config holds `user:password`).
fn base64_of(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn a_plan_and_its_components_push_pull_and_run_as_one_artifact() {
    let mut registry = Registry::start("plan-artifact", None);
    let dir = scratch("oci-plan-artifact");
    let lab = dir.join("lab");
    std::fs::create_dir_all(lab.join("scenarios")).unwrap();
    let (_, race) = component("race");
    std::fs::write(lab.join("scenarios/race.wasm"), &race).unwrap();
    let plan = "name = \"shared-lab\"\n\
                [[case]]\nname = \"lost updates\"\n\
                [[case.step]]\nrun = \"./scenarios/race.wasm\"\ninstances = 3\niterations = 300\n\
                [[case.step]]\nrun = \"count\"\n\
                [[case.check]]\nthat = \"race.iterations.completed == 300\"\n";
    std::fs::write(lab.join("lab.toml"), plan).unwrap();
    let reference = registry.reference("labs/shared-lab:1");

    let out = ok(&hzlab(&dir, &["push", "lab/lab.toml", &reference]));
    assert!(out.contains("and 1 component(s)"), "{out}");
    let pinned = field(&out, "pinned");

    // The layout, read over plain HTTP: the plan first, then the component, each titled
    // with its path in the plan's folder.
    let (status, _, manifest) = http(
        registry.port,
        "GET",
        "/v2/labs/shared-lab/manifests/1",
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        &[],
    )
    .unwrap();
    assert_eq!(status, 200);
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.hzlab.plan.v1", "{m}");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.hzlab.plan.config.v1+json"
    );
    let title = |i: usize| m["layers"][i]["annotations"]["org.opencontainers.image.title"].clone();
    assert_eq!(
        m["layers"][0]["mediaType"],
        "application/vnd.hzlab.plan.v1+toml"
    );
    assert_eq!(title(0), "lab.toml");
    assert_eq!(m["layers"][1]["mediaType"], "application/wasm");
    assert_eq!(title(1), "scenarios/race.wasm");
    assert_eq!(
        m["layers"][1]["digest"],
        format!("sha256:{}", sha256(&race)).as_str()
    );
    assert_eq!(
        m["layers"].as_array().unwrap().len(),
        2,
        "shipped `count` stays a name"
    );

    // Run, check and inspect by reference; pull writes the folder, which runs too.
    let out = ok(&hzlab(&dir, &["run", &reference]));
    assert!(out.contains("result: passed"), "{out}");
    let out = ok(&hzlab(&dir, &["check", &reference]));
    assert!(out.contains("plan `shared-lab` is valid"), "{out}");
    let out = ok(&hzlab(&dir, &["inspect", &reference]));
    assert!(
        out.contains("holds    1 component(s)") && out.contains(&sha256(&race)),
        "{out}"
    );
    ok(&hzlab(&dir, &["pull", &reference]));
    assert_eq!(
        std::fs::read(dir.join("shared-lab/lab.toml")).unwrap(),
        plan.as_bytes()
    );
    let out = ok(&hzlab(&dir, &["pull", &reference, "-o", "copy"]));
    assert!(out.contains("hzlab run copy/lab.toml"), "{out}");
    assert_eq!(
        std::fs::read(dir.join("copy/lab.toml")).unwrap(),
        plan.as_bytes()
    );
    assert_eq!(
        std::fs::read(dir.join("copy/scenarios/race.wasm")).unwrap(),
        race
    );
    let out = ok(&hzlab(&dir, &["run", "copy/lab.toml"]));
    assert!(out.contains("result: passed"), "{out}");
    refused(
        &hzlab(&dir, &["pull", &reference, "-o", "copy"]),
        &["copy is not empty"],
    );
    // A plan is not a component: naming it where one scenario of several goes says so.
    refused(
        &hzlab(&dir, &["run", &reference, "race"]),
        &[&reference, "is an hzlab plan artifact"],
    );

    // Pinned by its manifest digest, it runs with the registry gone.
    registry.stop();
    let out = ok(&hzlab(&dir, &["run", &pinned]));
    assert!(out.contains("result: passed"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn plan_artifacts_hold_only_the_plans_folder_and_write_only_inside_it() {
    let registry = Registry::start("plan-paths", None);
    let dir = scratch("oci-plan-paths");
    std::fs::create_dir_all(dir.join("lab")).unwrap();
    let (_, race) = component("race");
    std::fs::write(dir.join("race.wasm"), &race).unwrap();
    std::fs::write(
        dir.join("lab/lab.toml"),
        "name = \"p\"\n[[case]]\nname = \"c\"\n[[case.step]]\nrun = \"../race.wasm\"\n",
    )
    .unwrap();
    let reference = registry.reference("labs/outside:1");
    refused(
        &hzlab(&dir, &["push", "lab/lab.toml", &reference]),
        &["race.wasm", "is not in the plan's folder"],
    );

    // An artifact another tool made, whose layer would be written outside the folder.
    let plan = b"name = \"p\"\n[[case]]\nname = \"c\"\n[[case.step]]\nrun = \"race\"\n";
    let config = br#"{"name":"p","plan":"lab.toml","components":[]}"#;
    let titled = |title: &str| serde_json::json!({ "org.opencontainers.image.title": title });
    push_raw_annotated(
        registry.port,
        "labs/evil",
        "1",
        ("application/vnd.hzlab.plan.config.v1+json", config),
        &[
            (
                "application/vnd.hzlab.plan.v1+toml",
                plan,
                titled("lab.toml"),
            ),
            ("application/wasm", &race, titled("../../evil.wasm")),
        ],
    );
    let evil = registry.reference("labs/evil:1");
    for command in ["run", "pull", "check"] {
        refused(
            &hzlab(&dir, &[command, &evil]),
            &[&evil, "not a plain relative path"],
        );
    }
    assert!(!dir.join("evil.wasm").exists() && !dir.parent().unwrap().join("evil.wasm").exists());
    std::fs::remove_dir_all(dir).unwrap();
}

/// A registry that answers `/v2/` and then, for manifests and blobs, what `answer` makes of
/// the request line: (headers, body, repeat the body forever). Stops with the test.
fn hostile_registry(answer: fn(&str) -> (String, Vec<u8>, bool)) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") {
                    if stream.read(&mut byte).unwrap_or(0) == 0 {
                        return;
                    }
                    request.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&request)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let (headers, body, forever) = if line.starts_with("GET /v2/ ") {
                    ("Content-Length: 2\r\n".to_owned(), b"{}".to_vec(), false)
                } else {
                    answer(&line)
                };
                let head = format!("HTTP/1.1 200 OK\r\nConnection: close\r\n{headers}\r\n");
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                loop {
                    if stream.write_all(&body).is_err() || !forever {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn a_hostile_registry_gets_a_clear_error_not_our_memory() {
    let dir = scratch("oci-hostile");
    // An endless manifest.
    let port = hostile_registry(|_| {
        (
            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n".into(),
            vec![b' '; 64 << 10],
            true,
        )
    });
    let reference = format!("127.0.0.1:{port}/labs/endless:1");
    refused(
        &hzlab(&dir, &["inspect", &reference]),
        &[&reference, "the manifest", "over the 4194304 allowed"],
    );
    // A manifest that declares a small component, then a component that never ends.
    let port = hostile_registry(|line| {
        if line.contains("/manifests/") {
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
                "config":{{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:{0}","size":2}},
                "layers":[{{"mediaType":"application/wasm","digest":"sha256:{0}","size":1000}}]}}"#,
                "1".repeat(64)
            );
            let headers = format!(
                "Content-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: {}\r\n",
                manifest.len()
            );
            (headers, manifest.into_bytes(), false)
        } else {
            (String::new(), vec![0u8; 64 << 10], true)
        }
    });
    let reference = format!("127.0.0.1:{port}/labs/endless:1");
    refused(
        &hzlab(&dir, &["run", &reference]),
        &[&reference, "than the 1000 bytes its manifest declares"],
    );
    // An image index (a multi-platform image).
    let port = hostile_registry(|_| {
        let index = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        (
            format!(
                "Content-Type: application/vnd.oci.image.index.v1+json\r\nContent-Length: {}\r\n",
                index.len()
            ),
            index.as_bytes().to_vec(),
            false,
        )
    });
    let reference = format!("127.0.0.1:{port}/labs/index:1");
    refused(
        &hzlab(&dir, &["pull", &reference]),
        &[&reference, "is not a Wasm artifact", "image index"],
    );
    std::fs::remove_dir_all(dir).unwrap();
}
