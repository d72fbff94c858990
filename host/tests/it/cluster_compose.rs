//! docker-compose.yml (no Docker engine needed): the services, images, ports and mounted
//! member config the README promises, checked on the file's text; parsed as YAML too when
//! python3 has PyYAML.

use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The lines of service `name`'s block (from `  name:` to the next service).
fn service<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| *l != "services:");
    let mut block = Vec::new();
    let mut inside = false;
    for line in lines.by_ref() {
        if line.starts_with("  ") && !line.starts_with("   ") {
            inside = line.trim() == format!("{name}:");
            continue;
        }
        if inside {
            block.push(line);
        }
    }
    block
}

#[test]
fn compose_file_has_three_members_and_management_center_on_loopback() {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).unwrap();
    assert!(text.contains("image: hazelcast/hazelcast:5.7.0"));
    assert_eq!(
        hazelcast_members::HAZELCAST_VERSION,
        "5.7.0",
        "compose members run the tests' version"
    );
    assert!(text.contains("./docker/hazelcast.xml:/opt/hazelcast/config_ext/hazelcast.xml"));
    for (i, port) in [5701, 5702, 5703].into_iter().enumerate() {
        let block = service(&text, &format!("hz{}", i + 1)).join("\n");
        assert!(
            block.contains("<<: *member"),
            "hz{} uses the member template",
            i + 1
        );
        assert!(
            block.contains(&format!("\"127.0.0.1:{port}:{port}\"")),
            "hz{} publishes {port} on loopback:\n{block}",
            i + 1
        );
        assert!(block.contains(&format!("-Dhzlab.public.address=127.0.0.1:{port}")));
        assert!(block.contains("-Dhazelcast.config=/opt/hazelcast/config_ext/hazelcast.xml"));
        assert!(block.contains("HAZELCAST_CONFIG: config_ext/hazelcast.xml"));
    }
    let mc = service(&text, "management-center").join("\n");
    assert!(
        mc.contains("image: hazelcast/management-center:5.7"),
        "{mc}"
    );
    assert!(mc.contains("\"127.0.0.1:8080:8080\""));
    assert!(mc.contains("MC_DEFAULT_CLUSTER: dev"));
    // Every published port is on loopback.
    for line in text.lines().filter(|l| l.trim().starts_with("- \"")) {
        if line.contains(':') && !line.contains("./") {
            assert!(line.contains("\"127.0.0.1:"), "{line}");
        }
    }

    let xml = std::fs::read_to_string(root().join("docker/hazelcast.xml")).unwrap();
    let compact: String = xml.split_whitespace().collect();
    assert!(compact.contains("<cluster-name>dev</cluster-name>"));
    assert!(compact.contains("<mapname=\"distributed-map\"><backup-count>1</backup-count>"));
    assert!(compact.contains("<mapname=\"counter\"><backup-count>1</backup-count>"));
    assert!(compact.contains("<queuename=\"queue\"><max-size>10</max-size>"));
    for m in ["hz1:5710", "hz2:5710", "hz3:5710"] {
        assert!(xml.contains(m));
    }

    // A real YAML parse where PyYAML is available.
    let script = "import sys, yaml\n\
        d = yaml.safe_load(open(sys.argv[1]))\n\
        s = d['services']\n\
        assert sorted(s) == ['hz1', 'hz2', 'hz3', 'management-center'], sorted(s)\n\
        ports = sorted(p for v in s.values() for p in v['ports'])\n\
        assert ports == ['127.0.0.1:5701:5701', '127.0.0.1:5702:5702', '127.0.0.1:5703:5703', '127.0.0.1:8080:8080'], ports\n\
        assert all(s[m]['image'] == 'hazelcast/hazelcast:5.7.0' for m in ('hz1', 'hz2', 'hz3'))\n";
    let has_yaml = std::process::Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_yaml {
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(root().join("docker-compose.yml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("python3 without PyYAML: text checks only");
    }
}
