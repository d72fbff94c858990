//! Queue basics: offer and poll, a poll that times out on an empty queue, and a `take`
//! waiting for a producer.
//!
//! Connects to running members: `HZ_ADDRESSES` (comma-separated, default `127.0.0.1:5701`)
//! and `HZ_CLUSTER` (default `dev`).
//!
//! ```text
//! HZ_ADDRESSES=127.0.0.1:5701 cargo run -p hazelcast-client --example queue
//! ```

use std::time::Duration;

use hazelcast_client::{Client, ClientConfig, ClientError};

fn config_from_env() -> ClientConfig {
    let addresses = std::env::var("HZ_ADDRESSES").unwrap_or_else(|_| "127.0.0.1:5701".into());
    let cluster = std::env::var("HZ_CLUSTER").unwrap_or_else(|_| "dev".into());
    ClientConfig::new(cluster, addresses.split(',').map(str::trim)).client_name("example-queue")
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let client = Client::connect(config_from_env()).await?;
    let queue = client.queue("example-jobs");
    queue.clear().await?;

    for job in ["job-1", "job-2", "job-3"] {
        queue.offer(job, Duration::from_secs(1)).await?;
    }
    println!("offered 3 jobs, size: {}", queue.size().await?);
    while let Some(job) = queue.poll(Duration::ZERO).await? {
        println!("polled {job}");
    }
    let none = queue.poll(Duration::from_millis(200)).await?;
    println!(
        "poll on the empty queue for 200 ms: {}",
        none.map_or("nothing".to_owned(), |v| v.to_string())
    );

    // take waits until a producer puts an item.
    let producer = {
        let queue = queue.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            queue.put(42).await
        })
    };
    let item = queue.take().await?;
    producer.await.expect("producer panicked")?;
    println!("took {item} ({}) from the producer", item.type_name());

    queue.destroy().await?;
    client.shutdown().await;
    println!("done");
    Ok(())
}
