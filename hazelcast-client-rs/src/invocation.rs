//! Invocations: sending a request to the right connection, waiting for its answer within
//! the call's time budget, and retrying failures the way the official clients do.
//!
//! Retry rules (those of the official Java and Python clients):
//! - a request that could not be sent is retried;
//! - member errors that mean "the operation did not run here" (member left, wrong target,
//!   partition migrating, instance not active, retryable I/O...) are retried for any request;
//! - a connection that closes while the request is pending is retried only for requests
//!   that are safe to run twice (reads, locks with their reference id...), or for every
//!   request when `redo_operation` is set; `invoke_traced` tells the caller such a
//!   re-send happened (an unlock re-sent after it was applied is answered "not the lock
//!   owner");
//! - a connection closed for bytes that are not the protocol, or over the client's size
//!   limits ([`ClientError::MessageLimit`]), fails the calls pending on it at once;
//! - the pause between attempts doubles from `retry_pause` to `max_retry_pause`, and no
//!   attempt starts after the invocation timeout: the call then fails with
//!   [`ClientError::Timeout`] naming the last error;
//! - a call that finds no open connection after the client has had none for its
//!   `cluster_lost_timeout` fails at once with [`ClientError::ClusterLost`].

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::codec::builtin::error_holders;
use crate::codec::ClientMessage;
use crate::connection::{Connection, Reply};
use crate::connection_manager::ConnectionManager;
use crate::error::{codes, ClientError};
use crate::protocol::Operation;
use tracing::Instrument;

/// How long a call may wait for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Answer expected promptly: wait at most the invocation timeout.
    Normal,
    /// The member holds the answer until a condition holds (lock, take, put on a full
    /// queue): wait as long as the connection lives.
    Blocking,
    /// The member holds the answer for up to this long (try-lock, offer, poll with a
    /// timeout): wait that plus the invocation timeout.
    BlockingFor(Duration),
}

/// One request and how to run it.
#[derive(Debug)]
pub(crate) struct Request {
    pub op: &'static str,
    pub msg: ClientMessage,
    /// The partition of the key (or the structure) the request is about, if any.
    pub partition: Option<u32>,
    /// Safe to send again after the connection closed with the request pending.
    pub retryable: bool,
    pub wait: Wait,
}

impl Request {
    /// The request for a declared message: encoded, with the declaration's retryable flag
    /// and the partition of its key field (for a cluster of `partition_count` partitions).
    pub fn declared<O: Operation>(
        op: &'static str,
        message: &O,
        partition_count: u32,
        wait: Wait,
    ) -> Request {
        Request {
            op,
            msg: message.encode(),
            partition: message.partition().id(partition_count),
            retryable: O::RETRYABLE,
            wait,
        }
    }
}

pub(crate) async fn invoke(
    inner: &ConnectionManager,
    req: Request,
) -> Result<ClientMessage, ClientError> {
    invoke_traced(inner, req).await.result
}

/// A call's result, and whether it was sent again after an attempt whose outcome is
/// unknown (the connection closed with the request pending: the member may have run it).
#[derive(Debug)]
pub(crate) struct Traced {
    pub result: Result<ClientMessage, ClientError>,
    /// An earlier attempt may have taken effect: an error from a later attempt may be
    /// the earlier attempt's doing (an unlock re-sent after it was applied finds the lock
    /// free, or held by someone else).
    pub resent_after_unknown_outcome: bool,
}

pub(crate) async fn invoke_traced(inner: &ConnectionManager, req: Request) -> Traced {
    let mut resent = false;
    let span = tracing::debug_span!("invocation", op = req.op, partition = ?req.partition);
    // Wrapping the call in a span that is off costs every poll a few percent of the
    // client's time at high rates: only an enabled span is entered.
    let result = if span.is_disabled() {
        attempts(inner, req, &mut resent).await
    } else {
        attempts(inner, req, &mut resent).instrument(span).await
    };
    Traced {
        result,
        resent_after_unknown_outcome: resent,
    }
}

async fn attempts(
    inner: &ConnectionManager,
    req: Request,
    resent_after_unknown: &mut bool,
) -> Result<ClientMessage, ClientError> {
    let cfg = &inner.config;
    let start = Instant::now();
    let budget = cfg.invocation_timeout
        + match req.wait {
            Wait::BlockingFor(t) => t,
            _ => Duration::ZERO,
        };
    let deadline = start + budget;
    let mut pause = cfg.retry_pause;
    let mut last_error: Option<ClientError> = None;
    let timeout = |last: Option<ClientError>| {
        let retried = last.is_some();
        let err = ClientError::Timeout {
            operation: req.op,
            after: start.elapsed(),
            last_error: last.map(Box::new),
        };
        if retried {
            tracing::warn!(error = %err.chain(), "giving up");
        } else {
            tracing::debug!(error = %err.chain(), "no answer in time");
        }
        err
    };
    let mut attempt = 0u32;
    loop {
        if inner.is_shut_down() {
            return Err(ClientError::ShutDown);
        }
        if Instant::now() >= deadline {
            return Err(timeout(last_error));
        }
        attempt += 1;
        let Some(conn) = inner.pick_connection(req.partition) else {
            if let Some(lost) = inner.cluster_lost() {
                return Err(lost);
            }
            tracing::debug!(attempt, ?pause, "no open connection to any member; waiting");
            last_error = Some(ClientError::Unavailable(
                "no open connection to any member".into(),
            ));
            inner
                .wait_for_change(pause.min(deadline - Instant::now()))
                .await;
            pause = (pause * 2).min(cfg.max_retry_pause);
            continue;
        };
        let retry_error = match attempt_once(inner, &req, &conn, deadline, attempt).await {
            Attempt::Done(result) => return result,
            Attempt::TimedOut => return Err(timeout(last_error)),
            Attempt::Retry {
                error,
                outcome_unknown,
            } => {
                *resent_after_unknown |= outcome_unknown;
                error
            }
        };
        if matches!(
            retry_error,
            ClientError::Protocol { .. } | ClientError::MessageLimit { .. }
        ) {
            return Err(retry_error);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(timeout(Some(retry_error)));
        }
        tracing::debug!(attempt, error = %retry_error.chain(), ?pause, "retrying");
        last_error = Some(retry_error);
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(cfg.max_retry_pause);
    }
}

/// What one attempt of a call came to.
enum Attempt {
    /// The call's result, final.
    Done(Result<ClientMessage, ClientError>),
    /// No answer before the call's deadline.
    TimedOut,
    /// Worth sending again after a pause; `outcome_unknown` when the member may have run
    /// it (the connection closed with the request pending).
    Retry {
        error: ClientError,
        outcome_unknown: bool,
    },
}

/// Sends the request once on `conn` and waits for its answer (and, for requests on a
/// partition, the backups' acknowledgements).
async fn attempt_once(
    inner: &ConnectionManager,
    req: &Request,
    conn: &Connection,
    deadline: Instant,
    attempt: u32,
) -> Attempt {
    let mut msg = req.msg.clone();
    msg.set_partition_id(req.partition.map(|p| p as i32).unwrap_or(-1));
    // Backup acknowledgements to the client, for requests on a partition.
    let acks = if req.partition.is_some() && inner.backup_acks_ready() {
        msg.set_backup_aware();
        let id = inner.correlation.fetch_add(1, Ordering::Relaxed);
        Some((id, AckGuard(inner, id), inner.acks.register(id)))
    } else {
        None
    };
    let sent = match &acks {
        Some((id, _, _)) => conn.call_with_id(msg, *id),
        None => conn.call(msg),
    };
    let (id, rx) = match sent {
        // Not sent: always safe to retry.
        Err(error) => {
            return Attempt::Retry {
                error,
                outcome_unknown: false,
            }
        }
        Ok(sent) => sent,
    };
    conn.sent.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(attempt, correlation_id = id, address = %conn.address, "sent");
    let reply = match req.wait {
        Wait::Blocking => rx.await,
        _ => match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(r) => r,
            Err(_) => {
                conn.forget(id);
                return Attempt::TimedOut;
            }
        },
    };
    if let (Ok(Ok(msg)), Some((id, _guard, done))) = (&reply, acks) {
        if let Err(e) = await_backup_acks(inner, req.op, id, msg, done).await {
            return Attempt::Done(Err(e));
        }
    }
    let closed = |reply: Result<Reply, _>| match reply {
        Ok(Err(err)) => err,
        _ => ClientError::ConnectionClosed {
            address: conn.address.clone(),
            reason: "closed with the call pending".into(),
        },
    };
    match reply {
        Ok(Ok(msg)) if !msg.is_error() => Attempt::Done(Ok(msg)),
        Ok(Ok(msg)) => {
            let holders = match error_holders(&msg) {
                Ok(h) => h,
                Err(e) => return Attempt::Done(Err(ClientError::protocol(&conn.address, e))),
            };
            let err = ClientError::from_holders(holders);
            match err.server_code() {
                Some(code) if codes::is_retryable(code) => Attempt::Retry {
                    error: err,
                    outcome_unknown: false,
                },
                _ => Attempt::Done(Err(err)),
            }
        }
        other => {
            let err = closed(other);
            if !(req.retryable || inner.config.redo_operation) {
                tracing::debug!(
                    attempt,
                    error = %err.chain(),
                    "outcome unknown; not sent again (not safe to run twice)"
                );
                return Attempt::Done(Err(err));
            }
            tracing::info!(
                attempt,
                error = %err.chain(),
                "outcome unknown (connection closed with the request pending); \
                 sending it again"
            );
            Attempt::Retry {
                error: err,
                outcome_unknown: true,
            }
        }
    }
}

/// Waits for the backups' acknowledgements the answer `msg` announces. Missing acks past
/// the backup timeout: the primary's answer stands, as with the official clients' default,
/// unless the config asks to report the outcome as indeterminate.
async fn await_backup_acks(
    inner: &ConnectionManager,
    operation: &'static str,
    id: i64,
    msg: &ClientMessage,
    done: tokio::sync::oneshot::Receiver<()>,
) -> Result<(), ClientError> {
    let cfg = &inner.config;
    let expected = msg.backup_acks();
    if expected == 0 || msg.is_error() || inner.acks.expect(id, expected) {
        return Ok(());
    }
    let timed_out = tokio::time::timeout(cfg.operation_backup_timeout, done)
        .await
        .is_err();
    if !timed_out {
        return Ok(());
    }
    tracing::warn!(
        correlation_id = id,
        expected,
        received = inner.acks.received(id),
        waited = ?cfg.operation_backup_timeout,
        "backup acknowledgements missing after the backup timeout"
    );
    if cfg.fail_on_indeterminate_state {
        return Err(ClientError::Indeterminate {
            operation,
            expected,
            missing: expected.saturating_sub(inner.acks.received(id)),
            waited: cfg.operation_backup_timeout,
        });
    }
    Ok(())
}

/// Stops tracking a request's backup acknowledgements when the attempt ends.
struct AckGuard<'a>(&'a ConnectionManager, i64);

impl Drop for AckGuard<'_> {
    fn drop(&mut self) {
        self.0.acks.forget(self.1);
    }
}
