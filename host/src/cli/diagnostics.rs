//! Diagnostics on standard error: the `tracing` events of hzlab and of the Hazelcast
//! client, at the level `-v`/`-vv`/`-vvv` ask for, or as `RUST_LOG` says when it is set.
//! Without either, warnings only: a run prints what it printed before.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use super::out;

/// The crates whose events `-v` raises (their `tracing` targets).
const OURS: [&str; 2] = ["hzlab", "hazelcast_client"];

/// The filter for `verbose` times `-v`: warnings, then info, debug and trace for hzlab and
/// the client (other crates' events stay at warnings).
pub fn filter_for(verbose: u8) -> String {
    let level = match verbose {
        0 => return "warn".to_owned(),
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut spec = "warn".to_owned();
    for target in OURS {
        spec.push_str(&format!(",{target}={level}"));
    }
    spec
}

/// Installs the subscriber: `RUST_LOG` when set (and valid), else [`filter_for`] `verbose`.
pub fn init(verbose: u8) {
    let spec = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => spec,
        _ => filter_for(verbose),
    };
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|e| {
        out::eprint(&format!(
            "hzlab: warning: RUST_LOG={spec:?} is not a filter ({e}); using {}\n",
            filter_for(verbose)
        ));
        EnvFilter::new(filter_for(verbose))
    });
    // A second subscriber (none here) would be refused: nothing to do then.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_v_raises_hzlab_and_the_client_only() {
        assert_eq!(filter_for(0), "warn");
        assert_eq!(filter_for(1), "warn,hzlab=info,hazelcast_client=info");
        assert_eq!(filter_for(2), "warn,hzlab=debug,hazelcast_client=debug");
        assert_eq!(filter_for(3), "warn,hzlab=trace,hazelcast_client=trace");
        assert_eq!(filter_for(7), filter_for(3));
        for v in 0..4 {
            assert!(EnvFilter::try_new(filter_for(v)).is_ok());
        }
    }
}
