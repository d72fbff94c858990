//! `Queue`: a handle on one IQueue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::{data, decoded, millis, value_of};
use crate::error::ClientError;
use crate::handle::ClientHandle;
use crate::invocation::Wait;
use crate::protocol::{queue as codec, Operation};
use crate::serialization::Value;

/// A handle on the distributed queue `name`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Queue {
    client: Arc<ClientHandle>,
    name: Arc<str>,
    created: Arc<OnceCell<()>>,
}

impl Queue {
    pub(crate) fn new(client: Arc<ClientHandle>, name: &str) -> Queue {
        let created = client.proxy_cell(codec::SERVICE_NAME, name);
        Queue {
            client,
            name: name.into(),
            created,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The partition holding the queue (that of its name).
    pub fn partition_id(&self) -> u32 {
        self.client
            .partition_id(&Value::String(self.name.to_string()))
    }

    /// Runs a declared request (retryable flag and partition from its declaration) and
    /// decodes the answer.
    async fn call<O: Operation>(
        &self,
        op: &'static str,
        message: O,
        wait: Wait,
    ) -> Result<O::Response, ClientError> {
        self.client
            .ensure_proxy(&self.created, codec::SERVICE_NAME, &self.name)
            .await?;
        let r = self
            .client
            .invoke(self.client.request(op, &message, wait))
            .await?;
        decoded(&r, O::decode_response)
    }

    /// Adds an item, waiting up to `timeout` for room; false if the queue stayed full.
    pub async fn offer(
        &self,
        item: impl Into<Value>,
        timeout: Duration,
    ) -> Result<bool, ClientError> {
        let offer = codec::Offer {
            name: &self.name,
            value: &data(item),
            timeout_millis: millis(timeout),
        };
        self.call("queue offer", offer, Wait::BlockingFor(timeout))
            .await
    }

    /// Adds an item, waiting as long as the queue is full.
    pub async fn put(&self, item: impl Into<Value>) -> Result<(), ClientError> {
        let put = codec::Put {
            name: &self.name,
            value: &data(item),
        };
        self.call("queue put", put, Wait::Blocking).await
    }

    /// Takes the head, waiting up to `timeout` for one; `None` if the queue stayed empty.
    pub async fn poll(&self, timeout: Duration) -> Result<Option<Value>, ClientError> {
        let poll = codec::Poll {
            name: &self.name,
            timeout_millis: millis(timeout),
        };
        value_of(
            self.call("queue poll", poll, Wait::BlockingFor(timeout))
                .await?,
        )
    }

    /// Takes the head, waiting as long as the queue is empty.
    pub async fn take(&self) -> Result<Value, ClientError> {
        let take = codec::Take { name: &self.name };
        value_of(self.call("queue take", take, Wait::Blocking).await?)?.ok_or_else(|| {
            ClientError::Protocol {
                address: "<response>".into(),
                detail: "take answered without an item".into(),
            }
        })
    }

    /// The number of items.
    pub async fn size(&self) -> Result<i32, ClientError> {
        let size = codec::Size { name: &self.name };
        self.call("queue size", size, Wait::Normal).await
    }

    /// Removes every item.
    pub async fn clear(&self) -> Result<(), ClientError> {
        let clear = codec::Clear { name: &self.name };
        self.call("queue clear", clear, Wait::Normal).await
    }

    /// Destroys the queue and its items on the cluster.
    pub async fn destroy(&self) -> Result<(), ClientError> {
        self.client
            .destroy_object(codec::SERVICE_NAME, &self.name)
            .await
    }
}
