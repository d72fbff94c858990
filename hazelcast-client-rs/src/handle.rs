//! What a client's clones and proxies share: the connection manager, kept open while any of
//! them lives (the last one dropped shuts it down), and the calls proxies make through it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::codec::{ClientMessage, MemberInfo};
use crate::connection_manager::ConnectionManager;
use crate::error::ClientError;
use crate::invocation::{invoke, invoke_traced, Request, Traced, Wait};
use crate::protocol::client as client_codec;
use crate::protocol::Operation;
use crate::serialization::{Data, Value};

pub(crate) struct ClientHandle {
    manager: Arc<ConnectionManager>,
}

impl std::fmt::Debug for ClientHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Client({} {})",
            self.manager.client_name, self.manager.client_uuid
        )
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        self.manager.shutdown_now();
    }
}

impl ClientHandle {
    pub(crate) fn new(manager: Arc<ConnectionManager>) -> ClientHandle {
        ClientHandle { manager }
    }

    pub(crate) fn manager(&self) -> &Arc<ConnectionManager> {
        &self.manager
    }

    /// The request for a declared message, with its flags and the partition of its key.
    pub(crate) fn request<O: Operation>(
        &self,
        op: &'static str,
        message: &O,
        wait: Wait,
    ) -> Request {
        Request::declared(op, message, self.partition_count(), wait)
    }

    pub(crate) async fn invoke(&self, req: Request) -> Result<ClientMessage, ClientError> {
        invoke(&self.manager, req).await
    }

    pub(crate) async fn invoke_traced(&self, req: Request) -> Traced {
        invoke_traced(&self.manager, req).await
    }

    pub(crate) fn next_reference_id(&self) -> i64 {
        self.manager.reference_ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn partition_count(&self) -> u32 {
        self.manager.partition_count()
    }

    /// The partition of a key, as members compute it.
    pub(crate) fn partition_id(&self, key: &Value) -> u32 {
        Data::from_value(key).partition_id(self.partition_count())
    }

    /// The member owning partition `partition`, if known.
    pub(crate) fn partition_owner(&self, partition: u32) -> Option<MemberInfo> {
        self.manager.partition_owner(partition)
    }

    /// The cell that records whether the proxy (service, name) was created on the cluster.
    pub(crate) fn proxy_cell(&self, service_name: &str, name: &str) -> Arc<OnceCell<()>> {
        self.manager
            .proxies
            .lock()
            .unwrap()
            .entry((service_name.to_owned(), name.to_owned()))
            .or_default()
            .clone()
    }

    /// Destroys a distributed object on the cluster, and forgets that its proxy was created.
    pub(crate) async fn destroy_object(
        &self,
        service_name: &str,
        name: &str,
    ) -> Result<(), ClientError> {
        self.manager
            .proxies
            .lock()
            .unwrap()
            .remove(&(service_name.to_owned(), name.to_owned()));
        self.invoke(self.request(
            "destroy proxy",
            &client_codec::DestroyProxy { name, service_name },
            Wait::Normal,
        ))
        .await
        .map(|_| ())
    }

    /// Creates the distributed object on the cluster once per client, as the official
    /// clients do when a proxy is first made.
    pub(crate) async fn ensure_proxy(
        &self,
        cell: &OnceCell<()>,
        service_name: &str,
        name: &str,
    ) -> Result<(), ClientError> {
        cell.get_or_try_init(|| async {
            self.invoke(Request {
                // Creating an existing proxy is a no-op on members: safe to send again,
                // although Client.yaml does not declare it retryable.
                retryable: true,
                ..self.request(
                    "create proxy",
                    &client_codec::CreateProxy { name, service_name },
                    Wait::Normal,
                )
            })
            .await
            .map(|_| ())
        })
        .await
        .map(|_| ())
    }
}
