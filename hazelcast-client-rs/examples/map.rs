//! Map basics: untyped keys and values, a typed map, compare-and-set, and the error a typed
//! map gives for a value of another type.
//!
//! Connects to running members: `HZ_ADDRESSES` (comma-separated, default `127.0.0.1:5701`)
//! and `HZ_CLUSTER` (default `dev`).
//!
//! ```text
//! HZ_ADDRESSES=127.0.0.1:5701 cargo run -p hazelcast-client --example map
//! ```

use hazelcast_client::{Client, ClientConfig, ClientError, Value};

fn config_from_env() -> ClientConfig {
    let addresses = std::env::var("HZ_ADDRESSES").unwrap_or_else(|_| "127.0.0.1:5701".into());
    let cluster = std::env::var("HZ_CLUSTER").unwrap_or_else(|_| "dev".into());
    ClientConfig::new(cluster, addresses.split(',').map(str::trim)).client_name("example-map")
}

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let config = config_from_env();
    println!(
        "connecting to {} ({:?})",
        config.cluster_name, config.addresses
    );
    let client = Client::connect(config).await?;
    println!("connected: {} member(s)", client.members().len());

    // Keys and values are anything that converts into a Value.
    let map = client.map("example-map");
    map.clear().await?;
    map.set("greeting", "hello").await?;
    println!("set \"greeting\" = \"hello\"");
    let previous = map.put("greeting", "hi").await?;
    println!("put \"greeting\" = \"hi\", previous: {}", shown(previous));
    map.set(1, 3.5).await?;
    println!("get 1: {}", shown(map.get(1).await?));
    println!("get 2: {}", shown(map.get(2).await?));
    println!("size: {}", map.size().await?);

    // A typed map: keys are Strings, values Longs.
    let counters = client.map_of::<String, i64>("example-counters");
    counters.clear().await?;
    counters.set("visits", 0).await?;
    for _ in 0..3 {
        // Compare-and-set: retried if another writer came in between.
        loop {
            let current = counters.get("visits").await?.unwrap_or(0);
            if counters
                .replace_if_same("visits", current, current + 1)
                .await?
            {
                break;
            }
        }
    }
    let visits: Option<i64> = counters.get("visits").await?;
    println!("visits after 3 increments: {visits:?}");

    // A value of another type, written through the untyped map, is an error naming it.
    counters.untyped().set("broken", "not a number").await?;
    match counters.get("broken").await {
        Err(e @ ClientError::WrongType { .. }) => println!("typed get of \"broken\": {e}"),
        other => println!("typed get of \"broken\": unexpected {other:?}"),
    }

    map.destroy().await?;
    counters.destroy().await?;
    client.shutdown().await;
    println!("done");
    Ok(())
}

fn shown(v: Option<Value>) -> String {
    v.map_or_else(|| "none".to_owned(), |v| format!("{v} ({})", v.type_name()))
}
