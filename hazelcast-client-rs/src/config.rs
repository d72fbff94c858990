//! Client configuration.

use std::time::Duration;

/// How a client connects and how its calls behave.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The cluster name members were started with ("dev" by default on members).
    pub cluster_name: String,
    /// Member addresses to try first, `host:port` (port 5701 when left out).
    pub addresses: Vec<String>,
    /// Client name shown by members; a generated one when `None`.
    pub client_name: Option<String>,
    /// Labels sent on authentication.
    pub labels: Vec<String>,
    /// The longest a non-blocking call (retries included) may take. Blocking calls (lock,
    /// take, put, and calls with their own timeout) wait as long as they must, but their
    /// retries stop at this budget too.
    pub invocation_timeout: Duration,
    /// Limit for opening and authenticating one connection.
    pub connect_timeout: Duration,
    /// A connection with nothing written for this long is pinged.
    pub heartbeat_interval: Duration,
    /// A connection with nothing read for this long is closed.
    pub heartbeat_timeout: Duration,
    /// How long the client goes on trying to reach a cluster it has lost every connection
    /// to before it calls the cluster gone: from then on, until a member answers again, calls
    /// waiting for a connection and new calls fail at once with
    /// [`ClientError::ClusterLost`](crate::ClientError) instead of retrying until their
    /// invocation timeout. Default: the heartbeat timeout (60 s).
    pub cluster_lost_timeout: Duration,
    /// First pause between retries; it doubles up to [`ClientConfig::max_retry_pause`].
    pub retry_pause: Duration,
    pub max_retry_pause: Duration,
    /// Also retry non-idempotent calls whose connection closed before the answer came
    /// (they may then run twice), like the official clients' `redo_operation`.
    pub redo_operation: bool,
    /// Keep a connection to every member and send key operations to their partition's
    /// owner. When false, one connection is used for everything.
    pub smart_routing: bool,
    /// With smart routing: have backups acknowledge writes to the client directly, so the
    /// primary answers without waiting for them (the official clients' default).
    pub backup_ack_to_client: bool,
    /// How long to wait for missing backup acknowledgements before completing a call with
    /// the primary's answer.
    pub operation_backup_timeout: Duration,
    /// Fail a write whose backup acknowledgements are still missing after
    /// `operation_backup_timeout` with [`ClientError::Indeterminate`](crate::ClientError)
    /// instead of completing it with the primary's answer: the write ran on the primary, but
    /// it is lost if the primary dies before its backups have it. Off by default, as in the
    /// official clients (`hazelcast.client.operation.fail.on.indeterminate.state`).
    pub fail_on_indeterminate_state: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            cluster_name: "dev".into(),
            addresses: vec!["127.0.0.1:5701".into()],
            client_name: None,
            labels: Vec::new(),
            invocation_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(5),
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(60),
            cluster_lost_timeout: Duration::from_secs(60),
            retry_pause: Duration::from_millis(50),
            max_retry_pause: Duration::from_secs(1),
            redo_operation: false,
            smart_routing: true,
            backup_ack_to_client: true,
            operation_backup_timeout: Duration::from_secs(5),
            fail_on_indeterminate_state: false,
        }
    }
}

impl ClientConfig {
    /// A configuration for `cluster_name` at `addresses`, other settings default.
    pub fn new<S: Into<String>>(
        cluster_name: impl Into<String>,
        addresses: impl IntoIterator<Item = S>,
    ) -> ClientConfig {
        ClientConfig {
            cluster_name: cluster_name.into(),
            addresses: addresses.into_iter().map(Into::into).collect(),
            ..ClientConfig::default()
        }
    }

    pub fn with_invocation_timeout(mut self, t: Duration) -> Self {
        self.invocation_timeout = t;
        self
    }

    pub fn with_client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    pub fn with_redo_operation(mut self, redo: bool) -> Self {
        self.redo_operation = redo;
        self
    }
}

/// `host:port`, adding the default port 5701 when missing.
pub(crate) fn normalize_address(a: &str) -> String {
    let a = a.trim();
    if a.starts_with('[') {
        if a.contains("]:") {
            a.to_owned()
        } else {
            format!("{a}:5701")
        }
    } else if a.matches(':').count() == 1 {
        a.to_owned()
    } else {
        format!("{a}:5701")
    }
}
