//! Client configuration.

use std::time::Duration;

use crate::codec::Limits;
use crate::error::ClientError;

/// How a client connects and how its calls behave.
///
/// Made with [`ClientConfig::new`] (or [`Default`]: cluster `dev` at `127.0.0.1:5701`) and
/// a chained method per field; each field's documentation gives its default.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The cluster name members were started with. Default: `dev`, as on members.
    pub cluster_name: String,
    /// Member addresses to try first, `host:port` (port 5701 when left out). Default:
    /// `127.0.0.1:5701`.
    pub addresses: Vec<String>,
    /// Client name shown by members; a generated one when `None` (the default).
    pub client_name: Option<String>,
    /// Labels sent on authentication. Default: none.
    pub labels: Vec<String>,
    /// The longest a non-blocking call (retries included) may take. Blocking calls (lock,
    /// take, put, and calls with their own timeout) wait as long as they must, but their
    /// retries stop at this budget too. Default: 120 s.
    pub invocation_timeout: Duration,
    /// Limit for opening and authenticating one connection. Default: 5 s.
    pub connect_timeout: Duration,
    /// A connection with nothing written for this long is pinged. Default: 5 s.
    pub heartbeat_interval: Duration,
    /// A connection with nothing read for this long is closed. Default: 60 s.
    pub heartbeat_timeout: Duration,
    /// How long the client goes on trying to reach a cluster it has lost every connection
    /// to before it calls the cluster gone: from then on, until a member answers again, calls
    /// waiting for a connection and new calls fail at once with
    /// [`ClientError::ClusterLost`](crate::ClientError) instead of retrying until their
    /// invocation timeout. Default: the heartbeat timeout (60 s).
    pub cluster_lost_timeout: Duration,
    /// First pause between retries; it doubles up to [`max_retry_pause`](field@ClientConfig::max_retry_pause).
    /// Default: 50 ms.
    pub retry_pause: Duration,
    /// Longest pause between retries. Default: 1 s.
    pub max_retry_pause: Duration,
    /// Also retry non-idempotent calls whose connection closed before the answer came
    /// (they may then run twice), like the official clients' `redo_operation`. Default:
    /// false.
    pub redo_operation: bool,
    /// Keep a connection to every member and send key operations to their partition's
    /// owner. When false, one connection is used for everything. Default: true.
    pub smart_routing: bool,
    /// With smart routing: have backups acknowledge writes to the client directly, so the
    /// primary answers without waiting for them (the official clients' default). Default:
    /// true.
    pub backup_ack_to_client: bool,
    /// How long to wait for missing backup acknowledgements before completing a call with
    /// the primary's answer. Default: 5 s.
    pub operation_backup_timeout: Duration,
    /// Fail a write whose backup acknowledgements are still missing after
    /// `operation_backup_timeout` with [`ClientError::Indeterminate`](crate::ClientError)
    /// instead of completing it with the primary's answer: the write ran on the primary, but
    /// it is lost if the primary dies before its backups have it. Off by default, as in the
    /// official clients (`hazelcast.client.operation.fail.on.indeterminate.state`).
    pub fail_on_indeterminate_state: bool,
    /// Largest message accepted from a member, in bytes (each frame counted as its content
    /// plus 32 bytes). A member sending a larger one has its connection closed with
    /// [`ClientError::MessageLimit`](crate::ClientError): the frame is refused from its
    /// header, before its content is read. 64 MiB by default. Members themselves accept
    /// messages of up to 2 GiB from an authenticated client.
    pub max_message_bytes: usize,
    /// Most bytes held in unfinished messages per connection (a message whose final frame
    /// has not come, fragmented messages whose last fragment has not come), counted as
    /// `max_message_bytes` is; over it, the connection closes with
    /// [`ClientError::MessageLimit`](crate::ClientError). 64 MiB by default.
    pub max_unfinished_bytes: usize,
    /// Before authentication, the only limit: the member's authentication answer (its
    /// member list and partition table included) may not be larger. 1 MiB by default, room
    /// for thousands of members (members limit what a client sends before authenticating to
    /// 4,096 bytes, `hazelcast.client.protocol.max.message.bytes`).
    pub max_auth_message_bytes: usize,
}

/// Smallest value accepted for each message size limit of [`ClientConfig`].
pub const MIN_MESSAGE_LIMIT: usize = 1024;

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
            max_message_bytes: Limits::DEFAULT.max_message_bytes,
            max_unfinished_bytes: Limits::DEFAULT.max_unfinished_bytes,
            max_auth_message_bytes: 1024 * 1024,
        }
    }
}

impl ClientConfig {
    /// A configuration for `cluster_name` at `addresses`, other settings default; the
    /// methods named after the fields set the others:
    ///
    /// ```
    /// use std::time::Duration;
    /// use hazelcast_client::ClientConfig;
    ///
    /// let config = ClientConfig::new("dev", ["10.0.0.1:5701", "10.0.0.2"])
    ///     .client_name("billing")
    ///     .invocation_timeout(Duration::from_secs(30))
    ///     .redo_operation(true);
    /// assert_eq!(config.addresses, ["10.0.0.1:5701", "10.0.0.2"]);
    /// assert_eq!(config.heartbeat_timeout, Duration::from_secs(60));
    /// ```
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

    /// Sets [`cluster_name`](field@ClientConfig::cluster_name) (default: "dev").
    pub fn cluster_name(mut self, name: impl Into<String>) -> Self {
        self.cluster_name = name.into();
        self
    }

    /// Sets [`addresses`](field@ClientConfig::addresses) (default: `127.0.0.1:5701`).
    pub fn addresses(mut self, addresses: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.addresses = addresses.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`client_name`](field@ClientConfig::client_name) (default: none: a generated name).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.client_name = Some(name.into());
        self
    }

    /// Sets [`labels`](field@ClientConfig::labels) (default: none).
    pub fn labels(mut self, labels: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.labels = labels.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`invocation_timeout`](field@ClientConfig::invocation_timeout) (default: 120 s).
    pub fn invocation_timeout(mut self, value: Duration) -> Self {
        self.invocation_timeout = value;
        self
    }

    /// Sets [`connect_timeout`](field@ClientConfig::connect_timeout) (default: 5 s).
    pub fn connect_timeout(mut self, value: Duration) -> Self {
        self.connect_timeout = value;
        self
    }

    /// Sets [`heartbeat_interval`](field@ClientConfig::heartbeat_interval) (default: 5 s).
    pub fn heartbeat_interval(mut self, value: Duration) -> Self {
        self.heartbeat_interval = value;
        self
    }

    /// Sets [`heartbeat_timeout`](field@ClientConfig::heartbeat_timeout) (default: 60 s).
    pub fn heartbeat_timeout(mut self, value: Duration) -> Self {
        self.heartbeat_timeout = value;
        self
    }

    /// Sets [`cluster_lost_timeout`](field@ClientConfig::cluster_lost_timeout) (default: 60 s).
    pub fn cluster_lost_timeout(mut self, value: Duration) -> Self {
        self.cluster_lost_timeout = value;
        self
    }

    /// Sets [`retry_pause`](field@ClientConfig::retry_pause) (default: 50 ms).
    pub fn retry_pause(mut self, value: Duration) -> Self {
        self.retry_pause = value;
        self
    }

    /// Sets [`max_retry_pause`](field@ClientConfig::max_retry_pause) (default: 1 s).
    pub fn max_retry_pause(mut self, value: Duration) -> Self {
        self.max_retry_pause = value;
        self
    }

    /// Sets [`redo_operation`](field@ClientConfig::redo_operation) (default: false).
    pub fn redo_operation(mut self, value: bool) -> Self {
        self.redo_operation = value;
        self
    }

    /// Sets [`smart_routing`](field@ClientConfig::smart_routing) (default: true).
    pub fn smart_routing(mut self, value: bool) -> Self {
        self.smart_routing = value;
        self
    }

    /// Sets [`backup_ack_to_client`](field@ClientConfig::backup_ack_to_client) (default: true).
    pub fn backup_ack_to_client(mut self, value: bool) -> Self {
        self.backup_ack_to_client = value;
        self
    }

    /// Sets [`operation_backup_timeout`](field@ClientConfig::operation_backup_timeout) (default: 5 s).
    pub fn operation_backup_timeout(mut self, value: Duration) -> Self {
        self.operation_backup_timeout = value;
        self
    }

    /// Sets [`fail_on_indeterminate_state`](field@ClientConfig::fail_on_indeterminate_state) (default: false).
    pub fn fail_on_indeterminate_state(mut self, value: bool) -> Self {
        self.fail_on_indeterminate_state = value;
        self
    }

    /// Sets [`max_message_bytes`](field@ClientConfig::max_message_bytes) (default: 64 MiB).
    pub fn max_message_bytes(mut self, value: usize) -> Self {
        self.max_message_bytes = value;
        self
    }

    /// Sets [`max_unfinished_bytes`](field@ClientConfig::max_unfinished_bytes) (default: 64 MiB).
    pub fn max_unfinished_bytes(mut self, value: usize) -> Self {
        self.max_unfinished_bytes = value;
        self
    }

    /// Sets [`max_auth_message_bytes`](field@ClientConfig::max_auth_message_bytes) (default: 1 MiB).
    pub fn max_auth_message_bytes(mut self, value: usize) -> Self {
        self.max_auth_message_bytes = value;
        self
    }

    /// Same as [`ClientConfig::invocation_timeout()`].
    pub fn with_invocation_timeout(self, t: Duration) -> Self {
        self.invocation_timeout(t)
    }

    /// Same as [`ClientConfig::client_name()`].
    pub fn with_client_name(self, name: impl Into<String>) -> Self {
        self.client_name(name)
    }

    /// Same as [`ClientConfig::redo_operation()`].
    pub fn with_redo_operation(self, redo: bool) -> Self {
        self.redo_operation(redo)
    }

    /// Sets [`max_message_bytes`](field@ClientConfig::max_message_bytes) and
    /// [`max_unfinished_bytes`](field@ClientConfig::max_unfinished_bytes).
    pub fn with_message_limits(
        mut self,
        max_message_bytes: usize,
        max_unfinished_bytes: usize,
    ) -> Self {
        self.max_message_bytes = max_message_bytes;
        self.max_unfinished_bytes = max_unfinished_bytes;
        self
    }

    /// The limits of a connection once authenticated.
    pub(crate) fn message_limits(&self) -> Limits {
        Limits {
            max_message_bytes: self.max_message_bytes,
            max_unfinished_bytes: self.max_unfinished_bytes,
        }
    }

    /// Checks the settings that have a valid range.
    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        if self.addresses.is_empty() {
            return Err(ClientError::Config("no member address given".into()));
        }
        for (name, value) in [
            ("max_message_bytes", self.max_message_bytes),
            ("max_unfinished_bytes", self.max_unfinished_bytes),
            ("max_auth_message_bytes", self.max_auth_message_bytes),
        ] {
            if value < MIN_MESSAGE_LIMIT {
                return Err(ClientError::Config(format!(
                    "{name} is {value}, below the smallest accepted ({MIN_MESSAGE_LIMIT} bytes)"
                )));
            }
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_a_chained_setter() {
        let c = ClientConfig::new("a", ["h:1"])
            .cluster_name("b")
            .addresses(["h:2", "h:3"])
            .client_name("n")
            .labels(["l"])
            .invocation_timeout(Duration::from_secs(1))
            .connect_timeout(Duration::from_secs(2))
            .heartbeat_interval(Duration::from_secs(3))
            .heartbeat_timeout(Duration::from_secs(4))
            .cluster_lost_timeout(Duration::from_secs(5))
            .retry_pause(Duration::from_secs(6))
            .max_retry_pause(Duration::from_secs(7))
            .redo_operation(true)
            .smart_routing(false)
            .backup_ack_to_client(false)
            .operation_backup_timeout(Duration::from_secs(8))
            .fail_on_indeterminate_state(true)
            .max_message_bytes(2048)
            .max_unfinished_bytes(4096)
            .max_auth_message_bytes(8192);
        // Destructured without `..`: a new field must be added here, with its setter.
        let ClientConfig {
            cluster_name,
            addresses,
            client_name,
            labels,
            invocation_timeout,
            connect_timeout,
            heartbeat_interval,
            heartbeat_timeout,
            cluster_lost_timeout,
            retry_pause,
            max_retry_pause,
            redo_operation,
            smart_routing,
            backup_ack_to_client,
            operation_backup_timeout,
            fail_on_indeterminate_state,
            max_message_bytes,
            max_unfinished_bytes,
            max_auth_message_bytes,
        } = c;
        assert_eq!(cluster_name, "b");
        assert_eq!(addresses, ["h:2", "h:3"]);
        assert_eq!(client_name.as_deref(), Some("n"));
        assert_eq!(labels, ["l"]);
        let secs = |n| Duration::from_secs(n);
        assert_eq!(
            [
                invocation_timeout,
                connect_timeout,
                heartbeat_interval,
                heartbeat_timeout,
                cluster_lost_timeout,
                retry_pause,
                max_retry_pause,
                operation_backup_timeout
            ],
            [1, 2, 3, 4, 5, 6, 7, 8].map(secs)
        );
        assert!(redo_operation && !smart_routing && !backup_ack_to_client);
        assert!(fail_on_indeterminate_state);
        assert_eq!(
            [
                max_message_bytes,
                max_unfinished_bytes,
                max_auth_message_bytes
            ],
            [2048, 4096, 8192]
        );
    }

    #[test]
    fn message_limits_below_the_minimum_are_refused() {
        assert!(ClientConfig::default().validate().is_ok());
        let small = ClientConfig::default().with_message_limits(1000, 1 << 20);
        let err = small.validate().unwrap_err();
        assert!(
            err.to_string()
                .contains("max_message_bytes is 1000, below the smallest accepted (1024 bytes)"),
            "{err}"
        );
        let auth = ClientConfig {
            max_auth_message_bytes: 0,
            ..ClientConfig::default()
        };
        assert!(auth
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_auth_message_bytes"));
        let none = ClientConfig::new("dev", Vec::<String>::new());
        assert!(none.validate().is_err());
    }
}
