//! Key locks with guards: two lock owners (thread ids of one client) increment a counter
//! under the key's lock, then a `try_lock` that times out while the other owner holds it.
//!
//! Connects to running members: `HZ_ADDRESSES` (comma-separated, default `127.0.0.1:5701`)
//! and `HZ_CLUSTER` (default `dev`).
//!
//! ```text
//! HZ_ADDRESSES=127.0.0.1:5701 cargo run -p hazelcast-client --example lock
//! ```

use std::time::Duration;

use hazelcast_client::{Client, ClientConfig, ClientError};

const INCREMENTS: i32 = 25;

fn config_from_env() -> ClientConfig {
    let addresses = std::env::var("HZ_ADDRESSES").unwrap_or_else(|_| "127.0.0.1:5701".into());
    let cluster = std::env::var("HZ_CLUSTER").unwrap_or_else(|_| "dev".into());
    ClientConfig::new(cluster, addresses.split(',').map(str::trim)).client_name("example-lock")
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let client = Client::connect(config_from_env()).await?;
    let map = client.map("example-locks");
    map.set("counter", 0).await?;

    // Locks belong to (client, thread id): each task is its own owner.
    let mut tasks = Vec::new();
    for thread_id in [1, 2] {
        let locks = map.lock_handle(thread_id);
        tasks.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                let guard = locks.lock("counter").await?;
                // Writes to the locked key go through the owner's handle.
                let value = guard.map().get("counter").await?;
                let n = value.and_then(|v| v.to::<i32>()).unwrap_or(0);
                guard.map().set("counter", n + 1).await?;
                guard.unlock().await?;
            }
            Ok::<_, ClientError>(())
        }));
    }
    for task in tasks {
        task.await.expect("increment task panicked")?;
    }
    let total = map.get("counter").await?.and_then(|v| v.to::<i32>());
    println!(
        "2 owners x {INCREMENTS} locked increments: counter = {}",
        total.unwrap_or(-1)
    );

    // While owner 1 holds the lock, owner 2's try_lock times out.
    let first = map.lock_handle(1);
    let second = map.lock_handle(2);
    let guard = first.lock("counter").await?;
    let attempt = second
        .try_lock("counter", Duration::from_millis(200))
        .await?;
    println!(
        "owner 2 try_lock while owner 1 holds it: {}",
        if attempt.is_some() {
            "locked"
        } else {
            "timed out"
        }
    );
    guard.unlock().await?;
    let attempt = second.try_lock("counter", Duration::from_secs(5)).await?;
    println!(
        "owner 2 try_lock after owner 1 unlocked: {}",
        if attempt.is_some() {
            "locked"
        } else {
            "timed out"
        }
    );
    // Dropping a guard unlocks in the background.
    drop(attempt);
    let mut waited = 0;
    while map.is_locked("counter").await? && waited < 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    println!(
        "after dropping the guard: {}",
        if map.is_locked("counter").await? {
            "still locked"
        } else {
            "unlocked"
        }
    );

    map.destroy().await?;
    client.shutdown().await;
    println!("done");
    Ok(())
}
