//! `Queue`: a handle on one IQueue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::{decoded, millis, value_of};
use crate::client::Client;
use crate::error::ClientError;
use crate::invocation::{Request, Wait};
use crate::protocol::{decode_bool, decode_i32, decode_nullable_data, decode_void, queue as codec};
use crate::serialization::{Data, Value};

/// A handle on the distributed queue `name`. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Queue {
    client: Client,
    name: Arc<str>,
    created: Arc<OnceCell<()>>,
}

impl Queue {
    pub(crate) fn new(client: Client, name: &str) -> Queue {
        let created = client.proxy_cell(codec::SERVICE_NAME, name);
        Queue {
            client,
            name: name.into(),
            created,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The partition holding the queue (that of its name).
    pub fn partition_id(&self) -> u32 {
        self.client
            .partition_id(&Value::String(self.name.to_string()))
    }

    async fn call(
        &self,
        op: &'static str,
        msg: crate::codec::ClientMessage,
        wait: Wait,
    ) -> Result<crate::codec::ClientMessage, ClientError> {
        self.client
            .ensure_proxy(&self.created, codec::SERVICE_NAME, &self.name)
            .await?;
        self.client
            .invoke(Request {
                op,
                msg,
                partition: Some(self.partition_id()),
                retryable: false,
                wait,
            })
            .await
    }

    /// Adds an item, waiting up to `timeout` for room; false if the queue stayed full.
    pub async fn offer(&self, item: &Value, timeout: Duration) -> Result<bool, ClientError> {
        let msg = codec::encode_offer(&self.name, &Data::from_value(item), millis(timeout));
        let r = self
            .call("queue offer", msg, Wait::BlockingFor(timeout))
            .await?;
        decoded(&r, decode_bool)
    }

    /// Adds an item, waiting as long as the queue is full.
    pub async fn put(&self, item: &Value) -> Result<(), ClientError> {
        let msg = codec::encode_put(&self.name, &Data::from_value(item));
        let r = self.call("queue put", msg, Wait::Blocking).await?;
        decoded(&r, decode_void)
    }

    /// Takes the head, waiting up to `timeout` for one; `None` if the queue stayed empty.
    pub async fn poll(&self, timeout: Duration) -> Result<Option<Value>, ClientError> {
        let msg = codec::encode_poll(&self.name, millis(timeout));
        let r = self
            .call("queue poll", msg, Wait::BlockingFor(timeout))
            .await?;
        value_of(decoded(&r, decode_nullable_data)?)
    }

    /// Takes the head, waiting as long as the queue is empty.
    pub async fn take(&self) -> Result<Value, ClientError> {
        let msg = codec::encode_name_only(codec::TAKE, &self.name);
        let r = self.call("queue take", msg, Wait::Blocking).await?;
        value_of(decoded(&r, decode_nullable_data)?)?.ok_or_else(|| ClientError::Protocol {
            address: "<response>".into(),
            detail: "take answered without an item".into(),
        })
    }

    pub async fn size(&self) -> Result<i32, ClientError> {
        let msg = codec::encode_name_only(codec::SIZE, &self.name);
        let r = self.call("queue size", msg, Wait::Normal).await?;
        decoded(&r, decode_i32)
    }

    pub async fn clear(&self) -> Result<(), ClientError> {
        let msg = codec::encode_name_only(codec::CLEAR, &self.name);
        let r = self.call("queue clear", msg, Wait::Normal).await?;
        decoded(&r, decode_void)
    }

    /// Destroys the queue and its items on the cluster.
    pub async fn destroy(&self) -> Result<(), ClientError> {
        self.client
            .destroy_object(codec::SERVICE_NAME, &self.name)
            .await
    }
}
