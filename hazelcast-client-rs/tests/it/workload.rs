//! The seed's pessimistic workload, shared by the tests that fault members under it.

use hazelcast_client::{ClientError, Map, Value};

/// `n` locked increments of `key` by `thread_id`: lock, get, set + 1, unlock (also when the
/// step failed, as a scenario's finally block would: a lock left held would block the other
/// instances for good). On error: the increments completed before it, and the error.
pub async fn locked_increments(
    map: Map,
    key: Value,
    thread_id: i64,
    n: i32,
) -> Result<i32, (i32, ClientError)> {
    let owned = map.with_thread_id(thread_id);
    for i in 0..n {
        map.lock(&key, thread_id).await.map_err(|e| (i, e))?;
        let step = async {
            let v = match owned.get(&key).await? {
                Some(Value::Int(v)) => v,
                _ => 0,
            };
            owned.set(&key, &Value::Int(v + 1)).await
        };
        let r = step.await;
        let unlocked = map.unlock(&key, thread_id).await;
        if let Err(e) = r.and(unlocked) {
            eprintln!("instance {thread_id}: iteration {i}: {e}");
            return Err((i, e));
        }
    }
    Ok(n)
}
