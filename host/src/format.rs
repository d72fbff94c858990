//! How figures are written for people, the same in the terminal summary, plan summaries and
//! reports: counts with thousands separators, numbers for labels.

/// Formats a count with thousands separators.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number for a label: thousands separators for large values, a few decimals for small ones.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v.abs() >= 1000.0 {
        let s = thousands(v.abs().round() as u64);
        if v < 0.0 {
            format!("-{s}")
        } else {
            s
        }
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// An error and its causes on one line, each once, joined by `: ` (as anyhow's `{:#}` shows
/// them), for errors that become text in results and reports.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(30000), "30,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn numbers_for_labels() {
        assert_eq!(num(1234.4), "1,234");
        assert_eq!(num(-2500.0), "-2,500");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(f64::NAN), "NaN");
    }

    #[test]
    fn an_error_chain_shows_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read plan.toml")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(error_chain(&e), "cannot read plan.toml: entity not found");
    }

    /// Every cause appears once in the chain: no error's text repeats its source's.
    fn assert_causes_once(e: &(dyn std::error::Error + 'static)) -> String {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(cause) = err.source() {
                let (outer, inner) = (err.to_string(), cause.to_string());
                assert!(
                    !outer.contains(&inner),
                    "`{outer}` repeats its cause `{inner}`"
                );
            }
            cur = err.source();
        }
        error_chain(e)
    }

    #[test]
    fn library_errors_show_their_causes_once() {
        use hazelcast_client::error::ConnectFailure;
        use hazelcast_client::ClientError;
        use std::time::Duration;

        let refused =
            || ConnectFailure::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let connect = ClientError::Connect {
            address: "10.0.0.1:5701".into(),
            cause: refused(),
        };
        let timeout = ClientError::Timeout {
            operation: "map get",
            after: Duration::from_secs(2),
            last_error: Some(Box::new(connect.clone())),
        };
        assert_eq!(
            assert_causes_once(&timeout),
            "map get timed out after 2s: cannot connect to 10.0.0.1:5701: connection refused"
        );
        let unreachable = crate::backend::real::RealError::Unreachable {
            cluster: "lab".into(),
            addresses: "10.0.0.1:5701".into(),
            cause: connect,
        };
        assert_eq!(
            assert_causes_once(&unreachable),
            "cannot reach the Hazelcast cluster `lab` at 10.0.0.1:5701: cannot connect to \
             10.0.0.1:5701: connection refused"
        );
        let signal = crate::cluster::ClusterError::Local(hazelcast_members::LocalError::Signal {
            index: 2,
            signal: "SIGSTOP",
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        assert_eq!(
            assert_causes_once(&signal),
            "cannot send SIGSTOP to member 2: permission denied"
        );
        let io = crate::cluster::ClusterError::Local(hazelcast_members::LocalError::Io(
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
        assert_eq!(assert_causes_once(&io), "i/o failed: entity not found");
    }
}
